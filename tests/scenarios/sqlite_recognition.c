/*
 * sqlite_recognition - rule 10: SQLite is recognised by its whole lock
 * pattern, never by one lock's size.
 *
 * (a) Not SQLite: two threads, each with its own description, each take a
 *     SEEK_SET write lock of exactly 510 bytes (SQLite's SHARED_SIZE) on the
 *     same range.  Natively both get it (thread-double-exclusive); in fix
 *     the second gets EAGAIN (descriptor scope, rule 2).
 * (b) SQLite's unix VFS on one file, PENDING_BYTE P moved to 0x10000 (as
 *     SQLite's own test suite does), then (c) at the default 0x40000000:
 *     connection A takes SHARED through its description (read (P,1), read
 *     (P+2,510), unlock (P,1)); connection B joins and A finishes (in
 *     memory, no syscall); B then takes RESERVED, PENDING and EXCLUSIVE
 *     through its own description, falls back to SHARED and to no lock.
 *     Natively every call succeeds (one process, one lock); with the
 *     pattern recognised the file has one owner per process and fix agrees.
 * A probe (a process without the shim) shows what other processes see.
 */
#include "scen.h"

static const char *path_a;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step;
static const char *r1, *r2;

static void set(int x)
{
    pthread_mutex_lock(&mu); step = x; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
}
static void wait_ge(int x)
{
    pthread_mutex_lock(&mu);
    while (step < x) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}

static void *thread1(void *arg)
{
    int fd = open(path_a, O_RDWR);
    if (fd < 0) scen_die("open t1");
    r1 = res(scen_setlk(fd, F_SETLK, F_WRLCK, 4096, 510));
    set(1);
    wait_ge(3);
    close(fd);
    return arg;
}

static void *thread2(void *arg)
{
    wait_ge(1);
    int fd = open(path_a, O_RDWR);
    if (fd < 0) scen_die("open t2");
    r2 = res(scen_setlk(fd, F_SETLK, F_WRLCK, 4096, 510));
    set(2);
    wait_ge(3);
    close(fd);
    return arg;
}

static void sqlite_like(const char *tag, off_t p)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", scen_path(tag));
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open(path, O_RDWR);
    if (a < 0 || b < 0) scen_die("open sqlite-like");
    /* A: SHARED */
    const char *s1 = res(scen_setlk(a, F_SETLK, F_RDLCK, p, 1));
    const char *s2 = res(scen_setlk(a, F_SETLK, F_RDLCK, p + 2, 510));
    const char *s3 = res(scen_setlk(a, F_SETLK, F_UNLCK, p, 1));
    SAY("%s_a_shared=%s,%s,%s", tag, s1, s2, s3);
    /* B joined and A finished, in memory.  B: RESERVED, PENDING, EXCLUSIVE */
    SAY("%s_b_reserved=%s", tag, res(scen_setlk(b, F_SETLK, F_WRLCK, p + 1, 1)));
    SAY("%s_b_pending=%s", tag, res(scen_setlk(b, F_SETLK, F_WRLCK, p, 1)));
    SAY("%s_b_exclusive=%s", tag, res(scen_setlk(b, F_SETLK, F_WRLCK, p + 2, 510)));
    SAY("%s_probe_exclusive=%c%c", tag, probe(path, 'R', p + 2, 510), probe(path, 'R', p + 1, 1));
    /* back to SHARED, then to no lock */
    SAY("%s_b_back_shared=%s", tag, res(scen_setlk(b, F_SETLK, F_RDLCK, p + 2, 510)));
    SAY("%s_b_unlock_p2=%s", tag, res(scen_setlk(b, F_SETLK, F_UNLCK, p, 2)));
    SAY("%s_probe_shared=%c%c", tag, probe(path, 'W', p + 2, 510), probe(path, 'W', p, 2));
    SAY("%s_b_unlock_all=%s", tag, res(scen_setlk(b, F_SETLK, F_UNLCK, 0, 0)));
    SAY("%s_probe_none=%c", tag, probe(path, 'W', 0, 0));
    close(a);
    close(b);
    unlink(path);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path_a = scen_path("sqlrec-a");
    int c = open(path_a, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (c < 0) scen_die("create");
    close(c);

    pthread_t t1, t2;
    pthread_create(&t1, NULL, thread1, NULL);
    pthread_create(&t2, NULL, thread2, NULL);
    wait_ge(2);
    SAY("t1_w_510=%s", r1);
    SAY("t2_w_510=%s", r2);
    SAY("probe_510=%c", probe(path_a, 'W', 4096, 510));
    set(3);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    unlink(path_a);

    sqlite_like("p64k", 0x10000);
    sqlite_like("p1g", 0x40000000);
    return 0;
}
