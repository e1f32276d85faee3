/*
 * pathmatch.c - the forms of a path that rules are matched against: as
 * given, absolute (joined to the working directory or to openat's
 * directory, "." and ".." removed lexically), and, for an existing file, its
 * real path.  No malloc: callers pass buffers.
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "openlock.h"

/* Remove "." and ".." and duplicate slashes from an absolute path, in place. */
static void normalise(char *p)
{
    char *out = p;          /* p[0] == '/' */
    const char *in = p;
    while (*in) {
        while (*in == '/') in++;
        if (!*in) break;
        const char *seg = in;
        while (*in && *in != '/') in++;
        size_t len = (size_t)(in - seg);
        if (len == 1 && seg[0] == '.')
            continue;
        if (len == 2 && seg[0] == '.' && seg[1] == '.') {
            while (out > p && *--out != '/') ;
            continue;
        }
        *out++ = '/';
        memmove(out, seg, len);
        out += len;
    }
    if (out == p) *out++ = '/';
    *out = 0;
}

int ls_path_absolute(int dirfd, const char *path, char *out, size_t cap)
{
    size_t n = 0, pl = strlen(path);
    if (path[0] == '/') {
        if (pl + 1 > cap) return -1;
        memcpy(out, path, pl + 1);
    } else {
        if (dirfd == AT_FDCWD) {
            if (!getcwd(out, cap)) return -1;
            n = strlen(out);
        } else {
            char link[48] = "/proc/self/fd/";
            size_t l = 14 + ls_fmt_u64(link + 14, (uint64_t)dirfd);
            link[l] = 0;
            ssize_t r = readlink(link, out, cap - 1);
            if (r <= 0) return -1;
            n = (size_t)r;
            out[n] = 0;
        }
        if (n + 1 + pl + 1 > cap) return -1;
        out[n++] = '/';
        memcpy(out + n, path, pl + 1);
    }
    normalise(out);
    return 0;
}
