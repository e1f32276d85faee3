/* lock_holder - make the machine "busy" with locks: hold N locks (classic
 * POSIX, OFD and flock, on N files in DIR) until killed.  Used by
 * scripts/busy-machine.sh to show that no test depends on the rest of the
 * machine holding no lock.  usage: lock_holder DIR N */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: %s DIR N\n", argv[0]); return 2; }
    int n = atoi(argv[2]);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)n + 64) {
        rl.rlim_cur = rl.rlim_max < (rlim_t)n + 64 ? rl.rlim_max : (rlim_t)n + 64;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    int held = 0;
    for (int i = 0; i < n; i++) {
        char p[4096];
        snprintf(p, sizeof p, "%s/held-%d", argv[1], i);
        int fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (fd < 0) break;
        struct flock fl = { .l_type = (i & 1) ? F_RDLCK : F_WRLCK, .l_whence = SEEK_SET,
                            .l_start = i % 7, .l_len = 1 + i % 3 };
        int r;
        switch (i % 3) {
        case 0: r = fcntl(fd, F_SETLK, &fl); break;
        case 1: fl.l_pid = 0; r = fcntl(fd, F_OFD_SETLK, &fl); break;
        default: r = flock(fd, LOCK_EX | LOCK_NB); break;
        }
        if (r == 0) held++;
    }
    printf("holding %d locks\n", held);
    fflush(stdout);
    for (;;) pause();
}
