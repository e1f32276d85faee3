/*
 * hazard_flock_on_nfs - flock on an NFS mount (the client turns it into a
 * POSIX lock on the server, which conflicts with the server's own fcntl
 * locks and not with its flocks).  Recorded ("observed"), never refused.
 *
 * Needs a writable NFS directory: $SCEN_NFS_DIR, else the first nfs/nfs4
 * mount in /proc/mounts that we can create a file in.  Without one the
 * scenario exits 77 (skipped).
 */
#include "scen.h"
#include <sys/file.h>
#include <sys/vfs.h>

#define NFS_SUPER_MAGIC 0x6969

static int is_nfs_dir(const char *dir)
{
    struct statfs sf;
    return statfs(dir, &sf) == 0 && sf.f_type == NFS_SUPER_MAGIC;
}

static int try_dir(const char *dir, char *out, size_t cap)
{
    if (!is_nfs_dir(dir)) return 0;
    snprintf(out, cap, "%s/lockscope-scen-nfs-%d", dir, (int)getpid());
    int fd = open(out, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) return 0;
    close(fd);
    return 1;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    char path[4200];
    int found = 0;
    const char *env = getenv("SCEN_NFS_DIR");
    if (env && *env) found = try_dir(env, path, sizeof path);
    FILE *m = found ? NULL : fopen("/proc/mounts", "r");
    if (m) {
        char dev[512], dir[1024], type[64];
        while (!found && fscanf(m, "%511s %1023s %63s %*[^\n]", dev, dir, type) == 3)
            if (!strcmp(type, "nfs") || !strcmp(type, "nfs4"))
                found = try_dir(dir, path, sizeof path);
        fclose(m);
    }
    if (!found) {
        SAY("no writable NFS mount (set SCEN_NFS_DIR)");
        return 77;
    }
    int fd = open(path, O_RDWR);
    if (fd < 0) scen_die("open");
    SAY("flock_ex=%s", res(flock(fd, LOCK_EX)));
    SAY("flock_un=%s", res(flock(fd, LOCK_UN)));
    SAY("flock_sh=%s", res(flock(fd, LOCK_SH)));
    SAY("flock_un=%s", res(flock(fd, LOCK_UN)));
    close(fd);
    unlink(path);
    return 0;
}
