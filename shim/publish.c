/*
 * publish.c - what this process holds, published in the user's registry
 * (registry.h) for the other processes under the shim: F_GETLK's holder
 * pid, the flock-fcntl-mix check and deadlock walks read it instead of
 * /proc.  Called under g_mu (the registry's writer side of this process
 * is serialised by it): after every change of an owner's model
 * (owner_recount in fdtable.c), of a description's flock (flock.c) and of
 * the program's own F_OFD locks on a description (engine.c; withdrawn when
 * the description is freed, fdtable.c).
 * Nothing here is more than a few stores into this process's region (its
 * first use maps the registry and claims the region).
 */
#include <sys/file.h>

#include "registry.h"
#include "shim.h"

/* A forked child runs its reset (which clears owners: deletions) before
 * the registry hears of the fork: it must not touch the parent's region. */
static void same_process(void)
{
    if (LS_UNLIKELY(ls_reg_pid() != g_ls.pid))
        ls_reg_fork_child();
}

/* The hull of a list for its record: start and type set by the caller
 * from the first range.  Bounded: a list longer than HULL_WALK ranges takes
 * its end from the search tree (the rightmost node, O(log n)) and says
 * "write" without looking (readers confirm a hull in the fdinfo anyway;
 * its type only spares them that for two read hulls), so a lock pair costs
 * the same whatever the owner holds. */
#define HULL_WALK 16
static void hull_of(const struct ls_range *head, struct ls_pub *p)
{
    int n = 0;
    const struct ls_range *r = head;
    for (; r && n < HULL_WALK; r = r->next, n++) {
        p->end = r->end;
        if (r->type == LS_WR)
            p->type = 1;
    }
    p->exact = n == 1;
    if (r) {
        const struct ls_range *t = r;
        while (t->up)
            t = t->up;
        while (t->kid[1])
            t = t->kid[1];
        p->end = t->end;
        p->type = 1;
    }
}

/* One record per owner: the hull of its ranges, exact when it is one range. */
void ls_publish_owner(struct ls_owner *o)
{
    if (!ls_active() || !o->inode)
        return;
    same_process();
    uint64_t key = (uint64_t)(uintptr_t)o;
    if (!o->ranges) {
        ls_reg_del(key, (uint64_t)o->inode->dev, (uint64_t)o->inode->ino);
        return;
    }
    struct ls_pub p = { .kind = LS_PUB_HELD, .family = LS_FAM_POSIX, .dev = (uint64_t)o->inode->dev,
                        .ino = (uint64_t)o->inode->ino, .start = o->ranges->start, .fd = o->priv,
                        .pfd1 = o->fd1, .tid = ls_gettid(), .mode = (int)g_ls.mode };
    hull_of(o->ranges, &p);
    ls_reg_put(key, &p);
}

/* A description's flock: held (LOCK_SH/LOCK_EX through program fd `fd`) or not. */
void ls_publish_flock(const struct ls_desc *d, int fd)
{
    if (!ls_active() || !d->inode)
        return;
    same_process();
    uint64_t key = (uint64_t)(uintptr_t)d | 1;
    if (!d->flock_held) {
        ls_reg_del(key, (uint64_t)d->inode->dev, (uint64_t)d->inode->ino);
        return;
    }
    struct ls_pub p = { .kind = LS_PUB_HELD, .family = LS_FAM_FLOCK, .dev = (uint64_t)d->inode->dev,
                        .ino = (uint64_t)d->inode->ino, .start = 0, .end = LS_OFFSET_MAX,
                        .type = d->flock_held == LOCK_EX, .exact = 1, .fd = fd,
                        .tid = ls_gettid(), .mode = (int)g_ls.mode };
    ls_reg_put(key, &p);
}

/* The program's own F_OFD_* locks through a description (its ofd_ranges:
 * what this process locked itself through it); gone with the description. */
void ls_publish_ofd(const struct ls_desc *d, int fd)
{
    if (!ls_active() || !d->inode)
        return;
    same_process();
    uint64_t key = (uint64_t)(uintptr_t)d | 2;
    if (!d->ofd_ranges) {
        ls_reg_del(key, (uint64_t)d->inode->dev, (uint64_t)d->inode->ino);
        return;
    }
    struct ls_pub p = { .kind = LS_PUB_HELD, .family = LS_FAM_OFD, .dev = (uint64_t)d->inode->dev,
                        .ino = (uint64_t)d->inode->ino, .start = d->ofd_ranges->start, .fd = fd,
                        .tid = ls_gettid(), .mode = (int)g_ls.mode };
    hull_of(d->ofd_ranges, &p);
    ls_reg_put(key, &p);
}

static void reg_debug(const char *msg, const char *detail)
{
    ls_debug("%s %s", msg, detail);
}

__attribute__((constructor)) static void publish_init(void)
{
    ls_registry_debug = reg_debug;
}
