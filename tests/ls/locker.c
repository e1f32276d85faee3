/*
 * locker.c - a scripted lock holder/waiter for tests/ls/run.sh.
 *
 *   locker STEP...   steps run in order:
 *     open PATH                 open (O_RDWR|O_CREAT) and make it the current fd
 *     dupto N                   move the current fd to the lowest free fd >= N,
 *                               close-on-exec (F_DUPFD_CLOEXEC, then close)
 *     posix|ofd r|w START LEN [wait]
 *                               fcntl F_SETLK(W) / F_OFD_SETLK(W) on the current fd
 *     flock sh|ex [wait]        flock, LOCK_NB unless wait
 *     unlink PATH
 *     waitfile PATH             sleep until PATH exists
 *     say TEXT                  print TEXT and a newline (the runner waits for it)
 *     nodump                    prctl(PR_SET_DUMPABLE, 0): /proc/PID/fdinfo, task/TID/syscall
 *                               and maps become unreadable to our own user
 *     pause                     sleep until killed
 *     thread                    run the remaining steps in a new thread
 *                               (the main thread sleeps until killed)
 *
 * A failed lock step prints "STEP: ERRNO-NAME" (e.g. "posix: EDEADLK") and
 * the script goes on; a successful blocking one prints "STEP: granted".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <unistd.h>

static const char *ename(int e)
{
    switch (e) {
    case EDEADLK: return "EDEADLK";
    case EAGAIN: return "EAGAIN";
    case EACCES: return "EACCES";
    case EINTR: return "EINTR";
    case ENOLCK: return "ENOLCK";
    default: return strerror(e);
    }
}

static int g_argc;
static char **g_argv;
static int fd = -1;             /* the current fd, shared with a `thread` */
static int run(int first);

static void *thread_main(void *arg)
{
    run((int)(long)arg);
    return NULL;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    g_argc = argc;
    g_argv = argv;
    return run(1);
}

static int run(int first)
{
    int argc = g_argc;
    char **argv = g_argv;
    for (int i = first; i < argc; i++) {
        const char *s = argv[i];
        if (!strcmp(s, "open") && i + 1 < argc) {
            fd = open(argv[++i], O_RDWR | O_CREAT, 0644);
            if (fd < 0) { perror(argv[i]); return 1; }
        } else if (!strcmp(s, "dupto") && i + 1 < argc) {
            int nfd = fcntl(fd, F_DUPFD_CLOEXEC, atoi(argv[++i]));
            if (nfd < 0) { perror("dupto"); return 1; }
            close(fd);
            fd = nfd;
        } else if ((!strcmp(s, "posix") || !strcmp(s, "ofd")) && i + 3 < argc) {
            struct flock fl = { 0 };
            fl.l_type = argv[i + 1][0] == 'w' ? F_WRLCK : F_RDLCK;
            fl.l_whence = SEEK_SET;
            fl.l_start = atoll(argv[i + 2]);
            fl.l_len = atoll(argv[i + 3]);
            i += 3;
            int wait = i + 1 < argc && !strcmp(argv[i + 1], "wait");
            if (wait)
                i++;
            int cmd = !strcmp(s, "ofd") ? (wait ? F_OFD_SETLKW : F_OFD_SETLK)
                                        : (wait ? F_SETLKW : F_SETLK);
            if (fcntl(fd, cmd, &fl) != 0)
                printf("%s: %s\n", s, ename(errno));
            else if (wait)
                printf("%s: granted\n", s);
        } else if (!strcmp(s, "flock") && i + 1 < argc) {
            int op = argv[++i][0] == 'e' ? LOCK_EX : LOCK_SH;
            int wait = i + 1 < argc && !strcmp(argv[i + 1], "wait");
            if (wait)
                i++;
            if (flock(fd, op | (wait ? 0 : LOCK_NB)) != 0)
                printf("flock: %s\n", ename(errno));
            else if (wait)
                printf("flock: granted\n");
        } else if (!strcmp(s, "unlink") && i + 1 < argc) {
            unlink(argv[++i]);
        } else if (!strcmp(s, "waitfile") && i + 1 < argc) {
            while (access(argv[i + 1], F_OK) != 0)
                usleep(10000);
            i++;
        } else if (!strcmp(s, "say") && i + 1 < argc) {
            printf("%s\n", argv[++i]);
        } else if (!strcmp(s, "nodump")) {
            if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) { perror("prctl"); return 1; }
        } else if (!strcmp(s, "thread")) {
            pthread_t t;
            if (pthread_create(&t, NULL, thread_main, (void *)(long)(i + 1)) != 0)
                return 1;
            for (;;)
                pause();
        } else if (!strcmp(s, "pause")) {
            for (;;)
                pause();
        } else {
            fprintf(stderr, "locker: bad step '%s'\n", s);
            return 2;
        }
    }
    return 0;
}
