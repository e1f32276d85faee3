#!/bin/sh
# registry-walk.sh BINDIR LIBRARY DIR
# Run by tests/stress/run.sh inside `unshare -m -p -f --mount-proc`: a pid
# namespace of its own (its own registry file: no other process of the user
# can be held up) and a private /dev/shm.  See stress_walkjump.c.
#   1. a handler that siglongjmps out of F_SETLKW (timer every 1-400 us)
#      while 4 other processes wait: the walk lock is never left held, and
#      a later wait is granted when its lock is freed;
#   2. a process holding the walk lock is stopped (SIGSTOP): a wait of
#      another process is still granted when its lock is freed (waits for
#      the walk lock are bounded; that wait goes without detection).
# Prints "ok - X" / "not ok - X"; exit 1 if any failed.
B=$1; L=$2; D=$3
mount -t tmpfs -o size=64m lockscope-shm /dev/shm || exit 3
F=$D/walk.lk
fail=0
run() { LD_PRELOAD=$L LOCKSCOPE_MODE=fix "$@"; }
"$B/stress_walkjump" hold "$F" 1 2 120 >"$D/h1" &
"$B/stress_walkjump" hold "$F" 0 120 0 >"$D/h0" &
while ! grep -q held "$D/h0" || ! grep -q held "$D/h1"; do sleep 0.1; done
for i in 1 2 3 4; do run "$B/stress_walkjump" wait "$F" 0 & done
run "$B/stress_walkjump" jumper "$F" 3000 || fail=1
timeout 20 env LD_PRELOAD=$L "$B/stress_walkjump" late "$F" 1 \
    "after the longjmps, a wait of another process is granted when its lock is freed"
r=$?
[ $r = 124 ] && echo "not ok - after the longjmps, a wait of another process is granted when its lock is freed (hung 20 s)"
[ $r = 0 ] || fail=1
# 2. a stopped walker
"$B/stress_walkjump" hold "$F" 2 3 120 >"$D/h2" &
while ! grep -q held "$D/h2"; do sleep 0.1; done
"$B/stress_walkjump" grab >"$D/g" &
g=$!
while ! grep -q 'grabbed\|no registry' "$D/g"; do sleep 0.1; done
if grep -q grabbed "$D/g"; then
    timeout 20 env LD_PRELOAD=$L LOCKSCOPE_DEBUG=1 "$B/stress_walkjump" late "$F" 2 \
        "the walk lock held by a stopped process: a wait of another process is still granted when its lock is freed" 2>"$D/late.err"
    r=$?
    [ $r = 124 ] && echo "not ok - the walk lock held by a stopped process: a wait of another process is still granted when its lock is freed (hung 20 s)"
    [ $r = 0 ] || fail=1
    if grep -q 'walk lock held by a live process' "$D/late.err"; then
        echo "ok - a debug line says that wait went without cross-process detection"
    else
        echo "not ok - a debug line says that wait went without cross-process detection"; fail=1
    fi
else
    echo "not ok - the registry exists for the stopped-walker check"; fail=1
fi
kill -KILL $g 2>/dev/null
exit $fail
