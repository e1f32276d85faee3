#!/usr/bin/env bash
# model-smoke.sh - model-based fuzzing of the real shim, short and
# deterministic (tests/fuzz/fuzz_shim_model.c: every operation predicted by
# a reference model, the kernel checked by a probe without the shim).
#
# usage: tests/stress/model-smoke.sh [BUILD_DIR] [N]
#
# Runs N (default 300) inputs from the driver's deterministic PRNG (seeds
# 1..N), plus the seed corpus tests/fuzz/corpus/shim_model/, in:
#   native   no shim: the model and the driver checked against the kernel
#            itself (if this fails, the oracle is wrong, not the shim)
#   fix      the default mode
#   strict   strict
#   audit    must be exactly native
#   storms   fix and native with half of the forks turned into storms
#            (threads fork/exec/posix_spawn/vfork a helper that checks what
#            it inherited while other threads lock; N/10 inputs)
# Nothing is masked: clone children (raw and glibc clone()), waits left by
# siglongjmp or ended by a close, unsynchronised forks, every F_GETLK pid
# checked against the model, in every run.  Every run checks after every
# input that the low fds are exactly those before it and that /proc/locks
# lists nothing on the test files.  Then, in fix and strict, the
# reproducers of bug 16 (repro/repro_clone_dead_holder.c: a dead clone()
# child named as a holder) and of a siglongjmp out of vfork's parent side
# (repro/repro_vfork_longjmp.c).
# Prints "ok - ..." / "not ok - ..." per run and "N passed, N failed".
# A failing input is saved in BUILD_DIR/stress/model-failures/; replay it
# with: LD_PRELOAD=BUILD_DIR/liblockscope.so BUILD_DIR/stress/fuzz_shim_model FILE
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "model-smoke: no build directory" >&2; exit 2; }
n=${2:-300}
lib=$build/liblockscope.so
out=$build/stress
mkdir -p "$out/model-failures"
drv=$out/fuzz_shim_model
corpus=$root/tests/fuzz/corpus/shim_model
pass=0; fail=0
t0=$SECONDS

if ! cc -O2 -g -std=gnu11 -Wall -Wextra -Wno-format-truncation -I"$root/tests/fuzz" \
        "$root/tests/fuzz/fuzz_shim_model.c" -o "$drv" 2>"$out/fuzz_shim_model.build.log"; then
    echo "not ok - model: build fuzz_shim_model (see $out/fuzz_shim_model.build.log)"
    echo "0 passed, 1 failed"
    exit 1
fi

# run LABEL ENV... : N random inputs, then the corpus
run() {
    local label=$1; shift
    local n=${RUN_N:-$n}
    local log=$out/model-$label.log hz=$out/model-$label.hazards
    rm -f "$hz"
    local t=$SECONDS rc
    env "$@" LOCKSCOPE_LOG="$hz" FUZZ_ARTIFACT_DIR="$out/model-failures" \
        timeout -k 5 600 "$drv" --random 1 "$n" >"$log" 2>&1
    rc=$?
    if [ $rc = 0 ] && [ -d "$corpus" ]; then
        env "$@" LOCKSCOPE_LOG="$hz" FUZZ_ARTIFACT_DIR="$out/model-failures" \
            timeout -k 5 300 "$drv" "$corpus"/* >>"$log" 2>&1
        rc=$?
    fi
    local summary
    summary=$(grep -E '^fuzz_shim_model: [0-9]+ inputs' "$log" | awk '{i+=$2; o+=$4} END {print i+0 " inputs, " o+0 " operations"}')
    if [ $rc = 0 ]; then
        echo "ok - model $label: $summary as the model predicts ($((SECONDS - t)) s)"
        pass=$((pass + 1))
    else
        local why
        why=$(grep -m1 -E 'MISMATCH \(|TIMEOUT' "$log" | sed 's/^fuzz_shim_model: //')
        [ $rc = 124 ] && why="timed out: $why"
        echo "not ok - model $label: ${why:-exit status $rc} (log: $log)"
        grep -m1 -A30 -E 'MISMATCH \(|TIMEOUT' "$log" | grep -vE 'failing input saved|input .* failed' | sed 's/^/#   /' | head -30
        grep -m1 -E 'failing input saved' "$log" | sed 's/^fuzz_shim_model: /#   /'
        fail=$((fail + 1))
    fi
}

# repro MODE NAME WHAT: a reproducer of repro/ (exit 0 when its bug is absent)
repro() {
    local mode=$1 r=$2 what=$3
    if ! cc -O2 -g -std=gnu11 -Wall -Wextra "$root/tests/stress/repro/$r.c" -o "$out/$r" 2>"$out/$r.build.log"; then
        echo "not ok - model repro $mode: build $r (see $out/$r.build.log)"; fail=$((fail + 1)); return
    fi
    local tmpd
    tmpd=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-repro.XXXXXX")
    if timeout -k 5 60 env LD_PRELOAD="$lib" LOCKSCOPE_MODE="$mode" LOCKSCOPE_LOG=/dev/null \
            "$out/$r" "$tmpd/f" >"$out/$r-$mode.log" 2>&1 </dev/null; then
        echo "ok - model repro $mode: $what"; pass=$((pass + 1))
    else
        echo "not ok - model repro $mode: $what: $(head -1 "$out/$r-$mode.log")"
        fail=$((fail + 1))
    fi
    rm -rf "$tmpd"
}

run native
if [ -f "$lib" ]; then
    pre="LD_PRELOAD=$lib"
    run fix "$pre" LOCKSCOPE_MODE=fix
    run strict "$pre" LOCKSCOPE_MODE=strict
    run audit "$pre" LOCKSCOPE_MODE=audit
    RUN_N=$(( (n + 9) / 10 )) run storms-native FSM_STORM_PCT=50
    RUN_N=$(( (n + 9) / 10 )) run storms-fix "$pre" LOCKSCOPE_MODE=fix FSM_STORM_PCT=50
    for m in fix strict; do
        repro $m repro_clone_dead_holder "F_GETLK does not name a dead clone() child (bug 16)"
        repro $m repro_vfork_longjmp "a siglongjmp out of vfork's parent side leaves the thread under the shim"
    done
else
    echo "not ok - model: $lib not built"
    fail=$((fail + 1))
fi
echo "# model-smoke: $((SECONDS - t0)) s"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
