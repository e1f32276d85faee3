/*
 * hazard_lock_already_held - the lock-already-held hazard and its record.
 *
 * One description of a 100-byte file asks again for ranges every byte of
 * which it already holds with the same type.  Natively (and in every mode)
 * the repeated request succeeds and changes nothing: the hazard is only
 * recorded ("observed"), never refused.
 *   (1) write [10,20), then again as SEEK_END -90 len 10    -> [10,20)
 *   (2) lockf(F_LOCK, 10) at offset 30, then lockf(F_TLOCK, 10) at 30
 *       -> [30,40), call "lockf"
 *   (3) read [50,60) twice, the second as SEEK_CUR 0 len 10 at offset 50
 *   (4) write [200,EOF) twice (len 0), the second as SEEK_CUR +100 at 100
 *   (5) no record: write [60,80) when only [60,70) is held (part is new),
 *       and read [10,20) inside the write lock (a conversion, not a repeat)
 * "# expect" / "# nohazard" comment lines are read by
 * tests/hazards/check-records.sh (see hazard_unlock_not_held.c).
 */
#include "scen.h"

static char real[4096];
static struct stat st;

/* the "# expect" line of a call through fd on this file (scen.h) */
#define expect(...) scen_expect(real, &st, __VA_ARGS__)

#define LK(fd, type, whence, start, len) \
    (fl.l_type = (type), fl.l_whence = (whence), fl.l_start = (start), fl.l_len = (len), \
     fcntl((fd), F_SETLK, &fl))

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    const char *path = scen_path("hz-held");
    int fd = scen_expect_file(path, real, &st);
    struct flock fl;
    memset(&fl, 0, sizeof fl);

    /* (1) */
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("w_10_20=%s", res(LK(fd, F_WRLCK, SEEK_SET, 10, 10)));
    expect("lock-already-held", fd, "write", 10, 10, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("w_end_-90_10=%s", res(LK(fd, F_WRLCK, SEEK_END, -90, 10)));

    /* (2) */
    SAY("lseek_30=%lld", (long long)lseek(fd, 30, SEEK_SET));
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("lockf_lock_10=%s", res(lockf(fd, F_LOCK, 10)));
    expect("lock-already-held", fd, "write", 30, 10, SCEN_CALL_LOCKF, __LINE__ + 1);
    SAY("lockf_tlock_10=%s", res(lockf(fd, F_TLOCK, 10)));

    /* (3) */
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("r_50_60=%s", res(LK(fd, F_RDLCK, SEEK_SET, 50, 10)));
    SAY("lseek_50=%lld", (long long)lseek(fd, 50, SEEK_SET));
    expect("lock-already-held", fd, "read", 50, 10, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("r_cur_0_10=%s", res(LK(fd, F_RDLCK, SEEK_CUR, 0, 10)));

    /* (4) */
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("w_200_eof=%s", res(LK(fd, F_WRLCK, SEEK_SET, 200, 0)));
    SAY("lseek_100=%lld", (long long)lseek(fd, 100, SEEK_SET));
    expect("lock-already-held", fd, "write", 200, 0, SCEN_CALL_FCNTL, __LINE__ + 1);
    SAY("w_cur_100_eof=%s", res(LK(fd, F_WRLCK, SEEK_CUR, 100, 0)));

    /* (5) */
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("w_60_70=%s", res(LK(fd, F_WRLCK, SEEK_SET, 60, 10)));
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("w_60_80=%s", res(LK(fd, F_WRLCK, SEEK_SET, 60, 20)));
    printf("# nohazard line=%d\n", __LINE__ + 1);
    SAY("r_10_20=%s", res(LK(fd, F_RDLCK, SEEK_SET, 10, 10)));

    { long long at[] = { 9, 10, 30, 40, 50, 60, 79, 80, 199, 200 };
      char out[16]; SAY("probe_w@9,10,30,40,50,60,79,80,199,200=%s", scen_probes(out, path, 'W', at, 10, 1)); }
    SAY("unlock_all=%s", res(LK(fd, F_UNLCK, SEEK_SET, 0, 0)));
    SAY("probe_end=%c", probe(path, 'W', 0, 0));
    close(fd);
    unlink(path);
    return 0;
}
