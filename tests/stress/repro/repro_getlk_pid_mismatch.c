/*
 * REPRODUCER (shim bug, see tests/stress/README): F_GETLK pairs one lock's
 * range with another holder's pid.
 *
 * The parent holds a write lock on [15,20).  Its child (after fork) takes a
 * write lock on [21,22) through a description of its own, then asks
 * F_GETLK for a write lock on [18,31) through a third description.  Both
 * locks conflict.  The answer must describe one conflicting lock and the
 * pid of a process that holds THAT lock (rule 5).  Under the shim the
 * child gets the parent's range [15,20) with its OWN pid: the kernel
 * (F_OFD_GETLK) reported the parent's lock, and the shim named a holder
 * from its own model for the request's range, not for the reported lock
 * (engine.c getlk: conflicting_owner(..., s, e, ...) instead of the range
 * in q).  A program that then signals or waits for l_pid acts on itself.
 *
 *   cc repro_getlk_pid_mismatch.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 on a mismatched answer.
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
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_getlk_pid";
    struct flock fl;
    int a = open(path, O_RDWR | O_CREAT, 0644);
    if (a < 0 || lk(a, F_SETLK, &fl, F_WRLCK, 15, 5) != 0) { perror("setup"); return 2; }
    int pr[2];
    if (pipe(pr) < 0) return 2;
    pid_t c = fork();
    if (c == 0) {
        int b = open(path, O_RDWR), q = open(path, O_RDWR);
        if (lk(b, F_SETLK, &fl, F_WRLCK, 21, 1) != 0) _exit(2);
        if (lk(q, F_GETLK, &fl, F_WRLCK, 18, 13) != 0) _exit(2);
        printf("child %d: F_GETLK [18,31) -> type %s start %lld len %lld pid %d\n", (int)getpid(),
               fl.l_type == F_WRLCK ? "write" : fl.l_type == F_RDLCK ? "read" : "unlock",
               (long long)fl.l_start, (long long)fl.l_len, (int)fl.l_pid);
        int ok = (fl.l_start == 15 && fl.l_pid == getppid()) || (fl.l_start == 21 && fl.l_pid == getpid());
        printf("%s\n", ok ? "consistent" : "MISMATCH: the range is one process's lock, the pid another's");
        fflush(stdout);
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    printf("(parent is %d)\n", (int)getpid());
    return WIFEXITED(st) ? WEXITSTATUS(st) : 2;
}
