/*
 * fuzz_report.c - libFuzzer target: the input is the content of a log file.
 *
 * It goes through the line splitter, the record parser and the aggregate,
 * then both summaries are printed; the JSON summary must be valid JSON and
 * every line the parser accepts must be valid JSON too.  Leaks are found by
 * LeakSanitizer at exit of each run.
 *
 *   clang -std=c11 -D_GNU_SOURCE -g -fsanitize=fuzzer,address,undefined \
 *     -Ishim -Icmd tests/fuzz/fuzz_report.c cmd/report.c shim/log.c -o /tmp/fr
 *   /tmp/fr -max_total_time=20 tests/fuzz/corpus/report
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ls_rep *rep = ls_rep_new();
    const char *text = (const char *)data;
    char *out = NULL;
    size_t outlen = 0;
    FILE *f;

    ls_rep_feed(rep, "fuzz", text, size);

    /* Each line on its own: accepted means valid JSON with a hazard. */
    for (size_t start = 0; start < size;) {
        const char *nl = memchr(text + start, '\n', size - start);
        size_t len = nl ? (size_t)(nl - (text + start)) : size - start;
        struct ls_rep_record r;
        const char *why = NULL;

        if (ls_rep_parse_line(text + start, len, &r, &why) == 0) {
            if (!ls_json_valid(text + start, len) || r.hazard == NULL || r.repeat == 0)
                abort();
            ls_rep_add(rep, &r);
            ls_rep_record_free(&r);
        } else if (why == NULL || r.hazard != NULL || r.backtrace != NULL) {
            abort();
        }
        start += len + 1;
    }

    f = open_memstream(&out, &outlen);
    if (f) {
        ls_rep_print_json(rep, f);
        fclose(f);
        if (!ls_json_valid(out, outlen))
            abort();
        free(out);
    }
    out = NULL;
    f = open_memstream(&out, &outlen);
    if (f) {
        ls_rep_print_text(rep, f);
        fclose(f);
        free(out);
    }
    ls_rep_free(rep);
    return 0;
}
