/*
 * torture.h - the driver torture.c and tdbtorture.c share: fork P processes
 * that each run one worker, wait for all of them, and time the whole.
 *
 *   double ns;
 *   int ok = torture_drive("torture", procs, worker, &ctx, &ns);
 *
 * worker(p, ctx) runs in child p (0 .. P-1) and returns its exit status (0:
 * fine).  Returns 1 when every child exited 0, 0 when one did not (said on
 * stderr, prefixed with `who`), -1 when fork failed (perror; the caller
 * exits 3).  *ns: from before the first fork to after the last wait.
 */
#ifndef LOCKSCOPE_BENCH_TORTURE_H
#define LOCKSCOPE_BENCH_TORTURE_H

#include <errno.h>
#include <stdio.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int torture_drive(const char *who, long procs, int (*worker)(long p, void *ctx), void *ctx,
                         double *ns)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (long p = 0; p < procs; p++) {
        pid_t pid = fork();
        if (pid < 0) {
            perror("fork");
            return -1;
        }
        if (pid == 0)
            _exit(worker(p, ctx));
    }
    int ok = 1, st;
    pid_t w;
    while ((w = wait(&st)) > 0 || errno == EINTR)
        if (w > 0 && (!WIFEXITED(st) || WEXITSTATUS(st) != 0)) {
            fprintf(stderr, "%s: a process failed (status %d)\n", who, st);
            ok = 0;
        }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    *ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec);
    return ok;
}

#endif
