/*
 * REPRODUCER (shim bug, see tests/stress/README): the process hangs,
 * spinning in ls_leave() -> process_deferred() (shim/core.c).
 *
 * A signal handler that interrupts the shim's critical section on its own
 * thread takes the "signal path": its table updates are queued (per-thread,
 * DEFER_MAX = 16 slots, overflowing into a full resync) and applied by the
 * interrupted ls_leave().  Here SIGALRM comes every 20 us and the handler
 * does 20 dup()+close() pairs of a locked fd (40 queued updates: overflow);
 * the main thread loops lock/unlock through that fd.  When another handler
 * queues something while process_deferred() handles the overflow, its CAS
 * of tls_ndefer fails, `done` is reset to 0 ("resync covers it"), and the
 * loop waits for slot 0 to become ready again, which never happens (it was
 * consumed): `if (!d->ready) continue;` spins for ever.  Natively the
 * program ends after 2 s.
 *
 *   cc -O2 repro_defer_overflow_hang.c -o r && LD_PRELOAD=build/liblockscope.so timeout 20 ./r /tmp/f
 * exit 124 (timeout) = the hang; 0 = fine.
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

static int A;
static volatile long runs;
static volatile time_t end;

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    runs++;
    for (int i = 0; i < 20; i++) {
        int d = dup(A);
        if (d >= 0) close(d);
    }
    if (time(NULL) >= end) {             /* never a livelock of the test itself */
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
    }
    errno = e;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_defer_overflow";
    A = open(path, O_RDWR | O_CREAT, 0644);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 1 };
    fcntl(A, F_SETLK, &fl);              /* A is tracked from now on */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    end = time(NULL) + 2;
    struct itimerval it = { { 0, 20 }, { 0, 20 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long loops = 0;
    while (time(NULL) < end + 1) {
        fl.l_type = F_WRLCK; fl.l_start = 0; fl.l_len = 8;
        fcntl(A, F_SETLK, &fl);
        fl.l_type = F_UNLCK;
        fcntl(A, F_SETLK, &fl);
        loops++;
    }
    printf("done: %ld loops, the handler ran %ld times\n", loops, runs);
    return 0;
}
