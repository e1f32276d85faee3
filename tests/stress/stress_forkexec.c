/*
 * stress_forkexec.c - fork from a multi-threaded program while other
 * threads lock and unlock continuously.
 *
 *   stress_forkexec DIR [N] [native]
 *
 * Three threads loop lock/unlock (F_SETLKW/F_SETLK, each its own
 * description, overlapping ranges; also close/open churn).  The main thread
 * holds a write lock on [1000, 1010) through fd A for the whole run and
 * forks N (default 200) times.  Each child, before exec, does only
 * async-signal-safe calls through the shim:
 *     close(B)                  (another description of the file)
 *     dup2(A, 100)
 *     fcntl(100, F_SETLK, write [1000,10))  -> must fail EAGAIN/EACCES: the
 *                               child does not own its parent's lock (rule 6)
 *     fcntl(100, F_SETLK, unlock [1000,10)) -> 0, releases nothing
 *     fcntl(100, F_SETLK, write [5000,10))  -> 0 (nobody holds it)
 *     execve("/bin/true")
 * and reports a wrong answer through its exit status.  Every child must
 * finish within 10 s (a shim mutex inherited locked would hang it).  At the
 * end the parent's lock must still be there (asked from a process without
 * the shim), the threads must have made progress, no fd may have leaked.
 * With "native" (audit mode: native semantics) the threads' closes drop the
 * parent's lock as POSIX says, so only hangs, crashes, fds and leftovers
 * are checked.
 */
#define _GNU_SOURCE
#include "stress.h"

static char path[4096];
static volatile int stop;
static int C_HANG, C_CHILD, C_KEPT, C_THREADS, C_FDS, C_LOCKS;
static _Atomic long thread_ops, thread_errs;
static int strict_mode;     /* strict refuses what natively converts: threads take write locks only */

static void *locker(void *arg)
{
    uint64_t rs = (uint64_t)(uintptr_t)arg * 0x9e3779b97f4a7c15ULL + 1;
    int fd = open(path, O_RDWR);
    if (fd < 0) st_die("open");
    while (!stop) {
        off_t s = (off_t)(rnd(&rs) % 64), l = 1 + (off_t)(rnd(&rs) % 64);
        int r;
        if (strict_mode || rnd(&rs) % 2) {
            r = setlk(fd, F_SETLKW, F_WRLCK, s, l);
        } else {
            r = setlk(fd, F_SETLK, F_RDLCK, s, l);
            if (r < 0 && (errno == EAGAIN || errno == EACCES)) continue;
        }
        if (r < 0) {
            if (errno == EINTR || errno == EDEADLK) continue;
            atomic_fetch_add(&thread_errs, 1);
            CHECK(C_THREADS, 0, "thread lock [%lld,+%lld): %s", (long long)s, (long long)l, strerror(errno));
            continue;
        }
        atomic_fetch_add(&thread_ops, 1);
        if (rnd(&rs) % 8 == 0) {
            int o = open(path, O_RDONLY);
            if (o >= 0) close(o);
        }
        if (setlk(fd, F_SETLK, F_UNLCK, s, l) < 0) {
            atomic_fetch_add(&thread_errs, 1);
            CHECK(C_THREADS, 0, "thread unlock: %s", strerror(errno));
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: stress_forkexec DIR [N]\n"); return 2; }
    int n = argc > 2 ? atoi(argv[2]) : 200;
    int native = argc > 3 && !strcmp(argv[3], "native");
    const char *mode = getenv("LOCKSCOPE_MODE");
    strict_mode = mode && !strcmp(mode, "strict");
    snprintf(path, sizeof path, "%s/forkexec", argv[1]);
    C_HANG = st_check("forked children never hang before exec (10 s each)");
    C_CHILD = st_check(native ? "child before exec: close/dup2/F_SETLK answer, exec works"
                              : "child before exec: close/dup2/F_SETLK answer as rule 6 says");
    C_KEPT = native ? -1 : st_check("the parent's lock survives every child (probe without the shim)");
    C_THREADS = st_check("locking threads keep working across forks");
    C_FDS = st_check("no leaked descriptor in the parent");
    C_LOCKS = st_check("no lock left behind (/proc/locks)");
    watchdog(55);

    int c = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (c < 0) st_die("create");
    close(c);
    struct fdcount before = count_fds();
    int A = open(path, O_RDWR), B = open(path, O_RDWR);
    if (A < 0 || B < 0) st_die("open");
    if (setlk(A, F_SETLK, F_WRLCK, 1000, 10) < 0) st_die("lock A");

    pthread_t th[3];
    for (long i = 0; i < 3; i++)
        if (pthread_create(&th[i], NULL, locker, (void *)i) != 0) st_die("pthread_create");

    char *const targv[] = { (char *)"true", NULL };
    int hangs = 0;
    long long t0 = now_ms();
    for (int i = 0; i < n && hangs < 3; i++) {
        pid_t p = fork();
        if (p < 0) st_die("fork");
        if (p == 0) {
            /* async-signal-safe calls only */
            struct flock fl;
            if (close(B) != 0) _exit(10);
            if (dup2(A, 100) != 100) _exit(11);
            memset(&fl, 0, sizeof fl);
            fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 1000; fl.l_len = 10;
            if (fcntl(100, F_SETLK, &fl) == 0) _exit(12);       /* got the parent's lock */
            if (errno != EAGAIN && errno != EACCES) _exit(13);
            fl.l_type = F_UNLCK;
            if (fcntl(100, F_SETLK, &fl) != 0) _exit(14);
            fl.l_type = F_WRLCK; fl.l_start = 5000;
            if (fcntl(100, F_SETLK, &fl) != 0) _exit(15);
            execve("/bin/true", targv, environ);
            _exit(16);
        }
        int st;
        if (wait_deadline(p, &st, 10000) < 0) {
            CHECK(C_HANG, 0, "child %d did not reach exec in 10 s (killed)", i);
            hangs++;
            continue;
        }
        CHECK(C_HANG, 1, " ");
        static const char *why[] = { [10] = "close(B) failed", [11] = "dup2 failed",
            [12] = "F_SETLK got the parent's lock (rule 6)", [13] = "F_SETLK: errno not EAGAIN/EACCES",
            [14] = "unlock failed", [15] = "F_SETLK on a free range failed", [16] = "execve failed" };
        int code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
        if (native && (code == 12 || code == 13))
            code = 0;       /* natively the parent's lock may be gone already */
        CHECK(C_CHILD, code == 0, "child %d: %s (status 0x%x)", i,
              code >= 10 && code <= 16 ? why[code] : WIFSIGNALED(st) ? "killed by a signal" : "exit status", st);
        if (!native && (i % 50 == 0 || i == n - 1)) {
            char r = probe(path, 'W', 1000, 10);
            CHECK(C_KEPT, r == 'W', "after child %d: probe sees '%c' on [1000,10), the parent's write lock is gone", i, r);
        }
    }
    long long t1 = now_ms();
    long ops0 = atomic_load(&thread_ops);
    sleep_ms(50);
    stop = 1;
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    CHECK(C_THREADS, ops0 > 0 && atomic_load(&thread_errs) == 0, "threads: %ld ops, %ld errors", ops0,
          atomic_load(&thread_errs));
    NOTE("%d forks in %lld ms, threads did %ld lock/unlock pairs", n, t1 - t0, atomic_load(&thread_ops));
    if (!native) {
        char r = probe(path, 'W', 1000, 10);
        CHECK(C_KEPT, r == 'W', "at the end: probe sees '%c' on [1000,10)", r);
    }
    close(A);
    close(B);
    struct stat sb;
    if (stat(path, &sb) < 0) st_die("stat");
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "%d low fds at start, %d at end", before.low, after.low);
    CHECK(C_FDS, fds_on_inode(sb.st_dev, sb.st_ino) == 0, "fds still refer to the file after all were closed");
    CHECK(C_LOCKS, locks_on_path(path) == 0, "locks left on the file");
    return st_report();
}
