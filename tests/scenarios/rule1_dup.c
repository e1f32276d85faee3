/*
 * rule1_dup - rule 1 with duplicated descriptors: a lock belongs to the
 * description; closing one descriptor of it releases nothing while another
 * descriptor of the same description stays open.
 *
 * A = open(path), write lock [0,10) through A, then, each followed by a probe:
 *   dup        d = dup(A); close(d)
 *   dup2       dup2(A, 50); close(50)
 *   dup3       dup3(A, 51, O_CLOEXEC); close(51)
 *   dupfd_cx   d = fcntl(A, F_DUPFD_CLOEXEC, 0); close(d)
 * Native: every close drops the lock (U; A re-locks); fix: it stays (W).
 * Unlock through a dup releases in both (same description).
 * Lock through d = dup(A), close(A): native U, fix W (d still open);
 * close(d): released in both.  Finally close(A) of the first part: released.
 */
#include "scen.h"

static const char *path;

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("r1dup");

    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open A");
    SAY("lock_a=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    SAY("probe_locked=%c", probe(path, 'W', 0, 10));

    int d = dup(a);
    if (d < 0) scen_die("dup");
    SAY("close_dup=%s", res(close(d)));
    SAY("probe_after_close_dup=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "dup");

    SAY("dup2_to_50=%s", dup2(a, 50) == 50 ? "yes" : "no");
    SAY("close_50=%s", res(close(50)));
    SAY("probe_after_close_dup2=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "dup2");

    SAY("dup3_to_51=%s", dup3(a, 51, O_CLOEXEC) == 51 ? "yes" : "no");
    SAY("close_51=%s", res(close(51)));
    SAY("probe_after_close_dup3=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "dup3");

    d = fcntl(a, F_DUPFD_CLOEXEC, 0);
    if (d < 0) scen_die("F_DUPFD_CLOEXEC");
    SAY("close_dupfd_cloexec=%s", res(close(d)));
    SAY("probe_after_close_dupfd_cloexec=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "dupfd_cloexec");

    /* an unlock through a dup is an unlock of the same description */
    d = dup(a);
    if (d < 0) scen_die("dup");
    SAY("unlock_via_dup=%s", res(scen_setlk(d, F_SETLK, F_UNLCK, 0, 10)));
    SAY("probe_after_unlock_via_dup=%c", probe(path, 'W', 0, 10));
    close(d);
    SAY("probe_after_close_unlocked_dup=%c", probe(path, 'W', 0, 10));

    /* a lock taken through a dup, the original closed first */
    SAY("close_a=%s", res(close(a)));
    int c = open(path, O_RDWR);
    if (c < 0) scen_die("open C");
    d = dup(c);
    if (d < 0) scen_die("dup C");
    SAY("lock_via_dup=%s", res(scen_setlk(d, F_SETLK, F_WRLCK, 20, 10)));
    SAY("probe_dup_locked=%c", probe(path, 'W', 20, 10));
    SAY("close_original=%s", res(close(c)));
    SAY("probe_after_close_original=%c", probe(path, 'W', 20, 10));
    SAY("close_last_dup=%s", res(close(d)));
    SAY("probe_after_close_last=%c", probe(path, 'W', 20, 10));

    unlink(path);
    return 0;
}
