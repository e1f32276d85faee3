/*
 * log.c - formatting hazard records.
 *
 * These functions run inside intercepted calls, and a close() or fcntl()
 * issued from a signal handler can produce a record, so everything here is
 * async-signal-safe by construction: no malloc, no stdio, no locale, no
 * locks, no writable static data, no library calls at all.  A record is
 * built in the caller's fixed buffer and the caller writes it with a single
 * write(2), so a record is never torn and never interleaved with another.
 *
 * JSON (one object per line, RFC 8259, always valid UTF-8):
 *
 *   {"hazard":..,"action":..,"mode":..,"prog":..,"pid":..,"tid":..,"fd":..,
 *    "path":..,"dev":"MAJ:MIN","ino":..,"type":..,"start":..,"len":..,
 *    "call":..,"site":..,"time":SEC.UUUUUU,"backtrace":[..],"detail":..,
 *    "repeat":N}\n
 *
 * Every field is always present, in that order, null where it does not
 * apply.  "repeat" is 1 when the record stands for itself (r->repeat 0 or 1).
 *
 * String escaping: '"' and '\' are escaped, control characters and DEL are
 * written as \b \f \n \r \t or \u00XX, well-formed UTF-8 passes through
 * unchanged, and every byte that is not part of a well-formed UTF-8 sequence
 * (stray continuation bytes, overlong forms, UTF-16 surrogates, values above
 * U+10FFFF, sequences cut short) becomes U+FFFD, written "\ufffd".  A path
 * with such bytes is therefore recognisable but not exactly recoverable from
 * the log; the device and inode numbers still identify the file.
 *
 * Truncation: the record must fit in cap bytes whatever the strings are.
 * The numbers and the punctuation (the skeleton) are laid out first; the
 * remaining room goes to the strings in order of importance (hazard, action,
 * mode, call, type, site, prog, path, detail, then backtrace entries, of
 * which those that do not fit are dropped).  A string cut short ends in
 * "...", and a cut never falls inside an escape or a UTF-8 sequence.  If
 * even the skeleton does not fit (only possible for absurd numbers in a
 * small buffer), the longest numbers are written as null until it does: the
 * full skeleton with every value null is 237 bytes, hence cap >= 256.
 */
#include "log.h"

#include <limits.h>

/* ---- integers ------------------------------------------------------- */

size_t ls_fmt_u64(char *buf, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + (int)(v % 10));
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

size_t ls_fmt_i64(char *buf, int64_t v)
{
    if (v < 0) {
        buf[0] = '-';
        /* Negate in unsigned arithmetic: -INT64_MIN does not exist. */
        return 1 + ls_fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
    }
    return ls_fmt_u64(buf, (uint64_t)v);
}

size_t ls_fmt_hex(char *buf, uint64_t v)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[16];
    size_t n = 0;

    do {
        tmp[n++] = digits[v & 15];
        v >>= 4;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    return n;
}

/* "SEC.UUUUUU", the exact decimal value of time_sec + time_usec / 1e6.
 * usec outside [0, 1e6) is carried into the seconds (saturating), and a
 * negative time keeps its sign on the whole value: -1 s + 500000 us is
 * "-0.500000".  At most 27 bytes. */
static size_t fmt_time(char *buf, int64_t sec, int32_t usec)
{
    int64_t carry = usec / 1000000;
    int32_t u = usec % 1000000;
    size_t n;

    if (u < 0) {
        u += 1000000;
        carry -= 1;
    }
    if (carry > 0 && sec > INT64_MAX - carry) {
        sec = INT64_MAX;
        u = 999999;
    } else if (carry < 0 && sec < INT64_MIN - carry) {
        sec = INT64_MIN;
        u = 0;
    } else {
        sec += carry;
    }
    if (sec < 0 && u > 0) {
        buf[0] = '-';
        n = 1 + ls_fmt_u64(buf + 1, (uint64_t)(-(sec + 1)));
        u = 1000000 - u;
    } else {
        n = ls_fmt_i64(buf, sec);
    }
    buf[n++] = '.';
    for (int d = 5; d >= 0; d--) {
        buf[n + (size_t)d] = (char)('0' + u % 10);
        u /= 10;
    }
    return n + 6;
}

/* ---- bytes ------------------------------------------------------------ */

static size_t str_len(const char *s)
{
    size_t n = 0;

    while (s[n] != '\0')
        n++;
    return n;
}

static void copy(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dst[i] = src[i];
}

/* Length of the well-formed UTF-8 sequence at s (n > 0 bytes available),
 * or 0 when s[0] does not start one (Unicode table 3-7). */
size_t ls_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    unsigned lo = 0x80, hi = 0xBF;
    size_t len;

    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF)
        len = 2;
    else if (c == 0xE0)
        len = 3, lo = 0xA0;
    else if ((c >= 0xE1 && c <= 0xEC) || c == 0xEE || c == 0xEF)
        len = 3;
    else if (c == 0xED)
        len = 3, hi = 0x9F;
    else if (c == 0xF0)
        len = 4, lo = 0x90;
    else if (c >= 0xF1 && c <= 0xF3)
        len = 4;
    else if (c == 0xF4)
        len = 4, hi = 0x8F;
    else
        return 0;
    if (n < len || s[1] < lo || s[1] > hi)
        return 0;
    for (size_t k = 2; k < len; k++)
        if ((s[k] & 0xC0) != 0x80)
            return 0;
    return len;
}

static const char hexdigit[] = "0123456789abcdef";

/* The JSON text of the character at s (n > 0 bytes left): at most 6 bytes
 * into out; returns their number and sets *used to the input consumed. */
static size_t json_unit(const unsigned char *s, size_t n, char out[6], size_t *used)
{
    unsigned c = s[0];
    size_t k;

    *used = 1;
    if (c == '"' || c == '\\') {
        out[0] = '\\';
        out[1] = (char)c;
        return 2;
    }
    if (c < 0x20 || c == 0x7f) {
        char e = 0;
        switch (c) {
        case '\b': e = 'b'; break;
        case '\f': e = 'f'; break;
        case '\n': e = 'n'; break;
        case '\r': e = 'r'; break;
        case '\t': e = 't'; break;
        }
        out[0] = '\\';
        if (e) {
            out[1] = e;
            return 2;
        }
        copy(out + 1, "u00", 3);
        out[4] = hexdigit[c >> 4];
        out[5] = hexdigit[c & 15];
        return 6;
    }
    if (c < 0x80) {
        out[0] = (char)c;
        return 1;
    }
    k = ls_utf8_seq(s, n);
    if (k == 0) {
        copy(out, "\\ufffd", 6);
        return 6;
    }
    copy(out, (const char *)s, k);
    *used = k;
    return k;
}

/* The text-format form of the character at s: printable ASCII and
 * well-formed UTF-8 pass through; '\' doubles; control characters (C0, DEL,
 * C1) and bytes outside well-formed UTF-8 become \xNN.  At most 8 bytes. */
static size_t text_unit(const unsigned char *s, size_t n, char out[8], size_t *used)
{
    unsigned c = s[0];
    size_t k;

    *used = 1;
    if (c == '\\') {
        out[0] = out[1] = '\\';
        return 2;
    }
    if (c >= 0x20 && c < 0x7f) {
        out[0] = (char)c;
        return 1;
    }
    k = c < 0x80 ? 0 : ls_utf8_seq(s, n);
    if (k == 2 && c == 0xC2 && s[1] < 0xA0) {       /* U+0080..U+009F */
        for (int i = 0; i < 2; i++) {
            out[4 * i] = '\\';
            out[4 * i + 1] = 'x';
            out[4 * i + 2] = hexdigit[s[i] >> 4];
            out[4 * i + 3] = hexdigit[s[i] & 15];
        }
        *used = 2;
        return 8;
    }
    if (k > 1) {
        copy(out, (const char *)s, k);
        *used = k;
        return k;
    }
    out[0] = '\\';
    out[1] = 'x';
    out[2] = hexdigit[c >> 4];
    out[3] = hexdigit[c & 15];
    return 4;
}

typedef size_t (*unit_fn)(const unsigned char *s, size_t n, char *out, size_t *used);

static size_t json_unit_fn(const unsigned char *s, size_t n, char *out, size_t *used)
{
    return json_unit(s, n, out, used);
}

static size_t text_unit_fn(const unsigned char *s, size_t n, char *out, size_t *used)
{
    return text_unit(s, n, out, used);
}

/* Length of the escaped form of s[0..n). */
static size_t escaped_len(const char *s, size_t n, unit_fn unit)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t total = 0, i = 0, used;
    char tmp[8];

    while (i < n) {
        total += unit(p + i, n - i, tmp, &used);
        i += used;
    }
    return total;
}

/* ---- output buffer ----------------------------------------------------- */

/* A bounded writer.  The layout below is computed so that nothing is ever
 * refused; the bound is the last line of defence, not the mechanism. */
struct out {
    char *buf;
    size_t cap, len;
    int full;           /* something did not fit and was left out */
};

static void put(struct out *o, const char *s, size_t n)
{
    if (o->full || n > o->cap - o->len) {
        o->full = 1;
        return;
    }
    copy(o->buf + o->len, s, n);
    o->len += n;
}

static void puts_(struct out *o, const char *s)
{
    put(o, s, str_len(s));
}

/* Escaped s[0..n) in at most budget bytes: whole if it fits, else as many
 * whole characters as fit in budget - 3, then "..." (when budget >= 3). */
static void put_escaped(struct out *o, const char *s, size_t n, size_t esclen,
                        size_t budget, unit_fn unit)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t limit = budget, w = 0, i = 0, used, k;
    int cut = esclen > budget;
    char tmp[8];

    if (cut)
        limit = budget >= 3 ? budget - 3 : 0;
    while (i < n) {
        k = unit(p + i, n - i, tmp, &used);
        if (w + k > limit)
            break;
        put(o, tmp, k);
        w += k;
        i += used;
    }
    if (cut && budget >= 3)
        put(o, "...", 3);
}

/* ---- JSON ---------------------------------------------------------------- */

enum jkind { J_STR, J_RAW, J_BT };

struct jfield {
    const char *key;    /* "\"name\":" */
    enum jkind kind;
    const char *s;      /* J_STR: the string, NULL -> null */
    size_t slen, esclen, budget;
    char raw[32];       /* J_RAW: the value's JSON text */
    size_t rawlen;
    int null;           /* J_RAW/J_BT: written as null */
};

enum {
    JF_HAZARD, JF_ACTION, JF_MODE, JF_PROG, JF_PID, JF_TID, JF_FD, JF_PATH,
    JF_DEV, JF_INO, JF_TYPE, JF_START, JF_LEN, JF_CALL, JF_SITE, JF_TIME,
    JF_BACKTRACE, JF_DETAIL, JF_REPEAT, JF_COUNT
};

static const char *const jkeys[JF_COUNT] = {
    "\"hazard\":", "\"action\":", "\"mode\":", "\"prog\":", "\"pid\":",
    "\"tid\":", "\"fd\":", "\"path\":", "\"dev\":", "\"ino\":", "\"type\":",
    "\"start\":", "\"len\":", "\"call\":", "\"site\":", "\"time\":",
    "\"backtrace\":", "\"detail\":", "\"repeat\":",
};

/* Which strings get room first. */
static const unsigned char jpriority[] = {
    JF_HAZARD, JF_ACTION, JF_MODE, JF_CALL, JF_TYPE, JF_SITE, JF_PROG,
    JF_PATH, JF_DETAIL,
};

static void jstr(struct jfield *f, const char *s)
{
    f->kind = J_STR;
    f->s = s;
    if (s) {
        f->slen = str_len(s);
        f->esclen = escaped_len(s, f->slen, json_unit_fn);
    }
}

static void jraw_i64(struct jfield *f, int present, int64_t v)
{
    f->kind = J_RAW;
    f->null = !present;
    if (present)
        f->rawlen = ls_fmt_i64(f->raw, v);
}

/* Room the field takes with every string empty and no backtrace entry. */
static size_t jskeleton(const struct jfield *f)
{
    size_t n = str_len(f->key);

    switch (f->kind) {
    case J_STR: return n + (f->s ? 2 : 4);
    case J_RAW: return n + (f->null ? 4 : f->rawlen);
    case J_BT:  return n + (f->null ? 4 : 2);
    }
    return n;
}

/* Backtrace entries that fit in budget, each cut as needed: "[" "]" are in
 * the skeleton; each entry costs its quotes, a comma after the first, and
 * its text. */
static void put_backtrace(struct out *o, const struct ls_record *r, size_t budget)
{
    put(o, "[", 1);
    for (size_t j = 0; j < r->n_backtrace; j++) {
        const char *e = r->backtrace[j] ? r->backtrace[j] : "";
        size_t overhead = 2 + (j > 0), elen, esc, room;

        if (budget < overhead)
            break;
        elen = str_len(e);
        esc = escaped_len(e, elen, json_unit_fn);
        room = budget - overhead;
        if (esc < room)
            room = esc;
        if (j > 0)
            put(o, ",", 1);
        put(o, "\"", 1);
        put_escaped(o, e, elen, esc, room, json_unit_fn);
        put(o, "\"", 1);
        budget -= overhead + room;
    }
    put(o, "]", 1);
}

size_t ls_format_json(char *buf, size_t cap, const struct ls_record *r)
{
    struct jfield f[JF_COUNT];
    struct out o = { buf, cap, 0, 0 };
    size_t skel, room;
    uint64_t repeat;

    if (buf == NULL || cap < 256 || r == NULL)
        return 0;
    for (int i = 0; i < JF_COUNT; i++) {
        f[i].key = jkeys[i];
        f[i].s = NULL;
        f[i].slen = f[i].esclen = f[i].budget = f[i].rawlen = 0;
        f[i].null = 0;
    }
    jstr(&f[JF_HAZARD], r->hazard);
    jstr(&f[JF_ACTION], r->action);
    jstr(&f[JF_MODE], r->mode);
    jstr(&f[JF_PROG], r->prog);
    jraw_i64(&f[JF_PID], 1, r->pid);
    jraw_i64(&f[JF_TID], 1, r->tid);
    jraw_i64(&f[JF_FD], r->has_fd, r->fd);
    jstr(&f[JF_PATH], r->path);
    f[JF_DEV].kind = J_RAW;
    f[JF_DEV].null = !r->has_devino;
    if (r->has_devino) {
        char *p = f[JF_DEV].raw;
        size_t n = 0;
        p[n++] = '"';
        n += ls_fmt_u64(p + n, r->dev_major);
        p[n++] = ':';
        n += ls_fmt_u64(p + n, r->dev_minor);
        p[n++] = '"';
        f[JF_DEV].rawlen = n;
    }
    f[JF_INO].kind = J_RAW;
    f[JF_INO].null = !r->has_devino;
    if (r->has_devino)
        f[JF_INO].rawlen = ls_fmt_u64(f[JF_INO].raw, r->ino);
    jstr(&f[JF_TYPE], r->type);
    jraw_i64(&f[JF_START], r->has_range, r->start);
    jraw_i64(&f[JF_LEN], r->has_range, r->len);
    jstr(&f[JF_CALL], r->call);
    jstr(&f[JF_SITE], r->site);
    f[JF_TIME].kind = J_RAW;
    f[JF_TIME].rawlen = fmt_time(f[JF_TIME].raw, r->time_sec, r->time_usec);
    f[JF_BACKTRACE].kind = J_BT;
    f[JF_BACKTRACE].null = r->backtrace == NULL;
    jstr(&f[JF_DETAIL], r->detail);
    repeat = r->repeat ? r->repeat : 1;
    f[JF_REPEAT].kind = J_RAW;
    f[JF_REPEAT].rawlen = ls_fmt_u64(f[JF_REPEAT].raw, repeat);

    /* "{" + fields + commas + "}\n" */
    skel = 3 + (JF_COUNT - 1);
    for (int i = 0; i < JF_COUNT; i++)
        skel += jskeleton(&f[i]);
    while (skel > cap) {
        int longest = -1;
        for (int i = 0; i < JF_COUNT; i++)
            if (f[i].kind == J_RAW && !f[i].null && f[i].rawlen > 4 &&
                (longest < 0 || f[i].rawlen > f[longest].rawlen))
                longest = i;
        if (longest < 0)
            return 0;   /* cannot happen for cap >= 256 */
        skel -= f[longest].rawlen - 4;
        f[longest].null = 1;
    }

    room = cap - skel;
    for (size_t k = 0; k < sizeof jpriority; k++) {
        struct jfield *s = &f[jpriority[k]];
        if (s->s == NULL)
            continue;
        s->budget = s->esclen < room ? s->esclen : room;
        room -= s->budget;
    }

    put(&o, "{", 1);
    for (int i = 0; i < JF_COUNT; i++) {
        if (i > 0)
            put(&o, ",", 1);
        puts_(&o, f[i].key);
        if (f[i].kind == J_STR ? f[i].s == NULL : f[i].null) {
            put(&o, "null", 4);
        } else if (f[i].kind == J_STR) {
            put(&o, "\"", 1);
            put_escaped(&o, f[i].s, f[i].slen, f[i].esclen, f[i].budget, json_unit_fn);
            put(&o, "\"", 1);
        } else if (f[i].kind == J_RAW) {
            put(&o, f[i].raw, f[i].rawlen);
        } else {
            put_backtrace(&o, r, room);
        }
    }
    put(&o, "}\n", 2);
    return o.full ? 0 : o.len;
}

/* ---- text ----------------------------------------------------------------- */

/*
 * One line for a person reading stderr:
 *
 *   lockscope[PROG:PID/TID]: HAZARD ACTION (MODE): CALL(fd=FD) PATH
 *     [MAJ:MIN ino INO] TYPE START+LEN at SITE -- DETAIL (xREPEAT) bt: F1 F2..
 *
 * (on one line).  Parts that do not apply are left out with their
 * punctuation: "PROG:" without a program name, "fd=FD" without a
 * descriptor (the parentheses stay: "close()"), " (MODE)", " PATH",
 * " [MAJ:MIN ino INO]", " TYPE", " START+LEN" (len 0 = to end of file, as in
 * the JSON), " at SITE", " -- DETAIL", " (xN)" when the record stands for N > 1,
 * " bt: ..." without a backtrace.  A missing hazard, action or call prints
 * "?".  Every string is escaped: control characters, DEL, C1 controls and
 * bytes outside well-formed UTF-8 as \xNN, '\' as "\\".  The path gets at
 * most half the buffer so the detail survives a long one; if the line does
 * not fit it ends in "..." before the newline.
 */
static void put_text(struct out *o, const char *s, size_t budget)
{
    size_t n, esc;

    if (s == NULL)
        s = "?";
    n = str_len(s);
    esc = escaped_len(s, n, text_unit_fn);
    put_escaped(o, s, n, esc, budget, text_unit_fn);
}

static void put_i64(struct out *o, int64_t v)
{
    char tmp[24];
    put(o, tmp, ls_fmt_i64(tmp, v));
}

static void put_u64(struct out *o, uint64_t v)
{
    char tmp[24];
    put(o, tmp, ls_fmt_u64(tmp, v));
}

size_t ls_format_text(char *buf, size_t cap, const struct ls_record *r)
{
    /* Lines are built in cap - 4 bytes so that "...\n" always fits. */
    struct out o = { buf, 0, 0, 0 };
    const size_t any = (size_t)-1;

    if (buf == NULL || cap < 256 || r == NULL)
        return 0;
    o.cap = cap - 4;

    puts_(&o, "lockscope[");
    if (r->prog) {
        put_text(&o, r->prog, 64);
        put(&o, ":", 1);
    }
    put_i64(&o, r->pid);
    put(&o, "/", 1);
    put_i64(&o, r->tid);
    puts_(&o, "]: ");
    put_text(&o, r->hazard, 64);
    put(&o, " ", 1);
    put_text(&o, r->action, 32);
    if (r->mode) {
        puts_(&o, " (");
        put_text(&o, r->mode, 32);
        put(&o, ")", 1);
    }
    puts_(&o, ": ");
    put_text(&o, r->call, 64);
    put(&o, "(", 1);
    if (r->has_fd) {
        puts_(&o, "fd=");
        put_i64(&o, r->fd);
    }
    put(&o, ")", 1);
    if (r->path) {
        put(&o, " ", 1);
        put_text(&o, r->path, cap / 2);
    }
    if (r->has_devino) {
        puts_(&o, " [");
        put_u64(&o, r->dev_major);
        put(&o, ":", 1);
        put_u64(&o, r->dev_minor);
        puts_(&o, " ino ");
        put_u64(&o, r->ino);
        put(&o, "]", 1);
    }
    if (r->type) {
        put(&o, " ", 1);
        put_text(&o, r->type, 32);
    }
    if (r->has_range) {
        put(&o, " ", 1);
        put_i64(&o, r->start);
        put(&o, "+", 1);
        put_i64(&o, r->len);
    }
    if (r->site) {
        puts_(&o, " at ");
        put_text(&o, r->site, 256);
    }
    if (r->detail) {
        puts_(&o, " -- ");
        put_text(&o, r->detail, any);
    }
    if (r->repeat > 1) {
        puts_(&o, " (x");
        put_u64(&o, r->repeat);
        put(&o, ")", 1);
    }
    if (r->backtrace && r->n_backtrace > 0) {
        puts_(&o, " bt:");
        for (size_t j = 0; j < r->n_backtrace && !o.full; j++) {
            put(&o, " ", 1);
            put_text(&o, r->backtrace[j] ? r->backtrace[j] : "", 256);
        }
    }

    o.cap = cap;
    if (o.full) {
        o.full = 0;
        put(&o, "...", 3);
    }
    put(&o, "\n", 1);
    return o.len;
}
