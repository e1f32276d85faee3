/*
 * hazard_log_fd - hazard records never land in the program's files.
 *
 * The shim writes records through a descriptor of its own at a high
 * number.  A program may close it behind the shim's back (a raw
 * close_range syscall) and put one of its own files on that number (a raw
 * dup3): the next record must go to the log again, not into that file.
 * Also closefrom(3) through libc must leave the log alone.
 *   (1) unlock-not-held on A (the log is opened)
 *   (2) raw close_range(3, ~0); X = a program file; raw dup3(X, n) onto
 *       every fd number the program did not open; unlock-not-held on B
 *   (3) closefrom(3); unlock-not-held on C
 * X must hold only what the program wrote.  Three records in the log
 * (tests/hazards/check-records.sh counts them).
 */
#include "scen.h"
#include <dirent.h>
#include <sys/syscall.h>

/* a macro: each use is its own call site (flood control keeps apart) */
static struct flock unl = { .l_type = F_UNLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
#define unlock_nothing(fd) fcntl((fd), F_SETLK, &unl)

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    char pa[4096], px[4096];
    snprintf(pa, sizeof pa, "%s", scen_path("hz-logfd-a"));
    snprintf(px, sizeof px, "%s", scen_path("hz-logfd-x"));
    int a = open(pa, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open");
    SAY("a_unlock=%s", res(unlock_nothing(a)));

    /* (2) every fd number above 2 that is not the program's: the shim's */
    int theirs[256], n = 0;
    DIR *dir = opendir("/proc/self/fd");
    if (!dir) scen_die("opendir");
    int dfd = dirfd(dir);
    struct dirent *e;
    while ((e = readdir(dir)) && n < 256) {
        int k = atoi(e->d_name);
        if (e->d_name[0] != '.' && k > 2 && k != a && k != dfd) theirs[n++] = k;
    }
    closedir(dir);
    if (syscall(SYS_close_range, 3u, ~0u, 0u) < 0) scen_die("close_range");
    int x = open(px, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (x < 0) scen_die("open x");
    static const char data[] = "program data\n";
    if (write(x, data, sizeof data - 1) != (ssize_t)sizeof data - 1) scen_die("write");
    for (int i = 0; i < n; i++)
        if (theirs[i] != x && syscall(SYS_dup3, x, theirs[i], 0) < 0) scen_die("dup3");
    int b = open(pa, O_RDWR);
    if (b < 0) scen_die("open b");
    SAY("b_unlock=%s", res(unlock_nothing(b)));

    /* (3) */
    closefrom(3);
    int c = open(pa, O_RDWR);
    if (c < 0) scen_die("open c");
    SAY("c_unlock=%s", res(unlock_nothing(c)));

    x = open(px, O_RDONLY);
    char buf[4096];
    ssize_t got = x < 0 ? -1 : pread(x, buf, sizeof buf, 0);
    SAY("x_clean=%s", got == (ssize_t)sizeof data - 1 && !memcmp(buf, data, sizeof data - 1) ? "yes" : "no");
    if (got > (ssize_t)sizeof data - 1)
        fprintf(stderr, "x holds: %.*s\n", (int)got, buf);
    unlink(pa);
    unlink(px);
    return 0;
}
