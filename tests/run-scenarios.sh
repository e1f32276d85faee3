#!/usr/bin/env bash
# run-scenarios.sh - run scenario programs natively and under the shim in
# every mode, and compare what they print with tests/scenarios/expect/.
#
# usage: tests/run-scenarios.sh [BUILD_DIR] [NAME...]
#
#   BUILD_DIR  default "build" (of this checkout); the scenarios are BUILD_DIR/scenarios/NAME and
#              their large-file twins BUILD_DIR/scenarios/NAME.lfs, the shim is
#              BUILD_DIR/liblockscope.so.  The first argument is taken as
#              BUILD_DIR when it is a directory.
#   NAME       a scenario name (runs NAME and NAME.lfs) or NAME.lfs (only the
#              twin); default: every scenario binary found.
#
# Each run: timeout 30, stdin /dev/null, SCEN_DIR=<fresh temp dir>.  Modes:
#   native  no LD_PRELOAD                       expect NAME.native
#   off     shim, LOCKSCOPE_MODE=off            expect NAME.native
#   audit   shim, LOCKSCOPE_MODE=audit          expect NAME.native
#   fix     shim, LOCKSCOPE_MODE=fix            expect NAME.fix
#   strict  shim, LOCKSCOPE_MODE=strict         expect NAME.strict, else NAME.fix
# Under the shim: LD_PRELOAD=[$SCEN_PRELOAD_FIRST:]<abs BUILD_DIR/liblockscope.so>,
# LOCKSCOPE_LOG=<temp file>, LOCKSCOPE_FORMAT=json.
#
# Stdout lines starting with '#' are comments (ignored), in expect files too.
# A run passes when the output matches, the exit status is 0 and the hazard
# log satisfies:
#   - every line is one JSON object with every contract field, whose "mode" is
#     the run's mode and whose "action" is observed|prevented|refused;
#   - off: no record at all; audit: every action is "observed";
#   - expect/NAME.hazards.MODE (MODE audit|fix|strict), if present: each line
#     "HAZARD ACTION" must match at least one record; a line "none" means the
#     log must hold no record.
# Optional expect/NAME.env: "VAR=VALUE" lines added to the environment of the
# shim modes (e.g. LOCKSCOPE_OPEN_LOCK=...).
# A scenario that exits with status 77 is reported skipped.
#
# Environment: SCEN_MODES (default "native off audit fix strict") restricts
# the modes; SCEN_NO_LFS=1 skips the .lfs twins; SCEN_PRELOAD_FIRST is put first in LD_PRELOAD (sanitizer
# runtime); SCEN_VERBOSE=1 shows stderr of passing runs too.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
expdir="$here/scenarios/expect"

build="$here/../build"
if [ $# -gt 0 ] && [ -d "$1" ]; then
    build=$1
    shift
fi
build=$(cd "$build" 2>/dev/null && pwd) || { echo "run-scenarios: no build directory" >&2; exit 2; }
scendir="$build/scenarios"
lib="$build/liblockscope.so"
modes=${SCEN_MODES:-native off audit fix strict}

command -v python3 >/dev/null 2>&1 || { echo "run-scenarios: python3 is needed" >&2; exit 2; }

# ---- which binaries -------------------------------------------------------
bins=()
if [ $# -eq 0 ]; then
    if [ -d "$scendir" ]; then
        for f in "$scendir"/*; do
            [ -f "$f" ] && [ -x "$f" ] && bins+=("$(basename "$f")")
        done
    fi
else
    for n in "$@"; do
        n=$(basename "$n")
        case "$n" in
        *.lfs) bins+=("$n") ;;
        *)     bins+=("$n" "$n.lfs") ;;
        esac
    done
fi

# SCEN_NO_LFS=1: leave the large-file twins out (sanitizer runs, to save time)
if [ "${SCEN_NO_LFS:-0}" = 1 ]; then
    keep=()
    for b in "${bins[@]}"; do case "$b" in *.lfs) ;; *) keep+=("$b") ;; esac; done
    bins=("${keep[@]}")
fi

passed=0 failed=0 skipped=0
tmproot=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-run.XXXXXX") || exit 2
trap 'rm -rf "$tmproot"' EXIT

# check_log LOG MODE [HAZARDS_FILE] -> prints problems, exit status 1 if any
check_log() {
    python3 - "$@" <<'PYEOF'
import json, sys
log, mode = sys.argv[1], sys.argv[2]
want_file = sys.argv[3] if len(sys.argv) > 3 else None
FIELDS = ["hazard", "action", "mode", "pid", "tid", "fd", "path", "dev", "ino",
          "type", "start", "len", "call", "site", "time"]
problems, records = [], []
try:
    with open(log, "rb") as f:
        data = f.read()
except FileNotFoundError:
    data = b""
for i, raw in enumerate(data.split(b"\n"), 1):
    if not raw.strip():
        continue
    try:
        rec = json.loads(raw.decode("utf-8", "replace"))
    except ValueError as e:
        problems.append("log line %d is not JSON (%s): %r" % (i, e, raw[:200]))
        continue
    if not isinstance(rec, dict):
        problems.append("log line %d is not a JSON object" % i)
        continue
    missing = [k for k in FIELDS if k not in rec]
    if missing:
        problems.append("log line %d lacks field(s) %s" % (i, ",".join(missing)))
    if rec.get("mode") != mode:
        problems.append("log line %d has mode %r in a %s run" % (i, rec.get("mode"), mode))
    if rec.get("action") not in ("observed", "prevented", "refused"):
        problems.append("log line %d has action %r" % (i, rec.get("action")))
    records.append(rec)
if mode == "off" and records:
    problems.append("mode off must report nothing, log has %d record(s)" % len(records))
if mode == "audit":
    for r in records:
        if r.get("action") != "observed":
            problems.append("audit record %s/%s: audit only observes" % (r.get("hazard"), r.get("action")))
if want_file:
    seen = {(r.get("hazard"), r.get("action")) for r in records}
    with open(want_file) as f:
        for line in f:
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            if line == "none":
                if records:
                    problems.append("expected no hazard record, got %d: %s" % (len(records),
                        ", ".join(sorted("%s %s" % k for k in seen))))
                continue
            parts = line.split()
            if len(parts) != 2:
                problems.append("bad line in %s: %r" % (want_file, line))
                continue
            if (parts[0], parts[1]) not in seen:
                problems.append("missing hazard record: %s %s (have: %s)" % (parts[0], parts[1],
                    ", ".join(sorted("%s %s" % k for k in seen)) or "none"))
for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PYEOF
}

nocomment() { grep -v '^#' "$1" 2>/dev/null; true; }

run_one() {   # run_one BIN MODE
    local bin=$1 mode=$2
    local name=${bin%.lfs}
    local label="$bin $mode"
    local exp
    case "$mode" in
    native|off|audit) exp="$expdir/$name.native" ;;
    fix)              exp="$expdir/$name.fix" ;;
    strict)           exp="$expdir/$name.strict"; [ -f "$exp" ] || exp="$expdir/$name.fix" ;;
    *) echo "not ok - $label (unknown mode)"; failed=$((failed + 1)); return ;;
    esac

    if [ ! -x "$scendir/$bin" ]; then
        echo "not ok - $label (no such scenario binary: $scendir/$bin)"
        failed=$((failed + 1)); return
    fi
    if [ "$mode" != native ] && [ ! -f "$lib" ]; then
        echo "not ok - $label (no shim: $lib missing)"
        failed=$((failed + 1)); return
    fi

    local w
    w=$(mktemp -d "$tmproot/run.XXXXXX")
    mkdir "$w/scen" "$w/xdg"
    : > "$w/log"

    # A clean environment: no inherited preload, no inherited LOCKSCOPE_
    # settings (except the harmless debug/backtrace switches), no user config.
    local -a envargs=(env -u LD_PRELOAD)
    local v
    for v in $(compgen -e); do
        case "$v" in
        LOCKSCOPE_DEBUG|LOCKSCOPE_BACKTRACE) ;;
        LOCKSCOPE_*) envargs+=(-u "$v") ;;
        esac
    done
    envargs+=("SCEN_DIR=$w/scen" "XDG_CONFIG_HOME=$w/xdg")
    if [ "$mode" != native ]; then
        local pre=$lib
        [ -n "${SCEN_PRELOAD_FIRST:-}" ] && pre="$SCEN_PRELOAD_FIRST:$lib"
        envargs+=("LD_PRELOAD=$pre" "LOCKSCOPE_MODE=$mode" "LOCKSCOPE_LOG=$w/log" "LOCKSCOPE_FORMAT=json")
        if [ -f "$expdir/$name.env" ]; then
            local line
            while IFS= read -r line || [ -n "$line" ]; do
                case "$line" in ''|'#'*) continue ;; esac
                envargs+=("$line")
            done < "$expdir/$name.env"
        fi
    fi

    (cd "$w/scen" && timeout -k 5 30 "${envargs[@]}" "$scendir/$bin" </dev/null >"$w/out" 2>"$w/err")
    local st=$?

    if [ $st -eq 77 ]; then
        echo "ok - $label # skip $(nocomment "$w/out" | tail -n 1)"
        skipped=$((skipped + 1))
        rm -rf "$w"; return
    fi

    if [ ! -f "$exp" ]; then
        echo "not ok - $label (no expectation: $exp)"
        failed=$((failed + 1))
        rm -rf "$w"; return
    fi

    local why=()
    nocomment "$w/out" > "$w/got"
    nocomment "$exp" > "$w/want"
    if ! cmp -s "$w/want" "$w/got"; then
        why+=("output differs from $(basename "$exp")")
    fi
    if [ $st -eq 124 ]; then
        why+=("timed out after 30 s")
    elif [ $st -ne 0 ]; then
        if [ $st -gt 128 ]; then
            why+=("exit status $st (signal $((st - 128)))")
        else
            why+=("exit status $st")
        fi
    fi
    local logmsg=""
    if [ "$mode" != native ]; then
        local -a hz=()
        [ -f "$expdir/$name.hazards.$mode" ] && hz=("$expdir/$name.hazards.$mode")
        if ! logmsg=$(check_log "$w/log" "$mode" "${hz[@]}" 2>&1); then
            why+=("hazard log")
        fi
    fi

    if [ ${#why[@]} -eq 0 ]; then
        echo "ok - $label"
        passed=$((passed + 1))
        if [ "${SCEN_VERBOSE:-0}" = 1 ] && [ -s "$w/err" ]; then
            sed 's/^/#   stderr: /' "$w/err"
        fi
    else
        local reasons
        reasons=$(printf '%s; ' "${why[@]}")
        echo "not ok - $label (${reasons%; })"
        failed=$((failed + 1))
        if ! cmp -s "$w/want" "$w/got"; then
            diff -u --label "expected ($(basename "$exp"))" --label "actual" "$w/want" "$w/got" | sed 's/^/#   /'
        fi
        [ -n "$logmsg" ] && printf '%s\n' "$logmsg" | sed 's/^/#   log: /'
        if [ -s "$w/err" ]; then
            echo "#   stderr (tail):"
            tail -n 15 "$w/err" | sed 's/^/#     /'
        fi
        if [ "$mode" != native ]; then
            if [ -s "$w/log" ]; then
                echo "#   hazard log (tail):"
                tail -n 10 "$w/log" | cut -c1-400 | sed 's/^/#     /'
            else
                echo "#   hazard log: empty"
            fi
        fi
    fi
    rm -rf "$w"
}

if [ ${#bins[@]} -eq 0 ]; then
    echo "run-scenarios: no scenario binaries in $scendir (run 'make scenarios')" >&2
fi

for b in "${bins[@]}"; do
    for m in $modes; do
        run_one "$b" "$m"
    done
done

summary="$passed passed, $failed failed"
[ $skipped -gt 0 ] && summary="$summary, $skipped skipped"
echo "$summary"
[ $failed -eq 0 ] && [ ${#bins[@]} -gt 0 ]
exit $?
