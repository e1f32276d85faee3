/*
 * perf_flock_fstatfs - a flock pays its fstatfs (the flock-on-nfs check)
 * once per file, not per call (issue 14).
 *
 * After one flock LOCK_EX/LOCK_UN of the file (the check made), a seccomp
 * filter kills the process at any fstatfs/statfs; then more flock pairs on
 * the same file, through the first descriptor and a second one.  A shim
 * that asks fstatfs on every flock dies (SIGSYS) before "done".  Natively
 * flock makes no such call.
 */
#include "scen.h"
#include <sys/file.h>

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    char path[4096];
    snprintf(path, sizeof path, "%s", scen_path("perf_flock"));
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int fd2 = open(path, O_RDWR);
    if (fd < 0 || fd2 < 0) scen_die("open");
    SAY("warm=%s,%s", res(flock(fd, LOCK_EX)), res(flock(fd, LOCK_UN)));
    unlink(path);
    SAY("filter=%d", scen_seccomp((const int[]){ __NR_fstatfs, __NR_statfs }, 2, SECCOMP_RET_KILL_PROCESS) == 0);
    int bad = 0;
    for (int i = 0; i < 100; i++) {
        bad += flock(fd, LOCK_EX) < 0;
        bad += flock(fd, LOCK_UN) < 0;
        bad += flock(fd2, LOCK_SH) < 0;
        bad += flock(fd2, LOCK_UN) < 0;
    }
    SAY("pairs_failed=%d", bad);
    SAY("other_fd_excluded=%s", res(flock(fd, LOCK_EX) == 0 ? flock(fd2, LOCK_EX | LOCK_NB) : -1));
    flock(fd, LOCK_UN);
    close(fd);
    close(fd2);
    SAY("done=1");
    return 0;
}
