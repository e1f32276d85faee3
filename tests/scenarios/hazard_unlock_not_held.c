/*
 * hazard_unlock_not_held - the unlock-not-held hazard and its record.
 *
 * One description of a 100-byte file; unlocks of ranges it holds no byte
 * of, named in every way a caller can name a range.  Every call succeeds
 * (natively an unlock of nothing is 0), in every mode: the hazard is only
 * recorded ("observed"), never refused.
 *   (1) SEEK_SET [0,10)
 *   (2) SEEK_CUR +5 len 10 with the offset at 10   -> [15,25)
 *   (3) SEEK_END -10 len 0                          -> [90,EOF)
 *   (4) lockf(F_ULOCK, 20) with the offset at 10    -> [10,30), call "lockf"
 *   (5) no record: unlock of a range partly held ([45,55) with [40,50)
 *       held), and of a range fully held.
 *   (6) after those, SEEK_SET [60,70): held nothing there -> a record.
 * The lines "# expect ..." (comments for the scenario runner) tell
 * tests/hazards/check-records.sh which record each call must produce:
 * fd, type, start, len (SEEK_SET-resolved), call, and the source line of
 * the call (the record's "site" resolved with addr2line).
 */
#include "scen.h"

static const char *path;
static char real[4096];
static struct stat st;

/* the "# expect" line of a call through fd on this file (scen.h) */
#define expect(...) scen_expect(real, &st, __VA_ARGS__)

static int lk(int fd, short type, short whence, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type; fl.l_whence = whence; fl.l_start = start; fl.l_len = len;
    return fcntl(fd, F_SETLK, &fl);
}

#define UNLOCK(fd, whence, start, len) \
    (fl.l_type = F_UNLCK, fl.l_whence = (whence), fl.l_start = (start), fl.l_len = (len), \
     fcntl((fd), F_SETLK, &fl))

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("hz-unheld");
    int fd = scen_expect_file(path, real, &st);
    struct flock fl;
    memset(&fl, 0, sizeof fl);

    /* (1) */
    expect("unlock-not-held", fd, "unlock", 0, 10, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("set_0_10=%s", res(UNLOCK(fd, SEEK_SET, 0, 10)));

    /* (2) */
    SAY("lseek_10=%lld", (long long)lseek(fd, 10, SEEK_SET));
    expect("unlock-not-held", fd, "unlock", 15, 10, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("cur_5_10=%s", res(UNLOCK(fd, SEEK_CUR, 5, 10)));

    /* (3) */
    expect("unlock-not-held", fd, "unlock", 90, 0, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("end_-10_0=%s", res(UNLOCK(fd, SEEK_END, -10, 0)));

    /* (4) */
    expect("unlock-not-held", fd, "unlock", 10, 20, SCEN_CALL_LOCKF, __LINE__ + 1);
    SAY("lockf_ulock_20=%s", res(lockf(fd, F_ULOCK, 20)));

    /* (5) partly held, fully held: no record from these lines */
    SAY("lock_40_50=%s", res(lk(fd, F_WRLCK, SEEK_SET, 40, 10)));
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("partly_45_55=%s", res(UNLOCK(fd, SEEK_SET, 45, 10)));
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("fully_40_45=%s", res(UNLOCK(fd, SEEK_SET, 40, 5)));

    /* (6) */
    expect("unlock-not-held", fd, "unlock", 60, 10, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("set_60_70=%s", res(UNLOCK(fd, SEEK_SET, 60, 10)));

    SAY("probe_end=%c", probe(path, 'W', 0, 0));
    close(fd);
    unlink(path);
    return 0;
}
