/*
 * stress_walkjump.c - the registry's walk lock (a process-shared robust
 * mutex in the user's registry file) must never be left held by a live
 * process that stopped walking: every other process of the user under the
 * shim waits on it at its next blocking lock wait.  Run by
 * tests/stress/registry-walk.sh in a pid namespace of its own (its own
 * registry file), with a private /dev/shm.
 *
 *   hold FILE BYTE SECS TOTAL  write lock on BYTE (natively), freed after
 *                              SECS, exit after TOTAL
 *   wait FILE BYTE             F_SETLKW on BYTE (fills the wait slots)
 *   jumper FILE N              N times: a timer of 1..400 us, sigsetjmp,
 *                              F_SETLKW on byte 0 (held); the SIGALRM
 *                              handler siglongjmps out (the classic lock
 *                              timeout).  After each: is the walk lock
 *                              owned by this thread?  "ok"/"not ok" line.
 *   grab                       lock the walk lock directly and stop
 *                              (SIGSTOP): a walker stopped in its walk
 *   late FILE BYTE WHAT        F_SETLKW on BYTE: "ok - WHAT" when granted
 *                              (the runner's timeout reports a hang)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>
#include "../../shim/registry.h"

static sigjmp_buf jb;
static void on_alarm(int s) { (void)s; siglongjmp(jb, 1); }

static struct ls_reg_hdr *map_reg(int prot)
{
    char dir[512], ns[64], path[700];
    ssize_t k = readlink("/proc/self/ns/pid", ns, sizeof ns - 1);
    if (k < 0 || ls_registry_dir(geteuid(), dir, sizeof dir) != 0)
        return NULL;
    ns[k] = 0;
    char *a = strchr(ns, '['), *b = strchr(ns, ']');
    if (!a || !b)
        return NULL;
    *b = 0;
    snprintf(path, sizeof path, "%s/reg-v2-%s", dir, a + 1);
    int fd = open(path, prot == PROT_READ ? O_RDONLY : O_RDWR);
    if (fd < 0)
        return NULL;
    void *h = mmap(NULL, LS_REG_HDR_SIZE, prot, MAP_SHARED, fd, 0);
    close(fd);
    return h == MAP_FAILED ? NULL : h;
}

static int lk(int fd, int cmd, short type, off_t start)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = 1 };
    return fcntl(fd, cmd, &fl);
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *m = argv[1];
    if (!strcmp(m, "grab")) {
        struct ls_reg_hdr *h = map_reg(PROT_READ | PROT_WRITE);
        if (!h || pthread_mutex_lock(&h->walk_mu) != 0) {
            printf("# grab: no registry\n");
            return 1;
        }
        printf("grabbed\n");
        fflush(stdout);
        raise(SIGSTOP);
        pause();
        return 0;
    }
    if (argc < 4)
        return 2;
    int fd = open(argv[2], O_RDWR | O_CREAT, 0644);
    if (fd < 0)
        return 1;
    if (!strcmp(m, "hold")) {
        lk(fd, F_SETLK, F_WRLCK, atoi(argv[3]));
        printf("held\n");
        fflush(stdout);
        sleep((unsigned)atoi(argv[4]));
        lk(fd, F_SETLK, F_UNLCK, atoi(argv[3]));
        sleep((unsigned)atoi(argv[5]));
        return 0;
    }
    if (!strcmp(m, "wait"))
        return lk(fd, F_SETLKW, F_WRLCK, atoi(argv[3])) == 0 ? 0 : 1;
    if (!strcmp(m, "jumper")) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_alarm;
        sigaction(SIGALRM, &sa, NULL);
        int me = (int)syscall(SYS_gettid), n = atoi(argv[3]);
        struct ls_reg_hdr *h = NULL;
        for (int i = 0; i < n; i++) {
            if (sigsetjmp(jb, 1) == 0) {
                struct itimerval it = { { 0, 0 }, { 0, 1 + (i * 7919) % 400 } };
                setitimer(ITIMER_REAL, &it, NULL);
                lk(fd, F_SETLKW, F_WRLCK, 0);
            }
            struct itimerval z = { { 0, 0 }, { 0, 0 } };
            setitimer(ITIMER_REAL, &z, NULL);
            if (!h)
                h = map_reg(PROT_READ);
            if (h && h->walk_mu.__data.__owner == me) {
                printf("# FAIL after %d longjmps the walk lock is held by this live thread\n", i + 1);
                printf("not ok - a handler that longjmps out of F_SETLKW never leaves the registry's walk lock held\n");
                return 1;
            }
        }
        printf("%s - a handler that longjmps out of F_SETLKW never leaves the registry's walk lock held (%d longjmps)\n",
               h ? "ok" : "not ok", n);
        return h ? 0 : 1;
    }
    if (!strcmp(m, "late")) {
        int r = lk(fd, F_SETLKW, F_WRLCK, atoi(argv[3]));
        printf("%s - %s\n", r == 0 ? "ok" : "not ok", argv[4]);
        return r == 0 ? 0 : 1;
    }
    return 2;
}
