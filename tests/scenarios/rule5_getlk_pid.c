/*
 * rule5_getlk_pid - rule 5: F_GETLK names a real holder pid, never -1 or 0
 * (a legacy program may kill(fl.l_pid, ...)); rules 2/9 through F_GETLK.
 *
 * (a) a forked child (same image, so under the shim in shim modes) opens the
 *     file itself and write-locks [0,10): F_GETLK from the parent reports
 *     F_WRLCK, l_pid == the child, the child's range; lockf(F_TEST) EACCES.
 * (c) the holder is a child that fork+exec'd this binary ("--holder"): a
 *     different image, still a real pid.
 * (n) the holder runs without the shim (scen_holder_start): rule 9.
 * (b) this process holds [0,10) through description A; F_GETLK through B:
 *     natively F_UNLCK (own locks never conflict), under fix F_WRLCK with
 *     l_pid == getpid(); lockf(F_TEST) through B: native 0, fix EACCES.
 *     Through A (or a dup of A) nothing conflicts, and only l_type changes.
 *     Closing B: natively drops A's lock (U), under fix not (W).
 * (d) l_pid <= 0 was never reported for a conflicting lock.
 */
#include "scen.h"

static const char *path;
static int nonpositive;

static const char *who(pid_t got, pid_t holder)
{
    if (got <= 0) nonpositive = 1;
    if (got == -1) return "minus1";
    if (got == 0) return "zero";
    if (holder > 0 && got == holder) return "child";
    if (got == getpid()) return "self";
    if (got == 2147483647) return "unnamed";
    return "other";
}

static char tchar(short t) { return t == F_UNLCK ? 'U' : t == F_RDLCK ? 'R' : t == F_WRLCK ? 'W' : '?'; }

/* F_GETLK for a write lock on [0,10) through fd; prints NAME_getlk=T,
 * NAME_getlk_pid=..., NAME_getlk_range=START+LEN. */
static void getlk(const char *name, int fd, pid_t holder)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 10;
    int r = fcntl(fd, F_GETLK, &fl);
    if (r < 0) { SAY("%s_getlk=%s", name, errname(errno)); return; }
    SAY("%s_getlk=%c", name, tchar(fl.l_type));
    if (fl.l_type == F_UNLCK) {
        SAY("%s_getlk_pid=none", name);
        return;
    }
    SAY("%s_getlk_pid=%s", name, who(fl.l_pid, holder));
    SAY("%s_getlk_range=%lld+%lld", name, (long long)fl.l_start, (long long)fl.l_len);
}

static void lockf_test(const char *name, int fd)
{
    if (lseek(fd, 0, SEEK_SET) != 0) scen_die("lseek");
    SAY("%s_lockf_test=%s", name, res(lockf(fd, F_TEST, 10)));
}

/* The asking side for (a), (c), (n): its own description, no locks. */
static void ask(const char *name, pid_t holder)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) scen_die("open");
    getlk(name, fd, holder);
    lockf_test(name, fd);
    close(fd);
}

/* "--holder PATH READYFD GOFD": open, write-lock [0,10), say 'L', wait. */
static int holder_run(const char *file, int rdy, int go)
{
    int fd = open(file, O_RDWR);
    char c = fd >= 0 && scen_setlk(fd, F_SETLK, F_WRLCK, 0, 10) == 0 ? 'L' : 'E';
    scenb_send(rdy, c);
    scenb_recv(go, 10);
    return 0;
}

/* (a) exec_self = 0, (c) exec_self = 1 */
static void forked_holder(const char *name, int exec_self)
{
    int rdy[2], go[2];
    if (pipe(rdy) < 0 || pipe(go) < 0) scen_die("pipe");
    pid_t c = scenb_fork();
    if (c == 0) {
        close(rdy[0]);
        close(go[1]);
        if (exec_self) {
            char a3[16], a4[16];
            snprintf(a3, sizeof a3, "%d", rdy[1]);
            snprintf(a4, sizeof a4, "%d", go[0]);
            char *args[] = { (char *)scenb_self(), (char *)"--holder", (char *)path, a3, a4, NULL };
            execve(args[0], args, environ);
            _exit(127);
        }
        _exit(holder_run(path, rdy[1], go[0]));
    }
    close(rdy[1]);
    close(go[0]);
    int r = scenb_recv(rdy[0], 5);
    SAY("%s_holder_lock=%s", name, r == 'L' ? "0" : r == 'E' ? "failed" : "hang");
    if (r == 'L')
        ask(name, c);
    scenb_send(go[1], 'g');
    int st;
    if (scenb_wait(c, 5, &st) < 0) { SAY("%s_wait=hang", name); kill(c, SIGKILL); }
    close(rdy[0]);
    close(go[1]);
    SAY("%s_probe_after=%c", name, probe(path, 'W', 0, 10));
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    if (argc >= 5 && strcmp(argv[1], "--holder") == 0)
        return holder_run(argv[2], atoi(argv[3]), atoi(argv[4]));
    path = scen_path("rule5_getlk_pid");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, "0123456789abcdefghij", 20) != 20) scen_die("write");
    close(fd);

    forked_holder("a", 0);
    forked_holder("c", 1);

    struct scen_holder h;
    int e = scen_holder_start(&h, path, 'W', 0, 10);
    SAY("n_holder_lock=%s", errname(e < 0 ? EIO : e));
    if (e == 0) {
        ask("n", h.pid);
        scen_holder_release(&h);
    }
    SAY("n_probe_after=%c", probe(path, 'W', 0, 10));

    /* (b) own lock through A, asked through B. */
    int a = open(path, O_RDWR);
    int b = open(path, O_RDWR);
    if (a < 0 || b < 0) scen_die("open");
    SAY("b_lock_a=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    getlk("b", b, -1);
    lockf_test("b", b);
    getlk("b_own", a, -1);
    int a2 = dup(a);
    if (a2 < 0) scen_die("dup");
    getlk("b_dup", a2, -1);
    lockf_test("b_own", a);
    {   /* no conflict: only l_type changes */
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 3; fl.l_len = 4; fl.l_pid = 4242;
        int r = fcntl(a, F_GETLK, &fl);
        SAY("b_own_getlk_untouched=%s", r == 0 && fl.l_type == F_UNLCK && fl.l_whence == SEEK_SET &&
            fl.l_start == 3 && fl.l_len == 4 && fl.l_pid == 4242 ? "yes" : "no");
    }
    close(b);
    SAY("b_probe_after_close_b=%c", probe(path, 'W', 0, 10));
    close(a2);
    SAY("b_probe_after_close_dup=%c", probe(path, 'W', 0, 10));
    close(a);
    SAY("b_probe_after_close_a=%c", probe(path, 'W', 0, 10));

    SAY("nonpositive_pid_seen=%s", nonpositive ? "yes" : "no");
    unlink(path);
    SAY("done=1");
    return 0;
}
