/*
 * REPRODUCER (shim bug, see tests/stress/README): a write lock held across
 * exec is not always held in the next image (lost update).
 *
 * A chain process opens the file (no CLOEXEC), takes a write lock from 0
 * to the end of the file (l_len 0), increments the counter and execs itself; the next image increments again
 * under the lock it inherited (rule 7), unlocks, locks again, increments
 * and execs, CHAIN times.  Meanwhile HAMMER processes increment the same
 * counter under F_SETLKW write locks.  Every increment is counted in a
 * shared tally; at the end the counter must equal the tally.
 * Cause: the hand-over table writes a lock to the end of the file with
 * end INT64_MAX (19 digits) and the new image's parser took at most 18:
 * the table was "malformed", the owner released, the lock gone.
 *
 *   cc -O2 repro_exec_chain_lost.c -o r && LD_PRELOAD=build/liblockscope.so ./r DIR [ROUNDS]
 * Prints one "ok - " / "not ok - " line (tests/stress/run.sh runs it);
 * exit 1 on a lost update, 0 otherwise, 2 on a setup error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

enum { HAMMER = 2, CHAIN = 40 };
struct tally { _Atomic long inc; _Atomic int stop; };

static struct tally *T;

static int setlkw(int fd, short type, off_t len)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = len };
    for (;;) {
        int r = fcntl(fd, F_SETLKW, &fl);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EDEADLK)) return r;
        sched_yield();
    }
}

static void inc(int fd)
{
    long v = 0;
    if (pread(fd, &v, sizeof v, 0) != sizeof v) v = -1000000;
    sched_yield();
    v++;
    if (pwrite(fd, &v, sizeof v, 0) != sizeof v) exit(2);
    T->inc++;
}

static char self[4096];

static void next(int k, int tfd, int fd)
{
    char K[16], TF[16], FD[16];
    snprintf(K, sizeof K, "%d", k);
    snprintf(TF, sizeof TF, "%d", tfd);
    snprintf(FD, sizeof FD, "%d", fd);
    char *args[] = { self, (char *)"--chain", K, TF, FD, NULL };
    execv(self, args);
    perror("execv");
    exit(2);
}

int main(int argc, char **argv)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) return 2;
    self[n] = 0;
    if (argc == 5 && !strcmp(argv[1], "--chain")) {
        int k = atoi(argv[2]), tfd = atoi(argv[3]), fd = atoi(argv[4]);
        T = mmap(NULL, sizeof *T, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
        if (T == MAP_FAILED) return 2;
        inc(fd);                        /* under the inherited lock */
        struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 0 };
        fcntl(fd, F_SETLK, &fl);
        if (k == 0) return 0;
        for (int i = 0; i < 3; i++) {
            if (setlkw(fd, F_WRLCK, 0) < 0) return 2;
            inc(fd);
            fl.l_type = F_UNLCK;
            fcntl(fd, F_SETLK, &fl);
        }
        if (setlkw(fd, F_WRLCK, 0) < 0) return 2;
        inc(fd);
        next(k - 1, tfd, fd);
    }
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    int rounds = argc > 2 ? atoi(argv[2]) : 5;
    char path[4096];
    snprintf(path, sizeof path, "%s/repro_exec_chain_lost", dir);
    int bad = 0;
    for (int r = 0; r < rounds && !bad; r++) {
        int tfd = memfd_create("tally", 0);
        if (tfd < 0 || ftruncate(tfd, sizeof *T) < 0) return 2;
        T = mmap(NULL, sizeof *T, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
        if (T == MAP_FAILED) return 2;
        int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        long zero = 0;
        if (fd < 0 || pwrite(fd, &zero, sizeof zero, 0) != sizeof zero) return 2;
        close(fd);
        pid_t h[HAMMER];
        for (int i = 0; i < HAMMER; i++) {
            if ((h[i] = fork()) == 0) {
                int f = open(path, O_RDWR);
                if (f < 0) _exit(2);
                while (!T->stop) {
                    if (setlkw(f, F_WRLCK, 8) < 0) _exit(2);
                    inc(f);
                    struct flock fl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 8 };
                    fcntl(f, F_SETLK, &fl);
                }
                _exit(0);
            }
        }
        pid_t c = fork();
        if (c == 0) {
            int f = open(path, O_RDWR);         /* inherited by the exec */
            if (f < 0 || setlkw(f, F_WRLCK, 0) < 0) _exit(2);
            inc(f);
            next(CHAIN, tfd, f);
        }
        int st, cst = 0;
        waitpid(c, &cst, 0);
        T->stop = 1;
        for (int i = 0; i < HAMMER; i++) waitpid(h[i], &st, 0);
        fd = open(path, O_RDONLY);
        long v = -1;
        if (fd < 0 || pread(fd, &v, sizeof v, 0) != sizeof v) return 2;
        close(fd);
        if (!WIFEXITED(cst) || WEXITSTATUS(cst) != 0) {
            fprintf(stderr, "round %d: chain status 0x%x\n", r, cst);
            return 2;
        }
        if (v != T->inc) {
            printf("# FAIL round %d: counter %ld, %ld increments made (lost update)\n", r, v, (long)T->inc);
            bad = 1;
        }
        munmap(T, sizeof *T);
        close(tfd);
    }
    unlink(path);
    printf("%sok - a lock to the end of the file held across exec: no lost update (up to %d exec chains of %d)\n",
           bad ? "not " : "", rounds, CHAIN);
    return bad;
}
