/*
 * openlock_denywrite - atomic open-and-lock with a deny-write rule
 * (expect/openlock_denywrite.env: lockscope-ol-dw-*=deny-write,nonblock):
 * one writer, many readers, as Mac OS / Windows share modes.  An open for
 * writing takes an exclusive lock, a read-only open a shared one; nonblock:
 * a conflicting open fails with EWOULDBLOCK (EAGAIN).
 *
 * Other processes are forked children (so under the shim in shim modes)
 * driven through pipes: each opens the file with the flags it is told, keeps
 * the descriptor until told to close it.  probe() (no shim) shows from
 * outside which lock is on the file.
 *
 *   w1 opens O_WRONLY (holds)   -> readers in this process and in a child
 *                                  get EAGAIN, a second writer too; probe W
 *   w1 closes                   -> two readers at once succeed; probe R;
 *                                  a writer gets EAGAIN
 *   readers close               -> a writer succeeds; O_RDWR counts as writing
 * Natively (and off/audit) nothing is locked: every open succeeds, probes U.
 */
#include "scen.h"

struct kid { pid_t pid; int to, from; };

/* child side: commands "o FLAGS" (open), "c" (close), "q" (quit) */
static void kid_loop(const char *path, int in, int out)
{
    int fd = -1;
    char cmd[32];
    for (;;) {
        size_t k = 0;
        char ch;
        while (k + 1 < sizeof cmd && read(in, &ch, 1) == 1 && ch != '\n') cmd[k++] = ch;
        cmd[k] = 0;
        int r = 0;
        if (cmd[0] == 'o') {
            fd = open(path, atoi(cmd + 2));
            r = fd < 0 ? errno : 0;
        } else if (cmd[0] == 'c') {
            r = close(fd) < 0 ? errno : 0;
            fd = -1;
        } else {
            _exit(0);
        }
        if (write(out, &r, sizeof r) != (ssize_t)sizeof r) _exit(1);
    }
}

static void kid_start(struct kid *k, const char *path)
{
    int to[2], from[2];
    if (pipe(to) < 0 || pipe(from) < 0) scen_die("pipe");
    fflush(NULL);
    pid_t p = fork();
    if (p < 0) scen_die("fork");
    if (p == 0) {
        close(to[1]); close(from[0]);
        kid_loop(path, to[0], from[1]);
    }
    close(to[0]); close(from[1]);
    k->pid = p; k->to = to[1]; k->from = from[0];
}

static const char *kid_cmd(struct kid *k, const char *cmd)
{
    if (write(k->to, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(k->to, "\n", 1) != 1)
        scen_die("write kid");
    int r;
    if (read(k->from, &r, sizeof r) != (ssize_t)sizeof r) return "hang";
    return errname(r);
}

static const char *kid_open(struct kid *k, int flags)
{
    char cmd[32];
    snprintf(cmd, sizeof cmd, "o %d", flags);
    return kid_cmd(k, cmd);
}

static void kid_stop(struct kid *k)
{
    if (write(k->to, "q\n", 2) != 2) scen_die("write kid");
    waitpid(k->pid, NULL, 0);
    close(k->to); close(k->from);
}

/* an open in this process that is closed at once: "0" or the errno name */
static const char *try_open(const char *path, int flags)
{
    int fd = open(path, flags);
    if (fd < 0) return errname(errno);
    close(fd);
    return "0";
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    const char *dir = getenv("SCEN_DIR");
    if (dir && *dir && chdir(dir) < 0) scen_die("chdir");
    const char *path = "lockscope-ol-dw-file";

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, "hello", 5) != 5) scen_die("write");
    SAY("create_probe=%c", probe(path, 'R', 0, 0));
    close(fd);
    SAY("created_probe_after_close=%c", probe(path, 'R', 0, 0));

    struct kid w1, w2, r1, r2;
    kid_start(&w1, path);
    kid_start(&w2, path);
    kid_start(&r1, path);
    kid_start(&r2, path);

    /* one writer holds */
    SAY("w1_open_wronly=%s", kid_open(&w1, O_WRONLY));
    SAY("w1_probe_r=%c", probe(path, 'R', 0, 0));
    SAY("self_open_rdonly=%s", try_open(path, O_RDONLY));
    SAY("r1_open_rdonly=%s", kid_open(&r1, O_RDONLY));
    kid_cmd(&r1, "c");                 /* (EBADF when its open failed) */
    SAY("w2_open_wronly=%s", kid_open(&w2, O_WRONLY));
    kid_cmd(&w2, "c");
    SAY("w2_open_rdwr=%s", kid_open(&w2, O_RDWR));
    kid_cmd(&w2, "c");
    SAY("self_open_rdwr=%s", try_open(path, O_RDWR));
    SAY("w1_close=%s", kid_cmd(&w1, "c"));
    SAY("after_w1_probe_r=%c", probe(path, 'R', 0, 0));

    /* two readers at once */
    SAY("r1_open_rdonly=%s", kid_open(&r1, O_RDONLY));
    SAY("r2_open_rdonly=%s", kid_open(&r2, O_RDONLY));
    int rd = open(path, O_RDONLY);
    SAY("self_open_rdonly_while_readers=%s", rd < 0 ? errname(errno) : "0");
    SAY("readers_probe_w=%c", probe(path, 'W', 0, 0));
    SAY("readers_probe_r=%c", probe(path, 'R', 0, 0));
    SAY("w1_open_wronly_while_readers=%s", kid_open(&w1, O_WRONLY));
    kid_cmd(&w1, "c");
    SAY("self_open_wronly_while_readers=%s", try_open(path, O_WRONLY));
    char buf[8] = {0};
    SAY("self_read=%s", rd >= 0 && read(rd, buf, 5) == 5 ? buf : "failed");
    if (rd >= 0) close(rd);
    SAY("r1_close=%s", kid_cmd(&r1, "c"));
    SAY("one_reader_probe_w=%c", probe(path, 'W', 0, 0));
    SAY("w2_open_wronly_one_reader=%s", kid_open(&w2, O_WRONLY));
    kid_cmd(&w2, "c");
    SAY("r2_close=%s", kid_cmd(&r2, "c"));
    SAY("no_reader_probe_w=%c", probe(path, 'W', 0, 0));

    /* after everybody closed, a writer gets it */
    SAY("w2_open_wronly_after=%s", kid_open(&w2, O_WRONLY));
    SAY("w2_probe_r=%c", probe(path, 'R', 0, 0));
    SAY("w2_close=%s", kid_cmd(&w2, "c"));
    SAY("final_probe_w=%c", probe(path, 'W', 0, 0));

    kid_stop(&w1); kid_stop(&w2); kid_stop(&r1); kid_stop(&r2);
    SAY("done=1");
    return 0;
}
