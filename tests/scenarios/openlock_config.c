/*
 * openlock_config - atomic open-and-lock rules from a config file, and how
 * a rule's pattern meets a path: as given, absolute (joined to the working
 * directory or openat's directory, "." and ".." removed) and real (symlinks
 * resolved), so neither a relative path nor a symlink dodges a rule.
 *
 * The scenario writes $SCEN_DIR/ol.conf with absolute patterns (the real
 * path of $SCEN_DIR) and re-executes itself with LOCKSCOPE_CONFIG naming it
 * and LOCKSCOPE_OPEN_LOCK holding one environment rule (natively these
 * variables mean nothing):
 *
 *     open_lock = REAL/lockscope-ol-top-STAR=deny-write,nonblock
 *     [path "REAL/lockscope-ol-cf-STAR"]     open_lock = exclusive,nonblock
 *     [path "REAL/sub/STAR.lck"]             open_lock = shared,nonblock
 *     [path "lockscope-ol-prio-STAR"]        open_lock = exclusive,nonblock
 *   environment:
 *     LOCKSCOPE_OPEN_LOCK=REAL/lockscope-ol-prio-STAR=shared,nonblock
 *   (STAR: the '*' wildcard)
 *
 *  cf       relative open of REAL/lockscope-ol-cf-a: exclusive (probe W)
 *  link     a symlink whose own name matches no rule, to a ruled file: locked
 *  dodge    "hop/../../lockscope-ol-cf-dodge" where hop is a symlink to
 *           sub/deeper: the kernel opens REAL/lockscope-ol-cf-dodge (lexically
 *           the path would be outside REAL): locked
 *  sub      from sub/deeper: "../x.lck", "./.././y.lck", a new "../new.lck"
 *           (O_CREAT, no real path yet) and openat(sub, "z.lck"): shared
 *  top      a top-level open_lock key: deny-write (R for O_RDONLY, W else)
 *  prio     the environment's rule (matching the absolute form) wins over the
 *           file's rule (matching the path as given): shared
 *  none     a path no rule names: nothing
 * Natively (and off/audit) nothing is locked: every probe says U.
 */
#include "scen.h"

#include <limits.h>

static char real[PATH_MAX];

static void put(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die(path);
    if (write(fd, "x", 1) != 1) scen_die("write");
    close(fd);
}

/* open path (relative to the cwd), probe the file `where` (relative to
 * REAL) for a write lock: the conflicting type. */
static void check(const char *name, const char *path, int flags, const char *where)
{
    char abs[PATH_MAX + 64];
    snprintf(abs, sizeof abs, "%s/%s", real, where);
    int fd = open(path, flags, 0644);
    if (fd < 0) { SAY("%s_open=%s", name, errname(errno)); return; }
    SAY("%s_open=0", name);
    SAY("%s_probe_w=%c", name, probe(abs, 'W', 0, 0));
    close(fd);
}

static void staged(void)
{
    if (chdir(real) < 0) scen_die("chdir");
    put("lockscope-ol-cf-a");
    put("lockscope-ol-cf-target");
    put("lockscope-ol-cf-dodge");
    put("sub/x.lck");
    put("sub/y.lck");
    put("sub/z.lck");
    put("lockscope-ol-top-f");
    put("lockscope-ol-prio-f");
    put("plain-file");
    if (symlink("lockscope-ol-cf-target", "alias-link") < 0) scen_die("symlink");
    if (symlink("sub/deeper", "hop") < 0) scen_die("symlink");

    check("cf", "lockscope-ol-cf-a", O_RDONLY, "lockscope-ol-cf-a");
    check("link", "alias-link", O_RDWR, "lockscope-ol-cf-target");
    check("dodge", "hop/../../lockscope-ol-cf-dodge", O_RDONLY, "lockscope-ol-cf-dodge");
    check("top_rdonly", "lockscope-ol-top-f", O_RDONLY, "lockscope-ol-top-f");
    check("top_rdwr", "lockscope-ol-top-f", O_RDWR, "lockscope-ol-top-f");
    check("prio", "lockscope-ol-prio-f", O_RDWR, "lockscope-ol-prio-f");
    check("none", "plain-file", O_RDWR, "plain-file");

    if (chdir("sub/deeper") < 0) scen_die("chdir");
    check("sub_dotdot", "../x.lck", O_RDWR, "sub/x.lck");
    check("sub_dots", "./.././y.lck", O_RDWR, "sub/y.lck");
    check("sub_new", "../new.lck", O_RDWR | O_CREAT | O_EXCL, "sub/new.lck");
    check("sub_abs", "../../lockscope-ol-cf-a", O_RDWR, "lockscope-ol-cf-a");
    int dfd = open("..", O_RDONLY | O_DIRECTORY);
    if (dfd < 0) scen_die("open sub");
    int fd = openat(dfd, "z.lck", O_RDWR);
    SAY("sub_openat=%s", fd < 0 ? errname(errno) : "0");
    char abs[PATH_MAX + 64];
    snprintf(abs, sizeof abs, "%s/sub/z.lck", real);
    SAY("sub_openat_probe_w=%c", probe(abs, 'W', 0, 0));
    if (fd >= 0) close(fd);
    close(dfd);
    SAY("done=1");
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    const char *dir = getenv("SCEN_DIR");
    if (!dir || !*dir) dir = "/tmp";
    if (!realpath(dir, real)) scen_die("realpath");
    if (getenv("OLCF_STAGED")) {
        staged();
        return 0;
    }

    /* stage 1: the config file, then this program again with it */
    if (chdir(real) < 0) scen_die("chdir");
    if (mkdir("sub", 0755) < 0 || mkdir("sub/deeper", 0755) < 0) scen_die("mkdir");
    FILE *f = fopen("ol.conf", "w");
    if (!f) scen_die("ol.conf");
    fprintf(f, "# written by openlock_config\n"
               "open_lock = %s/lockscope-ol-top-*=deny-write,nonblock\n"
               "\n"
               "[path \"%s/lockscope-ol-cf-*\"]\n"
               "open_lock = exclusive,nonblock\n"
               "[path \"%s/sub/*.lck\"]\n"
               "open_lock = shared,nonblock\n"
               "[path \"lockscope-ol-prio-*\"]\n"
               "open_lock = exclusive,nonblock\n", real, real, real);
    fclose(f);

    static char conf[PATH_MAX + 64], rule[PATH_MAX + 128];
    snprintf(conf, sizeof conf, "LOCKSCOPE_CONFIG=%s/ol.conf", real);
    snprintf(rule, sizeof rule, "LOCKSCOPE_OPEN_LOCK=%s/lockscope-ol-prio-*=shared,nonblock", real);
    static char *env[1024];
    int k = 0;
    for (char **e = environ; *e && k < 1020; e++)
        if (strncmp(*e, "LOCKSCOPE_CONFIG=", 17) && strncmp(*e, "LOCKSCOPE_OPEN_LOCK=", 20))
            env[k++] = *e;
    env[k++] = conf;
    env[k++] = rule;
    env[k++] = (char *)"OLCF_STAGED=1";
    env[k] = NULL;
    fflush(NULL);
    pid_t c = fork();
    if (c < 0) scen_die("fork");
    if (c == 0) {
        execve(scen_self_exe(), argv, env);
        _exit(127);
    }
    int st;
    if (waitpid(c, &st, 0) < 0 || !WIFEXITED(st)) { SAY("staged=crashed"); return 1; }
    return WEXITSTATUS(st);
}
