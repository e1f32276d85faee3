/*
 * hazard_flock_fcntl_mix - flock and fcntl locks on one file, in one process.
 *
 * Linux keeps flock and POSIX locks in separate domains (both "exclusive"
 * locks are granted at once); over NFS flock becomes a POSIX lock and the
 * same program conflicts with itself.  The hazard is reported ("observed":
 * the outcome is native) in every mode: strict refuses it only where the
 * two kinds share one lock (NFS, LOCKSCOPE_FLOCK=ofd: scenario
 * hazard_flock_fcntl_mix_ofd), not on this local file system.  Strict still
 * refuses (c)'s flock shared->exclusive upgrade (flock-upgrade-nonatomic).
 *   (a) file A: flock(LOCK_EX), then fcntl F_SETLK write [0,EOF)
 *   (b) file B: fcntl F_SETLK write [0,10), then flock(LOCK_SH)
 *   (c) file B: lockf(F_TLOCK) after the flock: the mix again, call "lockf"
 *   (d) file D: the program's own F_OFD_SETLK write [0,10), then flock:
 *       OFD locks are fcntl locks too
 *   (e) file E: flock, then the program's own F_OFD_SETLK (the other order)
 * A probe (a process without the shim) shows whether the POSIX lock exists.
 */
#include "scen.h"
#include <sys/file.h>

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s", scen_path("hz-mix-a"));
    snprintf(pb, sizeof pb, "%s", scen_path("hz-mix-b"));
    int a = open(pa, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open(pb, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0 || b < 0) scen_die("open");

    /* (a) flock first */
    SAY("a_flock_ex=%s", res(flock(a, LOCK_EX)));
    SAY("a_fcntl_w=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 0)));
    SAY("a_probe_posix=%c", probe(pa, 'W', 0, 0));
    SAY("a_unlock_fcntl=%s", res(scen_setlk(a, F_SETLK, F_UNLCK, 0, 0)));
    SAY("a_unlock_flock=%s", res(flock(a, LOCK_UN)));

    /* (b) fcntl first */
    SAY("b_fcntl_w=%s", res(scen_setlk(b, F_SETLK, F_WRLCK, 0, 10)));
    SAY("b_flock_sh=%s", res(flock(b, LOCK_SH | LOCK_NB)));
    /* does an exclusive flock through another description conflict? */
    int b2 = open(pb, O_RDWR);
    if (b2 < 0) scen_die("open");
    SAY("b_other_flock_ex=%s", res(flock(b2, LOCK_EX | LOCK_NB)));
    SAY("b_other_unlock=%s", res(flock(b2, LOCK_UN)));
    close(b2);

    /* (c) lockf after flock */
    SAY("c_flock_ex=%s", res(flock(b, LOCK_EX | LOCK_NB)));
    if (lseek(b, 20, SEEK_SET) != 20) scen_die("lseek");
    SAY("c_lockf_tlock=%s", res(lockf(b, F_TLOCK, 10)));
    SAY("c_probe_posix_20=%c", probe(pb, 'W', 20, 10));

    SAY("unlock_fcntl=%s", res(scen_setlk(b, F_SETLK, F_UNLCK, 0, 0)));
    SAY("unlock_flock=%s", res(flock(b, LOCK_UN)));

    /* (d) the program's own OFD lock, then flock */
    char pd[4096];
    snprintf(pd, sizeof pd, "%s", scen_path("hz-mix-d"));
    int d = open(pd, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (d < 0) scen_die("open");
    SAY("d_ofd_w=%s", res(scen_setlk(d, F_OFD_SETLK, F_WRLCK, 0, 10)));
    SAY("d_flock_ex=%s", res(flock(d, LOCK_EX | LOCK_NB)));
    SAY("d_unlock_flock=%s", res(flock(d, LOCK_UN)));
    SAY("d_unlock_ofd=%s", res(scen_setlk(d, F_OFD_SETLK, F_UNLCK, 0, 0)));
    close(d);
    unlink(pd);

    /* (e) flock, then the program's own F_OFD_SETLK through the same fd */
    char pc[4096];
    snprintf(pc, sizeof pc, "%s", scen_path("hz-mix-e"));
    int cf = open(pc, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (cf < 0) scen_die("open");
    SAY("e_flock_ex=%s", res(flock(cf, LOCK_EX | LOCK_NB)));
    SAY("e_ofd_w=%s", res(scen_setlk(cf, F_OFD_SETLK, F_WRLCK, 0, 10)));
    SAY("e_unlock_ofd=%s", res(scen_setlk(cf, F_OFD_SETLK, F_UNLCK, 0, 0)));
    SAY("e_unlock_flock=%s", res(flock(cf, LOCK_UN)));
    close(cf);
    unlink(pc);

    SAY("probe_end=%c%c", probe(pa, 'W', 0, 0), probe(pb, 'W', 0, 0));
    close(a);
    close(b);
    unlink(pa);
    unlink(pb);
    return 0;
}
