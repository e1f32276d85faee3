/*
 * config.c - lockscope configuration: built-in defaults, one config file,
 * then the environment.
 *
 * The problem: this runs in the preloaded library's constructor of every
 * process, before main, with whatever environment and files the host has.
 * Bad input must never crash it, never print, never be half-understood: a
 * value is either understood exactly or rejected with ONE line that names the
 * variable (with its value, escaped and truncated) or the "file:line", and
 * says what was expected.  The caller decides what to do with that line.
 *
 * Invariants:
 *   - No global state but ls_config_system_path (tests point it elsewhere).
 *   - The environment is read from ls_config_env.envp only, never getenv():
 *     the shim's constructor passes its own view of it.  Like getenv(), the
 *     first "NAME=" entry of a name wins.
 *   - The first error wins: parsing stops there and -1 is returned.  One
 *     exception, so that "strict" can be honoured even when something else
 *     is wrong: ls_config_load still applies a valid LOCKSCOPE_MODE after an
 *     earlier error (the header promises that cfg->mode tells whether strict
 *     was asked for).
 *   - Rules: the first matching rule wins; environment rules are placed
 *     before the config file's rules, so the environment overrides the file.
 *   - Nothing is truncated silently: a line or value longer than
 *     LS_CONFIG_MAX_VALUE, more than LS_CONFIG_MAX_RULES rules of one kind,
 *     or a file larger than LS_CONFIG_MAX_FILE is an error.
 *
 * Environment (all optional; booleans are exactly "0" or "1"):
 *   LOCKSCOPE_MODE       off | audit | fix | strict
 *   LOCKSCOPE_LOG        a path, or "stderr" (stored as NULL); empty is an error
 *   LOCKSCOPE_FORMAT     text | json
 *   LOCKSCOPE_DEBUG      0 | 1
 *   LOCKSCOPE_FLOCK      native | ofd
 *   LOCKSCOPE_ABORT      0 | 1
 *   LOCKSCOPE_BACKTRACE  0 | 1
 *   LOCKSCOPE_OPEN_LOCK  GLOB=KIND[,nonblock][;GLOB=KIND[,nonblock]...]
 *                        KIND: exclusive | shared | deny-write
 *   LOCKSCOPE_SCOPE      GLOB=SCOPE[;GLOB=SCOPE...]
 *                        SCOPE: process | description | auto
 *   LOCKSCOPE_CONFIG     the one config file to read (empty = unset)
 * Any other LOCKSCOPE_* name is an error, except LOCKSCOPE_HANDOVER and
 * names starting with LOCKSCOPE__ (internal to the shim).  In secure-execution
 * processes every LOCKSCOPE_* variable is ignored.
 *
 * Rule lists: items are split on ';' (empty and blank items are ignored;
 * rules are numbered from 1 counting non-empty items), each item on its LAST
 * '=' into GLOB and value; blanks around items, GLOB, KIND and options are
 * trimmed.  An empty GLOB is an error.  GLOB syntax (ls_glob_match): '**'
 * matches any string, '/' included, and "/" "**" "/" also a single '/'
 * (gitignore); '*' any string within one component; '?' and "[...]" (as in
 * fnmatch(3), which does the bracket) one character other than '/'; '\'
 * quotes the next character.
 *
 * Config file choice: LOCKSCOPE_CONFIG if set and not secure (a missing file
 * is an error); else the first that exists of $XDG_CONFIG_HOME/lockscope/config
 * (XDG_CONFIG_HOME set and absolute) or else $HOME/.config/lockscope/config
 * (HOME absolute), then ls_config_system_path (/etc/lockscope.conf).  In
 * secure mode only the system file.  "Exists" means open(2) did not fail with
 * ENOENT or ENOTDIR, nor, for the per-user and system locations, with EACCES
 * where stat(2) fails too (the location cannot even be looked up: a program
 * that dropped privileges with HOME still root's; cfg->skipped says so for a
 * debug line).  Any other failure of the chosen file is an error, and
 * LOCKSCOPE_CONFIG's file is never skipped.  The file must be a regular file.
 * In a directory another user can write (ls_dir_shared) it is opened with
 * O_NOFOLLOW and must belong to this user or root, with one link.
 *
 * Config file format (INI-like), one statement per line:
 *
 *     # a comment            ; also a comment       (whole lines only)
 *     mode = strict
 *     log = "/var/log/lockscope.jsonl"
 *     open_lock = *.db=exclusive;/var/mail/?*=deny-write,nonblock
 *
 *     [path "/srv/data/?*.sqlite"]
 *     scope = process
 *     open_lock = shared,nonblock
 *
 *   - Top-level keys: mode log format debug flock abort backtrace open_lock
 *     scope, with the same values as the environment variables (open_lock and
 *     scope take the rule-list grammar above).
 *   - [path "GLOB"] starts a per-path section that lasts until the next
 *     section; inside it only scope = process|description|auto and
 *     open_lock = KIND[,nonblock] are allowed, each at most once.  The GLOB is
 *     everything between the first and the last '"'; it must not be empty.
 *     There is no way back to the top level: put top-level keys first.
 *   - Blanks around keys, '=' and at both ends are trimmed; a value may be
 *     enclosed in double quotes, taken verbatim (no escapes).  There are no
 *     trailing comments: "mode = fix # x" is an error, not "fix".
 *   - Lines end with "\n" or "\r\n"; a leading UTF-8 BOM is skipped.  NUL
 *     bytes and other control characters (except tab) are errors, so are
 *     unknown keys, malformed section headers and lines longer than
 *     LS_CONFIG_MAX_VALUE bytes.
 *
 * Errors look like:
 *     LOCKSCOPE_MODE=bogus: expected off, audit, fix or strict
 *     /etc/lockscope.conf:12: unknown key 'mdoe'
 *     /etc/lockscope.conf:3: mode=bogus: expected off, audit, fix or strict
 *     LOCKSCOPE_OPEN_LOCK=a=shared;*.db=exclusiv: rule 2 '*.db=exclusiv':
 *         expected KIND exclusive, shared or deny-write        (one line)
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* A config file larger than this is refused (never partially read). */
#define LS_CONFIG_MAX_FILE (4u * 1024u * 1024u)

/* How much of a value an error message shows, and of a name or path. */
#define SHOW_VALUE 60
#define SHOW_NAME 240

/* The system-wide config file; the only global, so tests can redirect it. */
const char *ls_config_system_path = "/etc/lockscope.conf";

/* ------------------------------------------------------------------ */
/* Errors: one line, printable, bounded.                              */

/* Copy s[0..n) into out (size cap) with every byte outside 0x20..0x7e
 * written as \xNN, showing at most `shown` characters, then "..." if cut. */
static void esc(char *out, size_t cap, const char *s, size_t n, size_t shown)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0, i;

    if (cap == 0)
        return;
    if (shown + 4 > cap)
        shown = cap > 4 ? cap - 4 : 0;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t w = (c >= 0x20 && c < 0x7f) ? 1 : 4;
        if (o + w > shown)
            break;
        if (w == 1) {
            out[o++] = (char)c;
        } else {
            out[o++] = '\\';
            out[o++] = 'x';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    if (i < n && o + 3 < cap) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
}

#if defined(__GNUC__) || defined(__clang__)
__attribute__((format(printf, 3, 4)))
#endif
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;

    if (err && errlen) {
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Escaped forms of a value and of a name, as locals of the caller. */
struct shown {
    char v[SHOW_VALUE + 8];
    char w[SHOW_NAME + 8];
};

static void show(struct shown *sh, const char *what, const char *value)
{
    const char *w = what ? what : "(config)";
    const char *v = value ? value : "";
    esc(sh->w, sizeof sh->w, w, strlen(w), SHOW_NAME);
    esc(sh->v, sizeof sh->v, v, strlen(v), SHOW_VALUE);
}

/* ------------------------------------------------------------------ */
/* Words.                                                             */

static const char *const mode_names[] = { "off", "audit", "fix", "strict" };

const char *ls_mode_name(enum ls_mode m)
{
    if ((unsigned)m < sizeof mode_names / sizeof mode_names[0])
        return mode_names[m];
    return "unknown";
}

static int is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Trim blanks from both ends of s[0..*n); returns the new start. */
static const char *trim(const char *s, size_t *n)
{
    while (*n && is_blank(*s)) {
        s++;
        (*n)--;
    }
    while (*n && is_blank(s[*n - 1]))
        (*n)--;
    return s;
}

static int word_is(const char *s, size_t n, const char *word)
{
    return strlen(word) == n && memcmp(s, word, n) == 0;
}

static int parse_mode(const char *v, enum ls_mode *out)
{
    size_t i;
    for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
        if (strcmp(v, mode_names[i]) == 0) {
            *out = (enum ls_mode)i;
            return 0;
        }
    return -1;
}

static int parse_bool(const char *v, int *out)
{
    if (strcmp(v, "0") == 0 || strcmp(v, "1") == 0) {
        *out = v[0] == '1';
        return 0;
    }
    return -1;
}

static int parse_scope_word(const char *s, size_t n, enum ls_scope *out)
{
    if (word_is(s, n, "process"))
        *out = LS_SCOPE_PROCESS;
    else if (word_is(s, n, "description"))
        *out = LS_SCOPE_DESCRIPTION;
    else if (word_is(s, n, "auto"))
        *out = LS_SCOPE_AUTO;
    else
        return -1;
    return 0;
}

#define EXPECT_KIND "expected KIND exclusive, shared or deny-write"
#define EXPECT_SCOPE "expected SCOPE process, description or auto"

/* KIND[,nonblock] in s[0..n).  Returns NULL, or what was wrong. */
static const char *parse_kind(const char *s, size_t n,
                              enum ls_openlock_kind *kind, int *nonblock)
{
    const char *comma = memchr(s, ',', n);
    size_t raw = comma ? (size_t)(comma - s) : n, kn = raw;
    const char *k = trim(s, &kn);

    if (word_is(k, kn, "exclusive"))
        *kind = LS_OPENLOCK_EXCLUSIVE;
    else if (word_is(k, kn, "shared"))
        *kind = LS_OPENLOCK_SHARED;
    else if (word_is(k, kn, "deny-write"))
        *kind = LS_OPENLOCK_DENY_WRITE;
    else
        return EXPECT_KIND;
    *nonblock = 0;
    if (comma) {
        size_t on = n - raw - 1;
        const char *o = trim(comma + 1, &on);
        if (!word_is(o, on, "nonblock"))
            return "expected KIND[,nonblock] (the only option is nonblock)";
        *nonblock = 1;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* Rules.                                                             */

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = '\0';
    }
    return p;
}

/* Make room for element n of an array of `size`-byte elements whose
 * capacity is always max(8, the smallest power of two >= n). */
static int grow(void **arr, size_t n, size_t size)
{
    void *p;

    if (n != 0 && (n < 8 || (n & (n - 1)) != 0))
        return 0;
    p = realloc(*arr, (n == 0 ? 8 : n * 2) * size);
    if (!p)
        return -1;
    *arr = p;
    return 0;
}

/* Returns NULL, or what went wrong. */
static const char *add_open_rule(struct ls_config *cfg, const char *glob, size_t gn,
                                 enum ls_openlock_kind kind, int nonblock)
{
    void *arr = cfg->open_rules;
    char *g;

    if (cfg->n_open_rules >= LS_CONFIG_MAX_RULES)
        return "too many open_lock rules (at most 1024)";
    if (grow(&arr, cfg->n_open_rules, sizeof *cfg->open_rules) < 0)
        return "out of memory";
    cfg->open_rules = arr;
    if (!(g = dup_n(glob, gn)))
        return "out of memory";
    cfg->open_rules[cfg->n_open_rules].glob = g;
    cfg->open_rules[cfg->n_open_rules].kind = kind;
    cfg->open_rules[cfg->n_open_rules].nonblock = nonblock;
    cfg->n_open_rules++;
    return NULL;
}

static const char *add_scope_rule(struct ls_config *cfg, const char *glob, size_t gn,
                                  enum ls_scope scope)
{
    void *arr = cfg->scope_rules;
    char *g;

    if (cfg->n_scope_rules >= LS_CONFIG_MAX_RULES)
        return "too many scope rules (at most 1024)";
    if (grow(&arr, cfg->n_scope_rules, sizeof *cfg->scope_rules) < 0)
        return "out of memory";
    cfg->scope_rules = arr;
    if (!(g = dup_n(glob, gn)))
        return "out of memory";
    cfg->scope_rules[cfg->n_scope_rules].glob = g;
    cfg->scope_rules[cfg->n_scope_rules].scope = scope;
    cfg->n_scope_rules++;
    return NULL;
}

/* GLOB=VALUE[;GLOB=VALUE...] for open_lock (is_scope 0) or scope. */
static int parse_rule_list(struct ls_config *cfg, const char *value, const char *what,
                           int is_scope, char *err, size_t errlen)
{
    struct shown sh;
    const char *p = value ? value : "";
    size_t len = strlen(p), nrule = 0;

    if (len > LS_CONFIG_MAX_VALUE) {
        show(&sh, what, value);
        return fail(err, errlen, "%s=%s: value longer than %u bytes",
                    sh.w, sh.v, (unsigned)LS_CONFIG_MAX_VALUE);
    }
    while (*p) {
        const char *semi = strchr(p, ';');
        size_t n = semi ? (size_t)(semi - p) : strlen(p);
        const char *item = trim(p, &n), *eq = NULL, *why = NULL;
        size_t i;

        p = semi ? semi + 1 : p + strlen(p);
        if (n == 0)
            continue;
        nrule++;
        for (i = n; i > 0; i--)
            if (item[i - 1] == '=') {
                eq = item + i - 1;
                break;
            }
        if (!eq) {
            why = is_scope ? "expected GLOB=SCOPE" : "expected GLOB=KIND[,nonblock]";
        } else {
            size_t gn = (size_t)(eq - item), rn = n - gn - 1;
            const char *glob = trim(item, &gn);
            const char *rhs = trim(eq + 1, &rn);
            if (gn == 0) {
                why = "empty GLOB";
            } else if (is_scope) {
                enum ls_scope sc;
                if (parse_scope_word(rhs, rn, &sc) < 0)
                    why = EXPECT_SCOPE;
                else
                    why = add_scope_rule(cfg, glob, gn, sc);
            } else {
                enum ls_openlock_kind kind;
                int nonblock;
                why = parse_kind(rhs, rn, &kind, &nonblock);
                if (!why)
                    why = add_open_rule(cfg, glob, gn, kind, nonblock);
            }
        }
        if (why) {
            char it[SHOW_VALUE + 8];
            show(&sh, what, value);
            esc(it, sizeof it, item, n, SHOW_VALUE);
            return fail(err, errlen, "%s=%s: rule %zu '%s': %s", sh.w, sh.v, nrule, it, why);
        }
    }
    return 0;
}

int ls_config_parse_open_lock(struct ls_config *cfg, const char *value,
                              const char *what, char *err, size_t errlen)
{
    return parse_rule_list(cfg, value, what, 0, err, errlen);
}

int ls_config_parse_scope(struct ls_config *cfg, const char *value,
                          const char *what, char *err, size_t errlen)
{
    return parse_rule_list(cfg, value, what, 1, err, errlen);
}

/* ------------------------------------------------------------------ */
/* Scalar settings, shared by the file and the environment.           */

enum key {
    K_MODE, K_LOG, K_FORMAT, K_DEBUG, K_FLOCK, K_ABORT, K_BACKTRACE,
    K_OPEN_LOCK, K_SCOPE, K_CONFIG, K_NKEYS
};

static const struct {
    const char *key;            /* config file key, NULL: environment only */
    const char *var;            /* environment variable */
} keys[K_NKEYS] = {
    [K_MODE]      = { "mode",      "LOCKSCOPE_MODE" },
    [K_LOG]       = { "log",       "LOCKSCOPE_LOG" },
    [K_FORMAT]    = { "format",    "LOCKSCOPE_FORMAT" },
    [K_DEBUG]     = { "debug",     "LOCKSCOPE_DEBUG" },
    [K_FLOCK]     = { "flock",     "LOCKSCOPE_FLOCK" },
    [K_ABORT]     = { "abort",     "LOCKSCOPE_ABORT" },
    [K_BACKTRACE] = { "backtrace", "LOCKSCOPE_BACKTRACE" },
    [K_OPEN_LOCK] = { "open_lock", "LOCKSCOPE_OPEN_LOCK" },
    [K_SCOPE]     = { "scope",     "LOCKSCOPE_SCOPE" },
    [K_CONFIG]    = { NULL,        "LOCKSCOPE_CONFIG" },
};

static void free_log(struct ls_config *cfg)
{
    if (cfg->log != cfg->log_buf)
        free(cfg->log);
    cfg->log = NULL;
}

/* Apply one setting.  `what` is "LOCKSCOPE_X" or "file:line: key"; the
 * message reads "WHAT=VALUE: ...". */
static int apply(struct ls_config *cfg, enum key k, const char *value,
                 const char *what, char *err, size_t errlen)
{
    struct shown sh;
    const char *why = NULL;
    int b;

    if (strlen(value) > LS_CONFIG_MAX_VALUE) {
        show(&sh, what, value);
        return fail(err, errlen, "%s=%s: value longer than %u bytes",
                    sh.w, sh.v, (unsigned)LS_CONFIG_MAX_VALUE);
    }
    switch (k) {
    case K_MODE: {
        enum ls_mode m;
        if (parse_mode(value, &m) < 0)
            why = "expected off, audit, fix or strict";
        else
            cfg->mode = m;
        break;
    }
    case K_LOG:
        if (value[0] == '\0') {
            why = "expected a path or stderr";
        } else if (strcmp(value, "stderr") == 0) {
            free_log(cfg);
        } else if (strlen(value) < sizeof cfg->log_buf) {
            /* no malloc at process start (its first call costs system calls) */
            free_log(cfg);
            memcpy(cfg->log_buf, value, strlen(value) + 1);
            cfg->log = cfg->log_buf;
        } else {
            char *l = strdup(value);
            if (!l) {
                why = "out of memory";
            } else {
                free_log(cfg);
                cfg->log = l;
            }
        }
        break;
    case K_FORMAT:
        if (strcmp(value, "text") == 0)
            cfg->format = LS_FORMAT_TEXT;
        else if (strcmp(value, "json") == 0)
            cfg->format = LS_FORMAT_JSON;
        else
            why = "expected text or json";
        break;
    case K_FLOCK:
        if (strcmp(value, "native") == 0)
            cfg->flock = LS_FLOCK_NATIVE;
        else if (strcmp(value, "ofd") == 0)
            cfg->flock = LS_FLOCK_OFD;
        else
            why = "expected native or ofd";
        break;
    case K_DEBUG:
    case K_ABORT:
    case K_BACKTRACE:
        if (parse_bool(value, &b) < 0) {
            why = "expected 0 or 1";
        } else if (k == K_DEBUG) {
            cfg->debug = b;
        } else if (k == K_ABORT) {
            cfg->abort_on_hazard = b;
        } else {
            cfg->backtrace = b;
        }
        break;
    case K_OPEN_LOCK:
        return parse_rule_list(cfg, value, what, 0, err, errlen);
    case K_SCOPE:
        return parse_rule_list(cfg, value, what, 1, err, errlen);
    case K_CONFIG:
    case K_NKEYS:
        break;
    }
    if (why) {
        show(&sh, what, value);
        return fail(err, errlen, "%s=%s: %s", sh.w, sh.v, why);
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* The config file.                                                   */

struct parse_state {
    const char *name;           /* escaped file name */
    size_t line;
    int in_section;
    const char *glob;           /* section glob, not NUL-terminated */
    size_t glob_n;
    int seen_scope, seen_open;  /* keys already given in this section */
};

static int parse_section(struct parse_state *st, const char *s, size_t n,
                         char *err, size_t errlen)
{
    const char *q1, *q2;
    size_t in;
    const char *inner;

    if (n < 2 || s[n - 1] != ']')
        goto bad;
    in = n - 2;
    inner = trim(s + 1, &in);
    if (in < 4 || memcmp(inner, "path", 4) != 0 || in == 4 || !is_blank(inner[4]))
        goto bad;
    inner += 4;
    in -= 4;
    inner = trim(inner, &in);
    q1 = inner;
    q2 = inner + in - 1;
    if (in < 2 || *q1 != '"' || *q2 != '"')
        goto bad;
    if (q2 - q1 == 1)
        return fail(err, errlen, "%s:%zu: empty GLOB in section header", st->name, st->line);
    st->in_section = 1;
    st->glob = q1 + 1;
    st->glob_n = (size_t)(q2 - q1 - 1);
    st->seen_scope = st->seen_open = 0;
    return 0;
bad:
    {
        char v[SHOW_VALUE + 8];
        esc(v, sizeof v, s, n, SHOW_VALUE);
        return fail(err, errlen, "%s:%zu: malformed section header '%s': expected [path \"GLOB\"]",
                    st->name, st->line, v);
    }
}

/* key = value in a [path] section. */
static int parse_section_key(struct ls_config *cfg, struct parse_state *st,
                             const char *key, size_t kn, const char *val, size_t vn,
                             char *err, size_t errlen)
{
    const char *why = NULL;
    char v[SHOW_VALUE + 8], kk[SHOW_VALUE + 8];

    esc(kk, sizeof kk, key, kn, SHOW_VALUE);
    if (word_is(key, kn, "scope")) {
        enum ls_scope sc;
        if (st->seen_scope)
            return fail(err, errlen, "%s:%zu: key 'scope' given twice in one [path] section",
                        st->name, st->line);
        if (parse_scope_word(val, vn, &sc) < 0)
            why = EXPECT_SCOPE;
        else
            why = add_scope_rule(cfg, st->glob, st->glob_n, sc);
        st->seen_scope = 1;
    } else if (word_is(key, kn, "open_lock")) {
        enum ls_openlock_kind kind;
        int nonblock;
        if (st->seen_open)
            return fail(err, errlen, "%s:%zu: key 'open_lock' given twice in one [path] section",
                        st->name, st->line);
        why = parse_kind(val, vn, &kind, &nonblock);
        if (!why)
            why = add_open_rule(cfg, st->glob, st->glob_n, kind, nonblock);
        st->seen_open = 1;
    } else {
        int k;
        for (k = 0; k < K_NKEYS; k++)
            if (keys[k].key && word_is(key, kn, keys[k].key))
                return fail(err, errlen,
                            "%s:%zu: key '%s' not allowed in a [path] section (only scope, open_lock)",
                            st->name, st->line, kk);
        return fail(err, errlen, "%s:%zu: unknown key '%s' in a [path] section (known: scope, open_lock)",
                    st->name, st->line, kk);
    }
    if (why) {
        esc(v, sizeof v, val, vn, SHOW_VALUE);
        return fail(err, errlen, "%s:%zu: %s=%s: %s", st->name, st->line, kk, v, why);
    }
    return 0;
}

static int is_key_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* One line, s[0..n), with no newline, no NUL and no control character but tab. */
static int parse_line(struct ls_config *cfg, struct parse_state *st,
                      const char *s, size_t n, char *err, size_t errlen)
{
    const char *eq, *key, *val;
    size_t kn, vn, i;
    char kk[SHOW_VALUE + 8];

    s = trim(s, &n);
    if (n == 0 || s[0] == '#' || s[0] == ';')
        return 0;
    if (s[0] == '[')
        return parse_section(st, s, n, err, errlen);
    eq = memchr(s, '=', n);
    kn = eq ? (size_t)(eq - s) : n;
    key = trim(s, &kn);
    for (i = 0; i < kn; i++)
        if (!is_key_char(key[i]))
            break;
    if (!eq || kn == 0 || i < kn) {
        char v[SHOW_VALUE + 8];
        esc(v, sizeof v, s, n, SHOW_VALUE);
        return fail(err, errlen, "%s:%zu: '%s': expected 'key = value', '[path \"GLOB\"]' or a comment",
                    st->name, st->line, v);
    }
    vn = n - (size_t)(eq - s) - 1;
    val = trim(eq + 1, &vn);
    if (vn > 0 && val[0] == '"') {
        if (vn < 2 || val[vn - 1] != '"') {
            char v[SHOW_VALUE + 8];
            esc(kk, sizeof kk, key, kn, SHOW_VALUE);
            esc(v, sizeof v, val, vn, SHOW_VALUE);
            return fail(err, errlen, "%s:%zu: %s=%s: unterminated quote", st->name, st->line, kk, v);
        }
        val++;
        vn -= 2;
    }
    if (st->in_section)
        return parse_section_key(cfg, st, key, kn, val, vn, err, errlen);
    for (i = 0; i < K_NKEYS; i++) {
        if (keys[i].key && word_is(key, kn, keys[i].key)) {
            char what[SHOW_NAME + 64];
            char *v = dup_n(val, vn);
            int rc;
            if (!v)
                return fail(err, errlen, "%s:%zu: out of memory", st->name, st->line);
            snprintf(what, sizeof what, "%s:%zu: %s", st->name, st->line, keys[i].key);
            rc = apply(cfg, (enum key)i, v, what, err, errlen);
            free(v);
            return rc;
        }
    }
    esc(kk, sizeof kk, key, kn, SHOW_VALUE);
    return fail(err, errlen, "%s:%zu: unknown key '%s' (known: mode, log, format, debug, flock, "
                "abort, backtrace, open_lock, scope)", st->name, st->line, kk);
}

int ls_config_parse_buffer(struct ls_config *cfg, const char *text, size_t len,
                           const char *name, char *err, size_t errlen)
{
    struct parse_state st;
    char nm[SHOW_NAME + 8];
    size_t pos = 0;

    memset(&st, 0, sizeof st);
    name = name ? name : "(config)";
    esc(nm, sizeof nm, name, strlen(name), SHOW_NAME);
    st.name = nm;
    if (!text)
        len = 0;
    if (len >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0)
        pos = 3;
    while (pos < len) {
        const char *s = text + pos;
        const char *nl = memchr(s, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - s) : len - pos, i;

        st.line++;
        pos += n + (nl ? 1 : 0);
        if (n > 0 && s[n - 1] == '\r')
            n--;
        if (n > LS_CONFIG_MAX_VALUE)
            return fail(err, errlen, "%s:%zu: line longer than %u bytes",
                        st.name, st.line, (unsigned)LS_CONFIG_MAX_VALUE);
        for (i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            if (c == 0)
                return fail(err, errlen, "%s:%zu: NUL byte (not a text file?)", st.name, st.line);
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return fail(err, errlen, "%s:%zu: control character \\x%02x (not a text file?)",
                            st.name, st.line, c);
        }
        if (parse_line(cfg, &st, s, n, err, errlen) < 0)
            return -1;
    }
    return 0;
}

/* Can a user other than this one (and root) write the directory that holds
 * path, so plant a symbolic link or a file of theirs there?  Group write
 * counts (a group has other members), and so does a directory owned by
 * another user; the sticky bit does not help (it keeps others from removing
 * our files, not from creating theirs).  Only the last directory is looked
 * at.  A directory that cannot be examined counts as shared. */
int ls_dir_shared(const char *path)
{
    char dir[4096];
    const char *slash = path ? strrchr(path, '/') : NULL;
    struct stat st;
    size_t n;
    int saved = errno, r;

    if (!slash) {
        dir[0] = '.';
        n = 1;
    } else {
        n = slash == path ? 1 : (size_t)(slash - path);
        if (n >= sizeof dir)
            return 1;
        memcpy(dir, path, n);
    }
    dir[n] = 0;
    r = stat(dir, &st) != 0 || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0 ||
        (st.st_uid != geteuid() && st.st_uid != 0);
    errno = saved;
    return r;
}

/* Open and read a whole regular file.  Returns 0, or -1 with *errnum set
 * (an errno value, or 0 with *why set for "not a regular file"/"too large"). */
static int read_file(const char *path, char **out, size_t *outlen, int *errnum,
                     const char **why)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    int fd;

    int shared;
    const int flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

    *errnum = 0;
    *why = NULL;
    /* Not following a symbolic link first: usually the file is absent (one
     * system call, no look at its directory); a file that is there, not a
     * link, is what either way of opening would give. */
    do
        fd = open(path, flags | O_NOFOLLOW);
    while (fd < 0 && errno == EINTR);
    if (fd < 0 && (errno == ENOENT || errno == ENOTDIR)) {
        *errnum = errno;
        return -1;
    }
    shared = ls_dir_shared(path);
    if (fd < 0 && !shared) {
        do
            fd = open(path, flags);
        while (fd < 0 && errno == EINTR);
    }
    if (fd < 0) {
        *errnum = errno;
        /* ELOOP from O_NOFOLLOW, or EACCES from fs.protected_symlinks */
        if (shared && (*errnum == ELOOP || *errnum == EACCES) && lstat(path, &st) == 0 &&
            S_ISLNK(st.st_mode)) {
            *errnum = 0;
            *why = "a symbolic link in a directory other users can write (not followed)";
        }
        return -1;
    }
    if (fstat(fd, &st) < 0) {
        *errnum = errno;
        close(fd);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = "not a regular file";
        close(fd);
        return -1;
    }
    if (shared && ((st.st_uid != geteuid() && st.st_uid != 0) || st.st_nlink != 1)) {
        *why = st.st_nlink != 1 ? "a file with other hard links, in a directory other users can write"
                                : "owned by another user, in a directory other users can write";
        close(fd);
        return -1;
    }
    for (;;) {
        ssize_t r;
        if (len == cap) {
            char *p;
            if (cap > LS_CONFIG_MAX_FILE) {
                *why = "file larger than 4194304 bytes";
                goto fail;
            }
            cap = cap ? cap * 2 : 4096;
            if (!(p = realloc(buf, cap + 1))) {
                *errnum = ENOMEM;
                goto fail;
            }
            buf = p;
        }
        r = read(fd, buf + len, cap - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            *errnum = errno;
            goto fail;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > LS_CONFIG_MAX_FILE) {
        *why = "file larger than 4194304 bytes";
        free(buf);
        return -1;
    }
    *out = buf;
    *outlen = len;
    return 0;
fail:
    close(fd);
    free(buf);
    return -1;
}

/* Returns 0 read and parsed, 1 absent (only when skip_missing), -1 error.
 * `via` names the variable that chose the file, or NULL. */
static int load_file(struct ls_config *cfg, const char *path, int skip_missing,
                     const char *via, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t len = 0;
    int errnum, rc;
    const char *why;
    char p[SHOW_NAME + 8];

    if (read_file(path, &buf, &len, &errnum, &why) < 0) {
        struct stat st;
        if (skip_missing && (errnum == ENOENT || errnum == ENOTDIR))
            return 1;
        /* A location this user cannot even look up (a program that dropped
         * privileges with HOME still the old user's) holds no file of
         * theirs: absent.  A file that is there but unreadable is an error. */
        if (skip_missing && errnum == EACCES && stat(path, &st) != 0) {
            char note[SHOW_NAME + 80];
            esc(p, sizeof p, path, strlen(path), SHOW_NAME);
            snprintf(note, sizeof note, "config file %s skipped: cannot be looked up (%s)",
                     p, strerror(EACCES));
            free(cfg->skipped);
            cfg->skipped = strdup(note);
            errno = 0;
            return 1;
        }
        esc(p, sizeof p, path, strlen(path), SHOW_NAME);
        if (!why)
            why = strerror(errnum);
        if (via)
            return fail(err, errlen, "%s=%s: cannot read config file: %s", via, p, why);
        return fail(err, errlen, "%s: cannot read config file: %s", p, why);
    }
    free(cfg->source);
    cfg->source = strdup(path);
    rc = ls_config_parse_buffer(cfg, buf, len, path, err, errlen);
    free(buf);
    if (rc == 0 && !cfg->source)
        return fail(err, errlen, "%s: out of memory", path);
    return rc;
}

int ls_config_parse_file(struct ls_config *cfg, const char *path,
                         char *err, size_t errlen)
{
    if (!path)
        return fail(err, errlen, "(config): no file name");
    return load_file(cfg, path, 0, NULL, err, errlen);
}

/* ------------------------------------------------------------------ */
/* The environment.                                                   */

/* The environment, read in one pass (no getenv per name: a process start
 * pays for every pass).  Like getenv(), the first "NAME=" entry counts. */
struct envscan {
    const char *v[K_NKEYS];             /* LOCKSCOPE_MODE ... LOCKSCOPE_CONFIG */
    const char *xdg, *home;             /* XDG_CONFIG_HOME, HOME */
    const char *unknown;                /* the first unknown LOCKSCOPE_ entry */
    size_t unknown_n;                   /* its name's length */
};

/* s starts with lit: the length of lit, else 0 (no libc call: each
 * function the constructor calls first costs the loader a lookup). */
static size_t starts(const char *s, const char *lit)
{
    size_t i = 0;
    while (lit[i] && s[i] == lit[i])
        i++;
    return lit[i] ? 0 : i;
}

static int is_known_var(const char *name, size_t n);

static void scan_env(const struct ls_config_env *env, struct envscan *es)
{
    const char *const *e;
    size_t n;

    memset(es, 0, sizeof *es);
    if (!env || !env->envp)
        return;
    for (e = env->envp; *e; e++) {
        const char *s = *e;
        if (s[0] == 'L' && starts(s, "LOCKSCOPE_")) {
            for (n = 10; s[n] && s[n] != '='; n++)
                ;
            if (!s[n])
                continue;
            int k, known = 0;
            for (k = 0; k < K_NKEYS; k++) {
                size_t l = starts(s, keys[k].var);
                if (l == n) {
                    known = 1;
                    if (!es->v[k])
                        es->v[k] = s + n + 1;
                    break;
                }
            }
            if (!known && !es->unknown && !is_known_var(s, n)) {
                es->unknown = s;
                es->unknown_n = n;
            }
        } else if (s[0] == 'X' && !es->xdg && (n = starts(s, "XDG_CONFIG_HOME="))) {
            es->xdg = s + n;
        } else if (s[0] == 'H' && !es->home && (n = starts(s, "HOME="))) {
            es->home = s + n;
        }
    }
}

static int is_known_var(const char *name, size_t n)
{
    int k;
    for (k = 0; k < K_NKEYS; k++)
        if (word_is(name, n, keys[k].var))
            return 1;
    return word_is(name, n, "LOCKSCOPE_HANDOVER") ||
           (n >= 11 && memcmp(name, "LOCKSCOPE__", 11) == 0);
}

static int check_unknown_vars(const struct envscan *es, char *err, size_t errlen)
{
    char nm[SHOW_VALUE + 8];

    if (!es->unknown)
        return 0;
    esc(nm, sizeof nm, es->unknown, es->unknown_n, SHOW_VALUE);
    return fail(err, errlen, "%s: unknown variable (known: LOCKSCOPE_MODE, LOCKSCOPE_LOG, "
                "LOCKSCOPE_FORMAT, LOCKSCOPE_DEBUG, LOCKSCOPE_FLOCK, LOCKSCOPE_ABORT, "
                "LOCKSCOPE_BACKTRACE, LOCKSCOPE_OPEN_LOCK, LOCKSCOPE_SCOPE, LOCKSCOPE_CONFIG)", nm);
}

/* Reverse a[i..j) of `size`-byte elements. */
static void reverse(void *a, size_t i, size_t j, size_t size)
{
    unsigned char *p = a, tmp[sizeof(struct ls_open_rule) > sizeof(struct ls_scope_rule)
                                 ? sizeof(struct ls_open_rule) : sizeof(struct ls_scope_rule)];
    while (j > i + 1) {
        j--;
        memcpy(tmp, p + i * size, size);
        memcpy(p + i * size, p + j * size, size);
        memcpy(p + j * size, tmp, size);
        i++;
    }
}

/* Move a[k..n) before a[0..k): the environment's rules go first. */
static void rotate(void *a, size_t k, size_t n, size_t size)
{
    if (!a || k == 0 || k >= n)
        return;
    reverse(a, 0, k, size);
    reverse(a, k, n, size);
    reverse(a, 0, n, size);
}

/* Path of the user's config file, in buf if it fits in cap (no malloc at
 * process start: the first malloc alone costs system calls), else
 * malloc'd; NULL if none. */
static char *user_config_path(const struct envscan *es, char *buf, size_t cap)
{
    const char *xdg = es->xdg;
    const char *home = es->home;
    const char *base, *tail;
    char *p;
    size_t n;

    if (xdg && xdg[0] == '/') {
        base = xdg;
        tail = "/lockscope/config";
    } else if (home && home[0] == '/') {
        base = home;
        tail = "/.config/lockscope/config";
    } else {
        return NULL;
    }
    n = strlen(base) + strlen(tail) + 1;
    if (n <= cap)
        p = buf;
    else if (!(p = malloc(n)))
        return NULL;
    memcpy(p, base, strlen(base));
    memcpy(p + strlen(base), tail, strlen(tail) + 1);
    return p;
}

static int load_config_file(struct ls_config *cfg, const struct ls_config_env *env,
                            const struct envscan *es, char *err, size_t errlen)
{
    const char *named = env->secure ? NULL : es->v[K_CONFIG];
    char *user, ubuf[512];
    int rc;

    if (named && named[0]) {
        if (strlen(named) > LS_CONFIG_MAX_VALUE)
            return apply(cfg, K_CONFIG, named, "LOCKSCOPE_CONFIG", err, errlen);
        return load_file(cfg, named, 0, "LOCKSCOPE_CONFIG", err, errlen);
    }
    if (!env->secure) {
        user = user_config_path(es, ubuf, sizeof ubuf);
        if (user) {
            rc = load_file(cfg, user, 1, NULL, err, errlen);
            if (user != ubuf)
                free(user);
            if (rc <= 0)
                return rc;
        }
    }
    if (!ls_config_system_path)
        return 0;
    rc = load_file(cfg, ls_config_system_path, 1, NULL, err, errlen);
    return rc < 0 ? -1 : 0;
}

/* *cfg is overwritten with the defaults first and nothing in it is freed: it
 * must be fresh (any contents) or ls_config_free'd.  errno is preserved. */
int ls_config_load(struct ls_config *cfg, const struct ls_config_env *env,
                   char *err, size_t errlen)
{
    static const struct ls_config_env no_env = { NULL, 0 };
    const char *mode;
    size_t n_open, n_scope;
    int saved_errno = errno, rc = 0, k;
    struct envscan es;

    if (err && errlen)
        err[0] = '\0';
    ls_config_defaults(cfg);
    if (!env)
        env = &no_env;
    scan_env(env, &es);
    if (load_config_file(cfg, env, &es, err, errlen) < 0)
        rc = -1;
    if (env->secure)
        goto out;

    /* The mode first, even after an error: strict must be known. */
    mode = es.v[K_MODE];
    if (mode) {
        if (rc == 0)
            rc = apply(cfg, K_MODE, mode, "LOCKSCOPE_MODE", err, errlen);
        else
            apply(cfg, K_MODE, mode, "LOCKSCOPE_MODE", NULL, 0);
    }
    if (rc < 0)
        goto out;
    if ((rc = check_unknown_vars(&es, err, errlen)) < 0)
        goto out;

    n_open = cfg->n_open_rules;
    n_scope = cfg->n_scope_rules;
    for (k = K_LOG; k < K_CONFIG && rc == 0; k++) {
        const char *v = es.v[k];
        if (v)
            rc = apply(cfg, (enum key)k, v, keys[k].var, err, errlen);
    }
    rotate(cfg->open_rules, n_open, cfg->n_open_rules, sizeof *cfg->open_rules);
    rotate(cfg->scope_rules, n_scope, cfg->n_scope_rules, sizeof *cfg->scope_rules);
out:
    errno = saved_errno;
    return rc;
}

/* ------------------------------------------------------------------ */

void ls_config_defaults(struct ls_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mode = LS_MODE_FIX;
    cfg->log = NULL;
    cfg->format = LS_FORMAT_DEFAULT;
    cfg->flock = LS_FLOCK_NATIVE;
    cfg->open_rules = NULL;
    cfg->scope_rules = NULL;
    cfg->source = NULL;
    cfg->skipped = NULL;
}

void ls_config_free(struct ls_config *cfg)
{
    size_t i;

    if (!cfg)
        return;
    for (i = 0; i < cfg->n_open_rules; i++)
        free(cfg->open_rules[i].glob);
    for (i = 0; i < cfg->n_scope_rules; i++)
        free(cfg->scope_rules[i].glob);
    free(cfg->open_rules);
    free(cfg->scope_rules);
    free_log(cfg);
    free(cfg->source);
    free(cfg->skipped);
    ls_config_defaults(cfg);
}

/* ------------------------------------------------------------------ */
/* Globs.                                                             */

/* End of the bracket expression starting at p[0] == '[' (the index just
 * past its ']'), or 0 when it is not closed (then '[' is an ordinary
 * character, as for fnmatch).  "[]...]" and "[!]...]" take the first ']'
 * literally; "[:name:]" inside is skipped whole. */
static size_t bracket_end(const char *p)
{
    size_t i = 1;

    if (p[i] == '!' || p[i] == '^')
        i++;
    if (p[i] == ']')
        i++;
    while (p[i] && p[i] != ']') {
        if (p[i] == '[' && (p[i + 1] == ':' || p[i + 1] == '.' || p[i + 1] == '=')) {
            char kind = p[i + 1];
            size_t j = i + 2;
            while (p[j] && !(p[j] == kind && p[j + 1] == ']'))
                j++;
            if (!p[j])
                return 0;
            i = j + 2;
            continue;
        }
        if (p[i] == '\\' && p[i + 1])
            i++;
        i++;
    }
    return p[i] == ']' ? i + 1 : 0;
}

/* One character c against the bracket expression p[0..n) (a '[' ... ']'),
 * through fnmatch(3) so that classes and ranges mean what they always did.
 * Never matches '/'. */
static int bracket_match(const char *p, size_t n, char c)
{
    char pat[256], str[2] = { c, 0 };

    if (c == '/' || n >= sizeof pat)
        return 0;
    memcpy(pat, p, n);
    pat[n] = 0;
    return fnmatch(pat, str, FNM_PATHNAME) == 0;
}

/* Match with the rules' glob syntax (see the header of this file), without
 * recursion, in O(len(p) * len(s)): one back-tracking point per kind of
 * star, the classic greedy matcher.  A '*' is forgotten once a '**' is
 * reached (the '**' absorbs whatever a longer '*' would have taken), and a
 * '**' once a later '**' is reached.  A '**' that is a whole component
 * followed by '/' ("/" "**" "/", or "**" "/" at the start) matches the empty
 * string or any string ending in '/', so it backtracks one component at a
 * time; that reading keeps the greedy argument sound, because the character
 * before such a token is a '/'.  No malloc. */
static int glob_match(const char *p0, const char *p, const char *s)
{
    const char *star_p = NULL, *star_s = NULL;      /* last '*' */
    const char *dstar_p = NULL, *dstar_s = NULL;    /* last '**' */
    int dslash = 0;                                 /* it was a "**" "/" component */

    for (;;) {
        if (*p == '*' && p[1] == '*') {
            int own = p == p0 || p[-1] == '/';
            while (*p == '*')
                p++;
            dslash = own && *p == '/';
            if (dslash)
                p++;
            dstar_p = p;
            dstar_s = s;
            star_p = NULL;
            continue;
        }
        if (*p == '*') {
            p++;
            star_p = p;
            star_s = s;
            continue;
        }
        if (*p == 0 && *s == 0)
            return 1;
        if (*p != 0 && *s != 0) {
            size_t n;
            if (*p == '?') {
                if (*s != '/') {
                    p++, s++;
                    continue;
                }
            } else if (*p == '[' && (n = bracket_end(p)) > 0) {
                if (bracket_match(p, n, *s)) {
                    p += n, s++;
                    continue;
                }
            } else if (*p == '\\' && p[1]) {
                if (p[1] == *s) {
                    p += 2, s++;
                    continue;
                }
            } else if (*p == *s) {
                p++, s++;
                continue;
            }
        }
        /* mismatch: the innermost star takes one more character */
        if (star_p && *star_s && *star_s != '/') {
            p = star_p;
            s = ++star_s;
            continue;
        }
        if (dstar_p && *dstar_s) {
            if (dslash) {
                const char *slash = strchr(dstar_s, '/');
                if (!slash)
                    return 0;
                dstar_s = slash + 1;
            } else {
                dstar_s++;
            }
            star_p = NULL;
            p = dstar_p;
            s = dstar_s;
            continue;
        }
        return 0;
    }
}

int ls_glob_match(const char *pattern, const char *path)
{
    if (!pattern || !path)
        return 0;
    return glob_match(pattern, pattern, path);
}

const struct ls_open_rule *ls_config_match_open(const struct ls_config *cfg, const char *path)
{
    size_t i;

    if (!cfg || !path)
        return NULL;
    for (i = 0; i < cfg->n_open_rules; i++)
        if (ls_glob_match(cfg->open_rules[i].glob, path))
            return &cfg->open_rules[i];
    return NULL;
}

const struct ls_scope_rule *ls_config_match_scope_rule(const struct ls_config *cfg, const char *path)
{
    size_t i;

    if (!cfg || !path)
        return NULL;
    for (i = 0; i < cfg->n_scope_rules; i++)
        if (ls_glob_match(cfg->scope_rules[i].glob, path))
            return &cfg->scope_rules[i];
    return NULL;
}

enum ls_scope ls_config_match_scope(const struct ls_config *cfg, const char *path)
{
    const struct ls_scope_rule *r = ls_config_match_scope_rule(cfg, path);
    return r ? r->scope : LS_SCOPE_AUTO;
}
