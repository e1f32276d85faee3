/*
 * torture.c - a many-process fcntl stress in the manner of Samba's
 * tdbtorture (which Debian does not ship): P processes, L loops each, on one
 * shared file of R records.
 *
 *   torture [-n P] [-l L] [-r R] [-s SEED] FILE
 *
 * Each loop picks a random operation:
 *   - write (60 %): F_SETLKW a write lock on one record (its 16 bytes), or on
 *     two records in ascending order, add 1 to both copies of each record's
 *     counter, unlock;
 *   - read (30 %): a read lock on a record, check its two copies agree;
 *   - "allrecord" (10 %): a read lock on the whole file, check every record.
 * EDEADLK (the kernel's verdict on a cycle through other processes' waits)
 * unlocks what is held and retries.  At the end the parent checks the sum of
 * the counters equals the writes counted by all processes.
 * Prints "op=torture procs=P loops=L ns=TOTAL_NS ok=1" (ok=0 and exit 1 on
 * an inconsistency).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "torture.h"

#define REC 16

static int lk(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    for (;;) {
        if (fcntl(fd, cmd, &fl) == 0)
            return 0;
        if (errno != EINTR)
            return -errno;
    }
}

static int rec_ok(int fd, long r)
{
    uint64_t v[2];
    if (pread(fd, v, sizeof v, r * REC) != (ssize_t)sizeof v)
        return 0;
    return v[0] == v[1];
}

static void bump(int fd, long r)
{
    uint64_t v[2];
    if (pread(fd, v, sizeof v, r * REC) != (ssize_t)sizeof v)
        exit(4);
    v[0]++;
    v[1]++;
    if (pwrite(fd, v, sizeof v, r * REC) != (ssize_t)sizeof v)
        exit(4);
}

static int child(const char *path, long loops, long recs, unsigned seed, long *writes)
{
    int fd = open(path, O_RDWR);
    if (fd < 0)
        return 3;
    srand(seed);
    for (long i = 0; i < loops; i++) {
        int k = rand() % 10;
        long a = rand() % recs, b = rand() % recs;
        if (k < 6) {
            long lo = a < b ? a : b, hi = a < b ? b : a;
            int two = (rand() & 1) && lo != hi;
            int r = lk(fd, F_SETLKW, F_WRLCK, lo * REC, REC);
            if (r == 0 && two && (r = lk(fd, F_SETLKW, F_WRLCK, hi * REC, REC)) != 0)
                lk(fd, F_SETLK, F_UNLCK, lo * REC, REC);
            if (r == -EDEADLK) { i--; continue; }
            if (r != 0) return 5;
            bump(fd, lo);
            (*writes)++;
            if (two) {
                bump(fd, hi);
                (*writes)++;
                lk(fd, F_SETLK, F_UNLCK, hi * REC, REC);
            }
            lk(fd, F_SETLK, F_UNLCK, lo * REC, REC);
        } else if (k < 9) {
            int r = lk(fd, F_SETLKW, F_RDLCK, a * REC, REC);
            if (r == -EDEADLK) { i--; continue; }
            if (r != 0) return 5;
            if (!rec_ok(fd, a)) return 6;
            lk(fd, F_SETLK, F_UNLCK, a * REC, REC);
        } else {
            int r = lk(fd, F_SETLKW, F_RDLCK, 0, 0);
            if (r == -EDEADLK) { i--; continue; }
            if (r != 0) return 5;
            for (long x = 0; x < recs; x++)
                if (!rec_ok(fd, x)) return 6;
            lk(fd, F_SETLK, F_UNLCK, 0, 0);
        }
    }
    close(fd);
    return 0;
}

struct job { const char *path; long loops, recs; unsigned seed; long *writes; };

static int worker(long p, void *ctx)
{
    const struct job *j = ctx;
    return child(j->path, j->loops, j->recs, j->seed * 7919u + (unsigned)p, &j->writes[p]);
}

int main(int argc, char **argv)
{
    long procs = 6, loops = 1500, recs = 64;
    unsigned seed = 1;
    int opt;
    while ((opt = getopt(argc, argv, "n:l:r:s:")) != -1) {
        switch (opt) {
        case 'n': procs = atol(optarg); break;
        case 'l': loops = atol(optarg); break;
        case 'r': recs = atol(optarg); break;
        case 's': seed = (unsigned)atol(optarg); break;
        default: goto usage;
        }
    }
    if (argc - optind != 1 || procs < 1 || loops < 1 || recs < 2)
        goto usage;
    const char *path = argv[optind];
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, recs * REC) < 0) {
        perror(path);
        return 3;
    }
    long *writes = mmap(NULL, (size_t)procs * sizeof(long), PROT_READ | PROT_WRITE,
                        MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (writes == MAP_FAILED)
        return 3;
    struct job job = { path, loops, recs, seed, writes };
    double ns;
    int ok = torture_drive("torture", procs, worker, &job, &ns);
    if (ok < 0)
        return 3;
    uint64_t sum = 0, total = 0;
    for (long r = 0; r < recs; r++) {
        uint64_t v[2];
        if (pread(fd, v, sizeof v, r * REC) != (ssize_t)sizeof v || v[0] != v[1])
            ok = 0;
        sum += v[0];
    }
    for (long p = 0; p < procs; p++)
        total += (uint64_t)writes[p];
    if (sum != total) {
        fprintf(stderr, "torture: counters sum to %llu, %llu writes made\n",
                (unsigned long long)sum, (unsigned long long)total);
        ok = 0;
    }
    printf("op=torture procs=%ld loops=%ld ns=%.0f writes=%llu ok=%d\n", procs, loops, ns,
           (unsigned long long)total, ok);
    return ok ? 0 : 1;
usage:
    fprintf(stderr, "usage: torture [-n P] [-l L] [-r R] [-s SEED] FILE\n");
    return 2;
}
