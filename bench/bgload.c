/*
 * bgload.c - the machine-size background for bench/rows.py: what other
 * processes on a busy machine hold while the shim works.
 *
 *   bgload locks DIR FILES LOCKS   hold LOCKS write locks spread over FILES
 *                                  files of DIR (bytes 0, 2, 4, ... of each)
 *   bgload idle PROCS FDS          PROCS sleeping children with FDS open
 *                                  fds each (of /dev/null)
 *
 * Prints "ready" once everything is in place, then stays until its stdin
 * reaches EOF (the harness closing the pipe, or dying): then the children
 * are killed and reaped.  Each child also dies with this process
 * (PR_SET_PDEATHSIG), so nothing outlives a failed run.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what)
{
    fprintf(stderr, "bgload: %s: %s\n", what, strerror(errno));
    exit(3);
}

static void wait_eof(void)
{
    char b[64];
    for (;;) {
        ssize_t r = read(0, b, sizeof b);
        if (r == 0 || (r < 0 && errno != EINTR))
            return;
    }
}

int main(int argc, char **argv)
{
    if (argc == 5 && strcmp(argv[1], "locks") == 0) {
        long files = atol(argv[3]), locks = atol(argv[4]);
        if (files < 1)
            files = 1;
        long per = (locks + files - 1) / files, done = 0;
        for (long f = 0; f < files && done < locks; f++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/bg.%d.%ld", argv[2], (int)getpid(), f);
            int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (fd < 0)
                die(path);
            unlink(path);           /* nothing left behind */
            for (long k = 0; k < per && done < locks; k++, done++) {
                struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 2 * k, .l_len = 1 };
                if (fcntl(fd, F_SETLK, &fl) < 0)
                    die("F_SETLK");
            }
        }
        printf("ready locks=%ld\n", done);
        fflush(stdout);
        wait_eof();
        return 0;
    }
    if (argc == 4 && strcmp(argv[1], "idle") == 0) {
        long procs = atol(argv[2]), fds = atol(argv[3]), made = 0;
        int ready[2];
        pid_t *kids = calloc((size_t)(procs > 0 ? procs : 1), sizeof *kids);
        if (!kids || pipe(ready) < 0)
            die("setup");
        pid_t me = getpid();
        for (; made < procs; made++) {
            pid_t p = fork();
            if (p < 0)
                break;                  /* the process limit: say how far */
            if (p == 0) {
                char b = 1;
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != me)
                    _exit(0);
                close(0);
                for (long i = 0; i < fds; i++)
                    if (open("/dev/null", O_RDONLY) < 0)
                        break;
                if (write(ready[1], &b, 1) != 1)
                    _exit(3);
                for (;;)
                    pause();
            }
            kids[made] = p;
        }
        close(ready[1]);
        for (long i = 0; i < made; i++) {
            char b;
            if (read(ready[0], &b, 1) != 1)
                break;
        }
        printf("ready procs=%ld\n", made);
        fflush(stdout);
        wait_eof();
        for (long i = 0; i < made; i++)
            kill(kids[i], SIGKILL);
        for (long i = 0; i < made; i++)
            waitpid(kids[i], NULL, 0);
        return 0;
    }
    fprintf(stderr, "usage: bgload locks DIR FILES LOCKS | bgload idle PROCS FDS\n");
    return 2;
}
