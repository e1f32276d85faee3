/*
 * hazard_lock_eintr - a blocking lock interrupted by a signal.
 *
 * Another process (without the shim) holds a write lock on the whole file.
 * A SIGALRM handler installed WITHOUT SA_RESTART interrupts each blocking
 * request (a repeating timer, so a tick that lands outside the kernel wait
 * is followed by one that lands inside it).  Every call fails with EINTR in
 * every mode (the shim never retries an interrupted lock) and the program
 * holds nothing afterwards; lock-eintr is recorded, never refused.
 *   (a) fcntl F_SETLKW write [0,10)
 *   (b) lockf(F_LOCK, 10) at offset 0
 *   (c) fcntl F_OFD_SETLKW write [0,10) (the program's own OFD request)
 *   (d) flock(LOCK_EX) against an exclusive flock of another description
 *       (on a second file: flock on the first would be flock-fcntl-mix)
 * The watchdog is a thread (SIGALRM is the test's own signal).
 */
#include "scen.h"
#include <sys/file.h>
#include <sys/time.h>

static volatile sig_atomic_t ticks;
static void on_alarm(int sig) { (void)sig; ticks++; }

static void *watchdog(void *arg)
{
    (void)arg;
    sleep(25);
    static const char m[] = "hang\n";
    if (write(1, m, sizeof m - 1)) {}
    _exit(1);
}

static void timer(int on)
{
    struct itimerval it;
    memset(&it, 0, sizeof it);
    if (on) {
        it.it_value.tv_usec = 150000;
        it.it_interval.tv_usec = 150000;
    }
    setitimer(ITIMER_REAL, &it, NULL);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    /* the watchdog thread never takes SIGALRM */
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, &old);
    pthread_t wd;
    pthread_create(&wd, NULL, watchdog, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sa.sa_flags = 0;                    /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);

    const char *path = scen_path("hz-eintr");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("open");
    struct scen_holder h;
    SAY("holder_lock=%d", scen_holder_start(&h, path, 'W', 0, 0));

    /* (a) */
    timer(1);
    int r = scen_setlk(fd, F_SETLKW, F_WRLCK, 0, 10);
    timer(0);
    SAY("a_setlkw=%s", res(r));

    /* (b) */
    if (lseek(fd, 0, SEEK_SET) != 0) scen_die("lseek");
    timer(1);
    r = lockf(fd, F_LOCK, 10);
    timer(0);
    SAY("b_lockf_lock=%s", res(r));

    /* (c) */
    timer(1);
    r = scen_setlk(fd, F_OFD_SETLKW, F_WRLCK, 0, 10);
    timer(0);
    SAY("c_ofd_setlkw=%s", res(r));

    scen_holder_release(&h);
    /* nothing of ours is held: a process without the shim gets the lock */
    SAY("probe_after=%c", probe(path, 'W', 0, 0));

    /* (d) */
    char path2[4200];
    snprintf(path2, sizeof path2, "%s-flock", path);
    close(fd);
    unlink(path);
    fd = open(path2, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int other = open(path2, O_RDWR);
    if (fd < 0 || other < 0) scen_die("open");
    SAY("d_other_flock_ex=%s", res(flock(other, LOCK_EX)));
    timer(1);
    r = flock(fd, LOCK_EX);
    timer(0);
    SAY("d_flock_ex=%s", res(r));
    SAY("d_other_unlock=%s", res(flock(other, LOCK_UN)));
    r = flock(other, LOCK_EX | LOCK_NB);
    SAY("d_not_held_after=%s", r == 0 ? "yes" : "no");
    flock(other, LOCK_UN);
    SAY("ticks_seen=%s", ticks > 0 ? "yes" : "no");

    close(other);
    close(fd);
    unlink(path2);
    return 0;
}
