/*
 * model.h - a reference model of POSIX record locks, in plain C, for the
 * model-based fuzzer (fuzz_shim_model.c).  No syscalls, no globals.
 *
 * The universe: M_PROCS processes (0 the driver, 1 its forked child), each
 * with M_FDS fd slots; descriptions (what open makes and dup/fork share)
 * on one of M_FILES files; bytes 0..M_U-1 of each file plus one "tail"
 * slot that stands for every offset >= M_U (ranges end below M_U or at
 * the end of file, so the tail is uniform).
 *
 * Two semantics:
 *   M_NATIVE  what Linux does with classic POSIX locks: the owner is the
 *             process; a lock through any fd converts/merges the process's
 *             lock; ANY close (and dup2 onto an open fd) of the file by the
 *             process drops all its locks on the file; a forked child owns
 *             nothing.  (Also the shim's `off` and `audit` modes.)
 *   M_FIX     lockscope's contract (fix): the owner is (process,
 *             description); owners conflict with each other, also inside
 *             one process (rule 2); a request changes only its own
 *             owner's locks (rule 4); an owner's locks go when the
 *             process's last fd of the description closes (rule 1); a
 *             forked child owns nothing (rule 6).
 *   M_STRICT  as M_FIX, plus: a request that natively would convert or
 *             release another description's lock of the same process
 *             (unlock overlapping it, lock of the other type over it)
 *             fails with ENOLCK before anything else happens.
 * The answers predicted: 0, EBADF (access mode), ENOLCK (strict), EAGAIN
 * (conflict); for F_GETLK the set of acceptable reports.
 */
#ifndef LS_MODEL_H
#define LS_MODEL_H

#include <stdint.h>

#define M_FILES 2
#define M_U 32
#define M_SLOTS (M_U + 1)        /* slot M_U: every offset >= M_U */
#define M_PROCS 2
#define M_FDS 6
#define M_DESCS 16
#define M_TAIL M_U

enum { M_NATIVE = 0, M_FIX, M_STRICT };
enum { M_NONE = 0, M_RD = 1, M_WR = 2 };   /* lock types in the byte maps */

struct m_desc {
    int used;
    int file;
    int acc;                     /* O_RDONLY, O_WRONLY, O_RDWR */
    int nfds[M_PROCS];           /* fds of it in each process */
};

struct model {
    int sem;
    int alive[M_PROCS];
    int fd[M_PROCS][M_FDS];      /* description index, or -1 */
    struct m_desc d[M_DESCS];
    /* locks per owner: key = description (fix/strict) or file (native) */
    unsigned char lk[M_PROCS][M_DESCS][M_SLOTS];
};

/* A range: bytes s..e of the model (e == M_TAIL: to the end of file). */
struct m_range { int s, e; };

void m_init(struct model *m, int sem);
/* Each returns 0, or -1 when the op cannot be applied (a full table): the
 * driver then skips the op on both sides. */
int m_open(struct model *m, int p, int slot, int file, int acc);
int m_dup(struct model *m, int p, int dst, int src);
int m_dup2(struct model *m, int p, int dst, int src);
void m_close(struct model *m, int p, int slot);
void m_fork(struct model *m);
void m_exit_child(struct model *m);

/* Lock (type M_RD/M_WR) or unlock (M_NONE) through p's fd slot: the
 * predicted errno (0 = success); applied to the model on success. */
int m_setlk(struct model *m, int p, int slot, int type, struct m_range r);

/* 1 if a lock request of `type` conflicts only with other processes'
 * locks (so a blocking request waits for them, never for p itself). */
int m_conflict_only_other(const struct model *m, int p, int slot, int type, struct m_range r);

/* F_GETLK of `type` (M_RD/M_WR): 1 if some other owner conflicts. */
int m_getlk_conflicts(const struct model *m, int p, int slot, int type, struct m_range r);
/* Is (rtype, [rs, re]) reported with holder process `hp` a valid F_GETLK
 * answer?  Valid: some owner of process hp conflicts with the request
 * and holds every byte of [rs, re] (re == M_TAIL: to the end) with type
 * rtype, and [rs, re] overlaps the request. */
int m_getlk_valid(const struct model *m, int p, int slot, int type, struct m_range r,
                  int rtype, int hp, int rs, int re);

/* What a process without locks sees at byte b of file f: M_NONE/M_RD/M_WR. */
int m_seen(const struct model *m, int file, int b);

/* The file of p's fd slot, or -1. */
int m_file_of(const struct model *m, int p, int slot);
int m_acc_of(const struct model *m, int p, int slot);

/* One line describing the model's locks (for traces). */
void m_describe(const struct model *m, char *buf, unsigned cap);

#endif
