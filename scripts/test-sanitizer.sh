#!/bin/bash
# Build the library, the units and the scenarios with another compiler or a
# sanitizer, and run them: `make test-clang`, `make test-asan`, `make test-tsan`.
#   clang: every unit and scenario, built with clang -Wall -Wextra -Werror.
#   asan:  ASan+UBSan; the runtime goes first in LD_PRELOAD (it insists).
#   tsan:  TSan; units and the threaded scenarios.
set -u
cd "$(dirname "$0")/.."
kind=${1:?usage: test-sanitizer.sh clang|asan|tsan [LOGDIR]}
LOGDIR=${2:-$(mktemp -d /tmp/lockscope-san.XXXXXX)}
JOBS=${JOBS:-2}
b=build-$kind
log=$LOGDIR/$kind.log
t0=$SECONDS
case $kind in
    clang) args=(CC=clang); first=""; scen=() ;;
    asan)  args=(CC=gcc SAN=asan); first=$(gcc -print-file-name=libasan.so); scen=()
           export ASAN_OPTIONS=detect_leaks=0:abort_on_error=0:verify_asan_link_order=0
           export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ;;
    tsan)  args=(CC=gcc SAN=tsan); first=$(gcc -print-file-name=libtsan.so)
           scen=(rule2_threads rule3_thread_cycle rule3_self_deadlock rule1_close_other rule6_fork lifetime_many_waiters)
           export TSAN_OPTIONS=halt_on_error=1:report_signal_unsafe=0 ;;
    *) echo "unknown kind $kind" >&2; exit 2 ;;
esac
(
    make -s -j"$JOBS" BUILD="$b" "${args[@]}" lib scenarios units || exit 1
    rc=0
    for t in "$b"/unit/test_*; do
        timeout 600 "$t" || rc=1
    done
    # the shim's own logic runs in audit, fix and strict; the large-file twins
    # and native runs are covered by the main build
    SCEN_NO_LFS=1 SCEN_MODES="audit fix strict" SCEN_PRELOAD_FIRST=$first \
        timeout 900 tests/run-scenarios.sh "$b" "${scen[@]}" || rc=1
    exit $rc
) >"$log" 2>&1
rc=$?
summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
units_failed=$(grep -c '^\[  FAILED  \]' "$log")
if [ $rc = 0 ]; then
    echo "ok - $kind build: units and scenarios ($summary, $((SECONDS - t0)) s)"
else
    echo "not ok - $kind build ($summary; $units_failed unit suites failed; log $log)"
    grep -E '^not ok|FAILED|ERROR: |runtime error|WARNING: ThreadSanitizer' "$log" | head -20 | sed 's/^/#   /'
fi
exit $rc
