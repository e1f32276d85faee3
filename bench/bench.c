/*
 * bench.c - the benchmark driver: runs intercepted calls in a loop and says
 * how long one took.  It knows nothing of lockscope: the harness (run.py)
 * runs it natively, under the passthrough interposer and under
 * liblockscope.so in each mode.
 *
 *   bench [options] OP[:N[:N1]][,OP...] N
 *
 * N iterations of each OP (OP:N gives one op its own N; OP:N:N1 its own N1
 * in callgrind mode).
 *
 * OPs (one "op" is what is timed and counted per iteration):
 *   open_close       open(O_RDWR) + close of a file no one locks
 *   dup_close        dup + close of an fd that holds no lock
 *   fcntl_getfl      fcntl(F_GETFL): a non-lock fcntl
 *   fcntl_lock       fcntl(F_SETLK, write, 1 byte) + fcntl(F_SETLK, unlock)
 *   fcntl_lock_static  the same, the struct flock in static storage
 *   lockf            lockf(F_LOCK, 1) + lockf(F_ULOCK, 1)
 *   flock            flock(LOCK_EX) + flock(LOCK_UN)
 *   open_lock_close  open + fcntl(F_SETLK, write) + close (the close unlocks)
 *   fork_exit        fork; the child _exits; the parent waits for it
 *   spin             1000 additions, no call at all (how parallel the
 *                    machine is, for the runs with threads)
 *   getlk_other      fcntl(F_GETLK) of a byte a child process holds
 *                    write-locked (the child is forked at setup, so it runs
 *                    under whatever preload this program runs under)
 *   first_lock       open + fcntl(F_SETLK, write) + close of the next of
 *                    -F K files in turn: the first lock of a file (K large
 *                    enough that a file comes back only after K ops)
 *   spawn_true       fork + execv /bin/true + wait (process start: the
 *                    child inherits the environment, preload included)
 *
 * Options (the scaling cases):
 *   -f K    hold K more open fds (of /dev/null) before anything else
 *   -l K    hold K write locks on the fcntl_lock file, on bytes 0, 4, 8, ...,
 *           through the same fd; fcntl_lock then locks a free byte in the
 *           middle of them
 *   -L K    hold one write lock on each of K other files
 *   -t T    run the ops in T threads at once, each on files of its own
 *           (prints wall time per op per thread)
 *   -F K    the files of first_lock (default 2000)
 *   -H      hold a write lock on one more file all along (the "close while
 *           the process holds any lock" cases of open_close, dup_close)
 * Other options:
 *   -d DIR  directory for the files (default $TMPDIR or /tmp)
 *   -b B    time B batches of N/B iterations (default 5); prints the mean
 *           and the best batch
 *   -w W    warm-up iterations before timing (default N/10)
 *   -S S    time budget of the setup (-f, -l, -L) in seconds: it stops there
 *           and the line says how far it got
 *   -T MS   time budget per op (one thread only): the warm-up stops after a
 *           fifth of it and fewer than N iterations are timed if N would
 *           take longer; the line says the n used
 *   -c N1   callgrind mode: for each op, run N1 then N iterations with
 *           collection on and dump the counters after each, labelled
 *           "op=OP n=N1" and "op=OP n=N" (run under valgrind
 *           --tool=callgrind --collect-atstart=no --instr-atstart=no;
 *           instrumentation starts after the setup)
 *   -C      (whole-process callgrind runs of fork_exit) dump the counters
 *           before each fork: a child inherits its parent's counters, so
 *           without this, its dump counts the parent's instructions again;
 *           with it, the dumps of all processes add up to the whole
 *
 * One line per op on stdout:
 *   op=OP n=N threads=T ns=MEAN best=BEST nvcsw=V fds=K locks=K files=K minflt=F cminflt=C
 * (minflt, cminflt: minor page faults per op of this process and of its
 * waited-for children)
 * ns and best are nanoseconds per op (per op per thread with -t).  fds,
 * locks and files are what was reached: a limit may stop the setup early.
 * A failing call prints "error=..." on stderr and exits with status 3.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#define CALLGRIND_DUMP_STATS
#endif

/* Per-thread state: each thread locks files of its own. */
struct ctx {
    int id;
    int fd_lk;          /* fcntl_lock file */
    int fd_lockf;       /* lockf file */
    int fd_flock;       /* flock file */
    int fd_plain;       /* dup / fcntl_getfl: never locked */
    off_t lk_off;       /* byte that fcntl_lock locks */
    char path_oc[4096];  /* open_close: never locked */
    char path_olc[4096]; /* open_lock_close */
};

typedef void (*op_fn)(struct ctx *);

static const char *g_dir;
static int g_getlk_fd = -1;     /* getlk_other: the file a child holds locked */
static long g_first_files = 2000, g_first_next;
static int g_cg_fork;   /* -C: dump callgrind's counters before each fork */

static void die(const char *what, int e)
{
    fprintf(stderr, "error=%s: %s\n", what, strerror(e));
    fflush(stderr);
    _exit(3);
}

static int set_lock(int fd, short type, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = len;
    return fcntl(fd, F_SETLK, &fl);
}

static void op_open_close(struct ctx *c)
{
    int fd = open(c->path_oc, O_RDWR);
    if (fd < 0) die("open_close: open", errno);
    if (close(fd) < 0) die("open_close: close", errno);
}

static void op_dup_close(struct ctx *c)
{
    int fd = dup(c->fd_plain);
    if (fd < 0) die("dup_close: dup", errno);
    if (close(fd) < 0) die("dup_close: close", errno);
}

static void op_fcntl_getfl(struct ctx *c)
{
    if (fcntl(c->fd_plain, F_GETFL) < 0) die("fcntl_getfl", errno);
}

static void op_fcntl_lock(struct ctx *c)
{
    if (set_lock(c->fd_lk, F_WRLCK, c->lk_off, 1) < 0) die("fcntl_lock: lock", errno);
    if (set_lock(c->fd_lk, F_UNLCK, c->lk_off, 1) < 0) die("fcntl_lock: unlock", errno);
}

/* The same with the struct flock in static storage, not on the caller's
 * stack (a shim may read the two differently). */
static struct flock g_fl_lock, g_fl_unlock;

static void op_fcntl_lock_static(struct ctx *c)
{
    g_fl_lock.l_type = F_WRLCK;
    g_fl_lock.l_whence = SEEK_SET;
    g_fl_lock.l_start = c->lk_off;
    g_fl_lock.l_len = 1;
    g_fl_unlock = g_fl_lock;
    g_fl_unlock.l_type = F_UNLCK;
    if (fcntl(c->fd_lk, F_SETLK, &g_fl_lock) < 0) die("fcntl_lock_static: lock", errno);
    if (fcntl(c->fd_lk, F_SETLK, &g_fl_unlock) < 0) die("fcntl_lock_static: unlock", errno);
}

static void op_lockf(struct ctx *c)
{
    if (lockf(c->fd_lockf, F_LOCK, 1) < 0) die("lockf: lock", errno);
    if (lockf(c->fd_lockf, F_ULOCK, 1) < 0) die("lockf: unlock", errno);
}

static void op_flock(struct ctx *c)
{
    if (flock(c->fd_flock, LOCK_EX) < 0) die("flock: lock", errno);
    if (flock(c->fd_flock, LOCK_UN) < 0) die("flock: unlock", errno);
}

static void op_open_lock_close(struct ctx *c)
{
    int fd = open(c->path_olc, O_RDWR);
    if (fd < 0) die("open_lock_close: open", errno);
    if (set_lock(fd, F_WRLCK, 0, 1) < 0) die("open_lock_close: lock", errno);
    if (close(fd) < 0) die("open_lock_close: close", errno);
}

static void op_fork_exit(struct ctx *c)
{
    (void)c;
    if (g_cg_fork)
        CALLGRIND_DUMP_STATS;   /* the child starts counting from zero */
    pid_t p = fork();
    if (p < 0) die("fork_exit: fork", errno);
    if (p == 0)
        _exit(0);
    int st;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR) die("fork_exit: waitpid", errno);
}

static void op_getlk_other(struct ctx *c)
{
    struct flock fl;
    (void)c;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    if (fcntl(g_getlk_fd, F_GETLK, &fl) < 0) die("getlk_other", errno);
    if (fl.l_type != F_WRLCK) die("getlk_other: the child's lock is not seen", EPROTO);
}

static void op_first_lock(struct ctx *c)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/first.%d.%ld", g_dir, c->id, g_first_next);
    g_first_next = (g_first_next + 1) % g_first_files;
    int fd = open(path, O_RDWR);
    if (fd < 0) die("first_lock: open", errno);
    if (set_lock(fd, F_WRLCK, 0, 1) < 0) die("first_lock: lock", errno);
    if (close(fd) < 0) die("first_lock: close", errno);
}

static void op_spawn_true(struct ctx *c)
{
    (void)c;
    pid_t p = fork();
    if (p < 0) die("spawn_true: fork", errno);
    if (p == 0) {
        char *argv[] = { (char *)"/bin/true", NULL };
        execv(argv[0], argv);
        _exit(127);
    }
    int st;
    while (waitpid(p, &st, 0) < 0)
        if (errno != EINTR) die("spawn_true: waitpid", errno);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) die("spawn_true: /bin/true failed", ECHILD);
}

/* getlk_other's setup: a child locks byte 0 of a file of its own open and
 * stays until this process ends (its end of a pipe closes). */
static void start_getlk_holder(void)
{
    char path[4096];
    int ready[2], stay[2];
    snprintf(path, sizeof path, "%s/getlk.%d", g_dir, (int)getpid());
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) die("getlk_other: open", errno);
    if (pipe(ready) < 0 || pipe(stay) < 0) die("pipe", errno);
    pid_t p = fork();
    if (p < 0) die("getlk_other: fork", errno);
    if (p == 0) {
        char b = 1;
        close(ready[0]);
        close(stay[1]);
        int cfd = open(path, O_RDWR);
        if (cfd < 0 || set_lock(cfd, F_WRLCK, 0, 1) < 0) _exit(3);
        if (write(ready[1], &b, 1) != 1) _exit(3);
        while (read(stay[0], &b, 1) > 0 || errno == EINTR)
            ;
        _exit(0);
    }
    char b;
    close(ready[1]);
    close(stay[0]);
    fcntl(stay[1], F_SETFD, FD_CLOEXEC);
    if (read(ready[0], &b, 1) != 1) die("getlk_other: the child could not lock", EPROTO);
    close(ready[0]);
    g_getlk_fd = fd;
}

/* No system call: the machine's own parallelism, for the thread runs. */
static void op_spin(struct ctx *c)
{
    volatile unsigned x = 0;
    for (unsigned i = 0; i < 1000; i++)
        x += i;
    (void)x;
    (void)c;
}

static const struct { const char *name; op_fn fn; } OPS[] = {
    { "open_close", op_open_close },
    { "dup_close", op_dup_close },
    { "fcntl_getfl", op_fcntl_getfl },
    { "fcntl_lock", op_fcntl_lock },
    { "fcntl_lock_static", op_fcntl_lock_static },
    { "lockf", op_lockf },
    { "flock", op_flock },
    { "open_lock_close", op_open_lock_close },
    { "fork_exit", op_fork_exit },
    { "spin", op_spin },
    { "getlk_other", op_getlk_other },
    { "first_lock", op_first_lock },
    { "spawn_true", op_spawn_true },
};
#define NOPS (sizeof OPS / sizeof OPS[0])

static op_fn find_op(const char *name)
{
    for (size_t i = 0; i < NOPS; i++)
        if (strcmp(OPS[i].name, name) == 0)
            return OPS[i].fn;
    return NULL;
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static long minflt_now(int who)
{
    struct rusage ru;
    getrusage(who, &ru);
    return ru.ru_minflt;
}

static long nvcsw_now(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_nvcsw;
}

static int open_file(const char *name, int id, char *path_out)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.%d", g_dir, name, id);
    if (path_out)
        strcpy(path_out, path);
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) die(path, errno);
    /* files exist with some content, as data files do */
    struct stat st;
    if (fstat(fd, &st) == 0 && st.st_size == 0) {
        char buf[4096];
        memset(buf, 'x', sizeof buf);
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf) die("write", errno);
    }
    return fd;
}

static void ctx_init(struct ctx *c, int id)
{
    memset(c, 0, sizeof *c);
    c->id = id;
    c->fd_lk = open_file("lk", id, NULL);
    c->fd_lockf = open_file("lockf", id, NULL);
    c->fd_flock = open_file("flock", id, NULL);
    c->fd_plain = open_file("plain", id, NULL);
    close(open_file("oc", id, c->path_oc));
    close(open_file("olc", id, c->path_olc));
}

/* ---- threads ---- */

/* Each thread takes its own clock around its loop (the main thread may be
 * woken from the barrier late); a batch lasts from the first thread's start
 * to the last thread's end. */
struct job {
    struct ctx c;
    op_fn fn;
    long per_batch;
    int batches;
    pthread_barrier_t *bar;
    double t0, t1;      /* of the current batch */
};

static double now_ns(void);

static void *worker(void *arg)
{
    struct job *j = arg;
    for (int b = 0; b < j->batches; b++) {
        pthread_barrier_wait(j->bar);
        j->t0 = now_ns();
        for (long i = 0; i < j->per_batch; i++)
            j->fn(&j->c);
        j->t1 = now_ns();
        pthread_barrier_wait(j->bar);
    }
    return NULL;
}

/* Time `batches` batches of n/batches iterations of fn in nthreads threads
 * (0: in this thread).  Returns the mean and the best ns per op. */
/* With a budget (ns), the warm-up stops after a fifth of it and n shrinks
 * so that the timed part stays within it: a pathological case costs
 * seconds, not hours.  Returns the n used. */
static long time_op(op_fn fn, struct ctx *ctxs, int nthreads, long n, long warm, int batches,
                    double budget, double *mean, double *best, long *vcsw)
{
    double total = 0, b_best = 0;
    long per;
    if (nthreads == 0) {
        double w0 = now_ns(), wt = 0;
        long done = 0;
        for (; done < warm; done++) {
            fn(&ctxs[0]);
            if (budget > 0 && ((done & 7) == 7 || done < 8) && (wt = now_ns() - w0) > budget / 5) {
                done++;
                break;
            }
        }
        if (budget > 0 && done > 0) {
            double est = (now_ns() - w0) / (double)done;
            if (est * (double)n > budget) {
                n = (long)(budget / est);
                if (n < batches) n = batches;
            }
        }
        per = n / batches;
        if (per < 1) per = 1;
        long v0 = nvcsw_now();
        for (int b = 0; b < batches; b++) {
            double t0 = now_ns();
            for (long i = 0; i < per; i++)
                fn(&ctxs[0]);
            double dt = now_ns() - t0;
            total += dt;
            if (b == 0 || dt < b_best) b_best = dt;
        }
        *vcsw = nvcsw_now() - v0;
    } else {
        per = n / batches;
        if (per < 1) per = 1;
        pthread_barrier_t bar;
        pthread_barrier_init(&bar, NULL, (unsigned)nthreads + 1);
        struct job *jobs = calloc((size_t)nthreads, sizeof *jobs);
        pthread_t *tids = calloc((size_t)nthreads, sizeof *tids);
        if (!jobs || !tids) die("calloc", ENOMEM);
        /* warm-up batch, then the timed ones */
        for (int t = 0; t < nthreads; t++) {
            jobs[t].c = ctxs[t];
            jobs[t].fn = fn;
            jobs[t].per_batch = warm > 0 ? warm : 1;
            jobs[t].batches = 1;
            jobs[t].bar = &bar;
            if ((errno = pthread_create(&tids[t], NULL, worker, &jobs[t])) != 0) die("pthread_create", errno);
        }
        pthread_barrier_wait(&bar);
        pthread_barrier_wait(&bar);
        for (int t = 0; t < nthreads; t++)
            pthread_join(tids[t], NULL);
        for (int t = 0; t < nthreads; t++) {
            jobs[t].per_batch = per;
            jobs[t].batches = batches;
            if ((errno = pthread_create(&tids[t], NULL, worker, &jobs[t])) != 0) die("pthread_create", errno);
        }
        long v0 = nvcsw_now();
        for (int b = 0; b < batches; b++) {
            pthread_barrier_wait(&bar);
            pthread_barrier_wait(&bar);
            double t0 = jobs[0].t0, t1 = jobs[0].t1;
            for (int t = 1; t < nthreads; t++) {
                if (jobs[t].t0 < t0) t0 = jobs[t].t0;
                if (jobs[t].t1 > t1) t1 = jobs[t].t1;
            }
            double dt = t1 - t0;
            total += dt;
            if (b == 0 || dt < b_best) b_best = dt;
        }
        *vcsw = nvcsw_now() - v0;
        for (int t = 0; t < nthreads; t++)
            pthread_join(tids[t], NULL);
        pthread_barrier_destroy(&bar);
        free(jobs);
        free(tids);
    }
    *mean = total / (double)(per * batches);
    *best = b_best / (double)per;
    return per * batches;
}

/* ---- the limit on open files ---- */

/* Make room for `want` fds; returns how many fit. */
static long room_for(long want)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return want;
    if (rl.rlim_cur != RLIM_INFINITY && (long)rl.rlim_cur >= want)
        return want;
    struct rlimit nr = { (rlim_t)want, rl.rlim_max };
    if (rl.rlim_max != RLIM_INFINITY && (long)rl.rlim_max < want) {
        nr.rlim_max = (rlim_t)want;        /* root may raise the hard limit */
        FILE *f = fopen("/proc/sys/fs/nr_open", "r");
        long nr_open = 0;
        if (f) {
            if (fscanf(f, "%ld", &nr_open) != 1) nr_open = 0;
            fclose(f);
        }
        if (nr_open > 0 && want > nr_open)
            nr.rlim_cur = nr.rlim_max = (rlim_t)nr_open;
    }
    if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
        return (long)nr.rlim_cur;
    /* not root: as far as the hard limit goes */
    nr.rlim_cur = nr.rlim_max = rl.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &nr) == 0)
        return (long)rl.rlim_max;
    return (long)rl.rlim_cur;
}

static void usage(void)
{
    fprintf(stderr, "usage: bench [-d DIR] [-b B] [-w W] [-f K] [-l K] [-L K] [-t T] [-c N1] [-C] [-T MS] [-S S] OP[:N[:N1]][,...] N\nOPs:");
    for (size_t i = 0; i < NOPS; i++)
        fprintf(stderr, " %s", OPS[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

int main(int argc, char **argv)
{
    long nfds = 0, nlocks = 0, nfiles = 0, warm = -1, cg_n1 = 0;
    double budget_ms = 0, setup_s = 0;
    int batches = 5, nthreads = 0, opt, hold = 0;
    g_dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    while ((opt = getopt(argc, argv, "d:b:w:f:l:L:t:c:CT:S:F:H")) != -1) {
        switch (opt) {
        case 'd': g_dir = optarg; break;
        case 'b': batches = atoi(optarg); break;
        case 'w': warm = atol(optarg); break;
        case 'f': nfds = atol(optarg); break;
        case 'l': nlocks = atol(optarg); break;
        case 'L': nfiles = atol(optarg); break;
        case 't': nthreads = atoi(optarg); break;
        case 'c': cg_n1 = atol(optarg); break;
        case 'C': g_cg_fork = 1; break;
        case 'T': budget_ms = atof(optarg); break;
        case 'S': setup_s = atof(optarg); break;
        case 'F': g_first_files = atol(optarg); break;
        case 'H': hold = 1; break;
        default: usage();
        }
    }
    if (argc - optind != 2)
        usage();
    char *ops = strdup(argv[optind]);
    long n = atol(argv[optind + 1]);
    if (n < 1 || batches < 1 || nthreads < 0 || nfds < 0 || nlocks < 0 || nfiles < 0 || !ops ||
        g_first_files < 1)
        usage();
    if (warm < 0)
        warm = n / 10 > 0 ? n / 10 : 1;

    /* Room: the held fds, the lock files twice (a shim may keep a private
     * description of each), this program's own, and half as much again so
     * that a shim parking its fds high finds space above the program's. */
    long reserve = 16L * (nthreads + 1) + 256;
    long want = nfds + 2 * nfiles + reserve + (nfds + 2 * nfiles) / 2 + 1024;
    long room = room_for(want);
    long fd_budget = room - reserve - 2 * nfiles;
    if (fd_budget < 0) fd_budget = 0;

    /* the held fds first, so the measured ones get high numbers */
    long got_fds = 0;
    double deadline = setup_s > 0 ? now_ns() + setup_s * 1e9 : 0;
#define SETUP_LATE(i) (deadline > 0 && ((i) & 15) == 15 && now_ns() > deadline)
    for (; got_fds < nfds && got_fds < fd_budget && !SETUP_LATE(got_fds); got_fds++)
        if (open("/dev/null", O_RDONLY) < 0)
            break;
    /* each locked file may cost a shim a second fd (a private description) */
    long file_budget = (room - reserve - got_fds) / 2;
    long got_files = 0;
    for (; got_files < nfiles && got_files < file_budget && !SETUP_LATE(got_files); got_files++) {
        char name[32];
        snprintf(name, sizeof name, "many%ld", got_files);
        int fd = open_file(name, 0, NULL);
        if (set_lock(fd, F_WRLCK, 0, 1) < 0) {
            close(fd);
            break;
        }
    }

    int nctx = nthreads > 0 ? nthreads : 1;
    struct ctx *ctxs = calloc((size_t)nctx, sizeof *ctxs);
    if (!ctxs) die("calloc", ENOMEM);
    for (int i = 0; i < nctx; i++)
        ctx_init(&ctxs[i], i);

    long got_locks = 0;
    for (; got_locks < nlocks && !SETUP_LATE(got_locks); got_locks++)
        if (set_lock(ctxs[0].fd_lk, F_WRLCK, (off_t)(4 * got_locks), 1) < 0)
            break;
    if (got_locks > 0)
        ctxs[0].lk_off = (off_t)(4 * (got_locks / 2) + 2);

    if (hold && set_lock(open_file("held", 0, NULL), F_WRLCK, 0, 1) < 0)
        die("-H: lock", errno);
    if (strstr(argv[optind], "getlk_other"))
        start_getlk_holder();
    if (strstr(argv[optind], "first_lock"))
        for (int t = 0; t < nctx; t++)
            for (long i = 0; i < g_first_files; i++) {
                char name[64];
                snprintf(name, sizeof name, "first.%d", t);
                close(open_file(name, (int)i, NULL));
            }

    if (cg_n1 > 0)
        CALLGRIND_START_INSTRUMENTATION;

    for (char *save = NULL, *name = strtok_r(ops, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
        /* OP[:N[:N1]]: this op's own N (and N1) */
        long op_n = n, op_n1 = cg_n1;
        char *colon = strchr(name, ':');
        if (colon) {
            *colon = 0;
            op_n = atol(colon + 1);
            char *c2 = strchr(colon + 1, ':');
            if (c2)
                op_n1 = atol(c2 + 1);
            if (op_n < 1 || (cg_n1 > 0 && (op_n1 < 1 || op_n1 >= op_n)))
                usage();
        }
        op_fn fn = find_op(name);
        if (!fn) {
            fprintf(stderr, "bench: unknown op %s\n", name);
            usage();
        }
        if (cg_n1 > 0) {
            /* callgrind mode: warm up uncounted, then N1 and N counted */
            char label[128];
            long w = warm < op_n ? warm : op_n;
            for (long i = 0; i < w; i++)
                fn(&ctxs[0]);
            long ns[2] = { op_n1, op_n };
            for (int k = 0; k < 2; k++) {
                CALLGRIND_ZERO_STATS;
                CALLGRIND_TOGGLE_COLLECT;
                for (long i = 0; i < ns[k]; i++)
                    fn(&ctxs[0]);
                CALLGRIND_TOGGLE_COLLECT;
                snprintf(label, sizeof label, "op=%s n=%ld", name, ns[k]);
                CALLGRIND_DUMP_STATS_AT(label);
                (void)label;
            }
            printf("op=%s n=%ld cg_n1=%ld fds=%ld locks=%ld files=%ld\n", name, op_n, op_n1, got_fds, got_locks, got_files);
            fflush(stdout);
            continue;
        }
        double mean, best;
        long vcsw;
        long op_warm = colon ? (op_n / 10 > 0 ? op_n / 10 : 1) : warm;
        if (warm == 0) op_warm = 0;
        long f0 = minflt_now(RUSAGE_SELF), c0 = minflt_now(RUSAGE_CHILDREN);
        long used = time_op(fn, ctxs, nthreads, op_n, op_warm, batches, budget_ms * 1e6, &mean, &best, &vcsw);
        double mf = (double)(minflt_now(RUSAGE_SELF) - f0) / (double)used;
        double cmf = (double)(minflt_now(RUSAGE_CHILDREN) - c0) / (double)used;
        printf("op=%s n=%ld threads=%d ns=%.2f best=%.2f nvcsw=%ld fds=%ld locks=%ld files=%ld minflt=%.3f cminflt=%.3f\n",
               name, used, nthreads, mean, best, vcsw, got_fds, got_locks, got_files, mf, cmf);
        fflush(stdout);
    }
    free(ops);
    free(ctxs);
    return 0;
}
