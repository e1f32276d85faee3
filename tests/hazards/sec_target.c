/*
 * sec_target.c - target program of tests/hazards/security.sh.
 *
 *   sec_target hazard FILE      A = open, write lock [0,10), B = open,
 *                               close(B) (a close-drops-lock hazard), then a
 *                               probe by a child through raw syscalls:
 *                               "probe=W" (lock kept) or "probe=U"
 *   sec_target fork-drop FILE   a child drops to nobody (65534), then hazard
 *   sec_target exec-drop FILE   a child drops to nobody and execs
 *   sec_target self-drop FILE   the process itself drops to nobody, then hazard
 *                               /proc/self/exe hazard FILE
 *   sec_target fds              "secure=N fd3=closed|cloexec|inherit handover=0|1"
 *   sec_target slow FILE        stderr is made a full pipe that this program
 *                               drains itself; one thread makes a hazard (its
 *                               text record blocks on the pipe), the main
 *                               thread then closes an unrelated descriptor:
 *                               "close_done" must come before the drain.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char probe(const char *path)
{
    pid_t pid = fork();
    if (pid == 0) {
        int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDWR);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        if (fd < 0 || syscall(SYS_fcntl, fd, F_GETLK, &fl) != 0)
            _exit(2);
        _exit(fl.l_type == F_UNLCK ? 0 : 1);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) == 2)
        return '?';
    return WEXITSTATUS(st) == 0 ? 'U' : 'W';
}

static int hazard(const char *path)
{
    int a = open(path, O_RDWR | O_CREAT, 0666);
    if (a < 0) { perror("open A"); return 1; }
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
    if (fcntl(a, F_SETLK, &fl) != 0) { perror("lock"); return 1; }
    int b = open(path, O_RDWR);
    if (b < 0) { perror("open B"); return 1; }
    close(b);
    printf("probe=%c\n", probe(path));
    fflush(stdout);
    close(a);
    return 0;
}

static void drop(void)
{
    if (setgroups(0, NULL) != 0 || setgid(65534) != 0 || setuid(65534) != 0) {
        perror("drop");
        _exit(3);
    }
}

static int run_child(const char *path, int do_exec)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        drop();
        if (do_exec) {
            execl("/proc/self/exe", "sec_target", "hazard", path, (char *)NULL);
            perror("exec");
            _exit(4);
        }
        _exit(hazard(path));
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
        return 1;
    return WEXITSTATUS(st);
}

/* ---- slow ---- */
static const char *slow_path;
static atomic_int thread_tid, thread_done;

static void *hazard_thread(void *arg)
{
    (void)arg;
    atomic_store(&thread_tid, (int)syscall(SYS_gettid));
    int a = open(slow_path, O_RDWR | O_CREAT, 0666);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
    if (a < 0 || fcntl(a, F_SETLK, &fl) != 0)
        _exit(5);
    int b = open(slow_path, O_RDWR);
    close(b);                   /* the record: blocks on the full pipe */
    atomic_store(&thread_done, 1);
    return NULL;
}

/* Is thread tid blocked in write(2) on fd 2? */
static int in_write(int tid)
{
    char p[64], buf[256];
    snprintf(p, sizeof p, "/proc/self/task/%d/syscall", tid);
    FILE *f = fopen(p, "r");
    if (!f)
        return 0;
    int ok = fgets(buf, sizeof buf, f) != NULL;
    fclose(f);
    char want[32];
    snprintf(want, sizeof want, "%d 0x2 ", (int)SYS_write);
    return ok && strncmp(buf, want, strlen(want)) == 0;
}

static int slow(const char *path)
{
    int p[2], u = open("/dev/null", O_RDONLY);
    char buf[4096];
    slow_path = path;
    if (u < 0 || pipe(p) != 0 || dup2(p[1], 2) != 2)
        return 1;
    close(p[1]);
    fcntl(2, F_SETFL, O_NONBLOCK);
    memset(buf, 'x', sizeof buf);
    while (write(2, buf, sizeof buf) > 0)
        ;
    while (write(2, buf, 1) > 0)
        ;
    fcntl(2, F_SETFL, 0);
    pthread_t t;
    pthread_create(&t, NULL, hazard_thread, NULL);
    /* wait (at most ~20 s) until the thread is stuck in its write */
    for (int i = 0; i < 2000; i++) {
        int tid = atomic_load(&thread_tid);
        if (tid && in_write(tid))
            break;
        struct timespec ts = { 0, 10 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    close(u);                   /* unrelated: must not wait for that write */
    printf("close_done\n");
    fflush(stdout);
    fcntl(p[0], F_SETFL, O_NONBLOCK);
    while (!atomic_load(&thread_done)) {
        if (read(p[0], buf, sizeof buf) <= 0) {
            struct timespec ts = { 0, 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    pthread_join(t, NULL);
    printf("done\n");
    return 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "hazard"))
        return hazard(argv[2]);
    if (argc >= 3 && !strcmp(argv[1], "fork-drop"))
        return run_child(argv[2], 0);
    if (argc >= 3 && !strcmp(argv[1], "exec-drop"))
        return run_child(argv[2], 1);
    if (argc >= 3 && !strcmp(argv[1], "self-drop")) {
        drop();                 /* a daemon started as root, no fork */
        return hazard(argv[2]);
    }
    if (argc >= 3 && !strcmp(argv[1], "slow"))
        return slow(argv[2]);
    if (argc >= 2 && !strcmp(argv[1], "fds")) {
        int fl = fcntl(3, F_GETFD);
        printf("secure=%lu fd3=%s handover=%d\n", getauxval(AT_SECURE),
               fl < 0 ? "closed" : (fl & FD_CLOEXEC) ? "cloexec" : "inherit",
               getenv("LOCKSCOPE__HANDOVER") != NULL);
        return 0;
    }
    fprintf(stderr, "usage: sec_target hazard|fork-drop|exec-drop|self-drop|slow FILE | fds\n");
    return 2;
}
