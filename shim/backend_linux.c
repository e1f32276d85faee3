/*
 * backend_linux.c - the Linux lock backend: private descriptions re-opened
 * through /proc/self/fd, carrying open-file-description locks (see
 * backend.h).  Everything here is async-signal-safe (open, openat, fcntl,
 * close, getrlimit).
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "backend.h"
#include "real.h"
#include "shim.h"

#define FD_LIMIT LS_FD_LIMIT

/* ---- private fds ---- */

static size_t fmt_int(char *buf, int v)
{
    char tmp[16];
    size_t n = 0, i = 0;
    if (v < 0) { buf[i++] = '-'; v = -v; }
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) buf[i++] = tmp[--n];
    buf[i] = 0;
    return i;
}

/* The shim's fds live high, away from the numbers programs expect: at or
 * above 3/4 of RLIMIT_NOFILE (2^16 when unlimited), else at or above half
 * of a limit past 64.  The base is computed once and kept (a getrlimit per
 * private description was one system call in six of a first lock); it is
 * computed again when F_DUPFD says it no longer fits (EINVAL: the limit
 * was lowered; EMFILE: nothing free above it).  A limit raised after the
 * first private description keeps them at 3/4 of the old one: still high.
 * Read and written with relaxed atomics: any thread computes the same. */
static int g_base;              /* 0: not computed */

static int fd_base(void)
{
    struct rlimit rl;
    int base = 0;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY)
            base = 1 << 16;
        else if (rl.rlim_cur > 4)
            base = (int)(rl.rlim_cur - rl.rlim_cur / 4);
    }
    if (base >= FD_LIMIT)
        base = FD_LIMIT - 4096;
    return base > 0 ? base : -1;
}

/* `strict`: when no such number is free, fail (-1, the fd closed) rather
 * than keep a number the program would get next. */
static int move_high(int fd, int strict)
{
    int base = __atomic_load_n(&g_base, __ATOMIC_RELAXED), nfd = -1;
    if (base == 0) {
        base = fd_base();
        __atomic_store_n(&g_base, base, __ATOMIC_RELAXED);
    }
    if (base > 0)
        nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base);
    if (nfd < 0 && (errno == EINVAL || errno == EMFILE)) {
        int again = fd_base();  /* the limit may have changed */
        __atomic_store_n(&g_base, again, __ATOMIC_RELAXED);
        if (again != base && again > 0)
            nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base = again);
    }
    if (nfd < 0 && base > 64)
        nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base / 2);
    if (nfd < 0) {
        if (!strict)            /* nowhere high: keep the number we have */
            return fd;
        REAL(close)(fd);
        return -1;
    }
    REAL(close)(fd);
    return nfd;
}

int ls_move_high(int fd) { return move_high(fd, 0); }

/* /proc/self/fd, opened once and parked high, marked as the shim's: a
 * private re-open is then openat(procfd, "N") instead of a walk of
 * /proc/self/fd/N.  It names the fd table of the process that opened it,
 * so it is used only under g_mu (a signal handler's re-open walks the
 * path), only by that process (g_procfd_pid), and never by a vfork child;
 * a forked child closes its copy when it first needs its own (a child
 * sharing the table forgets it: ls_backend_fork_child).  If the program
 * closes or takes its number, the fd table's private mark goes
 * (interpose.c heal/evict): it is then forgotten, never used. */
static int g_procfd = -1;
static pid_t g_procfd_pid;

static int procfd(void)
{
    if (ls_tls_vfork_child || !ls_held())
        return -1;
    if (g_procfd >= 0 && !ls_fd_is_private(g_procfd))
        g_procfd = -1;          /* not ours any more: forgotten, not closed */
    if (g_procfd >= 0 && g_procfd_pid != g_ls.pid) {
        /* a forked child's copy of its parent's: closed only now, so a
         * child that never locks makes no system call for it (it goes at
         * exec, close-on-exec, or exit) */
        ls_fd_mark_private(g_procfd, 0);
        REAL(close)(g_procfd);
        g_procfd = -1;
    }
    if (g_procfd < 0) {
        int d = REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d < 0)
            return -1;
        d = move_high(d, 1);
        if (d < 0)
            return -1;
        ls_fd_mark_private(d, 1);
        g_procfd = d;
        g_procfd_pid = g_ls.pid;
        g_ls.have_proc = 1;
    }
    return g_procfd;
}

void ls_backend_fd_moved(int from, int to)
{
    if (from >= 0 && from == g_procfd)
        g_procfd = to;
}

void ls_backend_fork_child(int own_table)
{
    /* own table: the copy is closed at the child's first re-open (pid
     * differs); a shared one is the parent's: forgotten */
    if (!own_table && g_procfd >= 0)
        g_procfd = -1;
}

int ls_private_reopen(int fd, int acc)
{
    char path[48] = "/proc/self/fd/";
    int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_LARGEFILE;
    int dir = procfd(), p;
    p = -1;
    if (dir >= 0) {
        char name[16];
        fmt_int(name, fd);
        p = REAL(openat)(dir, name, flags | acc);
        if (p < 0 && (errno == EBADF || errno == ENOTDIR)) {
            g_procfd = -1;      /* closed or replaced unseen (raw syscall): not ours */
            dir = -1;
        }
    }
    if (dir < 0) {
        fmt_int(path + 14, fd);
        p = REAL(open)(path, flags | acc);
    }
    if (p < 0)
        return -errno;
    p = move_high(p, 1);
    if (p < 0) {
        /* a private description at a low number would shift the program's
         * next open: the lock fails with ENOLCK instead (engine.c) */
        ls_debug("lockscope: fd %d: no free fd at or above 3/4 of RLIMIT_NOFILE for a private description: ENOLCK", fd);
        return -EMFILE;
    }
    ls_fd_mark_private(p, 1);
    return p;
}
