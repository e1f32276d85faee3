/*
 * test_holder.c - unit tests of shim/holder.c: holders of a lock found
 * through /proc (OFD and classic POSIX locks of other processes, our own
 * fds, the requester's skipped fd, read/read non-conflicts, ranges, dedupe,
 * max, a long /proc/locks changing under the reader, an overlay whose
 * st_dev is not the locks' device), and the registry of waiters: 2- and
 * 3-process wait cycles give EDEADLK to exactly the request that closes
 * them, chains without a cycle do not, slots of dead threads and processes
 * are dropped, a registry lock left by a dead owner is taken over while a
 * live one is waited for, published holders are named and believed only
 * with their start time, and no fd leaks.
 *
 * holder.c is linked alone: the few pieces of the shim it needs (the real
 * function table) are stubbed below.  Some tests look inside the mapped
 * registry: they read its layout from registry.h.  No assertion depends
 * on the rest of the machine (other processes' locks, its load): inodes
 * asked about are the test's own, and nothing is timed except to prove a
 * negative (a live lock owner is still waited for).  Where it may (root),
 * the test runs in a mount namespace of its own with a fresh tmpfs on
 * /dev/shm, so that its registry is its own: programs running under the
 * shim meanwhile neither disturb the exact checks nor get stalled by the
 * test that holds the registry's lock on purpose.  Elsewhere it shares the
 * user's registry, checks what sharing allows and skips that one part.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "holder.h"
#include "registry.h"

#ifdef LS_UNIT_TEST
#include "real.h"
/* The slice of the shim's real-function table that holder.c uses. */
int (*real_open)(const char *, int, ...) = open;
int (*real_openat)(int, const char *, int, ...) = openat;
int (*real_close)(int) = close;
int ls_real_bound = 1;
void ls_real_bind(void) {}
#endif

#define EOFF INT64_MAX

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static char dir[64];
static int isolated;        /* the registry is this test's alone */

struct file { char path[128]; dev_t dev; ino_t ino; };

static void mkfile(struct file *f, const char *name)
{
    snprintf(f->path, sizeof f->path, "%s/%s", dir, name);
    int fd = open(f->path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert_true(fd >= 0);
    struct stat st;
    assert_int_equal(fstat(fd, &st), 0);
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    close(fd);
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    assert_non_null(d);
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1;       /* the DIR's own fd */
}

/* Lock [start, start+len) (len 0: to EOF) through a fresh open of path.
 * ofd: F_OFD_SETLK(W), else classic F_SETLK(W).  Returns the fd. */
static int lock_path(const char *path, int ofd, int wr, off_t start, off_t len, int wait)
{
    int fd = open(path, O_RDWR | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct flock fl = { .l_type = wr ? F_WRLCK : F_RDLCK, .l_whence = SEEK_SET,
                        .l_start = start, .l_len = len };
    int cmd = ofd ? (wait ? F_OFD_SETLKW : F_OFD_SETLK) : (wait ? F_SETLKW : F_SETLK);
    if (fcntl(fd, cmd, &fl) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A child process and two pipes to talk to it. */
struct kid { pid_t pid; int rd, wr; };

static struct kid kid_start(void (*fn)(int rd, int wr, void *arg), void *arg)
{
    int up[2], down[2];
    struct kid k;
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    assert_int_equal(pipe2(down, O_CLOEXEC), 0);
    k.pid = fork();
    assert_true(k.pid >= 0);
    if (k.pid == 0) {
        ls_xwait_fork_child();      /* as the shim's atfork handler does */
        /* only its own pipes (a test that fails must not leave children
         * that keep each other alive), and gone with the test (no time
         * limit: a loaded machine may be slow) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        for (int fd = 3; fd < 1024; fd++)
            if (fd != down[0] && fd != up[1])
                close(fd);
        fn(down[0], up[1], arg);
        _exit(0);
    }
    close(up[1]);
    close(down[0]);
    k.rd = up[0];
    k.wr = down[1];
    return k;
}

static char get1(int fd)
{
    char c = 0;
    for (;;) {
        ssize_t n = read(fd, &c, 1);
        if (n == 1)
            return c;
        if (n < 0 && errno == EINTR)
            continue;
        return 0;   /* EOF: the other side died */
    }
}

static void put1(int fd, char c)
{
    while (write(fd, &c, 1) != 1 && errno == EINTR)
        ;
}

static int kid_end(struct kid *k)
{
    int st = 0;
    put1(k->wr, 'Q');
    close(k->wr);
    close(k->rd);
    while (waitpid(k->pid, &st, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int has_pid(const pid_t *p, int n, pid_t want)
{
    for (int i = 0; i < n; i++)
        if (p[i] == want)
            return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* children                                                            */

struct hold_arg {
    const struct file *f;
    int ofd, wr;
    off_t start, len;
    int share_with_grandchild;
};

/* Take a lock, say 'R', keep it until told to quit. */
static void kid_hold(int rd, int wr, void *a)
{
    struct hold_arg *h = a;
    int fd = lock_path(h->f->path, h->ofd, h->wr, h->start, h->len, 0);
    if (fd < 0)
        _exit(2);
    pid_t g = 0;
    int gp[2];
    if (h->share_with_grandchild) {
        /* a grandchild that shares the locked description (OFD: it is a
         * holder too) */
        if (pipe(gp))
            _exit(3);
        g = fork();
        if (g == 0) {
            char c;
            close(gp[1]);
            while (read(gp[0], &c, 1) < 0 && errno == EINTR)
                ;
            _exit(0);
        }
        close(gp[0]);
        if (write(wr, &g, sizeof g) != sizeof g)
            _exit(4);
    }
    put1(wr, 'R');
    get1(rd);
    if (g > 0) {
        close(gp[1]);
        waitpid(g, NULL, 0);
    }
    _exit(0);
}

/* ------------------------------------------------------------------ */
/* ls_find_holders                                                      */

static void test_ofd_child_holder(void **state)
{
    int f0 = count_fds();
    struct file f;
    pid_t p[8];
    struct file other;
    mkfile(&f, "ofd");
    mkfile(&other, "ofd-other");        /* an inode nobody locks: ours */
    struct hold_arg h = { &f, 1, 1, 100, 100, 0 };       /* write [100,199] */
    struct kid k = kid_start(kid_hold, &h);
    assert_int_equal(get1(k.rd), 'R');

    int n = ls_find_holders(f.dev, f.ino, 0, EOFF, 0, -1, p, 8);
    assert_int_equal(n, 1);
    assert_int_equal(p[0], k.pid);
    /* the bounded lookup F_GETLK uses (the child publishes nothing: /proc),
     * asked twice (the second answer may come from its brief cache) */
    assert_int_equal(ls_find_holder(f.dev, f.ino, 0, EOFF, 0, -1), k.pid);
    assert_int_equal(ls_find_holder(f.dev, f.ino, 0, EOFF, 0, -1), k.pid);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 150, 160, 1, -1, p, 8), 1);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 199, 199, 0, -1, p, 8), 1);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 200, 300, 1, -1, p, 8), 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, 99, 1, -1, p, 8), 0);
    /* another inode, same device (one of ours: nothing else on the
     * machine may hold a lock on it) */
    assert_int_equal(ls_find_holders(other.dev, other.ino, 0, EOFF, 1, -1, p, 8), 0);
    /* max 0 */
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 0), 0);

    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 8), 0);
    /* a cached answer naming a process that is gone is not used */
    assert_int_equal(ls_find_holder(f.dev, f.ino, 0, EOFF, 0, -1), 0);
    assert_int_equal(count_fds(), f0);
}

static void test_posix_child_holder(void **state)
{
    int f0 = count_fds();
    struct file f;
    pid_t p[8];
    mkfile(&f, "posix");
    struct hold_arg h = { &f, 0, 0, 0, 0, 0 };           /* read [0,EOF) */
    struct kid k = kid_start(kid_hold, &h);
    assert_int_equal(get1(k.rd), 'R');

    assert_int_equal(ls_find_holders(f.dev, f.ino, 10, 20, 1, -1, p, 8), 1);
    assert_int_equal(p[0], k.pid);
    /* read vs read: no conflict */
    assert_int_equal(ls_find_holders(f.dev, f.ino, 10, 20, 0, -1, p, 8), 0);

    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(count_fds(), f0);
}

static void test_read_read_ofd(void **state)
{
    int f0 = count_fds();
    struct file f;
    pid_t p[8];
    mkfile(&f, "rr");
    struct hold_arg h = { &f, 1, 0, 0, 0, 0 };           /* OFD read */
    struct kid k = kid_start(kid_hold, &h);
    assert_int_equal(get1(k.rd), 'R');
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 0, -1, p, 8), 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 8), 1);
    assert_int_equal(p[0], k.pid);
    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(count_fds(), f0);
}

static void test_self_and_skip_fd(void **state)
{
    int f0 = count_fds();
    struct file f;
    pid_t p[8];
    mkfile(&f, "self");
    int a = lock_path(f.path, 1, 0, 0, 0, 0);            /* our OFD read */
    assert_true(a >= 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 8), 1);
    assert_int_equal(p[0], getpid());
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, a, p, 8), 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 0, -1, p, 8), 0);

    /* a second description of ours counts, the skipped one does not */
    int b = lock_path(f.path, 1, 0, 5, 1, 0);
    assert_true(b >= 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, a, p, 8), 1);
    assert_int_equal(p[0], getpid());
    assert_int_equal(ls_find_holders(f.dev, f.ino, 6, EOFF, 1, a, p, 8), 0);
    close(b);

    /* another process's read lock too: only it, with ours skipped */
    struct hold_arg h = { &f, 1, 0, 0, 0, 0 };
    struct kid k = kid_start(kid_hold, &h);
    assert_int_equal(get1(k.rd), 'R');
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, a, p, 8), 1);
    assert_int_equal(p[0], k.pid);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 8), 2);
    assert_true(has_pid(p, 2, k.pid) && has_pid(p, 2, getpid()));
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 1), 1);
    assert_int_equal(kid_end(&k), 0);
    close(a);

    /* our own classic POSIX lock is found through our fdinfo */
    a = lock_path(f.path, 0, 1, 0, 10, 0);
    assert_true(a >= 0);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, 0, 0, -1, p, 8), 1);
    assert_int_equal(p[0], getpid());
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, 0, 0, a, p, 8), 0);
    close(a);
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 1, -1, p, 8), 0);
    assert_int_equal(count_fds(), f0);
}

static void test_shared_description_dedupe(void **state)
{
    int f0 = count_fds();
    struct file f;
    pid_t p[8], g;
    mkfile(&f, "shared");
    struct hold_arg h = { &f, 1, 1, 0, 0, 1 };           /* kid + grandchild */
    struct kid k = kid_start(kid_hold, &h);
    assert_int_equal(read(k.rd, &g, sizeof g), (ssize_t)sizeof g);
    assert_int_equal(get1(k.rd), 'R');
    int n = ls_find_holders(f.dev, f.ino, 0, EOFF, 0, -1, p, 8);
    assert_int_equal(n, 2);
    assert_true(has_pid(p, n, k.pid));
    assert_true(has_pid(p, n, g));
    assert_int_equal(ls_find_holders(f.dev, f.ino, 0, EOFF, 0, -1, p, 1), 1);
    assert_true(p[0] == k.pid || p[0] == g);
    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(count_fds(), f0);
}

/* On an overlay whose layers are other filesystems, stat's st_dev is the
 * layer's device while lock lines name the overlay's superblock: such
 * holders are confirmed through /proc/PID/fd.  Needs a private mount
 * namespace (root); skipped otherwise.  Runs in a child (no cmocka there:
 * exit 0 passed, 77 skipped, else the failed step). */
static int overlay_run(void)
{
    char low[96], up[128], wk[128], mnt[128], z[160], opts[512];
    snprintf(low, sizeof low, "/dev/shm/ls-holder-low-%d", (int)getpid());
    snprintf(up, sizeof up, "%s/up", dir);
    snprintf(wk, sizeof wk, "%s/wk", dir);
    snprintf(mnt, sizeof mnt, "%s/mnt", dir);
    snprintf(z, sizeof z, "%s/z", low);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return 77;
    if (mkdir(low, 0700) || mkdir(up, 0700) || mkdir(wk, 0700) || mkdir(mnt, 0700))
        return 2;
    int fd = open(z, O_RDWR | O_CREAT, 0600);
    if (fd < 0)
        return 3;
    close(fd);
    snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", low, up, wk);
    int rc = 77;
    if (mount("overlay", mnt, "overlay", 0, opts) != 0)
        goto out;
    snprintf(z, sizeof z, "%s/z", mnt);
    struct stat sm, sz;
    if (stat(mnt, &sm) || stat(z, &sz) || sm.st_dev == sz.st_dev)
        goto out;                   /* no mismatch to test here */
    int sp[2];
    if (pipe(sp))
        return 4;
    pid_t k = fork();
    if (k == 0) {
        int h = open(z, O_RDONLY);
        struct flock fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET };
        if (h < 0 || fcntl(h, F_OFD_SETLK, &fl))
            _exit(1);
        put1(sp[1], 'R');
        pause();
        _exit(0);
    }
    rc = 5;
    if (get1(sp[0]) == 'R') {
        pid_t p[4];
        int n = ls_find_holders(sz.st_dev, sz.st_ino, 0, EOFF, 1, -1, p, 4);
        rc = (n == 1 && p[0] == k) ? 0 : 6;
        /* the wrong device with the right inode: not a holder */
        if (!rc && ls_find_holders(sz.st_dev + 1, sz.st_ino, 0, EOFF, 1, -1, p, 4) != 0)
            rc = 7;
    }
    kill(k, SIGKILL);
    waitpid(k, NULL, 0);
out:
    umount(mnt);
    unlink(z);
    snprintf(z, sizeof z, "%s/z", low);
    unlink(z);
    rmdir(low);
    return rc;
}

static void test_overlay_device_mismatch(void **state)
{
    int f0 = count_fds(), st = 0;
    pid_t r = fork();
    if (r == 0) {
        ls_xwait_fork_child();
        _exit(overlay_run());
    }
    waitpid(r, &st, 0);
    assert_true(WIFEXITED(st));
    if (WEXITSTATUS(st) == 77)
        skip();
    assert_int_equal(WEXITSTATUS(st), 0);
    assert_int_equal(count_fds(), f0);
}

/* ------------------------------------------------------------------ */
/* the registry: a white-box view                                      */

static struct ls_reg_hdr *reg_view(void)
{
    static struct ls_reg_hdr *v;
    static char path[512];
    if (v)
        return v;
    /* the registry is mapped after a first use */
    int s;
    assert_int_equal(ls_xwait_begin(0, 0, 0, 0, 0, -1, &s), 0);
    assert_true(s >= 0);
    ls_xwait_end(s);
    FILE *m = fopen("/proc/self/maps", "re");
    char line[512];
    assert_non_null(m);
    while (fgets(line, sizeof line, m)) {
        char *p = strstr(line, "/reg-v2-");
        if (p) {
            while (p > line && p[-1] != ' ')
                p--;
            snprintf(path, sizeof path, "%s", p);
            path[strcspn(path, "\n")] = 0;
            break;
        }
    }
    fclose(m);
    assert_true(path[0] == '/');
    struct stat st, dst;
    char d[512];
    snprintf(d, sizeof d, "%s", path);
    *strrchr(d, '/') = 0;
    /* a directory of ours that nobody else may enter, a file of ours */
    assert_int_equal(lstat(d, &dst), 0);
    assert_true(S_ISDIR(dst.st_mode));
    assert_int_equal(dst.st_mode & 0777, 0700);
    assert_int_equal(dst.st_uid, geteuid());
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_uid, geteuid());
    int fd = open(path, O_RDWR | O_CLOEXEC);
    assert_true(fd >= 0);
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    assert_true(p != MAP_FAILED);
    v = p;
    assert_int_equal(v->magic, LS_REG_MAGIC);
    return v;
}

static struct ls_reg_wait *waits_view(void)
{
    struct ls_reg_hdr *h = reg_view();
    return (struct ls_reg_wait *)(void *)((char *)h + h->wait_off);
}

static int slots_of(pid_t pid)
{
    struct ls_reg_wait *w = waits_view();
    int n = 0;
    for (unsigned i = 0; i < LS_REG_WAITS; i++)
        if (__atomic_load_n(&w[i].pid, __ATOMIC_ACQUIRE) == pid)
            n++;
    return n;
}

/* ------------------------------------------------------------------ */
/* cycles                                                              */

struct wait_arg {
    const struct file *hold;     /* lock this first (OFD write) */
    int hold_posix;              /* ...as a classic POSIX lock instead */
    const struct file *want;     /* then, on 'G', begin + wait for this */
};

/* Hold `hold`; 'R'; on 'G': ls_xwait_begin(want) -> 'P' (published) or
 * 'E' (EDEADLK) or 'X'; then block on `want`, end the slot, 'D'; quit. */
static void kid_hold_then_wait(int rd, int wr, void *a)
{
    struct wait_arg *w = a;
    int h = lock_path(w->hold->path, !w->hold_posix, 1, 0, 0, 0);
    if (h < 0)
        _exit(2);
    put1(wr, 'R');
    if (get1(rd) != 'G')
        _exit(3);
    int fd = open(w->want->path, O_RDWR | O_CLOEXEC), slot = -7;
    int r = ls_xwait_begin(w->want->dev, w->want->ino, 0, EOFF, 1, fd, &slot);
    put1(wr, r == -EDEADLK ? 'E' : (r == 0 && slot >= 0) ? 'P' : 'X');
    if (r != 0)
        _exit(5);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fcntl(fd, F_OFD_SETLKW, &fl) != 0)
        _exit(6);
    ls_xwait_end(slot);
    put1(wr, 'D');
    get1(rd);
    _exit(0);
}

/* Wait until process `pid` sleeps (blocked in its lock). */
static void wait_blocked(pid_t pid)
{
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    for (;;) {          /* no time limit: the runner's timeout is the hang check */
        FILE *f = fopen(path, "re");
        if (f) {
            size_t n = fread(buf, 1, sizeof buf - 1, f);
            fclose(f);
            buf[n] = 0;
            char *p = strrchr(buf, ')');
            if (p && p[2] == 'S')
                return;
        }
        usleep(1000);
    }
}

static void cycle2(int posix)
{
    int f0 = count_fds();
    struct file A, B;
    mkfile(&A, posix ? "c2pa" : "c2a");
    mkfile(&B, posix ? "c2pb" : "c2b");
    struct wait_arg wa = { &B, posix, &A };
    struct kid k = kid_start(kid_hold_then_wait, &wa);
    assert_int_equal(get1(k.rd), 'R');          /* kid holds B */
    int a = lock_path(A.path, 1, 1, 0, 0, 0);   /* we hold A */
    assert_true(a >= 0);
    put1(k.wr, 'G');
    assert_int_equal(get1(k.rd), 'P');          /* kid published "waits for A" */
    wait_blocked(k.pid);
    assert_int_equal(slots_of(k.pid), 1);

    int slot = 99, fb = open(B.path, O_RDWR | O_CLOEXEC);
    errno = 1234;
    assert_int_equal(ls_xwait_begin(B.dev, B.ino, 0, EOFF, 1, fb, &slot), -EDEADLK);
    assert_int_equal(errno, 1234);
    assert_int_equal(slot, -1);
    assert_int_equal(slots_of(getpid()), 0);    /* nothing published */
    /* A: only we hold it (the kid waits for it): no cycle, published */
    assert_int_equal(ls_xwait_begin(A.dev, A.ino, 0, EOFF, 1, -1, &slot), 0);
    assert_true(slot >= 0);
    ls_xwait_end(slot);

    close(a);                                   /* kid gets A */
    assert_int_equal(get1(k.rd), 'D');
    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(slots_of(k.pid), 0);
    close(fb);
    assert_int_equal(count_fds(), f0);
}

static void test_cycle2_ofd(void **state) { cycle2(0); }
static void test_cycle2_posix_holder(void **state) { cycle2(1); }

/* /proc/locks is read a page at a time, and the kernel walks its list
 * again, by position, for every read: while other locks come and go, a
 * long list can skip a lock that stays held.  Holders must still be found,
 * and cycles through them still detected. */
static void kid_churn_locks(int rd, int wr, void *a)
{
    const struct file *f = a;
    int fd = open(f->path, O_RDWR | O_CLOEXEC);
    struct flock fl = { .l_whence = SEEK_SET, .l_len = 1 };
    if (fd < 0)
        _exit(2);
    for (int i = 0; i < 400; i++) {     /* 400 separate locks: ~25 KB of /proc/locks */
        fl.l_type = F_RDLCK;
        fl.l_start = 2 * i;
        if (fcntl(fd, F_OFD_SETLK, &fl))
            _exit(3);
    }
    put1(wr, 'R');
    for (unsigned i = 0;; i++) {
        fl.l_start = 2 * (i % 400);
        fl.l_type = F_UNLCK;
        fcntl(fd, F_OFD_SETLK, &fl);
        fl.l_type = F_RDLCK;
        fcntl(fd, F_OFD_SETLK, &fl);
    }
}

static void test_busy_proc_locks(void **state)
{
    int f0 = count_fds();
    struct file X, Y, Z;
    pid_t p[4];
    mkfile(&X, "busy_x");
    mkfile(&Y, "busy_y");
    mkfile(&Z, "busy_z");
    struct hold_arg hy = { &Y, 0, 1, 0, 0, 0 };      /* POSIX write */
    struct hold_arg hz = { &Z, 1, 1, 0, 0, 0 };      /* OFD write */
    struct kid ky = kid_start(kid_hold, &hy);
    struct kid kz = kid_start(kid_hold, &hz);
    assert_int_equal(get1(ky.rd), 'R');
    assert_int_equal(get1(kz.rd), 'R');
    struct kid kc[2] = { kid_start(kid_churn_locks, &X), kid_start(kid_churn_locks, &X) };
    assert_int_equal(get1(kc[0].rd), 'R');
    assert_int_equal(get1(kc[1].rd), 'R');
    int missed_y = 0, missed_z = 0;
    for (int i = 0; i < 100; i++) {
        if (ls_find_holders(Y.dev, Y.ino, 0, EOFF, 0, -1, p, 4) != 1 || p[0] != ky.pid)
            missed_y++;
        if (ls_find_holders(Z.dev, Z.ino, 0, EOFF, 0, -1, p, 4) != 1 || p[0] != kz.pid)
            missed_z++;
    }
    cycle2(0);
    cycle2(1);
    for (int i = 0; i < 2; i++) {
        kill(kc[i].pid, SIGKILL);
        kid_end(&kc[i]);
    }
    assert_int_equal(kid_end(&ky), 0);
    assert_int_equal(kid_end(&kz), 0);
    assert_int_equal(missed_y, 0);
    assert_int_equal(missed_z, 0);
    assert_int_equal(count_fds(), f0);
}

static void test_cycle3(void **state)
{
    int f0 = count_fds();
    struct file A, B, C;
    mkfile(&A, "c3a");
    mkfile(&B, "c3b");
    mkfile(&C, "c3c");
    struct wait_arg w1 = { &B, 0, &C };         /* C1 holds B, waits for C */
    struct wait_arg w2 = { &C, 0, &A };         /* C2 holds C, waits for A */
    struct kid k1 = kid_start(kid_hold_then_wait, &w1);
    struct kid k2 = kid_start(kid_hold_then_wait, &w2);
    assert_int_equal(get1(k1.rd), 'R');
    assert_int_equal(get1(k2.rd), 'R');
    int a = lock_path(A.path, 1, 1, 0, 0, 0);   /* we hold A */
    assert_true(a >= 0);
    put1(k1.wr, 'G');
    assert_int_equal(get1(k1.rd), 'P');
    put1(k2.wr, 'G');
    assert_int_equal(get1(k2.rd), 'P');
    wait_blocked(k1.pid);
    wait_blocked(k2.pid);

    /* we -> B (C1) -> C (C2) -> A (us): the request that closes it fails */
    int slot = 5;
    assert_int_equal(ls_xwait_begin(B.dev, B.ino, 0, EOFF, 0, -1, &slot), -EDEADLK);
    assert_int_equal(slot, -1);
    assert_int_equal(ls_xwait_begin(C.dev, C.ino, 7, 7, 0, -1, &slot), -EDEADLK);
    /* a range nobody holds: fine */
    struct file D;
    mkfile(&D, "c3d");
    assert_int_equal(ls_xwait_begin(D.dev, D.ino, 0, EOFF, 1, -1, &slot), 0);
    assert_true(slot >= 0);
    ls_xwait_end(slot);

    close(a);                                   /* C2 gets A */
    assert_int_equal(get1(k2.rd), 'D');
    assert_int_equal(kid_end(&k2), 0);          /* C2 exits: C1 gets C */
    assert_int_equal(get1(k1.rd), 'D');
    assert_int_equal(kid_end(&k1), 0);
    assert_int_equal(count_fds(), f0);
}

/* A chain that does not come back to us is no deadlock. */
static void test_chain_no_cycle(void **state)
{
    int f0 = count_fds();
    struct file B, C;
    mkfile(&B, "chb");
    mkfile(&C, "chc");
    struct hold_arg h = { &C, 1, 1, 0, 0, 0 };  /* C2 holds C, waits for nothing */
    struct kid k2 = kid_start(kid_hold, &h);
    assert_int_equal(get1(k2.rd), 'R');
    struct wait_arg w1 = { &B, 0, &C };         /* C1 holds B, waits for C */
    struct kid k1 = kid_start(kid_hold_then_wait, &w1);
    assert_int_equal(get1(k1.rd), 'R');
    put1(k1.wr, 'G');
    assert_int_equal(get1(k1.rd), 'P');
    wait_blocked(k1.pid);

    int slot = -1;
    assert_int_equal(ls_xwait_begin(B.dev, B.ino, 0, EOFF, 1, -1, &slot), 0);
    assert_true(slot >= 0);
    assert_int_equal(slots_of(getpid()), 1);
    ls_xwait_end(slot);
    ls_xwait_end(slot);                         /* twice: harmless */
    assert_int_equal(slots_of(getpid()), 0);

    assert_int_equal(kid_end(&k2), 0);          /* C1 gets C */
    assert_int_equal(get1(k1.rd), 'D');
    assert_int_equal(kid_end(&k1), 0);
    assert_int_equal(count_fds(), f0);
}

/* A thread that published and died without ending is not a waiter. */
struct dead_arg { const struct file *hold, *want; };

static void *dead_thread(void *a)
{
    const struct file *w = a;
    int slot;
    int r = ls_xwait_begin(w->dev, w->ino, 0, EOFF, 1, -1, &slot);
    return (void *)(intptr_t)(r == 0 && slot >= 0);
}

static void kid_dead_waiter(int rd, int wr, void *a)
{
    struct dead_arg *d = a;
    int h = lock_path(d->hold->path, 1, 1, 0, 0, 0);
    if (h < 0)
        _exit(2);
    pthread_t t;
    void *ok = NULL;
    if (pthread_create(&t, NULL, dead_thread, (void *)d->want) || pthread_join(t, &ok) || !ok)
        _exit(3);
    put1(wr, 'R');
    get1(rd);
    _exit(0);
}

static void test_dead_thread_slot(void **state)
{
    int f0 = count_fds();
    struct file A, B;
    mkfile(&A, "dta");
    mkfile(&B, "dtb");
    int a = lock_path(A.path, 1, 1, 0, 0, 0);   /* we hold A */
    assert_true(a >= 0);
    struct dead_arg d = { &B, &A };             /* kid holds B; a dead thread of it "waits" for A */
    struct kid k = kid_start(kid_dead_waiter, &d);
    assert_int_equal(get1(k.rd), 'R');
    if (isolated)       /* else another process's begin may have swept it */
        assert_int_equal(slots_of(k.pid), 1);
    int slot = -1;
    assert_int_equal(ls_xwait_begin(B.dev, B.ino, 0, EOFF, 1, -1, &slot), 0);
    assert_true(slot >= 0);
    ls_xwait_end(slot);
    assert_int_equal(slots_of(k.pid), 0);       /* swept */
    assert_int_equal(kid_end(&k), 0);
    close(a);
    assert_int_equal(count_fds(), f0);
}

/* Slots of a killed process are swept by the next begin. */
static void kid_publish_many(int rd, int wr, void *a)
{
    const struct file *f = a;
    for (int i = 0; i < 100; i++) {
        int slot;
        if (ls_xwait_begin(f->dev, f->ino, i, i, 1, -1, &slot) != 0 || slot < 0)
            _exit(2);
    }
    put1(wr, 'R');
    pause();
    _exit(0);
}

static void test_killed_process_slots(void **state)
{
    int f0 = count_fds();
    struct file f;
    mkfile(&f, "killed");
    struct kid k = kid_start(kid_publish_many, &f);
    assert_int_equal(get1(k.rd), 'R');
    assert_int_equal(slots_of(k.pid), 100);
    kill(k.pid, SIGKILL);
    assert_int_equal(kid_end(&k), 128 + SIGKILL);
    if (isolated)
        assert_int_equal(slots_of(k.pid), 100);
    int slot;
    assert_int_equal(ls_xwait_begin(f.dev, f.ino, 0, EOFF, 1, -1, &slot), 0);
    assert_true(slot >= 0);
    assert_int_equal(slots_of(k.pid), 0);
    ls_xwait_end(slot);
    /* a child never ends (nor owns) a slot of its parent */
    assert_int_equal(ls_xwait_begin(f.dev, f.ino, 0, EOFF, 1, -1, &slot), 0);
    pid_t c = fork();
    if (c == 0) {
        ls_xwait_fork_child();
        ls_xwait_end(slot);
        _exit(0);
    }
    waitpid(c, NULL, 0);
    assert_int_equal(slots_of(getpid()), 1);
    ls_xwait_end(slot);
    assert_int_equal(slots_of(getpid()), 0);
    assert_int_equal(count_fds(), f0);
}

int ls_xwait_test_lock(int take);

static void kid_take_lock(int rd, int wr, void *a)
{
    int how = *(int *)a;        /* 0: exit holding it, 1: hold until killed, 2: until told */
    if (ls_xwait_test_lock(1) != 0)
        _exit(2);
    if (how == 0)
        _exit(0);
    put1(wr, 'R');
    get1(rd);
    ls_xwait_test_lock(0);
    put1(wr, 'U');
    _exit(0);
}

struct begin_arg { volatile int done; int rc, slot; };

static void *begin_thread(void *a)
{
    struct begin_arg *b = a;
    b->rc = ls_xwait_begin(0, 1, 0, 0, 0, -1, &b->slot);
    __atomic_store_n(&b->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* The registry's lock, left by a dead owner (exited, killed): taken over at
 * once.  A live owner is waited for at most 1 s (never two walkers). */
static void test_registry_lock_not_wedged(void **state)
{
#if defined(__SANITIZE_THREAD__)
    /* TSan keeps mutex state per process: a process-shared mutex locked and
     * released by a child looks, to the parent's TSan, like an unlock of an
     * unlocked mutex. */
    skip();
#endif
    int f0 = count_fds();
    int slot;
    (void)reg_view();

    /* an owner that exited holding it */
    int how = 0;
    struct kid k = kid_start(kid_take_lock, &how);
    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(ls_xwait_begin(0, 1, 0, 0, 0, -1, &slot), 0);
    assert_true(slot >= 0);
    ls_xwait_end(slot);

    /* an owner killed while holding it */
    how = 1;
    k = kid_start(kid_take_lock, &how);
    assert_int_equal(get1(k.rd), 'R');
    kill(k.pid, SIGKILL);
    assert_int_equal(kid_end(&k), 128 + SIGKILL);
    assert_int_equal(ls_xwait_begin(0, 1, 0, 0, 0, -1, &slot), 0);
    assert_true(slot >= 0);
    ls_xwait_end(slot);

    /* a live owner that keeps it (here: stopped) is not robbed, and it
     * does not stop us either: the wait for it is bounded (1 s), then the
     * call goes on without detection (no slot).  Only on a registry of our
     * own: every process under the shim would wait meanwhile. */
    if (isolated) {
        how = 2;
        k = kid_start(kid_take_lock, &how);
        assert_int_equal(get1(k.rd), 'R');
        kill(k.pid, SIGSTOP);
        struct begin_arg b = { 0, -1, -1 };
        pthread_t t;
        assert_int_equal(pthread_create(&t, NULL, begin_thread, &b), 0);
        for (int i = 0; i < 3000 && !__atomic_load_n(&b.done, __ATOMIC_ACQUIRE); i++)
            usleep(10000);      /* proving a negative: not stuck for good */
        assert_int_equal(__atomic_load_n(&b.done, __ATOMIC_ACQUIRE), 1);
        pthread_join(t, NULL);
        assert_int_equal(b.rc, 0);
        assert_int_equal(b.slot, -1);
        kill(k.pid, SIGCONT);
        put1(k.wr, 'G');
        assert_int_equal(get1(k.rd), 'U');
        assert_int_equal(kid_end(&k), 0);
        assert_int_equal(ls_xwait_begin(0, 1, 0, 0, 0, -1, &slot), 0);
        assert_true(slot >= 0);
        ls_xwait_end(slot);
    }

    /* our own thread holds it: a re-entered call goes without detection */
    assert_int_equal(ls_xwait_test_lock(1), 0);
    slot = 3;
    assert_int_equal(ls_xwait_begin(0, 1, 0, 0, 0, -1, &slot), 0);
    assert_int_equal(slot, -1);
    ls_xwait_test_lock(0);
    assert_int_equal(count_fds(), f0);
}

/* Killed at random moments (often inside the critical section, while it
 * walks through a waiting holder): the next caller is never held up. */
static void kid_churn(int rd, int wr, void *a)
{
    const struct file *f = a;
    put1(wr, 'R');
    for (;;) {
        int slot;
        if (ls_xwait_begin(f->dev, f->ino, 0, EOFF, 1, -1, &slot) == 0)
            ls_xwait_end(slot);
    }
}

static void test_killed_in_critical_section(void **state)
{
#if defined(__SANITIZE_THREAD__)
    skip();     /* a process-shared mutex across processes: see test_registry_lock_not_wedged */
#endif
    int f0 = count_fds();
    struct file A, B, C;
    mkfile(&A, "kcs_a");
    mkfile(&B, "kcs_b");
    mkfile(&C, "kcs_c");
    /* W holds A and waits for B (held by H): every churn begin on A walks */
    struct hold_arg hb = { &B, 1, 1, 0, 0, 0 };
    struct kid h = kid_start(kid_hold, &hb);
    assert_int_equal(get1(h.rd), 'R');
    struct wait_arg wa = { &A, 0, &B };
    struct kid w = kid_start(kid_hold_then_wait, &wa);
    assert_int_equal(get1(w.rd), 'R');
    put1(w.wr, 'G');
    assert_int_equal(get1(w.rd), 'P');

    unsigned seed = (unsigned)getpid();
    for (int i = 0; i < 30; i++) {
        struct kid c = kid_start(kid_churn, &A);
        assert_int_equal(get1(c.rd), 'R');
        usleep(1000 + (unsigned)rand_r(&seed) % 20000);
        kill(c.pid, SIGKILL);
        kid_end(&c);
        int slot;
        /* never wedged by a killed holder (a hang is the runner's timeout) */
        assert_int_equal(ls_xwait_begin(C.dev, C.ino, 0, EOFF, 1, -1, &slot), 0);
        assert_true(slot >= 0);
        ls_xwait_end(slot);
    }
    assert_int_equal(kid_end(&h), 0);           /* W gets B */
    assert_int_equal(get1(w.rd), 'D');
    assert_int_equal(kid_end(&w), 0);
    assert_int_equal(count_fds(), f0);
}

/* ------------------------------------------------------------------ */
/* published holders                                                    */

struct pub_arg { const struct file *f; int n, fd; };

/* Publish what the kid holds, as the shim does (in a thread of its own when
 * asked: the thread's exit then makes the records unbelieved until the
 * process publishes again). */
static void *publish_all(void *a)
{
    struct pub_arg *pa = a;
    struct ls_pub p = { .kind = LS_PUB_HELD, .family = LS_FAM_POSIX, .type = 1, .exact = 1,
                        .dev = pa->f->dev, .ino = pa->f->ino, .start = 0, .end = 9,
                        .tid = (pid_t)syscall(SYS_gettid), .fd = pa->fd, .mode = 2 };
    if (ls_reg_put(1, &p) != 0)
        _exit(3);
    for (int i = 0; i < pa->n; i++) {
        p.start = p.end = 1000 + i;
        p.type = 0;
        p.fd = -1;
        ls_reg_put(100 + (uint64_t)i, &p);       /* past 3/4 full: overflow */
    }
    for (int i = 0; i < pa->n; i += 2)
        ls_reg_del(100 + (uint64_t)i, pa->f->dev, pa->f->ino);
    return NULL;
}

/* Hold an OFD write lock on [0,9], publish it and n more records on the
 * inode from a thread that exits, withdraw every other one, say 'R'.  Then
 * on 'M': publish from the main thread, 'R'. */
static void kid_publish(int rd, int wr, void *a)
{
    struct pub_arg *pa = a;
    pa->fd = lock_path(pa->f->path, 1, 1, 0, 10, 0);
    if (pa->fd < 0)
        _exit(2);
    pthread_t t;        /* first published by a thread that exits */
    if (pthread_create(&t, NULL, publish_all, pa) || pthread_join(t, NULL))
        _exit(4);
    put1(wr, 'R');
    for (;;) {
        char c = get1(rd);
        if (c == 'M') {
            publish_all(pa);
        } else {
            _exit(0);
        }
        put1(wr, 'R');
    }
}

struct count_ctx { pid_t pid; int n, exact; };

static int count_fn(void *ctx, const struct ls_pub *e)
{
    struct count_ctx *c = ctx;
    if (e->pid == c->pid) {
        c->n++;
        c->exact += e->exact;
    }
    return 0;
}

static void unk_fn(void *ctx, pid_t pid)
{
    struct count_ctx *c = ctx;
    if (pid == c->pid)
        c->n = -1000;
}

static struct ls_reg_region *region_of(pid_t pid)
{
    struct ls_reg_hdr *h = reg_view();
    for (unsigned i = 0; i < LS_REG_REGIONS; i++) {
        struct ls_reg_region *r = (void *)((char *)h + h->region_off + (uint64_t)i * LS_REG_REGION_SIZE);
        if (__atomic_load_n(&r->pid, __ATOMIC_ACQUIRE) == pid)
            return r;
    }
    return NULL;
}

/* What a process under the shim publishes names it as the holder (no /proc
 * scan needed); a record stays believed only while its process lives with
 * the same start time (a reused pid poisons nothing); deletions keep the
 * other records of the inode reachable; a full region says "overflow". */
static void test_registry_published_holder(void **state)
{
    int f0 = count_fds();
    struct file f;
    mkfile(&f, "pub");
    struct pub_arg pa = { &f, 64, -1 };
    struct kid k = kid_start(kid_publish, &pa);
    assert_int_equal(get1(k.rd), 'R');

    /* published by a thread that exited: the region's liveness went with
     * it, nothing is believed until the process publishes again */
    struct count_ctx c = { k.pid, 0, 0 };
    ls_reg_lookup(f.dev, f.ino, count_fn, &c, unk_fn);
    assert_int_equal(c.n, 0);
    assert_int_equal(ls_reg_pid_state(k.pid), 0);
    put1(k.wr, 'M');
    assert_int_equal(get1(k.rd), 'R');

    assert_int_equal(ls_find_holder(f.dev, f.ino, 5, 5, 0, -1), k.pid);
    assert_int_equal(ls_reg_pid_state(k.pid), 1);
    c.n = c.exact = 0;
    assert_true(ls_reg_lookup(f.dev, f.ino, count_fn, &c, unk_fn) >= 1 + 32);
    assert_int_equal(c.n, 1 + 32);      /* every other one of 64 withdrawn */
    assert_int_equal(c.exact, 1 + 32);
    struct ls_reg_region *r = region_of(k.pid);
    assert_non_null(r);
    assert_int_equal(__atomic_load_n(&r->starttime, __ATOMIC_RELAXED), ls_reg_starttime(k.pid));

    /* dead but not reaped (a zombie): its locks are gone, its records too */
    kill(k.pid, SIGKILL);
    siginfo_t si;
    assert_int_equal(waitid(P_PID, (id_t)k.pid, &si, WEXITED | WNOWAIT), 0);
    c.n = 0;
    ls_reg_lookup(f.dev, f.ino, count_fn, &c, unk_fn);
    assert_int_equal(c.n, 0);
    assert_int_equal(ls_reg_pid_state(k.pid), 0);
    kid_end(&k);

    /* a region that cannot hold every owner says so */
    struct pub_arg big = { &f, (int)LS_REG_ENTRIES, -1 };
    k = kid_start(kid_publish, &big);
    assert_int_equal(get1(k.rd), 'R');
    put1(k.wr, 'M');
    assert_int_equal(get1(k.rd), 'R');
    assert_int_equal(ls_reg_pid_state(k.pid), -1);
    c.pid = k.pid;
    c.n = 0;
    ls_reg_lookup(f.dev, f.ino, count_fn, &c, unk_fn);
    assert_true(c.n < 0);               /* unk_fn was told */
    put1(k.wr, 'Q');
    assert_int_equal(kid_end(&k), 0);
    assert_int_equal(count_fds(), f0);
}

struct range_arg { const struct file *f; int64_t start, end; };

/* Hold an OFD read lock on [start,end] and publish it from the main thread. */
static void kid_pub_range(int rd, int wr, void *a)
{
    struct range_arg *ra = a;
    int fd = lock_path(ra->f->path, 1, 0, ra->start, ra->end - ra->start + 1, 0);
    if (fd < 0)
        _exit(2);
    struct ls_pub p = { .kind = LS_PUB_HELD, .family = LS_FAM_POSIX, .type = 0, .exact = 1,
                        .dev = ra->f->dev, .ino = ra->f->ino, .start = ra->start, .end = ra->end,
                        .tid = (pid_t)syscall(SYS_gettid), .fd = fd, .mode = 2 };
    if (ls_reg_put(7, &p) != 0)
        _exit(3);
    put1(wr, 'R');
    get1(rd);
    _exit(0);
}

/* F_GETLK asks with the range of the lock the kernel reported: the process
 * holding exactly that lock is named, not another one overlapping it. */
static void test_registry_exact_holder_first(void **state)
{
    struct file f;
    mkfile(&f, "exact");
    struct range_arg r1 = { &f, 0, 99 }, r2 = { &f, 50, 59 };
    struct kid k1 = kid_start(kid_pub_range, &r1);
    assert_int_equal(get1(k1.rd), 'R');
    struct kid k2 = kid_start(kid_pub_range, &r2);
    assert_int_equal(get1(k2.rd), 'R');
    assert_int_equal(ls_find_holder(f.dev, f.ino, 50, 59, 1, -1), k2.pid);
    assert_int_equal(ls_find_holder(f.dev, f.ino, 0, 99, 1, -1), k1.pid);
    pid_t p[4];
    int n = ls_find_holders(f.dev, f.ino, 50, 59, 1, -1, p, 4);
    assert_true(n >= 2);
    assert_int_equal(p[0], k2.pid);
    assert_true(has_pid(p, n, k1.pid));
    assert_int_equal(kid_end(&k1), 0);
    assert_int_equal(kid_end(&k2), 0);
}

/* A child made by clone() (no fork hook ran, the kernel knows no robust
 * list for it, glibc's cached tid in it is the parent thread's) must not
 * be believed once dead: it claims no region (its death would not free
 * one).  And a region whose liveness word names a thread that is not its
 * process's (what such a child left under an older shim) is not believed
 * either.  tests/stress/README bug 16. */
static void test_registry_clone_child_not_believed(void **state)
{
    struct file f;
    mkfile(&f, "clone");
    struct count_ctx c = { 0, 0, 0 };

    /* a forked publisher's region, its word then naming another thread */
    struct range_arg r1 = { &f, 10, 19 };
    struct kid k = kid_start(kid_pub_range, &r1);
    assert_int_equal(get1(k.rd), 'R');
    assert_int_equal(ls_find_holder(f.dev, f.ino, 10, 19, 1, -1), k.pid);
    pid_t dead = k.pid;
    assert_int_equal(kid_end(&k), 0);
    struct ls_reg_region *r = region_of(dead);
    if (r) {    /* (a shared registry: another process may have taken it) */
        __atomic_store_n(&r->alive.word, (uint32_t)getpid(), __ATOMIC_RELEASE);
        c.pid = dead;
        ls_reg_lookup(f.dev, f.ino, count_fn, &c, unk_fn);
        assert_int_equal(c.n, 0);
        assert_int_not_equal(ls_find_holder(f.dev, f.ino, 10, 19, 1, -1), dead);
        assert_int_equal(ls_reg_pid_state(dead), 0);
        __atomic_store_n(&r->alive.word, 0x40000000u, __ATOMIC_RELEASE);  /* owner died */
    }

    /* a raw clone child that locks, publishes and exits without withdrawing */
    int up[2];
    assert_int_equal(pipe2(up, O_CLOEXEC), 0);
    pid_t cl = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
    assert_true(cl >= 0);
    if (cl == 0) {
        ls_xwait_fork_child();      /* as the shim does when it notices the clone */
        int fd = lock_path(f.path, 1, 0, 30, 10, 0);
        if (fd < 0)
            _exit(2);
        struct ls_pub p = { .kind = LS_PUB_HELD, .family = LS_FAM_POSIX, .type = 0, .exact = 1,
                            .dev = f.dev, .ino = f.ino, .start = 30, .end = 39,
                            .tid = (pid_t)syscall(SYS_gettid), .fd = fd, .mode = 2 };
        ls_reg_put(7, &p);          /* refused (no region) with the fix */
        put1(up[1], 'R');
        _exit(0);
    }
    close(up[1]);
    assert_int_equal(get1(up[0]), 'R');
    close(up[0]);
    int st;
    assert_int_equal(waitpid(cl, &st, 0), cl);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    c.pid = cl;
    c.n = 0;
    ls_reg_lookup(f.dev, f.ino, count_fn, &c, unk_fn);
    assert_int_equal(c.n, 0);
    assert_int_not_equal(ls_find_holder(f.dev, f.ino, 30, 39, 1, -1), cl);
    assert_int_equal(ls_reg_pid_state(cl), 0);
}

/* ------------------------------------------------------------------ */

static int group_setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/ls-holder-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int group_teardown(void **state)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    if (unshare(CLONE_NEWNS) == 0 && mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) == 0
        && mount("lockscope-test", "/dev/shm", "tmpfs", 0, "mode=1777") == 0)
        isolated = 1;
    fprintf(stderr, "registry: %s\n", isolated ? "private (own /dev/shm)" : "shared with the user's processes");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ofd_child_holder),
        cmocka_unit_test(test_posix_child_holder),
        cmocka_unit_test(test_read_read_ofd),
        cmocka_unit_test(test_self_and_skip_fd),
        cmocka_unit_test(test_shared_description_dedupe),
        cmocka_unit_test(test_overlay_device_mismatch),
        cmocka_unit_test(test_cycle2_ofd),
        cmocka_unit_test(test_cycle2_posix_holder),
        cmocka_unit_test(test_busy_proc_locks),
        cmocka_unit_test(test_cycle3),
        cmocka_unit_test(test_chain_no_cycle),
        cmocka_unit_test(test_dead_thread_slot),
        cmocka_unit_test(test_killed_process_slots),
        cmocka_unit_test(test_registry_lock_not_wedged),
        cmocka_unit_test(test_killed_in_critical_section),
        cmocka_unit_test(test_registry_published_holder),
        cmocka_unit_test(test_registry_exact_holder_first),
        cmocka_unit_test(test_registry_clone_child_not_believed),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
