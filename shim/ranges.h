/*
 * ranges.h - pure byte-range arithmetic: what one lock owner holds.
 *
 * No syscalls, no globals, no locks: the file a model-based fuzzer drives.
 * Ranges are inclusive [start, end] with end == LS_OFFSET_MAX meaning "to
 * end of file and beyond", exactly as the kernel's fs/locks.c stores them.
 * A list is sorted by start, non-overlapping, and adjacent ranges of the
 * same type are merged (the kernel merges an owner's locks the same way).
 *
 * A list is a `struct ls_range *` to its first node, walked through `next`
 * in order; the same nodes also form a search tree (a treap keyed by start,
 * random priorities, parent links), so apply and the
 * queries cost O(log n + ranges they touch) for n ranges held, not O(n), and
 * O(1) expected when the first node's hint (the last apply's place) is the
 * place asked for.  Moving the head pointer moves the whole list.
 */
#ifndef LOCKSCOPE_RANGES_H
#define LOCKSCOPE_RANGES_H

#include <stddef.h>
#include <stdint.h>

#define LS_OFFSET_MAX INT64_MAX

/* Lock types, numerically equal to F_RDLCK, F_WRLCK, F_UNLCK on Linux. */
enum { LS_RD = 0, LS_WR = 1, LS_UN = 2 };

struct ls_range {
    int64_t start, end;         /* inclusive */
    int type;                   /* LS_RD or LS_WR */
    uint32_t prio;              /* treap priority (random: see get_node) */
    struct ls_range *next;      /* the next range by start: the list */
    struct ls_range *kid[2], *up;  /* the search tree over the same nodes */
    struct ls_range *hint;      /* in a list's first node only: a node of the list, or NULL */
};

/* Nodes freed by apply/free_all kept for the next apply (at most `max`), so
 * a lock and unlock pair in the steady state calls neither alloc nor free.
 * Used under the same mutual exclusion as the allocator itself. */
struct ls_range_cache {
    struct ls_range *nodes;
    unsigned n, max;
    uint64_t seed;              /* the priorities of the nodes it gives out */
};

struct ls_range_alloc {
    void *(*alloc)(size_t size, void *ctx);
    void (*free)(void *p, size_t size, void *ctx);
    void *ctx;
    struct ls_range_cache *cache;   /* NULL: every node goes back to free() */
};

/*
 * Resolve a struct flock's (whence, l_start, l_len) to [start, end] as the
 * kernel does (fs/locks.c flock64_to_posix_lock).  `base` is 0 for SEEK_SET,
 * the file offset for SEEK_CUR, the file size for SEEK_END (the caller
 * knows which).  Returns 0, -EINVAL or -EOVERFLOW.
 */
int ls_range_resolve(int whence, int64_t l_start, int64_t l_len, int64_t base,
                     int64_t *start, int64_t *end);

/* l_start/l_len as F_GETLK reports [start, end] (l_len 0 = to EOF). */
void ls_range_to_flock(int64_t start, int64_t end, int64_t *l_start, int64_t *l_len);

/*
 * Apply a lock (LS_RD/LS_WR) or unlock (LS_UN) of [start, end] to one
 * owner's list: overlapping parts are replaced, split or removed, then
 * neighbours of equal type merged.  Returns 0, or -ENOMEM with the list
 * unchanged.  It asks the allocator for at most two nodes and only when the
 * result has more ranges than the list had (a split, or a lock that neither
 * replaces a range nor merges with a neighbour), after its cache; anything
 * else cannot fail: every unlock that splits nothing, a lock that covers
 * some held range whole, a lock that touches or overlaps a held range of
 * its own type.
 * O(log n + ranges removed).
 */
int ls_range_apply(struct ls_range **list, int64_t start, int64_t end, int type,
                   const struct ls_range_alloc *a);

/* 1 if two types conflict (a write conflicts with anything). */
static inline int ls_type_conflicts(int a, int b) { return a == LS_WR || b == LS_WR; }

/* First range of `list` that overlaps [start, end] and conflicts with
 * `type`, or NULL.  O(log n + read ranges skipped inside [start, end]). */
const struct ls_range *ls_range_conflict(const struct ls_range *list,
                                         int64_t start, int64_t end, int type);
/* First range overlapping [start, end] at all, or NULL. */
const struct ls_range *ls_range_overlap(const struct ls_range *list,
                                        int64_t start, int64_t end);
/* 1 if every byte of [start, end] is held with exactly `type` (O(log n):
 * merged neighbours make that one range). */
int ls_range_covers(const struct ls_range *list, int64_t start, int64_t end, int type);

size_t ls_range_count(const struct ls_range *list);
void ls_range_free_all(struct ls_range **list, const struct ls_range_alloc *a);
/* Give every node of a cache back to the allocator. */
void ls_range_cache_drain(const struct ls_range_alloc *a);
/* 0 if the list is sorted, disjoint, merged and its tree is a treap over
 * exactly its nodes; else a negative number saying which rule broke (tests). */
int ls_range_check(const struct ls_range *list);

#endif
