/*
 * backend_linux.c - the Linux lock backend: private descriptions re-opened
 * through /proc/self/fd, carrying open-file-description locks (see
 * backend.h).  Everything here is async-signal-safe (open, fcntl, close,
 * getrlimit).
 */
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
 * of a limit past 64.  `strict`: when no such number is free, fail (-1,
 * the fd closed) rather than keep a number the program would get next. */
static int move_high(int fd, int strict)
{
    struct rlimit rl;
    int base = 0, nfd = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        if (rl.rlim_cur == RLIM_INFINITY)
            base = 1 << 16;
        else if (rl.rlim_cur > 4)
            base = (int)(rl.rlim_cur - rl.rlim_cur / 4);
    }
    if (base >= FD_LIMIT)
        base = FD_LIMIT - 4096;
    if (base > 0)
        nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base);
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

int ls_private_reopen(int fd, int acc)
{
    char path[48] = "/proc/self/fd/";
    fmt_int(path + 14, fd);
    int flags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_LARGEFILE;
    int p = REAL(open)(path, flags | acc);
    if (p < 0 && acc == O_RDWR)
        return -errno;
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

