/*
 * REPRODUCER: a signal handler that siglongjmps out of vfork's parent side
 * (README Limits before this fix: "not recovered").
 *
 * The vfork child sends SIGUSR1 to its parent and exits; the parent, held
 * until then, takes the signal the moment the system call returns to it,
 * inside the shim's vfork trampoline, and the handler siglongjmps out.
 * Then the parent locks [0,1) through A, opens and closes B on the same
 * file: under the shim (fix, strict) the lock belongs to A and must
 * survive the close of B (rule 1); natively (and in audit/off) it goes.
 * Before the fix the thread kept the trampoline's "vfork child" mark: every
 * later call was passed straight to libc (classic, process-scoped locks)
 * and its spawn-gate share was never given back.
 *
 *   cc repro_vfork_longjmp.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 when the lock is not what the mode says, 0 otherwise (also
 * natively); LOCKSCOPE_MODE says which (default fix).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static sigjmp_buf jb;
static void on_usr1(int sig) { (void)sig; siglongjmp(jb, 1); }

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_vfork_longjmp";
    const char *mode = getenv("LOCKSCOPE_MODE");
    int shimmed = getenv("LD_PRELOAD") && *getenv("LD_PRELOAD") &&
                  !(mode && (!strcmp(mode, "audit") || !strcmp(mode, "off")));
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) { perror("open"); return 2; }
    /* the caller's mask (SIGUSR2 blocked) must be the child's, and the
     * parent's again after the jump */
    sigset_t m2, cur;
    sigemptyset(&m2);
    sigaddset(&m2, SIGUSR2);
    sigprocmask(SIG_SETMASK, &m2, NULL);
    static volatile int child_mask_ok = -1;
    volatile pid_t child = -1;
    int jumped = 0;
    if (sigsetjmp(jb, 0) == 0) {
        pid_t p = vfork();
        if (p == 0) {
            sigprocmask(SIG_BLOCK, NULL, &cur);
            child_mask_ok = sigismember(&cur, SIGUSR2) == 1 && sigismember(&cur, SIGUSR1) == 0 &&
                            sigismember(&cur, SIGTERM) == 0;
            kill(getppid(), SIGUSR1);
            _exit(0);
        }
        child = p;
    } else {
        jumped = 1;
    }
    int st;
    while (wait(&st) > 0) {}
    /* siglongjmp without the mask: what the handler left is what the shim
     * left (USR1 blocked by the handler's own entry) */
    sigprocmask(SIG_BLOCK, NULL, &cur);
    int parent_mask_ok = !jumped || (sigismember(&cur, SIGUSR2) == 1 && sigismember(&cur, SIGTERM) == 0);
    sigprocmask(SIG_SETMASK, &m2, NULL);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    fl.l_start = 0;
    fl.l_len = 1;
    if (fcntl(a, F_SETLK, &fl) != 0) { perror("lock"); return 2; }
    int b = open(path, O_RDONLY);
    if (b < 0) { perror("open B"); return 2; }
    close(b);
    /* is the lock still held?  ask from a child process (classic F_GETLK) */
    int pfd[2];
    if (pipe(pfd) < 0) return 2;
    pid_t q = fork();
    if (q == 0) {
        int c = open(path, O_RDONLY);
        struct flock g;
        memset(&g, 0, sizeof g);
        g.l_type = F_RDLCK;
        g.l_whence = SEEK_SET;
        g.l_len = 1;
        char r = (c >= 0 && fcntl(c, F_GETLK, &g) == 0) ? (g.l_type == F_UNLCK ? 'u' : 'L') : 'E';
        if (write(pfd[1], &r, 1) != 1) _exit(1);
        _exit(0);
    }
    char r = 'E';
    if (read(pfd[0], &r, 1) != 1) r = 'E';
    waitpid(q, &st, 0);
    unlink(path);
    char want = shimmed ? 'L' : 'u';
    printf("%s the parent side of vfork; after the close of B the lock is %s (want %s); "
           "the child's mask %s the caller's; the parent's mask after the jump %s\n",
           jumped ? "handler siglongjmp'd out of" : "no jump out of",
           r == 'L' ? "held" : r == 'u' ? "gone" : "unknown", want == 'L' ? "held" : "gone",
           child_mask_ok == 1 ? "was" : "was NOT", parent_mask_ok ? "is the caller's" : "is NOT the caller's");
    (void)child;
    return r == want && child_mask_ok == 1 && parent_mask_ok ? 0 : 1;
}
