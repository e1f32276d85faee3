/*
 * lifetime_many_waiters - deadlock detection past 256 waiting threads
 * (issue 12, item 4).
 *
 * A process without the shim holds byte 0 of file W; 256 threads, each with
 * its own descriptor, wait for it in F_SETLKW (the main thread knows they
 * wait when /proc/locks lists them).  Meanwhile two more threads make a wait
 * cycle on file C (as rule3_thread_cycle): T1 holds [0,1) through A, T2
 * [10,11) through B, then T1 asks for [10,11) and T2 for [0,1).  Natively
 * both return 0 (one process owns everything); under fix exactly one gets
 * EDEADLK, however many threads already wait elsewhere (a fixed table of 256
 * waiters once made the cycle hang).  Then the holder lets go and every
 * waiter gets its lock.
 */
#include "scen.h"

#define NWAIT 256

static char wpath[1024], cpath[1024];
static int wfds[NWAIT], wres[NWAIT];
static int cfds[2], cres[2], cfirst[2];
static pthread_barrier_t bar;

static void *waiter(void *arg)
{
    int i = (int)(long)arg;
    int r = scen_setlk(wfds[i], F_SETLKW, F_WRLCK, 0, 1);
    wres[i] = r < 0 ? errno : 0;
    scen_setlk(wfds[i], F_SETLK, F_UNLCK, 0, 1);
    return NULL;
}

static void *cycler(void *arg)
{
    int id = (int)(long)arg;
    int fd = cfds[id];
    off_t mine = id ? 10 : 0, other = id ? 0 : 10;
    cfirst[id] = scen_setlk(fd, F_SETLK, F_WRLCK, mine, 1) < 0 ? errno : 0;
    pthread_barrier_wait(&bar);
    if (id == 1)
        scenb_msleep(200);
    int r = scen_setlk(fd, F_SETLKW, F_WRLCK, other, 1);
    cres[id] = r < 0 ? errno : 0;
    if (r < 0 && errno == EDEADLK)
        scen_setlk(fd, F_SETLK, F_UNLCK, mine, 1);
    return NULL;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    snprintf(wpath, sizeof wpath, "%s", scen_path("lifetime_many_w"));
    snprintf(cpath, sizeof cpath, "%s", scen_path("lifetime_many_c"));
    unlink(wpath);
    unlink(cpath);
    int fd = open(wpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    close(fd);
    fd = open(cpath, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    close(fd);
    struct stat st;
    if (stat(wpath, &st) < 0) scen_die("stat");

    struct scen_holder h;
    SAY("holder=%d", scen_holder_start(&h, wpath, 'W', 0, 1));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t wt[NWAIT], ct[2];
    scenb_watch("waiters", 25);
    for (long i = 0; i < NWAIT; i++) {
        wfds[i] = open(wpath, O_RDWR);
        if (wfds[i] < 0) scen_die("open");
        if (pthread_create(&wt[i], &attr, waiter, (void *)i) != 0) scen_die("pthread_create");
    }
    while (scen_waiters_on(&st) < NWAIT)
        scen_sleep_ms(20);
    SAY("waiting=%d", NWAIT);

    scenb_watch("cycle", 25);
    pthread_barrier_init(&bar, NULL, 2);
    for (long i = 0; i < 2; i++) {
        cfds[i] = open(cpath, O_RDWR);
        if (cfds[i] < 0) scen_die("open");
        if (pthread_create(&ct[i], &attr, cycler, (void *)i) != 0) scen_die("pthread_create");
    }
    pthread_join(ct[0], NULL);
    pthread_join(ct[1], NULL);
    int dead = (cres[0] == EDEADLK) + (cres[1] == EDEADLK);
    int granted = (cres[0] == 0) + (cres[1] == 0);
    SAY("cycle_first=%s,%s", errname(cfirst[0]), errname(cfirst[1]));
    SAY("cycle_edeadlk=%d cycle_granted=%d", dead, granted);

    scenb_watch("release", 25);
    scen_holder_release(&h);
    int ok = 0;
    for (int i = 0; i < NWAIT; i++) {
        pthread_join(wt[i], NULL);
        ok += wres[i] == 0;
        close(wfds[i]);
    }
    scenb_unwatch();
    SAY("waiters_granted=%d", ok);
    close(cfds[0]);
    close(cfds[1]);
    SAY("probe_after=%c,%c", probe(wpath, 'W', 0, 0), probe(cpath, 'W', 0, 0));
    unlink(wpath);
    unlink(cpath);
    SAY("done=1");
    return 0;
}
