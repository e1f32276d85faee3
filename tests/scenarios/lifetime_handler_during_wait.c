/*
 * lifetime_handler_during_wait - a signal handler that calls the shim while
 * its own thread waits in F_SETLKW (the counterpart of lifetime_left_call:
 * a call that is still live must not be taken for one left by siglongjmp).
 *
 * A process without the shim holds byte 0 of file A.  The main thread waits
 * in F_SETLKW for it through fd; once /proc/locks lists the wait, a helper
 * thread sends SIGUSR1 (SA_RESTART), whose handler locks and unlocks byte 0
 * of file B, dups and closes that fd, and returns: the wait goes on.  The
 * holder lets go; the wait returns 0.  Then a second descriptor of A in this
 * process asks F_GETLK: natively the process's own lock conflicts with
 * nothing (U); under the shim the first descriptor's lock conflicts and its
 * holder is named from the shim's model: this process (a live call taken
 * for a left one would never reach the model: no pid to name).
 */
#include "scen.h"

static const char *patha;
static char pathb[4200];
static pthread_t main_thread;
static struct stat st;
static int fdb;
static volatile int handler_ran, handler_lock = -1, handler_unlock = -1, handler_close = -1;

static void on_usr1(int sig)
{
    (void)sig;
    int e = errno;
    handler_lock = scen_setlk(fdb, F_SETLK, F_WRLCK, 0, 1) < 0 ? errno : 0;
    handler_unlock = scen_setlk(fdb, F_SETLK, F_UNLCK, 0, 1) < 0 ? errno : 0;
    int d = dup(fdb);
    handler_close = close(d) < 0 ? errno : 0;
    handler_ran = 1;
    errno = e;
}

static struct scen_holder h;

static void *kicker(void *arg)
{
    (void)arg;
    while (scen_waiters_on(&st) < 1)
        scen_sleep_ms(10);
    pthread_kill(main_thread, SIGUSR1);
    while (!handler_ran)
        scen_sleep_ms(10);
    /* the handler has returned into the wait (or is about to): let go */
    scen_holder_release(&h);
    return NULL;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    patha = scen_path("lifetime_handler_a");
    snprintf(pathb, sizeof pathb, "%s-b", patha);
    unlink(patha);
    unlink(pathb);
    int fd = open(patha, O_RDWR | O_CREAT | O_TRUNC, 0644);
    fdb = open(pathb, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fdb < 0) scen_die("create");
    if (fstat(fd, &st) < 0) scen_die("fstat");
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    SAY("holder=%d", scen_holder_start(&h, patha, 'W', 0, 1));
    scenb_watch("wait", 20);
    pthread_t k;
    pthread_create(&k, NULL, kicker, NULL);
    int r = scen_setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
    SAY("setlkw=%s", res(r));
    pthread_join(k, NULL);
    scenb_unwatch();
    SAY("handler=%d lock=%s unlock=%s close=%s", handler_ran, errname(handler_lock),
        errname(handler_unlock), errname(handler_close));
    int fd2 = open(patha, O_RDWR);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    if (fcntl(fd2, F_GETLK, &fl) < 0) scen_die("getlk");
    SAY("getlk_other=%s,%s", fl.l_type == F_UNLCK ? "U" : fl.l_type == F_WRLCK ? "W" : "R",
        fl.l_type == F_UNLCK ? "-" : fl.l_pid == getpid() ? "self" : "other");
    SAY("probe=%c", probe(patha, 'W', 0, 1));
    close(fd2);
    close(fd);
    SAY("probe_after_close=%c", probe(patha, 'W', 0, 1));
    close(fdb);
    unlink(patha);
    unlink(pathb);
    SAY("done=1");
    return 0;
}
