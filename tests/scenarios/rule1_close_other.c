/*
 * rule1_close_other - rule 1: closing ANOTHER description of the same file
 * never releases a lock (natively, any close of the file drops every POSIX
 * lock of the process on it).
 *
 * A = open(path), write lock [0,10) through A.  Then, each followed by a probe
 * from a process without the shim:
 *   other   B = open(path); close(B)
 *   link    L = open(hard link to path); close(L)
 *   procfd  P = open("/proc/self/fd/A") (a new description); close(P)
 * Native: each close drops the lock (U; A re-locks for the next variant).
 * fix: the lock stays (W).  Finally close(A), A's last fd: released in both.
 */
#include "scen.h"

static const char *path;

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("r1co");
    char link_path[4200];
    snprintf(link_path, sizeof link_path, "%s.link", path);

    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open A");
    SAY("lock_a=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    SAY("probe_locked=%c", probe(path, 'W', 0, 10));
    SAY("probe_outside=%c", probe(path, 'W', 10, 10));

    /* another open of the same path */
    int b = open(path, O_RDWR);
    if (b < 0) scen_die("open B");
    SAY("close_other=%s", res(close(b)));
    SAY("probe_after_close_other=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "other");

    /* the same file through a hard link */
    if (link(path, link_path) < 0) scen_die("link");
    int l = open(link_path, O_RDONLY);
    if (l < 0) scen_die("open link");
    SAY("close_link=%s", res(close(l)));
    SAY("probe_after_close_link=%c", probe(path, 'W', 0, 10));
    unlink(link_path);
    scen_relock(path, a, 0, 10, "link");

    /* a new description of the same inode through /proc/self/fd */
    char pfd[64];
    snprintf(pfd, sizeof pfd, "/proc/self/fd/%d", a);
    int p = open(pfd, O_RDONLY);
    if (p < 0) scen_die("open /proc/self/fd");
    SAY("close_procfd=%s", res(close(p)));
    SAY("probe_after_close_procfd=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "procfd");

    /* A's last descriptor: the lock goes in every mode */
    SAY("probe_before_close_a=%c", probe(path, 'W', 0, 10));
    SAY("close_a=%s", res(close(a)));
    SAY("probe_after_close_a=%c", probe(path, 'W', 0, 10));

    unlink(path);
    return 0;
}
