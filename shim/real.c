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
#include <spawn.h>
#include <stdio.h>
#include <sys/file.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

#define LS_REAL_DEFINE(ret, name, params) ret (*real_##name) params;
LS_REAL_FUNCS(LS_REAL_DEFINE)
#undef LS_REAL_DEFINE

int ls_real_bound;
static pthread_once_t bind_once = PTHREAD_ONCE_INIT;

static void *next_symbol(const char *name, void *ours)
{
    void *p = dlsym(RTLD_NEXT, name);
    if (p == ours)
        p = NULL;
    return p;
}

static void bind_all(void)
{
#define LS_REAL_BIND(ret, name, params) \
    real_##name = (ret (*) params)next_symbol(#name, (void *)&name);
    LS_REAL_FUNCS(LS_REAL_BIND)
#undef LS_REAL_BIND
    __atomic_store_n(&ls_real_bound, 1, __ATOMIC_RELEASE);
}

void ls_real_bind(void)
{
    if (__atomic_load_n(&ls_real_bound, __ATOMIC_ACQUIRE))
        return;
    pthread_once(&bind_once, bind_all);
}
