/*
 * rule6_fork - rule 6: after fork the child does NOT own the parent's locks
 * (POSIX): its requests conflict with them, its unlock or close releases
 * nothing, and the parent's locks go away when the parent exits even while a
 * child still has the description open.  A naive "OFD everywhere" converter
 * gets the last point wrong (the lock would live on in the child's fd).
 *
 * child1: on the inherited fd, F_SETLK W [0,10) -> EAGAIN, F_GETLK names the
 *   parent, unlock -> 0 but the lock stays (W), a lock on [20,30) -> granted,
 *   the parent cannot take [20,30), the child exits without closing -> [20,30)
 *   free again, [0,10) still W.
 * child2: closes the inherited fd -> still W.
 * middle: a child M opens the file, locks [40,50), forks G (inherits the fd),
 *   locks [60,70), and exits while G keeps the fd open: both ranges U.
 *   G can then lock [40,50) through the inherited fd.
 */
#include "scen.h"
#include <sys/prctl.h>

static const char *path;

static void child1(int fd, int to_parent, int from_parent)
{
    SAY("child1_setlk=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 0, 10)));
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 10;
    if (fcntl(fd, F_GETLK, &fl) < 0)
        SAY("child1_getlk=%s", errname(errno));
    else
        SAY("child1_getlk=%s,%s", fl.l_type == F_WRLCK ? "W" : fl.l_type == F_RDLCK ? "R" : "U",
            fl.l_type == F_UNLCK ? "none" : fl.l_pid == getppid() ? "parent" :
            fl.l_pid == getpid() ? "self" : fl.l_pid <= 0 ? "nonpositive" : "other");
    SAY("child1_unlock=%s", res(scen_setlk(fd, F_SETLK, F_UNLCK, 0, 10)));
    SAY("child1_probe_after_unlock=%c", probe(path, 'W', 0, 10));
    SAY("child1_lock_other_range=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 20, 10)));
    SAY("child1_probe_other_range=%c", probe(path, 'W', 20, 10));
    scenb_send(to_parent, 'L');
    scenb_recv(from_parent, 10);      /* the parent tried [20,30) */
    _exit(0);                         /* no close, no unlock */
}

/* The middle process M and its child G (see the header). */
static void middle(int report, int gate)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) _exit(3);
    char m = scen_setlk(fd, F_SETLK, F_WRLCK, 40, 10) == 0 ? 'L' : 'E';
    fflush(NULL);
    pid_t g = fork();
    if (g < 0) _exit(3);
    if (g == 0) {
        /* G: keep the inherited fd open until the top process says so,
         * then try [40,50) through it and report. */
        scenb_watch("grandchild_watchdog", 20);
        int c = scenb_recv(gate, 15);
        if (c == 't') {
            char r = scen_setlk(fd, F_SETLK, F_WRLCK, 40, 10) == 0 ? '0' :
                     errno == EAGAIN || errno == EACCES ? 'A' : 'X';
            if (write(report, &r, 1) != 1) _exit(3);
            scenb_recv(gate, 15);
        }
        _exit(0);
    }
    if (m == 'L' && scen_setlk(fd, F_SETLK, F_WRLCK, 60, 10) != 0) m = 'E';
    int32_t gp = g;
    char msg[1 + sizeof gp];
    msg[0] = m;
    memcpy(msg + 1, &gp, sizeof gp);
    if (write(report, msg, sizeof msg) != (ssize_t)sizeof msg) _exit(3);
    _exit(0);                         /* exits holding both locks */
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    path = scen_path("rule6_fork");
    unlink(path);
    /* Orphaned grandchildren come back to us, so we can reap them. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, "0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz", 72) != 72)
        scen_die("write");
    SAY("parent_lock=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 0, 10)));

    /* child1 */
    int up[2], down[2];
    if (pipe(up) < 0 || pipe(down) < 0) scen_die("pipe");
    pid_t c = scenb_fork();
    if (c == 0) {
        close(up[0]);
        close(down[1]);
        child1(fd, up[1], down[0]);
    }
    close(up[1]);
    close(down[0]);
    int r = scenb_recv(up[0], 8);
    if (r != 'L') { SAY("child1=hang"); kill(c, SIGKILL); }
    SAY("parent_lock_child_range=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 20, 10)));
    scenb_send(down[1], 'g');
    int st = 0;
    if (scenb_wait(c, 5, &st) < 0) { SAY("child1_wait=hang"); kill(c, SIGKILL); }
    close(up[0]);
    close(down[1]);
    SAY("after_child1_exit_child_range=%c", probe(path, 'W', 20, 10));
    SAY("after_child1_exit_parent_range=%c", probe(path, 'W', 0, 10));

    /* child2: closes the inherited fd */
    c = scenb_fork();
    if (c == 0) {
        SAY("child2_close=%s", res(close(fd)));
        SAY("child2_probe_after_close=%c", probe(path, 'W', 0, 10));
        _exit(0);
    }
    if (scenb_wait(c, 5, &st) < 0) { SAY("child2_wait=hang"); kill(c, SIGKILL); }
    SAY("after_child2_exit=%c", probe(path, 'W', 0, 10));
    SAY("parent_unlock=%s", res(scen_setlk(fd, F_SETLK, F_UNLCK, 0, 10)));
    SAY("after_parent_unlock=%c", probe(path, 'W', 0, 10));
    close(fd);

    /* middle process that exits while its child keeps the fd open */
    int rep[2], gate[2];
    if (pipe(rep) < 0 || pipe(gate) < 0) scen_die("pipe");
    pid_t mid = scenb_fork();
    if (mid == 0) {
        close(rep[0]);
        close(gate[1]);
        middle(rep[1], gate[0]);
    }
    close(rep[1]);
    close(gate[0]);
    char msg[5];
    if (scenb_recvn(rep[0], msg, sizeof msg, 8) < 0) {
        SAY("middle=hang");
        kill(mid, SIGKILL);
        return 0;
    }
    int32_t gp;
    memcpy(&gp, msg + 1, sizeof gp);
    pid_t g = gp;
    scenb_adopt(g);
    SAY("middle_locks=%s", msg[0] == 'L' ? "0" : "failed");
    if (scenb_wait(mid, 5, &st) < 0) { SAY("middle_wait=hang"); kill(mid, SIGKILL); }
    SAY("middle_exit_status=%d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    SAY("grandchild_alive=%s", kill(g, 0) == 0 ? "yes" : "no");
    SAY("after_middle_exit=%c,%c", probe(path, 'W', 40, 10), probe(path, 'W', 60, 10));
    scenb_send(gate[1], 't');
    r = scenb_recv(rep[0], 8);
    SAY("grandchild_lock=%s", r == '0' ? "0" : r == 'A' ? "EAGAIN" : r < 0 ? "hang" : "other");
    SAY("grandchild_holds=%c", probe(path, 'W', 40, 10));
    close(gate[1]);
    if (scenb_wait(g, 5, &st) < 0) { SAY("grandchild_wait=hang"); kill(g, SIGKILL); }
    SAY("after_grandchild_exit=%c", probe(path, 'W', 40, 10));
    close(rep[0]);

    unlink(path);
    SAY("done=1");
    return 0;
}
