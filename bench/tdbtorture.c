/*
 * tdbtorture.c - Samba's tdbtorture workload on the real libtdb (Debian's
 * libtdb-dev ships the library, not the tool): P processes × L loops of
 * random operations on one tdb with a tiny hash table (2 chains, so the
 * processes fight over the same fcntl chain locks), then tdb_check.
 *
 *   tdbtorture [-n P] [-l L] [-H HASH] [-s SEED] FILE
 *
 * Each loop, on a random key of 8 possible lengths and random data:
 * a transaction of a few stores (5 %, a quarter cancelled), a read traverse
 * (5 %), a traverse deleting a third of the records (2 %), chainlock + fetch
 * + store + chainunlock (28 %), store (30 %), fetch (15 %), delete (15 %).
 * tdb takes fcntl byte-range locks for all of it: chain locks, the
 * allrecord lock, the transaction and the open locks.
 * Prints "op=tdbtorture procs=P loops=L ns=TOTAL_NS records=R ok=1"
 * (ok=0 and exit 1 if a process failed or tdb_check finds damage).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tdb.h>
#include <unistd.h>

#include "torture.h"

static TDB_DATA rnd_data(char *buf, size_t max)
{
    size_t n = 1 + (size_t)rand() % max;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + rand() % 26);
    return (TDB_DATA){ (unsigned char *)buf, n };
}

static TDB_DATA rnd_key(char *buf)
{
    int len = 1 + rand() % 8;
    int v = rand() % 100;
    int n = snprintf(buf, 32, "%0*d", len, v);
    return (TDB_DATA){ (unsigned char *)buf, (size_t)n };
}

static int del_some(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
    (void)data; (void)p;
    if (rand() % 3 == 0)
        tdb_delete(tdb, key);
    return 0;
}

static int count(struct tdb_context *tdb, TDB_DATA key, TDB_DATA data, void *p)
{
    (void)tdb; (void)key; (void)data;
    (*(long *)p)++;
    return 0;
}

static int bad(struct tdb_context *tdb, const char *what)
{
    enum TDB_ERROR e = tdb_error(tdb);
    if (e == TDB_SUCCESS || e == TDB_ERR_NOEXIST)
        return 0;
    fprintf(stderr, "tdbtorture: %s: %s\n", what, tdb_errorstr(tdb));
    return 1;
}

static int child(const char *path, long loops, int hash, unsigned seed)
{
    char kb[32], db[256];
    struct tdb_context *tdb = tdb_open(path, hash, TDB_DEFAULT, O_RDWR | O_CREAT, 0600);
    if (!tdb)
        return 3;
    srand(seed);
    for (long i = 0; i < loops; i++) {
        int r = rand() % 100;
        TDB_DATA k = rnd_key(kb);
        if (r < 5) {
            if (tdb_transaction_start(tdb) != 0)
                return bad(tdb, "transaction_start") ? 4 : 4;
            for (int j = 0, n = 1 + rand() % 4; j < n; j++) {
                k = rnd_key(kb);
                if (tdb_store(tdb, k, rnd_data(db, sizeof db), TDB_REPLACE) != 0 && bad(tdb, "store in transaction"))
                    return 4;
            }
            if (rand() % 4 == 0) {
                if (tdb_transaction_cancel(tdb) != 0 && bad(tdb, "transaction_cancel"))
                    return 4;
            } else if (tdb_transaction_commit(tdb) != 0 && bad(tdb, "transaction_commit")) {
                return 4;
            }
        } else if (r < 10) {
            long n = 0;
            if (tdb_traverse_read(tdb, count, &n) < 0 && bad(tdb, "traverse_read"))
                return 4;
        } else if (r < 12) {
            if (tdb_traverse(tdb, del_some, NULL) < 0 && bad(tdb, "traverse"))
                return 4;
        } else if (r < 40) {
            if (tdb_chainlock(tdb, k) != 0)
                return bad(tdb, "chainlock") ? 4 : 4;
            TDB_DATA d = tdb_fetch(tdb, k);
            free(d.dptr);
            if (tdb_store(tdb, k, rnd_data(db, sizeof db), TDB_REPLACE) != 0 && bad(tdb, "store under chainlock"))
                return 4;
            tdb_chainunlock(tdb, k);
        } else if (r < 70) {
            if (tdb_store(tdb, k, rnd_data(db, sizeof db), TDB_REPLACE) != 0 && bad(tdb, "store"))
                return 4;
        } else if (r < 85) {
            TDB_DATA d = tdb_fetch(tdb, k);
            free(d.dptr);
        } else {
            if (tdb_delete(tdb, k) != 0 && bad(tdb, "delete"))
                return 4;
        }
    }
    tdb_close(tdb);
    return 0;
}

struct job { const char *path; long loops; int hash; unsigned seed; };

static int worker(long p, void *ctx)
{
    const struct job *j = ctx;
    return child(j->path, j->loops, j->hash, j->seed * 7919u + (unsigned)p);
}

int main(int argc, char **argv)
{
    long procs = 6, loops = 1500;
    int hash = 2, opt;
    unsigned seed = 1;
    while ((opt = getopt(argc, argv, "n:l:H:s:")) != -1) {
        switch (opt) {
        case 'n': procs = atol(optarg); break;
        case 'l': loops = atol(optarg); break;
        case 'H': hash = atoi(optarg); break;
        case 's': seed = (unsigned)atol(optarg); break;
        default: goto usage;
        }
    }
    if (argc - optind != 1 || procs < 1 || loops < 1 || hash < 1)
        goto usage;
    const char *path = argv[optind];
    unlink(path);
    struct tdb_context *tdb = tdb_open(path, hash, TDB_DEFAULT, O_RDWR | O_CREAT | O_TRUNC, 0600);
    if (!tdb) {
        perror(path);
        return 3;
    }
    tdb_close(tdb);
    struct job job = { path, loops, hash, seed };
    double ns;
    int ok = torture_drive("tdbtorture", procs, worker, &job, &ns);
    if (ok < 0)
        return 3;
    long records = 0;
    tdb = tdb_open(path, hash, TDB_DEFAULT, O_RDWR, 0);
    if (!tdb || tdb_check(tdb, NULL, NULL) != 0) {
        fprintf(stderr, "tdbtorture: tdb_check failed\n");
        ok = 0;
    } else {
        tdb_traverse_read(tdb, count, &records);
    }
    if (tdb)
        tdb_close(tdb);
    unlink(path);
    printf("op=tdbtorture procs=%ld loops=%ld ns=%.0f records=%ld ok=%d\n", procs, loops, ns,
           records, ok);
    return ok ? 0 : 1;
usage:
    fprintf(stderr, "usage: tdbtorture [-n P] [-l L] [-H HASH] [-s SEED] FILE\n");
    return 2;
}
