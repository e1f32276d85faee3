/*
 * model.c - the reference model (see model.h).  Byte maps, no cleverness:
 * it must be obviously right, not fast.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "model.h"

void m_init(struct model *m, int sem)
{
    memset(m, 0, sizeof *m);
    m->sem = sem;
    m->alive[0] = 1;
    for (int p = 0; p < M_PROCS; p++)
        for (int i = 0; i < M_FDS; i++)
            m->fd[p][i] = -1;
}

static int native(const struct model *m) { return m->sem == M_NATIVE; }

int m_file_of(const struct model *m, int p, int slot)
{
    int d = m->fd[p][slot];
    return d < 0 ? -1 : m->d[d].file;
}

int m_acc_of(const struct model *m, int p, int slot)
{
    int d = m->fd[p][slot];
    return d < 0 ? -1 : m->d[d].acc;
}

/* The owner key of a request through description d. */
static int key_of(const struct model *m, int d) { return native(m) ? m->d[d].file : d; }

/* The file an owner key's locks are on. */
static int file_of_key(const struct model *m, int key) { return native(m) ? key : m->d[key].file; }

/* Does owner (p, key) exist as a lock holder for file f? */
static int key_valid(const struct model *m, int key)
{
    return native(m) ? key < M_FILES : m->d[key].used;
}

static void clear_owner(struct model *m, int p, int key)
{
    memset(m->lk[p][key], 0, M_SLOTS);
}

static void free_desc_if_unused(struct model *m, int d)
{
    for (int p = 0; p < M_PROCS; p++)
        if (m->d[d].nfds[p])
            return;
    if (!native(m))
        for (int p = 0; p < M_PROCS; p++)
            clear_owner(m, p, d);
    memset(&m->d[d], 0, sizeof m->d[d]);
}

/* p's fd slot goes away (close, or the close inside dup2). */
static void drop_fd(struct model *m, int p, int slot)
{
    int d = m->fd[p][slot];
    if (d < 0)
        return;
    m->fd[p][slot] = -1;
    m->d[d].nfds[p]--;
    if (native(m)) {
        clear_owner(m, p, m->d[d].file);      /* any close drops the process's locks */
    } else if (m->d[d].nfds[p] == 0) {
        clear_owner(m, p, d);                 /* the last fd of the description */
    }
    free_desc_if_unused(m, d);
}

int m_open(struct model *m, int p, int slot, int file, int acc)
{
    if (m->fd[p][slot] >= 0)
        return -1;
    int d;
    for (d = 0; d < M_DESCS && m->d[d].used; d++) {}
    if (d == M_DESCS)
        return -1;
    memset(&m->d[d], 0, sizeof m->d[d]);
    m->d[d].used = 1;
    m->d[d].file = file;
    m->d[d].acc = acc;
    m->d[d].nfds[p] = 1;
    m->fd[p][slot] = d;
    if (!native(m))
        for (int q = 0; q < M_PROCS; q++)
            clear_owner(m, q, d);
    return 0;
}

int m_dup(struct model *m, int p, int dst, int src)
{
    if (m->fd[p][dst] >= 0 || m->fd[p][src] < 0)
        return -1;
    int d = m->fd[p][src];
    m->fd[p][dst] = d;
    m->d[d].nfds[p]++;
    return 0;
}

int m_dup2(struct model *m, int p, int dst, int src)
{
    if (m->fd[p][src] < 0)
        return -1;
    if (dst == src)
        return 0;                              /* dup2(fd, fd): nothing */
    int d = m->fd[p][src];
    if (m->fd[p][dst] == d) {
        /* another fd of the same description: natively the kernel still
         * closes it (and drops the process's locks on the file); under the
         * shim nothing closes */
        if (native(m))
            clear_owner(m, p, m->d[d].file);
        return 0;
    }
    /* keep src's description alive across the close of dst */
    m->d[d].nfds[p]++;
    drop_fd(m, p, dst);
    m->fd[p][dst] = d;
    return 0;
}

void m_close(struct model *m, int p, int slot)
{
    drop_fd(m, p, slot);
}

void m_fork(struct model *m)
{
    m->alive[1] = 1;
    for (int i = 0; i < M_FDS; i++)
        m->fd[1][i] = m->fd[0][i];
    for (int d = 0; d < M_DESCS; d++)
        m->d[d].nfds[1] = m->d[d].used ? m->d[d].nfds[0] : 0;
    for (int k = 0; k < M_DESCS; k++)
        clear_owner(m, 1, k);                  /* the child owns nothing */
}

void m_exit_child(struct model *m)
{
    if (!m->alive[1])
        return;
    m->alive[1] = 0;
    for (int i = 0; i < M_FDS; i++)
        m->fd[1][i] = -1;
    for (int k = 0; k < M_DESCS; k++)
        clear_owner(m, 1, k);
    for (int d = 0; d < M_DESCS; d++) {
        if (!m->d[d].used)
            continue;
        m->d[d].nfds[1] = 0;
        free_desc_if_unused(m, d);
    }
}

static int incompatible(int held, int want)
{
    return held != M_NONE && (held == M_WR || want == M_WR);
}

/* Another owner (any process) holding a byte of r incompatible with type? */
static int conflict(const struct model *m, int p, int key, int file, int type, struct m_range r)
{
    for (int q = 0; q < M_PROCS; q++) {
        if (!m->alive[q])
            continue;
        for (int k = 0; k < M_DESCS; k++) {
            if ((q == p && k == key) || !key_valid(m, k) || file_of_key(m, k) != file)
                continue;
            for (int b = r.s; b <= r.e; b++)
                if (incompatible(m->lk[q][k][b], type))
                    return 1;
        }
    }
    return 0;
}

int m_setlk(struct model *m, int p, int slot, int type, struct m_range r)
{
    int d = m->fd[p][slot];
    if (d < 0)
        return EBADF;
    int acc = m->d[d].acc;
    if ((type == M_RD && acc == O_WRONLY) || (type == M_WR && acc == O_RDONLY))
        return EBADF;
    int key = key_of(m, d), file = m->d[d].file;
    if (m->sem == M_STRICT) {
        /* natively this would convert or release another description's
         * lock of this process: refused */
        for (int k = 0; k < M_DESCS; k++) {
            if (k == key || !m->d[k].used || m->d[k].file != file)
                continue;
            for (int b = r.s; b <= r.e; b++) {
                int h = m->lk[p][k][b];
                if (h != M_NONE && (type == M_NONE || h != type))
                    return ENOLCK;
            }
        }
    }
    if (type != M_NONE && conflict(m, p, key, file, type, r))
        return EAGAIN;
    for (int b = r.s; b <= r.e; b++)
        m->lk[p][key][b] = (unsigned char)type;
    return 0;
}

int m_conflict_only_other(const struct model *m, int p, int slot, int type, struct m_range r)
{
    int d = m->fd[p][slot];
    if (d < 0 || type == M_NONE)
        return 0;
    int key = key_of(m, d), file = m->d[d].file, other = 0;
    for (int q = 0; q < M_PROCS; q++) {
        if (!m->alive[q])
            continue;
        for (int k = 0; k < M_DESCS; k++) {
            if ((q == p && k == key) || !key_valid(m, k) || file_of_key(m, k) != file)
                continue;
            for (int b = r.s; b <= r.e; b++)
                if (incompatible(m->lk[q][k][b], type)) {
                    if (q == p)
                        return 0;
                    other = 1;
                }
        }
    }
    return other;
}

int m_getlk_conflicts(const struct model *m, int p, int slot, int type, struct m_range r)
{
    int d = m->fd[p][slot];
    if (d < 0)
        return 0;
    return conflict(m, p, key_of(m, d), m->d[d].file, type, r);
}

int m_getlk_valid(const struct model *m, int p, int slot, int type, struct m_range r,
                  int rtype, int hp, int rs, int re)
{
    int d = m->fd[p][slot];
    if (d < 0 || hp < 0 || hp >= M_PROCS || !m->alive[hp])
        return 0;
    if (rs < 0 || rs > re || re > M_TAIL || re < r.s || rs > r.e)
        return 0;
    int key = key_of(m, d), file = m->d[d].file;
    for (int k = 0; k < M_DESCS; k++) {
        if ((hp == p && k == key) || !key_valid(m, k) || file_of_key(m, k) != file)
            continue;
        const unsigned char *l = m->lk[hp][k];
        int ok = 1, conf = 0;
        for (int b = rs; b <= re && ok; b++)
            if (l[b] != rtype) ok = 0;
        if (!ok)
            continue;
        for (int b = r.s; b <= r.e; b++)
            if (incompatible(l[b], type)) conf = 1;
        if (conf && incompatible(rtype, type))
            return 1;
    }
    return 0;
}

int m_seen(const struct model *m, int file, int b)
{
    int t = M_NONE;
    for (int q = 0; q < M_PROCS; q++) {
        if (!m->alive[q])
            continue;
        for (int k = 0; k < M_DESCS; k++) {
            if (!key_valid(m, k) || file_of_key(m, k) != file)
                continue;
            int h = m->lk[q][k][b];
            if (h == M_WR) t = M_WR;
            else if (h == M_RD && t == M_NONE) t = M_RD;
        }
    }
    return t;
}

void m_describe(const struct model *m, char *buf, unsigned cap)
{
    unsigned n = 0;
    buf[0] = 0;
    for (int q = 0; q < M_PROCS; q++) {
        if (!m->alive[q])
            continue;
        n += (unsigned)snprintf(buf + n, n < cap ? cap - n : 0, "%s[fds", q ? "child" : "parent");
        for (int i = 0; i < M_FDS; i++)
            if (m->fd[q][i] >= 0 && n < cap)
                n += (unsigned)snprintf(buf + n, cap - n, " %d:d%d", i, m->fd[q][i]);
        n += (unsigned)snprintf(buf + n, n < cap ? cap - n : 0, "]");
        for (int k = 0; k < M_DESCS; k++) {
            if (!key_valid(m, k))
                continue;
            int any = 0;
            for (int b = 0; b < M_SLOTS; b++) any |= m->lk[q][k][b];
            if (!any || n >= cap)
                continue;
            n += (unsigned)snprintf(buf + n, cap - n, " %s%d/f%d:", native(m) ? "file" : "d", k, file_of_key(m, k));
            for (int b = 0; b < M_SLOTS && n + 2 < cap; b++)
                buf[n++] = ".rw"[m->lk[q][k][b]];
            buf[n] = 0;
        }
        if (n < cap) n += (unsigned)snprintf(buf + n, cap - n, "; ");
    }
}
