/*
 * repro_close_race_lock DIR [ROUNDS]: a close racing another thread's first
 * lock through the same fd must not leave the lock held (review of wave 3).
 *
 * The process holds a lock on DIR/z throughout, so a close of an fd the
 * shim does not track takes the path that decides without the mutex.
 * Each round: open DIR/x, let thread B lock it (F_SETLK) while this thread
 * spins a varying time and closes the fd.  Natively either the lock comes
 * first and the close drops it, or the close comes first and the lock fails
 * with EBADF: afterwards DIR/x is never locked.  Under the shim a close
 * decided before B tracked the fd, made after B's grant, left the grant on
 * B's private description (no program fd open): 3 leaks in a few hundred
 * rounds.  Checked with a raw F_OFD_GETLK on a fresh description after
 * every round.  At most ROUNDS rounds or 8 s, whichever ends first (on a
 * busy machine the spinning threads are slow).  Exits 0 when no round leaked.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile int fd;
static atomic_int seq, done;
static int bres;

static void *locker(void *a)
{
    (void)a;
    int my = 0;
    for (;;) {
        while (atomic_load(&seq) == my)
            ;                   /* spin: the race needs both threads running */
        my = atomic_load(&seq);
        if (my < 0)
            return NULL;
        struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        bres = fcntl(fd, F_SETLK, &l);
        atomic_store(&done, my);
    }
}

/* raw system calls: the shim sees none of this */
static int locked_raw(const char *p)
{
    int f = (int)syscall(SYS_openat, AT_FDCWD, p, O_RDWR);
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    syscall(SYS_fcntl, f, F_OFD_GETLK, &l);
    syscall(SYS_close, f);
    return l.l_type != F_UNLCK;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: repro_close_race_lock DIR [ROUNDS]\n");
        return 2;
    }
    char x[4096], z[4096];
    snprintf(x, sizeof x, "%s/x", argv[1]);
    snprintf(z, sizeof z, "%s/z", argv[1]);
    int rounds = argc > 2 ? atoi(argv[2]) : 5000;
    close(open(x, O_RDWR | O_CREAT, 0600));
    int zf = open(z, O_RDWR | O_CREAT, 0600);
    struct flock l = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (zf < 0 || fcntl(zf, F_SETLK, &l) != 0) {
        perror("lock z");
        return 2;
    }
    pthread_t t;
    pthread_create(&t, NULL, locker, NULL);
    int leaks = 0, granted = 0, i;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (i = 1; i <= rounds; i++) {
        if (i % 256 == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - t0.tv_sec >= 8)
                break;
        }
        fd = open(x, O_RDWR);
        atomic_store(&seq, i);
        for (volatile int k = 0; k < (i % 200) * 10; k++)
            ;
        close(fd);
        while (atomic_load(&done) != i)
            ;
        if (bres == 0)
            granted++;
        if (locked_raw(x)) {
            leaks++;
            fprintf(stderr, "round %d: %s still locked after its only fd was closed (lock returned %d)\n",
                    i, x, bres);
            break;
        }
    }
    atomic_store(&seq, -1);
    pthread_join(t, NULL);
    printf("%s - a close racing a lock through the same fd leaves no lock (%d rounds, %d granted)\n",
           leaks ? "not ok" : "ok", i - 1, granted);
    return leaks != 0;
}
