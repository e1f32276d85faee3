#!/bin/bash
# `make demo`: the seed's close-drops-lock bug, natively and under lockscope.
set -u
cd "$(dirname "$0")/.."
B=${BUILD:-build}
f=$(mktemp /tmp/lockscope-demo.XXXXXX)
trap 'rm -f "$f"' EXIT
echo "== natively: POSIX locks belong to the process; any close drops them"
"$B/examples/close_drops_lock" "$f"
echo
echo "== under lockscope (mode fix): the lock belongs to the descriptor it was taken through"
"$B/lockscope" -- "$B/examples/close_drops_lock" "$f"
echo
echo "== under lockscope --audit: native behaviour, hazard reported as JSON"
log=$(mktemp /tmp/lockscope-demo-log.XXXXXX)
"$B/lockscope" --audit --log="$log" -- "$B/examples/close_drops_lock" "$f"
cat "$log"
echo
echo "== lockscope report"
"$B/lockscope" report "$log"
rm -f "$log"
