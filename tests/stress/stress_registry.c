/*
 * stress_registry.c - what a process under the shim publishes in the user's
 * registry (shim/registry.h), read back through the reader the command uses
 * (registry.c is linked in; the shim's own copy is hidden inside the
 * library).  Run under the shim in fix mode by run.sh:
 *   - a lock is published (posix family, exact range, type, our pid) and a
 *     second range turns the record into a hull;
 *   - a forked child that exits leaves the parent's records alone (the
 *     child's fork reset must not touch the parent's region);
 *   - an unlock withdraws the record; a flock is published and withdrawn;
 *   - the program's own F_OFD lock is published, and withdrawn when its
 *     description goes;
 *   - the directory is ours and 0700.
 */
#define _GNU_SOURCE
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "stress.h"
#include "../../shim/registry.h"

struct want { pid_t pid; uint64_t dev, ino; int n; struct ls_pub last; };

static int fn(void *ctx, const struct ls_pub *e)
{
    struct want *w = ctx;
    if (e->pid == w->pid && e->dev == w->dev && e->ino == w->ino && e->kind == LS_PUB_HELD) {
        w->n++;
        w->last = *e;
    }
    return 0;
}

static struct want look(const char *dir, int fd)
{
    struct stat st;
    struct want w;
    memset(&w, 0, sizeof w);
    fstat(fd, &st);
    w.pid = getpid();
    w.dev = st.st_dev;
    w.ino = st.st_ino;
    ls_registry_scan(dir, fn, &w);
    return w;
}

static int lk(int fd, short type, off_t start, off_t len)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len };
    return fcntl(fd, F_SETLK, &fl);
}

int main(int argc, char **argv)
{
    if (argc < 2) st_die("usage: stress_registry DIR");
    st_init();
    int C_DIR = st_check("the registry directory is ours and 0700");
    int C_PUB = st_check("a lock is published: posix family, exact range, type, our pid");
    int C_HULL = st_check("two ranges: one record, their hull, not exact");
    int C_FORK = st_check("a forked child that exits leaves the parent's records");
    int C_UNLK = st_check("an unlock withdraws the record");
    int C_FLOCK = st_check("a flock is published (flock family) and withdrawn");
    int C_OFD = st_check("the program's own F_OFD lock is published (ofd family), withdrawn at its last close");
    char dir[1024], pa[4096], pb[4096];
    snprintf(pa, sizeof pa, "%s/reg-a", argv[1]);
    snprintf(pb, sizeof pb, "%s/reg-b", argv[1]);
    int a = open(pa, O_RDWR | O_CREAT | O_TRUNC, 0644), b = open(pb, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0 || b < 0) st_die("open");

    if (lk(a, F_WRLCK, 0, 10)) st_die("lock");
    struct stat ds;
    int rd = ls_registry_dir(geteuid(), dir, sizeof dir);
    CHECK(C_DIR, rd == 0 && lstat(dir, &ds) == 0 && S_ISDIR(ds.st_mode) && ds.st_uid == geteuid() &&
                 (ds.st_mode & 0777) == 0700, "dir %s (%d)", rd == 0 ? dir : "none", rd);
    struct want w = look(dir, a);
    CHECK(C_PUB, w.n == 1 && w.last.family == LS_FAM_POSIX && w.last.exact && w.last.type == 1 &&
                 w.last.start == 0 && w.last.end == 9 && w.last.mode == 2,
          "%d records; family %d exact %d type %d [%lld,%lld] mode %d", w.n, w.last.family, w.last.exact,
          w.last.type, (long long)w.last.start, (long long)w.last.end, w.last.mode);
    if (lk(a, F_RDLCK, 20, 10)) st_die("lock 2");
    w = look(dir, a);
    CHECK(C_HULL, w.n == 1 && !w.last.exact && w.last.type == 1 && w.last.start == 0 && w.last.end == 29,
          "%d records; exact %d [%lld,%lld]", w.n, w.last.exact, (long long)w.last.start, (long long)w.last.end);

    pid_t k = fork();
    if (k == 0)
        _exit(0);
    waitpid(k, NULL, 0);
    k = fork();
    if (k == 0) {
        lk(b, F_WRLCK, 0, 1);       /* the child publishes too, then goes */
        _exit(0);
    }
    waitpid(k, NULL, 0);
    w = look(dir, a);
    CHECK(C_FORK, w.n == 1 && w.last.start == 0 && w.last.end == 29, "%d records after the children", w.n);

    if (lk(a, F_UNLCK, 0, 0)) st_die("unlock");
    w = look(dir, a);
    CHECK(C_UNLK, w.n == 0, "%d records after the unlock", w.n);

    if (flock(b, LOCK_SH)) st_die("flock");
    w = look(dir, b);
    int held = w.n == 1 && w.last.family == LS_FAM_FLOCK && w.last.type == 0;
    flock(b, LOCK_UN);
    w = look(dir, b);
    CHECK(C_FLOCK, held && w.n == 0, "published %d, %d records after LOCK_UN", held, w.n);
    int c = open(pa, O_RDWR);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 5 };
    if (c < 0 || fcntl(c, F_OFD_SETLK, &fl)) st_die("ofd lock");
    w = look(dir, c);
    int ofd = w.n == 1 && w.last.family == LS_FAM_OFD && w.last.exact && w.last.start == 5 && w.last.end == 9;
    struct want w2 = w;
    close(c);
    w = look(dir, a);
    CHECK(C_OFD, ofd && w.n == 0, "published %d (%d records, family %d), %d records after the close",
          ofd, w2.n, w2.last.family, w.n);
    return st_report();
}
