/*
 * registry.c - the user's shared registry (see registry.h for the format).
 * Raw syscalls only (no interposed call, no malloc, no stdio): it runs inside
 * the shim, possibly from a signal handler, and links into the command too.
 */
/* gcc's TSan does not model fences and refuses them (-Wtsan): the
 * seqlock below uses them on purpose; TSan still sees its atomics. */
#if defined(__SANITIZE_THREAD__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wtsan"
#endif
/* The writer side of the seqlock stores plain fields that readers copy with
 * relaxed loads and validate by the sequence: by design a race TSan would
 * report; its accesses are not instrumented (writers are serialised by
 * wr_lock, readers retry on a changed sequence). */
#if defined(__SANITIZE_THREAD__)
#define LS_SEQLOCK_WRITER __attribute__((no_sanitize_thread, noinline))
#else
#define LS_SEQLOCK_WRITER
#endif
#define LS_NOT_TSAN LS_SEQLOCK_WRITER   /* for readers of words TSan cannot reason about */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "registry.h"

void (*ls_registry_debug)(const char *msg, const char *detail);

static void dbg(const char *msg, const char *detail)
{
    if (ls_registry_debug)
        ls_registry_debug(msg, detail);
}

static int sys_openat(int dirfd, const char *path, int flags, int mode)
{
    long r = syscall(SYS_openat, dirfd, path, flags, mode);
    return (int)r;
}

static void sys_close(int fd)
{
    int saved = errno;
    syscall(SYS_close, fd);
    errno = saved;
}

static size_t put_u64(char *buf, uint64_t v)
{
    char t[24];
    size_t n = 0, i = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v);
    while (n) buf[i++] = t[--n];
    buf[i] = 0;
    return i;
}

static int cat(char *buf, size_t n, const char *s)
{
    size_t l = strlen(buf), k = strlen(s);
    if (l + k + 1 > n)
        return -1;
    memcpy(buf + l, s, k + 1);
    return 0;
}

static int cat_u64(char *buf, size_t n, uint64_t v)
{
    char t[24];
    put_u64(t, v);
    return cat(buf, n, t);
}

/* ------------------------------------------------------------------ */
/* the directory                                                       */

/* fd of a directory at `path` that is uid's with no group/other access
 * (made so when it is uid's), or -errno.  `create`: mkdir it first. */
static int safe_dir(const char *path, uid_t uid, int create)
{
    struct stat st;
    if (create && mkdir(path, 0700) != 0 && errno != EEXIST)
        return -errno;
    int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) {
        int e = errno;
        if (e == ENOTDIR || e == ELOOP || e == EACCES)
            dbg("lockscope: registry location not a directory of ours, skipped:", path);
        return -e;
    }
    if (fstat(fd, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid) {
        sys_close(fd);
        dbg("lockscope: registry location not ours, skipped:", path);
        return -EPERM;
    }
    if ((st.st_mode & 077) && (uid != geteuid() || fchmod(fd, 0700) != 0)) {
        sys_close(fd);
        dbg("lockscope: registry location open to others, skipped:", path);
        return -EPERM;
    }
    return fd;
}

/* A parent that must be uid's and closed to others (/run/user/UID, $HOME). */
static int parent_ok(const char *path, uid_t uid, int exact_0700)
{
    struct stat st;
    if (lstat(path, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != uid)
        return 0;
    return exact_0700 ? (st.st_mode & 077) == 0 : (st.st_mode & 022) == 0;
}

/* Candidate i (0..3) into buf: 1 if it may be tried, 0 if not, -1 past the last. */
static int candidate(int i, uid_t uid, char *buf, size_t n)
{
    buf[0] = 0;
    switch (i) {
    case 0:
        return cat(buf, n, "/dev/shm/lockscope-") || cat_u64(buf, n, uid) ? 0 : 1;
    case 1:
        return cat(buf, n, "/tmp/lockscope-") || cat_u64(buf, n, uid) ? 0 : 1;
    case 2: {
        if (cat(buf, n, "/run/user/") || cat_u64(buf, n, uid))
            return 0;
        if (!parent_ok(buf, uid, 1))
            return 0;
        return cat(buf, n, "/lockscope") ? 0 : 1;
    }
    case 3: {
        const char *home = getenv("HOME");
        if (!home || home[0] != '/' || cat(buf, n, home) || !parent_ok(buf, uid, 0))
            return 0;
        char c[1024] = "";
        if (cat(c, sizeof c, buf) || cat(c, sizeof c, "/.cache"))
            return 0;
        if (mkdir(c, 0700) != 0 && errno != EEXIST)
            return 0;
        if (!parent_ok(c, uid, 0))
            return 0;
        return cat(buf, n, "/.cache/lockscope-run") ? 0 : 1;
    }
    default:
        return -1;
    }
}

/* The directory's fd and its path in buf; -errno if none. */
static int open_dir(uid_t uid, char *buf, size_t n)
{
    int create = uid == geteuid();
    for (int i = 0;; i++) {
        int c = candidate(i, uid, buf, n);
        if (c < 0)
            break;
        if (!c)
            continue;
        int fd = safe_dir(buf, uid, create);
        if (fd >= 0)
            return fd;
    }
    buf[0] = 0;
    return -EPERM;
}

int ls_registry_dir(uid_t uid, char *buf, size_t n)
{
    int fd = open_dir(uid, buf, n);
    if (fd < 0)
        return fd;
    sys_close(fd);
    return 0;
}

/* ------------------------------------------------------------------ */
/* the file                                                            */

static uint64_t pidns_id(void)
{
    char ns[64];
    uint64_t v = 0;
    ssize_t nl = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    for (ssize_t i = 0; i < nl; i++)
        if (ns[i] >= '0' && ns[i] <= '9')
            v = v * 10 + (uint64_t)(ns[i] - '0');
    return v;
}

static void file_name(char *buf, size_t n)
{
    buf[0] = 0;
    cat(buf, n, "reg-v2-");
    cat_u64(buf, n, pidns_id());
}

static uint64_t wait_off(void) { return LS_REG_HDR_SIZE; }
static uint64_t region_off(void)
{
    uint64_t o = LS_REG_HDR_SIZE + (uint64_t)LS_REG_WAITS * sizeof(struct ls_reg_wait);
    return (o + 4095) & ~(uint64_t)4095;
}

static int hdr_valid(const struct ls_reg_hdr *h, uint64_t size)
{
    return h->magic == LS_REG_MAGIC && h->version == LS_REG_VERSION &&
           h->hdr_size == LS_REG_HDR_SIZE && h->nwaits == LS_REG_WAITS &&
           h->nregions == LS_REG_REGIONS && h->nentries == LS_REG_ENTRIES &&
           h->region_size == LS_REG_REGION_SIZE && h->wait_off == wait_off() &&
           h->region_off == region_off() && h->file_size == size;
}

static uint64_t total_size(void) { return region_off() + (uint64_t)LS_REG_REGIONS * LS_REG_REGION_SIZE; }

/* Allocate [off, off+len) of the file (tmpfs: a store into a page it cannot
 * back is a SIGBUS, a read of a hole in a shared mapping too).  0 when
 * allocated or the file system cannot say (no fallocate: as before), -errno
 * (ENOSPC, EDQUOT...) when it has no room. */
static int file_alloc(int fd, uint64_t off, uint64_t len)
{
    for (;;) {
        long r = syscall(SYS_fallocate, fd, 0, (off_t)off, (off_t)len);
        if (r == 0)
            return 0;
        int e = errno;
        if (e == EINTR)
            continue;
        if (e == EOPNOTSUPP || e == ENOSYS)
            return 0;
        return -e;
    }
}

/* The file the last map_fd mapped (ls_reg_map keeps its path too): what
 * region_alloc falls back to when the kernel has no MADV_POPULATE_WRITE. */
static uint64_t mapped_dev, mapped_ino;
static char map_path[1100];

/* Map an existing file (fd): checked owner, mode, size, header.  *bad: the
 * file itself is unusable (not a passing failure such as ENOMEM). */
static struct ls_reg_hdr *map_fd(int fd, int writable, int *bad)
{
    struct stat st;
    *bad = 0;
    if (fstat(fd, &st) != 0)
        return NULL;
    if (!S_ISREG(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 077) ||
        (uint64_t)st.st_size != total_size()) {
        *bad = 1;
        return NULL;
    }
    /* header and wait slots: every process writes them (made by the
     * creator; again here for a file an older shim left sparse) */
    if (writable && file_alloc(fd, 0, region_off()) < 0) {
        dbg("lockscope: no room for the registry (file system full), location skipped", "");
        return NULL;
    }
    void *p = mmap(NULL, total_size(), writable ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        return NULL;
    mapped_dev = (uint64_t)st.st_dev;
    mapped_ino = (uint64_t)st.st_ino;
    struct ls_reg_hdr *h = p;
    if (!hdr_valid(h, total_size())) {
        munmap(p, total_size());
        *bad = 1;
        return NULL;
    }
    return h;
}

/* Build a complete file under a temporary name, link it into place. */
static int create_file(int dfd, const char *name)
{
    char tmp[64] = "tmp-";
    cat_u64(tmp, sizeof tmp, (uint64_t)syscall(SYS_gettid));
    unlinkat(dfd, tmp, 0);
    int fd = sys_openat(dfd, tmp, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = -EIO;
    if (ftruncate(fd, (off_t)total_size()) != 0)
        goto out;
    /* the regions stay sparse: a process allocates its own when it claims
     * one (region_get); header and wait slots are allocated now */
    rc = file_alloc(fd, 0, region_off());
    if (rc < 0) {
        dbg("lockscope: no room for the registry (file system full), location skipped", "");
        goto out;
    }
    rc = -EIO;
    void *p = mmap(NULL, LS_REG_HDR_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED)
        goto out;
    struct ls_reg_hdr *h = p;
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ERRORCHECK);
    int mi = pthread_mutex_init(&h->walk_mu, &a);
    pthread_mutexattr_destroy(&a);
    h->hdr_size = LS_REG_HDR_SIZE;
    h->nwaits = LS_REG_WAITS;
    h->nregions = LS_REG_REGIONS;
    h->nentries = LS_REG_ENTRIES;
    h->region_size = LS_REG_REGION_SIZE;
    h->wait_off = wait_off();
    h->region_off = region_off();
    h->file_size = total_size();
    h->version = LS_REG_VERSION;
    h->magic = LS_REG_MAGIC;
    munmap(p, LS_REG_HDR_SIZE);
    if (mi != 0)
        goto out;
    rc = linkat(dfd, tmp, dfd, name, 0) == 0 ? 0 : -errno;
out:
    unlinkat(dfd, tmp, 0);
    sys_close(fd);
    return rc;
}

/* Open (creating, or replacing a broken one of ours) the file in dfd. */
static struct ls_reg_hdr *open_file(int dfd, int writable, int create)
{
    char name[64];
    file_name(name, sizeof name);
    for (int attempt = 0; attempt < 3; attempt++) {
        int fd = sys_openat(dfd, name, (writable ? O_RDWR : O_RDONLY) | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
        if (fd < 0) {
            if (errno != ENOENT || !create)
                return NULL;
            int r = create_file(dfd, name);
            if (r < 0 && r != -EEXIST)
                return NULL;
            continue;
        }
        int bad;
        struct ls_reg_hdr *h = map_fd(fd, writable, &bad);
        sys_close(fd);
        if (h)
            return h;
        if (!create || !bad)
            return NULL;
        /* not usable (garbage, an old layout, a FIFO...): in our own
         * directory only our own processes could have put it there */
        dbg("lockscope: registry file unusable, replaced:", name);
        unlinkat(dfd, name, 0);
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* start times                                                         */

uint64_t ls_reg_starttime(pid_t pid)
{
    char path[48] = "/proc/", buf[512];
    if (pid > 0) cat_u64(path, sizeof path, (uint64_t)pid);
    else cat(path, sizeof path, "self");
    cat(path, sizeof path, "/stat");
    int fd = sys_openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC | O_NOCTTY, 0);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    sys_close(fd);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    /* fields after ')': 3 (state) ... 22 (starttime): skip 19 more */
    p += 2;
    for (int f = 3; f < 22; f++) {
        while (*p && *p != ' ') p++;
        if (!*p) return 0;
        p++;
    }
    uint64_t v = 0;
    for (; *p >= '0' && *p <= '9'; p++)
        v = v * 10 + (uint64_t)(*p - '0');
    return v;
}

static pid_t self_pid;
static uint64_t self_start;
static pid_t cached_pid;    /* this process's pid; reset by ls_reg_fork_child */

/* Set once any state ls_reg_fork_child resets is set: a forked child of a
 * process that never used the registry does not read this file's pages
 * (a page fault in every child).  Lives in core.c, on the page the fork
 * handler writes anyway. */
__attribute__((weak)) int ls_reg_used;  /* for programs linking registry.c alone */
static inline void reg_used(void)
{
    if (!__atomic_load_n(&ls_reg_used, __ATOMIC_RELAXED))
        __atomic_store_n(&ls_reg_used, 1, __ATOMIC_RELAXED);
}

pid_t ls_reg_pid(void)
{
    pid_t p = __atomic_load_n(&cached_pid, __ATOMIC_RELAXED);
    if (!p) {
        p = (pid_t)syscall(SYS_getpid);
        reg_used();
        __atomic_store_n(&cached_pid, p, __ATOMIC_RELAXED);
    }
    return p;
}

uint64_t ls_reg_self_start(void)
{
    pid_t p = ls_reg_pid();
    if (__atomic_load_n(&self_pid, __ATOMIC_ACQUIRE) != p) {
        uint64_t s = ls_reg_starttime(0);
        __atomic_store_n(&self_start, s, __ATOMIC_RELAXED);
        __atomic_store_n(&self_pid, p, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&self_start, __ATOMIC_RELAXED);
}

/* pid alive with that start time (reclaiming a region, wait slots in the
 * command's scan).  A small cache of verified pairs keeps the /proc read off
 * repeated checks, and the kill(pid, 0) too for 50 ms: a region of a process
 * that died within the last 50 ms is reclaimed a little later. */
#define VCACHE 32
#define VFRESH_NS 50000000LL
struct vc { uint32_t busy; pid_t pid; uint64_t start; int64_t at; };
static struct vc vcache[VCACHE];

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int pid_live(pid_t pid, uint64_t start)
{
    if (pid <= 0)
        return 0;
    struct vc *c = &vcache[(unsigned)pid % VCACHE];
    int64_t now = mono_ns();
    int known = 0;
    uint32_t z = 0;
    if (__atomic_compare_exchange_n(&c->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        if (c->pid == pid && c->start == start) {
            known = 1;
            if (now - c->at < VFRESH_NS) {
                __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
                return 1;
            }
        }
        __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
    }
    if (syscall(SYS_kill, pid, 0) != 0 && errno == ESRCH)
        return 0;
    if (!known) {
        uint64_t s = ls_reg_starttime(pid);
        if (s == 0 || s != start)
            return 0;
    }
    z = 0;
    if (__atomic_compare_exchange_n(&c->busy, &z, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        c->pid = pid;
        c->start = start;
        c->at = now;
        __atomic_store_n(&c->busy, 0, __ATOMIC_RELEASE);
    }
    return 1;
}

/* ------------------------------------------------------------------ */
/* this process's mapping                                              */

#define ST_UNTRIED 0
#define ST_OPENING 1
#define ST_READY   2
#define ST_NONE    3

static int map_state;
static pid_t map_opener;
static struct ls_reg_hdr *map_hdr;

static struct ls_reg_hdr *map_slow(void);

struct ls_reg_hdr *ls_reg_map(void)
{
    int st = __atomic_load_n(&map_state, __ATOMIC_ACQUIRE);
    if (st == ST_READY)
        return map_hdr;
    if (st == ST_NONE)
        return NULL;
    /* no signal while "opening": a handler that longjmps out would leave
     * the state there for good (every other thread then goes without) */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    struct ls_reg_hdr *h = map_slow();
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return h;
}

static struct ls_reg_hdr *map_slow(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    for (int spins = 0;; spins++) {
        int exp = ST_UNTRIED;
        reg_used();
        if (__atomic_compare_exchange_n(&map_state, &exp, ST_OPENING, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            __atomic_store_n(&map_opener, tid, __ATOMIC_RELAXED);
            struct ls_reg_hdr *h = NULL;
            char path[1024];
            uid_t uid = geteuid();
            /* each location in turn: a file there that cannot be used
             * (not even replaced) sends us to the next one */
            for (int i = 0; !h; i++) {
                int c = candidate(i, uid, path, sizeof path);
                if (c < 0)
                    break;
                if (!c)
                    continue;
                int dfd = safe_dir(path, uid, 1);
                if (dfd < 0)
                    continue;
                h = open_file(dfd, 1, 1);
                sys_close(dfd);
                if (h) {
                    char name[64];
                    file_name(name, sizeof name);
                    map_path[0] = 0;
                    if (cat(map_path, sizeof map_path, path) || cat(map_path, sizeof map_path, "/") ||
                        cat(map_path, sizeof map_path, name))
                        map_path[0] = 0;
                }
            }
            if (!h)
                dbg("lockscope: no usable registry location: cross-process deadlock detection and holder lookup off", "");
            map_hdr = h;
            __atomic_store_n(&map_state, h ? ST_READY : ST_NONE, __ATOMIC_RELEASE);
            return h;
        }
        if (exp == ST_READY)
            return map_hdr;
        if (exp == ST_NONE)
            return NULL;
        if (__atomic_load_n(&map_opener, __ATOMIC_RELAXED) == tid || spins > 2000)
            return NULL;
        sched_yield();
    }
}

static struct ls_reg_region *region_at(struct ls_reg_hdr *h, unsigned i)
{
    return (struct ls_reg_region *)(void *)((char *)h + h->region_off + (uint64_t)i * LS_REG_REGION_SIZE);
}

static struct ls_reg_ent *ents_of(struct ls_reg_region *r)
{
    return (struct ls_reg_ent *)(void *)((char *)r + LS_REG_REGION_HDR);
}

static unsigned hash_di(uint64_t dev, uint64_t ino)
{
    uint64_t x = ino * 0x9e3779b97f4a7c15ull ^ (dev + 0x632be59bd9b4e019ull) * 0xbf58476d1ce4e5b9ull;
    x ^= x >> 31;
    return (unsigned)x & (LS_REG_ENTRIES - 1);
}

/* Allocate the pages of region i before anything touches them (a store
 * into, or a read of, a page tmpfs cannot back is a SIGBUS).  0 or -1. */
#define LS_MADV_POPULATE_WRITE 23
static int region_alloc(struct ls_reg_hdr *h, unsigned i)
{
    uint64_t off = h->region_off + (uint64_t)i * LS_REG_REGION_SIZE;
    uint64_t a = off & ~(uint64_t)4095, e = (off + LS_REG_REGION_SIZE + 4095) & ~(uint64_t)4095;
    if (e > total_size())
        e = total_size();
    for (;;) {
        long r = syscall(SYS_madvise, (char *)h + a, (size_t)(e - a), LS_MADV_POPULATE_WRITE);
        if (r == 0)
            return 0;
        if (errno != EINTR)
            break;
    }
    if (errno != EINVAL)
        return -1;      /* EFAULT: would have been a SIGBUS; ENOMEM */
    /* a kernel before 5.14: fallocate through the file, if it is the one mapped */
    if (!map_path[0])
        return -1;
    int fd = sys_openat(AT_FDCWD, map_path, O_RDWR | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    struct stat st;
    int rc = -1;
    if (fstat(fd, &st) == 0 && (uint64_t)st.st_dev == mapped_dev && (uint64_t)st.st_ino == mapped_ino &&
        file_alloc(fd, a, e - a) == 0)
        rc = 0;
    sys_close(fd);
    return rc;
}

/* The region's owner lives (its liveness mutex is held by a thread).
 * Not TSan-instrumented: the word belongs to a process-shared robust mutex
 * that another process, or another thread of this one reusing a dead
 * process's region (pthread_mutex_init, which TSan takes for a plain
 * write), may be setting up meanwhile; a stale answer is checked again
 * (pid, start time) by every reader. */
LS_NOT_TSAN
static int region_alive(struct ls_reg_region *r)
{
    return (__atomic_load_n(&r->alive.word, __ATOMIC_ACQUIRE) & 0x3fffffffu) != 0;   /* FUTEX_TID_MASK */
}

/* ... and that holder is a live thread of the region's process: a region
 * claimed by a clone() child under an older shim holds the parent
 * thread's tid, released by nobody (robust_ready); one syscall, made only
 * for regions with records on the file asked about. */
LS_NOT_TSAN
static int region_owner_live(struct ls_reg_region *r, pid_t pid)
{
    uint32_t tid = __atomic_load_n(&r->alive.word, __ATOMIC_ACQUIRE) & 0x3fffffffu;
    if (!tid)
        return 0;
    return !(syscall(SYS_tgkill, (long)pid, (long)tid, 0L) != 0 && errno == ESRCH);
}

/* Hold our region's liveness mutex in this thread (again, when the thread
 * that held it exited). */
static void region_hold(struct ls_reg_region *r)
{
    uint32_t w = __atomic_load_n(&r->alive.word, __ATOMIC_ACQUIRE);
    if (w & 0x3fffffffu)
        return;
    int e = pthread_mutex_lock(&r->alive.mu);
    if (e == EOWNERDEAD)
        pthread_mutex_consistent(&r->alive.mu);
}

static void region_init_alive(struct ls_reg_region *r)
{
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&r->alive.mu, &a);
    pthread_mutexattr_destroy(&a);
    pthread_mutex_lock(&r->alive.mu);
}

/* A task made by clone() without CLONE_VM (not fork) has no robust list in
 * the kernel (glibc registers a thread's list again only in fork()), and
 * glibc's cached tid in it is still the parent thread's: a liveness mutex
 * it took would hold the parent's tid and never be released by its death,
 * and readers would believe its records for ever (F_GETLK naming a dead
 * pid: tests/stress/README bug 16).  Such a task claims no region: its
 * locks are not published, others find them in /proc.  -1: this thread's
 * death would not be seen (no robust list registered). */
static int robust_ready(void)
{
    void *head = NULL;
    size_t len = 0;
    if (syscall(SYS_get_robust_list, 0, &head, &len) != 0)
        return 0;               /* no robust futexes at all: as before */
    return head ? 0 : -1;
}

/* ---- the writer side: this process's region ---- */

static struct ls_reg_region *my_region;
static pid_t my_region_pid;
static pid_t region_nospace;    /* this pid could not allocate a region's pages
                                 * (or is a clone child whose death would not
                                 * free its region: robust_ready) */

void ls_reg_fork_child(void)
{
    /* only what differs: a page written is a page fault in every child */
    if (__atomic_load_n(&cached_pid, __ATOMIC_RELAXED))
        __atomic_store_n(&cached_pid, 0, __ATOMIC_RELAXED);
    if (my_region)
        my_region = NULL;
    if (my_region_pid)
        my_region_pid = 0;
    if (__atomic_load_n(&map_state, __ATOMIC_RELAXED) == ST_OPENING) {
        map_opener = 0;
        __atomic_store_n(&map_state, ST_UNTRIED, __ATOMIC_RELAXED);
    }
}

LS_SEQLOCK_WRITER static struct ls_reg_region *region_get(int create)
{
    pid_t me = ls_reg_pid();
    if (my_region && my_region_pid == me) {
        region_hold(my_region);
        return my_region;
    }
    my_region = NULL;
    if (!create || region_nospace == me)
        return NULL;
    if (robust_ready() < 0) {
        dbg("lockscope: a clone() child whose death the registry would not see: "
            "its held locks are not published (others look them up in /proc)", "");
        region_nospace = me;
        return NULL;
    }
    struct ls_reg_hdr *h = ls_reg_map();
    if (!h)
        return NULL;
    uint64_t start = ls_reg_self_start();
    if (!start)
        return NULL;
    /* Regions with our pid are what an earlier image of this process
     * (before exec) or a dead process with our pid left: wipe them all,
     * keep the first.  Then a free region, or one of a dead process. */
    struct ls_reg_region *mine = NULL;
    unsigned mi = 0;
    unsigned hw0 = __atomic_load_n(&h->region_hiwater, __ATOMIC_ACQUIRE);
    for (int pass = 0; pass < 2 && !mine; pass++) {
        for (unsigned i = 0; i < (pass ? LS_REG_REGIONS : hw0 < LS_REG_REGIONS ? hw0 : LS_REG_REGIONS); i++) {
            struct ls_reg_region *r = region_at(h, i);
            /* regions below hiwater have their pages (their claimers
             * allocated them); past it, allocate before looking */
            if (i >= __atomic_load_n(&h->region_hiwater, __ATOMIC_ACQUIRE) && region_alloc(h, i) != 0) {
                dbg("lockscope: no room in the registry's file system for this process's region: "
                    "its held locks are not published (others look them up in /proc)", "");
                region_nospace = me;
                return NULL;
            }
            int32_t cur = __atomic_load_n(&r->pid, __ATOMIC_ACQUIRE);
            if (pass == 0 ? cur != me
                          : cur != 0 && cur != me &&
                            pid_live(cur, __atomic_load_n(&r->starttime, __ATOMIC_RELAXED)))
                continue;
            if (!__atomic_compare_exchange_n(&r->pid, &cur, me, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                continue;
            /* ours: wipe what was left (odd seq: readers retry); a table
             * left empty and consistent is not touched (its pages need
             * not exist) */
            uint32_t s0 = __atomic_load_n(&r->seq, __ATOMIC_RELAXED), s = s0 | 1;
            int dirty = (s0 & 1) || r->count || r->overflow;
            __atomic_store_n(&r->seq, s, __ATOMIC_RELEASE);
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            __atomic_store_n(&r->starttime, start, __ATOMIC_RELAXED);
            if (dirty) {
                /* word by word, not memset: TSan intercepts memset even
                 * here, and readers copy these words while we wipe */
                uint64_t *w = (uint64_t *)(void *)ents_of(r);
                for (size_t k = 0; k < (size_t)LS_REG_ENTRIES * sizeof(struct ls_reg_ent) / 8; k++)
                    __atomic_store_n(&w[k], 0, __ATOMIC_RELAXED);
            }
            r->count = 0;
            __atomic_store_n(&r->overflow, 0, __ATOMIC_RELAXED);   /* read atomically by lookups (TSan) */
            __atomic_thread_fence(__ATOMIC_SEQ_CST);
            __atomic_store_n(&r->seq, s + 1, __ATOMIC_RELEASE);
            if (mine) {
                __atomic_store_n(&r->pid, 0, __ATOMIC_RELEASE);   /* a second one: free it */
                continue;
            }
            region_init_alive(r);
            mine = r;
            mi = i;
            if (pass)
                break;
        }
    }
    if (mine) {
        unsigned i = mi;
        struct ls_reg_region *r = mine;
        uint32_t hw = __atomic_load_n(&h->region_hiwater, __ATOMIC_RELAXED);
        while (hw < i + 1 && !__atomic_compare_exchange_n(&h->region_hiwater, &hw, i + 1, 0,
                                                          __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        reg_used();
        my_region = r;
        my_region_pid = me;
        return r;
    }
    dbg("lockscope: registry full: held locks of this process are not published", "");
    return NULL;
}

static void wr_begin(struct ls_reg_region *r)
{
    __atomic_add_fetch(&r->seq, 1, __ATOMIC_ACQ_REL);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static void wr_end(struct ls_reg_region *r)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    __atomic_add_fetch(&r->seq, 1, __ATOMIC_RELEASE);
}

LS_SEQLOCK_WRITER static int reg_put(uint64_t key, const struct ls_pub *rec)
{
    int saved = errno;
    struct ls_reg_region *r = region_get(1);
    if (!r || !key) {
        errno = saved;
        return -1;
    }
    __atomic_store_n(&r->mode, rec->mode, __ATOMIC_RELAXED);
    struct ls_reg_ent *e = ents_of(r), *slot = NULL;
    unsigned i = hash_di(rec->dev, rec->ino);
    for (unsigned n = 0; n < LS_REG_ENTRIES; n++, i = (i + 1) & (LS_REG_ENTRIES - 1)) {
        uint64_t k = e[i].key;
        if (k == key) { slot = &e[i]; break; }
        if (k == 0) {
            /* keep a quarter free: probe chains stay short */
            if (r->count + 1 > LS_REG_ENTRIES - LS_REG_ENTRIES / 4) {
                if (!r->overflow)
                    __atomic_store_n(&r->overflow, 1, __ATOMIC_RELEASE);
                errno = saved;
                return -1;
            }
            slot = &e[i];
            break;
        }
    }
    if (!slot) {
        __atomic_store_n(&r->overflow, 1, __ATOMIC_RELEASE);
        errno = saved;
        return -1;
    }
    wr_begin(r);
    if (slot->key != key)
        r->count++;
    slot->dev = rec->dev;
    slot->ino = rec->ino;
    slot->start = rec->start;
    slot->end = rec->end;
    slot->tid = rec->tid;
    slot->fd = rec->fd;
    slot->pfd1 = rec->pfd1;
    slot->family = (uint8_t)rec->family;
    slot->type = (uint8_t)(rec->type ? 1 : 0);
    slot->exact = (uint8_t)(rec->exact ? 1 : 0);
    slot->key = key;
    wr_end(r);
    errno = saved;
    return 0;
}

LS_SEQLOCK_WRITER static void reg_del(uint64_t key, uint64_t dev, uint64_t ino)
{
    struct ls_reg_region *r = region_get(0);
    if (!r || !key)
        return;
    struct ls_reg_ent *e = ents_of(r);
    unsigned i = hash_di(dev, ino), mask = LS_REG_ENTRIES - 1;
    for (unsigned n = 0; n < LS_REG_ENTRIES; n++, i = (i + 1) & mask) {
        if (e[i].key == 0)
            return;
        if (e[i].key != key)
            continue;
        /* backward-shift deletion (Knuth 6.4 R): no tombstones */
        wr_begin(r);
        unsigned j = i;
        for (;;) {
            e[i].key = 0;
            for (;;) {
                j = (j + 1) & mask;
                if (e[j].key == 0)
                    goto done;
                unsigned k = hash_di(e[j].dev, e[j].ino);
                /* move e[j] to i unless its home k lies cyclically in (i, j] */
                if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
                    continue;
                break;
            }
            e[i] = e[j];
            i = j;
        }
done:
        if (r->count) r->count--;
        wr_end(r);
        return;
    }
}

/* ---- the reader side ---- */

static void ent_copy(struct ls_reg_ent *dst, const struct ls_reg_ent *src)
{
    const uint64_t *s = (const uint64_t *)(const void *)src;
    uint64_t w[sizeof *src / 8];
    for (size_t i = 0; i < sizeof *src / 8; i++)
        w[i] = __atomic_load_n(&s[i], __ATOMIC_RELAXED);
    memcpy(dst, w, sizeof w);
}

static void to_pub(struct ls_pub *p, const struct ls_reg_ent *e, pid_t pid, uint64_t start, int mode)
{
    memset(p, 0, sizeof *p);
    p->kind = LS_PUB_HELD;
    p->family = e->family;
    p->type = e->type;
    p->exact = e->exact;
    p->dev = e->dev;
    p->ino = e->ino;
    p->start = e->start;
    p->end = e->end;
    p->pid = pid;
    p->tid = e->tid;
    p->starttime = start;
    p->fd = e->fd;
    p->pfd1 = e->pfd1;
    p->mode = mode;
}

#define MATCH_MAX 64

/* The entries of region r on (dev, ino), consistent (seqlock); -1 when the
 * writer kept it busy. */
static int region_read(struct ls_reg_region *r, uint64_t dev, uint64_t ino,
                       struct ls_reg_ent *out, int max, int *more)
{
    for (int tries = 0; tries < 1000; tries++) {
        uint32_t s1 = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
        if (s1 & 1) {
            sched_yield();
            continue;
        }
        int n = 0;
        *more = 0;
        struct ls_reg_ent *e = ents_of(r);
        unsigned i = hash_di(dev, ino);
        for (unsigned k = 0; k < LS_REG_ENTRIES; k++, i = (i + 1) & (LS_REG_ENTRIES - 1)) {
            struct ls_reg_ent c;
            ent_copy(&c, &e[i]);
            if (c.key == 0)
                break;
            if (c.dev == dev && c.ino == ino) {
                if (n < max) out[n++] = c;
                else *more = 1;
            }
        }
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        if (__atomic_load_n(&r->seq, __ATOMIC_RELAXED) == s1)
            return n;
    }
    return -1;
}

int ls_reg_lookup(uint64_t dev, uint64_t ino, int (*fn)(void *ctx, const struct ls_pub *e),
                  void *ctx, void (*unk_fn)(void *ctx, pid_t pid))
{
    int saved = errno;
    struct ls_reg_hdr *h = ls_reg_map();
    if (!h)
        return -1;
    pid_t me = ls_reg_pid();
    unsigned hw = __atomic_load_n(&h->region_hiwater, __ATOMIC_ACQUIRE);
    int total = 0;
    if (hw > LS_REG_REGIONS)
        hw = LS_REG_REGIONS;
    for (unsigned ri = 0; ri < hw; ri++) {
        struct ls_reg_region *r = region_at(h, ri);
        pid_t pid = __atomic_load_n(&r->pid, __ATOMIC_ACQUIRE);
        if (pid <= 0 || pid == me)
            continue;
        uint64_t start = __atomic_load_n(&r->starttime, __ATOMIC_RELAXED);
        struct ls_reg_ent m[MATCH_MAX];
        int more = 0;
        int n = region_read(r, dev, ino, m, MATCH_MAX, &more);
        int ovf = __atomic_load_n(&r->overflow, __ATOMIC_ACQUIRE);
        if ((n == 0 && !ovf && !more) || !region_alive(r) ||
            __atomic_load_n(&r->pid, __ATOMIC_ACQUIRE) != pid || !region_owner_live(r, pid))
            continue;
        if (n < 0 || ovf || more) {
            if (unk_fn)
                unk_fn(ctx, pid);
            if (n < 0)
                continue;
        }
        int mode = __atomic_load_n(&r->mode, __ATOMIC_RELAXED);
        for (int i = 0; i < n; i++) {
            struct ls_pub p;
            to_pub(&p, &m[i], pid, start, mode);
            total++;
            if (fn && fn(ctx, &p)) {
                errno = saved;
                return total;
            }
        }
    }
    errno = saved;
    return total;
}

int ls_reg_pid_state(pid_t pid)
{
    struct ls_reg_hdr *h = ls_reg_map();
    if (!h || pid <= 0)
        return 0;
    unsigned hw = __atomic_load_n(&h->region_hiwater, __ATOMIC_ACQUIRE);
    if (hw > LS_REG_REGIONS)
        hw = LS_REG_REGIONS;
    for (unsigned ri = 0; ri < hw; ri++) {
        struct ls_reg_region *r = region_at(h, ri);
        if (__atomic_load_n(&r->pid, __ATOMIC_ACQUIRE) != pid)
            continue;
        if (!region_alive(r) || !region_owner_live(r, pid))
            continue;
        return __atomic_load_n(&r->overflow, __ATOMIC_ACQUIRE) ? -1 : 1;
    }
    return 0;
}

/* ---- the whole registry, for the command ---- */

int ls_registry_scan(const char *dir, int (*fn)(void *ctx, const struct ls_pub *e), void *ctx)
{
    int dfd = sys_openat(AT_FDCWD, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (dfd < 0)
        return -errno;
    struct ls_reg_hdr *h = open_file(dfd, 0, 0);
    sys_close(dfd);
    if (!h)
        return -ENOENT;
    int total = 0, stop = 0;
    struct ls_reg_wait *w = (struct ls_reg_wait *)(void *)((char *)h + h->wait_off);
    unsigned whw = __atomic_load_n(&h->wait_hiwater, __ATOMIC_ACQUIRE);
    if (whw > LS_REG_WAITS)
        whw = LS_REG_WAITS;
    for (unsigned i = 0; i < whw && !stop; i++) {
        pid_t pid = __atomic_load_n(&w[i].pid, __ATOMIC_ACQUIRE);
        if (pid <= 0 || !pid_live(pid, w[i].starttime))
            continue;
        struct ls_pub p;
        memset(&p, 0, sizeof p);
        p.kind = LS_PUB_WAITING;
        p.type = w[i].type;
        p.dev = w[i].dev;
        p.ino = w[i].ino;
        p.start = w[i].start;
        p.end = w[i].end;
        p.pid = pid;
        p.tid = w[i].tid;
        p.starttime = w[i].starttime;
        p.fd = -1;
        total++;
        stop = fn && fn(ctx, &p);
    }
    unsigned hw = __atomic_load_n(&h->region_hiwater, __ATOMIC_ACQUIRE);
    if (hw > LS_REG_REGIONS)
        hw = LS_REG_REGIONS;
    for (unsigned ri = 0; ri < hw && !stop; ri++) {
        struct ls_reg_region *r = region_at(h, ri);
        pid_t pid = __atomic_load_n(&r->pid, __ATOMIC_ACQUIRE);
        uint64_t start = __atomic_load_n(&r->starttime, __ATOMIC_RELAXED);
        if (pid <= 0 || !region_alive(r))
            continue;
        int mode = __atomic_load_n(&r->mode, __ATOMIC_RELAXED);
        struct ls_reg_ent *e = ents_of(r);
        for (unsigned i = 0; i < LS_REG_ENTRIES && !stop; i++) {
            struct ls_reg_ent c;
            ent_copy(&c, &e[i]);
            if (!c.key)
                continue;
            struct ls_pub p;
            to_pub(&p, &c, pid, start, mode);
            total++;
            stop = fn && fn(ctx, &p);
        }
    }
    munmap(h, total_size());
    return total;
}

/* The writer side is one thread at a time: this process's threads publish
 * under the shim's g_mu, but the claim of the region and the seqlock must
 * not depend on every caller doing so.  A tiny lock whose word is the
 * holder's tid; a signal handler that interrupted its own thread inside
 * (it cannot wait for itself) skips the publish and marks the region
 * overflowed, so readers fall back to /proc for this process. */
static int32_t wr_owner;
/* static TLS (one load; no __tls_get_addr on every publish): the shim is
 * preloaded, and the lockscope command links this file in */
static __thread __attribute__((tls_model("initial-exec"))) int32_t wr_tid;

static int wr_lock(void)
{
    if (!wr_tid)
        wr_tid = (int32_t)syscall(SYS_gettid);
    for (unsigned spins = 0;; spins++) {
        int32_t z = 0;
        if (__atomic_compare_exchange_n(&wr_owner, &z, wr_tid, 1, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
            return 1;
        if (z == wr_tid)
            return 0;
        if (spins > 64)
            sched_yield();
    }
}

static void wr_unlock(void)
{
    __atomic_store_n(&wr_owner, 0, __ATOMIC_RELEASE);
}

int ls_reg_put(uint64_t key, const struct ls_pub *rec)
{
    if (!wr_lock()) {
        struct ls_reg_region *r = my_region;
        if (r)
            __atomic_store_n(&r->overflow, 1, __ATOMIC_RELEASE);
        return -1;
    }
    int rc = reg_put(key, rec);
    wr_unlock();
    return rc;
}

void ls_reg_del(uint64_t key, uint64_t dev, uint64_t ino)
{
    if (!wr_lock()) {
        struct ls_reg_region *r = my_region;
        if (r)
            __atomic_store_n(&r->overflow, 1, __ATOMIC_RELEASE);
        return;
    }
    reg_del(key, dev, ino);
    wr_unlock();
}
