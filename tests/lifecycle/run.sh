#!/usr/bin/env bash
# run.sh - fork, vfork, clone and the exec hand-over under the shim
# (issue 12 items 5-9, issue 13 item 1).
#
# usage: tests/lifecycle/run.sh [BUILD_DIR] [CHECK...]     (default: build, all)
#   checks: forkmask vfork clone execleak manylocks forged setuid fuzz
#           spawnjmp spawnmask handlerfork forkcancel forkstop logfd offexec
# Prints "ok - X" / "not ok - X" lines, ends with "N passed, N failed";
# exit status 1 if any failed.  A SKIP counts as passed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "run.sh: no build directory '$build'" >&2; exit 2; }
shift || true
checks=${*:-"forkmask vfork clone execleak manylocks forged setuid fuzz spawnjmp spawnmask handlerfork forkcancel forkstop logfd offexec"}
lib=${LIFECYCLE_LIB:-$build/liblockscope.so}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-lifecycle.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
bin=$tmp/lifecycle
cc -O2 -g -std=gnu11 -Wall -Wextra -pthread "$here/lifecycle.c" -o "$bin" || { echo "0 passed, 1 failed"; exit 1; }
. "$here/../lib.sh"   # ok, not_ok, skipped, finish
# run MODE LABEL CMD...: under the shim in MODE; a crash or timeout fails
run() {
    local mode=$1 label=$2; shift 2
    local out=$tmp/out.$$ rc
    timeout -k 5 "${TMO:-120}" env LD_PRELOAD="$lib" LOCKSCOPE_MODE="$mode" "$@" >"$out" 2>"$out.err"
    rc=$?
    sed "s/^\(\(not \)\{0,1\}ok - \)/\1[$mode] $label: /" "$out" >"$out.l"
    grep '^\(not \)\{0,1\}ok - ' "$out.l" >"$out.c"
    cat "$out.c"
    pass=$(( pass + $(grep -c '^ok - ' "$out.c") )); fail=$(( fail + $(grep -c '^not ok - ' "$out.c") ))
    if [ $rc -ge 124 ] || [ $rc -ge 128 ] || ! grep -q '^\(not \)\{0,1\}ok - ' "$out.c"; then
        echo "not ok - [$mode] $label: exit $rc"; fail=$((fail + 1))
        head -5 "$out.err" | sed 's/^/#   /'
    fi
}

for c in $checks; do
    case $c in
    forkmask)
        for m in off fix; do run $m forkmask "$bin" forkmask; done ;;
    vfork)
        for m in off audit fix strict; do run $m vfork "$bin" vfork "$tmp/vfork.$m"; done ;;
    clone)
        for m in off audit fix; do run $m clone "$bin" clone "$tmp/clone.$m"; done ;;
    execleak)
        run fix execleak "$bin" execleak "$tmp/execleak" 0 50 0 ;;
    manylocks)
        mkdir -p "$tmp/many"
        run fix manylocks "$bin" manylocks "$tmp/many" 1 400 5000 ;;
    forged)
        : >"$tmp/forged.f"
        for m in off audit fix strict; do
            for v in '1|O1:0:0:' '1|O1:0:0:|D0:0:1,2' '1:00000000000000000000000000000000' \
                     '3:00000000000000000000000000000000' '4:zz' '99999999999999999999:0' ''; do
                run $m "forged '$v'" env LOCKSCOPE__HANDOVER="$v" "$bin" forged 3<"$tmp/forged.f" 4>>"$tmp/forged.f"
            done
        done ;;
    setuid)
        label="setuid-root program run by nobody: a forged hand-over closes nothing"
        if [ "$(id -u)" != 0 ]; then skipped "$label" "needs root"
        elif ! command -v setpriv >/dev/null 2>&1; then skipped "$label" "setpriv(1) not installed"
        elif findmnt -n -o OPTIONS -T "$tmp" 2>/dev/null | grep -qw nosuid; then skipped "$label" "$tmp is nosuid"
        else
            sd=$tmp/suid; mkdir -p "$sd/lib"; chmod 755 "$sd" "$sd/lib"
            cp "$lib" "$sd/lib/liblockscope.so"; chmod 755 "$sd/lib/liblockscope.so"
            # ld.so ignores LD_PRELOAD paths in setuid programs: link the library in
            if cc -O2 -std=gnu11 -pthread "$here/lifecycle.c" -o "$sd/target" -Wl,--no-as-needed \
                  -L"$sd/lib" -llockscope -Wl,-rpath,"$sd/lib" -ldl 2>"$sd/build.log"; then
                chown root:root "$sd/target"; chmod 4755 "$sd/target"
                for v in '1|O2:0:0:' '2:00000000000000000000000000000000'; do
                    setpriv --reuid=65534 --regid=65534 --clear-groups env -i LOCKSCOPE__HANDOVER="$v" \
                        "$sd/target" forged >"$sd/out" 2>"$sd/err" 3<"$sd/lib/liblockscope.so" 4<"$sd/lib/liblockscope.so"
                    rc=$?
                    if [ $rc = 0 ] && grep -q '^ok - forged hand-over variable: fds 0-4' "$sd/out"; then
                        ok "$label ('$v')"
                    else
                        not_ok "$label ('$v', exit $rc)"; head -3 "$sd/out" | sed 's/^/#   /'
                    fi
                done
            else
                skipped "$label" "cannot link a test program against the library"
            fi
        fi ;;
    fuzz)
        # the hand-over parser through the real shim (tests/fuzz/fuzz_handover.c)
        if cc -O2 -g -std=gnu11 -Wall -Wextra "$root/tests/fuzz/fuzz_handover.c" -o "$tmp/fuzz_handover" 2>"$tmp/fh.log"; then
            if LS_FUZZ_LIB="$lib" timeout -k 5 120 "$tmp/fuzz_handover" --random 1 400 >"$tmp/fh.out" 2>&1 &&
               LS_FUZZ_LIB="$lib" timeout -k 5 60 "$tmp/fuzz_handover" "$root"/tests/fuzz/corpus/handover/* >>"$tmp/fh.out" 2>&1; then
                ok "fuzz: forged hand-over variables and tables leave every program fd alone ($(awk '/^fuzz_handover: [0-9]+ inputs/ {n += $2} END {print n + 0}' "$tmp/fh.out") inputs)"
            else
                not_ok "fuzz: forged hand-over variables and tables leave every program fd alone"
                grep -m3 'FINDING\|failing' "$tmp/fh.out" | sed 's/^/#   /'
            fi
        else
            not_ok "fuzz: build fuzz_handover"; head -5 "$tmp/fh.log" | sed 's/^/#   /'
        fi ;;
    spawnjmp)
        # a hang (the review's finding) is caught by the timeout
        for how in spawn popen popen-thread; do
            : >"$tmp/jmp.$how"
            TMO=60 run fix "spawnjmp $how" "$bin" spawnjmp $how "$tmp/jmp.$how"
        done ;;
    spawnmask)
        for m in off fix; do run $m spawnmask "$bin" spawnmask; done ;;
    handlerfork)
        : >"$tmp/hf"
        TMO=60 run fix handlerfork "$bin" handlerfork "$tmp/hf" 20000 ;;
    forkcancel)
        mkdir -p "$tmp/fc"
        run fix forkcancel "$bin" forkcancel "$tmp/fc" 4000 ;;
    forkstop)
        : >"$tmp/fs"
        run fix forkstop "$bin" forkstop "$tmp/fs" ;;
    logfd)
        for m in audit fix; do
            rm -f "$tmp/log.$m"
            run $m logfd env LOCKSCOPE_LOG="$tmp/log.$m" "$bin" logfd "$tmp/log.$m"
        done ;;
    offexec)
        : >"$tmp/off"
        run fix offexec "$bin" offexec "$tmp/off" ;;
    *) echo "run.sh: unknown check $c" >&2; exit 2 ;;
    esac
done
finish
