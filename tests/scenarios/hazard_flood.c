/*
 * hazard_flood - flood control: many identical hazards from one call site.
 *
 *   (a) 1000 unlocks of a range not held, from one call site: the log gets
 *       the 1st, 10th, 100th and 1000th record, whose "repeat" fields sum
 *       to 1000.
 *   (b) 1234 from another site: 1st, 10th, 100th, 1000th, and at exit one
 *       more record standing for the remaining 234 (fd null, same path).
 *   (c) a forked child (under the shim) makes 3 from a third site and
 *       exits: its log holds its own 3, never the parent's pending ones.
 * Every call succeeds in every mode.  tests/hazards/check-records.sh reads
 * the "# site" comment lines and checks the sums.
 */
#include "scen.h"


int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(25);
    const char *path = scen_path("hz-flood");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("open");
    printf("# pid=%d\n", (int)getpid());
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_UNLCK; fl.l_whence = SEEK_SET; fl.l_len = 1;
    int bad = 0;

    printf("# site name=a count=1000 line=%d\n", __LINE__ + 2);
    for (int i = 0; i < 1000; i++)
        if ((fl.l_start = i, fcntl(fd, F_SETLK, &fl)) < 0) bad++;
    SAY("a_failures=%d", bad);

    printf("# site name=b count=1234 line=%d\n", __LINE__ + 2);
    for (int i = 0; i < 1234; i++)
        if ((fl.l_start = i, fcntl(fd, F_SETLK, &fl)) < 0) bad++;
    SAY("b_failures=%d", bad);

    fflush(stdout);
    pid_t c = fork();
    if (c < 0) scen_die("fork");
    if (c == 0) {
        printf("# site name=c count=3 line=%d child=%d\n", __LINE__ + 2, (int)getpid());
        for (int i = 0; i < 3; i++)
            if ((fl.l_start = i, fcntl(fd, F_SETLK, &fl)) < 0) bad++;
        fflush(stdout);
        exit(bad ? 1 : 0);
    }
    int st;
    waitpid(c, &st, 0);
    SAY("c_child_status=%d", WIFEXITED(st) ? WEXITSTATUS(st) : -1);
    close(fd);
    unlink(path);
    return 0;
}
