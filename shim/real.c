/*
 * real.c - binding of the real-function table (see real.h).
 *
 * dlsym(RTLD_NEXT) finds the next definition after this library: libc's,
 * or another preloaded interposer's (so lockscope stacks with fakeroot,
 * libfaketime, sanitizer runtimes).  A symbol that resolves back to our own
 * wrapper (possible with odd link orders) is treated as missing rather than
 * recursing forever; a missing function makes its wrapper fail with ENOSYS.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define LS_REAL_DEFINE(ret, name, params) ret (*real_##name) params;
LS_REAL_FUNCS(LS_REAL_DEFINE)
#undef LS_REAL_DEFINE

int ls_real_bound;
static int bind_state;            /* 1: a thread is binding */

static void *libc_handle;

/* Is p a function of this library?  (&name cannot tell: when the library
 * is dlopen'ed rather than preloaded, &open is libc's.) */
static int is_ours(void *p)
{
    Dl_info self, it;
    if (!p || !dladdr((void *)ls_real_bind, &self) || !dladdr(p, &it))
        return 0;
    return it.dli_fbase == self.dli_fbase;
}

static void *next_symbol(const char *name, void *ours)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p && p != ours)
        return p;               /* preloaded: the usual case, no dladdr (slow) */
    {
        /* Loaded with dlopen (not preloaded), nothing comes "next": take
         * libc's own definition. */
        if (!libc_handle)
            libc_handle = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
        p = libc_handle ? dlsym(libc_handle, name) : NULL;
        if (is_ours(p))
            p = NULL;
    }
    return p;
}

/* The functions without which the shim cannot work at all. */
int ls_real_complete(void)
{
    return real_open && real_openat && real_close && real_fcntl && real_dup && real_dup2 &&
           real_fclose && real_fopen && real_execve && real_fork && real_flock;
}

static void bind_all(void)
{
#define LS_REAL_BIND(ret, name, params) \
    real_##name = (ret (*) params)next_symbol(#name, (void *)&name);
    LS_REAL_FUNCS(LS_REAL_BIND)
#undef LS_REAL_BIND
    __atomic_store_n(&ls_real_bound, 1, __ATOMIC_RELEASE);
}

/* Once, without pthread_once: glibc's wakes waiters with a futex call
 * even when there are none (one system call at every process start).
 * The first caller binds; a thread arriving meanwhile yields until it is
 * done (binding takes microseconds, and only at start). */
void ls_real_bind(void)
{
    if (__atomic_load_n(&ls_real_bound, __ATOMIC_ACQUIRE))
        return;
    int zero = 0;
    if (__atomic_compare_exchange_n(&bind_state, &zero, 1, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        bind_all();
        return;
    }
    while (!__atomic_load_n(&ls_real_bound, __ATOMIC_ACQUIRE))
        sched_yield();
}
