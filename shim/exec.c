/*
 * exec.c - locks survive exec, and the next image's shim knows them (rule 7).
 *
 * Before exec, every owner that holds locks and whose description survives
 * the exec (one of its program fds lacks FD_CLOEXEC) gets its private fd
 * made inheritable, and the table is written into one environment variable,
 * LOCKSCOPE__HANDOVER, added to the new image's environment.  The new
 * image's constructor reads it, checks every fd it names (same inode as
 * before), makes the private fds close-on-exec again and removes the
 * variable, so that main() sees neither.  If exec fails, everything is put
 * back.
 *
 * Format: "1" then, for each owner, "|O<priv>:<acc>:<flags>:<s>/<e>/<t>,..."
 * followed by its descriptions "|D<acc>:<maybe_aliases>:<fd>,<fd>,...".
 * Memory comes from the shim's allocator (exec may follow fork in a child
 * or run in a signal handler: no malloc).
 */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "real.h"
#include "shim.h"

#define VAR "LOCKSCOPE__HANDOVER="
#define VARLEN (sizeof VAR - 1)

struct cookie {
    int n;
    int privs[256];
    char **env; size_t envsize;
    char *buf; size_t bufsize;
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

static int survives(int fd)
{
    int fl = REAL(fcntl)(fd, F_GETFD);
    return fl >= 0 && !(fl & FD_CLOEXEC);
}

int ls_exec_prepare(char *const envp[], char ***new_envp, void **cookiep)
{
    struct ls_guard g;
    if (ls_enter(&g) < 0)
        return -EBUSY;          /* exec from a handler inside the shim: no hand-over */
    size_t nlocks = 0, nfds = 0;
    for (struct ls_owner *o = g_all_owners; o; o = o->next_all)
        nlocks += ls_range_count(o->ranges) + 1;
    for (struct ls_desc *d = g_all_descs; d; d = d->next_all)
        nfds += (size_t)d->refs + 1;
    size_t cap = VARLEN + 16 + nlocks * 64 + nfds * 24;
    struct cookie *ck = ls_alloc(sizeof *ck);
    char *buf = ls_alloc(cap);
    if (!ck || !buf) {
        ls_free(ck, sizeof *ck);
        ls_free(buf, cap);
        ls_leave(&g);
        return -ENOMEM;
    }
    ck->buf = buf;
    ck->bufsize = cap;
    struct out o = { buf, 0, cap };
    puts_(&o, VAR "1");
    int top = ls_fd_max();
    for (struct ls_owner *ow = g_all_owners; ow; ow = ow->next_all) {
        if (ow->priv < 0 || !ow->ranges)
            continue;
        /* which of its descriptions survive, through which fds */
        int any = 0;
        for (struct ls_desc *d = g_all_descs; d && !any; d = d->next_all)
            if (d->owner == ow)
                for (int fd = 0; fd < top; fd++)
                    if (ls_fd_get(fd) == d && survives(fd)) { any = 1; break; }
        if (!any || ck->n >= 256)
            continue;
        if (REAL(fcntl)(ow->priv, F_SETFD, 0) < 0)
            continue;
        ck->privs[ck->n++] = ow->priv;
        puts_(&o, "|O"); puti(&o, ow->priv);
        puts_(&o, ":"); puti(&o, ow->acc);
        puts_(&o, ":"); puti(&o, ow->inode ? ow->inode->flags : 0);
        puts_(&o, ":");
        for (struct ls_range *r = ow->ranges; r; r = r->next) {
            puti(&o, r->start); puts_(&o, "/"); puti(&o, r->end); puts_(&o, "/"); puti(&o, r->type);
            if (r->next) puts_(&o, ",");
        }
        for (struct ls_desc *d = g_all_descs; d; d = d->next_all) {
            if (d->owner != ow)
                continue;
            int first = 1;
            for (int fd = 0; fd < top; fd++) {
                if (ls_fd_get(fd) != d || !survives(fd))
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
    if (o.n >= cap || ck->n == 0) {
        /* nothing to hand over, or no room: the locks die with their fds */
        for (int i = 0; i < ck->n; i++)
            REAL(fcntl)(ck->privs[i], F_SETFD, FD_CLOEXEC);
        ls_free(buf, cap);
        ls_free(ck, sizeof *ck);
        ls_leave(&g);
        return 0;
    }
    size_t n = 0;
    while (envp && envp[n]) n++;
    ck->envsize = (n + 2) * sizeof(char *);
    ck->env = ls_alloc(ck->envsize);
    if (!ck->env) {
        for (int i = 0; i < ck->n; i++)
            REAL(fcntl)(ck->privs[i], F_SETFD, FD_CLOEXEC);
        ls_free(buf, cap);
        ls_free(ck, sizeof *ck);
        ls_leave(&g);
        return -ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (strncmp(envp[i], VAR, VARLEN) != 0)
            ck->env[k++] = envp[i];
    ck->env[k++] = buf;
    ck->env[k] = NULL;
    *new_envp = ck->env;
    *cookiep = ck;
    ls_leave(&g);
    return 0;
}

void ls_exec_failed(void *cookie)
{
    struct cookie *ck = cookie;
    struct ls_guard g;
    if (ls_enter(&g) < 0) {
        for (int i = 0; i < ck->n; i++)          /* the cookie's memory is left */
            REAL(fcntl)(ck->privs[i], F_SETFD, FD_CLOEXEC);
        return;
    }
    for (int i = 0; i < ck->n; i++)
        REAL(fcntl)(ck->privs[i], F_SETFD, FD_CLOEXEC);
    ls_free(ck->env, ck->envsize);
    ls_free(ck->buf, ck->bufsize);
    ls_free(ck, sizeof *ck);
    ls_leave(&g);
}

/* ---- the new image ---- */

static int64_t num(const char **p)
{
    int neg = 0;
    int64_t v = 0;
    if (**p == '-') { neg = 1; (*p)++; }
    while (**p >= '0' && **p <= '9') { v = v * 10 + (**p - '0'); (*p)++; }
    return neg ? -v : v;
}

extern char **environ;

void ls_exec_receive(void)
{
    const char *val = NULL;
    for (char **e = environ; e && *e; e++)
        if (!strncmp(*e, VAR, VARLEN)) { val = *e + VARLEN; break; }
    if (!val)
        return;
    struct ls_guard g;
    if (ls_enter(&g) < 0)
        return;
    const char *p = val;
    struct ls_owner *cur = NULL;
    struct stat pst;
    int keep = ls_active();
    if (*p == '1') p++;
    while (*p == '|') {
        p++;
        if (*p == 'O') {
            p++;
            int priv = (int)num(&p);
            if (*p == ':') p++;
            int acc = (int)num(&p);
            if (*p == ':') p++;
            int flags = (int)num(&p);
            if (*p == ':') p++;
            cur = NULL;
            if (fstat(priv, &pst) == 0 && keep) {
                struct ls_inode *in = ls_inode_get(pst.st_dev, pst.st_ino, 1);
                if (in)
                    cur = ls_owner_new(in, acc);
                if (cur) {
                    cur->priv = priv;
                    cur->tid = ls_gettid();
                    in->flags |= flags;
                    if (flags & LS_INODE_SQLITE)
                        in->shared = cur;
                    REAL(fcntl)(priv, F_SETFD, FD_CLOEXEC);
                    ls_fd_mark_private(priv, 1);
                }
            } else if (priv >= 0 && !keep) {
                REAL(close)(priv);      /* inert here: native semantics */
            }
            while (*p && *p != '|') {
                int64_t s = num(&p); if (*p == '/') p++;
                int64_t e = num(&p); if (*p == '/') p++;
                int t = (int)num(&p);
                if (cur && s >= 0 && e >= s && (t == LS_RD || t == LS_WR))
                    ls_owner_apply(cur, s, e, t);
                if (*p == ',') p++;
                else if (*p != '|') break;
            }
        } else if (*p == 'D') {
            p++;
            int acc = (int)num(&p);
            if (*p == ':') p++;
            int maybe = (int)num(&p);
            if (*p == ':') p++;
            struct ls_desc *d = NULL;
            while (*p && *p != '|') {
                int fd = (int)num(&p);
                struct stat st;
                if (cur && fstat(fd, &st) == 0 && st.st_dev == cur->inode->dev &&
                    st.st_ino == cur->inode->ino && !ls_fd_get(fd)) {
                    if (!d) {
                        int err;
                        d = ls_desc_for_fd(fd, &err);
                        if (d) {
                            d->acc = acc;
                            d->maybe_aliases = maybe;
                            d->owner = cur;
                            cur->refs++;
                        }
                    } else {
                        ls_desc_link_fd(fd, d);
                    }
                }
                if (*p == ',') p++;
                else if (*p != '|') break;
            }
        } else {
            break;
        }
    }
    /* owners none of whose fds came along hold locks nobody can release */
    for (struct ls_owner *o = g_all_owners, *next; o; o = next) {
        next = o->next_all;
        if (o->refs == 0) {
            o->refs = 1;
            ls_owner_release(o);
        }
    }
    ls_leave(&g);
    unsetenv("LOCKSCOPE__HANDOVER");
}
