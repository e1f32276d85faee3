/*
 * perf_flock_fstatfs - a flock pays its fstatfs (the flock-on-nfs check)
 * once per file, not per call (issue 14).
 *
 * After one flock LOCK_EX/LOCK_UN of the file (the check made), a seccomp
 * filter kills the process at any fstatfs/statfs; then more flock pairs on
 * the same file, through the first descriptor and a second one.  A shim
 * that asks fstatfs on every flock dies (SIGSYS) before "done".  Natively
 * flock makes no such call.
 */
#include "scen.h"
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#if defined(__x86_64__)
#define SCEN_ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define SCEN_ARCH AUDIT_ARCH_AARCH64
#endif

static int kill_on_statfs(void)
{
#ifdef SCEN_ARCH
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SCEN_ARCH, 1, 0),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_fstatfs, 1, 0),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_statfs, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
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
    char path[4096];
    snprintf(path, sizeof path, "%s", scen_path("perf_flock"));
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int fd2 = open(path, O_RDWR);
    if (fd < 0 || fd2 < 0) scen_die("open");
    SAY("warm=%s,%s", res(flock(fd, LOCK_EX)), res(flock(fd, LOCK_UN)));
    unlink(path);
    SAY("filter=%d", kill_on_statfs() == 0);
    int bad = 0;
    for (int i = 0; i < 100; i++) {
        bad += flock(fd, LOCK_EX) < 0;
        bad += flock(fd, LOCK_UN) < 0;
        bad += flock(fd2, LOCK_SH) < 0;
        bad += flock(fd2, LOCK_UN) < 0;
    }
    SAY("pairs_failed=%d", bad);
    SAY("other_fd_excluded=%s", res(flock(fd, LOCK_EX) == 0 ? flock(fd2, LOCK_EX | LOCK_NB) : -1));
    flock(fd, LOCK_UN);
    close(fd);
    close(fd2);
    SAY("done=1");
    return 0;
}
