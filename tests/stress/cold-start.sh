#!/usr/bin/env bash
# cold-start.sh - what the shim costs a process that starts, makes its
# first locks, forks (issue 14), counted in system calls with strace (the
# counts are exact: no timing is asserted).
#
# usage: tests/stress/cold-start.sh [BUILD_DIR]      (default: build)
#
# Checks, under LOCKSCOPE_MODE=fix with an empty configuration and no log:
#   start     /bin/true: no system call of the shim's start but its
#             configuration lookups and one getpid (no /proc open, no kernel
#             probe, no mmap/madvise, no futex, no malloc: no brk/getrandom),
#             at most 3 in all (getpid, one openat per config location: no
#             stat of their directories when the files are absent)
#   startlog  the same with LOCKSCOPE_LOG naming an existing file: only the
#             log's opening more (open, fstat, moved to a high number,
#             close-on-exec: at most 7 calls), no /proc/self/fd scan
#   execlog   sh -c '(true); true' with a log: sh opens it at start; the
#             forked child's image takes the descriptor from LOCKSCOPE__LOGFD
#             (no /proc/self/fd scan), the vfork'd one (no hand-over there)
#             opens it again
#   first     8 first locks of new files: no walk of /proc/self/fd/N per
#             private description (openat of the cached /proc/self/fd
#             instead), at most one RLIMIT_NOFILE lookup in all
#   fork      the child of a process without locks or owners makes no
#             system call before exiting but getpid and the mask restore
#   forkpage  the code a forked child runs in the library (the fork wrapper,
#             the child's atfork handler) lies on one 4 KB page (each code
#             page a child touches is a page fault in every child); nm, no
#             strace needed
#   logexec   the log descriptor across exec: with a lock held, into mode
#             off, past an environment with no room for LOCKSCOPE__LOGFD
#   bind      the real-function table (bound by a walk of the loaded
#             objects, not dlsym) holds what dlsym(RTLD_NEXT) gives for every
#             name: the shim alone, with bench's passthrough.so preloaded
#             after it, and before it (LOCKSCOPE__BINDCHECK; no strace needed)
# Needs strace; without it every check says SKIP (counted as passed).
# Prints "ok - X" / "not ok - X" lines and "N passed, N failed"; exit 1 if
# any failed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "cold-start: no build directory" >&2; exit 2; }
lib=$build/liblockscope.so
out=$build/stress
mkdir -p "$out"
. "$here/../lib.sh"   # ok, not_ok, skipped, finish

# forkpage: from the symbol table (SKIP when stripped or without nm)
if command -v nm >/dev/null 2>&1 && nm "$lib" 2>/dev/null | grep -q ' atfork_child$'; then
    pages=$(nm "$lib" | awk '$3 == "fork" || $3 == "atfork_child" { print substr($1, 1, length($1) - 3) }' | sort -u)
    if [ "$(echo "$pages" | wc -l)" = 1 ]; then
        ok "forkpage: fork and atfork_child on one page ($(nm "$lib" | awk '$3 == "fork" || $3 == "atfork_child" {printf "%s %s ", $3, $1}'))"
    else
        not_ok "forkpage: fork and atfork_child on different pages: $(nm "$lib" | awk '$3 == "fork" || $3 == "atfork_child" {printf "%s %s ", $3, $1}')"
    fi
else
    ok "forkpage # SKIP no nm or no local symbols"
fi

# bind: one line "lockscope: bindcheck: N of M differ from dlsym (walked)..."
pt=$build/bench/passthrough.so
[ -f "$pt" ] || pt=$(ls "$root"/build/bench/passthrough.so 2>/dev/null)
# not built (make test does not build bench/): build it here
[ -n "$pt" ] || { cc -O2 -std=gnu11 -shared -fPIC -fvisibility=hidden -o "$out/passthrough.so" \
                      "$root/bench/passthrough.c" -ldl 2>"$out/passthrough.build.log" && pt=$out/passthrough.so; }
bind_check() {
    local line
    line=$(env -i PATH=/usr/bin:/bin LOCKSCOPE_MODE=fix LOCKSCOPE__BINDCHECK=1 LD_PRELOAD="$1" /bin/true 2>&1 | grep 'bindcheck')
    case $line in
        "lockscope: bindcheck: 0 of "*" differ from dlsym (walked)") ok "bind: $2: $line" ;;
        *) not_ok "bind: $2: ${line:-no bindcheck line}" ;;
    esac
}
bind_check "$lib" "the shim alone"
if [ -n "$pt" ]; then
    bind_check "$lib $pt" "passthrough.so after the shim"
    bind_check "$pt $lib" "passthrough.so before the shim"
else
    ok "bind: with passthrough.so # SKIP not built (make bench)"
fi

# logexec: the log descriptor across exec (review of wave 3): a program
# holding a lock execs (the hand-over rebuilds the environment: it must keep
# LOCKSCOPE__LOGFD), an image in mode off and one with a huge environment
# (no room for the variable): in each, a child sees exactly the one log
# descriptor it should (1, 0, 1), never a second or a leaked one.
ltmp=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-logexec.XXXXXX")
: >"$ltmp/x.log"
lrun() { env -i PATH=/usr/bin:/bin HOME="$ltmp" XDG_CONFIG_HOME="$ltmp" LOCKSCOPE_MODE=fix \
             LOCKSCOPE_LOG="$ltmp/x.log" LD_PRELOAD="$lib" "$@" 2>&1; }
count='ls -l /proc/self/fd | grep -c "x\.log\$"'
n1=$(lrun python3 -c 'import fcntl, os, sys
f = open(sys.argv[1] + "/f", "w"); os.set_inheritable(f.fileno(), True); fcntl.lockf(f, fcntl.LOCK_EX)
os.execv("/bin/sh", ["sh", "-c", sys.argv[2]])' "$ltmp" "$count; true")
n2=$(lrun /bin/sh -c "LOCKSCOPE_MODE=off exec /bin/sh -c '$count; true'")
n3=$(lrun /bin/bash -c 'for i in $(seq 1100); do export V$i=x; done; exec /bin/sh -c "$1; true"' sh "$count")
if [ "$n1" = 1 ] && [ "$n2" = 0 ] && [ "$n3" = 1 ]; then
    ok "logexec: one log descriptor after an exec with a lock held, none leaked into mode off or past a full environment"
else
    not_ok "logexec: log descriptors seen: after exec with a lock $n1 (want 1), mode off $n2 (want 0), huge environment $n3 (want 1)"
fi
rm -rf "$ltmp"

if ! command -v strace >/dev/null 2>&1; then
    for c in start startlog execlog first fork; do ok "$c # SKIP no strace"; done
    finish
fi
if ! cc -O2 -std=gnu11 -Wall -Wextra -o "$out/cold_locker" "$here/cold_locker.c" 2>"$out/cold_locker.build.log"; then
    not_ok "build cold_locker (see $out/cold_locker.build.log)"
    finish
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-cold.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/home" "$tmp/files"
# the shim's environment only: no LOCKSCOPE_* of the caller, an empty config
run() {
    env -i PATH=/usr/bin:/bin HOME="$tmp/home" XDG_CONFIG_HOME="$tmp/home" \
        LOCKSCOPE_MODE=fix ${LOCKSCOPE_LOG:+LOCKSCOPE_LOG="$LOCKSCOPE_LOG"} strace -f -qq -o "$1" -E LD_PRELOAD="$lib" "${@:2}"
}

# start: the system calls after the last one the dynamic loader makes for
# the libraries (the munmap of ld.so.cache) are the constructor's and exit's
run "$tmp/true.st" /bin/true
calls=$(sed -n '/^[0-9]* *munmap(/,$p' "$tmp/true.st" | sed 1d | sed 's/^[0-9]* *//; s/(.*//' | grep -v '^exit_group$\|^+++\|^$' | tr '\n' ' ')
extra=$(for c in $calls; do case $c in getpid|newfstatat|stat|openat|geteuid) ;; *) printf '%s ' "$c";; esac; done)
ncalls=$(echo $calls | wc -w)
if [ -z "$extra" ] && ! grep -q '"/proc/self/fd"' "$tmp/true.st" && [ "$ncalls" -le 3 ]; then
    ok "start: only configuration lookups and getpid, $ncalls system calls ($calls)"
else
    not_ok "start: $ncalls system calls (at most 3), beyond the configuration lookups: ${extra:-none}$(grep -q '"/proc/self/fd"' "$tmp/true.st" && echo ' /proc/self/fd opened') (all: $calls)"
fi

# startlog: a log configured (an existing file, as for every process after
# the first) costs only its opening at start
: >"$tmp/cold.log"
LOCKSCOPE_LOG="$tmp/cold.log" run "$tmp/truelog.st" /bin/true
lcalls=$(sed -n '/^[0-9]* *munmap(/,$p' "$tmp/truelog.st" | sed 1d | sed 's/^[0-9]* *//; s/(.*//' | grep -v '^exit_group$\|^+++\|^$' | tr '\n' ' ')
nl=$(( $(echo $lcalls | wc -w) - $(echo $calls | wc -w) ))
if [ "$nl" -le 7 ] && [ "$(grep -c 'open[at]*(.*cold\.log"' "$tmp/truelog.st")" = 1 ] &&
   ! grep -q '"/proc/self/fd"' "$tmp/truelog.st"; then
    ok "startlog: a log configured adds its opening at start, $nl calls ($lcalls)"
else
    not_ok "startlog: with a log: $lcalls; without: $calls"
fi

# execlog: the descriptor goes down through exec in LOCKSCOPE__LOGFD
LOCKSCOPE_LOG="$tmp/cold.log" run "$tmp/execlog.st" /bin/sh -c '(/bin/true); /bin/true'
opens=$(grep -c 'open[at]*(.*cold\.log"' "$tmp/execlog.st")
execs=$(grep -c 'execve("/bin/true"' "$tmp/execlog.st")
adopted=$(grep -c 'fcntl([0-9]*, F_SETFD, FD_CLOEXEC)' "$tmp/execlog.st")
if [ "$execs" = 2 ] && [ "$opens" -le 2 ] && [ "$adopted" -ge 1 ] && ! grep -q '"/proc/self/fd"' "$tmp/execlog.st"; then
    ok "execlog: the forked child's image took the log over without opening it or a /proc/self/fd scan ($opens opens: sh and the vfork'd image)"
else
    not_ok "execlog: $execs exec(s) of /bin/true, the log opened $opens time(s), $adopted FD_CLOEXEC, /proc/self/fd opened $(grep -c '"/proc/self/fd"' "$tmp/execlog.st") time(s)"
fi

run "$tmp/lock.st" "$out/cold_locker" "$tmp/files" 8 >"$tmp/lock.out" 2>&1
if ! grep -q '^ok$' "$tmp/lock.out"; then
    not_ok "first: cold_locker failed: $(head -c 300 "$tmp/lock.out")"
    not_ok "fork: not run"
    finish
fi
walks=$(grep -c 'open[at]*(.*"/proc/self/fd/[0-9]' "$tmp/lock.st")
limits=$(grep -c 'prlimit64(0, RLIMIT_NOFILE, NULL\|getrlimit(RLIMIT_NOFILE' "$tmp/lock.st")
if [ "$walks" = 0 ] && [ "$limits" -le 1 ]; then
    ok "first: 8 first locks, no /proc/self/fd/N walk, $limits RLIMIT_NOFILE lookup(s)"
else
    not_ok "first: 8 first locks made $walks walk(s) of /proc/self/fd/N and $limits RLIMIT_NOFILE lookup(s)"
fi

# the child: the pid that is not the main one
main=$(head -1 "$tmp/lock.st" | awk '{print $1}')
child=$(awk -v m="$main" '$1 != m {print $1; exit}' "$tmp/lock.st")
if [ -z "$child" ]; then
    not_ok "fork: no child in the trace"
else
    ccalls=$(awk -v c="$child" '$1 == c' "$tmp/lock.st" | sed 's/^[0-9]* *//; s/(.*//; s/<\.\.\. *//; s/ resumed>.*//' |
             grep -v '^+++\|^exit_group$\|^---' | tr '\n' ' ')
    cextra=$(for c in $ccalls; do case $c in getpid|rt_sigprocmask|set_robust_list|exit_group) ;; *) printf '%s ' "$c";; esac; done)
    if [ -z "$cextra" ]; then
        ok "fork: the child only restores its mask ($ccalls)"
    else
        not_ok "fork: the child's system calls include $cextra(all: $ccalls)"
    fi
fi
finish
