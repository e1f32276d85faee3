/*
 * alloc.c - the shim's own allocator.
 *
 * The shim allocates on paths a program may reach from a signal handler or
 * in a forked child before exec (fcntl, close), where malloc is forbidden.
 * This is a size-class allocator over anonymous mmap: every call happens
 * under g_mu with signals blocked, so it needs no locking of its own, and
 * its state is consistent in a forked child because g_mu is held across
 * fork.  Memory is never returned to the system except for large blocks.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "shim.h"

#define MIN_SHIFT 5                 /* 32 bytes */
#define NCLASSES 8                  /* 32 .. 4096 */
#define CHUNK (64 * 1024)

struct free_node { struct free_node *next; };

static struct free_node *free_lists[NCLASSES];
static char *chunk_cur, *chunk_end;

static int class_of(size_t size)
{
    size_t c = (size_t)1 << MIN_SHIFT;
    for (int i = 0; i < NCLASSES; i++, c <<= 1)
        if (size <= c)
            return i;
    return -1;
}

static void *map(size_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

void *ls_alloc(size_t size)
{
    int c = class_of(size ? size : 1);
    void *p;

    if (c < 0) {
        size_t len = (size + 4095) & ~(size_t)4095;
        p = map(len);
        return p;                    /* mmap memory is zeroed */
    }
    size_t csize = (size_t)1 << (c + MIN_SHIFT);
    if (free_lists[c]) {
        struct free_node *n = free_lists[c];
        free_lists[c] = n->next;
        memset(n, 0, csize);
        return n;
    }
    if ((size_t)(chunk_end - chunk_cur) < csize) {
        char *ch = map(CHUNK);
        if (!ch)
            return NULL;
        chunk_cur = ch;
        chunk_end = ch + CHUNK;
    }
    p = chunk_cur;
    chunk_cur += csize;
    return p;
}

void ls_free(void *p, size_t size)
{
    if (!p)
        return;
    int c = class_of(size ? size : 1);
    if (c < 0) {
        munmap(p, (size + 4095) & ~(size_t)4095);
        return;
    }
    struct free_node *n = p;
    n->next = free_lists[c];
    free_lists[c] = n;
}

static void *range_alloc(size_t size, void *ctx) { (void)ctx; return ls_alloc(size); }
static void range_free(void *p, size_t size, void *ctx) { (void)ctx; ls_free(p, size); }
/* Range nodes freed by an unlock wait here for the next lock (under g_mu,
 * like the free lists above): a lock+unlock pair allocates nothing. */
static struct ls_range_cache range_cache = { NULL, 0, 64, 0 };
const struct ls_range_alloc ls_range_allocator = { range_alloc, range_free, NULL, &range_cache };
