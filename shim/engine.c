/*
 * engine.c - the lock engine: fcntl record locks and lockf.
 *
 * POSIX advisory record locks are owned by the process: any close of any
 * descriptor of the file drops them all, a request through another
 * descriptor silently converts them, and threads cannot exclude each other.
 * In fix and strict this engine re-homes every request on the owner of the
 * description it came through (see shim.h) and asks the kernel with the
 * OFD commands on the owner's private descriptor.
 *
 * What must stay true:
 *   - one kernel call per F_SETLK on the hot path, and the kernel decides
 *     conflicts; the model (owner->ranges) only follows the kernel's answer;
 *   - the caller's struct flock is read and written as the kernel would:
 *     EFAULT where the kernel answers EFAULT, nothing written where the
 *     kernel writes nothing, l_type alone changed by an F_GETLK that finds
 *     no conflict;
 *   - every errno for bad arguments is the native one (checks in the
 *     kernel's order: EBADF for the fd, EFAULT, EINVAL/EOVERFLOW for the
 *     range, EBADF for the access mode);
 *   - nothing blocks while g_mu is held.
 * In audit the native call is made and the model mirrors native
 * semantics, only to report what went wrong.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <signal.h>
#include <unistd.h>

#include "holder.h"
#include "openlock.h"
#include "log.h"
#include "backend.h"
#include "real.h"
#include "shim.h"

#define NO_HOLDER_PID 2147483647


/* ---- the caller's struct flock ----
 * Read and written as the kernel would: EFAULT, never a crash, for a NULL,
 * wild or read-only pointer.  The common case costs no syscall: a struct
 * on the calling thread's own stack, between our frame and the top of the
 * stack's mapping, is certainly mapped and writable.  Anything else goes
 * through process_vm_readv/writev, which answer EFAULT.  A struct in the
 * program's static data (in_static_data) is read directly as well. */

static LS_TLS uintptr_t tls_stack_lo, tls_stack_hi;

static int on_own_stack(const void *p, size_t n)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    uintptr_t a = (uintptr_t)p;
    if (a < sp || a - sp > 256 * 1024)
        return 0;
    if (sp < tls_stack_lo || sp >= tls_stack_hi) {
        struct ls_mapping m;
        if (!ls_held() || ls_maps_find(sp, &m) < 0 || !m.writable)
            return 0;
        tls_stack_lo = m.lo;
        tls_stack_hi = m.hi;
    }
    return a + n <= tls_stack_hi;
}

/* The program's own writable data (.data and .bss of the executable, past
 * its RELRO part): mapped for the life of the process.  Found from the
 * auxiliary vector (no /proc, no loader lock), once; read-only use: a
 * struct there is read directly.  Written (F_GETLK) still through
 * process_vm_writev, so a page the program made read-only itself keeps
 * its EFAULT. */
#define STATIC_RANGES 4
static struct { uintptr_t lo, hi; } static_rw[STATIC_RANGES];
static int static_n;
static int static_ready;        /* 0 not yet, 1 done; atomic */

__attribute__((cold, noinline))
static void static_data_init(void)
{
    const ElfW(Phdr) *ph = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    size_t phn = getauxval(AT_PHNUM);
    uintptr_t bias = 0, relro_end = 0;
    int have_bias = 0, n = 0;
    long pg = sysconf(_SC_PAGESIZE);
    if (pg <= 0)
        pg = 4096;
    for (size_t i = 0; ph && i < phn; i++) {
        if (ph[i].p_type == PT_PHDR) {
            bias = (uintptr_t)ph - ph[i].p_vaddr;
            have_bias = 1;
        }
    }
    for (size_t i = 0; have_bias && i < phn; i++)
        if (ph[i].p_type == PT_GNU_RELRO)
            relro_end = (bias + ph[i].p_vaddr + ph[i].p_memsz + (uintptr_t)pg - 1) & ~((uintptr_t)pg - 1);
    for (size_t i = 0; have_bias && i < phn && n < STATIC_RANGES; i++) {
        if (ph[i].p_type != PT_LOAD || (ph[i].p_flags & (PF_R | PF_W)) != (PF_R | PF_W))
            continue;
        uintptr_t lo = bias + ph[i].p_vaddr, hi = lo + ph[i].p_memsz;
        if (relro_end > lo && relro_end <= hi)
            lo = relro_end;
        if (lo < hi) {
            __atomic_store_n(&static_rw[n].lo, lo, __ATOMIC_RELAXED);
            __atomic_store_n(&static_rw[n].hi, hi, __ATOMIC_RELAXED);
            n++;
        }
    }
    __atomic_store_n(&static_n, n, __ATOMIC_RELAXED);
    __atomic_store_n(&static_ready, 1, __ATOMIC_RELEASE);
}

static inline int in_static_data(const void *p, size_t n)
{
    if (LS_UNLIKELY(!__atomic_load_n(&static_ready, __ATOMIC_ACQUIRE)))
        static_data_init();
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < static_n; i++)
        if (a >= static_rw[i].lo && a < static_rw[i].hi && static_rw[i].hi - a >= n)
            return 1;
    return 0;
}

/* The slow side of copy_user: through the kernel, which answers EFAULT. */
__attribute__((cold, noinline))
static int copy_user_slow(void *ours, void *user, size_t n, int out)
{
    struct iovec l = { ours, n }, r = { user, n };
    ssize_t k = out ? process_vm_writev(g_ls.pid, &l, 1, &r, 1, 0)
                    : process_vm_readv(g_ls.pid, &l, 1, &r, 1, 0);
    if (k == (ssize_t)n)
        return 0;
    if (k < 0 && (errno == ENOSYS || errno == EPERM)) {
        /* no way to check (seccomp): trust the pointer */
        if (out) memcpy(user, ours, n);
        else memcpy(ours, user, n);
        return 0;
    }
    return -EFAULT;
}

/* Copy between the caller's memory (`user`, read when !out, written when
 * out) and ours; -EFAULT where the kernel would say so.  Inlined, so the
 * copy of the common case is a few moves of a constant size. */
static inline __attribute__((always_inline))
int copy_user(void *ours, void *user, size_t n, int out)
{
    if ((uintptr_t)user < 4096)
        return -EFAULT;
    if (LS_LIKELY(on_own_stack(user, n) || (!out && in_static_data(user, n)))) {
        if (out) memcpy(user, ours, n);
        else memcpy(ours, user, n);
        return 0;
    }
    return copy_user_slow(ours, user, n, out);
}

static inline __attribute__((always_inline))
int copy_in(void *dst, const void *src, size_t n) { return copy_user(dst, (void *)src, n, 0); }
static inline __attribute__((always_inline))
int copy_out(void *dst, const void *src, size_t n) { return copy_user((void *)src, dst, n, 1); }

static const char *type_name(int t)
{
    return t == F_RDLCK ? "read" : t == F_WRLCK ? "write" : "unlock";
}

/* ---- calls in flight ----
 * Every kernel call made on a private fd without g_mu is described by one
 * record, allocated (ls_alloc) when the call leaves the mutex and freed when
 * it is settled: it pins the owner (whose reference keeps the inode), it is
 * the thread's entry in the in-process wait-for graph while the call may
 * block, and it remembers the cross-process registry slot.  The records of
 * all threads form one list (no fixed table: a record that cannot be
 * allocated fails the request with ENOLCK); ls_tls_call chains this
 * thread's own, innermost first (a signal handler may make a call while
 * another is in flight).
 *
 * Normally the call settles its record itself, under g_mu, in one step
 * that reconciles with whatever changed meanwhile (commit).  A call that
 * never comes back leaves it behind:
 *   - siglongjmp out of a handler: the thread's next ls_enter sees its
 *     record and asks whether the call's frame is still on the stack.  The
 *     frame holds a per-call cookie; the call was left if the stack pointer
 *     is now not far enough below that frame for a signal frame (and we are
 *     not on an alternate signal stack), or if the cookie was overwritten
 *     (each lock request zeroes its own cookie slot first, so a retry from
 *     the same program frame always finds it wiped).  A handler running on
 *     top of the live call is far below it with the cookie intact: its
 *     record stays.  (An entry from deeper down after a longjmp that happens
 *     not to overwrite the cookie keeps the record until a later entry:
 *     late, never wrong.)
 *   - pthread_cancel in F_SETLKW (a cancellation point): the thread is
 *     gone; the release of the owner (its last close) and the deadlock walk
 *     settle records whose thread no longer exists (tgkill(pid, tid, 0)).
 * Settling a left call clears its registry slot and waiter entry, drops the
 * pin (the last one finishes an owner released meanwhile), and makes the
 * kernel and the model agree on its range: a grant that was known is
 * committed to the model; an outcome that is not known (the signal came
 * during the kernel call: mostly EINTR, possibly just after a grant) is
 * read from the private description's fdinfo, which lists its OFD locks:
 * held, it is committed (a later close releases it); else nothing was
 * granted.  A left unlock is made again (the model has it already). */

enum { CALL_QUERY = 1, CALL_DECIDE, CALL_KERNEL, CALL_RETURNED };

static int priv_holds(int priv, int64_t s, int64_t e, int type);

struct ls_call {
    pid_t tid;
    int phase;                  /* CALL_*; atomic: written outside g_mu */
    int result;                 /* the kernel's answer, valid in CALL_RETURNED */
    int slot;                   /* registry slot, or -1; atomic */
    int waiting;                /* an edge of the wait-for graph */
    int fd;
    struct ls_desc *desc;
    uint64_t gen;               /* desc->gen at the start */
    struct ls_owner *owner;     /* pinned */
    struct ls_inode *inode;
    int64_t start, end;
    int type;                   /* LS_RD/LS_WR/LS_UN */
    volatile uint64_t *frame;   /* the cookie in the caller's frame */
    int req_cancel;             /* the program's cancelability at the request's entry */
    int req_prev_outer;         /* what the request's exit would restore (nesting) */
    int req_nocancel;
    uint64_t cookie;
    struct ls_call *outer;      /* this thread's next older call */
    struct ls_call *next, *prev;
};

/* The cancelability the program had when it called: restored only around
 * the F_SETLKW wait, the one cancellation point of the native call. */
static LS_TLS int tls_cancel_outer, tls_cancel_prev;

LS_TLS struct ls_call *ls_tls_call;
struct ls_call *g_calls;      /* extern in core.c (fork child check) */
static struct ls_call *call_spare;      /* settled records, for reuse (under g_mu) */
static LS_TLS uint64_t tls_call_seq;

static uint64_t call_cookie(void)
{
    return (++tls_call_seq * 0x9e3779b97f4a7c15ull) ^ (uint64_t)(uintptr_t)&tls_call_seq;
}

/* Under g_mu.  NULL when no record can be had: the caller fails ENOLCK. */
static struct ls_call *call_begin(struct ls_owner *o, struct ls_desc *d, int fd,
                                  int64_t s, int64_t e, int type, int phase,
                                  volatile uint64_t *frame)
{
    struct ls_call *c = call_spare;
    if (c) {
        call_spare = c->next;   /* every field is set below */
    } else if (!(c = ls_alloc(sizeof *c))) {
        ls_debug("lockscope: fd %d: no memory for a call record: ENOLCK", fd);
        return NULL;
    }
    c->tid = ls_gettid();
    c->result = 0;
    c->waiting = 0;
    c->prev = NULL;
    c->phase = phase;
    c->slot = -1;
    c->fd = fd;
    c->desc = d;
    c->gen = d ? d->gen : 0;
    c->owner = o;
    c->inode = o ? o->inode : NULL;
    c->start = s;
    c->end = e;
    c->type = type;
    c->cookie = call_cookie();
    c->req_cancel = tls_cancel_outer;
    c->req_prev_outer = tls_cancel_prev;
    c->req_nocancel = ls_tls_nocancel - 1;
    *frame = c->cookie;
    c->frame = frame;
    c->outer = ls_tls_call;
    c->next = g_calls;
    if (g_calls) g_calls->prev = c;
    g_calls = c;
    ls_tls_call = c;
    if (o) ls_owner_pin(o);
    return c;
}

static void call_phase(struct ls_call *c, int phase) { __atomic_store_n(&c->phase, phase, __ATOMIC_RELEASE); }

/* Under g_mu: unlink and free; the unpin may finish the owner. */
static void call_end(struct ls_call *c, int mine)
{
    if (c->prev) c->prev->next = c->next;
    else g_calls = c->next;
    if (c->next) c->next->prev = c->prev;
    if (mine) {
        /* LIFO on a live thread; a left call may sit under newer ones */
        for (struct ls_call **pp = &ls_tls_call; *pp; pp = &(*pp)->outer)
            if (*pp == c) { *pp = c->outer; break; }
    }
    struct ls_owner *o = c->owner;
    c->next = call_spare;
    call_spare = c;
    if (o) ls_owner_unpin(o);
}

/* Under g_mu: settle a call that will never come back (see above). */
static void call_settle_left(struct ls_call *c, int mine)
{
    int slot = __atomic_load_n(&c->slot, __ATOMIC_ACQUIRE);
    if (slot >= 0 && mine)
        ls_xwait_end(slot);     /* a dead thread's slot is swept by every walk */
    struct ls_owner *o = c->owner;
    int phase = __atomic_load_n(&c->phase, __ATOMIC_ACQUIRE);
    if (o && !o->zombie && o->priv >= 0 && (phase == CALL_KERNEL || phase == CALL_RETURNED)) {
        int ok = phase == CALL_RETURNED && __atomic_load_n(&c->result, __ATOMIC_ACQUIRE) == 0;
        if (phase == CALL_KERNEL && c->type == LS_UN) {
            /* an unlock: the model has it already; make sure the kernel too */
            struct flock q;
            memset(&q, 0, sizeof q);
            q.l_type = F_UNLCK;
            q.l_whence = SEEK_SET;
            ls_range_to_flock(c->start, c->end, &q.l_start, &q.l_len);
            int saved = errno;
            REAL(fcntl)(o->priv, LS_BK_SETLK, &q);
            errno = saved;
        } else if (phase == CALL_KERNEL) {
            /* Was it granted before the signal came?  The kernel lists what
             * the private description holds.  (Mostly not: the signal
             * interrupted the wait, EINTR.) */
            int saved = errno;
            ok = priv_holds(o->priv, c->start, c->end, c->type);
            errno = saved;
        }
        if (ok) {
            if (c->type != LS_UN)
                o->fd1 = c->fd + 1;
            ls_owner_apply(o, c->start, c->end, c->type);
            if (c->type != LS_UN)
                o->tid = c->tid;
        }
    }
    ls_debug("lockscope: a lock call of thread %d never returned (longjmp or cancel): settled", (int)c->tid);
    call_end(c, mine);
}

/* After ls_reenter: was this live call settled meanwhile, by a handler of
 * its own thread that took it for left?  (Only if a handler that runs on
 * the live call finds the cookie changed, which nothing but a stray write
 * does.)  Then the record is gone and the settle made the commit. */
static int call_lost(const struct ls_call *c, uint64_t cookie)
{
    for (const struct ls_call *t = ls_tls_call; t; t = t->outer)
        if (t == c && t->cookie == cookie)
            return 0;
    return 1;
}

/* The cookie lives in the frame of ls_fcntl_lock, the lock path's
 * outermost engine function, which zeroes it before it enters: a new call
 * through the same program frame wipes a left call's cookie.  A handler
 * running on top of a live call is below the kernel call's frame and the
 * kernel's signal frame (more than 1 KB on x86_64 and aarch64) and finds the
 * cookie intact.  Reads a stack slot that may belong to a dead frame: on
 * purpose, so not instrumented. */
#define SIGFRAME_MIN 1024
__attribute__((no_sanitize("address")))
static int call_left(struct ls_call *c, uintptr_t sp)
{
    if (*c->frame != c->cookie)
        return 1;
    if (sp + SIGFRAME_MIN <= (uintptr_t)c->frame)
        return 0;
    /* not far enough below the call's frame for a handler on top of it:
     * left, unless a handler runs on an alternate stack (then the
     * comparison means nothing) */
    stack_t ss;
    int saved = errno;
    int alt = sigaltstack(NULL, &ss) == 0 && (ss.ss_flags & SS_ONSTACK);
    errno = saved;
    return !alt;
}

/* Returns the cancelability the left request's exit would have restored
 * (the section that settled it restores it when it leaves), or -1. */
int ls_calls_on_enter(void)
{
    uintptr_t sp = (uintptr_t)__builtin_frame_address(0);
    int cancel = -1;
    while (ls_tls_call && call_left(ls_tls_call, sp)) {
        struct ls_call *c = ls_tls_call;
        /* the request never reached its exit: undo what its entry did */
        cancel = c->req_cancel;
        tls_cancel_outer = c->req_prev_outer;
        ls_tls_nocancel = c->req_nocancel < 0 ? 0 : c->req_nocancel;
        call_settle_left(c, 1);
    }
    return cancel;
}

static int thread_dead(pid_t tid)
{
    int saved = errno;
    long r = syscall(SYS_tgkill, (long)g_ls.pid, (long)tid, 0L);
    int dead = r != 0 && errno == ESRCH;
    errno = saved;
    return dead;
}

void ls_calls_reap_dead(struct ls_owner *o)
{
    pid_t me = ls_gettid();
    for (struct ls_call *c = g_calls, *next; c; c = next) {
        next = c->next;
        if (c->owner == o && c->tid != me && thread_dead(c->tid)) {
            /* the unpin of the last call finishes o: stop before */
            int last = o->pins == 1;
            call_settle_left(c, 0);
            if (last)
                return;
        }
    }
}

void ls_engine_fork_child(void)
{
    /* The parent's other threads' calls do not run here: drop them (their
     * pins with them).  This thread's own stay: a handler that forked
     * returns into them.  Async-signal-safe: list and allocator only. */
    if (!g_calls)
        return;
    pid_t me = (pid_t)syscall(SYS_gettid);
    for (struct ls_call *c = g_calls, *next; c; c = next) {
        next = c->next;
        int mine = 0;
        for (struct ls_call *t = ls_tls_call; t; t = t->outer)
            if (t == c) { mine = 1; break; }
        if (mine) {
            c->tid = me;
            c->slot = -1;       /* the parent's slot */
        } else {
            call_end(c, 0);
        }
    }
}

/* The innermost waiting call of thread tid.  A thread that died waiting
 * (pthread_cancel) waits for nothing: its edge is dropped here, its record
 * settled when its owner is released. */
static struct ls_call *waiter_of(pid_t tid)
{
    for (struct ls_call *c = g_calls; c; c = c->next) {
        if (c->tid != tid || !c->waiting)
            continue;
        if (tid != ls_gettid() && thread_dead(tid)) {
            c->waiting = 0;
            continue;
        }
        return c;
    }
    return NULL;
}

/* Would a thread `me` waiting for (in, [s,e], type) through `self` wait,
 * directly or through other waiting threads of this process, for itself? */
static int waits_for_self(pid_t me, struct ls_inode *in, struct ls_owner *self,
                          int64_t s, int64_t e, int type, int depth)
{
    if (depth > 32)
        return 0;
    for (struct ls_desc *d = in->descs; d; d = d->next_in_inode) {
        struct ls_owner *o = d->owner;
        if (!o || o == self || !ls_range_conflict(o->ranges, s, e, type))
            continue;
        if (o->tid == me)
            return 1;
        struct ls_call *w = waiter_of(o->tid);
        if (w && waits_for_self(me, w->inode, w->owner, w->start, w->end, w->type, depth + 1))
            return 1;
    }
    if (in->shared && in->shared != self && ls_range_conflict(in->shared->ranges, s, e, type)) {
        if (in->shared->tid == me)
            return 1;
    }
    return 0;
}

/* Another owner of this process on the inode whose lock a request of
 * `type` (LS_RD/LS_WR/LS_UN) on [s, e] would natively change: released by
 * an unlock, converted by a lock of the other type.  (A lock of the same
 * type changes nothing natively: the process's lock stays as it was.) */
static const struct ls_range *range_of_other_type(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    for (; l && l->start <= e; l = l->next)
        if (l->end >= s && l->type != type)
            return l;
    return NULL;
}

static struct ls_owner *foreign_overlap(struct ls_inode *in, struct ls_owner *self,
                                        int64_t s, int64_t e, int type)
{
    for (struct ls_desc *d = in->descs; d; d = d->next_in_inode) {
        struct ls_owner *o = d->owner;
        if (!o || o == self)
            continue;
        if (type == LS_UN ? ls_range_overlap(o->ranges, s, e) != NULL
                          : range_of_other_type(o->ranges, s, e, type) != NULL)
            return o;
    }
    return NULL;
}

/* ---- scope decisions ---- */

static int inode_scope(struct ls_inode *in, int fd)
{
    if (in->scope)
        return in->scope;
    enum ls_scope sc = LS_SCOPE_AUTO;
    if (g_ls.cfg.n_scope_rules) {
        char link[48] = "/proc/self/fd/", path[4096];
        size_t l = 14 + ls_fmt_u64(link + 14, (uint64_t)fd);
        link[l] = 0;
        ssize_t n = readlink(link, path, sizeof path - 1);
        if (n > 0) {
            path[n] = 0;
            const struct ls_scope_rule *rule = ls_config_match_scope_rule(&g_ls.cfg, path);
            sc = rule ? rule->scope : LS_SCOPE_AUTO;
            if (rule)
                ls_debug("lockscope: scope of %s: %s (rule %s)", path,
                         sc == LS_SCOPE_PROCESS ? "process" : sc == LS_SCOPE_DESCRIPTION ? "description" : "auto",
                         rule->glob);
        }
    }
    in->scope = sc == LS_SCOPE_AUTO ? LS_SCOPE_AUTO + 100 : (int)sc;  /* 100+: auto, decided */
    return in->scope;
}

/* With LOCKSCOPE_SCOPE rules, an open also matches the path as given and
 * its absolute form (the kernel's name for the fd, used later, is only the
 * real path): a rule written for a symlinked directory still applies. */
void ls_scope_at_open(int dirfd, const char *path, int fd)
{
    char abs[4096], real[4096];
    const char *form = path;
    /* the first rule matching any form wins (environment before file) */
    const struct ls_scope_rule *best = ls_config_match_scope_rule(&g_ls.cfg, path), *r;
    if (ls_path_absolute(dirfd, path, abs, sizeof abs) == 0 &&
        (r = ls_config_match_scope_rule(&g_ls.cfg, abs)) && (!best || r < best)) {
        best = r;
        form = abs;
    }
    char link[48] = "/proc/self/fd/";
    size_t l = 14 + ls_fmt_u64(link + 14, (uint64_t)fd);
    link[l] = 0;
    ssize_t n = readlink(link, real, sizeof real - 1);
    if (n > 0) {
        real[n] = 0;
        if ((r = ls_config_match_scope_rule(&g_ls.cfg, real)) && (!best || r < best)) {
            best = r;
            form = real;
        }
    }
    if (!best)
        return;                 /* no rule: decided at the first lock */
    enum ls_scope sc = best->scope;
    struct stat st;
    struct ls_guard g;
    int saved = errno;
    if (fstat(fd, &st) == 0 && ls_enter(&g) == 0) {
        struct ls_inode *in = ls_inode_get(st.st_dev, st.st_ino, 1);
        if (in && !in->descs) {
            in->scope = sc == LS_SCOPE_AUTO ? LS_SCOPE_AUTO + 100 : (int)sc;
            ls_debug("lockscope: scope of %s: %s (rule %s)", form,
                     sc == LS_SCOPE_PROCESS ? "process" : sc == LS_SCOPE_DESCRIPTION ? "description" : "auto",
                     best->glob);
        }
        ls_leave(&g);
    }
    errno = saved;
}

static int scope_is(struct ls_inode *in, int fd, enum ls_scope want)
{
    int s = inode_scope(in, fd);
    if (s >= 100) s -= 100;
    return s == (int)want;
}

/* SQLite's unix VFS: one owner per (process, inode).  Recognised by its
 * whole SHARED sequence on the database file, wherever PENDING_BYTE (P)
 * is: read (P,1), read (P+2,510) [SHARED_SIZE], then unlock (P,1).  The
 * decision is made at that unlock, when `o` (the description's owner, or
 * its model in audit) holds exactly the two read ranges with the reserved
 * byte P+1 free between them.  No other lock of one size decides it.
 * SQLite never issues a kernel lock for a second connection of the process
 * while a first one holds SHARED (it settles that in memory), so the first
 * connection's pattern completes before any other description locks. */
static int sqlite_pattern(const struct ls_owner *o, const struct flock *fl, int64_t s, int64_t e)
{
    if (fl->l_type != F_UNLCK || fl->l_whence != SEEK_SET || s != e || !o)
        return 0;
    const struct ls_range *p = o->ranges, *sh = p ? p->next : NULL;
    return p && sh && !sh->next &&
           p->type == LS_RD && p->start == s && p->end == s &&
           sh->type == LS_RD && s <= INT64_MAX - 511 && sh->start == s + 2 && sh->end == s + 511;
}

static void make_shared(struct ls_inode *in, struct ls_desc *d, int fd)
{
    struct ls_owner *sh = d->owner;
    in->flags |= LS_INODE_SQLITE;
    if (!sh) {
        sh = ls_owner_new(in, d->acc);
        if (!sh) return;
        sh->refs = 1;
        d->owner = sh;
    }
    in->shared = sh;
    if (sh->priv >= 0 && sh->acc != O_RDWR && sh->pins == 0) {
        /* The owner was made before the file was known as SQLite, through a
         * read-only description, but other connections of the process will
         * take RESERVED and EXCLUSIVE (write) locks through it: give it a
         * read-write private description.  The locks (SQLite's SHARED: read
         * locks) are taken on the new one before the old one is closed, so
         * the file is never without them. */
        int saved = errno;
        int p = ls_private_reopen(fd, O_RDWR);
        int ok = p >= 0;
        for (struct ls_range *r = sh->ranges; ok && r; r = r->next) {
            struct flock q = { .l_type = (short)(r->type == LS_WR ? F_WRLCK : F_RDLCK), .l_whence = SEEK_SET };
            ls_range_to_flock(r->start, r->end, &q.l_start, &q.l_len);
            ok = REAL(fcntl)(p, LS_BK_SETLK, &q) == 0;
        }
        if (ok) {
            int old = sh->priv;
            __atomic_store_n(&sh->priv, p, __ATOMIC_RELEASE);
            sh->acc = O_RDWR;
            p = old;
        }
        if (p >= 0) {
            ls_fd_mark_private(p, 0);
            REAL(close)(p);
        }
        errno = saved;
    }
    for (struct ls_desc *o = in->descs; o; o = o->next_in_inode) {
        if (o == d || o->owner == sh)
            continue;
        struct ls_owner *old = o->owner;
        o->owner = sh;
        sh->refs++;
        if (old) {
            /* Its locks move to the shared owner: released here, taken there
             * (not atomic; only happens if SQLite is recognised late). */
            for (struct ls_range *r = old->ranges; r; r = r->next) {
                struct flock q = { .l_type = (short)(r->type == LS_WR ? F_WRLCK : F_RDLCK), .l_whence = SEEK_SET };
                ls_range_to_flock(r->start, r->end, &q.l_start, &q.l_len);
                if (sh->priv < 0 || REAL(fcntl)(sh->priv, LS_BK_SETLK, &q) == 0)
                    ls_owner_apply(sh, r->start, r->end, r->type);   /* audit: the model only */
            }
            ls_owner_release(old);
        }
    }
    char link[48] = "/proc/self/fd/", path[1024] = "?";
    size_t l = 14 + ls_fmt_u64(link + 14, (uint64_t)fd);
    link[l] = 0;
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n > 0) path[n] = 0;
    ls_debug("lockscope: scope of %s: one owner per process (SQLite database: its SHARED lock pattern seen)", path);
}

/* The owner of a description, with its private fd open. */
struct ls_owner *ls_owner_for(struct ls_desc *d, int fd, int *err)
{
    struct ls_owner *o = d->owner;
    if (!o) {
        struct ls_inode *in = d->inode;
        if (in->shared) {
            o = in->shared;
            o->refs++;
        } else {
            o = ls_owner_new(in, d->acc);
            if (!o) { *err = -ENOLCK; return NULL; }
            o->refs = 1;
        }
        d->owner = o;
    }
    if (o->priv < 0) {
        int acc = o->acc;
        int p = -1;
        if (d->inode->flags & LS_INODE_SQLITE) {
            p = ls_private_reopen(fd, O_RDWR);
            if (p >= 0) acc = O_RDWR;
        }
        if (p < 0)
            p = ls_private_reopen(fd, d->acc);
        if (p < 0) {
            *err = p;
            return NULL;
        }
        o->priv = p;
        o->acc = acc;
    }
    return o;
}

/* ---- audit: native call, model mirrors native semantics ---- */

static void audit_after_setlk(struct ls_desc *d, int fd, int64_t s, int64_t e, int type,
                              const struct flock *fl, const char *call, void *site)
{
    struct ls_inode *in = d->inode;
    /* SQLite is recognised in audit too: its connections share one owner
     * in the model, so its normal hand-off is not reported as a hazard */
    if (!in->shared && sqlite_pattern(d->owner, fl, s, e) && !scope_is(in, fd, LS_SCOPE_DESCRIPTION))
        make_shared(in, d, fd);
    if (!d->owner && in->shared) {
        d->owner = in->shared;
        in->shared->refs++;
    }
    struct ls_owner *self = d->owner;
    if (!self) {
        self = ls_owner_new(in, d->acc);
        if (!self) return;
        self->refs = 1;
        d->owner = self;
    }
    int lt = type == F_RDLCK ? LS_RD : type == F_WRLCK ? LS_WR : LS_UN;
    struct ls_hazard h = { .call = call, .fd = fd, .dev = in->dev, .ino = in->ino, .has_devino = 1,
                           .type = type_name(type), .has_range = 1, .start = s, .end = e,
                           .site = site, .action = "observed" };
    if (self->inherited && ls_range_overlap(self->inherited, s, e) &&
        (lt == LS_UN || ls_range_conflict(self->inherited, s, e, lt))) {
        h.name = "child-unlock-inherited";
        h.detail = "a forked child unlocks or converts a lock its parent holds: the parent keeps it";
        ls_hazard(&h);
        h.detail = NULL;
    }
    /* SQLite re-takes the SHARED range it holds when it falls back to
     * SHARED, and unlocks what it may not hold: normal there, not reported */
    if (in->flags & LS_INODE_SQLITE) {
        /* nothing */
    } else if (lt == LS_UN && !ls_range_overlap(self->ranges, s, e)) {
        h.name = "unlock-not-held";
        ls_hazard(&h);
    } else if (lt != LS_UN && ls_range_covers(self->ranges, s, e, lt)) {
        h.name = "lock-already-held";
        ls_hazard(&h);
    }
    pid_t me = ls_gettid();
    for (struct ls_desc *o = in->descs; o; o = o->next_in_inode) {
        struct ls_owner *ow = o->owner;
        if (!ow || ow == self || !ls_range_overlap(ow->ranges, s, e))
            continue;
        if (lt == LS_WR && ls_range_conflict(ow->ranges, s, e, LS_WR) && ow->tid != me) {
            const struct ls_range *r = ls_range_conflict(ow->ranges, s, e, LS_RD);
            if (r) {
                h.name = "thread-double-exclusive";
                h.detail = "another thread holds an exclusive lock on this range through another descriptor";
                ls_hazard(&h);
            }
        }
        if (lt == LS_UN || ls_range_conflict(ow->ranges, s, e, lt)) {
            h.name = "foreign-convert";
            h.detail = lt == LS_UN ? "unlock releases a lock taken through another descriptor"
                                   : "request converts a lock taken through another descriptor";
            ls_hazard(&h);
        }
        /* native: the process's lock is one; the other owner loses the part */
        ls_owner_apply(ow, s, e, LS_UN);
    }
    ls_owner_apply(self, s, e, lt);
    self->tid = me;
}

/* ---- the main entry ---- */

static int resolve(int fd, const struct flock *fl, int64_t *s, int64_t *e)
{
    int64_t base = 0;
    if (fl->l_whence == SEEK_CUR) {
        off_t cur = lseek(fd, 0, SEEK_CUR);
        base = cur < 0 ? 0 : cur;
    } else if (fl->l_whence == SEEK_END) {
        struct stat st;
        if (fstat(fd, &st) < 0)
            return -errno;
        base = st.st_size;
    }
    return ls_range_resolve(fl->l_whence, fl->l_start, fl->l_len, base, s, e);
}

static int native_fcntl(int fd, int cmd, void *arg)
{
    int r = REAL(fcntl)(fd, cmd, arg);
    return r < 0 ? -errno : r;
}

static int getlk(struct ls_desc *d, int fd, struct flock *fl, void *arg, int64_t s, int64_t e,
                 const char *call, void *site, struct ls_guard *g, volatile uint64_t *frame)
{
    struct ls_owner *o = d->owner ? d->owner : d->inode->shared;
    int qfd = o && o->priv >= 0 ? o->priv : fd;
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = fl->l_type;
    q.l_whence = SEEK_SET;
    ls_range_to_flock(s, e, &q.l_start, &q.l_len);
    if (REAL(fcntl)(qfd, LS_BK_GETLK, &q) < 0)
        return -errno;
    if (q.l_type == F_UNLCK) {
        short t = F_UNLCK;
        return copy_out(&((struct flock *)arg)->l_type, &t, sizeof t);
    }
    if (q.l_pid <= 0) {
        int64_t qs, qe;
        ls_range_resolve(SEEK_SET, q.l_start, q.l_len, 0, &qs, &qe);
        int lt = q.l_type == F_WRLCK ? LS_WR : LS_RD;
        /* Is the lock the kernel reported one of this process's other
         * owners'?  Match its own range and type, not the request's: the pid
         * must be that of a process holding the reported lock. */
        struct ls_owner *other = NULL;
        for (struct ls_desc *od = d->inode->descs; od && !other; od = od->next_in_inode)
            if (od->owner && od->owner != o && ls_range_covers(od->owner->ranges, qs, qe, lt))
                other = od->owner;
        if (!other && d->inode->shared && d->inode->shared != o &&
            ls_range_covers(d->inode->shared->ranges, qs, qe, lt))
            other = d->inode->shared;
        if (other) {
            q.l_pid = g_ls.pid;
        } else {
            dev_t dev = d->inode->dev;
            ino_t ino = d->inode->ino;
            int skip = o ? o->priv : -1;
            /* qfd stays open while we look: a call record pins o */
            struct ls_call *c = call_begin(o, d, fd, s, e, LS_UN, CALL_QUERY, frame);
            if (!c)
                return -ENOLCK;
            uint64_t cookie = c->cookie;
            ls_leave(g);
            pid_t pids[8];
            int n = 0;
            /* The holder may let go between the kernel's answer and the
             * scan: ask the kernel again, a few times, before saying that
             * nobody can be named. */
            for (int tries = 0; tries < 3; tries++) {
                /* holders of the REPORTED lock (its range; for a write lock
                 * only write locks, for a read lock any) */
                pids[0] = ls_find_holder(dev, ino, qs, qe, q.l_type == F_WRLCK ? LS_RD : LS_WR, skip);
                n = pids[0] > 0;
                /* This process was ruled out above (its model does not hold
                 * the reported lock): its own other locks that overlap are
                 * not the answer. */
                int k = 0;
                for (int i = 0; i < n; i++)
                    if (pids[i] != g_ls.pid)
                        pids[k++] = pids[i];
                n = k;
                if (n > 0)
                    break;
                struct flock again;
                memset(&again, 0, sizeof again);
                again.l_type = fl->l_type;
                again.l_whence = SEEK_SET;
                ls_range_to_flock(s, e, &again.l_start, &again.l_len);
                if (REAL(fcntl)(qfd, LS_BK_GETLK, &again) < 0)
                    break;
                if (again.l_type == F_UNLCK) {
                    ls_reenter(g);
                    if (!call_lost(c, cookie))
                        call_end(c, 1);
                    short t = F_UNLCK;
                    return copy_out(&((struct flock *)arg)->l_type, &t, sizeof t);
                }
                if (again.l_pid > 0) {   /* a classic holder meanwhile */
                    q = again;
                    ls_reenter(g);
                    if (!call_lost(c, cookie))
                        call_end(c, 1);
                    return copy_out(arg, &q, sizeof q);
                }
                q = again;
                ls_range_resolve(SEEK_SET, q.l_start, q.l_len, 0, &qs, &qe);
            }
            ls_reenter(g);
            if (!call_lost(c, cookie))
                call_end(c, 1);
            if (n > 0) {
                q.l_pid = pids[0];
            } else {
                q.l_pid = NO_HOLDER_PID;
                struct ls_hazard h = { .name = "getlk-ofd-pid", .action = "prevented", .call = call,
                                       .fd = fd, .dev = dev, .ino = ino, .has_devino = 1,
                                       .type = type_name(q.l_type), .has_range = 1, .start = qs, .end = qe,
                                       .site = site,
                                       .detail = "no process could be named as the holder: l_pid set to 2147483647" };
                ls_hazard(&h);
            }
        }
    }
    return copy_out(arg, &q, sizeof q);
}

/* A lock request from a signal handler that interrupted the shim on its own
 * thread.  If this thread holds g_mu, no other thread can change the
 * tables, and the interrupted code cannot go on before the handler
 * returns: what is read here stays valid meanwhile (o->priv is set to -1
 * before a private fd is closed).  The kernel call is made on the private
 * fd; the model catches up in the interrupted section's ls_leave.  Never
 * waits (the interrupted code holds g_mu), never records a hazard.  What
 * it cannot do (a description with no private fd yet, a request that would
 * have to wait, a thread that was only entering or leaving the section)
 * fails with ENOLCK. */
static int signal_path_lock(int fd, int cmd, void *arg)
{
    struct flock fl;
    int64_t s, e;
    if (!ls_held())
        return -ENOLCK;
    if (g_ls.mode == LS_MODE_AUDIT)
        return native_fcntl(fd, cmd, arg);
    struct ls_desc *d = ls_fd_peek(fd);
    int acc;
    if (d) {
        acc = d->acc;
        if (d->inode->scope == LS_SCOPE_PROCESS)
            return native_fcntl(fd, cmd, arg);
    } else {
        int fl2 = REAL(fcntl)(fd, F_GETFL);
        if (fl2 < 0)
            return -EBADF;
        acc = (fl2 & O_PATH) ? -1 : (fl2 & O_ACCMODE);
    }
    if (acc < 0)
        return -EBADF;
    struct iovec l = { &fl, sizeof fl }, r = { arg, sizeof fl };
    if ((uintptr_t)arg < 4096 || process_vm_readv(g_ls.pid, &l, 1, &r, 1, 0) != (ssize_t)sizeof fl)
        return -EFAULT;
    if (cmd == F_GETLK && fl.l_type != F_RDLCK && fl.l_type != F_WRLCK)
        return -EINVAL;
    int rr = resolve(fd, &fl, &s, &e);
    if (rr < 0)
        return rr;
    if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK)
        return -EINVAL;
    if (cmd != F_GETLK && ((fl.l_type == F_RDLCK && acc == O_WRONLY) ||
                           (fl.l_type == F_WRLCK && acc == O_RDONLY)))
        return -EBADF;
    struct ls_owner *o = d ? (d->owner ? d->owner : d->inode->shared) : NULL;
    int priv = o ? __atomic_load_n(&o->priv, __ATOMIC_ACQUIRE) : -1;
    if (priv < 0)
        priv = ls_deferred_private(fd);     /* made by an earlier handler of this section */
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = fl.l_type;
    q.l_whence = SEEK_SET;
    ls_range_to_flock(s, e, &q.l_start, &q.l_len);
    if (cmd == F_GETLK) {
        if (REAL(fcntl)(priv >= 0 ? priv : fd, LS_BK_GETLK, &q) < 0)
            return -errno;
        if (q.l_type != F_UNLCK && q.l_pid <= 0)
            q.l_pid = NO_HOLDER_PID;        /* no naming from a handler */
        struct iovec lo = { &q, sizeof q }, ro = { arg, sizeof q };
        if (q.l_type == F_UNLCK) {
            lo.iov_len = ro.iov_len = sizeof q.l_type;
        }
        return process_vm_writev(g_ls.pid, &lo, 1, &ro, 1, 0) == (ssize_t)lo.iov_len ? 0 : -EFAULT;
    }
    if (priv < 0) {
        if (fl.l_type == F_UNLCK)
            return 0;                                 /* nothing held through it */
        /* A private description of its own, made and locked here; the
         * interrupted section's ls_leave gives it to the owner. */
        int p = ls_private_reopen(fd, acc);
        if (p < 0)
            return -ENOLCK;
        if (REAL(fcntl)(p, LS_BK_SETLK, &q) < 0) {
            int err = errno;
            ls_fd_mark_private(p, 0);
            REAL(close)(p);
            return cmd == F_SETLKW && (err == EAGAIN || err == EACCES) ? -ENOLCK : -err;
        }
        ls_defer_full(LS_DEFER_ADOPT, fd, p, fl.l_type == F_WRLCK ? LS_WR : LS_RD, s, e);
        return 0;
    }
    if (REAL(fcntl)(priv, LS_BK_SETLK, &q) < 0) {
        int err = errno;
        return cmd == F_SETLKW && (err == EAGAIN || err == EACCES) ? -ENOLCK : -err;
    }
    ls_defer_full(LS_DEFER_LOCKED, fd, priv,
                  fl.l_type == F_RDLCK ? LS_RD : fl.l_type == F_WRLCK ? LS_WR : LS_UN, s, e);
    return 0;
}

static int set_range(int priv, int64_t s, int64_t e, short type)
{
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = type;
    q.l_whence = SEEK_SET;
    ls_range_to_flock(s, e, &q.l_start, &q.l_len);
    return REAL(fcntl)(priv, LS_BK_SETLK, &q);
}

/* Under g_mu: a request of type lt on [s, e] was granted but cannot stand.
 * Put the kernel back to what the model says o holds there: the gaps are
 * unlocked, read parts stay read (a write grant is downgraded, atomically),
 * write parts are taken back as write (after a read grant over them; if
 * that fails, someone got in: the model keeps the read lock). */
static void undo_grant(struct ls_owner *o, int64_t s, int64_t e, int lt)
{
    int saved = errno;
    int64_t cur = s;
    for (;;) {
        const struct ls_range *r = ls_range_overlap(o->ranges, cur, e);
        int64_t gap_end = r ? (r->start > cur ? r->start - 1 : cur - 1) : e;
        if (gap_end >= cur)
            set_range(o->priv, cur, gap_end, F_UNLCK);
        if (!r)
            break;
        int64_t a = r->start > cur ? r->start : cur, b = r->end < e ? r->end : e;
        if (r->type == LS_RD && lt == LS_WR)
            set_range(o->priv, a, b, F_RDLCK);
        else if (r->type == LS_WR && lt == LS_RD && set_range(o->priv, a, b, F_WRLCK) < 0)
            ls_owner_apply(o, a, b, LS_RD);
        if (b >= e)
            break;
        cur = b + 1;
    }
    errno = saved;
}

/* Has fd stopped naming the description the call was made through (closed,
 * or re-pointed, by another thread or a handler)? */
static int call_fd_gone(const struct ls_call *c)
{
    struct ls_desc *cur = ls_fd_get(c->fd);
    return cur != c->desc || cur->gen != c->gen;
}

/* The kernel call and the commit of one F_SETLK/F_SETLKW through owner o,
 * everything decided.  Entered under g_mu, returns having left it.  The
 * kernel call runs without g_mu (threads locking other files never wait
 * for it), described by a call record that pins o.  The commit is one step
 * under g_mu that reconciles with what changed meanwhile: a grant on an fd
 * that another thread closed (or re-pointed) during the call is undone and
 * the call fails with EBADF, as fs/locks.c's fcntl_setlk does natively. */
/* A hazard of a lock request, said from the request's own fields.  Cold:
 * the hot path builds no struct ls_hazard. */
struct lock_req { const char *call; void *site; int fd; short ftype; };

__attribute__((cold, noinline))
static void lock_hazard(const struct lock_req *rq, const struct ls_inode *in, int64_t s, int64_t e,
                        const char *name, const char *action, const char *detail)
{
    struct ls_hazard h = { .name = name, .action = action, .detail = detail, .call = rq->call,
                           .fd = rq->fd, .dev = in->dev, .ino = in->ino, .has_devino = 1,
                           .type = type_name(rq->ftype), .has_range = 1, .start = s, .end = e,
                           .site = rq->site };
    ls_hazard(&h);
}

static int setlk_call(struct ls_guard *g, struct ls_desc *d, struct ls_owner *o, int fd, int cmd,
                      short ftype, int64_t s, int64_t e, int lt, const struct lock_req *rq,
                      volatile uint64_t *frame)
{
    struct ls_inode *in = o->inode;
    pid_t me = ls_gettid();
    struct flock q;
    memset(&q, 0, sizeof q);
    q.l_type = ftype;
    q.l_whence = SEEK_SET;
    ls_range_to_flock(s, e, &q.l_start, &q.l_len);

    struct ls_call *c = call_begin(o, d, fd, s, e, lt, CALL_KERNEL, frame);
    if (!c) {
        ls_leave(g);
        return -ENOLCK;
    }
    /* An unlock leaves the model first: it cannot fail for a conflict, and
     * another thread granted the range meanwhile must not find it still
     * ours (a false foreign-convert, refused in strict). */
    if (lt == LS_UN)
        ls_owner_apply(o, s, e, LS_UN);
    uint64_t cookie = c->cookie;
    int priv = o->priv;
    ls_leave(g);
    int r = REAL(fcntl)(priv, LS_BK_SETLK, &q);
    int kerr = r < 0 ? errno : 0;
    __atomic_store_n(&c->result, -kerr, __ATOMIC_RELEASE);
    call_phase(c, CALL_RETURNED);
    ls_reenter(g);
    if (call_lost(c, cookie))
        goto lost;
    if (r < 0 && (kerr == EAGAIN || kerr == EACCES) && cmd == F_SETLKW) {
        if (call_fd_gone(c)) {
            /* closed before we would wait: natively the wait would end in
             * EBADF; nothing was granted */
            call_end(c, 1);
            ls_leave(g);
            return -EBADF;
        }
        /* We will wait.  The check for a cycle of threads is made again here,
         * under g_mu together with publishing ourselves as a waiter: two
         * threads that tried at the same time must not both go to sleep. */
        if (waits_for_self(me, in, o, s, e, lt, 0)) {
            call_end(c, 1);
            lock_hazard(rq, in, s, e, "self-deadlock", g_ls.mode == LS_MODE_STRICT ? "refused" : "prevented",
                        "the request waits for a lock this thread holds through another descriptor");
            ls_leave(g);
            return -EDEADLK;
        }
        c->waiting = 1;
        call_phase(c, CALL_DECIDE);     /* nothing can be granted while we publish */
        dev_t dev = in->dev;
        ino_t ino = in->ino;
        ls_leave(g);
        int slot = -1, granted = 0;
        r = ls_xwait_begin(dev, ino, s, e, lt, priv, &slot);
        __atomic_store_n(&c->slot, slot, __ATOMIC_RELEASE);
        if (r == -EDEADLK) {
            /* The walk sees locks move while it looks: confirm the verdict
             * with one more try and one more walk before saying EDEADLK. */
            call_phase(c, CALL_KERNEL);
            if (REAL(fcntl)(priv, LS_BK_SETLK, &q) == 0) {
                granted = 1;                       /* granted meanwhile */
                r = 0;
            } else {
                call_phase(c, CALL_DECIDE);
                r = ls_xwait_begin(dev, ino, s, e, lt, priv, &slot);
                __atomic_store_n(&c->slot, slot, __ATOMIC_RELEASE);
            }
        }
        if (r == -EDEADLK) {
            ls_reenter(g);
            if (!call_lost(c, cookie))
                call_end(c, 1);
            /* native F_SETLKW detects this cycle too: the outcome is unchanged */
            lock_hazard(rq, in, s, e, "self-deadlock", g_ls.mode == LS_MODE_STRICT ? "refused" : "observed",
                        "waiting would close a cycle between processes");
            ls_leave(g);
            return -EDEADLK;
        }
        if (!granted) {
            call_phase(c, CALL_KERNEL);
            /* the wait is a cancellation point, as natively: a thread
             * cancelled here leaves its record, settled when the owner
             * is released */
            int nc = ls_tls_nocancel;
            ls_tls_nocancel = 0;
            pthread_setcancelstate(tls_cancel_outer, NULL);
            r = REAL(fcntl)(priv, LS_BK_SETLKW, &q);
            int werr = errno;
            pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
            ls_tls_nocancel = nc;
            errno = werr;
        }
        kerr = r < 0 ? errno : 0;
        __atomic_store_n(&c->result, -kerr, __ATOMIC_RELEASE);
        call_phase(c, CALL_RETURNED);
        ls_xwait_end(slot);
        __atomic_store_n(&c->slot, -1, __ATOMIC_RELEASE);
        ls_reenter(g);
        if (call_lost(c, cookie))
            goto lost;
        c->waiting = 0;
        if (r < 0 && kerr == EINTR) {
            lock_hazard(rq, in, s, e, "lock-eintr", "observed", "blocking lock interrupted by a signal: not held");
        }
    }
    /* commit */
    if (r == 0 && lt != LS_UN && call_fd_gone(c)) {
        /* The fd was closed during the call: natively the kernel undoes the
         * grant and answers EBADF.  The owner goes back to what the model
         * says it held (its description may live on through another fd,
         * whose locks a close of this one must not drop: rule 1).  If the
         * owner itself is gone, its last unpin releases everything. */
        if (!o->zombie)
            undo_grant(o, s, e, lt);
        call_end(c, 1);
        ls_leave(g);
        return -EBADF;
    }
    if (r == 0 && lt != LS_UN && d->owner == o) {
        o->fd1 = fd + 1;
        ls_owner_apply(o, s, e, lt);
        o->tid = me;
    }
    /* (d->owner != o: SQLite recognised meanwhile; the grant went with the
     * old owner, released at its last unpin) */
    call_end(c, 1);
    ls_leave(g);
    return r < 0 ? -kerr : 0;
lost:
    ls_leave(g);
    if (r < 0 && cmd == F_SETLKW && (kerr == EAGAIN || kerr == EACCES))
        kerr = EINTR;           /* a handler ran; the wait did not happen */
    return r < 0 ? -kerr : 0;
}

static int fcntl_lock(int fd, int cmd, void *arg, const char *call, void *site,
                      volatile uint64_t *framep);

/* F_SETLK, F_SETLKW, F_GETLK through the engine.  Cancellation is off for
 * the whole request except the F_SETLKW wait: the shim's own opens, reads
 * and writes (/proc, records) must not make F_SETLK or F_GETLK a
 * cancellation point, nor end the thread in the middle of the request. */
int ls_fcntl_lock(int fd, int cmd, void *arg, const char *call, void *site)
{
    /* the cookie of a call this request makes (see call_left); zeroed
     * before entering, which wipes that of a call left from here */
    volatile uint64_t frame = 0;
    int cs, saved_outer = tls_cancel_outer, saved_prev = tls_cancel_prev;
    if (cmd == F_SETLKW)
        pthread_testcancel();   /* a cancellation point acts on a pending cancel at once */
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &cs);
    tls_cancel_prev = saved_outer;
    tls_cancel_outer = cs;
    ls_tls_nocancel++;
    int r = fcntl_lock(fd, cmd, arg, call, site, &frame);
    ls_tls_nocancel--;
    tls_cancel_outer = saved_outer;
    tls_cancel_prev = saved_prev;
    pthread_setcancelstate(cs, NULL);
    return r;
}

/* The program's own call, made as it is (audit, process scope, no private
 * description possible): an F_SETLKW wait is cancellable, as natively. */
static int native_lock(int fd, int cmd, void *arg)
{
    if (cmd != F_SETLKW)
        return native_fcntl(fd, cmd, arg);
    int nc = ls_tls_nocancel;
    ls_tls_nocancel = 0;        /* a handler's section during the wait turns it off itself */
    pthread_setcancelstate(tls_cancel_outer, NULL);
    int r = native_fcntl(fd, cmd, arg);
    pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, NULL);
    ls_tls_nocancel = nc;
    return r;
}

static int fcntl_lock(int fd, int cmd, void *arg, const char *call, void *site,
                      volatile uint64_t *framep)
{
    volatile uint64_t *frame = framep;
    struct ls_guard g;
    struct flock fl;
    int64_t s, e;
    int err = 0, r;

    if (ls_enter(&g) < 0)
        return signal_path_lock(fd, cmd, arg);
    struct ls_desc *d = ls_desc_for_fd(fd, &err);
    if (!d) { ls_leave(&g); return err; }
    if (d->acc < 0) { ls_leave(&g); return -EBADF; }        /* O_PATH */
    if (copy_in(&fl, arg, sizeof fl) < 0) {
        ls_leave(&g);
        return native_lock(fd, cmd, arg);                 /* the kernel's EFAULT */
    }
    if (cmd == F_GETLK && fl.l_type != F_RDLCK && fl.l_type != F_WRLCK) { ls_leave(&g); return -EINVAL; }
    r = resolve(fd, &fl, &s, &e);
    if (r < 0) { ls_leave(&g); return r; }
    if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK) { ls_leave(&g); return -EINVAL; }
    if (cmd != F_GETLK) {
        if ((fl.l_type == F_RDLCK && d->acc == O_WRONLY) || (fl.l_type == F_WRLCK && d->acc == O_RDONLY)) {
            ls_leave(&g);
            return -EBADF;
        }
    }
    struct ls_inode *in = d->inode;
    if (!in->flock_seen && !in->flock_checked && cmd != F_GETLK && fl.l_type != F_UNLCK) {
        /* Once per file: does another process hold flock locks on it?
         * (the registry, read without g_mu).  The inode's flag keeps later
         * locks off the cache's scan once either has answered. */
        dev_t dev = in->dev;
        ino_t ino = in->ino;
        in->flock_checked = 1;
        if (ls_checked(dev, ino, 1))
            goto checked;
        ls_checked_set(dev, ino, 1);
        ls_leave(&g);
        int other = ls_flock_locks_on(fd, dev, ino);
        ls_reenter(&g);
        d = ls_desc_for_fd(fd, &err);
        if (!d) { ls_leave(&g); return err; }
        in = d->inode;
        if (other)
            in->flock_seen = 1;
    }
checked:
    d->fcntl_used = 1;
    in->fcntl_seen = 1;
    if (in->flock_seen && cmd != F_GETLK && fl.l_type != F_UNLCK) {
        struct ls_hazard h = { .name = "flock-fcntl-mix", .call = call, .fd = fd, .dev = in->dev,
                               .ino = in->ino, .has_devino = 1, .type = type_name(fl.l_type),
                               .has_range = 1, .start = s, .end = e, .site = site,
                               .action = "observed",
                               .detail = "flock and fcntl locks on one file: separate on Linux, one lock over NFS" };
        /* refused only where the two kinds share one lock (flock.c); the
         * fstatfs runs without g_mu (NFS may be slow to answer) */
        int refuse = 0;
        if (g_ls.mode == LS_MODE_STRICT) {
            ls_leave(&g);
            refuse = ls_flock_fcntl_shared(fd);
            ls_reenter(&g);
            d = ls_desc_for_fd(fd, &err);
            if (!d) { ls_leave(&g); return err; }
            in = d->inode;
        }
        if (refuse) h.action = "refused";
        ls_hazard(&h);
        if (refuse) { ls_leave(&g); return -ENOLCK; }
    }

    if (g_ls.mode == LS_MODE_AUDIT || scope_is(in, fd, LS_SCOPE_PROCESS)) {
        int audit = g_ls.mode == LS_MODE_AUDIT;
        /* the inode record may go while the native call runs (a close by
         * another thread): what the records need is copied first */
        struct { dev_t dev; ino_t ino; } id = { in->dev, in->ino };
        ls_leave(&g);
        r = native_lock(fd, cmd, arg);
        if (r == -EINTR || r == -EDEADLK) {
            struct ls_hazard h = { .name = r == -EINTR ? "lock-eintr" : "self-deadlock", .action = "observed",
                                   .call = call, .fd = fd,
                                   .dev = id.dev, .ino = id.ino, .has_devino = 1,
                                   .type = type_name(fl.l_type), .has_range = 1, .start = s, .end = e,
                                   .site = site,
                                   .detail = r == -EINTR ? "blocking lock interrupted by a signal: not held"
                                                         : "the kernel found a wait cycle between processes" };
            ls_hazard(&h);
        }
        if (audit && r == 0 && cmd == F_GETLK) {
            /* natively a holder without a pid comes back as l_pid -1 */
            struct flock got;
            if (copy_in(&got, arg, sizeof got) == 0 && got.l_type != F_UNLCK && got.l_pid <= 0) {
                int64_t qs, qe;
                if (ls_range_resolve(SEEK_SET, got.l_start, got.l_len, 0, &qs, &qe) < 0) { qs = s; qe = e; }
                struct ls_hazard h = { .name = "getlk-ofd-pid", .action = "observed", .call = call, .fd = fd,
                                       .dev = id.dev, .ino = id.ino, .has_devino = 1,
                                       .type = type_name(got.l_type), .has_range = 1, .start = qs, .end = qe,
                                       .site = site,
                                       .detail = "F_GETLK reported a conflicting lock with no holder pid (l_pid -1)" };
                ls_hazard(&h);
            }
        }
        if (audit && r == 0 && cmd != F_GETLK) {
            ls_reenter(&g);
            d = ls_desc_for_fd(fd, &err);
            if (d) audit_after_setlk(d, fd, s, e, fl.l_type, &fl, call, site);
            ls_leave(&g);
        }
        return r;
    }

    if (!in->shared && sqlite_pattern(d->owner, &fl, s, e) && !scope_is(in, fd, LS_SCOPE_DESCRIPTION))
        make_shared(in, d, fd);

    if (cmd == F_GETLK) {
        /* no private description needed: without one, the program's own
         * description holds no lock of ours and OFD_GETLK on it sees all */
        r = getlk(d, fd, &fl, arg, s, e, call, site, &g, frame);
        ls_leave(&g);
        return r;
    }
    struct ls_owner *cur = d->owner ? d->owner : in->shared;
    if (fl.l_type == F_UNLCK && (!cur || (cur->priv < 0 && !cur->ranges))) {
        /* nothing held through this description: no private one is made
         * for an unlock; only what natively would have happened is said */
        struct ls_owner *foreign = foreign_overlap(in, NULL, s, e, LS_UN);
        struct ls_hazard h = { .call = call, .fd = fd, .dev = in->dev, .ino = in->ino, .has_devino = 1,
                               .type = "unlock", .has_range = 1, .start = s, .end = e, .site = site };
        if (foreign) {
            int strict = g_ls.mode == LS_MODE_STRICT;
            h.name = "foreign-convert";
            h.action = strict ? "refused" : "prevented";
            h.detail = "natively this unlock would release a lock held through another descriptor";
            ls_hazard(&h);
            if (strict) { ls_leave(&g); return -ENOLCK; }
        }
        h.name = "unlock-not-held";
        h.action = "observed";
        h.detail = NULL;
        if (!(in->flags & LS_INODE_SQLITE))     /* normal for SQLite (audit_after_setlk) */
            ls_hazard(&h);
        ls_leave(&g);
        return 0;
    }

    struct ls_owner *o = ls_owner_for(d, fd, &err);
    if (!o && (err == -EMFILE || err == -ENFILE || err == -ENOMEM || err == -ENOLCK)) {
        /* Out of fds or memory for the private description: the request
         * fails as the kernel fails one it has no room for.  Semantics are
         * never changed silently for a passing shortage. */
        ls_leave(&g);
        return -ENOLCK;
    }
    if (!o) {
        /* No private description can ever be made (no /proc, a socket or
         * FIFO, a mode that forbids re-opening): native semantics for this
         * file, said once. */
        in->scope = LS_SCOPE_PROCESS;
        ls_debug("lockscope: fd %d: cannot re-open for a private description (errno %d): native semantics", fd, -err);
        ls_leave(&g);
        return native_lock(fd, cmd, arg);
    }

    int lt = fl.l_type == F_RDLCK ? LS_RD : fl.l_type == F_WRLCK ? LS_WR : LS_UN;
    struct lock_req rq = { .call = call, .site = site, .fd = fd, .ftype = fl.l_type };
    pid_t me = ls_gettid();
    /* The checks below look at the other owners of the inode: with this
     * description the inode's only one and no SQLite owner, there are none. */
    int alone = in->descs == d && !d->next_in_inode && !in->shared;
    if (lt == LS_WR && !alone) {
        /* natively both threads would "hold" the exclusive lock */
        for (struct ls_desc *od = in->descs; od; od = od->next_in_inode) {
            struct ls_owner *ow = od->owner;
            const struct ls_range *fr;
            if (!ow || ow == o || ow->tid == me || !(fr = ls_range_conflict(ow->ranges, s, e, LS_RD)))
                continue;
            for (; fr && fr->start <= e; fr = fr->next)
                if (fr->end >= s && fr->type == LS_WR)
                    break;
            if (fr && fr->start <= e) {
                lock_hazard(&rq, in, s, e, "thread-double-exclusive", "prevented",
                            "natively both threads would hold this exclusive lock");
                break;
            }
        }
    }
    struct ls_owner *foreign = alone ? NULL : foreign_overlap(in, o, s, e, lt);
    if (foreign) {
        int strict = g_ls.mode == LS_MODE_STRICT;
        lock_hazard(&rq, in, s, e, "foreign-convert", strict ? "refused" : "prevented",
                    lt == LS_UN ? "natively this unlock would release a lock held through another descriptor"
                                : "natively this request would convert a lock held through another descriptor");
        if (strict) { ls_leave(&g); return -ENOLCK; }
    }
    if (o->inherited && ls_range_overlap(o->inherited, s, e) &&
        (lt == LS_UN || ls_range_conflict(o->inherited, s, e, lt))) {
        lock_hazard(&rq, in, s, e, "child-unlock-inherited", "observed",
                    lt == LS_UN ? "a forked child unlocks a lock its parent holds: the parent keeps it"
                                : "a forked child converts a lock its parent holds: it conflicts instead");
    }
    if (in->flags & LS_INODE_SQLITE) {
        /* SQLite's normal re-lock and unlock: not reported (audit_after_setlk) */
    } else if (lt == LS_UN && !ls_range_overlap(o->ranges, s, e)) {
        lock_hazard(&rq, in, s, e, "unlock-not-held", "observed", NULL);
    } else if (lt != LS_UN && ls_range_covers(o->ranges, s, e, lt)) {
        lock_hazard(&rq, in, s, e, "lock-already-held", "observed", NULL);
    }

    if (cmd == F_SETLKW && lt != LS_UN) {
        if (waits_for_self(me, in, o, s, e, lt, 0)) {
            lock_hazard(&rq, in, s, e, "self-deadlock", g_ls.mode == LS_MODE_STRICT ? "refused" : "prevented",
                        "the request waits for a lock this thread holds through another descriptor");
            ls_leave(&g);
            return -EDEADLK;
        }
    }
    return setlk_call(&g, d, o, fd, cmd, fl.l_type, s, e, lt, &rq, frame);
}

/* The OFD locks held through a description, as the kernel lists them in
 * the fdinfo of each of its fds: one small read, no scan of other
 * processes.  fn(ctx, type, start, end) is called for each (waiters "->"
 * skipped) until it returns nonzero, which is returned; -1 if unreadable. */
static int fdinfo_ofd_locks(int fd, int (*fn)(void *, int, int64_t, int64_t), void *ctx)
{
    char path[48] = "/proc/self/fdinfo/", buf[4096];
    size_t l = 18 + ls_fmt_u64(path + 18, (uint64_t)fd);
    path[l] = 0;
    int f = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return -1;
    ssize_t n = read(f, buf, sizeof buf - 1);
    REAL(close)(f);
    if (n <= 0)
        return -1;
    buf[n] = 0;
    for (char *p = strstr(buf, "lock:"); p; p = strstr(p + 5, "lock:")) {
        char *eol = strchr(p, '\n');
        if (eol) *eol = 0;
        char *k = strstr(p, "OFDLCK");
        int lt = strstr(p, "WRITE") ? LS_WR : LS_RD;
        /* the last two fields: start and end (or EOF) */
        char *end_f = strrchr(p, ' ');
        char *start_f = NULL;
        if (end_f) {
            *end_f = 0;
            start_f = strrchr(p, ' ');
            *end_f = ' ';
        }
        if (k && start_f && end_f && !strstr(p, "->")) {
            int64_t ls = 0, le = LS_OFFSET_MAX;
            for (const char *c = start_f + 1; *c >= '0' && *c <= '9'; c++) ls = ls * 10 + (*c - '0');
            if (end_f[1] != 'E') {
                le = 0;
                for (const char *c = end_f + 1; *c >= '0' && *c <= '9'; c++) le = le * 10 + (*c - '0');
            }
            int r = fn(ctx, lt, ls, le);
            if (r)
                return r;
        }
        if (!eol) break;
        *eol = '\n';
        p = eol;
    }
    return 0;
}

struct lock_query { const struct ls_range *mine; int64_t s, e; int type; };

/* a lock conflicting with the query that `mine` does not account for */
static int foreign_cb(void *ctx, int lt, int64_t ls, int64_t le)
{
    const struct lock_query *qq = ctx;
    if (ls <= qq->e && le >= qq->s && ls_type_conflicts(lt, qq->type)) {
        /* ours, if we hold every byte of it with that type */
        int64_t a = ls > qq->s ? ls : qq->s, b = le < qq->e ? le : qq->e;
        if (!ls_range_covers(qq->mine, a, b, lt))
            return 1;
    }
    return 0;
}

/* Is a lock held through this very description that this process did not
 * take itself? */
static int foreign_ofd_lock(int fd, const struct ls_range *mine, int64_t s, int64_t e, int type)
{
    struct lock_query qq = { mine, s, e, type };
    return fdinfo_ofd_locks(fd, foreign_cb, &qq) == 1;
}

/* one lock of exactly that type covering the query (the kernel merges an
 * owner's adjacent locks of one type, so a grant shows as one) */
static int covers_cb(void *ctx, int lt, int64_t ls, int64_t le)
{
    const struct lock_query *qq = ctx;
    return lt == qq->type && ls <= qq->s && le >= qq->e;
}

/* Does the private description hold [s, e] with type?  0 when unknown. */
static int priv_holds(int priv, int64_t s, int64_t e, int type)
{
    struct lock_query qq = { NULL, s, e, type };
    return fdinfo_ofd_locks(priv, covers_cb, &qq) == 1;
}

/* The program's own OFD requests pass through; two processes locking
 * through one shared description is reported (and refused in strict). */
int ls_fcntl_ofd(int fd, int cmd, void *arg, const char *call, void *site)
{
    if (cmd == F_OFD_GETLK)
        return native_fcntl(fd, cmd, arg);
    struct flock fl;
    if (copy_in(&fl, arg, sizeof fl) < 0)
        return native_fcntl(fd, cmd, arg);
    int64_t s, e;
    if (resolve(fd, &fl, &s, &e) < 0 || (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK && fl.l_type != F_UNLCK))
        return native_fcntl(fd, cmd, arg);      /* the kernel's errno */
    int lt = fl.l_type == F_RDLCK ? LS_RD : fl.l_type == F_WRLCK ? LS_WR : LS_UN;
    struct ls_guard g;
    int err = 0;
    if (ls_enter(&g) < 0)
        return native_fcntl(fd, cmd, arg);
    struct ls_desc *d = ls_desc_for_fd(fd, &err);
    if (!d) { ls_leave(&g); return native_fcntl(fd, cmd, arg); }
    dev_t dev = d->inode->dev;
    ino_t ino = d->inode->ino;
    int mix = lt != LS_UN && d->inode->flock_seen;
    if (lt != LS_UN)
        d->inode->fcntl_seen = 1;
    struct ls_hazard h = { .call = call, .fd = fd, .dev = dev, .ino = ino, .has_devino = 1,
                           .type = type_name(fl.l_type), .has_range = 1, .start = s, .end = e,
                           .site = site };
    int strict = g_ls.mode == LS_MODE_STRICT;
    if (mix) {
        /* refused only where the two kinds share one lock (flock.c) */
        int refuse = 0;
        if (strict) {
            ls_leave(&g);
            refuse = ls_flock_fcntl_shared(fd);
            ls_reenter(&g);
            d = ls_desc_for_fd(fd, &err);
            if (!d) { ls_leave(&g); return native_fcntl(fd, cmd, arg); }
        }
        h.name = "flock-fcntl-mix";
        h.action = refuse ? "refused" : "observed";
        h.detail = "flock and fcntl locks on one file: separate on Linux, one lock over NFS";
        ls_hazard(&h);
        if (refuse) { ls_leave(&g); return -ENOLCK; }
    }
    if (lt != LS_UN && foreign_ofd_lock(fd, d->ofd_ranges, s, e, lt)) {
        h.name = "shared-description-lock";
        h.action = strict ? "refused" : "observed";
        h.detail = "another process holds OFD locks through this same open file description: both would own them";
        ls_hazard(&h);
        if (strict) { ls_leave(&g); return -ENOLCK; }
    }
    ls_leave(&g);
    int r = native_fcntl(fd, cmd, arg);
    if (r == -EINTR) {
        h.name = "lock-eintr";
        h.action = "observed";
        h.detail = "blocking lock interrupted by a signal: not held";
        ls_hazard(&h);
    }
    if (r == 0 && ls_enter(&g) == 0) {
        d = ls_fd_get(fd);
        if (d) {
            d->ofd_used = 1;
            ls_range_apply(&d->ofd_ranges, s, e, lt, &ls_range_allocator);
            ls_publish_ofd(d, fd);          /* registry */
        }
        ls_leave(&g);
    }
    return r;
}

/* lockf(3), as glibc builds it on fcntl, through the engine. */
int ls_lockf(int fd, int cmd, off_t len, const char *call, void *site)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_whence = SEEK_CUR;
    fl.l_start = 0;
    fl.l_len = len;
    switch (cmd) {
    case F_TEST: {
        fl.l_type = F_RDLCK;
        int r = ls_fcntl_lock(fd, F_GETLK, &fl, call, site);
        if (r < 0)
            return r;
        if (fl.l_type == F_UNLCK)
            return 0;
        /* glibc answers 0 when the holder is the caller's own pid; under
         * descriptor scope our own other descriptions do conflict. */
        return -EACCES;
    }
    case F_ULOCK:
        fl.l_type = F_UNLCK;
        return ls_fcntl_lock(fd, F_SETLK, &fl, call, site);
    case F_LOCK:
        fl.l_type = F_WRLCK;
        return ls_fcntl_lock(fd, F_SETLKW, &fl, call, site);
    case F_TLOCK:
        fl.l_type = F_WRLCK;
        return ls_fcntl_lock(fd, F_SETLK, &fl, call, site);
    }
    return -EINVAL;
}

/* ---- close ---- */

/* The hazard of a close: natively it drops every lock of the process on
 * the file.  `self` is the closing fd's description (NULL if untracked);
 * `releases_own`: this close is the last of a description that holds locks,
 * whose release is expected. */
static void close_hazard(struct ls_inode *in, int fd, struct ls_desc *self, int releases_own,
                         const char *call, void *site)
{
    const struct ls_range *dropped = NULL;  /* the first lock natively dropped */
    for (struct ls_desc *o = in->descs; o && !dropped; o = o->next_in_inode)
        if (o->owner && o->owner->ranges && !(o == self && releases_own))
            dropped = o->owner->ranges;
    if (!dropped && in->shared && in->shared->ranges && !(self && self->owner == in->shared && releases_own))
        dropped = in->shared->ranges;
    if (!dropped)
        return;
    int dtype = dropped->type;
    int64_t ds = dropped->start, de = dropped->end;
    int audit = g_ls.mode == LS_MODE_AUDIT;
    if (audit) {
        for (struct ls_desc *o = in->descs; o; o = o->next_in_inode)
            if (o->owner)
                ls_owner_clear(o->owner);
    } else if (scope_is(in, fd, LS_SCOPE_PROCESS)) {
        return;                 /* native semantics asked for: nothing to say */
    }
    struct ls_hazard h = { .name = "close-drops-lock", .action = audit ? "observed" : "prevented",
                           .call = call, .fd = fd, .dev = in->dev, .ino = in->ino, .has_devino = 1,
                           .type = dtype == LS_WR ? "write" : "read", .has_range = 1, .start = ds, .end = de,
                           .site = site,
                           .detail = audit ? "this close dropped locks held through another descriptor"
                                           : "natively this close would drop locks held through another descriptor" };
    ls_hazard(&h);
}

/* Before the program's close of fd (still open): hazards, and the alias
 * scan that keeps a lock alive while another fd of its description is. */
void ls_engine_on_close(int fd, struct ls_desc *d, const char *call, void *site)
{
    if (g_ls.mode != LS_MODE_AUDIT)
        ls_desc_before_close(fd, d);
    int releases_own = d->refs == 1 && d->owner && d->owner->refs == 1;
    close_hazard(d->inode, fd, d, releases_own, call, site);
}

/* A close of an fd the table does not know, while this process holds
 * locks somewhere: is it a file we hold locks on? */
void ls_engine_on_close_untracked(int fd, const char *call, void *site)
{
    struct stat st;
    if (fstat(fd, &st) < 0)
        return;
    struct ls_inode *in = ls_inode_get(st.st_dev, st.st_ino, 0);
    if (in)
        close_hazard(in, fd, NULL, 0, call, site);
}
