/*
 * fuzz_ranges.c - libFuzzer target for shim/ranges.c.
 *
 * The input is a sequence of operations, each an opcode byte followed by its
 * operand bytes (missing bytes read as 0):
 *
 *   kind 0-4  apply:   type, start in 0..U, end in start..U-1 or INT64_MAX
 *   kind 5    apply with an allocator that fails on its Nth call (N = 1..3):
 *             on -ENOMEM the list must be unchanged (same nodes, same values)
 *             and nothing leaked
 *   kind 6    resolve(whence, l_start, l_len, base) with arbitrary 64-bit
 *             values, checked against an independent reimplementation of
 *             fs/locks.c flock64_to_posix_lock; a result that fits the
 *             universe is then applied
 *   kind 7    overlap / conflict / covers queries checked against the model
 *
 * After every step the list is checked for its invariants (sorted, no
 * overlap, maximal merge, its search tree: ls_range_check; the allocator
 * has a 3-node cache, so both of its paths run) and compared byte by byte with a bytemap model of
 * offsets 0..U-1 plus one "tail" slot standing for every offset >= U (ranges
 * only ever end below U or at INT64_MAX, so the tail is uniform).  Any
 * mismatch aborts.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined \
 *       -Ishim tests/fuzz/fuzz_ranges.c shim/ranges.c -o /tmp/fz
 *   /tmp/fz -max_total_time=60 tests/fuzz/corpus/ranges
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ranges.h"

#define MAX LS_OFFSET_MAX
#define U 32            /* modelled bytes 0..U-1 */
#define TAIL U          /* slot U: every offset >= U */
#define NONE (-1)
#define SNAP_MAX (2 * (U + 1))

#define CHECK(c) do { if (!(c)) { \
        fprintf(stderr, "fuzz_ranges: %s:%d: check failed: %s\n", __FILE__, __LINE__, #c); \
        abort(); } } while (0)

/* Signed overflow in the code under test is a finding, not a warning: make
 * UBSan stop at the first report even without -fno-sanitize-recover. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void) { return "halt_on_error=1:print_stacktrace=1"; }

/* ---- allocator: counts, and fails on its Nth call when asked ---- */

struct counting { long calls, allocs, frees, fail_at; };
static struct counting cnt;

static void *c_alloc(size_t size, void *ctx)
{
    struct counting *c = ctx;
    c->calls++;
    if (c->fail_at && c->calls == c->fail_at)
        return NULL;
    c->allocs++;
    return malloc(size);
}

static void c_free(void *p, size_t size, void *ctx)
{
    struct counting *c = ctx;
    CHECK(size == sizeof(struct ls_range));
    c->frees++;
    free(p);
}

/* A small node cache, so both its paths (reuse, and full: back to free)
 * are exercised; live() counts the nodes it holds. */
static struct ls_range_cache cache = { NULL, 0, 3, 0 };
static const struct ls_range_alloc A = { c_alloc, c_free, &cnt, &cache };
static long live(void) { return cnt.allocs - cnt.frees; }

/* ---- input reader ---- */

struct in { const uint8_t *p; size_t n, i; };

static uint8_t get8(struct in *in) { return in->i < in->n ? in->p[in->i++] : 0; }

static uint64_t get64(struct in *in)
{
    uint64_t v = 0;
    for (int k = 0; k < 8; k++)
        v |= (uint64_t)get8(in) << (8 * k);
    return v;
}

/* A 64-bit value, biased towards the interesting edges. */
static int64_t getval(struct in *in)
{
    uint8_t sel = get8(in);
    uint8_t b;
    switch (sel % 8) {
    case 0: return (int64_t)get64(in);
    case 1: return MAX - get8(in);
    case 2: return INT64_MIN + get8(in);
    case 3: return (int8_t)get8(in);
    case 4: return -(int64_t)get8(in) * 4096;
    case 5: b = get8(in); return (b & 1) ? MAX / 2 + (b >> 1) - 64 : -(MAX / 2) + (b >> 1) - 64;
    case 6: return get8(in) % (U + 2);
    default: return 0;
    }
}

/* ---- reference resolve: the kernel's rules, overflow via builtins ---- */

static int ref_resolve(int whence, int64_t l_start, int64_t l_len, int64_t base,
                       int64_t *sp, int64_t *ep)
{
    int64_t s, e, t;
    if (whence != 0 && whence != 1 && whence != 2)
        return -EINVAL;
    if (base < 0)                       /* the shim's precondition */
        return -EINVAL;
    if (__builtin_add_overflow(base, l_start, &s))
        return -EOVERFLOW;              /* base >= 0: only upward overflow */
    if (s < 0)
        return -EINVAL;
    if (l_len > 0) {
        if (__builtin_add_overflow(s, l_len - 1, &e))
            return -EOVERFLOW;
    } else if (l_len < 0) {
        if (__builtin_add_overflow(s, l_len, &t) || t < 0)
            return -EINVAL;
        e = s - 1;
        s = t;
    } else {
        e = MAX;
    }
    *sp = s;
    *ep = e;
    return 0;
}

/* ---- model ---- */

static int in_universe(int64_t s, int64_t e)
{
    return s >= 0 && s <= U && s <= e && (e < U || e == MAX);
}

static void slots(int64_t s, int64_t e, int *lo, int *hi)
{
    *lo = (int)s;
    *hi = e == MAX ? TAIL : (int)e;
}

static void model_apply(int m[U + 1], int64_t s, int64_t e, int t)
{
    int lo, hi;
    slots(s, e, &lo, &hi);
    for (int i = lo; i <= hi; i++)
        m[i] = t == LS_UN ? NONE : t;
}

static void check(const struct ls_range *l, const int m[U + 1])
{
    int got[U + 1];
    const struct ls_range *p = NULL;
    CHECK(ls_range_check(l) == 0);                  /* the tree too */
    for (int i = 0; i <= U; i++)
        got[i] = NONE;
    for (; l; p = l, l = l->next) {
        int lo, hi;
        CHECK(in_universe(l->start, l->end));
        CHECK(l->type == LS_RD || l->type == LS_WR);
        if (p) {
            CHECK(p->end < l->start);                                   /* sorted, disjoint */
            CHECK(!(p->type == l->type && p->end == l->start - 1));     /* maximally merged */
        }
        slots(l->start, l->end, &lo, &hi);
        for (int i = lo; i <= hi; i++)
            got[i] = l->type;
    }
    for (int i = 0; i <= U; i++)
        CHECK(got[i] == m[i]);
}

static void get_range(struct in *in, int64_t *s, int64_t *e)
{
    uint8_t a = get8(in) % (U + 1), b = get8(in);
    *s = a;
    if (a == U || (b & 0xc0) == 0xc0)
        *e = MAX;
    else
        *e = a + (b & 0x3f) >= U ? U - 1 : a + (b & 0x3f);
}

struct snap { size_t n; const struct ls_range *node[SNAP_MAX]; int64_t s[SNAP_MAX], e[SNAP_MAX]; int t[SNAP_MAX]; };

static void take_snap(const struct ls_range *l, struct snap *sn)
{
    sn->n = 0;
    for (; l; l = l->next) {
        CHECK(sn->n < SNAP_MAX);
        sn->node[sn->n] = l;
        sn->s[sn->n] = l->start;
        sn->e[sn->n] = l->end;
        sn->t[sn->n] = l->type;
        sn->n++;
    }
}

static void same_as_snap(const struct ls_range *l, const struct snap *sn)
{
    size_t i = 0;
    for (; l; l = l->next, i++) {
        CHECK(i < sn->n);
        CHECK(l == sn->node[i]);
        CHECK(l->start == sn->s[i] && l->end == sn->e[i] && l->type == sn->t[i]);
    }
    CHECK(i == sn->n);
}

static void queries(const struct ls_range *l, const int m[U + 1], int64_t s, int64_t e, int t)
{
    int lo, hi, first_any = -1, first_conf = -1, all = 1;
    const struct ls_range *r;
    slots(s, e, &lo, &hi);
    for (int i = lo; i <= hi; i++) {
        if (m[i] != NONE && first_any < 0)
            first_any = i;
        if (m[i] != NONE && ls_type_conflicts(m[i], t) && first_conf < 0)
            first_conf = i;
        if (m[i] != t)
            all = 0;
    }
    r = ls_range_overlap(l, s, e);
    if (first_any < 0)
        CHECK(r == NULL);
    else
        CHECK(r && r->start <= first_any && r->end >= first_any);
    r = ls_range_conflict(l, s, e, t);
    if (first_conf < 0)
        CHECK(r == NULL);
    else
        CHECK(r && r->start <= first_conf && r->end >= first_conf && ls_type_conflicts(r->type, t));
    CHECK(ls_range_covers(l, s, e, t) == all);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct in in = { data, size, 0 };
    struct ls_range *l = NULL;
    int m[U + 1];

    memset(&cnt, 0, sizeof cnt);
    cache.nodes = NULL;
    cache.n = 0;
    for (int i = 0; i <= U; i++)
        m[i] = NONE;

    while (in.i < in.n) {
        uint8_t op = get8(&in);
        int kind = op & 7, type = (op >> 3) % 3;
        int64_t s, e;

        switch (kind) {
        default: {                                  /* 0-4: apply */
            get_range(&in, &s, &e);
            CHECK(ls_range_apply(&l, s, e, type, &A) == 0);
            model_apply(m, s, e, type);
            break;
        }
        case 5: {                                   /* apply, allocator fails on call N */
            struct snap before;
            long base_live = live() - (long)cache.n;  /* a node got may wait in the cache */
            int r;
            get_range(&in, &s, &e);
            take_snap(l, &before);
            cnt.calls = 0;
            cnt.fail_at = 1 + (op >> 6) % 3;
            r = ls_range_apply(&l, s, e, type, &A);
            cnt.fail_at = 0;
            if (r == -ENOMEM) {
                same_as_snap(l, &before);
                CHECK(live() - (long)cache.n == base_live);
            } else {
                CHECK(r == 0);
                model_apply(m, s, e, type);
            }
            break;
        }
        case 6: {                                   /* resolve */
            int whence = (int)(get8(&in) % 6) - 1;  /* -1..4 */
            int64_t ls = getval(&in), ll = getval(&in), base = getval(&in);
            int64_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
            int r1 = ls_range_resolve(whence, ls, ll, base, &s1, &e1);
            int r2 = ref_resolve(whence, ls, ll, base, &s2, &e2);
            if (r1 != r2 || (r1 == 0 && (s1 != s2 || e1 != e2))) {
                fprintf(stderr, "resolve(%d, %lld, %lld, %lld) = %d [%lld, %lld], reference %d [%lld, %lld]\n",
                        whence, (long long)ls, (long long)ll, (long long)base,
                        r1, (long long)s1, (long long)e1, r2, (long long)s2, (long long)e2);
                abort();
            }
            if (r1 == 0) {
                int64_t fs, fl, s3, e3;
                CHECK(s1 >= 0 && s1 <= e1);
                /* F_GETLK's view of it resolves back to the same range. */
                ls_range_to_flock(s1, e1, &fs, &fl);
                CHECK(ls_range_resolve(0, fs, fl, 0, &s3, &e3) == 0 && s3 == s1 && e3 == e1);
                if (in_universe(s1, e1)) {
                    CHECK(ls_range_apply(&l, s1, e1, type, &A) == 0);
                    model_apply(m, s1, e1, type);
                }
            }
            break;
        }
        case 7: {                                   /* queries */
            get_range(&in, &s, &e);
            queries(l, m, s, e, type == LS_UN ? LS_RD : type);
            break;
        }
        }
        check(l, m);
        CHECK(live() == (long)(ls_range_count(l) + cache.n));
        CHECK(cache.n <= cache.max);
    }

    ls_range_free_all(&l, &A);
    CHECK(l == NULL);
    ls_range_cache_drain(&A);
    CHECK(live() == 0);
    return 0;
}
