#!/bin/bash
# tests/ls/run.sh BUILD [CASE...] - `lockscope ls` against real holders and
# waiters in several processes, with and without the shim.
#
# Each case starts its processes (tests/ls/locker.c, python3, flock(1)),
# waits until the kernel shows them holding or blocked (/proc/locks), then
# runs BUILD/lockscope ls on its own files only (the machine may hold other
# locks) and checks the text and the JSON.  Waiting loops give up after 60 s
# (that only proves a negative); nothing is timed.  Ends with
# "N passed, N failed[, N skipped]" (a skipped case also counts as passed).
set -u
cd "$(dirname "$0")/../.."
BUILD=${1:?usage: tests/ls/run.sh BUILD [CASE...]}
shift
BUILD=$(cd "$BUILD" && pwd)
LS="$BUILD/lockscope"
T=$(mktemp -d /tmp/lockscope-ls.XXXXXX)
chmod 755 "$T"
. tests/lib.sh   # ok, not_ok, skipped
PIDS=()

cleanup() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT

cc -std=c11 -O1 -Wall -Wextra -Werror -pthread -o "$T/locker" tests/ls/locker.c || { echo "cannot build locker"; echo "0 passed, 1 failed"; exit 1; }
LOCKER="$T/locker"


# start NAME CMD...: run in the background, stdout in $T/NAME.out; $! in PID_NAME
start() {
    local name=$1; shift
    "$@" >"$T/$name.out" 2>"$T/$name.err" &
    PIDS+=($!)
    printf -v "PID_$name" %d $!
}

# until_true DESC CMD...: poll until CMD succeeds (60 s: then fail the case)
until_true() {
    local desc=$1; shift
    local n=0
    until "$@"; do
        n=$((n + 1))
        if [ $n -ge 1200 ]; then echo "# gave up waiting for: $desc"; return 1; fi
        sleep 0.05
    done
}
said() { grep -qx "$2" "$T/$1.out" 2>/dev/null; }
ino_of() { stat -c %i "$1"; }
# " MAJ:MIN:INO " as /proc/locks writes it
kid() {
    local d; d=$(stat -c %d "$1")
    printf ' %02x:%02x:%s ' $(((d >> 8) & 0xfff)) $(((d & 0xff) | ((d >> 12) & 0xfff00))) "$(ino_of "$1")"
}
# blocked FILE N: /proc/locks shows at least N requests blocked on FILE
blocked() {
    local id; id=$(kid "$1")
    [ "$(grep -- '-> ' /proc/locks | grep -cF -- "$id")" -ge "$2" ]
}
held() {
    local id; id=$(kid "$1")
    grep -v -- '->' /proc/locks | grep -qF -- "$id"
}

# jcheck JSONFILE PYTHON-EXPR...: each expression over `d` (the array) must be true
jcheck() {
    local f=$1; shift
    python3 - "$f" "$@" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception as e:
    print("# bad JSON:", e); sys.exit(1)
locks = [x for x in d if x.get("kind") == "lock"]
waiters = [x for x in d if x.get("kind") == "waiter"]
def lock(**kw):
    r = [x for x in locks if all(x.get(k) == v for k, v in kw.items())]
    return r[0] if len(r) == 1 else None
def waiter(**kw):
    r = [x for x in waiters if all(x.get(k) == v for k, v in kw.items())]
    return r[0] if len(r) == 1 else None
for e in sys.argv[2:]:
    try:
        v = eval(e)
    except Exception as ex:
        v = False; print("# error in", e, ":", ex)
    if not v:
        print("# false:", e); print("# json:", json.dumps(d)[:2000]); sys.exit(1)
EOF
}

# json_case JSONFILE "OK NAME" "FAIL NAME" PYTHON-EXPR...: ok when jcheck
# holds, else not ok with the JSON shown
json_case() {
    local f=$1 good=$2 bad=$3; shift 3
    if jcheck "$f" "$@"; then ok "$good"; else not_ok "$bad"; sed 's/^/#   /' "$f"; fi
}

want() { [ $# -eq 0 ] || { local c; for c in "${CASES[@]}"; do [ "$c" = "$1" ] && return 0; done; return 1; }; }
CASES=("$@")
selected() { [ ${#CASES[@]} -eq 0 ] || want "$1"; }

stop_all() {
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
    { wait; } 2>/dev/null
    PIDS=()
}

# ---- holders under the shim and without it -------------------------------
case_holders() {
    local D="$T/holders"; mkdir -p "$D"
    start shimw "$LS" --mode=strict -- "$LOCKER" open "$D/a" posix w 0 0 say ready pause
    start twofd "$LS" -- "$LOCKER" open "$D/b" open "$D/b" posix r 10 5 say ready pause
    start py python3 -c 'import fcntl,os,sys,time
f = open(sys.argv[1], "a+"); fcntl.lockf(f, fcntl.LOCK_EX, 5, 0, 0)
print(os.getpid(), f.fileno(), flush=True); time.sleep(3600)' "$D/c"
    start fl flock -s "$D/d" sleep 3600
    until_true "holders" eval 'said shimw ready && said twofd ready && [ -s "$T/py.out" ] && held "$D/d"' || { not_ok "holders: setup"; stop_all; return; }
    local pypid pyfd
    read -r pypid pyfd <"$T/py.out"
    "$LS" ls "$D/a" "$D/b" "$D/c" "$D/d" >"$T/h.txt" 2>"$T/h.err"
    local rc=$?
    "$LS" ls --json "$D/a" "$D/b" "$D/c" "$D/d" >"$T/h.json" 2>>"$T/h.err"
    if [ $rc = 0 ] && [ ! -s "$T/h.err" ] && head -1 "$T/h.txt" | grep -q '^COMMAND  *PID  *FD TYPE  *FAMILY  *RANGE  *PATH  *SHIM$' &&
       grep -Eq "^locker +$PID_shimw +3 WRITE POSIX>OFD +0-EOF +$D/a +strict\$" "$T/h.txt"; then
        ok "holders: text names the shim holder's own fd 3, POSIX>OFD (converted), mode strict"
    else
        not_ok "holders: text (rc $rc)"; sed 's/^/#   /' "$T/h.txt" "$T/h.err"
    fi
    if jcheck "$T/h.json" \
        "lock(path='$D/a')['pid'] == $PID_shimw and lock(path='$D/a')['fd'] == 3 and lock(path='$D/a')['fds'] == [3]" \
        "lock(path='$D/a')['private_fd'] is not None and lock(path='$D/a')['private_fd'] > 3" \
        "lock(path='$D/a')['shim'] is True and lock(path='$D/a')['mode'] == 'strict' and lock(path='$D/a')['family'] == 'ofd'" \
        "lock(path='$D/a')['type'] == 'write' and lock(path='$D/a')['start'] == 0 and lock(path='$D/a')['end'] is None and lock(path='$D/a')['len'] == 0" \
        "lock(path='$D/a')['inspectable'] is True and lock(path='$D/a')['deleted'] is False" \
        "lock(path='$D/a')['dev'] == '%d:%d' % (__import__('os').major(__import__('os').stat('$D/a').st_dev), __import__('os').minor(__import__('os').stat('$D/a').st_dev))" \
        "lock(path='$D/a')['ino'] == __import__('os').stat('$D/a').st_ino"; then
        ok "holders: JSON of the shim holder"
    else
        not_ok "holders: JSON of the shim holder"
    fi
    if jcheck "$T/h.json" \
        "lock(path='$D/b')['pid'] == $PID_twofd and lock(path='$D/b')['fd'] == 4 and lock(path='$D/b')['fds'] == [4]" \
        "lock(path='$D/b')['mode'] == 'fix' and lock(path='$D/b')['start'] == 10 and lock(path='$D/b')['end'] == 14 and lock(path='$D/b')['type'] == 'read'" &&
       jcheck "$T/h.json" "lock(path='$D/b')['private_fd'] is not None and lock(path='$D/b')['private_fd'] > 4" &&
       grep -Eq "^locker +$PID_twofd +4 READ +POSIX>OFD +10-14 +$D/b +fix\$" "$T/h.txt"; then
        ok "holders: two fds of the inode under the shim: the one the lock was taken through (4), with the private fd"
    else
        not_ok "holders: ambiguous program fd"; sed 's/^/#   /' "$T/h.txt"
    fi
    if jcheck "$T/h.json" \
        "lock(path='$D/c')['pid'] == $pypid and lock(path='$D/c')['fd'] == $pyfd and lock(path='$D/c')['family'] == 'posix'" \
        "lock(path='$D/c')['shim'] is False and lock(path='$D/c')['mode'] is None and lock(path='$D/c')['private_fd'] is None" \
        "lock(path='$D/c')['start'] == 0 and lock(path='$D/c')['end'] == 4" \
        "[x['family'] for x in locks if x['path'] == '$D/d'] == ['flock', 'flock'] and $PID_fl in [x['pid'] for x in locks if x['path'] == '$D/d']" \
        "len(set(x['lock'] for x in locks if x['path'] == '$D/d')) == 1 and all(x['type'] == 'read' and x['shim'] is False for x in locks if x['path'] == '$D/d')" \
        "len(locks) == 5 and len(waiters) == 0"; then
        ok "holders: processes without the shim (python3 POSIX; flock(1) and its child share one flock lock: two rows)"
    else
        not_ok "holders: processes without the shim"
    fi
    stop_all
}

# ---- a blocked chain of three -----------------------------------------------
case_chain() {
    local D="$T/chain"; mkdir -p "$D"
    : >"$D/f"; : >"$D/g"
    start A python3 -c 'import fcntl,os,sys,time
f = open(sys.argv[1], "a+"); fcntl.lockf(f, fcntl.LOCK_EX, 1, 0, 0)
print("ready", flush=True); time.sleep(3600)' "$D/f"
    until_true "A holds f" said A ready || { not_ok "chain: setup"; stop_all; return; }
    start B "$LS" -- "$LOCKER" open "$D/g" posix w 0 1 say held open "$D/f" posix w 0 1 wait pause
    until_true "B waits" eval 'said B held && blocked "$D/f" 1' || { not_ok "chain: B"; stop_all; return; }
    start C "$LS" -- "$LOCKER" open "$D/g" posix w 0 1 wait pause
    until_true "C waits" blocked "$D/g" 1 || { not_ok "chain: C"; stop_all; return; }
    "$LS" ls "$D/f" "$D/g" >"$T/c.txt" 2>&1
    "$LS" ls --json "$D/f" "$D/g" >"$T/c.json"
    local pa=$PID_A
    # pyenv may exec python3 under another pid: the holder of f is whoever /proc/locks says
    pa=$(awk -v id="$(kid "$D/f")" 'index($0, id) && $2 == "POSIX" {print $5}' /proc/locks | head -1)
    if grep -Fxq "pid $PID_C (locker) fd 3 waits for WRITE OFD 0-0 $D/g held by pid $PID_B (locker) fd 3; pid $PID_B (locker) fd 4 waits for WRITE OFD 0-0 $D/f held by pid $pa ($(cat /proc/$pa/comm)) fd 3" "$T/c.txt"; then
        ok "chain: C waits for B which waits for A (text)"
    else
        not_ok "chain: text"; sed 's/^/#   /' "$T/c.txt"
    fi
    if jcheck "$T/c.json" \
        "waiter(pid=$PID_C)['chain'] == [$PID_C, $PID_B, $pa] and waiter(pid=$PID_C)['cycle'] is False" \
        "waiter(pid=$PID_C)['holders'] == [$PID_B] and waiter(pid=$PID_C)['fd'] == 3 and waiter(pid=$PID_C)['path'] == '$D/g'" \
        "waiter(pid=$PID_C)['waiting_for'] == [lock(path='$D/g')['lock']]" \
        "waiter(pid=$PID_B)['holders'] == [$pa] and waiter(pid=$PID_B)['fd'] == 4 and waiter(pid=$PID_B)['chain'] == [$PID_B, $pa]" \
        "waiter(pid=$PID_B)['call'] == 'fcntl' and waiter(pid=$PID_B)['family'] == 'ofd' and waiter(pid=$PID_B)['shim'] is True" \
        "waiter(pid=$PID_B)['start'] == 0 and waiter(pid=$PID_B)['end'] == 0 and waiter(pid=$PID_B)['type'] == 'write'" \
        "lock(path='$D/f')['shim'] is False and lock(path='$D/f')['family'] == 'posix'"; then
        ok "chain: JSON chain [C, B, A], no cycle"
    else
        not_ok "chain: JSON"
    fi
    stop_all
}

# ---- a cycle the shim refuses, and one it cannot see ------------------------
case_cycle() {
    local D="$T/cycle"; mkdir -p "$D"
    : >"$D/x"; : >"$D/y"
    start P "$LS" -- "$LOCKER" open "$D/x" posix w 0 1 say held waitfile "$D/go1" open "$D/y" posix w 0 1 wait pause
    start Q "$LS" -- "$LOCKER" open "$D/y" posix w 0 1 say held waitfile "$D/go2" open "$D/x" posix w 0 1 wait say after pause
    until_true "P, Q hold" eval 'said P held && said Q held' || { not_ok "cycle: setup"; stop_all; return; }
    touch "$D/go1"
    until_true "P waits" blocked "$D/y" 1 || { not_ok "cycle: P waits"; stop_all; return; }
    touch "$D/go2"
    until_true "Q refused" said Q after || { not_ok "cycle: Q"; stop_all; return; }
    if said Q "posix: EDEADLK"; then ok "cycle: the shim refuses the second waiter with EDEADLK"; else not_ok "cycle: Q got: $(cat "$T/Q.out")"; fi
    "$LS" ls "$D/x" "$D/y" >"$T/y.txt" 2>&1
    "$LS" ls --json "$D/x" "$D/y" >"$T/y.json"
    if grep -Fxq "pid $PID_P (locker) fd 4 waits for WRITE OFD 0-0 $D/y held by pid $PID_Q (locker) fd 3" "$T/y.txt" &&
       jcheck "$T/y.json" "len(waiters) == 1 and waiter(pid=$PID_P)['holders'] == [$PID_Q] and waiter(pid=$PID_P)['cycle'] is False" \
                          "lock(path='$D/x')['pid'] == $PID_P and lock(path='$D/y')['pid'] == $PID_Q"; then
        ok "cycle: ls shows the one waiter and its holder"
    else
        not_ok "cycle: ls after EDEADLK"; sed 's/^/#   /' "$T/y.txt"
    fi
    stop_all
    # Raw OFD locks without the shim: the kernel detects no cycle, ls marks it.
    : >"$D/u"; : >"$D/v"
    start R "$LOCKER" open "$D/u" ofd w 0 1 say held waitfile "$D/go3" open "$D/v" ofd w 0 1 wait pause
    start S "$LOCKER" open "$D/v" ofd w 0 1 say held waitfile "$D/go3" open "$D/u" ofd w 0 1 wait pause
    until_true "R, S hold" eval 'said R held && said S held' || { not_ok "cycle: setup 2"; stop_all; return; }
    touch "$D/go3"
    until_true "R, S deadlocked" eval 'blocked "$D/u" 1 && blocked "$D/v" 1' || { not_ok "cycle: deadlock"; stop_all; return; }
    "$LS" ls "$D/u" "$D/v" >"$T/z.txt" 2>&1
    "$LS" ls --json "$D/u" "$D/v" >"$T/z.json"
    if grep -Fxq "pid $PID_R (locker) fd 4 waits for WRITE OFD 0-0 $D/v held by pid $PID_S (locker) fd 3; pid $PID_S (locker) fd 4 waits for WRITE OFD 0-0 $D/u held by pid $PID_R (locker) fd 3 -- CYCLE: $PID_R $PID_S $PID_R" "$T/z.txt" &&
       jcheck "$T/z.json" "waiter(pid=$PID_R)['cycle'] is True and waiter(pid=$PID_R)['chain'] == [$PID_R, $PID_S, $PID_R]" \
                          "waiter(pid=$PID_S)['cycle'] is True and waiter(pid=$PID_S)['shim'] is False"; then
        ok "cycle: a real OFD deadlock between processes without the shim is marked CYCLE"
    else
        not_ok "cycle: marking"; sed 's/^/#   /' "$T/z.txt"
    fi
    stop_all
}

# ---- POSIX and flock waiters, a waiting thread ----------------------------------
case_waiters() {
    local D="$T/waiters"; mkdir -p "$D"
    start P "$LOCKER" open "$D/m" posix w 0 0 say ready pause
    start F "$LOCKER" open "$D/n" flock ex say ready pause
    until_true "holders" eval 'said P ready && said F ready' || { not_ok "waiters: setup"; stop_all; return; }
    start WP "$LOCKER" open "$D/m" posix r 100 10 wait pause
    start WF "$LS" -- "$LOCKER" open "$D/n" flock sh wait pause
    start WT "$LS" -- "$LOCKER" open "$D/m" thread posix w 5 0 wait pause
    until_true "three waiters" eval 'blocked "$D/m" 2 && blocked "$D/n" 1' || { not_ok "waiters: blocked"; stop_all; return; }
    "$LS" ls "$D/m" "$D/n" >"$T/wt.txt" 2>&1
    "$LS" ls --json "$D/m" "$D/n" >"$T/wt.json"
    local tid; tid=$(ls "/proc/$PID_WT/task" | grep -vx "$PID_WT" | head -1)
    if jcheck "$T/wt.json" \
        "waiter(pid=$PID_WP)['family'] == 'posix' and waiter(pid=$PID_WP)['call'] == 'fcntl' and waiter(pid=$PID_WP)['shim'] is False" \
        "waiter(pid=$PID_WP)['type'] == 'read' and waiter(pid=$PID_WP)['start'] == 100 and waiter(pid=$PID_WP)['end'] == 109 and waiter(pid=$PID_WP)['holders'] == [$PID_P]" \
        "waiter(pid=$PID_WF)['family'] == 'flock' and waiter(pid=$PID_WF)['call'] == 'flock' and waiter(pid=$PID_WF)['type'] == 'read'" \
        "waiter(pid=$PID_WF)['holders'] == [$PID_F] and waiter(pid=$PID_WF)['shim'] is True and waiter(pid=$PID_WF)['private_fd'] is None and waiter(pid=$PID_WF)['fd'] == 3" \
        "waiter(pid=$PID_WT)['tid'] == $tid and waiter(pid=$PID_WT)['family'] == 'ofd' and waiter(pid=$PID_WT)['start'] == 5 and waiter(pid=$PID_WT)['end'] is None" \
        "waiter(pid=$PID_WT)['holders'] == [$PID_P] and waiter(pid=$PID_WT)['fd'] == 3 and waiter(pid=$PID_WT)['mode'] == 'fix'" &&
       grep -Fxq "pid $PID_WT (locker) tid $tid fd 3 waits for WRITE OFD 5-EOF $D/m held by pid $PID_P (locker) fd 3" "$T/wt.txt" &&
       grep -Fxq "pid $PID_WF (locker) fd 3 waits for READ FLOCK 0-EOF $D/n held by pid $PID_F (locker) fd 3" "$T/wt.txt"; then
        ok "waiters: a POSIX and a flock waiter without and with the shim, and a waiting thread (tid)"
    else
        not_ok "waiters"; sed 's/^/#   /' "$T/wt.txt"
    fi
    stop_all
}

# ---- a deleted file -----------------------------------------------------------
case_deleted() {
    local D="$T/deleted"; mkdir -p "$D"
    start H "$LS" -- "$LOCKER" open "$D/gone" posix w 0 0 unlink "$D/gone" say ready pause
    until_true "H holds" said H ready || { not_ok "deleted: setup"; stop_all; return; }
    "$LS" ls --json >"$T/d.json"
    "$LS" ls >"$T/d.txt"
    if jcheck "$T/d.json" "lock(path='$D/gone (deleted)')['deleted'] is True and lock(path='$D/gone (deleted)')['pid'] == $PID_H and lock(path='$D/gone (deleted)')['fd'] == 3" &&
       grep -Eq "^locker +$PID_H +3 WRITE POSIX>OFD +0-EOF +$D/gone \(deleted\) +fix\$" "$T/d.txt"; then
        ok "deleted: an unlinked file is shown with ' (deleted)' and deleted: true"
    else
        not_ok "deleted"; grep -F "$D" "$T/d.txt" | sed 's/^/#   /'
    fi
    stop_all
}

# ---- a holder exits while ls runs -------------------------------------------
case_exit() {
    local D="$T/exit"; mkdir -p "$D"
    : >"$D/e"
    start H "$LOCKER" open "$D/e" ofd w 0 0 say ready pause
    start K "$LOCKER" open "$D/k" posix w 0 0 say ready pause
    until_true "holders" eval 'said H ready && said K ready' || { not_ok "exit: setup"; stop_all; return; }
    mkfifo "$T/sync"
    LOCKSCOPE__LS_SYNC="$T/sync" "$LS" ls --json >"$T/e.json" 2>"$T/e.err" &
    local lspid=$!
    # ls has read /proc/locks (60 s: a command without the hook never says so)
    if ! timeout 60 bash -c 'read -r _ <"$1"' _ "$T/sync"; then
        kill $lspid 2>/dev/null; wait $lspid 2>/dev/null
        not_ok "exit: ls never reached its scan"; stop_all; return
    fi
    kill -9 "$PID_H" "$PID_K"; { wait "$PID_H" "$PID_K"; } 2>/dev/null
    timeout 60 bash -c 'echo go >"$1"' _ "$T/sync"
    wait $lspid
    local rc=$?
    if [ $rc = 0 ] && [ ! -s "$T/e.err" ] &&
       jcheck "$T/e.json" "not [x for x in d if x['ino'] in (__import__('os').stat('$D/e').st_ino, __import__('os').stat('$D/k').st_ino) and x['dev'] == '%d:%d' % (__import__('os').major(__import__('os').stat('$D/e').st_dev), __import__('os').minor(__import__('os').stat('$D/e').st_dev))]" \
                          "not [x for x in d if x['pid'] in ($PID_H, $PID_K)]"; then
        ok "exit: holders that exit mid-scan are skipped silently"
    else
        not_ok "exit: rc $rc"; sed 's/^/#   /' "$T/e.err"
    fi
    stop_all
}

# ---- processes the caller may not inspect -------------------------------------
case_uninspectable() {
    if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
        skipped "uninspectable" "needs root and setpriv"; return
    fi
    local D="$T/noinsp"; mkdir -p "$D"; chmod 755 "$D"
    start H "$LS" -- "$LOCKER" open "$D/o" posix w 0 0 say ready pause
    start N "$LOCKER" open "$D/p" posix w 0 0 say ready pause
    until_true "holders" eval 'said H ready && said N ready' || { not_ok "uninspectable: setup"; stop_all; return; }
    chmod 644 "$D/o" "$D/p"
    cp "$LS" "$T/lockscope-copy"; chmod 755 "$T/lockscope-copy"
    setpriv --reuid=65534 --regid=65534 --clear-groups "$T/lockscope-copy" ls "$D/o" "$D/p" >"$T/n.txt" 2>&1
    setpriv --reuid=65534 --regid=65534 --clear-groups "$T/lockscope-copy" ls --json "$D/o" "$D/p" >"$T/n.json" 2>&1
    if jcheck "$T/n.json" \
        "lock(path='$D/o')['pid'] is None and lock(path='$D/o')['inspectable'] is False and lock(path='$D/o')['fd'] is None and lock(path='$D/o')['shim'] is None" \
        "lock(path='$D/p')['pid'] == $PID_N and lock(path='$D/p')['command'] == 'locker' and lock(path='$D/p')['fd'] is None and lock(path='$D/p')['inspectable'] is False" &&
       grep -Eq "^\? +\? +\? WRITE OFD +0-EOF +$D/o +\(not inspectable\)\$" "$T/n.txt" &&
       grep -Eq "^locker +$PID_N +\? WRITE POSIX +0-EOF +$D/p +\(not inspectable\)\$" "$T/n.txt"; then
        ok "uninspectable: another user's holders are shown as not inspectable, never guessed"
    else
        not_ok "uninspectable"; sed 's/^/#   /' "$T/n.txt"
    fi
    stop_all
}

# ---- --wait, usage ----------------------------------------------------------------
case_wait() {
    local D="$T/wait"; mkdir -p "$D"
    start H "$LOCKER" open "$D/w" flock ex say ready pause
    until_true "H holds" said H ready || { not_ok "wait: setup"; stop_all; return; }
    "$LS" ls --wait=0.2 "$D/w" >"$T/w.txt" 2>&1 &
    local lspid=$!
    until_true "two refreshes" eval '[ "$(grep -c "^Every 0.2s: lockscope ls" "$T/w.txt")" -ge 2 ]'
    kill -INT $lspid
    wait $lspid
    local rc=$?
    if [ $rc = 0 ] && [ "$(grep -Ec "^locker +$PID_H +3 WRITE FLOCK +0-EOF +$D/w +no\$" "$T/w.txt")" -ge 2 ]; then
        ok "wait: refreshes until interrupted, exits 0"
    else
        not_ok "wait: rc $rc"; head -20 "$T/w.txt" | sed 's/^/#   /'
    fi
    stop_all
    "$LS" ls --bogus >/dev/null 2>"$T/u.err"; local r1=$?
    "$LS" ls "$D/nonexistent" >/dev/null 2>"$T/u2.err"; local r2=$?
    "$LS" ls --wait=x >/dev/null 2>/dev/null; local r3=$?
    if [ $r1 = 2 ] && [ $r2 = 1 ] && [ $r3 = 2 ] && grep -q "unknown option '--bogus'" "$T/u.err" &&
       grep -q "nonexistent: No such file or directory" "$T/u2.err"; then
        ok "usage: bad option 2, missing PATH 1"
    else
        not_ok "usage: $r1 $r2 $r3"
    fi
}

# ---- the shim's registry as a source ---------------------------------------------
case_registry() {
    local D="$T/reg"; mkdir -p "$D" "$T/cfgdir"; chmod 755 "$T/cfgdir"
    printf 'mode = strict\n' >"$T/cfgdir/strict.conf"; chmod 644 "$T/cfgdir/strict.conf"
    # a mode set by a configuration file only: the environment says nothing
    start CH env -u LOCKSCOPE_MODE LOCKSCOPE_CONFIG="$T/cfgdir/strict.conf" "$LS" -- "$LOCKER" open "$D/m" posix w 0 0 say ready pause
    until_true "CH holds" said CH ready || { not_ok "registry: setup"; stop_all; return; }
    start CW "$LS" -- "$LOCKER" open "$D/m" posix w 0 0 wait
    until_true "CW blocked" blocked "$D/m" 1 || { not_ok "registry: setup waiter"; stop_all; return; }
    "$LS" ls "$D/m" >"$T/r.txt" 2>&1
    "$LS" ls --json "$D/m" >"$T/r.json" 2>&1
    if grep -Eq "^locker +$PID_CH +3 WRITE POSIX>OFD +0-EOF +$D/m +strict\$" "$T/r.txt" &&
       jcheck "$T/r.json" \
        "lock(path='$D/m')['pid'] == $PID_CH and lock(path='$D/m')['mode'] == 'strict' and lock(path='$D/m')['shim'] is True" \
        "lock(path='$D/m')['program_family'] == 'posix' and lock(path='$D/m')['family'] == 'ofd' and lock(path='$D/m')['fds'] == [3]"; then
        ok "registry: the mode a configuration file set (strict) and the program's family (POSIX, held as OFD)"
    else
        not_ok "registry: mode from a configuration file"; sed 's/^/#   /' "$T/r.txt"
    fi
    if jcheck "$T/r.json" \
        "len(waiters) == 1 and waiter(pid=$PID_CW)['tid'] == $PID_CW and waiter(pid=$PID_CW)['holders'] == [$PID_CH]" &&
       [ "$(grep -c "^pid $PID_CW " "$T/r.txt")" = 1 ]; then
        ok "registry: a waiter under the shim (syscall scan and registry wait slot) is shown once"
    else
        not_ok "registry: waiter shown once"; sed 's/^/#   /' "$T/r.txt"
    fi
    stop_all
    # a private fd the high-fd guess cannot tell (RLIMIT_NOFILE 64: the shim
    # places it low): the registry says it is the shim's
    start LO bash -c 'ulimit -n 64 && exec "$@"' sh "$LS" -- "$LOCKER" open "$D/l" posix w 0 0 say ready pause
    until_true "LO holds" said LO ready || { not_ok "registry: setup (low limit)"; stop_all; return; }
    "$LS" ls --json "$D/l" >"$T/l.json" 2>&1
    json_case "$T/l.json" "registry: a low private fd (RLIMIT_NOFILE 64) is known as the shim's: the program's fd 3 is named" \
        "registry: low private fd" \
        "lock(path='$D/l')['pid'] == $PID_LO and lock(path='$D/l')['fd'] == 3 and lock(path='$D/l')['fds'] == [3]" \
        "lock(path='$D/l')['private_fd'] is not None and lock(path='$D/l')['private_fd'] != 3 and lock(path='$D/l')['program_family'] == 'posix'"
    stop_all
    # the other miss: the program's own fd is high and close-on-exec, as the
    # high-fd guess says the shim's are (RLIMIT_NOFILE 4096: private fds at
    # 3072 and up, the guess takes any such fd from 1536): the registry names
    # the private fd, so the program's fd 2000 is the program's
    start HI bash -c 'ulimit -n 4096 && exec "$@"' sh "$LS" -- "$LOCKER" open "$D/h" dupto 2000 posix w 0 0 say ready pause
    until_true "HI holds" said HI ready || { not_ok "registry: setup (high program fd)"; stop_all; return; }
    "$LS" ls --json "$D/h" >"$T/h.json" 2>&1
    json_case "$T/h.json" "registry: a high close-on-exec program fd (2000) is the program's, the shim's is the one the registry names" \
        "registry: high program fd" \
        "lock(path='$D/h')['pid'] == $PID_HI and lock(path='$D/h')['fd'] == 2000 and lock(path='$D/h')['fds'] == [2000]" \
        "lock(path='$D/h')['private_fd'] is not None and lock(path='$D/h')['private_fd'] >= 3072"
    stop_all
    # a thread waits, through a second descriptor, on the file its process
    # holds (rule 2): the waiting owner holds nothing, so no record names its
    # private fd; the registry's wait slot says not to trust the records there
    start TW "$LS" -- "$LOCKER" open "$D/t" posix w 0 1 thread open "$D/t" posix w 0 1 wait pause
    until_true "TW blocked" blocked "$D/t" 1 || { not_ok "registry: setup (thread waits on its own file)"; stop_all; return; }
    "$LS" ls --json "$D/t" >"$T/t.json" 2>&1
    json_case "$T/t.json" "registry: a thread waiting on its own process's file: both private fds known, the lock's fd 3 (the registry names it) and the waiter's 3 and 4 shown" \
        "registry: thread waits on its own file" \
        "lock(path='$D/t')['pid'] == $PID_TW and lock(path='$D/t')['fds'] == [3] and lock(path='$D/t')['private_fd'] is not None" \
        "waiter(pid=$PID_TW)['fds'] == [3, 4] and waiter(pid=$PID_TW)['private_fd'] not in (None, lock(path='$D/t')['private_fd'])"
    stop_all
    if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null; then
        skipped "registry: other users" "needs root and setpriv"; return
    fi
    # processes of another user that /proc hides from that user (not dumpable):
    # only the registry names them; root reads that user's registry too
    local U="setpriv --reuid=65534 --regid=65534 --clear-groups"
    mkdir -p "$T/bin" "$D/u"; chmod 777 "$D/u"
    cp "$LS" "$BUILD/liblockscope.so" "$T/bin/"; chmod 755 "$T/bin" "$T/bin/lockscope" "$T/bin/liblockscope.so"
    start UH $U env -u LOCKSCOPE_MODE LOCKSCOPE_CONFIG="$T/cfgdir/strict.conf" "$T/bin/lockscope" -- "$LOCKER" open "$D/u/n" nodump posix w 0 0 say ready pause
    until_true "UH holds" said UH ready || { not_ok "registry: setup (other user)"; stop_all; return; }
    start UW $U "$T/bin/lockscope" -- "$LOCKER" open "$D/u/n" nodump posix w 0 0 wait
    until_true "UW blocked" blocked "$D/u/n" 1 || { not_ok "registry: setup (other user's waiter)"; stop_all; return; }
    $U "$T/bin/lockscope" ls "$D/u/n" >"$T/u.txt" 2>&1
    $U "$T/bin/lockscope" ls --json "$D/u/n" >"$T/u.json" 2>&1
    if grep -Eq "^locker +$PID_UH +3 WRITE POSIX>OFD +0-EOF +$D/u/n +strict\$" "$T/u.txt" &&
       grep -q "^pid $PID_UW (locker) fd ? (not inspectable) waits for WRITE OFD 0-EOF $D/u/n held by pid $PID_UH (locker) fd 3\$" "$T/u.txt" &&
       jcheck "$T/u.json" \
        "lock(path='$D/u/n')['pid'] == $PID_UH and lock(path='$D/u/n')['inspectable'] is False and lock(path='$D/u/n')['mode'] == 'strict'" \
        "lock(path='$D/u/n')['private_fd'] is not None and lock(path='$D/u/n')['fd'] == 3 and lock(path='$D/u/n')['program_family'] == 'posix'" \
        "len(waiters) == 1 and waiter(pid=$PID_UW)['tid'] == $PID_UW and waiter(pid=$PID_UW)['holders'] == [$PID_UH]"; then
        ok "registry: a holder and a waiter whose /proc files their own user may not read are named from the registry"
    else
        not_ok "registry: not-dumpable holder and waiter"; sed 's/^/#   /' "$T/u.txt"
    fi
    "$LS" ls --json "$D/u/n" >"$T/u0.json" 2>&1
    json_case "$T/u0.json" "registry: root reads another user's registry (the mode that user's configuration file set)" \
        "registry: root and another user's registry" \
        "lock(path='$D/u/n')['pid'] == $PID_UH and lock(path='$D/u/n')['fd'] == 3 and lock(path='$D/u/n')['mode'] == 'strict'" \
        "lock(path='$D/u/n')['program_family'] == 'posix' and len(waiters) == 1"
    stop_all
}

for c in holders chain waiters cycle deleted exit uninspectable registry wait; do
    selected "$c" && "case_$c"
done
if [ "$skip" -gt 0 ]; then
    echo "$pass passed, $fail failed, $skip skipped"
else
    echo "$pass passed, $fail failed"
fi
[ "$fail" = 0 ]
