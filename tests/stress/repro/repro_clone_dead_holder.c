/*
 * REPRODUCER (tests/stress/README bug 16, found by the model fuzzer):
 * after a clone() child that locked exits, F_GETLK in another process
 * names that dead child as the holder of someone else's lock.
 *
 * A child made by a raw clone(SIGCHLD) (no atfork handler runs) locks
 * [30,31) through a description of its own and exits without closing (the
 * kernel drops its lock).  The parent, which locked [3,14) through A
 * before the clone, locks [30,31) through A too, and a forked child asks F_GETLK for a write lock on [30,32)
 * through B: the answer must name the parent (rule 5).  Under the shim
 * (main 774bc43) it named the dead clone child: the child had claimed a
 * region of the registry and published its lock there, and the region's
 * liveness mutex (a robust mutex) stayed "held" after its death: in a
 * task made by clone() the kernel knows no robust list (glibc registers it
 * again only in fork()) and glibc's cached tid is the parent thread's, so
 * the mutex word kept a live tid.  The parent's own record is a hull of
 * two ranges (confirmed, not exact), the dead one exact: the exact holder
 * is named first.  Fixed in shim/registry.c (region_get: a task without a
 * robust list claims no region; its locks are found in /proc).
 *
 *   cc repro_clone_dead_holder.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 on the bug (a pid other than the parent's), 0 otherwise (also
 * natively).  Another process of the user that claims a registry region
 * in between may reclaim the dead region first and hide the bug (rare).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static int lk(int fd, int cmd, struct flock *fl, short type, off_t s, off_t l)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = type; fl->l_whence = SEEK_SET; fl->l_start = s; fl->l_len = l;
    return fcntl(fd, cmd, fl);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_clone_dead_holder";
    struct flock fl;
    int st;
    /* the parent's region in the registry exists before the clone (else
     * the parent would claim the dead child's region and wipe it) */
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0 || lk(a, F_SETLK, &fl, F_WRLCK, 3, 11) != 0) { perror("lock"); return 2; }
    pid_t c = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
    if (c < 0) { perror("clone"); return 2; }
    if (c == 0) {
        int fd = open(path, O_RDWR);
        if (fd < 0 || lk(fd, F_SETLK, &fl, F_RDLCK, 30, 1) != 0) _exit(2);
        _exit(0);                       /* no close: its records stay */
    }
    if (waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) { fprintf(stderr, "clone child failed\n"); return 2; }
    if (lk(a, F_SETLK, &fl, F_RDLCK, 30, 1) != 0) { perror("lock"); return 2; }
    pid_t parent = getpid();
    pid_t p = fork();
    if (p < 0) return 2;
    if (p == 0) {
        int b = open(path, O_RDONLY);
        if (b < 0 || lk(b, F_GETLK, &fl, F_WRLCK, 30, 2) != 0) { perror("child getlk"); _exit(2); }
        int bad = fl.l_type == F_UNLCK || fl.l_pid != parent;
        printf("F_GETLK -> type %d start %lld len %lld pid %d (parent %d, dead clone child %d): %s\n", fl.l_type,
               (long long)fl.l_start, (long long)fl.l_len, (int)fl.l_pid, (int)parent, (int)c,
               bad ? "BUG (the holder is the parent)" : "ok");
        fflush(stdout);
        _exit(bad);
    }
    waitpid(p, &st, 0);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
