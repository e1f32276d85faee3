/*
 * REPRODUCER (shim bug, see tests/stress/README): close_range/closefrom
 * leaves a lock behind.
 *
 * y = dup(x) is made before the first lock through x (so the shim does not
 * know y yet), then a lock is taken through x and close_range(3, ~0U, 0)
 * closes both.  Every fd of the description is gone, so its lock must go
 * (natively it does).  Under the shim the lock stays (one line in
 * /proc/locks) and the private description (fd 15000 with the default
 * limit) stays open.  Worse, the table keeps a stale entry for fd 4: the
 * next close() of whatever later gets number 4 (a pipe, say) releases
 * the lock then.  closefrom(3) does the same.
 *
 *   cc repro_close_range_alias.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * Prints the number of locks left on the file; exit 1 if any.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "/tmp/repro_close_range";
    int x = open(path, O_RDWR | O_CREAT, 0644), y = dup(x);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1 };
    if (x < 0 || y < 0 || fcntl(x, F_SETLK, &fl) != 0) { perror("setup"); return 2; }
    close_range(3, ~0U, 0);
    struct stat st;
    if (stat(path, &st) != 0) { perror("stat"); return 2; }
    char want[64], line[256];
    snprintf(want, sizeof want, " %02x:%02x:%lu ", major(st.st_dev), minor(st.st_dev), (unsigned long)st.st_ino);
    FILE *f = fopen("/proc/locks", "r");
    int n = 0;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, want) && !strstr(line, "->")) { n++; fputs(line, stdout); }
    printf("%d lock(s) left after close_range(3, ~0U, 0) closed every fd of the file\n", n);
    return n ? 1 : 0;
}
