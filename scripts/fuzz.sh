#!/bin/bash
# Build every libFuzzer target in tests/fuzz/ and run each for SECONDS
# (`make fuzz` runs them longer; `make test` runs a short smoke).
# New inputs go to build-fuzz/corpus/NAME; the seed corpora stay untouched.
set -u
cd "$(dirname "$0")/.."
secs=${1:-60}
out=build-fuzz
mkdir -p "$out"
pass=0; fail=0
flags=(-std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Ishim -Iconfig -Icmd)
declare -A srcs=(
    [fuzz_config]="config/config.c"
    [fuzz_ranges]="shim/ranges.c"
    [fuzz_log]="shim/log.c cmd/report.c"
    [fuzz_report]="cmd/report.c shim/log.c"
)
for f in tests/fuzz/fuzz_*.c; do
    name=$(basename "$f" .c)
    extra=${srcs[$name]:-}
    # shellcheck disable=SC2086
    if ! clang "${flags[@]}" "$f" $extra -o "$out/$name" -lpthread 2>"$out/$name.build.log"; then
        echo "not ok - $name (build failed: $out/$name.build.log)"; fail=$((fail + 1)); continue
    fi
    work="$out/corpus/${name#fuzz_}"
    seeds="tests/fuzz/corpus/${name#fuzz_}"
    mkdir -p "$work" "$seeds"
    if ASAN_OPTIONS=detect_leaks=1 timeout $((secs + 60)) "$out/$name" -max_total_time="$secs" \
        -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$out/$name-" "$work" "$seeds" \
        >"$out/$name.log" 2>&1; then
        runs=$(grep -Eo 'Done [0-9]+ runs' "$out/$name.log" | tail -1)
        echo "ok - $name ($runs in ${secs}s)"; pass=$((pass + 1))
    else
        echo "not ok - $name (see $out/$name.log)"; tail -20 "$out/$name.log" | sed 's/^/#   /'
        fail=$((fail + 1))
    fi
done

# The model-based fuzzer through the real shim, standalone, for a count of
# operations (tests/fuzz/fuzz_shim_model.c: every answer predicted by the
# model, the kernel checked by a probe, clone children, fork/exec/spawn
# storms, fd and lock leaks checked after every input).  `make fuzz` runs
# FUZZ_MODEL_OPS (default 10^6) operations in all, split over fix, strict
# and audit, plus FUZZ_MODEL_ASAN_OPS (default 20000) against an ASan+UBSan
# build of the shim; the smoke (SECONDS < 60) runs 1000 per second, no ASan.
if [ "$secs" -ge 60 ]; then model_ops=${FUZZ_MODEL_OPS:-1000000}; asan_ops=${FUZZ_MODEL_ASAN_OPS:-20000}
else model_ops=${FUZZ_MODEL_OPS:-$((secs * 1000))}; asan_ops=${FUZZ_MODEL_ASAN_OPS:-0}; fi
model_total=0
model_run() {   # LABEL OPS SEED ENV...
    local label=$1 n=$2 seed=$3; shift 3
    local log="$out/model-$label.log"
    if env "$@" LOCKSCOPE_LOG=/dev/null FUZZ_ARTIFACT_DIR="$out" "$out/fuzz_shim_model_drv" --ops "$seed" "$n" >"$log" 2>&1; then
        local line ops
        line=$(grep -E '^fuzz_shim_model: [0-9]+ inputs' "$log" | tail -1)
        ops=$(echo "$line" | awk '{print $4}')
        model_total=$((model_total + ${ops:-0}))
        echo "ok - model fuzzer $label: ${line#fuzz_shim_model: }"; pass=$((pass + 1))
    else
        echo "not ok - model fuzzer $label (see $log)"
        grep -m1 -A30 -E 'MISMATCH \(|TIMEOUT' "$log" | sed 's/^/#   /' | head -40
        fail=$((fail + 1))
    fi
}
if make -s BUILD="$out/shim" lib >"$out/shim.build.log" 2>&1 &&
   cc -O2 -g -std=gnu11 -I tests/fuzz tests/fuzz/fuzz_shim_model.c -o "$out/fuzz_shim_model_drv" -lpthread \
        >>"$out/shim.build.log" 2>&1; then
    lib=$PWD/$out/shim/liblockscope.so
    model_run fix $((model_ops / 2)) 1 LD_PRELOAD="$lib" LOCKSCOPE_MODE=fix
    model_run strict $((model_ops / 4)) 1000001 LD_PRELOAD="$lib" LOCKSCOPE_MODE=strict
    model_run audit $((model_ops - model_ops / 2 - model_ops / 4)) 2000001 LD_PRELOAD="$lib" LOCKSCOPE_MODE=audit
    if [ "$asan_ops" -gt 0 ]; then
        if make -s BUILD="$out/shim-asan" CC=gcc SAN=asan lib >"$out/shim-asan.build.log" 2>&1; then
            model_run fix-asan "$asan_ops" 3000001 ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:verify_asan_link_order=0 \
                LD_PRELOAD="$(gcc -print-file-name=libasan.so) $PWD/$out/shim-asan/liblockscope.so" LOCKSCOPE_MODE=fix
        else
            echo "not ok - model fuzzer fix-asan (build failed: $out/shim-asan.build.log)"; fail=$((fail + 1))
        fi
    fi
    echo "# model fuzzer: $model_total operations in all (wanted $model_ops)"
else
    echo "not ok - model fuzzer (build failed: $out/shim.build.log)"; fail=$((fail + 1))
fi

# The configuration through the real shim: random LOCKSCOPE_* values and
# config files, each run of a program preloaded with the library
# (tests/hazards/fuzz-shim-config.py says what every run must do).
if [ -f "$out/shim/liblockscope.so" ] &&
   cc -std=c11 -D_GNU_SOURCE -O2 -pthread tests/hazards/sec_target.c -o "$out/sec_target" 2>>"$out/shim.build.log"; then
    chmod 755 "$out/sec_target" "$out/shim/liblockscope.so"
    if python3 tests/hazards/fuzz-shim-config.py "$PWD/$out/shim/liblockscope.so" "$PWD/$out/sec_target" "$secs" \
        >"$out/shim_config.log" 2>&1; then
        pass=$((pass + 1))
    else
        fail=$((fail + 1))
    fi
    cat "$out/shim_config.log"
else
    echo "not ok - config through the shim (build failed: $out/shim.build.log)"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
