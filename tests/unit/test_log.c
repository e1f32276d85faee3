/*
 * test_log.c - hazard record formatting (shim/log.c).
 *
 * The JSON output is checked by an independent little validator below
 * (RFC 8259 grammar, UTF-8 well-formedness), which also lists the top-level
 * keys so that their presence and order can be asserted.  Buffers are
 * surrounded by canaries to catch any write outside [buf, buf + cap).
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "log.h"
#include "records.h"

/* ---- a small independent JSON validator -------------------------------- */

#define MAX_KEYS 64

struct vj {
    const unsigned char *p, *end;
    int nkeys;                          /* top-level object keys */
    char keys[MAX_KEYS][32];
    const unsigned char *val[MAX_KEYS]; /* start of each top-level value */
    size_t vlen[MAX_KEYS];
};

static int v_value(struct vj *v, int depth);

static void v_ws(struct vj *v)
{
    while (v->p < v->end && (*v->p == ' ' || *v->p == '\t' || *v->p == '\n' || *v->p == '\r'))
        v->p++;
}

static int v_utf8(struct vj *v)
{
    const unsigned char *s = v->p;
    size_t left = (size_t)(v->end - s), n;
    unsigned c = s[0], lo = 0x80, hi = 0xBF;

    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; }
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; }
    else return -1;
    if (left < n || s[1] < lo || s[1] > hi)
        return -1;
    for (size_t k = 2; k < n; k++)
        if ((s[k] & 0xC0) != 0x80)
            return -1;
    v->p += n;
    return 0;
}

static int v_string(struct vj *v, char *copy, size_t copycap)
{
    size_t w = 0;

    if (v->p >= v->end || *v->p != '"')
        return -1;
    v->p++;
    while (v->p < v->end && *v->p != '"') {
        unsigned c = *v->p;
        if (copy && w + 1 < copycap)
            copy[w++] = (char)c;
        if (c < 0x20)
            return -1;
        if (c == '\\') {
            v->p++;
            if (v->p >= v->end)
                return -1;
            c = *v->p;
            if (c == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (v->p + k >= v->end || !strchr("0123456789abcdefABCDEF", v->p[k]) || !v->p[k])
                        return -1;
                v->p += 5;
            } else if (strchr("\"\\/bfnrt", (int)c) && c) {
                v->p++;
            } else {
                return -1;
            }
        } else if (c >= 0x80) {
            if (v_utf8(v) < 0)
                return -1;
        } else {
            v->p++;
        }
    }
    if (v->p >= v->end)
        return -1;
    v->p++;
    if (copy)
        copy[w] = '\0';
    return 0;
}

static int v_digits(struct vj *v)
{
    const unsigned char *s = v->p;
    while (v->p < v->end && *v->p >= '0' && *v->p <= '9')
        v->p++;
    return v->p > s ? 0 : -1;
}

static int v_number(struct vj *v)
{
    if (v->p < v->end && *v->p == '-')
        v->p++;
    if (v->p < v->end && *v->p == '0')
        v->p++;
    else if (v_digits(v) < 0)
        return -1;
    if (v->p < v->end && *v->p == '.') {
        v->p++;
        if (v_digits(v) < 0)
            return -1;
    }
    if (v->p < v->end && (*v->p == 'e' || *v->p == 'E')) {
        v->p++;
        if (v->p < v->end && (*v->p == '+' || *v->p == '-'))
            v->p++;
        if (v_digits(v) < 0)
            return -1;
    }
    return 0;
}

static int v_word(struct vj *v, const char *w)
{
    size_t n = strlen(w);
    if ((size_t)(v->end - v->p) < n || memcmp(v->p, w, n) != 0)
        return -1;
    v->p += n;
    return 0;
}

static int v_container(struct vj *v, int depth, int obj)
{
    v->p++;
    v_ws(v);
    if (v->p < v->end && *v->p == (obj ? '}' : ']')) {
        v->p++;
        return 0;
    }
    for (;;) {
        v_ws(v);
        if (obj) {
            char key[32];
            if (v_string(v, key, sizeof key) < 0)
                return -1;
            v_ws(v);
            if (v->p >= v->end || *v->p != ':')
                return -1;
            v->p++;
            v_ws(v);
            if (depth == 0 && v->nkeys < MAX_KEYS) {
                strcpy(v->keys[v->nkeys], key);
                v->val[v->nkeys] = v->p;
            }
            if (v_value(v, depth + 1) < 0)
                return -1;
            if (depth == 0 && v->nkeys < MAX_KEYS) {
                v->vlen[v->nkeys] = (size_t)(v->p - v->val[v->nkeys]);
                v->nkeys++;
            }
        } else if (v_value(v, depth + 1) < 0) {
            return -1;
        }
        v_ws(v);
        if (v->p >= v->end)
            return -1;
        if (*v->p == ',') {
            v->p++;
            continue;
        }
        if (*v->p == (obj ? '}' : ']')) {
            v->p++;
            return 0;
        }
        return -1;
    }
}

static int v_value(struct vj *v, int depth)
{
    if (v->p >= v->end || depth > 32)
        return -1;
    switch (*v->p) {
    case '{': return v_container(v, depth, 1);
    case '[': return v_container(v, depth, 0);
    case '"': return v_string(v, NULL, 0);
    case 't': return v_word(v, "true");
    case 'f': return v_word(v, "false");
    case 'n': return v_word(v, "null");
    default:  return v_number(v);
    }
}

/* Parse s[0..n) as one JSON object; 0 when valid. */
static int validate(struct vj *v, const char *s, size_t n)
{
    memset(v, 0, sizeof *v);
    v->p = (const unsigned char *)s;
    v->end = v->p + n;
    v_ws(v);
    if (v->p >= v->end || *v->p != '{')
        return -1;
    if (v_value(v, 0) < 0)
        return -1;
    v_ws(v);
    return v->p == v->end ? 0 : -1;
}

static const char *const order[] = {
    "hazard", "action", "mode", "prog", "pid", "tid", "fd", "path", "dev", "ino",
    "type", "start", "len", "call", "site", "time", "backtrace", "detail", "repeat",
};
#define NFIELDS (sizeof order / sizeof order[0])

/* A formatted record: valid JSON, one line, ends in '\n', every key once in
 * order.  Returns the validator state for value checks. */
static void check_record(struct vj *v, const char *buf, size_t len)
{
    assert_true(len > 0);
    assert_int_equal(buf[len - 1], '\n');
    assert_null(memchr(buf, '\n', len - 1));
    if (validate(v, buf, len) != 0) {
        fprintf(stderr, "invalid JSON: %.*s\n", (int)len, buf);
        fail();
    }
    assert_int_equal(v->nkeys, NFIELDS);
    for (size_t k = 0; k < NFIELDS; k++)
        assert_string_equal(v->keys[k], order[k]);
}

/* The raw JSON text of a top-level value. */
static const char *value_of(const struct vj *v, const char *key, char *out, size_t cap)
{
    for (int k = 0; k < v->nkeys; k++)
        if (strcmp(v->keys[k], key) == 0) {
            size_t n = v->vlen[k] < cap - 1 ? v->vlen[k] : cap - 1;
            memcpy(out, v->val[k], n);
            out[n] = '\0';
            return out;
        }
    return NULL;
}

/* ---- records used below: ut_record() (records.h) -------------------------- */

/* Canaries around the buffer catch writes outside [buf, buf + cap). */
#define GUARD 64
static char arena[GUARD + 20000 + GUARD];

static char *guarded(size_t cap)
{
    memset(arena, 0xA5, sizeof arena);
    return arena + GUARD;
}

static void check_guards(size_t cap, size_t used)
{
    for (size_t i = 0; i < GUARD; i++)
        assert_int_equal((unsigned char)arena[i], 0xA5);
    for (size_t i = GUARD + cap; i < sizeof arena; i++)
        assert_int_equal((unsigned char)arena[i], 0xA5);
    /* and nothing written past the record itself */
    for (size_t i = GUARD + used; i < GUARD + cap; i++)
        assert_int_equal((unsigned char)arena[i], 0xA5);
}

/* ---- tests ------------------------------------------------------------------ */

static void test_full_record_exact(void **state)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX];
    struct vj v;
    size_t n = ls_format_json(buf, sizeof buf, &r);
    const char *want =
        "{\"hazard\":\"close-drops-lock\",\"action\":\"prevented\",\"mode\":\"fix\","
        "\"prog\":\"prog\",\"pid\":1234,\"tid\":1235,\"fd\":5,\"path\":\"/tmp/x\","
        "\"dev\":\"8:1\",\"ino\":1234,\"type\":\"write\",\"start\":0,\"len\":0,"
        "\"call\":\"close\",\"site\":\"prog+0x1234\",\"time\":1763891234.012345,"
        "\"backtrace\":[\"prog+0x1234\",\"libc.so.6+0x2a1ca\"],"
        "\"detail\":\"lock on fd 3 dropped\",\"repeat\":1}\n";

    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    check_record(&v, buf, n);
}

static void test_nulls(void **state)
{
    struct ls_record r;
    char buf[LS_RECORD_MAX];
    struct vj v;
    size_t n;
    const char *want =
        "{\"hazard\":null,\"action\":null,\"mode\":null,\"prog\":null,\"pid\":0,"
        "\"tid\":0,\"fd\":null,\"path\":null,\"dev\":null,\"ino\":null,\"type\":null,"
        "\"start\":null,\"len\":null,\"call\":null,\"site\":null,\"time\":0.000000,"
        "\"backtrace\":null,\"detail\":null,\"repeat\":1}\n";

    memset(&r, 0, sizeof r);
    n = ls_format_json(buf, sizeof buf, &r);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
    check_record(&v, buf, n);

    /* fd 0 is a descriptor, not "no descriptor"; empty backtrace is [] */
    r.has_fd = 1;
    r.backtrace = ut_bt2;
    r.n_backtrace = 0;
    r.repeat = 7;
    n = ls_format_json(buf, sizeof buf, &r);
    check_record(&v, buf, n);
    char val[64];
    assert_string_equal(value_of(&v, "fd", val, sizeof val), "0");
    assert_string_equal(value_of(&v, "backtrace", val, sizeof val), "[]");
    assert_string_equal(value_of(&v, "repeat", val, sizeof val), "7");
}

static void test_backtrace_null_entry(void **state)
{
    const char *bt[] = { "a+0x1", NULL, "c+0x3" };
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX], val[128];
    struct vj v;
    size_t n;

    r.backtrace = bt;
    r.n_backtrace = 3;
    n = ls_format_json(buf, sizeof buf, &r);
    check_record(&v, buf, n);
    assert_string_equal(value_of(&v, "backtrace", val, sizeof val),
                        "[\"a+0x1\",\"\",\"c+0x3\"]");
}

static void expect_escaped(const char *path, const char *want_value)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX], val[512];
    struct vj v;
    size_t n;

    r.path = path;
    n = ls_format_json(buf, sizeof buf, &r);
    check_record(&v, buf, n);
    assert_string_equal(value_of(&v, "path", val, sizeof val), want_value);
}

static void test_escaping(void **state)
{
    expect_escaped("a\"b\\c", "\"a\\\"b\\\\c\"");
    expect_escaped("l1\nl2\tx\ry\bz\f", "\"l1\\nl2\\tx\\ry\\bz\\f\"");
    expect_escaped("\x01\x1f\x7f/", "\"\\u0001\\u001f\\u007f/\"");
    /* well-formed UTF-8 passes through: é, €, U+1F600, U+10FFFF */
    expect_escaped("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf",
                   "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xf4\x8f\xbf\xbf\"");
    /* every byte outside well-formed UTF-8 becomes U+FFFD */
    expect_escaped("\xff", "\"\\ufffd\"");
    expect_escaped("a\x80z", "\"a\\ufffdz\"");
    expect_escaped("\xc0\x80", "\"\\ufffd\\ufffd\"");                   /* overlong NUL */
    expect_escaped("\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\"");        /* overlong / */
    expect_escaped("\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"");        /* surrogate */
    expect_escaped("\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""); /* > U+10FFFF */
    expect_escaped("x\xe2\x82", "\"x\\ufffd\\ufffd\"");                 /* cut short */
    expect_escaped("\xe2\x82(", "\"\\ufffd\\ufffd(\"");
    expect_escaped("\xf8\x88\x80\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\"");
    expect_escaped("", "\"\"");
}

static void test_escaping_all_bytes(void **state)
{
    /* Every byte value, alone and in pairs, gives valid JSON. */
    char s[3] = { 0, 0, 0 };
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX];
    struct vj v;

    for (int a = 1; a < 256; a++)
        for (int b = 0; b < 256; b++) {
            s[0] = (char)a;
            s[1] = (char)b;
            r.path = s;
            r.detail = s;
            check_record(&v, buf, ls_format_json(buf, sizeof buf, &r));
        }
}

static void test_other_strings_escaped(void **state)
{
    const char *bt[] = { "we\"ird\n" };
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX], val[128];
    struct vj v;
    size_t n;

    r.hazard = "h\"";
    r.prog = "p\\";
    r.detail = "d\x01\xff";
    r.site = "s\n";
    r.backtrace = bt;
    r.n_backtrace = 1;
    n = ls_format_json(buf, sizeof buf, &r);
    check_record(&v, buf, n);
    assert_string_equal(value_of(&v, "hazard", val, sizeof val), "\"h\\\"\"");
    assert_string_equal(value_of(&v, "prog", val, sizeof val), "\"p\\\\\"");
    assert_string_equal(value_of(&v, "detail", val, sizeof val), "\"d\\u0001\\ufffd\"");
    assert_string_equal(value_of(&v, "site", val, sizeof val), "\"s\\n\"");
    assert_string_equal(value_of(&v, "backtrace", val, sizeof val), "[\"we\\\"ird\\n\"]");
}

static void test_integers(void **state)
{
    char b[32];
    size_t n;

    memset(b, 'x', sizeof b);
    n = ls_fmt_u64(b, 0);
    assert_int_equal(n, 1);
    assert_memory_equal(b, "0x", 2);            /* no NUL written */
    n = ls_fmt_u64(b, UINT64_MAX);
    assert_int_equal(n, 20);
    assert_memory_equal(b, "18446744073709551615", 20);
    n = ls_fmt_u64(b, 10);
    assert_memory_equal(b, "10", n);
    n = ls_fmt_i64(b, INT64_MIN);
    assert_int_equal(n, 20);
    assert_memory_equal(b, "-9223372036854775808", n);
    n = ls_fmt_i64(b, INT64_MAX);
    assert_int_equal(n, 19);
    assert_memory_equal(b, "9223372036854775807", n);
    n = ls_fmt_i64(b, -1);
    assert_int_equal(n, 2);
    assert_memory_equal(b, "-1", n);
    n = ls_fmt_i64(b, 0);
    assert_int_equal(n, 1);
    assert_memory_equal(b, "0", n);
    n = ls_fmt_hex(b, 0);
    assert_int_equal(n, 1);
    assert_memory_equal(b, "0", n);
    n = ls_fmt_hex(b, UINT64_MAX);
    assert_int_equal(n, 16);
    assert_memory_equal(b, "ffffffffffffffff", n);
    n = ls_fmt_hex(b, 0x1234abcdULL);
    assert_int_equal(n, 8);
    assert_memory_equal(b, "1234abcd", n);
}

static void test_extreme_numbers(void **state)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX], val[64];
    struct vj v;
    size_t n;

    r.pid = INT_MIN;
    r.tid = INT_MAX;
    r.fd = INT_MIN;
    r.dev_major = UINT_MAX;
    r.dev_minor = 0;
    r.ino = UINT64_MAX;
    r.start = INT64_MIN;
    r.len = INT64_MAX;
    r.repeat = UINT64_MAX;
    n = ls_format_json(buf, sizeof buf, &r);
    check_record(&v, buf, n);
    assert_string_equal(value_of(&v, "pid", val, sizeof val), "-2147483648");
    assert_string_equal(value_of(&v, "tid", val, sizeof val), "2147483647");
    assert_string_equal(value_of(&v, "fd", val, sizeof val), "-2147483648");
    assert_string_equal(value_of(&v, "dev", val, sizeof val), "\"4294967295:0\"");
    assert_string_equal(value_of(&v, "ino", val, sizeof val), "18446744073709551615");
    assert_string_equal(value_of(&v, "start", val, sizeof val), "-9223372036854775808");
    assert_string_equal(value_of(&v, "len", val, sizeof val), "9223372036854775807");
    assert_string_equal(value_of(&v, "repeat", val, sizeof val), "18446744073709551615");
}

static void expect_time(int64_t sec, int32_t usec, const char *want)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX], val[64];
    struct vj v;

    r.time_sec = sec;
    r.time_usec = usec;
    check_record(&v, buf, ls_format_json(buf, sizeof buf, &r));
    assert_string_equal(value_of(&v, "time", val, sizeof val), want);
}

static void test_time(void **state)
{
    expect_time(5, 5, "5.000005");
    expect_time(1763891234, 12345, "1763891234.012345");
    expect_time(1763891234, 999999, "1763891234.999999");
    expect_time(0, 0, "0.000000");
    expect_time(0, 1, "0.000001");
    expect_time(7, 100000, "7.100000");
    /* out-of-range microseconds carry into the seconds */
    expect_time(5, 1500000, "6.500000");
    expect_time(5, -1, "4.999999");
    /* negative times keep the value exact: -1 s + 0.5 s = -0.5 s */
    expect_time(-1, 500000, "-0.500000");
    expect_time(-2, 250000, "-1.750000");
    expect_time(-3, 0, "-3.000000");
    expect_time(INT64_MIN, 0, "-9223372036854775808.000000");
    expect_time(INT64_MIN, 1, "-9223372036854775807.999999");
    expect_time(INT64_MAX, 999999, "9223372036854775807.999999");
    expect_time(INT64_MAX, 2000000, "9223372036854775807.999999");  /* saturates */
    expect_time(INT64_MIN, -1, "-9223372036854775808.000000");      /* saturates */
}

/* A record whose strings are far too long for small buffers. */
static char long_path[6000], long_detail[6000];
static const char *long_bt[40];
static char bt_store[40][200];

static struct ls_record long_record(void)
{
    struct ls_record r = ut_record();
    /* mixture of plain bytes, escapes, multi-byte UTF-8 and invalid bytes */
    static const char piece[] = "/dir\"q\\\n\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\xff\x01";
    size_t k = 0;

    while (k + sizeof piece < sizeof long_path) {
        memcpy(long_path + k, piece, sizeof piece - 1);
        k += sizeof piece - 1;
    }
    long_path[k] = '\0';
    memset(long_detail, 'd', sizeof long_detail - 1);
    long_detail[sizeof long_detail - 1] = '\0';
    long_detail[100] = '"';
    for (int j = 0; j < 40; j++) {
        snprintf(bt_store[j], sizeof bt_store[j], "/usr/lib/libsomething-%d.so+0x%x%s", j, j * 4096,
                 j % 3 == 0 ? "\xe2\x82\xac\xe2\x82\xac\\\\" : "");
        long_bt[j] = bt_store[j];
    }
    r.path = long_path;
    r.detail = long_detail;
    r.backtrace = long_bt;
    r.n_backtrace = 40;
    return r;
}

static void test_truncation_every_cap(void **state)
{
    struct ls_record r = long_record();
    struct vj v;
    char val[64];

    for (size_t cap = 256; cap <= 2000; cap++) {
        char *buf = guarded(cap);
        size_t n = ls_format_json(buf, cap, &r);
        assert_true(n > 0 && n <= cap);
        check_guards(cap, n);
        check_record(&v, buf, n);
        /* the short identifying fields always survive whole */
        assert_string_equal(value_of(&v, "hazard", val, sizeof val), "\"close-drops-lock\"");
        assert_string_equal(value_of(&v, "action", val, sizeof val), "\"prevented\"");
        assert_string_equal(value_of(&v, "call", val, sizeof val), "\"close\"");
        assert_string_equal(value_of(&v, "ino", val, sizeof val), "1234");
        assert_string_equal(value_of(&v, "time", val, sizeof val), "1763891234.012345");
        /* a good buffer is used well: at most a few bytes wasted */
        assert_true(n + 16 >= cap);
    }
}

static void test_truncation_marker(void **state)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX];
    struct vj v;
    char val[LS_RECORD_MAX];
    size_t n;

    memset(long_path, 'p', 5000);
    long_path[0] = '/';
    long_path[5000] = '\0';
    r.path = long_path;
    r.detail = "short detail";
    n = ls_format_json(buf, 1000, &r);
    check_record(&v, buf, n);
    value_of(&v, "path", val, sizeof val);
    assert_int_equal(val[0], '"');
    assert_int_equal(val[1], '/');
    assert_non_null(strstr(val, "ppp...\""));
    /* path is more important than detail: detail lost first */
    assert_string_equal(value_of(&v, "detail", val, sizeof val), "\"\"");

    /* The whole record fits at LS_RECORD_MAX: nothing cut */
    r.path = "/ok";
    r.detail = long_path;   /* 5000 bytes */
    n = ls_format_json(buf, sizeof buf, &r);
    check_record(&v, buf, n);
    value_of(&v, "detail", val, sizeof val);
    assert_int_equal(strlen(val), 5002);
}

static void test_truncation_extremes_tiny_cap(void **state)
{
    /* Absurd numbers and long strings in the smallest buffer: some numbers
     * turn into null, the record stays complete and valid. */
    struct ls_record r = long_record();
    struct vj v;
    char val[64];

    r.hazard = long_detail;
    r.action = long_detail;
    r.mode = long_detail;
    r.prog = long_detail;
    r.type = long_detail;
    r.call = long_detail;
    r.site = long_detail;
    r.pid = INT_MIN;
    r.tid = INT_MIN;
    r.fd = INT_MIN;
    r.dev_major = UINT_MAX;
    r.dev_minor = UINT_MAX;
    r.ino = UINT64_MAX;
    r.start = INT64_MIN;
    r.len = INT64_MIN;
    r.time_sec = INT64_MIN;
    r.time_usec = 1;
    r.repeat = UINT64_MAX;
    for (size_t cap = 256; cap <= 700; cap++) {
        char *buf = guarded(cap);
        size_t n = ls_format_json(buf, cap, &r);
        assert_true(n > 0 && n <= cap);
        check_guards(cap, n);
        check_record(&v, buf, n);
    }
    /* with every string NULL too */
    memset(&r, 0, sizeof r);
    r.pid = INT_MIN;
    r.tid = INT_MIN;
    r.has_fd = r.has_devino = r.has_range = 1;
    r.fd = INT_MIN;
    r.dev_major = r.dev_minor = UINT_MAX;
    r.ino = UINT64_MAX;
    r.start = r.len = INT64_MIN;
    r.time_sec = INT64_MIN;
    r.time_usec = 1;
    r.repeat = UINT64_MAX;
    {
        char *buf = guarded(256);
        size_t n = ls_format_json(buf, 256, &r);
        assert_true(n > 0 && n <= 256);
        check_guards(256, n);
        check_record(&v, buf, n);
        /* something had to give: the skeleton alone is 364 bytes; the
         * longest number goes first */
        assert_string_equal(value_of(&v, "time", val, sizeof val), "null");
        assert_string_equal(value_of(&v, "hazard", val, sizeof val), "null");
    }
}

static void test_small_cap_refused(void **state)
{
    struct ls_record r = ut_record();
    char *buf = guarded(255);

    assert_int_equal(ls_format_json(buf, 255, &r), 0);
    assert_int_equal(ls_format_text(buf, 255, &r), 0);
    check_guards(255, 0);
    assert_int_equal(ls_format_json(NULL, 1000, &r), 0);
}

static void test_text_full(void **state)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX];
    size_t n = ls_format_text(buf, sizeof buf, &r);
    const char *want =
        "lockscope[prog:1234/1235]: close-drops-lock prevented (fix): close(fd=5) "
        "/tmp/x [8:1 ino 1234] write 0+0 at prog+0x1234 -- lock on fd 3 dropped "
        "bt: prog+0x1234 libc.so.6+0x2a1ca\n";

    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);

    r.repeat = 3;
    r.backtrace = NULL;
    r.start = 100;
    r.len = 20;
    n = ls_format_text(buf, sizeof buf, &r);
    want = "lockscope[prog:1234/1235]: close-drops-lock prevented (fix): close(fd=5) "
           "/tmp/x [8:1 ino 1234] write 100+20 at prog+0x1234 -- lock on fd 3 dropped (x3)\n";
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
}

static void test_text_minimal(void **state)
{
    struct ls_record r;
    char buf[LS_RECORD_MAX];
    size_t n;
    const char *want = "lockscope[42/43]: ? ?: ?()\n";

    memset(&r, 0, sizeof r);
    r.pid = 42;
    r.tid = 43;
    n = ls_format_text(buf, sizeof buf, &r);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);

    r.hazard = "lock-eintr";
    r.action = "observed";
    r.call = "fcntl";
    r.has_fd = 1;
    r.fd = 0;
    want = "lockscope[42/43]: lock-eintr observed: fcntl(fd=0)\n";
    n = ls_format_text(buf, sizeof buf, &r);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(buf, want, n);
}

static void test_text_escaping(void **state)
{
    struct ls_record r = ut_record();
    char buf[LS_RECORD_MAX];
    size_t n;

    r.path = "/a\nb\\c\x01\x7f\xff\xc3\xa9\xc2\x85 d";
    r.detail = "two\nlines";
    r.backtrace = NULL;
    n = ls_format_text(buf, sizeof buf, &r);
    assert_int_equal(buf[n - 1], '\n');
    assert_null(memchr(buf, '\n', n - 1));
    buf[n] = '\0';
    assert_non_null(strstr(buf, " /a\\x0ab\\\\c\\x01\\x7f\\xff\xc3\xa9\\xc2\\x85 d [8:1"));
    assert_non_null(strstr(buf, "-- two\\x0alines\n"));
}

static void test_text_truncation(void **state)
{
    struct ls_record r = long_record();

    for (size_t cap = 256; cap <= 2000; cap++) {
        char *buf = guarded(cap);
        size_t n = ls_format_text(buf, cap, &r);
        assert_true(n > 0 && n <= cap);
        check_guards(cap, n);
        assert_int_equal(buf[n - 1], '\n');
        assert_null(memchr(buf, '\n', n - 1));
        assert_memory_equal(buf, "lockscope[prog:1234/1235]: close-drops-lock prevented", 53);
    }
    {
        char *buf = guarded(1000);
        size_t n = ls_format_text(buf, 1000, &r);
        assert_memory_equal(buf + n - 4, "...\n", 4);
        buf[n] = '\0';
        /* the path gets at most half, so the detail starts */
        assert_non_null(strstr(buf, " -- ddd"));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_record_exact),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_backtrace_null_entry),
        cmocka_unit_test(test_escaping),
        cmocka_unit_test(test_escaping_all_bytes),
        cmocka_unit_test(test_other_strings_escaped),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_extreme_numbers),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_truncation_every_cap),
        cmocka_unit_test(test_truncation_marker),
        cmocka_unit_test(test_truncation_extremes_tiny_cap),
        cmocka_unit_test(test_small_cap_refused),
        cmocka_unit_test(test_text_full),
        cmocka_unit_test(test_text_minimal),
        cmocka_unit_test(test_text_escaping),
        cmocka_unit_test(test_text_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
