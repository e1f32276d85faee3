/*
 * scen.h - helpers for scenario programs.
 *
 * A scenario is a plain program (never linked with the shim) that performs
 * one seed's steps and prints what it observed as "key=value" lines on
 * stdout.  tests/run-scenarios.sh runs it natively, under the shim in each
 * mode, and compares the output with tests/scenarios/expect/NAME.MODE.
 *
 * The independent oracle is probe(): it re-executes this same binary WITHOUT
 * the shim (LD_PRELOAD and LOCKSCOPE_* removed from the environment) and asks
 * the kernel with a classic F_GETLK whether a lock of the given type would
 * conflict; it returns the conflicting type ('R', 'W') or 'U' (no conflict).
 */
#ifndef SCEN_H
#define SCEN_H

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

static inline void scen_die(const char *what)
{
    fprintf(stderr, "scenario: %s: %s\n", what, strerror(errno));
    exit(2);
}

#define SAY(...) do { printf(__VA_ARGS__); putchar('\n'); fflush(stdout); } while (0)

/* A fresh file in $SCEN_DIR (or /tmp) named after the scenario. */
static inline const char *scen_path(const char *name)
{
    static char buf[4096];
    const char *d = getenv("SCEN_DIR");
    snprintf(buf, sizeof buf, "%s/lockscope-scen-%s-%d", d && *d ? d : "/tmp", name, (int)getpid());
    return buf;
}

static inline int scen_setlk(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type; fl.l_whence = SEEK_SET; fl.l_start = start; fl.l_len = len;
    return fcntl(fd, cmd, &fl);
}

/* Probe mode: "argv[0] --probe PATH TYPE START LEN" prints R, W or U. */
static inline int scen_probe_main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[1], "--probe") != 0)
        return -1;
    int fd = open(argv[2], O_RDWR);
    if (fd < 0) fd = open(argv[2], O_RDONLY);
    if (fd < 0) { printf("E\n"); exit(0); }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = argv[3][0] == 'W' ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = atoll(argv[4]);
    fl.l_len = atoll(argv[5]);
    if (fcntl(fd, F_GETLK, &fl) < 0) { printf("E\n"); exit(0); }
    printf("%c %d\n", fl.l_type == F_UNLCK ? 'U' : fl.l_type == F_RDLCK ? 'R' : 'W', (int)fl.l_pid);
    exit(0);
}

/* Call at the top of main(). */
#define SCEN_MAIN_PROLOGUE(argc, argv) do { scen_probe_main(argc, argv); setvbuf(stdout, NULL, _IOLBF, 0); } while (0)

/* Ask a process without the shim: would a lock of `type` ('R'/'W') on
 * [start, start+len) conflict?  Returns 'R', 'W', 'U' or 'E'; *pid gets the
 * pid the kernel reported (may be -1 for OFD holders). */
static inline char probe_pid(const char *path, char type, long long start, long long len, int *pid)
{
    int p[2];
    if (pipe(p) < 0) scen_die("pipe");
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) scen_die("readlink");
    self[n] = 0;
    char ts[2] = { type, 0 }, ss[32], ls[32];
    snprintf(ss, sizeof ss, "%lld", start);
    snprintf(ls, sizeof ls, "%lld", len);
    /* environment without the shim */
    static char *env[512];
    int k = 0;
    for (char **e = environ; *e && k < 510; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "LOCKSCOPE_", 10))
            env[k++] = *e;
    env[k] = NULL;
    pid_t c = fork();
    if (c < 0) scen_die("fork");
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]); close(p[1]);
        char *args[] = { self, (char *)"--probe", (char *)path, ts, ss, ls, NULL };
        execve(self, args, env);
        _exit(127);
    }
    close(p[1]);
    char buf[64] = {0};
    ssize_t r = read(p[0], buf, sizeof buf - 1);
    close(p[0]);
    int st;
    waitpid(c, &st, 0);
    if (r <= 0) return 'E';
    if (pid) *pid = atoi(buf + 1);
    return buf[0];
}

static inline char probe(const char *path, char type, long long start, long long len)
{
    return probe_pid(path, type, start, len, NULL);
}

/* errno as a name, for stable output. */
static inline const char *errname(int e)
{
    switch (e) {
    case 0: return "0";
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EBADF: return "EBADF";
    case EINVAL: return "EINVAL";
    case EDEADLK: return "EDEADLK";
    case EINTR: return "EINTR";
    case ENOLCK: return "ENOLCK";
    case EOVERFLOW: return "EOVERFLOW";
    case EFAULT: return "EFAULT";
    case ENOENT: return "ENOENT";
    case EEXIST: return "EEXIST";
    default: { static char b[16]; snprintf(b, sizeof b, "E%d", e); return b; }
    }
}

/* Result of a call as "0" or the errno name. */
static inline const char *res(int r)
{
    return r < 0 ? errname(errno) : "0";
}

#endif
