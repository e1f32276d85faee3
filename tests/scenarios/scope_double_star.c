/*
 * scope_double_star - in a rule's GLOB, '**' matches any string, '/'
 * included: LOCKSCOPE_SCOPE='**' '/lockscope-scen-sds-p-*=process' (see
 * expect/scope_double_star.env) names such a file in ANY directory, here
 * SCEN_DIR several components deep.  (With fnmatch's FNM_PATHNAME, '**' was
 * just '*': one component, so the rule never matched an absolute path.)
 *
 * Two files, each: A = open, write lock [0,10) through A, B = open; close(B),
 * then a probe from a process without the shim.
 *   p (matches the rule, process scope: native semantics): U in every mode
 *   d (no rule, descriptor scope): U natively, W under fix
 */
#include "scen.h"

static void one(const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s", scen_path(name));
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open A");
    SAY("%s_lock=%s", name, res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    int b = open(path, O_RDWR);
    if (b < 0) scen_die("open B");
    SAY("%s_close_other=%s", name, res(close(b)));
    SAY("%s_probe_after_close_other=%c", name, probe(path, 'W', 0, 10));
    close(a);
    unlink(path);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    one("sds-p");
    one("sds-d");
    return 0;
}
