/*
 * REPRODUCER (shim bug, see tests/stress/README): after fork, closing the
 * last fd of a locked description does not release the lock until the
 * child has run.
 *
 * The parent holds a write lock through fd, forks, and at once closes fd
 * (its last fd of that description) and checks /proc/locks.  Natively the
 * lock is gone when close() returns.  Under the shim the lock lives on the
 * shim's private description; the child got a copy of that fd at fork and
 * closes it only in its atfork handler, when it first runs.  Until then the
 * description (and its OFD lock) survives the parent's close: another
 * process is refused the lock that was released.  Pinning both processes
 * to one CPU makes the child run late (the parent keeps the CPU).
 * Probable cause: fdtable.c ls_owner_release closes the private fd without
 * unlocking it first (an F_OFD_SETLK F_UNLCK over the whole file before
 * the close would release the lock whatever copies exist).
 *
 *   cc repro_fork_close_window.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 if the lock was still there after close().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static int locks_on(const char *path)
{
    struct stat st;
    char want[64], line[256];
    if (stat(path, &st) != 0) return -1;
    snprintf(want, sizeof want, " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
    FILE *f = fopen("/proc/locks", "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, want) && !strstr(line, "->")) n++;
    if (f) fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_fork_close";
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(0, &one);
    sched_setaffinity(0, sizeof one, &one);
    int bad = 0;
    for (int i = 0; i < 20; i++) {
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) != 0) { perror("setup"); return 2; }
        pid_t c = fork();
        if (c == 0) { pause(); _exit(0); }
        close(fd);                       /* the parent's last fd: the lock must go */
        int n = locks_on(path);
        if (n) bad++;
        kill(c, SIGKILL);
        waitpid(c, NULL, 0);
    }
    printf("%d of 20 times the lock was still held right after the parent's close()\n", bad);
    return bad ? 1 : 0;
}
