/*
 * REPRODUCER (shim bug found by the model fuzzer, input
 * tests/fuzz/corpus/shim_model/child-inherited-desc-getlk-pid): F_GETLK in
 * a forked child names no holder (l_pid 2147483647) for a lock the child
 * itself holds.
 *
 * The parent opens A and takes a write lock on [20,29) and a read lock on
 * [6,21) through it, then forks; the parent closes A (its locks go, rule 1).  The child locks [18,27) through its inherited
 * copy of A, opens B on the same file and asks F_GETLK for a write lock on
 * [21,26) through B.  A and B are different descriptions, so the child's
 * own lock conflicts (rule 2) and the answer must name a process holding it
 * (rule 5): the child.  Under the shim the answer is l_pid 2147483647 (no
 * holder could be named) although the holder is the calling process.
 *
 *   cc repro_child_inherited_getlk_pid.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 on the bug (2147483647 or another pid), 0 otherwise (natively the
 * child's own lock is not a conflict: F_UNLCK, exit 0).  Fails on /work/base2
 * (0148ea4) and this branch; passes on /work/base (52b6f0c): a regression of
 * the first wave.  Without the parent's write lock it does not show.
 */
#define _GNU_SOURCE
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
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_child_getlk_pid";
    struct flock fl;
    int a = open(path, O_RDWR | O_CREAT, 0644);
    if (a < 0 || lk(a, F_SETLK, &fl, F_WRLCK, 20, 9) != 0 || lk(a, F_SETLK, &fl, F_RDLCK, 6, 15) != 0) { perror("setup"); return 2; }
    int go[2], done[2];
    if (pipe(go) < 0 || pipe(done) < 0) return 2;
    pid_t p = fork();
    if (p < 0) return 2;
    if (p == 0) {
        char c;
        if (read(go[0], &c, 1) != 1) _exit(2);          /* the parent has closed A */
        if (lk(a, F_SETLK, &fl, F_RDLCK, 18, 9) != 0) { perror("child lock"); _exit(2); }
        int b = open(path, O_WRONLY);
        if (b < 0 || lk(b, F_GETLK, &fl, F_WRLCK, 21, 5) != 0) { perror("child getlk"); _exit(2); }
        int bad = fl.l_type != F_UNLCK && fl.l_pid != getpid();
        printf("child %d: F_GETLK -> type %d start %lld len %lld pid %d: %s\n", (int)getpid(), fl.l_type,
               (long long)fl.l_start, (long long)fl.l_len, (int)fl.l_pid,
               bad ? "BUG (the holder is this process)" : "ok");
        fflush(stdout);
        _exit(bad);
    }
    close(a);
    if (write(go[1], "g", 1) != 1) return 2;
    int st;
    waitpid(p, &st, 0);
    unlink(path);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
