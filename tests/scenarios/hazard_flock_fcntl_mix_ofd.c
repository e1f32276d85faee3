/*
 * hazard_flock_fcntl_mix_ofd - flock and fcntl locks on one file where
 * they share one lock: with LOCKSCOPE_FLOCK=ofd (expect/NAME.env) a flock
 * is an OFD lock, as over NFS it is a POSIX lock.  Natively (and in audit,
 * which never cures) the two kinds are independent and both are granted;
 * in fix they conflict (the mix is recorded "observed"); strict refuses the
 * second kind with ENOLCK ("refused").  Compare hazard_flock_fcntl_mix,
 * where on a local file system without the cure strict only records it.
 *   (a) file A: flock(LOCK_EX), then fcntl F_SETLK write [0,10)
 *   (b) file B: fcntl F_SETLK write [0,10), then flock(LOCK_SH)
 *   (c) file C: flock(LOCK_EX), then the program's own F_OFD_SETLK write
 *       [0,10) through the same descriptor
 */
#include "scen.h"
#include <sys/file.h>

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    char pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s", scen_path("hz-mixofd-a"));
    snprintf(pb, sizeof pb, "%s", scen_path("hz-mixofd-b"));
    int a = open(pa, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open(pb, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0 || b < 0) scen_die("open");

    SAY("a_flock_ex=%s", res(flock(a, LOCK_EX | LOCK_NB)));
    SAY("a_fcntl_w=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    SAY("a_unlock_fcntl=%s", res(scen_setlk(a, F_SETLK, F_UNLCK, 0, 0)));
    SAY("a_unlock_flock=%s", res(flock(a, LOCK_UN)));

    SAY("b_fcntl_w=%s", res(scen_setlk(b, F_SETLK, F_WRLCK, 0, 10)));
    SAY("b_flock_sh=%s", res(flock(b, LOCK_SH | LOCK_NB)));
    SAY("b_unlock_flock=%s", res(flock(b, LOCK_UN)));
    SAY("b_unlock_fcntl=%s", res(scen_setlk(b, F_SETLK, F_UNLCK, 0, 0)));

    /* (c) flock, then the program's own F_OFD_SETLK through the same fd */
    char pc[4096];
    snprintf(pc, sizeof pc, "%s", scen_path("hz-mixofd-c"));
    int cf = open(pc, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (cf < 0) scen_die("open");
    SAY("c_flock_ex=%s", res(flock(cf, LOCK_EX | LOCK_NB)));
    SAY("c_ofd_w=%s", res(scen_setlk(cf, F_OFD_SETLK, F_WRLCK, 0, 10)));
    SAY("c_unlock_ofd=%s", res(scen_setlk(cf, F_OFD_SETLK, F_UNLCK, 0, 0)));
    SAY("c_unlock_flock=%s", res(flock(cf, LOCK_UN)));
    close(cf);
    unlink(pc);

    SAY("probe_end=%c%c", probe(pa, 'W', 0, 0), probe(pb, 'W', 0, 0));
    close(a);
    close(b);
    unlink(pa);
    unlink(pb);
    return 0;
}
