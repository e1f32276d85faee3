/*
 * rule6_fork_exit_window - rule 6: a parent's locks go when it exits, even
 * while a child it forked still has the descriptor open, also when the
 * parent exits at once after fork.
 *
 * Under the shim the lock lives on a private description; a forked child
 * holds a copy of that fd from the fork until its atfork handler closes it.
 * A parent that exits before the child has run would leave the lock alive
 * in the child.  The middle process and its child share one CPU, so the
 * child tends to run late; the top process checks /proc/locks (an oracle
 * the shim does not write) as soon as the middle process is reaped.
 */
#include "scen.h"
#include <sched.h>

/* Locks granted on path (-1 if it or /proc/locks cannot be read). */
static int locks_on(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? scen_holders_on(&st) : -1;
}

int main(void)
{
    const char *path = scen_path("rule6_fork_exit_window");
    int held = 0, failed = 0;
    for (int i = 0; i < 30; i++) {
        int p[2];
        if (pipe(p) != 0) return 2;
        pid_t mid = fork();
        if (mid == 0) {
            cpu_set_t one;
            CPU_ZERO(&one);
            CPU_SET(0, &one);
            sched_setaffinity(0, sizeof one, &one);
            close(p[1]);
            int fd = open(path, O_RDWR | O_CREAT, 0644);
            struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
            if (fd < 0 || fcntl(fd, F_SETLK, &fl) != 0) _exit(3);
            pid_t g = fork();
            if (g == 0) {               /* keeps the descriptor until the pipe closes */
                char c;
                while (read(p[0], &c, 1) < 0 && errno == EINTR) {}
                _exit(0);
            }
            _exit(g > 0 ? 0 : 4);
        }
        int st = 0;
        waitpid(mid, &st, 0);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) failed++;
        else if (locks_on(path) != 0) held++;
        close(p[1]);                    /* the grandchild sees EOF and exits */
        close(p[0]);
    }
    SAY("setup_failures=%d", failed);
    SAY("held_after_parent_exit=%d", held);
    return 0;
}
