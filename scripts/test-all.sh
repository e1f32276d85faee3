#!/bin/bash
# The one test command (`make test`): builds and runs everything CI checks.
#   units (cmocka), exported symbols, scenarios (native vs every mode, and the
#   large-file twins), the launcher, hazard records and report, real programs
#   (sqlite3, Python's sqlite3/fcntl and test suites, flock(1)), then the same
#   library built with clang, with ASan+UBSan and with TSan, and a fuzz smoke.
# Prints one line per suite and ends with "N passed, N failed".
set -u
cd "$(dirname "$0")/.."
JOBS=${JOBS:-2}
pass=0; fail=0; skip=0
failed_suites=()
LOGDIR=$(mktemp -d /tmp/lockscope-test.XXXXXX)

# Run a suite whose output ends with "N passed, N failed[, N skipped]"
# (or cmocka's summary); count its numbers.
suite() {
    local name=$1; shift
    local log="$LOGDIR/$name.log"
    local t0=$SECONDS
    "$@" >"$log" 2>&1
    local rc=$?
    local p f s
    p=$(grep -E '^[A-Za-z:]* *[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed -E 's/^[^0-9]*([0-9]+) passed.*/\1/')
    f=$(grep -E '^[A-Za-z:]* *[0-9]+ passed, [0-9]+ failed' "$log" | tail -1 | sed -E 's/.* ([0-9]+) failed.*/\1/')
    s=$(grep -E '^[A-Za-z:]* *[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped' "$log" | tail -1 | sed -E 's/.* ([0-9]+) skipped.*/\1/')
    if [ -z "$p" ]; then
        # cmocka: "[  PASSED  ] N test(s)." / "[  FAILED  ] N test(s)"
        p=$(grep -E '^\[  PASSED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
        f=$(grep -E '^\[  FAILED  \] [0-9]+ test' "$log" | awk '{s+=$4} END {print s+0}')
    fi
    p=${p:-0}; f=${f:-0}; s=${s:-0}
    if [ "$rc" != 0 ] && [ "$f" = 0 ]; then f=1; fi
    pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
    if [ "$f" != 0 ]; then
        failed_suites+=("$name")
        echo "not ok - $name ($p passed, $f failed, $((SECONDS - t0)) s) log: $log"
        grep -E '^not ok|FAILED|Error|error:' "$log" | head -20 | sed 's/^/#   /'
    else
        echo "ok - $name ($p passed, $s skipped, $((SECONDS - t0)) s)"
    fi
}

units() {
    local b=$1 rc=0
    for t in "$b"/unit/test_*; do
        [ -x "$t" ] || continue
        timeout 300 "$t" || rc=1
    done
    return $rc
}

exports() {
    # Only the interposed symbols may be exported.
    local allowed="open open64 openat openat64 creat creat64 __open_2 __open64_2 __openat_2
      __openat64_2 fopen fopen64 freopen freopen64 fdopen fclose closedir close close_range
      closefrom dup dup2 dup3 fcntl fcntl64 flock lockf lockf64 fork vfork _Fork posix_spawn popen
      posix_spawnp popen execve execv execvp execvpe execl execlp execle fexecve daemon"
    local n=0 bad=0
    for s in $(nm -D --defined-only "$1/liblockscope.so" | awk '{print $3}'); do
        n=$((n + 1))
        case " $(echo $allowed) " in *" $s "*) ;; *) echo "unexpected export: $s"; bad=$((bad + 1));; esac
    done
    for s in $allowed; do
        nm -D --defined-only "$1/liblockscope.so" | awk '{print $3}' | grep -qx "$s" ||
            { echo "missing export: $s"; bad=$((bad + 1)); }
    done
    echo "$((n - bad < 0 ? 0 : n - bad)) passed, $bad failed"
    [ "$bad" = 0 ]
}

install_check() {
    # `make install PREFIX=…` and the installed launcher finding its library
    local prefix out n=0 bad=0
    prefix=$(mktemp -d /tmp/lockscope-prefix.XXXXXX)
    make -s PREFIX="$prefix" install >/dev/null || { echo "make install failed"; echo "0 passed, 1 failed"; return 1; }
    for f in bin/lockscope lib/lockscope/liblockscope.so share/man/man1/lockscope.1; do
        n=$((n + 1)); [ -f "$prefix/$f" ] || { echo "missing $f"; bad=$((bad + 1)); }
    done
    n=$((n + 1))
    out=$("$prefix/bin/lockscope" -- sqlite3 :memory: 'select 1' 2>&1)
    [ "$out" = 1 ] || { echo "installed launcher: got '$out'"; bad=$((bad + 1)); }
    rm -rf "$prefix"
    echo "$((n - bad)) passed, $bad failed"
    [ "$bad" = 0 ]
}

build() {
    local b=$1; shift
    make -s -j"$JOBS" BUILD="$b" "$@" all units >"$LOGDIR/build-$b.log" 2>&1 ||
        { echo "not ok - build $b"; tail -30 "$LOGDIR/build-$b.log" | sed 's/^/#   /'; fail=$((fail + 1)); failed_suites+=("build-$b"); return 1; }
    echo "ok - build $b ($*)"
    pass=$((pass + 1))
}

echo "# lockscope: make test (logs in $LOGDIR)"
if build build; then
    suite units          units build
    suite exports        exports build
    suite scenarios      tests/run-scenarios.sh build
    suite launcher       tests/launcher/test-launcher.sh build
    suite ls             tests/ls/run.sh build
    suite install        install_check
    [ -x tests/hazards/check-records.sh ] && suite hazards tests/hazards/check-records.sh build
    [ -x tests/hazards/security.sh ] && suite security tests/hazards/security.sh build
    [ -x tests/real/run.sh ] && suite real-programs tests/real/run.sh build
    [ -x tests/stress/run.sh ] && suite stress tests/stress/run.sh build
    [ -x tests/lifecycle/run.sh ] && suite lifecycle tests/lifecycle/run.sh build
    [ -x tests/stress/cold-start.sh ] && suite cold-start tests/stress/cold-start.sh build
fi
scripts/test-sanitizer.sh clang "$LOGDIR" && pass=$((pass + 1)) || { fail=$((fail + 1)); failed_suites+=("clang"); }
scripts/test-sanitizer.sh asan "$LOGDIR" && pass=$((pass + 1)) || { fail=$((fail + 1)); failed_suites+=("asan"); }
scripts/test-sanitizer.sh tsan "$LOGDIR" && pass=$((pass + 1)) || { fail=$((fail + 1)); failed_suites+=("tsan"); }
suite fuzz-smoke scripts/fuzz.sh "${FUZZ_SMOKE_SECONDS:-10}"

echo "# total time ${SECONDS} s"
[ ${#failed_suites[@]} -gt 0 ] && echo "# failed: ${failed_suites[*]}"
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
