/*
 * shim.h - state shared by the pieces of the preloaded library.
 *
 * THE OWNER MODEL (see README "How it works" for the long form)
 *
 * A lock's owner is (process, open file description).  On Linux each owner
 * is carried by a *private description*: a second open of the same inode,
 * made by this process through /proc/self/fd/N, parked at a high fd number
 * with FD_CLOEXEC, that takes the kernel's OFD locks on the program's
 * behalf.  Because the private description is this process's alone:
 *   - closing any other descriptor releases nothing (rule 1);
 *   - two descriptions of this process are two OFD owners: they conflict,
 *     across threads too (rule 2), and one never converts the other (4);
 *   - a forked child closes its copies of the parent's private fds at once
 *     (atfork), so it owns nothing and the parent's exit releases the locks
 *     even while the child keeps the program's descriptor (rule 6); children
 *     that no hook sees (posix_spawn, system, popen) lose them at exec,
 *     because private fds are close-on-exec;
 *   - at exec, private fds of descriptions that survive the exec are made
 *     inheritable (no other thread makes a child meanwhile: the spawn gate)
 *     and the table is handed to the next image in a sealed memfd named by
 *     one environment variable; its constructor verifies both before
 *     touching any fd and removes the variable before main (7);
 *   - the kernel sees ordinary OFD locks, which conflict with classic POSIX
 *     locks of processes without the shim (rule 9).
 * The kernel is the authority on conflicts.  The shim keeps a model of the
 * ranges each owner holds only to explain and to refuse: hazards, F_GETLK
 * holder pids, and deadlock detection (rule 3), which OFD locks lack.
 *
 * Files recognised as SQLite databases (SQLite's whole SHARED sequence:
 * read (P,1), read (P+2,510), unlock (P,1), for any PENDING_BYTE P; see
 * engine.c sqlite_pattern) get ONE owner per (process, inode), shared by
 * all descriptions of the inode in the process: SQLite's process-scoped
 * hand-off keeps working (rule 10) and an unrelated close still cannot drop
 * its locks.  LOCKSCOPE_SCOPE can force either scope, or native semantics.
 *
 * LOCKING: one mutex, g_mu, protects the fd table, descriptions, owners,
 * inodes, the calls in flight and the allocator.  Signals are NOT blocked
 * (that would cost two syscalls per call): g_mu is a futex whose word is
 * the holder's tid, so a signal handler that finds its own thread holding
 * it takes the signal path (engine.c) and leaves the table's update to the
 * interrupted section (ls_defer); it is held across fork by the atfork
 * handlers.  Nothing blocking on another process happens under it.
 *
 * LIFETIMES: every object is freed by whoever drops its last reference.  An
 * inode is referenced by its descriptions and its owners; an owner by its
 * descriptions (refs) and by the kernel calls in flight on its private fd
 * (pins).  A kernel call made without g_mu is described by a struct ls_call
 * (engine.c): it pins the owner, is the waiter in the in-process wait-for
 * graph, and remembers the registry slot.  A call that never comes back
 * (siglongjmp out of a handler, pthread_cancel) leaves its record behind:
 * the next ls_enter of the same thread settles it (ls_calls_on_enter), and
 * the release of the owner settles those of threads that died.  Fast paths
 * (fds the shim does not track) read the fd table without g_mu: slots are
 * published with release stores and only ever compared with NULL outside
 * the mutex.
 */
#ifndef LOCKSCOPE_SHIM_H
#define LOCKSCOPE_SHIM_H

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "../config/config.h"
#include "ranges.h"

#define LS_EXPORT __attribute__((visibility("default")))
/* The library is preloaded (loaded at startup), so its thread-local
 * variables can live in static TLS: one instruction to reach, no
 * __tls_get_addr call, no allocation on a thread's first access (which
 * could happen in a signal handler). */
#define LS_TLS __thread __attribute__((tls_model("initial-exec")))
/* The code a forked child runs (the fork wrapper, the child's atfork
 * handler): one section, gathered before the rest of .text by the linker
 * (".text.hot*"), so that a child touches one code page of the library
 * (each one is a page fault in every child: fork copies no page table
 * entries of file-backed code). */
#define LS_FORK_TEXT __attribute__((section(".text.hot.lockscope_fork"), noinline))
#define LS_UNLIKELY(x) __builtin_expect(!!(x), 0)
#define LS_LIKELY(x) __builtin_expect(!!(x), 1)

/* Declarations glibc's headers may not give us. */
int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);

/* ---- global state (set by the constructor, read-only afterwards) ---- */
struct ls_state {
    enum ls_mode mode;          /* effective mode; OFF when inert */
    int inited;
    struct ls_config cfg;
    int have_dupfd_query;       /* F_DUPFD_QUERY: 1 works, -1 not, 0 not tried yet */
    int have_kcmp;              /* the same for kcmp(KCMP_FILE) */
    int have_proc;              /* /proc/self/fd opened (backend_linux.c) */
    pid_t pid;                  /* cached getpid(), refreshed at fork */
    int open_hook;              /* opens need the slow path (open-lock or scope rules) */
};
extern struct ls_state g_ls;

/* In a vfork child (it shares the parent's memory) the shim is inert: it
 * must not touch the parent's table, and the child owns nothing. */
extern LS_TLS int ls_tls_vfork_child;
static inline int ls_active(void) { return g_ls.mode != LS_MODE_OFF && LS_LIKELY(!ls_tls_vfork_child); }
static inline int ls_fixing(void) { return g_ls.mode >= LS_MODE_FIX && LS_LIKELY(!ls_tls_vfork_child); }

/* A process made by clone() that no fork hook saw: forget the parent's
 * ownership before anything is used (core.c). */
extern _Atomic pid_t *ls_pidpage;      /* zeroed in such a child */
void ls_check_process_slow(void);
static inline void ls_check_process(void)
{
    _Atomic pid_t *p = __atomic_load_n(&ls_pidpage, __ATOMIC_ACQUIRE);
    if (LS_UNLIKELY(!p || atomic_load_explicit(p, memory_order_relaxed) == 0))
        ls_check_process_slow();
}

/* The spawn gate (core.c): children are made outside exec's hand-over. */
void ls_spawn_enter(void);
void ls_spawn_enter_at(uintptr_t frame);   /* frame: the wrapper's, for ls_gate_reap */
void ls_gate_reap(uintptr_t here);
void ls_spawn_leave(void);
int ls_exec_gate_close(void);
void ls_exec_gate_open(void);

/* ---- the critical section ---- */
/* cancel: the thread's cancelability state to restore when it leaves.
 * Cancellation is disabled inside the section: a cancellation point there
 * (open, read, write of a record...) must never end the thread with g_mu
 * held, which would hang every other thread. */
struct ls_guard { int cancel; };          /* -1: left as it was */
extern LS_TLS int ls_tls_nocancel;        /* this thread's cancellation is off already */
/* 0: entered.  -1: this thread is already inside (a signal handler that
 * interrupted the shim): take the signal path, never wait. */
int ls_enter(struct ls_guard *g) __attribute__((warn_unused_result));
void ls_leave(struct ls_guard *g);
void ls_reenter(struct ls_guard *g);
int ls_held(void);              /* this thread holds g_mu */

/* Signal path: what a handler did, for the interrupted ls_leave to apply. */
enum { LS_DEFER_CLOSED = 1, LS_DEFER_NEWFD, LS_DEFER_DUP, LS_DEFER_RESYNC, LS_DEFER_LOCKED,
       LS_DEFER_ADOPT };
/* LS_DEFER_ADOPT: fd, a private fd made on the signal path, the type and
 * [s, e] locked through it: the description's owner takes it over */
void ls_defer_full(int kind, int a, int b, int c, int64_t s, int64_t e);
void ls_defer(int kind, int a, int b);
/* LS_DEFER_LOCKED: fd, the private fd used, type (LS_RD/LS_WR/LS_UN), [s, e] went to the kernel */
int ls_deferred_private(int fd);   /* a private fd a handler made for fd, still to be adopted, or -1 */

/* ---- allocator (mmap-backed, usable under g_mu from any context) ---- */
void *ls_alloc(size_t size);     /* zeroed; NULL on failure */
void ls_free(void *p, size_t size);
extern const struct ls_range_alloc ls_range_allocator;

/* ---- objects ---- */
struct ls_inode;

/* A lock owner: what the kernel sees as one OFD owner. */
struct ls_owner {
    int priv;                   /* private fd, or -1 before the first lock */
    int counted;                /* counted in g_locked_owners */
    int pins;                   /* kernel calls in flight on priv, made without g_mu */
    int zombie;                 /* released while pinned: the last unpin finishes it */
    int refs;                   /* descriptions using this owner */
    int acc;                    /* O_ACCMODE the private fd was opened with */
    pid_t tid;                  /* thread that last acquired through it */
    int fd1;                    /* program fd + 1 it last locked through (registry), 0 none */
    struct ls_range *ranges;    /* model of what it holds */
    struct ls_range *inherited; /* in a forked child: the parent's ranges */
    struct ls_inode *inode;
    struct ls_owner *next_all, *prev_all;  /* all owners, for fork/exec */
};

/* An open file description of this process that the shim tracks. */
struct ls_desc {
    int refs;                   /* program fds in the table pointing here */
    uint64_t gen;               /* unique while alive, 0 once freed */
    int acc;                    /* O_ACCMODE of the description, -1 = O_PATH */
    int maybe_aliases;          /* fds of it may exist that the table lacks */
    int inherited;              /* came through fork: the parent's locks */
    int ofd_used;               /* program's own F_OFD_* locks seen on it */
    struct ls_range *ofd_ranges; /* what this process locked itself through it with F_OFD_* */
    int flock_used, fcntl_used;
    int flock_held;             /* LOCK_SH or LOCK_EX held through it (flock) */
    struct ls_owner *owner;     /* NULL until needed */
    struct ls_inode *inode;
    struct ls_desc *next_in_inode;
    struct ls_desc *next_all, *prev_all;
};

#define LS_INODE_SQLITE 1       /* recognised as SQLite: one owner per process */
struct ls_inode {
    dev_t dev;
    ino_t ino;
    int scope;                  /* LS_SCOPE_AUTO/PROCESS/DESCRIPTION as decided */
    int flags;
    int flock_seen, fcntl_seen;
    int flock_checked;          /* /proc/locks was asked for other processes' flocks */
    unsigned locked_slot;       /* ls_locked_slot(dev, ino) */
    int refs;                   /* descriptions and owners pointing here */
    struct ls_owner *shared;    /* the owner all descriptions share, if any */
    struct ls_desc *descs;
    int ndescs;
    struct ls_inode *next;      /* hash chain */
};

/* ---- fd table (fdtable.c) ---- */
#define LS_FD_LIMIT (1 << 20)                 /* fds the table can track */
#define LS_FD_TRACKED 1                       /* the table has a description for it */
#define LS_FD_PRIVATE 2                       /* one of the shim's own fds */
extern uint8_t ls_fd_state[LS_FD_LIMIT];      /* written under g_mu */
extern uint8_t ls_fd_born_map[LS_FD_LIMIT];   /* created by a call we saw */

struct ls_desc *ls_fd_get(int fd);          /* under g_mu */
struct ls_desc *ls_fd_peek(int fd);         /* lock-free: only compare with NULL */
void ls_fd_set(int fd, struct ls_desc *d);  /* under g_mu */
int ls_fd_max(void);                        /* highest fd ever set + 1 */
void ls_fd_mark_private(int fd, int on);    /* under g_mu */

/* The hot-path test: one byte load.  Nonzero: tracked or the shim's own. */
static inline int ls_fd_busy(int fd)
{
    return (unsigned)fd < LS_FD_LIMIT && __atomic_load_n(&ls_fd_state[fd], __ATOMIC_ACQUIRE);
}
static inline int ls_fd_is_private(int fd)
{
    return (unsigned)fd < LS_FD_LIMIT && (__atomic_load_n(&ls_fd_state[fd], __ATOMIC_ACQUIRE) & LS_FD_PRIVATE);
}
static inline void ls_fd_born(int fd)
{
    if ((unsigned)fd < LS_FD_LIMIT) __atomic_store_n(&ls_fd_born_map[fd], 1, __ATOMIC_RELAXED);
}
static inline void ls_fd_unborn(int fd)
{
    if ((unsigned)fd < LS_FD_LIMIT) __atomic_store_n(&ls_fd_born_map[fd], 0, __ATOMIC_RELAXED);
}
static inline int ls_fd_is_born(int fd)
{
    return (unsigned)fd < LS_FD_LIMIT && __atomic_load_n(&ls_fd_born_map[fd], __ATOMIC_RELAXED);
}

struct ls_inode *ls_inode_get(dev_t dev, ino_t ino, int create);
void ls_inode_put_if_unused(struct ls_inode *in);   /* frees it if nothing refers to it */
void ls_inode_ref(struct ls_inode *in);
void ls_inode_unref(struct ls_inode *in);

/* Find or build the description behind a program fd; NULL + *err. */
struct ls_desc *ls_desc_for_fd(int fd, int *err);
/* A program fd number was closed or re-pointed: drop it from the table.
 * `closing_fd_open`: the fd is still open (alias scan possible). */
void ls_desc_unref_fd(int fd, const char *call);
void ls_desc_before_close(int fd, struct ls_desc *d);
struct ls_owner *ls_owner_new(struct ls_inode *in, int acc);

void ls_fd_heal(int fd);
void ls_desc_link_fd(int fd, struct ls_desc *d);
void ls_owner_release(struct ls_owner *o);
void ls_owner_pin(struct ls_owner *o);
void ls_owner_unpin(struct ls_owner *o);
struct ls_owner *ls_owner_for(struct ls_desc *d, int fd, int *err);
extern struct ls_desc *g_all_descs;
/* Owners whose model holds any range; while 0, a close needs no check. */
extern _Atomic int g_locked_owners;
/* Inodes with locked owners, for the close of an fd the table does not
 * know (interpose.c): a counting filter of (dev, ino) hashes, written under
 * g_mu with the owner's count (fdtable.c owner_recount), read without it.
 * Zero: no owner of any inode with that hash holds a lock, so natively that
 * close would drop nothing and there is nothing to report or keep.
 * ls_locked_gen moves whenever a slot fills; ls_fd_clean[fd] (relaxed
 * atomic accesses) equal to it says fd's slot was empty at that generation,
 * so a close of fd needs no fstat: set by a dup of an untracked fd while
 * locks are held (one fstat of the old fd per generation), copied to the
 * new fd, cleared when a close consults it. */
#define LS_LOCKED_SLOTS 256
extern _Atomic uint32_t ls_locked_filter[LS_LOCKED_SLOTS];
extern _Atomic uint32_t ls_locked_gen;
extern uint32_t ls_fd_clean[LS_FD_LIMIT];
void ls_fd_clean_forget(void);     /* fds closed without reading their marks */
static inline unsigned ls_locked_slot(dev_t dev, ino_t ino)
{
    uint64_t x = (uint64_t)ino * 0x9e3779b97f4a7c15ull ^ (uint64_t)dev * 0xbf58476d1ce4e5b9ull;
    return (unsigned)(x >> 56) % LS_LOCKED_SLOTS;
}
static inline int ls_inode_maybe_locked(dev_t dev, ino_t ino)   /* 0: no owner holds a lock on it */
{
    return atomic_load_explicit(&ls_locked_filter[ls_locked_slot(dev, ino)], memory_order_relaxed) != 0;
}
int ls_owner_apply(struct ls_owner *o, int64_t s, int64_t e, int type);
void ls_owner_clear(struct ls_owner *o);
extern struct ls_owner *g_all_owners;

/* ---- identity of descriptions ---- */
int ls_same_description(int fd_a, int fd_b);   /* 1, 0, or -1 unknown */

/* ---- private fds: backend.h ---- */
#include "backend.h"

/* ---- the lock engine (engine.c) ---- */
/* Calls in flight (see LIFETIMES above).  ls_tls_call: this thread's
 * innermost one (a handler may make one while another is in flight). */
struct ls_call;
extern LS_TLS struct ls_call *ls_tls_call;
int ls_calls_on_enter(void);                   /* under g_mu: settle calls this thread left;
                                                  the cancel state to restore, or -1 */
void ls_calls_reap_dead(struct ls_owner *o);   /* under g_mu: settle calls on o whose thread died */
int ls_fcntl_lock(int fd, int cmd, void *arg, const char *call, void *site);
int ls_fcntl_ofd(int fd, int cmd, void *arg, const char *call, void *site);
int ls_lockf(int fd, int cmd, off_t len, const char *call, void *site);
int ls_flock(int fd, int op, void *site);
void ls_engine_on_close(int fd, struct ls_desc *d, const char *call, void *site);
void ls_engine_on_close_untracked(int fd, const char *call, void *site);
void ls_scope_at_open(int dirfd, const char *path, int fd);
int ls_flock_locks_on(int fd, dev_t dev, ino_t ino);
/* registry (publish.c, under g_mu): an owner's model / a description's flock changed */
void ls_publish_owner(struct ls_owner *o);
void ls_publish_flock(const struct ls_desc *d, int fd);
void ls_publish_ofd(const struct ls_desc *d, int fd);
/* flock and fcntl locks share one lock on fd's file (NFS, LOCKSCOPE_FLOCK=ofd) */
int ls_flock_fcntl_shared(int fd);
/* under g_mu: was /proc/locks already asked about this file (family 1: flock
 * locks, 2: fcntl locks)? */
int ls_checked(dev_t dev, ino_t ino, int family);
void ls_checked_set(dev_t dev, ino_t ino, int family);


/* ---- hazards (hazard.c) ---- */
struct ls_hazard {
    const char *name;
    const char *action;          /* "observed" | "prevented" | "refused" */
    const char *call;
    int fd;                      /* -1: none */
    dev_t dev; ino_t ino; int has_devino;
    const char *type;
    int has_range; int64_t start, end;
    const char *detail;
    void *site;
};
void ls_hazard(const struct ls_hazard *h);    /* under g_mu or not */
void ls_debug(const char *fmt_literal, ...);  /* simple %s %d %x only */
const char *ls_action_for(int changed);       /* observed/prevented/refused */

/* ---- fork and exec (core.c, exec.c) ---- */
void ls_fork_child_reset(void);
int ls_exec_prepare(char *const envp[], char ***new_envp, void **cookie);
void ls_exec_failed(void *cookie);
void ls_exec_receive(int secure);

/* errno helpers: logic returns -errno; the boundary sets errno once. */
static inline int ls_ret(int r) { if (r < 0) { errno = -r; return -1; } return r; }

pid_t ls_gettid(void);

/* ---- /proc/self/maps (maps.c; caller holds g_mu) ---- */
struct ls_mapping { uintptr_t lo, hi, offset; int writable; char name[128]; };
int ls_maps_find(uintptr_t addr, struct ls_mapping *m);

#endif
