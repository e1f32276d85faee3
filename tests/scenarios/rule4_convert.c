/*
 * rule4_convert - rule 4: a request converts or splits only locks of its own
 * description.
 *
 * (a) A: write [0,100).  B (same process, another description): F_SETLK read
 *     [0,100).  Native: 0 and the process's lock silently becomes a read lock
 *     (a read probe then finds no conflict); fix: EAGAIN, A's write lock
 *     intact; strict: refused (foreign-convert, ENOLCK).
 * (b) A: write [0,100) again.  B: unlock [10,20).  Native: A's lock split
 *     (hole at [10,20)); fix: 0, nothing released; strict: ENOLCK.
 * (c) Within one description splits and merges are identical in every mode:
 *     unlock a hole, lock a read range inside a write range, l_len 0,
 *     negative l_len, SEEK_CUR, SEEK_END.
 * Probes print one letter per offset (1-byte probes), e.g. "WWUU".
 */
#include "scen.h"

static const char *path;

static void show(const char *key, char type, const long long *at, int n)
{
    char out[32];
    SAY("%s=%s", key, scen_probes(out, path, type, at, n, 1));
}

static int lk(int fd, short type, short whence, off_t start, off_t len)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type; fl.l_whence = whence; fl.l_start = start; fl.l_len = len;
    return fcntl(fd, F_SETLK, &fl);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("r4conv");
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open(path, O_RDWR);
    if (a < 0 || b < 0) scen_die("open");

    /* (a) conversion through another description */
    SAY("a_lock_w=%s", res(lk(a, F_WRLCK, SEEK_SET, 0, 100)));
    SAY("b_lock_r=%s", res(lk(b, F_RDLCK, SEEK_SET, 0, 100)));
    SAY("a_probe_r_0_100=%c", probe(path, 'R', 0, 100));
    SAY("a_probe_w_0_100=%c", probe(path, 'W', 0, 100));

    /* (b) split through another description */
    if (probe(path, 'R', 0, 100) != 'W')
        SAY("b_relock_a=%s", res(lk(a, F_WRLCK, SEEK_SET, 0, 100)));
    else
        SAY("b_relock_a=held");
    SAY("b_unlock_10_20=%s", res(lk(b, F_UNLCK, SEEK_SET, 10, 10)));
    { long long at[] = { 0, 9, 10, 19, 20, 99, 100 }; show("b_probe_w@0,9,10,19,20,99,100", 'W', at, 7); }

    /* back to nothing through A, the owner (both modes release A's lock) */
    SAY("a_unlock_all=%s", res(lk(a, F_UNLCK, SEEK_SET, 0, 0)));
    SAY("a_probe_after_unlock=%c", probe(path, 'W', 0, 0));
    close(b);

    /* (c) one description: identical in every mode */
    SAY("c_lock_w_0_100=%s", res(lk(a, F_WRLCK, SEEK_SET, 0, 100)));
    SAY("c_unlock_40_60=%s", res(lk(a, F_UNLCK, SEEK_SET, 40, 20)));
    { long long at[] = { 0, 39, 40, 59, 60, 99, 100 }; show("c_hole_w@0,39,40,59,60,99,100", 'W', at, 7); }
    SAY("c_lock_r_40_60=%s", res(lk(a, F_RDLCK, SEEK_SET, 40, 20)));
    { long long at[] = { 39, 40, 59, 60 }; show("c_mixed_w@39,40,59,60", 'W', at, 4); }
    { long long at[] = { 39, 40, 59, 60 }; show("c_mixed_r@39,40,59,60", 'R', at, 4); }
    SAY("c_lock_w_30_70=%s", res(lk(a, F_WRLCK, SEEK_SET, 30, 40)));
    { long long at[] = { 29, 30, 50, 69, 70 }; show("c_merged_r@29,30,50,69,70", 'R', at, 5); }
    SAY("c_unlock_all=%s", res(lk(a, F_UNLCK, SEEK_SET, 0, 0)));

    SAY("c_lock_len0_from_200=%s", res(lk(a, F_WRLCK, SEEK_SET, 200, 0)));
    { long long at[] = { 199, 200, 100000, 1LL << 40 }; show("c_len0_w@199,200,1e5,2^40", 'W', at, 4); }
    SAY("c_unlock_from_300=%s", res(lk(a, F_UNLCK, SEEK_SET, 300, 0)));
    { long long at[] = { 299, 300, 1LL << 40 }; show("c_len0_cut_w@299,300,2^40", 'W', at, 3); }
    SAY("c_unlock_all=%s", res(lk(a, F_UNLCK, SEEK_SET, 0, 0)));

    SAY("c_lock_neg_len_100_-30=%s", res(lk(a, F_WRLCK, SEEK_SET, 100, -30)));
    { long long at[] = { 69, 70, 99, 100 }; show("c_neg_w@69,70,99,100", 'W', at, 4); }
    SAY("c_unlock_neg_len_90_-10=%s", res(lk(a, F_UNLCK, SEEK_SET, 90, -10)));
    { long long at[] = { 79, 80, 89, 90 }; show("c_neg_cut_w@79,80,89,90", 'W', at, 4); }
    SAY("c_unlock_all=%s", res(lk(a, F_UNLCK, SEEK_SET, 0, 0)));

    SAY("c_lseek_1000=%lld", (long long)lseek(a, 1000, SEEK_SET));
    SAY("c_lock_cur_10_5=%s", res(lk(a, F_WRLCK, SEEK_CUR, 10, 5)));
    SAY("c_lock_cur_-5_5=%s", res(lk(a, F_RDLCK, SEEK_CUR, -5, 5)));
    { long long at[] = { 994, 995, 999, 1000, 1009, 1010, 1014, 1015 }; show("c_cur_w@994,995,999,1000,1009,1010,1014,1015", 'W', at, 8); }
    SAY("c_unlock_cur_0_0=%s", res(lk(a, F_UNLCK, SEEK_CUR, 0, 0)));
    { long long at[] = { 999, 1010 }; show("c_cur_cut_w@999,1010", 'W', at, 2); }
    SAY("c_unlock_all=%s", res(lk(a, F_UNLCK, SEEK_SET, 0, 0)));

    char buf[500];
    memset(buf, 'x', sizeof buf);
    SAY("c_pwrite_500=%zd", pwrite(a, buf, sizeof buf, 0));
    SAY("c_lock_end_-100_50=%s", res(lk(a, F_WRLCK, SEEK_END, -100, 50)));
    SAY("c_lock_end_0_0=%s", res(lk(a, F_RDLCK, SEEK_END, 0, 0)));
    { long long at[] = { 399, 400, 449, 450, 499, 500, 1LL << 40 }; show("c_end_w@399,400,449,450,499,500,2^40", 'W', at, 7); }
    SAY("c_lock_end_-600=%s", res(lk(a, F_WRLCK, SEEK_END, -600, 10)));
    SAY("c_unlock_end_-50_0=%s", res(lk(a, F_UNLCK, SEEK_END, -50, 0)));
    { long long at[] = { 449, 450, 500 }; show("c_end_cut_w@449,450,500", 'W', at, 3); }
    SAY("c_unlock_all=%s", res(lk(a, F_UNLCK, SEEK_SET, 0, 0)));
    SAY("c_probe_end=%c", probe(path, 'W', 0, 0));

    close(a);
    unlink(path);
    return 0;
}
