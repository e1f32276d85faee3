/*
 * hazard_flock_ofd_self_deadlock - with LOCKSCOPE_FLOCK=ofd (see the .env)
 * flock becomes an OFD lock, which conflicts with fcntl locks, also with
 * the same thread's own.  A blocking flock that only this thread's fcntl
 * lock stands in the way of must fail at once (EDEADLK, self-deadlock),
 * never wait forever.
 *   (a) fcntl write lock on the whole file, then flock(LOCK_EX|LOCK_NB):
 *       native 0 (separate domains); fix EAGAIN (the cure: they conflict)
 *   (b) then flock(LOCK_EX), blocking: native 0; fix EDEADLK
 * audit keeps native flock; strict refuses the mix first (ENOLCK).
 */
#include "scen.h"
#include <sys/file.h>

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    const char *path = scen_path("hz-ofdself");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("open");
    SAY("fcntl_w=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 0, 0)));
    SAY("a_flock_ex_nb=%s", res(flock(fd, LOCK_EX | LOCK_NB)));
    flock(fd, LOCK_UN);
    SAY("b_flock_ex=%s", res(flock(fd, LOCK_EX)));
    SAY("unlock_flock=%s", res(flock(fd, LOCK_UN)));
    SAY("unlock_fcntl=%s", res(scen_setlk(fd, F_SETLK, F_UNLCK, 0, 0)));
    SAY("probe_end=%c", probe(path, 'W', 0, 0));
    close(fd);
    unlink(path);
    return 0;
}
