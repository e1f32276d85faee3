/*
 * perf_close_untracked_locked - while the process holds a lock, a dup+close
 * of a descriptor of ANOTHER, unlocked file costs no system call beyond
 * dup and close (issue 14), and a descriptor seen unlocked once is looked
 * at again when its file becomes locked.
 *
 * A = open(X), write lock [0,10) through A (held all along).  B = open(Y),
 * never locked through.
 *   (1) C = dup(B); close(C): B's file is seen unlocked.  Then F = open(Y)
 *       locks Y [0,10); G = dup(B); close(G).  Natively that close drops
 *       F's lock (probe U); under the shim it stays (W) and the close is
 *       reported close-drops-lock: what the shim knew of B no longer holds.
 *   (2) F closed; one more dup(B)+close, then a seccomp filter kills the
 *       process at any fstat/newfstatat/statx; then 200 dup(B)+close.  A
 *       shim that asks the kernel which file a closing descriptor is of
 *       dies (SIGSYS) before "done".  Natively dup and close make no such
 *       call.
 */
#include "scen.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SCEN_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SCEN_ARCH AUDIT_ARCH_AARCH64
#endif

static int kill_on_stat(void)
{
#ifdef SCEN_ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SCEN_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
#ifdef __NR_fstat
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fstat, 3, 0),
#else
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_statx, 3, 0),
#endif
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_newfstatat, 2, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_statx, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
    };
    struct sock_fprog prog = { .len = sizeof f / sizeof f[0], .filter = f };
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return -1;
    return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0 ? -1 : 0;
#else
    return -1;
#endif
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    char x[4096], y[4096];
    snprintf(x, sizeof x, "%s", scen_path("pcul-x"));
    snprintf(y, sizeof y, "%s", scen_path("pcul-y"));
    int a = open(x, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int b = open(y, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0 || b < 0) scen_die("open");
    SAY("lock_a=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));

    /* (1) */
    int c = dup(b);
    SAY("dup_close=%s", res(c < 0 ? -1 : close(c)));
    int f = open(y, O_RDWR);
    if (f < 0) scen_die("open F");
    SAY("lock_f=%s", res(scen_setlk(f, F_SETLK, F_WRLCK, 0, 10)));
    int g = dup(b);
    SAY("close_dup_of_y=%s", res(g < 0 ? -1 : close(g)));
    SAY("probe_y=%c", probe(y, 'W', 0, 10));
    close(f);
    SAY("probe_y_after_close_f=%c", probe(y, 'W', 0, 10));

    /* (2) */
    c = dup(b);
    SAY("warm=%s", res(c < 0 ? -1 : close(c)));
    SAY("filter=%d", kill_on_stat() == 0);
    int bad = 0;
    for (int i = 0; i < 200; i++) {
        c = dup(b);
        bad += c < 0 || close(c) < 0;
    }
    SAY("pairs_failed=%d", bad);
    SAY("done=1");
    close(b);
    close(a);
    return 0;
}
