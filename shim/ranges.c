/*
 * ranges.c - see ranges.h.  Overflow-safe by construction: we never compute
 * end + 1 unless end < some other value, and never start - 1 unless start
 * is greater than some value >= 0 (the kernel's own discipline).
 *
 * The list (next) gives the order; the treap (kid[], root in the first
 * node) finds a place in it in O(log n).  Ranges are disjoint, so ends are
 * ordered like starts and the tree can be searched by either.  Every change
 * of a start below keeps the order of the nodes still in the tree, so a
 * node is re-keyed in place, never taken out and put back.
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


/* ---- nodes: the cache first, then the allocator ---- */

static uint32_t prio_of(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 29;
    return (uint32_t)(x >> 32);
}

static inline struct ls_range *get_node(const struct ls_range_alloc *a)
{
    struct ls_range_cache *c = a->cache;
    struct ls_range *n;
    if (c && c->nodes) {
        n = c->nodes;
        c->nodes = n->next;
        c->n--;
    } else {
        n = a->alloc(sizeof *n, a->ctx);
        if (!n)
            return NULL;
        n->prio = prio_of(n);
    }
    n->kid[0] = n->kid[1] = NULL;
    return n;
}

static inline void put_node(struct ls_range *n, const struct ls_range_alloc *a)
{
    struct ls_range_cache *c = a->cache;
    if (c && c->n < c->max) {
        n->next = c->nodes;
        c->nodes = n;
        c->n++;
    } else {
        a->free(n, sizeof *n, a->ctx);
    }
}

void ls_range_cache_drain(const struct ls_range_alloc *a)
{
    struct ls_range_cache *c = a->cache;
    if (!c)
        return;
    while (c->nodes) {
        struct ls_range *n = c->nodes;
        c->nodes = n->next;
        a->free(n, sizeof *n, a->ctx);
    }
    c->n = 0;
}

/* ---- the treap ---- */

/* Split t into the nodes with start < key (*l) and the others (*r). */
static void t_split(struct ls_range *t, int64_t key, struct ls_range **l, struct ls_range **r)
{
    while (t) {
        if (t->start < key) { *l = t; l = &t->kid[1]; t = t->kid[1]; }
        else { *r = t; r = &t->kid[0]; t = t->kid[0]; }
    }
    *l = *r = NULL;
}

/* Join two treaps, every start of a below every start of b. */
static struct ls_range *t_join(struct ls_range *a, struct ls_range *b)
{
    struct ls_range *root, **link = &root;
    while (a && b) {
        if (a->prio > b->prio) { *link = a; link = &a->kid[1]; a = a->kid[1]; }
        else { *link = b; link = &b->kid[0]; b = b->kid[0]; }
    }
    *link = a ? a : b;
    return root;
}

static void t_insert(struct ls_range **root, struct ls_range *n)
{
    struct ls_range **link = root;
    while (*link && (*link)->prio > n->prio)
        link = &(*link)->kid[(*link)->start < n->start];
    t_split(*link, n->start, &n->kid[0], &n->kid[1]);
    *link = n;
}

static void t_delete(struct ls_range **root, struct ls_range *n)
{
    struct ls_range **link = root;
    while (*link != n)
        link = &(*link)->kid[(*link)->start < n->start];
    *link = t_join(n->kid[0], n->kid[1]);
}

/* The last node whose start is < x, or NULL. */
static struct ls_range *t_before(struct ls_range *t, int64_t x)
{
    struct ls_range *best = NULL;
    while (t) {
        if (t->start < x) { best = t; t = t->kid[1]; }
        else t = t->kid[0];
    }
    return best;
}

/* The first node whose end is >= x, or NULL. */
static const struct ls_range *t_reaching(const struct ls_range *list, int64_t x)
{
    const struct ls_range *t = list ? list->root : NULL, *best = NULL;
    while (t) {
        if (t->end >= x) { best = t; t = t->kid[0]; }
        else t = t->kid[1];
    }
    return best;
}

/* ---- apply ---- */

static int apply_tree(struct ls_range **list, int64_t s, int64_t e, int type,
                      const struct ls_range_alloc *a);

/* The two cases of a lock+unlock pair when nothing else is held, without
 * the general case's register spills. */
int ls_range_apply(struct ls_range **list, int64_t s, int64_t e, int type,
                   const struct ls_range_alloc *a)
{
    struct ls_range *h = *list;
    if (!h) {                                        /* the first range */
        if (type == LS_UN)
            return 0;
        if (!(h = get_node(a)))
            return -ENOMEM;
        h->start = s; h->end = e; h->type = type;
        h->next = NULL;
        h->root = h;
        *list = h;
        return 0;
    }
    if (type == LS_UN && !h->next && s <= h->start && e >= h->end) {
        *list = NULL;                                /* the only range goes */
        put_node(h, a);
        return 0;
    }
    return apply_tree(list, s, e, type, a);
}

__attribute__((noinline))
static int apply_tree(struct ls_range **list, int64_t s, int64_t e, int type,
                      const struct ls_range_alloc *a)
{
    struct ls_range *root = *list ? (*list)->root : NULL;
    struct ls_range *L = t_before(root, s);         /* starts before s */
    struct ls_range **link = L ? &L->next : list;    /* where [s, e] goes */
    struct ls_range *n;

    if (L && L->end > e) {          /* [s, e] strictly inside L: split it */
        struct ls_range *right, *mid = NULL;
        if (L->type == type)
            return 0;
        if (!(right = get_node(a)))
            return -ENOMEM;
        if (type != LS_UN && !(mid = get_node(a))) {
            put_node(right, a);
            return -ENOMEM;
        }
        right->start = e + 1; right->end = L->end; right->type = L->type;
        right->next = L->next;
        t_insert(&root, right);
        L->end = s - 1;
        L->next = right;
        if (mid) {
            mid->start = s; mid->end = e; mid->type = type;
            mid->next = right;
            t_insert(&root, mid);
            L->next = mid;
        }
        (*list)->root = root;        /* the head is L or before it */
        return 0;
    }

    /* The block: the nodes starting in [s, e]; only the last one can reach
     * past e, and then its tail [e + 1, end] stays. */
    struct ls_range *first = *link, *last = NULL;
    size_t k = 0;
    for (n = first; n && n->start <= e; n = n->next) {
        last = n;
        k++;
    }
    int keep_last = last && last->end > e;
    struct ls_range *rest = keep_last ? last : last ? last->next : first;  /* first node after e */
    size_t going = k - (size_t)keep_last;

    int mergeL = 0, mergeR = 0;
    if (type != LS_UN) {
        mergeL = L && L->type == type && L->end >= s - 1;    /* L->start < s: s > 0 */
        mergeR = rest && rest->type == type && (keep_last || (e < LS_OFFSET_MAX && rest->start == e + 1));
    }
    struct ls_range *node = NULL;                    /* the node that becomes [s, e] */
    if (type != LS_UN && !mergeL && !mergeR && !going) {
        if (!(node = get_node(a)))
            return -ENOMEM;                          /* nothing changed yet */
        node->start = s;
        t_insert(&root, node);
    }

    /* Out with the block (but a node that can be [s, e] stays in the tree). */
    n = first;
    for (size_t i = 0; i < going; i++) {
        struct ls_range *nx = n->next;
        if (!node && type != LS_UN && !mergeL && !mergeR) {
            node = n;                                /* its start >= s: stays ordered */
        } else {
            t_delete(&root, n);
            put_node(n, a);
        }
        n = nx;
    }
    if (keep_last)
        last->start = e + 1;

    if (mergeL) {
        if (mergeR) {
            L->end = rest->end;
            L->next = rest->next;
            t_delete(&root, rest);
            put_node(rest, a);
        } else {
            L->end = e;
            L->next = rest;
        }
    } else {
        if (L && L->end >= s)
            L->end = s - 1;
        if (mergeR) {
            rest->start = s;
            *link = rest;
        } else if (node) {
            node->start = s; node->end = e; node->type = type;
            node->next = rest;
            *link = node;
        } else {
            *link = rest;
        }
    }
    if (*list)
        (*list)->root = root;
    return 0;
}

/* ---- queries ---- */

const struct ls_range *ls_range_conflict(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    for (l = t_reaching(l, s); l && l->start <= e; l = l->next)
        if (ls_type_conflicts(l->type, type))
            return l;
    return NULL;
}

const struct ls_range *ls_range_overlap(const struct ls_range *l, int64_t s, int64_t e)
{
    l = t_reaching(l, s);
    return l && l->start <= e ? l : NULL;
}

int ls_range_covers(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    l = t_reaching(l, s);
    return l && l->start <= s && l->end >= e && l->type == type;
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
        put_node(n, a);
    }
    *list = NULL;
}

/* ---- consistency (tests) ---- */

/* Walks the subtree in order, checking it against the list from *pos;
 * returns the number of nodes, or a negative rule number. */
static long check_tree(const struct ls_range *t, const struct ls_range **pos, uint32_t above, int depth)
{
    long nl, nr;
    if (!t)
        return 0;
    if (depth > 200)
        return -5;                                  /* a cycle, or hopeless balance */
    if (t->prio > above)
        return -4;                                  /* heap order */
    if (t->prio != prio_of(t))
        return -6;
    if ((nl = check_tree(t->kid[0], pos, t->prio, depth + 1)) < 0)
        return nl;
    if (*pos != t)
        return -3;                                  /* in-order walk != list */
    *pos = t->next;
    if ((nr = check_tree(t->kid[1], pos, t->prio, depth + 1)) < 0)
        return nr;
    return nl + nr + 1;
}

int ls_range_check(const struct ls_range *list)
{
    const struct ls_range *p = NULL, *n, *pos = list;
    long count = 0, got;
    for (n = list; n; p = n, n = n->next, count++) {
        if (n->start < 0 || n->end < n->start || (n->type != LS_RD && n->type != LS_WR))
            return -1;
        if (p && (p->end >= n->start || (p->type == n->type && p->end == n->start - 1)))
            return -2;                              /* unsorted, overlapping or unmerged */
    }
    got = check_tree(list ? list->root : NULL, &pos, UINT32_MAX, 0);
    if (got < 0)
        return (int)got;
    return got == count && pos == NULL ? 0 : -3;
}
