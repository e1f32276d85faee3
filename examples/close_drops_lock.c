/*
 * close_drops_lock - the seed's classic: a process locks a file, then a
 * "library routine" opens, reads and closes the same file.  POSIX says that
 * close drops every lock the process holds on the file, so another process
 * can now take the lock the program still believes it holds.
 *
 *   ./close_drops_lock FILE
 *
 * It prints what a second process (started WITHOUT lockscope) finds.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* Some library code that happens to read the same file. */
static void library_routine(const char *path)
{
    char buf[64];
    int fd = open(path, O_RDONLY);
    if (fd >= 0) {
        (void)!read(fd, buf, sizeof buf);
        close(fd);
    }
}

/* Ask a process without the shim whether it could take the lock. */
static void probe(const char *self, const char *path)
{
    char *env[] = { NULL };
    pid_t p = fork();
    if (p == 0) {
        execle(self, self, "--probe", path, (char *)NULL, env);
        _exit(127);
    }
    int st;
    waitpid(p, &st, 0);
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--probe")) {
        int fd = open(argv[2], O_RDWR);
        struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
        if (fcntl(fd, F_SETLK, &fl) == 0)
            printf("  other process: got the write lock -> the first lock was LOST\n");
        else
            printf("  other process: file is locked -> the first lock is still held\n");
        return 0;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc != 2) {
        fprintf(stderr, "usage: %s FILE\n", argv[0]);
        return 2;
    }
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) return 1;
    self[n] = 0;

    int fd = open(argv[1], O_RDWR | O_CREAT, 0644);
    struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
    if (fd < 0 || fcntl(fd, F_SETLK, &fl) < 0) {
        perror("lock");
        return 1;
    }
    printf("  this process: write lock taken on %s\n", argv[1]);
    library_routine(argv[1]);
    printf("  this process: a library routine opened and closed the same file\n");
    probe(self, argv[1]);
    close(fd);
    return 0;
}
