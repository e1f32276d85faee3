/*
 * hazard.c - turning what the engine saw into log records.
 *
 * Everything here may run inside the critical section, or from a signal
 * handler: records are formatted into a static buffer (protected by g_mu),
 * copied onto the thread's pending list and written by ls_leave once g_mu
 * is released (a blocked write must not stall other threads), each with
 * one write(2) to a descriptor opened O_APPEND at a high number, so records
 * of concurrent processes never interleave.  No malloc, no stdio.
 *
 * The log is opened when the process starts (across exec the descriptor
 * is passed down in LOCKSCOPE__LOGFD, see inherited_log: no reopening, no
 * /proc/self/fd scan); never through a symlink in a directory another user can
 * write, and there only a file of ours or root's.  A log that cannot be
 * opened gives one line on stderr and the records go to stderr.  The call site is found in
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
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
static int log_open_failed;     /* the named log could not be opened: stderr instead */
static int log_inheritable;     /* FD_CLOEXEC cleared for an exec (flush_pending) */
static char recbuf[LS_RECORD_MAX];
static char debugbuf[1024];

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

/* ---- writing after the critical section ----
 *
 * A record or debug line made under g_mu is not written there: write(2) to
 * a full pipe or a slow disk would block every thread's next close() or
 * lock behind it.  It is copied into a node from the shim's allocator and
 * pushed on this thread's pending list, and ls_leave writes the list once
 * g_mu is released (ls_log_flush).  Only this thread and its signal
 * handlers touch the list: pushes and the flush's take are atomic
 * exchanges, so a handler that pushes in the middle of a push, or flushes
 * in the middle of a flush, finds a consistent list.  The list is a stack:
 * the flush reverses it to write in order.  The flush does not enter the
 * section to free the nodes (it runs inside a lock request, between its
 * decision and its kernel call, where entering again would look like the
 * request had been left by a longjmp): written nodes go on a lock-free
 * stack that the next record made under g_mu frees.  A node that cannot be allocated means the record is
 * written at once (the old behaviour).  A forked child drops the nodes of
 * its parent (the parent writes them).  Only a pointer lives in TLS: the
 * library's static TLS must stay small enough for a dlopen. */
struct ls_pend {
    struct ls_pend *next;
    size_t size;                /* allocated */
    pid_t pid;
    int fd;
    size_t len;
    char data[];
};
LS_TLS struct ls_pend *_Atomic ls_log_pending;
static struct ls_pend *_Atomic g_pend_done;   /* written, to free under g_mu */

static int queue(int fd, const char *b, size_t n)
{
    if (!ls_held())
        return 0;
    for (struct ls_pend *q = atomic_exchange(&g_pend_done, NULL), *nx; q; q = nx) {
        nx = q->next;
        ls_free(q, q->size);
    }
    size_t size = sizeof(struct ls_pend) + n;
    struct ls_pend *p = ls_alloc(size);
    if (!p)
        return 0;
    p->size = size;
    p->pid = g_ls.pid;
    p->fd = fd;
    p->len = n;
    memcpy(p->data, b, n);
    struct ls_pend *head = atomic_load(&ls_log_pending);
    do
        p->next = head;
    while (!atomic_compare_exchange_weak(&ls_log_pending, &head, p));
    return 1;
}

/* Write out a record: queued if made under g_mu, else at once. */
static void out_record(int fd, const char *b, size_t n)
{
    if (n > 0 && !queue(fd, b, n))
        write_all(fd, b, n);
}

/* Called by ls_leave after releasing g_mu when ls_log_pending != NULL. */
void ls_log_flush(void)
{
    int saved = errno;
    struct ls_pend *list = atomic_exchange(&ls_log_pending, NULL), *fifo = NULL, *p;

    while (list) {              /* reverse: oldest first */
        p = list;
        list = p->next;
        p->next = fifo;
        fifo = p;
    }
    for (p = fifo; p; p = p->next)
        if (p->pid == g_ls.pid)
            write_all(p->fd, p->data, p->len);
    while (fifo) {
        p = fifo;
        fifo = p->next;
        struct ls_pend *head = atomic_load(&g_pend_done);
        do
            p->next = head;
        while (!atomic_compare_exchange_weak(&g_pend_done, &head, p));
    }
    errno = saved;
}

/* ---- the log file ---- */

/* The reason for an errno, without strerror's locale and buffer. */
static const char *reason(int e)
{
    const char *d = strerrordesc_np(e);
    return d ? d : "unknown error";
}

/* "lockscope: cannot open log PATH: WHY (records go to stderr instead)" */
static void say_log_failed(const char *path, const char *why)
{
    char line[1200];
    size_t n = 0, l;
    const char *parts[] = { "lockscope: cannot open log ", path, ": ", why,
                            " (records go to stderr instead)\n" };

    for (size_t k = 0; k < sizeof parts / sizeof parts[0]; k++) {
        l = strlen(parts[k]);
        if (l > sizeof line - 64 - n)
            l = sizeof line - 64 - n;
        memcpy(line + n, parts[k], l);
        n += l;
    }
    out_record(2, line, n);
}

/* Open the named log for appending, safely: never through a symbolic link
 * in a directory another user can write, and there only a file of this
 * user's or root's (else another user could point the records at a file of
 * ours: their symlink /tmp/audit.jsonl -> ~/.bashrc).  Returns the fd (at
 * its number, close-on-exec) or -1 with *why set. */
static int open_log_path(const char *p, const char **why, struct stat *stp)
{
    int shared = ls_dir_shared(p), fd;
    struct stat st;

    fd = REAL(open)(p, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY |
                       (shared ? O_NOFOLLOW : 0), 0644);
    if (fd < 0) {
        int e = errno;
        /* ELOOP from O_NOFOLLOW, or EACCES from fs.protected_symlinks */
        if (shared && (e == ELOOP || e == EACCES) && lstat(p, &st) == 0 && S_ISLNK(st.st_mode))
            *why = "a symbolic link in a directory other users can write (not followed)";
        else
            *why = reason(e);
        return -1;
    }
    if (fstat(fd, &st) != 0) {
        *why = reason(errno);
        REAL(close)(fd);
        return -1;
    }
    if (shared && ((st.st_uid != geteuid() && st.st_uid != 0) || st.st_nlink > 1)) {
        *why = st.st_nlink > 1 ? "a file with other hard links, in a directory other users can write"
                               : "owned by another user, in a directory other users can write";
        REAL(close)(fd);
        return -1;
    }
    if (stp)
        *stp = st;
    return fd;
}

/* The lowest number ls_move_high may have put a log descriptor at, in this
 * process or (same limit) its parent. */
static int high_floor(void)
{
    struct rlimit rl;
    int base = 1 << 15;

    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur > 64)
        base = (int)(rl.rlim_cur - rl.rlim_cur / 4);
    base /= 2;
    return base < 64 ? 64 : base;
}

/* LOCKSCOPE__LOGFD=<fd>:<dev>:<ino>: the descriptor of the named log that a
 * parent under the shim passed down through exec (ls_hazard_log_env), so
 * that a child that dropped privileges keeps writing to the log its parent
 * opened.  Read once, at start (no scan of /proc/self/fd).  Trusted only if
 * the descriptor is that file (device and inode, by fstat), is the file the
 * path names now (stat), is open for appending, and sits at a high number
 * where ls_move_high puts the shim's own descriptors.  -1 if none. */
#define LOGFD_VAR "LOCKSCOPE__LOGFD="
#define LOGFD_VARLEN (sizeof LOGFD_VAR - 1)
extern char **environ;

static int parse_u64(const char **s, uint64_t *v)
{
    const char *c = *s;
    uint64_t x = 0;
    if (*c < '0' || *c > '9')
        return -1;
    for (; *c >= '0' && *c <= '9'; c++) {
        if (x > (UINT64_MAX - 9) / 10)
            return -1;
        x = x * 10 + (uint64_t)(*c - '0');
    }
    *s = c;
    *v = x;
    return 0;
}

static const char *logfd_var(void)
{
    for (char **e = environ; e && *e; e++)
        if ((*e)[0] == 'L') {
            size_t i = 1;               /* no strncmp: no loader lookup at start */
            while (i < LOGFD_VARLEN && (*e)[i] == LOGFD_VAR[i])
                i++;
            if (i == LOGFD_VARLEN)
                return *e + i;
        }
    return NULL;
}

static int inherited_log(const char *p, const char *v)
{
    uint64_t fd, dev, ino;
    if (parse_u64(&v, &fd) < 0 || *v++ != ':' || parse_u64(&v, &dev) < 0 || *v++ != ':' ||
        parse_u64(&v, &ino) < 0 || *v || fd > (1 << 24))
        return -1;
    struct stat st, want;
    if (fstat((int)fd, &st) != 0 || st.st_dev != (dev_t)dev || st.st_ino != (ino_t)ino)
        return -1;
    int fl = REAL(fcntl)((int)fd, F_GETFL);
    if (fl < 0 || !(fl & O_APPEND) || (fl & O_ACCMODE) == O_RDONLY ||
        (int)fd < high_floor() || ls_fd_busy((int)fd))
        return -1;
    /* The parent's log descriptor: taken over, or at least not passed on
     * to this image's children (mode off, another log, a rotated file) */
    REAL(fcntl)((int)fd, F_SETFD, FD_CLOEXEC);
    if (!p || stat(p, &want) != 0 || want.st_dev != st.st_dev || want.st_ino != st.st_ino)
        return -1;
    return (int)fd;
}

/* Adopt the inherited descriptor at start, or -1 (open the path). */
static int inherited_fd = -1;

static int open_log(void)
{
    if (log_fd >= 0 && log_is_file) {
        struct stat st;
        if (fstat(log_fd, &st) != 0 || st.st_dev != log_dev || st.st_ino != log_ino) {
            /* closed or replaced behind our back: the number is not ours */
            ls_fd_mark_private(log_fd, 0);
            log_fd = -1;
            log_inheritable = 0;
        } else if (log_inheritable) {
            /* made inheritable for an exec that failed */
            REAL(fcntl)(log_fd, F_SETFD, FD_CLOEXEC);
            log_inheritable = 0;
        }
    }
    if (log_fd >= 0)
        return log_fd;
    const char *p = g_ls.cfg.log;
    int json = g_ls.cfg.format == LS_FORMAT_JSON;
    if (!p || !strcmp(p, "stderr") || log_open_failed) {
        log_fd = 2;
        log_is_file = 0;
    } else {
        const char *why = NULL;
        int fd = inherited_fd;
        inherited_fd = -1;              /* taken once: a reopen opens the path */
        struct stat st;
        int opened = 0;
        if (fd < 0 && (fd = open_log_path(p, &why, &st)) >= 0) {
            fd = ls_move_high(fd);      /* the same file: st stays true */
            opened = 1;
        }
        if (fd >= 0 && !opened && fstat(fd, &st) != 0) {
            why = reason(errno);
            REAL(close)(fd);
            fd = -1;
        }
        if (fd < 0) {
            /* never fatal, never silent: one line, then stderr */
            log_open_failed = 1;
            say_log_failed(p, why ? why : "unknown error");
            log_fd = 2;
            log_is_file = 0;
            log_json = json;
            return log_fd;
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

void ls_hazard_init(void)
{
    /* The first backtrace() loads libgcc_s (malloc): do it now, not in a
     * signal handler later. */
    if (g_ls.cfg.backtrace) {
        void *b[2];
        backtrace(b, 2);
    }
}

/* Once the mode is known (constructor): say which config location was
 * skipped, and open the log, or take over the descriptor a parent passed
 * down.  At start, not at the first record: a program that drops its
 * privileges (a daemon started as root) must keep the log it was given,
 * the first record is made under g_mu (an open there, of a FIFO without a
 * reader or a slow file system, would stall every thread), and a relative
 * path means now what it meant at start. */
void ls_hazard_start(int secure)
{
    if (g_ls.cfg.skipped)
        ls_debug("lockscope: %s", g_ls.cfg.skipped);
    const char *p = g_ls.cfg.log, *v = logfd_var();
    int file = ls_active() && p && strcmp(p, "stderr") != 0;
    if (v) {
        /* in every mode, secure execution included, main does not see it;
         * never read in secure execution */
        if (!secure) {
            int fd = inherited_log(file ? p : NULL, v);
            if (file)
                inherited_fd = fd;
        }
        unsetenv("LOCKSCOPE__LOGFD");
    }
    if (!file)
        return;
    /* No section: the constructor runs before any other thread can call
     * into the shim (and entering would map the pid page now: 3 calls). */
    open_log();
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
    out_record(2, debugbuf, n);
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
        const char *why;
        int fd = open_log_path(g_ls.cfg.log, &why, NULL);
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
    out_record(fd, recbuf, len);
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
    /* nothing held back, no log file to hand over: no section (a process
     * that never met the shim pays no system call at exit) */
    if (__atomic_load_n(&dedup_pid, __ATOMIC_RELAXED) != g_ls.pid)
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
                if (!held) {            /* write it outside g_mu */
                    ls_leave(&g);
                    if (ls_enter(&g) < 0) {
                        errno = saved;
                        return;
                    }
                }
            }
        }
    }
    if (!held) ls_leave(&g);
    errno = saved;
}

/* At exec: the next image inherits the log descriptor at its high number
 * and, under the shim, keeps writing to it even if it cannot open the file
 * itself (LOCKSCOPE__LOGFD, inherited_log).  on 1: inheritable, only inside
 * the exec's gated window (no child is made meanwhile); 0: the exec failed,
 * close-on-exec again; -1: only whether there is a log file to pass down
 * (one that could not be opened is not: records went to stderr). */
int ls_hazard_log_exec(int on)
{
    int fd = log_fd;
    if (fd < 0 || !log_is_file)
        return 0;
    if (on < 0)
        return 1;
    int saved = errno;
    if (on && REAL(fcntl)(fd, F_SETFD, 0) == 0)
        log_inheritable = 1;
    else if (!on && log_inheritable && REAL(fcntl)(fd, F_SETFD, FD_CLOEXEC) == 0)
        log_inheritable = 0;
    errno = saved;
    return 1;
}

/* The environment for an exec that passes the log down (after
 * ls_hazard_log_exec(1)): envp without any LOCKSCOPE__LOGFD, then ours.
 * Static memory (the exec gate makes this window one thread's; a vfork
 * child's exec must not leave an allocation in its parent); envp itself
 * when the log is not passed or the array does not fit. */
#define LOGENV_MAX 1024
static char *logenv[LOGENV_MAX];
static char logvar[LOGFD_VARLEN + 3 * 24];

char **ls_hazard_log_env(char **envp)
{
    if (!log_inheritable || log_fd < 0)
        return envp;
    size_t n = 0, k = 0;
    while (envp && envp[n])
        n++;
    if (n + 2 > LOGENV_MAX)
        return envp;
    size_t l = LOGFD_VARLEN;
    memcpy(logvar, LOGFD_VAR, l);
    l += ls_fmt_u64(logvar + l, (uint64_t)log_fd);
    logvar[l++] = ':';
    l += ls_fmt_u64(logvar + l, (uint64_t)log_dev);
    logvar[l++] = ':';
    l += ls_fmt_u64(logvar + l, (uint64_t)log_ino);
    logvar[l] = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], LOGFD_VAR, LOGFD_VARLEN) != 0)
            logenv[k++] = envp[i];
    logenv[k++] = logvar;
    logenv[k] = NULL;
    return logenv;
}

/* At exit, write what flood control still holds back. */
__attribute__((destructor)) static void ls_hazard_flush(void)
{
    ls_hazard_flush_pending();
}
