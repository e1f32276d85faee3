/*
 * real.h - the one table of real (next) functions.
 *
 * Every call the shim makes to an interposed libc function goes through
 * this table, never through the plain name (which would re-enter the shim).
 * The table is bound in the constructor (what dlsym(RTLD_NEXT) would
 * give, found by one walk of the loaded objects: real.c), and lazily for
 * calls that arrive earlier (another library's constructor).  Tests may overwrite an entry for fault injection.
 */
#ifndef LOCKSCOPE_REAL_H
#define LOCKSCOPE_REAL_H

#include <dirent.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/types.h>

/* X(return type, name, parameter list) */
#define LS_REAL_FUNCS(X) \
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
    X(pid_t, vfork, (void)) \
    X(pid_t, _Fork, (void)) \
    X(int, posix_spawn, (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[])) \
    X(int, posix_spawnp, (pid_t *, const char *, const posix_spawn_file_actions_t *, const posix_spawnattr_t *, char *const[], char *const[])) \
    X(int, execve, (const char *, char *const[], char *const[])) \
    X(int, execvpe, (const char *, char *const[], char *const[])) \
    X(int, fexecve, (int, char *const[], char *const[])) \
    X(int, daemon, (int, int)) \
    X(FILE *, popen, (const char *, const char *))

#define LS_REAL_DECLARE(ret, name, params) extern ret (*real_##name) params;
LS_REAL_FUNCS(LS_REAL_DECLARE)
#undef LS_REAL_DECLARE

/* Bind the table (idempotent, thread-safe).  Safe to call from a
 * constructor; NOT async-signal-safe the first time. */
void ls_real_bind(void);
/* 1 once the table is bound. */
extern int ls_real_bound;
/* 1 if every function the shim itself needs was found. */
int ls_real_complete(void);
/* LOCKSCOPE__BINDCHECK: one line on stderr, how many entries differ from
 * what dlsym(RTLD_NEXT) gives (tests). */
void ls_real_check(void);

#define REAL(name) (ls_real_bound ? (void)0 : ls_real_bind(), real_##name)

#endif
