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
#include <sys/syscall.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

struct ls_state g_ls = { .mode = LS_MODE_OFF };

void ls_hazard_init(void);
void ls_hazard_config_error(const char *msg);

/* ---- critical section ---- */

/* g_mu: a futex lock whose word is the owner's tid (| LOCK_WAITERS).  The
 * owner is known exactly at every instant, so a signal handler can tell
 * "my own thread holds it" (take the signal path) from "another thread
 * holds it, or mine is only on its way in" (wait like anyone): a handler
 * that interrupts the lock's own acquire loop runs a full acquire/release
 * of its own, and the interrupted loop just tries again. */
#define LOCK_WAITERS 0x80000000u
static _Atomic uint32_t g_mu;
static sigset_t fork_saved_mask;
static int fork_skipped_lock;
static LS_TLS pid_t tls_tid;

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
    return (atomic_load(&g_mu) & ~LOCK_WAITERS) == (uint32_t)ls_gettid();
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
    /* (a cancellation pending meanwhile acts at the next cancellation
     * point, e.g. the F_SETLKW wait, outside the section) */
    cancel_back(g);
}


/* ---- fork protocol: prepare takes g_mu (signals blocked), the parent
 * releases it, the child re-initialises it and forgets the parent's
 * ownership.  Everything in the child handler is async-signal-safe. ---- */

static void atfork_prepare(void)
{
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &fork_saved_mask);
    /* fork from a handler that interrupted our own section: the mutex is
     * ours already; taking it again would hang */
    fork_skipped_lock = ls_held();
    if (!fork_skipped_lock)
        mu_acquire();
}

static void atfork_parent(void)
{
    if (!fork_skipped_lock)
        mu_release();
    pthread_sigmask(SIG_SETMASK, &fork_saved_mask, NULL);
}

static void atfork_child(void)
{
    atomic_store(&g_mu, 0);
    tls_tid = 0;
    atomic_store(&tls_ndefer, 0);
    tls_defer_overflow = 0;
    g_ls.pid = (pid_t)syscall(SYS_getpid);
    if (g_ls.inited && ls_active())
        ls_fork_child_reset();
    pthread_sigmask(SIG_SETMASK, &fork_saved_mask, NULL);
}

/* Run the child half when a fork happened without atfork handlers
 * (_Fork): take the same path. */
void ls_fork_prepare(void) { atfork_prepare(); }
void ls_fork_parent(void) { atfork_parent(); }
void ls_fork_child(void) { atfork_child(); }

/* ---- probes of what the kernel offers ---- */

#ifndef F_DUPFD_QUERY
#define F_DUPFD_QUERY 1027
#endif

static void probe_kernel(void)
{
    int saved = errno;
    int a = REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    g_ls.have_proc = a >= 0;
    if (a < 0)
        a = REAL(open)("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (a >= 0) {
        int b = REAL(fcntl)(a, F_DUPFD_CLOEXEC, 0);
        if (b >= 0) {
            g_ls.have_dupfd_query = REAL(fcntl)(a, F_DUPFD_QUERY, b) == 1;
            g_ls.have_kcmp = syscall(SYS_kcmp, (long)g_ls.pid, (long)g_ls.pid, 0L, (long)a, (long)b) == 0;
            REAL(close)(b);
        }
        REAL(close)(a);
    }
    errno = saved;
}

/* ---- constructor ---- */

extern char **environ;

static void ls_init(void)
{
    char err[512];
    struct ls_config_env env = { (const char *const *)environ, (int)getauxval(AT_SECURE) };

    ls_real_bind();
    g_ls.pid = getpid();
    if (!ls_real_complete()) {
        /* nothing to forward to: stay inert (mode off) rather than crash */
        static const char msg[] = "lockscope: libc functions not found: lockscope is inert\n";
        (void)!write(2, msg, sizeof msg - 1);
        return;
    }
    ls_config_defaults(&g_ls.cfg);
    int r = ls_config_load(&g_ls.cfg, &env, err, sizeof err);
    probe_kernel();
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
    /* The exec hand-over is read even in mode off: the locks it carries
     * are real kernel locks and must not leak into the program as fds. */
    ls_exec_receive();
    if (g_ls.cfg.debug && ls_active())
        ls_debug("lockscope: mode %s, backend ofd (private descriptions), config %s, dupfd_query %d, kcmp %d, proc %d",
                 ls_mode_name(g_ls.mode), g_ls.cfg.source ? g_ls.cfg.source : "(none)",
                 g_ls.have_dupfd_query, g_ls.have_kcmp, g_ls.have_proc);
}

__attribute__((constructor(101))) static void ls_constructor(void)
{
    ls_init();
}
