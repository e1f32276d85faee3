/*
 * rule2_threads - rule 2: requests through different descriptions conflict
 * between the threads of one process.
 *
 * Thread 1 opens its own description and takes a write lock on [0,100)
 * (F_SETLK).  Thread 2 opens its own description:
 *   F_SETLK  write [50,60): native 0 (both threads "hold" an exclusive lock:
 *            thread-double-exclusive), fix EAGAIN.
 *   F_SETLKW write [50,60) while thread 1 releases [0,100) after ~300 ms:
 *            native granted at once (before the release), fix granted after
 *            the release.  Event order printed as "events=...".
 *   Then read [200,300) through both: granted in both modes.
 */
#include "scen.h"

static const char *path;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int step, released, granted;
static int fd1 = -1, fd2 = -1;
static const char *r_t1_lock, *r_t2_setlk, *r_t2_setlkw, *r_t1_read, *r_t2_read;
static char events[128];

static void set(int *v, int x)
{
    pthread_mutex_lock(&mu); *v = x; pthread_cond_broadcast(&cv); pthread_mutex_unlock(&mu);
}
static void wait_ge(int *v, int x)
{
    pthread_mutex_lock(&mu);
    while (*v < x) pthread_cond_wait(&cv, &mu);
    pthread_mutex_unlock(&mu);
}
static void event(const char *e)
{
    pthread_mutex_lock(&mu);
    if (events[0]) strcat(events, ",");
    strcat(events, e);
    pthread_mutex_unlock(&mu);
}

static void *thread1(void *arg)
{
    fd1 = open(path, O_RDWR);
    if (fd1 < 0) scen_die("open t1");
    r_t1_lock = res(scen_setlk(fd1, F_SETLK, F_WRLCK, 0, 100));
    set(&step, 1);
    wait_ge(&step, 3);                 /* thread 2 is about to block */
    scen_sleep_ms(300);
    event("t1_release");               /* recorded before the unlock can wake anyone */
    scen_setlk(fd1, F_SETLK, F_UNLCK, 0, 100);
    set(&released, 1);
    wait_ge(&step, 4);
    r_t1_read = res(scen_setlk(fd1, F_SETLK, F_RDLCK, 200, 100));
    set(&step, 5);
    return arg;
}

static void *thread2(void *arg)
{
    wait_ge(&step, 1);
    fd2 = open(path, O_RDWR);
    if (fd2 < 0) scen_die("open t2");
    r_t2_setlk = res(scen_setlk(fd2, F_SETLK, F_WRLCK, 50, 10));
    set(&step, 2);
    wait_ge(&step, 3);                 /* main has probed */
    r_t2_setlkw = res(scen_setlk(fd2, F_SETLKW, F_WRLCK, 50, 10));
    event("t2_granted");
    set(&granted, 1);
    wait_ge(&step, 5);
    r_t2_read = res(scen_setlk(fd2, F_SETLK, F_RDLCK, 200, 100));
    set(&step, 6);
    return arg;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(10);
    path = scen_path("r2thr");
    int c = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (c < 0) scen_die("create");
    close(c);

    pthread_t t1, t2;
    pthread_create(&t1, NULL, thread1, NULL);
    pthread_create(&t2, NULL, thread2, NULL);

    wait_ge(&step, 2);
    SAY("t1_setlk_w_0_100=%s", r_t1_lock);
    SAY("t2_setlk_w_50_60=%s", r_t2_setlk);
    SAY("thread_double_exclusive=%s",
        strcmp(r_t1_lock, "0") == 0 && strcmp(r_t2_setlk, "0") == 0 ? "yes" : "no");
    SAY("probe_50=%c", probe(path, 'W', 50, 10));

    scen_watchdog(5);                  /* F_SETLKW must come back */
    set(&step, 3);
    wait_ge(&released, 1);
    wait_ge(&granted, 1);
    scen_watchdog(10);
    SAY("t2_setlkw_w_50_60=%s", r_t2_setlkw);
    SAY("events=%s", events);
    SAY("probe_50_after_release=%c", probe(path, 'W', 50, 10));
    SAY("probe_0_after_release=%c", probe(path, 'W', 0, 10));

    set(&step, 4);
    wait_ge(&step, 6);
    SAY("t1_read_200_300=%s", r_t1_read);
    SAY("t2_read_200_300=%s", r_t2_read);
    SAY("probe_w_200=%c", probe(path, 'W', 200, 100));
    SAY("probe_r_200=%c", probe(path, 'R', 200, 100));

    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    close(fd1);
    close(fd2);
    SAY("probe_after_close=%c", probe(path, 'W', 0, 0));
    unlink(path);
    return 0;
}
