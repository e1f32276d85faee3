#!/usr/bin/env bash
# tests/real/run.sh [BUILD_DIR] [NAME-GLOB...] - real programs under the shim.
#
# Runs unmodified programs (Python's sqlite3 and fcntl modules, the sqlite3
# command, flock(1), CPython's own test suites) natively and under the shim
# (LD_PRELOAD=BUILD_DIR/liblockscope.so, or BUILD_DIR/lockscope), in the
# default mode fix unless a test says otherwise, and checks that they behave
# as the contract says (PRODUCT.md; rule 10 for SQLite, rule 1 for the
# close that drops a lock).  One line per test:
#     ok - NAME | not ok - NAME | ok - NAME # SKIP reason
# ("#   " lines after a failure explain it), then exactly one line
# "N passed, N failed[, N skipped]"; exit 1 if any test failed.
#
# Each test runs in a fresh temporary directory (named by its real path, as
# SQLite names its files) under `timeout`, with LOCKSCOPE_LOG set to a file
# there, and XDG_CONFIG_HOME pointing into it (no user config file); every hazard log a test produces must be JSON lines with
# every contract field.  NAME-GLOBs select tests (default: all);
# REAL_SKIP="NAME-GLOB ..." skips some.  REAL_PRELOAD_FIRST is put first in
# LD_PRELOAD (a sanitizer runtime).  REAL_VERBOSE=1 shows the diagnostics of
# passing tests too.  Needs python3, sqlite3 and flock; the CPython suites
# need python3's `test` package (installed from Debian's
# libpython3.X-testsuite only when python3 is /usr/bin/python3 and we are
# root; else that test is skipped).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
SELF="$HERE/run.sh"

# ---------------------------------------------------------------------------
# Setup shared by the driver and by each test (a test runs as
# `run.sh --one NAME BUILD_DIR` under timeout).
# ---------------------------------------------------------------------------
ONE=
if [ "${1:-}" = "--one" ]; then
    ONE=$2
    shift 2
fi
BUILD=${1:-$HERE/../../build}
[ $# -gt 0 ] && shift
BUILD=$(cd "$BUILD" 2>/dev/null && pwd -P) || { echo "run.sh: no build directory" >&2; exit 2; }
LIB=$BUILD/liblockscope.so
LAUNCH=$BUILD/lockscope
HELPER=$HERE/helper.py
PRELOAD=${REAL_PRELOAD_FIRST:+$REAL_PRELOAD_FIRST:}$LIB

# Nothing inherited may change what the tests see.
for v in $(compgen -e); do
    case "$v" in LOCKSCOPE_*) unset "$v" ;; esac
done
unset LD_PRELOAD
export LC_ALL=C

# ---------------------------------------------------------------------------
# Helpers for the tests.  A test function returns 0 (pass), 77 (skip: its
# last stdout line is the reason) or anything else (fail); `fail` records a
# failure and lets the test go on so that one run shows every problem.
# ---------------------------------------------------------------------------
FAILS=0
fail() { echo "$*"; FAILS=$((FAILS + 1)); }
# expect DESC GOT WANT
expect() {
    if [ "$2" != "$3" ]; then
        fail "$1: got '$2', want '$3'"
    fi
}
# expect_match DESC GOT ERE
expect_match() {
    if ! printf '%s\n' "$2" | grep -Eq -- "$3"; then
        fail "$1: got '$2', want /$3/"
    fi
}
native() { env -u LD_PRELOAD "$@"; }
# shim CMD... : under the preload, default mode, hazards to $T/shim.log.
shim() { env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" "$@"; }

# check_logs: every hazard log in $T (*.log) is JSON lines with all the
# contract fields, the run's mode (audit*.log: audit, strict*.log: strict,
# any other: fix) and no "refused" record outside strict.
check_logs() {
    local f out mode
    for f in "$T"/*.log; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in
        audit*) mode=audit ;; strict*) mode=strict ;; *) mode=fix ;;
        esac
        out=$("$PY" - "$f" "$mode" <<'PYEOF'
import json, sys
path, mode = sys.argv[1], sys.argv[2]
need = ["hazard", "action", "mode", "pid", "tid", "fd", "path", "dev", "ino", "type",
        "start", "len", "call", "site", "time", "backtrace"]
bad = 0
with open(path, "rb") as f:
    for n, raw in enumerate(f, 1):
        try:
            r = json.loads(raw)
        except ValueError as e:
            print("%s:%d: not JSON (%s): %r" % (path, n, e, raw[:200])); bad += 1; continue
        miss = [k for k in need if k not in r]
        if miss:
            print("%s:%d: missing %s" % (path, n, ",".join(miss))); bad += 1
        if r.get("mode") != mode:
            print("%s:%d: mode %r, want %r" % (path, n, r.get("mode"), mode)); bad += 1
        if r.get("action") not in ("observed", "prevented", "refused") or \
           (r.get("action") == "refused" and mode != "strict") or \
           (r.get("action") != "observed" and mode == "audit"):
            print("%s:%d: action %r in mode %s" % (path, n, r.get("action"), mode)); bad += 1
sys.exit(1 if bad else 0)
PYEOF
        ) || fail "hazard log $(basename "$f"): $out"
    done
}
# hazards FILE: "HAZARD ACTION" of each record, sorted, unique.
hazards() {
    [ -f "$1" ] || return 0
    "$PY" -c 'import json,sys
print("\n".join(sorted({"%s %s" % (r["hazard"], r["action"]) for r in map(json.loads, open(sys.argv[1], "rb"))})))' "$1"
}
# wait_for FILE [SECONDS]: until FILE exists.
wait_for() {
    local i=0 n=$(( ${2:-10} * 50 ))
    while [ ! -e "$1" ]; do
        i=$((i + 1))
        [ "$i" -gt "$n" ] && return 1
        sleep 0.02
    done
}

# The interpreter: `python3` on PATH, resolved past pyenv's shim script.
PY=$(command -v python3 2>/dev/null) && PY=$("$PY" -c 'import sys; print(sys.executable)' 2>/dev/null) || PY=
SQLITE3=$(command -v sqlite3 2>/dev/null) || SQLITE3=
export SQLITE3

# ---------------------------------------------------------------------------
# 1. SQLite through Python: the hand-off of two connections of one process.
# ---------------------------------------------------------------------------
t_sqlite_python_handoff() {
    local m r out
    for m in delete wal; do
        for r in native shim; do
            rm -f "$T"/h.db*
            out=$($r "$PY" "$HELPER" handoff "$T/h.db" $m 20 2>"$T/err") ||
                fail "$m $r: exit $? ($(tail -3 "$T/err" | tr '\n' ' '))"
            expect "$m $r" "$out" "handoff 20/20 rows 20 integrity ok probe ok"
        done
    done
    check_logs
}

# The same with the inode forced to descriptor scope: the naive conversion
# that rule 10 exists for.  It must break the rollback-journal hand-off
# (otherwise the test above could not tell a broken shim from a good one).
t_sqlite_python_handoff_naive_breaks() {
    local out
    out=$(env LOCKSCOPE_SCOPE="$T/*=description" LOCKSCOPE_LOG="$T/shim.log" LD_PRELOAD="$PRELOAD" \
          "$PY" "$HELPER" handoff "$T/h.db" delete 20 2>"$T/err")
    expect_match "forced description scope" "$out" "^handoff 0/20 "
    grep -q "database is locked" "$T/err" || fail "no 'database is locked' under description scope"
    check_logs
}

# Several processes, each handing off between two connections, writers with
# BEGIN IMMEDIATE and a busy timeout: natively every transaction succeeds.
t_sqlite_python_handoff_stress() {
    local m r p out pids
    for m in delete wal; do
        for r in native shim mixed; do
            rm -f "$T"/s.db*
            "$PY" "$HELPER" threads "$T/s.db" $m 1 0 init >/dev/null || fail "$m init"
            pids=
            for p in 1 2 3; do
                local how=$r
                [ $r = mixed ] && { [ $p = 2 ] && how=native || how=shim; }
                $how timeout 60 "$PY" "$HELPER" stress "$T/s.db" 60 p$p >"$T/out.$p" 2>"$T/err.$p" &
                pids="$pids $!"
            done
            for p in $pids; do wait "$p" || fail "$m $r: a process failed (exit $?)"; done
            for p in 1 2 3; do
                expect "$m $r p$p" "$(cat "$T/out.$p")" "stress p$p 60/60 errors 0"
                [ -s "$T/err.$p" ] && fail "$m $r p$p stderr: $(head -3 "$T/err.$p" | tr '\n' ' ')"
            done
            out=$("$PY" "$HELPER" check "$T/s.db")
            expect "$m $r check" "$out" "integrity ok rows 180"
        done
    done
    check_logs
}

# ---------------------------------------------------------------------------
# 2. The sqlite3 command: two processes writing and reading concurrently.
# ---------------------------------------------------------------------------
# SQLite's busy handler polls and is not fair: a process that writes in a
# tight loop can starve the other one for as long as the loop lasts (natively
# too), so the busy timeout is longer than a whole run.  synchronous=OFF only
# drops the fsyncs (a loaded machine's slowest part); the locks are the same.
gen_sql() {  # gen_sql WHO N
    local i
    echo ".timeout 60000"
    echo "PRAGMA synchronous=OFF;"
    for ((i = 1; i <= $2; i++)); do
        if ((i % 25 == 0)); then
            echo "BEGIN IMMEDIATE; INSERT INTO t(who, n) VALUES('$1', $i); UPDATE t SET n = n WHERE who = '$1'; COMMIT;"
        else
            echo "INSERT INTO t(who, n) VALUES('$1', $i);"
        fi
        ((i % 10 == 0)) && echo "SELECT count(*) FROM t WHERE who = '$1';"
    done
    echo "SELECT 'done', count(*) FROM t WHERE who = '$1';"
}
t_sqlite_cli_concurrent() {
    local n=500 m pair a b out
    gen_sql a $n >"$T/a.sql"
    gen_sql b $n >"$T/b.sql"
    for m in delete wal; do
        for pair in native:native shim:shim shim:native; do
            a=${pair%%:*} b=${pair##*:}
            rm -f "$T"/c.db*
            "$SQLITE3" "$T/c.db" "PRAGMA journal_mode=$m;" \
                "CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER);" >/dev/null ||
                fail "$m: create"
            $a "$SQLITE3" -bail "$T/c.db" <"$T/a.sql" >"$T/a.out" 2>"$T/a.err" &
            local pa=$!
            $b "$SQLITE3" -bail "$T/c.db" <"$T/b.sql" >"$T/b.out" 2>"$T/b.err" &
            local pb=$!
            wait $pa || fail "$m $pair: a exit $? ($(head -2 "$T/a.err" | tr '\n' ' '))"
            wait $pb || fail "$m $pair: b exit $? ($(head -2 "$T/b.err" | tr '\n' ' '))"
            expect "$m $pair a" "$(tail -1 "$T/a.out")" "done|$n"
            expect "$m $pair b" "$(tail -1 "$T/b.out")" "done|$n"
            out=$("$SQLITE3" "$T/c.db" "PRAGMA integrity_check;" "SELECT count(*) FROM t;" \
                  "SELECT count(DISTINCT n) FROM t WHERE who = 'a';" | tr '\n' ' ')
            expect "$m $pair result" "$out" "ok $((2 * n)) $n "
        done
    done
    check_logs
}

# ---------------------------------------------------------------------------
# 3. Threads, each with its own connection (and two processes of them).
# ---------------------------------------------------------------------------
t_sqlite_python_threads() {
    local m r out
    for m in delete wal; do
        for r in native shim; do
            rm -f "$T"/t.db*
            out=$($r "$PY" "$HELPER" threads "$T/t.db" $m 4 150 x 2>"$T/err") ||
                fail "$m $r: exit $? ($(head -3 "$T/err" | tr '\n' ' '))"
            expect "$m $r" "$out" "threads x inserted 600 errors 0"
            expect "$m $r check" "$("$PY" "$HELPER" check "$T/t.db")" "integrity ok rows 600"
            # Two processes of two threads each, at once.
            rm -f "$T"/t.db*
            "$PY" "$HELPER" threads "$T/t.db" $m 1 0 init >/dev/null
            $r "$PY" "$HELPER" threads "$T/t.db" $m 2 150 p >"$T/p.out" 2>"$T/p.err" &
            local pp=$!
            $r "$PY" "$HELPER" threads "$T/t.db" $m 2 150 q >"$T/q.out" 2>"$T/q.err" &
            local pq=$!
            wait $pp || fail "$m $r 2x2 p: ($(head -3 "$T/p.err" | tr '\n' ' '))"
            wait $pq || fail "$m $r 2x2 q: ($(head -3 "$T/q.err" | tr '\n' ' '))"
            expect "$m $r 2x2 p" "$(cat "$T/p.out")" "threads p inserted 300 errors 0"
            expect "$m $r 2x2 q" "$(cat "$T/q.out")" "threads q inserted 300 errors 0"
            expect "$m $r 2x2 check" "$("$PY" "$HELPER" check "$T/t.db")" "integrity ok rows 600"
        done
    done
    check_logs
}

# ---------------------------------------------------------------------------
# 4. The debug line names the SQLite decision; per-path scope restores
#    native semantics.
# ---------------------------------------------------------------------------
t_sqlite_debug_decision() {
    local err
    "$SQLITE3" "$T/d.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER);"
    env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" LOCKSCOPE_DEBUG=1 \
        "$SQLITE3" "$T/d.db" "INSERT INTO t(who, n) VALUES('cli', 1);" 2>"$T/cli.err" ||
        fail "sqlite3 under the shim failed: $(cat "$T/cli.err")"
    err=$(cat "$T/cli.err")
    expect_match "sqlite3 debug" "$err" "^lockscope: scope of $T/d\.db: one owner per process \(SQLite database"
    grep -v '^lockscope: ' "$T/cli.err" | grep -q . && fail "other stderr: $(grep -v '^lockscope: ' "$T/cli.err")"
    env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" LOCKSCOPE_DEBUG=1 \
        "$PY" "$HELPER" handoff "$T/p.db" delete 3 >"$T/py.out" 2>"$T/py.err" ||
        fail "python under the shim failed: $(cat "$T/py.out" "$T/py.err")"
    err=$(cat "$T/py.err")
    expect_match "python debug" "$err" "^lockscope: scope of $T/p\.db: one owner per process \(SQLite database"
    # Not for other files, and never in the hazard log.
    grep -q "scope of $T/[dp]\.db-" "$T/cli.err" "$T/py.err" && fail "a decision for a journal file"
    [ -f "$T/shim.log" ] && grep -q "scope of" "$T/shim.log" && fail "debug text in the hazard log"
    # Without LOCKSCOPE_DEBUG: silent.
    shim "$SQLITE3" "$T/d.db" "SELECT count(*) FROM t;" >/dev/null 2>"$T/quiet.err"
    [ -s "$T/quiet.err" ] && fail "stderr without LOCKSCOPE_DEBUG: $(cat "$T/quiet.err")"
    check_logs
}

# scope_native_checks WHAT VAR=VALUE...: with these settings the database
# gets native semantics: the debug line says so, the hand-off works and the
# 2.2 close drops the lock again.
scope_native_checks() {
    local what=$1 out
    shift
    rm -f "$T"/e.db*
    env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" LOCKSCOPE_DEBUG=1 "$@" \
        "$PY" "$HELPER" handoff "$T/e.db" delete 20 >"$T/out" 2>"$T/err"
    expect "$what: handoff" "$(cat "$T/out")" "handoff 20/20 rows 20 integrity ok probe ok"
    expect_match "$what: debug" "$(cat "$T/err")" "^lockscope: scope of $T/e\.db: process"
    grep -q "one owner per process (SQLite" "$T/err" && fail "$what: still the SQLite rule: $(grep 'scope of' "$T/err")"
    # The 2.2 hazard behaves natively again: the close drops the lock.
    rm -f "$T"/e.db*
    out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" "$@" \
          "$PY" "$HELPER" hazard "$T/e.db" 2>"$T/err")
    expect "$what: hazard" "$out" "probe got a write lock: lock lost"
    # And two sqlite3 processes still work.
    rm -f "$T"/e.db*
    "$SQLITE3" "$T/e.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER);"
    gen_sql a 100 >"$T/a.sql"
    gen_sql b 100 >"$T/b.sql"
    env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" "$@" "$SQLITE3" -bail "$T/e.db" <"$T/a.sql" >"$T/a.out" 2>&1 &
    local pa=$!
    env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" "$@" "$SQLITE3" -bail "$T/e.db" <"$T/b.sql" >"$T/b.out" 2>&1 &
    local pb=$!
    wait $pa || fail "$what: sqlite3 a: $(tail -2 "$T/a.out")"
    wait $pb || fail "$what: sqlite3 b: $(tail -2 "$T/b.out")"
    out=$("$SQLITE3" "$T/e.db" "PRAGMA integrity_check;" "SELECT count(*) FROM t;" | tr '\n' ' ')
    expect "$what: cli" "$out" "ok 200 "
}
t_sqlite_scope_process() {
    # A glob of the database's directory.  (A bare '*' cannot match: globs
    # are matched with FNM_PATHNAME and SQLite opens the absolute path.)
    scope_native_checks "env glob" LOCKSCOPE_SCOPE="$T/*=process"
    scope_native_checks "env exact" LOCKSCOPE_SCOPE="/nonexistent/*=description;$T/e.db=process"
    printf '[path "%s/*.db"]\nscope = process\n' "$T" >"$T/config"
    scope_native_checks "config file" LOCKSCOPE_CONFIG="$T/config"
    check_logs
}
# The contract matches scope globs against the path as opened, its absolute
# form and its real path.  (SQLite itself opens the real path: it resolves
# symlinks before it opens, so for a database only the real path can match.)
# Python's fcntl, rule 1: a `process` rule gives back the native loss.
t_scope_rule_paths() {
    local out
    mkdir "$T/real"
    ln -s real "$T/link"
    # scope_case DESC RULE CWD PATH WANT
    scope_case() {
        out=$(cd "$3" && env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" LOCKSCOPE_SCOPE="$2" \
              "$PY" "$HELPER" rule1 "$4" setlk 2>"$T/err") || fail "$1: $(cat "$T/err")"
        expect "$1" "$out" "$5"
    }
    scope_case "no rule matches" "/nonexistent/*=process" "$T" "link/a.lock" "lock kept"
    scope_case "as given" "b.lock=process" "$T/link" "b.lock" "lock lost"
    scope_case "absolute form" "$T/link/*=process" "$T" "link/c.lock" "lock lost"
    scope_case "real path" "$T/real/d.lock=process" "$T" "link/d.lock" "lock lost"
    scope_case "first rule wins" "$T/real/e.lock=description;$T/real/*=process" "$T" "link/e.lock" "lock kept"
    # SQLite through a symlinked directory: a glob of the real path.
    out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/shim.log" LOCKSCOPE_SCOPE="$T/real/*=process" \
          "$PY" "$HELPER" hazard "$T/link/s.db" 2>"$T/err")
    expect "sqlite via a symlink, real-path rule" "$out" "probe got a write lock: lock lost"
    check_logs
}

# SQLite's normal busy path (tkt4018 in SQLite's own suite): a COMMIT that
# cannot get EXCLUSIVE falls back to SHARED, re-locking the SHARED range it
# holds.  On a file recognised as SQLite that is no hazard: nothing on
# stderr (where hazards go without LOCKSCOPE_LOG; Tcl's test harness counts
# any stderr output as a failure) in fix and audit.
t_sqlite_busy_quiet() {
    local r out want="busy: database is locked, database is locked, database is locked; after release rows 1"
    for r in native fix audit; do
        rm -f "$T"/b.db*
        case $r in
        native) out=$(native "$PY" "$HELPER" busy "$T/b.db" 2>"$T/err") ;;
        *) out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_MODE=$r "$PY" "$HELPER" busy "$T/b.db" 2>"$T/err") ;;
        esac
        expect "$r" "$out" "$want"
        [ -s "$T/err" ] && fail "$r stderr: $(head -3 "$T/err" | tr '\n' ' ')"
    done
    check_logs
}

# A forked child of a program holding a read transaction (rollback
# journal).  Children that start their own transaction on the inherited
# connection hold read locks: the parent's write fails natively and must
# fail in fix and audit too, every time; children reading through their own
# connections share the inherited in-memory SHARED (no kernel lock): the
# parent writes.  Ten runs of each.
t_sqlite_python_fork() {
    local how r i out want
    for how in inherit new; do
        case $how in
        inherit) want="children rrr, parent: database is locked" ;;
        new) want="children rrr, parent wrote" ;;
        esac
        for r in native fix audit; do
            for ((i = 0; i < 10; i++)); do
                rm -f "$T"/k.db*
                case $r in
                native) out=$(native "$PY" "$HELPER" fork-read "$T/k.db" $how 2>"$T/err") ;;
                *) out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_MODE=$r LOCKSCOPE_LOG="$T/$r.log" \
                         "$PY" "$HELPER" fork-read "$T/k.db" $how 2>"$T/err") ;;
                esac
                expect "$how $r run $i" "$out" "$want"
            done
        done
    done
    check_logs
}

# The same with PENDING_BYTE moved to 0x10000, as SQLite's own test suite
# does (tkt4018 met the busy path there: "read 65538+510"): the file is
# recognised by the pattern wherever the pending byte is, the hand-off
# works and the busy path stays quiet.
t_sqlite_pending_moved() {
    local r out want_b="busy: database is locked, database is locked, database is locked; after release rows 1"
    for r in native fix audit; do
        rm -f "$T"/m.db* "$T"/n.db*
        case $r in
        native) run() { native env HELPER_PENDING=0x10000 "$PY" "$HELPER" "$@"; } ;;
        *) run() { env LD_PRELOAD="$PRELOAD" LOCKSCOPE_MODE=$r LOCKSCOPE_DEBUG=1 HELPER_PENDING=0x10000 \
                   "$PY" "$HELPER" "$@"; } ;;
        esac
        out=$(run handoff "$T/m.db" delete 20 2>"$T/err")
        expect "$r handoff" "$out" "handoff 20/20 rows 20 integrity ok probe ok"
        out=$(run busy "$T/n.db" 2>>"$T/err")
        expect "$r busy" "$out" "$want_b"
        if [ $r != native ]; then
            grep -q "^lockscope: scope of $T/m\.db: one owner per process (SQLite" "$T/err" ||
                fail "$r: $T/m.db not recognised"
            grep -q "^lockscope: scope of $T/n\.db: one owner per process (SQLite" "$T/err" ||
                fail "$r: $T/n.db not recognised"
        fi
        grep -v '^lockscope: \(mode\|scope of\) ' "$T/err" | grep -q . &&
            fail "$r stderr: $(grep -v '^lockscope: \(mode\|scope of\) ' "$T/err" | head -3 | tr '\n' ' ')"
    done
    check_logs
}

# A read-only connection is the first to lock (so its read-only description
# completes the pattern), then a read-write connection of the same process
# writes through the shared owner: it must get write locks (the shared
# private description is made read-write), not "disk I/O error".
t_sqlite_ro_then_rw() {
    local r out want="write ok, rows 1, other process sees 1"
    for r in native fix audit; do
        rm -f "$T"/r.db*
        case $r in
        native) out=$(native "$PY" "$HELPER" ro-rw "$T/r.db" 2>"$T/err") ;;
        *) out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_MODE=$r LOCKSCOPE_LOG="$T/$r.log" \
                 "$PY" "$HELPER" ro-rw "$T/r.db" 2>"$T/err") ;;
        esac
        expect "$r" "$out" "$want"
    done
    check_logs
}

# `flock FILE sqlite3 FILE ...` (a common cron idiom) under strict: on a
# local file system flock and fcntl locks are independent, so the mix is
# recorded "observed" and the insert goes through (PRODUCT.md: strict).
t_flock_sqlite_strict() {
    local r out
    "$SQLITE3" "$T/f.db" "CREATE TABLE t(id INTEGER PRIMARY KEY, n INTEGER);" || fail "create"
    for r in native fix audit strict; do
        case $r in
        native) native flock "$T/f.db" "$SQLITE3" "$T/f.db" "INSERT INTO t(n) VALUES(1);" 2>"$T/err" ;;
        *) env LOCKSCOPE_LOG="$T/$r.log" "$LAUNCH" --mode=$r -- \
               flock "$T/f.db" "$SQLITE3" "$T/f.db" "INSERT INTO t(n) VALUES(1);" 2>"$T/err" ;;
        esac
        expect "$r status" "$?" 0
        [ -s "$T/err" ] && fail "$r stderr: $(head -3 "$T/err" | tr '\n' ' ')"
    done
    out=$("$SQLITE3" "$T/f.db" "PRAGMA integrity_check;" "SELECT count(*) FROM t;" | tr '\n' ' ')
    expect "rows" "$out" "ok 4 "
    expect "strict hazards" "$(hazards "$T/strict.log")" "flock-fcntl-mix observed"
    check_logs
}

# ---------------------------------------------------------------------------
# 5. How To Corrupt An SQLite Database File, 2.2: an unrelated open+close of
#    the database in the same process.
# ---------------------------------------------------------------------------
t_sqlite_corrupt_2_2() {
    local out
    out=$(native "$PY" "$HELPER" hazard "$T/n.db" 2>"$T/err") || fail "native: exit $? ($(cat "$T/err"))"
    expect "native" "$out" "probe got a write lock: lock lost"
    out=$(shim "$PY" "$HELPER" hazard "$T/s.db" 2>"$T/err") || fail "shim: exit $? ($(cat "$T/err"))"
    expect "shim" "$out" "probe: database is locked: lock kept"
    expect_match "shim hazards" "$(hazards "$T/shim.log")" "^close-drops-lock prevented$"
    # audit: native semantics, the hazard observed.
    out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/audit.log" LOCKSCOPE_MODE=audit \
          "$PY" "$HELPER" hazard "$T/a.db" 2>"$T/err") || fail "audit: exit $? ($(cat "$T/err"))"
    expect "audit" "$out" "probe got a write lock: lock lost"
    expect_match "audit hazards" "$(hazards "$T/audit.log")" "^close-drops-lock observed$"
    check_logs
}

# ---------------------------------------------------------------------------
# 6. Python's fcntl module, rule 1.
# ---------------------------------------------------------------------------
t_python_fcntl_rule1() {
    local how out mode
    for how in lockf setlk setlkw; do
        out=$(native "$PY" "$HELPER" rule1 "$T/n.$how" $how 2>"$T/err") || fail "native $how: $(cat "$T/err")"
        expect "native $how" "$out" "lock lost"
        for mode in fix strict; do
            out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/$mode.$how.log" LOCKSCOPE_MODE=$mode \
                  "$PY" "$HELPER" rule1 "$T/s.$mode.$how" $how 2>"$T/err") || fail "$mode $how: $(cat "$T/err")"
            expect "$mode $how" "$out" "lock kept"
            expect_match "$mode $how hazards" "$(hazards "$T/$mode.$how.log")" "^close-drops-lock prevented$"
        done
        out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_LOG="$T/audit.$how.log" LOCKSCOPE_MODE=audit \
              "$PY" "$HELPER" rule1 "$T/a.$how" $how 2>"$T/err") || fail "audit $how: $(cat "$T/err")"
        expect "audit $how" "$out" "lock lost"
        expect_match "audit $how hazards" "$(hazards "$T/audit.$how.log")" "^close-drops-lock observed$"
    done
    # The probe under the shim too: F_GETLK names the holder (rule 5).
    out=$(shim "$PY" -c '
import fcntl, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
fcntl.lockf(fd, fcntl.LOCK_EX, 10)
os.close(os.open(sys.argv[1], os.O_RDONLY))
r = subprocess.run([sys.executable, sys.argv[2], "probe-lock", sys.argv[1]], stdout=subprocess.PIPE, text=True)
print(r.stdout.strip() == "held by %d" % os.getpid() or r.stdout.strip())' "$T/g.lock" "$HELPER" 2>"$T/err")
    expect "shim probe names the holder" "$out" "True"
    check_logs
}

# Rules 2, 6 and 7 with Python: threads, fork and subprocess, exec.
t_python_fcntl_threads() {
    local out
    out=$(native "$PY" "$HELPER" threads-lock "$T/n.lock" 2>"$T/err") || fail "native: $(cat "$T/err")"
    expect "native" "$out" "first thread got it, second thread got it"
    out=$(shim "$PY" "$HELPER" threads-lock "$T/s.lock" 2>"$T/err") || fail "shim: $(cat "$T/err")"
    expect "shim" "$out" "first thread got it, second thread refused"
    expect_match "shim hazards" "$(hazards "$T/shim.log")" "^thread-double-exclusive prevented$"
    check_logs
}
t_python_fcntl_fork() {
    local out want="child refused, after child: held, spawned refused, after spawned: held"
    out=$(native "$PY" "$HELPER" fork "$T/n.lock" 2>"$T/err") || fail "native: $(cat "$T/err")"
    expect "native" "$out" "$want"
    out=$(shim "$PY" "$HELPER" fork "$T/s.lock" 2>"$T/err") || fail "shim: $(cat "$T/err")"
    expect "shim" "$out" "$want"
    check_logs
}
t_python_fcntl_exec() {
    local out nat
    nat=$(env -u LD_PRELOAD LOCKSCOPE_LOG="$T/shim.log" "$PY" "$HELPER" exec "$T/n.lock" 2>"$T/err") ||
        fail "native: $(cat "$T/err")"
    expect_match "native" "$nat" "^after exec: held, after unlock: free, "
    out=$(shim "$PY" "$HELPER" exec "$T/s.lock" 2>"$T/err") || fail "shim: $(cat "$T/err")"
    expect "shim (as native)" "$out" "$nat"
    out=$(env LOCKSCOPE_LOG="$T/shim.log" "$LAUNCH" -- "$PY" "$HELPER" exec "$T/l.lock" 2>"$T/err") ||
        fail "launcher: $(cat "$T/err")"
    expect "launcher (as native)" "$out" "$nat"
    check_logs
}

# ---------------------------------------------------------------------------
# 7. flock(1).
# ---------------------------------------------------------------------------
# mutex_pair A B: two loops of `flock FILE -c critical`, A and B each native
# or shim; prints what happened.
mutex_pair() {
    local d="$T/mutex.$1.$2" k=15
    mkdir -p "$d"
    : >"$d/count"
    local crit='if [ -e busy ]; then echo overlap >>overlaps; fi; : >busy; sleep 0.01; rm -f busy; echo x >>count'
    local who
    for who in "$1" "$2"; do
        (cd "$d" && for ((i = 0; i < k; i++)); do
            $who flock lockfile -c "$crit" || echo "flock exit $?" >>errors
        done) &
    done
    wait
    echo "count $(wc -l <"$d/count") overlaps $(count_lines "$d/overlaps") errors $(count_lines "$d/errors")"
}
count_lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
t_flock_mutex() {
    local pair
    for pair in "native native" "shim shim" "shim native"; do
        # shellcheck disable=SC2086
        expect "$pair" "$(mutex_pair $pair)" "count 30 overlaps 0 errors 0"
    done
    check_logs
}

# hold RUNNER OPTS DIR: a holder of `flock OPTS DIR/lockfile` in the
# background until DIR/release exists.
hold() {
    rm -f "$3/held" "$3/release"
    (cd "$3" && $1 flock "$2" lockfile -c ': >held; while [ ! -e release ]; do sleep 0.01; done') &
    HOLDER=$!
    wait_for "$3/held" || fail "holder ($1 flock $2) never got the lock"
}
release() { : >"$1/release"; wait "$HOLDER"; }
# probes RUNNER DIR: what non-blocking requests of RUNNER get.
probes() {
    local p=$1
    (cd "$2" && {
        $p flock -n lockfile -c true; printf 'x=%s ' $?
        $p flock -s -n lockfile -c true; printf 's=%s ' $?
        $p flock -w 0.1 lockfile true; printf 'w=%s ' $?
        # shellcheck disable=SC2016
        $p sh -c 'exec 9>>lockfile; flock -n 9; echo "fd=$?"' | tr '\n' ' '
    })
}
t_flock_nonblock() {
    local h p got want
    for h in native shim; do
        for p in native shim; do
            local d="$T/nb.$h.$p"
            mkdir -p "$d"
            hold $h "-x" "$d"
            got="held: $(probes $p "$d")"
            release "$d"
            got="$got free: $(probes $p "$d")"
            want="held: x=1 s=1 w=1 fd=1  free: x=0 s=0 w=0 fd=0 "
            expect "exclusive holder $h, probe $p" "$got" "$want"
        done
    done
    check_logs
}
t_flock_shared() {
    local h p got want
    for h in native shim; do
        for p in native shim; do
            local d="$T/sh.$h.$p"
            mkdir -p "$d"
            hold $h "-s" "$d"
            got="shared: $(probes $p "$d")"
            # A second shared holder: both hold at once.
            (cd "$d" && $p flock -s lockfile -c ': >held2; while [ ! -e release ]; do sleep 0.01; done') &
            local h2=$!
            wait_for "$d/held2" 3 || got="$got second-shared-failed"
            got="$got two: $(cd "$d" && $p flock -n lockfile -c true; echo x=$?)"
            release "$d"
            wait $h2
            want="shared: x=1 s=0 w=1 fd=1  two: x=1"
            expect "shared holder $h, probe $p" "$got" "$want"
        done
    done
    check_logs
}

# ---------------------------------------------------------------------------
# 8. Clean runs and configuration errors.
# ---------------------------------------------------------------------------
t_basics() {
    local out rc
    out=$("$LAUNCH" --mode=off -- "$PY" -c 'import fcntl' 2>"$T/err"); rc=$?
    expect "mode=off python3: status" "$rc" 0
    expect "mode=off python3: stdout" "$out" ""
    expect "mode=off python3: stderr" "$(cat "$T/err")" ""
    out=$("$LAUNCH" -- "$SQLITE3" :memory: 'select 1' 2>"$T/err"); rc=$?
    expect "sqlite3 :memory:: status" "$rc" 0
    expect "sqlite3 :memory:: stdout" "$out" "1"
    expect "sqlite3 :memory:: stderr" "$(cat "$T/err")" ""
    out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_MODE=bogus "$PY" -c 'print("ran")' 2>"$T/err"); rc=$?
    expect "MODE=bogus: status" "$rc" 0
    expect "MODE=bogus: stdout" "$out" "ran"
    expect "MODE=bogus: stderr lines" "$(wc -l <"$T/err")" 1
    expect_match "MODE=bogus: stderr" "$(cat "$T/err")" "LOCKSCOPE_MODE"
    out=$(env LD_PRELOAD="$PRELOAD" LOCKSCOPE_MODE=strict LOCKSCOPE_FORMAT=bogus "$PY" -c 'print("ran")' 2>"$T/err"); rc=$?
    expect "strict FORMAT=bogus: status" "$rc" 127
    expect "strict FORMAT=bogus: stdout" "$out" ""
    expect "strict FORMAT=bogus: stderr lines" "$(wc -l <"$T/err")" 1
    expect_match "strict FORMAT=bogus: stderr" "$(cat "$T/err")" "LOCKSCOPE_FORMAT"
}

# ---------------------------------------------------------------------------
# 9. CPython's own suites (test_sqlite3, test_fcntl) natively and under the
#    launcher in fix (the default), audit and strict: identical outcomes.
# ---------------------------------------------------------------------------
# have_suite MOD: python3 has test.MOD; if not and python3 is Debian's, try
# installing libpython3.X-testsuite (as root) once.  Prints why not.
have_suite() {
    "$PY" -c "import test.$1" >/dev/null 2>&1 && return 0
    case "$PY" in
    /usr/bin/python3*)
        local v pkg
        v=$("$PY" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        pkg=libpython$v-testsuite
        if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed"; then
            if [ "$(id -u)" = 0 ]; then
                export DEBIAN_FRONTEND=noninteractive
                apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1 ||
                    { apt-get update -qq >/dev/null 2>&1 &&
                      apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; }
            fi
            "$PY" -c "import test.$1" >/dev/null 2>&1 && return 0
            echo "python3 ($PY) has no test.$1 and $pkg could not be installed"
        else
            echo "python3 ($PY) has no test.$1 (Debian's $pkg does not ship it)"
        fi ;;
    *)  echo "python3 ($PY) has no test.$1, and it is not Debian's /usr/bin/python3" ;;
    esac
    return 1
}
# suite_run NAME MOD RUNNER...: outcomes in $T/NAME.{rc,summary,cases}
suite_run() {
    local name=$1 mod=$2
    shift 2
    mkdir -p "$T/$name.tmp"
    (cd "$T/$name.tmp" && TMPDIR="$T/$name.tmp" "$@" "$PY" -m test --junit-xml "$T/$name.xml" \
        "$mod" >"$T/$name.out" 2>&1)
    echo $? >"$T/$name.rc"
    # The summary lines of python -m test (3.11.7 and 3.11.2 word them apart).
    grep -E '^(Total tests:|Result:|Tests result:|== Tests result:|All [0-9]+ tests OK|[0-9]+ tests? OK|[0-9]+ tests? (failed|skipped))' \
        "$T/$name.out" >"$T/$name.summary"
    "$PY" - "$T/$name.xml" >"$T/$name.cases" <<'PYEOF'
import sys, xml.etree.ElementTree as ET
try:
    root = ET.parse(sys.argv[1]).getroot()
except Exception as e:
    print("no junit xml: %s" % e); sys.exit(0)
for tc in root.iter("testcase"):
    out = "ok"
    for kind in ("skipped", "failure", "error"):
        if tc.find(kind) is not None:
            out = kind
    print(tc.get("name"), out)
PYEOF
}
cpython_suite() {
    local mod=$1 name why
    why=$(have_suite "$mod") || { echo "$why"; return 77; }
    suite_run native "$mod" env -u LD_PRELOAD &
    suite_run fix "$mod" env LOCKSCOPE_LOG="$T/fix.log" "$LAUNCH" -- &
    wait
    suite_run audit "$mod" env LOCKSCOPE_LOG="$T/audit.log" "$LAUNCH" --mode=audit -- &
    suite_run strict "$mod" env LOCKSCOPE_LOG="$T/strict.log" "$LAUNCH" --mode=strict -- &
    wait
    expect "native status" "$(cat "$T/native.rc")" 0
    expect_match "native result" "$(cat "$T/native.summary")" "(^Result|Tests result): SUCCESS"
    expect_match "native case count" "$(wc -l <"$T/native.cases")" "^[1-9][0-9]*$"
    echo "native: $(tr '\n' ' ' <"$T/native.summary")"
    for name in fix audit strict; do
        expect "$name status" "$(cat "$T/$name.rc")" "$(cat "$T/native.rc")"
        expect "$name summary" "$(cat "$T/$name.summary")" "$(cat "$T/native.summary")"
        if ! cmp -s "$T/native.cases" "$T/$name.cases"; then
            fail "$name: per-test outcomes differ from native:"
            diff "$T/native.cases" "$T/$name.cases" | head -20
        fi
    done
    if [ "$FAILS" -gt 0 ]; then
        echo "fix run output (tail):"
        tail -15 "$T/fix.out"
    fi
    check_logs
}
t_cpython_sqlite3() { cpython_suite test_sqlite3; }
t_cpython_fcntl() { cpython_suite test_fcntl; }

# ---------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------
# NAME LIMIT(seconds) FUNCTION
TESTS=(
    "sqlite-python-handoff          60 t_sqlite_python_handoff"
    "sqlite-python-handoff-naive    30 t_sqlite_python_handoff_naive_breaks"
    "sqlite-python-handoff-stress  120 t_sqlite_python_handoff_stress"
    "sqlite-cli-concurrent          90 t_sqlite_cli_concurrent"
    "sqlite-python-threads          90 t_sqlite_python_threads"
    "sqlite-debug-decision          30 t_sqlite_debug_decision"
    "sqlite-scope-process           60 t_sqlite_scope_process"
    "scope-rule-paths               30 t_scope_rule_paths"
    "sqlite-busy-quiet              30 t_sqlite_busy_quiet"
    "sqlite-pending-moved           60 t_sqlite_pending_moved"
    "sqlite-ro-then-rw              30 t_sqlite_ro_then_rw"
    "flock-sqlite-strict            30 t_flock_sqlite_strict"
    "sqlite-python-fork            180 t_sqlite_python_fork"
    "sqlite-corrupt-2.2             30 t_sqlite_corrupt_2_2"
    "python-fcntl-rule1             60 t_python_fcntl_rule1"
    "python-fcntl-threads           30 t_python_fcntl_threads"
    "python-fcntl-fork              30 t_python_fcntl_fork"
    "python-fcntl-exec              30 t_python_fcntl_exec"
    "flock-mutex                    60 t_flock_mutex"
    "flock-nonblock                 60 t_flock_nonblock"
    "flock-shared                   60 t_flock_shared"
    "basics                         30 t_basics"
    "cpython-test-sqlite3          120 t_cpython_sqlite3"
    "cpython-test-fcntl            120 t_cpython_fcntl"
)

if [ -n "$ONE" ]; then
    for t in "${TESTS[@]}"; do
        read -r name limit fn <<<"$t"
        if [ "$name" = "$ONE" ]; then
            T=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-real.XXXXXX") || exit 2
            T=$(cd "$T" && pwd -P)
            export XDG_CONFIG_HOME="$T/xdg"   # no user config file takes part
            trap 'rm -rf "$T"' EXIT
            case "$T" in *[\ :]*) echo "temp dir $T has a space or colon"; exit 1 ;; esac
            cd "$T" || exit 2
            "$fn" </dev/null
            rc=$?
            [ "$rc" = 77 ] && exit 77
            [ "$rc" = 0 ] && [ "$FAILS" = 0 ] && exit 0
            exit 1
        fi
    done
    echo "no test $ONE"
    exit 2
fi

pass=0 failed=0 skipped=0
missing=
[ -f "$LIB" ] || missing="$missing $LIB"
[ -x "$LAUNCH" ] || missing="$missing $LAUNCH"
[ -n "$PY" ] || missing="$missing python3"
[ -n "$SQLITE3" ] || missing="$missing sqlite3"
command -v flock >/dev/null 2>&1 || missing="$missing flock"
command -v timeout >/dev/null 2>&1 || missing="$missing timeout"
if [ -n "$missing" ]; then
    echo "not ok - prerequisites"
    echo "#   missing:$missing"
    echo "0 passed, 1 failed"
    exit 1
fi
echo "# python3: $PY ($("$PY" -c 'import sys, sqlite3; print("Python %s, SQLite %s" % (sys.version.split()[0], sqlite3.sqlite_version))'))"
echo "# sqlite3: $SQLITE3 ($("$SQLITE3" --version | cut -d' ' -f1)), flock: $(command -v flock)"

selected() {
    local g
    if [ $# -gt 0 ]; then
        local hit=
        for g in "$@"; do
            # shellcheck disable=SC2254
            case "$NAME" in $g) hit=1 ;; esac
        done
        [ -n "$hit" ] || return 1
    fi
    for g in ${REAL_SKIP:-}; do
        # shellcheck disable=SC2254
        case "$NAME" in $g) return 2 ;; esac
    done
    return 0
}

for t in "${TESTS[@]}"; do
    read -r NAME limit fn <<<"$t"
    selected "$@"
    case $? in
    1) continue ;;
    2) echo "ok - $NAME # SKIP in REAL_SKIP"; skipped=$((skipped + 1)); continue ;;
    esac
    start=$(date +%s.%N)
    out=$(timeout -k 5 "$limit" bash "$SELF" --one "$NAME" "$BUILD" 2>&1)
    rc=$?
    secs=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    case $rc in
    0)  echo "ok - $NAME"
        pass=$((pass + 1))
        [ "${REAL_VERBOSE:-}" = 1 ] && [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/#   /' ;;
    77) echo "ok - $NAME # SKIP $(printf '%s\n' "$out" | tail -1)"
        skipped=$((skipped + 1)) ;;
    *)  echo "not ok - $NAME"
        failed=$((failed + 1))
        [ $rc = 124 ] || [ $rc = 137 ] && echo "#   timed out after ${limit}s"
        printf '%s\n' "$out" | sed 's/^/#   /' ;;
    esac
    TIMES="${TIMES:-}$NAME=${secs}s "
done
echo "# times: ${TIMES:-}"
if [ "$skipped" -gt 0 ]; then
    echo "$pass passed, $failed failed, $skipped skipped"
else
    echo "$pass passed, $failed failed"
fi
[ "$failed" -eq 0 ]
