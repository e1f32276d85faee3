/*
 * lifecycle.c - fork, vfork, clone and the exec hand-over (run.sh runs it
 * under the shim).  Each command prints "ok - X" or "not ok - X".
 *
 * The oracle is `lifecycle probe FILE START LEN`, run WITHOUT the shim (empty
 * environment): it prints the conflicting lock type the kernel reports for
 * a write lock of [START, START+LEN) ("W", "R", "U").
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;
static const char *self;

static void die(const char *what) { printf("not ok - %s: %s\n", what, strerror(errno)); exit(1); }

static int setlk(int fd, int cmd, short type, off_t s, off_t l)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = s, .l_len = l };
    return fcntl(fd, cmd, &fl);
}

/* posix_spawn this program with argv and envp, read up to n bytes of what
 * it prints into buf, reap it: the bytes read (-1 on a read error). */
static ssize_t spawn_read(char *const argv[], char *const envp[], char *buf, size_t n)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0) die("pipe");
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, p[1], 1);
    pid_t pid;
    if (posix_spawn(&pid, self, &fa, NULL, argv, envp) != 0) die("posix_spawn");
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    ssize_t r = read(p[0], buf, n);
    close(p[0]);
    waitpid(pid, NULL, 0);
    return r;
}

/* the kernel's view, from a process without the shim */
static char probe(const char *path, off_t s, off_t l)
{
    char a[24], b[24];
    snprintf(a, sizeof a, "%lld", (long long)s);
    snprintf(b, sizeof b, "%lld", (long long)l);
    char *argv[] = { (char *)self, (char *)"probe", (char *)path, a, b, NULL };
    char *envp[] = { NULL };
    char c = '?';
    if (spawn_read(argv, envp, &c, 1) != 1) c = '?';
    return c;
}

static int do_probe(const char *path, off_t s, off_t l)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) { putchar('?'); return 0; }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = s, .l_len = l };
    if (fcntl(fd, F_GETLK, &fl) < 0) { putchar('?'); return 0; }
    putchar(fl.l_type == F_WRLCK ? 'W' : fl.l_type == F_RDLCK ? 'R' : 'U');
    return 0;
}

/* ---- 12.6: each thread gets its own mask back from fork ---- */

static volatile int mask_bad;
static void *forker(void *arg)
{
    int sig = (int)(long)arg;
    sigset_t m, now;
    sigemptyset(&m);
    sigaddset(&m, sig);
    pthread_sigmask(SIG_SETMASK, &m, NULL);
    for (int i = 0; i < 1500 && !mask_bad; i++) {
        pid_t p = fork();
        if (p < 0) continue;
        pthread_sigmask(SIG_SETMASK, NULL, &now);
        int mine = sigismember(&now, sig) == 1 && sigismember(&now, sig == SIGUSR1 ? SIGUSR2 : SIGUSR1) == 0;
        if (p == 0) _exit(mine ? 0 : 1);
        int st;
        waitpid(p, &st, 0);
        if (!mine || !WIFEXITED(st) || WEXITSTATUS(st) != 0) mask_bad = 1;
    }
    return NULL;
}

static int t_forkmask(void)
{
    pthread_t a, b;
    pthread_create(&a, NULL, forker, (void *)(long)SIGUSR1);
    pthread_create(&b, NULL, forker, (void *)(long)SIGUSR2);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("%s - concurrent forks: each thread keeps its own signal mask\n", mask_bad ? "not ok" : "ok");
    return mask_bad;
}

/* ---- 12.7: vfork shares memory; its child owns nothing ---- */

static int t_vfork(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) die("lock");
    static volatile int shared;
    shared = 0;
    pid_t p = vfork();
    if (p == 0) {
        setlk(fd, F_SETLK, F_UNLCK, 0, 0);   /* the child holds nothing: releases nothing */
        close(fd);                       /* the child's copy: the parent's lock stays */
        execl("/nonexistent/lifecycle", "x", (char *)NULL);
        shared = errno;                  /* the usual "exec failed, errno" report */
        _exit(127);
    }
    if (p < 0) die("vfork");
    waitpid(p, NULL, 0);
    int bad = 0;
    if (shared != ENOENT) {
        printf("not ok - vfork: the child's write reaches the parent (got %d)\n", shared);
        bad = 1;
    } else {
        printf("ok - vfork: the child's write reaches the parent\n");
    }
    char c = probe(path, 0, 10);
    /* the table is intact: another fd of the file opened and closed (fix: kept) */
    int fd2 = open(path, O_RDONLY);
    close(fd2);
    char c2 = probe(path, 0, 10);
    const char *mode = getenv("LOCKSCOPE_MODE");
    int fixing = mode && (!strcmp(mode, "fix") || !strcmp(mode, "strict"));
    char want2 = fixing ? 'W' : 'U';
    if (c != 'W' || c2 != want2) {
        printf("not ok - vfork: the child's unlock and close leave the parent's lock and table (probe %c, after another close %c, want W %c)\n", c, c2, want2);
        bad = 1;
    } else {
        printf("ok - vfork: the child's unlock and close leave the parent's lock and table\n");
    }
    close(fd);
    return bad;
}

/* ---- 12.8: a clone() child ---- */

struct cl { int fd; int getlk_ok; };
static int clone_child(void *arg)
{
    struct cl *c = arg;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
    int r = fcntl(c->fd, F_GETLK, &fl);
    int ok = r == 0 && fl.l_type == F_WRLCK && fl.l_pid == getppid();
    close(c->fd);
    _exit(ok ? 0 : 1);
}

static int clone_files_child(void *arg)
{
    struct cl *c = arg;
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
    fcntl(c->fd, F_GETLK, &fl);
    _exit(0);
}

static int t_clone(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) die("lock");
    size_t sz = 256 * 1024;
    char *stack = malloc(sz);
    struct cl c = { fd, 0 };
    pid_t p = clone(clone_child, stack + sz, SIGCHLD, &c);
    if (p < 0) die("clone");
    int st;
    waitpid(p, &st, 0);
    int bad = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        printf("not ok - clone child: F_GETLK reads its own flock and sees the parent's lock\n");
        bad = 1;
    } else {
        printf("ok - clone child: F_GETLK reads its own flock and sees the parent's lock\n");
    }
    char k = probe(path, 0, 10);
    if (k != 'W') {
        printf("not ok - clone child: its close leaves the parent's lock (probe %c)\n", k);
        bad = 1;
    } else {
        printf("ok - clone child: its close leaves the parent's lock\n");
    }
    /* a child sharing the fd table (CLONE_FILES): it must not close the
     * private fds, which are the parent's own */
    struct cl c2 = { fd, 0 };
    p = clone(clone_files_child, stack + sz, CLONE_FILES | SIGCHLD, &c2);
    if (p < 0) die("clone");
    waitpid(p, &st, 0);
    k = probe(path, 0, 10);
    if (k != 'W') {
        printf("not ok - clone(CLONE_FILES) child: its F_GETLK leaves the parent's lock (probe %c)\n", k);
        bad = 1;
    } else {
        printf("ok - clone(CLONE_FILES) child: its F_GETLK leaves the parent's lock\n");
    }
    close(fd);
    free(stack);
    return bad;
}

/* ---- 12.5: a posix_spawn child during another thread's exec ---- */

static struct stat locked_st;
static int spawn_stop;
static void *spawner(void *arg)
{
    (void)arg;
    char *argv[] = { (char *)self, (char *)"leakcheck", NULL };
    char dev[32], ino[32];
    snprintf(dev, sizeof dev, "LC_DEV=%llu", (unsigned long long)locked_st.st_dev);
    snprintf(ino, sizeof ino, "LC_INO=%llu", (unsigned long long)locked_st.st_ino);
    char *envp[] = { dev, ino, getenv("LC_DEBUG") ? (char *)"LC_DEBUG=1" : NULL, NULL };
    while (!__atomic_load_n(&spawn_stop, __ATOMIC_RELAXED)) {
        pid_t p;
        posix_spawn(&p, self, NULL, NULL, argv, envp);
    }
    return NULL;
}

/* a spawned child: does it hold an fd of the locked file besides the
 * program's own fd 3 (a private description of the shim)? */
static int leakcheck(void)
{
    const char *d = getenv("LC_DEV"), *i = getenv("LC_INO");
    if (!d || !i) return 0;
    for (int fd = 4; fd < 65536; fd++) {
        struct stat st;
        if (fstat(fd, &st) == 0 && st.st_dev == strtoull(d, NULL, 10) && st.st_ino == strtoull(i, NULL, 10)) {
            if (getenv("LC_DEBUG")) fprintf(stderr, "leakcheck: fd %d flags %d ppid %d\n", fd, fcntl(fd, F_GETFD), (int)getppid());
            return 1;
        }
    }
    return 0;
}

static int execleak(const char *path, int round, int rounds, int failures)
{
    /* reap the previous image's spawned children: any that had a fd of the file? */
    int st;
    pid_t p;
    while ((p = waitpid(-1, &st, 0)) > 0)
        if (WIFEXITED(st) && WEXITSTATUS(st) == 1) failures++;
    if (round >= rounds) {
        char c = probe(path, 0, 10);
        printf("%s - exec while another thread spawns: no child inherits the lock (%d children with a private fd in %d rounds, lock %c)\n",
               failures || c != 'W' ? "not ok" : "ok", failures, rounds, c);
        return failures || c != 'W';
    }
    int fd = round == 0 ? open(path, O_RDWR | O_CREAT, 0644) : 3;
    if (round == 0) {
        if (fd < 0) die("open");
        if (fd != 3) { dup2(fd, 3); close(fd); fd = 3; }
        if (setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) die("lock");
    }
    fstat(fd, &locked_st);
    pthread_t t;
    pthread_create(&t, NULL, spawner, NULL);
    usleep(2000);
    /* a big environment: the exec's copy widens its window */
    static char big[8][100000];
    size_t ne = 0;
    while (environ[ne]) ne++;
    char **envp = calloc(ne + 10, sizeof *envp);
    size_t n = 0;
    for (int i = 0; i < 8; i++) {
        snprintf(big[i], 8, "BIG%d=", i);
        memset(big[i] + 5, 'x', sizeof big[i] - 6);
        big[i][sizeof big[i] - 1] = 0;
        envp[n++] = big[i];
    }
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "BIG", 3) != 0) envp[n++] = *e;
    envp[n] = NULL;
    char r[16], rs[16], f[16];
    snprintf(r, sizeof r, "%d", round + 1);
    snprintf(rs, sizeof rs, "%d", rounds);
    snprintf(f, sizeof f, "%d", failures);
    char *argv[] = { (char *)self, (char *)"execleak", (char *)path, r, rs, f, NULL };
    execve(self, argv, envp);
    die("execve");
    return 1;
}

/* ---- 12.9: many owners and many locks survive exec ---- */

static int manylocks(const char *dir, int stage, int nfiles, int nranges)
{
    char path[4096];
    if (stage == 1) {
        struct rlimit rl;
        getrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < (rlim_t)(3 * nfiles + 64)) {
            rl.rlim_cur = rl.rlim_max < (rlim_t)(3 * nfiles + 64) ? rl.rlim_max : (rlim_t)(3 * nfiles + 64);
            setrlimit(RLIMIT_NOFILE, &rl);
        }
        for (int i = 0; i < nfiles; i++) {
            snprintf(path, sizeof path, "%s/m%d", dir, i);
            int fd = open(path, O_RDWR | O_CREAT, 0644);
            if (fd < 0) die("open");
            if (setlk(fd, F_SETLK, F_WRLCK, 0, 1) < 0) die("lock");
        }
        snprintf(path, sizeof path, "%s/ranges", dir);
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0) die("open");
        for (int i = 0; i < nranges; i++)
            if (setlk(fd, F_SETLK, F_WRLCK, 2 * i, 1) < 0) die("lock range");
        char a[16], b[16];
        snprintf(a, sizeof a, "%d", nfiles);
        snprintf(b, sizeof b, "%d", nranges);
        char *argv[] = { (char *)self, (char *)"manylocks", (char *)dir, (char *)"2", a, b, NULL };
        execve(self, argv, environ);
        printf("not ok - %d owners and %d ranges survive exec (exec: %s)\n", nfiles, nranges, strerror(errno));
        return 1;
    }
    int lost = 0;
    for (int i = 0; i < nfiles; i += nfiles / 50 ? nfiles / 50 : 1) {
        snprintf(path, sizeof path, "%s/m%d", dir, i);
        if (probe(path, 0, 1) != 'W') lost++;
    }
    snprintf(path, sizeof path, "%s/ranges", dir);
    char last = probe(path, 2 * (nranges - 1), 1), gap = probe(path, 1, 1);
    /* the new image's shim knows them: another fd's close keeps them (fix) */
    snprintf(path, sizeof path, "%s/m%d", dir, nfiles - 1);
    int fd2 = open(path, O_RDONLY);
    close(fd2);
    char kept = probe(path, 0, 1);
    int bad = lost || last != 'W' || gap != 'U' || kept != 'W';
    printf("%s - %d owners and %d ranges survive exec (lost %d sampled owners, last range %c, gap %c, after another close %c)\n",
           bad ? "not ok" : "ok", nfiles, nranges, lost, last, gap, kept);
    return bad;
}

/* ---- 13.1: what a program sees of a forged variable ---- */

static int forged(void)
{
    /* stdout still works, fds 3.. given by the shell untouched */
    const char *msg = "ok - forged hand-over variable: stdout still open\n";
    if (write(1, msg, strlen(msg)) != (ssize_t)strlen(msg)) return 1;
    int bad = 0;
    for (int fd = 0; fd <= 4; fd++) {
        int fl = fcntl(fd, F_GETFD);
        if (fl < 0 || (fl & FD_CLOEXEC)) {
            fprintf(stdout, "not ok - forged hand-over variable: fd %d untouched (F_GETFD %d)\n", fd, fl);
            bad = 1;
        }
    }
    if (!bad) printf("ok - forged hand-over variable: fds 0-4 open, flags untouched\n");
    if (getenv("LOCKSCOPE__HANDOVER") && getenv("LC_EXPECT_GONE")) {
        printf("not ok - hand-over variable removed before main\n");
        bad = 1;
    }
    fflush(stdout);
    return bad;
}

/* ---- the spawn gate and the fork acknowledgement (review of issue 13) ---- */

/* A handler that siglongjmps out of posix_spawn / popen (glibc unblocks
 * signals after the clone) must not leave a child creation counted: an
 * exec of another thread must run, and one of this thread must hand its
 * locks over.  spawnjmp MODE FILE: MODE "spawn" longjmps out of
 * posix_spawn then execs from a second thread (natively: runs); MODE
 * "popen" longjmps out of popen then execs "jmpcheck FILE" from this thread,
 * which asks the oracle whether the lock lived through the exec; MODE
 * "popen-thread" longjmps out of popen then execs from a second thread
 * (which may find a share left: it must run all the same, with or without
 * the hand-over). */
static sigjmp_buf jb;
static volatile sig_atomic_t jumps;
/* A jump out of popen that lands inside malloc or free corrupts the heap
 * natively too (glibc aborted "malloc assertion failure in sysmalloc" in
 * about 1 run of 20 without the shim): the program's own bug, not what is
 * tested.  So the allocator is wrapped: a timer that fires inside it jumps
 * as soon as the allocator has returned (still inside popen). */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);
static volatile sig_atomic_t in_alloc, jump_pending;
static void jump_if_pending(void)
{
    if (jump_pending && !in_alloc) {
        jump_pending = 0;
        jumps++;
        siglongjmp(jb, 1);
    }
}
void *malloc(size_t n) { in_alloc++; void *p = __libc_malloc(n); in_alloc--; jump_if_pending(); return p; }
void *calloc(size_t a, size_t b) { in_alloc++; void *p = __libc_calloc(a, b); in_alloc--; jump_if_pending(); return p; }
void *realloc(void *o, size_t n) { in_alloc++; void *p = __libc_realloc(o, n); in_alloc--; jump_if_pending(); return p; }
void free(void *o) { in_alloc++; __libc_free(o); in_alloc--; jump_if_pending(); }
static void on_alarm(int s)
{
    (void)s;
    if (in_alloc) { jump_pending = 1; return; }
    jumps++;
    siglongjmp(jb, 1);
}
static char *jmp_argv[4];
static void *jmp_exec_thread(void *a)
{
    (void)a;
    execve(self, jmp_argv, environ);
    die("execve");
    return NULL;
}
static int spawnjmp(const char *mode, const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) die("lock");
    struct sigaction sa = { .sa_handler = on_alarm };
    sigaction(SIGALRM, &sa, NULL);
    int popen_mode = !strncmp(mode, "popen", 5);
    char *av[] = { (char *)"/bin/true", NULL };
    for (int i = 0; i < 300; i++) {
        if (sigsetjmp(jb, 1) == 0) {
            struct itimerval it = { { 0, 0 }, { 0, 50 + (i * 37) % 400 } };
            setitimer(ITIMER_REAL, &it, NULL);
            if (popen_mode) {
                FILE *f = popen("true", "r");
                jump_if_pending();
                if (f) pclose(f);
                jump_if_pending();
            } else {
                pid_t p;
                posix_spawn(&p, "/bin/true", NULL, NULL, av, environ);
            }
            jump_if_pending();
            pause();
        }
        jump_pending = 0;
        while (waitpid(-1, NULL, WNOHANG) > 0) ;
    }
    struct itimerval z = { { 0, 0 }, { 0, 0 } };
    setitimer(ITIMER_REAL, &z, NULL);
    signal(SIGALRM, SIG_DFL);
    jmp_argv[0] = (char *)self;
    jmp_argv[1] = (char *)"jmpcheck";
    jmp_argv[2] = (char *)path;
    jmp_argv[3] = NULL;
    fflush(stdout);
    if (!strcmp(mode, "popen-thread"))
        setenv("LC_ANY_LOCK", "1", 1);
    else if (popen_mode) {
        execve(self, jmp_argv, environ);
        die("execve");
    }
    pthread_t t;
    pthread_create(&t, NULL, jmp_exec_thread, NULL);
    pthread_join(t, NULL);
    return 1;
}
static int jmpcheck(const char *path)
{
    char c = probe(path, 0, 10);
    if (getenv("LC_ANY_LOCK")) {
        printf("ok - longjmps out of popen: an exec of another thread ran (lock %c)\n", c);
        return 0;
    }
    printf("%s - longjmps out of child creations: the exec ran and handed the lock over (lock %c)\n",
           c == 'W' ? "ok" : "not ok", c);
    return c != 'W';
}

/* The child of posix_spawn starts with its caller's signal mask. */
static int spawnmask(void)
{
    sigset_t m, old;
    sigemptyset(&m);
    sigaddset(&m, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &m, &old);
    char *argv[] = { (char *)self, (char *)"maskprint", NULL };
    char buf[8] = "";
    if (spawn_read(argv, environ, buf, 2) != 2) buf[0] = 0;
    sigset_t now;
    pthread_sigmask(SIG_SETMASK, &old, &now);
    int ok = !strncmp(buf, "BU", 2) && sigismember(&now, SIGUSR2) && !sigismember(&now, SIGALRM);
    printf("%s - posix_spawn: the child starts with the caller's signal mask (child saw %.2s)\n",
           ok ? "ok" : "not ok", buf);
    return !ok;
}
static int maskprint(void)
{
    sigset_t m;
    pthread_sigmask(SIG_SETMASK, NULL, &m);
    printf("%c%c", sigismember(&m, SIGUSR2) ? 'B' : 'U', sigismember(&m, SIGALRM) ? 'B' : 'U');
    return 0;
}

/* A handler that forks while its thread is inside popen, while another
 * thread (holding a lock) execs: no deadlock (natively: runs to the end). */
static volatile int hf_stop;
static void hf_usr1(int s) { (void)s; pid_t p = fork(); if (p == 0) _exit(0); }
static void *hf_popener(void *a)
{
    (void)a;
    while (!hf_stop) { FILE *f = popen("true", "r"); if (f) pclose(f); }
    return NULL;
}
static void *hf_execer(void *a)
{
    int fd = open((char *)a, O_RDWR | O_CREAT, 0644);
    if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) die("lock");
    char *av[] = { (char *)"/nonexistent/x", NULL };
    while (!hf_stop) execve(av[0], av, environ);
    return NULL;
}
static int handlerfork(const char *path, int n)
{
    struct sigaction sa = { .sa_handler = hf_usr1, .sa_flags = SA_RESTART };
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGCHLD, SIG_IGN);
    pthread_t a, b;
    pthread_create(&a, NULL, hf_popener, NULL);
    pthread_create(&b, NULL, hf_execer, (void *)path);
    for (int i = 0; i < n; i++) { pthread_kill(a, SIGUSR1); usleep(200); }
    hf_stop = 1;
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    printf("ok - a handler forks inside popen while another thread execs: no deadlock (%d signals)\n", n);
    return 0;
}

/* fork() is not a cancellation point, even when the parent waits for its
 * child to close its copies of many private fds. */
static volatile pid_t fc_got = -2;
static void *fc_worker(void *a)
{
    (void)a;
    pthread_cancel(pthread_self());
    pid_t p = fork();
    if (p == 0) _exit(0);
    fc_got = p;
    return NULL;
}
static int forkcancel(const char *dir, int n)
{
    struct rlimit rl = { (rlim_t)n * 4 + 1000, (rlim_t)n * 4 + 1000 };
    setrlimit(RLIMIT_NOFILE, &rl);
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/f%d", dir, i);
        int fd = open(p, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 0, 1) < 0) die("lock");
    }
    pthread_t t;
    void *ret;
    pthread_create(&t, NULL, fc_worker, NULL);
    pthread_join(t, &ret);
    while (waitpid(-1, NULL, 0) > 0) ;
    printf("%s - a pending cancellation does not act inside fork (%d locks; fork returned %d)\n",
           fc_got > 0 ? "ok" : "not ok", n, (int)fc_got);
    return fc_got <= 0;
}

/* A parent holding a lock whose child a tracer keeps stopped (a debugger
 * with detach-on-fork off) gets fork's return.  forkstop FILE: this
 * process traces a child that locks and forks, and never lets the
 * grandchild run. */
static int forkstop(const char *path)
{
    pid_t t = fork();
    if (t < 0) die("fork");
    if (t == 0) {
        if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0) _exit(3);
        raise(SIGSTOP);
        int fd = open(path, O_RDWR | O_CREAT, 0644);
        if (fd < 0 || setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) _exit(4);
        pid_t p = fork();
        if (p == 0) _exit(0);
        _exit(p > 0 ? 0 : 5);
    }
    int st;
    if (waitpid(t, &st, 0) != t || !WIFSTOPPED(st)) die("tracee");
    if (ptrace(PTRACE_SETOPTIONS, t, NULL, (void *)(long)PTRACE_O_TRACEFORK) < 0) {
        kill(t, SIGKILL);
        printf("ok - fork under a tracer # SKIP ptrace: %s\n", strerror(errno));
        return 0;
    }
    ptrace(PTRACE_CONT, t, NULL, NULL);
    alarm(60);                      /* proves the negative only */
    pid_t held = 0;
    int rc = -1;
    for (;;) {
        pid_t w = waitpid(-1, &st, __WALL);
        if (w < 0) break;
        if (w == t) {
            if (WIFEXITED(st)) { rc = WEXITSTATUS(st); break; }
            if (WIFSIGNALED(st)) break;
            int sig = WSTOPSIG(st);
            if (sig == SIGTRAP || sig == SIGSTOP) sig = 0;
            ptrace(PTRACE_CONT, t, NULL, (void *)(long)sig);
        } else if (held == 0) {
            held = w;               /* the grandchild: stays stopped */
        }
    }
    alarm(0);
    if (held > 0) { kill(held, SIGKILL); ptrace(PTRACE_DETACH, held, NULL, NULL); waitpid(held, NULL, __WALL); }
    printf("%s - fork returns while a tracer holds the child stopped (exit %d)\n", rc == 0 ? "ok" : "not ok", rc);
    return rc != 0;
}

/* After a failed exec the log descriptor is close-on-exec again: a child
 * made next does not inherit it.  logfd LOG. */
static int logfd(const char *log)
{
    char *av[] = { (char *)"no-such-program-lifecycle", NULL };
    execvp(av[0], av);              /* fails: ENOENT */
    char *argv[] = { (char *)self, (char *)"fdcheck", (char *)log, NULL };
    char *envp[] = { NULL };
    pid_t p;
    if (posix_spawn(&p, self, NULL, NULL, argv, envp) != 0) die("posix_spawn");
    int st;
    waitpid(p, &st, 0);
    int ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    printf("%s - after a failed exec a child does not inherit the log descriptor\n", ok ? "ok" : "not ok");
    return !ok;
}
static int fdcheck(const char *log)
{
    struct stat want, st;
    if (stat(log, &want) != 0) return 0;
    for (int fd = 0; fd < 65536; fd++)
        if (fstat(fd, &st) == 0 && st.st_dev == want.st_dev && st.st_ino == want.st_ino) {
            fprintf(stderr, "fdcheck: fd %d is the log\n", fd);
            return 1;
        }
    return 0;
}

/* An image started in mode off does not take the hand-over: the handed
 * private fds become close-on-exec there, so its children do not keep the
 * lock (rule 6).  offexec FILE (fix) execs "offspawn FILE" in mode off,
 * which spawns a child without the shim that looks for fds of FILE. */
static int offexec(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    if (fd < 0) die("open");
    if (fd != 3) { dup2(fd, 3); close(fd); fd = 3; }
    if (setlk(fd, F_SETLK, F_WRLCK, 0, 10) < 0) die("lock");
    setenv("LOCKSCOPE_MODE", "off", 1);
    char *argv[] = { (char *)self, (char *)"offspawn", (char *)path, NULL };
    fflush(stdout);
    execve(self, argv, environ);
    die("execve");
    return 1;
}
static int offspawn(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) die("stat");
    char dev[32], ino[32];
    snprintf(dev, sizeof dev, "LC_DEV=%llu", (unsigned long long)st.st_dev);
    snprintf(ino, sizeof ino, "LC_INO=%llu", (unsigned long long)st.st_ino);
    char *envp[] = { dev, ino, (char *)"LC_DEBUG=1", NULL };
    char *argv[] = { (char *)self, (char *)"leakcheck", NULL };
    pid_t p;
    if (posix_spawn(&p, self, NULL, NULL, argv, envp) != 0) die("posix_spawn");
    int ws;
    waitpid(p, &ws, 0);
    int ok = WIFEXITED(ws) && WEXITSTATUS(ws) == 0;
    printf("%s - an image in mode off: its child does not inherit the handed-over private fd\n", ok ? "ok" : "not ok");
    return !ok;
}

int main(int argc, char **argv)
{
    self = argv[0];
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "probe") && argc == 5) return do_probe(argv[2], atoll(argv[3]), atoll(argv[4]));
    if (!strcmp(cmd, "leakcheck")) return leakcheck();
    if (!strcmp(cmd, "forkmask")) return t_forkmask();
    if (!strcmp(cmd, "vfork") && argc == 3) return t_vfork(argv[2]);
    if (!strcmp(cmd, "clone") && argc == 3) return t_clone(argv[2]);
    if (!strcmp(cmd, "execleak") && argc == 6)
        return execleak(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(cmd, "manylocks") && argc == 6)
        return manylocks(argv[2], atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
    if (!strcmp(cmd, "forged")) return forged();
    if (!strcmp(cmd, "spawnjmp") && argc == 4) return spawnjmp(argv[2], argv[3]);
    if (!strcmp(cmd, "jmpcheck") && argc == 3) return jmpcheck(argv[2]);
    if (!strcmp(cmd, "spawnmask")) return spawnmask();
    if (!strcmp(cmd, "maskprint")) return maskprint();
    if (!strcmp(cmd, "handlerfork") && argc == 4) return handlerfork(argv[2], atoi(argv[3]));
    if (!strcmp(cmd, "forkcancel") && argc == 4) return forkcancel(argv[2], atoi(argv[3]));
    if (!strcmp(cmd, "forkstop") && argc == 3) return forkstop(argv[2]);
    if (!strcmp(cmd, "logfd") && argc == 3) return logfd(argv[2]);
    if (!strcmp(cmd, "fdcheck") && argc == 3) return fdcheck(argv[2]);
    if (!strcmp(cmd, "offexec") && argc == 3) return offexec(argv[2]);
    if (!strcmp(cmd, "offspawn") && argc == 3) return offspawn(argv[2]);
    return 2;
}
