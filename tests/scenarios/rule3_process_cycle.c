/*
 * rule3_process_cycle - rule 3: a wait cycle between processes that native
 * F_SETLKW detects (EDEADLK) must be detected under fix too, not turned
 * into a hang (OFD locks have no deadlock detection).
 *
 * cycle2: parent holds [0,1), a forked child (its own open) holds [10,11);
 * the parent waits for [10,11), then the child asks for [0,1): exactly one of
 * the two gets EDEADLK, backs off (unlocks its range) and the other is
 * granted.
 * cycle3: three children, worker i holds [10i,10i+1) and waits for worker
 * (i+1)%3's range, started one after the other: the kernel follows the
 * chain, exactly one gets EDEADLK, the other two are granted in turn.
 *
 * Who loses is not printed (the contract says "exactly one"); the counts are.
 */
#include "scen.h"

static const char *path;

static off_t range_of(int i) { return (off_t)10 * i; }

/* A worker process: its own description, holds its range, waits for `go`,
 * (optionally sleeps), asks for the next range with F_SETLKW and reports
 * [idx, code] on rep: 'L' locked / 'E' lock failed, then 'G' granted,
 * 'D' EDEADLK (then unlocks its own range), 'X' other error. */
static void worker(int idx, int n, int go, int rep, int delay_ms)
{
    int fd = open(path, O_RDWR);
    unsigned char msg[2] = { (unsigned char)idx, 'E' };
    if (fd >= 0 && scen_setlk(fd, F_SETLK, F_WRLCK, range_of(idx), 1) == 0)
        msg[1] = 'L';
    if (write(rep, msg, 2) != 2) _exit(3);
    if (msg[1] != 'L') _exit(0);
    if (scenb_recv(go, 10) != 'g') _exit(0);
    if (delay_ms) scenb_msleep(delay_ms);
    scenb_watch("worker_setlkw", 8);
    int r = scen_setlk(fd, F_SETLKW, F_WRLCK, range_of((idx + 1) % n), 1);
    scenb_unwatch();
    msg[1] = r == 0 ? 'G' : errno == EDEADLK ? 'D' : 'X';
    if (msg[1] == 'D')
        scen_setlk(fd, F_SETLK, F_UNLCK, range_of(idx), 1);
    if (write(rep, msg, 2) != 2) _exit(3);
    scen_setlk(fd, F_SETLK, F_UNLCK, 0, 0);
    close(fd);
    _exit(0);
}

static void count(const char *name, const char *codes, int n)
{
    int d = 0, g = 0, x = 0;
    for (int i = 0; i < n; i++) {
        if (codes[i] == 'D') d++;
        else if (codes[i] == 'G') g++;
        else x++;
    }
    SAY("%s_edeadlk_count=%d", name, d);
    SAY("%s_granted_count=%d", name, g);
    SAY("%s_other=%d", name, x);
    SAY("# %s_codes=%.*s (who lost: informational only)", name, n, codes);
}

static void cycle2(void)
{
    int go[2], rep[2];
    if (pipe(go) < 0 || pipe(rep) < 0) scen_die("pipe");
    pid_t c = scenb_fork();
    if (c == 0) {
        close(go[1]);
        close(rep[0]);
        worker(1, 2, go[0], rep[1], 300);
    }
    close(go[0]);
    close(rep[1]);
    int a = open(path, O_RDWR);     /* after the fork: separate opens */
    if (a < 0) scen_die("open");
    SAY("cycle2_parent_lock=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, range_of(0), 1)));
    unsigned char m[2];
    if (scenb_recvn(rep[0], m, 2, 5) < 0) { SAY("cycle2_child_lock=hang"); kill(c, SIGKILL); return; }
    SAY("cycle2_child_lock=%s", m[1] == 'L' ? "0" : "failed");
    scenb_send(go[1], 'g');
    /* The parent blocks first; the child's request ~300 ms later closes the cycle. */
    scenb_watch("cycle2_parent_setlkw", 8);
    int r = scen_setlk(a, F_SETLKW, F_WRLCK, range_of(1), 1);
    scenb_unwatch();
    char codes[2];
    codes[0] = r == 0 ? 'G' : errno == EDEADLK ? 'D' : 'X';
    if (codes[0] == 'D')
        scen_setlk(a, F_SETLK, F_UNLCK, range_of(0), 1);
    if (scenb_recvn(rep[0], m, 2, 8) < 0) { SAY("cycle2_child_setlkw=hang"); kill(c, SIGKILL); return; }
    codes[1] = (char)m[1];
    count("cycle2", codes, 2);
    scen_setlk(a, F_SETLK, F_UNLCK, 0, 0);
    int st;
    if (scenb_wait(c, 5, &st) < 0) { SAY("cycle2_wait=hang"); kill(c, SIGKILL); return; }
    SAY("cycle2_probe_after=%c", probe(path, 'W', 0, 0));
    close(a);
    close(go[1]);
    close(rep[0]);
}

static void cycle3(void)
{
    enum { N = 3 };
    int go[N][2], rep[2];
    pid_t pid[N];
    if (pipe(rep) < 0) scen_die("pipe");
    for (int i = 0; i < N; i++) {
        if (pipe(go[i]) < 0) scen_die("pipe");
        pid[i] = scenb_fork();
        if (pid[i] == 0) {
            close(rep[0]);
            for (int j = 0; j <= i; j++) close(go[j][1]);
            worker(i, N, go[i][0], rep[1], 0);
        }
        close(go[i][0]);
    }
    close(rep[1]);
    char locks[N + 1] = "???";
    for (int i = 0; i < N; i++) {
        unsigned char m[2];
        if (scenb_recvn(rep[0], m, 2, 5) < 0) {
            SAY("cycle3_locks=hang");
            for (int j = 0; j < N; j++) kill(pid[j], SIGKILL);
            return;
        }
        if (m[0] < N) locks[m[0]] = m[1] == 'L' ? '0' : 'E';
    }
    SAY("cycle3_locks=%s", locks);
    /* 0 waits for 1, then 1 waits for 2, then 2 asks for 0: the cycle. */
    char codes[N] = { '?', '?', '?' };
    for (int i = 0; i < N; i++) {
        scenb_send(go[i][1], 'g');
        if (i < N - 1) scenb_msleep(300);
    }
    for (int i = 0; i < N; i++) {
        unsigned char m[2];
        if (scenb_recvn(rep[0], m, 2, 8) < 0) {
            SAY("cycle3_setlkw=hang");
            for (int j = 0; j < N; j++) kill(pid[j], SIGKILL);
            return;
        }
        if (m[0] < N) codes[m[0]] = (char)m[1];
    }
    count("cycle3", codes, N);
    for (int i = 0; i < N; i++) {
        int st;
        if (scenb_wait(pid[i], 5, &st) < 0) { SAY("cycle3_wait=hang"); kill(pid[i], SIGKILL); }
        close(go[i][1]);
    }
    SAY("cycle3_probe_after=%c", probe(path, 'W', 0, 0));
    close(rep[0]);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    path = scen_path("rule3_process_cycle");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, "0123456789abcdefghijklmnopqrstuvwxyz", 36) != 36) scen_die("write");
    close(fd);

    cycle2();
    cycle3();

    unlink(path);
    SAY("done=1");
    return 0;
}
