/*
 * rule1_fclose - rule 1 through stdio and library code: glibc's fclose()
 * closes with its internal close, not the interposable close symbol, and a
 * "library routine" that opens, reads and closes the file drops the caller's
 * POSIX lock natively.
 *
 * A = open(path), write lock [0,10) through A, then, each followed by a probe:
 *   fopen    f = fopen(path, "r"); fgetc(f); fclose(f)
 *   fdopen   f = fdopen(open(path, O_RDONLY), "r"); fclose(f)
 *   library  read_config(path): open + read + close in a separate function
 * Native: each drops the lock (U; A re-locks); fix: it stays (W).
 * Finally close(A): released in both.
 */
#include "scen.h"

static const char *path;

/* What a library (a config reader, getpwnam, ...) does behind the caller's back. */
__attribute__((noinline)) static int read_config(const char *p)
{
    char buf[16];
    int fd = open(p, O_RDONLY);
    if (fd < 0) return -1;
    ssize_t n = read(fd, buf, sizeof buf);
    int r = close(fd);
    return n < 0 ? -1 : r;
}

int main(int argc, char **argv)
{
    SCEN_MAIN_PROLOGUE(argc, argv);
    scen_watchdog(20);
    path = scen_path("r1fc");

    int a = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (a < 0) scen_die("open A");
    if (write(a, "0123456789abcdef", 16) != 16) scen_die("write");
    SAY("lock_a=%s", res(scen_setlk(a, F_SETLK, F_WRLCK, 0, 10)));
    SAY("probe_locked=%c", probe(path, 'W', 0, 10));

    FILE *f = fopen(path, "r");
    if (!f) scen_die("fopen");
    SAY("fgetc=%c", fgetc(f));
    SAY("fclose=%d", fclose(f));
    SAY("probe_after_fclose=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "fopen");

    int d = open(path, O_RDONLY);
    if (d < 0) scen_die("open for fdopen");
    f = fdopen(d, "r");
    if (!f) scen_die("fdopen");
    SAY("fdopen_fclose=%d", fclose(f));
    SAY("probe_after_fdopen_fclose=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "fdopen");

    SAY("read_config=%d", read_config(path));
    SAY("probe_after_library=%c", probe(path, 'W', 0, 10));
    scen_relock(path, a, 0, 10, "library");

    SAY("close_a=%s", res(close(a)));
    SAY("probe_after_close_a=%c", probe(path, 'W', 0, 10));
    unlink(path);
    return 0;
}
