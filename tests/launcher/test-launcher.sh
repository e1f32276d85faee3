#!/usr/bin/env bash
# test-launcher.sh [BUILD_DIR] - tests of the `lockscope` command's launcher.
#
# Copies BUILD_DIR/lockscope (default build/lockscope) into temporary
# layouts next to an empty dummy liblockscope.so, so that neither the real
# shim nor an installed copy takes part, and checks what the launcher hands
# to the program it execs: the LOCKSCOPE_* variables, LD_PRELOAD, argv, the
# exit status and the descriptors.  One line per check, "ok - NAME" or
# "not ok - NAME", then "N passed, N failed"; exits 1 if any check failed.
#
# Environment: CC (compiler for the dummy libraries, default cc),
# PREFIX (the prefix the launcher was built with, default /usr/local: the
# "library missing" check needs PREFIX/lib/lockscope/liblockscope.so absent).
# shellcheck disable=SC2016  # sh -c scripts are single-quoted on purpose
set -u

BUILD=${1:-build}
CC=${CC:-cc}
PREFIX=${PREFIX:-/usr/local}

. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"   # ok, not_ok, skipped, finish

if [ ! -x "$BUILD/lockscope" ]; then
    not_ok "launcher exists" "$BUILD/lockscope is missing or not executable"
    finish
fi
SRC_LAUNCHER=$(cd "$BUILD" && pwd -P)/lockscope

# A work directory whose path ld.so can preload from (no space, no colon).
T=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-launcher.XXXXXX" 2>/dev/null) || T=
case "$T" in
    "" | *[\ :]*) [ -n "$T" ] && rmdir "$T"
                  T=$(mktemp -d /tmp/lockscope-launcher.XXXXXX) ;;
esac
trap 'rm -rf "$T"' EXIT
T=$(cd "$T" && pwd -P)

# Nothing inherited may leak into what the checks look at.
for v in $(compgen -e); do
    case "$v" in LOCKSCOPE_*) unset "$v" ;; esac
done
unset LD_PRELOAD
# A launcher built with ASan must tolerate the dummy preloads placed ahead of
# its runtime by the LD_PRELOAD checks.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0"

DUMMY=$T/dummy.so
if ! "$CC" -shared -fPIC -o "$DUMMY" -x c /dev/null 2>"$T/cc.err"; then
    not_ok "build a dummy shared library with $CC" "$(cat "$T/cc.err")"
    finish
fi

# install_at DIR [LIBDIR]: a copy of the launcher in DIR, the dummy library
# next to it (or in LIBDIR when given; "-" for none).
install_at() {
    mkdir -p "$1"
    cp "$SRC_LAUNCHER" "$1/lockscope"
    local libdir=${2:-$1}
    if [ "$libdir" != - ]; then
        mkdir -p "$libdir"
        cp "$DUMMY" "$libdir/liblockscope.so"
    fi
}

install_at "$T/bin"
L=$T/bin/lockscope
LIB=$T/bin/liblockscope.so
ASAN=$T/pre/libasan.so.8
CLANG_RT=$T/pre/libclang_rt.asan-x86_64.so
FOO=$T/pre/libfoo.so
BAR=$T/pre/libbar.so
mkdir -p "$T/pre" "$T/wd/sub"
for f in "$ASAN" "$CLANG_RT" "$FOO" "$BAR"; do cp "$DUMMY" "$f"; done

# A program that shows its arguments and the mode it was given.
cat >"$T/args.sh" <<'EOF'
#!/bin/sh
for a in "$@"; do printf 'ARG:%s\n' "$a"; done
printf 'MODE:%s\n' "${LOCKSCOPE_MODE-unset}"
EOF
chmod +x "$T/args.sh"

# run CMD...: stdout in $T/out, stderr in $T/err, status in $rc.
run() {
    "$@" >"$T/out" 2>"$T/err"
    rc=$?
}
out_has()  { grep -qx -- "$1" "$T/out"; }
err_has()  { grep -qF -- "$1" "$T/err"; }
diag()     { echo "exit $rc" "stdout: $(head -c 600 "$T/out")" "stderr: $(head -c 600 "$T/err")"; }

# expect_env NAME LINE CMD...: CMD (which runs env) shows exactly LINE.
expect_env() {
    local name=$1 line=$2
    shift 2
    run "$@"
    if [ "$rc" -eq 0 ] && out_has "$line"; then
        ok "$name"
    else
        local d
        mapfile -t d < <(diag)
        not_ok "$name" "expected '$line'" "${d[@]}"
    fi
}

# expect_fail NAME STATUS TEXT CMD...: CMD exits STATUS, stderr holds TEXT.
expect_fail() {
    local name=$1 status=$2 text=$3
    shift 3
    run "$@"
    if [ "$rc" -eq "$status" ] && err_has "$text"; then
        ok "$name"
    else
        local d
        mapfile -t d < <(diag)
        not_ok "$name" "expected exit $status and '$text' on stderr" "${d[@]}"
    fi
}

# preload_is NAME EXPECTED INCOMING: the child's LD_PRELOAD when the
# launcher starts with LD_PRELOAD=INCOMING ("" for unset).
preload_is() {
    local name=$1 want=$2 incoming=$3
    if [ -n "$incoming" ]; then
        run env LD_PRELOAD="$incoming" "$L" env
    else
        run "$L" env
    fi
    if [ "$rc" -eq 0 ] && out_has "LD_PRELOAD=$want"; then
        ok "$name"
    else
        local d
        mapfile -t d < <(diag)
        not_ok "$name" "expected LD_PRELOAD=$want" "got: $(grep '^LD_PRELOAD=' "$T/out")" "${d[@]}"
    fi
}

# ---- --help, --version ------------------------------------------------

run "$L" --help
if [ "$rc" -eq 0 ] && grep -q 'Usage: lockscope' "$T/out" && grep -q 'report' "$T/out" &&
   [ ! -s "$T/err" ]; then
    ok "--help prints usage on stdout, exit 0"
else
    not_ok "--help prints usage on stdout, exit 0" "$(diag)"
fi

run "$L" --version
if [ "$rc" -eq 0 ] && grep -Eqx 'lockscope [0-9]+\.[0-9]+[^ ]*' "$T/out"; then
    ok "--version prints 'lockscope VERSION', exit 0"
else
    not_ok "--version prints 'lockscope VERSION', exit 0" "$(diag)"
fi

# ---- options become environment variables ---------------------------------

expect_env "--mode=audit sets LOCKSCOPE_MODE" LOCKSCOPE_MODE=audit "$L" --mode=audit -- env
expect_env "--mode audit (separate value)" LOCKSCOPE_MODE=audit "$L" --mode audit env
expect_env "--mode=off" LOCKSCOPE_MODE=off "$L" --mode=off env
expect_env "--mode=fix" LOCKSCOPE_MODE=fix "$L" --mode=fix env
expect_env "--mode=strict" LOCKSCOPE_MODE=strict "$L" --mode=strict env
expect_env "--audit sets LOCKSCOPE_MODE=audit" LOCKSCOPE_MODE=audit "$L" --audit env
expect_env "--strict sets LOCKSCOPE_MODE=strict" LOCKSCOPE_MODE=strict "$L" --strict env
expect_env "last mode option wins" LOCKSCOPE_MODE=strict "$L" --audit --strict env
expect_env "--format=json sets LOCKSCOPE_FORMAT" LOCKSCOPE_FORMAT=json "$L" --format=json env
expect_env "--format text (separate value)" LOCKSCOPE_FORMAT=text "$L" --format text env
expect_env "--debug sets LOCKSCOPE_DEBUG=1" LOCKSCOPE_DEBUG=1 "$L" --debug env
expect_env "--log=stderr stays stderr" LOCKSCOPE_LOG=stderr "$L" --log=stderr env
expect_env "--log=/abs/path kept" LOCKSCOPE_LOG=/var/tmp/x.jsonl "$L" --log=/var/tmp/x.jsonl env
expect_env "relative --log made absolute" "LOCKSCOPE_LOG=$T/wd/sub/a.jsonl" \
    sh -c 'cd "$1/wd" && exec "$2" --log=sub/a.jsonl env' sh "$T" "$L"
expect_env "relative --log FILE (separate value) made absolute" "LOCKSCOPE_LOG=$T/wd/a.jsonl" \
    sh -c 'cd "$1/wd" && exec "$2" --log ./a.jsonl env' sh "$T" "$L"
expect_env "relative --config made absolute" "LOCKSCOPE_CONFIG=$T/wd/ls.conf" \
    sh -c 'cd "$1/wd" && exec "$2" --config=ls.conf env' sh "$T" "$L"
expect_env "--config /abs kept" LOCKSCOPE_CONFIG=/etc/lockscope.conf "$L" --config /etc/lockscope.conf env
expect_env "all options together" LOCKSCOPE_MODE=audit \
    "$L" --debug --format=json --log=stderr --config=/x --audit -- env

run "$L" env
if [ "$rc" -eq 0 ] && ! grep -q '^LOCKSCOPE_' "$T/out"; then
    ok "no options: no LOCKSCOPE_ variable set"
else
    not_ok "no options: no LOCKSCOPE_ variable set" "$(grep '^LOCKSCOPE_' "$T/out")"
fi
expect_env "inherited LOCKSCOPE_MODE passes through" LOCKSCOPE_MODE=strict \
    env LOCKSCOPE_MODE=strict "$L" env
expect_env "an option overrides the inherited variable" LOCKSCOPE_MODE=audit \
    env LOCKSCOPE_MODE=strict "$L" --audit env

# ---- LD_PRELOAD composition ---------------------------------------------

preload_is "LD_PRELOAD: ours alone when unset" "$LIB" ""
preload_is "LD_PRELOAD: ours first, before an existing entry" "$LIB:$FOO" "$FOO"
preload_is "LD_PRELOAD: order of existing entries kept" "$LIB:$FOO:$BAR" "$FOO:$BAR"
preload_is "LD_PRELOAD: space-separated input" "$LIB:$FOO:$BAR" "$FOO $BAR"
preload_is "LD_PRELOAD: empty entries dropped" "$LIB:$FOO" "::$FOO: :"
preload_is "LD_PRELOAD: after a first libasan entry" "$ASAN:$LIB:$FOO" "$ASAN:$FOO"
preload_is "LD_PRELOAD: after a first libclang_rt entry" "$CLANG_RT:$LIB" "$CLANG_RT"
preload_is "LD_PRELOAD: first only when libasan is not first" "$LIB:$FOO:$ASAN" "$FOO:$ASAN"
preload_is "LD_PRELOAD: no duplicate of ours" "$LIB:$FOO" "$FOO:$LIB"
preload_is "LD_PRELOAD: ours already alone" "$LIB" "$LIB"
preload_is "LD_PRELOAD: duplicate removed, libasan then first" "$ASAN:$LIB:$FOO" "$LIB:$ASAN:$FOO"
mkdir -p "$T/pre/old"
cp "$DUMMY" "$T/pre/old/liblockscope.so"
preload_is "LD_PRELOAD: another build's liblockscope.so replaced" "$LIB:$FOO" "$T/pre/old/liblockscope.so:$FOO"

# ---- library lookup -------------------------------------------------------

install_at "$T/both/bin"
mkdir -p "$T/both/lib/lockscope"
cp "$DUMMY" "$T/both/lib/lockscope/liblockscope.so"
LSAVE=$L
L=$T/both/bin/lockscope
preload_is "lookup: next to the binary first" "$T/both/bin/liblockscope.so" ""

install_at "$T/inst/bin" "$T/inst/lib/lockscope"
L=$T/inst/bin/lockscope
preload_is "lookup: then ../lib/lockscope/" "$T/inst/lib/lockscope/liblockscope.so" ""

# A symlinked launcher finds the library of its real path, not of the link.
install_at "$T/link"
rm "$T/link/lockscope"
ln -s "$T/inst/bin/lockscope" "$T/link/lockscope"
L=$T/link/lockscope
preload_is "lookup: relative to the launcher's real path" "$T/inst/lib/lockscope/liblockscope.so" ""

# The library is named by its real path.
install_at "$T/symlib" -
mkdir -p "$T/real"
cp "$DUMMY" "$T/real/liblockscope-1.so"
ln -s ../real/liblockscope-1.so "$T/symlib/liblockscope.so"
L=$T/symlib/lockscope
preload_is "lookup: library's real path used" "$T/real/liblockscope-1.so" ""

install_at "$T/none/bin" -
if [ -e "$PREFIX/lib/lockscope/liblockscope.so" ]; then
    ok "lookup: missing library -> 127 # SKIP $PREFIX/lib/lockscope/liblockscope.so is installed"
else
    expect_fail "lookup: missing library -> 127, names where it looked" 127 \
        "$T/none/bin/liblockscope.so" "$T/none/bin/lockscope" env
    if ! err_has "$T/none/lib/lockscope/liblockscope.so" || ! err_has "$PREFIX/lib/lockscope"; then
        not_ok "lookup: missing-library message lists all three places" "$(cat "$T/err")"
    else
        ok "lookup: missing-library message lists all three places"
    fi
fi

install_at "$T/sp ace/bin"
expect_fail "library path with a space refused (127)" 127 "space" "$T/sp ace/bin/lockscope" env
install_at "$T/co:lon/bin"
expect_fail "library path with a colon refused (127)" 127 "colon" "$T/co:lon/bin/lockscope" env

L=$LSAVE

# ---- exec ---------------------------------------------------------------

expect_fail "program not found -> 127" 127 \
    "lockscope: no-such-command-lockscope: command not found" "$L" no-such-command-lockscope
expect_fail "program path not found -> 127" 127 "$T/missing" "$L" "$T/missing"

printf '#!/bin/sh\nexit 0\n' >"$T/noexec.sh"
chmod 644 "$T/noexec.sh"
expect_fail "non-executable program -> 126" 126 "$T/noexec.sh" "$L" "$T/noexec.sh"
expect_fail "directory as program -> 126" 126 "$T/wd" "$L" "$T/wd"

run "$L" sh -c 'exit 7'
if [ "$rc" -eq 7 ]; then ok "program's exit status passed through (7)"; else not_ok "program's exit status passed through (7)" "$(diag)"; fi
# (in a command substitution, so that bash does not print "Terminated")
rc=$("$L" sh -c 'kill -TERM $$' >/dev/null 2>&1; echo $?)
if [ "$rc" -eq 143 ]; then ok "death by signal passed through"; else not_ok "death by signal passed through" "$(diag)"; fi

mkdir -p "$T/path"
cp "$T/args.sh" "$T/path/lsargs"
run env PATH="$T/path:$PATH" "$L" lsargs a
if [ "$rc" -eq 0 ] && out_has ARG:a; then ok "program searched in PATH"; else not_ok "program searched in PATH" "$(diag)"; fi

# The program sees exactly the descriptors the launcher was given.
sh -c 'ls /proc/$$/fd' >"$T/fd.native" 2>/dev/null
"$L" sh -c 'ls /proc/$$/fd' >"$T/fd.launched" 2>/dev/null
if [ -s "$T/fd.native" ] && cmp -s "$T/fd.native" "$T/fd.launched"; then
    ok "no descriptor leaked into the program"
else
    not_ok "no descriptor leaked into the program" "native: $(tr '\n' ' ' <"$T/fd.native")" \
        "launched: $(tr '\n' ' ' <"$T/fd.launched")"
fi

# ---- argument parsing --------------------------------------------------

expect_fail "bad --mode -> 2, names the flag" 2 "--mode" "$L" --mode=bogus env
if err_has bogus && [ "$(wc -l <"$T/err")" -eq 1 ]; then ok "bad --mode: one line naming the value"; else not_ok "bad --mode: one line naming the value" "$(cat "$T/err")"; fi
expect_fail "bad --mode (separate value) -> 2" 2 "--mode" "$L" --mode bogus env
expect_fail "bad --format -> 2, names the flag" 2 "--format" "$L" --format=xml env
expect_fail "unknown option -> 2" 2 "--bogus" "$L" --bogus env
expect_fail "missing option value -> 2" 2 "--log" "$L" --log
expect_fail "empty option value -> 2" 2 "--log" "$L" --log= env
expect_fail "no program -> 2" 2 "PROGRAM" "$L" --audit

run "$L" --mode=audit -- "$T/args.sh" --strict
if [ "$rc" -eq 0 ] && out_has ARG:--strict && out_has MODE:audit; then
    ok "-- ends options"
else
    not_ok "-- ends options" "$(diag)"
fi
run "$L" -- "$T/args.sh" -- x
if [ "$rc" -eq 0 ] && out_has ARG:-- && out_has ARG:x; then
    ok "only the first -- is the launcher's"
else
    not_ok "only the first -- is the launcher's" "$(diag)"
fi
run "$L" "$T/args.sh" --mode=x --audit -l
if [ "$rc" -eq 0 ] && out_has ARG:--mode=x && out_has ARG:--audit && out_has ARG:-l && out_has MODE:unset; then
    ok "first non-option stops parsing"
else
    not_ok "first non-option stops parsing" "$(diag)"
fi
run "$L" env --mode=x
if [ "$rc" -ne 2 ] && ! err_has "lockscope:" && err_has "mode=x"; then
    ok "lockscope env --mode=x passes --mode=x to env"
else
    not_ok "lockscope env --mode=x passes --mode=x to env" "$(diag)"
fi

# ---- report subcommand ------------------------------------------------------

run "$L" report "$T/no-such-log.jsonl"
if [ "$rc" -ne 127 ] && ! err_has "command not found" && ! err_has "liblockscope.so"; then
    ok "report is dispatched to the subcommand"
else
    not_ok "report is dispatched to the subcommand" "$(diag)"
fi

finish
