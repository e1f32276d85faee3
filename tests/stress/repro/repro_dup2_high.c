/*
 * REPRODUCER (shim bug, see tests/stress/README): dup2 onto the shim's fd
 * area loses a held lock.
 *
 * A write lock is held through fd a.  The program then does dup2(0, n) for
 * every n in the top quarter of RLIMIT_NOFILE (where the shim parks its
 * private descriptions), upward.  Each dup2 onto the private fd makes the
 * shim move it to the next number up (evict_private: F_DUPFD_CLOEXEC from
 * fd + 1), until at the last number nothing is free above, the move fails
 * and dup2 closes the private description: the lock is gone, though the
 * program never closed or unlocked anything.  (Downward, the first
 * collision already finds everything above taken.)  Natively the lock
 * stays.  Plenty of free numbers exist below the top quarter.
 *
 *   cc repro_dup2_high.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * Prints whether the lock survived; exit 1 if not.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static int locks_on(const char *path)
{
    struct stat st;
    char want[64], line[256];
    if (stat(path, &st) != 0) return -1;
    snprintf(want, sizeof want, " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
    FILE *f = fopen("/proc/locks", "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, want) && !strstr(line, "->")) n++;
    if (f) fclose(f);
    return n;
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_dup2_high";
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int lim = (int)(rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur), lo = lim - lim / 4;
    int a = open(path, O_RDWR | O_CREAT, 0644);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    if (a < 0 || fcntl(a, F_SETLK, &fl) != 0) { perror("setup"); return 2; }
    printf("before: %d lock(s) on the file\n", locks_on(path));
    for (int n = lo; n < lim; n++)
        if (dup2(0, n) != n) { perror("dup2"); return 2; }
    int after = locks_on(path);
    printf("after dup2(0, n) for n in [%d, %d): %d lock(s) on the file\n", lo, lim, after);
    return after == 1 ? 0 : 1;
}
