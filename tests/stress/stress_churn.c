/*
 * stress_churn.c - descriptor churn around a held lock.
 *
 *   stress_churn DIR [MILLISECONDS]
 *
 * The main thread takes a write lock on [0,10) through fd X0 whose dup X
 * was made BEFORE the lock (so the shim learns of X only by its alias scan)
 * and closes X0: the lock must stay (rule 1), held through X for the
 * whole run.  Meanwhile threads keep creating and destroying other fds of X's
 * description and of the same file:
 *   T1  d = dup(X); close(d)
 *   T2  d = fcntl(X, F_DUPFD, 100); dup3(d, 300, O_CLOEXEC); close(d); close(300)
 *   T3  y = open(file); lock/unlock [100,110) through y (F_SETLK); close(y)
 *   T4  y = open(file); d = dup(y); dup2(X, d) (the close inside dup2);
 *       close(d); close(y)
 * Rule 1: while X stays open nothing of that may release the lock, so a
 * process without the shim must see the write lock on [0,10) every time it
 * looks; and T3's lock requests on [100,110) must never fail (nobody else
 * holds that range).  At the end an unlock through X releases the lock,
 * the close of X leaves nothing behind, and no fd of this process refers
 * to the file any more.
 */
#define _GNU_SOURCE
#include "stress.h"

static char path[4096];
static int X;
static _Atomic int stop;
static _Atomic long ops[4], errs;
static int C_KEPT, C_CALLS, C_END, C_FDS;

static void *churn(void *arg)
{
    long k = (long)arg;
    while (!atomic_load(&stop)) {
        int d, y;
        switch (k) {
        case 0:
            d = dup(X);
            if (d < 0 || close(d) != 0) { atomic_fetch_add(&errs, 1); CHECK(C_CALLS, 0, "dup/close: %s", strerror(errno)); }
            break;
        case 1:
            d = fcntl(X, F_DUPFD, 100);
            if (d < 0) { atomic_fetch_add(&errs, 1); CHECK(C_CALLS, 0, "F_DUPFD: %s", strerror(errno)); break; }
            if (dup3(d, 300 + (int)k, O_CLOEXEC) < 0) { atomic_fetch_add(&errs, 1); CHECK(C_CALLS, 0, "dup3: %s", strerror(errno)); }
            close(d);
            close(300 + (int)k);
            break;
        case 2:
            y = open(path, O_RDWR);
            if (y < 0) { atomic_fetch_add(&errs, 1); break; }
            if (setlk(y, F_SETLK, F_WRLCK, 100, 10) != 0) {
                atomic_fetch_add(&errs, 1);
                CHECK(C_CALLS, 0, "lock [100,110) through a fresh description: %s (nobody else holds it)", strerror(errno));
            } else if (setlk(y, F_SETLK, F_UNLCK, 100, 10) != 0) {
                atomic_fetch_add(&errs, 1);
                CHECK(C_CALLS, 0, "unlock: %s", strerror(errno));
            }
            close(y);
            break;
        case 3:
            y = open(path, O_RDONLY);
            if (y < 0) { atomic_fetch_add(&errs, 1); break; }
            d = dup(y);
            if (d < 0 || dup2(X, d) != d) { atomic_fetch_add(&errs, 1); CHECK(C_CALLS, 0, "dup2 onto a dup: %s", strerror(errno)); }
            if (d >= 0) close(d);
            close(y);
            break;
        }
        atomic_fetch_add(&ops[k], 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) { fprintf(stderr, "usage: stress_churn DIR [MS]\n"); return 2; }
    long ms = argc > 2 ? atol(argv[2]) : 2000;
    snprintf(path, sizeof path, "%s/churn", argv[1]);
    C_KEPT = st_check("rule 1 under fd churn: the lock held through X is always there (probe without the shim)");
    C_CALLS = st_check("dup, dup2, dup3, F_DUPFD, close, open, and locks on a free range all succeed");
    C_END = st_check("after the churn: unlock through X releases, its close leaves nothing");
    C_FDS = st_check("no leaked descriptor");
    watchdog(40);
    int c = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (c < 0) st_die("create");
    close(c);
    struct fdcount before = count_fds();
    int X0 = open(path, O_RDWR);
    X = dup(X0);                       /* an alias the shim has not seen locked */
    if (X0 < 0 || X < 0 || setlk(X0, F_SETLK, F_WRLCK, 0, 10) != 0) st_die("lock X0");
    close(X0);
    char p0 = probe(path, 'W', 0, 10);
    CHECK(C_KEPT, p0 == 'W', "closing X0 dropped the lock although its dup X (made before the lock) is open ('%c')", p0);
    pthread_t th[4];
    for (long k = 0; k < 4; k++)
        if (pthread_create(&th[k], NULL, churn, (void *)k) != 0) st_die("pthread_create");
    long long end = now_ms() + ms;
    int probes = 0;
    while (now_ms() < end) {
        char p = probe(path, 'W', 0, 10);
        CHECK(C_KEPT, p == 'W', "probe %d: '%c' on [0,10): the lock held through X is gone", probes, p);
        probes++;
        if (p != 'W') break;
    }
    atomic_store(&stop, 1);
    for (int k = 0; k < 4; k++)
        pthread_join(th[k], NULL);
    char p = probe(path, 'W', 0, 10);
    CHECK(C_KEPT, p == 'W', "after the churn: '%c' on [0,10)", p);
    CHECK(C_CALLS, atomic_load(&errs) == 0, "%ld failed calls", atomic_load(&errs));
    NOTE("%d probes; churn ops: dup/close %ld, F_DUPFD/dup3 %ld, open/lock %ld, dup2 %ld", probes,
         atomic_load(&ops[0]), atomic_load(&ops[1]), atomic_load(&ops[2]), atomic_load(&ops[3]));
    CHECK(C_END, setlk(X, F_SETLK, F_UNLCK, 0, 10) == 0, "unlock through X: %s", strerror(errno));
    p = probe(path, 'W', 0, 10);
    CHECK(C_END, p == 'U', "after the unlock through X: '%c'", p);
    CHECK(C_END, setlk(X, F_SETLK, F_WRLCK, 0, 10) == 0, "lock again through X: %s", strerror(errno));
    close(X);
    p = probe(path, 'W', 0, 10);
    CHECK(C_END, p == 'U', "after closing X: '%c'", p);
    struct stat sb;
    if (stat(path, &sb) < 0) st_die("stat");
    struct fdcount after = count_fds();
    CHECK(C_FDS, after.low == before.low, "%d low fds at start, %d at end", before.low, after.low);
    CHECK(C_FDS, fds_on_inode(sb.st_dev, sb.st_ino) == 0, "an fd still refers to the file (private description left)");
    CHECK(C_END, locks_on_path(path) == 0, "a lock is left in /proc/locks");
    return st_report();
}
