/*
 * rule3_thread_cycle - rule 3: a wait cycle between threads of one process
 * is EDEADLK (fix), never a hang.
 *
 * T1 holds [0,1) through description A, T2 holds [10,11) through B; then T1
 * asks for [10,11) through A and T2 for [0,1) through B, both F_SETLKW.
 * Natively both return 0 at once (one process owns everything).  Under fix
 * exactly one of them gets EDEADLK; that loser then unlocks its own range and
 * the other one is granted.  Round 1 staggers the requests (T1 blocks first),
 * round 2 fires them together.
 */
#include "scen.h"

static const char *path;
static int fds[2];
static pthread_barrier_t bar;
static int result[2];       /* 0 or errno of the cycle request */
static int first[2];        /* 0 or errno of the first lock */
static int stagger;

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    int fd = fds[id];
    off_t mine = id ? 10 : 0, other = id ? 0 : 10;
    first[id] = scen_setlk(fd, F_SETLK, F_WRLCK, mine, 1) < 0 ? errno : 0;
    pthread_barrier_wait(&bar);
    if (stagger && id == 1)
        scenb_msleep(300);
    int r = scen_setlk(fd, F_SETLKW, F_WRLCK, other, 1);
    result[id] = r < 0 ? errno : 0;
    if (r < 0 && errno == EDEADLK)      /* the loser backs off */
        scen_setlk(fd, F_SETLK, F_UNLCK, mine, 1);
    return NULL;
}

static void round_(const char *name, int stag)
{
    stagger = stag;
    fds[0] = open(path, O_RDWR);
    fds[1] = open(path, O_RDWR);
    if (fds[0] < 0 || fds[1] < 0) scen_die("open");
    pthread_barrier_init(&bar, NULL, 2);
    pthread_t t[2];
    scenb_watch(name, 8);
    for (long i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, worker, (void *)i) != 0) scen_die("pthread_create");
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    scenb_unwatch();
    pthread_barrier_destroy(&bar);

    SAY("%s_first_locks=%s,%s", name, errname(first[0]), errname(first[1]));
    int dead = 0, granted = 0, other = 0, loser = -1;
    for (int i = 0; i < 2; i++) {
        if (result[i] == EDEADLK) { dead++; loser = i; }
        else if (result[i] == 0) granted++;
        else other++;
    }
    SAY("%s_edeadlk_count=%d", name, dead);
    SAY("%s_granted_count=%d", name, granted);
    SAY("%s_other_errors=%d", name, other);
    /* Both ranges are held (natively by the process, under fix by the winner). */
    SAY("%s_probe=%c,%c", name, probe(path, 'W', 0, 1), probe(path, 'W', 10, 1));
    if (loser >= 0 && dead == 1) {
        /* Under fix the winner's description holds both ranges: the loser's
         * description conflicts with each. */
        int l = fds[loser];
        const char *r0 = res(scen_setlk(l, F_SETLK, F_WRLCK, 0, 1));
        char s0[16];
        snprintf(s0, sizeof s0, "%s", r0);
        const char *r1 = res(scen_setlk(l, F_SETLK, F_WRLCK, 10, 1));
        SAY("%s_loser_blocked=%s,%s", name, s0, r1);
    } else {
        SAY("%s_loser_blocked=none", name);
    }
    for (int i = 0; i < 2; i++)
        scen_setlk(fds[i], F_SETLK, F_UNLCK, 0, 0);
    SAY("%s_probe_after_unlock=%c", name, probe(path, 'W', 0, 0));
    close(fds[0]);
    close(fds[1]);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    path = scen_path("rule3_thread_cycle");
    unlink(path);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) scen_die("create");
    if (write(fd, "0123456789abcdefghij", 20) != 20) scen_die("write");
    close(fd);

    round_("staggered", 1);
    round_("together", 0);

    unlink(path);
    SAY("done=1");
    return 0;
}
