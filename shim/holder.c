/*
 * holder.c - who holds a lock, and the cross-process wait-for walk (the
 * registry itself, shared by the user's processes under the shim, is
 * registry.c).  See holder.h for the contract.
 *
 * HOLDERS.  First the registry: processes under the shim publish, per lock
 * owner, the hull of what they hold (exact when it is one range; a hull is
 * confirmed in the one /proc/PID/fdinfo/FD it names).  Only what the
 * registry cannot say - a program's own F_OFD lock, a process whose region
 * overflowed - is looked for the old way, bounded: the kernel prints every
 * lock held through an fd in /proc/PID/fdinfo/FD, one line per lock
 * (fs/locks.c lock_get_status):
 *
 *   lock:\t1: OFDLCK ADVISORY  READ -1 fe:00:10953906 1000 EOF
 *   lock:\t1: POSIX  ADVISORY  WRITE 13322 fe:00:10953906 100 199
 *
 * i.e. id, kind (POSIX/OFDLCK/FLOCK/DELEG/LEASE...), ADVISORY|MANDATORY,
 * READ|WRITE, pid (-1 for OFD), MAJOR:MINOR:INO of the inode's superblock
 * (major and minor in hex, "%02x"; inode in decimal), start and end in
 * decimal (end "EOF" = OFFSET_MAX).  /proc/locks prints the same fields
 * for every lock of the system (plus "N: -> ..." lines for blocked waiters,
 * which are skipped): that last resort first reads it (no conflicting lock
 * there: nobody to look for; a classic POSIX lock names its pid), then the
 * fdinfo files of this process, then of other processes (at most SCAN_CAP
 * of them for F_GETLK, whose answer is kept briefly).  Processes we may not
 * inspect, and processes that vanish during the scan, are skipped.
 *
 * The superblock device can differ from stat's st_dev (btrfs subvolumes,
 * some overlayfs setups): a line whose inode matches but whose device does
 * not is confirmed by stat-ing /proc/PID/fd/FD.
 *
 * WAITERS.  A wait slot in the registry says "thread TID of process PID
 * (start time S) waits for (dev, ino, [start,end], type)".  ls_xwait_begin
 * blocks every signal, takes the registry's walk lock (a robust
 * process-shared mutex: taken over from a dead owner, a live one is waited
 * for at most 1 s, then this wait goes without detection: a stopped walker
 * must not stop every process of the user), drops slots of dead threads
 * and reused pids, walks the wait-for graph through processes that have
 * slots, and either refuses with EDEADLK (publishing nothing) or publishes
 * its slot, then unlocks.  Because check and publish are one critical
 * section, exactly one side of a cycle sees it.  The graph is
 * process-granular, as the kernel's own detection for POSIX locks is:
 * process P waits for process Q when a thread of P has a slot for a range Q
 * holds a conflicting lock on (Q's published records; its fdinfo when it
 * has none).
 *
 * Everything here is async-signal-safe except the walk lock (a pthread
 * mutex, held with every signal blocked, so no handler runs inside; a
 * synchronous fault's re-entry is refused, not deadlocked): no malloc, no
 * stdio; raw syscalls, fixed buffers on the stack, atomics.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "holder.h"
#include "real.h"
#include "registry.h"

/* ------------------------------------------------------------------ */
/* small helpers                                                       */

static pid_t my_tid(void) { return (pid_t)syscall(SYS_gettid); }
static pid_t my_pid(void) { return ls_reg_pid(); }

static size_t fmt_u64(char *buf, uint64_t v)
{
    char tmp[24];
    size_t n = 0, i = 0;
    do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) buf[i++] = tmp[--n];
    buf[i] = 0;
    return i;
}

/* Append the NUL-terminated `s` at `buf + *len` (capacity cap). */
static void cat(char *buf, size_t *len, size_t cap, const char *s)
{
    while (*s && *len + 1 < cap)
        buf[(*len)++] = *s++;
    buf[*len] = 0;
}

static void cat_u64(char *buf, size_t *len, size_t cap, uint64_t v)
{
    char t[24];
    fmt_u64(t, v);
    cat(buf, len, cap, t);
}

/* A directory entry name that is a non-negative decimal number; -1 if not. */
static long name_number(const char *s)
{
    long v = 0;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 100000000L)
            return -1;
        v = v * 10 + (*s - '0');
    }
    return v;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

struct dirent64_raw {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

/* ------------------------------------------------------------------ */
/* lock lines                                                          */

#define K_POSIX 1
#define K_OFD   2

struct lockrec {
    int kind;               /* K_POSIX, K_OFD */
    int write;
    long long pid;
    unsigned long maj, min;
    uint64_t ino;
    int64_t start, end;
};

struct want {
    dev_t dev;
    ino_t ino;
    unsigned long maj, min;
    int64_t start, end;
    int type;               /* 0 read, 1 write */
};

static const char *skip_ws(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

/* The token at p (up to whitespace); *tl gets its length. */
static const char *token(const char *p, const char *e, size_t *tl)
{
    const char *s = skip_ws(p, e), *q = s;
    while (q < e && *q != ' ' && *q != '\t')
        q++;
    *tl = (size_t)(q - s);
    return s;
}

static int tok_is(const char *t, size_t tl, const char *lit)
{
    size_t n = strlen(lit);
    return tl == n && memcmp(t, lit, n) == 0;
}

static int parse_dec(const char *t, size_t tl, long long *out)
{
    int neg = 0;
    unsigned long long v = 0;
    size_t i = 0;
    if (tl && t[0] == '-') { neg = 1; i = 1; }
    if (i == tl)
        return -1;
    for (; i < tl; i++) {
        if (t[i] < '0' || t[i] > '9' || v > (unsigned long long)INT64_MAX / 10)
            return -1;
        v = v * 10 + (unsigned)(t[i] - '0');
    }
    if (v > (unsigned long long)INT64_MAX)
        return -1;
    *out = neg ? -(long long)v : (long long)v;
    return 0;
}

/* Hex digits from *pp up to `stop`; advances past the stop char. */
static int parse_hex_until(const char **pp, const char *e, char stop, unsigned long *out)
{
    const char *p = *pp;
    unsigned long v = 0;
    int n = 0;
    for (; p < e && *p != stop; p++, n++) {
        int d;
        if (*p >= '0' && *p <= '9') d = *p - '0';
        else if (*p >= 'a' && *p <= 'f') d = *p - 'a' + 10;
        else if (*p >= 'A' && *p <= 'F') d = *p - 'A' + 10;
        else return -1;
        if (n >= 8)
            return -1;
        v = v * 16 + (unsigned long)d;
    }
    if (p >= e || n == 0)
        return -1;
    *pp = p + 1;
    *out = v;
    return 0;
}

/* Parse "ID: KIND ADVISORY TYPE PID MAJ:MIN:INO START END" (the part after
 * "lock:" in fdinfo, or a whole /proc/locks line).  Returns 1 for a held
 * POSIX or OFD lock, 0 for anything else (waiters "->", flock, leases,
 * "<none>" inodes, malformed lines). */
static int parse_lock(const char *p, const char *e, struct lockrec *r)
{
    size_t tl;
    const char *t = token(p, e, &tl);           /* "1:" */
    long long v;
    if (tl < 2 || t[tl - 1] != ':')
        return 0;
    t = token(t + tl, e, &tl);                  /* kind, or "->" */
    if (tok_is(t, tl, "POSIX")) r->kind = K_POSIX;
    else if (tok_is(t, tl, "OFDLCK")) r->kind = K_OFD;
    else return 0;
    t = token(t + tl, e, &tl);                  /* ADVISORY / MANDATORY */
    if (!tl)
        return 0;
    t = token(t + tl, e, &tl);                  /* READ / WRITE */
    if (tok_is(t, tl, "WRITE")) r->write = 1;
    else if (tok_is(t, tl, "READ")) r->write = 0;
    else return 0;
    t = token(t + tl, e, &tl);                  /* pid */
    if (parse_dec(t, tl, &r->pid))
        return 0;
    t = token(t + tl, e, &tl);                  /* MAJ:MIN:INO */
    {
        const char *q = t, *qe = t + tl;
        if (parse_hex_until(&q, qe, ':', &r->maj) || parse_hex_until(&q, qe, ':', &r->min))
            return 0;
        if (parse_dec(q, (size_t)(qe - q), &v) || v < 0)
            return 0;
        r->ino = (uint64_t)v;
    }
    t = token(t + tl, e, &tl);                  /* start */
    if (parse_dec(t, tl, &v))
        return 0;
    r->start = v;
    t = token(t + tl, e, &tl);                  /* end */
    if (tok_is(t, tl, "EOF"))
        r->end = INT64_MAX;
    else if (parse_dec(t, tl, &v))
        return 0;
    else
        r->end = v;
    return 1;
}

#define M_NONE  0
#define M_EXACT 1
#define M_INO   2           /* inode matches, device differs: confirm */

static int rec_match(const struct want *w, const struct lockrec *r)
{
    if (r->ino != (uint64_t)w->ino)
        return M_NONE;
    if (r->start > w->end || w->start > r->end)
        return M_NONE;
    if (!w->type && !r->write)
        return M_NONE;
    return (r->maj == w->maj && r->min == w->min) ? M_EXACT : M_INO;
}

static void want_init(struct want *w, dev_t dev, ino_t ino, int64_t start, int64_t end, int type)
{
    w->dev = dev;
    w->ino = ino;
    w->maj = major(dev);
    w->min = minor(dev);
    w->start = start < 0 ? 0 : start;
    w->end = end;
    w->type = type ? 1 : 0;
}

/* ------------------------------------------------------------------ */
/* streaming line reader                                               */

typedef int (*line_fn)(void *ctx, const char *line, size_t len);

/* Calls fn for every line of fd (without '\n'); lines longer than the
 * buffer are dropped.  Returns 1 when fn asked to stop, 0 at EOF, -1.
 * *first (may be NULL) gets what the first read returned. */
static int read_lines(int fd, char *buf, size_t cap, line_fn fn, void *ctx, ssize_t *first)
{
    size_t have = 0;
    int skipping = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, cap - have);
        if (first) {
            *first = n;
            first = NULL;
        }
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (n == 0)
            return (have && !skipping) ? (fn(ctx, buf, have) ? 1 : 0) : 0;
        have += (size_t)n;
        size_t pos = 0;
        for (;;) {
            char *nl = memchr(buf + pos, '\n', have - pos);
            if (!nl)
                break;
            size_t len = (size_t)(nl - (buf + pos));
            if (!skipping && fn(ctx, buf + pos, len))
                return 1;
            skipping = 0;
            pos += len + 1;
        }
        if (pos) {
            memmove(buf, buf + pos, have - pos);
            have -= pos;
        } else if (have == cap) {
            skipping = 1;
            have = 0;
        }
    }
}

/* ------------------------------------------------------------------ */
/* /proc/locks: the system-wide prefilter                              */

#define DIRECT_MAX 16

struct pre {
    const struct want *w;
    pid_t self;
    int ofd;                /* conflicting OFD locks (exact or by inode) */
    int posix_self;         /* conflicting POSIX locks of this process */
    int posix_other_ino;    /* POSIX of others, device to be confirmed */
    int ndirect;            /* POSIX of others, exact: their pids */
    int direct_overflow;
    pid_t direct[DIRECT_MAX];
    pid_t confirm[DIRECT_MAX];
    int nconfirm;
};

static int pre_line(void *ctx, const char *line, size_t len)
{
    struct pre *p = ctx;
    struct lockrec r;
    if (!parse_lock(line, line + len, &r))
        return 0;
    int m = rec_match(p->w, &r);
    if (m == M_NONE)
        return 0;
    if (r.kind == K_OFD || r.pid <= 0) {
        /* pid <= 0 for POSIX: remote (NFS) or invisible holder: no
         * process to name, and scanning could not find one either. */
        if (r.kind == K_OFD)
            p->ofd++;
        return 0;
    }
    if (r.pid == p->self) {
        p->posix_self++;
        return 0;
    }
    pid_t *arr = m == M_EXACT ? p->direct : p->confirm;
    int *n = m == M_EXACT ? &p->ndirect : &p->nconfirm;
    for (int i = 0; i < *n; i++)
        if (arr[i] == (pid_t)r.pid)
            return 0;
    if (*n < DIRECT_MAX)
        arr[(*n)++] = (pid_t)r.pid;
    else
        p->direct_overflow = 1;
    return 0;
}

/* /proc/locks is a seq_file: one read() is one walk of the kernel's lock
 * list under its locks, but that walk stops when the kernel's page-sized
 * buffer is full, and the next read() walks the list again from the
 * position reached.  When locks before that position went away meanwhile,
 * locks that stayed held are skipped.  So what /proc/locks says is always
 * true of the locks it lists (positives), but its silence (a negative)
 * only counts when the first read() returned the whole list: less than
 * its count (4096; no more than a page) minus the longest line.  Otherwise
 * the callers scan fdinfo.
 *
 * Returns PRE_COMPLETE, PRE_PARTIAL (only positives count) or -1 when
 * /proc/locks could not be read. */
#define PRE_COMPLETE 0
#define PRE_PARTIAL  1
#define PRE_ONE_WALK (4096 - 256)

static int prefilter(const struct want *w, pid_t self, struct pre *p)
{
    char buf[4096];
    ssize_t first = -1;
    memset(p, 0, sizeof *p);
    p->w = w;
    p->self = self;
    int fd = REAL(open)("/proc/locks", O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -1;
    int r = read_lines(fd, buf, sizeof buf, pre_line, p, &first);
    REAL(close)(fd);
    if (r < 0)
        return -1;
    if (p->direct_overflow)
        p->ofd++;           /* too many to list: let the scan find them */
    return first >= 0 && first < PRE_ONE_WALK ? PRE_COMPLETE : PRE_PARTIAL;
}

static int pre_any(const struct pre *p)
{
    return p->ofd || p->posix_self || p->ndirect || p->nconfirm;
}

/* ------------------------------------------------------------------ */
/* fdinfo scanning                                                     */

struct fdscan {
    const struct want *w;
    int ofd_only;           /* count OFD lines only (the skip fd) */
    int exact;              /* matching lines, exact device */
    int ino_only;           /* matching lines, inode only */
    int ofd_exact;          /* of which OFD, exact device */
};

static int fdinfo_line(void *ctx, const char *line, size_t len)
{
    struct fdscan *s = ctx;
    struct lockrec r;
    if (len < 5 || memcmp(line, "lock:", 5) != 0)
        return 0;
    if (!parse_lock(line + 5, line + len, &r))
        return 0;
    int m = rec_match(s->w, &r);
    if (m == M_EXACT) {
        s->exact++;
        if (r.kind == K_OFD)
            s->ofd_exact++;
    } else if (m == M_INO) {
        s->ino_only++;
    }
    return 0;
}

/* stat /proc/PID/fd/FD (PID 0: self) and compare with the wanted inode. */
static int confirm_fd(pid_t pid, long fd, const struct want *w)
{
    char path[64];
    size_t len = 0;
    struct stat st;
    cat(path, &len, sizeof path, "/proc/");
    if (pid) cat_u64(path, &len, sizeof path, (uint64_t)pid);
    else cat(path, &len, sizeof path, "self");
    cat(path, &len, sizeof path, "/fd/");
    cat_u64(path, &len, sizeof path, (uint64_t)fd);
    if (fstatat(AT_FDCWD, path, &st, 0) != 0)
        return 0;
    return st.st_dev == w->dev && st.st_ino == w->ino;
}

/* Read one fdinfo file (relative to dirfd).  Returns 1 if a conflicting
 * lock is held through it, 0 if not, -errno if it could not be opened.
 * *ofd_lines (may be NULL) gets the number of conflicting OFD lines. */
static int scan_fdinfo(int dirfd, const char *name, pid_t pid, long fdnum,
                       const struct want *w, int *ofd_lines)
{
    char buf[1024];
    struct fdscan s;
    memset(&s, 0, sizeof s);
    s.w = w;
    int fd = REAL(openat)(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return -errno;
    read_lines(fd, buf, sizeof buf, fdinfo_line, &s, NULL);
    REAL(close)(fd);
    if (ofd_lines)
        *ofd_lines = s.ofd_exact;
    if (s.exact)
        return 1;
    if (s.ino_only && confirm_fd(pid, fdnum, w)) {
        if (ofd_lines)
            *ofd_lines = s.ino_only;
        return 1;
    }
    return 0;
}

/* Does process `pid` (0: this process, through /proc/self) hold a
 * conflicting lock through any fd other than skip_fd?  1 yes, 0 no
 * (also: vanished, not ours to inspect). */
static int scan_pid(int procfd, pid_t pid, const struct want *w, int skip_fd)
{
    char dents[2048] __attribute__((aligned(8)));
    char name[40];
    size_t len = 0;
    if (pid) cat_u64(name, &len, sizeof name, (uint64_t)pid);
    else cat(name, &len, sizeof name, "self");
    cat(name, &len, sizeof name, "/fdinfo");
    int dfd = REAL(openat)(procfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return 0;
    int found = 0;
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, dents, sizeof dents);
        if (n <= 0)
            break;
        for (long off = 0; off < n && !found;) {
            struct dirent64_raw *d = (struct dirent64_raw *)(void *)(dents + off);
            off += d->d_reclen;
            long fdnum = name_number(d->d_name);
            if (fdnum < 0 || (pid == 0 && fdnum == skip_fd) || (pid == 0 && fdnum == dfd))
                continue;
            int r = scan_fdinfo(dfd, d->d_name, pid, fdnum, w, NULL);
            if (r == 1)
                found = 1;
            else if (r == -EACCES || r == -EPERM || r == -ESRCH)
                goto out;   /* not ours to read, or gone: skip the process */
        }
        if (found)
            break;
    }
out:
    REAL(close)(dfd);
    return found;
}

/* Conflicting OFD lines on this process's fd `fd` (-1: none). */
static int scan_own_fd(const struct want *w, int fd)
{
    char path[48];
    size_t len = 0;
    int lines = 0;
    if (fd < 0)
        return 0;
    cat(path, &len, sizeof path, "/proc/self/fdinfo/");
    cat_u64(path, &len, sizeof path, (uint64_t)fd);
    if (scan_fdinfo(AT_FDCWD, path, 0, fd, w, &lines) < 0)
        return 0;
    return lines;
}

static int add_pid(pid_t *pids, int n, int max, pid_t p)
{
    for (int i = 0; i < n; i++)
        if (pids[i] == p)
            return n;
    if (n < max)
        pids[n++] = p;
    return n;
}

static int open_proc(void)
{
    return REAL(open)("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* ------------------------------------------------------------------ */
/* holders: the registry first                                         */

struct regq {
    const struct want *w;
    pid_t *pids;
    int n, max;
    pid_t same;             /* a holder of exactly [start,end]: named first */
    pid_t unknown[8];       /* processes whose records are incomplete */
    int nunknown;
};

static int add_unknown(struct regq *q, pid_t p)
{
    for (int i = 0; i < q->nunknown; i++)
        if (q->unknown[i] == p)
            return 0;
    if (q->nunknown < 8)
        q->unknown[q->nunknown++] = p;
    return 0;
}

/* One record's fdinfo (the description it names) says it holds w. */
static int confirm_record(const struct ls_pub *e, const struct want *w)
{
    char path[64];
    size_t len = 0;
    if (e->fd < 0)
        return -1;
    cat(path, &len, sizeof path, "/proc/");
    cat_u64(path, &len, sizeof path, (uint64_t)e->pid);
    cat(path, &len, sizeof path, "/fdinfo/");
    cat_u64(path, &len, sizeof path, (uint64_t)e->fd);
    int r = scan_fdinfo(AT_FDCWD, path, e->pid, e->fd, w, NULL);
    return r < 0 ? -1 : r;
}

static int regq_fn(void *ctx, const struct ls_pub *e)
{
    struct regq *q = ctx;
    const struct want *w = q->w;
    if (e->kind != LS_PUB_HELD || e->family == LS_FAM_FLOCK)
        return 0;
    if (e->start > w->end || w->start > e->end || (!w->type && !e->type))
        return 0;
    if (!e->exact) {
        /* a hull of several ranges: its description's fdinfo decides */
        int c = confirm_record(e, w);
        if (c < 0)
            add_unknown(q, e->pid);
        if (c <= 0)
            return 0;
    }
    if (e->exact && e->start == w->start && e->end == w->end) {
        /* the very lock the kernel reported (F_GETLK asks with its range) */
        q->same = e->pid;
        return 1;
    }
    q->n = add_pid(q->pids, q->n, q->max, e->pid);
    return 0;
}

static void regq_unknown(void *ctx, pid_t pid)
{
    add_unknown(ctx, pid);
}

/* Holders named by the registry (other processes under the shim).  -1: no
 * registry. */
static int registry_holders(const struct want *w, struct regq *q, pid_t *pids, int max)
{
    memset(q, 0, sizeof *q);
    q->w = w;
    q->pids = pids;
    q->max = max;
    if (ls_reg_lookup((uint64_t)w->dev, (uint64_t)w->ino, regq_fn, q, regq_unknown) < 0)
        return -1;
    if (q->same) {
        /* the exact holder first, then the others that fit */
        int k = 0;
        for (int i = 0; i < q->n; i++)
            if (q->pids[i] != q->same)
                q->pids[k++] = q->pids[i];
        if (k >= max)
            k = max - 1;
        memmove(q->pids + 1, q->pids, (size_t)k * sizeof *q->pids);
        q->pids[0] = q->same;
        q->n = k + 1;
    }
    return q->n;
}

/* The /proc way (last resort): /proc/locks, this process's fdinfo, then up
 * to `cap` other processes' (0: all). */
static int proc_holders(const struct want *w, int self_skip_fd, pid_t *pids, int n, int max, int cap)
{
    struct pre pre;
    int full, own;
    pid_t self = my_pid();
    if (prefilter(w, self, &pre) == PRE_COMPLETE) {
        if (!pre_any(&pre))
            return n;
        /* The full scan is needed for OFD locks other than those held
         * through the requester's own description. */
        full = pre.ofd && pre.ofd > scan_own_fd(w, self_skip_fd);
        own = pre.ofd || pre.posix_self;
    } else {
        /* partial: its positives (pre.direct, pre.confirm) stand, its
         * silence does not; unreadable: pre is all zero */
        full = own = 1;
    }

    int procfd = open_proc();
    if (procfd < 0)
        return n;
    /* This process first. */
    if (own && scan_pid(procfd, 0, w, self_skip_fd))
        n = add_pid(pids, n, max, self);
    for (int i = 0; i < pre.ndirect && n < max; i++)
        n = add_pid(pids, n, max, pre.direct[i]);
    for (int i = 0; i < pre.nconfirm && n < max; i++)
        if (scan_pid(procfd, pre.confirm[i], w, -1))
            n = add_pid(pids, n, max, pre.confirm[i]);
    int visited = 0;
    if (full && n < max) {
        char dents[2048] __attribute__((aligned(8)));
        for (;;) {
            long r = syscall(SYS_getdents64, procfd, dents, sizeof dents);
            if (r <= 0)
                break;
            for (long off = 0; off < r && n < max;) {
                struct dirent64_raw *d = (struct dirent64_raw *)(void *)(dents + off);
                off += d->d_reclen;
                long p = name_number(d->d_name);
                if (p <= 0 || p == self)
                    continue;
                int known = 0;
                for (int i = 0; i < n; i++)
                    if (pids[i] == (pid_t)p)
                        known = 1;
                if (known)
                    continue;
                if (cap && ++visited > cap)
                    goto out;
                if (scan_pid(procfd, (pid_t)p, w, -1))
                    n = add_pid(pids, n, max, (pid_t)p);
            }
            if (n >= max)
                break;
        }
    }
out:
    REAL(close)(procfd);
    return n;
}

int ls_find_holders(dev_t dev, ino_t ino, int64_t start, int64_t end, int type,
                    int self_skip_fd, pid_t *pids, int max)
{
    struct want w;
    struct regq q;
    int saved = errno, n;
    if (max <= 0 || !pids)
        return 0;
    want_init(&w, dev, ino, start, end, type);
    n = registry_holders(&w, &q, pids, max);
    if (n < 0)
        n = 0;
    if (n < max)
        n = proc_holders(&w, self_skip_fd, pids, n, max, 0);
    errno = saved;
    return n;
}

/* The answers of the bounded /proc scan, kept briefly per lock. */
#define HCACHE      8
#define HCACHE_NS   200000000LL    /* 0.2 s */
#define SCAN_CAP    1024           /* processes visited by one scan */

struct hcache {
    uint32_t busy;
    uint64_t dev, ino;
    int64_t start, end;
    int type;
    pid_t pid;              /* 0: nobody could be named */
    int64_t at;
};
static struct hcache hcache[HCACHE];
static uint32_t hcache_next;

static int hcache_get(const struct want *w, pid_t *out)
{
    int64_t now = now_ns();
    for (int i = 0; i < HCACHE; i++) {
        struct hcache *c = &hcache[i];
        uint32_t z = 0;
        if (!__atomic_compare_exchange_n(&c->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            continue;
        int hit = c->at && now - c->at < HCACHE_NS && c->dev == (uint64_t)w->dev &&
                  c->ino == (uint64_t)w->ino && c->start == w->start && c->end == w->end &&
                  c->type == w->type;
        pid_t p = c->pid;
        __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
        if (hit && (p == 0 || !(syscall(SYS_kill, p, 0) != 0 && errno == ESRCH))) {
            *out = p;
            return 1;
        }
    }
    return 0;
}

static void hcache_put(const struct want *w, pid_t p)
{
    struct hcache *c = &hcache[__atomic_fetch_add(&hcache_next, 1, __ATOMIC_RELAXED) % HCACHE];
    uint32_t z = 0;
    if (!__atomic_compare_exchange_n(&c->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
        return;
    c->dev = (uint64_t)w->dev;
    c->ino = (uint64_t)w->ino;
    c->start = w->start;
    c->end = w->end;
    c->type = w->type;
    c->pid = p;
    c->at = now_ns();
    __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
}

pid_t ls_find_holder(dev_t dev, ino_t ino, int64_t start, int64_t end, int type, int self_skip_fd)
{
    struct want w;
    struct regq q;
    pid_t p[1], self = my_pid();
    int saved = errno;
    want_init(&w, dev, ino, start, end, type);
    if (registry_holders(&w, &q, p, 1) > 0) {
        errno = saved;
        return p[0];
    }
    pid_t got = 0;
    if (!hcache_get(&w, &got)) {
        pid_t ps[4];
        int n = proc_holders(&w, self_skip_fd, ps, 0, 4, SCAN_CAP);
        for (int i = 0; i < n && !got; i++)
            if (ps[i] != self)
                got = ps[i];
        hcache_put(&w, got);
    }
    errno = saved;
    return got;
}

/* ------------------------------------------------------------------ */
/* the registry of waiters                                             */

#define WALK_DEPTH   16
#define WALK_PIDS    64                /* distinct waiting processes considered */
#define WALK_QUERIES 64                /* resources examined per walk */
#define SEQ_MASK     0x3ffffu          /* slot handle = idx + LS_REG_WAITS * seq */

static struct ls_reg_wait *waits_of(struct ls_reg_hdr *h)
{
    return (struct ls_reg_wait *)(void *)((char *)h + h->wait_off);
}

void ls_xwait_fork_child(void)
{
    /* Slots carry the parent's pid and tid: ls_xwait_end checks both, so
     * the child can never clear (nor own) one of them. */
    ls_reg_fork_child();
}

/* A thread is gone (or a zombie that holds nothing). */
static int tid_dead(pid_t pid, pid_t tid)
{
    long r = syscall(SYS_tgkill, pid, tid, 0);
    return r != 0 && errno == ESRCH;
}

/* 0: locked; -1: this thread already holds it (re-entered from a signal
 * handler) or it cannot be had - go without detection.  The lock is a
 * robust mutex: when its owner dies the next taker gets it (EOWNERDEAD).  A
 * live owner is waited for up to REG_LOCK_WAIT_S: one that is stopped
 * (SIGSTOP, a debugger) or wedged must not stop every other process of the
 * user; past the bound this wait goes without cross-process detection.
 * The caller blocks all signals first (ls_xwait_begin): no handler can
 * longjmp out of the critical section and leave the lock held by a live
 * thread. */
#define REG_LOCK_WAIT_S 1
static int reg_lock(struct ls_reg_hdr *h)
{
    struct timespec dl;
#if defined(__SANITIZE_THREAD__)
    /* TSan (gcc 12) does not intercept pthread_mutex_clocklock and then
     * calls our unlock "of an unlocked mutex": the realtime twin it knows */
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += REG_LOCK_WAIT_S;
    int r = pthread_mutex_timedlock(&h->walk_mu, &dl);
#else
    clock_gettime(CLOCK_MONOTONIC, &dl);
    dl.tv_sec += REG_LOCK_WAIT_S;
    int r = pthread_mutex_clocklock(&h->walk_mu, CLOCK_MONOTONIC, &dl);
#endif
    if (r == EOWNERDEAD) {
        pthread_mutex_consistent(&h->walk_mu);
        return 0;
    }
    if (r == ETIMEDOUT && ls_registry_debug)
        ls_registry_debug("lockscope: registry walk lock held by a live process for over 1 s "
                          "(stopped?): this wait goes without cross-process deadlock detection", "");
    return r == 0 ? 0 : -1;
}

static void reg_unlock(struct ls_reg_hdr *h)
{
    pthread_mutex_unlock(&h->walk_mu);
}

static void slot_clear(struct ls_reg_wait *s)
{
    __atomic_store_n(&s->pid, 0, __ATOMIC_RELEASE);
}

/* Drop slots of dead threads and of reused pids (start time differs),
 * shrink hiwater, list the other processes that wait.  Under the lock. */
static int reg_sweep(struct ls_reg_hdr *h, pid_t self, pid_t *wp, int wmax)
{
    struct ls_reg_wait *ws = waits_of(h);
    uint32_t hi = __atomic_load_n(&h->wait_hiwater, __ATOMIC_RELAXED), last = 0;
    pid_t lp = 0, lt = 0;       /* last thread found alive */
    uint64_t ls = 0;
    int n = 0;
    if (hi > LS_REG_WAITS)
        hi = LS_REG_WAITS;
    for (uint32_t i = 0; i < hi; i++) {
        struct ls_reg_wait *s = &ws[i];
        pid_t p = __atomic_load_n(&s->pid, __ATOMIC_ACQUIRE);
        if (!p)
            continue;
        if (!(p == lp && s->tid == lt && s->starttime == ls)) {
            if (tid_dead(p, s->tid) || ls_reg_starttime(p) != s->starttime) {
                slot_clear(s);
                continue;
            }
            lp = p;
            lt = s->tid;
            ls = s->starttime;
        }
        last = i + 1;
        if (p != self)
            n = add_pid(wp, n, wmax, p);
    }
    __atomic_store_n(&h->wait_hiwater, last, __ATOMIC_RELAXED);
    return n;
}

/* Does `pid` (a waiting process; self: this one) hold a lock conflicting
 * with w?  Another process: its published records when it has a region
 * (exact ones count as they are, hulls are confirmed in the one fdinfo
 * they name), else its own fdinfo files.  This process: its fdinfo. */
struct holdq {
    const struct want *w;
    pid_t pid;
    int yes, unsure;
};

static int holdq_fn(void *ctx, const struct ls_pub *e)
{
    struct holdq *q = ctx;
    const struct want *w = q->w;
    if (e->pid != q->pid || e->kind != LS_PUB_HELD || e->family == LS_FAM_FLOCK)
        return 0;
    if (e->start > w->end || w->start > e->end || (!w->type && !e->type))
        return 0;
    int c = e->exact ? 1 : confirm_record(e, w);
    if (c > 0)
        q->yes = 1;
    else if (c < 0)
        q->unsure = 1;
    return q->yes;
}

static void holdq_unknown(void *ctx, pid_t pid)
{
    struct holdq *q = ctx;
    if (pid == q->pid)
        q->unsure = 1;
}

static int holds(int procfd, pid_t pid, pid_t self, const struct want *w, int skip_fd)
{
    if (pid == self)
        return scan_pid(procfd, 0, w, skip_fd);
    if (ls_reg_pid_state(pid) == 1) {
        struct holdq q = { w, pid, 0, 0 };
        ls_reg_lookup((uint64_t)w->dev, (uint64_t)w->ino, holdq_fn, &q, holdq_unknown);
        if (q.yes)
            return 1;
        if (!q.unsure)
            return 0;
    }
    return scan_pid(procfd, pid, w, -1);
}

/* The wait-for walk.  Returns -EDEADLK when some process we wait for
 * (transitively) waits for something this process holds. */
static int walk(struct ls_reg_hdr *h, pid_t self, const struct want *w0, const pid_t *wp, int nw)
{
    struct ls_reg_wait *ws = waits_of(h);
    int depth[WALK_PIDS];
    int queue[WALK_PIDS], qh = 0, qn = 0, queries = 0;
    unsigned char seen[WALK_PIDS];
    int rc = 0;
    int procfd = open_proc();
    if (procfd < 0)
        return 0;
    memset(seen, 0, sizeof seen);

    /* depth 0: which waiting processes hold what we want (another
     * description of this process is the engine's business) */
    for (int i = 0; i < nw; i++)
        if (holds(procfd, wp[i], self, w0, -1)) {
            seen[i] = 1;
            depth[qn] = 1;
            queue[qn++] = i;
        }
    while (qh < qn && !rc) {
        int wi = queue[qh], d = depth[qh];
        qh++;
        pid_t hp = wp[wi];
        uint32_t hi = __atomic_load_n(&h->wait_hiwater, __ATOMIC_RELAXED);
        if (hi > LS_REG_WAITS)
            hi = LS_REG_WAITS;
        for (uint32_t i = 0; i < hi && !rc; i++) {
            struct ls_reg_wait *s = &ws[i];
            if (__atomic_load_n(&s->pid, __ATOMIC_ACQUIRE) != hp)
                continue;
            if (++queries > WALK_QUERIES)
                goto out;
            struct want w;
            want_init(&w, (dev_t)s->dev, (ino_t)s->ino, s->start, s->end, s->type);
            /* hp waits for something this process holds: a cycle */
            if (holds(procfd, self, self, &w, -1)) {
                rc = -EDEADLK;
                break;
            }
            if (d >= WALK_DEPTH)
                continue;
            for (int j = 0; j < nw; j++) {
                if (seen[j] || wp[j] == hp)
                    continue;
                if (holds(procfd, wp[j], self, &w, -1)) {
                    seen[j] = 1;
                    depth[qn] = d + 1;
                    queue[qn++] = j;
                }
            }
        }
    }
out:
    REAL(close)(procfd);
    return rc;
}

int ls_xwait_begin(dev_t dev, ino_t ino, int64_t start, int64_t end, int type,
                   int self_skip_fd, int *slot)
{
    int saved = errno, rc = 0;
    pid_t wp[WALK_PIDS];
    if (slot)
        *slot = -1;
    struct ls_reg_hdr *h = ls_reg_map();
    if (!h)
        goto done;
    pid_t self = my_pid(), tid = my_tid();
    uint64_t st = ls_reg_self_start();
    /* No signal from here to reg_unlock: a handler that longjmps (the
     * classic alarm() lock timeout) would leave the walk lock held by a
     * live thread, and every process of the user waiting on it. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    if (reg_lock(h) < 0) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        goto done;
    }
    int nw = reg_sweep(h, self, wp, WALK_PIDS);
    if (nw > 0) {
        struct want w;
        want_init(&w, dev, ino, start, end, type);
        rc = walk(h, self, &w, wp, nw);
    }
    if (rc == 0 && slot) {
        struct ls_reg_wait *ws = waits_of(h);
        for (uint32_t i = 0; i < LS_REG_WAITS; i++) {
            struct ls_reg_wait *s = &ws[i];
            if (__atomic_load_n(&s->pid, __ATOMIC_ACQUIRE))
                continue;
            uint32_t seq = (__atomic_add_fetch(&h->wait_seq, 1, __ATOMIC_RELAXED) & SEQ_MASK);
            s->tid = tid;
            s->seq = seq;
            s->type = type ? 1 : 0;
            s->starttime = st;
            s->dev = (uint64_t)dev;
            s->ino = (uint64_t)ino;
            s->start = start < 0 ? 0 : start;
            s->end = end;
            __atomic_store_n(&s->pid, self, __ATOMIC_RELEASE);
            if (i >= __atomic_load_n(&h->wait_hiwater, __ATOMIC_RELAXED))
                __atomic_store_n(&h->wait_hiwater, i + 1, __ATOMIC_RELAXED);
            *slot = (int)(i + LS_REG_WAITS * seq);
            break;
        }
    }
    reg_unlock(h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
done:
    errno = saved;
    return rc;
}

void ls_xwait_end(int slot)
{
    struct ls_reg_hdr *h = slot >= 0 ? ls_reg_map() : NULL;
    if (!h)
        return;
    int saved = errno;
    struct ls_reg_wait *s = &waits_of(h)[(unsigned)slot % LS_REG_WAITS];
    uint32_t seq = (unsigned)slot / LS_REG_WAITS;
    if (__atomic_load_n(&s->pid, __ATOMIC_ACQUIRE) == my_pid() && s->tid == my_tid() && s->seq == seq)
        slot_clear(s);
    errno = saved;
}

#ifdef LS_UNIT_TEST
/* Tests: take / drop the registry's lock as a walker would. */
int ls_xwait_test_lock(int take)
{
    struct ls_reg_hdr *h = ls_reg_map();
    if (!h)
        return -1;
    if (take)
        return reg_lock(h);
    reg_unlock(h);
    return 0;
}
#endif
