#!/usr/bin/env bash
# pair-instr.sh - the instructions of one lock+unlock pair under the shim
# (issue 14), counted with callgrind: exact counts, no timing asserted.
#
# usage: tests/stress/pair-instr.sh [BUILD_DIR]      (default: build)
#
# Runs tests/stress/pair_locker.c with N1 and N2 pairs under
# LOCKSCOPE_MODE=fix and takes (I(N2) - I(N1)) / (N2 - N1), so start-up
# cancels.  The file is made in a directory of the build, on the machine's
# own disk: when that file system is not one the shim answers inside one
# section (engine.c local_fs: ext2/3/4, xfs, btrfs, tmpfs, ramfs, f2fs,
# overlayfs), the checks say SKIP.
#   setlk    an F_SETLK pair: at most MAX_SETLK instructions (the shim of
#            wave 3's start: ~2 440; now ~1 920)
#   setlkw   an F_SETLKW pair that never waits: at most MAX_SETLKW (start:
#            ~2 530; now ~2 005)
# The limits are for the main build (gcc -O2).  Needs valgrind and
# callgrind_annotate; without them, or when valgrind cannot run the build,
# every check says SKIP (counted as passed).  Prints "ok - X" / "not ok - X" and "N passed, N
# failed"; exit 1 if any failed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "pair-instr: no build directory" >&2; exit 2; }
lib=$build/liblockscope.so
out=$build/stress
mkdir -p "$out"
pass=0; fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
bad() { echo "not ok - $*"; fail=$((fail + 1)); }
MAX_SETLK=${MAX_SETLK:-2250}
MAX_SETLKW=${MAX_SETLKW:-2300}
N1=2000 N2=12000

finish() { echo "$pass passed, $fail failed"; [ $fail = 0 ]; exit $?; }
if ! command -v valgrind >/dev/null || ! command -v callgrind_annotate >/dev/null; then
    ok "pair instructions # SKIP no valgrind"; finish
fi
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$out/pair_locker" "$here/pair_locker.c" ||
    { bad "pair instructions: cannot build pair_locker"; finish; }
work=$(mktemp -d "$out/pair-instr.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/home"      # the shim's environment only: no LOCKSCOPE_* of the caller, no config
case $(stat -f -c %T "$work") in
    ext2/ext3|ext4|xfs|btrfs|tmpfs|ramfs|f2fs|overlayfs) ;;
    *) ok "pair instructions # SKIP $(stat -f -c %T "$work") is not a local file system the shim knows"; finish ;;
esac

# instr MODE N: the whole process's instructions
instr() {
    local f="$work/cg.$1.$2"
    env -i PATH=/usr/bin:/bin HOME="$work/home" XDG_CONFIG_HOME="$work/home" \
        LD_PRELOAD="$lib" LOCKSCOPE_MODE=fix valgrind --tool=callgrind --callgrind-out-file="$f" "$out/pair_locker" "$work/file" "$1" "$2" \
        >/dev/null 2>"$work/err" || { cat "$work/err" >&2; echo 0; return; }
    callgrind_annotate --auto=no "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }'
}
for m in setlk setlkw; do
    max=$MAX_SETLK; [ $m = setlkw ] && max=$MAX_SETLKW
    if ! env -i PATH=/usr/bin:/bin HOME="$work/home" XDG_CONFIG_HOME="$work/home" \
            LD_PRELOAD="$lib" LOCKSCOPE_MODE=fix "$out/pair_locker" "$work/file" $m 100; then
        bad "$m pair: the pairs fail under the shim"; continue
    fi
    a=$(instr $m $N1 2>/dev/null); b=$(instr $m $N2 2>/dev/null)
    if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = 0 ] || [ "$b" = 0 ]; then
        # (valgrind 3.19 cannot read clang's DWARF 5, for one)
        ok "$m pair # SKIP valgrind could not run this build"; continue
    fi
    per=$(( (b - a) / (N2 - N1) ))
    if [ $per -le $max ]; then
        ok "$m pair: $per instructions (at most $max)"
    else
        bad "$m pair: $per instructions, more than $max"
    fi
done
finish
