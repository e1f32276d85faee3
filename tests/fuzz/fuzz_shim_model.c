/*
 * fuzz_shim_model.c - model-based fuzzing of the real shim.
 *
 * An input (a byte string) is a sequence of operations on a small universe:
 * 2 files, 6 fd slots in this process and 6 in one forked child (driven
 * over a pipe), descriptions made by open and shared by dup/dup2/fork.
 * The operations run for real in a process under the shim (LD_PRELOAD),
 * while the reference model (model.c: plain C, byte maps) predicts every
 * answer; after every operation that can change locks, a probe process
 * running WITHOUT the shim asks the kernel (classic F_GETLK on every byte
 * 0..31 and on [32, EOF) of both files) and what it sees must be the
 * model's union of held locks.  A mismatch prints the operation trace and
 * fails.  At the end of an input every fd is closed and the child exits:
 * then no lock may be left (the probe, and /proc/locks: no lock or waiter
 * on any test file), this process must have exactly the low fds it had
 * before (the same set, not just as many), and no fd at all (the shim's
 * high ones included) may refer to a test file (no private description
 * left behind).
 *
 * The semantics the model applies: the shim's mode (LOCKSCOPE_MODE: fix
 * by default, strict; off and audit must be native), or native when the
 * shim is not loaded: `fuzz_shim_model` run without LD_PRELOAD checks the
 * model and the driver against the kernel itself.
 *
 * Encoding: 4 bytes per operation (missing bytes read as 0):
 *   b0: kind = b0 & 15; b0 & 0x80: run it in the child (if one is alive);
 *       (b0 & 0x60) == 0x60 on a driver's F_SETLKW lock that would wait for
 *       the child: wait for real, and leave the wait by siglongjmp from a
 *       SIGUSR1 handler once /proc/locks lists the waiter (the model: no
 *       change; the call never returns, and nothing of it may remain);
 *       (b0 & 0x60) == 0x20 on such a lock: once it waits, another thread
 *       closes its fd and makes the child exit: the wait ends in EBADF, as
 *       natively (the model: that close and that exit)
 *     0,1 open(slot, file = b2 & 1, acc = b3 % 3: RDONLY/WRONLY/RDWR)
 *     2   dup(src = slot2) into slot          3  dup2(slot2, slot)
 *     4,5 close(slot)
 *     6-8 lock: type = b3 & 0x40 ? write : read; b3 & 0x20: F_SETLKW
 *         (used only when the model says it will not block)
 *     9,10 unlock                             11,15 F_GETLK (type as lock)
 *     12  lockf: (b3 >> 6) = F_ULOCK, F_LOCK (as F_TLOCK when it would
 *         block), F_TLOCK, F_TEST
 *     13  fork the child (an existing child exits first); b1 >> 6: 0, 1 fork(),
 *         2 raw syscall(SYS_clone, SIGCHLD) (no atfork handler runs), 3 glibc
 *         clone(SIGCHLD) on a stack of its own; the model is the same (rule 6:
 *         the child owns nothing of the parent's; its requests conflict with
 *         the parent's locks, its close releases nothing of them).  A clone
 *         child first makes an F_GETLK on each slot and the parent waits for
 *         it (the shim notices a clone child on its first lock call: README
 *         Limits; FSM_CLONE_NO_TOUCH=1 skips that).
 *         (b0 & 0x60) == 0x60: a storm instead (storm(): threads fork+execve,
 *         posix_spawn, vfork+execve, fork+lock+execve this binary as a helper
 *         that checks what it inherited, while other threads lock; the model
 *         does not change)
 *     14  the child exits
 *   b1: slot = b1 % 6, slot2 = (b1 / 6) % 6, lseek position for SEEK_CUR
 *       = (b1 >> 3) & 15
 *   b2: start = b2 & 31, whence = (b2 >> 5) & 3 (0, 1: SEEK_SET; 2:
 *       SEEK_CUR after lseek; 3: SEEK_END of the 8-byte file)
 *   b3: len = b3 & 31: 0 = to end of file, else 1 + (len - 1) % (32 - start);
 *       b3 & 0x80: express the range with a negative l_len
 *
 * Modes of the binary:
 *   fuzz_shim_model FILE...              replay inputs
 *   fuzz_shim_model --random SEED N [MAXOPS]
 *                                        N inputs from a deterministic PRNG
 *   fuzz_shim_model --ops SEED MINOPS [MAXOPS]
 *                                        as many as make MINOPS operations
 * (it prints inputs, operations, clones, storms and ops/s; FSM_STORM_PCT:
 * the percentage of generated forks made storms, default 3)
 *   fuzz_shim_model --gen DIR SEED N     write N generated inputs as seeds
 * The driver pins itself (and so its child and the probe) to one CPU, so
 * that a forked child often runs only after the parent's next operations
 * (FSM_ANY_CPU=1: no pinning).
 * FSM_SYNC_FORK=1 makes the driver wait after each fork until the child
 * runs (its atfork handlers done): that hides the shim's fork window (a
 * lock outliving the parent's last close until the child first runs; see
 * tests/stress/README) so that other disagreements can be looked for.
 * FSM_NO_CLONE=1 runs every clone op as fork() (hid bug 16, now fixed).
 * FSM_GETLK_NO_HOLDER_OK=1 accepts l_pid 2147483647 ("no holder named")
 * for a conflict (hides tests/stress/README bug 14).
 * FSM_GETLK_ANY_HOLDER=1 accepts an F_GETLK answer whose l_pid names a
 * process holding some conflicting lock, not necessarily the reported one
 * (hides the shim's range/pid mismatch, tests/stress/README).
 * A failing input is written to $FUZZ_ARTIFACT_DIR (default .) as
 * shim-model-fail-<hash>.  Built with -fsanitize=fuzzer it is a libFuzzer
 * target: LLVMFuzzerInitialize re-executes the binary with the shim
 * preloaded (LS_FUZZ_LIB, else ../build/liblockscope.so next to the
 * binary, else build/liblockscope.so) and LOCKSCOPE_LOG=/dev/null unless
 * set; libFuzzer's own fds are untracked by the shim and harmless.  If no
 * library is found it says so and checks native semantics.
 *
 *   cc -O2 -std=gnu11 -Itests/fuzz tests/fuzz/fuzz_shim_model.c -o /tmp/fsm
 *   LD_PRELOAD=build/liblockscope.so /tmp/fsm --random 1 300
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model.c"          /* one translation unit: builds with any command line */

extern char **environ;

#define OPB 4               /* bytes per operation */
#define FILE_SIZE 8

enum { K_OPEN, K_DUP, K_DUP2, K_CLOSE, K_LOCK, K_UNLOCK, K_GETLK, K_LOCKF, K_FORK, K_EXIT };
static const int kind_of[16] = { K_OPEN, K_OPEN, K_DUP, K_DUP2, K_CLOSE, K_CLOSE, K_LOCK, K_LOCK, K_LOCK,
                                 K_UNLOCK, K_UNLOCK, K_GETLK, K_LOCKF, K_FORK, K_EXIT, K_GETLK };
static const char *kind_name[] = { "open", "dup", "dup2", "close", "lock", "unlock", "getlk", "lockf", "fork", "exit" };

struct op {
    int kind, child, slot, slot2, file, acc;
    int interrupt;          /* leave a blocking F_SETLKW by siglongjmp */
    int clone;              /* fork: 0 fork(), 1 raw SYS_clone, 2 glibc clone() with a stack */
    int storm;              /* fork: a storm of threads forking/execing/spawning (see storm()) */
    int close_wait;         /* close the fd of a blocking F_SETLKW meanwhile */
    int type;               /* M_RD / M_WR (lock, getlk), M_NONE (unlock) */
    int cmd;                /* F_SETLK / F_SETLKW / F_GETLK; lockf: F_ULOCK... */
    int whence, neg, lpos;
    int start, len;         /* len 0: to end of file */
    long long l_start, l_len;
};

struct res {
    int ret, err, newfd;
    struct flock fl;
};

/* ---- state of the run ---- */

static char paths[M_FILES + 1][4096];   /* + the storm's file (not in the model) */
static char workdir[3072];
static int sem = M_NATIVE;
static const char *sem_name = "native";
static int probe_in = -1, probe_out = -1;
static pid_t probe_pid = -1;
static int fuzzer_mode;
static int sync_fork;            /* FSM_SYNC_FORK=1: wait until the child runs (hides the fork window) */
static int getlk_no_holder_ok;   /* FSM_GETLK_NO_HOLDER_OK=1: accept l_pid 2147483647 for a conflict */
static int getlk_any_holder;  /* FSM_GETLK_ANY_HOLDER=1: l_pid may name any conflicting holder */

/* the real fds of this process's slots, and of the child's (kept in the child) */
static int realfd[M_FDS];
static pid_t child_pid = -1;
static int child_cmd = -1, child_res = -1;

static char trace[1 << 16];
static size_t trace_n;
static struct model M;

static void tr(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (trace_n < sizeof trace - 256) {
        int n = vsnprintf(trace + trace_n, sizeof trace - trace_n, fmt, ap);
        if (n > 0) trace_n += (size_t)n < sizeof trace - trace_n ? (size_t)n : sizeof trace - trace_n - 1;
    }
    va_end(ap);
}

static void die(const char *what)
{
    fprintf(stderr, "fuzz_shim_model: %s: %s\n", what, strerror(errno));
    exit(2);
}

static int read_full(int fd, void *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
    size_t put = 0;
    while (put < n) {
        ssize_t r = write(fd, (const char *)buf + put, n - put);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        put += (size_t)r;
    }
    return 0;
}

/* ---- the probe: a process without the shim ---- */

static int probe_server(const char *p0, const char *p1)
{
    int fds[M_FILES] = { open(p0, O_RDONLY), open(p1, O_RDONLY) };
    if (fds[0] < 0 || fds[1] < 0) return 2;
    unsigned char f;
    while (read_full(0, &f, 1) == 0) {
        char out[M_SLOTS];
        for (int b = 0; b < M_SLOTS; b++) {
            struct flock fl;
            memset(&fl, 0, sizeof fl);
            fl.l_type = F_WRLCK;
            fl.l_whence = SEEK_SET;
            fl.l_start = b;
            fl.l_len = b == M_TAIL ? 0 : 1;
            if (fcntl(fds[f & 1], F_GETLK, &fl) < 0) out[b] = 'E';
            else out[b] = fl.l_type == F_UNLCK ? '.' : fl.l_type == F_RDLCK ? 'r' : 'w';
        }
        if (write_full(1, out, sizeof out) < 0) return 0;
    }
    return 0;
}

static void start_probe(const char *self)
{
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) die("pipe");
    static char *env[1024];
    int k = 0;
    for (char **e = environ; *e && k < 1022; e++)
        if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, "LOCKSCOPE_", 10))
            env[k++] = *e;
    env[k] = NULL;
    probe_pid = fork();
    if (probe_pid < 0) die("fork");
    if (probe_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        char *args[] = { (char *)self, (char *)"--probe-server", paths[0], paths[1], NULL };
        execve(self, args, env);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    probe_in = in[1];
    probe_out = out[0];
}

static int probe_file(int f, char out[M_SLOTS])
{
    unsigned char c = (unsigned char)f;
    if (write_full(probe_in, &c, 1) < 0 || read_full(probe_out, out, M_SLOTS) < 0)
        return -1;
    return 0;
}

/* ---- executing one operation (in this process or in the child) ---- */

static void fill_flock(const struct op *o, struct flock *fl, short type)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = type;
    fl->l_whence = (short)o->whence;
    fl->l_start = (off_t)o->l_start;
    fl->l_len = (off_t)o->l_len;
}

static struct res exec_op(int *fds, const struct op *o)
{
    struct res r;
    memset(&r, 0, sizeof r);
    r.newfd = -1;
    int fd = fds[o->slot];
    errno = 0;
    switch (o->kind) {
    case K_OPEN: {
        static const int accs[3] = { O_RDONLY, O_WRONLY, O_RDWR };
        r.ret = open(paths[o->file], accs[o->acc]);
        if (r.ret >= 0) fds[o->slot] = r.newfd = r.ret;
        break;
    }
    case K_DUP:
        r.ret = dup(fds[o->slot2]);
        if (r.ret >= 0) fds[o->slot] = r.newfd = r.ret;
        break;
    case K_DUP2:
        r.ret = dup2(fds[o->slot2], fd);
        break;
    case K_CLOSE:
        r.ret = close(fd);
        fds[o->slot] = -1;
        break;
    case K_LOCK:
    case K_UNLOCK:
    case K_GETLK: {
        if (o->whence == SEEK_CUR && lseek(fd, o->lpos, SEEK_SET) < 0) { r.ret = -1; break; }
        short t = o->kind == K_UNLOCK ? F_UNLCK : o->type == M_WR ? F_WRLCK : F_RDLCK;
        fill_flock(o, &r.fl, t);
        if (o->kind == K_GETLK) r.fl.l_pid = 4242;      /* must come back untouched */
        r.ret = fcntl(fd, o->cmd, &r.fl);
        break;
    }
    case K_LOCKF:
        if (lseek(fd, o->start, SEEK_SET) < 0) { r.ret = -1; break; }
        r.ret = lockf(fd, o->cmd, o->len);
        break;
    }
    r.err = r.ret < 0 ? errno : 0;
    return r;
}

/* ---- a wait left by siglongjmp ---- */
static sigjmp_buf intr_jb;
static void intr_handler(int sig) { (void)sig; siglongjmp(intr_jb, 1); }
struct kick { pthread_t target; dev_t dev; ino_t ino; volatile int stop; };

static void *kicker(void *arg)
{
    struct kick *k = arg;
    char want[64], line[512];
    snprintf(want, sizeof want, " %02x:%02x:%lu ", major(k->dev), minor(k->dev), (unsigned long)k->ino);
    while (!k->stop) {
        int n = 0;
        FILE *f = fopen("/proc/locks", "r");
        if (f) {
            while (fgets(line, sizeof line, f))
                if (strstr(line, "->") && strstr(line, want))
                    n++;
            fclose(f);
        }
        if (n > 0) {
            pthread_kill(k->target, SIGUSR1);
            return NULL;
        }
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static long interrupted_waits;

static struct res exec_interrupted(int *fds, const struct op *o)
{
    interrupted_waits++;
    static struct kick k;
    static struct res r;
    struct stat st;
    memset(&r, 0, sizeof r);
    if (fstat(fds[o->slot], &st) < 0) { r.ret = -1; r.err = errno; return r; }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = intr_handler;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    k.target = pthread_self();
    k.dev = st.st_dev;
    k.ino = st.st_ino;
    k.stop = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, kicker, &k) != 0) { r.ret = -1; r.err = EAGAIN; return r; }
    if (sigsetjmp(intr_jb, 1) == 0) {
        r = exec_op(fds, o);    /* must not return: it waits for the child */
        k.stop = 1;
    } else {
        r.ret = -1;
        r.err = EINTR;
    }
    pthread_join(t, NULL);
    return r;
}

/* ---- a wait whose fd another thread closes ---- */
static void end_child(void);
static long closed_waits;
struct closer { struct kick k; int fd; };

static void *closer_thread(void *arg)
{
    struct closer *c = arg;
    char want[64], line[512];
    snprintf(want, sizeof want, " %02x:%02x:%lu ", major(c->k.dev), minor(c->k.dev), (unsigned long)c->k.ino);
    while (!c->k.stop) {
        int n = 0;
        FILE *f = fopen("/proc/locks", "r");
        if (f) {
            while (fgets(line, sizeof line, f))
                if (strstr(line, "->") && strstr(line, want))
                    n++;
            fclose(f);
        }
        if (n > 0) {
            close(c->fd);
            end_child();        /* the child's locks go: the wait is granted */
            return NULL;
        }
        struct timespec ts = { 0, 2000000 };
        nanosleep(&ts, NULL);
    }
    return NULL;
}

static struct res exec_close_wait(int *fds, const struct op *o)
{
    static struct closer c;
    struct res r;
    struct stat st;
    memset(&r, 0, sizeof r);
    closed_waits++;
    if (fstat(fds[o->slot], &st) < 0) { r.ret = -1; r.err = errno; return r; }
    c.k.dev = st.st_dev;
    c.k.ino = st.st_ino;
    c.k.stop = 0;
    c.fd = fds[o->slot];
    pthread_t t;
    if (pthread_create(&t, NULL, closer_thread, &c) != 0) { r.ret = -1; r.err = EAGAIN; return r; }
    r = exec_op(fds, o);
    c.k.stop = 1;
    pthread_join(t, NULL);
    fds[o->slot] = -1;
    return r;
}

static int child_is_clone;
static void fd_snapshot(unsigned char map[4096], int *over, int *onfiles);
static int clone_no_touch;   /* FSM_CLONE_NO_TOUCH=1: show the clone window (README Limits) */

static void child_loop(int cmd, int res)
{
    struct op o;
    if (child_is_clone && !clone_no_touch) {
        /* A clone() child is noticed by the shim on its first lock call or
         * tracked close; until then it keeps its copies of the parent's
         * private fds (README Limits, raw syscalls).  An F_GETLK on every
         * slot (changes nothing in any semantics) makes that moment now,
         * and the parent waits for it, so that the model holds. */
        for (int i = 0; i < M_FDS; i++)
            if (realfd[i] >= 0) {
                struct flock fl;
                memset(&fl, 0, sizeof fl);
                fl.l_type = F_RDLCK;
                fl.l_whence = SEEK_SET;
                fcntl(realfd[i], F_GETLK, &fl);
            }
    }
    if (sync_fork || child_is_clone) {
        char c = 'r';
        if (write_full(res, &c, 1) < 0) _exit(1);
    }
    while (read_full(cmd, &o, sizeof o) == 0) {
        if (o.kind == K_EXIT && o.slot == 1) {
            /* the end of an input: close every slot, then no fd of this
             * process (the shim's high ones included) may be on a test file */
            static unsigned char map[4096];
            int over, onf;
            for (int i = 0; i < M_FDS; i++)
                if (realfd[i] >= 0) close(realfd[i]);
            fd_snapshot(map, &over, &onf);
            struct res r;
            memset(&r, 0, sizeof r);
            r.ret = onf;
            write_full(res, &r, sizeof r);
            _exit(0);
        }
        if (o.kind == K_EXIT) _exit(0);
        struct res r = exec_op(realfd, &o);
        if (write_full(res, &r, sizeof r) < 0) _exit(1);
    }
    _exit(0);
}

/* The child exits (check: first it closes every slot and answers how many
 * of its fds are still on a test file; returned, else -1). */
static int end_child_check(int check)
{
    int onf = -1;
    if (child_pid <= 0) return -1;
    struct op o;
    memset(&o, 0, sizeof o);
    o.kind = K_EXIT;
    o.slot = check;
    write_full(child_cmd, &o, sizeof o);
    if (check) {
        struct res r;
        if (read_full(child_res, &r, sizeof r) == 0) onf = r.ret;
    }
    int st;
    while (waitpid(child_pid, &st, 0) < 0 && errno == EINTR) {}
    close(child_cmd);
    close(child_res);
    child_pid = -1;
    return onf;
}

static void end_child(void) { end_child_check(0); }

static int clone_pipes[4];

static int clone_child_main(void *arg)
{
    (void)arg;
    child_is_clone = 1;
    close(clone_pipes[1]);
    close(clone_pipes[2]);
    close(probe_in);
    close(probe_out);
    alarm(0);
    child_loop(clone_pipes[0], clone_pipes[3]);
    return 0;
}

static long clones_raw, clones_glibc;

static int start_child(int how)
{
    int c[2], r[2];
    if (pipe2(c, O_CLOEXEC) < 0 || pipe2(r, O_CLOEXEC) < 0) die("pipe");
    clone_pipes[0] = c[0]; clone_pipes[1] = c[1]; clone_pipes[2] = r[0]; clone_pipes[3] = r[1];
    pid_t p;
    if (how == 1) {
        /* raw clone without CLONE_VM: no atfork handler runs (rule 6: the
         * child owns nothing of the parent's all the same) */
        clones_raw++;
        p = (pid_t)syscall(SYS_clone, (unsigned long)SIGCHLD, NULL, NULL, NULL, 0UL);
        if (p == 0) clone_child_main(NULL);
    } else if (how == 2) {
        static char stack[256 * 1024] __attribute__((aligned(64)));
        clones_glibc++;
        p = clone(clone_child_main, stack + sizeof stack, SIGCHLD, NULL);
    } else {
        p = fork();
    }
    if (p < 0) die("fork");
    if (p == 0) {
        close(c[1]);
        close(r[0]);
        close(probe_in);
        close(probe_out);
        alarm(0);
        child_loop(c[0], r[1]);
    }
    close(c[0]);
    close(r[1]);
    child_pid = p;
    child_cmd = c[1];
    child_res = r[0];
    if (sync_fork || how) {
        char ch;
        if (read_full(child_res, &ch, 1) < 0) return -1;
    }
    return 0;
}

static int run_in_child(const struct op *o, struct res *r)
{
    if (write_full(child_cmd, o, sizeof *o) < 0 || read_full(child_res, r, sizeof *r) < 0)
        return -1;
    return 0;
}

/* ---- decoding ---- */

/* FSM_NO_CLONE=1: every clone op runs as fork() (tests/stress/README bug 16, fixed). */
static int no_clones(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("FSM_NO_CLONE");
        v = e && *e == '1';
    }
    return v;
}

static void decode(const uint8_t *b, struct op *o)
{
    memset(o, 0, sizeof *o);
    o->kind = kind_of[b[0] & 15];
    o->child = (b[0] & 0x80) != 0;
    o->interrupt = (b[0] & 0x60) == 0x60;
    o->close_wait = (b[0] & 0x60) == 0x20;
    o->slot = b[1] % M_FDS;
    o->slot2 = (b[1] / M_FDS) % M_FDS;
    o->lpos = (b[1] >> 3) & 15;
    o->file = b[2] & 1;
    o->acc = b[3] % 3;
    o->start = b[2] & 31;
    int w = (b[2] >> 5) & 3;
    o->whence = w < 2 ? SEEK_SET : w == 2 ? SEEK_CUR : SEEK_END;
    int lc = b[3] & 31;
    o->len = lc == 0 ? 0 : 1 + (lc - 1) % (M_U - o->start);
    o->neg = (b[3] & 0x80) && o->len > 0;
    o->type = (b[3] & 0x40) ? M_WR : M_RD;
    o->cmd = (b[3] & 0x20) ? F_SETLKW : F_SETLK;
    if (o->kind == K_UNLOCK) { o->type = M_NONE; o->cmd = F_SETLK; }
    if (o->kind == K_GETLK) o->cmd = F_GETLK;
    if (o->kind == K_FORK) {
        o->clone = no_clones() ? 0 : (b[1] >> 6) == 2 ? 1 : (b[1] >> 6) == 3 ? 2 : 0;
        o->storm = (b[0] & 0x60) == 0x60;
    }
    if (o->kind == K_LOCKF) {
        static const int lc4[4] = { F_ULOCK, F_LOCK, F_TLOCK, F_TEST };
        o->cmd = lc4[(b[3] >> 6) & 3];
        o->neg = 0;
        o->whence = SEEK_CUR;
    }
    long long anchor = o->neg ? o->start + o->len : o->start;
    long long base = o->whence == SEEK_CUR ? o->lpos : o->whence == SEEK_END ? FILE_SIZE : 0;
    o->l_start = anchor - base;
    o->l_len = o->neg ? -o->len : o->len;
}

static struct m_range range_of(const struct op *o)
{
    struct m_range r = { o->start, o->len == 0 ? M_TAIL : o->start + o->len - 1 };
    return r;
}

static const char *errname(int e)
{
    if (!e) return "0";
    const char *n = strerrorname_np(e);
    return n ? n : "E?";
}

static void describe_op(const struct op *o, char *buf, size_t cap)
{
    const char *who = o->child ? "child " : "";
    switch (o->kind) {
    case K_OPEN: snprintf(buf, cap, "%sopen(slot %d, file %d, %s)", who, o->slot, o->file,
                          o->acc == 0 ? "O_RDONLY" : o->acc == 1 ? "O_WRONLY" : "O_RDWR"); break;
    case K_DUP: snprintf(buf, cap, "%sdup(slot %d) -> slot %d", who, o->slot2, o->slot); break;
    case K_DUP2: snprintf(buf, cap, "%sdup2(slot %d, slot %d)", who, o->slot2, o->slot); break;
    case K_CLOSE: snprintf(buf, cap, "%sclose(slot %d)", who, o->slot); break;
    case K_FORK: snprintf(buf, cap, "%s", o->storm ? "storm (threads fork/exec/spawn while others lock)" :
                          o->clone == 1 ? "raw clone(SIGCHLD)" : o->clone == 2 ? "glibc clone(SIGCHLD) with a stack" : "fork"); break;
    case K_EXIT: snprintf(buf, cap, "child exits"); break;
    case K_LOCKF: snprintf(buf, cap, "%slockf(slot %d, %s, len %d) at offset %d", who, o->slot,
                           o->cmd == F_ULOCK ? "F_ULOCK" : o->cmd == F_LOCK ? "F_LOCK" : o->cmd == F_TLOCK ? "F_TLOCK" : "F_TEST",
                           o->len, o->start); break;
    default: {
        char end[16];
        if (o->len) snprintf(end, sizeof end, "%d", o->start + o->len - 1);
        else snprintf(end, sizeof end, "EOF");
        snprintf(buf, cap, "%s%s(slot %d, %s, bytes %d..%s; whence %s l_start %lld l_len %lld)", who,
                 o->kind == K_GETLK ? "F_GETLK" : o->cmd == F_SETLKW ? "F_SETLKW" : "F_SETLK", o->slot,
                 o->kind == K_UNLOCK ? "unlock" : o->type == M_WR ? "write" : "read", o->start, end,
                 o->whence == SEEK_SET ? "SET" : o->whence == SEEK_CUR ? "CUR" : "END", o->l_start, o->l_len);
    }
    }
}

/* ---- one input ---- */

static int failed;

static void mismatch(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    char mdesc[2048];
    m_describe(&M, mdesc, sizeof mdesc);
    fprintf(stderr, "fuzz_shim_model: MISMATCH (semantics %s): %s\n--- trace:\n%s--- model: %s\n",
            sem_name, msg, trace, mdesc);
    failed = 1;
}

static int check_kernel(const char *when)
{
    for (int f = 0; f < M_FILES; f++) {
        char seen[M_SLOTS];
        if (probe_file(f, seen) < 0) { mismatch("the probe process died"); return -1; }
        for (int b = 0; b < M_SLOTS; b++) {
            char want = ".rw"[m_seen(&M, f, b)];
            if (seen[b] != want) {
                char got[M_SLOTS + 1], exp[M_SLOTS + 1];
                for (int i = 0; i < M_SLOTS; i++) { got[i] = seen[i]; exp[i] = ".rw"[m_seen(&M, f, i)]; }
                got[M_SLOTS] = exp[M_SLOTS] = 0;
                mismatch("%s: the kernel (probe without the shim) sees on file %d\n    kernel: %s\n    model:  %s\n"
                         "    (byte 0..31 then [32,EOF); . none, r read, w write)", when, f, got, exp);
                return -1;
            }
        }
    }
    return 0;
}

/* ---- leaks: fds and locks ---- */

#define FD_MAP 4096
static int fd_base(void)
{
    struct rlimit rl;
    int base = 1 << 20;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        base = (int)(rl.rlim_cur - rl.rlim_cur / 4);
    return base;
}

/* The set of this process's fds below the shim's area (map[fd] = 1, fds
 * past FD_MAP counted in *over), and how many fds (any number) refer to
 * one of the test files. */
static void fd_snapshot(unsigned char map[FD_MAP], int *over, int *onfiles)
{
    int base = fd_base();
    struct stat fs[M_FILES + 1];
    for (int f = 0; f <= M_FILES; f++)
        if (stat(paths[f], &fs[f]) < 0) memset(&fs[f], 0, sizeof fs[f]);
    memset(map, 0, FD_MAP);
    *over = *onfiles = 0;
    char buf[4096];
    int d = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d < 0) return;
    for (;;) {
        long k = syscall(SYS_getdents64, d, buf, sizeof buf);
        if (k <= 0) break;
        for (long off = 0; off < k;) {
            struct { uint64_t ino; int64_t off; unsigned short reclen; unsigned char type; char name[]; } *e = (void *)(buf + off);
            off += e->reclen;
            if (e->name[0] < '0' || e->name[0] > '9') continue;
            int fd = atoi(e->name);
            if (fd == d) continue;
            if (fd < base) {
                if (fd < FD_MAP) map[fd] = 1;
                else (*over)++;
            }
            struct stat st;
            if (fstat(fd, &st) == 0)
                for (int f = 0; f <= M_FILES; f++)
                    if (fs[f].st_ino && st.st_dev == fs[f].st_dev && st.st_ino == fs[f].st_ino) (*onfiles)++;
        }
    }
    close(d);
}

/* Lines of /proc/locks (held locks and waiters) on the test files. */
static int proc_locks_on_files(char *first, size_t cap)
{
    char want[M_FILES + 1][64], line[512];
    for (int f = 0; f <= M_FILES; f++) {
        struct stat st;
        if (stat(paths[f], &st) < 0) { want[f][0] = 0; continue; }
        snprintf(want[f], sizeof want[f], " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
    }
    int n = 0;
    FILE *fp = fopen("/proc/locks", "re");
    if (!fp) return 0;
    while (fgets(line, sizeof line, fp))
        for (int f = 0; f <= M_FILES; f++)
            if (want[f][0] && strstr(line, want[f])) {
                if (!n && first) snprintf(first, cap, "%s", line);
                n++;
            }
    fclose(fp);
    return n;
}

/* ---- the storm: threads fork/exec/spawn while others lock ----
 *
 * Run by a fork op with (b0 & 0x60) == 0x60; the model's state does not
 * change (the children own nothing, rule 6; the lock threads use a third
 * file).  STORM_LOCKERS threads lock and unlock disjoint ranges of that
 * file through their own descriptions; STORM_SPAWNERS threads start, each
 * STORM_ROUNDS times, this binary as a helper (--inherit-report) by
 * fork+execve, posix_spawn, vfork+execve, or fork + open + lock + execve.
 * The helper checks what it inherited: exactly the program's inheritable
 * low fds (no shim fd at a low number, none lost), no LOCKSCOPE__*
 * variable, no fd of the shim's on a test file (except the private fd of
 * a lock it holds across exec), and that a lock taken before exec is still
 * its own (F_GETLK through it reports nothing, rule 7); the spawner checks
 * from outside (a raw F_GETLK: a classic owner of this process) that the
 * lock is held while the helper lives and gone once it unlocked. */
#define STORM_LOCKERS 2
#define STORM_SPAWNERS 3
#define STORM_ROUNDS 3
#define RANGE_LOCKER(t) (100 + 8 * (t))
#define RANGE_HELPER(t) (200 + 8 * (t))

static const char *self_exe;
static cpu_set_t all_cpus;        /* the storm's threads run on every CPU the driver had */
static int all_cpus_known;
static char storm_expect[1024];   /* inheritable low fds >= 3, comma separated */
static long storms, storm_ops, storm_spawns;

struct storm_thr {
    int t, fd, rounds;
    unsigned seed;
    volatile int *stop;
    char err[512];
    long ops;
};

static int raw_getlk(int fd, int start, int len, struct flock *fl)
{
    memset(fl, 0, sizeof *fl);
    fl->l_type = F_WRLCK;
    fl->l_whence = SEEK_SET;
    fl->l_start = start;
    fl->l_len = len;
    return (int)syscall(SYS_fcntl, fd, F_GETLK, fl);
}

static void *storm_locker(void *arg)
{
    struct storm_thr *a = arg;
    int start = RANGE_LOCKER(a->t);
    while (!*a->stop || a->ops < 4) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = (a->ops & 2) ? F_RDLCK : F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = start;
        fl.l_len = 4;
        if (fcntl(a->fd, (a->ops & 1) ? F_SETLKW : F_SETLK, &fl) < 0) {
            snprintf(a->err, sizeof a->err, "locker %d: lock of its own range failed: %s", a->t, strerror(errno));
            return NULL;
        }
        fl.l_type = F_WRLCK;
        if (fcntl(a->fd, F_GETLK, &fl) < 0 || fl.l_type != F_UNLCK) {
            snprintf(a->err, sizeof a->err, "locker %d: F_GETLK sees a conflict on its own range (type %d pid %d)",
                     a->t, fl.l_type, (int)fl.l_pid);
            return NULL;
        }
        fl.l_type = F_UNLCK;
        if (fcntl(a->fd, F_SETLK, &fl) < 0) {
            snprintf(a->err, sizeof a->err, "locker %d: unlock failed: %s", a->t, strerror(errno));
            return NULL;
        }
        a->ops += 3;
    }
    return NULL;
}

static int spawn_one(struct storm_thr *a, int how)
{
    int rep[2], gate[2];
    if (pipe2(rep, O_CLOEXEC) < 0) { snprintf(a->err, sizeof a->err, "pipe: %s", strerror(errno)); return -1; }
    if (pipe2(gate, O_CLOEXEC) < 0) { close(rep[0]); close(rep[1]); snprintf(a->err, sizeof a->err, "pipe: %s", strerror(errno)); return -1; }
    int rf = 300 + 2 * a->t, gf = rf + 1;
    char srf[16], sgf[16], slock[16], sstart[16];
    snprintf(srf, sizeof srf, "%d", rf);
    snprintf(sgf, sizeof sgf, "%d", gf);
    snprintf(sstart, sizeof sstart, "%d", RANGE_HELPER(a->t));
    snprintf(slock, sizeof slock, "-1");
    char *argv[] = { (char *)self_exe, (char *)"--inherit-report", srf, sgf, storm_expect, slock, sstart,
                     paths[0], paths[1], paths[M_FILES], NULL };
    pid_t pid = -1;
    if (how == 1) {
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, rep[1], rf);
        posix_spawn_file_actions_adddup2(&fa, gate[0], gf);
        int e = posix_spawn(&pid, self_exe, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        if (e) { pid = -1; errno = e; }
    } else if (how == 2) {
        pid = vfork();
        if (pid == 0) {
            if (dup2(rep[1], rf) < 0 || dup2(gate[0], gf) < 0) _exit(126);
            execve(self_exe, argv, environ);
            _exit(127);
        }
    } else {
        pid = fork();
        if (pid == 0) {
            if (how == 3) {
                /* lock, then exec: the lock must survive (rule 7) */
                int fd = open(paths[M_FILES], O_RDWR);
                struct flock fl;
                memset(&fl, 0, sizeof fl);
                fl.l_type = F_WRLCK;
                fl.l_whence = SEEK_SET;
                fl.l_start = RANGE_HELPER(a->t);
                fl.l_len = 2;
                if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) _exit(125);
                char *p = slock;
                int v = fd, n = 0;
                char tmp[16];
                do { tmp[n++] = (char)('0' + v % 10); v /= 10; } while (v);
                while (n) *p++ = tmp[--n];
                *p = 0;
            }
            if (dup2(rep[1], rf) < 0 || dup2(gate[0], gf) < 0) _exit(126);
            execve(self_exe, argv, environ);
            _exit(127);
        }
    }
    close(rep[1]);
    close(gate[0]);
    if (pid < 0) {
        close(rep[0]); close(gate[1]);
        snprintf(a->err, sizeof a->err, "spawner %d: start (how %d) failed: %s", a->t, how, strerror(errno));
        return -1;
    }
    char out[512];
    size_t n = 0;
    int bad = 0;
    /* the helper's verdict: one line ending in '\n' */
    while (n < sizeof out - 1) {
        ssize_t k = read(rep[0], out + n, 1);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        if (out[n++] == '\n') break;
    }
    out[n] = 0;
    if (strncmp(out, "ok", 2)) {
        snprintf(a->err, sizeof a->err, "spawner %d (%s): the helper says: %.400s", a->t,
                 how == 0 ? "fork+execve" : how == 1 ? "posix_spawn" : how == 2 ? "vfork+execve" : "fork+lock+execve",
                 n ? out : "(nothing)");
        bad = 1;
    }
    if (!bad && how == 3) {
        /* Natively the exec closes the child's close-on-exec copies of the
         * storm's fds of that file (sfd[]), and any close drops the
         * process's locks on the file; under the shim the lock belongs to
         * its description and survives (rules 1 and 7). */
        struct flock fl;
        int want = sem == M_NATIVE ? F_UNLCK : F_WRLCK;
        if (raw_getlk(a->fd, RANGE_HELPER(a->t), 2, &fl) < 0 || fl.l_type != want) {
            snprintf(a->err, sizeof a->err, "spawner %d: the lock its child took before exec is %s after exec (%s)", a->t,
                     fl.l_type == F_UNLCK ? "not held" : "held", sem == M_NATIVE ? "natively the exec's close of a close-on-exec fd drops it" : "rule 7");
            bad = 1;
        }
        char c = 'u';
        if (write_full(gate[1], &c, 1) < 0 || read_full(rep[0], &c, 1) < 0) {
            if (!bad) snprintf(a->err, sizeof a->err, "spawner %d: the helper died before unlocking", a->t);
            bad = 1;
        } else if (!bad && (raw_getlk(a->fd, RANGE_HELPER(a->t), 2, &fl) < 0 || fl.l_type != F_UNLCK)) {
            snprintf(a->err, sizeof a->err, "spawner %d: the helper's unlock after exec left its lock held", a->t);
            bad = 1;
        }
    }
    close(gate[1]);
    close(rep[0]);
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    if (!bad && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
        snprintf(a->err, sizeof a->err, "spawner %d: the helper (how %d) ended with status 0x%x", a->t, how, st);
        bad = 1;
    }
    storm_spawns++;
    return bad ? -1 : 0;
}

static void *storm_spawner(void *arg)
{
    struct storm_thr *a = arg;
    for (int i = 0; i < a->rounds; i++) {
        a->seed = a->seed * 1103515245u + 12345u;
        if (spawn_one(a, (int)((a->seed >> 16) % 4)) < 0) return NULL;
        a->ops++;
    }
    return NULL;
}

static int storm(void)
{
    storms++;
    unsigned char map[FD_MAP];
    int over, onf;
    /* what the program opened and lets be inherited */
    int lfd[STORM_LOCKERS], sfd[STORM_SPAWNERS];
    for (int t = 0; t < STORM_LOCKERS; t++) lfd[t] = open(paths[M_FILES], O_RDWR);
    for (int t = 0; t < STORM_SPAWNERS; t++) sfd[t] = open(paths[M_FILES], O_RDONLY | O_CLOEXEC);
    fd_snapshot(map, &over, &onf);
    size_t k = 0;
    storm_expect[0] = 0;
    for (int fd = 3; fd < FD_MAP; fd++) {
        if (!map[fd]) continue;
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC)) continue;
        k += (size_t)snprintf(storm_expect + k, sizeof storm_expect - k, "%s%d", k ? "," : "", fd);
        if (k >= sizeof storm_expect - 16) break;
    }
    if (!k) snprintf(storm_expect, sizeof storm_expect, "-");
    volatile int stop = 0;
    struct storm_thr lt[STORM_LOCKERS], st[STORM_SPAWNERS];
    pthread_t lth[STORM_LOCKERS], sth[STORM_SPAWNERS];
    int bad = 0;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (all_cpus_known) pthread_attr_setaffinity_np(&attr, sizeof all_cpus, &all_cpus);
    for (int t = 0; t < STORM_LOCKERS; t++) {
        memset(&lt[t], 0, sizeof lt[t]);
        lt[t].t = t; lt[t].fd = lfd[t]; lt[t].stop = &stop;
        if (lfd[t] < 0 || pthread_create(&lth[t], &attr, storm_locker, &lt[t]) != 0) { lfd[t] = -2; bad = 1; }
    }
    for (int t = 0; t < STORM_SPAWNERS; t++) {
        memset(&st[t], 0, sizeof st[t]);
        st[t].t = t; st[t].fd = sfd[t]; st[t].rounds = STORM_ROUNDS; st[t].stop = &stop;
        st[t].seed = (unsigned)(storms * 7 + (unsigned)t * 131);
        if (sfd[t] < 0 || pthread_create(&sth[t], &attr, storm_spawner, &st[t]) != 0) { sfd[t] = -2; bad = 1; }
    }
    pthread_attr_destroy(&attr);
    for (int t = 0; t < STORM_SPAWNERS; t++)
        if (sfd[t] != -2) pthread_join(sth[t], NULL);
    stop = 1;
    for (int t = 0; t < STORM_LOCKERS; t++)
        if (lfd[t] != -2) pthread_join(lth[t], NULL);
    if (bad) mismatch("storm: could not start its threads");
    for (int t = 0; t < STORM_LOCKERS && !failed; t++)
        if (lt[t].err[0]) mismatch("storm: %s", lt[t].err);
    for (int t = 0; t < STORM_SPAWNERS && !failed; t++)
        if (st[t].err[0]) mismatch("storm: %s", st[t].err);
    for (int t = 0; t < STORM_LOCKERS; t++) { storm_ops += lt[t].ops; if (lfd[t] >= 0) close(lfd[t]); }
    for (int t = 0; t < STORM_SPAWNERS; t++) { storm_ops += st[t].ops; if (sfd[t] >= 0) close(sfd[t]); }
    tr("     (storm: %ld spawns so far)\n", storm_spawns);
    if (failed) return -1;
    /* the storm's file: every fd of it closed, every child gone: no lock */
    char line[512];
    struct stat s2;
    if (stat(paths[M_FILES], &s2) == 0) {
        char want[64], l2[512];
        snprintf(want, sizeof want, " %02x:%02x:%lu ", major(s2.st_dev), minor(s2.st_dev), (unsigned long)s2.st_ino);
        FILE *fp = fopen("/proc/locks", "re");
        line[0] = 0;
        while (fp && fgets(l2, sizeof l2, fp))
            if (strstr(l2, want)) { snprintf(line, sizeof line, "%s", l2); break; }
        if (fp) fclose(fp);
        if (line[0]) { mismatch("storm: a lock is left on its file after every fd was closed: %s", line); return -1; }
    }
    return 0;
}

/* The helper the storm execs (this binary, recognised in a constructor):
 *   --inherit-report RF GF EXPECTED LOCKFD START F0 F1 F2 */
static int inherit_report(char **argv)
{
    int rf = atoi(argv[2]), gf = atoi(argv[3]), lockfd = atoi(argv[5]), start = atoi(argv[6]);
    char msg[512] = "";
    unsigned char want[FD_MAP];
    memset(want, 0, sizeof want);
    want[rf] = want[gf] = 1;
    if (lockfd >= 0 && lockfd < FD_MAP) want[lockfd] = 1;
    for (char *p = argv[4]; *p && *p != '-';) {
        int fd = (int)strtol(p, &p, 10);
        if (fd >= 0 && fd < FD_MAP) want[fd] = 1;
        if (*p == ',') p++;
        else break;
    }
    for (int f = 0; f <= M_FILES; f++) snprintf(paths[f], sizeof paths[f], "%s", argv[7 + f]);
    unsigned char map[FD_MAP];
    int over, onf;
    fd_snapshot(map, &over, &onf);
    for (int fd = 3; fd < FD_MAP && !msg[0]; fd++)
        if (map[fd] != want[fd])
            snprintf(msg, sizeof msg, "low fd %d %s", fd, map[fd] ? "is open but the program did not pass it (a shim fd at a low number?)"
                                                               : "was passed by the program but is not open");
    if (!msg[0] && over) snprintf(msg, sizeof msg, "%d low fds past %d", over, FD_MAP);
    for (char **e = environ; *e && !msg[0]; e++)
        if (!strncmp(*e, "LOCKSCOPE__", 11)) snprintf(msg, sizeof msg, "the variable %.60s is still set", *e);
    /* fds on the test files: the program's (want) plus, with a lock held
     * across exec, at most one private fd of the shim's */
    int progfds = 0;
    for (int fd = 3; fd < FD_MAP; fd++) {
        if (!want[fd] || fd == rf || fd == gf) continue;
        struct stat st;
        int isf = 0;
        if (fstat(fd, &st) == 0)
            for (int f = 0; f <= M_FILES; f++) {
                struct stat fs;
                if (stat(paths[f], &fs) == 0 && fs.st_dev == st.st_dev && fs.st_ino == st.st_ino) isf = 1;
            }
        progfds += isf;
    }
    if (!msg[0] && onf > progfds + (lockfd >= 0))
        snprintf(msg, sizeof msg, "%d fds on the test files, the program passed %d%s", onf, progfds,
                 lockfd >= 0 ? " (+1 private fd allowed for the lock held across exec)" : "");
    if (!msg[0] && lockfd >= 0) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = start;
        fl.l_len = 2;
        if (fcntl(lockfd, F_GETLK, &fl) < 0 || fl.l_type != F_UNLCK)
            snprintf(msg, sizeof msg, "F_GETLK through the fd it locked before exec reports a conflict (type %d pid %d; own pid %d): the lock is not known as its own (rule 7)",
                     fl.l_type, (int)fl.l_pid, (int)getpid());
    }
    char out[600];
    int n = snprintf(out, sizeof out, "%s\n", msg[0] ? msg : "ok");
    if (write_full(rf, out, (size_t)n) < 0) return 1;
    char c;
    if (lockfd >= 0 && read_full(gf, &c, 1) == 0) {
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_UNLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = start;
        fl.l_len = 2;
        fcntl(lockfd, F_SETLK, &fl);
        write_full(rf, "u", 1);
    }
    while (read(gf, &c, 1) > 0) {}
    return 0;
}

static pid_t pid_of(int p) { return p ? child_pid : getpid(); }

static int run_input(const uint8_t *data, size_t size)
{
    failed = 0;
    trace_n = 0;
    trace[0] = 0;
    m_init(&M, sem);
    for (int i = 0; i < M_FDS; i++) realfd[i] = -1;
    static unsigned char fds_before[FD_MAP], fds_after[FD_MAP];
    int over_before, on_before;
    fd_snapshot(fds_before, &over_before, &on_before);
    size_t nops = (size_t)(size + OPB - 1) / OPB;
    if (nops > 512) nops = 512;
    for (size_t i = 0; i < nops && !failed; i++) {
        uint8_t b[OPB] = { 0 };
        for (int k = 0; k < OPB && i * OPB + (size_t)k < size; k++) b[k] = data[i * OPB + (size_t)k];
        struct op o;
        decode(b, &o);
        int p = o.child && M.alive[1] && o.kind != K_FORK && o.kind != K_EXIT;
        o.child = p;
        struct res r;
        memset(&r, 0, sizeof r);
        char desc[256];
        /* applicability: skip what needs an fd that is not there */
        if (o.kind == K_FORK) {
            describe_op(&o, desc, sizeof desc);
            tr("%3zu %s\n", i, desc);
            if (o.storm) {
                if (storm() < 0) break;
                if (check_kernel("after the storm") < 0) break;
                continue;
            }
            end_child();
            m_exit_child(&M);
            start_child(o.clone);
            m_fork(&M);
            continue;
        }
        if (o.kind == K_EXIT) {
            if (!M.alive[1]) continue;
            describe_op(&o, desc, sizeof desc);
            tr("%3zu %s\n", i, desc);
            end_child();
            m_exit_child(&M);
            if (check_kernel("after the child exited") < 0) break;
            continue;
        }
        int occupied = M.fd[p][o.slot] >= 0;
        if (o.kind == K_OPEN && occupied) continue;
        if (o.kind == K_DUP && (occupied || M.fd[p][o.slot2] < 0)) continue;
        if (o.kind == K_DUP2 && (!occupied || M.fd[p][o.slot2] < 0)) continue;
        if (o.kind != K_OPEN && o.kind != K_DUP && o.kind != K_DUP2 && !occupied) continue;

        /* predict */
        struct m_range rg = range_of(&o);
        struct model before = M;
        int want = 0, kind_lock = 0, closing = 0;
        switch (o.kind) {
        case K_OPEN: if (m_open(&M, p, o.slot, o.file, o.acc) < 0) continue; break;
        case K_DUP: m_dup(&M, p, o.slot, o.slot2); break;
        case K_DUP2: m_dup2(&M, p, o.slot, o.slot2); break;
        case K_CLOSE: m_close(&M, p, o.slot); break;
        case K_LOCK:
        case K_UNLOCK:
            kind_lock = 1;
            want = m_setlk(&M, p, o.slot, o.type, rg);
            if (want == EAGAIN && o.interrupt && !p && o.kind == K_LOCK && o.cmd == F_SETLKW &&
                m_conflict_only_other(&before, p, o.slot, o.type, rg))
                want = EINTR;                              /* waits, then siglongjmp */
            else if (want == EAGAIN && o.close_wait && !p && o.kind == K_LOCK && o.cmd == F_SETLKW &&
                     m_conflict_only_other(&before, p, o.slot, o.type, rg)) {
                want = EBADF;                              /* waits; its fd is closed */
                closing = 1;
                m_close(&M, p, o.slot);
                m_exit_child(&M);
            } else if (want == EAGAIN)
                o.cmd = F_SETLK;                           /* never block */
            break;
        case K_GETLK:
            break;
        case K_LOCKF:
            if (o.cmd == F_TEST) {
                want = m_getlk_conflicts(&M, p, o.slot, M_RD, rg) ? EACCES : 0;
            } else {
                want = m_setlk(&M, p, o.slot, o.cmd == F_ULOCK ? M_NONE : M_WR, rg);
                if (want == EAGAIN && o.cmd == F_LOCK) o.cmd = F_TLOCK;
            }
            break;
        }
        describe_op(&o, desc, sizeof desc);
        tr("%3zu %s", i, desc);
        /* run */
        if (p) {
            if (run_in_child(&o, &r) < 0) { tr("\n"); mismatch("the child died (crash?)"); break; }
        } else if (want == EINTR) {
            r = exec_interrupted(realfd, &o);
        } else if (closing) {
            r = exec_close_wait(realfd, &o);
        } else {
            r = exec_op(realfd, &o);
        }
        tr(" = %d %s", r.ret, errname(r.err));
        if (o.kind == K_GETLK && r.ret == 0)
            tr(" -> type %s start %lld len %lld pid %d", r.fl.l_type == F_UNLCK ? "unlck" : r.fl.l_type == F_RDLCK ? "rd" : "wr",
               (long long)r.fl.l_start, (long long)r.fl.l_len, (int)r.fl.l_pid);
        tr("\n");
        /* compare */
        switch (o.kind) {
        case K_OPEN:
        case K_DUP:
            if (r.ret < 0) mismatch("%s failed: %s", kind_name[o.kind], errname(r.err));
            break;
        case K_DUP2:
        case K_CLOSE:
            if (r.ret < 0) mismatch("%s failed: %s", kind_name[o.kind], errname(r.err));
            break;
        case K_LOCK:
        case K_UNLOCK:
        case K_LOCKF:
            if (r.err != want)
                mismatch("%s answered %s, the model says %s", desc, errname(r.err), errname(want));
            (void)kind_lock;
            break;
        case K_GETLK: {
            int conf = m_getlk_conflicts(&before, p, o.slot, o.type, rg);
            if (r.ret != 0) { mismatch("F_GETLK failed: %s", errname(r.err)); break; }
            if (!conf) {
                if (r.fl.l_type != F_UNLCK)
                    mismatch("F_GETLK reports a conflict, the model has none");
                else if (r.fl.l_whence != o.whence || r.fl.l_start != o.l_start || r.fl.l_len != o.l_len || r.fl.l_pid != 4242)
                    mismatch("F_GETLK found nothing but changed more than l_type (whence %d start %lld len %lld pid %d)",
                             r.fl.l_whence, (long long)r.fl.l_start, (long long)r.fl.l_len, (int)r.fl.l_pid);
            } else {
                int hp = r.fl.l_pid == getpid() ? 0 : (child_pid > 0 && r.fl.l_pid == child_pid) ? 1 : -1;
                int rt = r.fl.l_type == F_RDLCK ? M_RD : r.fl.l_type == F_WRLCK ? M_WR : -1;
                long long rs = r.fl.l_start, re = r.fl.l_len == 0 ? M_TAIL : r.fl.l_start + r.fl.l_len - 1;
                if (re > M_TAIL) re = M_TAIL;
                if (r.fl.l_type == F_UNLCK)
                    mismatch("F_GETLK reports no conflict, the model has one");
                else if (r.fl.l_whence != SEEK_SET)
                    mismatch("F_GETLK answer has l_whence %d", r.fl.l_whence);
                else if (r.fl.l_pid <= 0)
                    mismatch("F_GETLK reports l_pid %d (rule 5: never -1 or 0)", (int)r.fl.l_pid);
                else if (hp < 0 && getlk_no_holder_ok && r.fl.l_pid == 2147483647)
                    ;   /* FSM_GETLK_NO_HOLDER_OK=1: tests/stress/README bug 14 */
                else if (hp < 0)
                    mismatch("F_GETLK names pid %d, which is neither this process (%d) nor the child (%d)",
                             (int)r.fl.l_pid, (int)getpid(), (int)child_pid);
                else if (!m_getlk_valid(&before, p, o.slot, o.type, rg, rt, hp, (int)rs, (int)re) &&
                         !(getlk_any_holder &&
                           (m_getlk_valid(&before, p, o.slot, o.type, rg, rt, 0, (int)rs, (int)re) ||
                            m_getlk_valid(&before, p, o.slot, o.type, rg, rt, 1, (int)rs, (int)re))))
                    mismatch("F_GETLK's answer (%s lock, bytes %lld..%lld, pid %d = the %s) is not a conflicting lock of that process",
                             rt == M_WR ? "write" : "read", rs, re, (int)r.fl.l_pid, hp ? "child" : "parent");
            }
            break;
        }
        }
        (void)pid_of;
        if (failed) break;
        if (o.kind == K_LOCK || o.kind == K_UNLOCK || o.kind == K_CLOSE || o.kind == K_DUP2 ||
            (o.kind == K_LOCKF && o.cmd != F_TEST))
            if (check_kernel("after the last operation") < 0) break;
    }
    /* tear down: close everything, the child exits; nothing may be left */
    int child_alive = child_pid > 0;
    int child_onf = end_child_check(1);
    m_exit_child(&M);
    if (!failed && child_alive && child_onf != 0)
        mismatch(child_onf < 0 ? "the child died before its final check"
                               : "the child, after closing every slot, still has %d fd(s) on the test files (a private description left open)",
                 child_onf);
    for (int i = 0; i < M_FDS; i++) {
        if (realfd[i] >= 0) {
            close(realfd[i]);
            realfd[i] = -1;
            m_close(&M, 0, i);
        }
    }
    if (!failed) {
        tr("--- every fd closed, child gone\n");
        check_kernel("after every fd was closed and the child exited (a lock was left behind)");
    }
    if (!failed) {
        /* the low fds are exactly those before the input; no fd (low or
         * the shim's high ones) on a test file; no lock or waiter left */
        int over_after, on_after;
        fd_snapshot(fds_after, &over_after, &on_after);
        for (int fd = 0; fd < FD_MAP && !failed; fd++)
            if (fds_before[fd] != fds_after[fd])
                mismatch("fd %d was %s before the input and is %s after closing every fd it opened (a leaked descriptor)",
                         fd, fds_before[fd] ? "open" : "not open", fds_after[fd] ? "open" : "not open");
        if (!failed && over_after != over_before)
            mismatch("%d low fds past %d before the input, %d after", over_before, FD_MAP, over_after);
        else if (!failed && on_after != 0)
            mismatch("after every fd of the lock files was closed, %d fd(s) of this process still refer to them "
                     "(a private description left open)", on_after);
        char line[512];
        if (!failed && proc_locks_on_files(line, sizeof line))
            mismatch("after every fd was closed and the child exited, /proc/locks still lists: %s", line);
    }
    return failed;
}

/* ---- setup ---- */

static void setup(const char *self)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(workdir, sizeof workdir, "%s/lockscope-fsm.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(workdir)) die("mkdtemp");
    self_exe = self;
    for (int f = 0; f <= M_FILES; f++) {
        snprintf(paths[f], sizeof paths[f], "%s/f%d", workdir, f);
        int fd = open(paths[f], O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) die("create");
        char z[FILE_SIZE] = { 0 };
        if (write(fd, z, sizeof z) != (ssize_t)sizeof z) die("write");
        close(fd);
    }
    int loaded = 0;
    FILE *maps = fopen("/proc/self/maps", "r");
    char line[4096];
    while (maps && fgets(line, sizeof line, maps))
        if (strstr(line, "liblockscope")) loaded = 1;
    if (maps) fclose(maps);
    const char *mode = getenv("LOCKSCOPE_MODE");
    if (!loaded || (mode && (!strcmp(mode, "off") || !strcmp(mode, "audit")))) {
        sem = M_NATIVE;
        sem_name = !loaded ? "native (no shim loaded)" : !strcmp(mode, "off") ? "native (mode off)" : "native (mode audit)";
    } else if (mode && !strcmp(mode, "strict")) {
        sem = M_STRICT;
        sem_name = "strict";
    } else {
        sem = M_FIX;
        sem_name = "fix";
    }
    /* One CPU for the driver, its child and the probe: a forked child then
     * often runs only after the parent's next operations, which is when
     * ordering bugs around fork show (FSM_ANY_CPU=1: no pinning). */
    const char *ac = getenv("FSM_ANY_CPU");
    if (!(ac && *ac == '1')) {
        cpu_set_t set;
        if (sched_getaffinity(0, sizeof set, &set) == 0) {
            all_cpus = set;
            all_cpus_known = 1;
            int first = -1;
            for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
                if (CPU_ISSET(c, &set)) first = c;
            if (first >= 0) {
                CPU_ZERO(&set);
                CPU_SET(first, &set);
                sched_setaffinity(0, sizeof set, &set);
            }
        }
    }
    const char *sf = getenv("FSM_SYNC_FORK");
    sync_fork = sf && *sf == '1';
    const char *ct = getenv("FSM_CLONE_NO_TOUCH");
    clone_no_touch = ct && *ct == '1';
    const char *nh = getenv("FSM_GETLK_NO_HOLDER_OK");
    getlk_no_holder_ok = nh && *nh == '1';
    const char *ga = getenv("FSM_GETLK_ANY_HOLDER");
    getlk_any_holder = ga && *ga == '1';
    start_probe(self);
}

static void cleanup(void)
{
    end_child();
    if (probe_in >= 0) { close(probe_in); probe_in = -1; }
    if (probe_out >= 0) { close(probe_out); probe_out = -1; }
    if (probe_pid > 0) { int st; waitpid(probe_pid, &st, 0); probe_pid = -1; }
    for (int f = 0; f <= M_FILES; f++) unlink(paths[f]);
    rmdir(workdir);
}

static const char *self_path(void)
{
    static char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) die("readlink");
    self[n] = 0;
    return self;
}

/* ---- inputs ---- */

static uint64_t rnd(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12; x ^= x << 25; x ^= x >> 27;
    *s = x;
    return x * 2685821657736338717ULL;
}

/* Of the generated forks, the percentage that are storms instead
 * (FSM_STORM_PCT, default 3: a storm execs 9 helpers, ~100 times the cost
 * of an operation). */
static unsigned storm_pct(void)
{
    static int v = -1;
    if (v < 0) {
        const char *e = getenv("FSM_STORM_PCT");
        v = e && *e ? atoi(e) : 3;
        if (v < 0) v = 0;
        if (v > 100) v = 100;
    }
    return (unsigned)v;
}

/* A generated input: mostly lock traffic on few slots, some opens/closes,
 * forks and child operations, so that interesting states come up often. */
static size_t gen_input(uint64_t seed, uint8_t *buf, size_t maxops)
{
    uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 0x1234567;
    if (!s) s = 1;
    size_t nops = 8 + rnd(&s) % (maxops - 7);
    for (size_t i = 0; i < nops; i++) {
        uint8_t *b = buf + i * OPB;
        unsigned r = (unsigned)(rnd(&s) % 100);
        int kind;
        if (r < 12) kind = 0;             /* open */
        else if (r < 16) kind = 2;        /* dup */
        else if (r < 19) kind = 3;        /* dup2 */
        else if (r < 26) kind = 4;        /* close */
        else if (r < 56) kind = 6;        /* lock */
        else if (r < 68) kind = 9;        /* unlock */
        else if (r < 80) kind = 11;       /* getlk */
        else if (r < 87) kind = 12;       /* lockf */
        else if (r < 91) kind = 13;       /* fork */
        else if (r < 93) kind = 14;       /* child exits */
        else kind = 6;
        b[0] = (uint8_t)(kind | ((rnd(&s) % 3 == 0) ? 0x80 : 0));
        b[1] = (uint8_t)(rnd(&s) % 4 + M_FDS * (rnd(&s) % 4) + 0x08 * (rnd(&s) % 2));   /* few slots */
        b[2] = (uint8_t)rnd(&s);
        b[3] = (uint8_t)rnd(&s);
        if (kind == 0 && rnd(&s) % 2) b[3] = (uint8_t)((b[3] & ~3) | 2);            /* O_RDWR often */
        if (kind == 13) {
            unsigned h = (unsigned)(rnd(&s) % 100);
            b[1] = (uint8_t)((b[1] & 0x3f) | (h < 50 ? 0 : h < 75 ? 0x80 : 0xc0));   /* fork, raw clone, glibc clone */
            if (h < storm_pct()) b[0] |= 0x60;                                       /* a storm */
        }
        if (kind == 6 && (b[2] ^ b[3]) % 4 == 0)
            b[0] |= 0x60;   /* a wait (if it would) left by siglongjmp; the stream is unchanged */
        else if (kind == 6 && (b[2] ^ b[3]) % 4 == 1)
            b[0] |= 0x20;   /* a wait (if it would) whose fd is closed meanwhile */
    }
    return nops * OPB;
}

static void save_failure(const uint8_t *data, size_t size)
{
    const char *dir = getenv("FUZZ_ARTIFACT_DIR");
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < size; i++) h = (h ^ data[i]) * 1099511628211ULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/shim-model-fail-%016llx", dir && *dir ? dir : ".", (unsigned long long)h);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        if (write(fd, data, size) < 0) {}
        close(fd);
        fprintf(stderr, "fuzz_shim_model: failing input saved as %s\n", path);
    }
}

static void on_alarm(int sig)
{
    (void)sig;
    static const char m[] = "fuzz_shim_model: TIMEOUT (an operation hung); trace so far:\n";
    if (write(2, m, sizeof m - 1)) {}
    if (write(2, trace, trace_n)) {}
    if (child_pid > 0) kill(child_pid, SIGKILL);
    if (probe_pid > 0) kill(probe_pid, SIGKILL);
    for (int f = 0; f <= M_FILES; f++) unlink(paths[f]);
    rmdir(workdir);
    _exit(1);
}

/* The probe server is this same binary: recognised before any main()
 * (libFuzzer's or ours) runs, from the arguments glibc passes to
 * constructors. */
__attribute__((constructor)) static void probe_server_early(int argc, char **argv, char **envp)
{
    (void)envp;
    if (argc >= 4 && argv && !strcmp(argv[1], "--probe-server"))
        _exit(probe_server(argv[2], argv[3]));
    if (argc >= 10 && argv && !strcmp(argv[1], "--inherit-report"))
        _exit(inherit_report(argv));
}

/* ---- libFuzzer entry points ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    fuzzer_mode = 1;
    int loaded = 0;
    const char *pre = getenv("LD_PRELOAD");
    if (pre && strstr(pre, "liblockscope")) loaded = 1;
    if (!loaded && !getenv("LS_FUZZ_NO_REEXEC")) {
        char cand[3][4096];
        const char *env = getenv("LS_FUZZ_LIB");
        const char *self = self_path();
        snprintf(cand[0], sizeof cand[0], "%s", env ? env : "");
        snprintf(cand[1], sizeof cand[1], "%s", self);
        char *sl = strrchr(cand[1], '/');
        if (sl) snprintf(sl, sizeof cand[1] - (size_t)(sl - cand[1]), "/../build/liblockscope.so");
        snprintf(cand[2], sizeof cand[2], "build/liblockscope.so");
        for (int i = 0; i < 3; i++) {
            char real[4096];
            if (!cand[i][0] || !realpath(cand[i], real)) continue;
            setenv("LD_PRELOAD", real, 1);
            if (!getenv("LOCKSCOPE_LOG")) setenv("LOCKSCOPE_LOG", "/dev/null", 1);
            setenv("LS_FUZZ_NO_REEXEC", "1", 1);
            execv(self, *argv);
            break;
        }
        fprintf(stderr, "fuzz_shim_model: liblockscope.so not found (LS_FUZZ_LIB): checking native semantics\n");
    }
    setup(self_path());
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (run_input(data, size)) {
        cleanup();          /* no child, probe or temp dir left behind */
        abort();            /* libFuzzer writes the input as its crash artifact */
    }
    return 0;
}

/* ---- standalone ---- */

__attribute__((weak)) int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "--gen")) {
        uint64_t seed = strtoull(argv[3], NULL, 0);
        int n = atoi(argv[4]);
        for (int i = 0; i < n; i++) {
            uint8_t buf[512 * OPB];
            size_t len = gen_input(seed + (uint64_t)i, buf, 120);
            char path[4096];
            snprintf(path, sizeof path, "%s/gen-%llu", argv[2], (unsigned long long)(seed + (uint64_t)i));
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0 || write(fd, buf, len) != (ssize_t)len) die(path);
            close(fd);
        }
        return 0;
    }
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_shim_model FILE... | --random SEED N [MAXOPS] | --ops SEED MINOPS [MAXOPS] | --gen DIR SEED N\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    setup(self_path());
    signal(SIGALRM, on_alarm);
    signal(SIGPIPE, SIG_IGN);
    int bad = 0;
    long ops = 0, inputs = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int by_ops = !strcmp(argv[1], "--ops");
    if ((by_ops || !strcmp(argv[1], "--random")) && argc >= 4) {
        uint64_t seed = strtoull(argv[2], NULL, 0);
        long n = by_ops ? 1L << 40 : atol(argv[3]);
        long min_ops = by_ops ? atol(argv[3]) : 0;
        size_t maxops = argc > 4 ? (size_t)atoi(argv[4]) : 120;
        if (maxops < 9) maxops = 9;
        if (maxops > 512) maxops = 512;
        for (long i = 0; i < n && !bad && (!by_ops || ops < min_ops); i++) {
            uint8_t buf[512 * OPB];
            size_t len = gen_input(seed + (uint64_t)i, buf, maxops);
            alarm(120);   /* a hang guard only */
            if (run_input(buf, len)) {
                fprintf(stderr, "fuzz_shim_model: input --random %llu (seed %llu + %ld) failed\n",
                        (unsigned long long)(seed + (uint64_t)i), (unsigned long long)seed, i);
                save_failure(buf, len);
                bad = 1;
            }
            ops += (long)(len / OPB);
            inputs++;
        }
    } else {
        for (int i = 1; i < argc; i++) {
            FILE *f = fopen(argv[i], "rb");
            if (!f) die(argv[i]);
            static uint8_t buf[1 << 16];
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            alarm(120);   /* a hang guard only */
            if (run_input(buf, len)) {
                fprintf(stderr, "fuzz_shim_model: input %s failed\n", argv[i]);
                bad = 1;
            }
            ops += (long)((len + OPB - 1) / OPB);
            inputs++;
        }
    }
    alarm(0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("fuzz_shim_model: %ld inputs, %ld operations, semantics %s: %s (%ld waits left by siglongjmp, %ld closed; "
           "%ld raw clones, %ld glibc clones; %ld storms: %ld helpers execed/spawned, %ld thread operations; "
           "%.1f s, %.0f ops/s)\n",
           inputs, ops, sem_name, bad ? "MISMATCH" : "all as the model predicts", interrupted_waits, closed_waits,
           clones_raw, clones_glibc, storms, storm_spawns, storm_ops, secs, secs > 0 ? (double)ops / secs : 0.0);
    cleanup();
    return bad;
}
