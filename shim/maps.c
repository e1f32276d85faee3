/*
 * maps.c - which mapping of /proc/self/maps holds an address.
 *
 * Used for call sites (module+0xOFFSET) and for the stack range that lets
 * the engine read a caller's struct flock without a syscall.  Raw open/read
 * into a static buffer: async-signal-safe, no malloc, but the caller must
 * hold g_mu (the buffer is shared).
 */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "real.h"
#include "shim.h"

static char buf[8192];

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

int ls_maps_find(uintptr_t addr, struct ls_mapping *m)
{
    int fd = REAL(open)("/proc/self/maps", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t have = 0;
    int found = 0;
    for (;;) {
        ssize_t r = read(fd, buf + have, sizeof buf - 1 - have);
        if (r <= 0)
            break;
        have += (size_t)r;
        buf[have] = 0;
        char *line = buf, *nl;
        while ((nl = memchr(line, '\n', have - (size_t)(line - buf)))) {
            *nl = 0;
            /* start-end perms offset dev inode path */
            uintptr_t s = 0, e = 0, off = 0;
            char *p = line;
            int v;
            while ((v = hexval(*p)) >= 0) { s = s * 16 + (uintptr_t)v; p++; }
            if (*p == '-') p++;
            while ((v = hexval(*p)) >= 0) { e = e * 16 + (uintptr_t)v; p++; }
            if (addr >= s && addr < e) {
                while (*p == ' ') p++;
                m->writable = p[0] == 'r' && p[1] == 'w';
                while (*p && *p != ' ') p++;
                while (*p == ' ') p++;
                while ((v = hexval(*p)) >= 0) { off = off * 16 + (uintptr_t)v; p++; }
                const char *path = strchr(p, '/');
                const char *br = strchr(p, '[');
                const char *name = path ? strrchr(path, '/') + 1 : br ? br : "";
                size_t nl2 = strlen(name);
                if (nl2 > 10 && !memcmp(name + nl2 - 10, " (deleted)", 10))
                    nl2 -= 10;      /* the module was replaced on disk */
                if (nl2 >= sizeof m->name) nl2 = sizeof m->name - 1;
                memcpy(m->name, name, nl2);
                m->name[nl2] = 0;
                m->lo = s;
                m->hi = e;
                m->offset = off;
                found = 1;
                break;
            }
            line = nl + 1;
        }
        if (found)
            break;
        size_t rest = have - (size_t)(line - buf);
        memmove(buf, line, rest);
        have = rest;
        if (have >= sizeof buf - 1)
            have = 0;           /* a line longer than the buffer: skip it */
    }
    int saved = errno;
    REAL(close)(fd);
    errno = saved;
    return found ? 0 : -1;
}
