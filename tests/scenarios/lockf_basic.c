/*
 * lockf_basic - lockf(3) (glibc calls its internal fcntl: the shim must
 * interpose lockf/lockf64 themselves).
 *
 * F_LOCK/F_TLOCK/F_ULOCK/F_TEST with positive, negative and zero lengths from
 * the current offset; identical in every mode.  Then:
 *   F_TEST from another description of this process over our lock: native 0
 *     (glibc: the holder is our own pid), fix -1 EACCES (another owner);
 *   rule 1 through lockf: lockf lock, open+close another fd, probe:
 *     native U, fix W; close of the locking fd: released in both.
 */
#include "scen.h"

static const char *path;

static void show(const char *key, const long long *at, int n)
{
    char out[32];
    SAY("%s=%s", key, scen_probes(out, path, 'W', at, n, 1));
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("lockf");
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open");

    SAY("lock_0_10=%s", res(lockf(a, F_LOCK, 10)));
    { long long at[] = { 0, 9, 10 }; show("lock_0_10_w@0,9,10", at, 3); }
    SAY("offset_unchanged=%lld", (long long)lseek(a, 0, SEEK_CUR));
    lseek(a, 20, SEEK_SET);
    SAY("tlock_20_25=%s", res(lockf(a, F_TLOCK, 5)));
    { long long at[] = { 19, 20, 24, 25 }; show("tlock_20_25_w@19,20,24,25", at, 4); }
    lseek(a, 100, SEEK_SET);
    SAY("lock_neg_100_-10=%s", res(lockf(a, F_LOCK, -10)));
    { long long at[] = { 89, 90, 99, 100 }; show("lock_neg_w@89,90,99,100", at, 4); }
    lseek(a, 200, SEEK_SET);
    SAY("lock_200_eof=%s", res(lockf(a, F_LOCK, 0)));
    { long long at[] = { 199, 200, 1LL << 40 }; show("lock_200_eof_w@199,200,2^40", at, 3); }
    lseek(a, 300, SEEK_SET);
    SAY("ulock_300_eof=%s", res(lockf(a, F_ULOCK, 0)));
    { long long at[] = { 299, 300, 1LL << 40 }; show("ulock_300_eof_w@299,300,2^40", at, 3); }
    lseek(a, 0, SEEK_SET);
    SAY("ulock_0_5=%s", res(lockf(a, F_ULOCK, 5)));
    lseek(a, 95, SEEK_SET);
    SAY("ulock_neg_95_-3=%s", res(lockf(a, F_ULOCK, -3)));
    { long long at[] = { 0, 4, 5, 91, 92, 94, 95 }; show("ulock_parts_w@0,4,5,91,92,94,95", at, 7); }
    lseek(a, 0, SEEK_SET);
    SAY("test_own=%s", res(lockf(a, F_TEST, 10)));
    SAY("test_own_eof=%s", res(lockf(a, F_TEST, 0)));

    /* F_TEST through another description of this process */
    int b = open(path, O_RDWR);
    if (b < 0) scen_die("open B");
    lseek(b, 5, SEEK_SET);
    SAY("other_test_locked=%s", res(lockf(b, F_TEST, 5)));
    lseek(b, 10, SEEK_SET);
    SAY("other_test_free=%s", res(lockf(b, F_TEST, 10)));
    lseek(b, 0, SEEK_SET);
    SAY("other_test_neg=%s", res(lockf(b, F_TEST, -1)));
    lseek(b, 150, SEEK_SET);
    SAY("other_test_eof=%s", res(lockf(b, F_TEST, 0)));
    SAY("close_b=%s", res(close(b)));

    /* rule 1 through lockf: natively the close above already dropped them */
    if (probe(path, 'W', 5, 5) != 'W') {
        lseek(a, 0, SEEK_SET);
        SAY("relock_0_10=%s", res(lockf(a, F_LOCK, 10)));
    } else {
        SAY("relock_0_10=held");
    }
    int c = open(path, O_RDONLY);
    if (c < 0) scen_die("open C");
    SAY("close_c=%s", res(close(c)));
    SAY("probe_after_close_c=%c", probe(path, 'W', 0, 10));
    SAY("close_a=%s", res(close(a)));
    SAY("probe_after_close_a=%c", probe(path, 'W', 0, 0));

    unlink(path);
    return 0;
}
