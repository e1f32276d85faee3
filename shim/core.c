/*
 * core.c - the library's life: constructor, configuration, the critical
 * section, and the fork protocol.
 */
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"
#include "holder.h"
#include "log.h"
#include "registry.h"
#include "real.h"
#include "shim.h"

struct ls_state g_ls = { .mode = LS_MODE_OFF };

void ls_hazard_init(void);
void ls_hazard_start(int secure);
void ls_hazard_config_error(const char *msg);
/* records made under g_mu, written by ls_leave once it is released (hazard.c) */
struct ls_pend;
extern LS_TLS struct ls_pend *_Atomic ls_log_pending;
void ls_log_flush(void);

/* ---- critical section ---- */

/* g_mu: a futex lock whose word is the owner's tid (| LOCK_WAITERS).  The
 * owner is known exactly at every instant, so a signal handler can tell
 * "my own thread holds it" (take the signal path) from "another thread
 * holds it, or mine is only on its way in" (wait like anyone): a handler
 * that interrupts the lock's own acquire loop runs a full acquire/release
 * of its own, and the interrupted loop just tries again. */
#define LOCK_WAITERS 0x80000000u
static _Atomic uint32_t g_mu;
/* Per thread: two threads may fork at once, each must get its own mask
 * back.  The kernel's mask is 64 bits (static TLS stays small). */
static LS_TLS uint64_t tls_fork_mask;
static LS_TLS int tls_fork_took;   /* FORK_MU | FORK_GATE | FORK_SHARE: what prepare took */
#define FORK_MU 1
#define FORK_GATE 2                 /* a share by ls_spawn_enter */
#define FORK_SHARE 4                /* a share on g_gate alone (see atfork_prepare) */
static LS_TLS pid_t tls_tid;
_Static_assert(_NSIG <= 65, "the saved signal mask holds 64 signals");

/* Set by the vfork trampoline in the child (which shares this thread's
 * memory, TLS included) and cleared in the parent when vfork returns. */
LS_TLS int ls_tls_vfork_child;

/* A page holding the pid, wiped (zeroed) in every child made without
 * CLONE_VM (MADV_WIPEONFORK): a clone() child that no fork hook saw finds
 * zero there on its first slow path.  NULL: the kernel lacks
 * MADV_WIPEONFORK, the slow path asks getpid() instead. */
_Atomic pid_t *ls_pidpage;
/* Made at the first slow path, not at start (two system calls fewer for
 * every process that never locks).  A forked child's hook does not write
 * the page (a page fault in every child): it sets it aside here, and the
 * child's first slow path (getpid) stores its pid there. */
static _Atomic pid_t *g_pidspare;
static int g_pidpage_failed;            /* no MADV_WIPEONFORK: getpid() */

static void pidpage_make(void)
{
    _Atomic pid_t *p = __atomic_exchange_n(&g_pidspare, NULL, __ATOMIC_ACQ_REL);
    if (!p) {
        if (g_pidpage_failed)
            return;
        void *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
#ifndef MADV_WIPEONFORK
#define MADV_WIPEONFORK 18
#endif
        if (page == MAP_FAILED || madvise(page, 4096, MADV_WIPEONFORK) != 0) {
            if (page != MAP_FAILED)
                munmap(page, 4096);
            g_pidpage_failed = 1;
            return;
        }
        p = page;
    }
    atomic_store(p, g_ls.pid);
    _Atomic pid_t *none = NULL;
    if (!__atomic_compare_exchange_n(&ls_pidpage, &none, p, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        munmap((void *)p, 4096);        /* another thread made one first */
}

/* Fork acknowledgement.  A forked child holds copies of the parent's
 * private fds from the fork until its atfork handler closes them; if the
 * parent exits (or unlocks) in that window, the lock lives on in the child
 * (rule 6 says it must go with the parent).  So a parent that holds locks
 * waits, after fork returns, until the child says its copies are closed:
 * prepare reserves a slot of a page shared with direct children only (a
 * child maps a fresh one for its own children), the child writes FORK_ACKED
 * there once its handler has closed them, the fork wrapper waits for that
 * or for the child's death.  No free slot (1024 forks in flight): no wait. */
#define FORK_SLOTS 1024
#define FORK_RESERVED 1u
#define FORK_ACKED 2u
static _Atomic uint32_t *g_forkack;      /* FORK_SLOTS words, MAP_SHARED */
static LS_TLS int tls_fork_slot;         /* slot + 1 reserved by prepare, 0 none */

static _Atomic uint32_t *forkack_map(void)
{
    void *p = mmap(NULL, FORK_SLOTS * sizeof(uint32_t), PROT_READ | PROT_WRITE,
                   MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

/* under g_mu, in prepare */
static void forkack_reserve(void)
{
    if (tls_fork_slot && g_forkack)      /* a fork the wrapper never saw (daemon) */
        atomic_store(&g_forkack[tls_fork_slot - 1], 0);
    tls_fork_slot = 0;
    if (atomic_load_explicit(&g_locked_owners, memory_order_relaxed) <= 0)
        return;
    if (!g_forkack)                      /* first fork with locks held */
        g_forkack = forkack_map();
    if (!g_forkack)
        return;
    for (int i = 0; i < FORK_SLOTS; i++) {
        uint32_t zero = 0;
        if (atomic_compare_exchange_strong(&g_forkack[i], &zero, FORK_RESERVED)) {
            tls_fork_slot = i + 1;
            return;
        }
    }
}

/* in the child, once the parent's private fds are closed */
static inline void forkack_child(void)
{
    _Atomic uint32_t *page = g_forkack;
    int slot = tls_fork_slot;
    if (slot)
        tls_fork_slot = 0;
    if (!page)
        return;
    g_forkack = NULL;                    /* our own children's: mapped when needed */
    if (slot) {
        atomic_store(&page[slot - 1], FORK_ACKED);
        syscall(SYS_futex, &page[slot - 1], FUTEX_WAKE, 1, NULL, NULL, 0);
    }
    munmap((void *)page, FORK_SLOTS * sizeof(uint32_t));
}

/* Is the child stopped (a tracer holds it: a debugger that keeps both
 * sides of the fork, rr, strace -f)?  It will not acknowledge until it
 * runs.  Raw system calls: none of them is a cancellation point; nothing
 * here is unsafe in a signal handler (fork is async-signal-safe). */
static int child_stopped(pid_t child)
{
    char path[40] = "/proc/", buf[256];
    size_t l = strlen(path);
    l += ls_fmt_i64(path + l, child);
    memcpy(path + l, "/stat", 6);
    int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    long n = syscall(SYS_read, fd, buf, sizeof buf - 1);
    syscall(SYS_close, fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    const char *c = strrchr(buf, ')');  /* "pid (comm) S ..." */
    return c && c[1] == ' ' && (c[2] == 't' || c[2] == 'T');
}

/* The fork wrappers, in the parent, after fork returned `child`.  fork is
 * not a cancellation point: the waits are raw system calls.  The wait ends
 * with the acknowledgement, the child's death, a child held stopped, or
 * after FORK_WAIT_MAX ns in all (a child that never runs must not keep
 * fork from returning). */
#define FORK_WAIT_MAX (2LL * 1000 * 1000 * 1000)
static long long mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

void ls_fork_wait_child(pid_t child)
{
    int slot = tls_fork_slot;
    tls_fork_slot = 0;
    if (!slot || !g_forkack)
        return;
    _Atomic uint32_t *w = &g_forkack[slot - 1];
    int saved = errno;
    long long start = child > 0 ? mono_ns() : 0;
    for (int round = 1; child > 0 && atomic_load(w) != FORK_ACKED; round++) {
        struct timespec ts = { 0, 2 * 1000 * 1000 };
        syscall(SYS_futex, w, FUTEX_WAIT, FORK_RESERVED, &ts, NULL, 0);
        if (atomic_load(w) == FORK_ACKED)
            break;
        /* a child killed before its handler ran has closed everything */
        siginfo_t si;
        si.si_pid = 0;
        if (syscall(SYS_waitid, P_PID, (id_t)child, &si, WEXITED | WNOHANG | WNOWAIT, NULL) < 0 ||
            si.si_pid == child)
            break;
        if (round % 16 == 0 && (mono_ns() - start > FORK_WAIT_MAX || child_stopped(child)))
            break;
    }
    atomic_store(w, 0);
    errno = saved;
}

/* The spawn gate: a thread about to exec makes private fds inheritable
 * only while no other thread is creating a child (fork, vfork, _Fork,
 * posix_spawn, system, popen), and no child creation starts until the exec
 * is over (it succeeds: the other threads are gone; it fails: the fds are
 * close-on-exec again).  Low bits: children being made; GATE_EXEC: an exec
 * holds the gate. */
#define GATE_EXEC 0x80000000u
static _Atomic uint32_t g_gate;
static LS_TLS int tls_gate_spawn;   /* this thread's shares (nested handlers) */
static LS_TLS int tls_gate_exec;    /* this thread holds the gate for an exec */
/* Per share of this thread, innermost last: the frame of the wrapper that
 * took it (0: cannot be left by a longjmp, e.g. fork's, signals blocked). */
#define GATE_FRAMES 8
static LS_TLS uintptr_t tls_gate_frame[GATE_FRAMES];

static void mu_acquire(void)
{
    uint32_t me = (uint32_t)ls_gettid(), expect = 0;
    if (atomic_compare_exchange_strong(&g_mu, &expect, me))
        return;
    for (;;) {
        uint32_t cur = atomic_load(&g_mu);
        if (cur == 0) {
            expect = 0;
            if (atomic_compare_exchange_strong(&g_mu, &expect, me | LOCK_WAITERS))
                return;
            continue;
        }
        if (!(cur & LOCK_WAITERS)) {
            if (!atomic_compare_exchange_strong(&g_mu, &cur, cur | LOCK_WAITERS))
                continue;
            cur |= LOCK_WAITERS;
        }
        syscall(SYS_futex, &g_mu, FUTEX_WAIT_PRIVATE, cur, NULL, NULL, 0);
    }
}

static void mu_release(void)
{
    uint32_t prev = atomic_exchange(&g_mu, 0);
    if (prev & LOCK_WAITERS)
        syscall(SYS_futex, &g_mu, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

int ls_held(void)
{
    uint32_t m = atomic_load(&g_mu) & ~LOCK_WAITERS;
    return m != 0 && m == (uint32_t)ls_gettid();   /* free: no gettid */
}


/* The deferred updates, per thread: pushed by signal handlers, applied by
 * the interrupted ls_leave.  Slots are reserved with an atomic add, so
 * nested handlers never overwrite each other. */
#define DEFER_MAX 16             /* overflow falls back to a full resync */
struct deferred { int kind, a, b, c; int64_t s, e; volatile sig_atomic_t ready; };
/* dynamic TLS (the static TLS surplus is small if the library is dlopen'ed):
 * only signal paths and ls_leave's slow case touch it */
static __thread struct deferred tls_defer[DEFER_MAX];
static LS_TLS _Atomic int tls_ndefer;
static LS_TLS volatile sig_atomic_t tls_defer_overflow;

void ls_defer_full(int kind, int a, int b, int c, int64_t s, int64_t e)
{
    int i = atomic_fetch_add(&tls_ndefer, 1);
    if (i >= DEFER_MAX) {
        tls_defer_overflow = 1;
        return;
    }
    tls_defer[i].kind = kind;
    tls_defer[i].a = a;
    tls_defer[i].b = b;
    tls_defer[i].c = c;
    tls_defer[i].s = s;
    tls_defer[i].e = e;
    atomic_signal_fence(memory_order_seq_cst);
    tls_defer[i].ready = 1;
}

void ls_defer(int kind, int a, int b) { ls_defer_full(kind, a, b, 0, 0, 0); }


/* On the signal path: the private fd an earlier handler of this section
 * made for fd (its adoption is still queued), so that every handler of the
 * section uses one owner, not one private description each. */
int ls_deferred_private(int fd)
{
    int n = atomic_load(&tls_ndefer);
    for (int i = 0; i < n && i < DEFER_MAX; i++)
        if (tls_defer[i].ready && tls_defer[i].kind == LS_DEFER_ADOPT && tls_defer[i].a == fd)
            return tls_defer[i].b;
    return -1;
}

void ls_apply_deferred(int kind, int a, int b, int c, int64_t s, int64_t e);

/* Under g_mu: apply what handlers deferred on this thread, in order.
 * Handlers may add more while this runs (the counter only grows until the
 * final compare-and-swap resets it): each pass applies every ready slot
 * not yet applied, a count past DEFER_MAX means some were never queued
 * (a full resync covers them), and the reset succeeds only if nothing came
 * in since the count was read. */
static void process_deferred(void)
{
    for (;;) {
        int n = atomic_load(&tls_ndefer);
        if (n == 0)
            return;
        int lim = n < DEFER_MAX ? n : DEFER_MAX;
        for (int i = 0; i < lim; i++) {
            struct deferred *d = &tls_defer[i];
            if (!d->ready)
                continue;       /* applied in an earlier pass */
            ls_apply_deferred(d->kind, d->a, d->b, d->c, d->s, d->e);
            d->ready = 0;
        }
        if (n > DEFER_MAX || tls_defer_overflow) {
            tls_defer_overflow = 0;
            ls_apply_deferred(LS_DEFER_RESYNC, -1, -1, 0, 0, 0);
        }
        int expect = n;
        if (atomic_compare_exchange_strong(&tls_ndefer, &expect, 0))
            return;
    }
}

pid_t ls_gettid(void)
{
    if (LS_UNLIKELY(!tls_tid))
        tls_tid = (pid_t)syscall(SYS_gettid);
    return tls_tid;
}

/* ---- the spawn gate ---- */

static void gate_wait(uint32_t v)
{
    syscall(SYS_futex, &g_gate, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0);
}

static void gate_wake(void)
{
    syscall(SYS_futex, &g_gate, FUTEX_WAKE_PRIVATE, 0x7fffffff, NULL, NULL, 0);
}

/* Shares of this thread that a longjmp out of a wrapper left behind (a
 * handler that ran inside popen, which unblocks signals after the clone):
 * a share whose wrapper frame is at or below `here` (a frame of this
 * thread's current call into the shim) plus GATE_SLACK is gone.  A share
 * still being taken by an interrupted wrapper lies above the handler's
 * frames by more than a signal frame (over 1 KB on x86-64, 4 KB on
 * AArch64); the slack covers wrappers called from the same depth whose
 * frame pointers differ by their locals.  Not on an alternate signal
 * stack (frames of the two stacks do not compare), not in a vfork child
 * (the share is its parent's). */
#define GATE_SLACK 256
void ls_gate_reap(uintptr_t here)
{
    if (LS_LIKELY(!tls_gate_spawn) || tls_gate_exec || ls_tls_vfork_child)
        return;
    int saved = errno;
    stack_t ss;
    if (syscall(SYS_sigaltstack, NULL, &ss) == 0 && !(ss.ss_flags & SS_ONSTACK)) {
        while (tls_gate_spawn > 0) {
            int i = tls_gate_spawn - 1;
            uintptr_t f = i < GATE_FRAMES ? tls_gate_frame[i] : 0;
            if (!f || f > here + GATE_SLACK)
                break;              /* the innermost may be live: so are the rest */
            ls_spawn_leave();
        }
    }
    errno = saved;
}

void ls_spawn_enter_at(uintptr_t frame)
{
    int saved = errno;
    if (frame)
        ls_gate_reap(frame);
    /* no waiting when this thread's own exec holds the gate, when it holds
     * g_mu (a handler that interrupted the shim forks), or when it holds a
     * share already (a handler that interrupted a spawn forks): the exec
     * waits for those.  A fork child closes the private fds at once. */
    int nowait = tls_gate_exec || tls_gate_spawn > 0 || ls_held();
    for (;;) {
        uint32_t v = atomic_load(&g_gate);
        if ((v & GATE_EXEC) && !nowait) {
            gate_wait(v);
            continue;
        }
        if (atomic_compare_exchange_weak(&g_gate, &v, v + 1))
            break;
    }
    if (tls_gate_spawn < GATE_FRAMES)
        tls_gate_frame[tls_gate_spawn] = frame;
    tls_gate_spawn++;
    errno = saved;
}

void ls_spawn_enter(void) { ls_spawn_enter_at(0); }

void ls_spawn_leave(void)
{
    int saved = errno;
    tls_gate_spawn--;
    if (atomic_fetch_sub(&g_gate, 1) - 1 == GATE_EXEC)
        gate_wake();
    errno = saved;
}

/* 1: the gate is this thread's until ls_exec_gate_open.  0: this thread
 * is itself making a child (a handler execs): no gate, no hand-over. */
#define GATE_WAIT_MAX (1000LL * 1000 * 1000)
int ls_exec_gate_close(void)
{
    /* a handler inside the shim or inside a child's creation execs: the
     * gate may never open (the others wait for what this thread holds) */
    if (tls_gate_spawn || tls_gate_exec || ls_held())
        return 0;
    int saved = errno;
    for (;;) {
        uint32_t v = atomic_load(&g_gate);
        if (v & GATE_EXEC) {
            gate_wait(v);
            continue;
        }
        if (atomic_compare_exchange_weak(&g_gate, &v, v | GATE_EXEC))
            break;
    }
    tls_gate_exec = 1;
    /* a share a longjmp left on a thread that never came back into the
     * shim would keep this wait going for good: after GATE_WAIT_MAX the
     * exec goes on without the hand-over (the private fds stay
     * close-on-exec) rather than hang */
    long long end = mono_ns() + GATE_WAIT_MAX;
    for (;;) {
        uint32_t v = atomic_load(&g_gate);
        if (v == GATE_EXEC)
            break;
        long long left = end - mono_ns();
        if (left <= 0) {
            ls_debug("exec: %d child creations still counted after 1 s (left by a longjmp?): no hand-over",
                     (int)(v & ~GATE_EXEC));
            ls_exec_gate_open();
            errno = saved;
            return 0;
        }
        struct timespec ts = { left / 1000000000LL, left % 1000000000LL };
        syscall(SYS_futex, &g_gate, FUTEX_WAIT_PRIVATE, v, &ts, NULL, 0);
    }
    errno = saved;
    return 1;
}

void ls_exec_gate_open(void)
{
    int saved = errno;
    tls_gate_exec = 0;
    atomic_fetch_and(&g_gate, ~GATE_EXEC);
    gate_wake();
    errno = saved;
}

/* ---- children no fork hook saw ---- */

/* files_shared: the child may share the parent's fd table (clone with
 * CLONE_FILES, or no way to tell): the private fds it sees are the
 * parent's own, so it forgets them without closing them. */
extern struct ls_call *g_calls;         /* engine.c */
int ls_reg_used;                        /* registry.c sets it */

/* System calls made in a forked child without calling into libc: its code
 * pages are not copied by fork, each one the child runs is a page fault
 * (sigemptyset, pthread_sigmask and syscall were three in every child). */
static inline long raw_syscall4(long n, long a, long b, long c, long d)
{
#if defined(__x86_64__)
    long r;
    register long r10 __asm__("r10") = d;
    __asm__ volatile ("syscall" : "=a"(r) : "0"(n), "D"(a), "S"(b), "d"(c), "r"(r10)
                      : "rcx", "r11", "memory");
    return r;                   /* -errno on failure: callers here need no errno */
#elif defined(__aarch64__)
    register long x8 __asm__("x8") = n, x0 __asm__("x0") = a, x1 __asm__("x1") = b,
                  x2 __asm__("x2") = c, x3 __asm__("x3") = d;
    __asm__ volatile ("svc 0" : "+r"(x0) : "r"(x8), "r"(x1), "r"(x2), "r"(x3) : "memory");
    return x0;
#else
    return syscall(n, a, b, c, d);
#endif
}


/* First of the fork section (LS_FORK_TEXT), aligned so that the whole of it
 * (under 1 KB: this, atfork_child, the fork wrapper) is on one page. */
static void forget_state(pid_t parent, int files_shared);

/* Inlined into the child's atfork handler (the fork section) and into
 * forget_parent (the slow path's check). */
static inline __attribute__((always_inline)) void forget_parent_inline(int files_shared)
{
    /* Only what differs is written: every page a child writes is a page
     * fault (copy-on-write) in every child, most of which exit or exec at
     * once.  The new process's one thread is its leader: tid == pid. */
#define SET_IF(x, v) do { if ((x) != (v)) (x) = (v); } while (0)
    pid_t parent = g_ls.pid;
    if (atomic_load(&g_mu))
        atomic_store(&g_mu, 0);
    g_ls.pid = (pid_t)raw_syscall4(SYS_getpid, 0, 0, 0, 0);
    tls_tid = g_ls.pid;
    if (atomic_load(&tls_ndefer))
        atomic_store(&tls_ndefer, 0);
    SET_IF(tls_defer_overflow, 0);
    SET_IF(tls_gate_spawn, 0);
    SET_IF(tls_gate_exec, 0);
    if (atomic_load(&g_gate))
        atomic_store(&g_gate, 0);
#undef SET_IF
    if (ls_pidpage) {                   /* wiped: filled at the next slow path */
        __atomic_store_n(&g_pidspare, ls_pidpage, __ATOMIC_RELEASE);
        __atomic_store_n(&ls_pidpage, NULL, __ATOMIC_RELEASE);
    }
    if (!g_ls.inited || !ls_active())
        return;
    if (files_shared || g_all_owners || g_all_descs || g_calls || ls_reg_used)
        forget_state(parent, files_shared);
}

static void forget_parent(int files_shared)
{
    forget_parent_inline(files_shared);
}

/* The rest of forget_parent, for a process with something to forget (kept
 * apart: the usual child runs only the lean part above). */
static void forget_state(pid_t parent, int files_shared)
{
    long r = 1;
    if (files_shared) {
        /* 0: same fd table; > 0: different; < 0: cannot tell */
        r = syscall(SYS_kcmp, (long)g_ls.pid, (long)parent, 2L /* KCMP_FILES */, 0L, 0L);
        if (r <= 0)
            for (struct ls_owner *o = g_all_owners; o; o = o->next_all)
                if (o->priv >= 0) {
                    ls_fd_mark_private(o->priv, 0);
                    o->priv = -1;
                }
    }
    if (r <= 0 || g_all_owners || g_all_descs)
        ls_backend_fork_child(r > 0);   /* its own table, nothing opened: nothing to do */
    if (g_all_owners || g_all_descs || g_calls)
        ls_fork_child_reset();          /* each in a code page of its own */
    else if (ls_reg_used)
        ls_xwait_fork_child();
}

/* A child made by clone() without CLONE_VM (no atfork handler ran) has a
 * copy of the parent's table and of its private fds: it owns none of
 * them.  Noticed on the slow paths, before anything is used. */
void ls_check_process_slow(void)
{
    if (ls_tls_vfork_child)
        return;
    _Atomic pid_t *pg = __atomic_load_n(&ls_pidpage, __ATOMIC_ACQUIRE);
    pid_t now = pg ? atomic_load(pg) : (pid_t)syscall(SYS_getpid);
    if (pg && now != 0)
        return;
    int saved = errno;
    if (pg || now != g_ls.pid)
        forget_parent(1);
    if (!__atomic_load_n(&ls_pidpage, __ATOMIC_ACQUIRE))
        pidpage_make();
    errno = saved;
}

/* Cancellation is off inside the section (see struct ls_guard); a lock
 * request that turned it off for its whole length (ls_tls_nocancel) saves
 * the two calls. */
LS_TLS int ls_tls_nocancel;

static inline void cancel_off(struct ls_guard *g)
{
    if (ls_tls_nocancel)
        g->cancel = -1;
    else
        pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &g->cancel);
}

static inline void cancel_back(struct ls_guard *g)
{
    if (g->cancel >= 0)
        pthread_setcancelstate(g->cancel, NULL);
}

int ls_enter(struct ls_guard *g)
{
    ls_check_process();
    if (LS_UNLIKELY(tls_gate_spawn))
        ls_gate_reap((uintptr_t)__builtin_frame_address(0));
    if (ls_held())
        return -1;              /* a signal handler inside our own section */
    cancel_off(g);
    mu_acquire();
    if (LS_UNLIKELY(ls_tls_call != NULL)) {
        /* a call of this thread in flight, or left by a longjmp (whose
         * request had turned cancellation off: back to the program's) */
        int cs = ls_calls_on_enter();
        if (cs >= 0)
            g->cancel = cs;
    }
    return 0;
}

/* Back into the section after leaving it inside one operation (around a
 * wait): this thread is not inside, so this cannot fail. */
void ls_reenter(struct ls_guard *g)
{
    cancel_off(g);
    mu_acquire();
}

void ls_leave(struct ls_guard *g)
{
    for (;;) {
        process_deferred();
        mu_release();
        if (!atomic_load(&tls_ndefer))
            break;
        /* a handler deferred something after we looked: once more */
        mu_acquire();
    }
    /* records made in the section are written now that it is left
     * (cancellation still off: a write is a cancellation point) */
    if (LS_UNLIKELY(atomic_load_explicit(&ls_log_pending, memory_order_relaxed) != NULL))
        ls_log_flush();
    /* (a cancellation pending meanwhile acts at the next cancellation
     * point, e.g. the F_SETLKW wait, outside the section) */
    cancel_back(g);
}


/* ---- fork protocol: prepare takes g_mu (signals blocked), the parent
 * releases it, the child re-initialises it and forgets the parent's
 * ownership.  Everything in the child handler is async-signal-safe. ---- */

/* The mask saved by prepare came from the kernel (pthread_sigmask's old
 * set), so it holds none of libc's internal signals: set as it is. */
static inline void restore_mask(void)
{
    uint64_t m = tls_fork_mask;
    raw_syscall4(SYS_rt_sigprocmask, SIG_SETMASK, (long)&m, 0, sizeof m);
}

/* Every signal but glibc's two internal ones (SIGCANCEL 32, SIGSETXID 33),
 * as pthread_sigmask(SIG_BLOCK, all) blocks, in one raw system call. */
#define FORK_BLOCK (~((1ull << (32 - 1)) | (1ull << (33 - 1))))

static void atfork_prepare(void)
{
    uint64_t all = FORK_BLOCK, old = 0;
    if (raw_syscall4(SYS_rt_sigprocmask, SIG_BLOCK, (long)&all, (long)&old, sizeof all) != 0) {
        sigset_t a, o;                  /* (cannot fail: the libc way all the same) */
        sigfillset(&a);
        pthread_sigmask(SIG_BLOCK, &a, &o);
        memcpy(&old, &o, sizeof old);
    }
    tls_fork_mask = old;
    tls_fork_took = 0;
    if (!g_ls.inited || !ls_active())
        return;                 /* inert: nothing to protect */
    ls_check_process();
    /* the spawn gate's share; its common case inline (no exec holds the
     * gate, this thread has no share yet): counted on g_gate only, not in
     * tls_gate_spawn (no handler of this thread runs until the atfork
     * handlers are done: every signal is blocked), so that the child has
     * no thread-local word to put back (a page written is a page fault in
     * every child).  Otherwise ls_spawn_enter. */
    uint32_t gv = atomic_load(&g_gate);
    if (LS_LIKELY(!(gv & GATE_EXEC) && !tls_gate_spawn) &&
        atomic_compare_exchange_strong(&g_gate, &gv, gv + 1)) {
        tls_fork_took = FORK_SHARE;
    } else {
        ls_spawn_enter();
        tls_fork_took = FORK_GATE;
    }
    /* fork from a handler that interrupted our own section: the mutex is
     * ours already; taking it again would hang */
    if (!ls_held()) {
        mu_acquire();
        tls_fork_took |= FORK_MU;
    }
    forkack_reserve();
}

static void atfork_parent(void)
{
    int took = tls_fork_took;
    tls_fork_took = 0;
    if (took & FORK_MU)
        mu_release();
    if (took & FORK_GATE)
        ls_spawn_leave();
    if (took & FORK_SHARE) {
        /* ls_spawn_leave inline, for the share on g_gate alone */
        if (atomic_fetch_sub(&g_gate, 1) - 1 == GATE_EXEC) {
            int saved = errno;
            gate_wake();
            errno = saved;
        }
    }
    restore_mask();
}

/* The fork section's first function (LS_FORK_TEXT), aligned so that the
 * whole section (this and the fork wrapper, under 1 KB) is on one page. */
static LS_FORK_TEXT __attribute__((aligned(1024))) void atfork_child(void)
{
    forget_parent_inline(0);
    forkack_child();
    restore_mask();
}

/* Run the child half when a fork happened without atfork handlers
 * (_Fork): take the same path. */
void ls_fork_prepare(void) { atfork_prepare(); }
void ls_fork_parent(void) { atfork_parent(); }
void ls_fork_child(void) { atfork_child(); }

/* ---- probes of what the kernel offers ----
 * None at start: F_DUPFD_QUERY and kcmp are tried when first needed
 * (ls_same_description, fdtable.c), /proc/self/fd when the first private
 * description is made (backend_linux.c). */

/* ---- constructor ---- */

extern char **environ;

static int has_prefix(const char *s, const char *p)
{
    while (*p && *s == *p)
        s++, p++;
    return !*p;
}

static void ls_init(void)
{
    char err[512];
    struct ls_config_env env = { (const char *const *)environ, (int)getauxval(AT_SECURE) };

    ls_real_bind();
    g_ls.pid = getpid();
    if (!env.secure)
        for (char **e = environ; e && *e; e++)
            if ((*e)[0] == 'L' && has_prefix(*e, "LOCKSCOPE__BINDCHECK=")) {
                ls_real_check();        /* tests: the table against dlsym */
                break;
            }
    if (!ls_real_complete()) {
        /* nothing to forward to: stay inert (mode off) rather than crash */
        static const char msg[] = "lockscope: libc functions not found: lockscope is inert\n";
        (void)!write(2, msg, sizeof msg - 1);
        return;
    }
    ls_config_defaults(&g_ls.cfg);
    int r = ls_config_load(&g_ls.cfg, &env, err, sizeof err);
    ls_hazard_init();
    if (r < 0) {
        ls_hazard_config_error(err);
        if (g_ls.cfg.mode == LS_MODE_STRICT)
            _exit(127);
        g_ls.mode = LS_MODE_OFF;
    } else {
        g_ls.mode = g_ls.cfg.mode;
    }
    g_ls.open_hook = g_ls.mode != LS_MODE_OFF &&
                     (g_ls.cfg.n_open_rules > 0 || g_ls.cfg.n_scope_rules > 0);
    pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
    g_ls.inited = 1;
    /* The exec hand-over: ignored in mode off and in secure execution
     * (exec.c says what is checked before any fd is touched). */
    ls_exec_receive(env.secure);
    ls_hazard_start(env.secure);
    if (g_ls.cfg.debug && ls_active())
        ls_debug("lockscope: mode %s, backend ofd (private descriptions), config %s",
                 ls_mode_name(g_ls.mode), g_ls.cfg.source ? g_ls.cfg.source : "(none)");
}

__attribute__((constructor(101))) static void ls_constructor(void)
{
    ls_init();
}
