/*
 * stress_signals.c - locking with signals flying.
 *
 *   stress_signals DIR [MILLISECONDS]
 *
 * Two worker processes, each with its main thread and one extra thread.
 * SIGALRM arrives every ~1 ms (setitimer), its handler installed WITHOUT
 * SA_RESTART.  The handler
 *   - closes `victim`, a dup of the main thread's locked fd (rule 1: closing
 *     another fd of the description releases nothing);
 *   - takes and releases a write lock on another file with F_SETLK (the
 *     answer must be 0 or EAGAIN/EACCES, never anything else).
 * The main thread and the extra thread loop: F_SETLKW write lock (EINTR is
 * retried and counted), read-modify-write of a counter, unlock.  The two
 * processes contend for the same range, so F_SETLKW really waits and really
 * gets interrupted.  At the end: counter == increments (no lost update), no
 * bad answer in the handler, no hang (a supervisor without timer signals
 * kills workers that overrun), the low fd count is back where it was.
 */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/time.h>

#include "stress.h"

struct shared {
    _Atomic long incs, eintr, h_locks, h_eagain, h_bad, h_closes, h_bad_errno, h_close_bad, h_close_errno, dup_fail;
    _Atomic long fails;
};
static struct shared *S;
static char px[4096], py[4096];
static int fdx, fdy;
static _Atomic int victim = -1;
static int C_LOST, C_HLOCK, C_HCLOSE, C_LOOP, C_HANG, C_FDS, C_LOCKS, C_DUP;
static volatile sig_atomic_t stop;

static void on_alarm(int sig)
{
    (void)sig;
    int saved = errno;
    int v = atomic_exchange(&victim, -1);
    if (v >= 0) {
        if (close(v) == 0) {
            atomic_fetch_add(&S->h_closes, 1);
        } else {
            atomic_fetch_add(&S->h_close_bad, 1);
            atomic_store(&S->h_close_errno, errno);
        }
    }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 16;
    if (fcntl(fdy, F_SETLK, &fl) == 0) {
        atomic_fetch_add(&S->h_locks, 1);
        fl.l_type = F_UNLCK;
        if (fcntl(fdy, F_SETLK, &fl) != 0) atomic_fetch_add(&S->h_bad, 1);
    } else if (errno == EAGAIN || errno == EACCES) {
        atomic_fetch_add(&S->h_eagain, 1);
    } else {
        atomic_fetch_add(&S->h_bad, 1);
        atomic_store(&S->h_bad_errno, errno);
    }
    errno = saved;
}

static void loop(int fd, long long until, int is_main)
{
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    while (now_ms() < until) {
        if (is_main && atomic_load(&victim) < 0) {
            sigset_t old;
            pthread_sigmask(SIG_BLOCK, &alrm, &old);
            int d = dup(fd);
            if (d >= 0) atomic_store(&victim, d);
            else atomic_fetch_add(&S->dup_fail, 1);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
        }
        int r;
        for (;;) {
            r = setlk(fd, F_SETLKW, F_WRLCK, 0, 8);
            if (r == 0 || errno != EINTR) break;
            atomic_fetch_add(&S->eintr, 1);
        }
        CHECK(C_LOOP, r == 0, "F_SETLKW [0,8) write: %s (natively impossible here: each thread holds one lock at a time)",
              strerror(errno));
        if (r != 0) {
            atomic_fetch_add(&S->fails, 1);
            if (errno == EDEADLK) { sleep_ms(1); continue; }
            return;
        }
        long v = 0;
        if (pread(fd, &v, sizeof v, 0) != (ssize_t)sizeof v) { CHECK(C_LOOP, 0, "pread"); atomic_fetch_add(&S->fails, 1); }
        for (volatile int spin = 0; spin < 20000; spin++) {}   /* let signals land inside the lock */
        v++;
        while (pwrite(fd, &v, sizeof v, 0) < 0 && errno == EINTR) {}
        atomic_fetch_add(&S->incs, 1);
        if (setlk(fd, F_SETLK, F_UNLCK, 0, 8) != 0) {
            CHECK(C_LOOP, 0, "unlock: %s", strerror(errno));
            atomic_fetch_add(&S->fails, 1);
        }
    }
}

struct targ { long long until; };
static void *thread_main(void *a)
{
    struct targ *t = a;
    int fd = open(px, O_RDWR);
    if (fd < 0) st_die("open");
    loop(fd, t->until, 0);
    close(fd);
    return NULL;
}

static int worker(long ms)
{
    struct fdcount before = count_fds();
    fdx = open(px, O_RDWR);
    fdy = open(py, O_RDWR);
    if (fdx < 0 || fdy < 0) st_die("open");
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;            /* no SA_RESTART */
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGALRM, &sa, NULL) < 0) st_die("sigaction");
    struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
    if (setitimer(ITIMER_REAL, &it, NULL) < 0) st_die("setitimer");
    struct targ ta = { now_ms() + ms };
    pthread_t th;
    if (pthread_create(&th, NULL, thread_main, &ta) != 0) st_die("pthread_create");
    loop(fdx, ta.until, 1);
    pthread_join(th, NULL);
    struct itimerval off = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &off, NULL);
    signal(SIGALRM, SIG_IGN);
    int v = atomic_exchange(&victim, -1);
    if (v >= 0) close(v);
    close(fdx);
    close(fdy);
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "worker: %d low fds at start, %d at end", before.low, after.low);
    struct stat sx, sy;
    if (stat(px, &sx) == 0 && stat(py, &sy) == 0)
        CHECK(C_FDS, fds_on_inode(sx.st_dev, sx.st_ino) == 0 && fds_on_inode(sy.st_dev, sy.st_ino) == 0,
              "worker: fds still refer to the lock files after every fd of them was closed");
    return st_failed ? 1 : 0;
}

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: stress_signals DIR [MS]\n"); return 2; }
    long ms = argc > 2 ? atol(argv[2]) : 2000;
    snprintf(px, sizeof px, "%s/sigx", argv[1]);
    snprintf(py, sizeof py, "%s/sigy", argv[1]);
    for (int i = 0; i < 2; i++) {
        int fd = open(i ? py : px, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) st_die("create");
        long zero = 0;
        if (write(fd, &zero, sizeof zero) != (ssize_t)sizeof zero) st_die("write");
        close(fd);
    }
    C_LOST = st_check("no lost update (counter == increments)");
    C_LOOP = st_check("main loops: F_SETLKW gives 0 or EINTR only, unlock 0");
    C_HLOCK = st_check("handler: F_SETLK/unlock give 0 or EAGAIN as natively (no other errno)");
    C_HCLOSE = st_check("handler: close of a dup of the locked fd succeeds");
    C_DUP = st_check("dup of the locked fd succeeds");
    C_HANG = st_check("no deadlock, no crash: workers finish in time with status 0");
    C_FDS = st_check("no leaked descriptor");
    C_LOCKS = st_check("no lock left behind (/proc/locks)");
    S = mmap(NULL, sizeof *S, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (S == MAP_FAILED) st_die("mmap");
    pid_t w[2];
    for (int i = 0; i < 2; i++) {
        w[i] = fork();
        if (w[i] < 0) st_die("fork");
        if (w[i] == 0) _exit(worker(ms));
    }
    for (int i = 0; i < 2; i++) {
        int st;
        if (wait_deadline(w[i], &st, ms + 20000) < 0)
            CHECK(C_HANG, 0, "worker %d hung (deadlock?): killed after %ld ms", i, ms + 20000);
        else
            CHECK(C_HANG, WIFSIGNALED(st) == 0 && WIFEXITED(st) && (WEXITSTATUS(st) == 0 || WEXITSTATUS(st) == 1),
                  "worker %d: status 0x%x%s", i, st, WIFSIGNALED(st) ? " (killed by a signal: crash?)" : "");
    }
    int fd = open(px, O_RDONLY);
    long v = -1;
    if (fd < 0 || pread(fd, &v, sizeof v, 0) != (ssize_t)sizeof v) st_die("read counter");
    close(fd);
    long incs = atomic_load(&S->incs);
    printf("# %ld increments, %ld EINTR retried; handler: %ld closes, %ld locks, %ld EAGAIN, %ld bad\n",
           incs, atomic_load(&S->eintr), atomic_load(&S->h_closes), atomic_load(&S->h_locks),
           atomic_load(&S->h_eagain), atomic_load(&S->h_bad));
    CHECK(C_LOST, v == incs, "counter %ld, increments %ld (lost update)", v, incs);
    CHECK(C_LOST, incs > 0, "no progress at all");
    long hl = atomic_load(&S->h_locks) + atomic_load(&S->h_eagain) + atomic_load(&S->h_bad);
    CHECK(C_HLOCK, atomic_load(&S->h_bad) == 0, "handler: %ld of %ld lock requests answered neither 0 nor EAGAIN (last errno %ld %s)",
          atomic_load(&S->h_bad), hl, atomic_load(&S->h_bad_errno), strerror((int)atomic_load(&S->h_bad_errno)));
    CHECK(C_HLOCK, hl > 0, "the handler never ran");
    CHECK(C_HCLOSE, atomic_load(&S->h_close_bad) == 0, "handler: close of the dup failed %ld times (last errno %ld)",
          atomic_load(&S->h_close_bad), atomic_load(&S->h_close_errno));
    CHECK(C_DUP, atomic_load(&S->dup_fail) == 0, "dup failed %ld times", atomic_load(&S->dup_fail));
    CHECK(C_LOCKS, locks_on_path(px) == 0 && locks_on_path(py) == 0, "locks left behind after the workers exited");
    return st_report();
}
