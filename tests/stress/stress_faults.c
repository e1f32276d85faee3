/*
 * stress_faults.c - the shim under unusual conditions.
 *
 *   stress_faults emfile DIR      out of fds at the first lock of a description
 *   stress_faults noproc DIR      /proc not mounted (run.sh: unshare -m + tmpfs on
 *                                 /proc); prints what it observed, run.sh compares
 *                                 the shim's run with a native one
 *   stress_faults rofs DIR        DIR is a read-only mount holding file "ro"
 *   stress_faults tmpfs DIR       DIR on tmpfs
 *   stress_faults deleted DIR     a file unlinked while open
 *   stress_faults memfd           a memfd
 *   stress_faults registry DIR    cross-process waits with whatever waiter
 *                                 registry run.sh prepared (garbage, wrong magic,
 *                                 a symlink, a FIFO...): a plain wait is granted,
 *                                 an AB-BA cycle between two processes gets
 *                                 EDEADLK (as natively), nothing hangs or crashes
 *
 * The checks for a file that can be re-opened (tmpfs, deleted, memfd, and
 * a plain file as control) are the contract's rules 1, 2, 5 and 6 and the
 * release at the last close, observed by a process without the shim.
 */
#define _GNU_SOURCE
#include <sys/mman.h>

#include "stress.h"

static int C_MAIN, C_FDS;
static const char *argv0;

static const char *probe_exe(void)
{
    static char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) { buf[n] = 0; return buf; }
    return argv0;          /* no /proc */
}

/* probe() without /proc/self/exe */
static char probe2(const char *path, char type, long long start, long long len)
{
    return probe_via(probe_exe(), path, type, start, len);
}

/* The rules on one file.  `reopen`: a path that opens a new description
 * of it (may be /proc/self/fd/N); `probe_path`: a path a process without
 * the shim can open (may be /proc/PID/fd/N). */
static void rules(const char *what, const char *reopen, const char *probe_path, int id)
{
    int a = open(reopen, O_RDWR), b = open(reopen, O_RDWR);
    CHECK(id, a >= 0 && b >= 0, "%s: open: %s", what, strerror(errno));
    if (a < 0 || b < 0) return;
    int r = setlk(a, F_SETLK, F_WRLCK, 0, 10);
    CHECK(id, r == 0, "%s: write lock through a: %s", what, strerror(errno));
    char p = probe2(probe_path, 'W', 0, 1);
    CHECK(id, p == 'W', "%s: probe after lock: '%c', expected W", what, p);
    r = setlk(b, F_SETLK, F_WRLCK, 5, 10);
    CHECK(id, r < 0 && (errno == EAGAIN || errno == EACCES), "%s: lock through another description: %s (rule 2)",
          what, r ? strerror(errno) : "granted");
    struct flock fl;
    r = getlk(b, F_WRLCK, 0, 10, &fl);
    CHECK(id, r == 0 && fl.l_type == F_WRLCK && fl.l_pid == getpid(), "%s: F_GETLK through b: r=%d type=%d pid=%d (rule 5: ours)",
          what, r, fl.l_type, (int)fl.l_pid);
    close(b);
    p = probe2(probe_path, 'W', 0, 1);
    CHECK(id, p == 'W', "%s: closing the other description dropped the lock ('%c', rule 1)", what, p);
    pid_t c = fork();
    if (c < 0) st_die("fork");
    if (c == 0) {
        struct flock f2;
        memset(&f2, 0, sizeof f2);
        f2.l_type = F_WRLCK; f2.l_whence = SEEK_SET; f2.l_start = 0; f2.l_len = 10;
        if (fcntl(a, F_SETLK, &f2) == 0) _exit(10);
        f2.l_type = F_UNLCK;
        if (fcntl(a, F_SETLK, &f2) != 0) _exit(11);
        close(a);
        _exit(0);
    }
    int st;
    if (wait_deadline(c, &st, 10000) < 0) CHECK(id, 0, "%s: child hung", what);
    else CHECK(id, WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: child: %s", what,
               WEXITSTATUS(st) == 10 ? "got its parent's lock (rule 6)" : WEXITSTATUS(st) == 11 ? "unlock failed" : "status");
    p = probe2(probe_path, 'W', 0, 1);
    CHECK(id, p == 'W', "%s: the child's unlock/close released the parent's lock ('%c', rule 6)", what, p);
    r = setlk(a, F_SETLK, F_UNLCK, 0, 10);
    CHECK(id, r == 0, "%s: unlock: %s", what, strerror(errno));
    p = probe2(probe_path, 'W', 0, 1);
    CHECK(id, p == 'U', "%s: probe after unlock: '%c'", what, p);
    r = setlk(a, F_SETLK, F_RDLCK, 0, 10);
    int cfd = open(reopen, O_RDWR);
    int r2 = setlk(cfd, F_SETLK, F_RDLCK, 0, 10);
    int r3 = setlk(cfd, F_SETLK, F_WRLCK, 0, 10);
    int e3 = errno;
    /* the write request would natively convert a's read lock: strict
     * refuses it (ENOLCK), fix lets it conflict (EAGAIN) */
    const char *m = getenv("LOCKSCOPE_MODE");
    int strict = m && !strcmp(m, "strict");
    CHECK(id, r == 0 && r2 == 0 && r3 < 0 && (strict ? e3 == ENOLCK : (e3 == EAGAIN || e3 == EACCES)),
          "%s: read locks through two descriptions then write: %d %d %d/%s", what, r, r2, r3, strerror(e3));
    close(cfd);
    p = probe2(probe_path, 'W', 0, 1);
    CHECK(id, p == 'R', "%s: after closing the second reader: '%c', expected R", what, p);
    close(a);
    p = probe2(probe_path, 'W', 0, 1);
    CHECK(id, p == 'U', "%s: after the last close: '%c', expected U", what, p);
}

/* ---- out of fds ---- */

static int emfile(const char *dir)
{
    int C_ERR = st_check("EMFILE at a first lock: clean failure (ENOLCK or EMFILE) or a real lock, no crash");
    int C_UNTOUCHED = st_check("EMFILE: the program's own fds are untouched");
    int C_GETLK = st_check("EMFILE: F_GETLK and unlock still answer");
    int C_RECOVER = st_check("EMFILE over: locking through the same description works with descriptor scope");
    C_FDS = st_check("no leaked descriptor");
    char path[4096];
    snprintf(path, sizeof path, "%s/emfile", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) st_die("create");
    struct rlimit rl = { 128, 128 }, old;
    getrlimit(RLIMIT_NOFILE, &old);
    rl.rlim_max = old.rlim_max;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) st_die("setrlimit");
    int other = open(path, O_RDWR);              /* a second description, for later */
    int fds[256], n = 0;
    for (;;) {
        int f = open("/dev/null", O_RDONLY);
        if (f < 0) {
            CHECK(C_ERR, errno == EMFILE, "filling the table ended with %s", strerror(errno));
            break;
        }
        fds[n++] = f;
        if (n == 256) break;
    }
    NOTE("opened %d fds up to EMFILE (limit 128)", n);
    struct stat sn;
    fstat(fds[0], &sn);
    int r = setlk(fd, F_SETLK, F_WRLCK, 0, 10);
    int e = errno;
    NOTE("F_SETLK at EMFILE: %s", r == 0 ? "0 (granted)" : strerror(e));
    CHECK(C_ERR, r == 0 || e == ENOLCK || e == EMFILE, "F_SETLK at EMFILE failed with %s (documented: ENOLCK)", strerror(e));
    /* the program's fds: all still open, same files */
    int bad = 0;
    for (int i = 0; i < n; i++) {
        struct stat s;
        if (fstat(fds[i], &s) < 0 || s.st_ino != sn.st_ino || s.st_dev != sn.st_dev) bad++;
    }
    struct stat sf, so;
    CHECK(C_UNTOUCHED, bad == 0 && fstat(fd, &sf) == 0 && fstat(other, &so) == 0 && sf.st_ino == so.st_ino,
          "%d of the program's fds changed or vanished", bad);
    struct flock fl;
    int g = getlk(other, F_WRLCK, 0, 10, &fl);
    CHECK(C_GETLK, g == 0, "F_GETLK at EMFILE: %s", strerror(errno));
    if (r == 0) {
        /* granted: then it must be a real descriptor-scoped lock */
        CHECK(C_GETLK, g == 0 && fl.l_type == F_WRLCK, "F_GETLK through another description does not see the lock");
        int r2 = setlk(other, F_SETLK, F_WRLCK, 0, 10);
        CHECK(C_ERR, r2 < 0, "lock granted at EMFILE is process-scoped: another description got it too (rule 2)");
    }
    int u = setlk(fd, F_SETLK, F_UNLCK, 0, 10);
    CHECK(C_GETLK, u == 0, "unlock at EMFILE: %s", strerror(errno));
    /* free some fds: the shortage is over */
    for (int i = 0; i < 16 && n > 0; i++)
        close(fds[--n]);
    r = setlk(fd, F_SETLK, F_WRLCK, 0, 10);
    CHECK(C_RECOVER, r == 0, "lock after freeing fds: %s", strerror(errno));
    int r2 = setlk(other, F_SETLK, F_WRLCK, 0, 10);
    CHECK(C_RECOVER, r2 < 0 && (errno == EAGAIN || errno == EACCES),
          "after the shortage another description %s (rule 2: must conflict; a passing shortage must not change semantics)",
          r2 == 0 ? "got the lock too" : strerror(errno));
    int x = open(path, O_RDONLY);
    close(x);
    char p = probe2(path, 'W', 0, 1);
    CHECK(C_RECOVER, p == 'W', "after the shortage: closing another fd dropped the lock ('%c', rule 1)", p);
    close(fd);
    close(other);
    for (int i = 0; i < n; i++) close(fds[i]);
    p = probe2(path, 'W', 0, 1);
    CHECK(C_RECOVER, p == 'U', "after the last close: '%c'", p);
    CHECK(C_FDS, fds_on_inode(sf.st_dev, sf.st_ino) == 0, "an fd still refers to the file");
    setrlimit(RLIMIT_NOFILE, &old);
    return st_report();
}

/* ---- no /proc: print what happens (compared with a native run) ---- */

static const char *res(int r, int e) { static char b[64]; if (r == 0) return "0"; snprintf(b, sizeof b, "%s", strerrorname_np(e)); return b; }

static int noproc(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/noproc", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) st_die("create");
    close(fd);
    int have_proc = access("/proc/self/fd", F_OK) == 0;
    printf("proc=%d\n", have_proc);
    int a = open(path, O_RDWR), b = open(path, O_RDWR);
    int r = setlk(a, F_SETLK, F_WRLCK, 0, 10);
    printf("lock a: %s\n", res(r, errno));
    printf("probe: %c\n", probe2(path, 'W', 0, 1));
    r = setlk(b, F_SETLK, F_WRLCK, 0, 10);
    printf("lock b: %s\n", res(r, errno));
    struct flock fl;
    r = getlk(b, F_WRLCK, 0, 10, &fl);
    printf("getlk b: %s type=%d\n", res(r, errno), fl.l_type);
    pid_t c = fork();
    if (c == 0) {
        int rr = setlk(a, F_SETLK, F_WRLCK, 0, 10);
        printf("child lock a: %s\n", res(rr, errno));
        fflush(stdout);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    int x = open(path, O_RDONLY);
    close(x);
    printf("after closing another fd: probe %c\n", probe2(path, 'W', 0, 1));
    r = setlk(a, F_SETLK, F_WRLCK, 0, 10);
    printf("lock a again: %s\n", res(r, errno));
    r = setlk(a, F_SETLK, F_UNLCK, 0, 10);
    printf("unlock a: %s\n", res(r, errno));
    printf("probe: %c\n", probe2(path, 'W', 0, 1));
    close(a);
    close(b);
    printf("done\n");
    return 0;
}

/* ---- read-only file system ---- */

static int rofs(const char *dir)
{
    int C_RO = st_check("read-only file system: read locks on O_RDONLY fds work, rules 1 and 2 hold");
    C_FDS = st_check("no leaked descriptor");
    char path[4096];
    snprintf(path, sizeof path, "%s/ro", dir);
    int w = open(path, O_RDWR);
    CHECK(C_RO, w < 0 && errno == EROFS, "open O_RDWR on the read-only mount: %s", w < 0 ? strerror(errno) : "worked (not read-only?)");
    int a = open(path, O_RDONLY), b = open(path, O_RDONLY);
    CHECK(C_RO, a >= 0 && b >= 0, "open O_RDONLY: %s", strerror(errno));
    int r = setlk(a, F_SETLK, F_RDLCK, 0, 10);
    CHECK(C_RO, r == 0, "read lock through a: %s", strerror(errno));
    r = setlk(b, F_SETLK, F_RDLCK, 0, 10);
    CHECK(C_RO, r == 0, "read lock through b: %s", strerror(errno));
    r = setlk(a, F_SETLK, F_WRLCK, 0, 10);
    CHECK(C_RO, r < 0 && errno == EBADF, "write lock through an O_RDONLY fd: %s (natively EBADF)", r ? strerror(errno) : "granted");
    char p = probe2(path, 'W', 0, 1);
    CHECK(C_RO, p == 'R', "probe: '%c', expected R", p);
    close(b);
    p = probe2(path, 'W', 0, 1);
    CHECK(C_RO, p == 'R', "closing b dropped a's read lock ('%c', rule 1)", p);
    pid_t c = fork();
    if (c == 0) {
        int rr = setlk(a, F_SETLK, F_RDLCK, 0, 10);
        _exit(rr == 0 ? 0 : 1);
    }
    int st;
    waitpid(c, &st, 0);
    CHECK(C_RO, WIFEXITED(st) && WEXITSTATUS(st) == 0, "a child's read lock on the inherited fd failed");
    r = setlk(a, F_SETLK, F_UNLCK, 0, 10);
    CHECK(C_RO, r == 0, "unlock: %s", strerror(errno));
    p = probe2(path, 'W', 0, 1);
    CHECK(C_RO, p == 'U', "after unlock: '%c'", p);
    struct stat sa;
    fstat(a, &sa);
    close(a);
    CHECK(C_FDS, fds_on_inode(sa.st_dev, sa.st_ino) == 0, "an fd still refers to the file");
    return st_report();
}

/* ---- the waiter registry under attack ---- */

static void on_alarm_nop(int sig) { (void)sig; }

static int registry(const char *dir)
{
    /* a wait that does not end in 6 s is cut short by SIGALRM (no
     * SA_RESTART): F_SETLKW answers EINTR, reported as a hang */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm_nop;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, NULL);
    int C_WAIT = st_check("a cross-process wait is granted when the holder unlocks");
    int C_CYCLE = st_check("an AB-BA cycle between two processes: one F_SETLKW gets EDEADLK, as natively");
    char px[4096], py[4096];
    snprintf(px, sizeof px, "%s/reg-x", dir);
    snprintf(py, sizeof py, "%s/reg-y", dir);
    for (int i = 0; i < 2; i++) { int f = open(i ? py : px, O_RDWR | O_CREAT | O_TRUNC, 0644); if (f < 0) st_die("create"); close(f); }
    /* 1. a plain wait */
    int sync[2];
    if (pipe(sync) < 0) st_die("pipe");
    pid_t h = fork();
    if (h == 0) {
        int fd = open(px, O_RDWR);
        setlk(fd, F_SETLK, F_WRLCK, 0, 1);
        if (write(sync[1], "x", 1) != 1) _exit(1);
        sleep_ms(300);
        setlk(fd, F_SETLK, F_UNLCK, 0, 1);
        sleep_ms(3000);
        _exit(0);
    }
    char c;
    if (read(sync[0], &c, 1) != 1) st_die("sync");
    int fd = open(px, O_RDWR);
    long long t0 = now_ms();
    alarm(6);
    int r = setlk(fd, F_SETLKW, F_WRLCK, 0, 1);
    int e = errno;
    alarm(0);
    long long dt = now_ms() - t0;
    CHECK(C_WAIT, r == 0 && dt < 8000, "F_SETLKW: %s after %lld ms", r ? strerror(e) : "0", dt);
    close(fd);
    kill(h, SIGKILL);
    waitpid(h, NULL, 0);
    /* 2. a cycle */
    int s2[2], go[2], res[2];
    if (pipe(s2) < 0 || pipe(go) < 0 || pipe(res) < 0) st_die("pipe");
    pid_t b = fork();
    if (b == 0) {
        int y = open(py, O_RDWR), x = open(px, O_RDWR);
        setlk(y, F_SETLK, F_WRLCK, 0, 1);
        if (write(s2[1], "y", 1) != 1) _exit(1);
        if (read(go[0], &c, 1) != 1) _exit(1);
        alarm(6);
        int rr = setlk(x, F_SETLKW, F_WRLCK, 0, 1);
        int ee = rr ? errno : 0;
        if (write(res[1], &ee, sizeof ee) != (ssize_t)sizeof ee) _exit(1);
        sleep_ms(rr ? 3000 : 0);    /* a loser keeps Y a moment: the other side must get it after */
        _exit(0);
    }
    if (read(s2[0], &c, 1) != 1) st_die("sync");
    int x = open(px, O_RDWR), y = open(py, O_RDWR);
    setlk(x, F_SETLK, F_WRLCK, 0, 1);
    if (write(go[1], "g", 1) != 1) st_die("go");
    sleep_ms(100);                  /* let B wait first */
    alarm(6);
    r = setlk(y, F_SETLKW, F_WRLCK, 0, 1);
    e = r ? errno : 0;
    if (r) close(x);                /* we lost: let B through */
    int eb = -1;
    if (read(res[0], &eb, sizeof eb) != (ssize_t)sizeof eb) eb = -1;
    alarm(0);
    CHECK(C_CYCLE, (e == EDEADLK) != (eb == EDEADLK) && (e == 0 || e == EDEADLK) && (eb == 0 || eb == EDEADLK),
          "the two sides of the cycle answered %s and %s (want one EDEADLK, one 0; EINTR = still waiting after 6 s: a hang)",
          e ? strerror(e) : "0", eb < 0 ? "nothing" : eb ? strerror(eb) : "0");
    close(y);
    if (!r) close(x);
    kill(b, SIGKILL);
    waitpid(b, NULL, 0);
    return st_report();
}

int main(int argc, char **argv)
{
    argv0 = argv[0];
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: stress_faults emfile|noproc|rofs|tmpfs|deleted|memfd [DIR]\n"); return 2; }
    const char *cmd = argv[1], *dir = argc > 2 ? argv[2] : "/tmp";
    watchdog(60);
    if (!strcmp(cmd, "emfile")) return emfile(dir);
    if (!strcmp(cmd, "noproc")) return noproc(dir);
    if (!strcmp(cmd, "rofs")) return rofs(dir);
    if (!strcmp(cmd, "registry")) return registry(dir);
    char path[4096], reopen[4096], probe_path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, cmd);
    int keep = -1;
    if (!strcmp(cmd, "tmpfs") || !strcmp(cmd, "plain")) {
        C_MAIN = st_check(!strcmp(cmd, "tmpfs") ? "tmpfs file: rules 1, 2, 5, 6 and release at last close"
                                                 : "plain file: rules 1, 2, 5, 6 and release at last close");
        int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (f < 0) st_die("create");
        close(f);
        snprintf(reopen, sizeof reopen, "%s", path);
        snprintf(probe_path, sizeof probe_path, "%s", path);
    } else if (!strcmp(cmd, "deleted") || !strcmp(cmd, "memfd")) {
        C_MAIN = st_check(!strcmp(cmd, "deleted") ? "deleted (unlinked) file: lock/unlock/close work, rules 1, 2, 5, 6"
                                                   : "memfd: lock/unlock/close work, rules 1, 2, 5, 6");
        if (!strcmp(cmd, "deleted")) {
            keep = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
            if (keep < 0) st_die("create");
            if (unlink(path) < 0) st_die("unlink");
        } else {
            keep = memfd_create("lockscope-stress", 0);
            if (keep < 0) st_die("memfd_create");
            if (ftruncate(keep, 4096) < 0) st_die("ftruncate");
        }
        /* `keep` is never locked through: it only keeps the file alive and
         * gives other processes a way in */
        snprintf(reopen, sizeof reopen, "/proc/self/fd/%d", keep);
        snprintf(probe_path, sizeof probe_path, "/proc/%d/fd/%d", (int)getpid(), keep);
    } else {
        fprintf(stderr, "unknown command %s\n", cmd);
        return 2;
    }
    C_FDS = st_check("no leaked descriptor");
    struct fdcount before = count_fds();
    rules(cmd, reopen, probe_path, C_MAIN);
    struct fdcount after = count_fds();
    /* low fds: the program's; high ones may include the shim's log, so
     * private descriptions are looked for by inode below */
    CHECK(C_FDS, after.low == before.low, "low fds: %d at start, %d at end", before.low, after.low);
    struct stat st;
    if (keep >= 0) {
        fstat(keep, &st);
        CHECK(C_FDS, fds_on_inode(st.st_dev, st.st_ino) == 1, "more than the keeper fd refer to the file");
        close(keep);
    } else {
        stat(path, &st);
        CHECK(C_FDS, fds_on_inode(st.st_dev, st.st_ino) == 0, "an fd still refers to the file");
        CHECK(C_FDS, locks_on_inode(st.st_dev, st.st_ino) == 0, "a lock is left on the file");
    }
    return st_report();
}
