/*
 * report.h - `lockscope report FILE...`: summarise JSON-lines hazard logs.
 *
 * The command reads logs written by the shim (shim/log.c, one JSON object
 * per line), possibly from many processes interleaved, possibly cut short or
 * mixed with garbage, and prints per hazard, per file and per call site
 * totals.  The pieces are exposed for the unit tests and the fuzzers: a
 * strict JSON checker, a parser for one record line, and the aggregate.
 */
#ifndef LOCKSCOPE_REPORT_H
#define LOCKSCOPE_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Longer lines are skipped (and counted); a line never costs more memory. */
#define LS_REPORT_LINE_MAX (1024 * 1024)

/* argv[0] is "report".  Exit status: 0 success, 1 some input could not be
 * read (the others are still summarised), 2 usage error. */
int lockscope_report_main(int argc, char **argv);

/* 1 when s[0..n) is exactly one JSON value (RFC 8259: valid UTF-8, no raw
 * control characters in strings, nesting at most 64 deep) with optional
 * whitespace around it; else 0. */
int ls_json_valid(const char *s, size_t n);

/*
 * One hazard record read back from a log.  Strings are malloc'd, valid
 * UTF-8 and NUL-terminated (a \u0000 or a lone surrogate in the log reads as
 * U+FFFD); NULL when the field is null, missing or not a string.  A number
 * field that is null, missing, not an integer or out of range has has_X 0.
 * Unknown fields are ignored, fields may come in any order, and when a field
 * appears twice the last one counts.
 */
struct ls_rep_record {
    char *hazard, *action, *mode, *prog, *path, *dev, *type, *call, *site, *detail;
    int has_pid, has_tid, has_fd, has_ino, has_start, has_len, has_time;
    int64_t pid, tid, fd, start, len;
    uint64_t ino;
    int64_t time_sec;
    int32_t time_usec;          /* 0..999999, also for negative times */
    char **backtrace;           /* string entries only; NULL when absent */
    size_t n_backtrace;
    uint64_t repeat;            /* >= 1: 0, missing or invalid read as 1 */
};

/* Parse one line (len bytes, without its newline, not necessarily
 * NUL-terminated).  A record is a JSON object with a non-empty string
 * "hazard".  Returns 0 and fills *rec (free with ls_rep_record_free), or -1
 * with *why set to a static reason; *rec then owns nothing. */
int ls_rep_parse_line(const char *line, size_t len, struct ls_rep_record *rec,
                      const char **why);
void ls_rep_record_free(struct ls_rep_record *rec);

/* The aggregate of any number of inputs. */
struct ls_rep;

struct ls_rep *ls_rep_new(void);
void ls_rep_free(struct ls_rep *rep);
/* Count one record (repeat times). */
void ls_rep_add(struct ls_rep *rep, const struct ls_rep_record *rec);
/* Count the lines of one input held in memory; the last line may lack its
 * newline.  name is used in notes about skipped lines. */
void ls_rep_feed(struct ls_rep *rep, const char *name, const char *data, size_t len);
/* The same for a stream read to its end.  Returns 0, or -1 with errno set
 * when reading failed (what was read before is counted). */
int ls_rep_read(struct ls_rep *rep, const char *name, FILE *in);
/* Note an input that could not be opened or read (for the summary). */
void ls_rep_note_unreadable(struct ls_rep *rep);

void ls_rep_print_text(const struct ls_rep *rep, FILE *out);
void ls_rep_print_json(const struct ls_rep *rep, FILE *out);

/* Queries, mostly for tests.  Counts include repeats. */
uint64_t ls_rep_records(const struct ls_rep *rep);      /* lines accepted */
uint64_t ls_rep_total(const struct ls_rep *rep);        /* hazards counted */
uint64_t ls_rep_skipped(const struct ls_rep *rep);      /* lines skipped */
/* action NULL: every action; "other": none of observed/prevented/refused */
uint64_t ls_rep_hazard_count(const struct ls_rep *rep, const char *hazard,
                             const char *action);
size_t ls_rep_hazard_npids(const struct ls_rep *rep, const char *hazard);
uint64_t ls_rep_file_count(const struct ls_rep *rep, const char *path);  /* all dev:ino */
uint64_t ls_rep_site_count(const struct ls_rep *rep, const char *site);

#endif
