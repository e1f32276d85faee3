/*
 * rule6_scm_rights - the seed linux-locks-not-fifo.md in C: process P
 * creates a memfd and passes it to process Q over a unix socket
 * (SCM_RIGHTS); both then lock through that ONE shared description.
 *
 * Case A, classic F_SETLK W [0,0): natively P and Q exclude each other
 * (locks are per process); under fix too (owner = process + description).
 * Case B, the program's own F_OFD_SETLK W [0,0): natively both get it (both
 * "own" the description's lock: the seed's bug).  Under fix the request is
 * passed through (same result) and `shared-description-lock` is reported;
 * strict refuses Q's request with ENOLCK (P locked first).
 * The file offset stays shared between P and Q (one description).
 */
#include "scen.h"
#include <sys/mman.h>
#include <sys/socket.h>

static void send_fd(int sock, int fd)
{
    char byte = 'F';
    struct iovec iov = { &byte, 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    memset(&u, 0, sizeof u);
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
    if (sendmsg(sock, &msg, 0) != 1) scen_die("sendmsg");
}

static int recv_fd(int sock)
{
    struct pollfd p = { sock, POLLIN, 0 };
    if (poll(&p, 1, 5000) != 1) return -1;
    char byte;
    struct iovec iov = { &byte, 1 };
    union { struct cmsghdr h; char buf[CMSG_SPACE(sizeof(int))]; } u;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = u.buf;
    msg.msg_controllen = sizeof u.buf;
    if (recvmsg(sock, &msg, 0) != 1) return -1;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    if (!c || c->cmsg_type != SCM_RIGHTS) return -1;
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof fd);
    return fd;
}

static int ofd_setlk(int fd, short type)
{
    struct flock fl;
    memset(&fl, 0, sizeof fl);      /* l_pid must be 0 for F_OFD_* */
    fl.l_type = type; fl.l_whence = SEEK_SET; fl.l_start = 0; fl.l_len = 0;
    return fcntl(fd, F_OFD_SETLK, &fl);
}

/* Q: serve commands from P on the socket, answer with an int32. */
static void q_main(int sock)
{
    int fd = recv_fd(sock);
    for (;;) {
        int c = scenb_recv(sock, 10);
        if (c < 0 || c == 'X') _exit(0);
        int32_t ans = 0;
        int r = 0;
        switch (c) {
        case 'W': r = scen_setlk(fd, F_SETLK, F_WRLCK, 0, 0); break;
        case 'U': r = scen_setlk(fd, F_SETLK, F_UNLCK, 0, 0); break;
        case 'O': r = ofd_setlk(fd, F_WRLCK); break;
        case 'C': ans = (int32_t)lseek(fd, 0, SEEK_CUR); break;
        case 'V': ans = fd >= 0; break;
        default: r = -1; errno = EINVAL;
        }
        if (r < 0) ans = errno;
        if (write(sock, &ans, sizeof ans) != (ssize_t)sizeof ans) _exit(3);
    }
}

static int sock_p;
static pid_t q;

/* Ask Q to do `c`; its answer (0 or errno, or a value). */
static int ask_q(char c)
{
    scenb_send(sock_p, c);
    int32_t ans;
    if (scenb_recvn(sock_p, &ans, sizeof ans, 5) < 0) {
        SAY("q_%c=hang", c);
        kill(q, SIGKILL);
        exit(0);
    }
    return ans;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) scen_die("socketpair");
    q = scenb_fork();
    if (q == 0) {
        close(sv[0]);
        q_main(sv[1]);
    }
    close(sv[1]);
    sock_p = sv[0];

    /* P creates the file only now: Q cannot have inherited it. */
    int mfd = memfd_create("lockscope-scen", MFD_CLOEXEC);
    if (mfd < 0) scen_die("memfd_create");
    if (ftruncate(mfd, 64) < 0) scen_die("ftruncate");
    send_fd(sock_p, mfd);
    SAY("q_got_fd=%s", ask_q('V') ? "yes" : "no");
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd/%d", (int)getpid(), mfd);

    /* Case A: classic locks through the shared description. */
    SAY("a_p_lock=%s", res(scen_setlk(mfd, F_SETLK, F_WRLCK, 0, 0)));
    SAY("a_q_lock=%s", errname(ask_q('W')));
    SAY("a_probe=%c", probe(path, 'W', 0, 0));
    SAY("a_p_unlock=%s", res(scen_setlk(mfd, F_SETLK, F_UNLCK, 0, 0)));
    SAY("a_probe_after_p_unlock=%c", probe(path, 'W', 0, 0));
    SAY("a_q_lock_after=%s", errname(ask_q('W')));
    SAY("a_p_lock_after=%s", res(scen_setlk(mfd, F_SETLK, F_WRLCK, 0, 0)));
    SAY("a_probe_q_holds=%c", probe(path, 'W', 0, 0));
    SAY("a_q_unlock=%s", errname(ask_q('U')));
    SAY("a_probe_after=%c", probe(path, 'W', 0, 0));

    /* One description: the offset is shared. */
    if (lseek(mfd, 0, SEEK_SET) != 0) scen_die("lseek");
    if (write(mfd, "x", 1) != 1) scen_die("write");
    SAY("offset_shared=%s", ask_q('C') == 1 ? "yes" : "no");

    /* Case B: the program's own OFD locks through the shared description. */
    SAY("b_p_ofd=%s", res(ofd_setlk(mfd, F_WRLCK)));
    SAY("b_q_ofd=%s", errname(ask_q('O')));
    SAY("b_probe=%c", probe(path, 'W', 0, 0));
    SAY("b_p_ofd_unlock=%s", res(ofd_setlk(mfd, F_UNLCK)));
    SAY("b_probe_after=%c", probe(path, 'W', 0, 0));

    scenb_send(sock_p, 'X');
    int st = 0;
    if (scenb_wait(q, 5, &st) < 0) { SAY("q_wait=hang"); kill(q, SIGKILL); }
    close(mfd);
    close(sock_p);
    SAY("done=1");
    return 0;
}
