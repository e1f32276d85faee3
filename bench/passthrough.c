/*
 * passthrough.c - the floor any LD_PRELOAD shim pays.
 *
 * A bare interposer of the same symbols that liblockscope.so exports.  Each
 * wrapper unpacks its arguments as libc does and forwards to the next
 * definition found with dlsym(RTLD_NEXT): one extra call through the PLT and
 * one indirect call through a pointer, nothing else.  The table is bound in
 * the constructor; a call that arrives earlier (another library's
 * constructor) binds it on the spot.  lockscope's cost over native minus
 * this library's cost over native is what lockscope's own work costs.
 *
 * vfork is forwarded to fork, as lockscope does (a wrapper function cannot
 * return into a vfork child).  Only for the benchmark: not installed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/types.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

int __open_2(const char *, int);
int __open64_2(const char *, int);
int __openat_2(int, const char *, int);
int __openat64_2(int, const char *, int);
pid_t _Fork(void);
void closefrom(int);
int close_range(unsigned, unsigned, int);

/* X(return type, name, parameter list) */
#define PT_FUNCS(X) \
    X(int, open, (const char *, int, ...)) \
    X(int, open64, (const char *, int, ...)) \
    X(int, openat, (int, const char *, int, ...)) \
    X(int, openat64, (int, const char *, int, ...)) \
    X(int, creat, (const char *, mode_t)) \
    X(int, creat64, (const char *, mode_t)) \
    X(int, __open_2, (const char *, int)) \
    X(int, __open64_2, (const char *, int)) \
    X(int, __openat_2, (int, const char *, int)) \
    X(int, __openat64_2, (int, const char *, int)) \
    X(FILE *, fopen, (const char *, const char *)) \
    X(FILE *, fopen64, (const char *, const char *)) \
    X(FILE *, freopen, (const char *, const char *, FILE *)) \
    X(FILE *, freopen64, (const char *, const char *, FILE *)) \
    X(FILE *, fdopen, (int, const char *)) \
    X(int, fclose, (FILE *)) \
    X(int, closedir, (DIR *)) \
    X(int, close, (int)) \
    X(int, close_range, (unsigned, unsigned, int)) \
    X(void, closefrom, (int)) \
    X(int, dup, (int)) \
    X(int, dup2, (int, int)) \
    X(int, dup3, (int, int, int)) \
    X(int, fcntl, (int, int, ...)) \
    X(int, fcntl64, (int, int, ...)) \
    X(int, flock, (int, int)) \
    X(int, lockf, (int, int, off_t)) \
    X(int, lockf64, (int, int, off_t)) \
    X(pid_t, fork, (void)) \
    X(pid_t, _Fork, (void)) \
    X(int, daemon, (int, int)) \
    X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[])) \
    X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[])) \
    X(int, execve, (const char *, char *const[], char *const[])) \
    X(int, execvpe, (const char *, char *const[], char *const[])) \
    X(int, fexecve, (int, char *const[], char *const[]))

#define PT_DEFINE(ret, name, params) static ret (*next_##name) params;
PT_FUNCS(PT_DEFINE)
#undef PT_DEFINE

static void bind_all(void)
{
#define PT_BIND(ret, name, params) \
    next_##name = (ret (*) params)dlsym(RTLD_NEXT, #name);
    PT_FUNCS(PT_BIND)
#undef PT_BIND
}

__attribute__((constructor(101))) static void pt_init(void) { bind_all(); }

/* The next definition, bound on first use if the constructor has not run. */
#define NEXT(name) (__builtin_expect(next_##name == NULL, 0) ? bind_all() : (void)0, next_##name)

#define NEED_MODE(flags) (((flags) & O_CREAT) || (((flags) & O_TMPFILE) == O_TMPFILE))
#define GET_MODE(flags, last, mode) \
    mode_t mode = 0; \
    if (NEED_MODE(flags)) { va_list ap; va_start(ap, last); mode = va_arg(ap, mode_t); va_end(ap); }

EXPORT int open(const char *path, int flags, ...)
{ GET_MODE(flags, flags, mode) return NEXT(open)(path, flags, mode); }
EXPORT int open64(const char *path, int flags, ...)
{ GET_MODE(flags, flags, mode) return NEXT(open64)(path, flags, mode); }
EXPORT int openat(int dirfd, const char *path, int flags, ...)
{ GET_MODE(flags, flags, mode) return NEXT(openat)(dirfd, path, flags, mode); }
EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{ GET_MODE(flags, flags, mode) return NEXT(openat64)(dirfd, path, flags, mode); }
EXPORT int creat(const char *path, mode_t mode) { return NEXT(creat)(path, mode); }
EXPORT int creat64(const char *path, mode_t mode) { return NEXT(creat64)(path, mode); }
EXPORT int __open_2(const char *path, int flags) { return NEXT(__open_2)(path, flags); }
EXPORT int __open64_2(const char *path, int flags) { return NEXT(__open64_2)(path, flags); }
EXPORT int __openat_2(int d, const char *path, int flags) { return NEXT(__openat_2)(d, path, flags); }
EXPORT int __openat64_2(int d, const char *path, int flags) { return NEXT(__openat64_2)(d, path, flags); }

EXPORT FILE *fopen(const char *p, const char *m) { return NEXT(fopen)(p, m); }
EXPORT FILE *fopen64(const char *p, const char *m) { return NEXT(fopen64)(p, m); }
EXPORT FILE *freopen(const char *p, const char *m, FILE *f) { return NEXT(freopen)(p, m, f); }
EXPORT FILE *freopen64(const char *p, const char *m, FILE *f) { return NEXT(freopen64)(p, m, f); }
EXPORT FILE *fdopen(int fd, const char *m) { return NEXT(fdopen)(fd, m); }
EXPORT int fclose(FILE *f) { return NEXT(fclose)(f); }
EXPORT int closedir(DIR *d) { return NEXT(closedir)(d); }

EXPORT int close(int fd) { return NEXT(close)(fd); }
EXPORT int close_range(unsigned a, unsigned b, int fl) { return NEXT(close_range)(a, b, fl); }
EXPORT void closefrom(int fd) { NEXT(closefrom)(fd); }

EXPORT int dup(int fd) { return NEXT(dup)(fd); }
EXPORT int dup2(int a, int b) { return NEXT(dup2)(a, b); }
EXPORT int dup3(int a, int b, int fl) { return NEXT(dup3)(a, b, fl); }

EXPORT int fcntl(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return NEXT(fcntl)(fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
    va_list ap;
    va_start(ap, cmd);
    void *arg = va_arg(ap, void *);
    va_end(ap);
    return NEXT(fcntl64)(fd, cmd, arg);
}

EXPORT int flock(int fd, int op) { return NEXT(flock)(fd, op); }
EXPORT int lockf(int fd, int cmd, off_t len) { return NEXT(lockf)(fd, cmd, len); }
EXPORT int lockf64(int fd, int cmd, off_t len) { return NEXT(lockf64)(fd, cmd, len); }

EXPORT pid_t fork(void) { return NEXT(fork)(); }
EXPORT pid_t vfork(void) { return NEXT(fork)(); }
EXPORT pid_t _Fork(void) { return NEXT(_Fork)(); }
EXPORT int daemon(int a, int b) { return NEXT(daemon)(a, b); }

EXPORT int posix_spawn(pid_t *pid, const char *path, const posix_spawn_file_actions_t *fa,
                       const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{ return NEXT(posix_spawn)(pid, path, fa, attr, argv, envp); }
EXPORT int posix_spawnp(pid_t *pid, const char *file, const posix_spawn_file_actions_t *fa,
                        const posix_spawnattr_t *attr, char *const argv[], char *const envp[])
{ return NEXT(posix_spawnp)(pid, file, fa, attr, argv, envp); }

extern char **environ;
EXPORT int execve(const char *p, char *const a[], char *const e[]) { return NEXT(execve)(p, a, e); }
EXPORT int execv(const char *p, char *const a[]) { return NEXT(execve)(p, a, environ); }
EXPORT int execvpe(const char *f, char *const a[], char *const e[]) { return NEXT(execvpe)(f, a, e); }
EXPORT int execvp(const char *f, char *const a[]) { return NEXT(execvpe)(f, a, environ); }
EXPORT int fexecve(int fd, char *const a[], char *const e[]) { return NEXT(fexecve)(fd, a, e); }

/* execl family: the argument list onto the stack, as glibc does. */
#define COLLECT(arg0, last, argv, envp, want_env) \
    size_t n_ = 1; \
    va_list ap_; \
    va_start(ap_, last); \
    while (va_arg(ap_, const char *)) n_++; \
    va_end(ap_); \
    const char *argv[n_ + 1]; \
    argv[0] = arg0; \
    va_start(ap_, last); \
    for (size_t i_ = 1; i_ <= n_; i_++) argv[i_] = va_arg(ap_, const char *); /* ends with the NULL */ \
    char *const *envp = environ; \
    if (want_env) envp = va_arg(ap_, char *const *); \
    va_end(ap_);

EXPORT int execl(const char *path, const char *arg, ...)
{ COLLECT(arg, arg, argv, envp, 0) return NEXT(execve)(path, (char *const *)argv, envp); }
EXPORT int execlp(const char *file, const char *arg, ...)
{ COLLECT(arg, arg, argv, envp, 0) return NEXT(execvpe)(file, (char *const *)argv, envp); }
EXPORT int execle(const char *path, const char *arg, ...)
{ COLLECT(arg, arg, argv, envp, 1) return NEXT(execve)(path, (char *const *)argv, envp); }
