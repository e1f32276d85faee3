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

# The configuration through the real shim: random LOCKSCOPE_* values and
# config files, each run of a program preloaded with the library
# (tests/hazards/fuzz-shim-config.py says what every run must do).
if make -s BUILD="$out/shim" lib >"$out/shim.build.log" 2>&1 &&
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
