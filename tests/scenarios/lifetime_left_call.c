/*
 * lifetime_left_call - F_SETLKW calls that never return (issue 12, item 2).
 *
 * (a) siglongjmp.  The program holds byte 10 through fd.  A child (forked:
 *     under the shim in the shim's modes) holds byte 0.  The main thread
 *     waits in F_SETLKW for byte 0 through fd; once /proc/locks lists the
 *     wait, a helper thread sends SIGUSR1, whose handler siglongjmps out.
 *     Then: the program locks byte 20 (any call); the child asks F_SETLKW
 *     for byte 10, which the program releases once the child waits: natively
 *     the child gets it (0) — a registry entry left saying the program still
 *     waits for the child made that EDEADLK.  Finally the program closes fd:
 *     natively that drops its locks (probes U) — the pinned, left call once
 *     kept them until exit.
 * (pthread_cancel: lifetime_cancelled_wait.)
 */
#include "scen.h"
#include <poll.h>
#include <setjmp.h>

static const char *path;
static sigjmp_buf jb;
static pthread_t main_thread;
static struct stat st;

static void on_usr1(int sig) { (void)sig; siglongjmp(jb, 1); }

static void *kicker(void *arg)
{
    (void)arg;
    while (scen_waiters_on(&st) < 1)
        scen_sleep_ms(10);
    pthread_kill(main_thread, SIGUSR1);
    return NULL;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    path = scen_path("lifetime_left");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (fstat(fd, &st) < 0) scen_die("fstat");
    main_thread = pthread_self();
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);

    /* ---- (a) ---- */
    SAY("a_lock10=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 10, 1)));
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0) scen_die("pipe");
    fflush(NULL);
    pid_t c = scenb_fork();
    if (c == 0) {
        close(to[1]); close(from[0]);
        int cfd = open(path, O_RDWR);
        int r = scen_setlk(cfd, F_SETLK, F_WRLCK, 0, 1);
        char m = r == 0 ? 'k' : 'e';
        if (write(from[1], &m, 1) != 1) _exit(3);
        if (read(to[0], &m, 1) != 1) _exit(3);
        r = scen_setlk(cfd, F_SETLKW, F_WRLCK, 10, 1);
        int e = r < 0 ? errno : 0;
        if (write(from[1], &e, sizeof e) != sizeof e) _exit(3);
        _exit(0);
    }
    close(to[0]); close(from[1]);
    char m;
    if (read(from[0], &m, 1) != 1) scen_die("child");
    SAY("a_child_lock0=%s", m == 'k' ? "0" : "error");
    scenb_watch("a_wait", 20);
    pthread_t k;
    pthread_create(&k, NULL, kicker, NULL);
    volatile int jumped = 0;
    if (sigsetjmp(jb, 1) == 0) {
        int r = scen_setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
        SAY("a_setlkw_returned=%s", res(r));
    } else {
        jumped = 1;
    }
    pthread_join(k, NULL);
    SAY("a_longjmp=%d", jumped);
    SAY("a_lock20=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 20, 1)));
    /* the child now waits for byte 10; the program lets go once it does */
    m = 'g';
    if (write(to[1], &m, 1) != 1) scen_die("write");
    for (;;) {      /* until it waits, or has answered at once */
        struct pollfd p = { from[0], POLLIN, 0 };
        if (scen_waiters_on(&st) >= 1 || poll(&p, 1, 10) > 0)
            break;
    }
    scen_setlk(fd, F_SETLK, F_UNLCK, 10, 1);
    int ce = -1;
    if (read(from[0], &ce, sizeof ce) != sizeof ce) scen_die("child result");
    SAY("a_child_setlkw10=%s", errname(ce));
    waitpid(c, NULL, 0);
    scenb_unwatch();
    close(fd);
    SAY("a_probe_after_close=%c,%c", probe(path, 'W', 10, 1), probe(path, 'W', 20, 1));

    unlink(path);
    SAY("done=1");
    return 0;
}
