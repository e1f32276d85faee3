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
 * O_CREAT and O_EXCL go to the kernel as given (dangling symlinks,
 * directories and O_EXCL behave natively).  A file this open created is NOT
 * removed when its lock cannot be had: the only one who can hold a lock on a
 * file we just created is a process that opened it meanwhile, and removing
 * it would hand that process a lock on a dead file, the very race this code
 * exists to close (BSD's O_EXLOCK|O_CREAT|O_NONBLOCK leaves it too).
 * Descriptors the program never sees (a failed attempt, a retry) are closed
 * without going through the program's close(): no close-drops-lock record
 * for a close the program did not make.
 * Not locked (documented): O_PATH and O_TMPFILE opens, directories, FIFOs
 * and other non-regular files; O_TRUNC or O_CREAT on a directory fails with
 * EISDIR, as it does natively.
 */
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "openlock.h"
#include "backend.h"
#include "real.h"
#include "shim.h"

#define MAX_RETRIES 1000

int ls_openlock_active(void) { return g_ls.cfg.n_open_rules > 0; }

/* The real path of what open(dirfd, path) names, if it exists: resolved
 * from the path as the kernel walks it (a lexical ".." after a symlink would
 * name another file), through /proc/self/fd/N for openat's directory. */
static int real_of_existing(int dirfd, const char *path, char *out);

/* The real path of the file, or, for a file not created yet, the real
 * path of its directory joined with its name: creating a file through a
 * symlinked directory cannot dodge a rule either. */
static int real_of(int dirfd, const char *path, char *out)
{
    if (real_of_existing(dirfd, path, out) == 0)
        return 0;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    char dir[4096];
    size_t dl = slash ? (size_t)(slash - path) : 0;
    if (!*name || dl >= sizeof dir)
        return -1;
    if (slash) {
        memcpy(dir, path, dl ? dl : 1);
        dir[dl ? dl : 1] = 0;
    } else {
        dir[0] = '.';
        dir[1] = 0;
    }
    char rdir[4096];
    if (real_of_existing(dirfd, dir, rdir) < 0)
        return -1;
    size_t rl = strlen(rdir), nl = strlen(name);
    if (rl + 1 + nl + 1 > 4096)
        return -1;
    if (rl > 1) rdir[rl++] = '/';
    memcpy(rdir + rl, name, nl + 1);
    memcpy(out, rdir, rl + nl + 1);
    return 0;
}

static int real_of_existing(int dirfd, const char *path, char *out)
{
    if (path[0] == '/' || dirfd == AT_FDCWD)
        return realpath(path, out) ? 0 : -1;
    char joined[4096] = "/proc/self/fd/";
    size_t n = 14 + ls_fmt_u64(joined + 14, (uint64_t)dirfd), pl = strlen(path);
    if (n + 1 + pl + 1 > sizeof joined)
        return -1;
    joined[n++] = '/';
    memcpy(joined + n, path, pl + 1);
    return realpath(joined, out) ? 0 : -1;
}

/* The first rule (environment rules come first) that matches any form of
 * the path: as given, absolute, real.  Rules are one array, so "first" is
 * the lowest address. */
static const struct ls_open_rule *match(int dirfd, const char *path, char *abs, size_t cap)
{
    const struct ls_open_rule *best = ls_config_match_open(&g_ls.cfg, path), *r;
    if (best == g_ls.cfg.open_rules)
        return best;                         /* the first rule: nothing can beat it */
    if (ls_path_absolute(dirfd, path, abs, cap) == 0) {
        r = ls_config_match_open(&g_ls.cfg, abs);
        if (r && (!best || r < best)) best = r;
    }
    char real[4096];
    if (real_of(dirfd, path, real) == 0) {   /* existing file: its real path */
        r = ls_config_match_open(&g_ls.cfg, real);
        if (r && (!best || r < best)) best = r;
    }
    return best;
}

static int real_openat_kind(int dirfd, const char *path, int flags, mode_t mode)
{
    return REAL(openat)(dirfd, path, flags, mode);
}

/* Close a descriptor this code opened and the program never saw: the table
 * forgets it (its owner, hence its lock, goes), no hazard is recorded. */
static void discard(int fd)
{
    struct ls_guard g;
    int saved = errno;
    if (ls_enter(&g) < 0) {      /* signal path */
        REAL(close)(fd);
        ls_defer(LS_DEFER_CLOSED, fd, -1);
        errno = saved;
        return;
    }
    REAL(close)(fd);
    if (ls_fd_get(fd))
        ls_desc_unref_fd(fd, NULL);
    ls_leave(&g);
    errno = saved;
}

/* The whole-file lock on fd's owner; may wait (without g_mu). */
static int take_lock(int fd, int type, int wait, void *site, int *owner_priv)
{
    struct ls_guard g;
    int err = 0;
    if (ls_enter(&g) < 0)
        return -ENOLCK;          /* an open from a handler inside the shim */
    struct ls_desc *d = ls_desc_for_fd(fd, &err);
    struct ls_owner *o = d ? ls_owner_for(d, fd, &err) : NULL;
    if (!o) { ls_leave(&g); return err ? err : -ENOLCK; }
    if (o->priv >= 0 && ((type == F_WRLCK && o->acc == O_RDONLY) ||
                         (type == F_RDLCK && o->acc == O_WRONLY))) {
        /* a write lock needs a writable description, a read lock a readable
         * one (exclusive rule on O_RDONLY, shared rule on O_WRONLY):
         * re-open the private one read-write */
        int p = ls_private_reopen(fd, O_RDWR);
        if (p >= 0) {
            ls_fd_mark_private(o->priv, 0);
            REAL(close)(o->priv);
            o->priv = p;
            o->acc = O_RDWR;
        } else {
            /* no permission for the other direction: the one lock this
             * description can carry (documented) */
            type = type == F_WRLCK ? F_RDLCK : F_WRLCK;
        }
    }
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = (short)type;
    q.l_whence = SEEK_SET;
    int priv = o->priv;
    *owner_priv = priv;
    int r = REAL(fcntl)(priv, LS_BK_SETLK, &q);
    if (r < 0 && (errno == EAGAIN || errno == EACCES) && wait) {
        ls_leave(&g);
        r = REAL(fcntl)(priv, LS_BK_SETLKW, &q);
        int e = errno;
        ls_reenter(&g);
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
    /* O_PATH locks nothing; O_TMPFILE names a directory and makes an unnamed
     * file nobody can race for (and whose st_nlink of 0 would look dead) */
    if (!path || (flags & O_PATH) || (flags & O_TMPFILE) == O_TMPFILE)
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
    int base = flags & ~O_TRUNC;             /* truncate only once locked */
    int nofollow = (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0;

    for (int attempt = 0; attempt < MAX_RETRIES; attempt++) {
        int fd = real_openat_kind(dirfd, path, base, mode);
        if (fd < 0) {
            *fd_out = -1;
            return LS_OPENLOCK_DONE;          /* errno from the open */
        }
        ls_fd_heal(fd);
        struct stat fst;
        int fs = fstat(fd, &fst);
        if (fs < 0 || !S_ISREG(fst.st_mode)) {
            /* not a regular file: no lock (documented) */
            if (fs == 0 && S_ISDIR(fst.st_mode) && (flags & O_TRUNC)) {
                discard(fd);                  /* the kernel's answer to O_TRUNC on a directory */
                errno = EISDIR;
                *fd_out = -1;
                return LS_OPENLOCK_DONE;
            }
            errno = saved;
            *fd_out = fd;
            return LS_OPENLOCK_DONE;
        }
        int priv = -1;
        int r = take_lock(fd, type, wait, site, &priv);
        if (r < 0) {
            int e = r == -EAGAIN ? EWOULDBLOCK : -r;
            discard(fd);
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
            discard(fd);
            continue;
        }
        if ((flags & O_TRUNC) && acc != O_RDONLY && ftruncate(fd, 0) < 0) {
            int e = errno;
            discard(fd);
            errno = e;
            *fd_out = -1;
            return LS_OPENLOCK_DONE;
        }
        if ((flags & O_TRUNC) && acc == O_RDONLY) {
            /* Linux truncates on O_RDONLY|O_TRUNC (and refuses it without
             * write permission): do the same, on the very inode we locked */
            char self[48] = "/proc/self/fd/";
            self[14 + ls_fmt_u64(self + 14, (uint64_t)fd)] = 0;
            int w = REAL(open)(self, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
            if (w < 0) {
                int e = errno;
                discard(fd);
                errno = e;
                *fd_out = -1;
                return LS_OPENLOCK_DONE;
            }
            REAL(close)(w);
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
    if (!f)
        discard(fd);                          /* keeps errno */
    *out = f;
    return LS_OPENLOCK_DONE;
}
