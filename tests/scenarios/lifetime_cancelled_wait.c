/*
 * lifetime_cancelled_wait - a thread cancelled in F_SETLKW (issue 12, item 2).
 *
 * A thread holds byte 30 through its own descriptor and waits in F_SETLKW
 * for byte 0 (held by a process without the shim); it is cancelled (F_SETLKW
 * is a cancellation point) and joined; the main thread closes that
 * descriptor: byte 30 is free again, as natively.  Under the shim the call
 * never returns, so its record is settled when the owner is released (its
 * thread is gone); it once kept the owner pinned and the lock held until
 * exit.  Skipped (77) under ASan: a cancellation unwinds through
 * instrumented frames without unpoisoning them, and ASan's own thread
 * teardown then reports its stack.
 */
#include "scen.h"

static const char *path;
static struct stat st;

static int cancel_fd;
static volatile int cancel_first = -1;
static void *cancelled(void *arg)
{
    (void)arg;
    cancel_first = scen_setlk(cancel_fd, F_SETLK, F_WRLCK, 30, 1) < 0 ? errno : 0;
    scen_setlk(cancel_fd, F_SETLKW, F_WRLCK, 0, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "libasan"))
        return 77;
    path = scen_path("lifetime_cancel");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (fstat(fd, &st) < 0) scen_die("fstat");
    close(fd);

    struct scen_holder h;
    SAY("b_holder=%d", scen_holder_start(&h, path, 'W', 0, 1));
    cancel_fd = open(path, O_RDWR);
    if (cancel_fd < 0) scen_die("open");
    scenb_watch("b_wait", 20);
    pthread_t t;
    pthread_create(&t, NULL, cancelled, NULL);
    while (scen_waiters_on(&st) < 1)
        scen_sleep_ms(10);
    pthread_cancel(t);
    void *ret = NULL;
    pthread_join(t, &ret);
    scenb_unwatch();
    SAY("b_first=%s b_cancelled=%d", errname(cancel_first), ret == PTHREAD_CANCELED);
    SAY("b_probe_before_close=%c", probe(path, 'W', 30, 1));
    close(cancel_fd);
    SAY("b_probe_after_close=%c", probe(path, 'W', 30, 1));
    scen_holder_release(&h);
    unlink(path);
    SAY("done=1");
    return 0;
}
