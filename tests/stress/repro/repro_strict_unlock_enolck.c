/*
 * REPRODUCER (shim bug, see tests/stress/README): in strict mode a thread's
 * unlock of its own lock is refused with ENOLCK.
 *
 * Two threads of one process, each with its own description of one file,
 * loop: F_SETLKW write lock on [0,8), unlock.  A write lock is exclusive:
 * while one thread holds [0,8) the other only waits for it, so no unlock
 * can touch another description's lock and strict has nothing to refuse.
 * Under LOCKSCOPE_MODE=strict some unlocks fail with ENOLCK (recorded as a
 * refused foreign-convert): the shim's model counts the WAITING thread's
 * range as held.  The refused unlock leaves the lock held, so the other
 * thread waits for ever (the program must close the fd to get out).
 *
 *   cc -O2 -pthread repro_strict_unlock_enolck.c -o r
 *   LD_PRELOAD=build/liblockscope.so LOCKSCOPE_MODE=strict ./r /tmp/f
 * exit 1 if an unlock failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static _Atomic long pairs, unlock_fail, lock_fail;
static _Atomic int stop;

static int lk(int fd, int cmd, short type)
{
    struct flock fl = { .l_type = type, .l_whence = SEEK_SET, .l_start = 0, .l_len = 8 };
    return fcntl(fd, cmd, &fl);
}

static void *loop(void *a)
{
    (void)a;
    int fd = open(path, O_RDWR);
    while (!stop) {
        if (lk(fd, F_SETLKW, F_WRLCK) != 0) { lock_fail++; continue; }
        pairs++;
        if (lk(fd, F_SETLK, F_UNLCK) != 0) {
            unlock_fail++;
            /* the lock is still ours: only a close gets rid of it */
            close(fd);
            fd = open(path, O_RDWR);
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    path = argc > 1 ? argv[1] : "/tmp/repro_strict_unlock";
    close(open(path, O_RDWR | O_CREAT, 0644));
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, loop, NULL);
    sleep(2);
    stop = 1;
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    printf("%ld lock/unlock pairs, %ld unlocks refused, %ld locks failed\n", (long)pairs, (long)unlock_fail, (long)lock_fail);
    return unlock_fail || lock_fail ? 1 : 0;
}
