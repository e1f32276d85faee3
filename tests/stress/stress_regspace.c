/*
 * stress_regspace.c - the shim's shared registry on a file system with
 * little room (run by tests/stress/registry-space.sh, under the shim, in a
 * private mount namespace whose /dev/shm is a small, nearly full tmpfs).
 *
 *   stress_regspace DIR N
 *
 * Takes a write lock on each of N files in DIR (the shim publishes them in
 * its registry region), then a child asks F_GETLK on each: every answer must
 * name this process.  A SIGBUS (a store into a registry page tmpfs cannot
 * back) kills the program: the runner reports the signal.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    int n = atoi(argv[2]), bad = 0;
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/f.%d", argv[1], i);
        int fd = open(p, O_RDWR | O_CREAT, 0644);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) {
            printf("# FAIL lock %s: %s\n", p, strerror(errno));
            bad = 1;
        }
    }
    printf("%s - %d locks taken (published in the registry when it has room), no crash\n",
           bad ? "not ok" : "ok", n);
    fflush(stdout);
    pid_t me = getpid(), c = fork();
    if (c == 0) {
        int wrong = 0;
        for (int i = 0; i < n; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/f.%d", argv[1], i);
            int fd = open(p, O_RDWR);
            struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_len = 1 };
            if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0 || fl.l_type != F_WRLCK || fl.l_pid != me) {
                if (!wrong)
                    printf("# FAIL F_GETLK on %s: type %d pid %d (want %d)\n", p, fl.l_type, (int)fl.l_pid, (int)me);
                wrong++;
            }
            if (fd >= 0)
                close(fd);
        }
        printf("%s - F_GETLK from another process names the holder of each (%d wrong)\n",
               wrong ? "not ok" : "ok", wrong);
        fflush(stdout);
        _exit(wrong ? 1 : 0);
    }
    int st = 0;
    waitpid(c, &st, 0);
    if (WIFSIGNALED(st)) {
        printf("not ok - the F_GETLK child exited normally (signal %d)\n", WTERMSIG(st));
        bad = 1;
    }
    return bad || !WIFEXITED(st) || WEXITSTATUS(st) ? 1 : 0;
}
