/*
 * real.c - binding of the real-function table (see real.h).
 *
 * The table holds what dlsym(RTLD_NEXT) finds: the next definition after
 * this library, libc's or another preloaded interposer's (so lockscope
 * stacks with fakeroot, libfaketime, sanitizer runtimes).  dlsym costs
 * ~900 instructions a name (its error handling, the loader's lock), 34 k
 * at every process start for the table; so the usual case is bound by one
 * walk of the loader's list of objects after this one, up to and including
 * libc (all loaded at start, in the order the global scope searches them),
 * with a GNU-hash lookup of each name in each object, accepting what
 * dlsym accepts: a defined global or weak function, unversioned or of the
 * one default (@@) version.  Anything unusual leaves the name to dlsym:
 * an object without DT_GNU_HASH, a name not found by libc, a symbol that
 * is not a plain function (IFUNC, unique), two default versions; and the
 * whole walk when this library is not on the list before libc (dlopen'ed,
 * another namespace) or an auditor is loaded (LD_AUDIT: its la_symbind may
 * change what dlsym gives).  LOCKSCOPE__BINDCHECK makes the constructor compare
 * the table with dlsym for every name (tests/stress/cold-start.sh).
 *
 * A symbol that resolves back to our own wrapper (possible with odd link
 * orders) is treated as missing rather than recursing forever; a missing
 * function makes its wrapper fail with ENOSYS.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <pthread.h>
#include <sched.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "log.h"
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

/* ---- the walk ---- */

/* An object's dynamic symbol lookup tables. */
struct obj {
    ElfW(Addr) base;
    const ElfW(Sym) *symtab;
    const char *strtab;
    const ElfW(Half) *versym;           /* NULL: unversioned */
    const uint32_t *gnu;                /* DT_GNU_HASH */
    int is_libc;
};

#define OBJ_MAX 16
#define FOUND_NOT 0
#define FOUND_YES 1
#define FOUND_ASK 2                     /* leave it to dlsym */

/* A dynamic-section address: relocated in place by the loader on most
 * targets, left as a link-time value where .dynamic is read-only. */
static const void *dyn_ptr(ElfW(Addr) base, ElfW(Addr) v)
{
    return (const void *)(v < base ? v + base : v);
}

static int obj_read(const struct link_map *m, struct obj *o)
{
    memset(o, 0, sizeof *o);
    o->base = m->l_addr;
    for (const ElfW(Dyn) *d = m->l_ld; d && d->d_tag != DT_NULL; d++) {
        switch (d->d_tag) {
        case DT_SYMTAB: o->symtab = dyn_ptr(o->base, d->d_un.d_ptr); break;
        case DT_STRTAB: o->strtab = dyn_ptr(o->base, d->d_un.d_ptr); break;
        case DT_VERSYM: o->versym = dyn_ptr(o->base, d->d_un.d_ptr); break;
        case DT_GNU_HASH: o->gnu = dyn_ptr(o->base, d->d_un.d_ptr); break;
        default: break;
        }
    }
    const char *n = m->l_name, *b = n;
    for (; n && *n; n++)
        if (*n == '/')
            b = n + 1;
    o->is_libc = b && b[0] == 'l' && b[1] == 'i' && b[2] == 'b' && b[3] == 'c' && b[4] == '.' &&
                 b[5] == 's' && b[6] == 'o' && b[7] == '.';
    return o->symtab && o->strtab && o->gnu;
}

static uint32_t gnu_hash(const char *s)
{
    uint32_t h = 5381;
    for (; *s; s++)
        h = h * 33 + (unsigned char)*s;
    return h;
}

static int same(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return *a == *b;
}

/* dlsym's rule (check_match, DL_LOOKUP_RETURN_NEWEST): an unversioned
 * definition is taken at once; of versioned ones, the one not hidden
 * (the default "@@"), if there is exactly one. */
static int obj_lookup(const struct obj *o, const char *name, uint32_t h, void **out)
{
    const uint32_t nbuckets = o->gnu[0], symoff = o->gnu[1], bloom_n = o->gnu[2], shift = o->gnu[3];
    const ElfW(Addr) *bloom = (const ElfW(Addr) *)(o->gnu + 4);
    const uint32_t *buckets = (const uint32_t *)(bloom + bloom_n);
    const uint32_t *chain = buckets + nbuckets;
    const unsigned bits = sizeof(ElfW(Addr)) * 8;

    if (nbuckets == 0 || bloom_n == 0)
        return FOUND_NOT;
    ElfW(Addr) word = bloom[(h / bits) & (bloom_n - 1)];
    ElfW(Addr) mask = ((ElfW(Addr))1 << (h % bits)) | ((ElfW(Addr))1 << ((h >> shift) % bits));
    if ((word & mask) != mask)
        return FOUND_NOT;
    uint32_t i = buckets[h % nbuckets];
    if (i == 0 || i < symoff)
        return FOUND_NOT;
    int nver = 0;
    void *ver = NULL;
    for (;; i++) {
        uint32_t ch = chain[i - symoff];
        if ((ch | 1) == (h | 1)) {
            const ElfW(Sym) *s = &o->symtab[i];
            if (same(o->strtab + s->st_name, name) && s->st_shndx != SHN_UNDEF &&
                (s->st_value != 0 || (s->st_info & 0xf) == STT_TLS)) {
                int type = (s->st_info & 0xf), bind = (s->st_info >> 4);
                if (type != STT_FUNC || (bind != STB_GLOBAL && bind != STB_WEAK) ||
                    s->st_shndx == SHN_ABS)
                    return FOUND_ASK;       /* IFUNC, data, unique...: dlsym knows */
                ElfW(Half) v = o->versym ? o->versym[i] : 1;
                void *p = (void *)(o->base + s->st_value);
                if ((v & 0x7fff) < 2) {
                    *out = p;
                    return FOUND_YES;
                }
                if (!(v & 0x8000) && nver++ == 0)
                    ver = p;
            }
        }
        if (ch & 1)
            break;
    }
    if (nver == 1) {
        *out = ver;
        return FOUND_YES;
    }
    return nver ? FOUND_ASK : FOUND_NOT;
}

/* The objects after this one up to libc, in order; 0 if the walk cannot
 * be trusted here. */
extern char **environ;

/* LD_AUDIT set: an auditor's la_symbind may change what dlsym returns. */
static int audited(void)
{
    static const char v[] = "LD_AUDIT=";
    for (char **e = environ; e && *e; e++)
        if ((*e)[0] == 'L') {
            size_t i = 1;
            while (i < sizeof v - 1 && (*e)[i] == v[i])
                i++;
            if (i == sizeof v - 1 && (*e)[i])
                return 1;
        }
    return 0;
}

/* weak: a loader without it (musl) must not fail the relocation; then
 * every name goes to dlsym */
#pragma weak _r_debug

static int objects_next(struct obj *objs)
{
    extern ElfW(Dyn) _DYNAMIC[] __attribute__((visibility("hidden")));
    if (!&_r_debug || audited())
        return 0;
    struct link_map *m = _r_debug.r_map;
    while (m && m->l_ld != _DYNAMIC)
        m = m->l_next;
    if (!m)
        return 0;
    int n = 0;
    for (m = m->l_next; m; m = m->l_next) {
        if (n == OBJ_MAX || !obj_read(m, &objs[n]))
            return 0;
        if (objs[n++].is_libc)
            return n;
    }
    return 0;                           /* libc not after us: dlopen'ed */
}

/* What dlsym(RTLD_NEXT, name) would give, or NULL: ask dlsym. */
static void *walk_symbol(const struct obj *objs, int n, const char *name)
{
    uint32_t h = gnu_hash(name);
    for (int k = 0; k < n; k++) {
        void *p = NULL;
        int r = obj_lookup(&objs[k], name, h, &p);
        if (r == FOUND_YES)
            return p;
        if (r == FOUND_ASK)
            return NULL;
    }
    return NULL;
}

/* The functions without which the shim cannot work at all. */
int ls_real_complete(void)
{
    return real_open && real_openat && real_close && real_fcntl && real_dup && real_dup2 &&
           real_fclose && real_fopen && real_execve && real_fork && real_flock;
}

static void bind_all(void)
{
    struct obj objs[OBJ_MAX];
    int n = objects_next(objs);
    void *p;
#define LS_REAL_BIND(ret, name, params) \
    p = n ? walk_symbol(objs, n, #name) : NULL; \
    real_##name = (ret (*) params)(p ? p : next_symbol(#name, (void *)&name));
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

/* LOCKSCOPE__BINDCHECK: every entry against dlsym, one line on stderr:
 * "lockscope: bindcheck: N of M differ from dlsym[: names]". */
void ls_real_check(void)
{
    char line[1024];
    size_t l = 0;
    int bad = 0, all = 0;
    struct obj objs[OBJ_MAX];
    int walked = objects_next(objs);
#define ADD(s) do { size_t k_ = strlen(s); if (l + k_ < sizeof line - 2) { memcpy(line + l, s, k_); l += k_; } } while (0)
    char tail[700];
    size_t tl = 0;
#define LS_REAL_CHECK(ret, name, params) \
    all++; \
    if ((void *)real_##name != next_symbol(#name, (void *)&name)) { \
        bad++; \
        size_t k_ = strlen(" " #name); \
        if (tl + k_ < sizeof tail) { memcpy(tail + tl, " " #name, k_); tl += k_; } \
    }
    LS_REAL_FUNCS(LS_REAL_CHECK)
#undef LS_REAL_CHECK
    char num[24];
    ADD("lockscope: bindcheck: ");
    num[ls_fmt_i64(num, bad)] = 0;
    ADD(num);
    ADD(" of ");
    num[ls_fmt_i64(num, all)] = 0;
    ADD(num);
    ADD(walked ? " differ from dlsym (walked)" : " differ from dlsym (dlsym only)");
    tail[tl] = 0;
    ADD(tail);
#undef ADD
    line[l++] = '\n';
    (void)!write(2, line, l);
}
