/*
 * config.h - lockscope configuration: environment and config file.
 *
 * A unit of its own: no dependency on the shim, usable from the preloaded
 * library's constructor (where malloc is allowed), from the `lockscope`
 * command and from unit tests.  Nothing here is called on a lock path.
 *
 * Precedence: built-in defaults < config file < environment.
 * The config file is LOCKSCOPE_CONFIG if set (and not secure), else the first
 * that exists of $XDG_CONFIG_HOME/lockscope/config (or ~/.config/lockscope/config)
 * and /etc/lockscope.conf.  In secure-execution processes only
 * /etc/lockscope.conf is read and LOCKSCOPE_* variables are ignored.
 */
#ifndef LOCKSCOPE_CONFIG_H
#define LOCKSCOPE_CONFIG_H

#include <stddef.h>

enum ls_mode { LS_MODE_OFF = 0, LS_MODE_AUDIT, LS_MODE_FIX, LS_MODE_STRICT };
enum ls_format { LS_FORMAT_DEFAULT = 0, LS_FORMAT_TEXT, LS_FORMAT_JSON };
/* What `fix` does with flock(2): native = report only; ofd = flock becomes a
 * whole-file OFD lock on the program's own description (atomic upgrade,
 * conflicts with fcntl locks as it would over NFS). */
enum ls_flock { LS_FLOCK_NATIVE = 0, LS_FLOCK_OFD };
enum ls_openlock_kind { LS_OPENLOCK_EXCLUSIVE = 1, LS_OPENLOCK_SHARED, LS_OPENLOCK_DENY_WRITE };
/* auto: descriptor scope, except files recognised as SQLite databases
 * (one owner per process and file); process: native semantics;
 * description: descriptor scope always. */
enum ls_scope { LS_SCOPE_AUTO = 0, LS_SCOPE_PROCESS, LS_SCOPE_DESCRIPTION };

struct ls_open_rule {
    char *glob;                 /* fnmatch(3) pattern, FNM_PATHNAME */
    enum ls_openlock_kind kind;
    int nonblock;               /* 1: the open fails with EWOULDBLOCK instead of waiting */
};

struct ls_scope_rule {
    char *glob;
    enum ls_scope scope;
};

struct ls_config {
    enum ls_mode mode;          /* default LS_MODE_FIX */
    char *log;                  /* NULL or "stderr" = stderr, else a path */
    enum ls_format format;      /* DEFAULT: json to a file, text to stderr */
    int debug;                  /* LOCKSCOPE_DEBUG=1 */
    enum ls_flock flock;
    int abort_on_hazard;        /* LOCKSCOPE_ABORT=1 */
    int backtrace;              /* LOCKSCOPE_BACKTRACE=1 */
    struct ls_open_rule *open_rules;   size_t n_open_rules;
    struct ls_scope_rule *scope_rules; size_t n_scope_rules;
    char *source;               /* path of the config file read, or NULL */
    char *skipped;              /* a config location skipped (for a debug line), or NULL */
    char log_buf[256];          /* log points here when the path fits (never copy a config) */
};

/* Size limits: a value or line longer than this is an error, never truncated. */
#define LS_CONFIG_MAX_VALUE 65536
#define LS_CONFIG_MAX_RULES 1024

/* Where the configuration comes from; tests fill it by hand. */
struct ls_config_env {
    const char *const *envp;    /* NULL-terminated "NAME=value" array */
    int secure;                 /* getauxval(AT_SECURE) */
};

/*
 * Fill *cfg from defaults, then the config file, then the environment.
 * Returns 0 on success.  On error returns -1, and err holds ONE line (no
 * trailing newline) naming the variable ("LOCKSCOPE_MODE=bogus: expected one
 * of off, audit, fix, strict") or the place ("/etc/lockscope.conf:12: unknown
 * key 'mdoe'").  *cfg is still usable after an error: it holds whatever was
 * parsed, and cfg->mode tells whether strict was asked for (a bad mode value
 * leaves the mode at its default).  The caller decides what to do (inert, or
 * exit 127 in strict).
 */
int ls_config_load(struct ls_config *cfg, const struct ls_config_env *env,
                   char *err, size_t errlen);

/* Parse pieces on their own (used by ls_config_load and by tests).  Each
 * returns 0 or -1 with a message in err that names `what` (a variable name
 * or "file:line"). */
int ls_config_parse_file(struct ls_config *cfg, const char *path,
                         char *err, size_t errlen);
int ls_config_parse_buffer(struct ls_config *cfg, const char *text, size_t len,
                           const char *name, char *err, size_t errlen);
int ls_config_parse_open_lock(struct ls_config *cfg, const char *value,
                              const char *what, char *err, size_t errlen);
int ls_config_parse_scope(struct ls_config *cfg, const char *value,
                          const char *what, char *err, size_t errlen);

void ls_config_defaults(struct ls_config *cfg);
void ls_config_free(struct ls_config *cfg);

/* First matching rule for a path (tried as given by the caller: the caller
 * passes each of the forms it knows), or NULL. */
const struct ls_open_rule *ls_config_match_open(const struct ls_config *cfg, const char *path);
/* LS_SCOPE_AUTO when no rule matches. */
enum ls_scope ls_config_match_scope(const struct ls_config *cfg, const char *path);
/* The first matching rule itself (rules are in precedence order: the
 * environment's before the file's), or NULL. */
const struct ls_scope_rule *ls_config_match_scope_rule(const struct ls_config *cfg, const char *path);

const char *ls_mode_name(enum ls_mode m);

/* The rules' glob syntax: '**' matches any string, '/' included ("**" is
 * every path, "/srv/ ** /x.db" any depth, no directory too); '*' any string
 * within one component; '?' and "[...]" one character other than '/';
 * '\\' quotes.  1 if path matches. */
int ls_glob_match(const char *pattern, const char *path);

/* 1 if a user other than this one (and root) can write the directory
 * holding path: the config file and the log are then never reached
 * through a symbolic link there, and must belong to this user or root. */
int ls_dir_shared(const char *path);

#endif
