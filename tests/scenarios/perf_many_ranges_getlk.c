/*
 * perf_many_ranges_getlk - F_GETLK names the holder of one of many ranges
 * (issue 14: an owner's registry record is its hull, computed in bounded
 * time; past 16 ranges its end comes from the search tree and its type is
 * "maybe write", which readers confirm in the holder's fdinfo).
 *
 * A forked child (under the shim in shim modes) read-locks 40 single bytes
 * (0, 2, ... 78), write-locks byte 41 and byte 500 (the hull's end), then
 * waits.  The parent asks F_GETLK for bytes that conflict (a read range
 * with a write request, the write bytes with a read request, the last
 * range) and for bytes that do not (a read range with a read request, a
 * gap, past the end): every answer names the child, or is F_UNLCK.
 */
#include "scen.h"

static char tchar(short t) { return t == F_UNLCK ? 'U' : t == F_RDLCK ? 'R' : t == F_WRLCK ? 'W' : '?'; }

static void ask(const char *name, int fd, short type, off_t start, pid_t child)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type;
    fl.l_whence = SEEK_SET;
    fl.l_start = start;
    fl.l_len = 1;
    int r = fcntl(fd, F_GETLK, &fl);
    SAY("%s=%s,%c,%s,%lld+%lld", name, res(r), tchar(fl.l_type),
        fl.l_type == F_UNLCK ? "-" : fl.l_pid == child ? "child" : "other",
        fl.l_type == F_UNLCK ? 0LL : (long long)fl.l_start, fl.l_type == F_UNLCK ? 0LL : (long long)fl.l_len);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    char path[4096];
    snprintf(path, sizeof path, "%s", scen_path("perf_many_ranges"));
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("open");
    int go[2], done[2];
    if (pipe(go) < 0 || pipe(done) < 0) scen_die("pipe");
    pid_t child = fork();
    if (child < 0) scen_die("fork");
    if (child == 0) {
        close(go[0]);
        close(done[1]);
        int cfd = open(path, O_RDWR);
        int bad = cfd < 0;
        for (int i = 0; i < 40 && !bad; i++)
            bad = scen_setlk(cfd, F_SETLK, F_RDLCK, 2 * i, 1) < 0;
        if (!bad) bad = scen_setlk(cfd, F_SETLK, F_WRLCK, 41, 1) < 0;
        if (!bad) bad = scen_setlk(cfd, F_SETLK, F_WRLCK, 500, 1) < 0;
        char c = bad ? 'x' : 'k';
        if (write(go[1], &c, 1) != 1) _exit(2);
        if (read(done[0], &c, 1) < 0) _exit(2);
        _exit(0);
    }
    close(go[1]);
    close(done[0]);
    char c = 0;
    if (read(go[0], &c, 1) != 1) scen_die("child");
    SAY("child_locked=%c", c);
    ask("write_on_read_range", fd, F_WRLCK, 40, child);
    ask("read_on_read_range", fd, F_RDLCK, 40, child);
    ask("read_on_write_byte", fd, F_RDLCK, 41, child);
    ask("write_in_gap", fd, F_WRLCK, 79, child);
    ask("read_on_last", fd, F_RDLCK, 500, child);
    ask("write_past_end", fd, F_WRLCK, 501, child);
    if (write(done[1], &c, 1) != 1) scen_die("write");
    int st;
    waitpid(child, &st, 0);
    SAY("child_exit=%d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(fd);
    unlink(path);
    SAY("done=1");
    return 0;
}
