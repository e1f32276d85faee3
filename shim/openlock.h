/*
 * openlock.h - atomic open-and-lock (LOCKSCOPE_OPEN_LOCK rules).
 */
#ifndef LOCKSCOPE_OPENLOCK_H
#define LOCKSCOPE_OPENLOCK_H

#include <stdio.h>
#include <sys/types.h>

enum {
    LS_OPEN_OPEN, LS_OPEN_OPEN64, LS_OPEN_OPENAT, LS_OPEN_OPENAT64,
    LS_OPEN_2, LS_OPEN64_2, LS_OPENAT_2, LS_OPENAT64_2,
    LS_OPEN_CREAT, LS_OPEN_CREAT64
};

#define LS_OPENLOCK_NO_RULE 1
#define LS_OPENLOCK_DONE 0

/* 1 when any open-and-lock rule is configured. */
int ls_openlock_active(void);

/* If a rule matches `path`, open it with the rule's lock held and return
 * LS_OPENLOCK_DONE with the result in *fd_out (an fd, or -1 with errno).
 * Otherwise return LS_OPENLOCK_NO_RULE and do nothing. */
int ls_openlock_open(int dirfd, const char *path, int flags, mode_t mode, int kind,
                     void *site, int *fd_out);
int ls_openlock_fopen(const char *path, const char *mode, void *site, FILE **out);

/* Path helpers (pathmatch.c): the absolute, normalised form of path as seen
 * from dirfd; returns 0 or -1 (too long / no cwd). */
int ls_path_absolute(int dirfd, const char *path, char *out, size_t cap);

#endif
