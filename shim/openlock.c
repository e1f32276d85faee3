/*
 * openlock.c - atomic open-and-lock.
 *
 * BSD's O_EXLOCK is open() then flock(): between the two, another process
 * can unlink or replace the file, and open returns a lock on a file nobody
 * else will ever look at.  Here: open WITHOUT O_TRUNC, take the lock, then
 * compare fstat(fd) with stat(path) (same device and inode) and check that
 * the file is still linked; if not, close (releasing the lock), report
 * open-lock-race-retried and start again; only then truncate.
 *
 * The lock is an ordinary lock of the new description (an OFD lock on its
 * private description, whole file): F_GETLK sees it, it conflicts with
 * fcntl/lockf locks of every process (with and without the shim), it is
 * released at the description's last close and survives exec.
 * O_CREAT is split into "open existing" then "create exclusively", so the
 * shim always knows whether it created the file, and removes a file it
 * created when the lock cannot be had (nonblock): no file is left behind
 * that the program did not get.
 * Not locked (documented): O_PATH opens, directories, FIFOs and other
 * non-regular files.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "openlock.h"
#include "real.h"
#include "shim.h"

#define MAX_RETRIES 1000

int ls_openlock_active(void) { return g_ls.cfg.n_open_rules > 0; }

static const struct ls_open_rule *match(int dirfd, const char *path, char *abs, size_t cap)
{
    const struct ls_open_rule *r = ls_config_match_open(&g_ls.cfg, path);
    if (r) return r;
    if (ls_path_absolute(dirfd, path, abs, cap) == 0) {
        r = ls_config_match_open(&g_ls.cfg, abs);
        if (r) return r;
        char real[4096];
        if (realpath(abs, real))             /* existing file: its real path */
            r = ls_config_match_open(&g_ls.cfg, real);
    }
    return r;
}

static int real_openat_kind(int dirfd, const char *path, int flags, mode_t mode)
{
    return REAL(openat)(dirfd, path, flags, mode);
}

/* The whole-file lock on fd's owner; may wait (without g_mu). */
static int take_lock(int fd, int type, int wait, void *site, int *owner_priv)
{
    struct ls_guard g;
    int err = 0;
    ls_enter(&g);
    struct ls_desc *d = ls_desc_for_fd(fd, &err);
    struct ls_owner *o = d ? ls_owner_for(d, fd, &err) : NULL;
    if (!o) { ls_leave(&g); return err ? err : -ENOLCK; }
    if (o->priv >= 0 && type == F_WRLCK && o->acc == O_RDONLY) {
        /* a write lock needs a writable description: re-open the private one */
        int p = ls_private_reopen(fd, O_RDWR);
        if (p >= 0) {
            ls_fd_mark_private(o->priv, 0);
            REAL(close)(o->priv);
            o->priv = p;
            o->acc = O_RDWR;
        } else {
            type = F_RDLCK;      /* the best we can: documented */
        }
    }
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = (short)type;
    q.l_whence = SEEK_SET;
    int priv = o->priv;
    *owner_priv = priv;
    int r = REAL(fcntl)(priv, F_OFD_SETLK, &q);
    if (r < 0 && (errno == EAGAIN || errno == EACCES) && wait) {
        ls_leave(&g);
        r = REAL(fcntl)(priv, F_OFD_SETLKW, &q);
        int e = errno;
        ls_enter(&g);
        errno = e;
        d = ls_fd_get(fd);
        o = d ? d->owner : NULL;
        if (!o || o->priv != priv) { ls_leave(&g); return -EBADF; }
    }
    if (r < 0) {
        int e = errno == EACCES ? EAGAIN : errno;
        ls_leave(&g);
        return -e;
    }
    ls_owner_apply(o, 0, LS_OFFSET_MAX, type == F_WRLCK ? LS_WR : LS_RD);
    o->tid = ls_gettid();
    ls_leave(&g);
    (void)site;
    return 0;
}

int ls_openlock_open(int dirfd, const char *path, int flags, mode_t mode, int kind,
                     void *site, int *fd_out)
{
    char abs[4096];
    if (!path || (flags & O_PATH))
        return LS_OPENLOCK_NO_RULE;
    const struct ls_open_rule *rule = match(dirfd, path, abs, sizeof abs);
    if (!rule)
        return LS_OPENLOCK_NO_RULE;
    if (kind == LS_OPEN_CREAT || kind == LS_OPEN_CREAT64)
        flags = O_CREAT | O_WRONLY | O_TRUNC;
    if (kind == LS_OPEN_OPEN || kind == LS_OPEN_OPEN64 || kind == LS_OPEN_2 || kind == LS_OPEN64_2 ||
        kind == LS_OPEN_CREAT || kind == LS_OPEN_CREAT64)
        dirfd = AT_FDCWD;

    int saved = errno;
    int acc = flags & O_ACCMODE;
    int writing = acc != O_RDONLY || (flags & O_TRUNC);
    int type = rule->kind == LS_OPENLOCK_EXCLUSIVE ? F_WRLCK
             : rule->kind == LS_OPENLOCK_SHARED ? F_RDLCK
             : writing ? F_WRLCK : F_RDLCK;
    int wait = !rule->nonblock && !(flags & O_NONBLOCK);
    int base = flags & ~(O_TRUNC | O_CREAT | O_EXCL);
    int nofollow = (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;

    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        int created = 0;
        int fd = -1;
        if (!(flags & O_EXCL))
            fd = real_openat_kind(dirfd, path, base, 0);
        if (fd < 0 && (flags & O_CREAT) && ((flags & O_EXCL) || errno == ENOENT)) {
            fd = real_openat_kind(dirfd, path, base | O_CREAT | O_EXCL, mode);
            if (fd >= 0)
                created = 1;
            else if (errno == EEXIST && !(flags & O_EXCL))
                continue;                     /* appeared meanwhile: open it */
        }
        if (fd < 0) {
            *fd_out = -1;
            return LS_OPENLOCK_DONE;          /* errno from the open */
        }
        ls_fd_heal(fd);
        struct stat fst;
        if (fstat(fd, &fst) < 0 || !S_ISREG(fst.st_mode)) {
            /* not a regular file: no lock (documented) */
            if ((flags & O_TRUNC) && S_ISREG(fst.st_mode)) (void)ftruncate(fd, 0);
            errno = saved;
            *fd_out = fd;
            return LS_OPENLOCK_DONE;
        }
        int priv = -1;
        int r = take_lock(fd, type, wait, site, &priv);
        if (r < 0) {
            int e = r == -EAGAIN ? EWOULDBLOCK : -r;
            if (created)
                unlinkat(dirfd, path, 0);
            close(fd);
            if (e == EINTR) {
                struct ls_hazard h = { .name = "lock-eintr", .action = "observed", .call = "open",
                                       .fd = -1, .dev = fst.st_dev, .ino = fst.st_ino, .has_devino = 1,
                                       .type = type == F_WRLCK ? "exclusive" : "shared",
                                       .site = site, .detail = "open-and-lock interrupted by a signal" };
                ls_hazard(&h);
            }
            errno = e;
            *fd_out = -1;
            return LS_OPENLOCK_DONE;
        }
        /* The lock is held: is it on the file the path names now? */
        struct stat pst;
        int still = fstat(fd, &fst) == 0 && fst.st_nlink > 0 &&
                    fstatat(dirfd, path, &pst, nofollow) == 0 &&
                    pst.st_dev == fst.st_dev && pst.st_ino == fst.st_ino;
        if (!still) {
            struct ls_hazard h = { .name = "open-lock-race-retried", .action = "prevented", .call = "open",
                                   .fd = fd, .dev = fst.st_dev, .ino = fst.st_ino, .has_devino = 1,
                                   .type = type == F_WRLCK ? "exclusive" : "shared",
                                   .has_range = 1, .start = 0, .end = LS_OFFSET_MAX, .site = site,
                                   .detail = "the file was unlinked or replaced between open and lock: retried" };
            ls_hazard(&h);
            close(fd);
            continue;
        }
        if ((flags & O_TRUNC) && acc != O_RDONLY && ftruncate(fd, 0) < 0) {
            int e = errno;
            close(fd);
            errno = e;
            *fd_out = -1;
            return LS_OPENLOCK_DONE;
        }
        if ((flags & O_TRUNC) && acc == O_RDONLY) {
            /* Linux truncates on O_RDONLY|O_TRUNC when it may write: do the same */
            int w = REAL(openat)(dirfd, path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
            if (w >= 0) REAL(close)(w);
        }
        errno = saved;
        *fd_out = fd;
        return LS_OPENLOCK_DONE;
    }
    errno = EAGAIN;
    *fd_out = -1;
    return LS_OPENLOCK_DONE;
}

int ls_openlock_fopen(const char *path, const char *mode, void *site, FILE **out)
{
    int flags;
    if (!mode || !path)
        return LS_OPENLOCK_NO_RULE;
    switch (mode[0]) {
    case 'r': flags = 0; break;
    case 'w': flags = O_CREAT | O_TRUNC; break;
    case 'a': flags = O_CREAT | O_APPEND; break;
    default: return LS_OPENLOCK_NO_RULE;
    }
    int plus = 0;
    char fdmode[8];
    size_t k = 0;
    fdmode[k++] = mode[0];
    for (const char *m = mode + 1; *m; m++) {
        if (*m == '+') plus = 1;
        else if (*m == 'x') flags |= O_EXCL;
        else if (*m == 'e') flags |= O_CLOEXEC;
        else if (*m == ',') break;           /* ccs= and the like */
    }
    if (plus) fdmode[k++] = '+';
    fdmode[k] = 0;
    flags |= plus ? O_RDWR : mode[0] == 'r' ? O_RDONLY : O_WRONLY;
    int fd;
    int r = ls_openlock_open(AT_FDCWD, path, flags, 0666, LS_OPEN_OPEN, site, &fd);
    if (r == LS_OPENLOCK_NO_RULE)
        return r;
    if (fd < 0) { *out = NULL; return LS_OPENLOCK_DONE; }
    FILE *f = REAL(fdopen)(fd, fdmode);
    if (!f) {
        int e = errno;
        close(fd);
        errno = e;
    }
    *out = f;
    return LS_OPENLOCK_DONE;
}
