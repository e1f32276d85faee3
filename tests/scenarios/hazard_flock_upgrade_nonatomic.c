/*
 * hazard_flock_upgrade_nonatomic - flock shared->exclusive is not atomic.
 *
 * Natively flock(LOCK_EX) on a description that holds LOCK_SH removes the
 * shared lock before it waits; with LOCK_NB it can fail with EWOULDBLOCK
 * after the shared lock is already gone.
 *   (a) A and B (two descriptions) hold LOCK_SH; A asks LOCK_EX|LOCK_NB:
 *       EWOULDBLOCK natively.  B unlocks; C asks LOCK_EX|LOCK_NB: granted
 *       natively (A lost its shared lock: a_kept_shared=no).
 *   (b) A alone: LOCK_SH, then LOCK_EX (blocking, nobody else): 0.
 * Modes: audit/fix with native flock: "observed", outcome native.  strict:
 * "refused", the upgrade fails with ENOLCK and A keeps its shared lock.
 * With LOCKSCOPE_FLOCK=ofd (hazard_flock_upgrade_ofd, same program) fix
 * makes the upgrade atomic ("prevented": EWOULDBLOCK, but A keeps its lock).
 */
#include "scen.h"
#include <sys/file.h>

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    const char *path = scen_path("hz-upgrade");
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open(path, O_RDWR);
    int c = open(path, O_RDWR);
    if (a < 0 || b < 0 || c < 0) scen_die("open");

    /* (a) */
    SAY("a_sh=%s", res(flock(a, LOCK_SH)));
    SAY("b_sh=%s", res(flock(b, LOCK_SH)));
    SAY("a_upgrade_nb=%s", res(flock(a, LOCK_EX | LOCK_NB)));
    SAY("b_un=%s", res(flock(b, LOCK_UN)));
    int r = flock(c, LOCK_EX | LOCK_NB);
    SAY("c_ex_nb=%s", res(r));
    SAY("a_kept_shared=%s", r == 0 ? "no" : "yes");
    SAY("c_un=%s", res(flock(c, LOCK_UN)));
    SAY("a_un=%s", res(flock(a, LOCK_UN)));

    /* (b) */
    SAY("solo_sh=%s", res(flock(a, LOCK_SH)));
    SAY("solo_upgrade=%s", res(flock(a, LOCK_EX)));
    r = flock(c, LOCK_SH | LOCK_NB);
    SAY("solo_other_sh_nb=%s", res(r));
    if (r == 0) flock(c, LOCK_UN);
    SAY("solo_un=%s", res(flock(a, LOCK_UN)));

    close(a); close(b); close(c);
    unlink(path);
    return 0;
}
