/*
 * lockscope.c - the launcher: `lockscope [OPTIONS] [--] PROGRAM [ARGS...]`
 * runs PROGRAM with liblockscope.so preloaded; `lockscope report FILE...`
 * hands over to the report subcommand (cmd/report.c).
 *
 * The launcher only prepares an environment and execs: options become
 * LOCKSCOPE_* variables, the library is found and put into LD_PRELOAD, and
 * execvp replaces this process, so PROGRAM's exit status is the command's
 * without a fork in between.  What must stay true:
 *
 *   - Nothing the launcher does survives the exec except the environment:
 *     it opens no descriptor (realpath and getcwd open none that outlive the
 *     call) and leaves no state behind.
 *   - Paths handed to the child are absolute (library, log file, config
 *     file), so a program that chdirs before its first lock, or a child that
 *     runs elsewhere, still finds the same files.
 *   - The library is found relative to the launcher's real path, never to
 *     the directory of a symlink to it or to the working directory, so a
 *     symlinked or PATH-found launcher picks the library it was built or
 *     installed with.
 *   - LD_PRELOAD gets exactly one copy of the shim.  ld.so splits the
 *     variable on ':' and ' ', so a library path holding either cannot be
 *     preloaded: refuse it instead of preloading half a path.  A sanitizer
 *     runtime that was first stays first (ASan refuses to run otherwise).
 *
 *   - Under secure execution (installed set-user-ID or set-group-ID) it
 *     refuses to run (126): the environment and the arguments are the
 *     caller's, and would name the files and the preload of a privileged
 *     program.
 *
 * Usage errors exit 2.  As in shells, a PROGRAM that is not found exits
 * 127 and one that exists but cannot be executed 126; a library that is
 * missing or cannot be preloaded exits 127 too.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ls.h"
#include "report.h"

#ifndef LS_VERSION
#define LS_VERSION "unknown"
#endif
#ifndef LS_PREFIX
#define LS_PREFIX "/usr/local"
#endif

#ifdef __APPLE__
#define LS_PRELOAD_VAR "DYLD_INSERT_LIBRARIES"
#define LS_LIB_NAME    "liblockscope.dylib"
#else
#define LS_PRELOAD_VAR "LD_PRELOAD"
#define LS_LIB_NAME    "liblockscope.so"
#endif

#define EXIT_USAGE     2
#define EXIT_NOEXEC    126
#define EXIT_NOTFOUND  127

static const char usage_text[] =
"Usage: lockscope [OPTIONS] [--] PROGRAM [ARGS...]\n"
"       lockscope report [--json] FILE...\n"
"\n"
"Run PROGRAM with the lockscope shim preloaded: POSIX record locks become\n"
"descriptor-scoped, open-and-lock rules apply, and locking hazards are\n"
"reported.  The exit status is PROGRAM's.\n"
"\n"
"Options (each also accepts its value as the next argument):\n"
"  --mode=off|audit|fix|strict  shim mode (LOCKSCOPE_MODE; default fix)\n"
"  --audit                      same as --mode=audit\n"
"  --strict                     same as --mode=strict\n"
"  --log=FILE|stderr            where hazards go (LOCKSCOPE_LOG)\n"
"  --format=text|json           record format (LOCKSCOPE_FORMAT)\n"
"  --config=FILE                configuration file (LOCKSCOPE_CONFIG)\n"
"  --debug                      print the shim's decisions (LOCKSCOPE_DEBUG=1)\n"
"  --help                       show this help and exit\n"
"  --version                    show the version and exit\n"
"\n"
"Options end at '--' or at the first argument that is not an option.\n"
"`lockscope report FILE...` summarises JSON-lines logs per hazard, per\n"
"file and per call site.  `lockscope ls [PATH...] [--json] [--wait]` shows\n"
"every lock held or awaited now: holder pid, command and own fd, wait\n"
"chains and cycles.  See lockscope(1).\n";

static const char *const modes[]   = { "off", "audit", "fix", "strict", NULL };
static const char *const formats[] = { "text", "json", NULL };

static int one_of(const char *value, const char *const *allowed)
{
    for (; *allowed; allowed++)
        if (strcmp(value, *allowed) == 0)
            return 1;
    return 0;
}

/* One line on stderr, then exit. */
__attribute__((format(printf, 2, 3), noreturn))
static void die(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lockscope: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    exit(status);
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n);
    if (!p)
        die(EXIT_NOTFOUND, "out of memory");
    return p;
}

static char *concat3(const char *a, const char *b, const char *c)
{
    size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
    char *s = xmalloc(la + lb + lc + 1);
    memcpy(s, a, la);
    memcpy(s + la, b, lb);
    memcpy(s + la + lb, c, lc + 1);
    return s;
}

static void set_env(const char *name, const char *value)
{
    if (setenv(name, value, 1) != 0)
        die(EXIT_NOTFOUND, "cannot set %s: %s", name, strerror(errno));
}

/*
 * A FILE for the child: absolute against the launcher's working directory
 * (the file need not exist yet, so this is not realpath).  A leading "./"
 * is dropped so messages stay readable.
 */
static char *absolute_path(const char *flag, const char *path)
{
    if (path[0] == '/')
        return concat3(path, "", "");
    char *cwd = getcwd(NULL, 0);
    if (!cwd)
        die(EXIT_USAGE, "%s: cannot make the path absolute: %s", flag,
            strerror(errno));
    while (path[0] == '.' && path[1] == '/') {
        path += 2;
        while (*path == '/')
            path++;
    }
    char *abs = strcmp(cwd, "/") == 0 ? concat3("/", path, "")
                                      : concat3(cwd, "/", path);
    free(cwd);
    return abs;
}

/* ---- options --------------------------------------------------------- */

struct options {
    const char *mode, *log, *format, *config;
    int debug;
};

/*
 * If arg is `--NAME=VALUE` or `--NAME` (value in the next argument), store
 * the value and return 1; return 0 when arg is another option.
 */
static int value_option(const char *name, int argc, char **argv, int *i,
                        const char **value)
{
    const char *arg = argv[*i] + 2;
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0)
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
    } else if (arg[n] == '\0') {
        if (*i + 1 >= argc)
            die(EXIT_USAGE, "--%s needs a value (try 'lockscope --help')",
                name);
        *value = argv[++*i];
    } else {
        return 0;
    }
    if (**value == '\0')
        die(EXIT_USAGE, "--%s needs a non-empty value", name);
    return 1;
}

static int print_stdout(const char *text)
{
    fputs(text, stdout);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "lockscope: cannot write to stdout: %s\n",
                strerror(errno));
        return 1;
    }
    return 0;
}

/* Returns the index of PROGRAM in argv. */
static int parse_options(int argc, char **argv, struct options *o)
{
    int i;
    for (i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            i++;
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0')
            break;                      /* PROGRAM ("-" is a name too) */
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0)
            exit(print_stdout(usage_text));
        if (strcmp(arg, "--version") == 0)
            exit(print_stdout("lockscope " LS_VERSION "\n"));
        if (strcmp(arg, "--audit") == 0) {
            o->mode = "audit";
        } else if (strcmp(arg, "--strict") == 0) {
            o->mode = "strict";
        } else if (strcmp(arg, "--debug") == 0) {
            o->debug = 1;
        } else if (arg[1] == '-' &&
                   (value_option("mode", argc, argv, &i, &o->mode) ||
                    value_option("log", argc, argv, &i, &o->log) ||
                    value_option("format", argc, argv, &i, &o->format) ||
                    value_option("config", argc, argv, &i, &o->config))) {
            /* stored */
        } else {
            die(EXIT_USAGE, "unknown option '%s' (try 'lockscope --help')",
                arg);
        }
    }
    if (o->mode && !one_of(o->mode, modes))
        die(EXIT_USAGE, "--mode: '%s' is not one of off, audit, fix, strict",
            o->mode);
    if (o->format && !one_of(o->format, formats))
        die(EXIT_USAGE, "--format: '%s' is not one of text, json",
            o->format);
    if (i >= argc)
        die(EXIT_USAGE, "no PROGRAM to run (try 'lockscope --help')");
    return i;
}

static void export_options(const struct options *o)
{
    if (o->mode)
        set_env("LOCKSCOPE_MODE", o->mode);
    if (o->log) {
        if (strcmp(o->log, "stderr") == 0) {
            set_env("LOCKSCOPE_LOG", "stderr");
        } else {
            char *abs = absolute_path("--log", o->log);
            set_env("LOCKSCOPE_LOG", abs);
            free(abs);
        }
    }
    if (o->format)
        set_env("LOCKSCOPE_FORMAT", o->format);
    if (o->config) {
        char *abs = absolute_path("--config", o->config);
        set_env("LOCKSCOPE_CONFIG", abs);
        free(abs);
    }
    if (o->debug)
        set_env("LOCKSCOPE_DEBUG", "1");
}

/* ---- finding the library ---------------------------------------------- */

/* The directory of the launcher's real path, or NULL if unknown. */
static char *launcher_dir(const char *argv0)
{
    char *exe = realpath("/proc/self/exe", NULL);
    if (!exe && argv0 && strchr(argv0, '/'))
        exe = realpath(argv0, NULL);    /* no /proc: best effort */
    if (!exe)
        return NULL;
    char *slash = strrchr(exe, '/');
    if (slash == exe)
        slash[1] = '\0';                /* launcher in "/" */
    else if (slash)
        *slash = '\0';
    return exe;
}

static int is_regular_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/*
 * The absolute real path of the library: next to the launcher, then in
 * ../lib/lockscope/ relative to it, then under the install prefix.
 */
static char *find_library(const char *argv0)
{
    char *cand[3] = { NULL, NULL, NULL };
    int n = 0;
    char *dir = launcher_dir(argv0);
    if (dir) {
        const char *sep = strcmp(dir, "/") == 0 ? "" : "/";
        cand[n++] = concat3(dir, sep, LS_LIB_NAME);
        /* dir is canonical, so its parent is dir minus its last name. */
        char *parent = concat3(dir, "", "");
        char *slash = strrchr(parent, '/');
        if (slash)
            slash[slash == parent] = '\0';
        sep = strcmp(parent, "/") == 0 ? "" : "/";
        cand[n++] = concat3(parent, sep, "lib/lockscope/" LS_LIB_NAME);
        free(parent);
        free(dir);
    }
    cand[n++] = concat3(LS_PREFIX, "/lib/lockscope/", LS_LIB_NAME);

    char *found = NULL;
    for (int k = 0; k < n && !found; k++)
        if (is_regular_file(cand[k]))
            found = realpath(cand[k], NULL);
    if (!found) {
        fputs("lockscope: cannot find " LS_LIB_NAME " (looked for ", stderr);
        for (int k = 0; k < n; k++)
            fprintf(stderr, "%s%s", k ? ", " : "", cand[k]);
        fputs(")\n", stderr);
        exit(EXIT_NOTFOUND);
    }
    for (int k = 0; k < n; k++)
        free(cand[k]);
    if (strpbrk(found, " :"))
        die(EXIT_NOTFOUND, "cannot preload %s: " LS_PRELOAD_VAR " cannot "
            "hold a path containing a space or a colon; install lockscope "
            "elsewhere", found);
    return found;
}

/* ---- LD_PRELOAD --------------------------------------------------------- */

static const char *base_name(const char *path, size_t len)
{
    const char *b = path;
    for (size_t k = 0; k < len; k++)
        if (path[k] == '/')
            b = path + k + 1;
    return b;
}

static int has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && strncmp(s, prefix, n) == 0;
}

/* A sanitizer runtime must stay ahead of every other preload. */
static int is_sanitizer_runtime(const char *entry, size_t len)
{
    static const char *const runtimes[] = {
        "libasan", "libtsan", "libubsan", "libhwasan", "liblsan", "libmsan",
        "libclang_rt.", NULL
    };
    const char *b = base_name(entry, len);
    size_t blen = len - (size_t)(b - entry);
    for (int k = 0; runtimes[k]; k++)
        if (has_prefix(b, blen, runtimes[k]))
            return 1;
    return 0;
}

/*
 * Any copy of the shim: ours, or another build's.  Two shims in one process
 * would each interpose the lock calls, so the one this launcher found
 * replaces whatever copy was preloaded before.
 */
static int is_shim(const char *entry, size_t len, const char *lib)
{
    if (len == strlen(lib) && strncmp(entry, lib, len) == 0)
        return 1;
    const char *b = base_name(entry, len);
    size_t blen = len - (size_t)(b - entry);
    return blen == strlen(LS_LIB_NAME) && strncmp(b, LS_LIB_NAME, blen) == 0;
}

/*
 * The new preload list: lib first, then the previous entries in their order
 * (':'-separated), except that a sanitizer runtime that came first keeps
 * its place ahead of lib.
 */
static char *compose_preload(const char *lib, const char *old)
{
    size_t lib_len = strlen(lib);
    size_t cap = lib_len + (old ? strlen(old) : 0) + 2;
    char *out = xmalloc(cap);
    size_t len = 0;
    int lib_placed = 0;

    for (const char *p = old ? old : ""; *p; ) {
        size_t n = strcspn(p, " :");
        if (n > 0 && !is_shim(p, n, lib)) {
            int keep_first = !lib_placed && is_sanitizer_runtime(p, n);
            if (!keep_first && !lib_placed) {
                memcpy(out + len, lib, lib_len);
                len += lib_len;
                out[len++] = ':';
            }
            memcpy(out + len, p, n);
            len += n;
            out[len++] = ':';
            if (keep_first) {
                memcpy(out + len, lib, lib_len);
                len += lib_len;
                out[len++] = ':';
            }
            lib_placed = 1;
        }
        p += n;
        p += strspn(p, " :");
    }
    if (!lib_placed) {
        memcpy(out, lib, lib_len);
        len = lib_len + 1;
    }
    out[len - 1] = '\0';               /* the last ':' */
    return out;
}

/* ---- exec ------------------------------------------------------------- */

static void run(char **argv)
{
    const char *prog = argv[0];
    execvp(prog, argv);
    int err = errno;
    if (err == ENOENT && !strchr(prog, '/'))
        die(EXIT_NOTFOUND, "%s: command not found", prog);
    if (err == ENOENT && access(prog, F_OK) == 0)
        die(EXIT_NOEXEC, "%s: cannot execute: its interpreter or loader "
            "is missing", prog);
    struct stat st;
    if (err == EACCES && strchr(prog, '/') && stat(prog, &st) == 0 &&
        S_ISDIR(st.st_mode))
        err = EISDIR;
    int status = (err == EACCES || err == ENOEXEC || err == EISDIR ||
                  err == ETXTBSY || err == EPERM) ? EXIT_NOEXEC : EXIT_NOTFOUND;
    die(status, "%s: %s", prog, strerror(err));
}

int main(int argc, char **argv)
{
    /* Set-user-ID or set-group-ID (secure execution): everything this
     * command does comes from the caller's environment and arguments (paths
     * to open, LD_PRELOAD for a privileged program): refuse to run. */
    if (getauxval(AT_SECURE)) {
        static const char msg[] = "lockscope: refusing to run set-user-ID or set-group-ID\n";
        (void)!write(2, msg, sizeof msg - 1);
        return EXIT_NOEXEC;
    }
    if (argc > 1 && strcmp(argv[1], "report") == 0)
        return lockscope_report_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "ls") == 0)
        return lockscope_ls_main(argc - 1, argv + 1);

    struct options o = { 0 };
    int prog = parse_options(argc, argv, &o);

    char *lib = find_library(argv[0]);
    char *preload = compose_preload(lib, getenv(LS_PRELOAD_VAR));
    export_options(&o);
    set_env(LS_PRELOAD_VAR, preload);
    free(preload);
    free(lib);

    run(argv + prog);
    return EXIT_NOTFOUND;               /* not reached */
}
