/*
 * hazard_flock_fcntl_mix_xproc - flock on a file another process holds
 * fcntl locks on.
 *
 * Locally the two kinds never conflict, so both processes "hold" the file;
 * over NFS they would.  The flocking process reports flock-fcntl-mix
 * ("observed", outcome native, in every mode: strict refuses it only where
 * the two kinds share one lock, over NFS or with LOCKSCOPE_FLOCK=ofd).
 * The other process's locks are found in /proc/locks.
 *   (a) the fcntl holder runs WITHOUT the shim (classic POSIX lock)
 *   (b) the holder is a forked child under the shim (in fix its lock is an
 *       OFD lock on a private description; in audit a POSIX lock)
 *   (c) the holder is a forked child taking its own F_OFD_SETLK lock
 * Not covered (see the hazards report): the other order, where another
 * process flocks first and this one takes the fcntl lock.
 */
#include "scen.h"
#include <sys/file.h>

/* a forked child: lock `file` with cmd, say 'L' (or 'E'), wait for 'q' */
static pid_t fcntl_child(const char *file, int cmd, int *go)
{
    int rdy[2], q[2];
    if (pipe(rdy) < 0 || pipe(q) < 0) scen_die("pipe");
    pid_t c = scenb_fork();
    if (c == 0) {
        close(rdy[0]); close(q[1]);
        int fd = open(file, O_RDWR);
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 1;
        scenb_send(rdy[1], fd >= 0 && fcntl(fd, cmd, &fl) == 0 ? 'L' : 'E');
        scenb_recv(q[0], 15);
        _exit(0);
    }
    close(rdy[1]); close(q[0]);
    int c1 = scenb_recv(rdy[0], 10);
    close(rdy[0]);
    SAY("holder_lock=%s", c1 == 'L' ? "0" : "failed");
    *go = q[1];
    return c;
}

static void try_flock(const char *key, const char *file)
{
    int fd = open(file, O_RDWR);
    if (fd < 0) scen_die("open");
    int r = flock(fd, LOCK_EX | LOCK_NB);
    SAY("%s_flock_ex=%s", key, res(r));
    if (r == 0) SAY("%s_unlock=%s", key, res(flock(fd, LOCK_UN)));
    close(fd);
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(25);
    printf("# pid=%d\n", (int)getpid());
    char px[4096], py[4096], pz[4096];
    snprintf(px, sizeof px, "%s", scen_path("hz-xmix-x"));
    snprintf(py, sizeof py, "%s", scen_path("hz-xmix-y"));
    snprintf(pz, sizeof pz, "%s", scen_path("hz-xmix-z"));
    for (int i = 0; i < 3; i++) {
        int fd = open(i == 0 ? px : i == 1 ? py : pz, O_RDWR | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) scen_die("create");
        close(fd);
    }

    /* (a) a process without the shim */
    struct scen_holder h;
    SAY("a_holder_lock=%d", scen_holder_start(&h, px, 'W', 0, 10));
    try_flock("a", px);
    scen_holder_release(&h);

    /* (b) a forked child under the shim, classic F_SETLK */
    int go;
    pid_t c = fcntl_child(py, F_SETLK, &go);
    try_flock("b", py);
    scenb_send(go, 'q'); close(go);
    SAY("b_child_wait=%d", scenb_wait(c, 10, NULL));

    /* (c) a forked child with its own F_OFD_SETLK */
    c = fcntl_child(pz, F_OFD_SETLK, &go);
    try_flock("c", pz);
    scenb_send(go, 'q'); close(go);
    SAY("c_child_wait=%d", scenb_wait(c, 10, NULL));

    /* (d) nobody holds a fcntl lock any more: no hazard */
    try_flock("d", px);

    unlink(px); unlink(py); unlink(pz);
    return 0;
}
