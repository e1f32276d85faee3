/*
 * ls.c - `lockscope ls [PATH...] [--json] [--wait[=SECONDS]]`: who holds
 * the lock I am waiting for?
 *
 * The problem.  Under lockscope every converted lock is an OFD lock on a
 * private description: a re-open of the same inode parked at a high fd with
 * FD_CLOEXEC.  The kernel keeps no pid for OFD locks, so /proc/locks (and
 * lslocks) show "-1" and no path; fdinfo names the process but the shim's
 * private fd, not the program's.  Nothing shows who is blocked on whom.
 *
 * One snapshot is built from independent sources, each a function that
 * fills the same in-memory lists (struct snap):
 *
 *   read_proc_locks   every lock and every blocked request ("->" lines);
 *   scan_procs        one pass over /proc: for each process, the "lock:"
 *                     lines of /proc/PID/fdinfo/FD (which fd carries which
 *                     lock) and the threads blocked in fcntl(F_SETLKW,
 *                     F_OFD_SETLKW) or flock without LOCK_NB
 *                     (/proc/PID/task/TID/syscall, the requested range read
 *                     from the caller's struct flock through /proc/PID/mem);
 *   look_proc         for the few processes that matter: under the shim?
 *                     (/proc/PID/maps maps liblockscope.so), its mode
 *                     (LOCKSCOPE_MODE in /proc/PID/environ), and which of its
 *                     own fds a private fd stands for (same inode, not
 *                     private: a private fd is high and close-on-exec).
 *   read_registry     the shim's registry (shim/registry.h) of what its
 *                     processes hold and wait for: ours, and as root every
 *                     user's.  A live record that agrees with /proc (same
 *                     pid, file, range, family) gives the program's family,
 *                     the real mode, the private fd (and the program fd the
 *                     last lock went through), the holder of a line no
 *                     fdinfo showed (exact records only) and waiters whose
 *                     task we may not read (never one twice).
 *
 * What must stay true:
 *   - Nothing is guessed.  A process whose fds cannot be read (EACCES,
 *     EPERM) is shown as not inspectable; a lock whose holder was not found
 *     names no pid.  When several fds of the holder could be the program's,
 *     all are shown.
 *   - Processes come and go while we look: a vanished pid, fd or task
 *     (ENOENT, ESRCH) is skipped silently, and /proc/locks is read again at
 *     the end so a lock released meanwhile is not shown.
 *   - The scan is one pass per refresh: only the pids /proc/locks names,
 *     unless an OFD lock (no pid) makes every process a candidate.
 *   - Wait chains follow holder -> what that holder's threads wait for, at
 *     most LS_CHAIN_MAX steps; reaching a process already on the chain is a
 *     cycle and is marked.
 */
#include "ls.h"
#include "../shim/log.h"
#include "../shim/registry.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#define LS_CHAIN_MAX 16
#define LS_MAX_FDS   8          /* program fds shown for one private fd */
#define LS_MAX_HOLD  16         /* holders listed for one waiter */

enum family { FAM_POSIX, FAM_OFD, FAM_FLOCK, FAM_OTHER };
static const char *const fam_text[] = { "POSIX", "OFD", "FLOCK", "OTHER" };
static const char *const fam_json[] = { "posix", "ofd", "flock", "other" };

/* One line of /proc/locks (or of a fdinfo "lock:" line). */
struct lk {
    int family;
    char type[8];               /* READ, WRITE, or what a lease says */
    int write;
    long kpid;                  /* the pid the kernel shows, -1 for OFD */
    unsigned maj, min;
    unsigned long long ino;
    int64_t start, end;         /* end -1: to end of file */
    int blocked;                /* a "->" line: a request waiting */
    int root;                   /* blocked: the held line it is queued under */
    int claimed;                /* blocked: a thread was found for it */
    int num;                    /* held: number in the output (1, 2, ...) */
    int nrefs;                  /* held: fds found carrying it */
    int present;                /* seen in a holder's fdinfo, or still in
                                   /proc/locks at the end */
};

/* What the program sees of one kernel fd. */
struct fdview {
    int fds[LS_MAX_FDS], nfds;  /* the program's fds; under the shim the
                                   fds of the same inode that are not private */
    int private_fd;             /* the shim's private fd, or -1 */
    char *path;
    int deleted;
};

struct proc {
    pid_t pid;
    char comm[64];
    int inspectable;            /* 0: fdinfo could not be read */
    int looked;
    int shim;                   /* 1, 0, -1 unknown */
    char mode[16];              /* "" unknown */
    long long nofile;           /* soft RLIMIT_NOFILE, -1 unlimited, 0 unknown */
    char reg_mode[16];          /* the shim's real mode from the registry, "" unknown */
    struct regfd *regfds;       /* what the registry says of its fds (reg_privates) */
    int nregfds, capregfds;
    struct pfd *pfds;           /* its fds, read once per snapshot (fds_of), sorted by fd */
    int npfds, pfds_built;
};

/* A live registry record of the process on file (dev, ino): a converted
 * lock held through private fd `fd`, or (fd -1) a thread waiting. */
struct regfd {
    dev_t dev;
    ino_t ino;
    int fd;
};

/* One fd of a process: what it is, read once per snapshot (one readdir,
 * one stat per fd, an fdinfo read only for fds high enough to be the
 * shim's), so a process with thousands of fds and locks costs O(fds). */
struct pfd {
    int fd, priv;
    dev_t dev;
    ino_t ino;
};

/* A held lock as one process carries it through one fd. */
struct ref {
    int lock, proc, kfd;        /* kfd -1: known from the registry only */
    int pfam;                   /* the program's family (LS_FAM_*) from the registry, 0 unknown */
    int from_reg;               /* the registry named this holder (no fdinfo seen) */
    struct fdview v;
};

struct waiter {
    int lock;                   /* its "->" line */
    int proc;                   /* -1: no thread found */
    pid_t tid;
    int kfd;
    const char *call;           /* "fcntl", "flock", NULL */
    struct fdview v;
    int hold[LS_MAX_HOLD], nhold;   /* ref indices; -1-LOCK: a lock whose holder is unknown */
    pid_t chain[LS_CHAIN_MAX + 1];
    int nchain, cycle;
};

/* A blocked thread seen in /proc/PID/task/TID/syscall, before matching. */
struct cand {
    int proc, fd, family, type;     /* type -1 unknown */
    pid_t tid;
    const char *call;
    int has_range;
    int64_t start, end;
    dev_t dev;
    ino_t ino;
};

struct snap {
    struct lk *locks;  int nlocks, caplocks;
    struct proc *procs; int nprocs, capprocs;
    struct ref *refs;  int nrefs, caprefs;
    struct waiter *waiters; int nwaiters, capwaiters;
    struct cand *cands; int ncands, capcands;
    int uninspectable;          /* processes whose fds could not be read */
    int *hhead, *hnext, hsize;  /* lines by lock_hash (held and blocked) */
    int *lr_off, *lr;           /* refs by lock: lr[lr_off[i] .. lr_off[i+1]) */
    struct ls_pub *pubs; int npubs, cappubs;    /* live registry records */
    unsigned char *pub_used;    /* pubs given to a holder line */
};

struct target { dev_t dev; ino_t ino; const char *path; };

struct opts {
    int json;
    double interval;            /* --wait: seconds, 0 = once */
    struct target *targets;
    int ntargets;
};

static void oom(void)
{
    fputs("lockscope ls: out of memory\n", stderr);
    exit(1);
}

static void *grow(void *p, int *cap, int n, size_t size)
{
    if (n < *cap)
        return p;
    int nc = *cap ? *cap * 2 : 16;
    p = realloc(p, (size_t)nc * size);
    if (!p)
        oom();
    memset((char *)p + (size_t)*cap * size, 0, (size_t)(nc - *cap) * size);
    *cap = nc;
    return p;
}
#define PUSH(arr, n, cap) \
    ((arr) = grow((arr), &(cap), (n), sizeof *(arr)), &(arr)[(n)++])

static char *xstrdup(const char *s)
{
    char *d = strdup(s);
    if (!d)
        oom();
    return d;
}

/* ---- reading /proc ------------------------------------------------------ */

/* The whole file into a malloc'd NUL-terminated buffer; NULL with errno. */
static char *slurp(const char *path, size_t *lenp)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        oom();
    for (;;) {
        if (len + 1 >= cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            if (!buf)
                oom();
        }
        ssize_t n = read(fd, buf + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            free(buf);
            errno = e;
            return NULL;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    buf[len] = '\0';
    if (lenp)
        *lenp = len;
    return buf;
}

/* A small file into buf (NUL-terminated); length or -1 with errno. */
static ssize_t read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n;
    do
        n = read(fd, buf, cap - 1);
    while (n < 0 && errno == EINTR);
    int e = errno;
    close(fd);
    if (n < 0) {
        errno = e;
        return -1;
    }
    buf[n] = '\0';
    return n;
}

/*
 * Parse one lock line, as /proc/locks and fdinfo write it (fs/locks.c
 * lock_get_status):  "ID: [ ...-> ]FAMILY ADVISORY TYPE PID MAJ:MIN:INO START END".
 * Returns 0, or -1 for a line that is not a lock (a lease on no inode...).
 */
static int parse_lock(const char *s, struct lk *l)
{
    memset(l, 0, sizeof *l);
    char *tok[12];
    char buf[256];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save = NULL, *t = strtok_r(buf, " \t\n", &save); t && n < 12;
         t = strtok_r(NULL, " \t\n", &save))
        tok[n++] = t;
    int k = 1;                          /* tok[0] is "ID:" */
    if (k < n && strcmp(tok[k], "->") == 0) {
        l->blocked = 1;
        k++;
    }
    if (n - k < 7)
        return -1;
    const char *fam = tok[k];
    l->family = strcmp(fam, "POSIX") == 0 ? FAM_POSIX :
                strcmp(fam, "OFDLCK") == 0 ? FAM_OFD :
                strcmp(fam, "FLOCK") == 0 ? FAM_FLOCK : FAM_OTHER;
    snprintf(l->type, sizeof l->type, "%s", tok[k + 2]);
    l->write = strcmp(l->type, "WRITE") == 0;
    char *end;
    l->kpid = strtol(tok[k + 3], &end, 10);
    if (*end)
        return -1;
    if (sscanf(tok[k + 4], "%x:%x:%llu", &l->maj, &l->min, &l->ino) != 3)
        return -1;
    l->start = strtoll(tok[k + 5], &end, 10);
    if (*end)
        return -1;
    if (strcmp(tok[k + 6], "EOF") == 0) {
        l->end = -1;
    } else {
        l->end = strtoll(tok[k + 6], &end, 10);
        if (*end)
            return -1;
    }
    return 0;
}

static int same_lock(const struct lk *a, const struct lk *b)
{
    return a->family == b->family && strcmp(a->type, b->type) == 0 &&
           a->kpid == b->kpid && a->maj == b->maj && a->min == b->min &&
           a->ino == b->ino && a->start == b->start && a->end == b->end &&
           a->blocked == b->blocked;
}

static unsigned lock_hash(const struct lk *l)
{
    uint64_t h = 1469598103934665603ull;
    uint64_t v[8] = { (uint64_t)l->family, (uint64_t)l->write, (uint64_t)l->kpid,
                      ((uint64_t)l->maj << 32) | l->min, l->ino, (uint64_t)l->start,
                      (uint64_t)l->end, (uint64_t)l->blocked };
    for (int k = 0; k < 8; k++) {
        h ^= v[k];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return (unsigned)h;
}

/* The hash index of the lines, so matching costs O(1) per line. */
static void index_locks(struct snap *s)
{
    s->hsize = 64;
    while (s->hsize < 2 * s->nlocks)
        s->hsize *= 2;
    s->hhead = malloc((size_t)s->hsize * sizeof *s->hhead);
    s->hnext = malloc(((size_t)s->nlocks + 1) * sizeof *s->hnext);
    if (!s->hhead || !s->hnext)
        oom();
    for (int b = 0; b < s->hsize; b++)
        s->hhead[b] = -1;
    for (int i = s->nlocks - 1; i >= 0; i--) {
        unsigned b = lock_hash(&s->locks[i]) & (unsigned)(s->hsize - 1);
        s->hnext[i] = s->hhead[b];
        s->hhead[b] = i;
    }
}

/* A line identical to l other than line `self`, or -1. */
static int twin(const struct snap *s, const struct lk *l, int self)
{
    unsigned b = lock_hash(l) & (unsigned)(s->hsize - 1);
    for (int i = s->hhead[b]; i >= 0; i = s->hnext[i])
        if (i != self && same_lock(&s->locks[i], l))
            return i;
    return -1;
}

/* Append a line the first read of /proc/locks did not have. */
static int add_line(struct snap *s, const struct lk *l)
{
    int i = s->nlocks;
    struct lk *n = PUSH(s->locks, s->nlocks, s->caplocks);
    *n = *l;
    n->root = -1;
    n->claimed = n->nrefs = n->num = 0;
    n->present = 1;
    s->hnext = realloc(s->hnext, (size_t)s->caplocks * sizeof *s->hnext);
    if (!s->hnext)
        oom();
    unsigned b = lock_hash(l) & (unsigned)(s->hsize - 1);
    s->hnext[i] = s->hhead[b];
    s->hhead[b] = i;
    return i;
}

/* Source 1: /proc/locks.  Returns 0 or -errno. */
static int read_proc_locks(struct snap *s)
{
    char *text = slurp("/proc/locks", NULL);
    if (!text)
        return -errno;
    int root = -1;
    for (char *line = text, *nl; *line; line = nl) {
        nl = strchr(line, '\n');
        nl = nl ? nl + 1 : line + strlen(line);
        struct lk l;
        char save = *nl;
        *nl = '\0';
        int ok = parse_lock(line, &l) == 0;
        *nl = save;
        if (!ok)
            continue;
        if (!l.blocked)
            root = s->nlocks;
        l.root = l.blocked ? root : -1;
        *PUSH(s->locks, s->nlocks, s->caplocks) = l;
    }
    free(text);
    return 0;
}

/*
 * Which locks are still there: a multiset match against a second read.
 * /proc/locks is produced a page at a time, so a read while locks come and
 * go may miss a line: a lock counts when a holder's fdinfo, a blocked
 * thread, or a later read shows it (a third read is made for the lines the
 * second lacks); one that no later look shows was released meanwhile.
 */
static void recheck_proc_locks(struct snap *s)
{
    for (int pass = 0; pass < 2; pass++) {
        int missing = 0;
        for (int i = 0; i < s->nlocks && !missing; i++)
            missing = !s->locks[i].present;
        if (pass == 1 && !missing)
            return;
        struct snap again = { 0 };
        if (read_proc_locks(&again) < 0) {
            for (int i = 0; i < s->nlocks; i++)
                s->locks[i].present = 1;
            return;
        }
        index_locks(&again);
        int n = s->nlocks;
        /* In the third read, lines already known to be there take their
         * copies first, so an echo in one read cannot vouch for another. */
        for (int k = 0; k < 2 * n; k++) {
            int i = k % n;
            if (pass == 0 ? k >= n : (k < n) != (s->locks[i].present != 0))
                continue;
            unsigned b = lock_hash(&s->locks[i]) & (unsigned)(again.hsize - 1);
            for (int j = again.hhead[b]; j >= 0; j = again.hnext[j]) {
                if (!again.locks[j].present && same_lock(&s->locks[i], &again.locks[j])) {
                    again.locks[j].present = 1;
                    if (pass == 0 || k >= n)
                        s->locks[i].present = 1;
                    break;
                }
            }
        }
        /* Lines neither the first read nor any fdinfo had: new since (one
         * identical to a line we have is more likely the page race's
         * duplicate than a second identical lock). */
        for (int j = 0; pass == 0 && j < again.nlocks; j++)
            if (!again.locks[j].present && twin(s, &again.locks[j], -1) < 0)
                add_line(s, &again.locks[j]);
        free(again.locks);
        free(again.hhead);
        free(again.hnext);
    }
}

/* ---- processes -------------------------------------------------------- */

static int add_proc(struct snap *s, pid_t pid)
{
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == pid)
            return i;
    struct proc *p = PUSH(s->procs, s->nprocs, s->capprocs);
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->shim = -1;
    p->inspectable = 1;
    char path[64], buf[sizeof p->comm];
    snprintf(path, sizeof path, "/proc/%d/comm", (int)pid);
    if (read_small(path, buf, sizeof buf) > 0) {
        buf[strcspn(buf, "\n")] = '\0';
        memcpy(p->comm, buf, sizeof p->comm);
    } else {
        snprintf(p->comm, sizeof p->comm, "?");
    }
    return s->nprocs - 1;
}

/*
 * Match a fdinfo "lock:" line of (proc, fd) to a held line: of identical
 * lines (two owners may hold the same range), one this fd does not carry
 * yet, with the fewest carriers.  Refs of this fd start at `first`.
 */
static void add_ref(struct snap *s, int proc, int fd, const struct lk *l, int first)
{
    int best = -1;
    unsigned b = lock_hash(l) & (unsigned)(s->hsize - 1);
    for (int i = s->hhead[b]; i >= 0; i = s->hnext[i]) {
        struct lk *c = &s->locks[i];
        if (c->blocked || !same_lock(c, l))
            continue;
        int mine = 0;
        for (int r = first; r < s->nrefs && !mine; r++)
            mine = s->refs[r].lock == i;
        if (mine)
            continue;
        if (best < 0 || c->nrefs < s->locks[best].nrefs)
            best = i;
        if (c->nrefs == 0)
            break;
    }
    if (best < 0)               /* taken after our read of /proc/locks, or */
        best = add_line(s, l);  /* a line the read missed: the fd holds it */
    s->locks[best].nrefs++;
    s->locks[best].present = 1;
    struct ref *r = PUSH(s->refs, s->nrefs, s->caprefs);
    memset(r, 0, sizeof *r);
    r->lock = best;
    r->proc = proc;
    r->kfd = fd;
    r->v.private_fd = -1;
}

/* fdinfo "flags:" (octal), or -1. */
static long fd_flags(pid_t pid, int fd)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
    if (read_small(path, buf, sizeof buf) < 0)
        return -1;
    char *f = strstr(buf, "flags:");
    return f ? strtol(f + 6, NULL, 8) : -1;
}

/* fdinfo "pos:", or 0. */
static long long fd_pos(pid_t pid, int fd)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", (int)pid, fd);
    if (read_small(path, buf, sizeof buf) < 0)
        return 0;
    char *f = strstr(buf, "pos:");
    return f ? strtoll(f + 4, NULL, 10) : 0;
}

/*
 * The range a blocked fcntl asks for, from the caller's struct flock
 * (x86_64/aarch64 layout, as the kernel reads it).  0 when read.
 */
static int read_flock(struct cand *c, pid_t pid, unsigned long addr, const struct stat *st)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/mem", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct flock fl;
    ssize_t n = pread(fd, &fl, sizeof fl, (off_t)addr);
    close(fd);
    if (n != (ssize_t)sizeof fl)
        return -1;
    if (fl.l_type != F_RDLCK && fl.l_type != F_WRLCK)
        return -1;
    c->type = fl.l_type == F_WRLCK;
    int64_t base = fl.l_whence == SEEK_SET ? 0 :
                   fl.l_whence == SEEK_CUR ? fd_pos(pid, c->fd) :
                   fl.l_whence == SEEK_END ? (int64_t)st->st_size : -1;
    if (base < 0)
        return 0;               /* type known, range not */
    int64_t start, end;
    if (__builtin_add_overflow(base, (int64_t)fl.l_start, &start) || start < 0)
        return 0;
    if (fl.l_len > 0) {
        if (__builtin_add_overflow(start, (int64_t)fl.l_len - 1, &end))
            end = -1;
    } else if (fl.l_len == 0) {
        end = -1;
    } else {
        end = start - 1;
        if (__builtin_add_overflow(start, (int64_t)fl.l_len, &start) || start < 0)
            return 0;
    }
    c->has_range = 1;
    c->start = start;
    c->end = end;
    return 0;
}

/* A thread of proc blocked in a lock call: remember it for matching. */
static void scan_task(struct snap *s, int proc, pid_t tid)
{
    pid_t pid = s->procs[proc].pid;
    char path[96], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%d/syscall", (int)pid, (int)tid);
    if (read_small(path, buf, sizeof buf) <= 0)
        return;
    long nr;
    unsigned long a0, a1, a2;
    if (sscanf(buf, "%ld %lx %lx %lx", &nr, &a0, &a1, &a2) != 4)
        return;
    struct cand c = { .proc = proc, .tid = tid, .fd = (int)a0, .type = -1 };
    if (nr == SYS_fcntl && (a1 == F_SETLKW || a1 == F_OFD_SETLKW)) {
        c.family = a1 == F_SETLKW ? FAM_POSIX : FAM_OFD;
        c.call = "fcntl";
    } else if (nr == SYS_flock && !(a1 & LOCK_NB) && (a1 & (LOCK_SH | LOCK_EX))) {
        c.family = FAM_FLOCK;
        c.call = "flock";
        c.type = (a1 & LOCK_EX) != 0;
        c.has_range = 1;
        c.start = 0;
        c.end = -1;
    } else {
        return;
    }
    struct stat st;
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)pid, c.fd);
    if (stat(path, &st) != 0)
        return;
    c.dev = st.st_dev;
    c.ino = st.st_ino;
    if (c.family != FAM_FLOCK)
        read_flock(&c, pid, a2, &st);
    *PUSH(s->cands, s->ncands, s->capcands) = c;
}

/* The fdinfo lock lines and blocked threads of one process. */
static void scan_proc(struct snap *s, pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fdinfo", (int)pid);
    DIR *d = opendir(path);
    if (!d && errno != EACCES && errno != EPERM)
        return;                         /* gone */
    int proc = add_proc(s, pid);
    if (!d) {
        s->procs[proc].inspectable = 0;
        s->uninspectable++;
        return;
    }
    struct dirent *de;
    char *buf = NULL;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        int fd = atoi(de->d_name);
        char fpath[96];
        snprintf(fpath, sizeof fpath, "/proc/%d/fdinfo/%d", (int)pid, fd);
        free(buf);
        buf = slurp(fpath, NULL);
        if (!buf)
            continue;
        int first = s->nrefs;
        for (char *p = strstr(buf, "\nlock:"); p; p = strstr(p + 1, "\nlock:")) {
            struct lk l;
            char *nl = strchr(p + 1, '\n');
            char save = 0;
            if (nl) { save = *nl; *nl = '\0'; }
            int ok = parse_lock(p + 6, &l) == 0;
            if (nl) *nl = save;
            if (ok)
                add_ref(s, proc, fd, &l, first);
        }
    }
    free(buf);
    closedir(d);

    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    d = opendir(path);
    if (!d)
        return;
    while ((de = readdir(d)))
        if (isdigit((unsigned char)de->d_name[0]))
            scan_task(s, proc, (pid_t)atoi(de->d_name));
    closedir(d);
}

/*
 * Test hook: LOCKSCOPE__LS_SYNC=FIFO makes ls stop after its first read of
 * /proc/locks (write a line to FIFO, then read it to its end), so a test can
 * make a holder exit exactly while ls runs.
 */
static void test_sync(void)
{
    const char *fifo = getenv("LOCKSCOPE__LS_SYNC");
    if (!fifo || !*fifo)
        return;
    int fd = open(fifo, O_WRONLY | O_CLOEXEC);
    if (fd >= 0) {
        if (write(fd, "scanned\n", 8) < 0) { /* nothing to do */ }
        close(fd);
    }
    fd = open(fifo, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        char b[64];
        while (read(fd, b, sizeof b) > 0)
            ;
        close(fd);
    }
}

static int by_pid(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* Source 2: one pass over the processes that can matter. */
static void scan_procs(struct snap *s)
{
    int all = 0;
    for (int i = 0; i < s->nlocks; i++)
        if (s->locks[i].kpid <= 0)
            all = 1;
    if (s->nlocks == 0)
        return;
    if (!all) {
        long *pids = malloc(((size_t)(unsigned)s->nlocks + 1) * sizeof *pids);
        if (!pids)
            oom();
        for (int i = 0; i < s->nlocks; i++)
            pids[i] = s->locks[i].kpid;
        qsort(pids, (size_t)s->nlocks, sizeof *pids, by_pid);
        for (int i = 0; i < s->nlocks; i++)
            if (i == 0 || pids[i] != pids[i - 1])
                scan_proc(s, (pid_t)pids[i]);
        free(pids);
        return;
    }
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)))
        if (isdigit((unsigned char)de->d_name[0]))
            scan_proc(s, (pid_t)atoi(de->d_name));
    closedir(d);
}

/* Pids that only the second read named: scan them too.  One that cannot
 * be seen at all (gone, or /proc mounted with hidepid) keeps the pid the
 * kernel gave, as not inspectable. */
static void scan_late_pids(struct snap *s)
{
    for (int i = 0; i < s->nlocks; i++) {
        long pid = s->locks[i].kpid;
        if (pid <= 0 || !s->locks[i].present)
            continue;
        int known = 0;
        for (int p = 0; p < s->nprocs && !known; p++)
            known = s->procs[p].pid == pid;
        if (known)
            continue;
        scan_proc(s, (pid_t)pid);
        known = 0;
        for (int p = 0; p < s->nprocs && !known; p++)
            known = s->procs[p].pid == pid;
        if (!known) {
            int p = add_proc(s, (pid_t)pid);    /* may move s->procs */
            s->procs[p].inspectable = 0;
        }
    }
}

/* Under the shim?  In which mode?  Its fd limit (where private fds live). */
static void look_proc(struct proc *p)
{
    if (p->looked)
        return;
    p->looked = 1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/maps", (int)p->pid);
    FILE *f = fopen(path, "re");
    if (f) {
        char *line = NULL;
        size_t cap = 0;
        p->shim = 0;
        while (getline(&line, &cap, f) > 0) {
            size_t n = strcspn(line, "\n");
            line[n] = '\0';
            const char *slash = strrchr(line, '/');
            if (slash && strcmp(slash + 1, "liblockscope.so") == 0) {
                p->shim = 1;
                break;
            }
        }
        free(line);
        fclose(f);
    }
    if (p->shim == 1) {
        size_t len;
        snprintf(path, sizeof path, "/proc/%d/environ", (int)p->pid);
        char *env = slurp(path, &len);
        if (env) {
            snprintf(p->mode, sizeof p->mode, "fix");
            for (size_t k = 0; k < len; k += strlen(env + k) + 1)
                if (strncmp(env + k, "LOCKSCOPE_MODE=", 15) == 0)
                    snprintf(p->mode, sizeof p->mode, "%s", env + k + 15);
            free(env);
        }
    }
    snprintf(path, sizeof path, "/proc/%d/limits", (int)p->pid);
    char *lim = slurp(path, NULL);
    if (lim) {
        char *m = strstr(lim, "Max open files");
        if (m) {
            m += strlen("Max open files");
            while (*m == ' ')
                m++;
            p->nofile = strncmp(m, "unlimited", 9) == 0 ? -1 : strtoll(m, NULL, 10);
        }
        free(lim);
    }
}

/* The guess, for a process the registry says nothing of: a private fd of
 * the shim is high (as shim/fdtable.c places it, or half that when it
 * could not) and close-on-exec. */
static int guess_private(const struct proc *p, int fd)
{
    long long base = p->nofile < 0 ? 1 << 16 :
                     p->nofile > 64 ? p->nofile - p->nofile / 4 : 0;
    if (base >= (1 << 20))
        base = (1 << 20) - 4096;
    if (p->shim != 1 || base == 0 || fd < base / 2)
        return 0;
    long fl = fd_flags(p->pid, fd);
    return fl >= 0 && (fl & O_CLOEXEC);
}

/* Is fd, open on (dev, ino), the shim's private fd?  The registry's answer
 * where it has one: yes for an fd its live records of converted locks
 * name; no for another fd of a file it has such records of (they name
 * every owner that holds a lock there) unless a thread of the process waits
 * on that file (a waiting owner may hold nothing yet: not named).  Else
 * the guess. */
static int private_fd_of(const struct proc *p, int fd, dev_t dev, ino_t ino)
{
    if (p->shim != 1)
        return 0;
    int held = 0, waits = 0;
    for (int i = 0; i < p->nregfds; i++) {
        const struct regfd *r = &p->regfds[i];
        if (r->dev != dev || r->ino != ino)
            continue;
        if (r->fd == fd)
            return 1;
        if (r->fd < 0)
            waits = 1;
        else
            held = 1;
    }
    return held && !waits ? 0 : guess_private(p, fd);
}

static int pfd_cmp(const void *a, const void *b)
{
    const struct pfd *x = a, *y = b;
    return (x->fd > y->fd) - (x->fd < y->fd);
}

/* The process's fds (see struct pfd); empty when they cannot be read. */
static void fds_of(struct proc *p)
{
    if (p->pfds_built)
        return;
    p->pfds_built = 1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)p->pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    int cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        int fd = atoi(de->d_name);
        char fpath[96];
        struct stat st;
        snprintf(fpath, sizeof fpath, "/proc/%d/fd/%d", (int)p->pid, fd);
        if (stat(fpath, &st) != 0)
            continue;
        if (p->npfds == cap) {
            cap = cap ? 2 * cap : 64;
            struct pfd *n = realloc(p->pfds, (size_t)cap * sizeof *n);
            if (!n)
                break;
            p->pfds = n;
        }
        p->pfds[p->npfds++] = (struct pfd){ fd, private_fd_of(p, fd, st.st_dev, st.st_ino),
                                            st.st_dev, st.st_ino };
    }
    closedir(d);
    qsort(p->pfds, (size_t)p->npfds, sizeof *p->pfds, pfd_cmp);
}

static int is_private(struct proc *p, int fd)
{
    if (p->shim != 1)
        return 0;
    fds_of(p);
    struct pfd key = { .fd = fd };
    const struct pfd *f = bsearch(&key, p->pfds, (size_t)p->npfds, sizeof key, pfd_cmp);
    return f ? f->priv : guess_private(p, fd);    /* opened since: no stat */
}

static void fill_view(struct proc *p, int kfd, struct fdview *v)
{
    char path[64], buf[4096];
    v->private_fd = -1;
    v->nfds = 0;
    free(v->path);
    v->path = NULL;
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)p->pid, kfd);
    ssize_t n = readlink(path, buf, sizeof buf - 1);
    if (n < 0)
        return;
    buf[n] = '\0';
    v->path = xstrdup(buf);
    v->deleted = n > 10 && strcmp(buf + n - 10, " (deleted)") == 0;
    look_proc(p);
    struct stat kst;
    if (!is_private(p, kfd) || stat(path, &kst) != 0) {
        v->fds[v->nfds++] = kfd;
        return;
    }
    v->private_fd = kfd;
    fds_of(p);
    for (int i = 0; i < p->npfds; i++) {      /* sorted by fd: so are v->fds */
        const struct pfd *f = &p->pfds[i];
        if (f->fd == kfd || f->dev != kst.st_dev || f->ino != kst.st_ino || f->priv)
            continue;
        if (v->nfds < LS_MAX_FDS)
            v->fds[v->nfds++] = f->fd;
    }
}

/* ---- source 3: the shim's registry (shim/registry.h) ---------------------- */

static int pub_cb(void *ctx, const struct ls_pub *e)
{
    struct snap *s = ctx;
    *PUSH(s->pubs, s->npubs, s->cappubs) = *e;
    return 0;
}

/* Another user's registry, as root: the directory the registry would use
 * for uid (ls_registry_dir: owned by uid, closed to others, no symlink; its
 * $HOME candidate from uid's passwd entry), read with our effective uid set
 * to uid so that the reader's own checks (file owned by the reader, 0600,
 * not a symlink) hold for uid's file and no other. */
static void read_registry_of(struct snap *s, uid_t uid)
{
    char dir[1024];
    char *home = getenv("HOME") ? xstrdup(getenv("HOME")) : NULL;
    struct passwd *pw = getpwuid(uid);
    if (pw && pw->pw_dir)
        setenv("HOME", pw->pw_dir, 1);
    else
        unsetenv("HOME");
    int r = ls_registry_dir(uid, dir, sizeof dir);
    if (home)
        setenv("HOME", home, 1);
    else
        unsetenv("HOME");
    free(home);
    if (r != 0)
        return;
    if (seteuid(uid) != 0)
        return;
    ls_registry_scan(dir, pub_cb, s);
    if (seteuid(0) != 0) {
        fputs("lockscope ls: cannot return to uid 0\n", stderr);
        exit(1);
    }
}

static void add_uid(uid_t **uids, int *n, int *cap, uid_t u)
{
    for (int i = 0; i < *n; i++)
        if ((*uids)[i] == u)
            return;
    *PUSH(*uids, *n, *cap) = u;
}

/* uids named by the registry locations' directory names: PREFIXuid. */
static void uids_in(const char *dir, const char *prefix, uid_t **uids, int *n, int *cap)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    size_t pl = strlen(prefix);
    struct dirent *de;
    while ((de = readdir(d))) {
        const char *nm = de->d_name;
        if (strncmp(nm, prefix, pl) != 0 || !isdigit((unsigned char)nm[pl]))
            continue;
        char *end;
        unsigned long u = strtoul(nm + pl, &end, 10);
        if (!*end && u < (unsigned long)(uid_t)-1)
            add_uid(uids, n, cap, (uid_t)u);
    }
    closedir(d);
}

/* Source 3: every live record of the registries we may read: our own user's
 * (ls_registry_dir, ls_registry_scan apply the liveness rules), and as root
 * every user's (the uids the registry locations name, and the owners of the
 * processes in the snapshot, whose registry may be under their $HOME). */
static void read_registry(struct snap *s)
{
    char dir[1024];
    uid_t me = geteuid();
    if (s->nlocks == 0)
        return;                 /* records only ever explain lines */
    if (ls_registry_dir(me, dir, sizeof dir) == 0)
        ls_registry_scan(dir, pub_cb, s);
    if (me != 0)
        return;
    uid_t *uids = NULL;
    int n = 0, cap = 0;
    uids_in("/dev/shm", "lockscope-", &uids, &n, &cap);
    uids_in("/tmp", "lockscope-", &uids, &n, &cap);
    uids_in("/run/user", "", &uids, &n, &cap);
    for (int i = 0; i < s->nprocs; i++) {
        char path[64];
        struct stat st;
        snprintf(path, sizeof path, "/proc/%d", (int)s->procs[i].pid);
        if (stat(path, &st) == 0)
            add_uid(&uids, &n, &cap, st.st_uid);
    }
    for (int i = 0; i < n; i++)
        if (uids[i] != 0)
            read_registry_of(s, uids[i]);
    free(uids);
}

static int dev_is(const struct lk *l, dev_t dev, ino_t ino)
{
    return l->maj == major(dev) && l->min == minor(dev) && l->ino == (unsigned long long)ino;
}

static int pub_on(const struct lk *l, const struct ls_pub *e)
{
    return dev_is(l, (dev_t)e->dev, (ino_t)e->ino);
}

static int64_t lk_end(const struct lk *l)
{
    return l->end < 0 ? INT64_MAX : l->end;
}

/* The record's pid is still the process that published it. */
static int pub_live(const struct ls_pub *e)
{
    return e->pid > 0 && ls_reg_starttime(e->pid) == e->starttime;
}

static const char *mode_name(int m)
{
    return m == 1 ? "audit" : m == 2 ? "fix" : m == 3 ? "strict" : "";
}

/* Held record e is consistent with held line l (what /proc shows): same
 * file, the family the shim uses for it (a converted POSIX lock and the
 * program's own OFD lock are OFD locks to the kernel), the line inside the
 * record's hull (equal to it when exact), compatible type. */
static int pub_matches(const struct lk *l, const struct ls_pub *e)
{
    if (e->kind != LS_PUB_HELD || l->blocked || !pub_on(l, e))
        return 0;
    if (e->family == LS_FAM_FLOCK ? l->family != FAM_FLOCK || (l->kpid > 0 && l->kpid != e->pid)
                                  : l->family != FAM_OFD)
        return 0;
    int64_t le = lk_end(l);
    if (e->exact ? (l->start != e->start || le != e->end) : (l->start < e->start || le > e->end))
        return 0;
    if (l->write ? !e->type : (e->exact && e->type))
        return 0;
    return 1;
}

static void set_reg_modes(struct snap *s)
{
    for (int k = 0; k < s->npubs; k++) {
        const struct ls_pub *e = &s->pubs[k];
        if (e->kind != LS_PUB_HELD || !mode_name(e->mode)[0])
            continue;
        for (int i = 0; i < s->nprocs; i++)
            if (s->procs[i].pid == e->pid && !s->procs[i].reg_mode[0] && pub_live(e))
                snprintf(s->procs[i].reg_mode, sizeof s->procs[i].reg_mode, "%s", mode_name(e->mode));
    }
}

/* What the registry says of each process's fds, for private_fd_of: the
 * private fd of every live record of a converted (POSIX) lock, and the
 * files its threads wait on.  Before any view is filled. */
static void reg_privates(struct snap *s)
{
    for (int k = 0; k < s->npubs; k++) {
        const struct ls_pub *e = &s->pubs[k];
        int held = e->kind == LS_PUB_HELD && e->family == LS_FAM_POSIX && e->fd >= 0;
        if (!held && e->kind != LS_PUB_WAITING)
            continue;
        for (int i = 0; i < s->nprocs; i++) {
            struct proc *p = &s->procs[i];
            if (p->pid != e->pid)
                continue;
            if (pub_live(e))
                *PUSH(p->regfds, p->nregfds, p->capregfds) =
                    (struct regfd){ (dev_t)e->dev, (ino_t)e->ino, held ? e->fd : -1 };
            break;
        }
    }
}

/* A process the registry names that the scan of /proc did not see at all
 * (hidden, or not among the pids scanned): not inspectable. */
static int reg_proc(struct snap *s, pid_t pid)
{
    int before = s->nprocs, p = add_proc(s, pid);
    if (s->nprocs > before)
        s->procs[p].inspectable = 0;
    return p;
}

/* A process whose fdinfo was read: its locks are known from there. */
static int proc_read(const struct snap *s, pid_t pid)
{
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == pid)
            return s->procs[i].inspectable;
    return 0;
}

/* Held lines no fd was found for (a process whose fdinfo we may not read):
 * the live record that names exactly them (a hull of several ranges names
 * none: nothing is guessed) gives the holder.  Not for a record of a
 * process whose fdinfo we read, nor for a line with an identical twin that
 * an fd carries (the page race's echo, dropped later). */
static void registry_holders(struct snap *s)
{
    if (!s->npubs)
        return;
    s->pub_used = calloc((size_t)s->npubs, 1);
    if (!s->pub_used)
        oom();
    for (int i = 0; i < s->nlocks; i++) {
        struct lk *l = &s->locks[i];
        if (l->blocked || l->nrefs)
            continue;
        int echo = 0;
        unsigned b = lock_hash(l) & (unsigned)(s->hsize - 1);
        for (int j = s->hhead[b]; j >= 0 && !echo; j = s->hnext[j])
            echo = j != i && same_lock(&s->locks[j], l) && s->locks[j].nrefs > 0;
        if (echo)
            continue;
        for (int k = 0; k < s->npubs; k++) {
            const struct ls_pub *e = &s->pubs[k];
            if (s->pub_used[k] || !e->exact || !pub_matches(l, e) || proc_read(s, e->pid) ||
                !pub_live(e))
                continue;
            s->pub_used[k] = 1;
            int p = reg_proc(s, e->pid);
            struct ref *r = PUSH(s->refs, s->nrefs, s->caprefs);
            memset(r, 0, sizeof *r);
            r->lock = i;
            r->proc = p;
            r->kfd = -1;
            r->from_reg = 1;
            r->pfam = e->family;
            r->v.private_fd = -1;
            if (e->fd >= 0 && e->family == LS_FAM_POSIX) {
                r->v.private_fd = e->fd;
                if (e->pfd1 > 0)        /* the program fd it was taken through */
                    r->v.fds[r->v.nfds++] = e->pfd1 - 1;
            } else if (e->fd >= 0)
                r->v.fds[r->v.nfds++] = e->fd;
            l->nrefs++;
            break;
        }
    }
}

/* fd of pid is open on the same file as kfd. */
static int same_file(pid_t pid, int fd, int kfd)
{
    char a[64], b[64];
    struct stat x, y;
    snprintf(a, sizeof a, "/proc/%d/fd/%d", (int)pid, fd);
    snprintf(b, sizeof b, "/proc/%d/fd/%d", (int)pid, kfd);
    return stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

/* Holders seen in fdinfo: a live record of the same pid, file and range
 * that names the fd carrying the lock (or one of the program's fds of that
 * file) says which family the program used, whether kfd is the shim's
 * private fd, and, when it names a program fd, exactly which. */
static void registry_refine(struct snap *s)
{
    for (int i = 0; i < s->nrefs; i++) {
        struct ref *r = &s->refs[i];
        if (r->from_reg)
            continue;
        const struct lk *l = &s->locks[r->lock];
        struct proc *p = &s->procs[r->proc];
        const struct ls_pub *best = NULL;
        int other = 0;          /* records naming some other program fd */
        for (int k = 0; k < s->npubs; k++) {
            const struct ls_pub *e = &s->pubs[k];
            if (e->pid != p->pid || !pub_matches(l, e) || e->fd < 0)
                continue;
            if (e->fd == r->kfd) {
                best = e;
                other = 0;
                break;
            }
            if (!is_private(p, e->fd) && same_file(p->pid, e->fd, r->kfd)) {
                other++;
                best = e;
            }
        }
        /* two owners with identical ranges: which record is this fd's? */
        if (!best || other > 1 || !pub_live(best))
            continue;
        r->pfam = best->family;
        if (best->fd == r->kfd) {
            /* a record naming kfd itself: its view knows already
             * (reg_privates); of the program's fds of the file, the one
             * the shim says the last lock went through, if it is still
             * one of them */
            for (int k = 0; best->pfd1 > 0 && r->v.private_fd == r->kfd && k < r->v.nfds; k++)
                if (r->v.fds[k] == best->pfd1 - 1) {
                    r->v.fds[0] = r->v.fds[k];
                    r->v.nfds = 1;
                    break;
                }
        } else if (best->fd != r->v.private_fd) {
            r->v.nfds = 1;          /* the program's fd, as the shim knows it */
            r->v.fds[0] = best->fd;
        }
    }
}

/* ---- waiters and chains ------------------------------------------------ */

/*
 * A read of /proc/locks racing with changes may also show a line twice.  A
 * line nobody accounts for (a held one no fd carries, a blocked one no
 * thread waits in) that has an accounted twin is taken for such an echo
 * (so an identical lock or request of a process we may not inspect is not
 * shown beside a visible one).  A blocked line no thread waits in, in a
 * process we can inspect, was granted meanwhile.
 */
static void drop_echoes(struct snap *s)
{
    for (int i = 0; i < s->nlocks; i++) {
        struct lk *l = &s->locks[i];
        if (!l->present || (l->blocked ? l->claimed : l->nrefs > 0))
            continue;
        int hidden;
        if (l->kpid > 0) {
            hidden = 1;
            for (int p = 0; p < s->nprocs; p++)
                if (s->procs[p].pid == l->kpid)
                    hidden = !s->procs[p].inspectable;
        } else {
            hidden = s->uninspectable > 0;
        }
        if (l->blocked && !hidden) {
            l->present = 0;
            continue;
        }
        for (int j = s->hhead[lock_hash(l) & (unsigned)(s->hsize - 1)]; j >= 0; j = s->hnext[j]) {
            const struct lk *t = &s->locks[j];
            if (j != i && same_lock(t, l) && (l->blocked ? t->claimed : t->nrefs > 0)) {
                l->present = 0;
                break;
            }
        }
    }
}

/* refs grouped by the line they carry (a counting sort). */
static void refs_by_lock(struct snap *s)
{
    s->lr_off = calloc((size_t)s->nlocks + 1, sizeof *s->lr_off);
    s->lr = malloc(((size_t)s->nrefs + 1) * sizeof *s->lr);
    if (!s->lr_off || !s->lr)
        oom();
    for (int r = 0; r < s->nrefs; r++)
        s->lr_off[s->refs[r].lock + 1]++;
    for (int i = 0; i < s->nlocks; i++)
        s->lr_off[i + 1] += s->lr_off[i];
    int *fill = calloc((size_t)s->nlocks + 1, sizeof *fill);
    if (!fill)
        oom();
    for (int r = 0; r < s->nrefs; r++) {
        int i = s->refs[r].lock;
        s->lr[s->lr_off[i] + fill[i]++] = r;
    }
    free(fill);
}

/* Give each blocked line the thread that waits for it. */
static void match_waiters(struct snap *s)
{
    for (int c = 0; c < s->ncands; c++) {
        struct cand *k = &s->cands[c];
        pid_t pid = s->procs[k->proc].pid;
        for (int i = 0; i < s->nlocks; i++) {
            struct lk *l = &s->locks[i];
            if (!l->blocked || l->claimed || l->family != k->family ||
                !dev_is(l, k->dev, k->ino) ||
                (l->family != FAM_OFD && l->kpid != pid) ||
                (k->type >= 0 && l->write != k->type) ||
                (k->has_range && (l->start != k->start || l->end != k->end)))
                continue;
            l->claimed = 1;
            l->present = 1;     /* a thread waits for it: it is there */
            struct waiter *w = PUSH(s->waiters, s->nwaiters, s->capwaiters);
            memset(w, 0, sizeof *w);
            w->lock = i;
            w->proc = k->proc;
            w->tid = k->tid;
            w->kfd = k->fd;
            w->call = k->call;
            fill_view(&s->procs[k->proc], k->fd, &w->v);
            break;
        }
    }
    /* Threads the registry says wait (the shim publishes its waiters before
     * it blocks): one the syscall scan found is not listed again; another
     * (its task not readable to us) takes the blocked line it asks for. */
    for (int k = 0; k < s->npubs; k++) {
        const struct ls_pub *e = &s->pubs[k];
        if (e->kind != LS_PUB_WAITING)
            continue;
        int seen = 0;
        for (int x = 0; x < s->nwaiters && !seen; x++)
            seen = s->waiters[x].proc >= 0 && s->procs[s->waiters[x].proc].pid == e->pid &&
                   s->waiters[x].tid == e->tid;
        for (int c = 0; c < s->ncands && !seen; c++)
            seen = s->procs[s->cands[c].proc].pid == e->pid && s->cands[c].tid == e->tid;
        if (seen)
            continue;
        for (int i = 0; i < s->nlocks; i++) {
            struct lk *l = &s->locks[i];
            if (!l->blocked || l->claimed || l->family != FAM_OFD || !pub_on(l, e) ||
                l->start != e->start || lk_end(l) != e->end || l->write != (e->type != 0))
                continue;
            l->claimed = 1;
            l->present = 1;
            int p = reg_proc(s, e->pid);
            struct waiter *w = PUSH(s->waiters, s->nwaiters, s->capwaiters);
            memset(w, 0, sizeof *w);
            w->lock = i;
            w->proc = p;
            w->tid = e->tid;
            w->kfd = -1;
            w->call = "fcntl";
            w->v.private_fd = -1;
            break;
        }
    }
    /* Blocked requests no thread was found for: not inspectable (or gone). */
    for (int i = 0; i < s->nlocks; i++) {
        struct lk *l = &s->locks[i];
        if (!l->blocked || l->claimed)
            continue;
        struct waiter *w = PUSH(s->waiters, s->nwaiters, s->capwaiters);
        memset(w, 0, sizeof *w);
        w->lock = i;
        w->proc = l->kpid > 0 ? add_proc(s, (pid_t)l->kpid) : -1;
        w->kfd = -1;
        w->v.private_fd = -1;
    }
}

static int overlap(const struct lk *a, const struct lk *b)
{
    int64_t ae = a->end < 0 ? INT64_MAX : a->end;
    int64_t be = b->end < 0 ? INT64_MAX : b->end;
    return a->start <= be && b->start <= ae;
}

/* Does held line h keep waiter w waiting?  (fs/locks.c's conflict rules:
 * flock against flock, POSIX and OFD against both, one side a write lock,
 * ranges overlapping, not the waiter's own owner.) */
static int blocks(const struct snap *s, const struct waiter *w, int hi)
{
    const struct lk *q = &s->locks[w->lock], *h = &s->locks[hi];
    if (h->blocked || h->maj != q->maj || h->min != q->min || h->ino != q->ino)
        return 0;
    if (q->family == FAM_OTHER || h->family == FAM_OTHER ||
        (q->family == FAM_FLOCK) != (h->family == FAM_FLOCK))
        return 0;
    if ((!q->write && !h->write) || !overlap(q, h))
        return 0;
    if (q->family == FAM_POSIX && h->family == FAM_POSIX && q->kpid == h->kpid)
        return 0;
    for (int k = s->lr_off[hi]; k < s->lr_off[hi + 1]; k++) {   /* its own description */
        const struct ref *r = &s->refs[s->lr[k]];
        if (w->proc >= 0 && r->proc == w->proc && r->kfd >= 0 && r->kfd == w->kfd)
            return 0;
    }
    return 1;
}

static void add_hold(struct waiter *w, int h)
{
    for (int k = 0; k < w->nhold; k++)
        if (w->hold[k] == h)
            return;
    if (w->nhold < LS_MAX_HOLD)
        w->hold[w->nhold++] = h;
}

static void add_holders_of(const struct snap *s, struct waiter *w, int hi)
{
    for (int k = s->lr_off[hi]; k < s->lr_off[hi + 1]; k++)
        add_hold(w, s->lr[k]);
    if (s->lr_off[hi] == s->lr_off[hi + 1])
        add_hold(w, -1 - hi);
}

static int hold_proc(const struct snap *s, int h)
{
    if (h >= 0)
        return s->refs[h].proc;
    const struct lk *l = &s->locks[-1 - h];
    if (l->kpid <= 0)
        return -1;
    for (int i = 0; i < s->nprocs; i++)
        if (s->procs[i].pid == l->kpid)
            return i;
    return -1;
}

static int by_line(const void *a, const void *b)
{
    const struct waiter *x = a, *y = b;
    return (x->lock > y->lock) - (x->lock < y->lock);
}

/* Holders of every waiter, then its chain: holder -> what that holder's
 * threads wait for -> ...; a process met twice closes a cycle. */
static void build_chains(struct snap *s)
{
    if (s->nwaiters > 1)
        qsort(s->waiters, (size_t)s->nwaiters, sizeof *s->waiters, by_line);
    for (int i = 0; i < s->nwaiters; i++) {
        struct waiter *w = &s->waiters[i];
        for (int h = 0; h < s->nlocks; h++)
            if (s->locks[h].present && blocks(s, w, h))
                add_holders_of(s, w, h);
        int root = s->locks[w->lock].root;
        if (w->nhold == 0 && root >= 0 && s->locks[root].present)
            add_holders_of(s, w, root);
    }
    for (int i = 0; i < s->nwaiters; i++) {
        struct waiter *w = &s->waiters[i];
        if (w->proc < 0)
            continue;
        w->chain[w->nchain++] = s->procs[w->proc].pid;
        const struct waiter *cur = w;
        while (cur && w->nchain <= LS_CHAIN_MAX) {
            int next = -1;
            const struct waiter *nw = NULL;
            for (int k = 0; k < cur->nhold && !nw; k++) {
                int p = hold_proc(s, cur->hold[k]);
                if (p < 0)
                    continue;
                if (next < 0)
                    next = p;
                for (int x = 0; x < s->nwaiters && !nw; x++)
                    if (s->waiters[x].proc == p && s->locks[s->waiters[x].lock].present) {
                        nw = &s->waiters[x];
                        next = p;
                    }
            }
            /* Another owner in the waiter's own process: some other
             * thread of it will release; not a cycle, and the end. */
            if (next < 0 || next == cur->proc)
                break;
            pid_t pid = s->procs[next].pid;
            for (int k = 0; k < w->nchain; k++)
                if (w->chain[k] == pid)
                    w->cycle = 1;
            w->chain[w->nchain++] = pid;
            if (w->cycle)
                break;
            cur = nw;
        }
    }
}

/* ---- output ------------------------------------------------------------ */

static int wanted(const struct opts *o, const struct lk *l)
{
    if (!l->present)
        return 0;
    if (o->ntargets == 0)
        return 1;
    for (int i = 0; i < o->ntargets; i++)
        if (dev_is(l, o->targets[i].dev, o->targets[i].ino))
            return 1;
    return 0;
}

static const char *target_path(const struct opts *o, const struct lk *l)
{
    for (int i = 0; i < o->ntargets; i++)
        if (dev_is(l, o->targets[i].dev, o->targets[i].ino))
            return o->targets[i].path;
    return NULL;
}

struct buf { char *p; size_t len, cap; };

__attribute__((format(printf, 2, 3)))
static void bprintf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (b->p && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = (b->cap + (size_t)n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        if (!b->p)
            oom();
    }
}

/* Printable text: control characters and bytes outside UTF-8 as \xNN. */
static void btext(struct buf *b, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        size_t k = u[i] < 0x80 ? (u[i] >= 0x20 && u[i] != 0x7f) : ls_utf8_seq(u + i, n - i);
        if (k == 0) {
            bprintf(b, "\\x%02x", u[i]);
            i++;
        } else {
            bprintf(b, "%.*s", (int)k, s + i);
            i += k;
        }
    }
}

/* A JSON string (invalid UTF-8 as U+FFFD, as the shim's records do). */
static void bjson(struct buf *b, const char *s)
{
    if (!s) {
        bprintf(b, "null");
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    size_t n = strlen(s);
    bprintf(b, "\"");
    for (size_t i = 0; i < n;) {
        unsigned c = u[i];
        if (c == '"' || c == '\\') {
            bprintf(b, "\\%c", c);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            bprintf(b, "\\u%04x", c);
            i++;
        } else if (c < 0x80) {
            bprintf(b, "%c", c);
            i++;
        } else {
            size_t k = ls_utf8_seq(u + i, n - i);
            if (k == 0) {
                bprintf(b, "\\ufffd");
                i++;
            } else {
                bprintf(b, "%.*s", (int)k, s + i);
                i += k;
            }
        }
    }
    bprintf(b, "\"");
}

static void range_text(struct buf *b, const struct lk *l)
{
    if (l->end < 0)
        bprintf(b, "%" PRId64 "-EOF", l->start);
    else
        bprintf(b, "%" PRId64 "-%" PRId64, l->start, l->end);
}

static void fd_text(struct buf *b, const struct fdview *v, int kfd)
{
    if (v->nfds == 0 && v->private_fd < 0 && kfd < 0) {
        bprintf(b, "?");
        return;
    }
    for (int k = 0; k < v->nfds; k++)
        bprintf(b, "%s%d", k ? "|" : "", v->fds[k]);
    if (v->private_fd >= 0 && v->nfds != 1)
        bprintf(b, "%s(shim %d)", v->nfds ? " " : "", v->private_fd);
    if (v->nfds == 0 && v->private_fd < 0)
        bprintf(b, "%d", kfd);
}

static void path_text(struct buf *b, const struct opts *o, const struct fdview *v, const struct lk *l)
{
    const char *t = v && v->path ? v->path : target_path(o, l);
    if (t)
        btext(b, t);
    else
        bprintf(b, "[dev %u:%u ino %llu]", l->maj, l->min, l->ino);
}

static void shim_text(struct buf *b, const struct proc *p)
{
    if (p->reg_mode[0])
        bprintf(b, "%s", p->reg_mode);     /* the registry: the real mode */
    else if (!p->inspectable)
        bprintf(b, "(not inspectable)");
    else if (p->shim == 1)
        bprintf(b, "%s", p->mode[0] ? p->mode : "yes");
    else if (p->shim == 0)
        bprintf(b, "no");
    else
        bprintf(b, "?");
}

/* "pid 456 (cmd) fd 4" for a holder (ref >= 0) or an unknown one. */
static void holder_text(struct buf *b, const struct snap *s, int h)
{
    int p = hold_proc(s, h);
    if (p < 0) {
        bprintf(b, "pid ? (%s)", s->uninspectable ? "not inspectable" : "holder not found");
        return;
    }
    bprintf(b, "pid %d (", (int)s->procs[p].pid);
    btext(b, s->procs[p].comm);
    bprintf(b, ") fd ");
    if (h >= 0)
        fd_text(b, &s->refs[h].v, s->refs[h].kfd);
    else
        bprintf(b, "?%s", s->procs[p].inspectable ? "" : " (not inspectable)");
}

static void waiter_who(struct buf *b, const struct snap *s, const struct waiter *w)
{
    if (w->proc < 0) {
        bprintf(b, "pid ? (not inspectable)");
        return;
    }
    const struct proc *p = &s->procs[w->proc];
    bprintf(b, "pid %d (", (int)p->pid);
    btext(b, p->comm);
    bprintf(b, ")");
    if (w->tid && w->tid != p->pid)
        bprintf(b, " tid %d", (int)w->tid);
    bprintf(b, " fd ");
    if (w->kfd >= 0)
        fd_text(b, &w->v, w->kfd);
    else
        bprintf(b, "?%s", p->inspectable ? "" : " (not inspectable)");
}

static void waits_for_text(struct buf *b, const struct snap *s, const struct opts *o,
                           const struct waiter *w)
{
    const struct lk *l = &s->locks[w->lock];
    bprintf(b, " waits for %s %s ", l->type, fam_text[l->family]);
    range_text(b, l);
    bprintf(b, " ");
    const struct fdview *v = w->v.path ? &w->v : NULL;
    for (int k = 0; !v && k < w->nhold; k++)
        if (w->hold[k] >= 0 && s->refs[w->hold[k]].v.path)
            v = &s->refs[w->hold[k]].v;
    path_text(b, o, v, l);
    if (w->nhold == 0) {
        bprintf(b, " (holder not found)");
        return;
    }
    bprintf(b, " held by ");
    for (int k = 0; k < w->nhold; k++) {
        if (k)
            bprintf(b, " and ");
        holder_text(b, s, w->hold[k]);
    }
}

static const struct waiter *waiter_of_proc(const struct snap *s, int p)
{
    for (int x = 0; x < s->nwaiters; x++)
        if (s->waiters[x].proc == p && s->locks[s->waiters[x].lock].present)
            return &s->waiters[x];
    return NULL;
}

struct row { char *cell[8]; };

static void print_text(const struct snap *s, const struct opts *o, struct buf *out)
{
    static const char *const head[8] = { "COMMAND", "PID", "FD", "TYPE", "FAMILY",
                                         "RANGE", "PATH", "SHIM" };
    struct row *rows = NULL;
    int nrows = 0, caprows = 0;
    for (int i = 0; i < s->nlocks; i++) {
        const struct lk *l = &s->locks[i];
        if (l->blocked || !wanted(o, l))
            continue;
        int nr = s->lr_off[i + 1] - s->lr_off[i];
        for (int k = nr ? 0 : -1; k < nr; k++) {
            int r = k < 0 ? -1 : s->lr[s->lr_off[i] + k];
            const struct ref *ref = r >= 0 ? &s->refs[r] : NULL;
            int p = hold_proc(s, r >= 0 ? r : -1 - i);
            struct buf c[8] = { { 0 } };
            if (p >= 0) {
                btext(&c[0], s->procs[p].comm);
                bprintf(&c[1], "%d", (int)s->procs[p].pid);
            } else {
                bprintf(&c[0], "?");
                bprintf(&c[1], "?");
            }
            if (ref)
                fd_text(&c[2], &ref->v, ref->kfd);
            else
                bprintf(&c[2], "?");
            bprintf(&c[3], "%s", l->type);
            if (ref && ref->pfam == LS_FAM_POSIX && l->family == FAM_OFD)
                bprintf(&c[4], "POSIX>OFD");    /* converted by the shim */
            else
                bprintf(&c[4], "%s", fam_text[l->family]);
            range_text(&c[5], l);
            path_text(&c[6], o, ref ? &ref->v : NULL, l);
            if (p >= 0 && ref)
                shim_text(&c[7], &s->procs[p]);
            else if (p >= 0 && !s->procs[p].inspectable)
                bprintf(&c[7], "(not inspectable)");
            else
                bprintf(&c[7], p >= 0 || !s->uninspectable ? "? (holder fd not found)"
                                                           : "(not inspectable)");
            struct row *row = PUSH(rows, nrows, caprows);
            for (int k = 0; k < 8; k++)
                row->cell[k] = c[k].p ? c[k].p : xstrdup("");
        }
    }
    size_t wid[8];
    for (int k = 0; k < 8; k++) {
        wid[k] = strlen(head[k]);
        for (int r = 0; r < nrows; r++)
            if (strlen(rows[r].cell[k]) > wid[k])
                wid[k] = strlen(rows[r].cell[k]);
    }
    for (int r = -1; r < nrows; r++) {
        for (int k = 0; k < 8; k++) {
            const char *c = r < 0 ? head[k] : rows[r].cell[k];
            int right = k == 1 || k == 2;
            if (k == 7)
                bprintf(out, "%s\n", c);
            else if (right)
                bprintf(out, "%*s ", (int)wid[k], c);
            else
                bprintf(out, "%-*s ", (int)wid[k], c);
        }
    }
    for (int r = 0; r < nrows; r++)
        for (int k = 0; k < 8; k++)
            free(rows[r].cell[k]);
    free(rows);

    int header = 0;
    for (int i = 0; i < s->nwaiters; i++) {
        const struct waiter *w = &s->waiters[i];
        if (!wanted(o, &s->locks[w->lock]))
            continue;
        if (!header++)
            bprintf(out, "\nWAITERS\n");
        waiter_who(out, s, w);
        waits_for_text(out, s, o, w);
        /* the rest of the chain: what each holder waits for */
        const struct waiter *cur = w;
        for (int k = 1; k < w->nchain && !(w->cycle && k == w->nchain - 1); k++) {
            int p = -1;
            for (int x = 0; x < s->nprocs; x++)
                if (s->procs[x].pid == w->chain[k])
                    p = x;
            const struct waiter *nw = p >= 0 ? waiter_of_proc(s, p) : NULL;
            if (!nw || nw == cur)
                break;
            bprintf(out, "; ");
            waiter_who(out, s, nw);
            waits_for_text(out, s, o, nw);
            cur = nw;
        }
        if (w->cycle) {
            bprintf(out, " -- CYCLE:");
            for (int k = 0; k < w->nchain; k++)
                bprintf(out, " %d", (int)w->chain[k]);
        }
        bprintf(out, "\n");
    }
}

static void json_common(struct buf *b, const struct lk *l, const struct opts *o,
                        const struct fdview *v)
{
    bprintf(b, ",\"fd\":");
    if (v && v->nfds == 1)
        bprintf(b, "%d", v->fds[0]);
    else
        bprintf(b, "null");
    bprintf(b, ",\"fds\":[");
    for (int k = 0; v && k < v->nfds; k++)
        bprintf(b, "%s%d", k ? "," : "", v->fds[k]);
    bprintf(b, "],\"private_fd\":");
    if (v && v->private_fd >= 0)
        bprintf(b, "%d", v->private_fd);
    else
        bprintf(b, "null");
    bprintf(b, ",\"path\":");
    bjson(b, v && v->path ? v->path : target_path(o, l));
    bprintf(b, ",\"deleted\":%s", v && v->path ? (v->deleted ? "true" : "false") : "null");
    bprintf(b, ",\"dev\":\"%u:%u\",\"ino\":%llu,\"start\":%" PRId64 ",\"end\":",
            l->maj, l->min, l->ino, l->start);
    if (l->end < 0)
        bprintf(b, "null,\"len\":0");
    else
        bprintf(b, "%" PRId64 ",\"len\":%" PRId64, l->end, l->end - l->start + 1);
    char type[8];
    snprintf(type, sizeof type, "%s", l->type);
    for (char *c = type; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    bprintf(b, ",\"type\":\"%s\",\"family\":\"%s\"", type, fam_json[l->family]);
}

static void json_proc(struct buf *b, const struct snap *s, int p)
{
    if (p < 0) {
        bprintf(b, "\"pid\":null,\"command\":null");
        return;
    }
    bprintf(b, "\"pid\":%d,\"command\":", (int)s->procs[p].pid);
    bjson(b, s->procs[p].comm);
}

static void json_shim(struct buf *b, const struct snap *s, int p)
{
    const struct proc *pr = p >= 0 ? &s->procs[p] : NULL;
    /* No process named: hidden in one we may not inspect, or (when every
     * process could be read) held by no fd at all (an mmap, a message in
     * flight): then nothing was hidden from us. */
    int insp = pr ? pr->inspectable : !s->uninspectable;
    if (pr && pr->reg_mode[0])
        bprintf(b, ",\"shim\":true");
    else if (pr && pr->inspectable && pr->shim >= 0)
        bprintf(b, ",\"shim\":%s", pr->shim ? "true" : "false");
    else
        bprintf(b, ",\"shim\":null");
    bprintf(b, ",\"mode\":");
    bjson(b, pr && pr->reg_mode[0] ? pr->reg_mode :
             pr && pr->shim == 1 && pr->mode[0] ? pr->mode : NULL);
    bprintf(b, ",\"inspectable\":%s", insp ? "true" : "false");
}

static void print_json(const struct snap *s, const struct opts *o, struct buf *out)
{
    int first = 1;
    bprintf(out, "[");
    for (int i = 0; i < s->nlocks; i++) {
        const struct lk *l = &s->locks[i];
        if (l->blocked || !wanted(o, l))
            continue;
        int nr = s->lr_off[i + 1] - s->lr_off[i];
        for (int k = nr ? 0 : -1; k < nr; k++) {
            int r = k < 0 ? -1 : s->lr[s->lr_off[i] + k];
            const struct ref *ref = r >= 0 ? &s->refs[r] : NULL;
            int p = hold_proc(s, r >= 0 ? r : -1 - i);
            bprintf(out, "%s\n{\"kind\":\"lock\",\"lock\":%d,", first ? "" : ",", l->num);
            first = 0;
            json_proc(out, s, p);
            json_common(out, l, o, ref ? &ref->v : NULL);
            static const char *const pfam[] = { NULL, "posix", "ofd", "flock" };
            bprintf(out, ",\"program_family\":");
            bjson(out, ref && ref->pfam >= 1 && ref->pfam <= 3 ? pfam[ref->pfam] : NULL);
            json_shim(out, s, p);
            bprintf(out, "}");
        }
    }
    for (int i = 0; i < s->nwaiters; i++) {
        const struct waiter *w = &s->waiters[i];
        const struct lk *l = &s->locks[w->lock];
        if (!wanted(o, l))
            continue;
        bprintf(out, "%s\n{\"kind\":\"waiter\",", first ? "" : ",");
        first = 0;
        json_proc(out, s, w->proc);
        bprintf(out, ",\"tid\":");
        if (w->tid)
            bprintf(out, "%d", (int)w->tid);
        else
            bprintf(out, "null");
        json_common(out, l, o, w->kfd >= 0 ? &w->v : NULL);
        bprintf(out, ",\"call\":");
        bjson(out, w->call);
        json_shim(out, s, w->proc);
        bprintf(out, ",\"waiting_for\":[");
        int n = 0;
        for (int k = 0; k < w->nhold; k++) {
            int li = w->hold[k] >= 0 ? s->refs[w->hold[k]].lock : -1 - w->hold[k];
            int dup = 0;
            for (int j = 0; j < k; j++)
                dup |= (w->hold[j] >= 0 ? s->refs[w->hold[j]].lock : -1 - w->hold[j]) == li;
            if (!dup)
                bprintf(out, "%s%d", n++ ? "," : "", s->locks[li].num);
        }
        bprintf(out, "],\"holders\":[");
        for (int k = 0; k < w->nhold; k++) {
            int p = hold_proc(s, w->hold[k]);
            if (p >= 0)
                bprintf(out, "%s%d", k ? "," : "", (int)s->procs[p].pid);
            else
                bprintf(out, "%snull", k ? "," : "");
        }
        bprintf(out, "],\"chain\":[");
        for (int k = 0; k < w->nchain; k++)
            bprintf(out, "%s%d", k ? "," : "", (int)w->chain[k]);
        bprintf(out, "],\"cycle\":%s}", w->cycle ? "true" : "false");
    }
    bprintf(out, "%s]\n", first ? "" : "\n");
}

/* ---- one snapshot -------------------------------------------------------- */

static void free_snap(struct snap *s)
{
    for (int i = 0; i < s->nrefs; i++)
        free(s->refs[i].v.path);
    for (int i = 0; i < s->nwaiters; i++)
        free(s->waiters[i].v.path);
    free(s->locks);
    for (int i = 0; i < s->nprocs; i++) {
        free(s->procs[i].pfds);
        free(s->procs[i].regfds);
    }
    free(s->procs);
    free(s->refs);
    free(s->waiters);
    free(s->cands);
    free(s->hhead);
    free(s->hnext);
    free(s->lr_off);
    free(s->lr);
    free(s->pubs);
    free(s->pub_used);
    memset(s, 0, sizeof *s);
}

static int snapshot(const struct opts *o, struct buf *out)
{
    struct snap s = { 0 };
    int r = read_proc_locks(&s);
    if (r < 0) {
        fprintf(stderr, "lockscope ls: cannot read /proc/locks: %s\n", strerror(-r));
        return 1;
    }
    index_locks(&s);
    test_sync();
    scan_procs(&s);
    recheck_proc_locks(&s);
    scan_late_pids(&s);
    read_registry(&s);
    reg_privates(&s);
    registry_holders(&s);
    refs_by_lock(&s);
    for (int i = 0; i < s.nrefs; i++) {
        struct ref *r = &s.refs[i], *prev = i ? &s.refs[i - 1] : NULL;
        if (r->from_reg)
            continue;
        if (prev && !prev->from_reg && prev->proc == r->proc && prev->kfd == r->kfd) {
            r->v = prev->v;     /* one fd, many locks: its view once */
            if (r->v.path)
                r->v.path = xstrdup(r->v.path);
        } else {
            fill_view(&s.procs[r->proc], r->kfd, &r->v);
        }
    }
    registry_refine(&s);
    set_reg_modes(&s);
    match_waiters(&s);
    drop_echoes(&s);
    int num = 0;
    for (int i = 0; i < s.nlocks; i++)
        if (!s.locks[i].blocked)
            s.locks[i].num = ++num;
    build_chains(&s);
    if (o->json)
        print_json(&s, o, out);
    else
        print_text(&s, o, out);
    free_snap(&s);
    return 0;
}

/* ---- main ------------------------------------------------------------------ */

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static const char ls_usage[] =
"Usage: lockscope ls [PATH...] [--json] [--wait[=SECONDS]]\n"
"\n"
"Show every file lock on the machine (or on the PATHs): holder pid and\n"
"command, the holder's own fd and path, type, range, family (POSIX, OFD,\n"
"FLOCK; POSIX>OFD: a POSIX lock the shim holds as OFD), whether the holder\n"
"runs under lockscope and in which mode (from the shim's registry); then\n"
"every blocked waiter with the holders it waits for, as a wait chain\n"
"(cycles marked).  --json prints one array of objects (\"kind\": \"lock\" or\n"
"\"waiter\"); --wait refreshes every SECONDS (default 2) until interrupted.\n"
"See lockscope(1).\n";

int lockscope_ls_main(int argc, char **argv)
{
    struct opts o = { 0 };
    int status = 0, only_paths = 0;
    o.targets = calloc((size_t)argc, sizeof *o.targets);
    if (!o.targets)
        oom();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!only_paths && strcmp(a, "--") == 0) {
            only_paths = 1;
        } else if (!only_paths && strcmp(a, "--json") == 0) {
            o.json = 1;
        } else if (!only_paths && strcmp(a, "--wait") == 0) {
            o.interval = 2;
        } else if (!only_paths && strncmp(a, "--wait=", 7) == 0) {
            char *end;
            o.interval = strtod(a + 7, &end);
            if (*end || end == a + 7 || !(o.interval >= 0.1 && o.interval <= 86400)) {
                fprintf(stderr, "lockscope ls: --wait: '%s' is not a number of seconds "
                        "from 0.1 to 86400\n", a + 7);
                free(o.targets);
                return 2;
            }
        } else if (!only_paths && (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0)) {
            fputs(ls_usage, stdout);
            free(o.targets);
            return fflush(stdout) != 0;
        } else if (!only_paths && a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "lockscope ls: unknown option '%s' (try 'lockscope ls --help')\n", a);
            free(o.targets);
            return 2;
        } else {
            struct stat st;
            if (stat(a, &st) != 0) {
                fprintf(stderr, "lockscope ls: %s: %s\n", a, strerror(errno));
                status = 1;
                continue;
            }
            o.targets[o.ntargets++] = (struct target){ st.st_dev, st.st_ino, a };
        }
    }
    if (status && o.ntargets == 0) {
        free(o.targets);
        return status;
    }
    if (o.interval > 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_signal;
        sa.sa_flags = SA_RESTART;       /* a write in progress completes */
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
    }
    int tty = isatty(STDOUT_FILENO);
    for (int round = 0; !g_stop; round++) {
        struct buf out = { 0 };
        if (o.interval > 0 && !o.json) {
            time_t now = time(NULL);
            char when[64];
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", localtime(&now));
            bprintf(&out, "%sEvery %.1fs: lockscope ls  %s\n\n",
                    tty ? "\033[H\033[2J" : round ? "\n" : "", o.interval, when);
        }
        if (snapshot(&o, &out) != 0) {
            free(out.p);
            status = 1;
            break;
        }
        if (out.p && (fwrite(out.p, 1, out.len, stdout) != out.len || fflush(stdout) != 0)) {
            int e = errno;
            free(out.p);
            if (g_stop && e == EINTR)
                break;                  /* interrupted: not a failure */
            fprintf(stderr, "lockscope ls: cannot write to stdout: %s\n", strerror(e));
            status = 1;
            break;
        }
        free(out.p);
        if (o.interval <= 0)
            break;
        struct timespec ts = { (time_t)o.interval,
                               (long)((o.interval - (double)(time_t)o.interval) * 1e9) };
        while (!g_stop && nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    free(o.targets);
    return status;
}
