/*
 * report.c - `lockscope report FILE...`: summarise JSON-lines hazard logs.
 *
 * Logs come from many processes appending to one file, from crashed
 * programs (a last line cut short), from users who concatenated them with
 * other things.  So every line stands alone: a line that is not a record is
 * skipped, counted and named in the summary (the first few), and never stops
 * the report.  Memory per line is bounded: a line longer than
 * LS_REPORT_LINE_MAX is dropped while it is read, and parsing never
 * allocates more than the line's size.
 *
 * The JSON reader is our own and strict (RFC 8259, UTF-8 checked): the shim
 * always writes valid JSON, so anything else is damage, and the same reader
 * is the oracle that the formatter's tests and fuzzer check against.
 */
#include "report.h"
#include "../shim/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void oom(void)
{
    fputs("lockscope report: out of memory\n", stderr);
    exit(1);
}

#define uthash_fatal(msg) oom()
#include <uthash.h>

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

static void *xrealloc(void *p, size_t n)
{
    p = realloc(p, n ? n : 1);
    if (p == NULL)
        oom();
    return p;
}

static char *xstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    return memcpy(xmalloc(n), s, n);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* ===== JSON reading ======================================================= */

#define JSON_DEPTH_MAX 64

struct jp {
    const unsigned char *s;
    size_t n, i;
    const char *err;            /* first error, static */
};

static int jp_fail(struct jp *p, const char *why)
{
    if (p->err == NULL)
        p->err = why;
    return -1;
}

static void jp_ws(struct jp *p)
{
    while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' ||
                           p->s[p->i] == '\n' || p->s[p->i] == '\r'))
        p->i++;
}

static int jp_peek(const struct jp *p)
{
    return p->i < p->n ? p->s[p->i] : -1;
}


static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The 4 hex digits at s, or -1. */
static long hex4(const unsigned char *s)
{
    long v = 0;
    for (int k = 0; k < 4; k++) {
        int h = hexval(s[k]);
        if (h < 0)
            return -1;
        v = v * 16 + h;
    }
    return v;
}

static size_t put_utf8(char *o, unsigned long cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xC0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xE0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* A string at p->i (its opening quote).  Checked completely first, then,
 * when out is not NULL, decoded into a malloc'd buffer no longer than the
 * raw text (every escape decodes to no more bytes than it takes). */
static int jp_string(struct jp *p, char **out)
{
    size_t start, end, i;
    char *buf, *o;

    if (jp_peek(p) != '"')
        return jp_fail(p, "invalid JSON: string expected");
    start = ++p->i;
    i = start;
    for (;;) {
        unsigned c;
        if (i >= p->n)
            return jp_fail(p, "invalid JSON: unterminated string");
        c = p->s[i];
        if (c == '"')
            break;
        if (c < 0x20)
            return jp_fail(p, "invalid JSON: control character in string");
        if (c == '\\') {
            if (i + 1 >= p->n)
                return jp_fail(p, "invalid JSON: unterminated string");
            c = p->s[i + 1];
            if (c == 'u') {
                if (p->n - i < 6 || hex4(p->s + i + 2) < 0)
                    return jp_fail(p, "invalid JSON: bad \\u escape");
                i += 6;
            } else if (c == '"' || c == '\\' || c == '/' || c == 'b' ||
                       c == 'f' || c == 'n' || c == 'r' || c == 't') {
                i += 2;
            } else {
                return jp_fail(p, "invalid JSON: bad escape");
            }
            continue;
        }
        if (c >= 0x80) {
            size_t k = ls_utf8_seq(p->s + i, p->n - i);
            if (k == 0)
                return jp_fail(p, "invalid UTF-8 in string");
            i += k;
            continue;
        }
        i++;
    }
    end = i;
    p->i = end + 1;
    if (out == NULL)
        return 0;

    buf = o = xmalloc(end - start + 1);
    for (i = start; i < end;) {
        unsigned c = p->s[i];
        if (c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        c = p->s[i + 1];
        if (c != 'u') {
            switch (c) {
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            default:  *o++ = (char)c; break;
            }
            i += 2;
            continue;
        }
        {
            unsigned long cp = (unsigned long)hex4(p->s + i + 2);
            i += 6;
            if (cp >= 0xD800 && cp <= 0xDBFF && end - i >= 6 &&
                p->s[i] == '\\' && p->s[i + 1] == 'u') {
                long lo = hex4(p->s + i + 2);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + ((unsigned long)lo - 0xDC00);
                    i += 6;
                }
            }
            if (cp == 0 || (cp >= 0xD800 && cp <= 0xDFFF))
                cp = 0xFFFD;    /* a C string cannot hold NUL; lone surrogate */
            o += put_utf8(o, cp);
        }
    }
    *o = '\0';
    *out = buf;
    return 0;
}

/* A number at p->i; its text is s[*start .. *start + *len). */
static int jp_number(struct jp *p, size_t *start, size_t *len)
{
    size_t i = p->i;

    *start = i;
    if (i < p->n && p->s[i] == '-')
        i++;
    if (i >= p->n)
        return jp_fail(p, "invalid JSON: bad number");
    if (p->s[i] == '0') {
        i++;
    } else if (p->s[i] >= '1' && p->s[i] <= '9') {
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    } else {
        return jp_fail(p, "invalid JSON: bad number");
    }
    if (i < p->n && p->s[i] == '.') {
        i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9')
            return jp_fail(p, "invalid JSON: bad number");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    if (i < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
        i++;
        if (i < p->n && (p->s[i] == '+' || p->s[i] == '-'))
            i++;
        if (i >= p->n || p->s[i] < '0' || p->s[i] > '9')
            return jp_fail(p, "invalid JSON: bad number");
        while (i < p->n && p->s[i] >= '0' && p->s[i] <= '9')
            i++;
    }
    *len = i - *start;
    p->i = i;
    return 0;
}

static int jp_literal(struct jp *p, const char *word)
{
    size_t n = strlen(word);
    if (p->n - p->i < n || memcmp(p->s + p->i, word, n) != 0)
        return jp_fail(p, "invalid JSON");
    p->i += n;
    return 0;
}

/* Check and pass over any value (objects and arrays included). */
static int jp_skip(struct jp *p, int depth)
{
    int c = jp_peek(p);
    size_t a, b;

    if (c == '"')
        return jp_string(p, NULL);
    if (c == '-' || (c >= '0' && c <= '9'))
        return jp_number(p, &a, &b);
    if (c == 't')
        return jp_literal(p, "true");
    if (c == 'f')
        return jp_literal(p, "false");
    if (c == 'n')
        return jp_literal(p, "null");
    if (c != '{' && c != '[')
        return jp_fail(p, c < 0 ? "invalid JSON: cut short" : "invalid JSON");
    if (depth >= JSON_DEPTH_MAX)
        return jp_fail(p, "JSON nested too deep");
    p->i++;
    jp_ws(p);
    if (jp_peek(p) == (c == '{' ? '}' : ']')) {
        p->i++;
        return 0;
    }
    for (;;) {
        int d;
        if (c == '{') {
            if (jp_string(p, NULL) < 0)
                return -1;
            jp_ws(p);
            if (jp_peek(p) != ':')
                return jp_fail(p, "invalid JSON: ':' expected");
            p->i++;
            jp_ws(p);
        }
        if (jp_skip(p, depth + 1) < 0)
            return -1;
        jp_ws(p);
        d = jp_peek(p);
        if (d == ',') {
            p->i++;
            jp_ws(p);
            continue;
        }
        if (d == (c == '{' ? '}' : ']')) {
            p->i++;
            return 0;
        }
        return jp_fail(p, d < 0 ? "invalid JSON: cut short" : "invalid JSON");
    }
}

int ls_json_valid(const char *s, size_t n)
{
    struct jp p = { (const unsigned char *)s, n, 0, NULL };

    if (s == NULL)
        return 0;
    jp_ws(&p);
    if (jp_skip(&p, 0) < 0)
        return 0;
    jp_ws(&p);
    return p.i == p.n;
}

/* ===== numbers ============================================================ */

/* An integer in JSON form (no fraction, no exponent) that fits. */
static int num_u64(const unsigned char *s, size_t n, uint64_t *v)
{
    uint64_t x = 0;

    if (n == 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9')
            return -1;
        d = s[i] - '0';
        if (x > (UINT64_MAX - d) / 10)
            return -1;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static int num_i64(const unsigned char *s, size_t n, int64_t *v)
{
    uint64_t m;
    int neg = n > 0 && s[0] == '-';

    if (num_u64(s + neg, n - (size_t)neg, &m) < 0)
        return -1;
    if (neg) {
        if (m > (uint64_t)INT64_MAX + 1)
            return -1;
        *v = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
    } else {
        if (m > INT64_MAX)
            return -1;
        *v = (int64_t)m;
    }
    return 0;
}

/* Seconds with a fraction, exactly to the microsecond (further digits are
 * cut); an exponent goes through strtod. */
static int num_time(const unsigned char *s, size_t n, int64_t *sec, int32_t *usec)
{
    int neg = n > 0 && s[0] == '-';
    size_t i = (size_t)neg, int_end;
    uint64_t whole;
    int32_t frac = 0;

    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++;
    int_end = i;
    if (memchr(s, 'e', n) || memchr(s, 'E', n)) {
        char tmp[64];
        double d, f;
        if (n >= sizeof tmp)
            return -1;
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        d = strtod(tmp, NULL);
        if (!(d > -9.2e18 && d < 9.2e18))
            return -1;
        *sec = (int64_t)d;
        f = d - (double)*sec;
        if (f < 0) {
            *sec -= 1;
            f += 1.0;
        }
        *usec = (int32_t)(f * 1e6);
        if (*usec > 999999)
            *usec = 999999;
        return 0;
    }
    if (num_u64(s + neg, int_end - (size_t)neg, &whole) < 0)
        return -1;
    if (i < n && s[i] == '.') {
        int digits = 0;
        for (i++; i < n && digits < 6; i++, digits++)
            frac = frac * 10 + (s[i] - '0');
        for (; digits < 6; digits++)
            frac *= 10;
    }
    if (!neg) {
        if (whole > INT64_MAX)
            return -1;
        *sec = (int64_t)whole;
        *usec = frac;
    } else if (frac > 0) {
        /* -W.F = -(W + 1) + (1 - 0.F) */
        if (whole > INT64_MAX)
            return -1;
        *sec = -(int64_t)whole - 1;
        *usec = 1000000 - frac;
    } else {
        if (whole > (uint64_t)INT64_MAX + 1)
            return -1;
        *sec = whole == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)whole;
        *usec = 0;
    }
    return 0;
}

/* ===== one record ========================================================= */

enum fkind { FK_STR, FK_I64, FK_U64, FK_TIME, FK_BT };

struct fdesc {
    const char *name;
    enum fkind kind;
    size_t off;         /* of the value in struct ls_rep_record */
    size_t has_off;     /* of its has_X flag, for numbers */
};

#define RF(f) offsetof(struct ls_rep_record, f)

static const struct fdesc fields[] = {
    { "hazard", FK_STR, RF(hazard), 0 },
    { "action", FK_STR, RF(action), 0 },
    { "mode", FK_STR, RF(mode), 0 },
    { "prog", FK_STR, RF(prog), 0 },
    { "pid", FK_I64, RF(pid), RF(has_pid) },
    { "tid", FK_I64, RF(tid), RF(has_tid) },
    { "fd", FK_I64, RF(fd), RF(has_fd) },
    { "path", FK_STR, RF(path), 0 },
    { "dev", FK_STR, RF(dev), 0 },
    { "ino", FK_U64, RF(ino), RF(has_ino) },
    { "type", FK_STR, RF(type), 0 },
    { "start", FK_I64, RF(start), RF(has_start) },
    { "len", FK_I64, RF(len), RF(has_len) },
    { "call", FK_STR, RF(call), 0 },
    { "site", FK_STR, RF(site), 0 },
    { "time", FK_TIME, RF(time_sec), RF(has_time) },
    { "backtrace", FK_BT, RF(backtrace), 0 },
    { "detail", FK_STR, RF(detail), 0 },
    { "repeat", FK_U64, RF(repeat), 0 },
};

static void free_backtrace(struct ls_rep_record *r)
{
    for (size_t j = 0; j < r->n_backtrace; j++)
        free(r->backtrace[j]);
    free(r->backtrace);
    r->backtrace = NULL;
    r->n_backtrace = 0;
}

void ls_rep_record_free(struct ls_rep_record *r)
{
    if (r == NULL)
        return;
    for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
        if (fields[k].kind == FK_STR) {
            char **sp = (char **)((char *)r + fields[k].off);
            free(*sp);
            *sp = NULL;
        }
    free_backtrace(r);
}

/* An array of strings; other elements are checked and left out. */
static int jp_backtrace(struct jp *p, struct ls_rep_record *r)
{
    size_t cap = 0;

    p->i++;
    jp_ws(p);
    if (jp_peek(p) == ']') {
        p->i++;
        r->backtrace = xmalloc(sizeof(char *));
        return 0;
    }
    for (;;) {
        int d;
        if (jp_peek(p) == '"') {
            char *e;
            if (jp_string(p, &e) < 0)
                return -1;
            if (r->n_backtrace == cap) {
                cap = cap ? 2 * cap : 8;
                r->backtrace = xrealloc(r->backtrace, cap * sizeof(char *));
            }
            r->backtrace[r->n_backtrace++] = e;
        } else if (jp_skip(p, 1) < 0) {
            return -1;
        }
        jp_ws(p);
        d = jp_peek(p);
        if (d == ',') {
            p->i++;
            jp_ws(p);
            continue;
        }
        if (d == ']') {
            p->i++;
            if (r->backtrace == NULL)
                r->backtrace = xmalloc(sizeof(char *));
            return 0;
        }
        return jp_fail(p, d < 0 ? "invalid JSON: cut short" : "invalid JSON");
    }
}

static int jp_field(struct jp *p, const struct fdesc *f, struct ls_rep_record *r)
{
    char *base = (char *)r;
    int c = jp_peek(p);
    int isnum = c == '-' || (c >= '0' && c <= '9');
    size_t ns, nl;

    switch (f->kind) {
    case FK_STR: {
        char **sp = (char **)(base + f->off);
        free(*sp);
        *sp = NULL;
        if (c == '"')
            return jp_string(p, sp);
        return jp_skip(p, 1);
    }
    case FK_BT:
        free_backtrace(r);
        if (c == '[')
            return jp_backtrace(p, r);
        return jp_skip(p, 1);
    case FK_I64:
    case FK_U64:
    case FK_TIME: {
        int ok = 0;
        if (isnum) {
            if (jp_number(p, &ns, &nl) < 0)
                return -1;
            if (f->kind == FK_I64)
                ok = num_i64(p->s + ns, nl, (int64_t *)(base + f->off)) == 0;
            else if (f->kind == FK_U64)
                ok = num_u64(p->s + ns, nl, (uint64_t *)(base + f->off)) == 0;
            else
                ok = num_time(p->s + ns, nl, &r->time_sec, &r->time_usec) == 0;
        } else if (jp_skip(p, 1) < 0) {
            return -1;
        }
        if (f->has_off)
            *(int *)(base + f->has_off) = ok;
        else if (!ok)
            *(uint64_t *)(base + f->off) = 0;   /* repeat: read as 1 */
        return 0;
    }
    }
    return jp_skip(p, 1);
}

int ls_rep_parse_line(const char *line, size_t len, struct ls_rep_record *rec,
                      const char **why)
{
    struct jp p = { (const unsigned char *)line, len, 0, NULL };
    const char *dummy;

    if (why == NULL)
        why = &dummy;
    memset(rec, 0, sizeof *rec);
    jp_ws(&p);
    if (jp_peek(&p) != '{') {
        *why = "not a JSON object";
        return -1;
    }
    p.i++;
    jp_ws(&p);
    if (jp_peek(&p) == '}') {
        p.i++;
    } else {
        for (;;) {
            char *key = NULL;
            const struct fdesc *f = NULL;
            int c, rc;

            if (jp_string(&p, &key) < 0)
                goto bad;
            for (size_t k = 0; k < sizeof fields / sizeof fields[0]; k++)
                if (strcmp(key, fields[k].name) == 0)
                    f = &fields[k];
            free(key);
            jp_ws(&p);
            if (jp_peek(&p) != ':') {
                jp_fail(&p, "invalid JSON: ':' expected");
                goto bad;
            }
            p.i++;
            jp_ws(&p);
            rc = f ? jp_field(&p, f, rec) : jp_skip(&p, 1);
            if (rc < 0)
                goto bad;
            jp_ws(&p);
            c = jp_peek(&p);
            if (c == ',') {
                p.i++;
                jp_ws(&p);
                continue;
            }
            if (c == '}') {
                p.i++;
                break;
            }
            jp_fail(&p, c < 0 ? "invalid JSON: cut short" : "invalid JSON");
            goto bad;
        }
    }
    jp_ws(&p);
    if (p.i != p.n) {
        jp_fail(&p, "data after the JSON object");
        goto bad;
    }
    if (rec->hazard == NULL || rec->hazard[0] == '\0') {
        jp_fail(&p, "no \"hazard\" string");
        goto bad;
    }
    if (rec->repeat == 0)
        rec->repeat = 1;
    return 0;
bad:
    *why = p.err ? p.err : "invalid JSON";
    ls_rep_record_free(rec);
    memset(rec, 0, sizeof *rec);
    return -1;
}

/* ===== the aggregate ====================================================== */

struct tally {                  /* name -> count (hazards of a file or a site) */
    char *name;
    uint64_t n;
    UT_hash_handle hh;
};

struct pidset {
    int64_t pid;
    UT_hash_handle hh;
};

struct tstamp {
    int64_t sec;
    int32_t usec;
};

struct span {                   /* first and last time seen */
    int any;
    struct tstamp first, last;
};

struct hazard_agg {
    char *name;
    uint64_t n, observed, prevented, refused, other;
    struct span when;
    struct pidset *pids;
    UT_hash_handle hh;
};

/* A file (path, dev, ino; any may be unknown) or a call site (path = site). */
struct group_agg {
    char *key;
    size_t keylen;
    char *path, *dev;           /* NULL: unknown */
    int has_ino;
    uint64_t ino;
    uint64_t n;
    struct tally *hazards;
    UT_hash_handle hh;
};

#define NOTES_MAX 5

struct note {
    char *file;
    uint64_t line;
    const char *why;
};

struct ls_rep {
    struct hazard_agg *hazards;
    struct group_agg *files, *sites;
    struct pidset *pids;
    struct span when;
    uint64_t records, total, skipped;
    uint64_t text_lines;        /* skipped lines in lockscope's text format */
    unsigned inputs, unreadable;
    struct note notes[NOTES_MAX];
    size_t n_notes;
};

struct ls_rep *ls_rep_new(void)
{
    struct ls_rep *rep = xmalloc(sizeof *rep);
    memset(rep, 0, sizeof *rep);
    return rep;
}

static void free_pids(struct pidset **set)
{
    struct pidset *e, *t;
    HASH_ITER(hh, *set, e, t) {
        HASH_DEL(*set, e);
        free(e);
    }
}

static void free_groups(struct group_agg **head)
{
    struct group_agg *g, *t;
    HASH_ITER(hh, *head, g, t) {
        struct tally *e, *u;
        HASH_ITER(hh, g->hazards, e, u) {
            HASH_DEL(g->hazards, e);
            free(e->name);
            free(e);
        }
        HASH_DEL(*head, g);
        free(g->key);
        free(g->path);
        free(g->dev);
        free(g);
    }
}

void ls_rep_free(struct ls_rep *rep)
{
    struct hazard_agg *h, *t;

    if (rep == NULL)
        return;
    HASH_ITER(hh, rep->hazards, h, t) {
        HASH_DEL(rep->hazards, h);
        free_pids(&h->pids);
        free(h->name);
        free(h);
    }
    free_groups(&rep->files);
    free_groups(&rep->sites);
    free_pids(&rep->pids);
    for (size_t k = 0; k < rep->n_notes; k++)
        free(rep->notes[k].file);
    free(rep);
}

static void add_pid(struct pidset **set, int64_t pid)
{
    struct pidset *e;
    HASH_FIND(hh, *set, &pid, sizeof pid, e);
    if (e)
        return;
    e = xmalloc(sizeof *e);
    memset(e, 0, sizeof *e);
    e->pid = pid;
    HASH_ADD(hh, *set, pid, sizeof e->pid, e);
}

static int tcmp(struct tstamp a, struct tstamp b)
{
    if (a.sec != b.sec)
        return a.sec < b.sec ? -1 : 1;
    return (a.usec > b.usec) - (a.usec < b.usec);
}

static void span_add(struct span *s, const struct ls_rep_record *r)
{
    struct tstamp t = { r->time_sec, r->time_usec };

    if (!r->has_time)
        return;
    if (!s->any || tcmp(t, s->first) < 0)
        s->first = t;
    if (!s->any || tcmp(t, s->last) > 0)
        s->last = t;
    s->any = 1;
}

static void tally_add(struct tally **head, const char *name, uint64_t n)
{
    struct tally *e;
    HASH_FIND_STR(*head, name, e);
    if (e == NULL) {
        e = xmalloc(sizeof *e);
        memset(e, 0, sizeof *e);
        e->name = xstrdup(name);
        HASH_ADD_KEYPTR(hh, *head, e->name, strlen(e->name), e);
    }
    e->n = sat_add(e->n, n);
}

/* Append a part of a group key: a presence byte, then the text and a NUL. */
static size_t key_part(char *k, size_t at, const char *s)
{
    k[at++] = s ? 1 : 0;
    if (s) {
        size_t n = strlen(s) + 1;
        memcpy(k + at, s, n);
        at += n;
    }
    return at;
}

static void group_add(struct group_agg **head, const char *path, const char *dev,
                      int has_ino, uint64_t ino, const char *hazard, uint64_t n)
{
    char inotext[24];
    size_t need, len;
    char *key;
    struct group_agg *g;

    if (has_ino)
        snprintf(inotext, sizeof inotext, "%llu", (unsigned long long)ino);
    need = 3 + (path ? strlen(path) + 1 : 0) + (dev ? strlen(dev) + 1 : 0) +
           (has_ino ? strlen(inotext) + 1 : 0);
    key = xmalloc(need);
    len = key_part(key, 0, path);
    len = key_part(key, len, dev);
    len = key_part(key, len, has_ino ? inotext : NULL);
    HASH_FIND(hh, *head, key, len, g);
    if (g == NULL) {
        g = xmalloc(sizeof *g);
        memset(g, 0, sizeof *g);
        g->key = key;
        g->keylen = len;
        g->path = path ? xstrdup(path) : NULL;
        g->dev = dev ? xstrdup(dev) : NULL;
        g->has_ino = has_ino;
        g->ino = ino;
        HASH_ADD_KEYPTR(hh, *head, g->key, g->keylen, g);
    } else {
        free(key);
    }
    g->n = sat_add(g->n, n);
    tally_add(&g->hazards, hazard, n);
}

void ls_rep_add(struct ls_rep *rep, const struct ls_rep_record *r)
{
    struct hazard_agg *h;
    uint64_t n = r->repeat ? r->repeat : 1;

    if (r->hazard == NULL)
        return;
    rep->records++;
    rep->total = sat_add(rep->total, n);
    HASH_FIND_STR(rep->hazards, r->hazard, h);
    if (h == NULL) {
        h = xmalloc(sizeof *h);
        memset(h, 0, sizeof *h);
        h->name = xstrdup(r->hazard);
        HASH_ADD_KEYPTR(hh, rep->hazards, h->name, strlen(h->name), h);
    }
    h->n = sat_add(h->n, n);
    if (r->action && strcmp(r->action, "observed") == 0)
        h->observed = sat_add(h->observed, n);
    else if (r->action && strcmp(r->action, "prevented") == 0)
        h->prevented = sat_add(h->prevented, n);
    else if (r->action && strcmp(r->action, "refused") == 0)
        h->refused = sat_add(h->refused, n);
    else
        h->other = sat_add(h->other, n);
    span_add(&h->when, r);
    span_add(&rep->when, r);
    if (r->has_pid) {
        add_pid(&h->pids, r->pid);
        add_pid(&rep->pids, r->pid);
    }
    group_add(&rep->files, r->path, r->dev, r->has_ino, r->ino, r->hazard, n);
    group_add(&rep->sites, r->site, NULL, 0, 0, r->hazard, n);
}

void ls_rep_note_unreadable(struct ls_rep *rep)
{
    rep->unreadable++;
}

/* ===== reading lines ====================================================== */

/* Splits an input into lines, holding at most LS_REPORT_LINE_MAX bytes. */
struct liner {
    struct ls_rep *rep;
    const char *name;
    uint64_t lineno;
    char *buf;
    size_t len, cap;
    int too_long;               /* the current line was dropped */
};

static void skip_line(struct liner *L, const char *why)
{
    struct ls_rep *rep = L->rep;

    rep->skipped++;
    if (rep->n_notes < NOTES_MAX) {
        struct note *nt = &rep->notes[rep->n_notes++];
        nt->file = xstrdup(L->name);
        nt->line = L->lineno;
        nt->why = why;
    }
}

static void line_done(struct liner *L, int complete)
{
    struct ls_rep_record rec;
    const char *why;
    size_t i;

    L->lineno++;
    if (L->too_long) {
        skip_line(L, "line longer than 1 MiB");
    } else {
        for (i = 0; i < L->len; i++) {
            char c = L->buf[i];
            if (c != ' ' && c != '\t' && c != '\r' && c != '\v' && c != '\f')
                break;
        }
        if (i == L->len) {
            /* blank: not a record, not damage */
        } else if (ls_rep_parse_line(L->buf, L->len, &rec, &why) == 0) {
            ls_rep_add(L->rep, &rec);
            ls_rep_record_free(&rec);
        } else if (L->len - i >= 10 && memcmp(L->buf + i, "lockscope[", 10) == 0) {
            L->rep->text_lines++;
            skip_line(L, "a record in lockscope's text format: report reads JSON lines");
        } else {
            skip_line(L, complete ? why : "last line cut short (no newline)");
        }
    }
    L->len = 0;
    L->too_long = 0;
}

static void liner_feed(struct liner *L, const char *data, size_t n)
{
    while (n > 0) {
        const char *nl = memchr(data, '\n', n);
        size_t piece = nl ? (size_t)(nl - data) : n;

        if (!L->too_long) {
            if (piece > LS_REPORT_LINE_MAX - L->len) {
                L->too_long = 1;
                L->len = 0;
            } else {
                if (L->len + piece > L->cap) {
                    size_t c = L->cap ? L->cap : 4096;
                    while (c < L->len + piece)
                        c *= 2;
                    if (c > LS_REPORT_LINE_MAX)
                        c = LS_REPORT_LINE_MAX;
                    L->buf = xrealloc(L->buf, c);
                    L->cap = c;
                }
                if (piece > 0) {
                    memcpy(L->buf + L->len, data, piece);
                    L->len += piece;
                }
            }
        }
        if (nl == NULL)
            return;
        line_done(L, 1);
        data += piece + 1;
        n -= piece + 1;
    }
}

static void liner_end(struct liner *L)
{
    if (L->len > 0 || L->too_long)
        line_done(L, 0);
    free(L->buf);
    L->buf = NULL;
}

void ls_rep_feed(struct ls_rep *rep, const char *name, const char *data, size_t len)
{
    struct liner L = { rep, name ? name : "-", 0, NULL, 0, 0, 0 };

    rep->inputs++;
    liner_feed(&L, data, len);
    liner_end(&L);
}

int ls_rep_read(struct ls_rep *rep, const char *name, FILE *in)
{
    struct liner L = { rep, name ? name : "-", 0, NULL, 0, 0, 0 };
    char *chunk = xmalloc(65536);
    int rc = 0, saved = 0;

    rep->inputs++;
    for (;;) {
        size_t got = fread(chunk, 1, 65536, in);
        liner_feed(&L, chunk, got);
        if (got < 65536) {
            if (ferror(in)) {
                saved = errno ? errno : EIO;
                rc = -1;
            }
            break;
        }
    }
    liner_end(&L);
    free(chunk);
    if (rc < 0) {
        rep->unreadable++;
        errno = saved;
    }
    return rc;
}

/* ===== queries ============================================================ */

uint64_t ls_rep_records(const struct ls_rep *rep) { return rep->records; }
uint64_t ls_rep_total(const struct ls_rep *rep) { return rep->total; }
uint64_t ls_rep_skipped(const struct ls_rep *rep) { return rep->skipped; }

uint64_t ls_rep_hazard_count(const struct ls_rep *rep, const char *hazard,
                             const char *action)
{
    struct hazard_agg *h;

    HASH_FIND_STR(rep->hazards, hazard, h);
    if (h == NULL)
        return 0;
    if (action == NULL)
        return h->n;
    if (strcmp(action, "observed") == 0)
        return h->observed;
    if (strcmp(action, "prevented") == 0)
        return h->prevented;
    if (strcmp(action, "refused") == 0)
        return h->refused;
    return h->other;
}

size_t ls_rep_hazard_npids(const struct ls_rep *rep, const char *hazard)
{
    struct hazard_agg *h;

    HASH_FIND_STR(rep->hazards, hazard, h);
    return h ? HASH_COUNT(h->pids) : 0;
}

static uint64_t group_count(const struct group_agg *head, const char *name)
{
    uint64_t n = 0;

    for (const struct group_agg *g = head; g; g = g->hh.next)
        if (name ? g->path && strcmp(g->path, name) == 0 : g->path == NULL)
            n = sat_add(n, g->n);
    return n;
}

uint64_t ls_rep_file_count(const struct ls_rep *rep, const char *path)
{
    return group_count(rep->files, path);
}

uint64_t ls_rep_site_count(const struct ls_rep *rep, const char *site)
{
    return group_count(rep->sites, site);
}

/* ===== output ============================================================= */

/* For a terminal: control characters (C0, DEL, C1) and bytes outside
 * well-formed UTF-8 (possible in file names from the command line) as \xNN,
 * '\' doubled. */
static void put_text(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);

    while (n > 0) {
        size_t k = ls_utf8_seq(p, n);
        if (*p == '\\') {
            fputs("\\\\", out);
        } else if (k == 1 && *p >= 0x20 && *p != 0x7f) {
            fputc(*p, out);
        } else if (k > 1 && !(p[0] == 0xC2 && p[1] < 0xA0)) {
            fwrite(p, 1, k, out);
        } else {
            if (k == 0)
                k = 1;
            for (size_t j = 0; j < k; j++)
                fprintf(out, "\\x%02x", p[j]);
        }
        p += k;
        n -= k;
    }
}

/* A JSON string; bytes outside well-formed UTF-8 become U+FFFD, as in the
 * shim's records. */
static void put_json_str(FILE *out, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n;

    if (s == NULL) {
        fputs("null", out);
        return;
    }
    n = strlen(s);
    fputc('"', out);
    while (n > 0) {
        size_t k = ls_utf8_seq(p, n);
        if (k == 0) {
            fputs("\\ufffd", out);
            k = 1;
        } else if (*p == '"' || *p == '\\') {
            fprintf(out, "\\%c", *p);
        } else if (*p == '\n') {
            fputs("\\n", out);
        } else if (*p == '\t') {
            fputs("\\t", out);
        } else if (*p < 0x20 || *p == 0x7f) {
            fprintf(out, "\\u%04x", *p);
        } else {
            fwrite(p, 1, k, out);
        }
        p += k;
        n -= k;
    }
    fputc('"', out);
}

/* ISO 8601 UTC with microseconds, or "@" and the seconds if out of range. */
static void fmt_iso(char *buf, size_t cap, struct tstamp t)
{
    struct tm tm;
    time_t tt = (time_t)t.sec;

    if ((int64_t)tt == t.sec && gmtime_r(&tt, &tm) != NULL &&
        tm.tm_year >= -1900 && tm.tm_year <= 9999 - 1900) {
        snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                 tm.tm_hour, tm.tm_min, tm.tm_sec, (int)t.usec);
        return;
    }
    if (t.sec < 0 && t.usec > 0)
        snprintf(buf, cap, "@-%lld.%06d", (long long)-(t.sec + 1), (int)(1000000 - t.usec));
    else
        snprintf(buf, cap, "@%lld.%06d", (long long)t.sec, (int)t.usec);
}

/* The exact JSON number, as the shim writes it. */
static void put_json_time(FILE *out, struct tstamp t)
{
    if (t.sec < 0 && t.usec > 0)
        fprintf(out, "-%lld.%06d", (long long)-(t.sec + 1), (int)(1000000 - t.usec));
    else
        fprintf(out, "%lld.%06d", (long long)t.sec, (int)t.usec);
}

static int cmp_str(const char *a, const char *b)
{
    if (a == NULL || b == NULL)
        return (a != NULL) - (b != NULL);   /* unknown first */
    return strcmp(a, b);
}

static int cmp_count(uint64_t a, uint64_t b)
{
    return (a < b) - (a > b);               /* larger first */
}

static int cmp_hazard(const void *x, const void *y)
{
    const struct hazard_agg *a = *(const struct hazard_agg *const *)x;
    const struct hazard_agg *b = *(const struct hazard_agg *const *)y;
    int c = cmp_count(a->n, b->n);
    return c ? c : strcmp(a->name, b->name);
}

static int cmp_group(const void *x, const void *y)
{
    const struct group_agg *a = *(const struct group_agg *const *)x;
    const struct group_agg *b = *(const struct group_agg *const *)y;
    int c = cmp_count(a->n, b->n);
    if (c == 0)
        c = cmp_str(a->path, b->path);
    if (c == 0)
        c = cmp_str(a->dev, b->dev);
    if (c == 0 && a->has_ino != b->has_ino)
        c = a->has_ino - b->has_ino;
    if (c == 0)
        c = (a->ino > b->ino) - (a->ino < b->ino);
    return c;
}

static int cmp_tally(const void *x, const void *y)
{
    const struct tally *a = *(const struct tally *const *)x;
    const struct tally *b = *(const struct tally *const *)y;
    int c = cmp_count(a->n, b->n);
    return c ? c : strcmp(a->name, b->name);
}

static int cmp_pid(const void *x, const void *y)
{
    int64_t a = (*(const struct pidset *const *)x)->pid;
    int64_t b = (*(const struct pidset *const *)y)->pid;
    return (a > b) - (a < b);
}

/* A hash table's items as a sorted array (free it). */
#define SORTED(head, type, cmp, nout)                                       \
    sorted_items((head), (head) ? HASH_COUNT(head) : 0,                     \
                 offsetof(type, hh), (cmp), (nout))

static void *sorted_items(void *head, size_t n, size_t hh_off,
                          int (*cmp)(const void *, const void *), size_t *nout)
{
    void **a = xmalloc(n * sizeof *a);
    size_t k = 0;

    for (void *e = head; e; e = ((UT_hash_handle *)((char *)e + hh_off))->next)
        a[k++] = e;
    qsort(a, k, sizeof *a, cmp);
    *nout = k;
    return a;
}

static int count_width(uint64_t max)
{
    char tmp[24];
    int w = snprintf(tmp, sizeof tmp, "%llu", (unsigned long long)max);
    return w < 5 ? 5 : w;
}

#define PIDS_SHOWN 8

static void print_tallies(FILE *out, struct tally *head, int json)
{
    size_t n;
    struct tally **a = SORTED(head, struct tally, cmp_tally, &n);

    for (size_t k = 0; k < n; k++) {
        if (json) {
            fputs(k ? "," : "", out);
            put_json_str(out, a[k]->name);
            fprintf(out, ":%llu", (unsigned long long)a[k]->n);
        } else {
            fputs(k ? ", " : "", out);
            put_text(out, a[k]->name);
            fprintf(out, " %llu", (unsigned long long)a[k]->n);
        }
    }
    free(a);
}

static void print_groups_text(FILE *out, struct group_agg *head, int files, int width)
{
    size_t n;
    struct group_agg **a = SORTED(head, struct group_agg, cmp_group, &n);

    for (size_t k = 0; k < n; k++) {
        struct group_agg *g = a[k];
        fprintf(out, "  %*llu  ", width, (unsigned long long)g->n);
        if (g->path)
            put_text(out, g->path);
        else
            fputs(files ? (g->dev || g->has_ino ? "(path unknown)" : "(no file)")
                        : "(unknown site)", out);
        if (files && (g->dev || g->has_ino)) {
            fputs(" [", out);
            put_text(out, g->dev ? g->dev : "?");
            if (g->has_ino)
                fprintf(out, " ino %llu", (unsigned long long)g->ino);
            fputs("]", out);
        }
        fputs(": ", out);
        print_tallies(out, g->hazards, 0);
        fputc('\n', out);
    }
    free(a);
}

void ls_rep_print_text(const struct ls_rep *rep, FILE *out)
{
    size_t n;
    struct hazard_agg **a = SORTED(rep->hazards, struct hazard_agg, cmp_hazard, &n);
    int width = count_width(rep->total);
    char t1[64], t2[64];

    fprintf(out, "lockscope report: %llu hazard%s in %llu record%s from %u input%s",
            (unsigned long long)rep->total, rep->total == 1 ? "" : "s",
            (unsigned long long)rep->records, rep->records == 1 ? "" : "s",
            rep->inputs, rep->inputs == 1 ? "" : "s");
    if (rep->unreadable)
        fprintf(out, " (%u unreadable)", rep->unreadable);
    fprintf(out, ", %u process%s\n", HASH_COUNT(rep->pids),
            HASH_COUNT(rep->pids) == 1 ? "" : "es");
    if (rep->when.any) {
        fmt_iso(t1, sizeof t1, rep->when.first);
        fmt_iso(t2, sizeof t2, rep->when.last);
        fprintf(out, "from %s to %s\n", t1, t2);
    }

    if (n > 0) {
        fputs("\nPer hazard:\n", out);
        for (size_t k = 0; k < n; k++) {
            struct hazard_agg *h = a[k];
            size_t np;
            struct pidset **pids = SORTED(h->pids, struct pidset, cmp_pid, &np);

            fprintf(out, "  %*llu  ", width, (unsigned long long)h->n);
            put_text(out, h->name);
            fprintf(out, ": observed %llu, prevented %llu, refused %llu",
                    (unsigned long long)h->observed, (unsigned long long)h->prevented,
                    (unsigned long long)h->refused);
            if (h->other)
                fprintf(out, ", other %llu", (unsigned long long)h->other);
            fputc('\n', out);
            if (h->when.any) {
                fmt_iso(t1, sizeof t1, h->when.first);
                fmt_iso(t2, sizeof t2, h->when.last);
                if (tcmp(h->when.first, h->when.last) == 0)
                    fprintf(out, "  %*s  at %s\n", width, "", t1);
                else
                    fprintf(out, "  %*s  first %s, last %s\n", width, "", t1, t2);
            }
            if (np > 0) {
                fprintf(out, "  %*s  pid%s", width, "", np == 1 ? "" : "s");
                for (size_t j = 0; j < np && j < PIDS_SHOWN; j++)
                    fprintf(out, "%s%lld", j ? ", " : " ", (long long)pids[j]->pid);
                if (np > PIDS_SHOWN)
                    fprintf(out, " +%zu more", np - PIDS_SHOWN);
                fputc('\n', out);
            }
            free(pids);
        }
        fputs("\nPer file:\n", out);
        print_groups_text(out, rep->files, 1, width);
        fputs("\nPer call site:\n", out);
        print_groups_text(out, rep->sites, 0, width);
    }
    free(a);

    if (rep->skipped) {
        fprintf(out, "\n%llu line%s skipped:\n", (unsigned long long)rep->skipped,
                rep->skipped == 1 ? "" : "s");
        for (size_t k = 0; k < rep->n_notes; k++) {
            fputs("  ", out);
            put_text(out, rep->notes[k].file);
            fprintf(out, ":%llu: %s\n", (unsigned long long)rep->notes[k].line,
                    rep->notes[k].why);
        }
        if (rep->skipped > rep->n_notes)
            fprintf(out, "  ...\n");
    }
}

static void print_groups_json(FILE *out, struct group_agg *head, int files)
{
    size_t n;
    struct group_agg **a = SORTED(head, struct group_agg, cmp_group, &n);

    fputc('[', out);
    for (size_t k = 0; k < n; k++) {
        struct group_agg *g = a[k];
        fputs(k ? ",\n  {" : "\n  {", out);
        if (files) {
            fputs("\"path\":", out);
            put_json_str(out, g->path);
            fputs(",\"dev\":", out);
            put_json_str(out, g->dev);
            if (g->has_ino)
                fprintf(out, ",\"ino\":%llu", (unsigned long long)g->ino);
            else
                fputs(",\"ino\":null", out);
        } else {
            fputs("\"site\":", out);
            put_json_str(out, g->path);
        }
        fprintf(out, ",\"count\":%llu,\"hazards\":{", (unsigned long long)g->n);
        print_tallies(out, g->hazards, 1);
        fputs("}}", out);
    }
    fputs(n ? "\n ]" : "]", out);
    free(a);
}

void ls_rep_print_json(const struct ls_rep *rep, FILE *out)
{
    size_t n;
    struct hazard_agg **a = SORTED(rep->hazards, struct hazard_agg, cmp_hazard, &n);
    char t[64];

    fprintf(out, "{\"records\":%llu,\"hazards_total\":%llu,\"inputs\":%u,"
            "\"unreadable\":%u,\"processes\":%u,\"lines_skipped\":%llu,",
            (unsigned long long)rep->records, (unsigned long long)rep->total,
            rep->inputs, rep->unreadable, HASH_COUNT(rep->pids),
            (unsigned long long)rep->skipped);
    fputs("\n \"skipped\":[", out);
    for (size_t k = 0; k < rep->n_notes; k++) {
        fputs(k ? "," : "", out);
        fputs("{\"file\":", out);
        put_json_str(out, rep->notes[k].file);
        fprintf(out, ",\"line\":%llu,\"reason\":", (unsigned long long)rep->notes[k].line);
        put_json_str(out, rep->notes[k].why);
        fputc('}', out);
    }
    fputs("],\n \"hazards\":[", out);
    for (size_t k = 0; k < n; k++) {
        struct hazard_agg *h = a[k];
        size_t np;
        struct pidset **pids = SORTED(h->pids, struct pidset, cmp_pid, &np);

        fputs(k ? ",\n  {" : "\n  {", out);
        fputs("\"hazard\":", out);
        put_json_str(out, h->name);
        fprintf(out, ",\"count\":%llu,\"observed\":%llu,\"prevented\":%llu,"
                "\"refused\":%llu,\"other\":%llu,",
                (unsigned long long)h->n, (unsigned long long)h->observed,
                (unsigned long long)h->prevented, (unsigned long long)h->refused,
                (unsigned long long)h->other);
        if (h->when.any) {
            fmt_iso(t, sizeof t, h->when.first);
            fprintf(out, "\"first\":\"%s\",\"first_time\":", t);
            put_json_time(out, h->when.first);
            fmt_iso(t, sizeof t, h->when.last);
            fprintf(out, ",\"last\":\"%s\",\"last_time\":", t);
            put_json_time(out, h->when.last);
        } else {
            fputs("\"first\":null,\"first_time\":null,\"last\":null,\"last_time\":null", out);
        }
        fputs(",\"pids\":[", out);
        for (size_t j = 0; j < np; j++)
            fprintf(out, "%s%lld", j ? "," : "", (long long)pids[j]->pid);
        fputs("]}", out);
        free(pids);
    }
    fputs(n ? "\n ]," : "],", out);
    free(a);
    fputs("\n \"files\":", out);
    print_groups_json(out, rep->files, 1);
    fputs(",\n \"sites\":", out);
    print_groups_json(out, rep->sites, 0);
    fputs("}\n", out);
}

/* ===== the command ======================================================== */

static void usage(FILE *out)
{
    fputs("usage: lockscope report [--json] FILE...\n"
          "Summarise lockscope JSON-lines logs (FILE '-' is standard input):\n"
          "hazards with their actions, times and processes, then the files and\n"
          "the call sites involved, each sorted by count.\n"
          "  --json   print the summary as one JSON document\n"
          "  --help   print this help\n"
          "Reads JSON lines (the shim's format for a log file), not the text\n"
          "format written to stderr: such lines are skipped and named.\n"
          "Exit status: 0 success, 1 an input could not be read or no line of\n"
          "the inputs was a record (no summary when no input could be read),\n"
          "2 usage error.\n",
          out);
}

int lockscope_report_main(int argc, char **argv)
{
    int json = 0, status = 0, nfiles = 0, opts = 1;
    struct ls_rep *rep;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (opts && strcmp(a, "--") == 0) {
            opts = 0;
        } else if (opts && strcmp(a, "--json") == 0) {
            json = 1;
        } else if (opts && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            usage(stdout);
            return fflush(stdout) == 0 ? 0 : 1;
        } else if (opts && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "lockscope report: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            nfiles++;
        }
    }
    if (nfiles == 0) {
        fputs("lockscope report: no log file given\n", stderr);
        usage(stderr);
        return 2;
    }

    rep = ls_rep_new();
    opts = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        FILE *in;
        int is_stdin;

        if (opts && a[0] == '-' && a[1] != '\0') {
            if (strcmp(a, "--") == 0)
                opts = 0;
            continue;
        }
        is_stdin = strcmp(a, "-") == 0;
        in = is_stdin ? stdin : fopen(a, "r");
        if (in == NULL) {
            fprintf(stderr, "lockscope report: %s: %s\n", a, strerror(errno));
            rep->inputs++;
            ls_rep_note_unreadable(rep);
            status = 1;
            continue;
        }
        if (ls_rep_read(rep, is_stdin ? "(stdin)" : a, in) < 0) {
            fprintf(stderr, "lockscope report: %s: %s\n", is_stdin ? "(stdin)" : a,
                    strerror(errno));
            status = 1;
        }
        if (!is_stdin)
            fclose(in);
    }

    if (rep->text_lines)
        fprintf(stderr, "lockscope report: %llu line%s in lockscope's text format skipped: "
                "report reads JSON lines (a log file gets them by default; "
                "LOCKSCOPE_FORMAT=json or --format=json for stderr)\n",
                (unsigned long long)rep->text_lines, rep->text_lines == 1 ? "" : "s");
    if (rep->unreadable == rep->inputs) {
        /* nothing could be read: no summary of nothing */
        ls_rep_free(rep);
        return 1;
    }
    if (rep->records == 0 && rep->skipped > 0) {
        fputs("lockscope report: no record read: every line was skipped (see the summary)\n",
              stderr);
        status = 1;
    }
    if (json)
        ls_rep_print_json(rep, stdout);
    else
        ls_rep_print_text(rep, stdout);
    ls_rep_free(rep);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lockscope report: writing the summary: %s\n", strerror(errno));
        return 1;
    }
    return status;
}
