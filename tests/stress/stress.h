/*
 * stress.h - helpers shared by the stress and fault programs (tests/stress/).
 *
 * These programs are never linked with the shim: tests/stress/run.sh runs
 * them with LD_PRELOAD=BUILD/liblockscope.so.  Each registers named checks,
 * prints "# ..." comment lines (details of failures: "# FAIL ...") and ends
 * with one "ok - NAME" / "not ok - NAME" line per check (st_report()); its
 * exit status is 1 when a check failed.
 *
 * The independent oracle is the kernel, asked by a process that runs
 * WITHOUT the shim: probe() re-executes this binary with LD_PRELOAD and
 * LOCKSCOPE_* removed ("--probe PATH TYPE START LEN") and does one classic
 * F_GETLK; locks_on_inode() reads /proc/locks.
 */
#ifndef STRESS_H
#define STRESS_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

/* ---- named checks ----
 * A program registers its checks (st_check("no lost update")) in the root
 * process before it forks: the table lives in a MAP_SHARED page, so a
 * failure in any child process counts.  CHECK(id, cond, fmt...) prints a
 * "# FAIL ..." comment with the details when cond is false.  st_report()
 * prints one "ok - NAME" / "not ok - NAME" line per check and returns 1 if
 * any failed. */
struct st_check_rec { char name[96]; _Atomic int fails, checks, skipped; };
#define ST_MAX_CHECKS 48
static struct st_check_rec *st_checks;
static int st_nchecks;
static int st_failed;   /* this process saw a failure (any check) */

static inline void st_init(void)
{
    void *p = mmap(NULL, sizeof(struct st_check_rec) * ST_MAX_CHECKS, PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); _exit(2); }
    st_checks = p;
}

static inline int st_check(const char *name)
{
    if (!st_checks) st_init();
    if (st_nchecks >= ST_MAX_CHECKS) { fprintf(stderr, "too many checks\n"); _exit(2); }
    snprintf(st_checks[st_nchecks].name, sizeof st_checks[st_nchecks].name, "%s", name);
    return st_nchecks++;
}

static inline void st_fail_note(int id)
{
    st_failed = 1;
    if (st_checks && id >= 0 && id < st_nchecks)
        atomic_fetch_add(&st_checks[id].fails, 1);
}

#define CHECK(id, cond, ...) do { \
    if (st_checks && (id) >= 0 && (id) < st_nchecks) atomic_fetch_add(&st_checks[(id)].checks, 1); \
    if (!(cond)) { char b_[1024]; \
    int n_ = snprintf(b_, sizeof b_, "# FAIL [pid %d] %s:%d: ", (int)getpid(), __FILE__, __LINE__); \
    n_ += snprintf(b_ + n_, sizeof b_ - (size_t)n_, __VA_ARGS__); \
    if (n_ > (int)sizeof b_ - 2) { n_ = (int)sizeof b_ - 2; } \
    b_[n_++] = '\n'; \
    if (write(1, b_, (size_t)n_)) {} st_fail_note(id); } } while (0)

#define NOTE(...) do { char b_[1024]; int n_ = snprintf(b_, sizeof b_, "# " __VA_ARGS__); \
    if (n_ > (int)sizeof b_ - 2) { n_ = (int)sizeof b_ - 2; } \
    b_[n_++] = '\n'; \
    if (write(1, b_, (size_t)n_)) {} } while (0)

static inline void st_die(const char *what)
{
    char b[512];
    int n = snprintf(b, sizeof b, "# FAIL [pid %d] setup: %s: %s\n", (int)getpid(), what, strerror(errno));
    if (write(1, b, (size_t)n)) {}
    _exit(2);
}

/* A named check that cannot be run here (the reason is printed). */
static inline void st_skip(int id, const char *why)
{
    if (st_checks && id >= 0 && id < st_nchecks)
        atomic_store(&st_checks[id].skipped, 1);
    NOTE("SKIP %s: %s", st_checks && id >= 0 ? st_checks[id].name : "?", why);
}

static inline int st_report(void)
{
    int bad = 0;
    fflush(stdout);
    for (int i = 0; i < st_nchecks; i++) {
        int f = atomic_load(&st_checks[i].fails), c = atomic_load(&st_checks[i].checks);
        if (atomic_load(&st_checks[i].skipped) && !f)
            printf("ok - %s # SKIP\n", st_checks[i].name);
        else if (f) {
            printf("not ok - %s (%d of %d checks failed)\n", st_checks[i].name, f, c);
            bad = 1;
        } else if (c == 0) {
            printf("not ok - %s (never checked)\n", st_checks[i].name);
            bad = 1;
        } else
            printf("ok - %s (%d checks)\n", st_checks[i].name, c);
    }
    fflush(stdout);
    return bad;
}

static inline long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static inline void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {}
}

static inline int setlk(int fd, int cmd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, cmd, &fl);
}

/* F_SETLKW that retries on EINTR; returns 0 or -1 with errno (never EINTR). */
static inline int setlkw_retry(int fd, short type, off_t start, off_t len, long *eintr)
{
    for (;;) {
        int r = setlk(fd, F_SETLKW, type, start, len);
        if (r == 0 || errno != EINTR)
            return r;
        if (eintr) (*eintr)++;
    }
}

static inline int getlk(int fd, short type, off_t start, off_t len, struct flock *out)
{
    memset(out, 0, sizeof *out);
    out->l_type = type;
    out->l_whence = SEEK_SET;
    out->l_start = start;
    out->l_len = len;
    return fcntl(fd, F_GETLK, out);
}

/* ---- descriptors ---- */

/* The shim parks its own fds at >= 3/4 of the soft RLIMIT_NOFILE. */
static inline int high_fd_base(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 1 << 16;
    if (rl.rlim_cur <= 64)
        return (int)rl.rlim_cur;
    return (int)(rl.rlim_cur - rl.rlim_cur / 4);
}

/* Visit every open fd of this process (via getdents64 on /proc/self/fd;
 * the directory's own fd is skipped). */
static inline int each_fd(void (*fn)(int fd, void *ctx), void *ctx)
{
    char buf[4096];
    int d = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return -1;
    for (;;) {
        long n = syscall(SYS_getdents64, d, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + off);
            off += e->reclen;
            if (e->name[0] < '0' || e->name[0] > '9')
                continue;
            int fd = atoi(e->name);
            if (fd != d)
                fn(fd, ctx);
        }
    }
    close(d);
    return 0;
}

struct fdcount { int low, high, base; };
static inline void fdcount_cb(int fd, void *ctx)
{
    struct fdcount *c = ctx;
    if (fd >= c->base) c->high++; else c->low++;
}
/* Number of fds below the shim's area (the program's) and in it. */
static inline struct fdcount count_fds(void)
{
    struct fdcount c = { 0, 0, high_fd_base() };
    each_fd(fdcount_cb, &c);
    return c;
}

/* How many fds of this process (any number) refer to inode (dev, ino):
 * used to find private descriptions left open. */
struct inocount { dev_t dev; ino_t ino; int n, min_fd; };
static inline void inocount_cb(int fd, void *ctx)
{
    struct inocount *c = ctx;
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_dev == c->dev && st.st_ino == c->ino) {
        c->n++;
        if (c->min_fd < 0 || fd < c->min_fd) c->min_fd = fd;
    }
}
static inline int fds_on_inode(dev_t dev, ino_t ino)
{
    struct inocount c = { dev, ino, 0, -1 };
    each_fd(inocount_cb, &c);
    return c.n;
}

/* ---- the kernel's view ---- */

/* Lines of /proc/locks (held locks, not "->" waiters) on inode ino of dev. */
static inline int locks_on_inode(dev_t dev, ino_t ino)
{
    FILE *f = fopen("/proc/locks", "re");
    if (!f)
        return -1;
    char line[512], want[96];
    snprintf(want, sizeof want, " %02x:%02x:%llu ", major(dev), minor(dev), (unsigned long long)ino);
    int n = 0;
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "->"))
            continue;
        if (strstr(line, want))
            n++;
    }
    fclose(f);
    return n;
}

static inline int locks_on_path(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return -1;
    return locks_on_inode(st.st_dev, st.st_ino);
}

static inline const char *self_exe(void)
{
    static char self[4096];
    if (!self[0]) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n < 0) st_die("readlink /proc/self/exe");
        self[n] = 0;
    }
    return self;
}

/* The environment without the shim. */
static inline char **env_without_shim(void)
{
    static char *env[1024];
    int k = 0;
    for (char **e = environ; *e && k < 1022; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "LOCKSCOPE_", 10))
            env[k++] = *e;
    env[k] = NULL;
    return env;
}

/* "--probe PATH TYPE START LEN": a classic F_GETLK from a process without
 * the shim.  Prints "R pid", "W pid", "U 0" or "E errno". */
static inline int probe_main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[1], "--probe") != 0)
        return -1;
    int fd = open(argv[2], O_RDWR);
    if (fd < 0) fd = open(argv[2], O_RDONLY);
    if (fd < 0) { printf("E %d\n", errno); exit(0); }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = argv[3][0] == 'W' ? F_WRLCK : F_RDLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = atoll(argv[4]);
    fl.l_len = atoll(argv[5]);
    if (fcntl(fd, F_GETLK, &fl) < 0) { printf("E %d\n", errno); exit(0); }
    printf("%c %d\n", fl.l_type == F_UNLCK ? 'U' : fl.l_type == F_RDLCK ? 'R' : 'W', (int)fl.l_pid);
    exit(0);
}

/* Would a lock of `type` ('R'/'W') on [start, start+len) of path conflict,
 * asked by a process without the shim?  'U', 'R', 'W' or 'E'.  path may be
 * /proc/PID/fd/N (deleted files, memfds). */
static inline char probe_via(const char *self, const char *path, char type, long long start, long long len)
{
    int p[2];
    if (pipe(p) < 0) st_die("pipe");
    char ts[2] = { type, 0 }, ss[32], ls[32];
    snprintf(ss, sizeof ss, "%lld", start);
    snprintf(ls, sizeof ls, "%lld", len);
    char **env = env_without_shim();
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        dup2(p[1], 1);
        close(p[0]);
        close(p[1]);
        char *args[] = { (char *)self, (char *)"--probe", (char *)path, ts, ss, ls, NULL };
        execve(self, args, env);
        _exit(127);
    }
    close(p[1]);
    char buf[64] = { 0 };
    ssize_t r;
    while ((r = read(p[0], buf, sizeof buf - 1)) < 0 && errno == EINTR) {}
    close(p[0]);
    int st;
    while (waitpid(c, &st, 0) < 0 && errno == EINTR) {}
    if (r <= 0)
        return 'E';
    return buf[0];
}

static inline char probe(const char *path, char type, long long start, long long len)
{
    return probe_via(self_exe(), path, type, start, len);
}

/* waitpid with a deadline: 0 and *status, or -1 after killing the child. */
static inline int wait_deadline(pid_t pid, int *status, long ms)
{
    long long end = now_ms() + ms;
    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);
        if (r == pid)
            return 0;
        if (r < 0 && errno != EINTR)
            return -1;
        if (now_ms() > end) {
            kill(pid, SIGKILL);
            while (waitpid(pid, status, 0) < 0 && errno == EINTR) {}
            return -1;
        }
        sleep_ms(2);
    }
}

/* A watchdog for the whole program: SIGALRM after N s prints and exits. */
static inline void watchdog_fire(int sig)
{
    (void)sig;
    static const char m[] = "# FAIL watchdog: the program did not finish in time\nnot ok - finished in time (watchdog)\n";
    if (write(1, m, sizeof m - 1)) {}
    _exit(3);
}

static inline void watchdog(unsigned seconds)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = watchdog_fire;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    alarm(seconds);
}

/* Tiny deterministic PRNG (xorshift64*), one per thread. */
static inline uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

#endif
