/*
 * openlock_flags - atomic open-and-lock: how open's flags combine with a rule
 * (expect/openlock_flags.env):
 *   lockscope-ol-ex-*   exclusive,nonblock
 *   lockscope-ol-exw-*  exclusive            (blocking)
 *   lockscope-ol-dw-*   deny-write,nonblock
 *   lockscope-ol-sh-*   shared,nonblock
 * Holders are this binary re-executed WITHOUT the shim (scen_holder_*), so
 * they hold classic POSIX locks; probe() (no shim) shows the lock from
 * outside.  Natively (and off/audit) open locks nothing: every open
 * succeeds at once and O_TRUNC truncates at once.
 *
 *  excl     O_CREAT|O_EXCL on an existing file: EEXIST, nothing locked or changed
 *  trunc    a holder has it: O_RDWR|O_TRUNC fails EAGAIN and the holder's data
 *           is intact; O_CREAT on it fails and leaves the file; fopen("w") too;
 *           once released, O_TRUNC truncates and the lock is held
 *  rotrunc  deny-write: O_RDONLY|O_TRUNC is a writing open (exclusive): fails
 *           beside a reader holder without truncating; later truncates, W
 *  path     O_PATH is not locked (no EAGAIN beside a holder, no lock after)
 *  dir      a directory is not locked; O_CREAT / O_TRUNC on it: EISDIR
 *  fifo     a FIFO is not locked
 *  ro       exclusive rule on a read-only open: a write lock
 *  getlk    a forked child (with the shim) sees it with F_GETLK, l_pid = us
 *  dup      kept across dup + close of the dup, released at the last close
 *  fopen    fopen("w") and fopen("r") with rules
 *  wait     blocking rule: open waits until the holder releases (~300 ms)
 *  nbflag   blocking rule but the program passed O_NONBLOCK: EAGAIN at once
 *  shared   shared rule on a writing open (O_RDWR, O_WRONLY): a read lock
 *  creat    creat() and a new file with O_CREAT: locked
 *  fds      failed opens leave no descriptor behind
 */
#include "scen.h"

#include <dirent.h>

static const char *en(int e)
{
    if (e == EISDIR) return "EISDIR";
    return errname(e);
}

static void put(const char *path, const char *data)
{
    /* through the shim too (the rule locks it meanwhile), closed at once */
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, data, strlen(data)) != (ssize_t)strlen(data)) scen_die("write");
    close(fd);
}

static long fsize(const char *path)
{
    struct stat st;
    return stat(path, &st) < 0 ? -1 : (long)st.st_size;
}

/* Open descriptors, the shim's own included (a leaked private description
 * would keep a lock), except the hazard log the shim opens when it first
 * writes a record. */
static int nfds(void)
{
    int n = 0;
    const char *log = getenv("LOCKSCOPE_LOG");
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.' || atoi(de->d_name) == dirfd(d)) continue;
        char l[300], t[4096];
        snprintf(l, sizeof l, "/proc/self/fd/%s", de->d_name);
        ssize_t k = readlink(l, t, sizeof t - 1);
        if (k > 0) t[k] = 0;
        if (k > 0 && log && strcmp(t, log) == 0) continue;
        /* the shim's one cached /proc/self/fd (made at the first private
         * description, parked high): not a descriptor per open */
        char me[64];
        snprintf(me, sizeof me, "/proc/%d/fd", (int)getpid());
        if (k > 0 && atoi(de->d_name) >= 64 && strcmp(t, me) == 0) continue;
        n++;
    }
    if (d) closedir(d);
    return n;
}

/* open: "0" (and *fdp) or the errno name */
static const char *op(const char *path, int flags, int *fdp)
{
    int fd = open(path, flags, 0644);
    if (fdp) *fdp = fd;
    if (fd < 0) return en(errno);
    if (!fdp) close(fd);
    return "0";
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    const char *dir = getenv("SCEN_DIR");
    if (dir && *dir && chdir(dir) < 0) scen_die("chdir");
    struct scen_holder h;
    int fd;
    char buf[32];
    int fds0 = nfds();

    /* excl */
    put("lockscope-ol-ex-excl", "data");
    SAY("excl_open=%s", op("lockscope-ol-ex-excl", O_RDWR | O_CREAT | O_EXCL, NULL));
    SAY("excl_size=%ld", fsize("lockscope-ol-ex-excl"));
    SAY("excl_probe=%c", probe("lockscope-ol-ex-excl", 'R', 0, 0));

    /* trunc */
    put("lockscope-ol-ex-trunc", "holderdata");
    SAY("trunc_holder=%s", errname(scen_holder_start(&h, "lockscope-ol-ex-trunc", 'W', 0, 0)));
    SAY("trunc_open_held=%s", op("lockscope-ol-ex-trunc", O_RDWR | O_TRUNC, NULL));
    SAY("trunc_size_held=%ld", fsize("lockscope-ol-ex-trunc"));
    put("lockscope-ol-ex-trunc-x", "holderdata");          /* fresh data for the next two */
    {
        struct scen_holder h2;
        SAY("trunc_holder2=%s", errname(scen_holder_start(&h2, "lockscope-ol-ex-trunc-x", 'W', 0, 0)));
        int fdsh = nfds();
        SAY("trunc_open_held_again=%s", op("lockscope-ol-ex-trunc", O_RDWR | O_TRUNC, NULL));
        SAY("trunc_creat_held=%s", op("lockscope-ol-ex-trunc-x", O_RDWR | O_CREAT | O_TRUNC, NULL));
        SAY("trunc_creat_held_exists=%s", access("lockscope-ol-ex-trunc-x", F_OK) == 0 ? "yes" : "no");
        SAY("trunc_creat_held_size=%ld", fsize("lockscope-ol-ex-trunc-x"));
        errno = 0;
        FILE *f = fopen("lockscope-ol-ex-trunc-x", "w");
        SAY("trunc_fopen_w_held=%s", f ? "0" : en(errno));
        if (f) fclose(f);
        SAY("trunc_fopen_w_held_size=%ld", fsize("lockscope-ol-ex-trunc-x"));
        SAY("trunc_fds_leaked=%d", nfds() - fdsh);
        scen_holder_release(&h2);
    }
    scen_holder_release(&h);
    SAY("trunc_open_free=%s", op("lockscope-ol-ex-trunc", O_RDWR | O_TRUNC, &fd));
    SAY("trunc_size_free=%ld", fsize("lockscope-ol-ex-trunc"));
    SAY("trunc_probe=%c", probe("lockscope-ol-ex-trunc", 'R', 0, 0));
    if (fd >= 0) close(fd);
    SAY("trunc_probe_closed=%c", probe("lockscope-ol-ex-trunc", 'R', 0, 0));

    /* rotrunc */
    put("lockscope-ol-dw-rotrunc", "readerdata");
    SAY("rotrunc_holder_r=%s", errname(scen_holder_start(&h, "lockscope-ol-dw-rotrunc", 'R', 0, 0)));
    SAY("rotrunc_open_rdonly=%s", op("lockscope-ol-dw-rotrunc", O_RDONLY, NULL));
    SAY("rotrunc_open_rdonly_trunc=%s", op("lockscope-ol-dw-rotrunc", O_RDONLY | O_TRUNC, NULL));
    SAY("rotrunc_size_held=%ld", fsize("lockscope-ol-dw-rotrunc"));
    scen_holder_release(&h);
    put("lockscope-ol-dw-rotrunc", "readerdata");
    SAY("rotrunc_open_free=%s", op("lockscope-ol-dw-rotrunc", O_RDONLY | O_TRUNC, &fd));
    SAY("rotrunc_size_free=%ld", fsize("lockscope-ol-dw-rotrunc"));
    SAY("rotrunc_probe=%c", probe("lockscope-ol-dw-rotrunc", 'R', 0, 0));
    if (fd >= 0) close(fd);

    /* path */
    put("lockscope-ol-ex-path", "x");
    SAY("path_holder=%s", errname(scen_holder_start(&h, "lockscope-ol-ex-path", 'W', 0, 0)));
    SAY("path_open_held=%s", op("lockscope-ol-ex-path", O_PATH, &fd));
    scen_holder_release(&h);
    SAY("path_probe=%c", probe("lockscope-ol-ex-path", 'R', 0, 0));
    if (fd >= 0) close(fd);

    /* dir */
    if (mkdir("lockscope-ol-ex-dir", 0755) < 0) scen_die("mkdir");
    SAY("dir_open=%s", op("lockscope-ol-ex-dir", O_RDONLY | O_DIRECTORY, NULL));
    SAY("dir_open_creat=%s", op("lockscope-ol-ex-dir", O_RDONLY | O_CREAT, NULL));
    SAY("dir_open_trunc=%s", op("lockscope-ol-ex-dir", O_RDONLY | O_TRUNC, NULL));
    SAY("dir_open_wronly=%s", op("lockscope-ol-ex-dir", O_WRONLY, NULL));

    /* fifo */
    if (mkfifo("lockscope-ol-ex-fifo", 0644) < 0) scen_die("mkfifo");
    SAY("fifo_open=%s", op("lockscope-ol-ex-fifo", O_RDWR | O_NONBLOCK, &fd));
    SAY("fifo_open_again=%s", op("lockscope-ol-ex-fifo", O_RDWR | O_NONBLOCK, NULL));
    if (fd >= 0) close(fd);

    /* ro + getlk + dup */
    put("lockscope-ol-ex-ro", "x");
    if (link("lockscope-ol-ex-ro", "lockscope-olx-ro-link") < 0) scen_die("link");
    SAY("ro_open=%s", op("lockscope-ol-ex-ro", O_RDONLY, &fd));
    SAY("ro_probe=%c", probe("lockscope-ol-ex-ro", 'R', 0, 0));
    {
        int p[2];
        if (pipe(p) < 0) scen_die("pipe");
        fflush(NULL);
        pid_t c = fork();
        if (c == 0) {
            /* a hard link outside the rule: the child's own open locks nothing */
            int cfd = open("lockscope-olx-ro-link", O_RDWR);
            struct flock fl;
            memset(&fl, 0, sizeof fl);
            fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET;
            char ans[64];
            if (cfd < 0 || fcntl(cfd, F_GETLK, &fl) < 0)
                snprintf(ans, sizeof ans, "E %s", errname(errno));
            else
                snprintf(ans, sizeof ans, "%c %s %lld+%lld",
                         fl.l_type == F_UNLCK ? 'U' : fl.l_type == F_RDLCK ? 'R' : 'W',
                         fl.l_type == F_UNLCK ? "none" : fl.l_pid == getppid() ? "parent"
                                                       : fl.l_pid <= 0 ? "nonpositive" : "other",
                         (long long)fl.l_start, (long long)fl.l_len);
            if (write(p[1], ans, strlen(ans) + 1) < 0) _exit(1);
            _exit(0);
        }
        close(p[1]);
        memset(buf, 0, sizeof buf);
        if (read(p[0], buf, sizeof buf - 1) <= 0) strcpy(buf, "none");
        close(p[0]);
        waitpid(c, NULL, 0);
        SAY("getlk_child=%s", buf);
    }
    int d2 = fd >= 0 ? dup(fd) : -1;
    SAY("dup=%s", d2 >= 0 ? "0" : en(errno));
    if (d2 >= 0) close(d2);
    SAY("dup_closed_probe=%c", probe("lockscope-ol-ex-ro", 'R', 0, 0));
    SAY("ro_open_again=%s", op("lockscope-ol-ex-ro", O_RDONLY, NULL));
    if (fd >= 0) close(fd);
    SAY("last_close_probe=%c", probe("lockscope-ol-ex-ro", 'R', 0, 0));

    /* fopen */
    FILE *f = fopen("lockscope-ol-ex-fopen", "w");
    SAY("fopen_w=%s", f ? "0" : en(errno));
    SAY("fopen_w_probe=%c", probe("lockscope-ol-ex-fopen", 'R', 0, 0));
    if (f) { fputs("written", f); fclose(f); }
    SAY("fopen_w_closed_probe=%c", probe("lockscope-ol-ex-fopen", 'R', 0, 0));
    SAY("fopen_w_size=%ld", fsize("lockscope-ol-ex-fopen"));
    put("lockscope-ol-dw-fopen", "readme");
    f = fopen("lockscope-ol-dw-fopen", "r");
    SAY("fopen_r=%s", f ? "0" : en(errno));
    SAY("fopen_r_probe_w=%c", probe("lockscope-ol-dw-fopen", 'W', 0, 0));
    memset(buf, 0, sizeof buf);
    SAY("fopen_r_read=%s", f && fgets(buf, sizeof buf, f) ? buf : "none");
    FILE *g = fopen("lockscope-ol-dw-fopen", "a");
    SAY("fopen_a_beside_reader=%s", g ? "0" : en(errno));
    if (g) fclose(g);
    if (f) fclose(f);

    /* wait */
    put("lockscope-ol-exw-wait", "x");
    SAY("wait_holder=%s", errname(scen_holder_start(&h, "lockscope-ol-exw-wait", 'W', 0, 0)));
    scen_holder_release_later(&h);
    long long t0 = scen_now_ms();
    SAY("wait_open=%s", op("lockscope-ol-exw-wait", O_RDWR, &fd));
    long long took = scen_now_ms() - t0;
    SAY("wait_waited=%s", took >= 200 ? "yes" : "no");
    SAY("# wait took %lld ms", took);
    scen_holder_finish(&h);
    SAY("wait_probe=%c", probe("lockscope-ol-exw-wait", 'R', 0, 0));
    if (fd >= 0) close(fd);

    /* nbflag */
    put("lockscope-ol-exw-nb", "x");
    SAY("nbflag_holder=%s", errname(scen_holder_start(&h, "lockscope-ol-exw-nb", 'W', 0, 0)));
    t0 = scen_now_ms();
    SAY("nbflag_open=%s", op("lockscope-ol-exw-nb", O_RDWR | O_NONBLOCK, NULL));
    SAY("nbflag_quick=%s", scen_now_ms() - t0 < 200 ? "yes" : "no");
    scen_holder_release(&h);

    /* shared */
    put("lockscope-ol-sh-file", "x");
    SAY("shared_open_rdwr=%s", op("lockscope-ol-sh-file", O_RDWR, &fd));
    SAY("shared_probe_w=%c", probe("lockscope-ol-sh-file", 'W', 0, 0));
    SAY("shared_probe_r=%c", probe("lockscope-ol-sh-file", 'R', 0, 0));
    SAY("shared_open_again=%s", op("lockscope-ol-sh-file", O_RDONLY, NULL));
    if (fd >= 0) close(fd);
    SAY("shared_open_wronly=%s", op("lockscope-ol-sh-file", O_WRONLY, &fd));
    SAY("shared_wronly_probe_w=%c", probe("lockscope-ol-sh-file", 'W', 0, 0));
    if (fd >= 0) close(fd);

    /* creat */
    fd = creat("lockscope-ol-ex-creat", 0600);
    SAY("creat=%s", fd >= 0 ? "0" : en(errno));
    SAY("creat_probe=%c", probe("lockscope-ol-ex-creat", 'R', 0, 0));
    if (fd >= 0) close(fd);
    SAY("new_open=%s", op("lockscope-ol-ex-new", O_RDWR | O_CREAT | O_EXCL, &fd));
    SAY("new_probe=%c", probe("lockscope-ol-ex-new", 'R', 0, 0));
    SAY("new_open_again=%s", op("lockscope-ol-ex-new", O_RDWR | O_CREAT, NULL));
    if (fd >= 0) close(fd);

    SAY("fds_leaked=%d", nfds() - fds0);
    SAY("done=1");
    return 0;
}
