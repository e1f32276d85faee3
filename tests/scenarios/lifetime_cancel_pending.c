/*
 * lifetime_cancel_pending - lock calls of a thread with a cancellation
 * request pending (deferred cancelability).
 *
 *   setlk:  the thread calls F_SETLK on byte 0, then pthread_testcancel.
 *           F_SETLK is no cancellation point: it returns 0 and the thread
 *           ends at the testcancel.  The shim's own opens and reads are
 *           cancellation points; one of them once ended the thread with the
 *           shim's mutex held, and the next lock of any thread hung.
 *   setlkw: the thread calls F_SETLKW on byte 5, a cancellation point: it
 *           ends there, without the lock.
 * Then the main thread locks byte 10 through another descriptor, and the
 * probes say what is held.  Skipped (77) under ASan: a cancellation that
 * unwinds through instrumented frames leaves them poisoned (see
 * lifetime_cancelled_wait).
 */
#include "scen.h"
#include <sched.h>

static volatile int go;
static int fd;
static volatile int first = -1;
static int cmd_of_round;
static off_t at;

static void *worker(void *arg)
{
    (void)arg;
    while (!go)
        sched_yield();          /* no cancellation point */
    first = scen_setlk(fd, cmd_of_round, F_WRLCK, at, 1) < 0 ? errno : 0;
    pthread_testcancel();
    return NULL;
}

static void round_(const char *name, int cmd, off_t where)
{
    cmd_of_round = cmd;
    at = where;
    go = 0;
    first = -1;
    pthread_t t;
    if (pthread_create(&t, NULL, worker, NULL) != 0) scen_die("pthread_create");
    pthread_cancel(t);
    go = 1;
    void *ret = NULL;
    pthread_join(t, &ret);
    SAY("%s_returned=%s %s_cancelled=%d", name, first < 0 ? "no" : errname(first), name,
        ret == PTHREAD_CANCELED);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "libasan"))
        return 77;
    const char *path = scen_path("lifetime_cancel_pending");
    unlink(path);
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    int fd2 = open(path, O_RDWR);
    if (fd2 < 0) scen_die("open");
    scenb_watch("hang", 20);
    round_("setlk", F_SETLK, 0);
    round_("setlkw", F_SETLKW, 5);
    SAY("main_lock10=%s", res(scen_setlk(fd2, F_SETLK, F_WRLCK, 10, 1)));
    scenb_unwatch();
    SAY("probe=%c,%c,%c", probe(path, 'W', 0, 1), probe(path, 'W', 5, 1), probe(path, 'W', 10, 1));
    close(fd2);
    close(fd);
    SAY("probe_after_close=%c", probe(path, 'W', 0, 0));
    unlink(path);
    SAY("done=1");
    return 0;
}
