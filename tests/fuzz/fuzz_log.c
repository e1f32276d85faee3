/*
 * fuzz_log.c - libFuzzer target: random record fields into ls_format_json
 * and ls_format_text.
 *
 * The JSON must be one valid object on one line (checked with the report's
 * strict reader), carry the hazard back, and stay inside cap: the buffer is
 * guarded on both sides.  The text line must end in its only newline.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined \
 *     -Ishim -Icmd tests/fuzz/fuzz_log.c cmd/report.c shim/log.c -o /tmp/fl
 *   /tmp/fl -max_total_time=20 tests/fuzz/corpus/log
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "report.h"

struct cursor {
    const uint8_t *p;
    size_t n;
};

static uint64_t take(struct cursor *c, size_t bytes)
{
    uint64_t v = 0;
    for (size_t k = 0; k < bytes; k++) {
        v = v << 8;
        if (c->n) {
            v |= *c->p++;
            c->n--;
        }
    }
    return v;
}

/* A string of the input's bytes (NUL-terminated, no inner NUL), or NULL. */
static const char *take_str(struct cursor *c, char *store, size_t cap)
{
    size_t len = (size_t)take(c, 2);
    size_t w = 0;

    if (len == 0xffff)
        return NULL;
    if ((len & 0x8000) && w + 1 < cap) {
        /* sometimes a long string made of one repeated byte pattern */
        uint8_t b = (uint8_t)take(c, 1);
        size_t rep = (len & 0x7fff) % (cap - 1);
        for (; w < rep; w++)
            store[w] = (char)((b ? b : 'x') + (w % 3 == 2 ? 0x40 : 0));
        for (size_t k = 0; k < w; k++)
            if (store[k] == 0)
                store[k] = 'z';
    } else {
        len %= 64;
        while (w < len && w + 1 < cap && c->n) {
            uint8_t b = (uint8_t)take(c, 1);
            store[w++] = (char)(b ? b : '?');
        }
    }
    store[w] = '\0';
    return store;
}

#define GUARD 32
#define NSTR 9
#define NBT 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char strs[NSTR][3000], bts[NBT][600];
    static char arena[GUARD + LS_RECORD_MAX + GUARD];
    const char *bt[NBT];
    struct cursor c = { data, size };
    struct ls_record r;
    struct ls_rep_record back;
    size_t cap, n;
    char *buf = arena + GUARD;

    memset(&r, 0, sizeof r);
    cap = 256 + (size_t)(take(&c, 2) % (LS_RECORD_MAX - 256 + 1));
    r.hazard = take_str(&c, strs[0], sizeof strs[0]);
    r.action = take_str(&c, strs[1], sizeof strs[1]);
    r.mode = take_str(&c, strs[2], sizeof strs[2]);
    r.prog = take_str(&c, strs[3], sizeof strs[3]);
    r.pid = (pid_t)take(&c, 4);
    r.tid = (pid_t)take(&c, 4);
    r.has_fd = (int)take(&c, 1) & 1;
    r.fd = (int)take(&c, 4);
    r.path = take_str(&c, strs[4], sizeof strs[4]);
    r.has_devino = (int)take(&c, 1) & 1;
    r.dev_major = (unsigned)take(&c, 4);
    r.dev_minor = (unsigned)take(&c, 4);
    r.ino = take(&c, 8);
    r.type = take_str(&c, strs[5], sizeof strs[5]);
    r.has_range = (int)take(&c, 1) & 1;
    r.start = (int64_t)take(&c, 8);
    r.len = (int64_t)take(&c, 8);
    r.call = take_str(&c, strs[6], sizeof strs[6]);
    r.site = take_str(&c, strs[7], sizeof strs[7]);
    r.time_sec = (int64_t)take(&c, 8);
    r.time_usec = (int32_t)take(&c, 4);
    r.n_backtrace = (size_t)take(&c, 1);
    if (r.n_backtrace == 0xff) {
        r.backtrace = NULL;
        r.n_backtrace = 0;
    } else {
        r.n_backtrace %= NBT + 1;
        for (size_t j = 0; j < r.n_backtrace; j++)
            bt[j] = take_str(&c, bts[j], sizeof bts[j]);
        r.backtrace = bt;
    }
    r.detail = take_str(&c, strs[8], sizeof strs[8]);
    r.repeat = take(&c, 8);

    memset(arena, 0x5a, sizeof arena);
    n = ls_format_json(buf, cap, &r);
    if (n == 0 || n > cap || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1))
        abort();
    for (size_t k = 0; k < GUARD; k++)
        if (arena[k] != 0x5a)
            abort();
    for (size_t k = GUARD + n; k < sizeof arena; k++)
        if (arena[k] != 0x5a)
            abort();
    if (!ls_json_valid(buf, n))
        abort();
    /* Valid JSON, so the reader refuses it only for want of a hazard: one
     * that was null, empty, or left no room in a small buffer. */
    if (ls_rep_parse_line(buf, n - 1, &back, NULL) == 0) {
        if (r.hazard == NULL)
            abort();
        ls_rep_record_free(&back);
    } else if (r.hazard && r.hazard[0] != '\0' &&
               (cap == LS_RECORD_MAX || strncmp(buf, "{\"hazard\":\"\",", 13) != 0)) {
        abort();
    }

    memset(arena, 0x5a, sizeof arena);
    n = ls_format_text(buf, cap, &r);
    if (n == 0 || n > cap || buf[n - 1] != '\n' || memchr(buf, '\n', n - 1))
        abort();
    for (size_t k = 0; k < GUARD; k++)
        if (arena[k] != 0x5a)
            abort();
    for (size_t k = GUARD + n; k < sizeof arena; k++)
        if (arena[k] != 0x5a)
            abort();
    return 0;
}
