/*
 * rule8_errno - rule 8: every errno of the native call for bad arguments,
 * errno untouched on success, F_GETLK without conflict changes only l_type,
 * and non-lock fcntl commands pass through.  Identical natively and under the
 * shim in every mode.
 *
 * Each lock command is tried with the classic struct flock and with struct
 * flock64 / F_*LK64 (the same thing on 64-bit; the .lfs twin calls fcntl64).
 */
#include "scen.h"
#include <limits.h>
#include <sys/mman.h>

#define TYPE_MAX(t) ((t)((1ULL << (sizeof(t) * 8 - 1)) - 1))
#define BIG LLONG_MAX           /* replaced by the largest value of the field's type */

static const char *path;
static int rw, ro, wo;
static void *ro_page;           /* a PROT_READ page holding a valid request */

/* One lock request; ptr: 0 = a struct on the stack, 1 = NULL, 2 = (void *)1,
 * 3 = the read-only page (filled with this request first). */
static int req(int fd, int cmd, int is64, int ptr, short type, short whence, long long start, long long len)
{
    struct flock fl; struct flock64 fl64;
    memset(&fl, 0, sizeof fl); memset(&fl64, 0, sizeof fl64);
    fl.l_type = fl64.l_type = type; fl.l_whence = fl64.l_whence = whence;
    fl.l_start = start == BIG ? TYPE_MAX(off_t) : (off_t)start;
    fl64.l_start = start == BIG ? TYPE_MAX(off64_t) : (off64_t)start;
    fl.l_len = (off_t)len; fl64.l_len = (off64_t)len;
    void *arg = is64 ? (void *)&fl64 : (void *)&fl;
    if (ptr == 1) arg = NULL;
    if (ptr == 2) arg = (void *)1;
    if (ptr == 3) {
        mprotect(ro_page, 4096, PROT_READ | PROT_WRITE);
        memcpy(ro_page, arg, is64 ? sizeof fl64 : sizeof fl);
        mprotect(ro_page, 4096, PROT_READ);
        arg = ro_page;
    }
    return fcntl(fd, cmd, arg);
}

static void lock_errors(const char *n, int cmd, int is64, int is_get)
{
#define T(key, call) SAY("%s_%s=%s", n, key, res(call))
    T("fd-1", req(-1, cmd, is64, 0, F_WRLCK, SEEK_SET, 0, 10));
    T("fd900", req(900, cmd, is64, 0, F_WRLCK, SEEK_SET, 0, 10));
    T("whence7", req(rw, cmd, is64, 0, F_WRLCK, 7, 0, 10));
    T("type42", req(rw, cmd, is64, 0, 42, SEEK_SET, 0, 10));
    T("wrlck_on_rdonly", req(ro, cmd, is64, 0, F_WRLCK, SEEK_SET, 0, 10));
    T("rdlck_on_wronly", req(wo, cmd, is64, 0, F_RDLCK, SEEK_SET, 0, 10));
    T("start-10", req(rw, cmd, is64, 0, F_WRLCK, SEEK_SET, -10, 10));
    T("start5_len-10", req(rw, cmd, is64, 0, F_WRLCK, SEEK_SET, 5, -10));
    T("cur_start-10", req(rw, cmd, is64, 0, F_WRLCK, SEEK_CUR, -10, 5));
    T("startmax_len2", req(rw, cmd, is64, 0, F_WRLCK, SEEK_SET, BIG, 2));
    T("startmax_len0", req(rw, cmd, is64, 0, F_WRLCK, SEEK_SET, BIG, 0));
    if (!is_get) T("startmax_unlock", req(rw, cmd, is64, 0, F_UNLCK, SEEK_SET, BIG, 0));
    T("null", req(rw, cmd, is64, 1, F_WRLCK, SEEK_SET, 0, 10));
    T("ptr1", req(rw, cmd, is64, 2, F_WRLCK, SEEK_SET, 0, 10));
    T("readonly_struct", req(rw, cmd, is64, 3, F_WRLCK, SEEK_SET, 0, 10));
    if (!is_get) {
        SAY("%s_readonly_struct_probe=%c", n, probe(path, 'W', 0, 10));
        T("readonly_struct_unlock", req(rw, cmd, is64, 3, F_UNLCK, SEEK_SET, 0, 10));
        SAY("%s_readonly_struct_probe_after_unlock=%c", n, probe(path, 'W', 0, 10));
    }
#undef T
}

/* F_GETLK that finds nothing: only l_type changes (to F_UNLCK). */
static void getlk_untouched(const char *n, int cmd, int is64)
{
    unsigned char buf[sizeof(struct flock64) + sizeof(struct flock)], before[sizeof buf];
    memset(buf, 0x5a, sizeof buf);
    if (is64) {
        struct flock64 *f = (struct flock64 *)buf;
        f->l_type = F_WRLCK; f->l_whence = SEEK_CUR; f->l_start = 5; f->l_len = 7; f->l_pid = 99;
    } else {
        struct flock *f = (struct flock *)buf;
        f->l_type = F_WRLCK; f->l_whence = SEEK_CUR; f->l_start = 5; f->l_len = 7; f->l_pid = 99;
    }
    memcpy(before, buf, sizeof buf);
    SAY("%s_nolock=%s", n, res(fcntl(rw, cmd, buf)));
    short t = is64 ? ((struct flock64 *)buf)->l_type : ((struct flock *)buf)->l_type;
    SAY("%s_nolock_type=%s", n, t == F_UNLCK ? "F_UNLCK" : "changed");
    if (is64) ((struct flock64 *)before)->l_type = F_UNLCK; else ((struct flock *)before)->l_type = F_UNLCK;
    SAY("%s_nolock_rest_untouched=%s", n, memcmp(before, buf, sizeof buf) ? "no" : "yes");
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("r8err");
    rw = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    ro = open(path, O_RDONLY);
    wo = open(path, O_WRONLY);
    ro_page = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (rw < 0 || ro < 0 || wo < 0 || ro_page == MAP_FAILED) scen_die("setup");
    lseek(rw, 5, SEEK_SET);

    lock_errors("setlk", F_SETLK, 0, 0);
    lock_errors("setlkw", F_SETLKW, 0, 0);
    lock_errors("getlk", F_GETLK, 0, 1);
    lock_errors("setlk64", F_SETLK64, 1, 0);
    lock_errors("setlkw64", F_SETLKW64, 1, 0);
    lock_errors("getlk64", F_GETLK64, 1, 1);
    getlk_untouched("getlk", F_GETLK, 0);
    getlk_untouched("getlk64", F_GETLK64, 1);

    lseek(rw, 0, SEEK_SET);
    SAY("lockf_fd-1=%s", res(lockf(-1, F_LOCK, 10)));
    SAY("lockf_fd900=%s", res(lockf(900, F_TLOCK, 10)));
    SAY("lockf_test_fd-1=%s", res(lockf(-1, F_TEST, 10)));
    SAY("lockf_lock_rdonly=%s", res(lockf(ro, F_LOCK, 10)));
    SAY("lockf_tlock_rdonly=%s", res(lockf(ro, F_TLOCK, 10)));
    SAY("lockf_ulock_rdonly=%s", res(lockf(ro, F_ULOCK, 10)));
    SAY("lockf_test_rdonly=%s", res(lockf(ro, F_TEST, 10)));
    SAY("lockf_test_wronly=%s", res(lockf(wo, F_TEST, 10)));
    SAY("lockf_cmd42=%s", res(lockf(rw, 42, 10)));
    SAY("lockf_len-10_at0=%s", res(lockf(rw, F_LOCK, -10)));

    /* errno untouched on success */
#define KEEP(key, call) do { errno = 4242; int r_ = (call); int e_ = errno; \
        SAY("errno_kept_%s=%s", key, r_ >= 0 && e_ == 4242 ? "yes" : "no"); } while (0)
    KEEP("setlk", scen_setlk(rw, F_SETLK, F_WRLCK, 0, 10));
    KEEP("setlk_again", scen_setlk(rw, F_SETLK, F_WRLCK, 0, 10));
    KEEP("setlkw", scen_setlk(rw, F_SETLKW, F_RDLCK, 20, 10));
    KEEP("getlk", scen_setlk(rw, F_GETLK, F_WRLCK, 0, 10));
    KEEP("unlock", scen_setlk(rw, F_SETLK, F_UNLCK, 0, 0));
    KEEP("unlock_again", scen_setlk(rw, F_SETLK, F_UNLCK, 0, 0));
    KEEP("lockf_lock", lockf(rw, F_LOCK, 10));
    KEEP("lockf_tlock", lockf(rw, F_TLOCK, 10));
    KEEP("lockf_test", lockf(rw, F_TEST, 10));
    KEEP("lockf_ulock", lockf(rw, F_ULOCK, 10));
    int fd = -1, fd2 = -1;
    KEEP("open", fd = open(path, O_RDWR));
    KEEP("dup", fd2 = dup(fd));
    KEEP("close_dup", close(fd2));
    KEEP("lock_then_close", scen_setlk(fd, F_SETLK, F_WRLCK, 0, 10));
    KEEP("close_locked", close(fd));
    KEEP("getfl", fcntl(rw, F_GETFL));
    SAY("probe_after_errno_part=%c", probe(path, 'W', 0, 0));

    /* non-lock commands pass through */
    int fl0 = fcntl(rw, F_GETFL);
    SAY("setfl=%s", res(fcntl(rw, F_SETFL, fl0 | O_APPEND | O_NONBLOCK)));
    int fl1 = fcntl(rw, F_GETFL);
    SAY("getfl_append_nonblock=%s", (fl1 & (O_APPEND | O_NONBLOCK)) == (O_APPEND | O_NONBLOCK) ? "yes" : "no");
    fcntl(rw, F_SETFL, fl0);
    SAY("getfl_restored=%s", fcntl(rw, F_GETFL) == fl0 ? "yes" : "no");
    SAY("setfd_cloexec=%s", res(fcntl(rw, F_SETFD, FD_CLOEXEC)));
    SAY("getfd=%d", fcntl(rw, F_GETFD));
    fcntl(rw, F_SETFD, 0);
    SAY("getfd_cleared=%d", fcntl(rw, F_GETFD));
    fd = fcntl(rw, F_DUPFD, 100);
    SAY("dupfd_min100=%s", fd >= 100 ? "yes" : "no");
    SAY("dupfd_getfd=%d", fcntl(fd, F_GETFD));
    close(fd);
    fd = fcntl(rw, F_DUPFD_CLOEXEC, 100);
    SAY("dupfd_cloexec_min100=%s", fd >= 100 ? "yes" : "no");
    SAY("dupfd_cloexec_getfd=%d", fcntl(fd, F_GETFD));
    close(fd);
    int p[2];
    if (pipe(p) < 0) scen_die("pipe");
    SAY("getpipe_sz_positive=%s", fcntl(p[0], F_GETPIPE_SZ) > 0 ? "yes" : "no");
    SAY("setpipe_sz=%s", fcntl(p[1], F_SETPIPE_SZ, 131072) >= 131072 ? "yes" : "no");
    SAY("getpipe_sz=%d", fcntl(p[0], F_GETPIPE_SZ));
    close(p[0]); close(p[1]);
    SAY("getown=%d", fcntl(rw, F_GETOWN));
    SAY("setown=%s", res(fcntl(rw, F_SETOWN, getpid())));
    SAY("getown_self=%s", fcntl(rw, F_GETOWN) == getpid() ? "yes" : "no");
    SAY("getlease_unlck=%s", fcntl(ro, F_GETLEASE) == F_UNLCK ? "yes" : "no");
    SAY("cmd9999=%s", res(fcntl(rw, 9999)));
    SAY("getfl_fd-1=%s", res(fcntl(-1, F_GETFL)));

    close(ro); close(wo); close(rw);
    munmap(ro_page, 4096);
    unlink(path);
    return 0;
}
