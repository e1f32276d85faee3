# tests/lib.sh - what the shell test runners share: the result lines and
# the summary.  Source it (bash) from a runner, after `set -u`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
#
#   ok NAME                 "ok - NAME"; counts a pass
#   not_ok NAME [TEXT...]   "not ok - NAME", then every line of every TEXT
#                           as "#   LINE" (empty TEXTs print nothing);
#                           counts a failure
#   skipped NAME WHY...     "ok - NAME # SKIP WHY"; counts a pass and a skip
#   summary                 "N passed, N failed"
#   finish                  summary, then exit 0 if nothing failed, else 1
#
# The counters are $pass, $fail and $skip (a skip is also a pass).
# shellcheck shell=bash

pass=0
fail=0
skip=0

ok() { echo "ok - $*"; pass=$((pass + 1)); }

not_ok() {
    echo "not ok - $1"
    shift
    local text line
    for text in "$@"; do
        [ -n "$text" ] || continue
        while IFS= read -r line; do printf '#   %s\n' "$line"; done <<<"$text"
    done
    fail=$((fail + 1))
}

skipped() {
    local what=$1
    shift
    echo "ok - $what # SKIP $*"
    pass=$((pass + 1))
    skip=$((skip + 1))
}

summary() { echo "$pass passed, $fail failed"; }

finish() {
    summary
    [ "$fail" -eq 0 ]
    exit $?
}
