/* cold_locker.c - driver of cold-start.sh: `cold_locker DIR N` opens N new
 * files in DIR, write-locks a byte of each, unlocks and closes it (N first
 * locks); then forks a child that exits at once (the process holds no lock
 * and, its files closed, no owner).  Prints "ok" and exits 0 if every call
 * succeeded. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 3) { fprintf(stderr, "usage: cold_locker DIR N\n"); return 2; }
    int n = atoi(argv[2]);
    char p[4096];
    for (int i = 0; i < n; i++) {
        snprintf(p, sizeof p, "%s/cold-%d", argv[1], i);
        int fd = open(p, O_RDWR | O_CREAT, 0600);
        struct flock fl;
        memset(&fl, 0, sizeof fl);
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_len = 1;
        if (fd < 0 || fcntl(fd, F_SETLK, &fl) != 0) { perror("lock"); return 1; }
        fl.l_type = F_UNLCK;
        if (fcntl(fd, F_SETLK, &fl) != 0 || close(fd) != 0) { perror("unlock"); return 1; }
    }
    pid_t c = fork();
    if (c == 0)
        _exit(0);
    int st;
    if (c < 0 || waitpid(c, &st, 0) != c || !WIFEXITED(st) || WEXITSTATUS(st) != 0) { perror("fork"); return 1; }
    puts("ok");
    return 0;
}
