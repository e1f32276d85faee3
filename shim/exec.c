/*
 * exec.c - locks survive exec, and the next image's shim knows them (rule 7).
 *
 * Before exec, every owner that holds locks and whose description survives
 * the exec (one of its program fds lacks FD_CLOEXEC) gets its private fd
 * made inheritable, and the table is written into a sealed memfd, also
 * made inheritable for the exec and parked high.  The new image learns of
 * it from one short environment variable, LOCKSCOPE__HANDOVER=<fd>:<nonce>
 * (32 hex digits of a random nonce).  The caller holds the spawn gate, so
 * no other thread makes a child while those fds are inheritable.  If exec
 * fails, everything is put back.
 *
 * The new image's constructor trusts nothing it is given (the variable and
 * the fds come from whoever ran it):
 *   - in secure execution (AT_SECURE: set-user-ID and the like) and in
 *     mode off the variable is ignored entirely;
 *   - the named fd must be a sealed memfd (F_GET_SEALS) whose header names
 *     this process's pid and the variable's nonce; otherwise nothing is
 *     touched, not even that fd;
 *   - a private fd it lists is adopted (made close-on-exec again, and
 *     closed by the shim when released) only if it is inheritable, of the
 *     inode the table names, carries OFD locks (/proc/self/fdinfo), and is
 *     a different description from every other open fd of the process;
 *   - a program fd is linked to an owner only if it is of the same inode.
 * Garbage is ignored (a debug line says why); the variable is removed
 * before main either way.
 *
 * Body format (text): for each owner,
 *   "|O<priv>:<acc>:<flags>:<dev>:<ino>:<s>/<e>/<t>,..."
 * followed by its descriptions "|D<acc>:<maybe_aliases>:<fd>,<fd>,...".
 * Memory comes from the shim's allocator (exec may follow fork in a child
 * or run in a signal handler: no malloc).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "real.h"
#include "shim.h"

#define VARNAME "LOCKSCOPE__HANDOVER"
#define VAR VARNAME "="
#define VARLEN (sizeof VAR - 1)
#define NONCE 16
#define MAGIC "LSHAND\0\2"
#define BODY_MAX (1u << 30)

#ifndef MFD_CLOEXEC
#define MFD_CLOEXEC 1u
#define MFD_ALLOW_SEALING 2u
#endif
#ifndef F_ADD_SEALS
#define F_ADD_SEALS 1033
#define F_GET_SEALS 1034
#define F_SEAL_SEAL 1
#define F_SEAL_SHRINK 2
#define F_SEAL_GROW 4
#define F_SEAL_WRITE 8
#endif
#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

struct header {
    char magic[8];
    int32_t pid;                /* the process that execs (and is exec'ed) */
    uint32_t reserved;
    uint8_t nonce[NONCE];
    uint64_t size;              /* bytes of body after the header */
};

struct cookie {
    int n, memfd;
    int *privs; size_t privsize;
    char **env; size_t envsize;
    char var[VARLEN + 16 + 2 * NONCE + 4];
};

struct out { char *p; size_t n, cap; };

static void put(struct out *o, const char *s, size_t l)
{
    if (o->n + l + 1 > o->cap) { o->n = o->cap; return; }   /* overflow: mark full */
    memcpy(o->p + o->n, s, l);
    o->n += l;
    o->p[o->n] = 0;
}
static void puts_(struct out *o, const char *s) { put(o, s, strlen(s)); }
static void puti(struct out *o, int64_t v) { char b[24]; put(o, b, ls_fmt_i64(b, v)); }
static void putu(struct out *o, uint64_t v)
{
    char b[24];
    size_t n = 0;
    do { b[sizeof b - 1 - n++] = (char)('0' + v % 10); v /= 10; } while (v);
    put(o, b + sizeof b - n, n);
}

static int survives(int fd)
{
    int fl = REAL(fcntl)(fd, F_GETFD);
    return fl >= 0 && !(fl & FD_CLOEXEC);
}

static void make_nonce(uint8_t *n)
{
    long r = syscall(SYS_getrandom, n, NONCE, 1 /* GRND_NONBLOCK */);
    if (r == NONCE)
        return;
    /* no entropy yet: the nonce binds to this exec, secrecy is not needed */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t a = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec;
    uint64_t b = (uint64_t)(uintptr_t)&ts ^ ((uint64_t)g_ls.pid << 32) ^ a * 0xff51afd7ed558ccdull;
    memcpy(n, &a, 8);
    memcpy(n + 8, &b, 8);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        c += k; n -= (size_t)k;
    }
    return 0;
}

static void undo(struct cookie *ck)
{
    for (int i = 0; i < ck->n; i++)
        REAL(fcntl)(ck->privs[i], F_SETFD, FD_CLOEXEC);
    if (ck->memfd >= 0) {
        ls_fd_mark_private(ck->memfd, 0);
        REAL(close)(ck->memfd);
        ck->memfd = -1;
    }
}

static void free_cookie(struct cookie *ck)
{
    ls_free(ck->privs, ck->privsize);
    ls_free(ck->env, ck->envsize);
    ls_free(ck, sizeof *ck);
}

/* Under the spawn gate.  0 with *cookiep set: the hand-over is ready. */
int ls_exec_prepare(char *const envp[], char ***new_envp, void **cookiep)
{
    struct ls_guard g;
    if (ls_enter(&g) < 0)
        return -EBUSY;          /* exec from a handler inside the shim: no hand-over */
    size_t nlocks = 0, nfds = 0, nowners = 0;
    for (struct ls_owner *o = g_all_owners; o; o = o->next_all) {
        nlocks += ls_range_count(o->ranges) + 1;
        nowners++;
    }
    for (struct ls_desc *d = g_all_descs; d; d = d->next_all)
        nfds += (size_t)d->refs + 1;
    size_t cap = 16 + nowners * 120 + nlocks * 72 + nfds * 24;
    struct cookie *ck = ls_alloc(sizeof *ck);
    char *buf = ls_alloc(sizeof(struct header) + cap);
    int *privs = ls_alloc((nowners + 1) * sizeof(int));
    if (!ck || !buf || !privs) {
        ls_free(ck, sizeof *ck);
        ls_free(buf, sizeof(struct header) + cap);
        ls_free(privs, (nowners + 1) * sizeof(int));
        ls_leave(&g);
        return -ENOMEM;
    }
    ck->privs = privs;
    ck->privsize = (nowners + 1) * sizeof(int);
    ck->memfd = -1;
    struct out o = { buf + sizeof(struct header), 0, cap };
    /* the program fds that survive the exec, of descriptions whose owner
     * holds locks: one pass over the table (then each owner looks only
     * at these) */
    int top = ls_fd_max();
    size_t survsize = ((size_t)top + 1) * sizeof(int);
    int *surv = ls_alloc(survsize);
    size_t nsurv = 0;
    if (!surv) {
        ls_free(buf, sizeof(struct header) + cap);
        free_cookie(ck);
        ls_leave(&g);
        return -ENOMEM;
    }
    for (int fd = 0; fd < top; fd++) {
        struct ls_desc *d = ls_fd_get(fd);
        if (d && d->owner && d->owner->ranges && survives(fd))
            surv[nsurv++] = fd;
    }
    for (struct ls_owner *ow = g_all_owners; ow; ow = ow->next_all) {
        if (ow->priv < 0 || !ow->ranges || !ow->inode)
            continue;
        /* which of its descriptions survive, through which fds */
        int any = 0;
        for (size_t i = 0; i < nsurv && !any; i++)
            any = ls_fd_get(surv[i])->owner == ow;
        if (!any)
            continue;
        if (REAL(fcntl)(ow->priv, F_SETFD, 0) < 0)
            continue;
        ck->privs[ck->n++] = ow->priv;
        puts_(&o, "|O"); puti(&o, ow->priv);
        puts_(&o, ":"); puti(&o, ow->acc);
        puts_(&o, ":"); puti(&o, ow->inode->flags);
        puts_(&o, ":"); putu(&o, (uint64_t)ow->inode->dev);
        puts_(&o, ":"); putu(&o, (uint64_t)ow->inode->ino);
        puts_(&o, ":");
        for (struct ls_range *r = ow->ranges; r; r = r->next) {
            puti(&o, r->start); puts_(&o, "/"); puti(&o, r->end); puts_(&o, "/"); puti(&o, r->type);
            if (r->next) puts_(&o, ",");
        }
        for (struct ls_desc *d = g_all_descs; d; d = d->next_all) {
            if (d->owner != ow)
                continue;
            int first = 1;
            for (size_t i = 0; i < nsurv; i++) {
                int fd = surv[i];
                if (ls_fd_get(fd) != d)
                    continue;
                if (first) {
                    puts_(&o, "|D"); puti(&o, d->acc);
                    puts_(&o, ":"); puti(&o, d->maybe_aliases);
                    puts_(&o, ":");
                    first = 0;
                } else {
                    puts_(&o, ",");
                }
                puti(&o, fd);
            }
        }
    }
    ls_free(surv, survsize);
    int err = 0;
    if (o.n >= cap || ck->n == 0) {
        /* nothing to hand over (or, impossibly, no room): the locks die with their fds */
        goto out_undo;
    }
    struct header *h = (struct header *)buf;
    memcpy(h->magic, MAGIC, sizeof h->magic);
    h->pid = (int32_t)g_ls.pid;
    h->reserved = 0;
    make_nonce(h->nonce);
    h->size = o.n;
    int mfd = (int)syscall(SYS_memfd_create, "lockscope-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (mfd < 0) { err = -errno; goto out_undo; }
    ck->memfd = mfd = ls_move_high(mfd);
    ls_fd_mark_private(mfd, 1);
    if (write_all(mfd, buf, sizeof *h + o.n) < 0 ||
        REAL(fcntl)(mfd, F_ADD_SEALS, SEALS) < 0 ||
        REAL(fcntl)(mfd, F_SETFD, 0) < 0) {
        err = -EIO;
        goto out_undo;
    }
    size_t n = 0;
    while (envp && envp[n]) n++;
    ck->envsize = (n + 2) * sizeof(char *);
    ck->env = ls_alloc(ck->envsize);
    if (!ck->env) { err = -ENOMEM; goto out_undo; }
    {
        struct out v = { ck->var, 0, sizeof ck->var };
        puts_(&v, VAR); puti(&v, mfd); puts_(&v, ":");
        static const char hex[] = "0123456789abcdef";
        for (int i = 0; i < NONCE; i++) {
            char x[2] = { hex[h->nonce[i] >> 4], hex[h->nonce[i] & 15] };
            put(&v, x, 2);
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], VAR, VARLEN) != 0)
            ck->env[k++] = envp[i];
    ck->env[k++] = ck->var;
    ck->env[k] = NULL;
    ls_free(buf, sizeof(struct header) + cap);
    *new_envp = ck->env;
    *cookiep = ck;
    ls_leave(&g);
    return 0;

out_undo:
    undo(ck);
    ls_free(buf, sizeof(struct header) + cap);
    free_cookie(ck);
    ls_leave(&g);
    return err;
}

void ls_exec_failed(void *cookie)
{
    struct cookie *ck = cookie;
    struct ls_guard g;
    if (ls_enter(&g) < 0) {
        for (int i = 0; i < ck->n; i++)          /* the cookie's memory is left */
            REAL(fcntl)(ck->privs[i], F_SETFD, FD_CLOEXEC);
        if (ck->memfd >= 0)
            REAL(fcntl)(ck->memfd, F_SETFD, FD_CLOEXEC);
        return;
    }
    undo(ck);
    free_cookie(ck);
    ls_leave(&g);
}

/* ---- the new image ---- */

struct cur { const char *p, *end; int bad; };

static int peek(struct cur *c) { return c->p < c->end ? (unsigned char)*c->p : -1; }
static int eat(struct cur *c, char ch)
{
    if (peek(c) == ch) { c->p++; return 1; }
    return 0;
}

/* A decimal number; bad on none or on overflow.  The whole range is
 * taken: a lock to the end of the file ends at INT64_MAX (19 digits), and
 * dev and ino are unsigned 64-bit (their bits come back as an int64_t). */
static int64_t num(struct cur *c)
{
    int neg = eat(c, '-');
    uint64_t v = 0;
    int digits = 0;
    while (peek(c) >= '0' && peek(c) <= '9') {
        unsigned d = (unsigned)(*c->p++ - '0');
        if (v > (UINT64_MAX - d) / 10) { c->bad = 1; return 0; }
        v = v * 10 + d;
        digits++;
    }
    if (!digits || (neg && v > (uint64_t)INT64_MAX)) { c->bad = 1; return 0; }
    return neg ? -(int64_t)v : (int64_t)v;
}

static int field(struct cur *c, int64_t *v, char sep)
{
    *v = num(c);
    if (sep && !eat(c, sep)) c->bad = 1;
    return !c->bad;
}

extern char **environ;

/* Does /proc/self/fdinfo/fd list an OFD lock held through fd's description? */
static int carries_ofd_locks(int fd)
{
    char path[48] = "/proc/self/fdinfo/";
    size_t l = strlen(path);
    l += ls_fmt_i64(path + l, fd);
    path[l] = 0;
    int f = REAL(open)(path, O_RDONLY | O_CLOEXEC);
    if (f < 0)
        return 0;
    char buf[4096];
    int found = 0;
    size_t have = 0;
    for (;;) {
        ssize_t k = read(f, buf + have, sizeof buf - 1 - have);
        if (k <= 0) break;
        have += (size_t)k;
        buf[have] = 0;
        if (strstr(buf, "OFDLCK")) { found = 1; break; }
        /* keep the tail, in case the word straddles two reads */
        if (have > 16) { memmove(buf, buf + have - 16, 16); have = 16; }
    }
    REAL(close)(f);
    return found;
}

/* The open fds of the process, for the "different description" check. */
struct fdent { int fd; dev_t dev; ino_t ino; };
static struct fdent *g_fds; static size_t g_nfds, g_fdsize;

static void list_fds(void)
{
    int d = REAL(open)("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0)
        return;
    char buf[4096];
    for (;;) {
        long n = syscall(SYS_getdents64, d, buf, sizeof buf);
        if (n <= 0) break;
        for (long off = 0; off < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof reclen);
            const char *name = buf + off + 19;
            off += reclen;
            if (name[0] < '0' || name[0] > '9') continue;
            struct cur c = { name, name + strlen(name), 0 };
            int fd = (int)num(&c);
            struct stat st;
            if (c.bad || fd == d || fstat(fd, &st) < 0) continue;
            if (g_nfds * sizeof *g_fds >= g_fdsize) {
                size_t ns = g_fdsize ? g_fdsize * 2 : 256 * sizeof *g_fds;
                struct fdent *nf = ls_alloc(ns);
                if (!nf) { g_nfds = 0; REAL(close)(d); return; }
                if (g_fds) memcpy(nf, g_fds, g_nfds * sizeof *g_fds);
                ls_free(g_fds, g_fdsize);
                g_fds = nf; g_fdsize = ns;
            }
            g_fds[g_nfds++] = (struct fdent){ fd, st.st_dev, st.st_ino };
        }
    }
    REAL(close)(d);
}

/* priv is a description of its own: no other open fd shares it. */
static int alone(int priv, dev_t dev, ino_t ino)
{
    if (!g_fds)
        return 0;
    for (size_t i = 0; i < g_nfds; i++)
        if (g_fds[i].fd != priv && g_fds[i].dev == dev && g_fds[i].ino == ino &&
            ls_same_description(priv, g_fds[i].fd) != 0)
            return 0;
    return 1;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* The memfd the variable names, verified; -1 (and nothing touched) if not. */
static int open_table(const char *val, char **bodyp, size_t *sizep, size_t *allocp)
{
    struct cur c = { val, val + strlen(val), 0 };
    int64_t fd = num(&c);
    uint8_t nonce[NONCE];
    if (c.bad || fd < 0 || fd > 0x7fffffff || !eat(&c, ':') || c.end - c.p != 2 * NONCE) {
        ls_debug("lockscope: hand-over variable malformed: ignored");
        return -1;
    }
    for (int i = 0; i < NONCE; i++) {
        int a = hexval(c.p[2 * i]), b = hexval(c.p[2 * i + 1]);
        if (a < 0 || b < 0) {
            ls_debug("lockscope: hand-over variable malformed: ignored");
            return -1;
        }
        nonce[i] = (uint8_t)(a << 4 | b);
    }
    struct stat st;
    struct header h;
    int mfd = (int)fd;
    int fl = REAL(fcntl)(mfd, F_GETFD);
    if (fl < 0 || (fl & FD_CLOEXEC) || fstat(mfd, &st) < 0 || !S_ISREG(st.st_mode) ||
        REAL(fcntl)(mfd, F_GET_SEALS) != SEALS ||
        st.st_size < (off_t)sizeof h || (uint64_t)st.st_size - sizeof h > BODY_MAX ||
        pread(mfd, &h, sizeof h, 0) != (ssize_t)sizeof h ||
        memcmp(h.magic, MAGIC, sizeof h.magic) != 0 || h.pid != (int32_t)g_ls.pid ||
        memcmp(h.nonce, nonce, NONCE) != 0 || h.size != (uint64_t)st.st_size - sizeof h) {
        ls_debug("lockscope: hand-over fd %d is not this exec's table: ignored", mfd);
        return -1;
    }
    size_t alloc = (size_t)h.size + 1;
    char *body = ls_alloc(alloc);
    if (!body)
        return -1;
    size_t got = 0;
    while (got < h.size) {
        ssize_t k = pread(mfd, body + got, (size_t)h.size - got, (off_t)(sizeof h + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (got != h.size) {
        ls_free(body, alloc);
        return -1;
    }
    *bodyp = body;
    *sizep = got;
    *allocp = alloc;
    return mfd;
}

/* Under g_mu: adopt what a verified table lists, checking every fd. */
static void receive_body(const char *body, size_t size)
{
    struct cur c = { body, body + size, 0 };
    struct ls_owner *cur = NULL;
    while (!c.bad && eat(&c, '|')) {
        if (eat(&c, 'O')) {
            int64_t priv, acc, flags, dev, ino;
            cur = NULL;
            if (!field(&c, &priv, ':') || !field(&c, &acc, ':') || !field(&c, &flags, ':') ||
                !field(&c, &dev, ':') || !field(&c, &ino, ':'))
                break;
            struct stat pst;
            int ok = priv >= 0 && priv < LS_FD_LIMIT && (acc == O_RDONLY || acc == O_WRONLY || acc == O_RDWR) &&
                     survives((int)priv) && !ls_fd_get((int)priv) && !ls_fd_is_private((int)priv) &&
                     fstat((int)priv, &pst) == 0 && (uint64_t)pst.st_dev == (uint64_t)dev &&
                     (uint64_t)pst.st_ino == (uint64_t)ino && S_ISREG(pst.st_mode) &&
                     carries_ofd_locks((int)priv) && alone((int)priv, pst.st_dev, pst.st_ino);
            if (!ok) {
                ls_debug("lockscope: hand-over names fd %d, not a private description of this exec: left alone",
                         (int)priv);
            } else {
                struct ls_inode *in = ls_inode_get(pst.st_dev, pst.st_ino, 1);
                if (in)
                    cur = ls_owner_new(in, (int)acc);
                if (cur) {
                    cur->priv = (int)priv;
                    cur->tid = ls_gettid();
                    in->flags |= (int)flags & LS_INODE_SQLITE;
                    if (flags & LS_INODE_SQLITE)
                        in->shared = cur;
                    REAL(fcntl)((int)priv, F_SETFD, FD_CLOEXEC);
                    ls_fd_mark_private((int)priv, 1);
                }
            }
            while (peek(&c) >= 0 && peek(&c) != '|') {
                int64_t s, e, t;
                if (!field(&c, &s, '/') || !field(&c, &e, '/') || !field(&c, &t, 0))
                    break;
                if (cur && s >= 0 && e >= s && (t == LS_RD || t == LS_WR))
                    ls_owner_apply(cur, s, e, (int)t);
                if (!eat(&c, ',') && peek(&c) != '|' && peek(&c) >= 0)
                    c.bad = 1;
            }
        } else if (eat(&c, 'D')) {
            int64_t acc, maybe;
            if (!field(&c, &acc, ':') || !field(&c, &maybe, ':'))
                break;
            struct ls_desc *d = NULL;
            while (!c.bad && peek(&c) >= 0 && peek(&c) != '|') {
                int64_t fd = num(&c);
                struct stat st;
                if (!c.bad && cur && fd >= 0 && fd < LS_FD_LIMIT && !ls_fd_is_private((int)fd) &&
                    fstat((int)fd, &st) == 0 && st.st_dev == cur->inode->dev &&
                    st.st_ino == cur->inode->ino && !ls_fd_get((int)fd)) {
                    if (!d) {
                        int err;
                        d = ls_desc_for_fd((int)fd, &err);
                        if (d) {
                            if (acc == O_RDONLY || acc == O_WRONLY || acc == O_RDWR)
                                d->acc = (int)acc;
                            d->maybe_aliases = maybe != 0;
                            if (!d->owner) {
                                d->owner = cur;
                                cur->refs++;
                            }
                        }
                    } else {
                        ls_desc_link_fd((int)fd, d);
                    }
                }
                if (!eat(&c, ',') && peek(&c) != '|' && peek(&c) >= 0)
                    c.bad = 1;
            }
        } else {
            break;
        }
    }
    if (c.bad || c.p != c.end)
        ls_debug("lockscope: hand-over table malformed after byte %d: rest ignored", (int)(c.p - body));
    /* owners none of whose fds came along hold locks nobody can release */
    for (struct ls_owner *o = g_all_owners, *next; o; o = next) {
        next = o->next_all;
        if (o->refs == 0) {
            o->refs = 1;
            ls_owner_release(o);
        }
    }
}

/* An image that does not take the hand-over (mode off, secure execution):
 * the table's memfd and the private fds it lists that pass every check of
 * receive_body become close-on-exec, so that this image's children do not
 * keep the locks alive (rule 6); the locks last until this image exits.
 * Nothing that fails a check is touched. */
static void cloexec_unadopted(const char *val)
{
    char *body = NULL;
    size_t size = 0, alloc = 0;
    int mfd = open_table(val, &body, &size, &alloc);
    if (mfd < 0)
        return;
    list_fds();
    struct cur c = { body, body + size, 0 };
    while (!c.bad && eat(&c, '|')) {
        int64_t priv, acc, flags, dev, ino;
        struct stat pst;
        if (eat(&c, 'O') && field(&c, &priv, ':') && field(&c, &acc, ':') && field(&c, &flags, ':') &&
            field(&c, &dev, ':') && field(&c, &ino, ':') &&
            priv >= 0 && priv < LS_FD_LIMIT && survives((int)priv) && fstat((int)priv, &pst) == 0 &&
            (uint64_t)pst.st_dev == (uint64_t)dev && (uint64_t)pst.st_ino == (uint64_t)ino &&
            S_ISREG(pst.st_mode) && carries_ofd_locks((int)priv) && alone((int)priv, pst.st_dev, pst.st_ino))
            REAL(fcntl)((int)priv, F_SETFD, FD_CLOEXEC);
        while (c.p < c.end && *c.p != '|')
            c.p++;
    }
    REAL(fcntl)(mfd, F_SETFD, FD_CLOEXEC);
    ls_free(body, alloc);
    ls_free(g_fds, g_fdsize);
    g_fds = NULL; g_nfds = g_fdsize = 0;
}

void ls_exec_receive(int secure)
{
    const char *val = NULL;
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, VAR, VARLEN)) { val = *e + VARLEN; break; }
    if (!val)
        return;
    /* inert, or run with privileges by someone who chose the environment:
     * nothing it names is touched, and main does not see it either */
    if (!ls_active() || secure) {
        cloexec_unadopted(val);
        unsetenv(VARNAME);
        return;
    }
    struct ls_guard g;
    if (ls_enter(&g) < 0)
        return;
    char *body = NULL;
    size_t size = 0, alloc = 0;
    int mfd = open_table(val, &body, &size, &alloc);
    if (mfd >= 0) {
        REAL(close)(mfd);            /* verified: it is ours */
        list_fds();
        receive_body(body, size);
        ls_free(body, alloc);
        ls_free(g_fds, g_fdsize);
        g_fds = NULL; g_nfds = g_fdsize = 0;
    }
    ls_leave(&g);
    unsetenv(VARNAME);
}
