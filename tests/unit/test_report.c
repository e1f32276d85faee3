/*
 * test_report.c - `lockscope report` (cmd/report.c): the record parser, the
 * aggregate, and the command end to end on logs made by ls_format_json.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"
#include "report.h"
#include "records.h"

/* ---- helpers ------------------------------------------------------------- */

static int parse(const char *line, struct ls_rep_record *r, const char **why)
{
    return ls_rep_parse_line(line, strlen(line), r, why);
}

static void expect_bad(const char *line, const char *why_part)
{
    struct ls_rep_record r;
    const char *why = NULL;

    if (parse(line, &r, &why) == 0) {
        fprintf(stderr, "accepted: %s\n", line);
        ls_rep_record_free(&r);
        fail();
    }
    assert_non_null(why);
    if (why_part && !strstr(why, why_part)) {
        fprintf(stderr, "line %s: reason '%s', expected '%s'\n", line, why, why_part);
        fail();
    }
    assert_null(r.hazard);
    assert_null(r.backtrace);
}

/* ut_record, its lock starting at 10 */
static struct ls_record sample(void)
{
    struct ls_record r = ut_record();
    r.start = 10;
    return r;
}

static size_t fmt(char *buf, const struct ls_record *r)
{
    size_t n = ls_format_json(buf, LS_RECORD_MAX, r);
    assert_true(n > 0);
    return n;
}

/* ---- JSON checker ---------------------------------------------------------- */

static void test_json_valid(void **state)
{
    static const char *const good[] = {
        "{}", " [ ] ", "0", "-0", "-1.5e+10", "1E3", "\"\"", "\"\\u00e9\\ud83d\\ude00\"",
        "true", "false", "null", "{\"a\":[1,{\"b\":null}],\"c\":\"\\\"\"}\n",
        "\"\xc3\xa9\xf4\x8f\xbf\xbf\"",
    };
    static const char *const bad[] = {
        "", " ", "{", "}", "[1,]", "{\"a\":1,}", "{\"a\"}", "{a:1}", "01", "1.", ".5",
        "-", "1e", "+1", "tru", "nul", "\"abc", "\"\\x\"", "\"\\u12\"", "\"\\u12g4\"",
        "\"\x01\"", "\"\xff\"", "\"\xc0\x80\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "{} {}", "[1] x", "NaN", "'a'",
    };

    for (size_t k = 0; k < sizeof good / sizeof good[0]; k++)
        if (!ls_json_valid(good[k], strlen(good[k]))) {
            fprintf(stderr, "rejected: %s\n", good[k]);
            fail();
        }
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (ls_json_valid(bad[k], strlen(bad[k]))) {
            fprintf(stderr, "accepted: %s\n", bad[k]);
            fail();
        }
    assert_false(ls_json_valid("\"a\0b\"", 5));     /* raw NUL */

    /* nesting: 64 levels fine, 65 not */
    char deep[300];
    memset(deep, '[', 64);
    memset(deep + 64, ']', 64);
    assert_true(ls_json_valid(deep, 128));
    memset(deep, '[', 65);
    memset(deep + 65, ']', 65);
    assert_false(ls_json_valid(deep, 130));
    memset(deep, '[', 300);
    assert_false(ls_json_valid(deep, 300));
}

/* ---- one record --------------------------------------------------------------- */

static void test_parse_formatted(void **state)
{
    struct ls_record in = sample();
    struct ls_rep_record r;
    char buf[LS_RECORD_MAX];
    size_t n = fmt(buf, &in);
    const char *why;

    /* with and without the newline */
    assert_int_equal(ls_rep_parse_line(buf, n, &r, &why), 0);
    ls_rep_record_free(&r);
    assert_int_equal(ls_rep_parse_line(buf, n - 1, &r, &why), 0);
    assert_string_equal(r.hazard, "close-drops-lock");
    assert_string_equal(r.action, "prevented");
    assert_string_equal(r.mode, "fix");
    assert_string_equal(r.prog, "prog");
    assert_true(r.has_pid && r.pid == 1234);
    assert_true(r.has_tid && r.tid == 1235);
    assert_true(r.has_fd && r.fd == 5);
    assert_string_equal(r.path, "/tmp/x");
    assert_string_equal(r.dev, "8:1");
    assert_true(r.has_ino && r.ino == 1234);
    assert_string_equal(r.type, "write");
    assert_true(r.has_start && r.start == 10);
    assert_true(r.has_len && r.len == 0);
    assert_string_equal(r.call, "close");
    assert_string_equal(r.site, "prog+0x1234");
    assert_true(r.has_time);
    assert_int_equal(r.time_sec, 1763891234);
    assert_int_equal(r.time_usec, 12345);
    assert_int_equal(r.n_backtrace, 2);
    assert_string_equal(r.backtrace[0], "prog+0x1234");
    assert_string_equal(r.backtrace[1], "libc.so.6+0x2a1ca");
    assert_string_equal(r.detail, "lock on fd 3 dropped");
    assert_int_equal(r.repeat, 1);
    ls_rep_record_free(&r);
    assert_null(r.hazard);
}

static void test_parse_nulls_and_missing(void **state)
{
    struct ls_record in;
    struct ls_rep_record r;
    char buf[LS_RECORD_MAX];
    size_t n;

    memset(&in, 0, sizeof in);
    in.hazard = "lock-eintr";
    n = fmt(buf, &in);
    assert_int_equal(ls_rep_parse_line(buf, n, &r, NULL), 0);
    assert_string_equal(r.hazard, "lock-eintr");
    assert_null(r.action);
    assert_null(r.path);
    assert_null(r.dev);
    assert_false(r.has_fd);
    assert_false(r.has_ino);
    assert_false(r.has_start);
    assert_false(r.has_len);
    assert_null(r.backtrace);
    assert_true(r.has_pid);
    ls_rep_record_free(&r);

    /* only the hazard */
    assert_int_equal(parse("{\"hazard\":\"x\"}", &r, NULL), 0);
    assert_string_equal(r.hazard, "x");
    assert_false(r.has_pid);
    assert_false(r.has_time);
    assert_int_equal(r.repeat, 1);
    ls_rep_record_free(&r);

    /* empty backtrace is present, not null */
    assert_int_equal(parse("{\"hazard\":\"x\",\"backtrace\":[]}", &r, NULL), 0);
    assert_non_null(r.backtrace);
    assert_int_equal(r.n_backtrace, 0);
    ls_rep_record_free(&r);
}

static void test_parse_extra_and_reordered(void **state)
{
    struct ls_rep_record r;

    assert_int_equal(parse(" {\"version\":2,\"repeat\":3,\"extra\":{\"a\":[1,2,{\"b\":[]}],"
                           "\"c\":true},\"path\":\"/p\",\"list\":[\"x\",null,false],"
                           "\"pid\":-7,\"hazard\":\"flock-fcntl-mix\",\"e\":1.5e-3,"
                           "\"action\":\"refused\",\"f\":\"\\u00e9\"}\r\n", &r, NULL), 0);
    assert_string_equal(r.hazard, "flock-fcntl-mix");
    assert_string_equal(r.action, "refused");
    assert_string_equal(r.path, "/p");
    assert_true(r.has_pid && r.pid == -7);
    assert_int_equal(r.repeat, 3);
    ls_rep_record_free(&r);

    /* duplicate fields: the last counts, nothing leaks */
    assert_int_equal(parse("{\"hazard\":\"a\",\"hazard\":\"b\",\"path\":\"/1\",\"path\":null,"
                           "\"backtrace\":[\"q\"],\"backtrace\":[\"r\",\"s\"],"
                           "\"pid\":1,\"pid\":\"x\"}", &r, NULL), 0);
    assert_string_equal(r.hazard, "b");
    assert_null(r.path);
    assert_int_equal(r.n_backtrace, 2);
    assert_string_equal(r.backtrace[0], "r");
    assert_false(r.has_pid);
    ls_rep_record_free(&r);

    /* wrong types read as missing; non-string backtrace entries are left out */
    assert_int_equal(parse("{\"hazard\":\"x\",\"path\":5,\"fd\":\"3\",\"ino\":-1,"
                           "\"backtrace\":[1,\"a\",null,[\"b\"]],\"repeat\":\"9\","
                           "\"time\":\"now\",\"dev\":[1]}", &r, NULL), 0);
    assert_null(r.path);
    assert_false(r.has_fd);
    assert_false(r.has_ino);
    assert_int_equal(r.n_backtrace, 1);
    assert_string_equal(r.backtrace[0], "a");
    assert_int_equal(r.repeat, 1);
    assert_false(r.has_time);
    assert_null(r.dev);
    ls_rep_record_free(&r);
}

static void test_parse_escapes(void **state)
{
    struct ls_rep_record r;

    assert_int_equal(parse("{\"hazard\":\"x\",\"path\":\"/a\\\"b\\\\c\\/d\\n\\t\\r\\b\\f"
                           "\\u00e9\\u20AC\\ud83d\\ude00\"}", &r, NULL), 0);
    assert_string_equal(r.path, "/a\"b\\c/d\n\t\r\b\f\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
    ls_rep_record_free(&r);

    /* NUL, lone surrogates and reversed pairs read as U+FFFD */
    assert_int_equal(parse("{\"hazard\":\"x\",\"path\":\"a\\u0000b\\ud800c\\udc00\\ude00\\ud83d\","
                           "\"detail\":\"\\ud83d\\u0041\"}", &r, NULL), 0);
    assert_string_equal(r.path, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
    assert_string_equal(r.detail, "\xef\xbf\xbd" "A");
    ls_rep_record_free(&r);

    /* raw UTF-8 is kept */
    assert_int_equal(parse("{\"hazard\":\"\xc3\xa9t\xc3\xa9\"}", &r, NULL), 0);
    assert_string_equal(r.hazard, "\xc3\xa9t\xc3\xa9");
    ls_rep_record_free(&r);
}

static void test_parse_numbers(void **state)
{
    struct ls_rep_record r;

    assert_int_equal(parse("{\"hazard\":\"x\",\"start\":-9223372036854775808,"
                           "\"len\":9223372036854775807,\"ino\":18446744073709551615,"
                           "\"pid\":0,\"fd\":-0,\"repeat\":18446744073709551615}", &r, NULL), 0);
    assert_true(r.has_start && r.start == INT64_MIN);
    assert_true(r.has_len && r.len == INT64_MAX);
    assert_true(r.has_ino && r.ino == UINT64_MAX);
    assert_true(r.has_pid && r.pid == 0);
    assert_true(r.has_fd && r.fd == 0);
    assert_true(r.repeat == UINT64_MAX);
    ls_rep_record_free(&r);

    assert_int_equal(parse("{\"hazard\":\"x\",\"start\":-9223372036854775809,"
                           "\"len\":9223372036854775808,\"ino\":18446744073709551616,"
                           "\"pid\":1.5,\"fd\":1e2,\"repeat\":0}", &r, NULL), 0);
    assert_false(r.has_start);
    assert_false(r.has_len);
    assert_false(r.has_ino);
    assert_false(r.has_pid);
    assert_false(r.has_fd);
    assert_int_equal(r.repeat, 1);
    ls_rep_record_free(&r);

    static const struct { const char *t; int64_t sec; int32_t usec; } times[] = {
        { "1763891234.012345", 1763891234, 12345 },
        { "5.000005", 5, 5 },
        { "5", 5, 0 },
        { "5.5", 5, 500000 },
        { "5.1234567", 5, 123456 },
        { "-0.5", -1, 500000 },
        { "-1.750000", -2, 250000 },
        { "-3", -3, 0 },
        { "1.5e3", 1500, 0 },
        { "-9223372036854775808.000000", INT64_MIN, 0 },
        { "9223372036854775807.999999", INT64_MAX, 999999 },
    };
    for (size_t k = 0; k < sizeof times / sizeof times[0]; k++) {
        char line[128];
        snprintf(line, sizeof line, "{\"hazard\":\"x\",\"time\":%s}", times[k].t);
        assert_int_equal(parse(line, &r, NULL), 0);
        assert_true(r.has_time);
        assert_int_equal(r.time_sec, times[k].sec);
        assert_int_equal(r.time_usec, times[k].usec);
        ls_rep_record_free(&r);
    }
    assert_int_equal(parse("{\"hazard\":\"x\",\"time\":9223372036854775808}", &r, NULL), 0);
    assert_false(r.has_time);
    ls_rep_record_free(&r);

    /* what the formatter writes for any time reads back exactly */
    static const int64_t secs[] = { 0, 1, -1, -2, 1763891234, INT64_MAX, INT64_MIN };
    static const int32_t usecs[] = { 0, 1, 5, 499999, 500000, 999999 };
    for (size_t a = 0; a < sizeof secs / sizeof secs[0]; a++)
        for (size_t b = 0; b < sizeof usecs / sizeof usecs[0]; b++) {
            struct ls_record in = sample();
            char buf[LS_RECORD_MAX];
            size_t n;
            in.time_sec = secs[a];
            in.time_usec = usecs[b];
            n = fmt(buf, &in);
            assert_int_equal(ls_rep_parse_line(buf, n, &r, NULL), 0);
            assert_int_equal(r.time_sec, secs[a]);
            assert_int_equal(r.time_usec, usecs[b]);
            ls_rep_record_free(&r);
        }
}

static void test_parse_garbage(void **state)
{
    expect_bad("", "not a JSON object");
    expect_bad("hello", "not a JSON object");
    expect_bad("[]", "not a JSON object");
    expect_bad("\"x\"", "not a JSON object");
    expect_bad("{}", "hazard");
    expect_bad("{\"hazard\":1}", "hazard");
    expect_bad("{\"hazard\":null}", "hazard");
    expect_bad("{\"hazard\":\"\"}", "hazard");
    expect_bad("{\"hazard\":\"x\"} trailing", "after");
    expect_bad("{\"hazard\":\"x\"}{\"hazard\":\"y\"}", "after");
    expect_bad("{\"hazard\":\"x\",}", NULL);
    expect_bad("{\"hazard\" \"x\"}", "':'");
    expect_bad("{\"hazard\":\"x\" \"pid\":1}", NULL);
    expect_bad("{hazard:\"x\"}", NULL);
    expect_bad("{\"hazard\":\"x\",\"pid\":01}", NULL);
    expect_bad("{\"hazard\":\"x\",\"pid\":-}", NULL);
    expect_bad("{\"hazard\":\"x\",\"pid\":tru}", NULL);
    expect_bad("{\"hazard\":\"x\",\"path\":\"a\\qb\"}", "escape");
    expect_bad("{\"hazard\":\"x\",\"path\":\"a\\u12\"}", "\\u");
    expect_bad("{\"hazard\":\"x\",\"path\":\"a\tb\"}", "control");
    expect_bad("{\"hazard\":\"x\",\"path\":\"\xff\"}", "UTF-8");
    expect_bad("{\"hazard\":\"\xc0\x80\"}", "UTF-8");
    expect_bad("{\"hazard\":\"x\",\"backtrace\":[\"a\",]}", NULL);
    expect_bad("{\"hazard\":\"x\",\"backtrace\":[\"a\"}", NULL);
    expect_bad("{\"hazard\":\"x\",\"extra\":{\"a\":1]}", NULL);

    /* a NUL byte inside the line */
    struct ls_rep_record r;
    const char *why;
    assert_int_equal(ls_rep_parse_line("{\"hazard\":\"a\0b\"}", 16, &r, &why), -1);
    assert_int_equal(ls_rep_parse_line("{\"hazard\":\"ab\"}\0", 16, &r, &why), -1);

    /* nesting too deep in an extra field */
    char deep[400];
    int k = snprintf(deep, sizeof deep, "{\"hazard\":\"x\",\"e\":");
    memset(deep + k, '[', 100);
    memset(deep + k + 100, ']', 100);
    strcpy(deep + k + 200, "}");
    expect_bad(deep, "deep");
    /* but a reasonable depth is fine */
    k = snprintf(deep, sizeof deep, "{\"hazard\":\"x\",\"e\":");
    memset(deep + k, '[', 20);
    memset(deep + k + 20, ']', 20);
    strcpy(deep + k + 40, "}");
    assert_int_equal(parse(deep, &r, NULL), 0);
    ls_rep_record_free(&r);
}

static void test_parse_truncated_everywhere(void **state)
{
    /* Every proper prefix of a record is rejected, and nothing leaks. */
    struct ls_record in = sample();
    struct ls_rep_record r;
    char buf[LS_RECORD_MAX];
    size_t n;
    const char *why;

    in.path = "/t\xc3\xa9st\n\"q\"\x01";
    n = fmt(buf, &in) - 1;      /* without the newline */
    for (size_t k = 0; k < n; k++) {
        int rc = ls_rep_parse_line(buf, k, &r, &why);
        assert_int_equal(rc, -1);
    }
    assert_int_equal(ls_rep_parse_line(buf, n, &r, &why), 0);
    assert_string_equal(r.path, "/t\xc3\xa9st\n\"q\"\x01");
    ls_rep_record_free(&r);
}

static void test_parse_binary(void **state)
{
    /* Pseudo-random bytes, and bytes spliced into a good record. */
    struct ls_record in = sample();
    struct ls_rep_record r;
    char good[LS_RECORD_MAX], line[LS_RECORD_MAX];
    size_t n = fmt(good, &in) - 1;
    uint32_t seed = 12345;

    for (int iter = 0; iter < 20000; iter++) {
        size_t len;
        seed = seed * 1103515245u + 12345u;
        if (iter % 2) {
            len = (seed >> 8) % 300;
            for (size_t k = 0; k < len; k++) {
                seed = seed * 1103515245u + 12345u;
                line[k] = (char)(seed >> 16);
            }
        } else {
            memcpy(line, good, n);
            len = n;
            for (int m = 0; m < 3; m++) {
                seed = seed * 1103515245u + 12345u;
                line[(seed >> 8) % n] = (char)(seed >> 20);
            }
        }
        if (ls_rep_parse_line(line, len, &r, NULL) == 0) {
            assert_non_null(r.hazard);
            assert_true(ls_json_valid(line, len));
            ls_rep_record_free(&r);
        }
    }
}

/* The formatter's output, cut to any buffer size, always reads back. */
static void test_roundtrip_truncated(void **state)
{
    static char path[3000];
    struct ls_record in = sample();
    struct ls_rep_record r;
    char buf[LS_RECORD_MAX];

    for (size_t k = 0; k < sizeof path - 1; k++)
        path[k] = (char)("ab\"\\\n\xc3\xa9\xff/"[k % 10]);
    path[sizeof path - 1] = '\0';
    in.path = path;
    in.detail = path;
    for (size_t cap = 256; cap < 7000; cap += 7) {
        size_t n = ls_format_json(buf, cap, &in);
        assert_true(n > 0 && n <= cap);
        assert_true(ls_json_valid(buf, n));
        assert_int_equal(ls_rep_parse_line(buf, n, &r, NULL), 0);
        assert_string_equal(r.hazard, "close-drops-lock");
        assert_true(r.has_ino && r.ino == 1234);
        ls_rep_record_free(&r);
    }
}

/* ---- the aggregate -------------------------------------------------------------- */

static void add_line(struct ls_rep *rep, const char *line)
{
    struct ls_rep_record r;
    assert_int_equal(parse(line, &r, NULL), 0);
    ls_rep_add(rep, &r);
    ls_rep_record_free(&r);
}

static void test_aggregate(void **state)
{
    struct ls_rep *rep = ls_rep_new();

    add_line(rep, "{\"hazard\":\"close-drops-lock\",\"action\":\"prevented\",\"pid\":1,"
                  "\"path\":\"/a\",\"dev\":\"8:1\",\"ino\":10,\"site\":\"p+0x1\",\"time\":100.5}");
    add_line(rep, "{\"hazard\":\"close-drops-lock\",\"action\":\"observed\",\"pid\":2,"
                  "\"path\":\"/a\",\"dev\":\"8:1\",\"ino\":10,\"site\":\"p+0x1\",\"repeat\":4}");
    add_line(rep, "{\"hazard\":\"close-drops-lock\",\"action\":\"prevented\",\"pid\":1,"
                  "\"path\":\"/a\",\"dev\":\"8:1\",\"ino\":11,\"site\":\"p+0x2\",\"repeat\":0}");
    add_line(rep, "{\"hazard\":\"flock-fcntl-mix\",\"action\":\"refused\",\"pid\":3,"
                  "\"path\":\"/b\",\"site\":\"p+0x1\",\"repeat\":10}");
    add_line(rep, "{\"hazard\":\"lock-eintr\",\"action\":\"weird\"}");

    assert_int_equal(ls_rep_records(rep), 5);
    assert_int_equal(ls_rep_total(rep), 1 + 4 + 1 + 10 + 1);
    assert_int_equal(ls_rep_hazard_count(rep, "close-drops-lock", NULL), 6);
    assert_int_equal(ls_rep_hazard_count(rep, "close-drops-lock", "prevented"), 2);
    assert_int_equal(ls_rep_hazard_count(rep, "close-drops-lock", "observed"), 4);
    assert_int_equal(ls_rep_hazard_count(rep, "close-drops-lock", "refused"), 0);
    assert_int_equal(ls_rep_hazard_count(rep, "flock-fcntl-mix", "refused"), 10);
    assert_int_equal(ls_rep_hazard_count(rep, "lock-eintr", "other"), 1);
    assert_int_equal(ls_rep_hazard_count(rep, "nope", NULL), 0);
    assert_int_equal(ls_rep_hazard_npids(rep, "close-drops-lock"), 2);
    assert_int_equal(ls_rep_hazard_npids(rep, "lock-eintr"), 0);
    assert_int_equal(ls_rep_file_count(rep, "/a"), 6);      /* two inodes */
    assert_int_equal(ls_rep_file_count(rep, "/b"), 10);
    assert_int_equal(ls_rep_file_count(rep, NULL), 1);
    assert_int_equal(ls_rep_site_count(rep, "p+0x1"), 15);
    assert_int_equal(ls_rep_site_count(rep, "p+0x2"), 1);
    assert_int_equal(ls_rep_site_count(rep, NULL), 1);

    /* counts saturate instead of wrapping */
    add_line(rep, "{\"hazard\":\"lock-eintr\",\"repeat\":18446744073709551615}");
    assert_true(ls_rep_hazard_count(rep, "lock-eintr", NULL) == UINT64_MAX);
    assert_true(ls_rep_total(rep) == UINT64_MAX);
    ls_rep_free(rep);
}

static void test_feed_lines(void **state)
{
    struct ls_rep *rep = ls_rep_new();
    const char *log =
        "{\"hazard\":\"a\",\"pid\":1}\n"
        "\n"
        "   \r\n"
        "garbage\n"
        "{\"hazard\":\"a\",\"pid\":2}\r\n"
        "\x01\x02\xff\xfe\n"
        "{\"hazard\":\"b\",\"repeat\":3}\n"
        "{\"hazard\":\"a\",\"pid\":3";          /* cut short, no newline */

    ls_rep_feed(rep, "mem", log, strlen(log));
    assert_int_equal(ls_rep_records(rep), 3);
    assert_int_equal(ls_rep_total(rep), 5);
    assert_int_equal(ls_rep_skipped(rep), 3);
    assert_int_equal(ls_rep_hazard_count(rep, "a", NULL), 2);

    /* a complete last line without its newline counts */
    ls_rep_feed(rep, "mem2", "{\"hazard\":\"a\"}", 14);
    assert_int_equal(ls_rep_hazard_count(rep, "a", NULL), 3);
    /* nothing at all */
    ls_rep_feed(rep, "empty", "", 0);
    assert_int_equal(ls_rep_records(rep), 4);
    ls_rep_free(rep);
}

static void test_feed_huge_line(void **state)
{
    size_t big = LS_REPORT_LINE_MAX + 100;
    char *data = malloc(big + 200);
    struct ls_rep *rep = ls_rep_new();
    size_t n = 0;

    assert_non_null(data);
    n += (size_t)sprintf(data, "{\"hazard\":\"x\",\"detail\":\"");
    memset(data + n, 'z', big);
    n += big;
    n += (size_t)sprintf(data + n, "\"}\n{\"hazard\":\"after\"}\n");
    ls_rep_feed(rep, "big", data, n);
    assert_int_equal(ls_rep_skipped(rep), 1);
    assert_int_equal(ls_rep_hazard_count(rep, "after", NULL), 1);
    assert_int_equal(ls_rep_hazard_count(rep, "x", NULL), 0);

    /* exactly at the limit is still read */
    struct ls_rep *rep2 = ls_rep_new();
    size_t head = (size_t)sprintf(data, "{\"hazard\":\"y\",\"detail\":\"");
    memset(data + head, 'z', LS_REPORT_LINE_MAX - head - 2);
    memcpy(data + LS_REPORT_LINE_MAX - 2, "\"}\n", 3);
    ls_rep_feed(rep2, "limit", data, LS_REPORT_LINE_MAX + 1);
    assert_int_equal(ls_rep_hazard_count(rep2, "y", NULL), 1);
    assert_int_equal(ls_rep_skipped(rep2), 0);

    /* a huge last line without newline is dropped too */
    ls_rep_feed(rep2, "limit", data, LS_REPORT_LINE_MAX + 1);
    memset(data, 'q', big);
    ls_rep_feed(rep2, "nonl", data, big);
    assert_int_equal(ls_rep_skipped(rep2), 1);
    ls_rep_free(rep2);
    ls_rep_free(rep);
    free(data);
}

/* ---- end to end --------------------------------------------------------------- */

static char tmpdir[] = "/tmp/test_report.XXXXXX";

static int setup_dir(void **state)
{
    return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static char *path_in_tmp(const char *name)
{
    static char p[16][256];
    static int k;
    k = (k + 1) % 16;
    snprintf(p[k], sizeof p[k], "%s/%s", tmpdir, name);
    return p[k];
}

static void write_file(const char *path, const char *data, size_t n)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

/* Run the command; its stdout and stderr end up in *out and *err (malloc'd). */
static int run_report(int argc, char **argv, char **out, char **err, const char *stdin_file)
{
    char *op = path_in_tmp("stdout"), *ep = path_in_tmp("stderr");
    int ofd = open(op, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int efd = open(ep, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int so, se, si = -1, rc;
    FILE *f;
    long n;

    assert_true(ofd >= 0 && efd >= 0);
    fflush(stdout);
    fflush(stderr);
    so = dup(1);
    se = dup(2);
    dup2(ofd, 1);
    dup2(efd, 2);
    if (stdin_file) {
        int ifd = open(stdin_file, O_RDONLY);
        assert_true(ifd >= 0);
        si = dup(0);
        dup2(ifd, 0);
        close(ifd);
        clearerr(stdin);
    }
    rc = lockscope_report_main(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(so, 1);
    dup2(se, 2);
    close(so);
    close(se);
    if (si >= 0) {
        dup2(si, 0);
        close(si);
        clearerr(stdin);
    }
    close(ofd);
    close(efd);

    for (int k = 0; k < 2; k++) {
        char **dst = k ? err : out;
        f = fopen(k ? ep : op, "r");
        assert_non_null(f);
        fseek(f, 0, SEEK_END);
        n = ftell(f);
        rewind(f);
        *dst = malloc((size_t)n + 1);
        assert_non_null(*dst);
        assert_int_equal(fread(*dst, 1, (size_t)n, f), (size_t)n);
        (*dst)[n] = '\0';
        fclose(f);
    }
    return rc;
}

static void expect_in(const char *hay, const char *needle)
{
    if (strstr(hay, needle) == NULL) {
        fprintf(stderr, "missing \"%s\" in:\n%s\n", needle, hay);
        fail();
    }
}

/* Two logs from several processes, interleaved, with damage. */
static void make_logs(char **a, char **b)
{
    char buf[LS_RECORD_MAX];
    char *log = malloc(200 * LS_RECORD_MAX);
    size_t n = 0;
    struct ls_record r;

    assert_non_null(log);
    /* log A: 12 close-drops-lock from pids 100..111 (prevented) on /data/db,
     * 3 flock-fcntl-mix refused x repeat 2 from pid 200, a garbage line and
     * a cut last line. */
    for (int k = 0; k < 12; k++) {
        r = sample();
        r.pid = 100 + k;
        r.tid = 100 + k;
        r.path = "/data/db";
        r.time_sec = 1700000000 + k;
        r.time_usec = 5;
        n += ls_format_json(log + n, LS_RECORD_MAX, &r);
        if (k == 5) {
            memcpy(log + n, "not json at all\n", 16);
            n += 16;
        }
    }
    for (int k = 0; k < 3; k++) {
        r = sample();
        r.hazard = "flock-fcntl-mix";
        r.action = "refused";
        r.mode = "strict";
        r.pid = 200;
        r.path = "/data/other";
        r.ino = 99;
        r.site = "libfoo.so+0xbeef";
        r.repeat = 2;
        r.time_sec = 1600000000;
        r.time_usec = 0;
        n += ls_format_json(log + n, LS_RECORD_MAX, &r);
    }
    r = sample();
    n += ls_format_json(log + n, LS_RECORD_MAX, &r) / 2;   /* cut short */
    *a = path_in_tmp("a.jsonl");
    write_file(*a, log, n);

    /* log B: 2 close-drops-lock observed from pid 300 (audit), with a
     * control character in the path, plus binary junk */
    n = 0;
    for (int k = 0; k < 2; k++) {
        r = sample();
        r.action = "observed";
        r.mode = "audit";
        r.pid = 300;
        r.path = "/data/we\nird";
        r.ino = 5;
        r.time_sec = 1800000000;
        n += ls_format_json(log + n, LS_RECORD_MAX, &r);
    }
    memcpy(log + n, "\x00\x01\xfe\xff\n", 5);
    n += 5;
    *b = path_in_tmp("b.jsonl");
    write_file(*b, log, n);
    (void)buf;
    free(log);
}

static void test_main_text(void **state)
{
    char *a, *b, *out, *err;
    make_logs(&a, &b);
    char *argv[] = { "report", a, b, NULL };
    int rc = run_report(3, argv, &out, &err, NULL);

    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    expect_in(out, "lockscope report: 20 hazards in 17 records from 2 inputs, 14 processes\n");
    expect_in(out, "from 2020-09-13T12:26:40.000000Z to 2027-01-15T08:00:00.012345Z\n");
    expect_in(out, "\nPer hazard:\n"
                   "     14  close-drops-lock: observed 2, prevented 12, refused 0\n"
                   "         first 2023-11-14T22:13:20.000005Z, last 2027-01-15T08:00:00.012345Z\n"
                   "         pids 100, 101, 102, 103, 104, 105, 106, 107 +5 more\n"
                   "      6  flock-fcntl-mix: observed 0, prevented 0, refused 6\n"
                   "         at 2020-09-13T12:26:40.000000Z\n"
                   "         pid 200\n");
    expect_in(out, "\nPer file:\n"
                   "     12  /data/db [8:1 ino 1234]: close-drops-lock 12\n"
                   "      6  /data/other [8:1 ino 99]: flock-fcntl-mix 6\n"
                   "      2  /data/we\\x0aird [8:1 ino 5]: close-drops-lock 2\n");
    expect_in(out, "\nPer call site:\n"
                   "     14  prog+0x1234: close-drops-lock 14\n"
                   "      6  libfoo.so+0xbeef: flock-fcntl-mix 6\n");
    expect_in(out, "\n3 lines skipped:\n");
    expect_in(out, "/a.jsonl:7: not a JSON object\n");
    expect_in(out, "/a.jsonl:17: last line cut short (no newline)\n");
    expect_in(out, "/b.jsonl:3: not a JSON object\n");
    free(out);
    free(err);
}

static void test_main_json(void **state)
{
    char *a, *b, *out, *err;
    make_logs(&a, &b);
    char *argv[] = { "report", "--json", a, b, NULL };
    int rc = run_report(4, argv, &out, &err, NULL);

    assert_int_equal(rc, 0);
    assert_true(ls_json_valid(out, strlen(out)));
    expect_in(out, "\"records\":17,\"hazards_total\":20,");
    expect_in(out, "\"lines_skipped\":3");
    expect_in(out, "{\"hazard\":\"close-drops-lock\",\"count\":14,\"observed\":2,"
                   "\"prevented\":12,\"refused\":0,\"other\":0,"
                   "\"first\":\"2023-11-14T22:13:20.000005Z\",\"first_time\":1700000000.000005,");
    expect_in(out, "\"pids\":[100,101,102,103,104,105,106,107,108,109,110,111,300]}");
    expect_in(out, "{\"path\":\"/data/we\\nird\",\"dev\":\"8:1\",\"ino\":5,\"count\":2,"
                   "\"hazards\":{\"close-drops-lock\":2}}");
    expect_in(out, "{\"site\":\"libfoo.so+0xbeef\",\"count\":6,\"hazards\":{\"flock-fcntl-mix\":6}}");
    free(out);
    free(err);

    /* a file name that is not UTF-8 (and a line to name it in a note) */
    char *odd = path_in_tmp("odd\xff\x01name.jsonl");
    write_file(odd, "junk\n{\"hazard\":\"h\"}\n", 20);
    char *argv3[] = { "report", "--json", odd, NULL };
    rc = run_report(3, argv3, &out, &err, NULL);
    assert_int_equal(rc, 0);
    assert_true(ls_json_valid(out, strlen(out)));
    expect_in(out, "odd\\ufffd\\u0001name.jsonl\",\"line\":1,");
    free(out);
    free(err);
    argv3[1] = "--";
    rc = run_report(3, argv3, &out, &err, NULL);
    assert_int_equal(rc, 0);
    expect_in(out, "odd\\xff\\x01name.jsonl:1: not a JSON object\n");
    free(out);
    free(err);

    /* an empty summary is valid JSON too */
    char *e = path_in_tmp("empty.jsonl");
    write_file(e, "", 0);
    char *argv2[] = { "report", e, "--json", NULL };
    rc = run_report(3, argv2, &out, &err, NULL);
    assert_int_equal(rc, 0);
    assert_true(ls_json_valid(out, strlen(out)));
    expect_in(out, "\"records\":0,");
    free(out);
    free(err);
}

static void test_main_missing_file(void **state)
{
    char *a, *b, *out, *err;
    make_logs(&a, &b);
    char *argv[] = { "report", a, path_in_tmp("does-not-exist"), tmpdir, b, NULL };
    int rc = run_report(5, argv, &out, &err, NULL);

    assert_int_equal(rc, 1);
    expect_in(err, "does-not-exist: No such file or directory\n");
    expect_in(err, "Is a directory\n");
    /* the other inputs are still summarised */
    expect_in(out, "20 hazards in 17 records from 4 inputs (2 unreadable)");
    free(out);
    free(err);
}

/* Nothing read: a missing file alone gives no "0 hazards" summary, a
 * text-format log is named as such, and both exit 1.  An empty log is a
 * clean run: 0 hazards, exit 0. */
static void test_main_nothing_read(void **state)
{
    char *out, *err;
    char *argv1[] = { "report", path_in_tmp("does-not-exist"), NULL };
    int rc = run_report(2, argv1, &out, &err, NULL);
    assert_int_equal(rc, 1);
    expect_in(err, "does-not-exist: No such file or directory\n");
    assert_string_equal(out, "");
    free(out);
    free(err);

    char *text = path_in_tmp("text.log");
    const char line[] = "lockscope[prog:12/12]: close-drops-lock prevented (fix): close(fd=4) /tmp/x "
                        "[8:1 ino 5] write 0+10 at prog+0x1 -- natively this close would drop locks\n";
    write_file(text, line, sizeof line - 1);
    char *argv2[] = { "report", text, NULL };
    rc = run_report(2, argv2, &out, &err, NULL);
    assert_int_equal(rc, 1);
    expect_in(err, "1 line in lockscope's text format skipped: report reads JSON lines");
    expect_in(err, "no record read");
    expect_in(out, "text.log:1: a record in lockscope's text format: report reads JSON lines");
    free(out);
    free(err);

    char *empty = path_in_tmp("empty.log");
    write_file(empty, "", 0);
    char *argv3[] = { "report", empty, NULL };
    rc = run_report(2, argv3, &out, &err, NULL);
    assert_int_equal(rc, 0);
    assert_string_equal(err, "");
    expect_in(out, "0 hazards");
    free(out);
    free(err);
}

static void test_main_stdin(void **state)
{
    char *a, *b, *out, *err;
    make_logs(&a, &b);
    char *argv[] = { "report", "-", b, NULL };
    int rc = run_report(3, argv, &out, &err, a);

    assert_int_equal(rc, 0);
    expect_in(out, "20 hazards in 17 records from 2 inputs");
    expect_in(out, "(stdin):17: last line cut short");
    free(out);
    free(err);

    /* "--" ends the options: a file named "--json" */
    char *dashjson = path_in_tmp("--json");
    write_file(dashjson, "{\"hazard\":\"h\"}\n", 15);
    assert_int_equal(chdir(tmpdir), 0);
    char *argv2[] = { "report", "--", "--json", NULL };
    rc = run_report(3, argv2, &out, &err, NULL);
    assert_int_equal(chdir("/"), 0);
    assert_int_equal(rc, 0);
    expect_in(out, "1 hazard in 1 record from 1 input, 0 processes\n");
    free(out);
    free(err);
}

static void test_main_usage(void **state)
{
    char *out, *err;
    char *help[] = { "report", "--help", NULL };
    char *none[] = { "report", NULL };
    char *bad[] = { "report", "--frobnicate", "x", NULL };

    assert_int_equal(run_report(2, help, &out, &err, NULL), 0);
    expect_in(out, "usage: lockscope report");
    free(out);
    free(err);
    assert_int_equal(run_report(1, none, &out, &err, NULL), 2);
    expect_in(err, "usage: lockscope report");
    assert_string_equal(out, "");
    free(out);
    free(err);
    assert_int_equal(run_report(3, bad, &out, &err, NULL), 2);
    expect_in(err, "unknown option '--frobnicate'");
    free(out);
    free(err);
}

static void test_print_many_pids_and_names(void **state)
{
    /* Many distinct values: sorting and the "+N more" tail. */
    struct ls_rep *rep = ls_rep_new();
    char line[256];
    char *text = NULL, *json = NULL;
    size_t tn = 0, jn = 0;
    FILE *f;

    for (int k = 0; k < 500; k++) {
        snprintf(line, sizeof line, "{\"hazard\":\"h%d\",\"pid\":%d,\"path\":\"/f%d\","
                 "\"site\":\"s%d\",\"repeat\":%d,\"time\":%d.5}", k % 7, k, k % 13, k % 5, k % 3,
                 -k);
        add_line(rep, line);
    }
    f = open_memstream(&text, &tn);
    ls_rep_print_text(rep, f);
    fclose(f);
    f = open_memstream(&json, &jn);
    ls_rep_print_json(rep, f);
    fclose(f);
    assert_true(ls_json_valid(json, jn));
    expect_in(text, " +64 more\n");
    expect_in(text, "first 1969-12-31T23:51:41.500000Z");
    free(text);
    free(json);
    ls_rep_free(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_valid),
        cmocka_unit_test(test_parse_formatted),
        cmocka_unit_test(test_parse_nulls_and_missing),
        cmocka_unit_test(test_parse_extra_and_reordered),
        cmocka_unit_test(test_parse_escapes),
        cmocka_unit_test(test_parse_numbers),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_parse_truncated_everywhere),
        cmocka_unit_test(test_parse_binary),
        cmocka_unit_test(test_roundtrip_truncated),
        cmocka_unit_test(test_aggregate),
        cmocka_unit_test(test_feed_lines),
        cmocka_unit_test(test_feed_huge_line),
        cmocka_unit_test(test_main_text),
        cmocka_unit_test(test_main_json),
        cmocka_unit_test(test_main_missing_file),
        cmocka_unit_test(test_main_nothing_read),
        cmocka_unit_test(test_main_stdin),
        cmocka_unit_test(test_main_usage),
        cmocka_unit_test(test_print_many_pids_and_names),
    };
    return cmocka_run_group_tests(tests, setup_dir, teardown_dir);
}
