/*
 * hazard.c - turning what the engine saw into log records.
 *
 * Everything here may run with signals blocked inside the critical
 * section, or from a signal handler: records are formatted into a static
 * buffer (protected by g_mu) and written with one write(2) to a descriptor
 * opened O_APPEND at a high number, so records of concurrent processes
 * never interleave.  No malloc, no stdio.  The call site is found in
 * /proc/self/maps (dladdr takes the loader's lock: not signal-safe).
 *
 * Flood control: identical records (hazard, action, call site, inode) are
 * counted in a small table; the 1st, 10th, 100th... are written, each
 * with "repeat" = how many it stands for, and the remainder at exit (with
 * the path of the first one, fd and backtrace null).  The table belongs to
 * one process: a forked child starts with an empty one, so no repeat is
 * counted twice.  Repeats still pending are lost when the process ends
 * without running destructors (_exit, a fatal signal, exec unless
 * ls_hazard_flush_pending runs first).
 *
 * The log descriptor is marked private (closefrom and close leave it
 * alone), and its identity is checked before every record: if the program
 * managed to close it or put another file on its number (dup2 onto it, a
 * raw close_range), the log is opened again rather than written into the
 * program's file.
 */
#include <pthread.h>
#include <execinfo.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "real.h"
#include "shim.h"

extern char *program_invocation_short_name;

static int log_fd = -1;
static int log_is_file;         /* log_fd is ours (not the program's stderr) */
static dev_t log_dev;
static ino_t log_ino;
static int log_json;
static int log_open_failed;
static char recbuf[LS_RECORD_MAX];
static char debugbuf[1024];

void ls_hazard_init(void)
{
    /* The first backtrace() loads libgcc_s (malloc): do it now, not in a
     * signal handler later. */
    if (g_ls.cfg.backtrace) {
        void *b[2];
        backtrace(b, 2);
    }
}

static int open_log(void)
{
    if (log_fd >= 0 && log_is_file) {
        struct stat st;
        if (fstat(log_fd, &st) != 0 || st.st_dev != log_dev || st.st_ino != log_ino) {
            /* closed or replaced behind our back: the number is not ours */
            ls_fd_mark_private(log_fd, 0);
            log_fd = -1;
        }
    }
    if (log_fd >= 0 || log_open_failed)
        return log_fd;
    const char *p = g_ls.cfg.log;
    int json = g_ls.cfg.format == LS_FORMAT_JSON;
    if (!p || !strcmp(p, "stderr")) {
        log_fd = 2;
        log_is_file = 0;
    } else {
        int fd = REAL(open)(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd < 0) {
            log_open_failed = 1;
            return -1;
        }
        fd = ls_move_high(fd);
        struct stat st;
        if (fstat(fd, &st) != 0) {
            REAL(close)(fd);
            log_open_failed = 1;
            return -1;
        }
        log_fd = fd;
        log_is_file = 1;
        log_dev = st.st_dev;
        log_ino = st.st_ino;
        ls_fd_mark_private(log_fd, 1);
        if (g_ls.cfg.format == LS_FORMAT_DEFAULT)
            json = 1;
    }
    log_json = json;
    return log_fd;
}

static void write_all(int fd, const char *b, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, b, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return;
        }
        b += w;
        n -= (size_t)w;
    }
}

/* ---- a tiny formatter for debug lines: %s %d %u %x %lld ---- */
static size_t vfmt(char *buf, size_t cap, const char *f, va_list ap)
{
    size_t n = 0;
    char num[32];
    for (; *f && n + 1 < cap; f++) {
        if (*f != '%') { buf[n++] = *f; continue; }
        f++;
        const char *s = NULL;
        size_t l = 0;
        if (*f == 's') { s = va_arg(ap, const char *); if (!s) s = "(null)"; l = strlen(s); }
        else if (*f == 'd') { l = ls_fmt_i64(num, va_arg(ap, int)); s = num; }
        else if (*f == 'u') { l = ls_fmt_u64(num, va_arg(ap, unsigned)); s = num; }
        else if (*f == 'x') { l = ls_fmt_hex(num, va_arg(ap, unsigned)); s = num; }
        else if (*f == 'l' && f[1] == 'l' && f[2] == 'd') { f += 2; l = ls_fmt_i64(num, va_arg(ap, long long)); s = num; }
        else if (*f == '%') { s = "%"; l = 1; }
        else { if (!*f) break; continue; }
        if (l > cap - 1 - n) l = cap - 1 - n;
        memcpy(buf + n, s, l);
        n += l;
    }
    buf[n] = 0;
    return n;
}

void ls_debug(const char *fmt, ...)
{
    if (!g_ls.cfg.debug)
        return;
    struct ls_guard g;
    int held = ls_held();
    if (!held && ls_enter(&g) < 0) return;  /* a handler inside the shim: no record */
    va_list ap;
    va_start(ap, fmt);
    size_t n = vfmt(debugbuf, sizeof debugbuf - 1, fmt, ap);
    va_end(ap);
    debugbuf[n++] = '\n';
    write_all(2, debugbuf, n);
    if (!held) ls_leave(&g);
}

void ls_hazard_config_error(const char *msg)
{
    char line[700];
    size_t n = 0;
    const char *pre = "lockscope: configuration error: ";
    size_t l = strlen(pre);
    memcpy(line, pre, l); n = l;
    l = strlen(msg);
    if (l > sizeof line - n - 60) l = sizeof line - n - 60;
    memcpy(line + n, msg, l); n += l;
    const char *post = g_ls.cfg.mode == LS_MODE_STRICT ? " (strict: not starting)\n"
                                                       : " (lockscope is inert)\n";
    l = strlen(post);
    memcpy(line + n, post, l); n += l;
    write_all(2, line, n);
    if (g_ls.cfg.log && strcmp(g_ls.cfg.log, "stderr") != 0 && g_ls.cfg.mode != LS_MODE_OFF) {
        /* "Configuration errors always go to stderr (and to the log too)". */
        int fd = REAL(open)(g_ls.cfg.log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
        if (fd >= 0) {
            write_all(fd, line, n);
            REAL(close)(fd);
        }
    }
}

/* ---- call sites: module+0xOFFSET from /proc/self/maps ---- */

/* Under g_mu (ls_maps_find's buffer is shared). */
static size_t site_of(uintptr_t addr, char *out, size_t cap)
{
    struct ls_mapping m;
    size_t n;
    if (cap >= 40 && ls_maps_find(addr, &m) == 0) {
        const char *base = m.name[0] && m.name[0] != '[' ? m.name : "?";
        size_t bl = strlen(base);
        if (bl > cap - 24) bl = cap - 24;
        memcpy(out, base, bl);
        n = bl;
        memcpy(out + n, "+0x", 3); n += 3;
        n += ls_fmt_hex(out + n, addr - m.lo + m.offset);
        out[n] = 0;
        return n;
    }
    if (cap < 24) { out[0] = 0; return 0; }
    memcpy(out, "?+0x", 4);
    n = 4 + ls_fmt_hex(out + 4, addr);
    out[n] = 0;
    return n;
}

/* ---- flood control ---- */

#define DEDUP_SLOTS 256
#define DEDUP_PATH 512
struct dedup {
    const char *name, *action;
    uintptr_t site;
    ino_t ino;
    uint64_t count, written;
    struct ls_hazard first;
    char path[DEDUP_PATH];      /* the first record's path, "" if unknown */
};
static struct dedup dedup[DEDUP_SLOTS];
static pid_t dedup_pid;         /* the process the counts belong to */

/* A forked child inherits the parent's counts: forget them (the parent
 * writes its own pending repeats). */
static void dedup_own(void)
{
    if (dedup_pid != g_ls.pid) {
        memset(dedup, 0, sizeof dedup);
        dedup_pid = g_ls.pid;
    }
}

/* /proc/self/fd's answer for fd into buf (NUL-terminated); NULL if none. */
static const char *fd_path(int fd, char *buf, size_t cap)
{
    if (fd < 0)
        return NULL;
    char link[48] = "/proc/self/fd/";
    size_t l = 14 + ls_fmt_u64(link + 14, (uint64_t)fd);
    link[l] = 0;
    ssize_t n = readlink(link, buf, cap - 1);
    if (n <= 0 || (size_t)n >= cap - 1)
        return NULL;            /* none, or cut short: no wrong path */
    buf[n] = 0;
    return buf;
}

static struct dedup *dedup_slot(const struct ls_hazard *h)
{
    uintptr_t k = (uintptr_t)h->name ^ ((uintptr_t)h->action << 7) ^ (uintptr_t)h->site ^ (uintptr_t)h->ino * 31;
    k ^= k >> 17;
    for (unsigned i = 0; i < 8; i++) {
        struct dedup *d = &dedup[(k + i) % DEDUP_SLOTS];
        if (d->count == 0 || (d->name == h->name && d->action == h->action &&
                              d->site == (uintptr_t)h->site && d->ino == h->ino))
            return d;
    }
    return NULL;                /* table busy here: no flood control */
}

static int worth_writing(uint64_t c)
{
    if (c == 1) return 1;
    while (c % 10 == 0) c /= 10;
    return c == 1;
}

const char *ls_action_for(int changed)
{
    if (g_ls.mode == LS_MODE_AUDIT) return "observed";
    return changed ? "prevented" : "observed";
}

/* Write one record; `path` overrides the fd's path (flush at exit), and
 * `flushed` leaves the backtrace null (the stack is the destructor's). */
static void emit(const struct ls_hazard *h, uint64_t repeat, const char *path_override, int flushed)
{
    struct ls_record r;
    char path[1024], site[256];
    const char *bt[32];
    char btbuf[32][96];
    struct timespec ts;

    memset(&r, 0, sizeof r);
    r.hazard = h->name;
    r.action = h->action;
    r.mode = ls_mode_name(g_ls.mode);
    r.prog = program_invocation_short_name;
    r.pid = g_ls.pid;
    r.tid = ls_gettid();
    r.has_fd = h->fd >= 0;
    r.fd = h->fd;
    r.path = path_override ? path_override : fd_path(h->fd, path, sizeof path);
    r.has_devino = h->has_devino;
    r.dev_major = major(h->dev);
    r.dev_minor = minor(h->dev);
    r.ino = (uint64_t)h->ino;
    r.type = h->type;
    r.has_range = h->has_range;
    if (h->has_range)
        ls_range_to_flock(h->start, h->end, &r.start, &r.len);
    r.call = h->call;
    if (h->site) {
        site_of((uintptr_t)h->site, site, sizeof site);
        r.site = site;
    }
    clock_gettime(CLOCK_REALTIME, &ts);
    r.time_sec = ts.tv_sec;
    r.time_usec = (int32_t)(ts.tv_nsec / 1000);
    r.detail = h->detail;
    r.repeat = repeat;
    if (g_ls.cfg.backtrace && !flushed) {
        void *frames[34];
        int n = backtrace(frames, 34);
        size_t k = 0;
        for (int i = 2; i < n && k < 32; i++, k++) {
            site_of((uintptr_t)frames[i], btbuf[k], sizeof btbuf[k]);
            bt[k] = btbuf[k];
        }
        r.backtrace = bt;
        r.n_backtrace = k;
    }
    int fd = open_log();
    if (fd < 0)
        return;
    size_t len = log_json ? ls_format_json(recbuf, sizeof recbuf, &r)
                          : ls_format_text(recbuf, sizeof recbuf, &r);
    write_all(fd, recbuf, len);
}

void ls_hazard(const struct ls_hazard *h)
{
    if (!ls_active())
        return;
    struct ls_guard g;
    int held = ls_held();
    int saved = errno;
    if (!held && ls_enter(&g) < 0) return;  /* a handler inside the shim: no record */
    dedup_own();
    struct dedup *d = dedup_slot(h);
    uint64_t repeat = 1;
    int write_it = 1;
    if (d && !g_ls.cfg.abort_on_hazard) {
        if (d->count == 0) {
            d->name = h->name; d->action = h->action;
            d->site = (uintptr_t)h->site; d->ino = h->ino;
            d->first = *h;
            if (!fd_path(h->fd, d->path, sizeof d->path))
                d->path[0] = 0;
        }
        d->count++;
        write_it = worth_writing(d->count);
        repeat = d->count - d->written;
        if (write_it)
            d->written = d->count;
    }
    if (write_it)
        emit(h, repeat, NULL, 0);
    if (g_ls.cfg.abort_on_hazard) {
        /* The record is out.  Release g_mu before abort(): a SIGABRT
         * handler that closes a file or takes a lock must not find it
         * held by its own thread. */
        if (!held) {
            ls_leave(&g);
        } else {
            struct ls_guard all;
            all.cancel = PTHREAD_CANCEL_ENABLE;
            ls_leave(&all);
        }
        abort();
    }
    if (!held) ls_leave(&g);
    errno = saved;
}

/* Write what flood control still holds back (at exit, and before exec). */
void ls_hazard_flush_pending(void)
{
    if (!g_ls.inited || !ls_active())
        return;
    struct ls_guard g;
    int held = ls_held();
    int saved = errno;
    if (!held && ls_enter(&g) < 0) return;  /* a handler inside the shim: no record */
    if (dedup_pid == g_ls.pid) {
        for (int i = 0; i < DEDUP_SLOTS; i++) {
            struct dedup *d = &dedup[i];
            if (d->count > d->written) {
                /* the same record again, standing for the repeats not yet written */
                struct ls_hazard h = d->first;
                h.fd = -1;          /* the descriptor may be long gone */
                h.detail = "repeats of an earlier record, counted by flood control";
                emit(&h, d->count - d->written, d->path[0] ? d->path : NULL, 1);
                d->written = d->count;
            }
        }
    }
    if (!held) ls_leave(&g);
    errno = saved;
}

/* At exit, write what flood control still holds back. */
__attribute__((destructor)) static void ls_hazard_flush(void)
{
    ls_hazard_flush_pending();
}
