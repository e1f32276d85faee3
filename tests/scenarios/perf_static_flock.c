/*
 * perf_static_flock - a struct flock in the program's static data is read
 * directly, without process_vm_readv (issue 14).
 *
 * process_vm_readv is made to fail with EFAULT by a seccomp filter (as if
 * the pointer were bad); a shim that still reads the struct through it
 * takes the pointer for bad and falls back to the native call, whose
 * process-scoped lock lets a second descriptor's conflicting request
 * through.  Under fix the struct (in .bss and .data) is read directly: the
 * second descriptor's request conflicts (EAGAIN).  The write-back of an
 * F_GETLK into static data, and a read-only struct (.rodata, before the
 * filter) are checked as well.  Natively every request succeeds (one
 * process owns the lock).
 */
#include "scen.h"

static struct flock bss_fl;
static struct flock data_fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
static const struct flock ro_fl = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 5, .l_len = 1 };
static struct flock getlk_fl;

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    char path[4096];
    snprintf(path, sizeof path, "%s", scen_path("perf_static"));
    unlink(path);
    int fd1 = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    int fd2 = open(path, O_RDWR);
    if (fd1 < 0 || fd2 < 0) scen_die("open");
    /* before the filter: a read-only struct is read, never written */
    SAY("rodata_lock=%s", res(fcntl(fd1, F_SETLK, &ro_fl)));
    SAY("filter=%d", scen_seccomp((const int[]){ __NR_process_vm_readv }, 1, SECCOMP_RET_ERRNO | EFAULT) == 0);
    bss_fl.l_type = F_WRLCK;
    bss_fl.l_whence = SEEK_SET;
    bss_fl.l_start = 0;
    bss_fl.l_len = 1;
    SAY("bss_lock=%s", res(fcntl(fd1, F_SETLK, &bss_fl)));
    SAY("data_lock_other_fd=%s", res(fcntl(fd2, F_SETLK, &data_fl)));
    getlk_fl = data_fl;
    int r = fcntl(fd2, F_GETLK, &getlk_fl);
    SAY("getlk=%s type=%s", res(r), getlk_fl.l_type == F_WRLCK ? "W" : getlk_fl.l_type == F_UNLCK ? "U" : "R");
    bss_fl.l_type = F_UNLCK;
    SAY("bss_unlock=%s", res(fcntl(fd1, F_SETLK, &bss_fl)));
    SAY("data_lock_after=%s", res(fcntl(fd2, F_SETLK, &data_fl)));
    SAY("probe=%c", probe(path, 'W', 0, 1));
    close(fd1);
    close(fd2);
    unlink(path);
    SAY("done=1");
    return 0;
}
