/*
 * interpose.c - the exported symbols, and nothing else.
 *
 * Each wrapper unpacks its arguments exactly as libc does (the mode of open
 * only with O_CREAT or O_TMPFILE; one pointer-sized argument for fcntl),
 * calls the logic, and sets errno once at the boundary: errno is left as
 * the program had it on success, whatever the bookkeeping did.  In mode off
 * (and before the constructor has run) every wrapper is a straight call to
 * the real function.
 *
 * Fast paths: an fd the table does not track (no lock ever taken through
 * its description) costs one load on close/dup/fcntl, no lock, no syscall.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "openlock.h"
#include "backend.h"
#include "real.h"
#include "shim.h"

#define SITE __builtin_return_address(0)

extern char **environ;

#define NEED_MODE(flags) (((flags) & O_CREAT) || (((flags) & O_TMPFILE) == O_TMPFILE))

#define CALL_OR_ENOSYS(name, ...) \
    (REAL(name) ? real_##name(__VA_ARGS__) : (errno = ENOSYS, -1))

/* ---- new descriptors ---- */

/* A call we saw created fd: forget whatever the table had at that number
 * (a close we never saw), and remember that its description is new. */
/* Under g_mu: fd was just created by a call we saw. */
static void heal_locked(int fd)
{
    if (ls_fd_is_private(fd)) {
        /* one of our own fds was closed behind our back: its locks are gone */
        for (struct ls_owner *o = g_all_owners; o; o = o->next_all)
            if (o->priv == fd) {
                o->priv = -1;
                ls_owner_clear(o);
            }
        ls_fd_mark_private(fd, 0);
    }
    if (ls_fd_get(fd))
        ls_desc_unref_fd(fd, NULL);
}

void ls_fd_heal(int fd)
{
    if (fd < 0)
        return;
    if (LS_UNLIKELY(ls_fd_peek(fd) != NULL || ls_fd_is_private(fd))) {
        struct ls_guard g;
        int saved = errno;
        if (ls_enter(&g) < 0) {
            ls_defer(LS_DEFER_NEWFD, fd, -1);
        } else {
            heal_locked(fd);
            ls_leave(&g);
        }
        errno = saved;
    }
    ls_fd_born(fd);
}

static void dup_locked(int oldfd, int newfd)
{
    struct ls_desc *d = ls_fd_get(oldfd);
    if (d) {
        ls_desc_link_fd(newfd, d);
    } else {
        /* two fds of a description the table does not know */
        ls_fd_unborn(oldfd);
        ls_fd_unborn(newfd);
    }
}

/* The table follows a dup (errno kept): two fds of one description. */
__attribute__((noinline))
static void after_dup_tracked(int oldfd, int newfd)
{
    struct ls_guard g;
    int saved = errno;
    if (ls_enter(&g) < 0) {
        ls_defer(LS_DEFER_DUP, oldfd, newfd);
    } else {
        dup_locked(oldfd, newfd);
        ls_leave(&g);
    }
    errno = saved;
}

/* While locks are held: is oldfd (untracked) of a file no owner locks?
 * Then say so for its current generation (ls_fd_clean, shim.h): the closes
 * of it and of its dups need no fstat.  The generation is read before the
 * filter.  Returns the mark (0: none). */
__attribute__((noinline))
static uint32_t mark_clean(int oldfd)
{
    uint32_t g = atomic_load_explicit(&ls_locked_gen, memory_order_acquire);
    struct stat st;
    int saved = errno;
    int r = fstat(oldfd, &st);
    errno = saved;
    if (r != 0 || ls_inode_maybe_locked(st.st_dev, st.st_ino))
        return 0;
    __atomic_store_n(&ls_fd_clean[oldfd], g, __ATOMIC_RELAXED);
    return g;
}

/* The general case: either fd tracked or the shim's, or out of the table. */
__attribute__((noinline))
static void after_dup_slow(int oldfd, int newfd)
{
    if (LS_UNLIKELY(ls_fd_busy(newfd)))
        ls_fd_heal(newfd);
    if (LS_UNLIKELY(ls_fd_busy(oldfd))) {
        after_dup_tracked(oldfd, newfd);
    } else {
        ls_fd_unborn(oldfd);
        ls_fd_unborn(newfd);
        if ((unsigned)newfd < LS_FD_LIMIT)
            __atomic_store_n(&ls_fd_clean[newfd], 0, __ATOMIC_RELAXED);
    }
}

static inline void after_dup(int oldfd, int newfd)
{
    if (LS_UNLIKELY((unsigned)newfd >= LS_FD_LIMIT || (unsigned)oldfd >= LS_FD_LIMIT ||
                    (__atomic_load_n(&ls_fd_state[newfd], __ATOMIC_ACQUIRE) |
                     __atomic_load_n(&ls_fd_state[oldfd], __ATOMIC_ACQUIRE)))) {
        if (newfd >= 0)
            after_dup_slow(oldfd, newfd);
        return;
    }
    /* two fds of a description the table does not know */
    __atomic_store_n(&ls_fd_born_map[oldfd], 0, __ATOMIC_RELAXED);
    __atomic_store_n(&ls_fd_born_map[newfd], 0, __ATOMIC_RELAXED);
    uint32_t m = __atomic_load_n(&ls_fd_clean[oldfd], __ATOMIC_RELAXED);
    if (LS_UNLIKELY(atomic_load_explicit(&g_locked_owners, memory_order_relaxed) > 0) &&
        m != atomic_load_explicit(&ls_locked_gen, memory_order_relaxed))
        m = mark_clean(oldfd);
    __atomic_store_n(&ls_fd_clean[newfd], m, __ATOMIC_RELAXED);
}

/* Under g_mu, in the ls_leave of the section a signal handler interrupted:
 * the table catches up with what the handler did. */
void ls_apply_deferred(int kind, int a, int b, int c, int64_t s, int64_t e)
{
    switch (kind) {
    case LS_DEFER_CLOSED:
        if (ls_fd_get(a))
            ls_desc_unref_fd(a, NULL);
        break;
    case LS_DEFER_NEWFD:
        heal_locked(a);
        break;
    case LS_DEFER_ADOPT: {
        /* a = program fd, b = private fd made by a handler, c = type */
        int err = 0;
        struct ls_desc *d = ls_fd_get(a) ? ls_fd_get(a) : ls_desc_for_fd(a, &err);
        struct ls_owner *o = d ? d->owner : NULL;
        if (d && !o) {
            if (d->inode->shared) {
                o = d->inode->shared;
                o->refs++;
            } else if ((o = ls_owner_new(d->inode, d->acc))) {
                o->refs = 1;
            }
            d->owner = o;
        }
        if (o && o->priv < 0) {
            o->priv = b;
            o->acc = d->acc;
            ls_owner_apply(o, s, e, c);
            break;
        }
        /* no owner to give it to, or one that has its private fd already:
         * move the lock there (released, then taken: not atomic) */
        struct flock q;
        memset(&q, 0, sizeof q);
        q.l_type = F_UNLCK;
        q.l_whence = SEEK_SET;
        ls_range_to_flock(s, e, &q.l_start, &q.l_len);
        REAL(fcntl)(b, LS_BK_SETLK, &q);
        ls_fd_mark_private(b, 0);
        REAL(close)(b);
        if (o && o->priv >= 0) {
            q.l_type = (short)(c == LS_WR ? F_WRLCK : F_RDLCK);
            if (REAL(fcntl)(o->priv, LS_BK_SETLK, &q) == 0)
                ls_owner_apply(o, s, e, c);
        }
        break;
    }
    case LS_DEFER_LOCKED: {
        /* a = fd, b = the private fd the handler used, c = type */
        struct ls_desc *d = ls_fd_get(a);
        struct ls_owner *o = d ? d->owner : NULL;
        if (!o)
            break;
        if (o->priv >= 0 && o->priv != b) {
            /* made on a handler's private fd that was merged into this
             * owner's since: do it again where the owner's locks are */
            struct flock q;
            memset(&q, 0, sizeof q);
            q.l_type = (short)(c == LS_WR ? F_WRLCK : c == LS_RD ? F_RDLCK : F_UNLCK);
            q.l_whence = SEEK_SET;
            ls_range_to_flock(s, e, &q.l_start, &q.l_len);
            if (REAL(fcntl)(o->priv, LS_BK_SETLK, &q) < 0)
                break;
        }
        ls_owner_apply(o, s, e, c);
        break;
    }
    case LS_DEFER_DUP:
        heal_locked(b);
        dup_locked(a, b);
        break;
    case LS_DEFER_RESYNC: {
        int saved = errno;
        for (int fd = 0; fd < ls_fd_max(); fd++)
            if (ls_fd_get(fd) && REAL(fcntl)(fd, F_GETFD) < 0 && errno == EBADF)
                ls_desc_unref_fd(fd, NULL);
        for (struct ls_owner *o = g_all_owners; o; o = o->next_all)
            if (o->priv >= 0 && REAL(fcntl)(o->priv, F_GETFD) < 0 && errno == EBADF) {
                ls_fd_mark_private(o->priv, 0);
                o->priv = -1;
                ls_owner_clear(o);
            }
        errno = saved;
        break;
    }
    }
}

static int open_common(int dirfd, const char *path, int flags, mode_t mode, int kind, void *site)
{
    int fd;
    if (LS_UNLIKELY(ls_fixing() && ls_openlock_active())) {
        int r = ls_openlock_open(dirfd, path, flags, mode, kind, site, &fd);
        if (r != LS_OPENLOCK_NO_RULE)
            return fd;
    }
    switch (kind) {
    case LS_OPEN_OPEN:     fd = REAL(open)(path, flags, mode); break;
    case LS_OPEN_OPEN64:   fd = REAL(open64)(path, flags, mode); break;
    case LS_OPEN_OPENAT:   fd = REAL(openat)(dirfd, path, flags, mode); break;
    case LS_OPEN_OPENAT64: fd = REAL(openat64)(dirfd, path, flags, mode); break;
    case LS_OPEN_2:        fd = REAL(__open_2)(path, flags); break;
    case LS_OPEN64_2:      fd = REAL(__open64_2)(path, flags); break;
    case LS_OPENAT_2:      fd = REAL(__openat_2)(dirfd, path, flags); break;
    case LS_OPENAT64_2:    fd = REAL(__openat64_2)(dirfd, path, flags); break;
    case LS_OPEN_CREAT:    fd = REAL(creat)(path, mode); break;
    default:               fd = REAL(creat64)(path, mode); break;
    }
    if (fd >= 0 && ls_active()) {
        ls_fd_heal(fd);
        if (LS_UNLIKELY(g_ls.cfg.n_scope_rules))
            ls_scope_at_open(dirfd, path, fd);
    }
    return fd;
}

/* The fast path of every open: the real call, then one byte load. */
static inline int opened(int fd)
{
    if (fd >= 0 && ls_active()) {
        if (LS_UNLIKELY(ls_fd_busy(fd)))
            ls_fd_heal(fd);
        else
            ls_fd_born(fd);
    }
    return fd;
}

#define OPEN_MODE(flags, last) \
    mode_t mode = 0; \
    if (NEED_MODE(flags)) { va_list ap; va_start(ap, last); mode = va_arg(ap, mode_t); va_end(ap); }

LS_EXPORT int open(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(AT_FDCWD, path, flags, mode, LS_OPEN_OPEN, SITE);
    return opened(REAL(open)(path, flags, mode));
}

LS_EXPORT int open64(const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(AT_FDCWD, path, flags, mode, LS_OPEN_OPEN64, SITE);
    return opened(REAL(open64)(path, flags, mode));
}

LS_EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(dirfd, path, flags, mode, LS_OPEN_OPENAT, SITE);
    return opened(REAL(openat)(dirfd, path, flags, mode));
}

LS_EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
    OPEN_MODE(flags, flags)
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(dirfd, path, flags, mode, LS_OPEN_OPENAT64, SITE);
    return opened(REAL(openat64)(dirfd, path, flags, mode));
}

LS_EXPORT int __open_2(const char *path, int flags)
{
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(AT_FDCWD, path, flags, 0, LS_OPEN_2, SITE);
    return opened(REAL(__open_2)(path, flags));
}
LS_EXPORT int __open64_2(const char *path, int flags)
{
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(AT_FDCWD, path, flags, 0, LS_OPEN64_2, SITE);
    return opened(REAL(__open64_2)(path, flags));
}
LS_EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(dirfd, path, flags, 0, LS_OPENAT_2, SITE);
    return opened(REAL(__openat_2)(dirfd, path, flags));
}
LS_EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(dirfd, path, flags, 0, LS_OPENAT64_2, SITE);
    return opened(REAL(__openat64_2)(dirfd, path, flags));
}
LS_EXPORT int creat(const char *path, mode_t mode)
{
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, LS_OPEN_CREAT, SITE);
    return opened(REAL(creat)(path, mode));
}
LS_EXPORT int creat64(const char *path, mode_t mode)
{
    if (LS_UNLIKELY(g_ls.open_hook))
        return open_common(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode, LS_OPEN_CREAT64, SITE);
    return opened(REAL(creat64)(path, mode));
}

/* ---- stdio ---- */

static FILE *fopen_common(const char *path, const char *mode, int is64, void *site)
{
    FILE *f;
    if (LS_UNLIKELY(ls_fixing() && ls_openlock_active())) {
        int r = ls_openlock_fopen(path, mode, site, &f);
        if (r != LS_OPENLOCK_NO_RULE)
            return f;
    }
    f = is64 ? REAL(fopen64)(path, mode) : REAL(fopen)(path, mode);
    if (f && ls_active()) {
        ls_fd_heal(fileno(f));
        if (LS_UNLIKELY(g_ls.cfg.n_scope_rules))
            ls_scope_at_open(AT_FDCWD, path, fileno(f));
    }
    return f;
}

LS_EXPORT FILE *fopen(const char *path, const char *mode) { return fopen_common(path, mode, 0, SITE); }
LS_EXPORT FILE *fopen64(const char *path, const char *mode) { return fopen_common(path, mode, 1, SITE); }

/* The program closes fd through `do_close`; the table follows.  The order
 * matters: hazards and the alias scan need the fd still open, and the
 * private description (the lock) may only go once the program's close
 * (and fclose's flush) is done, so no byte it wrote is unlocked early. */
struct closer { int (*fn)(void *); void *arg; };

static int close_tracked(int fd, const char *call, void *site, struct closer c)
{
    struct ls_guard g;
    if (ls_enter(&g) < 0) {
        /* signal path: close now, the table follows at the section's end */
        if (ls_fd_is_private(fd))
            return -EBADF;
        int r = c.fn(c.arg);
        int e = errno;
        ls_defer(LS_DEFER_CLOSED, fd, -1);
        return r < 0 ? -e : r;
    }
    if (ls_fd_is_private(fd)) {
        ls_leave(&g);
        return -EBADF;          /* not the program's fd: as if not open */
    }
    struct ls_desc *d = ls_fd_get(fd);
    if (d)
        ls_engine_on_close(fd, d, call, site);
    else if (g_locked_owners)
        ls_engine_on_close_untracked(fd, call, site);
    int r = c.fn(c.arg);
    int e = errno;
    if (ls_fd_get(fd))
        ls_desc_unref_fd(fd, call);
    ls_leave(&g);
    return r < 0 ? -e : r;
}

static int do_close_fd(void *arg) { return REAL(close)((int)(intptr_t)arg); }
static int do_fclose(void *arg) { return REAL(fclose)((FILE *)arg); }
static int do_closedir(void *arg) { return REAL(closedir)((DIR *)arg); }

/* An fd the table does not know, while the process holds locks: is it of
 * a file some owner holds locks on (natively its close would drop them)?
 * One fstat, no g_mu: the inode of a description the shim never saw made is
 * the kernel's to say; the lock-free filter of locked inodes (fdtable.c)
 * answers the rest.  An fd fstat fails on is left to the real call. */
__attribute__((noinline))
static int fstat_of_locked(int fd)
{
    struct stat st;
    int saved = errno;
    int r = fstat(fd, &st);
    errno = saved;
    return r == 0 && ls_inode_maybe_locked(st.st_dev, st.st_ino);
}

static inline int untracked_of_locked(int fd)
{
    if ((unsigned)fd < LS_FD_LIMIT) {
        /* a dup of it saw its file unlocked, and no file became locked since */
        uint32_t m = __atomic_load_n(&ls_fd_clean[fd], __ATOMIC_RELAXED);
        if (m) {
            __atomic_store_n(&ls_fd_clean[fd], 0, __ATOMIC_RELAXED);   /* the number is closing */
            if (m == atomic_load_explicit(&ls_locked_gen, memory_order_acquire))
                return 0;
        }
    }
    return fstat_of_locked(fd);
}

/* Whether a close of fd concerns the shim: a tracked fd, one of its own,
 * or, while the process holds locks, an fd of a file it holds them on. */
static inline int needs_tracking(int fd)
{
    int busy = ls_fd_busy(fd);
    if (LS_LIKELY(!busy && atomic_load_explicit(&g_locked_owners, memory_order_relaxed) <= 0))
        return 0;               /* mode off and vfork children too: nothing tracked, no owners */
    if (!ls_active())
        return 0;
    return busy || (fd >= 0 && untracked_of_locked(fd));
}

/* Out of line, so that close's fast path is a load or two and a jump. */
__attribute__((noinline))
static int close_slow(int fd, void *site)
{
    int saved = errno;
    struct closer c = { do_close_fd, (void *)(intptr_t)fd };
    int r = close_tracked(fd, "close", site, c);
    if (r < 0) { errno = -r; return -1; }
    errno = saved;
    return r;
}

/* A close decided without g_mu (the fd was not tracked) raced another
 * thread's first lock through the same fd, which tracked it and may hold a
 * lock through it now: the number is closed, so the table entry is stale
 * and its owner must not keep the lock (natively the close drops it, or the
 * lock fails with EBADF: the request's commit sees the fd gone).  An fd
 * open again meanwhile is someone else's: left to healing. */
__attribute__((noinline, cold))
static void close_raced(int fd)
{
    struct ls_guard g;
    int saved = errno;
    if (ls_enter(&g) < 0) {
        errno = saved;
        return;                 /* a handler inside the shim: healed later */
    }
    if (ls_fd_get(fd) && !ls_fd_is_private(fd) && REAL(fcntl)(fd, F_GETFD) < 0 && errno == EBADF)
        ls_desc_unref_fd(fd, "close");
    ls_leave(&g);
    errno = saved;
}

LS_EXPORT int close(int fd)
{
    if (LS_LIKELY(!needs_tracking(fd))) {
        int r = REAL(close)(fd);
        if (LS_UNLIKELY(ls_fd_busy(fd)) && ls_active())   /* not a vfork child, not mode off */
            close_raced(fd);
        return r;
    }
    return close_slow(fd, SITE);
}

LS_EXPORT int fclose(FILE *f)
{
    int fd = f ? fileno(f) : -1;
    if (LS_LIKELY(!ls_active() || !needs_tracking(fd))) {
        int r = REAL(fclose)(f);
        if (LS_UNLIKELY(ls_fd_busy(fd)) && ls_active())   /* not a vfork child, not mode off */
            close_raced(fd);
        return r;
    }
    int saved = errno;
    struct closer c = { do_fclose, f };
    int r = close_tracked(fd, "fclose", SITE, c);
    if (r == -EBADF && ls_fd_is_private(fd))
        r = REAL(fclose)(f) < 0 ? -errno : 0;   /* not ours after all */
    if (r < 0) { errno = -r; return EOF; }
    errno = saved;
    return r;
}

LS_EXPORT int closedir(DIR *dir)
{
    DIR *volatile dp = dir;          /* glibc declares it nonnull, yet checks */
    int fd = dp ? dirfd(dp) : -1;
    if (LS_LIKELY(!ls_active() || !needs_tracking(fd) || ls_fd_is_private(fd))) {
        int r = REAL(closedir)(dir);
        if (LS_UNLIKELY(ls_fd_busy(fd)) && !ls_fd_is_private(fd) && ls_active())
            close_raced(fd);
        return r;
    }
    int saved = errno;
    struct closer c = { do_closedir, dir };
    int r = close_tracked(fd, "closedir", SITE, c);
    if (r < 0) { errno = -r; return -1; }
    errno = saved;
    return r;
}

struct freopen_args { const char *path, *mode; FILE *f; FILE *res; int is64; };
static int do_freopen(void *arg)
{
    struct freopen_args *a = arg;
    a->res = a->is64 ? REAL(freopen64)(a->path, a->mode, a->f) : REAL(freopen)(a->path, a->mode, a->f);
    return a->res ? 0 : -1;
}

static FILE *freopen_common(const char *path, const char *mode, FILE *f, int is64, void *site)
{
    int fd = f ? fileno(f) : -1;
    if (!ls_active() || !needs_tracking(fd) || ls_fd_is_private(fd)) {
        FILE *r = is64 ? REAL(freopen64)(path, mode, f) : REAL(freopen)(path, mode, f);
        if (r && ls_active())
            ls_fd_heal(fileno(r));
        return r;
    }
    struct freopen_args a = { path, mode, f, NULL, is64 };
    struct closer c = { do_freopen, &a };
    int saved = errno;
    int r = close_tracked(fd, "freopen", site, c);
    if (r < 0) { errno = -r; return NULL; }
    ls_fd_heal(fileno(a.res));
    errno = saved;
    return a.res;
}

LS_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f) { return freopen_common(path, mode, f, 0, SITE); }
LS_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f) { return freopen_common(path, mode, f, 1, SITE); }

LS_EXPORT FILE *fdopen(int fd, const char *mode) { return REAL(fdopen)(fd, mode); }

/* ---- close_range / closefrom: the program's fds go, the shim's stay ---- */

static int close_range_logic(unsigned first, unsigned last, int flags, const char *call, void *site)
{
    if (!REAL(close_range))
        return -ENOSYS;
    if (flags & CLOSE_RANGE_CLOEXEC)          /* ours are close-on-exec already */
        return REAL(close_range)(first, last, flags) < 0 ? -errno : 0;
    struct ls_guard g;
    ls_fd_clean_forget();
    int signal_path = ls_enter(&g) < 0;
    unsigned top = signal_path ? 0 : (unsigned)ls_fd_max();
    for (unsigned fd = first; fd <= last && fd < top; fd++) {
        struct ls_desc *d = ls_fd_get((int)fd);
        if (d)
            ls_engine_on_close((int)fd, d, call, site);
    }
    /* close the program's fds around ours */
    int r = 0;
    unsigned lo = first;
    for (struct ls_owner *o = NULL;;) {
        (void)o;
        unsigned next_priv = 0;
        int found = 0;
        /* lowest private fd >= lo and <= last */
        for (unsigned fd = lo; fd <= last && fd < (1u << 20); fd++) {
            if ((fd & 63) == 0 && fd + 63 <= last && !ls_fd_is_private((int)fd)) {
                /* fast skip of empty words */
                int any = 0;
                for (unsigned k = fd; k < fd + 64; k++)
                    if (ls_fd_is_private((int)k)) { any = 1; break; }
                if (!any) { fd += 63; continue; }
            }
            if (ls_fd_is_private((int)fd)) { next_priv = fd; found = 1; break; }
        }
        if (!found) {
            if (lo <= last && REAL(close_range)(lo, last, flags) < 0)
                r = -errno;
            break;
        }
        if (next_priv > lo && REAL(close_range)(lo, next_priv - 1, flags) < 0)
            r = -errno;
        if (next_priv == last || next_priv == ~0u)
            break;
        lo = next_priv + 1;
    }
    if (signal_path) {
        ls_defer(LS_DEFER_RESYNC, -1, -1);
        return r;
    }
    top = (unsigned)ls_fd_max();    /* the alias scan may have added fds */
    for (unsigned fd = first; fd <= last && fd < top; fd++)
        if (ls_fd_get((int)fd))
            ls_desc_unref_fd((int)fd, call);
    ls_leave(&g);
    return r;
}

LS_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
    if (!ls_active())
        return CALL_OR_ENOSYS(close_range, first, last, flags);
    if (first > last) { errno = EINVAL; return -1; }
    int saved = errno;
    int r = close_range_logic(first, last, flags, "close_range", SITE);
    if (r < 0) { errno = -r; return -1; }
    errno = saved;
    return 0;
}

LS_EXPORT void closefrom(int lowfd)
{
    if (!ls_active()) {
        if (REAL(closefrom)) real_closefrom(lowfd);
        return;
    }
    int saved = errno;
    if (lowfd < 0) lowfd = 0;
    if (close_range_logic((unsigned)lowfd, ~0u, 0, "closefrom", SITE) == -ENOSYS) {
        for (int fd = lowfd; fd < ls_fd_max() + 1024; fd++)
            close(fd);
    }
    errno = saved;
}

/* ---- dup ---- */

LS_EXPORT int dup(int oldfd)
{
    int r = REAL(dup)(oldfd);
    if (r >= 0 && ls_active())
        after_dup(oldfd, r);    /* keeps errno */
    return r;
}

/* The program wants a number the shim uses: the shim moves away first. */
static void evict_private(int fd)
{
    struct ls_guard g;
    if (ls_enter(&g) < 0)
        return;                 /* signal path: the dup2 wins, healed later */
    if (ls_fd_is_private(fd)) {
        int nfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, fd + 1);
        if (nfd < 0)            /* nothing free above: high below, then anywhere */
            nfd = ls_move_high(REAL(fcntl)(fd, F_DUPFD_CLOEXEC, 3));
        if (nfd >= 0 && nfd != fd) {
            for (struct ls_owner *o = g_all_owners; o; o = o->next_all)
                if (o->priv == fd) o->priv = nfd;
            ls_backend_fd_moved(fd, nfd);
            ls_fd_mark_private(nfd, 1);
            ls_fd_mark_private(fd, 0);
            REAL(close)(fd);
        }
    }
    ls_leave(&g);
}

static int dup2_common(int oldfd, int newfd, int flags, int is3, void *site)
{
    if (!ls_active())
        return is3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
    int saved = errno;
    if (newfd >= 0 && ls_fd_is_private(newfd))
        evict_private(newfd);
    if (oldfd == newfd || newfd < 0 || !needs_tracking(newfd)) {
        int r = is3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
        if (r >= 0 && oldfd != newfd) { after_dup(oldfd, r); errno = saved; }
        return r;
    }
    /* newfd is tracked: dup2 closes it first, like close(newfd). */
    struct ls_guard g;
    if (ls_enter(&g) < 0) {
        int r = is3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
        if (r >= 0) {
            ls_defer(LS_DEFER_CLOSED, newfd, -1);
            ls_defer(LS_DEFER_DUP, oldfd, newfd);
            errno = saved;
        }
        return r;
    }
    struct ls_desc *d = ls_fd_get(newfd);
    if (d && ls_fd_get(oldfd) == d) {      /* same description: nothing closes */
        ls_leave(&g);
        int r = is3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
        if (r >= 0) errno = saved;
        return r;
    }
    if (d)
        ls_engine_on_close(newfd, d, is3 ? "dup3" : "dup2", site);
    else if (REAL(fcntl)(newfd, F_GETFD) >= 0)
        ls_engine_on_close_untracked(newfd, is3 ? "dup3" : "dup2", site);
    int r = is3 ? REAL(dup3)(oldfd, newfd, flags) : REAL(dup2)(oldfd, newfd);
    int e = errno;
    if (r >= 0 && ls_fd_get(newfd))
        ls_desc_unref_fd(newfd, "dup2");
    ls_leave(&g);
    if (r < 0) { errno = e; return r; }
    after_dup(oldfd, r);
    errno = saved;
    return r;
}

LS_EXPORT int dup2(int oldfd, int newfd) { return dup2_common(oldfd, newfd, 0, 0, SITE); }
LS_EXPORT int dup3(int oldfd, int newfd, int flags) { return dup2_common(oldfd, newfd, flags, 1, SITE); }

/* ---- fcntl ---- */

/* The commands fcntl_common looks at (locks and dups); any other goes
 * straight to the real call. */
_Static_assert(F_SETLK == F_GETLK + 1 && F_SETLKW == F_GETLK + 2 &&
               F_OFD_SETLK == F_OFD_GETLK + 1 && F_OFD_SETLKW == F_OFD_GETLK + 2, "lock commands in runs");
static inline int fcntl_hooked(int cmd)
{
    return (unsigned)(cmd - F_GETLK) <= 2u || (unsigned)(cmd - F_OFD_GETLK) <= 2u ||
           cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC;
}

__attribute__((noinline))
static int fcntl_common(int fd, int cmd, void *arg, int is64, void *site)
{
    int r, saved;
    if (!ls_active())
        return is64 ? REAL(fcntl64)(fd, cmd, arg) : REAL(fcntl)(fd, cmd, arg);
    switch (cmd) {
    case F_GETLK:
    case F_SETLK:
    case F_SETLKW:
        saved = errno;
        ls_check_process();     /* a clone() child: before its flock is read */
        r = ls_fcntl_lock(fd, cmd, arg, is64 ? "fcntl64" : "fcntl", site);
        break;
    case F_OFD_GETLK:
    case F_OFD_SETLK:
    case F_OFD_SETLKW:
        saved = errno;
        ls_check_process();
        r = ls_fcntl_ofd(fd, cmd, arg, is64 ? "fcntl64" : "fcntl", site);
        break;
    case F_DUPFD:
    case F_DUPFD_CLOEXEC:
        r = is64 ? REAL(fcntl64)(fd, cmd, arg) : REAL(fcntl)(fd, cmd, arg);
        if (r >= 0) {
            saved = errno;
            after_dup(fd, r);
            errno = saved;
        }
        return r;
    default:
        return is64 ? REAL(fcntl64)(fd, cmd, arg) : REAL(fcntl)(fd, cmd, arg);
    }
    if (r < 0) { errno = -r; return -1; }
    errno = saved;
    return r;
}

LS_EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (LS_LIKELY(!fcntl_hooked(cmd)))
        return REAL(fcntl)(fd, cmd, arg);
    return fcntl_common(fd, cmd, arg, 0, SITE);
}

LS_EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    if (LS_LIKELY(!fcntl_hooked(cmd)))
        return REAL(fcntl64)(fd, cmd, arg);
    return fcntl_common(fd, cmd, arg, 1, SITE);
}

/* ---- lockf, flock ---- */

static int lockf_common(int fd, int cmd, off_t len, int is64, void *site)
{
    if (!ls_active())
        return is64 ? REAL(lockf64)(fd, cmd, len) : REAL(lockf)(fd, cmd, len);
    int saved = errno;
    ls_check_process();
    int r = ls_lockf(fd, cmd, len, is64 ? "lockf64" : "lockf", site);
    if (r < 0) { errno = -r; return -1; }
    errno = saved;
    return 0;
}

LS_EXPORT int lockf(int fd, int cmd, off_t len) { return lockf_common(fd, cmd, len, 0, SITE); }
LS_EXPORT int lockf64(int fd, int cmd, off_t len) { return lockf_common(fd, cmd, len, 1, SITE); }

LS_EXPORT int flock(int fd, int op)
{
    if (!ls_active())
        return REAL(flock)(fd, op);
    int saved = errno;
    ls_check_process();
    int r = ls_flock(fd, op, SITE);
    if (r < 0) { errno = -r; return -1; }
    errno = saved;
    return 0;
}

/* ---- processes ---- */

void ls_fork_prepare(void);
void ls_fork_parent(void);
void ls_fork_child(void);

/* fork's work is done by the atfork handlers (they also cover daemon()
 * and every other caller of glibc's fork); a parent holding locks then
 * waits until the child has closed its copies of the private fds (core.c,
 * "Fork acknowledgement"). */
void ls_fork_wait_child(pid_t child);
LS_EXPORT LS_FORK_TEXT pid_t fork(void)
{
    pid_t p = REAL(fork)();
    if (p != 0)
        ls_fork_wait_child(p);
    return p;
}

/* vfork stays vfork (the child shares our memory until it execs or exits:
 * a write it makes, such as "exec failed, errno", reaches the parent).
 * The child must own nothing and must not touch the parent's table, which
 * it shares: the trampoline below marks this thread's TLS, which the child
 * shares and the parent, suspended until the child is done, clears on its
 * return; with the mark set every wrapper is a straight call (ls_active()).
 * The child's copies of the private fds are close-on-exec, and closing
 * them when it exits releases nothing (the parent keeps its own).
 * The return address cannot stay on the stack the child goes on to use:
 * like glibc's, the trampoline keeps it in a register across the call.
 * Signals stay blocked from before the mark is set until the parent has
 * cleared it (and given its gate share back): a handler that siglongjmps
 * out of the parent side (a signal sent while the child ran is delivered
 * the moment the system call returns) would leave the thread marked and
 * its share taken.  The child gets the caller's mask back before vfork
 * returns to it (ls_vfork_child). */
static LS_TLS uint64_t tls_vfork_mask;

__attribute__((used)) void ls_vfork_before(void)
{
    if (g_ls.inited && ls_active()) {
        sigset_t all, old;
        sigfillset(&all);
        pthread_sigmask(SIG_BLOCK, &all, &old);
        memcpy(&tls_vfork_mask, &old, sizeof tls_vfork_mask);
        ls_spawn_enter();
    } else
        ls_tls_vfork_child = 2;     /* inert: no gate share to give back */
    if (ls_tls_vfork_child != 2)
        ls_tls_vfork_child = 1;
}

/* The child, before vfork returns to it: the caller's mask (it shares
 * this thread's memory: errno is left as it was). */
__attribute__((used)) void ls_vfork_child(void)
{
    if (ls_tls_vfork_child != 1)
        return;                 /* inert: nothing was blocked */
    int saved = errno;
    uint64_t m = tls_vfork_mask;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m);
    errno = saved;
}

__attribute__((used)) pid_t ls_vfork_after(long r)
{
    int gated = ls_tls_vfork_child == 1;
    ls_tls_vfork_child = 0;
    if (gated) {
        ls_spawn_leave();
        uint64_t m = tls_vfork_mask;
        syscall(SYS_rt_sigprocmask, SIG_SETMASK, &m, NULL, sizeof m);
    }
    if (r < 0) {
        errno = (int)-r;
        return -1;
    }
    return (pid_t)r;
}

#if defined(__x86_64__)
/* Under a shadow stack (CET) the child's return would unbalance it: use
 * glibc's vfork then (rdsspq is a no-op without CET). */
__asm__(
    ".text\n"
    ".globl vfork\n"
    ".type vfork, @function\n"
    "vfork:\n"
    "    endbr64\n"
    "    xorl %ecx, %ecx\n"
    "    rdsspq %rcx\n"
    "    testq %rcx, %rcx\n"
    "    jnz 2f\n"
    "    subq $8, %rsp\n"
    "    call ls_vfork_before@PLT\n"
    "    addq $8, %rsp\n"
    "    popq %rdi\n"              /* the return address, out of the child's way */
    "    movl $58, %eax\n"         /* SYS_vfork */
    "    syscall\n"
    "    pushq %rdi\n"
    "    testq %rax, %rax\n"
    "    jz 1f\n"
    "    movq %rax, %rdi\n"
    "    jmp ls_vfork_after@PLT\n" /* the parent: returns the pid or -1 */
    "1:  subq $8, %rsp\n"          /* the child: its mask back, 0, mark set */
    "    call ls_vfork_child@PLT\n"
    "    addq $8, %rsp\n"
    "    xorl %eax, %eax\n"
    "    ret\n"
    "2:  movq real_vfork@GOTPCREL(%rip), %rax\n"
    "    movq (%rax), %rax\n"
    "    jmp *%rax\n"
    ".size vfork, .-vfork\n");
#elif defined(__aarch64__)
/* The return address lives in x30, which the kernel keeps for both.
 * (Assembled with clang --target=aarch64-linux-gnu; not run here.) */
__asm__(
    ".text\n"
    ".globl vfork\n"
    ".type vfork, %function\n"
    "vfork:\n"
    "    hint #34\n"               /* bti c: a landing pad, a no-op without BTI */
    "    stp x29, x30, [sp, #-16]!\n"
    "    mov x29, sp\n"
    "    bl ls_vfork_before\n"
    "    ldp x29, x30, [sp], #16\n"
    "    mov x0, #0x4111\n"        /* CLONE_VM | CLONE_VFORK | SIGCHLD */
    "    mov x1, #0\n"
    "    mov x2, #0\n"
    "    mov x3, #0\n"
    "    mov x4, #0\n"
    "    mov x8, #220\n"           /* SYS_clone */
    "    svc #0\n"
    "    cbz x0, 1f\n"
    "    b ls_vfork_after\n"
    "1:  stp x29, x30, [sp, #-16]!\n" /* the child: its mask back, 0 */
    "    mov x29, sp\n"
    "    bl ls_vfork_child\n"
    "    ldp x29, x30, [sp], #16\n"
    "    mov x0, #0\n"
    "    ret\n"
    ".size vfork, .-vfork\n");
#else
/* No trampoline for this architecture: vfork is glibc's, unwatched (a
 * child that closes a tracked fd before exec updates the shared table). */
#endif

/* _Fork runs no atfork handlers: run ours around it. */
LS_EXPORT pid_t _Fork(void)
{
    if (!REAL(_Fork)) { errno = ENOSYS; return -1; }
    if (!ls_active())
        return real__Fork();
    ls_fork_prepare();
    pid_t p = real__Fork();
    if (p == 0) ls_fork_child();
    else { ls_fork_parent(); ls_fork_wait_child(p); }
    return p;
}

LS_EXPORT int daemon(int nochdir, int noclose) { return REAL(daemon)(nochdir, noclose); }

/* posix_spawn and popen make children that no hook sees: they own nothing
 * because the shim's fds are close-on-exec, and the spawn gate keeps them
 * out of another thread's exec hand-over (when those fds are briefly
 * inheritable).  system() is not gated: it holds its caller until the
 * command ends, and an exec elsewhere must not wait that long. */
/* glibc unblocks signals inside posix_spawn after the clone: a handler
 * that longjmps out there would leave the gate share counted.  So signals
 * stay blocked across the call (glibc blocks them for the clone anyway)
 * and the child gets the caller's mask through POSIX_SPAWN_SETSIGMASK, as
 * it would have inherited it (the attributes are a copy: the caller's are
 * not changed). */
typedef int (*spawn_fn)(pid_t *, const char *, const posix_spawn_file_actions_t *,
                        const posix_spawnattr_t *, char *const [], char *const []);
static int spawn_masked(spawn_fn fn, pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    posix_spawnattr_t a;
    short fl = 0;
    sigset_t all, old;
    int saved = errno;
    if (attr) {
        a = *attr;
        posix_spawnattr_getflags(&a, &fl);
    } else {
        posix_spawnattr_init(&a);
    }
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    if (!(fl & POSIX_SPAWN_SETSIGMASK)) {
        posix_spawnattr_setsigmask(&a, &old);
        posix_spawnattr_setflags(&a, (short)(fl | POSIX_SPAWN_SETSIGMASK));
    }
    errno = saved;
    ls_spawn_enter();
    int r = fn(pid, path, fa, &a, argv, envp);
    ls_spawn_leave();
    saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!attr)
        posix_spawnattr_destroy(&a);
    errno = saved;
    return r;
}

LS_EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                          const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (!ls_active())
        return REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
    return spawn_masked(REAL(posix_spawn), pid, path, fa, attr, argv, envp);
}

LS_EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                           const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{
    if (!ls_active())
        return REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
    return spawn_masked(REAL(posix_spawnp), pid, file, fa, attr, argv, envp);
}

/* popen's child inherits the caller's mask (no attributes to pass it
 * through): signals stay open, and a share a longjmp leaves here is
 * released by this thread's next call into the shim (ls_gate_reap), or
 * outwaited by an exec (ls_exec_gate_close). */
LS_EXPORT FILE *popen(const char *cmd, const char *mode)
{
    if (!REAL(popen)) { errno = ENOSYS; return NULL; }
    if (!ls_active())
        return real_popen(cmd, mode);
    ls_spawn_enter_at((uintptr_t)__builtin_frame_address(0));
    FILE *f = real_popen(cmd, mode);
    ls_spawn_leave();
    if (f) {
        int saved = errno;
        ls_fd_heal(fileno(f));
        errno = saved;
    }
    return f;
}

/* ---- exec: hand the table over to the next image ---- */

enum { EXEC_VE, EXEC_VPE, EXEC_F };

void ls_hazard_flush_pending(void);
int ls_hazard_log_exec(int on);
char **ls_hazard_log_env(char **envp);

/* frame: the exported wrapper's, for ls_gate_reap */
static int exec_common_at(uintptr_t frame, int kind, const char *path, int fd, char *const argv[],
                          char *const envp[])
{
    char **nenv = (char **)envp;
    void *cookie = NULL;
    int gated = 0;
    if (ls_active()) {
        ls_check_process();
        ls_gate_reap(frame);
        ls_hazard_flush_pending();      /* pending repeats die with the image */
        /* no child may be made while private fds (or the log descriptor)
         * are inheritable */
        if ((g_all_owners || ls_hazard_log_exec(-1)) && (gated = ls_exec_gate_close())) {
            ls_hazard_log_exec(1);
            char **lenv = ls_hazard_log_env(nenv);     /* LOCKSCOPE__LOGFD */
            if (lenv == nenv)
                ls_hazard_log_exec(0);  /* not named (no room): not inherited either */
            nenv = lenv;
            if (g_all_owners)
                ls_exec_prepare(nenv, &nenv, &cookie);  /* keeps LOCKSCOPE__LOGFD */
        }
    }
    int r;
    if (kind == EXEC_VE) r = REAL(execve)(path, argv, nenv);
    else if (kind == EXEC_VPE) r = REAL(execvpe)(path, argv, nenv);
    else r = REAL(fexecve)(fd, argv, nenv);
    int e = errno;
    if (cookie)
        ls_exec_failed(cookie);
    if (gated) {
        ls_hazard_log_exec(0);          /* the exec failed: close-on-exec again */
        ls_exec_gate_open();
    }
    errno = e;
    return r;
}

#define exec_common(...) exec_common_at((uintptr_t)__builtin_frame_address(0), __VA_ARGS__)

LS_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{ return exec_common(EXEC_VE, path, -1, argv, envp); }
LS_EXPORT int execv(const char *path, char *const argv[])
{ return exec_common(EXEC_VE, path, -1, argv, environ); }
LS_EXPORT int execvpe(const char *file, char *const argv[], char *const envp[])
{ return exec_common(EXEC_VPE, file, -1, argv, envp); }
LS_EXPORT int execvp(const char *file, char *const argv[])
{ return exec_common(EXEC_VPE, file, -1, argv, environ); }
LS_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{ return exec_common(EXEC_F, NULL, fd, argv, envp); }

/* execl family: the argument list onto the stack, as glibc does. */
#define COLLECT_ARGS(arg0, last_named, argvar, envvar, want_env)            \
    size_t n_ = 1;                                                          \
    va_list ap_;                                                            \
    va_start(ap_, last_named);                                              \
    while (va_arg(ap_, const char *)) n_++;                                 \
    va_end(ap_);                                                            \
    const char *argvar[n_ + 1];                                             \
    argvar[0] = arg0;                                                       \
    va_start(ap_, last_named);                                              \
    for (size_t i_ = 1; i_ <= n_; i_++) argvar[i_] = i_ < n_ ? va_arg(ap_, const char *) : NULL; \
    if (n_ >= 1) (void)va_arg(ap_, const char *); /* the NULL */            \
    char *const *envvar = want_env ? va_arg(ap_, char *const *) : environ;  \
    va_end(ap_);

LS_EXPORT int execl(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, arg, argv, envp, 0)
    return exec_common(EXEC_VE, path, -1, (char *const *)argv, envp);
}

LS_EXPORT int execlp(const char *file, const char *arg, ...)
{
    COLLECT_ARGS(arg, arg, argv, envp, 0)
    return exec_common(EXEC_VPE, file, -1, (char *const *)argv, envp);
}

LS_EXPORT int execle(const char *path, const char *arg, ...)
{
    COLLECT_ARGS(arg, arg, argv, envp, 1)
    return exec_common(EXEC_VE, path, -1, (char *const *)argv, envp);
}
