/*
 * ranges.c - see ranges.h.  Overflow-safe by construction: we never compute
 * end + 1 unless end < some other value, and never start - 1 unless start
 * is greater than some value >= 0 (the kernel's own discipline).
 */
#include <errno.h>
#include <stdio.h>

#include "ranges.h"

int ls_range_resolve(int whence, int64_t l_start, int64_t l_len, int64_t base,
                     int64_t *startp, int64_t *endp)
{
    int64_t start, end;

    if (whence != 0 && whence != 1 && whence != 2)   /* SEEK_SET, SEEK_CUR, SEEK_END */
        return -EINVAL;
    if (base < 0)
        return -EINVAL;
    if (l_start > LS_OFFSET_MAX - base)
        return -EOVERFLOW;
    start = base + l_start;
    if (start < 0)
        return -EINVAL;
    if (l_len > 0) {
        if (l_len - 1 > LS_OFFSET_MAX - start)
            return -EOVERFLOW;
        end = start + (l_len - 1);      /* not (start + l_len) - 1: may overflow */
    } else if (l_len < 0) {
        end = start - 1;
        if (l_len < -start)       /* start + l_len < 0, without overflow */
            return -EINVAL;
        start += l_len;
    } else {
        end = LS_OFFSET_MAX;
    }
    *startp = start;
    *endp = end;
    return 0;
}

void ls_range_to_flock(int64_t start, int64_t end, int64_t *l_start, int64_t *l_len)
{
    *l_start = start;
    *l_len = end == LS_OFFSET_MAX ? 0 : end - start + 1;
}

static struct ls_range *take(struct ls_range **spare)
{
    struct ls_range *r = *spare;
    *spare = r->next;
    r->next = NULL;
    return r;
}

int ls_range_apply(struct ls_range **list, int64_t s, int64_t e, int type,
                   const struct ls_range_alloc *a)
{
    /* New nodes: one for the new range, one more if a range is split in
     * two.  Allocated before anything changes, so -ENOMEM leaves the list
     * as it was. */
    struct ls_range *spare = NULL, **p, *n;
    int need = type != LS_UN;
    for (n = *list; n && n->start <= e; n = n->next)
        if (n->start < s && n->end > e) { need++; break; }
    for (int i = 0; i < need; i++) {
        n = a->alloc(sizeof *n, a->ctx);
        if (!n) {
            while (spare) { n = take(&spare); a->free(n, sizeof *n, a->ctx); }
            return -ENOMEM;
        }
        n->next = spare;
        spare = n;
    }

    /* Pass 1: cut [s, e] out of every range. */
    for (p = list; *p; ) {
        n = *p;
        if (n->end < s || n->start > e) { p = &n->next; continue; }
        if (n->start < s && n->end > e) {            /* split in two */
            struct ls_range *right = take(&spare);
            right->start = e + 1; right->end = n->end; right->type = n->type;
            right->next = n->next;
            n->end = s - 1;
            n->next = right;
            p = &right->next;
            continue;
        }
        if (n->start < s) { n->end = s - 1; p = &n->next; continue; }
        if (n->end > e) { n->start = e + 1; p = &n->next; continue; }
        *p = n->next;                                 /* covered: remove */
        a->free(n, sizeof *n, a->ctx);
    }

    /* Pass 2: insert the new range in order. */
    if (type != LS_UN) {
        struct ls_range *r = take(&spare);
        r->start = s; r->end = e; r->type = type;
        for (p = list; *p && (*p)->start < s; p = &(*p)->next)
            ;
        r->next = *p;
        *p = r;
    }

    /* Pass 3: merge touching neighbours of equal type. */
    for (n = *list; n && n->next; ) {
        struct ls_range *m = n->next;
        if (n->type == m->type && n->end < m->start && n->end == m->start - 1) {
            n->end = m->end;
            n->next = m->next;
            a->free(m, sizeof *m, a->ctx);
        } else {
            n = m;
        }
    }

    while (spare) { n = take(&spare); a->free(n, sizeof *n, a->ctx); }
    return 0;
}

const struct ls_range *ls_range_conflict(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    for (; l && l->start <= e; l = l->next)
        if (l->end >= s && ls_type_conflicts(l->type, type))
            return l;
    return NULL;
}

const struct ls_range *ls_range_overlap(const struct ls_range *l, int64_t s, int64_t e)
{
    for (; l && l->start <= e; l = l->next)
        if (l->end >= s)
            return l;
    return NULL;
}

int ls_range_covers(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    int64_t need = s;           /* first byte not yet shown to be covered */
    for (; l && l->start <= need; l = l->next) {
        if (l->end < need)
            continue;
        if (l->type != type)
            return 0;
        if (l->end >= e)
            return 1;
        need = l->end + 1;      /* l->end < e <= MAX: no overflow */
    }
    return 0;
}

size_t ls_range_count(const struct ls_range *l)
{
    size_t n = 0;
    for (; l; l = l->next)
        n++;
    return n;
}

void ls_range_free_all(struct ls_range **list, const struct ls_range_alloc *a)
{
    struct ls_range *n = *list, *next;
    for (; n; n = next) {
        next = n->next;
        a->free(n, sizeof *n, a->ctx);
    }
    *list = NULL;
}
