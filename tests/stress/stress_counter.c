/*
 * stress_counter.c - no lost update, no hang, no leaked descriptor, no lock
 * left behind, with many threads and processes locking overlapping ranges.
 *
 *   stress_counter DIR [SCALE]
 *
 * NF files of NS counters (8 bytes at 64*slot).  Every increment is a
 * read-modify-write (pread, pwrite) under a WRITE lock whose range covers the
 * counter and random parts of its neighbours' (overlapping ranges, some to
 * EOF); each increment is also tallied in a shared memfd mapping.  At the
 * end every counter must equal its tally.
 *
 * Who increments (all at once):
 *   - a fork tree: NP children, each with NT threads (each thread its own
 *     descriptions: one kept open, one opened per iteration; thread 0 also
 *     uses the descriptions inherited from the root, which every process
 *     shares: rule 6 says they still exclude each other), and each child
 *     forks NG single-threaded grandchildren that take two locks at once
 *     (on two files, in file order: no wait cycle exists) and verify under
 *     read locks that nobody writes;
 *   - an exec chain: a process that holds a write lock execs this binary
 *     ("--chain"), the next image increments under the lock it inherited
 *     (rule 7), and so on for CHAIN images; each image checks that main()
 *     sees no low fd it did not expect and no LOCKSCOPE__ variable;
 *   - SCM_RIGHTS: a sender opens file 0, sends the descriptor to two
 *     receivers; all three lock through that one description.
 * While holding a lock, workers also close other descriptors of the same
 * file (a fresh open, or a dup of their own): natively that drops the lock
 * (lost updates); under the shim it must not (rule 1).
 *
 * Workers stop starting new increments 12 s after the start (CI budget);
 * the checks hold whatever number of increments was made.
 *
 * EDEADLK can legitimately happen: the kernel's (and the shim's) deadlock
 * detection is process-granular, so threads of two processes can look like
 * a cycle.  It is counted and the worker backs off; the numbers are printed.
 *
 * Each long-lived process compares its count of low fds (below 3/4 of
 * RLIMIT_NOFILE) at start and at the end, and after closing its own fds of
 * the lock files checks that no fd of this process (private descriptions
 * included) still refers to them.  The root finally checks /proc/locks.
 */
#define _GNU_SOURCE
#include <sched.h>
#include <sys/mman.h>
#include <sys/socket.h>

#include "stress.h"

#define NF 3
#define NS 4
#define SLOT_OFF(s) ((off_t)(s) * 64)

struct tally {
    _Atomic long inc[NF][NS];
    _Atomic long edeadlk, eintr, strict_refused, rule1_closes, readchecks;
    _Atomic long failures, chain_fail;
    long long deadline;     /* CLOCK_MONOTONIC ms: workers stop starting increments after it */
};

static struct tally *T;
static char paths[NF][4096];
static int inh[NF] = { -1, -1, -1 };      /* descriptions inherited from the root */
static int scale = 1;
static int strict_mode;
static int C_LOST = -1, C_HANG = -1, C_FDS = -1, C_LOCKS = -1, C_CALLS = -1, C_READ = -1, C_EXEC = -1;


static long rd_counter(int fd, int slot)
{
    long v = 0;
    if (pread(fd, &v, sizeof v, SLOT_OFF(slot)) != (ssize_t)sizeof v) {
        CHECK(C_CALLS, 0, "pread: %s", strerror(errno));
    }
    return v;
}

static void wr_counter(int fd, int slot, long v)
{
    if (pwrite(fd, &v, sizeof v, SLOT_OFF(slot)) != (ssize_t)sizeof v) {
        CHECK(C_CALLS, 0, "pwrite: %s", strerror(errno));
    }
}

/* A lock range covering slot s and random parts of its neighbours. */
static void pick_range(uint64_t *rs, int slot, off_t *start, off_t *len)
{
    off_t a = (off_t)(rnd(rs) % 72), b = (off_t)(rnd(rs) % 72);
    off_t s = SLOT_OFF(slot) - a;
    if (s < 0) s = 0;
    *start = s;
    *len = (rnd(rs) % 8 == 0) ? 0 : SLOT_OFF(slot) + 8 + b - s;
}

/* Blocking write lock; EINTR retried, EDEADLK (process-granular false
 * cycles) and strict refusals backed off.  0, or -1 on a real error. */
static int lock_w(int fd, off_t start, off_t len)
{
    for (int tries = 0;; tries++) {
        int r = setlk(fd, F_SETLKW, F_WRLCK, start, len);
        if (r == 0) {
            CHECK(C_CALLS, 1, " ");
            return 0;
        }
        if (errno == EINTR) { atomic_fetch_add(&T->eintr, 1); continue; }
        if (errno == EDEADLK) { atomic_fetch_add(&T->edeadlk, 1); sleep_ms(1); continue; }
        if (errno == ENOLCK && strict_mode) { atomic_fetch_add(&T->strict_refused, 1); sleep_ms(1); continue; }
        CHECK(C_CALLS, 0, "F_SETLKW write [%lld,+%lld): %s", (long long)start, (long long)len, strerror(errno));
        return -1;
    }
}

static void unlock(int fd, off_t start, off_t len)
{
    if (setlk(fd, F_SETLK, F_UNLCK, start, len) != 0) {
        CHECK(C_CALLS, 0, "unlock: %s", strerror(errno));
    }
}

/* While holding a lock on file f: close some other descriptor of it. */
static void rule1_noise(uint64_t *rs, int f, int fd)
{
    unsigned k = (unsigned)(rnd(rs) % 4);
    if (k == 0) {
        int o = open(paths[f], O_RDONLY);
        if (o >= 0) { close(o); atomic_fetch_add(&T->rule1_closes, 1); }
    } else if (k == 1) {
        int d = dup(fd);
        if (d >= 0) { close(d); atomic_fetch_add(&T->rule1_closes, 1); }
    }
    if (rnd(rs) % 3 == 0)
        sched_yield();
}

/* One increment of (f, slot) through fd. */
static int increment(uint64_t *rs, int f, int slot, int fd)
{
    off_t s, l;
    pick_range(rs, slot, &s, &l);
    if (lock_w(fd, s, l) < 0)
        return -1;
    long v = rd_counter(fd, slot);
    rule1_noise(rs, f, fd);
    wr_counter(fd, slot, v + 1);
    atomic_fetch_add(&T->inc[f][slot], 1);
    unlock(fd, s, l);
    return 0;
}

/* ---- fork tree: threads ---- */

struct thr { int idx, iters; uint64_t seed; };

static void *thread_main(void *arg)
{
    struct thr *t = arg;
    uint64_t rs = t->seed;
    int own[NF];
    for (int f = 0; f < NF; f++) {
        own[f] = open(paths[f], O_RDWR | O_CLOEXEC);
        if (own[f] < 0) st_die("open");
    }
    for (int i = 0; i < t->iters && now_ms() < T->deadline; i++) {
        int f = (int)(rnd(&rs) % NF), slot = (int)(rnd(&rs) % NS);
        unsigned how = (unsigned)(rnd(&rs) % 3);
        if (how == 0 && t->idx == 0) {
            increment(&rs, f, slot, inh[f]);          /* the root's description */
        } else if (how == 1) {
            int fd = open(paths[f], O_RDWR);         /* a fresh description */
            if (fd < 0) st_die("open");
            increment(&rs, f, slot, fd);
            close(fd);                                /* releases its locks */
        } else {
            increment(&rs, f, slot, own[f]);
        }
    }
    for (int f = 0; f < NF; f++)
        close(own[f]);
    return NULL;
}

/* After the process closed all its own fds of the lock files: nothing of
 * this process may refer to them any more (no private description left). */
static void check_no_fd_on_files(const char *who)
{
    for (int f = 0; f < NF; f++) {
        struct stat st;
        if (stat(paths[f], &st) < 0) st_die("stat");
        int n = fds_on_inode(st.st_dev, st.st_ino);
        CHECK(C_FDS, n == 0, "%s: %d fd(s) still refer to %s after every fd of it was closed (leaked private description?)",
              who, n, paths[f]);
    }
}

static void close_inherited(void)
{
    for (int f = 0; f < NF; f++)
        if (inh[f] >= 0) { close(inh[f]); inh[f] = -1; }
}

/* ---- grandchildren: single-threaded, two locks, read checks ---- */

static void grandchild(uint64_t seed, int iters)
{
    uint64_t rs = seed;
    struct fdcount before = count_fds();
    int fds[NF];
    for (int f = 0; f < NF; f++)
        if ((fds[f] = open(paths[f], O_RDWR)) < 0) st_die("open");
    for (int i = 0; i < iters && now_ms() < T->deadline; i++) {
        int f1 = (int)(rnd(&rs) % (NF - 1));
        int f2 = f1 + 1 + (int)(rnd(&rs) % (unsigned)(NF - 1 - f1));
        int s1 = (int)(rnd(&rs) % NS), s2 = (int)(rnd(&rs) % NS);
        off_t a1, l1, a2, l2;
        pick_range(&rs, s1, &a1, &l1);
        pick_range(&rs, s2, &a2, &l2);
        if (lock_w(fds[f1], a1, l1) < 0) continue;
        if (lock_w(fds[f2], a2, l2) < 0) { unlock(fds[f1], a1, l1); continue; }
        long v1 = rd_counter(fds[f1], s1), v2 = rd_counter(fds[f2], s2);
        rule1_noise(&rs, f1, fds[f1]);
        rule1_noise(&rs, f2, fds[f2]);
        wr_counter(fds[f1], s1, v1 + 1);
        wr_counter(fds[f2], s2, v2 + 1);
        atomic_fetch_add(&T->inc[f1][s1], 1);
        atomic_fetch_add(&T->inc[f2][s2], 1);
        unlock(fds[f2], a2, l2);
        unlock(fds[f1], a1, l1);
        if (i % 8 == 0) {
            /* under a read lock the counter must not move */
            int f = (int)(rnd(&rs) % NF), s = (int)(rnd(&rs) % NS);
            for (;;) {
                int r = setlk(fds[f], F_SETLKW, F_RDLCK, SLOT_OFF(s), 8);
                if (r == 0) break;
                if (errno == EINTR || errno == EDEADLK) { sleep_ms(1); continue; }
                CHECK(C_CALLS, 0, "read lock: %s", strerror(errno));
                goto skip;
            }
            long x = rd_counter(fds[f], s);
            sched_yield();
            sleep_ms(0);
            long y = rd_counter(fds[f], s);
            CHECK(C_READ, x == y, "counter %d/%d changed under a read lock: %ld -> %ld", f, s, x, y);
            atomic_fetch_add(&T->readchecks, 1);
            unlock(fds[f], SLOT_OFF(s), 8);
        skip:;
        }
    }
    for (int f = 0; f < NF; f++)
        close(fds[f]);
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "grandchild: %d low fds at start, %d at end", before.low, after.low);
    close_inherited();
    check_no_fd_on_files("grandchild");
}

static void child(int idx, int nt, int ng)
{
    struct fdcount before = count_fds();
    pid_t kids[16];
    for (int g = 0; g < ng; g++) {
        kids[g] = fork();
        if (kids[g] < 0) st_die("fork");
        if (kids[g] == 0) {
            grandchild(0x9e3779b97f4a7c15ULL * (uint64_t)(idx * 16 + g + 1), 60 * scale);
            _exit(st_failed ? 1 : 0);
        }
    }
    pthread_t th[16];
    struct thr ta[16];
    for (int t = 0; t < nt; t++) {
        ta[t].idx = t;
        ta[t].iters = 150 * scale;
        ta[t].seed = 0x1234567ULL * (uint64_t)(idx * 16 + t + 1) + 77;
        if (pthread_create(&th[t], NULL, thread_main, &ta[t]) != 0) st_die("pthread_create");
    }
    for (int t = 0; t < nt; t++)
        pthread_join(th[t], NULL);
    for (int g = 0; g < ng; g++) {
        int st;
        if (wait_deadline(kids[g], &st, 25000) < 0)
            CHECK(C_HANG, 0, "grandchild %d hung (killed)", g);
        else
            CHECK(C_HANG, WIFEXITED(st) && WEXITSTATUS(st) == 0, "grandchild %d: status 0x%x", g, st);
    }
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "child %d: %d low fds at start, %d at end", idx, before.low, after.low);
    close_inherited();
    check_no_fd_on_files("child");
}

/* ---- exec chain ---- */

static int chain_main(int argc, char **argv)
{
    /* --chain K TALLYFD FD FILE SLOT START LEN DIR LOWFDS (holding a write lock) */
    if (argc < 11) return 2;
    int k = atoi(argv[2]), tfd = atoi(argv[3]), fd = atoi(argv[4]);
    int f = atoi(argv[5]), slot = atoi(argv[6]);
    off_t s = atoll(argv[7]), l = atoll(argv[8]);
    T = mmap(NULL, sizeof *T, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
    if (T == MAP_FAILED) st_die("mmap tally");
    const char *dir = argv[9];
    for (int i = 0; i < NF; i++)
        snprintf(paths[i], sizeof paths[i], "%s/counter%d", dir, i);
    /* rule 7: main sees nothing of the hand-over */
    for (char **e = environ; *e; e++) {
        if (!strncmp(*e, "LOCKSCOPE__", 11)) {
            CHECK(-1, 0, "chain image %d: %.40s still set in main()", k, *e);
            atomic_fetch_add(&T->chain_fail, 1);
        }
    }
    /* rule 7: no fd of the shim's at a low number: exactly the low fds the
     * previous image had when it called exec */
    struct fdcount c = count_fds();
    int want_low = atoi(argv[10]);
    if (c.low != want_low) {
        CHECK(-1, 0, "chain image %d: %d low fds in main(), the previous image had %d at exec", k, c.low, want_low);
        atomic_fetch_add(&T->chain_fail, 1);
    }
    /* the lock survived exec: increment under it */
    long v = rd_counter(fd, slot);
    sched_yield();
    wr_counter(fd, slot, v + 1);
    atomic_fetch_add(&T->inc[f][slot], 1);
    unlock(fd, s, l);
    uint64_t rs = 0xabcdefULL + (uint64_t)k;
    int df = f;
    for (int i = 0; i < 20 * scale && now_ms() < T->deadline; i++)
        increment(&rs, df, (int)(rnd(&rs) % NS), fd);
    if (k > 0 && now_ms() < T->deadline) {
        int ns = (int)(rnd(&rs) % NS);
        off_t a, b;
        pick_range(&rs, ns, &a, &b);
        if (lock_w(fd, a, b) == 0) {
            long w = rd_counter(fd, ns);
            wr_counter(fd, ns, w + 1);
            atomic_fetch_add(&T->inc[f][ns], 1);
            /* the next image increments again under the lock it inherits:
             * if the lock did not survive exec, that update could be lost */
            char LOW[16];
            snprintf(LOW, sizeof LOW, "%d", count_fds().low);
            char K[16], TF[16], FD[16], F[16], S[16], A[32], B[32];
            snprintf(K, sizeof K, "%d", k - 1); snprintf(TF, sizeof TF, "%d", tfd);
            snprintf(FD, sizeof FD, "%d", fd); snprintf(F, sizeof F, "%d", f);
            snprintf(S, sizeof S, "%d", ns); snprintf(A, sizeof A, "%lld", (long long)a);
            snprintf(B, sizeof B, "%lld", (long long)b);
            char *args[] = { (char *)self_exe(), (char *)"--chain", K, TF, FD, F, S, A, B, (char *)dir, LOW, NULL };
            execv(self_exe(), args);
            st_die("execv");
        }
    }
    close(fd);
    return st_failed ? 1 : 0;
}

static void start_chain(int depth, int tfd, const char *dir)
{
    int f = 1;
    int fd = open(paths[f], O_RDWR);        /* inherited by the exec: no CLOEXEC */
    if (fd < 0) st_die("open");
    /* put it at a known low number */
    if (fd != 4) { if (dup2(fd, 4) < 0) st_die("dup2"); close(fd); fd = 4; }
    off_t s = SLOT_OFF(2), l = 8;
    if (lock_w(fd, s, l) < 0) _exit(1);
    long v = rd_counter(fd, 2);
    wr_counter(fd, 2, v + 1);
    atomic_fetch_add(&T->inc[f][2], 1);
    char K[16], TF[16], FD[16], F[16], S[16], A[32], B[32];
    snprintf(K, sizeof K, "%d", depth); snprintf(TF, sizeof TF, "%d", tfd);
    snprintf(FD, sizeof FD, "%d", fd); snprintf(F, sizeof F, "%d", f);
    snprintf(S, sizeof S, "%d", 2); snprintf(A, sizeof A, "%lld", (long long)s);
    snprintf(B, sizeof B, "%lld", (long long)l);
    char LOW[16];
    snprintf(LOW, sizeof LOW, "%d", count_fds().low);
    char *args[] = { (char *)self_exe(), (char *)"--chain", K, TF, FD, F, S, A, B, (char *)dir, LOW, NULL };
    execv(self_exe(), args);
    st_die("execv");
}

/* ---- SCM_RIGHTS ---- */

static int send_fd(int sock, int fd)
{
    char c = 'F';
    struct iovec iov = { &c, 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cm), &fd, sizeof fd);
    return sendmsg(sock, &m, 0) == 1 ? 0 : -1;
}

static int recv_fd(int sock)
{
    char c;
    struct iovec iov = { &c, 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof u.buf };
    if (recvmsg(sock, &m, 0) != 1) return -1;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
    if (!cm || cm->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(cm), sizeof fd);
    return fd;
}

static void scm_worker(int fd, uint64_t seed, int iters, const char *who)
{
    uint64_t rs = seed;
    for (int i = 0; i < iters && now_ms() < T->deadline; i++)
        increment(&rs, 0, (int)(rnd(&rs) % NS), fd);
    (void)who;
}

static void scm_group(void)
{
    int sv[2][2];
    pid_t r[2];
    for (int i = 0; i < 2; i++) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv[i]) < 0) st_die("socketpair");
        r[i] = fork();
        if (r[i] < 0) st_die("fork");
        if (r[i] == 0) {
            close(sv[i][0]);
            close_inherited();
            struct fdcount before = count_fds();
            int fd = recv_fd(sv[i][1]);
            if (fd < 0) st_die("recvmsg");
            scm_worker(fd, 0x5151ULL + (uint64_t)i, 150 * scale, "receiver");
            close(fd);
            close(sv[i][1]);
            struct fdcount after = count_fds();
            CHECK(C_FDS, after.low == before.low - 1, "receiver: %d low fds at start, %d at end", before.low, after.low);
            check_no_fd_on_files("receiver");
            _exit(st_failed ? 1 : 0);
        }
        close(sv[i][1]);
    }
    int fd = open(paths[0], O_RDWR);
    if (fd < 0) st_die("open");
    for (int i = 0; i < 2; i++) { if (send_fd(sv[i][0], fd) < 0) st_die("sendmsg"); close(sv[i][0]); }
    scm_worker(fd, 0x7777ULL, 150 * scale, "sender");
    close(fd);
    for (int i = 0; i < 2; i++) {
        int st;
        if (wait_deadline(r[i], &st, 25000) < 0)
            CHECK(C_HANG, 0, "receiver %d hung (killed)", i);
        else
            CHECK(C_HANG, WIFEXITED(st) && WEXITSTATUS(st) == 0, "receiver %d: status 0x%x", i, st);
    }
}

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *m = getenv("LOCKSCOPE_MODE");
    strict_mode = m && !strcmp(m, "strict");
    if (argc > 1 && !strcmp(argv[1], "--chain"))
        return chain_main(argc, argv);
    if (argc < 2) { fprintf(stderr, "usage: stress_counter DIR [SCALE]\n"); return 2; }
    const char *dir = argv[1];
    if (argc > 2) scale = atoi(argv[2]);
    if (scale < 1) scale = 1;
    watchdog(45);
    C_LOST = st_check("no lost update: every counter equals its increments");
    C_READ = st_check("no write under a read lock");
    C_CALLS = st_check("lock, unlock, pread, pwrite answer as expected");
    C_HANG = st_check("no hang: every worker finished in time with status 0");
    C_EXEC = st_check("exec chain: locks survive exec, no shim fd or variable visible in main");
    C_FDS = st_check("no leaked descriptor (low fd counts, no fd left on the lock files)");
    C_LOCKS = st_check("no lock left behind (/proc/locks)");

    struct fdcount root_before = count_fds();
    for (int f = 0; f < NF; f++) {
        snprintf(paths[f], sizeof paths[f], "%s/counter%d", dir, f);
        int fd = open(paths[f], O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) st_die("create");
        char zero[64 * NS] = { 0 };
        if (write(fd, zero, sizeof zero) != (ssize_t)sizeof zero) st_die("write");
        close(fd);
    }
    int tfd = memfd_create("tally", 0);
    if (tfd < 0) st_die("memfd_create");
    if (ftruncate(tfd, sizeof *T) < 0) st_die("ftruncate");
    T = mmap(NULL, sizeof *T, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
    if (T == MAP_FAILED) st_die("mmap");
    for (int f = 0; f < NF; f++)
        if ((inh[f] = open(paths[f], O_RDWR | O_CLOEXEC)) < 0) st_die("open");

    long long t0 = now_ms();
    T->deadline = t0 + 12000;
    enum { NP = 3, NT = 3, NG = 2, CHAIN = 6 };
    pid_t pids[NP + 2];
    int np = 0;
    for (int p = 0; p < NP; p++) {
        pid_t c = fork();
        if (c < 0) st_die("fork");
        if (c == 0) { child(p, NT, NG); _exit(st_failed ? 1 : 0); }
        pids[np++] = c;
    }
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        close_inherited();
        /* the chain's fds: 0 1 2, the tally at 3, the locked fd at 4 */
        if (tfd != 3) { if (dup2(tfd, 3) < 0) st_die("dup2"); close(tfd); tfd = 3; }
        start_chain(CHAIN, tfd, dir);
    }
    int chain_idx = np;
    pids[np++] = c;
    c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) { close_inherited(); scm_group(); _exit(st_failed ? 1 : 0); }
    pids[np++] = c;

    for (int i = 0; i < np; i++) {
        int st;
        if (wait_deadline(pids[i], &st, 30000) < 0)
            CHECK(C_HANG, 0, "worker %d hung (killed)", i);
        else
            CHECK(i == chain_idx ? C_EXEC : C_HANG, WIFEXITED(st) && WEXITSTATUS(st) == 0, "worker %d: status 0x%x", i, st);
    }
    long long t1 = now_ms();

    long total = 0, lost = 0;
    for (int f = 0; f < NF; f++) {
        int fd = open(paths[f], O_RDONLY);
        if (fd < 0) st_die("open");
        for (int s = 0; s < NS; s++) {
            long v = rd_counter(fd, s), want = atomic_load(&T->inc[f][s]);
            total += want;
            CHECK(C_LOST, 1, " ");
            if (v != want) {
                CHECK(C_LOST, 0, "file %d counter %d: %ld in the file, %ld increments made (lost update)", f, s, v, want);
                lost += want - v;
            }
        }
        close(fd);
    }
    close_inherited();
    for (int f = 0; f < NF; f++) {
        int n = locks_on_path(paths[f]);
        CHECK(C_LOCKS, n == 0, "%s: %d lock(s) left in /proc/locks after every process exited", paths[f], n);
    }
    printf("# edeadlk backoffs %ld, eintr %ld, strict refusals %ld, rule-1 closes under lock %ld, read checks %ld\n",
           atomic_load(&T->edeadlk), atomic_load(&T->eintr), atomic_load(&T->strict_refused),
           atomic_load(&T->rule1_closes), atomic_load(&T->readchecks));
    CHECK(C_EXEC, atomic_load(&T->chain_fail) == 0, "%ld failure(s) in exec chain images", atomic_load(&T->chain_fail));
    munmap(T, sizeof *T);
    close(tfd);
    struct fdcount root_after = count_fds();
    CHECK(C_FDS, root_after.low == root_before.low, "root: %d low fds at start, %d at end", root_before.low, root_after.low);
    T = NULL;
    printf("# %ld increments in %lld ms, lost %ld\n", total, t1 - t0, lost);
    return st_report();
}
