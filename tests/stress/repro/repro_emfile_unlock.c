/*
 * REPRODUCER (shim bug, see tests/stress/README): at EMFILE, an unlock
 * fails with ENOLCK.
 *
 * The fd table is full (RLIMIT_NOFILE 128, /dev/null opened until EMFILE).
 * A write lock through fd (its description's first lock) fails with ENOLCK:
 * the shim has no fd for a private description; that is documented.  The
 * README also says "an unlock or F_GETLK never needs one", yet the unlock
 * that follows (nothing is held) fails with ENOLCK too: the failed lock
 * left an owner without a private fd behind (engine.c ls_fcntl_lock: the
 * "unlock without an owner" shortcut tests d->owner only), so the unlock
 * tries to re-open again.  Natively the unlock answers 0.
 *
 *   cc repro_emfile_unlock.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * exit 1 if the unlock fails.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static int lk(int fd, short type)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
    return fcntl(fd, F_SETLK, &fl);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_emfile_unlock";
    int fd = open(path, O_RDWR | O_CREAT, 0644);
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = 128;
    setrlimit(RLIMIT_NOFILE, &rl);
    while (open("/dev/null", O_RDONLY) >= 0) {}
    int r = lk(fd, F_WRLCK);
    printf("lock at EMFILE:   %s\n", r ? strerror(errno) : "0");
    r = lk(fd, F_UNLCK);
    printf("unlock at EMFILE: %s\n", r ? strerror(errno) : "0");
    return r ? 1 : 0;
}
