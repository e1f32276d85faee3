#!/bin/bash
# busy-machine.sh - run a command on a busy machine: a CPU load on every core
# and a process holding 1000 locks (POSIX, OFD and flock) on other files.
# The issue that asked for it: tests must pass whatever the rest of the machine
# does.  usage: scripts/busy-machine.sh COMMAND [ARGS...]   (e.g. make test)
set -u
cd "$(dirname "$0")/.."
dir=$(mktemp -d /tmp/lockscope-busy.XXXXXX)
cc -O2 -o "$dir/lock_holder" tests/busy/lock_holder.c || exit 2
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT INT TERM
"$dir/lock_holder" "$dir" "${BUSY_LOCKS:-1000}" >"$dir/holder.out" &
pids+=($!)
for _ in $(seq "$(nproc)"); do (while :; do :; done) & pids+=($!); done
for _ in $(seq 50); do grep -q holding "$dir/holder.out" 2>/dev/null && break; sleep 0.1; done
echo "# busy machine: $(cat "$dir/holder.out"), $(nproc) CPU burners"
"$@"
