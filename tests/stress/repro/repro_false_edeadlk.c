/*
 * REPRODUCER (shim bug, see tests/stress/README): spurious EDEADLK.
 *
 * Two processes, two threads each.  Every thread has its own description of
 * one file and loops: F_SETLKW write lock on [0,8), unlock.  No thread ever
 * holds more than one lock, so no wait cycle exists, and natively F_SETLKW
 * never fails here.  Under the shim (fix), F_SETLKW sometimes fails with
 * EDEADLK ("waiting would close a cycle between processes").
 *
 *   cc -O2 -pthread repro_false_edeadlk.c -o r && LD_PRELOAD=build/liblockscope.so ./r /tmp/f
 * Prints the number of EDEADLK answers; exit 1 if any.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static _Atomic long *edeadlk, *ops;

static int lk(int fd, int cmd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_type = type; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 8;
    return fcntl(fd, cmd, &fl);
}

static void *loop(void *a)
{
    (void)a;
    int fd = open(path, O_RDWR);
    time_t end = time(NULL) + 3;
    while (time(NULL) < end) {
        if (lk(fd, F_SETLKW, F_WRLCK) < 0) {
            if (errno == EDEADLK) (*edeadlk)++;
            else if (errno != EINTR) { perror("F_SETLKW"); exit(2); }
            continue;
        }
        (*ops)++;
        lk(fd, F_SETLK, F_UNLCK);
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    path = argc > 1 ? argv[1] : "/tmp/repro_false_edeadlk";
    close(open(path, O_RDWR | O_CREAT, 0644));
    _Atomic long *shm = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    edeadlk = shm; ops = shm + 1;
    for (int p = 0; p < 2; p++) {
        if (fork() == 0) {
            pthread_t t;
            pthread_create(&t, NULL, loop, NULL);
            loop(NULL);
            pthread_join(t, NULL);
            _exit(0);
        }
    }
    while (wait(NULL) > 0) {}
    printf("%ld lock/unlock pairs, %ld EDEADLK\n", (long)*ops, (long)*edeadlk);
    return *edeadlk ? 1 : 0;
}
