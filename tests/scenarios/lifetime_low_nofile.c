/*
 * lifetime_low_nofile - private descriptions under a small RLIMIT_NOFILE
 * (issue 12, item 11).
 *
 * With RLIMIT_NOFILE 32 the shim's private descriptions must still stay off
 * the numbers the program gets next (3/4 of the limit and up):
 *   full: fds 24..31 are all taken by the program: no high number is free,
 *         so under the shim the lock fails with ENOLCK (natively 0) rather
 *         than take a low number;
 *   free: once they are closed, the lock succeeds and the program's next two
 *         opens get the next two numbers, as natively (the private fd once
 *         sat at a low number and the second open skipped one).
 */
#include "scen.h"
#include <sys/resource.h>

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    const char *path = scen_path("lifetime_low_nofile");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    close(fd);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0) scen_die("getrlimit");
    rl.rlim_cur = 32;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) scen_die("setrlimit");
    int null = open("/dev/null", O_RDONLY);
    if (null < 0) scen_die("open null");
    for (int i = 24; i < 32; i++)
        if (dup2(null, i) != i) scen_die("dup2");
    int a = open(path, O_RDWR);
    if (a < 0 || a >= 24) scen_die("open");
    SAY("full_lock=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 1)));
    int b = open("/dev/null", O_RDONLY);
    SAY("full_next_open=+%d", b - a);
    close(b);
    for (int i = 24; i < 32; i++)
        close(i);
    SAY("free_lock=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 1)));
    b = open("/dev/null", O_RDONLY);
    int c = open("/dev/null", O_RDONLY);
    SAY("free_next_opens=+%d,+%d", b - a, c - a);
    SAY("probe=%c", probe(path, 'W', 0, 1));
    close(a);
    SAY("probe_after_close=%c", probe(path, 'W', 0, 1));
    unlink(path);
    SAY("done=1");
    return 0;
}
