/*
 * REPRODUCER (shim bug found by the model fuzzer, same family as
 * repro_child_inherited_getlk_pid.c; input
 * repro/model-input-child-inherited-desc-strict-eagain): in a forked child,
 * strict answers EAGAIN instead of ENOLCK for a request that natively would
 * convert the child's own lock held through another description.
 *
 * The parent opens A, takes a read lock on [11,20) through it, opens D on
 * the same file, forks and closes A.  The child takes a write lock on [12,15) through its copy of A, then
 * asks a read lock on [8,31) through its copy of D.  Natively that converts
 * the child's own write lock (one process, one owner), which strict refuses
 * with ENOLCK before anything else (the model's M_STRICT); under the shim
 * the child's lock through A is not seen as this process's own and the
 * request gets EAGAIN (a conflict with a foreign lock).
 *
 *   cc repro_child_inherited_strict_eagain.c -o r &&
 *   LOCKSCOPE_MODE=strict LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 on EAGAIN under strict, 0 otherwise (natively: 0, the lock converts).
 * Fails on /work/base2 (0148ea4) and this branch.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
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
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_child_strict";
    struct flock fl;
    int a = open(path, O_RDWR | O_CREAT, 0644);
    if (a < 0 || lk(a, F_SETLK, &fl, F_RDLCK, 11, 9) != 0) { perror("setup"); return 2; }
    int d = open(path, O_RDWR);
    if (d < 0) { perror("setup"); return 2; }
    int go[2];
    if (pipe(go) < 0) return 2;
    pid_t p = fork();
    if (p < 0) return 2;
    if (p == 0) {
        char c;
        if (read(go[0], &c, 1) != 1) _exit(2);          /* the parent has closed A */
        if (lk(a, F_SETLK, &fl, F_WRLCK, 12, 3) != 0) { perror("child lock through A"); _exit(2); }
        int r = lk(d, F_SETLK, &fl, F_RDLCK, 8, 23);
        int e = r < 0 ? errno : 0;
        printf("child: read lock through D -> %d %s\n", r, e ? strerror(e) : "");
        fflush(stdout);
        _exit(e == EAGAIN);
    }
    close(a);
    if (write(go[1], "g", 1) != 1) return 2;
    int st;
    waitpid(p, &st, 0);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
