/*
 * log.h - hazard records: formatting (pure, no malloc, no stdio, no locks;
 * async-signal-safe) and writing (one write(2) per record).
 *
 * A record is formatted into a caller-supplied fixed buffer.  Strings that do
 * not fit are truncated inside the record (never a torn line): a JSON record
 * is always one complete, valid object ending in '\n'.
 */
#ifndef LOCKSCOPE_LOG_H
#define LOCKSCOPE_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LS_RECORD_MAX 8192      /* one formatted record, newline included */

struct ls_record {
    const char *hazard;         /* stable hazard name, e.g. "close-drops-lock" */
    const char *action;         /* "observed" | "prevented" | "refused" */
    const char *mode;           /* "audit" | "fix" | "strict" */
    const char *prog;           /* program name (short), may be NULL */
    pid_t pid, tid;
    int has_fd;   int fd;       /* fd the call named; null when !has_fd */
    const char *path;           /* absolute path, or NULL -> null */
    int has_devino; unsigned dev_major, dev_minor; uint64_t ino;
    const char *type;           /* "read"|"write"|"unlock"|"shared"|"exclusive" or NULL */
    int has_range; int64_t start, len;   /* SEEK_SET-resolved; len 0 = to EOF */
    const char *call;           /* intercepted function name, e.g. "fcntl" */
    const char *site;           /* "module+0xOFFSET" or NULL */
    int64_t time_sec; int32_t time_usec;
    const char *const *backtrace; size_t n_backtrace;  /* NULL -> null */
    const char *detail;         /* one human sentence, or NULL -> null */
    uint64_t repeat;            /* >1: this record stands for that many identical ones */
};

/* Format one record; returns its length (including the trailing '\n').
 * cap must be >= 256. */
size_t ls_format_json(char *buf, size_t cap, const struct ls_record *r);
size_t ls_format_text(char *buf, size_t cap, const struct ls_record *r);

/* Small async-signal-safe helpers also used elsewhere in the shim. */
size_t ls_fmt_u64(char *buf, uint64_t v);          /* decimal, returns length, no NUL */
size_t ls_fmt_i64(char *buf, int64_t v);
size_t ls_fmt_hex(char *buf, uint64_t v);          /* lowercase, no 0x prefix */
/* Length of the valid UTF-8 sequence at s (n bytes left), 0 if none
 * starts there (Unicode table 3-7).  Shared with `lockscope report`. */
size_t ls_utf8_seq(const unsigned char *s, size_t n);

#endif
