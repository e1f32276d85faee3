#!/usr/bin/env bash
# run.sh - reliability tests of the shim: stress, faults, hostile input,
# model-based fuzzing.  See tests/stress/README for what each check means
# and for the shim bugs the failing ones reveal (with reproducers in
# tests/stress/repro/).
#
# usage: tests/stress/run.sh [BUILD_DIR]        (default: build)
#
# Builds the programs of tests/stress/ into BUILD_DIR/stress/ and runs them
# under BUILD_DIR/liblockscope.so.  Prints "ok - X" / "not ok - X" lines
# ("# ..." comments explain failures and skips) and ends with exactly
# "N passed, N failed" (a skipped check counts as passed and says SKIP);
# exit status 1 if any failed.  Budget: under 90 s on 2 cores.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-$root/build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "run.sh: no build directory '$build'" >&2; exit 2; }
lib=$build/liblockscope.so
bin=$build/stress
mkdir -p "$bin"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-stress.XXXXXX")
chmod 755 "$tmp"
. "$here/../lib.sh"   # ok, not_ok, skipped; $pass $fail $skip
t_start=$SECONDS

cleanup() {
    # mounts live in private namespaces (unshare -m): nothing to unmount here
    rm -rf "$tmp" 2>/dev/null
}
trap cleanup EXIT


[ -f "$lib" ] || { not_ok "the library $lib exists (run make first)"; echo "$pass passed, $fail failed"; exit 1; }

# ---- build --------------------------------------------------------------
progs="stress_counter stress_signals stress_sigpath stress_forkexec stress_fds stress_churn stress_faults hostile_target"
built=1
for p in $progs; do
    if ! cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -I"$here" "$here/$p.c" -o "$bin/$p" -ldl \
            2>"$bin/$p.build.log"; then
        not_ok "build $p (see $bin/$p.build.log)"
        built=0
    fi
done
# the registry's reader (shim/registry.c) links into stress_registry
if ! cc -O2 -g -std=gnu11 -Wall -Wextra "$here/stress_regspace.c" -o "$bin/stress_regspace" \
        2>"$bin/stress_regspace.build.log"; then
    not_ok "build stress_regspace (see $bin/stress_regspace.build.log)"
    built=0
fi
if ! cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -I"$here" "$here/stress_walkjump.c" "$here/../../shim/registry.c" \
        -o "$bin/stress_walkjump" 2>"$bin/stress_walkjump.build.log"; then
    not_ok "build stress_walkjump (see $bin/stress_walkjump.build.log)"
    built=0
fi
if ! cc -O2 -g -std=gnu11 -Wall -Wextra -pthread -I"$here" "$here/stress_registry.c" "$here/../../shim/registry.c" \
        -o "$bin/stress_registry" 2>"$bin/stress_registry.build.log"; then
    not_ok "build stress_registry (see $bin/stress_registry.build.log)"
    built=0
fi
for p in repro_exec_chain_lost repro_child_inherited_getlk_pid repro_child_inherited_strict_eagain \
         repro_close_race_lock; do
    if ! cc -O2 -g -std=gnu11 -Wall -Wextra -pthread "$here/repro/$p.c" -o "$bin/$p" 2>"$bin/$p.build.log"; then
        not_ok "build $p (see $bin/$p.build.log)"
        built=0
    fi
done
[ $built = 1 ] || { echo "$pass passed, $fail failed"; exit 1; }

# ---- running a program ----------------------------------------------------
# shimrun MODE LABEL TIMEOUT PROG ARGS...: run under the shim in MODE; its
# "ok - X" / "not ok - X" lines become "ok - LABEL: X".
shimrun() {
    local mode=$1 label=$2 to=$3; shift 3
    local slug=${label//[^A-Za-z0-9]/_}
    local out=$tmp/$slug.out
    timeout -k 5 "$to" env LD_PRELOAD="$lib" LOCKSCOPE_MODE="$mode" LOCKSCOPE_LOG="$tmp/$slug.hazards" \
        LOCKSCOPE_FORMAT=json "$@" >"$out" 2>"$out.err" </dev/null
    collect "$label" $? "$out" "$to"
    echo "$mode $tmp/$slug.hazards" >>"$tmp/hazard-logs"
}

# collect LABEL STATUS OUTFILE TIMEOUT
collect() {
    local label=$1 rc=$2 out=$3 to=$4 n=0 bad=0 line
    while IFS= read -r line; do
        case $line in
            "ok - "*) echo "ok - $label: ${line#ok - }"; pass=$((pass + 1)); n=$((n + 1))
                      case $line in *"# SKIP"*) skip=$((skip + 1));; esac ;;
            "not ok - "*) echo "not ok - $label: ${line#not ok - }"; fail=$((fail + 1)); n=$((n + 1)); bad=1 ;;
        esac
    done < "$out"
    if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
        not_ok "$label: finished within ${to} s (killed: hang?)"
        bad=1
    elif [ "$rc" -gt 128 ]; then
        not_ok "$label: exited normally (killed by signal $((rc - 128)): crash?)"
        bad=1
    elif [ "$n" = 0 ]; then
        not_ok "$label: ran (exit status $rc, no check reported)"
        bad=1
    elif [ "$rc" != 0 ] && [ "$bad" = 0 ]; then
        not_ok "$label: exit status 0 (got $rc)"
        bad=1
    fi
    if [ "$bad" = 1 ]; then
        grep -E '^# (FAIL|SKIP)' "$out" | head -12 | sed 's/^#/#  /'
        [ -s "$out.err" ] && grep -v '^lockscope\[' "$out.err" | head -5 | sed 's/^/#   stderr: /'
    else
        grep -E '^# SKIP' "$out" | sed 's/^#/#  /'
    fi
    grep -E '^# ' "$out" | grep -vE '^# (FAIL|SKIP)' | head -3 | sed "s/^# /#   $label: /"
}

can_unshare=0
if [ "$(id -u)" = 0 ] && unshare -m true 2>/dev/null; then can_unshare=1; fi

# ---- 1. stress ----------------------------------------------------------------
echo "# [$((SECONDS - t_start)) s] stress: threads, processes, exec chain, SCM_RIGHTS"
mkdir -p "$tmp/counter-fix" "$tmp/counter-strict"
shimrun fix    "stress fix: counters"    50 "$bin/stress_counter" "$tmp/counter-fix" 10
shimrun strict "stress strict: counters" 50 "$bin/stress_counter" "$tmp/counter-strict" 5
mkdir -p "$tmp/execlost"
shimrun fix    "exec chain fix"          30 "$bin/repro_exec_chain_lost" "$tmp/execlost" 5
# reprorun MODE LABEL PROG ARGS...: a reproducer of tests/stress/repro/ that
# exits 0 when its bug is absent
reprorun() {
    local mode=$1 label=$2; shift 2
    local slug=${label//[^A-Za-z0-9]/_}
    timeout -k 5 30 env LD_PRELOAD="$lib" LOCKSCOPE_MODE="$mode" LOCKSCOPE_LOG="$tmp/$slug.hazards" \
        LOCKSCOPE_FORMAT=json "$@" >"$tmp/$slug.out" 2>&1 </dev/null
    local rc=$?
    if [ $rc = 0 ]; then ok "$label"; else not_ok "$label (exit $rc)"; sed 's/^/#   /' "$tmp/$slug.out" | head -3; fi
    echo "$mode $tmp/$slug.hazards" >>"$tmp/hazard-logs"
}
reprorun fix    "forked child: F_GETLK names the child for its own lock (bug 14)" \
    "$bin/repro_child_inherited_getlk_pid" "$tmp/bug14"
reprorun strict "forked child: strict ENOLCK (not EAGAIN) converting its own lock (bug 14b)" \
    "$bin/repro_child_inherited_strict_eagain" "$tmp/bug14b"
mkdir -p "$tmp/closerace-fix" "$tmp/closerace-strict"
reprorun fix    "a close racing another thread's first lock through the fd leaves no lock (fix)" \
    "$bin/repro_close_race_lock" "$tmp/closerace-fix" 20000
reprorun strict "a close racing another thread's first lock through the fd leaves no lock (strict)" \
    "$bin/repro_close_race_lock" "$tmp/closerace-strict" 20000

echo "# [$((SECONDS - t_start)) s] stress: signals (SIGALRM every 1 ms, handler closes and locks)"
mkdir -p "$tmp/sig-fix" "$tmp/sig-strict"
shimrun fix    "signals fix"    40 "$bin/stress_signals" "$tmp/sig-fix" 3000
shimrun strict "signals strict" 40 "$bin/stress_signals" "$tmp/sig-strict" 2000
mkdir -p "$tmp/sigpath-fix" "$tmp/sigpath-strict"
shimrun fix    "signal path fix"    40 "$bin/stress_sigpath" "$tmp/sigpath-fix" 3000
shimrun strict "signal path strict" 40 "$bin/stress_sigpath" "$tmp/sigpath-strict" 3000
mkdir -p "$tmp/storm"
shimrun fix    "signal path storm" 40 "$bin/stress_sigpath" "$tmp/storm" 1500 storm

echo "# [$((SECONDS - t_start)) s] stress: fork from a multi-threaded program, 200 times"
mkdir -p "$tmp/fe-fix" "$tmp/fe-strict" "$tmp/fe-audit"
shimrun fix    "fork+exec fix"    60 "$bin/stress_forkexec" "$tmp/fe-fix" 200
shimrun strict "fork+exec strict" 60 "$bin/stress_forkexec" "$tmp/fe-strict" 200
shimrun audit  "fork+exec audit"  60 "$bin/stress_forkexec" "$tmp/fe-audit" 100 native

echo "# [$((SECONDS - t_start)) s] stress: close_range/closefrom, dup2 over the shim's fd area"
mkdir -p "$tmp/fds-fix" "$tmp/fds-strict"
shimrun fix    "fds fix"    60 "$bin/stress_fds" "$tmp/fds-fix"
shimrun strict "fds strict" 60 "$bin/stress_fds" "$tmp/fds-strict"

echo "# [$((SECONDS - t_start)) s] stress: fd churn (dup, dup2, dup3, F_DUPFD, close, open) around a held lock"
mkdir -p "$tmp/churn-fix" "$tmp/churn-strict"
shimrun fix    "churn fix"    40 "$bin/stress_churn" "$tmp/churn-fix" 2000
shimrun strict "churn strict" 40 "$bin/stress_churn" "$tmp/churn-strict" 1000

# ---- 2. faults ------------------------------------------------------------------
echo "# [$((SECONDS - t_start)) s] faults"
mkdir -p "$tmp/faults"
shimrun fix    "fault EMFILE fix"    30 "$bin/stress_faults" emfile "$tmp/faults"
shimrun strict "fault EMFILE strict" 30 "$bin/stress_faults" emfile "$tmp/faults"
shimrun fix    "fault plain file (control)" 30 "$bin/stress_faults" plain "$tmp/faults"
shimrun fix    "fault deleted file" 30 "$bin/stress_faults" deleted "$tmp/faults"
shimrun strict "fault deleted file strict" 30 "$bin/stress_faults" deleted "$tmp/faults"
shimrun fix    "fault memfd" 30 "$bin/stress_faults" memfd
if [ -d /dev/shm ] && [ "$(stat -f -c %T /dev/shm 2>/dev/null)" = tmpfs ]; then
    shm=$(mktemp -d /dev/shm/lockscope-stress.XXXXXX)
    shimrun fix "fault tmpfs file" 30 "$bin/stress_faults" tmpfs "$shm"
    rm -rf "$shm"
elif [ $can_unshare = 1 ]; then
    mkdir -p "$tmp/tmpfs"
    shimrun fix "fault tmpfs file" 30 unshare -m sh -c 'mount -t tmpfs -o size=1m lockscope "$1" && exec "$2" tmpfs "$1"' sh "$tmp/tmpfs" "$bin/stress_faults"
else
    skipped "fault tmpfs file" "no tmpfs at /dev/shm and no unshare -m"
fi

# /proc not mounted: the shim's run must equal the native run
if [ $can_unshare = 1 ]; then
    mkdir -p "$tmp/noproc"
    noproc() {   # noproc OUT [LD_PRELOAD]
        timeout -k 5 30 unshare -m sh -c 'mount -t tmpfs -o size=1m lockscope-noproc /proc || exit 3
            if [ -n "$3" ]; then exec env LD_PRELOAD="$3" LOCKSCOPE_LOG=stderr "$1" noproc "$2"; fi
            exec "$1" noproc "$2"' sh "$bin/stress_faults" "$tmp/noproc" "${2:-}" >"$1" 2>"$1.err"
    }
    noproc "$tmp/noproc.native"; rc1=$?
    noproc "$tmp/noproc.shim" "$lib"; rc2=$?
    if [ $rc1 = 3 ]; then
        skipped "fault /proc not mounted: native semantics, no crash" "cannot mount a tmpfs over /proc here"
    elif [ $rc2 = 0 ] && grep -q '^proc=0' "$tmp/noproc.shim" && grep -q '^done' "$tmp/noproc.shim" &&
         cmp -s "$tmp/noproc.native" "$tmp/noproc.shim"; then
        ok "fault /proc not mounted: the shim runs, falls back to native semantics (same answers as a native run)"
    else
        not_ok "fault /proc not mounted: the shim runs, falls back to native semantics (same answers as a native run)"
        diff "$tmp/noproc.native" "$tmp/noproc.shim" | head -10 | sed 's/^/#   /'
        head -3 "$tmp/noproc.shim.err" | sed 's/^/#   stderr: /'
        echo "#   exit status $rc2"
    fi
else
    skipped "fault /proc not mounted: native semantics, no crash" "needs root and unshare -m to hide /proc"
fi

# read-only file systems: a remounted tmpfs and a read-only bind mount
if [ $can_unshare = 1 ]; then
    mkdir -p "$tmp/ro-tmpfs" "$tmp/ro-bind" "$tmp/ro-bind.src"
    echo data >"$tmp/ro-bind.src/ro"
    shimrun fix "fault read-only tmpfs" 30 unshare -m sh -c '
        mount -t tmpfs -o size=1m lockscope-ro "$1" && echo data >"$1/ro" && mount -o remount,ro "$1" || exit 3
        exec "$2" rofs "$1"' sh "$tmp/ro-tmpfs" "$bin/stress_faults"
    shimrun fix "fault read-only bind mount" 30 unshare -m sh -c '
        mount --bind "$1.src" "$1" && mount -o remount,bind,ro "$1" || exit 3
        exec "$2" rofs "$1"' sh "$tmp/ro-bind" "$bin/stress_faults"
else
    skipped "fault read-only file system" "needs root and unshare -m for a read-only mount"
fi

# what a process publishes in the registry
mkdir -p "$tmp/registry"
shimrun fix "registry records" 30 "$bin/stress_registry" "$tmp/registry"

# the cross-process waiter registry (/dev/shm, else /tmp) damaged
if [ $can_unshare = 1 ]; then
    for c in none garbage-shm garbage-both symlink fifo valid-magic-garbage squat squat-symlink; do
        out=$tmp/registry-$c.out
        timeout -k 5 45 unshare -m sh "$here/registry-setup.sh" "$c" "$bin/stress_faults" "$lib" >"$out" 2>"$out.err" </dev/null
        collect "fault waiter registry $c" $? "$out" 45
    done
else
    skipped "fault waiter registry damaged" "needs root and unshare -m for a private /dev/shm and /tmp"
fi

# the registry's file system nearly full (/dev/shm: Docker's default is 64 MiB, shared)
if [ $can_unshare = 1 ] && unshare -m -p -f --mount-proc true 2>/dev/null; then
    for c in full region; do
        out=$tmp/regspace-$c.out
        mkdir -p "$tmp/regspace-$c"
        timeout -k 5 45 unshare -m -p -f --mount-proc sh "$here/registry-space.sh" "$c" "$bin" "$lib" "$tmp/regspace-$c" \
            >"$out" 2>"$out.err" </dev/null
        collect "registry file system full ($c)" $? "$out" 45
    done
else
    skipped "registry file system full" "needs root and unshare -m -p for a private /dev/shm and registry"
fi

# the registry's walk lock: never left held by a live process (a longjmp out
# of F_SETLKW, a stopped walker), in a pid namespace of its own
if [ $can_unshare = 1 ] && unshare -m -p -f --mount-proc true 2>/dev/null; then
    mkdir -p "$tmp/regwalk"
    out=$tmp/regwalk.out
    timeout -k 5 60 unshare -m -p -f --mount-proc sh "$here/registry-walk.sh" "$bin" "$lib" "$tmp/regwalk" \
        >"$out" 2>"$out.err" </dev/null
    collect "registry walk lock" $? "$out" 60
else
    skipped "registry walk lock" "needs root and unshare -m -p for a registry of its own"
fi

# ---- 3. hostile input ------------------------------------------------------------
echo "# [$((SECONDS - t_start)) s] hostile input"
target=$bin/hostile_target
hfile=$tmp/hostile.lk
: >"$hfile"
# hrun LABEL WANT_SCOPE WANT_ERR_PATTERN ENV... -- ARGS: run the target under
# the shim (the timeout itself runs without it); check exit 0, "done", the
# scope, and the stderr: no line at all, or exactly one configuration error
# line matching WANT_ERR_PATTERN, short.
hrun() {
    local label=$1 want=$2 pat=$3; shift 3
    local envs=()
    while [ $# -gt 0 ] && [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    local out=$tmp/h.out err=$tmp/h.err t=$SECONDS
    timeout -k 5 20 env LD_PRELOAD="$lib" "${envs[@]}" "$target" "$@" >"$out" 2>"$err" </dev/null
    local rc=$?
    local nerr longest
    nerr=$(grep -c 'configuration error' "$err")
    longest=$(awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }' "$err")
    local why=""
    [ $rc = 0 ] || why="exit status $rc"
    grep -q '^done' "$out" || why="${why:+$why, }did not finish"
    [ -z "$want" ] || grep -q "^scope=$want" "$out" || why="${why:+$why, }scope $(grep -m1 '^scope=' "$out" | cut -d= -f2) (want $want)"
    if [ -z "$pat" ]; then
        [ "$nerr" = 0 ] || why="${why:+$why, }$nerr configuration error line(s)"
    else
        [ "$nerr" = 1 ] || why="${why:+$why, }$nerr configuration error lines (want exactly 1)"
        grep 'configuration error' "$err" | grep -q -- "$pat" || why="${why:+$why, }error line does not name $pat"
    fi
    [ "$longest" -le 1024 ] || why="${why:+$why, }a stderr line of $longest bytes"
    [ $((SECONDS - t)) -le 10 ] || why="${why:+$why, }took $((SECONDS - t)) s"
    if [ -z "$why" ]; then ok "hostile: $label"; else not_ok "hostile: $label ($why)"; head -c 300 "$err" | head -2 | sed 's/^/#   stderr: /'; fi
}
X=$target
hrun "LOCKSCOPE_MODE of 131 000 bytes (the most execve passes): one error line, inert" process LOCKSCOPE_MODE -- \
    execenv 1 131000 x LOCKSCOPE_MODE "$X" scope "$hfile"
hrun "LOCKSCOPE_MODE of 4 KB binary: one error line, inert" process LOCKSCOPE_MODE -- \
    execenv 1 4096 bin LOCKSCOPE_MODE "$X" scope "$hfile"
hrun "12 x 120 KB LOCKSCOPE_OPEN_LOCK (1.4 MB of environment): one error line, inert" process LOCKSCOPE_OPEN_LOCK -- \
    execenv 12 120000 x LOCKSCOPE_OPEN_LOCK "$X" scope "$hfile"
hrun "12 x 120 KB binary LOCKSCOPE_OPEN_LOCK: one error line, inert" process LOCKSCOPE_OPEN_LOCK -- \
    execenv 12 120000 bin LOCKSCOPE_OPEN_LOCK "$X" scope "$hfile"
rules=$(for i in $(seq 1 1000); do printf '*.nomatch%d=shared;' "$i"; done)
hrun "LOCKSCOPE_OPEN_LOCK with 1000 valid rules: accepted, fix" descriptor "" LOCKSCOPE_OPEN_LOCK="$rules" -- scope "$hfile"
hrun "LOCKSCOPE_SCOPE binary junk: one error line, inert" process LOCKSCOPE_SCOPE -- \
    execenv 1 2000 bin LOCKSCOPE_SCOPE "$X" scope "$hfile"
# strict with a bad value: the constructor ends the program with 127
timeout -k 5 20 env LD_PRELOAD="$lib" LOCKSCOPE_MODE=strict LOCKSCOPE_OPEN_LOCK=$'\x01\x02=\x7f' "$target" scope "$hfile" >"$tmp/h.out" 2>"$tmp/h.err"
rc=$?
if [ $rc = 127 ] && ! grep -q done "$tmp/h.out" && [ "$(grep -c 'configuration error' "$tmp/h.err")" = 1 ]; then
    ok "hostile: strict with a binary LOCKSCOPE_OPEN_LOCK: one error line, exit 127 before main"
else
    not_ok "hostile: strict with a binary LOCKSCOPE_OPEN_LOCK: one error line, exit 127 before main (status $rc)"
fi
# 1 MB values cannot pass execve (128 KiB per string): set in-process, then dlopen
timeout -k 5 20 "$target" dlopen "$lib" LOCKSCOPE_MODE 1048576 x >"$tmp/h.out" 2>"$tmp/h.err"
rc=$?
if [ $rc = 0 ] && grep -q '^done' "$tmp/h.out"; then
    ok "hostile: dlopen() of the library with a 1 MB LOCKSCOPE_MODE set: no crash"
else
    not_ok "hostile: dlopen() of the library with a 1 MB LOCKSCOPE_MODE set: no crash (status $rc$([ $rc -gt 128 ] && echo ", signal $((rc - 128))"))"
fi

# config files
cf=$tmp/conf; mkdir -p "$cf"
python3 - "$cf" <<'EOF' 2>/dev/null || { head -c 65536 /dev/urandom >"$cf/binary"; }
import random, sys
d = sys.argv[1]
random.seed(20261123)
open(d + "/binary", "wb").write(bytes(random.randrange(256) for _ in range(65536)))
EOF
awk 'BEGIN { for (i = 0; i < 300000; i++) print "# a comment line of a huge file, number " i }' >"$cf/huge"
printf 'mode = fix\n%s\n' "open_lock = $(head -c 70000 /dev/zero | tr '\0' a)=shared" >"$cf/longline"
printf 'mode = stri' >"$cf/truncated-value"
printf '[path "*.db' >"$cf/truncated-section"
printf 'mode = fix\nopen_lock = *.x=excl' >"$cf/truncated-rule"
printf 'mode = fix\0mode = strict\nopen_lock = *.x=exclusive\n' >"$cf/nul"
mkfifo "$cf/fifo"
ln -s loop-b "$cf/loop-a"; ln -s loop-a "$cf/loop-b"
for c in binary huge longline truncated-value truncated-section truncated-rule nul fifo loop-a /dev/zero "$cf" "$cf/missing"; do
    case $c in /*) p=$c ;; *) p=$cf/$c ;; esac
    name=${c#$tmp/}
    hrun "LOCKSCOPE_CONFIG=$name: one error line naming it, inert, no hang" process "$(basename "$p")" \
        LOCKSCOPE_CONFIG="$p" -- scope "$hfile"
done

# open-and-lock rules and symlinks
sd=$tmp/sym; mkdir -p "$sd/real"; ln -s real "$sd/link"; : >"$sd/real/existing.lk"
ln -s "$sd/real/existing.lk" "$sd/elsewhere.txt"; ln -s loop.lk "$sd/real/loop.lk"; ln -s target.lk "$sd/real/dangling.lk"
# orun LABEL PATTERN PATH WANT: WANT is the target's "open=... probe=... second=..." line
orun() {
    local label=$1 pat=$2 path=$3 want=$4 got
    got=$(timeout -k 5 20 env LD_PRELOAD="$lib" LOCKSCOPE_OPEN_LOCK="$pat" "$target" open "$path" 2>/dev/null | head -1)
    if [ "$got" = "$want" ]; then ok "hostile: open-lock and symlinks: $label"
    else not_ok "hostile: open-lock and symlinks: $label (got '$got', want '$want')"; fi
}
orun "rule names a symlinked dir, open through it: locked" "$sd/link/*.lk=exclusive" "$sd/link/a.lk" "open=0 probe=W second=EAGAIN"
orun "rule names the real dir, existing file opened through a symlinked dir: locked" "$sd/real/*.lk=exclusive" "$sd/link/existing.lk" "open=0 probe=W second=EAGAIN"
orun "rule names the real dir, file opened through a symlink elsewhere: locked" "$sd/real/*.lk=exclusive" "$sd/elsewhere.txt" "open=0 probe=W second=EAGAIN"
orun "rule names the real dir, file CREATED through a symlinked dir: locked (a symlink cannot dodge a rule)" "$sd/real/*.lk=exclusive" "$sd/link/created.lk" "open=0 probe=W second=EAGAIN"
orun "a symlink loop matching a rule: ELOOP as natively, no hang" "$sd/real/*.lk=exclusive" "$sd/real/loop.lk" "open=ELOOP probe=- second=-"
orun "a dangling symlink matching a rule, O_CREAT: creates and locks" "$sd/real/*.lk=exclusive" "$sd/real/dangling.lk" "open=0 probe=W second=EAGAIN"

# setuid: LOCKSCOPE_ variables ignored, no log file created
suid_label="setuid program: LOCKSCOPE_* ignored (fix mode, no log file, no debug, no config)"
if [ "$(id -u)" != 0 ]; then
    skipped "hostile: $suid_label" "needs root to make a setuid-root binary"
elif ! command -v setpriv >/dev/null 2>&1; then
    skipped "hostile: $suid_label" "setpriv(1) not installed"
elif findmnt -n -o OPTIONS -T "$tmp" 2>/dev/null | grep -qw nosuid; then
    skipped "hostile: $suid_label" "$tmp is on a nosuid mount"
else
    sd=$tmp/suid; mkdir -p "$sd/lib" "$sd/log"; chmod 755 "$sd" "$sd/lib"; chmod 777 "$sd/log"
    cp "$lib" "$sd/lib/liblockscope.so"; chmod 755 "$sd/lib/liblockscope.so"
    # ld.so ignores LD_PRELOAD paths in setuid programs: link the library in
    # (absolute RUNPATH, honoured in secure mode), ahead of libc
    if cc -O2 -pthread -I"$here" "$here/hostile_target.c" -o "$sd/target" -Wl,--no-as-needed \
          -L"$sd/lib" -llockscope -Wl,-rpath,"$sd/lib" -ldl 2>"$sd/build.log"; then
        cp "$sd/target" "$sd/target-plain"
        chown root:root "$sd/target"; chmod 4755 "$sd/target"
        : >"$sd/f"; chmod 666 "$sd/f"
        printf 'mode = bogus\n' >"$sd/bad.conf"; chmod 644 "$sd/bad.conf"
        as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups env -i PATH=/usr/bin:/bin HOME="$sd" "$@"; }
        as_nobody LOCKSCOPE_MODE=off LOCKSCOPE_LOG="$sd/log/suid.json" LOCKSCOPE_DEBUG=1 LOCKSCOPE_CONFIG="$sd/bad.conf" \
            "$sd/target" scope "$sd/f" >"$sd/out" 2>"$sd/err"
        rc=$?
        as_nobody LOCKSCOPE_MODE=off "$sd/target-plain" scope "$sd/f" >"$sd/out-plain" 2>/dev/null
        as_nobody LOCKSCOPE_LOG="$sd/log/plain.json" "$sd/target-plain" scope "$sd/f" >/dev/null 2>&1
        if ! grep -q '^secure=1' "$sd/out"; then
            skipped "hostile: $suid_label" "the setuid copy did not run in secure mode (AT_SECURE 0)"
        elif ! grep -q '^scope=process' "$sd/out-plain" || [ ! -e "$sd/log/plain.json" ]; then
            not_ok "hostile: $suid_label (control: without setuid the variables are not honoured?)"
        elif [ $rc = 0 ] && grep -q '^scope=descriptor' "$sd/out" && [ ! -e "$sd/log/suid.json" ] &&
             ! grep -qE 'configuration error|^lockscope: mode' "$sd/err"; then
            ok "hostile: $suid_label"
        else
            not_ok "hostile: $suid_label"
            cat "$sd/out" "$sd/err" | head -5 | sed 's/^/#   /'
            ls "$sd/log" | sed 's/^/#   log dir: /'
        fi
    else
        skipped "hostile: $suid_label" "cannot link a test program against the library"
    fi
fi

# ---- 4. model-based fuzzing -----------------------------------------------------
echo "# [$((SECONDS - t_start)) s] model-based fuzzing (tests/stress/model-smoke.sh)"
"$here/model-smoke.sh" "$build" 300 >"$tmp/model.out" 2>&1
while IFS= read -r line; do
    case $line in
        "ok - "*) echo "$line"; pass=$((pass + 1)) ;;
        "not ok - "*) echo "$line"; fail=$((fail + 1)) ;;
        "#   "*) echo "$line" ;;
    esac
done <"$tmp/model.out"
grep -qE '^(not )?ok - ' "$tmp/model.out" || not_ok "model-smoke.sh ran"

# ---- the hazard logs: every record one JSON object of its run's mode -------------
if command -v python3 >/dev/null 2>&1 && [ -f "$tmp/hazard-logs" ]; then
    if res=$(python3 - "$tmp/hazard-logs" <<'EOF'
import json, sys
bad = []; n = 0
for entry in open(sys.argv[1]):
    mode, path = entry.split(" ", 1)
    path = path.strip()
    try:
        lines = open(path, encoding="utf-8", errors="strict").read().splitlines()
    except FileNotFoundError:
        continue
    except UnicodeDecodeError as e:
        bad.append(f"{path}: not UTF-8 ({e})"); continue
    for i, l in enumerate(lines, 1):
        n += 1
        try:
            r = json.loads(l)
        except ValueError as e:
            bad.append(f"{path}:{i}: not JSON: {l[:100]!r}"); continue
        if r.get("mode") != mode or r.get("action") not in ("observed", "prevented", "refused") or "hazard" not in r:
            bad.append(f"{path}:{i}: mode {r.get('mode')!r} (run {mode}), action {r.get('action')!r}")
print(n)
for b in bad[:5]: print(b)
sys.exit(1 if bad else 0)
EOF
    ); then
        ok "hazard logs of all stress runs: $(echo "$res" | head -1) records, each one JSON object of its run's mode"
    else
        not_ok "hazard logs of all stress runs: each record one JSON object of its run's mode"
        echo "$res" | tail -n +2 | sed 's/^/#   /'
    fi
fi

echo "# stress total: $((SECONDS - t_start)) s, $skip skipped (counted as passed)"
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
