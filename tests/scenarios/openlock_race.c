/*
 * openlock_race - atomic open-and-lock: the O_EXLOCK|O_NONBLOCK race of the
 * seed (macos-exlock-open-race): open, lock, unlink, close, by several
 * processes over the same files.  BSD's O_EXLOCK is "open, then lock": a
 * process can open a file, lose the CPU while another locks, unlinks and
 * closes it, then get its lock on a file nobody will ever look at again.
 *
 * Rules (expect/openlock_race.env): lockscope-ol-race-*=exclusive,nonblock and
 * lockscope-ol-wait-*=exclusive (blocking), matched against the relative path
 * as given (the scenario works in $SCEN_DIR).
 *
 * Where the shim applies the rules (LD_PRELOAD set, LOCKSCOPE_MODE fix or
 * strict, LOCKSCOPE_OPEN_LOCK set) the program only calls open(), as a
 * program written for O_EXLOCK would; everywhere else (native, off, audit)
 * it emulates O_EXLOCK by hand as open() then an OFD lock: the same race.
 *
 * (w) deterministic: a holder WITHOUT the shim holds the lock; we open (and,
 *     natively, wait for the lock); the holder renames a new file over the
 *     path, then releases.  Natively we end up locking the old, unlinked
 *     inode ("stale"); under the rule the shim finds it dead, reports
 *     open-lock-race-retried and opens the new file ("fresh", content v2).
 *     Same with the holder unlinking the path: natively a lock on a dead
 *     file, under the rule ENOENT.
 * (s) statistical, the seed: 4 processes, FILES files, same order, each
 *     opens with O_RDWR|O_NONBLOCK, skips busy/missing files, and on a lock
 *     checks st_nlink: 0 means "I locked a file that was already unlinked"
 *     (dead).  Otherwise it unlinks (claims) the file.  Stable everywhere:
 *     every file is claimed exactly once, no unlink fails, none is left.
 *     Under the rule dead must be 0 (checked); natively dead > 0 is likely
 *     but not certain, so its count is only a '#' comment there.
 */
#include "scen.h"

#include <dirent.h>
#include <sys/mman.h>
#include <sys/prctl.h>

#ifndef FILES
#define FILES 1000
#endif
#define PROCS 4

static int rules_applied(void)
{
    const char *pre = getenv("LD_PRELOAD"), *m = getenv("LOCKSCOPE_MODE");
    return pre && strstr(pre, "liblockscope") && getenv("LOCKSCOPE_OPEN_LOCK") && m &&
           (strcmp(m, "fix") == 0 || strcmp(m, "strict") == 0);
}

static int applied;

/* "open with O_EXLOCK": the rule, or open-then-lock by hand. */
static int exlock_open(const char *path, int flags, int wait)
{
    int fd = open(path, flags);
    if (fd < 0 || applied)
        return fd;
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    int r;
    do r = fcntl(fd, wait ? F_OFD_SETLKW : F_OFD_SETLK, &fl); while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno == EACCES ? EAGAIN : errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

/* ---- the holder for (w): "--hold PATH OP", runs without the shim ---- */
static int hold_main(const char *path, char op)
{
    int fd = open(path, O_RDWR);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) { printf("E%d\n", errno); fflush(stdout); return 0; }
    printf("ok\n");
    fflush(stdout);
    char c;
    if (read(0, &c, 1) != 1) return 0;
    scen_sleep_ms(300);
    if (op == 'r') {
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.new", path);
        int n = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (n < 0 || write(n, "v2", 2) != 2) return 1;
        close(n);
        if (rename(tmp, path) < 0) return 1;
    } else {
        if (unlink(path) < 0) return 1;
    }
    close(fd);                 /* releases */
    printf("released\n");
    fflush(stdout);
    return 0;
}

static void hold_start(struct scen_holder *h, const char *path, char op)
{
    char ops[2] = { op, 0 };
    scen_spawn_noshim(h, (const char *const[]){ "--hold", path, ops, NULL }, NULL);
    char line[64];
    scen_read_line(h->from, line, sizeof line, 5000);
    if (strcmp(line, "ok") != 0) { SAY("holder=%s", line); exit(1); }
}

static void put(const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) scen_die("write");
    close(fd);
}

/* What the descriptor we got names: "fresh" (the file at path now),
 * "stale" (an inode the path no longer names) or "dead" (unlinked). */
static const char *state(int fd, const char *path)
{
    struct stat a, b;
    if (fstat(fd, &a) < 0) return "EBADF";
    if (a.st_nlink == 0) return "dead";
    if (stat(path, &b) < 0 || a.st_dev != b.st_dev || a.st_ino != b.st_ino) return "stale";
    return "fresh";
}

static void wait_case(const char *name, char op)
{
    char path[64];
    snprintf(path, sizeof path, "lockscope-ol-wait-%s", name);
    put(path, "v1");
    struct scen_holder h;
    hold_start(&h, path, op);
    if (write(h.to, "g", 1) != 1) scen_die("write");
    int fd = exlock_open(path, O_RDWR, 1);
    int e = errno;
    scen_holder_finish(&h);
    if (fd < 0) {
        SAY("wait_%s_open=%s", name, errname(e));
    } else {
        char buf[8] = {0};
        ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
        SAY("wait_%s_open=0", name);
        SAY("wait_%s_state=%s", name, state(fd, path));
        SAY("wait_%s_content=%s", name, n > 0 ? buf : "none");
        SAY("wait_%s_probe=%c", name, probe(path, 'R', 0, 0));
        close(fd);
    }
    unlink(path);
}

struct counts { int claimed, dead, busy, gone, unlink_failed; };

static pthread_barrier_t *bar;      /* process-shared: all start each file together */

static void worker(int go, int out)
{
    struct counts c = {0};
    char b;
    if (read(go, &b, 1) != 1) _exit(2);
    for (int i = 0; i < FILES; i++) {
        pthread_barrier_wait(bar);
        char path[64];
        snprintf(path, sizeof path, "lockscope-ol-race-%03d", i);
        int fd = exlock_open(path, O_RDWR | O_NONBLOCK, 0);
        if (fd < 0) {
            if (errno == ENOENT) c.gone++;
            else if (errno == EAGAIN) c.busy++;
            else _exit(3);
            continue;
        }
        struct stat st;
        if (fstat(fd, &st) < 0) _exit(4);
        if (st.st_nlink == 0) {
            c.dead++;                /* locked a file already unlinked */
        } else {
            if (unlink(path) < 0) c.unlink_failed++;
            c.claimed++;
        }
        close(fd);
    }
    if (write(out, &c, sizeof c) != (ssize_t)sizeof c) _exit(5);
    _exit(0);
}

static void seed_race(void)
{
    for (int i = 0; i < FILES; i++) {
        char path[64];
        snprintf(path, sizeof path, "lockscope-ol-race-%03d", i);
        put(path, "x");
    }
    bar = mmap(NULL, sizeof *bar, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (bar == MAP_FAILED) scen_die("mmap");
    pthread_barrierattr_t ba;
    pthread_barrierattr_init(&ba);
    pthread_barrierattr_setpshared(&ba, PTHREAD_PROCESS_SHARED);
    pthread_barrier_init(bar, &ba, PROCS);
    int go[2], out[2];
    if (pipe(go) < 0 || pipe(out) < 0) scen_die("pipe");
    pid_t kids[PROCS];
    fflush(NULL);
    for (int k = 0; k < PROCS; k++) {
        kids[k] = fork();
        if (kids[k] < 0) scen_die("fork");
        if (kids[k] == 0) {
            /* never outlive the scenario (its watchdog may end it) */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() == 1) _exit(6);
            alarm(25);
            close(go[1]); close(out[0]);
            worker(go[0], out[1]);
        }
    }
    close(go[0]); close(out[1]);
    char gobuf[PROCS] = {0};
    if (write(go[1], gobuf, PROCS) != PROCS) scen_die("write");
    struct counts sum = {0};
    int reports = 0;
    for (int k = 0; k < PROCS; k++) {
        struct counts c;
        if (read(out[0], &c, sizeof c) == (ssize_t)sizeof c) {
            reports++;
            sum.claimed += c.claimed; sum.dead += c.dead; sum.busy += c.busy;
            sum.gone += c.gone; sum.unlink_failed += c.unlink_failed;
        }
    }
    int bad = 0;
    for (int k = 0; k < PROCS; k++) {
        int st;
        if (waitpid(kids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) bad++;
    }
    int left = 0;
    DIR *d = opendir(".");
    struct dirent *de;
    while (d && (de = readdir(d)))
        if (strncmp(de->d_name, "lockscope-ol-race-", 18) == 0) left++;
    if (d) closedir(d);

    SAY("race_processes=%d", reports);
    SAY("race_workers_failed=%d", bad);
    SAY("race_files=%d", FILES);
    SAY("race_claimed=%d", sum.claimed);
    SAY("race_unlink_failed=%d", sum.unlink_failed);
    SAY("race_left=%d", left);
    if (applied)
        SAY("race_dead_locks=%d", sum.dead);
    else
        SAY("# race_dead_locks=%d (native: >0 shows the race; not stable)", sum.dead);
    SAY("# race_busy=%d race_gone=%d", sum.busy, sum.gone);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--hold") == 0)
        return hold_main(argv[2], argv[3][0]);
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(25);
    const char *dir = getenv("SCEN_DIR");
    if (dir && *dir && chdir(dir) < 0) scen_die("chdir");
    applied = rules_applied();

    wait_case("replaced", 'r');
    wait_case("unlinked", 'u');
    seed_race();
    SAY("done=1");
    return 0;
}
