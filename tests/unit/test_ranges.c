/*
 * test_ranges.c - unit tests of shim/ranges.c: resolve (against the rules of
 * the kernel's fs/locks.c flock64_to_posix_lock), to_flock, apply (split,
 * trim, merge, type change, INT64_MAX ends), queries, -ENOMEM atomicity with
 * a failing allocator, and a differential test of 100 000 random applies
 * against a brute-force bytemap model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ranges.h"

#define MAX LS_OFFSET_MAX
#define MIN INT64_MIN

/* ------------------------------------------------------------------ */
/* A counting allocator that can fail on its Nth allocation.           */

struct counting {
    long calls;         /* alloc() calls, failed ones included */
    long allocs;        /* successful allocations */
    long frees;
    long fail_at;       /* 0: never fail; N: the Nth call returns NULL */
    long bad_size;      /* frees whose size did not match */
};

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
    if (size != sizeof(struct ls_range))
        c->bad_size++;
    c->frees++;
    free(p);
}

static struct counting cnt;
static const struct ls_range_alloc A = { c_alloc, c_free, &cnt, NULL };

static long live(void) { return cnt.allocs - cnt.frees; }

static int setup(void **state)
{
    memset(&cnt, 0, sizeof cnt);
    return 0;
}

static int teardown(void **state)
{
    assert_int_equal(cnt.bad_size, 0);
    assert_int_equal(live(), 0);
    return 0;
}

/* ------------------------------------------------------------------ */
/* List helpers.                                                        */

struct exp { int64_t s, e; int t; };

static void apply_ok(struct ls_range **l, int64_t s, int64_t e, int t)
{
    assert_int_equal(ls_range_apply(l, s, e, t, &A), 0);
}

/* Sorted, non-overlapping, maximally merged, valid types. */
static void check_invariants(const struct ls_range *l)
{
    const struct ls_range *p = NULL;
    for (; l; p = l, l = l->next) {
        assert_true(l->start >= 0);
        assert_true(l->start <= l->end);
        assert_true(l->type == LS_RD || l->type == LS_WR);
        if (p) {
            assert_true(p->end < l->start);
            assert_false(p->type == l->type && p->end == l->start - 1);
        }
    }
}

/* ... and the same checks plus the search tree over it. */
#define check_tree(l) assert_int_equal(ls_range_check(l), 0)

static void expect_list_(const struct ls_range *l, const struct exp *e, size_t n,
                         const char *file, int line)
{
    size_t i = 0;
    check_invariants(l);
    check_tree(l);
    for (; l && i < n; l = l->next, i++) {
        if (l->start != e[i].s || l->end != e[i].e || l->type != e[i].t) {
            print_error("%s:%d: range %zu is [%lld,%lld] type %d, expected [%lld,%lld] type %d\n",
                        file, line, i, (long long)l->start, (long long)l->end, l->type,
                        (long long)e[i].s, (long long)e[i].e, e[i].t);
            fail();
        }
    }
    if (l || i != n) {
        print_error("%s:%d: list has %zu ranges, expected %zu\n", file, line,
                    ls_range_count(l) + i, n);
        fail();
    }
}
#define expect_list(l, ...) do { \
        static const struct exp ex_[] = { __VA_ARGS__ }; \
        expect_list_((l), ex_, sizeof ex_ / sizeof ex_[0], __FILE__, __LINE__); \
    } while (0)
#define expect_empty(l) assert_null(l)

/* ------------------------------------------------------------------ */
/* ls_range_resolve                                                     */

static void resolve_ok_(int whence, int64_t ls, int64_t ll, int64_t base,
                        int64_t es, int64_t ee, const char *file, int line)
{
    int64_t s = -42, e = -42;
    int r = ls_range_resolve(whence, ls, ll, base, &s, &e);
    if (r != 0 || s != es || e != ee) {
        print_error("%s:%d: resolve(%d,%lld,%lld,%lld) = %d [%lld,%lld], expected 0 [%lld,%lld]\n",
                    file, line, whence, (long long)ls, (long long)ll, (long long)base,
                    r, (long long)s, (long long)e, (long long)es, (long long)ee);
        fail();
    }
}
#define resolve_ok(w, ls, ll, b, es, ee) resolve_ok_(w, ls, ll, b, es, ee, __FILE__, __LINE__)

static void resolve_err_(int whence, int64_t ls, int64_t ll, int64_t base, int err,
                         const char *file, int line)
{
    int64_t s, e;
    int r = ls_range_resolve(whence, ls, ll, base, &s, &e);
    if (r != err) {
        print_error("%s:%d: resolve(%d,%lld,%lld,%lld) = %d, expected %d\n",
                    file, line, whence, (long long)ls, (long long)ll, (long long)base, r, err);
        fail();
    }
}
#define resolve_err(w, ls, ll, b, err) resolve_err_(w, ls, ll, b, err, __FILE__, __LINE__)

static void test_resolve_whence(void **state)
{
    /* SEEK_SET: base 0. */
    resolve_ok(SEEK_SET, 10, 5, 0, 10, 14);
    /* SEEK_CUR: base = file offset. */
    resolve_ok(SEEK_CUR, 0, 5, 100, 100, 104);
    resolve_ok(SEEK_CUR, -10, 5, 100, 90, 94);
    resolve_ok(SEEK_CUR, 7, 1, 100, 107, 107);
    /* SEEK_END: base = file size. */
    resolve_ok(SEEK_END, 0, 0, 1000, 1000, MAX);
    resolve_ok(SEEK_END, -1, 1, 1000, 999, 999);
    resolve_ok(SEEK_END, -1000, 0, 1000, 0, MAX);
    /* Anything else is -EINVAL, whatever the other fields. */
    resolve_err(-1, 0, 0, 0, -EINVAL);
    resolve_err(3, 0, 0, 0, -EINVAL);
    resolve_err(4, 0, 1, 0, -EINVAL);
    resolve_err(0x7fffffff, 0, 1, 0, -EINVAL);
    resolve_err(3, MAX, 2, 1, -EINVAL);     /* whence is checked first */
    resolve_err(SEEK_DATA, 0, 0, 0, -EINVAL);
    resolve_err(SEEK_HOLE, 0, 0, 0, -EINVAL);
}

static void test_resolve_len(void **state)
{
    /* Zero: to EOF and beyond. */
    resolve_ok(SEEK_SET, 0, 0, 0, 0, MAX);
    resolve_ok(SEEK_SET, 123, 0, 0, 123, MAX);
    resolve_ok(SEEK_SET, MAX, 0, 0, MAX, MAX);
    /* Positive. */
    resolve_ok(SEEK_SET, 0, 1, 0, 0, 0);
    resolve_ok(SEEK_SET, 5, 10, 0, 5, 14);
    /* Negative: [start + len, start - 1]. */
    resolve_ok(SEEK_SET, 10, -1, 0, 9, 9);
    resolve_ok(SEEK_SET, 10, -3, 0, 7, 9);
    resolve_ok(SEEK_SET, 10, -10, 0, 0, 9);
    resolve_err(SEEK_SET, 10, -11, 0, -EINVAL);
    resolve_err(SEEK_SET, 0, -1, 0, -EINVAL);
    resolve_ok(SEEK_CUR, 0, -5, 5, 0, 4);
    resolve_ok(SEEK_END, -2, -3, 10, 5, 7);
    resolve_ok(SEEK_SET, MAX, -MAX, 0, 0, MAX - 1);
    resolve_ok(SEEK_SET, MAX, -1, 0, MAX - 1, MAX - 1);
    resolve_err(SEEK_SET, MAX, MIN, 0, -EINVAL);
    resolve_err(SEEK_SET, 0, MIN, 0, -EINVAL);
    resolve_err(SEEK_SET, 5, MIN, 0, -EINVAL);
}

static void test_resolve_overflow(void **state)
{
    /* l_start > OFFSET_MAX - base. */
    resolve_err(SEEK_CUR, MAX, 0, 1, -EOVERFLOW);
    resolve_err(SEEK_CUR, MAX, 1, 1, -EOVERFLOW);
    resolve_err(SEEK_CUR, MAX, -1, 1, -EOVERFLOW);  /* before the len checks */
    resolve_err(SEEK_END, 1, 0, MAX, -EOVERFLOW);
    resolve_err(SEEK_END, MAX, 0, MAX, -EOVERFLOW);
    resolve_ok(SEEK_CUR, MAX - 1, 0, 1, MAX, MAX);
    resolve_ok(SEEK_END, 0, 0, MAX, MAX, MAX);
    resolve_ok(SEEK_SET, MAX, 1, 0, MAX, MAX);
    resolve_ok(SEEK_END, -MAX, 0, MAX, 0, MAX);
    resolve_ok(SEEK_CUR, MAX / 2 + 1, 0, MAX / 2, MAX, MAX);
    resolve_err(SEEK_CUR, MAX / 2 + 2, 0, MAX / 2, -EOVERFLOW);
}

static void test_resolve_len_overflow(void **state)
{
    /* l_len - 1 > OFFSET_MAX - start. */
    resolve_ok(SEEK_SET, 0, MAX, 0, 0, MAX - 1);
    resolve_ok(SEEK_SET, 1, MAX, 0, 1, MAX);        /* ends exactly at MAX */
    resolve_err(SEEK_SET, 2, MAX, 0, -EOVERFLOW);
    resolve_ok(SEEK_SET, MAX, 1, 0, MAX, MAX);
    resolve_err(SEEK_SET, MAX, 2, 0, -EOVERFLOW);
    resolve_ok(SEEK_CUR, 0, MAX, 1, 1, MAX);
    resolve_err(SEEK_CUR, 1, MAX, 1, -EOVERFLOW);
    resolve_ok(SEEK_END, -10, 10, MAX, MAX - 10, MAX - 1);
    resolve_ok(SEEK_END, -10, 11, MAX, MAX - 10, MAX);
    resolve_err(SEEK_END, -10, 12, MAX, -EOVERFLOW);
    resolve_ok(SEEK_SET, MAX / 2, MAX / 2 + 2, 0, MAX / 2, MAX);
    resolve_err(SEEK_SET, MAX / 2, MAX / 2 + 3, 0, -EOVERFLOW);
}

static void test_resolve_negative_start(void **state)
{
    /* start + len < 0 (start itself < 0): -EINVAL. */
    resolve_err(SEEK_SET, -1, 0, 0, -EINVAL);
    resolve_err(SEEK_SET, -1, 10, 0, -EINVAL);
    resolve_err(SEEK_SET, MIN, 0, 0, -EINVAL);
    resolve_err(SEEK_SET, MIN, MAX, 0, -EINVAL);   /* not -EOVERFLOW: start first */
    resolve_err(SEEK_CUR, -6, 0, 5, -EINVAL);
    resolve_ok(SEEK_CUR, -5, 0, 5, 0, MAX);
    resolve_err(SEEK_END, MIN, 0, MAX, -EINVAL);   /* MAX + MIN = -1 */
    resolve_ok(SEEK_END, MIN + 1, 1, MAX, 0, 0);
}

static void test_resolve_negative_base(void **state)
{
    /* The kernel's f_pos / i_size are never negative for ordinary files;
     * the shim rejects a negative base with -EINVAL for every whence. */
    resolve_err(SEEK_SET, 0, 0, -1, -EINVAL);
    resolve_err(SEEK_CUR, 0, 0, -1, -EINVAL);
    resolve_err(SEEK_CUR, 10, 1, -5, -EINVAL);
    resolve_err(SEEK_END, 0, 0, -1, -EINVAL);
    resolve_err(SEEK_END, MAX, 0, MIN, -EINVAL);
    resolve_err(SEEK_CUR, MIN, 0, MIN, -EINVAL);
}

/* An independent reference: exact arithmetic in __int128. */
static int ref_resolve(int whence, int64_t ls, int64_t ll, int64_t base,
                       int64_t *sp, int64_t *ep)
{
    __int128 s, e;
    if (whence < 0 || whence > 2)
        return -EINVAL;
    if (base < 0)
        return -EINVAL;
    s = (__int128)base + ls;
    if (s > MAX)
        return -EOVERFLOW;
    if (s < 0)
        return -EINVAL;
    if (ll > 0) {
        e = s + ll - 1;
        if (e > MAX)
            return -EOVERFLOW;
    } else if (ll < 0) {
        e = s - 1;
        s += ll;
        if (s < 0)
            return -EINVAL;
    } else {
        e = MAX;
    }
    *sp = (int64_t)s;
    *ep = (int64_t)e;
    return 0;
}

static void test_resolve_grid(void **state)
{
    static const int64_t v[] = {
        MIN, MIN + 1, MIN + 2, -MAX / 2 - 1, -MAX / 2, -1000, -2, -1, 0, 1, 2, 1000,
        MAX / 2 - 1, MAX / 2, MAX / 2 + 1, MAX / 2 + 2, MAX - 2, MAX - 1, MAX,
    };
    const size_t n = sizeof v / sizeof v[0];
    long checked = 0, ok = 0;
    for (int w = -1; w <= 3; w++)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                for (size_t k = 0; k < n; k++) {
                    int64_t s1 = 0, e1 = 0, s2 = 0, e2 = 0;
                    int r1 = ls_range_resolve(w, v[i], v[j], v[k], &s1, &e1);
                    int r2 = ref_resolve(w, v[i], v[j], v[k], &s2, &e2);
                    if (r1 != r2 || (r1 == 0 && (s1 != s2 || e1 != e2))) {
                        print_error("resolve(%d,%lld,%lld,%lld) = %d [%lld,%lld], ref %d [%lld,%lld]\n",
                                    w, (long long)v[i], (long long)v[j], (long long)v[k],
                                    r1, (long long)s1, (long long)e1,
                                    r2, (long long)s2, (long long)e2);
                        fail();
                    }
                    if (r1 == 0) {
                        assert_true(s1 >= 0 && s1 <= e1);
                        ok++;
                    }
                    checked++;
                }
    assert_true(checked == 5L * (long)(n * n * n));
    assert_true(ok > 100);
}

/* ------------------------------------------------------------------ */
/* ls_range_to_flock                                                    */

static void test_to_flock(void **state)
{
    int64_t s, l;
    ls_range_to_flock(5, 9, &s, &l);
    assert_true(s == 5 && l == 5);
    ls_range_to_flock(5, MAX, &s, &l);
    assert_true(s == 5 && l == 0);
    ls_range_to_flock(0, MAX - 1, &s, &l);
    assert_true(s == 0 && l == MAX);
    ls_range_to_flock(MAX, MAX, &s, &l);
    assert_true(s == MAX && l == 0);
    ls_range_to_flock(0, 0, &s, &l);
    assert_true(s == 0 && l == 1);
    /* Round trip through resolve for bounded ranges. */
    for (int64_t a = 0; a < 20; a++)
        for (int64_t b = a; b < 20; b++) {
            int64_t rs, re;
            ls_range_to_flock(a, b, &s, &l);
            assert_int_equal(ls_range_resolve(SEEK_SET, s, l, 0, &rs, &re), 0);
            assert_true(rs == a && re == b);
        }
}

/* ------------------------------------------------------------------ */
/* ls_range_apply                                                       */

static void test_apply_empty(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 10, 19, LS_RD);
    expect_list(l, {10, 19, LS_RD});
    assert_int_equal(live(), 1);
    ls_range_free_all(&l, &A);
    assert_null(l);

    apply_ok(&l, 0, MAX, LS_WR);
    expect_list(l, {0, MAX, LS_WR});
    ls_range_free_all(&l, &A);

    /* Unlock of an empty list: nothing, nothing leaked. */
    apply_ok(&l, 0, MAX, LS_UN);
    expect_empty(l);
    apply_ok(&l, 5, 6, LS_UN);
    expect_empty(l);
    assert_int_equal(live(), 0);
    ls_range_free_all(&l, &A);   /* free_all of an empty list */
    assert_null(l);
}

static void test_apply_split_middle(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 0, 99, LS_WR);
    apply_ok(&l, 40, 59, LS_UN);
    expect_list(l, {0, 39, LS_WR}, {60, 99, LS_WR});
    assert_int_equal(live(), 2);
    ls_range_free_all(&l, &A);

    /* Split of a to-EOF range. */
    apply_ok(&l, 10, MAX, LS_RD);
    apply_ok(&l, 20, 29, LS_UN);
    expect_list(l, {10, 19, LS_RD}, {30, MAX, LS_RD});
    /* One-byte hole. */
    apply_ok(&l, 35, 35, LS_UN);
    expect_list(l, {10, 19, LS_RD}, {30, 34, LS_RD}, {36, MAX, LS_RD});
    ls_range_free_all(&l, &A);
}

static void test_apply_type_change_middle(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 0, 99, LS_WR);
    apply_ok(&l, 40, 59, LS_RD);
    expect_list(l, {0, 39, LS_WR}, {40, 59, LS_RD}, {60, 99, LS_WR});
    assert_int_equal(ls_range_count(l), 3);
    assert_int_equal(live(), 3);
    /* And back: everything merges into one again. */
    apply_ok(&l, 40, 59, LS_WR);
    expect_list(l, {0, 99, LS_WR});
    assert_int_equal(live(), 1);
    /* Type change at either end. */
    apply_ok(&l, 0, 9, LS_RD);
    expect_list(l, {0, 9, LS_RD}, {10, 99, LS_WR});
    apply_ok(&l, 90, 99, LS_RD);
    expect_list(l, {0, 9, LS_RD}, {10, 89, LS_WR}, {90, 99, LS_RD});
    /* Whole-range type change. */
    apply_ok(&l, 0, 99, LS_RD);
    expect_list(l, {0, 99, LS_RD});
    /* Same type again: idempotent. */
    apply_ok(&l, 20, 30, LS_RD);
    expect_list(l, {0, 99, LS_RD});
    ls_range_free_all(&l, &A);
}

static void test_apply_partial_unlock(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 10, 29, LS_WR);
    apply_ok(&l, 0, 14, LS_UN);         /* overlaps the left end */
    expect_list(l, {15, 29, LS_WR});
    apply_ok(&l, 25, 40, LS_UN);        /* overlaps the right end */
    expect_list(l, {15, 24, LS_WR});
    apply_ok(&l, 15, 15, LS_UN);        /* exactly the first byte */
    expect_list(l, {16, 24, LS_WR});
    apply_ok(&l, 24, 24, LS_UN);        /* exactly the last byte */
    expect_list(l, {16, 23, LS_WR});
    apply_ok(&l, 16, 23, LS_UN);        /* exactly the range */
    expect_empty(l);

    apply_ok(&l, 100, MAX, LS_RD);
    apply_ok(&l, 200, MAX, LS_UN);      /* right end of a to-EOF range */
    expect_list(l, {100, 199, LS_RD});
    apply_ok(&l, 0, 149, LS_UN);
    expect_list(l, {150, 199, LS_RD});
    ls_range_free_all(&l, &A);
}

static void test_apply_unlock_nothing(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 10, 19, LS_RD);
    apply_ok(&l, 30, 39, LS_WR);
    apply_ok(&l, 0, 9, LS_UN);          /* touching, not overlapping */
    apply_ok(&l, 20, 29, LS_UN);
    apply_ok(&l, 40, MAX, LS_UN);
    apply_ok(&l, 25, 25, LS_UN);
    expect_list(l, {10, 19, LS_RD}, {30, 39, LS_WR});
    assert_int_equal(live(), 2);
    ls_range_free_all(&l, &A);
}

static void test_apply_unlock_many(void **state)
{
    struct ls_range *l = NULL;
    for (int64_t i = 0; i < 20; i++)
        apply_ok(&l, i * 10, i * 10 + 4, i % 2 ? LS_RD : LS_WR);
    assert_int_equal(ls_range_count(l), 20);
    check_invariants(l);
    /* Unlock from inside the 2nd through inside the 18th. */
    apply_ok(&l, 12, 172, LS_UN);
    expect_list(l, {0, 4, LS_WR}, {10, 11, LS_RD}, {173, 174, LS_RD},
                {180, 184, LS_WR}, {190, 194, LS_RD});
    assert_int_equal(live(), 5);
    /* Unlock everything. */
    apply_ok(&l, 0, MAX, LS_UN);
    expect_empty(l);
    assert_int_equal(live(), 0);

    /* A lock covering many ranges replaces them all. */
    for (int64_t i = 0; i < 10; i++)
        apply_ok(&l, i * 10, i * 10 + 4, i % 2 ? LS_RD : LS_WR);
    apply_ok(&l, 3, 91, LS_RD);
    expect_list(l, {0, 2, LS_WR}, {3, 94, LS_RD});
    assert_int_equal(live(), 2);
    ls_range_free_all(&l, &A);
}

static void test_apply_merge(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 10, 19, LS_RD);
    apply_ok(&l, 20, 29, LS_RD);        /* touching on the right */
    expect_list(l, {10, 29, LS_RD});
    apply_ok(&l, 0, 9, LS_RD);          /* touching on the left */
    expect_list(l, {0, 29, LS_RD});
    apply_ok(&l, 40, 49, LS_RD);
    expect_list(l, {0, 29, LS_RD}, {40, 49, LS_RD});
    apply_ok(&l, 30, 39, LS_RD);        /* fills the gap: three become one */
    expect_list(l, {0, 49, LS_RD});
    apply_ok(&l, 45, 60, LS_RD);        /* overlapping same type */
    expect_list(l, {0, 60, LS_RD});
    apply_ok(&l, 61, MAX, LS_RD);       /* up to EOF */
    expect_list(l, {0, MAX, LS_RD});
    assert_int_equal(live(), 1);
    ls_range_free_all(&l, &A);

    /* Bridging a gap between two ranges of the same type by overlapping both. */
    apply_ok(&l, 0, 9, LS_WR);
    apply_ok(&l, 20, 29, LS_WR);
    apply_ok(&l, 5, 25, LS_WR);
    expect_list(l, {0, 29, LS_WR});
    ls_range_free_all(&l, &A);
}

static void test_apply_no_merge_types(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 10, 19, LS_RD);
    apply_ok(&l, 20, 29, LS_WR);
    apply_ok(&l, 0, 9, LS_WR);
    expect_list(l, {0, 9, LS_WR}, {10, 19, LS_RD}, {20, 29, LS_WR});
    apply_ok(&l, 30, MAX, LS_RD);
    expect_list(l, {0, 9, LS_WR}, {10, 19, LS_RD}, {20, 29, LS_WR}, {30, MAX, LS_RD});
    /* Same type with a one-byte gap: no merge. */
    ls_range_free_all(&l, &A);
    apply_ok(&l, 0, 9, LS_RD);
    apply_ok(&l, 11, 19, LS_RD);
    expect_list(l, {0, 9, LS_RD}, {11, 19, LS_RD});
    /* Fill the gap with the other type: still no merge across it. */
    apply_ok(&l, 10, 10, LS_WR);
    expect_list(l, {0, 9, LS_RD}, {10, 10, LS_WR}, {11, 19, LS_RD});
    ls_range_free_all(&l, &A);
}

static void test_apply_offset_max(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, MAX, MAX, LS_WR);
    expect_list(l, {MAX, MAX, LS_WR});
    apply_ok(&l, MAX - 1, MAX - 1, LS_WR);
    expect_list(l, {MAX - 1, MAX, LS_WR});
    apply_ok(&l, MAX, MAX, LS_RD);
    expect_list(l, {MAX - 1, MAX - 1, LS_WR}, {MAX, MAX, LS_RD});
    apply_ok(&l, MAX - 10, MAX, LS_UN);
    expect_empty(l);

    apply_ok(&l, 0, MAX, LS_RD);
    apply_ok(&l, MAX, MAX, LS_UN);      /* trim the very last byte */
    expect_list(l, {0, MAX - 1, LS_RD});
    apply_ok(&l, MAX - 1, MAX, LS_WR);
    expect_list(l, {0, MAX - 2, LS_RD}, {MAX - 1, MAX, LS_WR});
    apply_ok(&l, MAX - 5, MAX - 5, LS_UN);
    expect_list(l, {0, MAX - 6, LS_RD}, {MAX - 4, MAX - 2, LS_RD}, {MAX - 1, MAX, LS_WR});
    apply_ok(&l, 1, MAX - 1, LS_UN);    /* everything but both ends */
    expect_list(l, {0, 0, LS_RD}, {MAX, MAX, LS_WR});
    apply_ok(&l, 0, MAX, LS_WR);
    expect_list(l, {0, MAX, LS_WR});
    /* Split of [0, MAX] around one byte in the middle. */
    apply_ok(&l, MAX / 2, MAX / 2, LS_RD);
    expect_list(l, {0, MAX / 2 - 1, LS_WR}, {MAX / 2, MAX / 2, LS_RD}, {MAX / 2 + 1, MAX, LS_WR});
    ls_range_free_all(&l, &A);
}

static void test_apply_start_zero(void **state)
{
    struct ls_range *l = NULL;
    apply_ok(&l, 0, 0, LS_RD);
    expect_list(l, {0, 0, LS_RD});
    apply_ok(&l, 1, 1, LS_RD);
    expect_list(l, {0, 1, LS_RD});
    apply_ok(&l, 0, 0, LS_WR);
    expect_list(l, {0, 0, LS_WR}, {1, 1, LS_RD});
    apply_ok(&l, 0, 0, LS_UN);
    expect_list(l, {1, 1, LS_RD});
    apply_ok(&l, 0, 5, LS_UN);
    expect_empty(l);
    apply_ok(&l, 0, MAX, LS_RD);
    apply_ok(&l, 0, 0, LS_UN);
    expect_list(l, {1, MAX, LS_RD});
    ls_range_free_all(&l, &A);
}

/* ------------------------------------------------------------------ */
/* Queries                                                              */

static void test_queries(void **state)
{
    struct ls_range *l = NULL;
    const struct ls_range *r;
    apply_ok(&l, 10, 19, LS_RD);
    apply_ok(&l, 20, 29, LS_WR);
    apply_ok(&l, 40, 49, LS_RD);
    apply_ok(&l, 100, MAX, LS_RD);
    expect_list(l, {10, 19, LS_RD}, {20, 29, LS_WR}, {40, 49, LS_RD}, {100, MAX, LS_RD});

    /* overlap */
    assert_null(ls_range_overlap(l, 0, 9));
    assert_null(ls_range_overlap(l, 30, 39));
    assert_null(ls_range_overlap(l, 50, 99));
    r = ls_range_overlap(l, 0, 10);
    assert_non_null(r); assert_true(r->start == 10);
    r = ls_range_overlap(l, 19, 20);
    assert_non_null(r); assert_true(r->start == 10);     /* the first one */
    r = ls_range_overlap(l, 29, 45);
    assert_non_null(r); assert_true(r->start == 20);
    r = ls_range_overlap(l, 0, MAX);
    assert_non_null(r); assert_true(r->start == 10);
    r = ls_range_overlap(l, MAX, MAX);
    assert_non_null(r); assert_true(r->start == 100);
    assert_null(ls_range_overlap(NULL, 0, MAX));

    /* conflict: a read conflicts only with a write; a write with anything. */
    assert_int_equal(ls_type_conflicts(LS_RD, LS_RD), 0);
    assert_int_equal(ls_type_conflicts(LS_RD, LS_WR), 1);
    assert_int_equal(ls_type_conflicts(LS_WR, LS_RD), 1);
    assert_int_equal(ls_type_conflicts(LS_WR, LS_WR), 1);
    assert_null(ls_range_conflict(l, 10, 19, LS_RD));
    assert_null(ls_range_conflict(l, 0, 19, LS_RD));
    r = ls_range_conflict(l, 0, 20, LS_RD);
    assert_non_null(r); assert_true(r->start == 20 && r->type == LS_WR);
    r = ls_range_conflict(l, 0, MAX, LS_RD);
    assert_non_null(r); assert_true(r->start == 20);
    assert_null(ls_range_conflict(l, 30, MAX, LS_RD));
    r = ls_range_conflict(l, 15, 15, LS_WR);
    assert_non_null(r); assert_true(r->start == 10);
    r = ls_range_conflict(l, 30, 45, LS_WR);
    assert_non_null(r); assert_true(r->start == 40);
    r = ls_range_conflict(l, MAX, MAX, LS_WR);
    assert_non_null(r); assert_true(r->start == 100);
    assert_null(ls_range_conflict(l, 50, 99, LS_WR));
    assert_null(ls_range_conflict(l, 0, 9, LS_WR));
    assert_null(ls_range_conflict(NULL, 0, MAX, LS_WR));

    /* covers: every byte held with exactly that type. */
    assert_true(ls_range_covers(l, 10, 19, LS_RD));
    assert_true(ls_range_covers(l, 12, 12, LS_RD));
    assert_false(ls_range_covers(l, 10, 19, LS_WR));
    assert_false(ls_range_covers(l, 10, 20, LS_RD));       /* mixed types */
    assert_true(ls_range_covers(l, 20, 29, LS_WR));
    assert_false(ls_range_covers(l, 9, 19, LS_RD));        /* hole at the left */
    assert_false(ls_range_covers(l, 40, 50, LS_RD));       /* hole at the right */
    assert_false(ls_range_covers(l, 35, 36, LS_RD));       /* all hole */
    assert_true(ls_range_covers(l, 100, MAX, LS_RD));
    assert_true(ls_range_covers(l, MAX, MAX, LS_RD));
    assert_false(ls_range_covers(l, 99, MAX, LS_RD));
    assert_false(ls_range_covers(NULL, 0, 0, LS_RD));

    /* covers across two touching ranges of different types is false for
     * both; across touching ranges it needs exactly one type. */
    ls_range_free_all(&l, &A);
    apply_ok(&l, 0, 9, LS_RD);
    apply_ok(&l, 10, 19, LS_WR);
    assert_false(ls_range_covers(l, 5, 15, LS_RD));
    assert_false(ls_range_covers(l, 5, 15, LS_WR));
    apply_ok(&l, 10, 19, LS_RD);
    assert_true(ls_range_covers(l, 0, 19, LS_RD));
    assert_true(ls_range_covers(l, 0, 0, LS_RD));
    ls_range_free_all(&l, &A);

    /* covers with ranges at the top of the offset space */
    apply_ok(&l, MAX - 3, MAX - 2, LS_WR);
    apply_ok(&l, MAX - 1, MAX, LS_RD);
    assert_true(ls_range_covers(l, MAX - 3, MAX - 2, LS_WR));
    assert_true(ls_range_covers(l, MAX - 1, MAX, LS_RD));
    assert_false(ls_range_covers(l, MAX - 3, MAX, LS_WR));
    apply_ok(&l, MAX - 1, MAX, LS_WR);
    assert_true(ls_range_covers(l, MAX - 3, MAX, LS_WR));
    ls_range_free_all(&l, &A);
}

/* ------------------------------------------------------------------ */
/* -ENOMEM: list unchanged, nothing leaked, for a failure at every N.   */

#define SNAP_MAX 64
struct snap { size_t n; struct exp r[SNAP_MAX]; const struct ls_range *node[SNAP_MAX]; };

static void take_snap(const struct ls_range *l, struct snap *s)
{
    s->n = 0;
    for (; l; l = l->next) {
        assert_true(s->n < SNAP_MAX);
        s->r[s->n].s = l->start;
        s->r[s->n].e = l->end;
        s->r[s->n].t = l->type;
        s->node[s->n] = l;
        s->n++;
    }
}

static void same_as_snap(const struct ls_range *l, const struct snap *s)
{
    size_t i = 0;
    for (; l; l = l->next, i++) {
        assert_true(i < s->n);
        assert_ptr_equal(l, s->node[i]);
        assert_true(l->start == s->r[i].s && l->end == s->r[i].e && l->type == s->r[i].t);
    }
    assert_int_equal(i, s->n);
}

struct op { int64_t s, e; int t; };

static void enomem_case(const struct op *pre, size_t npre, struct op o)
{
    struct ls_range *l = NULL, *ref = NULL;
    struct snap before, want;
    int failures = 0;

    for (size_t i = 0; i < npre; i++) {
        apply_ok(&l, pre[i].s, pre[i].e, pre[i].t);
        apply_ok(&ref, pre[i].s, pre[i].e, pre[i].t);
    }
    apply_ok(&ref, o.s, o.e, o.t);      /* the expected result */
    take_snap(ref, &want);
    take_snap(l, &before);

    for (long n = 1; ; n++) {
        long base_live = live();
        int r;
        cnt.calls = 0;
        cnt.fail_at = n;
        r = ls_range_apply(&l, o.s, o.e, o.t, &A);
        cnt.fail_at = 0;
        if (r == -ENOMEM) {
            failures++;
            same_as_snap(l, &before);
            check_invariants(l);
            assert_int_equal(live(), base_live);
            assert_true(n < 100);
            continue;
        }
        assert_int_equal(r, 0);
        assert_true(n > cnt.calls);     /* the Nth call was never made */
        break;
    }
    /* an operation that needs no new node (an unlock that splits nothing)
     * cannot fail for memory, and must not have asked for any */
    assert_true(failures >= 1 || cnt.calls == 0);
    /* After the successful try the list is what a never-failing run gives. */
    {
        struct snap got;
        take_snap(l, &got);
        assert_int_equal(got.n, want.n);
        for (size_t i = 0; i < got.n; i++)
            assert_true(got.r[i].s == want.r[i].s && got.r[i].e == want.r[i].e &&
                        got.r[i].t == want.r[i].t);
    }
    /* ls_range_apply allocates at most two nodes; it must hold exactly
     * ls_range_count nodes afterwards. */
    assert_int_equal(live(), (long)(ls_range_count(l) + ls_range_count(ref)));
    ls_range_free_all(&l, &A);
    ls_range_free_all(&ref, &A);
    assert_int_equal(live(), 0);
}

static void test_enomem(void **state)
{
    static const struct op w0_99[] = { {0, 99, LS_WR} };
    static const struct op many[] = {
        {0, 4, LS_WR}, {10, 14, LS_RD}, {20, 24, LS_WR}, {30, 34, LS_RD}, {40, MAX, LS_WR},
    };
    static const struct op touching[] = { {0, 9, LS_RD}, {20, 29, LS_RD} };

    enomem_case(NULL, 0, (struct op){0, 9, LS_RD});             /* insert into empty */
    enomem_case(NULL, 0, (struct op){0, MAX, LS_UN});           /* unlock of empty */
    enomem_case(w0_99, 1, (struct op){40, 59, LS_RD});          /* split + insert */
    enomem_case(w0_99, 1, (struct op){40, 59, LS_UN});          /* split */
    enomem_case(w0_99, 1, (struct op){0, 9, LS_UN});            /* trim left */
    enomem_case(w0_99, 1, (struct op){90, 99, LS_UN});          /* trim right */
    enomem_case(w0_99, 1, (struct op){0, 99, LS_UN});           /* remove */
    enomem_case(w0_99, 1, (struct op){50, 150, LS_WR});         /* extend + merge */
    enomem_case(w0_99, 1, (struct op){100, 199, LS_WR});        /* touch + merge */
    enomem_case(w0_99, 1, (struct op){0, MAX, LS_RD});          /* replace */
    enomem_case(many, 5, (struct op){2, 32, LS_UN});            /* unlock many */
    enomem_case(many, 5, (struct op){2, 42, LS_RD});            /* replace many */
    enomem_case(many, 5, (struct op){MAX, MAX, LS_RD});         /* split at MAX */
    enomem_case(touching, 2, (struct op){10, 19, LS_RD});       /* merge three */
    enomem_case(touching, 2, (struct op){10, 19, LS_WR});       /* no merge */
}

/* The allocator's failures must not depend on earlier calls: fail every
 * single allocation through a long run of operations.  Each one either
 * fails with the list unchanged, or succeeds without having asked for a
 * node (the header's list of what cannot fail) with the result a working
 * allocator gives. */
static void test_enomem_always(void **state)
{
    struct ls_range *l = NULL;
    struct snap before;
    long ok[3] = { 0, 0, 0 }, failed = 0;
    apply_ok(&l, 0, 9, LS_RD);
    apply_ok(&l, 20, 29, LS_WR);
    take_snap(l, &before);
    for (int i = 0; i < 600; i++) {
        long base_live = live();
        int64_t s = i % 40, e = i % 40 + i % 7;
        int t = (i / 7) % 3;
        struct ls_range *ref = NULL;
        struct snap want, got;
        for (size_t j = 0; j < before.n; j++)
            apply_ok(&ref, before.r[j].s, before.r[j].e, before.r[j].t);
        apply_ok(&ref, s, e, t);
        take_snap(ref, &want);
        ls_range_free_all(&ref, &A);
        cnt.calls = 0;
        cnt.fail_at = 1;
        int r = ls_range_apply(&l, s, e, t, &A);
        cnt.fail_at = 0;
        check_tree(l);
        if (r == 0) {
            assert_int_equal(cnt.calls, 0);
            take_snap(l, &got);
            assert_int_equal(got.n, want.n);
            for (size_t j = 0; j < got.n; j++)
                assert_true(got.r[j].s == want.r[j].s && got.r[j].e == want.r[j].e &&
                            got.r[j].t == want.r[j].t);
            ok[t]++;
            ls_range_free_all(&l, &A);
            apply_ok(&l, 0, 9, LS_RD);
            apply_ok(&l, 20, 29, LS_WR);
            take_snap(l, &before);
            continue;
        }
        failed++;
        assert_int_equal(r, -ENOMEM);
        assert_int_equal(cnt.calls, 1);
        same_as_snap(l, &before);
        assert_int_equal(live(), base_live);
    }
    /* locks that need no node do succeed: re-lock, type change of a whole
     * range, a lock touching a range of its type */
    assert_true(ok[LS_UN] > 0 && ok[LS_RD] > 0 && ok[LS_WR] > 0 && failed > 0);
    ls_range_free_all(&l, &A);
}

/* The cases of the header's "cannot fail" list, one by one. */
static void test_no_node_needed(void **state)
{
    static const struct { struct op o; } cases[] = {
        { {0, 9, LS_UN} }, { {5, 25, LS_UN} }, { {0, MAX, LS_UN} },       /* unlock, no split */
        { {0, 9, LS_WR} }, { {0, 29, LS_WR} }, { {0, 29, LS_RD} },        /* covers a range whole */
        { {10, 19, LS_RD} }, { {10, 19, LS_WR} }, { {5, 14, LS_RD} },     /* touches/overlaps its type */
        { {25, 35, LS_WR} }, { {0, 9, LS_RD} },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct ls_range *l = NULL;
        apply_ok(&l, 0, 9, LS_RD);
        apply_ok(&l, 20, 29, LS_WR);
        cnt.calls = 0;
        cnt.fail_at = 1;
        assert_int_equal(ls_range_apply(&l, cases[i].o.s, cases[i].o.e, cases[i].o.t, &A), 0);
        cnt.fail_at = 0;
        assert_int_equal(cnt.calls, 0);
        check_tree(l);
        ls_range_free_all(&l, &A);
    }
}

/* With a cache, the steady state of lock+unlock pairs (N ranges held, a
 * free byte locked and unlocked) never calls the allocator; the cache holds
 * at most its max and gives everything back when drained. */
static void test_cache(void **state)
{
    struct ls_range_cache c = { NULL, 0, 4, 0 };
    const struct ls_range_alloc AC = { c_alloc, c_free, &cnt, &c };
    struct ls_range *l = NULL;
    for (int64_t i = 0; i < 1000; i++)
        assert_int_equal(ls_range_apply(&l, 4 * i, 4 * i, LS_WR, &AC), 0);
    check_tree(l);
    long calls = cnt.calls, frees = cnt.frees;
    for (int k = 0; k < 1000; k++) {
        int64_t b = 4 * (k % 999) + 2;
        assert_int_equal(ls_range_apply(&l, b, b, LS_WR, &AC), 0);
        assert_int_equal(ls_range_apply(&l, b, b, LS_UN, &AC), 0);
    }
    assert_int_equal(cnt.calls, calls + 1);     /* the first lock: the cache was empty */
    assert_int_equal(cnt.frees, frees);
    assert_int_equal(c.n, 1);
    check_tree(l);
    assert_int_equal(ls_range_count(l), 1000);
    ls_range_free_all(&l, &AC);
    assert_int_equal(c.n, 4);                   /* full; the rest went to free() */
    assert_int_equal(live(), 4);
    ls_range_cache_drain(&AC);
    assert_int_equal(c.n, 0);
    assert_null(c.nodes);
    assert_int_equal(live(), 0);
}

/* The tree stays balanced (ls_range_check fails beyond depth 200) whatever
 * the order ranges come in, and queries find the right range among
 * 100 000: ascending, descending, and interleaved. */
static void test_many(void **state)
{
    struct ls_range *l = NULL;
    enum { n = 100000 };
    for (int64_t i = 0; i < n; i++)
        apply_ok(&l, 4 * i, 4 * i + 1, (int)(i & 1));
    check_tree(l);
    assert_int_equal(ls_range_count(l), n);
    for (int64_t i = 0; i < n; i += 997) {
        const struct ls_range *r = ls_range_overlap(l, 4 * i - 2, 4 * i + 3);
        assert_non_null(r);
        assert_int_equal(r->start, 4 * i);
        assert_true(ls_range_covers(l, 4 * i, 4 * i + 1, (int)(i & 1)));
        assert_false(ls_range_covers(l, 4 * i, 4 * i + 2, (int)(i & 1)));
        assert_null(ls_range_overlap(l, 4 * i + 2, 4 * i + 3));
        r = ls_range_conflict(l, 4 * i + 2, 4 * i + 9, LS_RD);
        assert_non_null(r);
        assert_int_equal(r->type, LS_WR);
    }
    for (int64_t i = n - 1; i >= 0; i -= 2)     /* unlock every other, backwards */
        apply_ok(&l, 4 * i, 4 * i + 1, LS_UN);
    check_tree(l);
    assert_int_equal(ls_range_count(l), n / 2);
    apply_ok(&l, 0, 4 * n, LS_RD);              /* one lock replacing all */
    expect_list(l, { 0, 400000, LS_RD });
    ls_range_free_all(&l, &A);
    for (int64_t i = n - 1; i >= 0; i--)        /* descending */
        apply_ok(&l, i, i, LS_WR);
    expect_list(l, { 0, 99999, LS_WR });         /* ... each touching the last: one range */
    ls_range_free_all(&l, &A);
    for (int64_t i = n - 1; i >= 0; i--)
        apply_ok(&l, 3 * i, 3 * i, LS_WR);
    check_tree(l);
    assert_int_equal(ls_range_count(l), n);
    ls_range_free_all(&l, &A);
}

/* ------------------------------------------------------------------ */
/* Differential test against a bytemap model                            */

#define U 64            /* bytes 0..U-1 are modelled one by one ... */
#define TAIL U          /* ... and slot U stands for every offset >= U */
#define NONE (-1)

static uint64_t rng_state;
static uint64_t rnd(void)       /* splitmix64 */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Slots [lo, hi] (hi may be TAIL) of a range [s, e] in the universe. */
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

static void compare_model(const struct ls_range *l, const int m[U + 1], long step)
{
    int got[U + 1];
    const struct ls_range *p = NULL;
    int rule = ls_range_check(l);
    if (rule) {
        print_error("step %ld: ls_range_check says %d\n", step, rule);
        fail();
    }
    for (int i = 0; i <= U; i++)
        got[i] = NONE;
    for (; l; p = l, l = l->next) {
        int lo, hi;
        if (!(l->start >= 0 && l->start <= U && l->start <= l->end &&
              (l->end < U || l->end == MAX) && (l->type == LS_RD || l->type == LS_WR))) {
            print_error("step %ld: bad range [%lld,%lld] type %d\n", step,
                        (long long)l->start, (long long)l->end, l->type);
            fail();
        }
        if (p && !(p->end < l->start)) {
            print_error("step %ld: unsorted/overlapping [%lld,%lld] [%lld,%lld]\n", step,
                        (long long)p->start, (long long)p->end, (long long)l->start, (long long)l->end);
            fail();
        }
        if (p && p->type == l->type && p->end == l->start - 1) {
            print_error("step %ld: unmerged [%lld,%lld] [%lld,%lld] type %d\n", step,
                        (long long)p->start, (long long)p->end, (long long)l->start,
                        (long long)l->end, l->type);
            fail();
        }
        slots(l->start, l->end, &lo, &hi);
        for (int i = lo; i <= hi; i++)
            got[i] = l->type;
    }
    for (int i = 0; i <= U; i++)
        if (got[i] != m[i]) {
            print_error("step %ld: slot %d is %d, model says %d\n", step, i, got[i], m[i]);
            fail();
        }
}

static void random_range(int64_t *s, int64_t *e)
{
    int a = (int)(rnd() % (U + 1));
    if (a == U || rnd() % 4 == 0) {
        *s = a;
        *e = MAX;
        return;
    }
    int len = rnd() % 3 == 0 ? (int)(rnd() % U) : (int)(rnd() % 6);
    int b = a + len;
    *s = a;
    *e = b >= U ? U - 1 : b;
}

/* Queries against the model: the lowest qualifying slot must lie in the
 * returned range, and no slot qualifies if NULL is returned. */
static void check_queries(const struct ls_range *l, const int m[U + 1])
{
    int64_t s, e;
    int lo, hi, t = rnd() % 2 ? LS_WR : LS_RD;
    int first_any = -1, first_conf = -1, all = 1;
    const struct ls_range *r;

    random_range(&s, &e);
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
        assert_null(r);
    else {
        assert_non_null(r);
        assert_true(r->start <= first_any && (r->end >= first_any));
    }
    r = ls_range_conflict(l, s, e, t);
    if (first_conf < 0)
        assert_null(r);
    else {
        assert_non_null(r);
        assert_true(r->start <= first_conf && r->end >= first_conf);
        assert_true(ls_type_conflicts(r->type, t));
    }
    assert_int_equal(ls_range_covers(l, s, e, t), all);
}

static void test_differential(void **state)
{
    int m[U + 1];
    struct ls_range *l = NULL;
    size_t longest = 0;
    long counts[3] = { 0, 0, 0 };

    rng_state = 0x6c6f636b73636f70ULL;  /* deterministic */
    for (int i = 0; i <= U; i++)
        m[i] = NONE;

    for (long step = 0; step < 100000; step++) {
        int64_t s, e;
        uint64_t k = rnd() % 10;
        int t = k < 4 ? LS_RD : k < 8 ? LS_WR : LS_UN;
        random_range(&s, &e);
        if (rnd() % 5000 == 0)          /* now and then start afresh */
            t = LS_UN, s = 0, e = MAX;
        apply_ok(&l, s, e, t);
        model_apply(m, s, e, t);
        compare_model(l, m, step);
        assert_int_equal(live(), (long)ls_range_count(l));
        if (step % 4 == 0)
            check_queries(l, m);
        if (ls_range_count(l) > longest)
            longest = ls_range_count(l);
        counts[t]++;
    }
    /* The run actually explored long lists and all three operations. */
    assert_true(longest >= 10);
    assert_true(counts[LS_RD] > 1000 && counts[LS_WR] > 1000 && counts[LS_UN] > 1000);
    ls_range_free_all(&l, &A);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_resolve_whence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_len, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_len_overflow, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_negative_start, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_negative_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resolve_grid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_to_flock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_split_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_type_change_middle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_partial_unlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_unlock_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_unlock_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_merge, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_no_merge_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_offset_max, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apply_start_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_queries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enomem, setup, teardown),
        cmocka_unit_test_setup_teardown(test_enomem_always, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_node_needed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cache, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_differential, setup, teardown),
    };
    return cmocka_run_group_tests_name("ranges", tests, NULL, NULL);
}
