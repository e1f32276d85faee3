/*
 * hazard_getlk_ofd_pid - F_GETLK meets a lock no process can be named for.
 *
 * A holder WITHOUT the shim (this binary re-executed, "--mmap-holder")
 * takes an F_OFD_SETLK write lock on the whole file, maps the file
 * MAP_SHARED and closes its descriptor: the mapping keeps the description,
 * and so the OFD lock, alive, but no fd of any process shows it in
 * /proc/PID/fdinfo.  Natively F_GETLK reports l_pid -1 (kill(-1, ...) would
 * signal every process); under fix/strict the shim reports 2147483647 (no
 * such process: kill fails with ESRCH) and records getlk-ofd-pid.  In audit
 * the outcome is native and the record says "observed".
 * kill() is only ever called with signal 0.
 */
#include "scen.h"
#include <sys/mman.h>

/* "--mmap-holder PATH": lock, map, close, say "ok", wait for stdin EOF. */
static int mmap_holder(const char *file)
{
    int fd = open(file, O_RDWR);
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET;
    if (fd < 0 || fcntl(fd, F_OFD_SETLK, &fl) < 0) { printf("E%d\n", errno); return 0; }
    void *m = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED) { printf("E%d\n", errno); return 0; }
    close(fd);
    printf("ok\n");
    fflush(stdout);
    char c;
    while (read(0, &c, 1) > 0) {}
    munmap(m, 4096);
    return 0;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    if (argc == 3 && strcmp(argv[1], "--mmap-holder") == 0)
        return mmap_holder(argv[2]);
    scen_watchdog(20);
    const char *path = scen_path("hz-ofdpid");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 4096) < 0) scen_die("create");

    struct scen_holder h;
    scen_spawn_noshim(&h, (const char *const[]){ "--mmap-holder", path, NULL }, NULL);
    char line[64];
    scen_read_line(h.from, line, sizeof line, 5000);
    SAY("holder=%s", line);

    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 0;
    int r = fcntl(fd, F_GETLK, &fl);
    SAY("getlk=%s", res(r));
    SAY("getlk_type=%c", fl.l_type == F_UNLCK ? 'U' : fl.l_type == F_RDLCK ? 'R' : 'W');
    SAY("getlk_pid=%d", (int)fl.l_pid);
    SAY("getlk_range=%lld+%lld", (long long)fl.l_start, (long long)fl.l_len);
    if (fl.l_pid > 0) {
        r = kill(fl.l_pid, 0);
        SAY("kill0=%s", r == 0 ? "0" : errno == ESRCH ? "ESRCH" : errname(errno));
    } else {
        SAY("kill0=would_signal_many");
    }
    SAY("setlk=%s", res(scen_setlk(fd, F_SETLK, F_WRLCK, 0, 0)));

    close(h.to);
    scen_read_line(h.from, line, sizeof line, 5000);  /* EOF: the holder is gone */
    close(h.from);
    waitpid(h.pid, NULL, 0);
    SAY("probe_after=%c", probe(path, 'W', 0, 0));
    close(fd);
    unlink(path);
    return 0;
}
