/*
 * rule7_exec - rule 7: locks survive exec, the shim of the new image knows
 * them, and the hand-over leaves no trace the new image can see (no new
 * descriptor below 100, no new environment variable when main starts).
 *
 * Each variant runs in a forked child: stage 1 opens the file (no
 * FD_CLOEXEC), write-locks [0,10), records its inheritable fds and its
 * environment's names in temp files and execs this binary ("--stage2").
 *   plain:   stage 2 sees W; unlock -> U; relock; a child that execs
 *            /bin/sh -c 'exit 0' works and releases nothing; open+close of
 *            ANOTHER fd of the file -> native U (process scope), fix W (the
 *            new image's shim knows the lock belongs to the inherited fd);
 *            close the fd -> U.
 *   cloexec: stage 1 also opens the file O_CLOEXEC: natively the exec's
 *            close of that fd drops the process's lock (U), fix keeps it (W).
 *   sh:      stage 1 execs /bin/sh, which execs stage 2 (a foreign image in
 *            between): W; open+close another fd -> native U, fix W.
 */
#include "scen.h"
#include <dirent.h>

#define MAXFD 1024

static int list_fds(int *out, int only_inheritable)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d) scen_die("opendir");
    int n = 0, dfd = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) && n < MAXFD) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd == dfd) continue;
        if (only_inheritable) {
            int fl = fcntl(fd, F_GETFD);
            if (fl < 0 || (fl & FD_CLOEXEC)) continue;
        }
        out[n++] = fd;
    }
    closedir(d);
    return n;
}

static void stage1(const char *variant, const char *path)
{
    int fd = open(path, O_RDWR);
    if (fd < 0) scen_die("open");
    SAY("%s_stage1_lock=%s", variant, res(scen_setlk(fd, F_SETLK, F_WRLCK, 0, 10)));
    if (strcmp(variant, "cloexec") == 0 && open(path, O_RDWR | O_CLOEXEC) < 0)
        scen_die("open cloexec");
    char fdl[4200], envl[4200], fdnum[16];
    snprintf(fdl, sizeof fdl, "%s.fds-%s", path, variant);
    snprintf(envl, sizeof envl, "%s.env-%s", path, variant);
    snprintf(fdnum, sizeof fdnum, "%d", fd);
    int fds[MAXFD];
    int n = list_fds(fds, 1);
    FILE *f = fopen(fdl, "w");
    if (!f) scen_die("fopen");
    for (int i = 0; i < n; i++) fprintf(f, "%d\n", fds[i]);
    fclose(f);
    f = fopen(envl, "w");
    if (!f) scen_die("fopen");
    for (char **e = environ; *e; e++) fprintf(f, "%.*s\n", (int)strcspn(*e, "="), *e);
    fclose(f);
    const char *self = scenb_self();
    fflush(NULL);
    if (strcmp(variant, "sh") == 0) {
        char *args[] = { (char *)"sh", (char *)"-c", (char *)"exec \"$0\" \"$@\"", (char *)self,
                         (char *)"--stage2", (char *)variant, fdnum, (char *)path, fdl, envl, NULL };
        execve("/bin/sh", args, environ);
    } else {
        char *args[] = { (char *)self, (char *)"--stage2", (char *)variant, fdnum, (char *)path,
                         fdl, envl, NULL };
        execve(self, args, environ);
    }
    SAY("%s_exec=%s", variant, errname(errno));
    _exit(0);
}

/* Compare this image's fds and environment with what stage 1 recorded. */
static void check_trace(const char *v, const char *fdl, const char *envl)
{
    static char names[65536];
    size_t used = 0;
    int want[MAXFD], nw = 0;
    FILE *f = fopen(fdl, "r");
    if (!f) scen_die("fopen fds");
    while (nw < MAXFD && fscanf(f, "%d", &want[nw]) == 1) nw++;
    fclose(f);
    f = fopen(envl, "r");
    if (!f) scen_die("fopen env");
    used = fread(names + 1, 1, sizeof names - 2, f);
    fclose(f);
    names[0] = '\n';
    names[used + 1] = 0;
    unlink(fdl);
    unlink(envl);

    int have[MAXFD], nh = list_fds(have, 0), stray = 0;
    for (int i = 0; i < nh; i++) {
        if (have[i] >= 100) continue;
        int ok = 0;
        for (int j = 0; j < nw; j++) ok |= have[i] == want[j];
        if (!ok) { stray++; SAY("# stray fd %d", have[i]); }
    }
    int fresh = 0;
    for (char **e = environ; *e; e++) {
        char key[512];
        snprintf(key, sizeof key, "\n%.*s\n", (int)strcspn(*e, "="), *e);
        if (!strstr(names, key)) { fresh++; SAY("# new env var %s", key + 1); }
    }
    SAY("%s_stray_low_fds=%d", v, stray);
    SAY("%s_new_env_vars=%d", v, fresh);
}

static void open_close_other(const char *v, const char *path)
{
    int o = open(path, O_RDONLY);
    if (o < 0) scen_die("open other");
    close(o);
    SAY("%s_after_other_close=%c", v, probe(path, 'W', 0, 10));
}

static int stage2(char **argv)
{
    const char *v = argv[2], *path = argv[4];
    int fd = atoi(argv[3]);
    scenb_watch("stage2", 12);
    if (strcmp(v, "sh") != 0)
        check_trace(v, argv[5], argv[6]);
    else {
        unlink(argv[5]);
        unlink(argv[6]);
    }
    SAY("%s_after_exec=%c", v, probe(path, 'W', 0, 10));
    if (strcmp(v, "plain") == 0) {
        SAY("%s_unlock=%s", v, res(scen_setlk(fd, F_SETLK, F_UNLCK, 0, 10)));
        SAY("%s_after_unlock=%c", v, probe(path, 'W', 0, 10));
        SAY("%s_relock=%s", v, res(scen_setlk(fd, F_SETLK, F_WRLCK, 0, 10)));
        SAY("%s_after_relock=%c", v, probe(path, 'W', 0, 10));
        pid_t c = scenb_fork();
        if (c == 0) {
            char *args[] = { (char *)"sh", (char *)"-c", (char *)"exit 0", NULL };
            execve("/bin/sh", args, environ);
            _exit(127);
        }
        int st = 0;
        if (scenb_wait(c, 5, &st) < 0) { SAY("%s_sh=hang", v); kill(c, SIGKILL); }
        SAY("%s_sh_status=%d", v, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        SAY("%s_after_sh=%c", v, probe(path, 'W', 0, 10));
    }
    if (strcmp(v, "cloexec") != 0)
        open_close_other(v, path);
    SAY("%s_close=%s", v, res(close(fd)));
    SAY("%s_after_close=%c", v, probe(path, 'W', 0, 10));
    return 0;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    if (argc >= 7 && strcmp(argv[1], "--stage2") == 0)
        return stage2(argv);
    const char *path = scen_path("rule7_exec");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, "0123456789abcdefghij", 20) != 20) scen_die("write");
    close(fd);

    const char *variants[] = { "plain", "cloexec", "sh" };
    for (int i = 0; i < 3; i++) {
        pid_t c = scenb_fork();
        if (c == 0)
            stage1(variants[i], path);
        int st = 0;
        if (scenb_wait(c, 15, &st) < 0) { SAY("%s=hang", variants[i]); kill(c, SIGKILL); }
        SAY("%s_status=%d", variants[i], WIFEXITED(st) ? WEXITSTATUS(st) : -1);
        SAY("%s_after_exit=%c", variants[i], probe(path, 'W', 0, 10));
    }
    unlink(path);
    SAY("done=1");
    return 0;
}
