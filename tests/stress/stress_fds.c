/*
 * stress_fds.c - programs that manage fd numbers themselves.
 *
 *   stress_fds DIR
 *
 * 1. close_range / closefrom in a child (as daemons do), then locking
 *    still works in that child: rule 2 between two new descriptions, the
 *    lock visible to a process without the shim, released at close.
 * 2. close_range in a process that holds a lock: the range above the
 *    locked fd leaves the lock alone; a range that includes it releases it
 *    (its last fd closed); CLOSE_RANGE_CLOEXEC then exec: the lock goes.
 * 3. dup2(0, n) for every n in the top quarter of RLIMIT_NOFILE (where the
 *    shim parks its private descriptions) while a lock is held, upward and
 *    then downward: every dup2 returns n and fd n is stdin's description,
 *    the lock survives (probe without the shim), unlock still works.
 */
#define _GNU_SOURCE
#include <linux/close_range.h>

#include "stress.h"

static char path[4096], path2[4096];
static int C_CR_CHILD, C_CF_CHILD, C_CR_HOLD, C_CR_EXEC, C_DUP2_RES, C_DUP2_LOCK, C_DUP2_UNLOCK, C_FDS;

/* In a child after closing everything >= 3: does locking work? */
static int locking_works(const char *who, int id)
{
    int a = open(path, O_RDWR), b = open(path, O_RDWR);
    CHECK(id, a >= 3 && b >= 3, "%s: open after closing: %d %d", who, a, b);
    int r1 = setlk(a, F_SETLK, F_WRLCK, 0, 10);
    CHECK(id, r1 == 0, "%s: lock through a: %s", who, r1 ? strerror(errno) : "0");
    int r2 = setlk(b, F_SETLK, F_WRLCK, 5, 10);
    int e2 = errno;
    CHECK(id, r2 < 0 && (e2 == EAGAIN || e2 == EACCES),
          "%s: lock through another description: %s (rule 2: must conflict)", who, r2 ? strerror(e2) : "granted");
    char p = probe(path, 'W', 0, 1);
    CHECK(id, p == 'W', "%s: probe without the shim sees '%c', expected W", who, p);
    close(b);
    p = probe(path, 'W', 0, 1);
    CHECK(id, p == 'W', "%s: after closing the other description: probe '%c' (rule 1)", who, p);
    close(a);
    p = probe(path, 'W', 0, 1);
    CHECK(id, p == 'U', "%s: after the last close: probe '%c', expected U", who, p);
    return 0;
}

static void child_closing(int use_closefrom, int id)
{
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        st_failed = 0;
        /* open a few fds, lock through one, like a daemon that then cleans up */
        int x = open(path2, O_RDWR), y = dup(x);
        if (x < 0 || y < 0) st_die("open");
        CHECK(id, setlk(x, F_SETLK, F_WRLCK, 0, 1) == 0, "lock before closing: %s", strerror(errno));
        if (use_closefrom)
            closefrom(3);
        else
            CHECK(id, close_range(3, ~0U, 0) == 0, "close_range: %s", strerror(errno));
        struct fdcount fc = count_fds();
        CHECK(id, fc.low == 3, "after closing: %d low fds, expected 3 (0, 1, 2)", fc.low);
        /* ask the kernel directly: a probe would make fds (pipe) whose
         * numbers could meet stale entries of the shim's table */
        int nl = locks_on_path(path2);
        CHECK(id, nl == 0, "every fd of the locked description was closed by %s, yet %d lock(s) remain in /proc/locks",
              use_closefrom ? "closefrom(3)" : "close_range(3, ~0U, 0)", nl);
        struct stat sb;
        if (stat(path2, &sb) == 0)
            CHECK(id, fds_on_inode(sb.st_dev, sb.st_ino) == 0, "an fd (private description) still refers to the closed file");
        locking_works(use_closefrom ? "closefrom child" : "close_range child", id);
        _exit(st_failed ? 1 : 0);
    }
    int st;
    if (wait_deadline(c, &st, 20000) < 0)
        CHECK(id, 0, "child hung");
    else
        CHECK(id, WIFEXITED(st) && WEXITSTATUS(st) <= 1, "child status 0x%x", st);
}

static void close_range_holding(void)
{
    int id = C_CR_HOLD;
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        st_failed = 0;
        int a = open(path, O_RDWR);
        if (a < 0) st_die("open");
        int hi = dup(a);         /* a second fd of the same description above it */
        CHECK(id, setlk(a, F_SETLK, F_WRLCK, 100, 10) == 0, "lock: %s", strerror(errno));
        CHECK(id, close_range((unsigned)a + 1, ~0U, 0) == 0, "close_range above: %s", strerror(errno));
        CHECK(id, fcntl(hi, F_GETFD) < 0 && errno == EBADF, "fd %d above the range start is still open", hi);
        char p = probe(path, 'W', 100, 1);
        CHECK(id, p == 'W', "close_range(a+1, ~0) dropped the lock of fd a ('%c')", p);
        CHECK(id, setlk(a, F_SETLK, F_UNLCK, 100, 5) == 0, "unlock half after close_range: %s", strerror(errno));
        p = probe(path, 'W', 100, 1);
        CHECK(id, p == 'U', "unlock after close_range did not release ('%c')", p);
        p = probe(path, 'W', 105, 1);
        CHECK(id, p == 'W', "the other half went too ('%c')", p);
        CHECK(id, close_range((unsigned)a, (unsigned)a, 0) == 0, "close_range(a, a): %s", strerror(errno));
        p = probe(path, 'W', 105, 1);
        CHECK(id, p == 'U', "closing the last fd through close_range left the lock ('%c')", p);
        struct stat sb;
        if (stat(path, &sb) == 0)
            CHECK(C_FDS, fds_on_inode(sb.st_dev, sb.st_ino) == 0, "close_range left an fd on the file (private description)");
        _exit(st_failed ? 1 : 0);
    }
    int st;
    if (wait_deadline(c, &st, 20000) < 0) CHECK(id, 0, "child hung");
    else CHECK(id, WIFEXITED(st) && WEXITSTATUS(st) <= 1, "child status 0x%x", st);
}

/* CLOSE_RANGE_CLOEXEC over the locked fd, then exec: the description does
 * not survive the exec, so its lock must go (as its last close would). */
static void cloexec_then_exec(void)
{
    int id = C_CR_EXEC;
    int p[2];
    if (pipe(p) < 0) st_die("pipe");
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        close(p[0]);
        int a = open(path, O_RDWR);
        if (a < 0 || setlk(a, F_SETLK, F_WRLCK, 200, 10) < 0) _exit(20);
        if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0) _exit(21);
        if (fcntl(p[1], F_SETFD, 0) < 0) _exit(22);      /* keep the pipe */
        char fdarg[16];
        snprintf(fdarg, sizeof fdarg, "%d", p[1]);
        char *args[] = { (char *)self_exe(), (char *)"--report-and-wait", fdarg, NULL };
        execv(self_exe(), args);
        _exit(23);
    }
    close(p[1]);
    char b[8] = { 0 };
    ssize_t r;
    while ((r = read(p[0], b, 1)) < 0 && errno == EINTR) {}
    CHECK(id, r == 1, "the exec'd image did not report (child status?)");
    char q = probe(path, 'W', 200, 1);
    CHECK(id, q == 'U', "after CLOSE_RANGE_CLOEXEC + exec the lock of a close-on-exec description is still held ('%c')", q);
    close(p[0]);
    kill(c, SIGTERM);
    int st;
    if (wait_deadline(c, &st, 20000) < 0) CHECK(id, 0, "child hung");
    else CHECK(id, WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "child status 0x%x", st);
}

struct same_ctx { int want_dev, ok; };

#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027
#endif

/* dup2(0, n) for every n of the top quarter, upward (pass 0) or downward
 * (pass 1), in a child that holds a write lock on [300, 310). */
static void dup2_high(int pass)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) st_die("getrlimit");
    int lim = (int)(rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur);
    int lo = lim - lim / 4;
    const char *dir = pass ? "downward" : "upward";
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        st_failed = 0;
        int a = open(path, O_RDWR);
        if (a < 0) st_die("open");
        CHECK(C_DUP2_LOCK, setlk(a, F_SETLK, F_WRLCK, 300, 10) == 0, "lock: %s", strerror(errno));
        struct stat s0;
        if (fstat(0, &s0) < 0) st_die("fstat 0");
        int bad = 0, wrong = 0, badclose = 0;
        for (int k = 0; k < lim - lo; k++) {
            int n = pass == 0 ? lo + k : lim - 1 - k;
            int r = dup2(0, n);
            if (r != n) {
                if (bad++ < 3) CHECK(C_DUP2_RES, 0, "%s: dup2(0, %d) = %d (%s)", dir, n, r, strerror(errno));
                continue;
            }
            struct stat sn;
            if (fstat(n, &sn) < 0 || sn.st_dev != s0.st_dev || sn.st_ino != s0.st_ino || fcntl(0, F_DUPFD_QUERY, n) == 0) {
                if (wrong++ < 3) CHECK(C_DUP2_RES, 0, "%s: fd %d after dup2(0, %d) is not stdin's description", dir, n, n);
            }
        }
        CHECK(C_DUP2_RES, bad == 0 && wrong == 0, "%s: %d dup2 failed, %d gave a wrong fd", dir, bad, wrong);
        char p = probe(path, 'W', 300, 1);
        CHECK(C_DUP2_LOCK, p == 'W', "%s: after dup2(0, n) for every n in [%d, %d) the lock is gone (probe '%c')",
              dir, lo, lim, p);
        for (int n = lo; n < lim; n++) {
            int r = close(n);
            int e = errno;
            if ((r != 0 || fcntl(n, F_GETFD) != -1) && badclose++ < 3)
                CHECK(C_DUP2_RES, 0, "%s: close(%d) of the program's own dup: %s, fd %s open afterwards", dir, n,
                      r ? strerror(e) : "0", fcntl(n, F_GETFD) != -1 ? "still" : "not");
        }
        CHECK(C_DUP2_RES, badclose == 0, "%s: %d closes of the program's dup2 results failed", dir, badclose);
        int r = setlk(a, F_SETLK, F_UNLCK, 300, 10);
        CHECK(C_DUP2_UNLOCK, r == 0, "%s: unlock after the dup2 storm: %s", dir, strerror(errno));
        p = probe(path, 'W', 300, 1);
        CHECK(C_DUP2_UNLOCK, p == 'U', "%s: unlock after the dup2 storm did not release the lock ('%c')", dir, p);
        CHECK(C_DUP2_UNLOCK, setlk(a, F_SETLK, F_WRLCK, 300, 10) == 0, "%s: lock again: %s", dir, strerror(errno));
        p = probe(path, 'W', 300, 1);
        CHECK(C_DUP2_UNLOCK, p == 'W', "%s: lock again after the storm not visible ('%c')", dir, p);
        close(a);
        p = probe(path, 'W', 300, 1);
        CHECK(C_DUP2_UNLOCK, p == 'U', "%s: close after the storm left the lock ('%c')", dir, p);
        _exit(st_failed ? 1 : 0);
    }
    int st;
    if (wait_deadline(c, &st, 40000) < 0) CHECK(C_DUP2_RES, 0, "%s: child hung", dir);
    else CHECK(C_DUP2_RES, WIFEXITED(st) && WEXITSTATUS(st) <= 1, "%s: child status 0x%x", dir, st);
}

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    if (argc > 2 && !strcmp(argv[1], "--report-and-wait")) {
        /* the exec'd image: say "I am running", then wait to be killed */
        char c = 'x';
        if (write(atoi(argv[2]), &c, 1) != 1) return 1;
        alarm(20);
        for (;;) pause();
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: stress_fds DIR\n"); return 2; }
    snprintf(path, sizeof path, "%s/fds", argv[1]);
    snprintf(path2, sizeof path2, "%s/fds2", argv[1]);
    for (int i = 0; i < 2; i++) {
        int c = open(i ? path2 : path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (c < 0) st_die("create");
        close(c);
    }
    C_CR_CHILD = st_check("close_range(3, ~0) in a child: its lock goes, locking works after");
    C_CF_CHILD = st_check("closefrom(3) in a child: its lock goes, locking works after");
    C_CR_HOLD = st_check("close_range while holding a lock: above keeps it, its own fd releases it");
    C_CR_EXEC = st_check("CLOSE_RANGE_CLOEXEC then exec: the lock of the close-on-exec description goes");
    C_DUP2_RES = st_check("dup2(0, n) over the shim's fd area: every result right");
    C_DUP2_LOCK = st_check("dup2(0, n) over the shim's fd area: the held lock survives");
    C_DUP2_UNLOCK = st_check("after the dup2 storm: unlock, lock and close still work");
    C_FDS = st_check("no leaked descriptor");
    watchdog(85);
    struct fdcount before = count_fds();
    child_closing(0, C_CR_CHILD);
    child_closing(1, C_CF_CHILD);
    close_range_holding();
    cloexec_then_exec();
    dup2_high(0);
    dup2_high(1);
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "parent: %d low fds at start, %d at end", before.low, after.low);
    CHECK(C_FDS, locks_on_path(path) == 0 && locks_on_path(path2) == 0, "locks left behind");
    return st_report();
}
