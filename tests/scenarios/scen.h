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

/* This executable's path, and an environment without the shim (LD_PRELOAD
 * and LOCKSCOPE_* removed) plus up to one extra "VAR=value" entry. */
static inline const char *scen_self_exe(void)
{
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) scen_die("readlink");
    self[n] = 0;
    return self;
}

static inline char **scen_noshim_env(const char *extra)
{
    static char *env[512];
    int k = 0;
    for (char **e = environ; *e && k < 509; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "LOCKSCOPE_", 10) &&
            strncmp(*e, "SCEN_HOLD=", 10))
            env[k++] = *e;
    if (extra) env[k++] = (char *)extra;
    env[k] = NULL;
    return env;
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
    const char *self = scen_self_exe();
    char **env = scen_noshim_env(NULL);
    char ts[2] = { type, 0 }, ss[32], ls[32];
    snprintf(ss, sizeof ss, "%lld", start);
    snprintf(ls, sizeof ls, "%lld", len);
    pid_t c = fork();
    if (c < 0) scen_die("fork");
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]); close(p[1]);
        char *args[] = { (char *)self, (char *)"--probe", (char *)path, ts, ss, ls, NULL };
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

/* ------------------------------------------------------------------------
 * Watchdog, clocks, and a lock holder that runs WITHOUT the shim.
 * ---------------------------------------------------------------------- */
#include <poll.h>
#include <time.h>

static inline void scen_watchdog_fire(int sig)
{
    (void)sig;
    static const char m[] = "hang\n";
    if (write(1, m, sizeof m - 1)) {}
    _exit(1);
}

/* scen_watchdog(N): if the process is still running in N seconds, print
 * "hang" and exit 1 (from any thread).  scen_watchdog(0) cancels. */
static inline void scen_watchdog(unsigned seconds)
{
    if (seconds) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = scen_watchdog_fire;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGALRM, &sa, NULL);
    }
    alarm(seconds);
}

static inline long long scen_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void scen_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

/* After a step that may have dropped fd's write lock on [start, start+len)
 * of path: "LABEL_relock=held" when a probe still sees it, else lock it
 * again and say how that went ("LABEL_relock=0"). */
static inline void scen_relock(const char *path, int fd, long long start, long long len,
                               const char *label)
{
    if (probe(path, 'W', start, len) != 'W')
        SAY("%s_relock=%s", label, res(scen_setlk(fd, F_SETLK, F_WRLCK, start, len)));
    else
        SAY("%s_relock=held", label);
}

/* Fill out[] with probe(path, type, at[i], len) for i < n, NUL-terminated. */
static inline char *scen_probes(char *out, const char *path, char type,
                                const long long *at, int n, long long len)
{
    for (int i = 0; i < n; i++) out[i] = probe(path, type, at[i], len);
    out[n] = 0;
    return out;
}

/* A holder: a process WITHOUT the shim (this executable re-executed with a
 * clean environment) that takes a classic F_SETLK lock of TYPE ('R'/'W') on
 * [start, start+len) of path, reports readiness through a pipe and keeps the
 * lock until told to release it.
 *
 *   struct scen_holder h;
 *   int e = scen_holder_start(&h, path, 'W', 0, 10);  // 0 or the holder's errno
 *   ... h.pid is the holder's pid ...
 *   scen_holder_release(&h);         // release now, wait until done, reap
 * or
 *   scen_holder_release_later(&h);   // holder sleeps ~300 ms, then releases
 *   ... block on the lock ...
 *   scen_holder_finish(&h);          // wait until released, reap
 *
 * The holder side runs from a constructor (before main) when SCEN_HOLD is set
 * in the environment, so it needs no help from SCEN_MAIN_PROLOGUE.  A holder
 * whose parent goes away releases and exits. */
struct scen_holder { pid_t pid; int to, from; };

__attribute__((constructor)) static void scen_holder_side(void)
{
    const char *spec = getenv("SCEN_HOLD");    /* "TYPE START LEN PATH" */
    if (!spec) return;
    char type; long long start, len; int n = 0;
    if (sscanf(spec, "%c %lld %lld %n", &type, &start, &len, &n) < 3 || !n) _exit(2);
    const char *path = spec + n;
    int fd = open(path, type == 'W' ? O_RDWR : O_RDONLY);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type == 'W' ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET; fl.l_start = start; fl.l_len = len;
    char msg[32];
    if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) {
        int k = snprintf(msg, sizeof msg, "E%d\n", errno);
        if (write(1, msg, k)) {}
        _exit(0);
    }
    if (write(1, "ok\n", 3)) {}
    char c = 0;
    if (read(0, &c, 1) == 1 && c == 'd') scen_sleep_ms(300);
    fl.l_type = F_UNLCK;
    fcntl(fd, F_SETLK, &fl);
    if (write(1, "released\n", 9)) {}
    _exit(0);
}

/* Read one line from fd within ms milliseconds; "hang" and exit if not. */
static inline void scen_read_line(int fd, char *buf, size_t cap, int ms)
{
    size_t k = 0;
    long long end = scen_now_ms() + ms;
    while (k + 1 < cap) {
        struct pollfd p = { fd, POLLIN, 0 };
        long long left = end - scen_now_ms();
        if (left <= 0 || poll(&p, 1, (int)left) == 0) { SAY("hang"); exit(1); }
        char c;
        ssize_t r = read(fd, &c, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || c == '\n') break;
        buf[k++] = c;
    }
    buf[k] = 0;
}

/* Start this executable again WITHOUT the shim (scen_noshim_env(extra)),
 * with the arguments args (NULL-terminated, at most 6; NULL: none) after
 * argv[0]; its stdin is h->to, its stdout h->from; h->pid is the child. */
static inline void scen_spawn_noshim(struct scen_holder *h, const char *const *args,
                                     const char *extra)
{
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) < 0 || pipe2(from, O_CLOEXEC) < 0) scen_die("pipe");
    const char *self = scen_self_exe();
    char **env = scen_noshim_env(extra);
    char *argv[8];
    int n = 0;
    argv[n++] = (char *)self;
    while (args && *args && n < 7) argv[n++] = (char *)*args++;
    argv[n] = NULL;
    fflush(NULL);
    pid_t c = fork();
    if (c < 0) scen_die("fork");
    if (c == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        execve(self, argv, env);
        _exit(127);
    }
    close(to[0]); close(from[1]);
    h->pid = c; h->to = to[1]; h->from = from[0];
}

static inline int scen_holder_start(struct scen_holder *h, const char *path, char type,
                                    long long start, long long len)
{
    static char spec[4200];
    snprintf(spec, sizeof spec, "SCEN_HOLD=%c %lld %lld %s", type, start, len, path);
    scen_spawn_noshim(h, NULL, spec);
    char line[64];
    scen_read_line(h->from, line, sizeof line, 5000);
    if (strcmp(line, "ok") == 0) return 0;
    int e = line[0] == 'E' ? atoi(line + 1) : -1;
    close(h->to); close(h->from);
    waitpid(h->pid, NULL, 0);
    h->pid = -1;
    return e;
}

static inline void scen_holder_finish(struct scen_holder *h)
{
    char line[64];
    scen_read_line(h->from, line, sizeof line, 5000);
    close(h->to); close(h->from);
    waitpid(h->pid, NULL, 0);
    h->pid = -1;
}

static inline void scen_holder_release(struct scen_holder *h)
{
    if (write(h->to, "r", 1) != 1) scen_die("write holder");
    scen_holder_finish(h);
}

static inline void scen_holder_release_later(struct scen_holder *h)
{
    if (write(h->to, "d", 1) != 1) scen_die("write holder");
}

/* ======================================================================
 * Helpers for the rule3/rule5/rule6/rule7 scenarios (prefix scenb_).
 * Added block: nothing above is changed.
 *
 * scenb_watch(key, secs): a watchdog.  If scenb_unwatch() is not called
 * within `secs`, it prints "key=hang" (so the expectation diff fails
 * visibly), SIGKILLs every child registered with scenb_fork() /
 * scenb_adopt() and exits 0.  One watchdog per process (alarm(2)); a fork
 * child has none until it calls scenb_watch() (scenb_fork() arms a 20 s
 * fallback named "child_watchdog").
 * ====================================================================== */
#include <poll.h>
#include <time.h>

struct scenb_wd { const char *volatile key; pid_t kids[64]; volatile int nkids; };
static inline struct scenb_wd *scenb_wd(void) { static struct scenb_wd w; return &w; }

static inline void scenb_on_alarm(int sig)
{
    (void)sig;
    struct scenb_wd *w = scenb_wd();
    const char *k = w->key ? w->key : "watchdog";
    char buf[200];
    size_t n = 0;
    while (k[n] && n < 180) { buf[n] = k[n]; n++; }
    memcpy(buf + n, "=hang\n", 6);
    n += 6;
    ssize_t r = write(1, buf, n);
    (void)r;
    for (int i = 0; i < w->nkids; i++)
        if (w->kids[i] > 0) kill(w->kids[i], SIGKILL);
    _exit(0);
}

static inline void scenb_watch(const char *key, unsigned secs)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = scenb_on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    scenb_wd()->key = key;
    alarm(secs);
}

static inline void scenb_unwatch(void) { alarm(0); }

static inline void scenb_adopt(pid_t p)
{
    struct scenb_wd *w = scenb_wd();
    if (p > 0 && w->nkids < 64) w->kids[w->nkids++] = p;
}

/* fork(); the parent registers the child for the watchdog's kill. */
static inline pid_t scenb_fork(void)
{
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) scen_die("fork");
    if (p == 0) {
        scenb_wd()->nkids = 0;
        scenb_watch("child_watchdog", 20);
    } else {
        scenb_adopt(p);
    }
    return p;
}

static inline void scenb_msleep(long ms) { scen_sleep_ms(ms); }

static inline double scenb_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* waitpid with a timeout: 0 and *status on exit, -1 on timeout/error. */
static inline int scenb_wait(pid_t p, unsigned secs, int *status)
{
    int st = 0;
    for (unsigned i = 0; i < secs * 100u; i++) {
        pid_t r = waitpid(p, &st, WNOHANG);
        if (r == p) { if (status) *status = st; return 0; }
        if (r < 0 && errno != EINTR) return -1;
        scenb_msleep(10);
    }
    return -1;
}

/* One byte from fd within secs: the byte, -1 on timeout, -2 on EOF/error. */
static inline int scenb_recv(int fd, unsigned secs)
{
    struct pollfd p = { fd, POLLIN, 0 };
    int r;
    do r = poll(&p, 1, (int)secs * 1000); while (r < 0 && errno == EINTR);
    if (r == 0) return -1;
    unsigned char c;
    ssize_t n;
    do n = read(fd, &c, 1); while (n < 0 && errno == EINTR);
    return n == 1 ? c : -2;
}

/* Exactly len bytes from fd within secs in total: 0, or -1. */
static inline int scenb_recvn(int fd, void *buf, size_t len, unsigned secs)
{
    unsigned char *b = buf;
    for (size_t i = 0; i < len; i++) {
        int c = scenb_recv(fd, secs);
        if (c < 0) return -1;
        b[i] = (unsigned char)c;
    }
    return 0;
}

static inline void scenb_send(int fd, char c)
{
    if (write(fd, &c, 1) != 1) scen_die("write");
}

/* This binary's path (for re-exec), and environ without the shim. */
static inline const char *scenb_self(void) { return scen_self_exe(); }
static inline char **scenb_env_noshim(void) { return scen_noshim_env(NULL); }
/* ====================== end of scenb_ helpers ========================= */

/* ------------------------------------------------------------------------
 * /proc/locks as an oracle the shim does not write.
 * ---------------------------------------------------------------------- */
#include <sys/sysmacros.h>

/* How many /proc/locks lines name the file st describes: blocked requests
 * (the "->" lines) when `waiting`, else granted locks.  -1 if /proc/locks
 * cannot be read. */
static inline int scen_proc_locks(const struct stat *st, int waiting)
{
    char want[64], line[512];
    snprintf(want, sizeof want, " %02x:%02x:%lu ", major(st->st_dev), minor(st->st_dev),
             (unsigned long)st->st_ino);
    FILE *f = fopen("/proc/locks", "r");
    if (!f) return -1;
    int n = 0;
    while (fgets(line, sizeof line, f))
        if (strstr(line, want) && (strstr(line, "->") != NULL) == (waiting != 0))
            n++;
    fclose(f);
    return n;
}

/* Requests blocked on the file (threads or processes waiting in F_SETLKW). */
static inline int scen_waiters_on(const struct stat *st) { return scen_proc_locks(st, 1); }

/* Locks granted on the file, by anyone. */
static inline int scen_holders_on(const struct stat *st) { return scen_proc_locks(st, 0); }

/* ------------------------------------------------------------------------
 * A seccomp filter: the system calls in nrs[0..n) get `action` (e.g.
 * SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_ERRNO | EFAULT), every other call
 * (and every call of another architecture) is allowed.  0, or -1 when it
 * cannot be installed (or this architecture is not known here).  Sets
 * no_new_privs.  At most 16 calls.
 * ---------------------------------------------------------------------- */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

static inline int scen_seccomp(const int *nrs, int n, unsigned action)
{
#if defined(__x86_64__)
    const unsigned arch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
    const unsigned arch = AUDIT_ARCH_AARCH64;
#else
    const unsigned arch = 0;
#endif
    if (!arch || n < 1 || n > 16)
        return -1;
    struct sock_filter f[4 + 16 + 2];
    int k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, arch, 1, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    for (int i = 0; i < n; i++)         /* a match jumps over the rest and the ALLOW */
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i],
                                              (unsigned char)(n - i), 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, action);
    struct sock_fprog prog = { .len = (unsigned short)k, .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -1 : 0;
}

/* ------------------------------------------------------------------------
 * "# expect" lines, read by tests/hazards/check-records.sh: the hazard
 * record the call on line `line` must produce, through fd on the file
 * whose real path and stat are given.  SCEN_CALL_FCNTL / SCEN_CALL_LOCKF:
 * the names the shim reports for this build's fcntl and lockf.
 * ---------------------------------------------------------------------- */
#ifdef _FILE_OFFSET_BITS
#define SCEN_CALL_FCNTL "fcntl64"
#define SCEN_CALL_LOCKF "lockf64"
#else
#define SCEN_CALL_FCNTL "fcntl"
#define SCEN_CALL_LOCKF "lockf"
#endif

/* The file such a scenario locks: path created with 100 bytes, opened
 * O_RDWR (the fd is returned), its real path into real[4096] and its stat
 * into *st; prints "# pid=N" (the records' pid). */
static inline int scen_expect_file(const char *path, char *real, struct stat *st)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("open");
    char buf[100];
    memset(buf, 'x', sizeof buf);
    if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) scen_die("write");
    if (!realpath(path, real) || fstat(fd, st) < 0) scen_die("stat");
    printf("# pid=%d\n", (int)getpid());
    return fd;
}

static inline void scen_expect(const char *real, const struct stat *st, const char *hazard, int fd,
                               const char *type, long long start, long long len, const char *call,
                               int line)
{
    printf("# expect hazard=%s fd=%d path=%s dev=%u:%u ino=%llu type=%s start=%lld len=%lld "
           "call=%s line=%d\n", hazard, fd, real, major(st->st_dev), minor(st->st_dev),
           (unsigned long long)st->st_ino, type, start, len, call, line);
}

#endif
