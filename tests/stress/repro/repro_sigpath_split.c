/*
 * REPRODUCER (shim bug, see tests/stress/README): a lock taken and released
 * by a signal handler through description A, while the handler interrupted
 * the shim working on A, is not released by the handler's unlock.
 *
 * The main thread loops lock/unlock of [0,8) through A.  SIGALRM every
 * 50 us; the handler write-locks [16,24) through A (must be 0: only A's
 * owner ever locks that range), unlocks it (0), and asks F_GETLK through
 * another description B: the range must be free again.  Under the shim
 * (7c4862b: "the signal path makes and locks a private description of its
 * own, adopted by the owner when the interrupted section leaves") the
 * handler's unlock sometimes leaves the lock held (B still sees it), and a
 * later handler's lock through A then fails with EAGAIN: A's two private
 * descriptions conflict with each other.
 *
 *   cc -O2 repro_sigpath_split.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 if either happened.  (Natively B never sees A's locks: exit 0.)
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

static int A, B;
static volatile long runs, lock_eagain, still_held;

static int lk(int fd, int cmd, struct flock *fl, short type, off_t s, off_t l)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = type; fl->l_whence = SEEK_SET; fl->l_start = s; fl->l_len = l;
    return fcntl(fd, cmd, fl);
}

static void on_alarm(int sig)
{
    (void)sig;
    int e = errno;
    struct flock fl;
    runs++;
    if (lk(A, F_SETLK, &fl, F_WRLCK, 16, 8) != 0) {
        if (errno == EAGAIN || errno == EACCES) lock_eagain++;
        errno = e;
        return;
    }
    lk(A, F_SETLK, &fl, F_UNLCK, 16, 8);
    if (lk(B, F_GETLK, &fl, F_WRLCK, 16, 8) == 0 && fl.l_type != F_UNLCK) still_held++;
    errno = e;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_sigpath";
    A = open(path, O_RDWR | O_CREAT, 0644);
    B = open(path, O_RDWR);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = { { 0, 50 }, { 0, 50 } };
    setitimer(ITIMER_REAL, &it, NULL);
    time_t end = time(NULL) + 3;
    struct flock fl;
    while (time(NULL) < end) {
        lk(A, F_SETLK, &fl, F_WRLCK, 0, 8);
        lk(A, F_SETLK, &fl, F_UNLCK, 0, 8);
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    printf("handler ran %ld times: its lock through A failed with EAGAIN %ld times, "
           "its unlock left the lock held %ld times\n", runs, lock_eagain, still_held);
    return lock_eagain || still_held ? 1 : 0;
}
