/*
 * test_config.c - unit tests of config/config.c: every variable and key,
 * good and bad; precedence file < environment; secure mode; the config file
 * search order; per-path sections; error messages; hostile input.
 *
 * Every test runs in a fresh temporary directory, and ls_config_system_path
 * points into it, so the host's /etc/lockscope.conf never takes part.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"

extern const char *ls_config_system_path;

static char dir[64];
static char system_conf[128];
static struct ls_config cfg;
static char err[1024];

/* ------------------------------------------------------------------ */
/* Helpers.                                                           */

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    chmod(p, 0700);
    return remove(p);
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/ls-test-config-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(system_conf, sizeof system_conf, "%s/system.conf", dir);
    ls_config_system_path = system_conf;
    ls_config_defaults(&cfg);
    memset(err, 0, sizeof err);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    ls_config_free(&cfg);
    ls_config_system_path = "/etc/lockscope.conf";
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* dir/rel, in a rotating set of static buffers. */
static const char *in_dir(const char *rel)
{
    static char bufs[8][PATH_MAX];
    static int i;
    char *b = bufs[i++ & 7];
    snprintf(b, PATH_MAX, "%s/%s", dir, rel);
    return b;
}

/* Write a file (creating its parent directories under dir). */
static void write_file(const char *path, const char *text, size_t len)
{
    char tmp[PATH_MAX];
    char *s;
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s", path);
    for (s = tmp + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
        *s = '\0';
        mkdir(tmp, 0700);
        *s = '/';
    }
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_str(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

/* ls_config_load overwrites *cfg without freeing it: free what a previous
 * load left first. */
static int load(int secure, const char *const *envp)
{
    struct ls_config_env env = { envp, secure };
    ls_config_free(&cfg);
    return ls_config_load(&cfg, &env, err, sizeof err);
}

#define ENV(...) ((const char *const[]){ __VA_ARGS__, NULL })

static int buf(const char *text)
{
    return ls_config_parse_buffer(&cfg, text, strlen(text), "t.conf", err, sizeof err);
}

/* The message is one printable line. */
static void assert_one_line(const char *m)
{
    const char *p;
    assert_true(m[0] != '\0');
    for (p = m; *p; p++)
        assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
}

static void assert_err(const char *expected)
{
    assert_one_line(err);
    assert_string_equal(err, expected);
}

static void assert_err_prefix(const char *prefix)
{
    assert_one_line(err);
    if (strncmp(err, prefix, strlen(prefix)) != 0)
        fail_msg("error '%s' does not start with '%s'", err, prefix);
}

static void assert_err_has(const char *part)
{
    assert_one_line(err);
    if (!strstr(err, part))
        fail_msg("error '%s' does not contain '%s'", err, part);
}

static void assert_defaults(const struct ls_config *c)
{
    assert_int_equal(c->mode, LS_MODE_FIX);
    assert_null(c->log);
    assert_int_equal(c->format, LS_FORMAT_DEFAULT);
    assert_int_equal(c->debug, 0);
    assert_int_equal(c->flock, LS_FLOCK_NATIVE);
    assert_int_equal(c->abort_on_hazard, 0);
    assert_int_equal(c->backtrace, 0);
    assert_null(c->open_rules);
    assert_int_equal(c->n_open_rules, 0);
    assert_null(c->scope_rules);
    assert_int_equal(c->n_scope_rules, 0);
    assert_null(c->source);
}

/* ------------------------------------------------------------------ */
/* Defaults and helpers.                                              */

static void test_defaults(void **state)
{
    memset(&cfg, 0x5a, sizeof cfg);
    ls_config_defaults(&cfg);
    assert_defaults(&cfg);
}

static void test_load_nothing_gives_defaults(void **state)
{
    assert_int_equal(load(0, ENV("PATH=/bin", "HOME=/nonexistent-home")), 0);
    assert_defaults(&cfg);
    assert_string_equal(err, "");
    assert_int_equal(ls_config_load(&cfg, NULL, err, sizeof err), 0);
    assert_defaults(&cfg);
    /* load starts from the defaults whatever *cfg held (it frees nothing) */
    memset(&cfg, 0, sizeof cfg);
    cfg.mode = LS_MODE_OFF;
    cfg.format = LS_FORMAT_JSON;
    cfg.flock = LS_FLOCK_OFD;
    cfg.debug = cfg.abort_on_hazard = cfg.backtrace = 1;
    assert_int_equal(ls_config_load(&cfg, &(struct ls_config_env){ ENV("A=b"), 0 }, err, sizeof err), 0);
    assert_defaults(&cfg);
}

static void test_mode_name(void **state)
{
    assert_string_equal(ls_mode_name(LS_MODE_OFF), "off");
    assert_string_equal(ls_mode_name(LS_MODE_AUDIT), "audit");
    assert_string_equal(ls_mode_name(LS_MODE_FIX), "fix");
    assert_string_equal(ls_mode_name(LS_MODE_STRICT), "strict");
    assert_non_null(ls_mode_name((enum ls_mode)42));
}

/* ------------------------------------------------------------------ */
/* Environment variables, one by one.                                 */

static void test_env_mode_values(void **state)
{
    static const char *const v[] = { "LOCKSCOPE_MODE=off", "LOCKSCOPE_MODE=audit",
                                     "LOCKSCOPE_MODE=fix", "LOCKSCOPE_MODE=strict" };
    static const enum ls_mode m[] = { LS_MODE_OFF, LS_MODE_AUDIT, LS_MODE_FIX, LS_MODE_STRICT };
    size_t i;
    for (i = 0; i < 4; i++) {
        assert_int_equal(load(0, ENV(v[i])), 0);
        assert_int_equal(cfg.mode, m[i]);
        ls_config_free(&cfg);
    }
}

static void test_env_mode_bad(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=bogus")), -1);
    assert_err("LOCKSCOPE_MODE=bogus: expected off, audit, fix or strict");
    assert_int_equal(cfg.mode, LS_MODE_FIX);
    ls_config_free(&cfg);
    /* case and blanks matter: strict means exact */
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=Strict")), -1);
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=strict ")), -1);
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=")), -1);
    assert_err("LOCKSCOPE_MODE=: expected off, audit, fix or strict");
}

static void test_env_log(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_LOG=/tmp/x.jsonl")), 0);
    assert_string_equal(cfg.log, "/tmp/x.jsonl");
    ls_config_free(&cfg);
    assert_int_equal(load(0, ENV("LOCKSCOPE_LOG=stderr")), 0);
    assert_null(cfg.log);
    ls_config_free(&cfg);
    assert_int_equal(load(0, ENV("LOCKSCOPE_LOG=")), -1);
    assert_err("LOCKSCOPE_LOG=: expected a path or stderr");
}

static void test_env_format(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_FORMAT=text")), 0);
    assert_int_equal(cfg.format, LS_FORMAT_TEXT);
    assert_int_equal(load(0, ENV("LOCKSCOPE_FORMAT=json")), 0);
    assert_int_equal(cfg.format, LS_FORMAT_JSON);
    assert_int_equal(load(0, ENV("LOCKSCOPE_FORMAT=xml")), -1);
    assert_err("LOCKSCOPE_FORMAT=xml: expected text or json");
    assert_int_equal(cfg.format, LS_FORMAT_DEFAULT);
}

/* The three booleans: exactly 0 or 1. */
static void check_bool(const char *var, const int *field)
{
    static const char *const bad[] = { "yes", "true", "on", "2", "", "01", " 1" };
    char e[128], msg[256];
    size_t i;

    snprintf(e, sizeof e, "%s=1", var);
    assert_int_equal(load(0, ENV(e)), 0);
    assert_int_equal(*field, 1);
    snprintf(e, sizeof e, "%s=0", var);
    assert_int_equal(load(0, ENV(e)), 0);
    assert_int_equal(*field, 0);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(e, sizeof e, "%s=%s", var, bad[i]);
        assert_int_equal(load(0, ENV(e)), -1);
        snprintf(msg, sizeof msg, "%s=%s: expected 0 or 1", var, bad[i]);
        assert_err(msg);
        assert_int_equal(*field, 0);
    }
}

static void test_env_debug(void **state)
{
    check_bool("LOCKSCOPE_DEBUG", &cfg.debug);
}

static void test_env_abort(void **state)
{
    check_bool("LOCKSCOPE_ABORT", &cfg.abort_on_hazard);
}

static void test_env_backtrace(void **state)
{
    check_bool("LOCKSCOPE_BACKTRACE", &cfg.backtrace);
}

static void test_env_flock(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_FLOCK=ofd")), 0);
    assert_int_equal(cfg.flock, LS_FLOCK_OFD);
    assert_int_equal(load(0, ENV("LOCKSCOPE_FLOCK=native")), 0);
    assert_int_equal(cfg.flock, LS_FLOCK_NATIVE);
    assert_int_equal(load(0, ENV("LOCKSCOPE_FLOCK=posix")), -1);
    assert_err("LOCKSCOPE_FLOCK=posix: expected native or ofd");
}

static void test_env_open_lock(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=;*.db=exclusive;; /var/x/* = shared , nonblock ;"
                                 "a=b=deny-write;")), 0);
    assert_int_equal(cfg.n_open_rules, 3);
    assert_string_equal(cfg.open_rules[0].glob, "*.db");
    assert_int_equal(cfg.open_rules[0].kind, LS_OPENLOCK_EXCLUSIVE);
    assert_int_equal(cfg.open_rules[0].nonblock, 0);
    assert_string_equal(cfg.open_rules[1].glob, "/var/x/*");
    assert_int_equal(cfg.open_rules[1].kind, LS_OPENLOCK_SHARED);
    assert_int_equal(cfg.open_rules[1].nonblock, 1);
    /* split on the last '=' */
    assert_string_equal(cfg.open_rules[2].glob, "a=b");
    assert_int_equal(cfg.open_rules[2].kind, LS_OPENLOCK_DENY_WRITE);
    /* blanks before the comma (found by the fuzzer: the option was read
     * one byte too far) */
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=x=shared  ,nonblock;y=exclusive")), 0);
    assert_int_equal(cfg.n_open_rules, 2);
    assert_int_equal(cfg.open_rules[0].nonblock, 1);
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=")), 0);
    assert_int_equal(cfg.n_open_rules, 0);
}

static void test_env_open_lock_bad_kind(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=a=shared;;*.db=exclusiv")), -1);
    assert_err("LOCKSCOPE_OPEN_LOCK=a=shared;;*.db=exclusiv: rule 2 '*.db=exclusiv': "
               "expected KIND exclusive, shared or deny-write");
}

static void test_env_open_lock_bad_items(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=*.db=exclusive,nonblok")), -1);
    assert_err_prefix("LOCKSCOPE_OPEN_LOCK=*.db=exclusive,nonblok: rule 1 '*.db=exclusive,nonblok': ");
    assert_err_has("nonblock");
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=*.db=exclusive,nonblock,nonblock")), -1);
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=*.db")), -1);
    assert_err("LOCKSCOPE_OPEN_LOCK=*.db: rule 1 '*.db': expected GLOB=KIND[,nonblock]");
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=x=shared; =exclusive")), -1);
    assert_err("LOCKSCOPE_OPEN_LOCK=x=shared; =exclusive: rule 2 '=exclusive': empty GLOB");
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=x=")), -1);
    assert_err_has("rule 1 'x=': expected KIND");
}

static void test_env_scope(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_SCOPE=*.sqlite=process;/d/*=description;*=auto")), 0);
    assert_int_equal(cfg.n_scope_rules, 3);
    assert_int_equal(cfg.scope_rules[0].scope, LS_SCOPE_PROCESS);
    assert_int_equal(cfg.scope_rules[1].scope, LS_SCOPE_DESCRIPTION);
    assert_int_equal(cfg.scope_rules[2].scope, LS_SCOPE_AUTO);
    assert_string_equal(cfg.scope_rules[1].glob, "/d/*");
    assert_int_equal(load(0, ENV("LOCKSCOPE_SCOPE=*.sqlite=proces")), -1);
    assert_err("LOCKSCOPE_SCOPE=*.sqlite=proces: rule 1 '*.sqlite=proces': "
               "expected SCOPE process, description or auto");
    assert_int_equal(load(0, ENV("LOCKSCOPE_SCOPE=x=process,nonblock")), -1);
    assert_int_equal(load(0, ENV("LOCKSCOPE_SCOPE=process")), -1);
    assert_err("LOCKSCOPE_SCOPE=process: rule 1 'process': expected GLOB=SCOPE");
}

static void test_parse_rule_lists_directly(void **state)
{
    assert_int_equal(ls_config_parse_open_lock(&cfg, "*.a=shared", "X", err, sizeof err), 0);
    assert_int_equal(ls_config_parse_scope(&cfg, "*.a=process", "X", err, sizeof err), 0);
    assert_int_equal(cfg.n_open_rules, 1);
    assert_int_equal(cfg.n_scope_rules, 1);
    assert_int_equal(ls_config_parse_open_lock(&cfg, "zz", "f.conf:3: open_lock", err, sizeof err), -1);
    assert_err("f.conf:3: open_lock=zz: rule 1 'zz': expected GLOB=KIND[,nonblock]");
    assert_int_equal(ls_config_parse_scope(&cfg, NULL, "X", err, sizeof err), 0);
}

static void test_env_unknown_variable(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=audit", "LOCKSCOPE_MOED=strict")), -1);
    assert_err_prefix("LOCKSCOPE_MOED: unknown variable (known: LOCKSCOPE_MODE, ");
    assert_err_has("LOCKSCOPE_OPEN_LOCK");
    assert_err_has("LOCKSCOPE_CONFIG)");
    /* a valid mode is applied all the same */
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_int_equal(load(0, ENV("LOCKSCOPE_=1")), -1);
    assert_err_prefix("LOCKSCOPE_: unknown variable");
    assert_int_equal(load(0, ENV("LOCKSCOPE_mode=fix")), -1);
    assert_err_prefix("LOCKSCOPE_mode: unknown variable");
}

static void test_env_internal_and_foreign_ignored(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_HANDOVER=3:17:whatever", "LOCKSCOPE__FD=99",
                                 "LOCKSCOPE__=x", "LOCKSCOPEX=1", "lockscope_mode=bad",
                                 "NOEQUALS", "LOCKSCOPE_NOEQUALS")), 0);
    assert_defaults(&cfg);
    /* LOCKSCOPE_HANDOVERX is not the internal variable */
    assert_int_equal(load(0, ENV("LOCKSCOPE_HANDOVERX=1")), -1);
    assert_err_prefix("LOCKSCOPE_HANDOVERX: unknown variable");
}

static void test_env_first_entry_wins(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=audit", "LOCKSCOPE_MODE=bogus",
                                 "LOCKSCOPE_OPEN_LOCK=a=shared", "LOCKSCOPE_OPEN_LOCK=b=shared")), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_int_equal(cfg.n_open_rules, 1);
    assert_string_equal(cfg.open_rules[0].glob, "a");
}

static void test_env_first_error_wins(void **state)
{
    /* LOG is checked before FORMAT; only its error is reported */
    assert_int_equal(load(0, ENV("LOCKSCOPE_FORMAT=xml", "LOCKSCOPE_LOG=")), -1);
    assert_err("LOCKSCOPE_LOG=: expected a path or stderr");
    assert_int_equal(cfg.format, LS_FORMAT_DEFAULT);
}

static void test_env_value_escaped_and_truncated(void **state)
{
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=a\nb\x01\xff")), -1);
    assert_err("LOCKSCOPE_MODE=a\\x0ab\\x01\\xff: expected off, audit, fix or strict");
    assert_int_equal(load(0, ENV("LOCKSCOPE_FORMAT=0123456789012345678901234567890123456789"
                                 "0123456789012345678901234567890123456789")), -1);
    assert_err("LOCKSCOPE_FORMAT=012345678901234567890123456789012345678901234567890123456789...: "
               "expected text or json");
}

static void test_env_huge_values(void **state)
{
    size_t n = 1 << 20, i;
    char *e = malloc(n + 32);
    assert_non_null(e);
    /* 1 MB of rules: refused as too long, never truncated */
    strcpy(e, "LOCKSCOPE_OPEN_LOCK=");
    for (i = strlen(e); i < n; i++)
        e[i] = "a=shared;"[(i - 20) % 9];
    e[n] = '\0';
    assert_int_equal(load(0, ENV(e)), -1);
    assert_err_prefix("LOCKSCOPE_OPEN_LOCK=a=shared;");
    assert_err_has("value longer than 65536 bytes");
    assert_true(strlen(err) < 200);
    assert_int_equal(cfg.n_open_rules, 0);
    strcpy(e, "LOCKSCOPE_LOG=");
    memset(e + 14, 'x', n - 14);
    assert_int_equal(load(0, ENV(e)), -1);
    assert_err_has("value longer than 65536 bytes");
    assert_null(cfg.log);
    free(e);
}

static void test_max_rules(void **state)
{
    size_t n = LS_CONFIG_MAX_RULES, i, len = 0;
    char *v = malloc(n * 16 + 64);
    assert_non_null(v);
    for (i = 0; i < n; i++)
        len += (size_t)sprintf(v + len, "/r%zu=shared;", i);
    assert_int_equal(ls_config_parse_open_lock(&cfg, v, "LOCKSCOPE_OPEN_LOCK", err, sizeof err), 0);
    assert_int_equal(cfg.n_open_rules, LS_CONFIG_MAX_RULES);
    assert_string_equal(cfg.open_rules[1023].glob, "/r1023");
    assert_int_equal(ls_config_parse_open_lock(&cfg, "one=shared", "LOCKSCOPE_OPEN_LOCK",
                                               err, sizeof err), -1);
    assert_err("LOCKSCOPE_OPEN_LOCK=one=shared: rule 1 'one=shared': too many open_lock rules (at most 1024)");
    assert_int_equal(cfg.n_open_rules, LS_CONFIG_MAX_RULES);
    ls_config_free(&cfg);
    len = 0;
    for (i = 0; i <= n; i++)
        len += (size_t)sprintf(v + len, "/s%zu=process;", i);
    assert_int_equal(ls_config_parse_scope(&cfg, v, "LOCKSCOPE_SCOPE", err, sizeof err), -1);
    assert_err_has("rule 1025 '/s1024=process': too many scope rules");
    free(v);
}

/* ------------------------------------------------------------------ */
/* The config file format.                                            */

static void test_file_every_key(void **state)
{
    assert_int_equal(buf("mode = strict\n"
                         "log = /var/log/ls.jsonl\n"
                         "format = json\n"
                         "debug = 1\n"
                         "flock = ofd\n"
                         "abort = 1\n"
                         "backtrace = 1\n"
                         "open_lock = *.db=exclusive;*.lck=deny-write,nonblock\n"
                         "scope = *.sqlite=process\n"), 0);
    assert_int_equal(cfg.mode, LS_MODE_STRICT);
    assert_string_equal(cfg.log, "/var/log/ls.jsonl");
    assert_int_equal(cfg.format, LS_FORMAT_JSON);
    assert_int_equal(cfg.debug, 1);
    assert_int_equal(cfg.flock, LS_FLOCK_OFD);
    assert_int_equal(cfg.abort_on_hazard, 1);
    assert_int_equal(cfg.backtrace, 1);
    assert_int_equal(cfg.n_open_rules, 2);
    assert_int_equal(cfg.open_rules[1].kind, LS_OPENLOCK_DENY_WRITE);
    assert_int_equal(cfg.open_rules[1].nonblock, 1);
    assert_int_equal(cfg.n_scope_rules, 1);
    assert_int_equal(cfg.scope_rules[0].scope, LS_SCOPE_PROCESS);
    /* log = stderr resets to NULL */
    assert_int_equal(buf("log=stderr"), 0);
    assert_null(cfg.log);
}

static void test_file_every_key_bad(void **state)
{
    static const struct { const char *line, *msg; } c[] = {
        { "mode = bogus", "t.conf:2: mode=bogus: expected off, audit, fix or strict" },
        { "log =", "t.conf:2: log=: expected a path or stderr" },
        { "format = yaml", "t.conf:2: format=yaml: expected text or json" },
        { "debug = yes", "t.conf:2: debug=yes: expected 0 or 1" },
        { "flock = fcntl", "t.conf:2: flock=fcntl: expected native or ofd" },
        { "abort = true", "t.conf:2: abort=true: expected 0 or 1" },
        { "backtrace = 2", "t.conf:2: backtrace=2: expected 0 or 1" },
        { "open_lock = *.db=excl", "t.conf:2: open_lock=*.db=excl: rule 1 '*.db=excl': "
                                   "expected KIND exclusive, shared or deny-write" },
        { "scope = *.db", "t.conf:2: scope=*.db: rule 1 '*.db': expected GLOB=SCOPE" },
    };
    size_t i;
    char text[256];

    for (i = 0; i < sizeof c / sizeof c[0]; i++) {
        snprintf(text, sizeof text, "# first line\n%s\nmode = off\n", c[i].line);
        assert_int_equal(buf(text), -1);
        assert_err(c[i].msg);
        /* nothing after the error is parsed */
        assert_int_equal(cfg.mode, LS_MODE_FIX);
        ls_config_free(&cfg);
    }
}

static void test_file_unknown_key_line(void **state)
{
    assert_int_equal(buf("\n\n# c\n; c\n\n\n\n\n\n\n\nmdoe = strict\n"), -1);
    assert_err_prefix("t.conf:12: unknown key 'mdoe' (known: mode, ");
    assert_int_equal(buf("MODE = strict"), -1);
    assert_err_prefix("t.conf:1: unknown key 'MODE'");
    assert_int_equal(buf("config = /x"), -1);
    assert_err_prefix("t.conf:1: unknown key 'config'");
}

static void test_file_syntax(void **state)
{
    assert_int_equal(buf("\xef\xbb\xbf# BOM, then CRLF lines\r\n"
                         "   ; indented comment\r\n"
                         "\t mode\t=\taudit \t\r\n"
                         "log = \"/tmp/with spaces.log\"\r\n"
                         "open_lock = \"a b=shared\"\n"
                         "\n"
                         "format=\"text\""), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_string_equal(cfg.log, "/tmp/with spaces.log");
    assert_string_equal(cfg.open_rules[0].glob, "a b");
    assert_int_equal(cfg.format, LS_FORMAT_TEXT);
    /* quotes keep what they enclose, blanks included */
    assert_int_equal(buf("mode = \" fix\""), -1);
    assert_err("t.conf:1: mode= fix: expected off, audit, fix or strict");
    /* no trailing comments */
    assert_int_equal(buf("mode = fix # comment"), -1);
    assert_err("t.conf:1: mode=fix # comment: expected off, audit, fix or strict");
}

static void test_file_bad_lines(void **state)
{
    assert_int_equal(buf("mode = \"strict"), -1);
    assert_err("t.conf:1: mode=\"strict: unterminated quote");
    assert_int_equal(buf("log = \""), -1);
    assert_err("t.conf:1: log=\": unterminated quote");
    assert_int_equal(buf("mode strict"), -1);
    assert_err("t.conf:1: 'mode strict': expected 'key = value', '[path \"GLOB\"]' or a comment");
    assert_int_equal(buf("= strict"), -1);
    assert_err_prefix("t.conf:1: '= strict': expected 'key = value'");
    assert_int_equal(buf("mo de = strict"), -1);
    assert_err_prefix("t.conf:1: 'mo de = strict': expected");
}

static void test_file_sections(void **state)
{
    assert_int_equal(buf("mode = fix\n"
                         "[path \"/srv/*.sqlite\"]\n"
                         "scope = process\n"
                         "open_lock = shared,nonblock\n"
                         "  [ path   \"/srv/a=b [x]\" ]  \n"
                         "open_lock = deny-write\n"
                         "[path \"/q/\"x\"\"]\n"
                         "scope = description\n"), 0);
    assert_int_equal(cfg.n_scope_rules, 2);
    assert_int_equal(cfg.n_open_rules, 2);
    assert_string_equal(cfg.scope_rules[0].glob, "/srv/*.sqlite");
    assert_int_equal(cfg.scope_rules[0].scope, LS_SCOPE_PROCESS);
    assert_string_equal(cfg.open_rules[0].glob, "/srv/*.sqlite");
    assert_int_equal(cfg.open_rules[0].kind, LS_OPENLOCK_SHARED);
    assert_int_equal(cfg.open_rules[0].nonblock, 1);
    assert_string_equal(cfg.open_rules[1].glob, "/srv/a=b [x]");
    assert_int_equal(cfg.open_rules[1].kind, LS_OPENLOCK_DENY_WRITE);
    /* the glob runs to the last quote */
    assert_string_equal(cfg.scope_rules[1].glob, "/q/\"x\"");
    assert_int_equal(ls_config_match_scope(&cfg, "/srv/db.sqlite"), LS_SCOPE_PROCESS);
    assert_non_null(ls_config_match_open(&cfg, "/srv/db.sqlite"));
}

static void test_file_section_keys(void **state)
{
    assert_int_equal(buf("[path \"/a\"]\nscope = process\nmode = strict\n"), -1);
    assert_err("t.conf:3: key 'mode' not allowed in a [path] section (only scope, open_lock)");
    assert_int_equal(cfg.mode, LS_MODE_FIX);
    assert_int_equal(buf("[path \"/a\"]\nscop = process\n"), -1);
    assert_err_prefix("t.conf:2: unknown key 'scop' in a [path] section");
    assert_int_equal(buf("[path \"/a\"]\nscope = process\nscope = auto\n"), -1);
    assert_err("t.conf:3: key 'scope' given twice in one [path] section");
    assert_int_equal(buf("[path \"/a\"]\nopen_lock = shared\nopen_lock = shared\n"), -1);
    assert_err("t.conf:3: key 'open_lock' given twice in one [path] section");
    assert_int_equal(buf("[path \"/a\"]\nscope = /x=process\n"), -1);
    assert_err("t.conf:2: scope=/x=process: expected SCOPE process, description or auto");
    assert_int_equal(buf("[path \"/a\"]\nopen_lock = /x=shared\n"), -1);
    assert_err("t.conf:2: open_lock=/x=shared: expected KIND exclusive, shared or deny-write");
    assert_int_equal(buf("[path \"/a\"]\nopen_lock = shared,wait\n"), -1);
    assert_err_prefix("t.conf:2: open_lock=shared,wait: expected KIND[,nonblock]");
    /* a new section may set the same key again */
    ls_config_free(&cfg);
    assert_int_equal(buf("[path \"/a\"]\nscope = process\n[path \"/b\"]\nscope = process\n"), 0);
    assert_int_equal(cfg.n_scope_rules, 2);
}

static void test_file_bad_section_headers(void **state)
{
    static const char *const bad[] = {
        "[path \"/a\"", "[path /a]", "[path\"/a\"]", "[paths \"/a\"]", "[global]", "[]",
        "[path \"/a]", "[path \"/a\"] x", "[", "[path \"]", "[path]",
    };
    char text[128];
    size_t i;

    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "mode = audit\n%s\nscope = process\n", bad[i]);
        assert_int_equal(buf(text), -1);
        assert_err_prefix("t.conf:2: malformed section header '");
        assert_err_has("expected [path \"GLOB\"]");
        assert_int_equal(cfg.n_scope_rules, 0);
        ls_config_free(&cfg);
    }
    assert_int_equal(buf("[path \"\"]\n"), -1);
    assert_err("t.conf:1: empty GLOB in section header");
}

static void test_file_nul_and_control_bytes(void **state)
{
    static const char nul[] = "mode = audit\nlog = /a\0b\n";
    assert_int_equal(ls_config_parse_buffer(&cfg, nul, sizeof nul - 1, "n.conf", err, sizeof err), -1);
    assert_err("n.conf:2: NUL byte (not a text file?)");
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_null(cfg.log);
    assert_int_equal(buf("mode = fix\x1b[0m\n"), -1);
    assert_err("t.conf:1: control character \\x1b (not a text file?)");
    assert_int_equal(buf("# x\rmode = strict\n"), -1);
    assert_err_prefix("t.conf:1: control character \\x0d");
    assert_int_equal(buf("\n\x7f"), -1);
    assert_err_prefix("t.conf:2: control character \\x7f");
}

static void test_file_long_lines_and_huge_buffer(void **state)
{
    size_t n = 1 << 20;
    char *b = malloc(n);
    assert_non_null(b);
    /* exactly LS_CONFIG_MAX_VALUE bytes in a comment line: fine */
    memset(b, 'x', n);
    b[0] = '#';
    b[LS_CONFIG_MAX_VALUE] = '\n';
    assert_int_equal(ls_config_parse_buffer(&cfg, b, LS_CONFIG_MAX_VALUE + 1, "h", err, sizeof err), 0);
    /* one byte more: refused */
    b[LS_CONFIG_MAX_VALUE] = 'x';
    b[LS_CONFIG_MAX_VALUE + 1] = '\n';
    assert_int_equal(ls_config_parse_buffer(&cfg, b, LS_CONFIG_MAX_VALUE + 2, "h", err, sizeof err), -1);
    assert_err("h:1: line longer than 65536 bytes");
    /* 1 MB without a newline, and a 1 MB value */
    b[LS_CONFIG_MAX_VALUE + 1] = 'x';
    assert_int_equal(ls_config_parse_buffer(&cfg, b, n, "h", err, sizeof err), -1);
    assert_err("h:1: line longer than 65536 bytes");
    memcpy(b, "log = ", 6);
    assert_int_equal(ls_config_parse_buffer(&cfg, b, n, "h", err, sizeof err), -1);
    assert_err("h:1: line longer than 65536 bytes");
    assert_null(cfg.log);
    free(b);
}

static void test_file_binary_garbage(void **state)
{
    size_t n = 1 << 16, i, round;
    unsigned char *b = malloc(n);
    uint32_t x = 2463534242u;

    assert_non_null(b);
    for (round = 0; round < 64; round++) {
        for (i = 0; i < n; i++) {
            x ^= x << 13; x ^= x >> 17; x ^= x << 5;
            b[i] = (unsigned char)x;
        }
        /* small lengths too: short garbage must not be accepted either */
        assert_int_equal(ls_config_parse_buffer(&cfg, (const char *)b, round ? n : 7,
                                                "bin", err, sizeof err), -1);
        assert_err_prefix("bin:");
        ls_config_free(&cfg);
    }
    free(b);
    /* empty and NULL buffers are empty configs */
    assert_int_equal(ls_config_parse_buffer(&cfg, "", 0, NULL, err, sizeof err), 0);
    assert_int_equal(ls_config_parse_buffer(&cfg, NULL, 5, NULL, err, sizeof err), 0);
    assert_defaults(&cfg);
}

static void test_file_too_many_rules(void **state)
{
    size_t i, len = 0, n = LS_CONFIG_MAX_RULES + 1;
    char *t = malloc(n * 48);
    assert_non_null(t);
    for (i = 0; i < n; i++)
        len += (size_t)sprintf(t + len, "[path \"/p%zu\"]\nscope = process\n", i);
    assert_int_equal(ls_config_parse_buffer(&cfg, t, len, "m", err, sizeof err), -1);
    assert_err("m:2050: scope=process: too many scope rules (at most 1024)");
    assert_int_equal(cfg.n_scope_rules, LS_CONFIG_MAX_RULES);
    free(t);
}

/* ------------------------------------------------------------------ */
/* Files on disk and the search order.                                */

static void test_parse_file(void **state)
{
    write_str(in_dir("a.conf"), "mode = audit\n");
    assert_int_equal(ls_config_parse_file(&cfg, in_dir("a.conf"), err, sizeof err), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_string_equal(cfg.source, in_dir("a.conf"));
    write_str(in_dir("b.conf"), "mode = audit\nbogus = 1\n");
    assert_int_equal(ls_config_parse_file(&cfg, in_dir("b.conf"), err, sizeof err), -1);
    assert_err_prefix(in_dir("b.conf"));
    assert_err_has(".conf:2: unknown key 'bogus'");
    assert_int_equal(ls_config_parse_file(&cfg, in_dir("missing.conf"), err, sizeof err), -1);
    assert_err_has("missing.conf: cannot read config file: No such file or directory");
    assert_int_equal(ls_config_parse_file(&cfg, dir, err, sizeof err), -1);
    assert_err_has(": cannot read config file: not a regular file");
}

static void test_lockscope_config_var(void **state)
{
    char e[PATH_MAX + 32];
    write_str(in_dir("mine.conf"), "mode = audit\n");
    write_str(system_conf, "mode = off\nformat = json\n");
    snprintf(e, sizeof e, "LOCKSCOPE_CONFIG=%s", in_dir("mine.conf"));
    assert_int_equal(load(0, ENV(e)), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    /* that file only: the system file is not read */
    assert_int_equal(cfg.format, LS_FORMAT_DEFAULT);
    assert_string_equal(cfg.source, in_dir("mine.conf"));
    ls_config_free(&cfg);
    /* empty: as if unset, the search applies */
    assert_int_equal(load(0, ENV("LOCKSCOPE_CONFIG=")), 0);
    assert_int_equal(cfg.mode, LS_MODE_OFF);
    assert_string_equal(cfg.source, system_conf);
}

static void test_lockscope_config_missing(void **state)
{
    char e[PATH_MAX + 32], msg[PATH_MAX + 128];
    write_str(system_conf, "mode = off\n");
    snprintf(e, sizeof e, "LOCKSCOPE_CONFIG=%s", in_dir("nope.conf"));
    assert_int_equal(load(0, ENV(e)), -1);
    snprintf(msg, sizeof msg, "LOCKSCOPE_CONFIG=%s: cannot read config file: No such file or directory",
             in_dir("nope.conf"));
    assert_err(msg);
    assert_int_equal(cfg.mode, LS_MODE_FIX);
    snprintf(e, sizeof e, "LOCKSCOPE_CONFIG=%s", dir);
    assert_int_equal(load(0, ENV(e)), -1);
    assert_err_prefix("LOCKSCOPE_CONFIG=");
    assert_err_has("not a regular file");
    assert_int_equal(load(0, ENV("LOCKSCOPE_CONFIG=/dev/null")), -1);
    assert_err("LOCKSCOPE_CONFIG=/dev/null: cannot read config file: not a regular file");
}

static void test_search_order(void **state)
{
    char xdg[PATH_MAX + 32], home[PATH_MAX + 32];
    snprintf(xdg, sizeof xdg, "XDG_CONFIG_HOME=%s", in_dir("xdg"));
    snprintf(home, sizeof home, "HOME=%s", in_dir("home"));
    write_str(system_conf, "mode = off\n");

    /* nothing in XDG or HOME: the system file */
    assert_int_equal(load(0, ENV(xdg, home)), 0);
    assert_int_equal(cfg.mode, LS_MODE_OFF);
    assert_string_equal(cfg.source, system_conf);
    ls_config_free(&cfg);

    /* ~/.config/lockscope/config, used when XDG_CONFIG_HOME is unset or relative */
    write_str(in_dir("home/.config/lockscope/config"), "mode = audit\n");
    assert_int_equal(load(0, ENV(home)), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_string_equal(cfg.source, in_dir("home/.config/lockscope/config"));
    ls_config_free(&cfg);
    assert_int_equal(load(0, ENV("XDG_CONFIG_HOME=relative/dir", home)), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    ls_config_free(&cfg);

    /* XDG_CONFIG_HOME, when set, replaces ~/.config: its absence means the system file */
    assert_int_equal(load(0, ENV(xdg, home)), 0);
    assert_int_equal(cfg.mode, LS_MODE_OFF);
    ls_config_free(&cfg);
    write_str(in_dir("xdg/lockscope/config"), "mode = strict\n");
    assert_int_equal(load(0, ENV(home, xdg)), 0);
    assert_int_equal(cfg.mode, LS_MODE_STRICT);
    assert_string_equal(cfg.source, in_dir("xdg/lockscope/config"));
    ls_config_free(&cfg);

    /* only one file is read: keys of the system file are not merged */
    write_str(system_conf, "mode = off\nformat = json\n");
    assert_int_equal(load(0, ENV(xdg)), 0);
    assert_int_equal(cfg.format, LS_FORMAT_DEFAULT);
}

static void test_search_skips_notdir_but_not_other_errors(void **state)
{
    char home[PATH_MAX + 32];
    write_str(system_conf, "mode = off\n");
    /* ~/.config is a file: ENOTDIR counts as absent */
    write_str(in_dir("h1/.config"), "not a directory\n");
    snprintf(home, sizeof home, "HOME=%s", in_dir("h1"));
    assert_int_equal(load(0, ENV(home)), 0);
    assert_int_equal(cfg.mode, LS_MODE_OFF);
    ls_config_free(&cfg);
    /* the user's config is a directory: an error naming it */
    mkdir(in_dir("h2"), 0700);
    mkdir(in_dir("h2/.config"), 0700);
    mkdir(in_dir("h2/.config/lockscope"), 0700);
    mkdir(in_dir("h2/.config/lockscope/config"), 0700);
    snprintf(home, sizeof home, "HOME=%s", in_dir("h2"));
    assert_int_equal(load(0, ENV(home)), -1);
    assert_err_prefix(in_dir("h2/.config/lockscope/config"));
    assert_err_has(": cannot read config file: not a regular file");
}

/* Open errors other than "absent" are errors, never a reason to skip. */
static void test_unopenable_file(void **state)
{
    char home[PATH_MAX + 32];
    write_str(system_conf, "mode = off\n");
    /* a symlink loop (ELOOP), which even root cannot open */
    mkdir(in_dir("h"), 0700);
    mkdir(in_dir("h/.config"), 0700);
    mkdir(in_dir("h/.config/lockscope"), 0700);
    assert_int_equal(symlink("config", in_dir("h/.config/lockscope/config")), 0);
    snprintf(home, sizeof home, "HOME=%s", in_dir("h"));
    assert_int_equal(load(0, ENV(home)), -1);
    assert_err_has("lockscope/config: cannot read config file: Too many levels of symbolic links");
    assert_int_equal(cfg.mode, LS_MODE_FIX);
    if (geteuid() == 0)
        return;             /* root reads anything */
    write_str(in_dir("u/.config/lockscope/config"), "mode = audit\n");
    chmod(in_dir("u/.config/lockscope/config"), 0);
    snprintf(home, sizeof home, "HOME=%s", in_dir("u"));
    assert_int_equal(load(0, ENV(home)), -1);
    assert_err_has("lockscope/config: cannot read config file: Permission denied");
}

static void test_system_file_errors(void **state)
{
    write_str(system_conf, "mode = audit\n\n[path \"/x\"]\nmode = off\n");
    assert_int_equal(load(0, ENV("HOME=/nonexistent-home")), -1);
    assert_err_prefix(system_conf);
    assert_err_has(":4: key 'mode' not allowed");
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_string_equal(cfg.source, system_conf);
    ls_config_free(&cfg);
    ls_config_system_path = NULL;
    assert_int_equal(load(0, ENV("HOME=/nonexistent-home")), 0);
    assert_defaults(&cfg);
}

/* ------------------------------------------------------------------ */
/* Precedence, secure mode.                                           */

static void test_env_overrides_file(void **state)
{
    write_str(system_conf, "mode = audit\nlog = /file.log\nformat = json\ndebug = 1\n"
                           "flock = ofd\nabort = 1\nbacktrace = 1\n");
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=strict", "LOCKSCOPE_LOG=stderr",
                                 "LOCKSCOPE_FORMAT=text", "LOCKSCOPE_DEBUG=0",
                                 "LOCKSCOPE_FLOCK=native", "LOCKSCOPE_ABORT=0",
                                 "LOCKSCOPE_BACKTRACE=0")), 0);
    assert_int_equal(cfg.mode, LS_MODE_STRICT);
    assert_null(cfg.log);
    assert_int_equal(cfg.format, LS_FORMAT_TEXT);
    assert_int_equal(cfg.debug, 0);
    assert_int_equal(cfg.flock, LS_FLOCK_NATIVE);
    assert_int_equal(cfg.abort_on_hazard, 0);
    assert_int_equal(cfg.backtrace, 0);
    ls_config_free(&cfg);
    /* variables not set leave the file's values */
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=off")), 0);
    assert_int_equal(cfg.mode, LS_MODE_OFF);
    assert_string_equal(cfg.log, "/file.log");
    assert_int_equal(cfg.backtrace, 1);
}

static void test_env_rules_before_file_rules(void **state)
{
    write_str(system_conf, "open_lock = /d/*=shared;/d/f1=shared\n"
                           "[path \"/d/*\"]\nscope = description\n");
    assert_int_equal(load(0, ENV("LOCKSCOPE_OPEN_LOCK=/d/f1=exclusive,nonblock;/d/f2=deny-write",
                                 "LOCKSCOPE_SCOPE=/d/f1=process")), 0);
    assert_int_equal(cfg.n_open_rules, 4);
    assert_string_equal(cfg.open_rules[0].glob, "/d/f1");
    assert_string_equal(cfg.open_rules[1].glob, "/d/f2");
    assert_string_equal(cfg.open_rules[2].glob, "/d/*");
    assert_string_equal(cfg.open_rules[3].glob, "/d/f1");
    assert_int_equal(ls_config_match_open(&cfg, "/d/f1")->kind, LS_OPENLOCK_EXCLUSIVE);
    assert_int_equal(ls_config_match_open(&cfg, "/d/f2")->kind, LS_OPENLOCK_DENY_WRITE);
    assert_int_equal(ls_config_match_open(&cfg, "/d/f3")->kind, LS_OPENLOCK_SHARED);
    assert_int_equal(ls_config_match_scope(&cfg, "/d/f1"), LS_SCOPE_PROCESS);
    assert_int_equal(ls_config_match_scope(&cfg, "/d/f2"), LS_SCOPE_DESCRIPTION);
}

static void test_file_error_still_honours_env_mode(void **state)
{
    write_str(system_conf, "mode = audit\nmdoe = x\n");
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=strict", "LOCKSCOPE_FORMAT=json")), -1);
    assert_err_has(".conf:2: unknown key 'mdoe'");
    assert_int_equal(cfg.mode, LS_MODE_STRICT);
    /* nothing else from the environment */
    assert_int_equal(cfg.format, LS_FORMAT_DEFAULT);
    ls_config_free(&cfg);
    /* a bad mode after a file error: the file's error is the one reported */
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=bogus")), -1);
    assert_err_has(".conf:2: unknown key 'mdoe'");
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
}

static void test_secure_ignores_environment(void **state)
{
    char cfgvar[PATH_MAX + 32], xdg[PATH_MAX + 32];
    write_str(in_dir("evil.conf"), "mode = off\n");
    write_str(in_dir("xdg/lockscope/config"), "mode = off\n");
    snprintf(cfgvar, sizeof cfgvar, "LOCKSCOPE_CONFIG=%s", in_dir("evil.conf"));
    snprintf(xdg, sizeof xdg, "XDG_CONFIG_HOME=%s", in_dir("xdg"));
    assert_int_equal(load(1, ENV("LOCKSCOPE_MODE=off", "LOCKSCOPE_LOG=/tmp/evil",
                                 "LOCKSCOPE_MOED=x", "LOCKSCOPE_DEBUG=junk",
                                 "LOCKSCOPE_OPEN_LOCK=*=exclusive", cfgvar, xdg)), 0);
    assert_defaults(&cfg);
    /* the system file is still read */
    write_str(system_conf, "mode = audit\n");
    assert_int_equal(load(1, ENV("LOCKSCOPE_MODE=off", cfgvar, xdg)), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_string_equal(cfg.source, system_conf);
    ls_config_free(&cfg);
    /* a missing LOCKSCOPE_CONFIG is no error either */
    assert_int_equal(load(1, ENV("LOCKSCOPE_CONFIG=/nonexistent/x")), 0);
}

/* ------------------------------------------------------------------ */
/* Matching, freeing, robustness of the API.                          */

static void test_match_fnm_pathname(void **state)
{
    assert_int_equal(ls_config_parse_open_lock(&cfg, "*.db=shared;/data/*=exclusive;/data/*/*=deny-write",
                                               "X", err, sizeof err), 0);
    assert_int_equal(ls_config_match_open(&cfg, "x.db")->kind, LS_OPENLOCK_SHARED);
    /* '*' never matches '/' */
    assert_null(ls_config_match_open(&cfg, "/a/x.db"));
    assert_int_equal(ls_config_match_open(&cfg, "/data/x.db")->kind, LS_OPENLOCK_EXCLUSIVE);
    assert_int_equal(ls_config_match_open(&cfg, "/data/sub/y")->kind, LS_OPENLOCK_DENY_WRITE);
    assert_null(ls_config_match_open(&cfg, NULL));
    assert_null(ls_config_match_open(NULL, "x.db"));
    assert_int_equal(ls_config_match_scope(&cfg, "/data/x.db"), LS_SCOPE_AUTO);
    assert_int_equal(ls_config_match_scope(&cfg, NULL), LS_SCOPE_AUTO);
}

/* '**' crosses '/', '*' does not: LOCKSCOPE_SCOPE='**=process' is every
 * file, "/srv/" "**" "/NAME.db" any depth (none included, as in gitignore). */
static void test_glob_double_star(void **state)
{
    struct { const char *p, *s; int m; } t[] = {
        { "**", "/a/b/c.db", 1 }, { "**", "x", 1 }, { "**", "", 1 }, { "*", "/a", 0 },
        { "/srv/**/*.db", "/srv/a.db", 1 }, { "/srv/**/*.db", "/srv/x/a.db", 1 },
        { "/srv/**/*.db", "/srv/x/y/z/a.db", 1 }, { "/srv/**/*.db", "/srv/x/a.dbx", 0 },
        { "/srv/**/*.db", "/srvx/a.db", 0 }, { "/srv/**", "/srv/a/b", 1 },
        { "/srv/**", "/srv", 0 }, { "**/x", "/a/b/x", 1 }, { "**/x", "x", 1 },
        { "/a**b", "/a/c/b", 1 }, { "/a**/b", "/ab", 0 }, { "/a/**/b/**/c", "/a/b/c", 1 },
        { "/a/**/b/**/c", "/a/x/b/y/z/c", 1 }, { "/a/**/b/**/c", "/a/x/y/c", 0 },
        { "*.db", "x.db", 1 }, { "*.db", "d/x.db", 0 }, { "/d/*/f", "/d/a/b/f", 0 },
        { "/d/?", "/d/a", 1 }, { "/d?a", "/d/a", 0 }, { "/d/[ab]", "/d/b", 1 },
        { "/d/[!ab]", "/d/b", 0 }, { "/d[/]a", "/d/a", 0 }, { "/d/[[:digit:]]x", "/d/7x", 1 },
        { "/d/\\*", "/d/*", 1 }, { "/d/\\*", "/d/a", 0 }, { "/d/[", "/d/[", 1 },
        { "/d/[]]", "/d/]", 1 }, { "a*b*c*d", "aXbYcZd", 1 }, { "a*b*c*d", "aXbYcZ/d", 0 },
        { "**a**a**a**a**b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
        { "*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0 },
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        if (ls_glob_match(t[i].p, t[i].s) != t[i].m)
            fail_msg("'%s' against '%s': expected %d", t[i].p, t[i].s, t[i].m);
    }
    /* many "**" components against a deep path: polynomial, not 2^n (a
     * recursive matcher took minutes here) */
    char pat[400] = "", path[400] = "";
    for (int i = 0; i < 60; i++) {
        strcat(pat, "**/");
        strcat(path, "/d");
    }
    strcat(pat, "x");
    strcat(path, "/y");
    assert_int_equal(ls_glob_match(pat, path), 0);
    path[strlen(path) - 1] = 'x';
    assert_int_equal(ls_glob_match(pat, path), 1);
    assert_int_equal(ls_config_parse_scope(&cfg, "**=process", "LOCKSCOPE_SCOPE", err, sizeof err), 0);
    assert_int_equal(ls_config_match_scope(&cfg, "/var/lib/x/y.db"), LS_SCOPE_PROCESS);
    assert_int_equal(ls_config_parse_open_lock(&cfg, "/srv/**/*.db=shared", "X", err, sizeof err), 0);
    assert_int_equal(ls_config_match_open(&cfg, "/srv/a/b/c.db")->kind, LS_OPENLOCK_SHARED);
    assert_int_equal(ls_config_match_open(&cfg, "/srv/c.db")->kind, LS_OPENLOCK_SHARED);
    assert_null(ls_config_match_open(&cfg, "/srv/c.dbx"));
}

static void test_free_resets(void **state)
{
    write_str(system_conf, "log = /a\nopen_lock = a=shared\n[path \"/x\"]\nscope = process\n");
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=strict", "LOCKSCOPE_SCOPE=b=auto")), 0);
    assert_non_null(cfg.source);
    ls_config_free(&cfg);
    assert_defaults(&cfg);
    ls_config_free(&cfg);       /* twice is harmless */
    assert_defaults(&cfg);
    ls_config_free(NULL);
    /* and it can be loaded again */
    assert_int_equal(load(0, ENV("LOCKSCOPE_MODE=audit")), 0);
    assert_int_equal(cfg.mode, LS_MODE_AUDIT);
    assert_int_equal(cfg.n_scope_rules, 1);
}

static void test_small_or_null_err_buffer(void **state)
{
    char small[8];
    struct ls_config_env env = { ENV("LOCKSCOPE_MODE=bogus"), 0 };
    assert_int_equal(ls_config_load(&cfg, &env, small, sizeof small), -1);
    assert_string_equal(small, "LOCKSCO");
    assert_int_equal(ls_config_load(&cfg, &env, NULL, 0), -1);
    assert_int_equal(ls_config_parse_buffer(&cfg, "x", 1, "n", NULL, 0), -1);
    assert_int_equal(ls_config_parse_open_lock(&cfg, "x", NULL, small, 0), -1);
    assert_int_equal(ls_config_parse_open_lock(&cfg, "x", NULL, err, sizeof err), -1);
    assert_err_prefix("(config)=x: rule 1");
}

static void test_load_preserves_errno(void **state)
{
    errno = 4242;
    assert_int_equal(load(0, ENV("LOCKSCOPE_CONFIG=/nonexistent/x")), -1);
    assert_int_equal(errno, 4242);
    errno = 77;
    assert_int_equal(load(0, ENV("HOME=/nonexistent-home")), 0);
    assert_int_equal(errno, 77);
}

static void test_long_path_names_in_errors(void **state)
{
    char e[4200], name[4000];
    memset(name, 'd', sizeof name);
    name[0] = '/';
    name[sizeof name - 1] = '\0';
    snprintf(e, sizeof e, "LOCKSCOPE_CONFIG=%s\n", name);
    assert_int_equal(load(0, ENV(e)), -1);
    assert_err_prefix("LOCKSCOPE_CONFIG=/ddd");
    assert_err_has("...: cannot read config file: ");
    assert_true(strlen(err) < 400);
    assert_int_equal(ls_config_parse_buffer(&cfg, "x", 1, name, err, sizeof err), -1);
    assert_err_has("...:1: ");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_defaults),
        T(test_load_nothing_gives_defaults),
        T(test_mode_name),
        T(test_env_mode_values),
        T(test_env_mode_bad),
        T(test_env_log),
        T(test_env_format),
        T(test_env_debug),
        T(test_env_abort),
        T(test_env_backtrace),
        T(test_env_flock),
        T(test_env_open_lock),
        T(test_env_open_lock_bad_kind),
        T(test_env_open_lock_bad_items),
        T(test_env_scope),
        T(test_parse_rule_lists_directly),
        T(test_env_unknown_variable),
        T(test_env_internal_and_foreign_ignored),
        T(test_env_first_entry_wins),
        T(test_env_first_error_wins),
        T(test_env_value_escaped_and_truncated),
        T(test_env_huge_values),
        T(test_max_rules),
        T(test_file_every_key),
        T(test_file_every_key_bad),
        T(test_file_unknown_key_line),
        T(test_file_syntax),
        T(test_file_bad_lines),
        T(test_file_sections),
        T(test_file_section_keys),
        T(test_file_bad_section_headers),
        T(test_file_nul_and_control_bytes),
        T(test_file_long_lines_and_huge_buffer),
        T(test_file_binary_garbage),
        T(test_file_too_many_rules),
        T(test_parse_file),
        T(test_lockscope_config_var),
        T(test_lockscope_config_missing),
        T(test_search_order),
        T(test_search_skips_notdir_but_not_other_errors),
        T(test_unopenable_file),
        T(test_system_file_errors),
        T(test_env_overrides_file),
        T(test_env_rules_before_file_rules),
        T(test_file_error_still_honours_env_mode),
        T(test_secure_ignores_environment),
        T(test_match_fnm_pathname),
        T(test_glob_double_star),
        T(test_free_resets),
        T(test_small_or_null_err_buffer),
        T(test_load_preserves_errno),
        T(test_long_path_names_in_errors),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
