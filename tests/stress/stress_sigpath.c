/*
 * stress_sigpath.c - locks taken in signal handlers that interrupt the
 * shim working on the SAME description.
 *
 *   stress_sigpath DIR [MILLISECONDS]
 *
 * Descriptions A and B of one file.  The main thread loops: write lock
 * [0,8) through A, F_GETLK through B (must report that lock, with this
 * pid: rule 2 and rule 5), unlock through A; also dup/close of A and a
 * read lock/unlock of [32,40) through B.  SIGALRM every ~100 us (no
 * SA_RESTART); the handler, through the same A:
 *     F_SETLK write [16,24)        -> 0 (only A's owner ever locks it)
 *     F_GETLK write [16,24) via B  -> write, this pid (or 2147483647: the
 *                                     README's limit for a handler that
 *                                     interrupted the shim)
 *     F_SETLK unlock [16,24)       -> 0
 *     F_GETLK via B                -> unlocked
 * so a lock taken by a handler in the middle of the shim's own work on A
 * must still be A's (one owner: not a second private description that
 * conflicts with the first or survives the unlock).  At the end nothing is
 * held (probe without the shim), and once A and B are closed no fd of
 * this process refers to the file.
 *
 *   stress_sigpath DIR MILLISECONDS storm
 *
 * The signal path's queue: SIGALRM every 20 us, the handler does 20
 * dup(A)+close pairs (40 queued table updates when it interrupted the
 * shim: more than the queue holds, so it overflows into a resync) while
 * the main thread loops lock/unlock through A and holds [100,101) through
 * A all along.  The program must finish (no hang in the interrupted
 * ls_leave), the held lock must survive every close of a dup (rule 1),
 * and nothing may leak.  Only meaningful under the shim (fix,
 * strict): natively B's F_GETLK never sees the process's own locks.
 */
#define _GNU_SOURCE
#include <sys/time.h>

#include "stress.h"

static char path[4096];
static int A, B;
static volatile long h_runs, h_lock_bad, h_getlk_bad, h_unlock_bad, h_after_bad, h_last_errno;
static volatile long h_first_bad_type, h_first_bad_pid, h_noholder;
static int C_HLOCK, C_HGETLK, C_MAIN, C_END, C_FDS;
static long long deadline;      /* the handler disarms the timer after it: no livelock under load */

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    h_runs++;
    if (now_ms() > deadline) {
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
    }
    struct flock fl;
    if (setlk(A, F_SETLK, F_WRLCK, 16, 8) != 0) {
        h_lock_bad++;
        h_last_errno = errno;
        errno = saved;
        return;
    }
    /* README limit: F_GETLK from a handler that interrupted the shim names
     * no holder (2147483647) */
    int gr = getlk(B, F_WRLCK, 16, 8, &fl);
    if (gr == 0 && fl.l_pid == 2147483647) h_noholder++;
    if (gr != 0 || fl.l_type != F_WRLCK || (fl.l_pid != getpid() && fl.l_pid != 2147483647)) {
        if (!h_getlk_bad) { h_first_bad_type = fl.l_type; h_first_bad_pid = fl.l_pid; }
        h_getlk_bad++;
    }
    if (setlk(A, F_SETLK, F_UNLCK, 16, 8) != 0) {
        h_unlock_bad++;
        h_last_errno = errno;
    }
    if (getlk(B, F_WRLCK, 16, 8, &fl) != 0 || fl.l_type != F_UNLCK)
        h_after_bad++;
    errno = saved;
}

static volatile long storm_runs;
static void on_storm(int sig)
{
    (void)sig;
    int e = errno;
    storm_runs++;
    for (int i = 0; i < 20; i++) {
        int d = dup(A);
        if (d >= 0) close(d);
    }
    if (now_ms() > deadline) {
        struct itimerval off = { { 0, 0 }, { 0, 0 } };
        setitimer(ITIMER_REAL, &off, NULL);
    }
    errno = e;
}

/* In a child process: the parent, which takes no signals, watches it. */
static void storm_body(long ms, int C_RULE1, int C_END2, int C_FDS2)
{
    int c = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (c < 0) st_die("create");
    close(c);
    struct fdcount before = count_fds();
    A = open(path, O_RDWR);
    if (A < 0 || setlk(A, F_SETLK, F_WRLCK, 100, 1) != 0) st_die("lock A");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_storm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    long long end = now_ms() + ms;
    deadline = end;
    struct itimerval it = { { 0, 20 }, { 0, 20 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long loops = 0;
    while (now_ms() < end + 200) {
        setlk(A, F_SETLK, F_WRLCK, 0, 8);
        setlk(A, F_SETLK, F_UNLCK, 0, 8);
        loops++;
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    NOTE("storm: %ld main loops, %ld handler runs", loops, storm_runs);
    char p = probe(path, 'W', 100, 1);
    CHECK(C_RULE1, p == 'W', "after the storm the lock on [100,101) held through A is gone ('%c')", p);
    CHECK(C_END2, setlk(A, F_SETLK, F_UNLCK, 100, 1) == 0, "unlock: %s", strerror(errno));
    p = probe(path, 'W', 0, 0);
    CHECK(C_END2, p == 'U', "after the unlock: '%c'", p);
    struct stat sb;
    fstat(A, &sb);
    close(A);
    struct fdcount after = count_fds();
    CHECK(C_FDS2, after.low == before.low, "%d low fds at start, %d at end", before.low, after.low);
    CHECK(C_FDS2, fds_on_inode(sb.st_dev, sb.st_ino) == 0, "an fd still refers to the file after A was closed");
    CHECK(C_END2, locks_on_path(path) == 0, "a lock is left in /proc/locks");
}

static int storm(long ms)
{
    int C_HANG = st_check("handler storm (40 queued table updates per handler): the program finishes, no hang");
    int C_RULE1 = st_check("handler storm: closing dups of A never drops A's lock (rule 1)");
    int C_END2 = st_check("after the storm: unlock and close through A work, nothing is left");
    int C_FDS2 = st_check("no leaked descriptor");
    pid_t w = fork();
    if (w < 0) st_die("fork");
    if (w == 0) {
        storm_body(ms, C_RULE1, C_END2, C_FDS2);
        _exit(0);
    }
    int st;
    if (wait_deadline(w, &st, ms + 8000) < 0) {
        CHECK(C_HANG, 0, "still running 8 s after its end: hung (killed)");
        /* the rest was never reached */
        st_skip(C_RULE1, "the storm hung");
        st_skip(C_END2, "the storm hung");
        st_skip(C_FDS2, "the storm hung");
    } else {
        CHECK(C_HANG, WIFEXITED(st), "the storm process died: status 0x%x", st);
    }
    return st_report();
}

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: stress_sigpath DIR [MS]\n"); return 2; }
    long ms = argc > 2 ? atol(argv[2]) : 2000;
    snprintf(path, sizeof path, "%s/sigpath", argv[1]);
    if (argc > 3 && !strcmp(argv[3], "storm"))
        return storm(ms);
    C_HLOCK = st_check("handler: lock and unlock through A, interrupting the shim's work on A, answer 0");
    C_HGETLK = st_check("handler: F_GETLK through B sees the handler's lock as this process's, then sees it gone");
    C_MAIN = st_check("main loop: lock/unlock through A, F_GETLK through B, dup/close answer as rules 2 and 5 say");
    C_END = st_check("at the end nothing is held (probe without the shim)");
    C_FDS = st_check("no leaked descriptor (no private description left after the last close)");
    watchdog(40);
    int c = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (c < 0) st_die("create");
    close(c);
    struct fdcount before = count_fds();
    A = open(path, O_RDWR);
    B = open(path, O_RDWR);
    if (A < 0 || B < 0) st_die("open");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    long long end = now_ms() + ms;
    deadline = end;
    struct itimerval it = { { 0, 100 }, { 0, 100 } };
    setitimer(ITIMER_REAL, &it, NULL);
    long iters = 0, bad = 0;
    while (now_ms() < end) {
        struct flock fl;
        int r = setlk(A, F_SETLK, F_WRLCK, 0, 8);
        if (r != 0 && errno == EINTR) continue;
        if (r != 0) { if (bad++ < 5) CHECK(C_MAIN, 0, "lock [0,8) through A: %s", strerror(errno)); continue; }
        r = getlk(B, F_WRLCK, 0, 8, &fl);
        if (r != 0 || fl.l_type != F_WRLCK || fl.l_pid != getpid())
            if (bad++ < 5) CHECK(C_MAIN, 0, "F_GETLK [0,8) through B: r=%d type=%d pid=%d (want write, %d)",
                                 r, fl.l_type, (int)fl.l_pid, (int)getpid());
        int d = dup(A);
        if (d < 0 || close(d) != 0)
            if (bad++ < 5) CHECK(C_MAIN, 0, "dup/close of A: %s", strerror(errno));
        if (setlk(A, F_SETLK, F_UNLCK, 0, 8) != 0)
            if (bad++ < 5) CHECK(C_MAIN, 0, "unlock [0,8) through A: %s", strerror(errno));
        if (setlk(B, F_SETLK, F_RDLCK, 32, 8) != 0 || setlk(B, F_SETLK, F_UNLCK, 32, 8) != 0)
            if (bad++ < 5) CHECK(C_MAIN, 0, "read lock/unlock [32,40) through B: %s", strerror(errno));
        iters++;
    }
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    watchdog(20);               /* the timer above replaced the first one */
    signal(SIGALRM, watchdog_fire);
    CHECK(C_MAIN, bad == 0 && iters > 0, "%ld of %ld iterations went wrong", bad, iters);
    NOTE("%ld iterations, the handler ran %ld times, its F_GETLK named no holder %ld times", iters, h_runs, h_noholder);
    CHECK(C_HLOCK, h_lock_bad == 0 && h_unlock_bad == 0 && h_runs > 0,
          "handler: %ld locks and %ld unlocks of %ld failed (last errno %ld %s)", h_lock_bad, h_unlock_bad, h_runs,
          h_last_errno, strerror((int)h_last_errno));
    CHECK(C_HGETLK, h_getlk_bad == 0 && h_after_bad == 0,
          "handler: F_GETLK through B wrong %ld times while held (first: type %ld pid %ld), %ld times after the unlock",
          h_getlk_bad, h_first_bad_type, h_first_bad_pid, h_after_bad);
    for (int off0 = 0; off0 < 64; off0 += 8) {
        char p = probe(path, 'W', off0, 8);
        CHECK(C_END, p == 'U', "probe [%d,%d): '%c' with nothing locked", off0, off0 + 8, p);
    }
    struct stat sb;
    fstat(A, &sb);
    int n = fds_on_inode(sb.st_dev, sb.st_ino);
    NOTE("fds on the file with A and B open (A, B and private descriptions): %d", n);
    close(A);
    close(B);
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "%d low fds at start, %d at end", before.low, after.low);
    CHECK(C_FDS, fds_on_inode(sb.st_dev, sb.st_ino) == 0, "%d fd(s) still refer to the file after A and B were closed",
          fds_on_inode(sb.st_dev, sb.st_ino));
    CHECK(C_END, locks_on_path(path) == 0, "a lock is left in /proc/locks");
    return st_report();
}
