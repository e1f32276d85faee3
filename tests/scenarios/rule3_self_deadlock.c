/*
 * rule3_self_deadlock - rule 3: a blocking request that could only be
 * granted when the same thread releases a lock it holds through another
 * description fails at once with EDEADLK (fix), instead of hanging.
 *
 * Natively (process scope) the request through B simply "converts" the
 * process's own lock and returns 0 at once.  Under fix the lock belongs to
 * description A, so B conflicts with it, and only this thread could release
 * it: EDEADLK, immediately.  A request through A itself (or a dup of A, same
 * description) never deadlocks.  A lock held by ANOTHER thread is a normal
 * wait, not a deadlock.
 */
#include "scen.h"
#include <stdatomic.h>

static const char *path;
static int pipe_held[2];
static int fd_c;
static atomic_int c_unlocking;     /* set just before C's unlock */

/* Another thread: locks [0,10) through its own description C, holds it for
 * ~500 ms after the main thread has been told, then unlocks it. */
static void *other_thread(void *arg)
{
    (void)arg;
    int r = scen_setlk(fd_c, F_SETLK, F_WRLCK, 0, 10);
    char c = r == 0 ? 'L' : 'E';
    if (write(pipe_held[1], &c, 1) != 1) scen_die("write");
    scenb_msleep(500);
    atomic_store(&c_unlocking, 1);
    scen_setlk(fd_c, F_SETLK, F_UNLCK, 0, 10);
    return NULL;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    path = scen_path("rule3_self_deadlock");
    unlink(path);
    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open A");
    if (write(a, "0123456789abcdefghij", 20) != 20) scen_die("write");

    SAY("lock_a=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    int b = open(path, O_RDWR);
    if (b < 0) scen_die("open B");

    /* F_SETLKW through B on the range A holds: fix EDEADLK at once. */
    scenb_watch("setlkw_b", 5);
    double t0 = scenb_now();
    int r = scen_setlk(b, F_SETLKW, F_WRLCK, 0, 10);
    SAY("setlkw_b=%s", res(r));
    scenb_unwatch();
    SAY("setlkw_b_at_once=%s", scenb_now() - t0 < 1.0 ? "yes" : "no");
    SAY("probe_after_setlkw_b=%c", probe(path, 'W', 0, 10));

    /* lockf(F_LOCK) through B: the same request, same answer. */
    if (lseek(b, 0, SEEK_SET) != 0) scen_die("lseek");
    scenb_watch("lockf_b", 5);
    t0 = scenb_now();
    r = lockf(b, F_LOCK, 10);
    SAY("lockf_b=%s", res(r));
    scenb_unwatch();
    SAY("lockf_b_at_once=%s", scenb_now() - t0 < 1.0 ? "yes" : "no");
    SAY("probe_after_lockf_b=%c", probe(path, 'W', 0, 10));

    /* Through A itself, and through a dup of A: no deadlock with yourself. */
    scenb_watch("setlkw_a_own", 5);
    SAY("setlkw_a_own=%s", res(scen_setlk(a, F_SETLKW, F_WRLCK, 0, 10)));
    scenb_unwatch();
    int a2 = dup(a);
    if (a2 < 0) scen_die("dup");
    scenb_watch("setlkw_dup_a", 5);
    SAY("setlkw_dup_a=%s", res(scen_setlk(a2, F_SETLKW, F_WRLCK, 0, 10)));
    scenb_unwatch();
    if (lseek(a, 0, SEEK_SET) != 0) scen_die("lseek");
    scenb_watch("lockf_a_own", 5);
    SAY("lockf_a_own=%s", res(lockf(a, F_LOCK, 10)));
    scenb_unwatch();
    SAY("probe_own=%c", probe(path, 'W', 0, 10));

    /* Release through A: nothing left (B never got anything under fix). */
    SAY("unlock_a=%s", res(scen_setlk(a, F_SETLK, F_UNLCK, 0, 10)));
    SAY("probe_after_unlock_a=%c", probe(path, 'W', 0, 10));
    scenb_watch("setlkw_b_free", 5);
    SAY("setlkw_b_free=%s", res(scen_setlk(b, F_SETLKW, F_WRLCK, 0, 10)));
    scenb_unwatch();
    SAY("probe_b_holds=%c", probe(path, 'W', 0, 10));
    SAY("unlock_b=%s", res(scen_setlk(b, F_SETLK, F_UNLCK, 0, 10)));
    SAY("probe_after_unlock_b=%c", probe(path, 'W', 0, 10));

    /* Another thread holds [0,10) through C and releases it after ~500 ms:
     * that is an ordinary wait (fix), not a deadlock.  Natively B's request
     * returns at once and the other thread's unlock then releases the
     * process's lock (U afterwards); under fix B waits, then holds it (W). */
    fd_c = open(path, O_RDWR);
    if (fd_c < 0) scen_die("open C");
    if (pipe(pipe_held) < 0) scen_die("pipe");
    pthread_t th;
    if (pthread_create(&th, NULL, other_thread, NULL) != 0) scen_die("pthread_create");
    int c = scenb_recv(pipe_held[0], 5);
    SAY("thread_lock_c=%s", c == 'L' ? "0" : c == 'E' ? "failed" : "hang");
    scenb_watch("other_thread_setlkw_b", 5);
    r = scen_setlk(b, F_SETLKW, F_WRLCK, 0, 10);
    int waited = atomic_load(&c_unlocking);     /* granted only once C let go? */
    SAY("other_thread_setlkw_b=%s", res(r));
    pthread_join(th, NULL);
    scenb_unwatch();
    SAY("other_thread_waited=%s", waited ? "yes" : "no");
    SAY("probe_after_other_thread=%c", probe(path, 'W', 0, 10));
    SAY("unlock_b_again=%s", res(scen_setlk(b, F_SETLK, F_UNLCK, 0, 10)));
    SAY("probe_end=%c", probe(path, 'W', 0, 10));

    close(fd_c);
    close(a2);
    close(b);
    close(a);
    unlink(path);
    SAY("done=1");
    return 0;
}
