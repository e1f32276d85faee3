/*
 * ranges.c - see ranges.h.  Overflow-safe by construction: we never compute
 * end + 1 unless end < some other value, and never start - 1 unless start
 * is greater than some value >= 0 (the kernel's own discipline).
 *
 * The list (next) gives the order; the treap (kid[], up) finds a place in
 * it in O(log n), and the first node's hint (the last apply's neighbour)
 * finds it in O(1) when a lock and its unlock meet the same place.  Ranges are disjoint, so ends are
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

/* A node with a fresh priority: a cached node comes back for every lock of
 * a lock+unlock loop, and one fixed priority would give every one of them
 * the same (possibly worst) number of rotations. */
static inline struct ls_range *get_node(const struct ls_range_alloc *a)
{
    struct ls_range_cache *c = a->cache;
    struct ls_range *n;
    if (c && c->nodes) {
        n = c->nodes;
        c->nodes = n->next;
        c->n--;
        c->seed = c->seed * 6364136223846793005ULL + 1442695040888963407ULL;
        n->prio = (uint32_t)(c->seed >> 32);
    } else {
        n = a->alloc(sizeof *n, a->ctx);
        if (!n)
            return NULL;
        n->prio = prio_of(n);
    }
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

static struct ls_range *t_root(struct ls_range *n)
{
    while (n->up)
        n = n->up;
    return n;
}

/* x takes its parent's place; the parent becomes its child. */
static void t_rotate_up(struct ls_range *x)
{
    struct ls_range *p = x->up, *g = p->up, *b;
    int d = p->kid[1] == x;
    b = x->kid[!d];
    p->kid[d] = b;
    if (b)
        b->up = p;
    x->kid[!d] = p;
    p->up = x;
    x->up = g;
    if (g)
        g->kid[g->kid[1] == p] = x;
}

/* Put n into the tree between pred and succ (neighbours in order now, or
 * NULL at an end): as a leaf, then up by priority (expected < 2 rotations,
 * the treap's property), so O(1) expected once the place is known. */
static void t_link(struct ls_range *n, struct ls_range *pred, struct ls_range *succ)
{
    n->kid[0] = n->kid[1] = NULL;
    if (pred && !pred->kid[1]) {
        pred->kid[1] = n;
        n->up = pred;
    } else if (succ) {              /* pred's right subtree's leftmost, or the first */
        succ->kid[0] = n;
        n->up = succ;
    } else {
        n->up = NULL;               /* the only node */
        return;
    }
    while (n->up && n->up->prio < n->prio)
        t_rotate_up(n);
}

/* Take n out: down by priority until it has one child, then spliced. */
static void t_unlink(struct ls_range *n)
{
    while (n->kid[0] && n->kid[1])
        t_rotate_up(n->kid[n->kid[1]->prio > n->kid[0]->prio]);
    struct ls_range *c = n->kid[0] ? n->kid[0] : n->kid[1], *p = n->up;
    if (c)
        c->up = p;
    if (p)
        p->kid[p->kid[1] == n] = c;
}

/* The last node whose start is < x, or NULL: the head's hint when it is
 * the answer (the last apply's neighbour: a lock and its unlock meet the
 * same one), else a descent from the root. */
static struct ls_range *before(const struct ls_range *head, int64_t x)
{
    struct ls_range *h = head->hint, *t, *best = NULL;
    if (head->start >= x)
        return NULL;
    if (h && h->start < x && (!h->next || h->next->start >= x))
        return h;
    for (t = t_root((struct ls_range *)head); t; ) {
        if (t->start < x) { best = t; t = t->kid[1]; }
        else t = t->kid[0];
    }
    return best;
}

/* The first node whose end is >= x, or NULL (ends are ordered as starts). */
static const struct ls_range *reaching(const struct ls_range *list, int64_t x)
{
    const struct ls_range *l;
    if (!list)
        return NULL;
    if (!(l = before(list, x)))
        return list;
    return l->end >= x ? l : l->next;
}

/* ---- apply ---- */

static int apply_tree(struct ls_range **list, struct ls_range *L, int64_t s, int64_t e,
                      int type, const struct ls_range_alloc *a);

/* The common cases of a lock+unlock pair first, without the general case's
 * register spills: the first range, a lock into a gap that touches no range
 * of its type, an unlock of exactly one range or of nothing. */
int ls_range_apply(struct ls_range **list, int64_t s, int64_t e, int type,
                   const struct ls_range_alloc *a)
{
    struct ls_range *h = *list, *L, *nx;
    if (!h) {                                        /* the first range */
        if (type == LS_UN)
            return 0;
        if (!(h = get_node(a)))
            return -ENOMEM;
        h->start = s; h->end = e; h->type = type;
        h->next = h->kid[0] = h->kid[1] = h->up = h->hint = NULL;
        *list = h;
        return 0;
    }
    if (type == LS_UN && !h->next && s <= h->start && e >= h->end) {
        *list = NULL;                                /* the only range goes */
        put_node(h, a);
        return 0;
    }
    L = before(h, s);
    if (L && L->end >= s)
        return apply_tree(list, L, s, e, type, a);   /* cuts into L */
    nx = L ? L->next : h;                            /* the first range after s */
    if (type == LS_UN) {
        if (!nx || nx->start > e)
            return 0;                                /* nothing held there */
        if (nx->end > e || (nx->next && nx->next->start <= e))
            return apply_tree(list, L, s, e, type, a);
        if (L)                                       /* exactly nx goes */
            L->next = nx->next;
        else
            *list = nx->next;
        t_unlink(nx);
        put_node(nx, a);
        if (*list)
            (*list)->hint = L;
        return 0;
    }
    if ((nx && nx->start <= e) ||
        (L && L->type == type && L->end == s - 1) ||
        (nx && nx->type == type && e < LS_OFFSET_MAX && nx->start == e + 1))
        return apply_tree(list, L, s, e, type, a);
    struct ls_range *n = get_node(a);                 /* a gap: a new range */
    if (!n)
        return -ENOMEM;
    n->start = s; n->end = e; n->type = type;
    t_link(n, L, nx);
    n->next = nx;
    if (L)
        L->next = n;
    else
        *list = n;
    (*list)->hint = L;
    return 0;
}

__attribute__((noinline))
static int apply_tree(struct ls_range **list, struct ls_range *L, int64_t s, int64_t e,
                      int type, const struct ls_range_alloc *a)
{
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
        t_link(right, L, L->next);
        right->next = L->next;
        L->end = s - 1;
        L->next = right;
        if (mid) {
            mid->start = s; mid->end = e; mid->type = type;
            t_link(mid, L, right);
            mid->next = right;
            L->next = mid;
        }
        (*list)->hint = L;           /* the head is L or before it */
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
        t_link(node, L, rest);                       /* k == 0: L and rest are neighbours */
    }

    /* Out with the block (but a node that can be [s, e] stays in the tree). */
    n = first;
    for (size_t i = 0; i < going; i++) {
        struct ls_range *nx = n->next;
        if (!node && type != LS_UN && !mergeL && !mergeR) {
            node = n;                                /* its start >= s: stays ordered */
        } else {
            t_unlink(n);
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
            t_unlink(rest);
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
        (*list)->hint = L;
    return 0;
}

/* ---- queries ---- */

const struct ls_range *ls_range_conflict(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    for (l = reaching(l, s); l && l->start <= e; l = l->next)
        if (ls_type_conflicts(l->type, type))
            return l;
    return NULL;
}

const struct ls_range *ls_range_overlap(const struct ls_range *l, int64_t s, int64_t e)
{
    l = reaching(l, s);
    return l && l->start <= e ? l : NULL;
}

int ls_range_covers(const struct ls_range *l, int64_t s, int64_t e, int type)
{
    l = reaching(l, s);
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
static long check_tree(const struct ls_range *t, const struct ls_range *up,
                       const struct ls_range **pos, int depth)
{
    long nl, nr;
    if (!t)
        return 0;
    if (depth > 200)
        return -5;                                  /* a cycle, or hopeless balance */
    if (t->up != up)
        return -7;                                  /* parent links */
    if (up && t->prio > up->prio)
        return -4;                                  /* heap order */
    if ((nl = check_tree(t->kid[0], t, pos, depth + 1)) < 0)
        return nl;
    if (*pos != t)
        return -3;                                  /* in-order walk != list */
    *pos = t->next;
    if ((nr = check_tree(t->kid[1], t, pos, depth + 1)) < 0)
        return nr;
    return nl + nr + 1;
}

int ls_range_check(const struct ls_range *list)
{
    const struct ls_range *p = NULL, *n, *pos = list, *root;
    long count = 0, got;
    int hint_seen = !list || !list->hint;
    for (n = list; n; p = n, n = n->next, count++) {
        if (n->start < 0 || n->end < n->start || (n->type != LS_RD && n->type != LS_WR))
            return -1;
        if (p && (p->end >= n->start || (p->type == n->type && p->end == n->start - 1)))
            return -2;                              /* unsorted, overlapping or unmerged */
        if (list->hint == n)
            hint_seen = 1;
        if (count > 100000000)
            return -5;
    }
    if (!hint_seen)
        return -8;                                  /* the hint is not a node of the list */
    if (!list)
        return 0;
    for (root = list, count = 0; root->up; root = root->up)
        if (++count > 200)
            return -5;
    got = check_tree(root, NULL, &pos, 0);
    if (got < 0)
        return (int)got;
    for (count = 0, n = list; n; n = n->next)
        count++;
    return got == count && pos == NULL ? 0 : -3;
}
