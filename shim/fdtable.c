/*
 * fdtable.c - fd -> description -> inode, as the kernel models it.
 *
 * The fd table is two-level (1024 pages of 1024 slots: fds below 2^20), so
 * a lookup is two loads and an untracked fd costs no lock.  Entries are made
 * lazily, at the first lock through a description, never at open: a
 * program that does not lock pays nothing but the check.
 *
 * Completeness.  refs counts the program fds of a description that the
 * table knows.  A description first seen through an fd that a call we saw
 * created (open, dup of a tracked fd...: the "born" bit) has no fds the
 * table lacks, because we also see every dup of it from then on.  Any other
 * (inherited at startup, received over a socket, dup'ed before its first
 * lock) may have aliases we never saw: before its last known fd closes
 * while it holds locks, /proc/self/fd is scanned for another fd of the same
 * description, so that closing one alias never drops the lock (rule 1).
 */
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend.h"
#include "real.h"
#include "shim.h"

#define uthash_malloc(sz) ls_alloc(sz)
#define uthash_free(p, sz) ls_free((p), (sz))
#define HASH_NONFATAL_OOM 1
#include <uthash.h>

#define PAGE_BITS 10
#define PAGE_SLOTS (1 << PAGE_BITS)
#define NPAGES 1024
#define FD_LIMIT LS_FD_LIMIT

typedef struct ls_desc *_Atomic slot_t;
static slot_t *pages[NPAGES];
static int fd_max;

/* One byte per fd (bss: untouched pages cost nothing).  ls_fd_state is
 * written under g_mu only; ls_fd_born_map by plain byte stores from any
 * thread (no read-modify-write, so no lost update). */
uint8_t ls_fd_state[LS_FD_LIMIT];
uint8_t ls_fd_born_map[LS_FD_LIMIT];

struct ls_desc *g_all_descs;
_Atomic int g_locked_owners;

/* Inodes with locked owners (shim.h): the counting filter, and the
 * generation that moves whenever a slot goes from 0 to 1 (slot first, then
 * generation: a reader that loads the generation before the slot never
 * takes a slot that just filled for empty).  ls_fd_clean[fd] == generation:
 * fd was seen (fstat) to be of an inode whose slot was 0 at that
 * generation, so it still is. */
_Atomic uint32_t ls_locked_filter[LS_LOCKED_SLOTS];
_Atomic uint32_t ls_locked_gen = 1;
uint32_t ls_fd_clean[LS_FD_LIMIT];

/* Wrapped (after 2^32 files became locked): no old mark may match. */
__attribute__((noinline, cold))
static uint32_t locked_gen_wrap(void)
{
    for (int i = 0; i < LS_FD_LIMIT; i++)
        if (__atomic_load_n(&ls_fd_clean[i], __ATOMIC_RELAXED))
            __atomic_store_n(&ls_fd_clean[i], 0, __ATOMIC_RELAXED);
    return 1;
}

static inline void locked_gen_bump(void)
{
    uint32_t g = atomic_load_explicit(&ls_locked_gen, memory_order_relaxed) + 1;
    if (LS_UNLIKELY(g == 0))
        g = locked_gen_wrap();
    atomic_store_explicit(&ls_locked_gen, g, memory_order_release);
}

/* Fds went without their closes reading their marks (close_range): no
 * mark made so far counts.  Any context. */
void ls_fd_clean_forget(void)
{
    atomic_fetch_add_explicit(&ls_locked_gen, 1, memory_order_release);
}

static inline __attribute__((always_inline)) void owner_recount(struct ls_owner *o)
{
    int now = o->ranges != NULL;
    if (now != o->counted) {
        atomic_fetch_add_explicit(&g_locked_owners, now ? 1 : -1, memory_order_relaxed);
        if (o->inode) {
            /* writers hold g_mu: a load and a store, no locked instruction */
            _Atomic uint32_t *slot = &ls_locked_filter[o->inode->locked_slot];
            uint32_t n = atomic_load_explicit(slot, memory_order_relaxed);
            atomic_store_explicit(slot, now ? n + 1 : n - 1, memory_order_release);
            if (now && n == 0)
                locked_gen_bump();          /* after the slot: see above */
        }
        o->counted = now;
    }
    ls_publish_owner(o);        /* registry: what this process holds */
}

int ls_owner_apply(struct ls_owner *o, int64_t s, int64_t e, int type)
{
    int r = ls_range_apply(&o->ranges, s, e, type, &ls_range_allocator);
    owner_recount(o);
    return r;
}

void ls_owner_clear(struct ls_owner *o)
{
    ls_range_free_all(&o->ranges, &ls_range_allocator);
    owner_recount(o);
}
struct ls_owner *g_all_owners;


struct ls_desc *ls_fd_peek(int fd)
{
    if ((unsigned)fd >= FD_LIMIT)
        return NULL;
    slot_t *pg = __atomic_load_n(&pages[fd >> PAGE_BITS], __ATOMIC_ACQUIRE);
    if (!pg)
        return NULL;
    return atomic_load_explicit(&pg[fd & (PAGE_SLOTS - 1)], memory_order_acquire);
}

struct ls_desc *ls_fd_get(int fd) { return ls_fd_peek(fd); }

void ls_fd_set(int fd, struct ls_desc *d)
{
    if ((unsigned)fd >= FD_LIMIT)
        return;
    slot_t *pg = pages[fd >> PAGE_BITS];
    if (!pg) {
        if (!d)
            return;
        pg = ls_alloc(sizeof(slot_t) * PAGE_SLOTS);
        if (!pg)
            return;
        __atomic_store_n(&pages[fd >> PAGE_BITS], pg, __ATOMIC_RELEASE);
    }
    atomic_store_explicit(&pg[fd & (PAGE_SLOTS - 1)], d, memory_order_release);
    uint8_t st = ls_fd_state[fd];
    __atomic_store_n(&ls_fd_state[fd], (uint8_t)(d ? st | LS_FD_TRACKED : st & ~LS_FD_TRACKED),
                     __ATOMIC_RELEASE);
    if (d && fd + 1 > fd_max)
        fd_max = fd + 1;
    if (d)                      /* a tracked fd's close never reads the mark: none may outlive it */
        __atomic_store_n(&ls_fd_clean[fd], 0, __ATOMIC_RELAXED);
}

int ls_fd_max(void) { return fd_max; }

void ls_fd_mark_private(int fd, int on)
{
    if ((unsigned)fd >= LS_FD_LIMIT)
        return;
    uint8_t st = ls_fd_state[fd];
    __atomic_store_n(&ls_fd_state[fd], (uint8_t)(on ? st | LS_FD_PRIVATE : st & ~LS_FD_PRIVATE),
                     __ATOMIC_RELEASE);
}

/* ---- inodes ---- */

struct inode_key { dev_t dev; ino_t ino; };
struct inode_node {
    struct inode_key key;
    struct ls_inode in;
    UT_hash_handle hh;
};
static struct inode_node *inodes;

struct ls_inode *ls_inode_get(dev_t dev, ino_t ino, int create)
{
    struct inode_key k;
    struct inode_node *n;
    memset(&k, 0, sizeof k);
    k.dev = dev;
    k.ino = ino;
    HASH_FIND(hh, inodes, &k, sizeof k, n);
    if (n || !create)
        return n ? &n->in : NULL;
    n = ls_alloc(sizeof *n);
    if (!n)
        return NULL;
    n->key = k;
    n->in.dev = dev;
    n->in.ino = ino;
    n->in.locked_slot = ls_locked_slot(dev, ino);
    HASH_ADD(hh, inodes, key, sizeof k, n);
    if (!n->hh.tbl) {           /* uthash ran out of memory */
        ls_free(n, sizeof *n);
        return NULL;
    }
    return &n->in;
}

/* References: every description and every owner of the inode holds one
 * (an owner pinned by a kernel call in flight keeps its reference until the
 * call is settled), so whoever drops the last one frees the record. */
void ls_inode_ref(struct ls_inode *in) { in->refs++; }

void ls_inode_unref(struct ls_inode *in)
{
    if (in && --in->refs <= 0)
        ls_inode_put_if_unused(in);
}

void ls_inode_put_if_unused(struct ls_inode *in)
{
    if (!in || in->refs > 0 || in->descs || in->shared)
        return;
    struct inode_node *n = (struct inode_node *)((char *)in - offsetof(struct inode_node, in));
    HASH_DEL(inodes, n);
    ls_free(n, sizeof *n);
}

/* ---- files already asked about in /proc/locks ----
 * Reading /proc/locks is slow and takes the kernel's lock-list lock: the
 * cross-process flock-fcntl-mix checks are made once per file and family,
 * remembered here (round robin) past the life of the inode record. */
#define CHECKED_SLOTS 64
static struct { dev_t dev; ino_t ino; int family; } checked[CHECKED_SLOTS];
static unsigned checked_next;

int ls_checked(dev_t dev, ino_t ino, int family)
{
    for (int i = 0; i < CHECKED_SLOTS; i++)
        if (checked[i].ino == ino && checked[i].dev == dev && checked[i].family == family)
            return 1;
    return 0;
}

void ls_checked_set(dev_t dev, ino_t ino, int family)
{
    unsigned i = checked_next++ % CHECKED_SLOTS;
    checked[i].dev = dev;
    checked[i].ino = ino;
    checked[i].family = family;
}

/* ---- description identity ---- */

#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027
#endif
#define KCMP_FILE 0

int ls_same_description(int a, int b)
{
    if (a == b)
        return 1;
    /* Not probed at start: each is tried until the kernel says it lacks
     * it (F_DUPFD_QUERY: EINVAL; kcmp: ENOSYS, or EPERM under a ptrace
     * policy), then not asked again.  errno is left as it was. */
    int saved = errno, ret = -1;
    if (__atomic_load_n(&g_ls.have_dupfd_query, __ATOMIC_RELAXED) >= 0) {
        int r = REAL(fcntl)(a, F_DUPFD_QUERY, b);
        if (r >= 0) {
            __atomic_store_n(&g_ls.have_dupfd_query, 1, __ATOMIC_RELAXED);
            errno = saved;
            return r == 1;
        }
        if (errno == EINVAL)
            __atomic_store_n(&g_ls.have_dupfd_query, -1, __ATOMIC_RELAXED);
    }
    if (__atomic_load_n(&g_ls.have_kcmp, __ATOMIC_RELAXED) >= 0) {
        long r = syscall(SYS_kcmp, (long)g_ls.pid, (long)g_ls.pid, KCMP_FILE, (long)a, (long)b);
        if (r >= 0) {
            __atomic_store_n(&g_ls.have_kcmp, 1, __ATOMIC_RELAXED);
            ret = r == 0;
        } else if (errno == ENOSYS || errno == EPERM || errno == EACCES) {
            __atomic_store_n(&g_ls.have_kcmp, -1, __ATOMIC_RELAXED);
        }
    }
    errno = saved;
    return ret;
}

/* ---- owners ---- */

static void owner_link(struct ls_owner *o)
{
    o->next_all = g_all_owners;
    o->prev_all = NULL;
    if (g_all_owners)
        g_all_owners->prev_all = o;
    g_all_owners = o;
}

static void owner_unlink(struct ls_owner *o)
{
    if (o->prev_all) o->prev_all->next_all = o->next_all;
    else g_all_owners = o->next_all;
    if (o->next_all) o->next_all->prev_all = o->prev_all;
}

struct ls_owner *ls_owner_new(struct ls_inode *in, int acc)
{
    struct ls_owner *o = ls_alloc(sizeof *o);
    if (!o)
        return NULL;
    o->priv = -1;
    o->acc = acc;
    o->inode = in;
    ls_inode_ref(in);
    owner_link(o);
    return o;
}

/* Drop one reference; the last one closes the private fd, which is what
 * releases the owner's kernel locks. */
static void owner_finish(struct ls_owner *o);

/* A kernel call on o->priv made without g_mu (so that threads locking other
 * files do not wait for it) pins the owner: its private fd stays open, and
 * its memory valid, until the call is back. */
void ls_owner_pin(struct ls_owner *o) { o->pins++; }

void ls_owner_unpin(struct ls_owner *o)
{
    if (--o->pins == 0 && o->zombie)
        owner_finish(o);
}

void ls_owner_release(struct ls_owner *o)
{
    if (!o || --o->refs > 0)
        return;
    if (o->pins > 0) {
        /* Kernel calls are in flight on it: the last one to be settled
         * finishes it.  A call whose thread died in it (pthread_cancel)
         * never comes back: settle those now. */
        o->zombie = 1;
        ls_calls_reap_dead(o);
        return;
    }
    owner_finish(o);
}

static void owner_finish(struct ls_owner *o)
{
    if (o->priv >= 0 && o->ranges) {
        /* A forked child that has not run yet still holds a copy of the
         * private fd (its atfork handler closes it when it runs): unlock
         * first, so the locks go now and not when the child gets the CPU. */
        struct flock q;
        memset(&q, 0, sizeof q);
        q.l_type = F_UNLCK;
        q.l_whence = SEEK_SET;
        int saved = errno;
        REAL(fcntl)(o->priv, LS_BK_SETLK, &q);
        errno = saved;
    }
    if (o->priv >= 0) {
        /* -1 first: a signal handler reading o->priv on the signal path
         * (engine.c) never gets a number already closed */
        int p = o->priv;
        __atomic_store_n(&o->priv, -1, __ATOMIC_RELEASE);
        ls_fd_mark_private(p, 0);
        int saved = errno;
        REAL(close)(p);
        errno = saved;
    }
    ls_owner_clear(o);
    ls_range_free_all(&o->inherited, &ls_range_allocator);
    if (o->inode && o->inode->shared == o)
        o->inode->shared = NULL;
    owner_unlink(o);
    struct ls_inode *in = o->inode;
    ls_free(o, sizeof *o);
    ls_inode_unref(in);
}

/* ---- descriptions ---- */

static void desc_link_all(struct ls_desc *d)
{
    d->next_all = g_all_descs;
    d->prev_all = NULL;
    if (g_all_descs) g_all_descs->prev_all = d;
    g_all_descs = d;
}

static void desc_free(struct ls_desc *d)
{
    struct ls_inode *in = d->inode;
    if (in) {
        struct ls_desc **pp;
        for (pp = &in->descs; *pp; pp = &(*pp)->next_in_inode)
            if (*pp == d) { *pp = d->next_in_inode; break; }
        in->ndescs--;
    }
    ls_range_free_all(&d->ofd_ranges, &ls_range_allocator);
    ls_publish_ofd(d, -1);      /* registry: withdrawn */
    if (d->prev_all) d->prev_all->next_all = d->next_all;
    else g_all_descs = d->next_all;
    if (d->next_all) d->next_all->prev_all = d->prev_all;
    struct ls_owner *o = d->owner;
    d->gen = 0;                 /* a pointer kept by a call in flight no longer matches */
    ls_free(d, sizeof *d);
    if (o)
        ls_owner_release(o);
    ls_inode_unref(in);
}

void ls_desc_link_fd(int fd, struct ls_desc *d)
{
    struct ls_desc *old = ls_fd_get(fd);
    if (old == d)
        return;
    if (old)
        ls_desc_unref_fd(fd, NULL);
    d->refs++;
    ls_fd_set(fd, d);
}

/* Find an fd of the same description that the table does not know. */
static int find_alias(int fd, struct ls_desc *d)
{
    char buf[4096];
    int dfd = REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int found = -1;
    if (dfd < 0)
        return -1;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (long off = 0; off < n; ) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + off);
            off += e->reclen;
            int c = 0, ok = e->name[0] != 0;
            for (const char *s = e->name; *s; s++) {
                if (*s < '0' || *s > '9') { ok = 0; break; }
                c = c * 10 + (*s - '0');
            }
            if (!ok || c == fd || c == dfd || ls_fd_is_private(c) || ls_fd_peek(c))
                continue;
            int same = ls_same_description(fd, c);
            if (same < 0) {     /* no way to tell: same inode is taken as same */
                struct stat a, b;
                same = fstat(fd, &a) == 0 && fstat(c, &b) == 0 &&
                       a.st_dev == b.st_dev && a.st_ino == b.st_ino &&
                       d->inode && a.st_ino == d->inode->ino;
            }
            if (same == 1) { found = c; break; }
        }
        if (found >= 0)
            break;
    }
    REAL(close)(dfd);
    return found;
}

static int owner_holds(const struct ls_owner *o) { return o && o->ranges; }

/* Called with the fd still open, just before the program's close of it. */
void ls_desc_before_close(int fd, struct ls_desc *d)
{
    if (d->refs == 1 && d->maybe_aliases && owner_holds(d->owner) &&
        (!d->owner || d->owner->refs == 1)) {
        int alias = find_alias(fd, d);
        if (alias >= 0) {
            d->refs++;
            ls_fd_set(alias, d);
        }
    }
}

void ls_desc_unref_fd(int fd, const char *call)
{
    (void)call;
    struct ls_desc *d = ls_fd_get(fd);
    if (!d)
        return;
    ls_fd_set(fd, NULL);
    if (--d->refs <= 0)
        desc_free(d);
}

struct ls_desc *ls_desc_for_fd(int fd, int *err)
{
    struct ls_desc *d = ls_fd_get(fd);
    struct stat st;
    int fl;

    if (d)
        return d;
    if ((unsigned)fd >= FD_LIMIT) { *err = -EBADF; return NULL; }
    if (fstat(fd, &st) < 0) { *err = -errno; return NULL; }
    fl = REAL(fcntl)(fd, F_GETFL);
    if (fl < 0) { *err = -errno; return NULL; }

    struct ls_inode *in = ls_inode_get(st.st_dev, st.st_ino, 1);
    if (!in) { *err = -ENOMEM; return NULL; }

    int born = ls_fd_is_born(fd);
    if (!born) {
        /* Maybe another fd we know shares this description. */
        for (struct ls_desc *o = in->descs; o; o = o->next_in_inode) {
            int known = -1;
            for (int i = 0; i < fd_max; i++)
                if (ls_fd_peek(i) == o) { known = i; break; }
            if (known >= 0 && ls_same_description(fd, known) == 1) {
                o->refs++;
                ls_fd_set(fd, o);
                return o;
            }
        }
    }
    d = ls_alloc(sizeof *d);
    if (!d) { ls_inode_put_if_unused(in); *err = -ENOMEM; return NULL; }
    static uint64_t gens;
    d->gen = ++gens;
    d->acc = (fl & O_PATH) ? -1 : (fl & O_ACCMODE);
    d->maybe_aliases = !born;
    d->inode = in;
    ls_inode_ref(in);
    d->next_in_inode = in->descs;
    in->descs = d;
    in->ndescs++;
    desc_link_all(d);
    d->refs = 1;
    ls_fd_set(fd, d);
    return d;
}

/* ---- fork: the child owns none of the parent's locks (rule 6) ----
 * Runs in the child between fork and whatever follows: close(2) only. */
void ls_engine_fork_child(void);
#include "holder.h"

void ls_fork_child_reset(void)
{
    for (struct ls_owner *o = g_all_owners; o; o = o->next_all) {
        if (o->priv >= 0) {
            ls_fd_mark_private(o->priv, 0);
            REAL(close)(o->priv);
            o->priv = -1;
        }
        if (o->inherited || o->ranges) {   /* untouched pages stay shared */
            ls_range_free_all(&o->inherited, &ls_range_allocator);
            o->inherited = o->ranges;
            o->ranges = NULL;
            owner_recount(o);
        }
    }
    /* the program's own OFD locks belong to the description, which the
     * child shares: the child itself has taken none of them */
    for (struct ls_desc *d = g_all_descs; d; d = d->next_all) {
        if (d->ofd_ranges)
            ls_range_free_all(&d->ofd_ranges, &ls_range_allocator);
        if (d->ofd_used)
            d->ofd_used = 0;
    }
    ls_engine_fork_child();
    ls_xwait_fork_child();
}
