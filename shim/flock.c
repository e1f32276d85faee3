/*
 * flock.c - flock(2): hazards, and the optional cure.
 *
 * flock locks belong to the open file description already, so descriptor
 * scope needs no conversion.  What goes wrong with them: they live in a
 * domain separate from fcntl locks on Linux but become POSIX locks over NFS
 * (flock-fcntl-mix, flock-on-nfs), and a shared->exclusive upgrade drops
 * the lock before waiting (flock-upgrade-nonatomic).
 * LOCKSCOPE_FLOCK=ofd turns flock into a whole-file OFD lock on the
 * program's own description: the same sharing through dup and fork, an
 * atomic upgrade, and a conflict with fcntl locks (as over NFS), also with
 * the same process's: a blocking flock that only this thread's own fcntl
 * lock blocks fails with EDEADLK (self-deadlock) instead of waiting forever.
 *
 * flock-fcntl-mix is refused in strict only where the two families share
 * one lock (NFS, or the cure): on a local file system they are independent
 * and the mix is only recorded.  It is seen two ways.  In this process: the
 * inode's flock_seen/fcntl_seen flags (the fcntl side is in engine.c).  Across
 * processes: before a flock lock on a file where this process holds no
 * fcntl-domain lock, one F_OFD_GETLK on the program's description asks the
 * kernel for POSIX or OFD locks on the inode; any is another process's (or
 * a description shared with one).  Flocks of other processes met by this
 * process's fcntl locks: the registry (processes under the shim publish
 * their flocks; see ls_flock_locks_on).
 * The other direction (another process's flock met by this process's
 * fcntl) is engine.c's to see.  Not done with the cure on: other processes'
 * cured flocks are OFD locks too, and the cure makes both kinds conflict.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "log.h"
#include "real.h"
#include "registry.h"
#include "shim.h"

#define NFS_MAGIC 0x6969

/* ---- /proc/locks: is a POSIX or OFD lock held on (dev, ino)? ---- */

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t')) p++;
    return p;
}

static const char *skip_tok(const char *p, const char *e)
{
    while (p < e && *p != ' ' && *p != '\t') p++;
    return p;
}

static int starts(const char *p, const char *e, const char *lit)
{
    size_t n = strlen(lit);
    return (size_t)(e - p) >= n && memcmp(p, lit, n) == 0 && (p + n == e || p[n] == ' ' || p[n] == '\t');
}

/* Parse an unsigned number in `base` from *pp up to a non-digit. */
static int num(const char **pp, const char *e, unsigned base, unsigned long long *out)
{
    const char *p = *pp;
    unsigned long long v = 0;
    int n = 0;
    for (; p < e; p++, n++) {
        unsigned d;
        if (*p >= '0' && *p <= '9') d = (unsigned)(*p - '0');
        else if (base == 16 && *p >= 'a' && *p <= 'f') d = (unsigned)(*p - 'a' + 10);
        else break;
        if (v > (~0ULL - d) / base) return -1;
        v = v * base + d;
    }
    if (!n) return -1;
    *pp = p;
    *out = v;
    return 0;
}

/* One /proc/locks line: 1 when it is a held lock of the family asked for
 * (POSIX/OFD, or FLOCK) on inode `ino` (*maj, *min: the superblock device
 * it names).  "->" waiter lines never match. */
static int lock_line(const char *p, const char *e, ino_t ino, int flock_family,
                     unsigned long long *maj, unsigned long long *min)
{
    unsigned long long v;
    p = skip_tok(skip_ws(p, e), e);                 /* "N:" */
    p = skip_ws(p, e);
    if (flock_family ? !starts(p, e, "FLOCK")
                     : !starts(p, e, "POSIX") && !starts(p, e, "OFDLCK"))
        return 0;
    p = skip_tok(p, e);
    p = skip_tok(skip_ws(p, e), e);                 /* ADVISORY */
    p = skip_tok(skip_ws(p, e), e);                 /* READ / WRITE */
    p = skip_tok(skip_ws(p, e), e);                 /* pid */
    p = skip_ws(p, e);
    if (num(&p, e, 16, maj) || p >= e || *p++ != ':') return 0;
    if (num(&p, e, 16, min) || p >= e || *p++ != ':') return 0;
    if (num(&p, e, 10, &v)) return 0;
    return v == (unsigned long long)ino;
}

/* A FLOCK lock on inode `ino` in /proc/PID/fdinfo/FD: the kernel's word
 * on one registry record (records outlive a close). */
static int flock_in_fdinfo(pid_t pid, int fd, ino_t ino)
{
    char path[64] = "/proc/", buf[2048];
    size_t l = 6;
    l += ls_fmt_u64(path + l, (uint64_t)pid);
    memcpy(path + l, "/fdinfo/", 8);
    l += 8;
    l += ls_fmt_u64(path + l, (uint64_t)fd);
    path[l] = 0;
    int f = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) return 0;
    ssize_t n = read(f, buf, sizeof buf - 1);
    REAL(close)(f);
    if (n <= 0) return 0;
    buf[n] = 0;
    for (char *p = strstr(buf, "lock:"); p; p = strstr(p + 5, "lock:")) {
        char *eol = strchr(p, '\n');
        unsigned long long maj, min;
        if (lock_line(p + 5, eol ? eol : buf + n, ino, 1, &maj, &min))
            return 1;
    }
    return 0;
}

struct flockq { ino_t ino; int found; };

static int flockq_fn(void *ctx, const struct ls_pub *e)
{
    struct flockq *q = ctx;
    if (e->family != LS_FAM_FLOCK || e->kind != LS_PUB_HELD)
        return 0;
    q->found = flock_in_fdinfo(e->pid, e->fd, q->ino);
    return q->found;
}

/* fcntl-domain locks (POSIX or OFD) on fd's file that are not this
 * description's: the kernel answers one F_OFD_GETLK on the program's own
 * description (callers make sure this process holds none elsewhere). */
static int fcntl_locks_on(int fd, dev_t dev, ino_t ino)
{
    struct flock q;
    int saved = errno;
    memset(&q, 0, sizeof q);
    q.l_type = F_WRLCK;
    q.l_whence = SEEK_SET;
    int r = REAL(fcntl)(fd, F_OFD_GETLK, &q) == 0 && q.l_type != F_UNLCK;
    errno = saved;
    return r;
}

/* For the engine: flock locks on the file held by other processes under
 * the shim (they publish their flocks in the registry; each record is
 * confirmed in the one fdinfo file it names).  No /proc/locks: its cost
 * grows with every lock on the machine. */
int ls_flock_locks_on(int fd, dev_t dev, ino_t ino)
{
    struct flockq q = { ino, 0 };
    int saved = errno;
    ls_reg_lookup((uint64_t)dev, (uint64_t)ino, flockq_fn, &q, NULL);
    errno = saved;
    return q.found;
}

/* The program used fcntl locks on the inode in this process: classic ones
 * (engine.c sets fcntl_seen) or its own F_OFD_* (ofd_used). */
static int fcntl_used_here(const struct ls_inode *in)
{
    if (in->fcntl_seen) return 1;
    for (const struct ls_desc *d = in->descs; d; d = d->next_in_inode)
        if (d->ofd_used) return 1;
    return 0;
}

/* This process holds fcntl-domain locks on the inode through the shim's
 * owners (open-and-lock rules, locks handed over at exec): /proc/locks
 * cannot tell them from another process's OFD locks. */
static int own_fcntl_locks(const struct ls_inode *in)
{
    if (in->shared && in->shared->ranges) return 1;
    for (const struct ls_desc *d = in->descs; d; d = d->next_in_inode)
        if (d->owner && d->owner->ranges) return 1;
    return 0;
}

/* With the cure a flock is an OFD lock on the program's description, so it
 * conflicts with this process's own fcntl locks (held through the shim's
 * private descriptions).  A blocking flock that only this same thread's
 * fcntl lock stands in the way of would wait forever. */
static int own_thread_conflict(const struct ls_inode *in, pid_t me, int lt)
{
    if (in->shared && in->shared->tid == me &&
        ls_range_conflict(in->shared->ranges, 0, LS_OFFSET_MAX, lt))
        return 1;
    for (const struct ls_desc *d = in->descs; d; d = d->next_in_inode) {
        const struct ls_owner *o = d->owner;
        if (o && o->tid == me && ls_range_conflict(o->ranges, 0, LS_OFFSET_MAX, lt))
            return 1;
    }
    return 0;
}

/* Do flock and fcntl locks on fd's file share one lock, so that mixing
 * them is worth refusing in strict?  Over NFS (flock becomes a POSIX lock
 * on the server), and with the cure (flock is an OFD lock).  On a local
 * file system they are independent: `flock FILE sqlite3 FILE ...` is fine. */
int ls_flock_fcntl_shared(int fd)
{
    if (g_ls.cfg.flock == LS_FLOCK_OFD && ls_fixing())
        return 1;
    struct statfs sf;
    int saved = errno;
    int nfs = fstatfs(fd, &sf) == 0 && sf.f_type == NFS_MAGIC;
    errno = saved;
    return nfs;
}

/* Files known not to be on NFS, so a flock pays its fstatfs once per file,
 * not per call: a small direct-mapped cache of (dev, ino) hashes, read and
 * written without g_mu (one atomic word each; a collision of two 64-bit
 * hashes, or an evicted entry, costs only one more fstatfs). */
#define LOCAL_FS_SLOTS 64
static _Atomic uint64_t local_fs[LOCAL_FS_SLOTS];

static uint64_t local_fs_key(dev_t dev, ino_t ino)
{
    uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ ((uint64_t)dev + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    return x ? x : 1;
}

static int known_local(uint64_t key)
{
    return atomic_load_explicit(&local_fs[key % LOCAL_FS_SLOTS], memory_order_relaxed) == key;
}

/* fstatfs: NFS (said every time: nothing cached) or not (remembered). */
__attribute__((noinline))
static int on_nfs(int fd, uint64_t key)
{
    struct statfs sf;
    int saved = errno;
    int r = fstatfs(fd, &sf);
    errno = saved;
    if (r != 0)
        return 0;
    if (sf.f_type == NFS_MAGIC)
        return 1;
    atomic_store_explicit(&local_fs[key % LOCAL_FS_SLOTS], key, memory_order_relaxed);
    return 0;
}

/* The kernel call: flock(2), or with the cure a whole-file OFD lock on the
 * program's description.  errno as the call left it. */
static int flock_kernel(int fd, int op, int base, int cure, int acc)
{
    if (!cure)
        return REAL(flock)(fd, op);
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = (short)(base == LOCK_SH ? F_RDLCK : base == LOCK_EX ? F_WRLCK : F_UNLCK);
    q.l_whence = SEEK_SET;
    int r = REAL(fcntl)(fd, (op & LOCK_NB) || base == LOCK_UN ? F_OFD_SETLK : F_OFD_SETLKW, &q);
    if (r < 0 && errno == EBADF) {
        /* flock needs no access mode; an OFD write lock does */
        r = REAL(flock)(fd, op);
    } else if (r == 0 && base == LOCK_UN && acc != O_RDWR) {
        /* a description that is not O_RDWR may hold a native flock
         * taken by the fallback above: release that too */
        int saved = errno;
        REAL(flock)(fd, LOCK_UN);
        errno = saved;
    }
    return r;
}

/* Under g_mu, after the kernel call: what the description now holds. */
static void flock_settle(struct ls_desc *d, int fd, int r, int base, int cure)
{
    if (r == 0) d->flock_held = base == LOCK_UN ? 0 : base;
    else if (base == LOCK_EX && d->flock_held == LOCK_SH && !cure) d->flock_held = 0;  /* dropped */
    ls_publish_flock(d, fd);
}

/* A hazard record of a flock call (built only when there is one). */
__attribute__((noinline))
static void flock_hazard(int fd, dev_t dev, ino_t ino, int base, void *site,
                         const char *name, const char *action, const char *detail)
{
    struct ls_hazard h = { .name = name, .action = action, .detail = detail,
                           .call = "flock", .fd = fd, .dev = dev, .ino = ino,
                           .has_devino = 1, .site = site,
                           .type = base == LOCK_SH ? "shared" : base == LOCK_EX ? "exclusive" : "unlock" };
    ls_hazard(&h);
}

int ls_flock(int fd, int op, void *site)
{
    int base = op & ~LOCK_NB;
    if (base != LOCK_SH && base != LOCK_EX && base != LOCK_UN)
        return REAL(flock)(fd, op) < 0 ? -errno : 0;

    struct ls_guard g;
    int err = 0;
    int strict = g_ls.mode == LS_MODE_STRICT;
    int cure = g_ls.cfg.flock == LS_FLOCK_OFD && ls_fixing();
    if (ls_enter(&g) < 0)        /* signal handler inside the shim: native flock */
        return REAL(flock)(fd, op) < 0 ? -errno : 0;
    struct ls_desc *d = ls_desc_for_fd(fd, &err);
    if (!d) {
        ls_leave(&g);
        return REAL(flock)(fd, op) < 0 ? -errno : 0;   /* native errno */
    }
    struct ls_inode *in = d->inode;
    int foreign = 0;
    if (base != LOCK_UN && !fcntl_used_here(in) && !cure && !own_fcntl_locks(in) &&
        !ls_checked(in->dev, in->ino, 2)) {
        /* Another process's fcntl locks?  Read /proc/locks outside g_mu,
         * once per file, then look the description up again. */
        dev_t dev = in->dev;
        ino_t ino = in->ino;
        ls_checked_set(dev, ino, 2);
        ls_leave(&g);
        foreign = fcntl_locks_on(fd, dev, ino);
        ls_reenter(&g);
        d = ls_desc_for_fd(fd, &err);
        if (!d) {
            ls_leave(&g);
            return REAL(flock)(fd, op) < 0 ? -errno : 0;
        }
        in = d->inode;
    }
    int acc = d->acc;
    dev_t hdev = in->dev;
    ino_t hino = in->ino;
    if (base != LOCK_UN) {
        in->flock_seen = 1;
        d->flock_used = 1;
        int here = fcntl_used_here(in);
        if (here || foreign) {
            /* refused only where the two kinds share one lock; the fstatfs
             * runs without g_mu (NFS may be slow to answer) */
            int refuse = 0;
            if (strict) {
                ls_leave(&g);
                refuse = ls_flock_fcntl_shared(fd);
                ls_reenter(&g);
                d = ls_desc_for_fd(fd, &err);
                if (!d) {
                    ls_leave(&g);
                    return REAL(flock)(fd, op) < 0 ? -errno : 0;
                }
                in = d->inode;
            }
            flock_hazard(fd, hdev, hino, base, site, "flock-fcntl-mix",
                         refuse ? "refused" : "observed",
                         here ? "flock and fcntl locks on one file: separate on Linux, one lock over NFS"
                            : "another process holds fcntl locks on this file: separate from flock on Linux, one lock over NFS");
            if (refuse) { ls_leave(&g); return -ENOLCK; }
        }
        if (base == LOCK_EX && d->flock_held == LOCK_SH) {
            flock_hazard(fd, hdev, hino, base, site, "flock-upgrade-nonatomic",
                         strict ? "refused" : cure ? "prevented" : "observed",
                         "flock shared->exclusive releases the shared lock before it waits");
            if (strict) { ls_leave(&g); return -ENOLCK; }
        }
        if (cure && !(op & LOCK_NB) && own_thread_conflict(in, ls_gettid(), base == LOCK_EX ? LS_WR : LS_RD)) {
            flock_hazard(fd, hdev, hino, base, site, "self-deadlock",
                         strict ? "refused" : "prevented",
                         "LOCKSCOPE_FLOCK=ofd: this flock would wait for a fcntl lock this thread holds on the file");
            ls_leave(&g);
            return -EDEADLK;
        }
    }
    uint64_t fskey = local_fs_key(in->dev, in->ino);
    int r;
    /* The kernel call is made outside g_mu, also one that cannot wait: a
     * signal delivered during it would otherwise find g_mu held, and a
     * handler that siglongjmps out would leave it held for ever (tried in
     * wave 3 and taken back; README "Performance"). */
    ls_leave(&g);
    if (base != LOCK_UN && !known_local(fskey) && on_nfs(fd, fskey)) {
        flock_hazard(fd, hdev, hino, base, site, "flock-on-nfs",
                     "observed",
                     "flock on NFS becomes a POSIX lock on the server");
    }

    r = flock_kernel(fd, op, base, cure, acc);
    int e = r < 0 ? errno : 0;
    if (e == EINTR) {
        flock_hazard(fd, hdev, hino, base, site, "lock-eintr",
                     "observed",
                     "blocking flock interrupted by a signal: not held");
    }
    ls_reenter(&g);
    d = ls_fd_get(fd);
    if (d)
        flock_settle(d, fd, r, base, cure);
    ls_leave(&g);
    return r < 0 ? -e : 0;
}
