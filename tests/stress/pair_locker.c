/*
 * pair_locker.c - N lock+unlock pairs of one byte on FILE, through one fd,
 * with F_SETLK (mode "setlk") or F_SETLKW that never has to wait ("setlkw").
 * For tests/stress/pair-instr.sh, which counts the instructions under
 * callgrind.  Exit 1 on any failed call.
 *
 * usage: pair_locker FILE setlk|setlkw N
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    int cmd = strcmp(argv[2], "setlkw") == 0 ? F_SETLKW : F_SETLK;
    long n = atol(argv[3]);
    int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    if (fd < 0) { perror(argv[1]); return 1; }
    struct flock fl;
    memset(&fl, 0, sizeof fl);
    fl.l_whence = SEEK_SET;
    fl.l_len = 1;
    for (long i = 0; i < n; i++) {
        fl.l_type = F_WRLCK;
        if (fcntl(fd, cmd, &fl) != 0) { perror("lock"); return 1; }
        fl.l_type = F_UNLCK;
        if (fcntl(fd, cmd, &fl) != 0) { perror("unlock"); return 1; }
    }
    return close(fd) == 0 ? 0 : 1;
}
