#!/usr/bin/env bash
# security.sh [BUILD_DIR] - the shim's configuration and log under hostile
# or unusual conditions, with tests/hazards/sec_target.c as the program:
#
#   slow log     stderr a full pipe the program drains itself: a thread's
#                record blocks in write(2), and an unrelated close() by
#                another thread still completes (records are written after
#                the shim's mutex is released; a timeout proves the hang)
#   log opening  LOCKSCOPE_LOG in a missing directory, or a directory: one
#                line on stderr naming the path and the reason, the records
#                on stderr, never fatal (strict too)
#   as root (skipped otherwise):
#   dropped      a child that dropped to nobody keeps writing to the log its
#                parent opened: after fork, and after fork + exec (the
#                inherited descriptor, checked by device and inode)
#   config EACCES  HOME a directory nobody cannot search: the per-user config
#                counts as absent (a debug line says so), strict still runs;
#                an existing unreadable per-user file, and an unreachable
#                LOCKSCOPE_CONFIG, are configuration errors
#   planted      another user's symlink (or file, or hard link) in a
#                directory they can write, as LOCKSCOPE_LOG or
#                LOCKSCOPE_CONFIG: never followed, never written, an error line
#   setuid       a set-user-ID-root copy run as nobody: LOCKSCOPE_* ignored
#                (fix mode, no log created, no debug line), the user's config
#                not read, LOCKSCOPE__HANDOVER dropped unread; the `lockscope`
#                launcher installed set-user-ID refuses to run
#
# One line per check, "ok - NAME" or "not ok - NAME", then "N passed, N
# failed"; exits 1 if any check failed.
set -u

BUILD=${1:-build}
CC=${CC:-cc}
here=$(cd "$(dirname "$0")" && pwd -P)
. "$here/../lib.sh"   # ok, not_ok, skipped, finish

lib=$(cd "$BUILD" 2>/dev/null && pwd -P)/liblockscope.so
if [ ! -f "$lib" ]; then
    not_ok "library exists" "$lib is missing"
    finish
fi
T=$(mktemp -d /tmp/lockscope-sec.XXXXXX) || exit 1
trap 'rm -rf "$T"' EXIT
chmod 755 "$T"
mkdir -p "$T/lib" "$T/w" "$T/root" "$T/open" "$T/sticky"
chmod 755 "$T/lib" "$T/root"; chmod 777 "$T/w" "$T/open"; chmod 1777 "$T/sticky"
cp "$lib" "$T/lib/liblockscope.so"; chmod 755 "$T/lib/liblockscope.so"
lib=$T/lib/liblockscope.so
if ! $CC -std=c11 -D_GNU_SOURCE -O2 -pthread "$here/sec_target.c" -o "$T/target" 2>"$T/build.log"; then
    not_ok "sec_target builds" "$(head -3 "$T/build.log")"
    finish
fi
chmod 755 "$T/target"
target=$T/target
is_root=0
[ "$(id -u)" = 0 ] && command -v setpriv >/dev/null 2>&1 && is_root=1
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
# shim ENV... -- PROGRAM ARGS: run under the shim with a clean environment
shim() {
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done
    shift
    timeout -k 5 60 env -i PATH=/usr/bin:/bin LD_PRELOAD="$lib" "${envs[@]}" "$@"
}
show() { head -c 600 "$1" | sed 's/^/  /'; }

# ---- slow log -----------------------------------------------------------------
out=$(shim LOCKSCOPE_MODE=fix -- timeout -k 2 30 "$target" slow "$T/w/slow" 2>/dev/null)
rc=$?
if [ $rc = 0 ] && [ "$out" = "$(printf 'close_done\ndone')" ]; then
    ok "slow log: a record blocked on a full stderr pipe does not hold up another thread's close()"
else
    not_ok "slow log: a record blocked on a full stderr pipe does not hold up another thread's close()" \
        "exit $rc (124: hung), output: $(echo "$out" | tr '\n' ' ')"
fi

# ---- log opening ----------------------------------------------------------------
log_fails() {   # LABEL LOGPATH REASON MODE
    local label=$1 log=$2 why=$3 mode=$4 rc n
    shim LOCKSCOPE_MODE="$mode" LOCKSCOPE_LOG="$log" -- "$target" hazard "$T/w/lf" >"$T/out" 2>"$T/err"
    rc=$?
    n=$(grep -c "^lockscope: cannot open log $log: $why (records go to stderr instead)\$" "$T/err")
    if [ $rc = 0 ] && [ "$n" = 1 ] && grep -q 'close-drops-lock' "$T/err" && grep -q '^probe=W' "$T/out"; then
        ok "log: $label ($mode): one line naming the path and reason, records on stderr, not fatal"
    else
        not_ok "log: $label ($mode): one line naming the path and reason, records on stderr, not fatal" \
            "exit $rc, $n error lines; stderr:" "$(show "$T/err")"
    fi
}
log_fails "missing directory" "$T/nonexistent/x.jsonl" "No such file or directory" fix
log_fails "missing directory" "$T/nonexistent/x.jsonl" "No such file or directory" strict
log_fails "a directory" "$T/w" "Is a directory" fix

if [ $is_root = 0 ]; then
    skipped "dropped privileges, config EACCES, planted files, setuid" "needs root and setpriv(1)"
    finish
fi

# ---- dropped privileges -----------------------------------------------------------
for how in fork exec self; do
    log=$T/root/$how.jsonl
    shim LOCKSCOPE_MODE=fix LOCKSCOPE_LOG="$log" -- "$target" $how-drop "$T/w/d-$how" >"$T/out" 2>"$T/err"
    rc=$?
    case $how in
    self) what="a process that dropped to nobody itself (no fork) keeps writing to its root-owned log" ;;
    *) what="a child that dropped to nobody after $how keeps writing to the parent's root-owned log" ;;
    esac
    if [ $rc = 0 ] && grep -q '^probe=W' "$T/out" && grep -q '"close-drops-lock"' "$log" 2>/dev/null &&
       [ "$(stat -c %U "$log")" = root ] && ! grep -q 'cannot open log' "$T/err"; then
        ok "log: $what"
    else
        not_ok "log: $what" \
            "exit $rc; stdout: $(tr '\n' ' ' <"$T/out")" "stderr:" "$(show "$T/err")" "log: $(wc -l <"$log" 2>&1)"
    fi
done

# ---- config: a per-user location nobody cannot look up ------------------------------
mkdir -p "$T/home700/.config/lockscope" "$T/homeunread/.config/lockscope"
chmod 700 "$T/home700"; chmod 755 "$T/homeunread" "$T/homeunread/.config" "$T/homeunread/.config/lockscope"
printf 'mode = off\n' >"$T/homeunread/.config/lockscope/config"; chmod 600 "$T/homeunread/.config/lockscope/config"
as_nobody env -i PATH=/usr/bin:/bin HOME="$T/home700" LD_PRELOAD="$lib" LOCKSCOPE_MODE=strict LOCKSCOPE_DEBUG=1 \
    "$target" hazard "$T/w/c1" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && grep -q '^probe=W' "$T/out" && ! grep -q 'configuration error' "$T/err" &&
   grep -q "config file $T/home700/.config/lockscope/config skipped: cannot be looked up" "$T/err"; then
    ok "config: HOME nobody cannot search: the per-user file counts as absent (debug line), strict runs"
else
    not_ok "config: HOME nobody cannot search: the per-user file counts as absent (debug line), strict runs" \
        "exit $rc; stdout: $(tr '\n' ' ' <"$T/out")" "stderr:" "$(show "$T/err")"
fi
as_nobody env -i PATH=/usr/bin:/bin HOME="$T/homeunread" LD_PRELOAD="$lib" LOCKSCOPE_MODE=strict \
    "$target" hazard "$T/w/c2" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 127 ] && grep -q "configuration error: $T/homeunread/.config/lockscope/config: cannot read config file: Permission denied" "$T/err"; then
    ok "config: an existing per-user file nobody cannot read is an error (strict: exit 127)"
else
    not_ok "config: an existing per-user file nobody cannot read is an error (strict: exit 127)" "exit $rc" "$(show "$T/err")"
fi
as_nobody env -i PATH=/usr/bin:/bin HOME=/nonexistent LD_PRELOAD="$lib" LOCKSCOPE_CONFIG="$T/home700/x.conf" \
    "$target" hazard "$T/w/c3" >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 0 ] && grep -q "configuration error: LOCKSCOPE_CONFIG=$T/home700/x.conf: cannot read config file: Permission denied" "$T/err"; then
    ok "config: a LOCKSCOPE_CONFIG that cannot be looked up is an error"
else
    not_ok "config: a LOCKSCOPE_CONFIG that cannot be looked up is an error" "exit $rc" "$(show "$T/err")"
fi

# ---- files planted by another user -------------------------------------------------
printf 'victim\n' >"$T/root/victim"; chmod 600 "$T/root/victim"
printf 'mode = off\n' >"$T/root/real.conf"; chmod 644 "$T/root/real.conf"
for d in open sticky; do
    as_nobody ln -s "$T/root/victim" "$T/$d/audit.jsonl"
    shim LOCKSCOPE_MODE=fix LOCKSCOPE_LOG="$T/$d/audit.jsonl" -- "$target" hazard "$T/w/p-$d" >"$T/out" 2>"$T/err"
    rc=$?
    if [ $rc = 0 ] && [ "$(cat "$T/root/victim")" = victim ] &&
       grep -q "cannot open log $T/$d/audit.jsonl: a symbolic link in a directory other users can write" "$T/err" &&
       grep -q close-drops-lock "$T/err"; then
        ok "log: another user's symlink in a $d directory they can write is not followed"
    else
        not_ok "log: another user's symlink in a $d directory they can write is not followed" \
            "exit $rc; victim now: $(head -c 200 "$T/root/victim" | tr '\n' ' ')" "$(show "$T/err")"
        printf 'victim\n' >"$T/root/victim"
    fi
    as_nobody sh -c "printf '' >'$T/$d/planted.jsonl'; chmod 666 '$T/$d/planted.jsonl'"
    shim LOCKSCOPE_MODE=fix LOCKSCOPE_LOG="$T/$d/planted.jsonl" -- "$target" hazard "$T/w/q-$d" >"$T/out" 2>"$T/err"
    if [ ! -s "$T/$d/planted.jsonl" ] && grep -q "cannot open log $T/$d/planted.jsonl: owned by another user" "$T/err"; then
        ok "log: another user's file in a $d directory they can write is not written"
    else
        not_ok "log: another user's file in a $d directory they can write is not written" "$(show "$T/err")"
    fi
    as_nobody ln -s "$T/root/real.conf" "$T/$d/c.conf"
    shim LOCKSCOPE_CONFIG="$T/$d/c.conf" -- "$target" hazard "$T/w/r-$d" >"$T/out" 2>"$T/err"
    if grep -q "configuration error: LOCKSCOPE_CONFIG=$T/$d/c.conf: cannot read config file: a symbolic link in a directory other users can write" "$T/err"; then
        ok "config: another user's symlink in a $d directory they can write is not followed"
    else
        not_ok "config: another user's symlink in a $d directory they can write is not followed" "$(show "$T/err")"
    fi
done
# control: root's own log and config there are used
shim LOCKSCOPE_MODE=fix LOCKSCOPE_LOG="$T/open/own.jsonl" -- "$target" hazard "$T/w/own" >"$T/out" 2>"$T/err"
if grep -q '"close-drops-lock"' "$T/open/own.jsonl" 2>/dev/null && ! grep -q 'cannot open log' "$T/err"; then
    ok "log: this user's own log in a world-writable directory is written"
else
    not_ok "log: this user's own log in a world-writable directory is written" "$(show "$T/err")"
fi

# ---- set-user-ID ---------------------------------------------------------------------
suid_skip=
findmnt -n -o OPTIONS -T "$T" 2>/dev/null | grep -qw nosuid && suid_skip="$T is on a nosuid mount"
mkdir -p "$T/suid" "$T/homeoff/.config/lockscope"; chmod 755 "$T/suid" "$T/homeoff" "$T/homeoff/.config" "$T/homeoff/.config/lockscope"
printf 'mode = off\n' >"$T/homeoff/.config/lockscope/config"; chmod 644 "$T/homeoff/.config/lockscope/config"
printf 'mode = bogus\n' >"$T/root/bad.conf"; chmod 644 "$T/root/bad.conf"
# ld.so ignores LD_PRELOAD paths in setuid programs: link the library in
if [ -z "$suid_skip" ] && ! $CC -std=c11 -D_GNU_SOURCE -O2 -pthread "$here/sec_target.c" -o "$T/suid/target" \
        -Wl,--no-as-needed -L"$T/lib" -llockscope -Wl,-rpath,"$T/lib" 2>"$T/build.log"; then
    suid_skip="cannot link a program against the library"
fi
if [ -n "$suid_skip" ]; then
    skipped "setuid" "$suid_skip"
    finish
fi
cp "$T/suid/target" "$T/suid/plain"; chmod 755 "$T/suid/plain"
chown root:root "$T/suid/target"; chmod 4755 "$T/suid/target"
hostile=(LOCKSCOPE_MODE=off LOCKSCOPE_LOG="$T/open/suid.jsonl" LOCKSCOPE_DEBUG=1 LOCKSCOPE_BACKTRACE=1
         LOCKSCOPE_CONFIG="$T/root/bad.conf" HOME="$T/homeoff" XDG_CONFIG_HOME="$T/homeoff/.config")
as_nobody env -i PATH=/usr/bin:/bin "${hostile[@]}" "$T/suid/target" hazard "$T/w/s1" >"$T/out" 2>"$T/err"
rc=$?
as_nobody env -i PATH=/usr/bin:/bin "${hostile[@]}" "$T/suid/target" fds >"$T/out2" 2>/dev/null
if ! grep -q '^secure=1' "$T/out2"; then
    skipped "setuid" "the setuid copy did not run in secure mode"
    finish
fi
if [ $rc = 0 ] && grep -q '^probe=W' "$T/out" && [ ! -e "$T/open/suid.jsonl" ] &&
   ! grep -qE '^lockscope: |configuration error' "$T/err"; then
    ok "setuid: LOCKSCOPE_* and the user's config ignored (fix mode, no log created, no debug line, no error)"
else
    not_ok "setuid: LOCKSCOPE_* and the user's config ignored (fix mode, no log created, no debug line, no error)" \
        "exit $rc; stdout: $(tr '\n' ' ' <"$T/out")" "$(show "$T/err")" "$(ls "$T/open")"
fi
# control: the same variables do reach the non-setuid copy
as_nobody env -i PATH=/usr/bin:/bin LOCKSCOPE_MODE=off "$T/suid/plain" hazard "$T/w/s2" >"$T/out" 2>/dev/null
grep -q '^probe=U' "$T/out" || not_ok "setuid control: LOCKSCOPE_MODE=off honoured without setuid" "$(cat "$T/out")"
# a hand-over naming a descriptor of the caller's: dropped unread
as_nobody env -i PATH=/usr/bin:/bin 'LOCKSCOPE__HANDOVER=1|O3:2:0:0/9/1|D2:0:3' "$T/suid/target" fds \
    3<"$T/root/real.conf" >"$T/out" 2>"$T/err"
if grep -q '^secure=1 fd3=inherit handover=0$' "$T/out"; then
    ok "setuid: LOCKSCOPE__HANDOVER is dropped unread (the caller's fd 3 untouched)"
else
    not_ok "setuid: LOCKSCOPE__HANDOVER is dropped unread (the caller's fd 3 untouched)" "$(cat "$T/out")" "$(show "$T/err")"
fi
# the launcher installed set-user-ID
cp "$BUILD/lockscope" "$T/suid/lockscope"; chown root:root "$T/suid/lockscope"; chmod 4755 "$T/suid/lockscope"
as_nobody env -i PATH=/usr/bin:/bin "$T/suid/lockscope" --log="$T/open/l.jsonl" /bin/true >"$T/out" 2>"$T/err"
rc=$?
if [ $rc = 126 ] && grep -q 'refusing to run set-user-ID' "$T/err"; then
    ok "setuid: the lockscope launcher installed set-user-ID refuses to run"
else
    not_ok "setuid: the lockscope launcher installed set-user-ID refuses to run" "exit $rc" "$(show "$T/err")"
fi
finish
