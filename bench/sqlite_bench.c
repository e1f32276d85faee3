/*
 * sqlite_bench.c - one whole program: many small SQLite transactions.
 *
 *   sqlite_bench [-d DIR] [-b B] [-w W] MODE N
 *
 * MODE is "rollback" (journal_mode=DELETE, SQLite's default) or "wal".
 * One iteration is two transactions on a fresh database: an INSERT of one
 * row (a write transaction: SHARED, RESERVED, EXCLUSIVE locks, and in
 * rollback mode a journal file created and deleted) and a SELECT of one
 * row (a read transaction: SHARED and back).  synchronous=OFF, so what is
 * timed is the CPU and the system calls, not the disk's flushes: the
 * strictest setting for a shim's overhead.
 *
 * Prints: op=sqlite_MODE n=N threads=0 ns=MEAN best=BEST nvcsw=V
 * version=SQLITE_VERSION (nanoseconds per iteration).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static sqlite3 *db;
static sqlite3_stmt *ins, *sel;
static long next_id;

static void fail(const char *what)
{
    fprintf(stderr, "error=sqlite: %s: %s\n", what, db ? sqlite3_errmsg(db) : "?");
    exit(3);
}

static void exec_sql(const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "error=sqlite: %s: %s\n", sql, err ? err : "?");
        exit(3);
    }
}

static void iteration(void)
{
    next_id++;
    sqlite3_bind_int64(ins, 1, next_id);
    sqlite3_bind_int64(ins, 2, next_id * 7);
    if (sqlite3_step(ins) != SQLITE_DONE) fail("insert");
    sqlite3_reset(ins);
    sqlite3_bind_int64(sel, 1, next_id / 2 + 1);
    int rc = sqlite3_step(sel);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) fail("select");
    sqlite3_reset(sel);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    int batches = 5, opt;
    long warm = -1;
    while ((opt = getopt(argc, argv, "d:b:w:")) != -1) {
        switch (opt) {
        case 'd': dir = optarg; break;
        case 'b': batches = atoi(optarg); break;
        case 'w': warm = atol(optarg); break;
        default: goto usage;
        }
    }
    if (argc - optind != 2) {
    usage:
        fprintf(stderr, "usage: sqlite_bench [-d DIR] [-b B] [-w W] rollback|wal N\n");
        return 2;
    }
    const char *mode = argv[optind];
    long n = atol(argv[optind + 1]);
    int wal = strcmp(mode, "wal") == 0;
    if ((!wal && strcmp(mode, "rollback") != 0) || n < 1 || batches < 1)
        goto usage;
    if (warm < 0)
        warm = n / 10 > 0 ? n / 10 : 1;

    char path[4096], side[4200];
    snprintf(path, sizeof path, "%s/sq-%ld.db", dir, (long)getpid());
    const char *sfx[] = { "", "-journal", "-wal", "-shm" };
    for (int i = 0; i < 4; i++) {
        snprintf(side, sizeof side, "%s%s", path, sfx[i]);
        unlink(side);
    }
    if (sqlite3_open(path, &db) != SQLITE_OK) fail("open");
    exec_sql(wal ? "PRAGMA journal_mode=WAL" : "PRAGMA journal_mode=DELETE");
    exec_sql("PRAGMA synchronous=OFF");
    exec_sql("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
    if (sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES(?, ?)", -1, &ins, NULL) != SQLITE_OK) fail("prepare");
    if (sqlite3_prepare_v2(db, "SELECT v FROM t WHERE id = ?", -1, &sel, NULL) != SQLITE_OK) fail("prepare");

    for (long i = 0; i < warm; i++)
        iteration();
    long per = n / batches > 0 ? n / batches : 1;
    double total = 0, best = 0;
    struct rusage r0, r1;
    getrusage(RUSAGE_SELF, &r0);
    for (int b = 0; b < batches; b++) {
        double t0 = now_ns();
        for (long i = 0; i < per; i++)
            iteration();
        double dt = now_ns() - t0;
        total += dt;
        if (b == 0 || dt < best) best = dt;
    }
    getrusage(RUSAGE_SELF, &r1);
    sqlite3_finalize(ins);
    sqlite3_finalize(sel);
    sqlite3_close(db);
    for (int i = 0; i < 4; i++) {
        snprintf(side, sizeof side, "%s%s", path, sfx[i]);
        unlink(side);
    }
    printf("op=sqlite_%s n=%ld threads=0 ns=%.2f best=%.2f nvcsw=%ld version=%s\n", mode, per * batches,
           total / (double)(per * batches), best / (double)per, r1.ru_nvcsw - r0.ru_nvcsw, sqlite3_libversion());
    return 0;
}
