/*
 * registry.h - the registry shared by a user's processes under the shim:
 * what they hold and what they wait for.  Self-contained (raw syscalls and
 * pthread only, nothing else of the shim) so that the command links it too.
 *
 * WHERE.  One directory per user, that no other user can create, replace or
 * write: the first of
 *     /dev/shm/lockscope-UID
 *     /tmp/lockscope-UID
 *     /run/user/UID/lockscope       (when /run/user/UID is UID's and 0700)
 *     $HOME/.cache/lockscope-run    (when $HOME is UID's, not group/other
 *                                    writable)
 * that is (or can be made with mkdir) a directory owned by UID, opened with
 * O_NOFOLLOW|O_DIRECTORY and checked with fstat (owner; mode made 0700 when
 * ours and looser).  The order is fixed so every process of the user agrees
 * whatever its environment; a name squatted by another user is skipped (a
 * debug line says so) and detection goes on in the next one.  In it, one file
 * per pid namespace, "reg-v2-NS" (NS: the namespace's inode), opened with
 * openat relative to the directory, O_NOFOLLOW, and checked (regular file,
 * ours, 0600, size).  A new file is built under a temporary name and linked
 * into place complete, so nobody ever maps a half-initialised one.
 *
 * THE FILE (all fields native-endian; readers check magic, version and the
 * three geometry words before anything else):
 *
 *   struct ls_reg_hdr   at 0, LS_REG_HDR_SIZE bytes: magic "LSR2", version,
 *                       geometry, the walk lock (a process-shared ROBUST
 *                       pthread mutex: taken over only from a dead owner;
 *                       a live owner is waited for at most 1 s, and it is
 *                       held with all signals blocked: see holder.c)
 *
 * The file is sparse; a page tmpfs cannot back faults with SIGBUS, so header
 * and wait slots are allocated (fallocate) when the file is created or
 * mapped, and a region's pages before a process looks at or claims it past
 * region_hiwater (regions below it have their pages).
 *   wait slots          LS_REG_WAITS x struct ls_reg_wait, at wait_off:
 *                       "thread TID of process PID (start time START) waits
 *                       for dev:ino[start,end] type"; written under the walk
 *                       lock; pid stored last (0 = free)
 *   process regions     LS_REG_REGIONS x LS_REG_REGION_SIZE bytes, at
 *                       region_off: one per live process under the shim,
 *                       claimed with a CAS on its pid word, written by that
 *                       process only (under its own g_mu), read by anyone
 *                       under the region's seqlock (seq odd = being written).
 *                       A region header (struct ls_reg_region) then an open
 *                       addressing table of LS_REG_ENTRIES struct ls_reg_ent,
 *                       hashed on (dev, ino), linear probing, key 0 = empty.
 *                       One entry per lock owner of the process (a private
 *                       description, a flock description): the hull of what
 *                       it holds on the file and whether that is exactly one
 *                       range (exact) or a hull of several.  When the table is
 *                       full the region's `overflow` is set: readers then
 *                       treat that process as unknown (fall back to /proc).
 *
 * A region is believed only while its liveness mutex is held (see struct
 * ls_reg_region): a dead, exec'd or zombie owner's records never count, and a
 * reused pid cannot poison them.  A wait slot is believed only while its pid
 * is alive with the same start time (field 22 of /proc/PID/stat, read once
 * by the publisher).  A region is reclaimed by the next process that needs
 * one once its pid is gone (or has another start time).
 */
#ifndef LOCKSCOPE_REGISTRY_H
#define LOCKSCOPE_REGISTRY_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define LS_REG_MAGIC        0x3252534cu     /* "LSR2" */
#define LS_REG_VERSION      2u
#define LS_REG_HDR_SIZE     4096u
#define LS_REG_WAITS        4096u
#define LS_REG_REGIONS      256u
#define LS_REG_ENTRIES      2048u           /* per region, a power of two */
#define LS_REG_REGION_HDR   128u
#define LS_REG_REGION_SIZE  (LS_REG_REGION_HDR + LS_REG_ENTRIES * 64u)

/* kind */
#define LS_PUB_HELD    1
#define LS_PUB_WAITING 2
/* family */
#define LS_FAM_POSIX   1    /* a classic fcntl/lockf lock, held as OFD on a private description */
#define LS_FAM_OFD     2    /* the program's own F_OFD_* lock */
#define LS_FAM_FLOCK   3    /* flock(2) */
/* mode of the publishing shim: as enum ls_mode (1 audit, 2 fix, 3 strict) */

struct ls_reg_hdr {
    uint32_t magic, version;
    uint32_t hdr_size, nwaits, nregions, nentries, region_size;
    uint32_t pad0;
    uint64_t wait_off, region_off, file_size;
    uint32_t wait_hiwater;  /* wait slots [0, hiwater) may be in use */
    uint32_t wait_seq;
    uint32_t region_hiwater;/* regions [0, hiwater) may be claimed */
    uint32_t pad1;
    pthread_mutex_t walk_mu;
};

struct ls_reg_wait {                /* 56 bytes */
    int32_t pid;            /* 0: free; stored last */
    int32_t tid;
    uint32_t seq;
    int32_t type;           /* 0 read, 1 write */
    uint64_t starttime;
    uint64_t dev, ino;
    int64_t start, end;     /* inclusive; INT64_MAX = EOF */
};

struct ls_reg_region {              /* LS_REG_REGION_HDR bytes */
    int32_t pid;            /* 0: free; claimed by CAS */
    uint32_t seq;           /* seqlock: odd while written */
    uint64_t starttime;
    uint32_t count;         /* entries in use */
    uint32_t overflow;      /* 1: some owners could not be published */
    int32_t mode;
    uint32_t pad[9];
    /* Liveness: a process-shared robust mutex that a thread of the owner
     * keeps locked.  Its futex word (glibc: the first 32 bits) holds that
     * thread's tid; the kernel clears the tid (FUTEX_OWNER_DIED) when the
     * thread exits, execs or the process dies, zombies included.  Readers
     * only load the word: records count while the tid is nonzero. */
    union { pthread_mutex_t mu; uint32_t word; uint8_t space[64]; } alive;
};

struct ls_reg_ent {                 /* 64 bytes */
    uint64_t key;           /* owner id within the process; 0: empty */
    uint64_t dev, ino;
    int64_t start, end;     /* hull of what is held; INT64_MAX = EOF */
    int32_t tid;            /* thread that last locked through it */
    int32_t fd;             /* program's fd (or the private fd), -1 unknown */
    uint8_t family, type, exact, pad8;   /* type 0 read, 1 write (any write in the hull) */
    int32_t pfd1;           /* fd is the private fd: the program fd + 1 the last lock
                               was taken through; 0 unknown (a writer older than it) */
    uint64_t pad2;
};

/* One record as the reader hands it out. */
struct ls_pub {
    int kind;               /* LS_PUB_HELD, LS_PUB_WAITING */
    int family;             /* LS_FAM_*; 0 for a waiter (fcntl-domain) */
    int type;               /* 0 read, 1 write */
    int exact;              /* held: [start,end] is exactly one held range */
    uint64_t dev, ino;
    int64_t start, end;
    pid_t pid, tid;
    uint64_t starttime;
    int fd;
    int pfd1;               /* program fd + 1 behind a private fd, 0 unknown */
    int mode;
};

/* The user's registry directory (see WHERE) into buf; 0 or -errno.  Creates
 * it when needed.  `uid` other than geteuid() only finds an existing one. */
int ls_registry_dir(uid_t uid, char *buf, size_t n);

/* Every live record of the registry in dir, for this pid namespace: fn per
 * record (stop by returning nonzero).  Returns the number of records passed,
 * or -errno. */
int ls_registry_scan(const char *dir, int (*fn)(void *ctx, const struct ls_pub *e), void *ctx);

/* ---- for the shim (all async-signal-safe, no malloc) ---- */

/* Optional debug sink (the shim sets it; NULL: silent). */
extern void (*ls_registry_debug)(const char *msg, const char *detail);

/* The mapped registry of this process, opened at the first call (NULL: no
 * location could be used; said once through ls_registry_debug). */
struct ls_reg_hdr *ls_reg_map(void);
/* The caller's pidns name component and start time (field 22). */
uint64_t ls_reg_starttime(pid_t pid);      /* 0 if unknown */
uint64_t ls_reg_self_start(void);          /* cached per process */

/* Publish / withdraw this process's record `key` (under the process's own
 * serialisation).  0, or -1 when not published (overflow is recorded). */
int ls_reg_put(uint64_t key, const struct ls_pub *rec);
void ls_reg_del(uint64_t key, uint64_t dev, uint64_t ino);
/* In a forked child: forget the parent's region and pid (no syscalls).
 * Every fork of a process using the registry must call it in the child
 * (the shim's atfork handler does). */
void ls_reg_fork_child(void);
extern int ls_reg_used;          /* core.c: any registry state to reset at fork */
pid_t ls_reg_pid(void);                    /* cached getpid() */

/* Held records of OTHER live processes on (dev, ino): fn per record.  Sets
 * *unknown when some process's region overflowed (its pid is passed to
 * unk_fn, which may be NULL).  Returns records passed, or -1 no registry. */
int ls_reg_lookup(uint64_t dev, uint64_t ino, int (*fn)(void *ctx, const struct ls_pub *e),
                  void *ctx, void (*unk_fn)(void *ctx, pid_t pid));
/* Region state of `pid`: 1 known (live, region not overflowed: its records
 * are all it holds through the shim), 0 no region, -1 overflowed. */
int ls_reg_pid_state(pid_t pid);

#endif
