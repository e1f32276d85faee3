/*
 * lifetime_close_during_wait - a descriptor closed by another thread while
 * a F_SETLKW through it waits (issue 12, items 1 and 10).
 *
 * Another process (without the shim) holds a write lock on byte 0.
 *   one: a thread opens the file and waits in F_SETLKW for byte 0; the main
 *        thread closes that (only) descriptor, then the holder lets go.
 *   two: the same with two threads, each with its own descriptor: both wait,
 *        both descriptors are closed, the holder lets go.
 * Natively the kernel grants the lock, sees that the fd no longer names the
 * file, undoes the grant and answers EBADF (fs/locks.c fcntl_setlk): every
 * waiter gets EBADF and nothing stays locked.  Under the shim the same; it
 * once answered 0 (one) and crashed on a freed inode record (two).
 *   dup: the descriptor holds a read lock on byte 5 and has a dup that stays
 *        open; its wait is for a write lock on bytes 0..9; the main thread
 *        closes the waiting fd (not the dup), then the holder lets go.
 *        EBADF again, and nothing of the request stays; natively the close
 *        dropped the process's read lock on byte 5 too (U), under the shim
 *        the description keeps it through its dup (rule 1: R).
 * The main thread knows the waiters wait when /proc/locks lists them ("->").
 */
#include "scen.h"

static const char *path;
static int fds[2];
static int result[2];

static off_t wait_len = 1;

static void *waiter(void *arg)
{
    int id = (int)(long)arg;
    int r = scen_setlk(fds[id], F_SETLKW, F_WRLCK, 0, wait_len);
    result[id] = r < 0 ? errno : 0;
    return NULL;
}

static void round_(const char *name, int nthreads)
{
    struct scen_holder h;
    SAY("%s_holder=%d", name, scen_holder_start(&h, path, 'W', 0, 1));
    struct stat st;
    if (stat(path, &st) < 0) scen_die("stat");
    pthread_t t[2];
    for (long i = 0; i < nthreads; i++) {
        fds[i] = open(path, O_RDWR);
        if (fds[i] < 0) scen_die("open");
        if (pthread_create(&t[i], NULL, waiter, (void *)i) != 0) scen_die("pthread_create");
    }
    scenb_watch(name, 20);
    while (scen_waiters_on(&st) < nthreads)
        scen_sleep_ms(10);
    for (int i = 0; i < nthreads; i++)
        close(fds[i]);
    scen_holder_release(&h);
    for (int i = 0; i < nthreads; i++)
        pthread_join(t[i], NULL);
    scenb_unwatch();
    if (nthreads == 1)
        SAY("%s_result=%s", name, errname(result[0]));
    else
        SAY("%s_results=%s,%s", name, errname(result[0]), errname(result[1]));
    SAY("%s_probe_after=%c", name, probe(path, 'W', 0, 0));
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    path = scen_path("lifetime_close_wait");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    close(fd);
    round_("one", 1);
    round_("two", 2);

    /* dup */
    struct scen_holder h;
    SAY("dup_holder=%d", scen_holder_start(&h, path, 'W', 0, 1));
    struct stat st;
    if (stat(path, &st) < 0) scen_die("stat");
    fds[0] = open(path, O_RDWR);
    if (fds[0] < 0) scen_die("open");
    SAY("dup_read5=%s", res(scen_setlk(fds[0], F_SETLK, F_RDLCK, 5, 1)));
    int keep = dup(fds[0]);
    wait_len = 10;
    pthread_t t;
    if (pthread_create(&t, NULL, waiter, (void *)0L) != 0) scen_die("pthread_create");
    scenb_watch("dup", 20);
    while (scen_waiters_on(&st) < 1)
        scen_sleep_ms(10);
    close(fds[0]);
    scen_holder_release(&h);
    pthread_join(t, NULL);
    scenb_unwatch();
    SAY("dup_result=%s", errname(result[0]));
    SAY("dup_probe_after=%c,%c,%c", probe(path, 'W', 0, 1), probe(path, 'W', 5, 1), probe(path, 'W', 9, 1));
    close(keep);
    SAY("dup_probe_after_close=%c", probe(path, 'W', 0, 0));
    unlink(path);
    SAY("done=1");
    return 0;
}
