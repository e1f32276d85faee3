/*
 * hostile_target.c - a small program run under the shim with hostile
 * configuration (tests/stress/run.sh, "hostile" checks).
 *
 *   hostile_target scope FILE
 *       opens FILE twice, write-locks through the first, tries the second:
 *       prints "scope=descriptor" (conflict: the shim is active) or
 *       "scope=process" (no conflict: native), then closes the second fd
 *       (a close-drops-lock hazard for the log), prints "done".
 *   hostile_target dlopen LIB VAR SIZE KIND
 *       sets VAR to SIZE bytes (KIND "x": 'x' repeated; "bin": random bytes
 *       1..255; "rules": "*.nomatchN=shared;" repeated) in this process,
 *       then dlopen()s LIB, whose constructor reads it; prints "done".
 *       (execve cannot pass a string longer than 128 KiB: this is how a
 *       1 MB value reaches the constructor.)
 *   hostile_target execenv N SIZE KIND NAME PROG [ARGS...]
 *       execs PROG with this environment plus N entries "NAME=<value>", each
 *       value SIZE bytes of KIND (as above): N * SIZE can reach the
 *       kernel's total limit (ARG_MAX), though one string cannot pass
 *       128 KiB; the first entry of a name is the one getenv() sees.
 *   hostile_target open PATH
 *       open(PATH, O_RDWR|O_CREAT) and report: "open=0|ERRNO probe=R|W|U"
 *       (probe: a process without the shim asks about byte 0), then a
 *       second open with O_NONBLOCK: "second=0|ERRNO".
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/auxv.h>

#include "stress.h"

int main(int argc, char **argv)
{
    probe_main(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc >= 3 && !strcmp(argv[1], "scope")) {
        int a = open(argv[2], O_RDWR | O_CREAT, 0644), b = open(argv[2], O_RDWR);
        if (a < 0 || b < 0) { perror("open"); return 2; }
        if (setlk(a, F_SETLK, F_WRLCK, 0, 10) < 0) { perror("lock"); return 2; }
        int r = setlk(b, F_SETLK, F_WRLCK, 0, 10);
        printf("scope=%s\n", r == 0 ? "process" : "descriptor");
        printf("secure=%lu\n", getauxval(AT_SECURE));
        close(b);
        close(a);
        printf("done\n");
        return 0;
    }
    if (argc >= 6 && !strcmp(argv[1], "dlopen")) {
        size_t n = (size_t)atol(argv[4]);
        char *v = malloc(n + 1);
        if (!v) return 2;
        uint64_t rs = 12345;
        if (!strcmp(argv[5], "bin")) {
            for (size_t i = 0; i < n; i++) v[i] = (char)(1 + rnd(&rs) % 255);
        } else if (!strcmp(argv[5], "rules")) {
            size_t k = 0;
            for (int i = 0; k + 32 < n; i++)
                k += (size_t)snprintf(v + k, n - k, "*.nomatch%d=shared;", i);
            memset(v + k, ';', n - k);
        } else {
            memset(v, 'x', n);
        }
        v[n] = 0;
        if (setenv(argv[3], v, 1) < 0) { perror("setenv"); return 2; }
        free(v);
        void *h = dlopen(argv[2], RTLD_NOW);
        if (!h) { printf("dlopen failed: %s\n", dlerror()); return 2; }
        printf("done\n");
        return 0;
    }
    if (argc >= 7 && !strcmp(argv[1], "execenv")) {
        int n = atoi(argv[2]);
        size_t sz = (size_t)atol(argv[3]);
        const char *kind = argv[4], *name = argv[5];
        size_t ne = 0;
        while (environ[ne]) ne++;
        char **env = calloc(ne + (size_t)n + 1, sizeof *env);
        if (!env) return 2;
        size_t k = 0;
        for (size_t i = 0; i < ne; i++) env[k++] = environ[i];
        uint64_t rs = 777;
        for (int j = 0; j < n; j++) {
            size_t nl = strlen(name);
            char *v = malloc(nl + 1 + sz + 1);
            if (!v) return 2;
            memcpy(v, name, nl);
            v[nl] = '=';
            char *p = v + nl + 1;
            for (size_t i = 0; i < sz; i++)
                p[i] = !strcmp(kind, "bin") ? (char)(1 + rnd(&rs) % 255) : 'x';
            p[sz] = 0;
            env[k++] = v;
        }
        env[k] = NULL;
        execve(argv[6], argv + 6, env);
        printf("execve: %s\n", strerror(errno));
        return 2;
    }
    if (argc >= 3 && !strcmp(argv[1], "open")) {
        int a = open(argv[2], O_RDWR | O_CREAT, 0644);
        int e = errno;
        char p = a >= 0 ? probe(argv[2], 'W', 0, 1) : '-';
        int b = a >= 0 ? open(argv[2], O_RDWR | O_NONBLOCK) : -1;
        int e2 = errno;
        printf("open=%s probe=%c second=%s\n", a >= 0 ? "0" : strerrorname_np(e), p,
               a < 0 ? "-" : b >= 0 ? "0" : strerrorname_np(e2));
        if (b >= 0) close(b);
        if (a >= 0) close(a);
        printf("done\n");
        return 0;
    }
    fprintf(stderr, "usage: hostile_target scope FILE | dlopen LIB VAR SIZE KIND | open PATH\n");
    return 2;
}
