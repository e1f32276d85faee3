/*
 * REPRODUCER (shim behaviour to decide on, see tests/stress/README):
 * F_SETLK from a signal handler fails with ENOLCK.
 *
 * One thread loops lock/unlock (F_SETLK) on file A.  SIGALRM arrives every
 * 100 us; its handler takes and releases a write lock on file B with
 * F_SETLK.  Nobody else locks B, so natively every handler request
 * succeeds.  Under the shim, a handler that interrupts the shim's own
 * critical section on that thread gets ENOLCK (engine.c ls_fcntl_lock:
 * ls_enter() < 0 -> -ENOLCK), and so would an unlock (the lock stays).
 *
 *   cc -O2 repro_handler_enolck.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/a /tmp/b
 * Prints how many handler requests failed and with which errno; exit 1 if any.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int fdb;
static volatile long ok, bad, last_errno;

static int lk(int fd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 8;
    return fcntl(fd, F_SETLK, &fl);
}

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    if (lk(fdb, F_WRLCK) == 0) {
        ok++;
        if (lk(fdb, F_UNLCK) != 0) { bad++; last_errno = errno; }
    } else {
        bad++;
        last_errno = errno;
    }
    errno = e;
}

int main(int argc, char **argv)
{
    const char *a = argc > 1 ? argv[1] : "/tmp/repro_handler_a";
    const char *b = argc > 2 ? argv[2] : "/tmp/repro_handler_b";
    int fda = open(a, O_RDWR | O_CREAT, 0644);
    fdb = open(b, O_RDWR | O_CREAT, 0644);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    time_t end = time(NULL) + 2;
    while (time(NULL) < end) {
        lk(fda, F_WRLCK);
        lk(fda, F_UNLCK);
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("handler: %ld lock+unlock ok, %ld failed (last errno %ld %s)\n", ok, bad, last_errno,
           last_errno ? strerror((int)last_errno) : "");
    return bad ? 1 : 0;
}
