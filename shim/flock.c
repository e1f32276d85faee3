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
 * atomic upgrade, and a conflict with fcntl locks (as over NFS).
 */
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/vfs.h>

#include "real.h"
#include "shim.h"

#define NFS_MAGIC 0x6969

int ls_flock(int fd, int op, void *site)
{
    int base = op & ~LOCK_NB;
    if (base != LOCK_SH && base != LOCK_EX && base != LOCK_UN)
        return REAL(flock)(fd, op) < 0 ? -errno : 0;

    struct ls_guard g;
    int err = 0;
    ls_enter(&g);
    struct ls_desc *d = ls_desc_for_fd(fd, &err);
    if (!d) {
        ls_leave(&g);
        return REAL(flock)(fd, op) < 0 ? -errno : 0;   /* native errno */
    }
    struct ls_inode *in = d->inode;
    int strict = g_ls.mode == LS_MODE_STRICT;
    int cure = g_ls.cfg.flock == LS_FLOCK_OFD && ls_fixing();
    struct ls_hazard h = { .call = "flock", .fd = fd, .dev = in->dev, .ino = in->ino,
                           .has_devino = 1, .site = site,
                           .type = base == LOCK_SH ? "shared" : base == LOCK_EX ? "exclusive" : "unlock" };
    if (base != LOCK_UN) {
        in->flock_seen = 1;
        d->flock_used = 1;
        if (in->fcntl_seen) {
            h.name = "flock-fcntl-mix";
            h.action = strict ? "refused" : "observed";
            h.detail = "flock and fcntl locks on one file: separate on Linux, one lock over NFS";
            ls_hazard(&h);
            if (strict) { ls_leave(&g); return -ENOLCK; }
        }
        if (base == LOCK_EX && d->flock_held == LOCK_SH) {
            h.name = "flock-upgrade-nonatomic";
            h.action = strict ? "refused" : cure ? "prevented" : "observed";
            h.detail = "flock shared->exclusive releases the shared lock before it waits";
            ls_hazard(&h);
            if (strict) { ls_leave(&g); return -ENOLCK; }
        }
    }
    ls_leave(&g);

    struct statfs sf;
    if (base != LOCK_UN && fstatfs(fd, &sf) == 0 && sf.f_type == NFS_MAGIC) {
        h.name = "flock-on-nfs";
        h.action = "observed";
        h.detail = "flock on NFS becomes a POSIX lock on the server";
        ls_hazard(&h);
    }

    int r;
    if (cure) {
        struct flock q;
        memset(&q, 0, sizeof q);
        q.l_type = (short)(base == LOCK_SH ? F_RDLCK : base == LOCK_EX ? F_WRLCK : F_UNLCK);
        q.l_whence = SEEK_SET;
        r = REAL(fcntl)(fd, (op & LOCK_NB) || base == LOCK_UN ? F_OFD_SETLK : F_OFD_SETLKW, &q);
        if (r < 0 && errno == EBADF) {
            /* flock needs no access mode; an OFD write lock does */
            r = REAL(flock)(fd, op);
        }
    } else {
        r = REAL(flock)(fd, op);
    }
    int e = r < 0 ? errno : 0;
    if (e == EINTR) {
        h.name = "lock-eintr";
        h.action = "observed";
        h.detail = "blocking flock interrupted by a signal: not held";
        ls_hazard(&h);
    }
    ls_enter(&g);
    d = ls_fd_get(fd);
    if (d) {
        if (r == 0) d->flock_held = base == LOCK_UN ? 0 : base;
        else if (base == LOCK_EX && d->flock_held == LOCK_SH && !cure) d->flock_held = 0;  /* dropped */
    }
    ls_leave(&g);
    return r < 0 ? -e : 0;
}
