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

/* The shim's fds live high, away from the numbers programs expect. */
int ls_move_high(int fd)
{
    struct rlimit rl;
    int base = 0, nfd;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 64)
        base = (int)(rl.rlim_cur - rl.rlim_cur / 4);
    else if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur == RLIM_INFINITY)
        base = 1 << 16;
    if (base >= FD_LIMIT)
        base = FD_LIMIT - 4096;
    nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base);
    if (nfd < 0 && base > 64)
        nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, base / 2);
    if (nfd < 0)                /* nowhere high: keep the number we have */
        return fd;
    REAL(close)(fd);
    return nfd;
}

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
    p = ls_move_high(p);
    ls_fd_mark_private(p, 1);
    return p;
}

