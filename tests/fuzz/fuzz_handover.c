/*
 * fuzz_handover.c - the exec hand-over parser, fuzzed through the real shim.
 *
 * An input becomes one exec: a child sets up program fds (0-2 pipes and
 * /dev/null, 3 a file, 4 another description of it, 5 a dup of 4, 6 a pipe,
 * 7 a directory; 40 a description of the file holding an OFD lock, as a
 * genuine private description would), maybe a memfd, and execs this binary ("--target") under
 * the shim with LOCKSCOPE__HANDOVER set from the input.  The target checks
 * that every program fd is still open, of the same file, with the same
 * FD_CLOEXEC flag, then writes "OK" on stdout and "OK" on stderr; the
 * harness requires both and a clean exit (no crash).
 *
 * Input: b0 selects the case, the rest is T (a string, NULs dropped).
 *   b0 % 4 == 0: the variable is T itself;
 *              1: a genuine table: a sealed memfd with this exec's pid
 *                 and nonce, body T (so the body parser is reached);
 *              2: as 1, but the header spoiled by b1 (pid, nonce, seals,
 *                 size, magic), so it must be left alone;
 *              3: the variable names fd (b1 % 10) with a random nonce.
 *   In T, "@N" and "#N" (N a digit) become the device and inode of fd N,
 *   so that the body can name the program's real files.
 * b0 / 4 % 4 picks the mode (fix, strict, audit, off).
 *
 * Standalone: fuzz_handover --random SEED N | FILE...   (LD_PRELOAD or
 * LS_FUZZ_LIB names the shim; LS_FUZZ_PRELOAD, if set, is the target's
 * whole LD_PRELOAD, e.g. the ASan runtime and an ASan build of the shim).  Built with -fsanitize=fuzzer it is a
 * libFuzzer target (the shim: LS_FUZZ_LIB, else ../build/liblockscope.so
 * next to the binary, else build/liblockscope.so).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define NFD 8
#define NONCE 16

static char self[PATH_MAX];
static char lib[PATH_MAX];
static char tmpdir[PATH_MAX];

struct header {            /* as shim/exec.c writes it */
    char magic[8];
    int32_t pid;
    uint32_t reserved;
    uint8_t nonce[NONCE];
    uint64_t size;
};

static int target(void)
{
    const char *want = getenv("FH_FDS");
    int bad = 0;
    for (int fd = 0; fd < NFD && want; fd++) {
        unsigned long long dev = 0, ino = 0;
        int fl = -1, n = 0;
        if (sscanf(want, "%d:%llu:%llu%n", &fl, &dev, &ino, &n) != 3) break;
        want += n;
        if (*want == ',') want++;
        struct stat st;
        int now = fcntl(fd, F_GETFD);
        if (now != fl || fstat(fd, &st) < 0 || st.st_dev != dev || st.st_ino != ino) {
            char m[96];
            int l = snprintf(m, sizeof m, "fd %d changed: F_GETFD %d (was %d)\n", fd, now, fl);
            if (write(2, m, (size_t)l) < 0) bad = 1;
            bad = 1;
        }
    }
    const char *mfd = getenv("FH_MEMFD_KEPT");   /* a memfd the shim had to leave alone */
    if (mfd) {
        int fd = atoi(mfd);
        if (fcntl(fd, F_GETFD) != 0) {
            if (write(2, "spoiled memfd touched\n", 22) < 0) bad = 1;
            bad = 1;
        }
    }
    if (bad) return 1;
    if (write(1, "OK", 2) != 2 || write(2, "OK", 2) != 2) return 1;
    return 0;
}

static void fail(const char *what) { fprintf(stderr, "fuzz_handover: %s: %s\n", what, strerror(errno)); exit(2); }

/* Replace @N / #N with the device / inode of fd N. */
static size_t expand(const uint8_t *in, size_t n, char *out, size_t cap, const struct stat *st)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 24 < cap; i++) {
        char c = (char)in[i];
        if (!c) continue;
        if ((c == '@' || c == '#') && i + 1 < n && in[i + 1] >= '0' && in[i + 1] < '0' + NFD) {
            int fd = in[i + 1] - '0';
            o += (size_t)snprintf(out + o, cap - o, "%llu",
                                  (unsigned long long)(c == '@' ? st[fd].st_dev : st[fd].st_ino));
            i++;
            continue;
        }
        out[o++] = c;
    }
    out[o] = 0;
    return o;
}

/* One input: 0 fine, 1 a finding. */
static int run_one(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int kind = data[0] % 4;
    static const char *modes[] = { "fix", "strict", "audit", "off" };
    const char *mode = modes[(data[0] / 4) % 4];
    int b1 = size > 1 ? data[1] : 0;
    const uint8_t *t = data + (size > 2 ? 2 : size);
    size_t tn = size > 2 ? size - 2 : 0;
    int out[2], err[2];
    if (pipe(out) < 0 || pipe(err) < 0) fail("pipe");
    pid_t pid = fork();
    if (pid < 0) fail("fork");
    if (pid == 0) {
        char path[PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/f", tmpdir);
        int nul = open("/dev/null", O_RDONLY);
        int f3 = open(path, O_RDWR | O_CREAT, 0644);
        int f4 = open(path, O_RDONLY);
        int p[2];
        if (nul < 0 || f3 < 0 || f4 < 0 || pipe(p) < 0) _exit(3);
        int dir = open(tmpdir, O_RDONLY | O_DIRECTORY);
        int src[NFD] = { nul, out[1], err[1], f3, f4, f4, p[0], dir };
        int tmp[NFD];
        for (int i = 0; i < NFD; i++) tmp[i] = fcntl(src[i], F_DUPFD, 100);
        for (int i = 0; i < NFD; i++) {
            if (i == 5) { dup2(4, 5); continue; }
            dup2(tmp[i], i);
        }
        for (int fd = NFD; fd < 1024; fd++) close(fd);
        /* fd 40: what a genuine private description looks like (its own
         * description of the file, holding an OFD lock), so that a table
         * naming it reaches adoption and the linking of program fds */
        int pv = open(path, O_RDWR);
        struct flock ofl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10 };
        if (pv < 0 || dup2(pv, 40) < 0 || fcntl(40, F_OFD_SETLK, &ofl) < 0) _exit(3);
        close(pv);
        struct stat st[NFD];
        char fds[NFD * 48] = "";
        size_t fl = 0;
        for (int i = 0; i < NFD; i++) {
            if (fstat(i, &st[i]) < 0) _exit(3);
            fl += (size_t)snprintf(fds + fl, sizeof fds - fl, "%s%d:%llu:%llu", i ? "," : "",
                                   fcntl(i, F_GETFD), (unsigned long long)st[i].st_dev,
                                   (unsigned long long)st[i].st_ino);
        }
        size_t cap = tn * 24 + 64;
        char *body = malloc(cap);
        if (!body) _exit(3);
        size_t bn = expand(t, tn, body, cap, st);
        char var[64 + 2 * NONCE];
        char *val = body;
        char kept[32] = "";
        if (kind == 1 || kind == 2) {
            int m = (int)syscall(SYS_memfd_create, "lockscope-handover", MFD_CLOEXEC | MFD_ALLOW_SEALING);
            if (m < 0) _exit(3);
            int mfd = fcntl(m, F_DUPFD, 200);
            close(m);
            struct header h;
            memcpy(h.magic, "LSHAND\0\2", 8);
            h.pid = (int32_t)getpid();
            h.reserved = 0;
            for (int i = 0; i < NONCE; i++) h.nonce[i] = (uint8_t)(rand() ^ b1 ^ i);
            h.size = bn;
            int seals = F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE;
            uint8_t vnonce[NONCE];
            memcpy(vnonce, h.nonce, NONCE);
            if (kind == 2) {
                switch (b1 % 5) {
                case 0: h.pid ^= 1 + (b1 >> 3); break;
                case 1: vnonce[b1 % NONCE] ^= 1; break;
                case 2: seals = F_SEAL_SHRINK | F_SEAL_GROW; break;
                case 3: h.size += 1 + (unsigned)(b1 >> 3); break;
                default: h.magic[b1 % 8] ^= 0x20; break;
                }
                snprintf(kept, sizeof kept, "%d", mfd);
            }
            if (write(mfd, &h, sizeof h) != (ssize_t)sizeof h ||
                write(mfd, body, bn) != (ssize_t)bn || fcntl(mfd, F_ADD_SEALS, seals) < 0)
                _exit(3);
            int n = snprintf(var, sizeof var, "%d:", mfd);
            for (int i = 0; i < NONCE; i++) n += snprintf(var + n, sizeof var - (size_t)n, "%02x", vnonce[i]);
            val = var;
        } else if (kind == 3) {
            int n = snprintf(var, sizeof var, "%d:", b1 % 10);
            for (int i = 0; i < NONCE; i++) n += snprintf(var + n, sizeof var - (size_t)n, "%02x", (unsigned)rand() & 255);
            val = var;
        }
        char e_pre[PATH_MAX + 16], e_mode[32], e_fds[sizeof fds + 8], e_kept[48];
        char *e_var = malloc(strlen(val) + 32);
        if (!e_var) _exit(3);
        const char *pl = getenv("LS_FUZZ_PRELOAD");    /* e.g. "libasan.so build-asan/liblockscope.so" */
        snprintf(e_pre, sizeof e_pre, "LD_PRELOAD=%s", pl ? pl : lib);
        snprintf(e_mode, sizeof e_mode, "LOCKSCOPE_MODE=%s", mode);
        snprintf(e_fds, sizeof e_fds, "FH_FDS=%s", fds);
        sprintf(e_var, "LOCKSCOPE__HANDOVER=%s", val);
        snprintf(e_kept, sizeof e_kept, "FH_MEMFD_KEPT=%s", kept);
        char *envp[] = { e_pre, e_mode, e_fds, e_var, (char *)"LOCKSCOPE_LOG=/dev/null",
                         (char *)"ASAN_OPTIONS=detect_leaks=0:verify_asan_link_order=0",
                         kept[0] ? e_kept : NULL, NULL };
        char *argv[] = { self, (char *)"--target", NULL };
        execve(self, argv, envp);
        _exit(3);
    }
    close(out[1]);
    close(err[1]);
    char ob[16] = "", eb[4096] = "";
    ssize_t on = 0, en = 0, k;
    /* (libFuzzer's timers interrupt: EINTR is retried) */
    while ((size_t)on < sizeof ob - 1 &&
           ((k = read(out[0], ob + on, sizeof ob - 1 - (size_t)on)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) on += k;
    while ((size_t)en < sizeof eb - 1 &&
           ((k = read(err[0], eb + en, sizeof eb - 1 - (size_t)en)) > 0 || (k < 0 && errno == EINTR)))
        if (k > 0) en += k;
    ob[on > 0 ? on : 0] = 0;
    eb[en > 0 ? en : 0] = 0;
    close(out[0]);
    close(err[0]);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR) {}
    /* stderr may carry the shim's debug lines before "OK": it must end with it */
    int good = WIFEXITED(st) && WEXITSTATUS(st) == 0 && !strcmp(ob, "OK") &&
               en >= 2 && !memcmp(eb + en - 2, "OK", 2);
    if (!good) {
        fprintf(stderr, "fuzz_handover: FINDING (case %d, mode %s): status %#x, stdout '%s', stderr '%.300s'\n",
                kind, mode, st, ob, eb);
        return 1;
    }
    return 0;
}

static void setup(void)
{
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n < 0) fail("readlink");
    self[n] = 0;
    const char *t = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/fuzz-handover.XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) fail("mkdtemp");
    signal(SIGPIPE, SIG_IGN);
}

static void cleanup(void)
{
    char p[PATH_MAX + 8];
    snprintf(p, sizeof p, "%s/f", tmpdir);
    unlink(p);
    rmdir(tmpdir);
}

static void find_lib(void)
{
    const char *env = getenv("LS_FUZZ_LIB");
    const char *pre = getenv("LD_PRELOAD");
    char cand[3][PATH_MAX];
    snprintf(cand[0], sizeof cand[0], "%s", env ? env : pre && strstr(pre, "liblockscope") ? pre : "");
    snprintf(cand[1], sizeof cand[1], "%s", self);
    char *sl = strrchr(cand[1], '/');
    if (sl) snprintf(sl, sizeof cand[1] - (size_t)(sl - cand[1]), "/../build/liblockscope.so");
    snprintf(cand[2], sizeof cand[2], "build/liblockscope.so");
    for (int i = 0; i < 3; i++)
        if (cand[i][0] && realpath(cand[i], lib))
            return;
    fprintf(stderr, "fuzz_handover: liblockscope.so not found (LS_FUZZ_LIB)\n");
    exit(2);
}

/* ---- libFuzzer ---- */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (*argc >= 2 && !strcmp((*argv)[1], "--target"))
        _exit(target());
    setup();
    find_lib();
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    if (run_one(data, size)) {
        cleanup();
        abort();
    }
    return 0;
}

/* ---- standalone ---- */

static uint64_t rng;
static unsigned rnd(unsigned n) { rng = rng * 6364136223846793005ull + 1442695040888963407ull; return (unsigned)(rng >> 33) % n; }

/* Inputs that look like tables: tokens of the grammar, real inodes, noise. */
static size_t gen(uint8_t *buf, size_t cap)
{
    static const char *tok[] = { "|O", "|D", ":", "/", ",", "|", "0", "1", "2", "3", "7", "-1", "15000",
                                 "@3", "#3", "@4", "#4", "@1", "#1", "@0", "#0", "99999999999999999999",
                                 "0/9/2", "0/-1/1", "1:2:0:", "O", "D", "x",
                                 "|O40:2:0:@3:#3:", "|O40:0:1:@4:#4:", "|D2:0:3", "|D0:1:4,5", "40" };
    size_t n = 0;
    buf[n++] = (uint8_t)rnd(256);
    buf[n++] = (uint8_t)rnd(256);
    unsigned k = rnd(40);
    for (unsigned i = 0; i < k && n + 24 < cap; i++) {
        if (rnd(10) == 0) { buf[n++] = (uint8_t)rnd(256); continue; }
        const char *s = tok[rnd(sizeof tok / sizeof *tok)];
        size_t l = strlen(s);
        memcpy(buf + n, s, l);
        n += l;
    }
    return n;
}

__attribute__((weak)) int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "--target"))
        return target();
    if (argc < 2) {
        fprintf(stderr, "usage: fuzz_handover --random SEED N | FILE...\n");
        return 2;
    }
    setup();
    find_lib();
    int bad = 0, inputs = 0;
    if (!strcmp(argv[1], "--random") && argc >= 4) {
        rng = strtoull(argv[2], NULL, 0);
        int n = atoi(argv[3]);
        for (int i = 0; i < n && !bad; i++, inputs++) {
            uint8_t buf[2048];
            size_t len = gen(buf, sizeof buf);
            if (run_one(buf, len)) {
                bad = 1;
                fprintf(stderr, "fuzz_handover: failing input (hex):");
                for (size_t j = 0; j < len; j++) fprintf(stderr, " %02x", buf[j]);
                fprintf(stderr, "\n");
            }
        }
    } else {
        for (int i = 1; i < argc && !bad; i++, inputs++) {
            FILE *f = fopen(argv[i], "rb");
            if (!f) fail(argv[i]);
            uint8_t buf[4096];
            size_t len = fread(buf, 1, sizeof buf, f);
            fclose(f);
            bad = run_one(buf, len);
        }
    }
    cleanup();
    printf("fuzz_handover: %d inputs, %s\n", inputs, bad ? "FINDING" : "all programs' fds untouched");
    return bad;
}
