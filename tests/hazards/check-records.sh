#!/usr/bin/env bash
# check-records.sh - hazard records field by field, and what is built on them.
#
# usage: tests/hazards/check-records.sh [BUILD_DIR]      (default: build)
#
# The scenario runner (tests/run-scenarios.sh) checks that each scenario
# produces records of the right hazard and action.  This script checks the
# records themselves, from scenario binaries run under the shim:
#   fields     every field of specific records: fd, path (absolute), dev
#              "MAJ:MIN", ino, type, start/len resolved to SEEK_SET, call
#              (fcntl/lockf, fcntl64/lockf64 in the large-file twins), site
#              "MODULE+0xOFF" that addr2line resolves to the calling line,
#              pid, tid, mode, action, time (seconds.microseconds, during
#              the run), backtrace null; no record from lines that must not
#              give one, and nothing but records in the log
#   eintr, flock-fcntl-mix across processes, getlk-ofd-pid: record fields
#   abort      LOCKSCOPE_ABORT=1: SIGABRT at the first hazard, its record in
#              the log (written by one write(2), seen with strace if present)
#   backtrace  LOCKSCOPE_BACKTRACE=1: "backtrace" is a non-empty array of
#              "module+0x..." strings that includes the calling program
#   flood      1000 identical hazards from one call site: a few records whose
#              "repeat" fields sum to 1000; the rest written at exit; a forked
#              child never writes its parent's pending repeats
#   log fd     the log descriptor survives closefrom(3), and a record after
#              a raw close_range + dup3 onto its number goes to the log,
#              not into the program's file
#   text       LOCKSCOPE_LOG unset: one text line per record on stderr, with
#              the hazard name; LOCKSCOPE_LOG=stderr + FORMAT=json: JSON there
#   report     `lockscope report` and `report --json` on these logs: counts
#              per hazard, per action, per call site match the logs
# Prints "ok - X" / "not ok - X" lines, ends with "N passed, N failed", and
# exits 1 when anything failed.
set -u

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-$here/../../build}
build=$(cd "$build" 2>/dev/null && pwd) || { echo "check-records: no build directory" >&2; exit 2; }
lib=$build/liblockscope.so
cmd=$build/lockscope
scen=$build/scenarios
command -v python3 >/dev/null 2>&1 || { echo "check-records: python3 is needed" >&2; exit 2; }
[ -f "$lib" ] && [ -x "$cmd" ] || { echo "check-records: build the library and command first (make)" >&2; exit 2; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/lockscope-hz.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
logs=()          # every JSON log produced, for the report checks

. "$here/../lib.sh"   # ok, not_ok, skipped, finish
# check NAME CMD...: ok when CMD succeeds; its output is the diagnosis
check() {
    local name=$1 out; shift
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}

# run_shim DIR MODE BIN [VAR=VALUE...|NOLOG]: run BIN under the shim in a
# fresh DIR (DIR/out, DIR/err, DIR/log, DIR/status, DIR/t0, DIR/t1), with
# a clean environment and LOCKSCOPE_LOG=DIR/log unless NOLOG.
run_shim() {
    local dir=$1 mode=$2 bin=$3; shift 3
    mkdir -p "$dir/scen"
    : > "$dir/log"
    local -a envargs=(env -u LD_PRELOAD)
    local v log="LOCKSCOPE_LOG=$dir/log"
    for v in $(compgen -e); do
        case "$v" in LOCKSCOPE_*) envargs+=(-u "$v") ;; esac
    done
    envargs+=("SCEN_DIR=$dir/scen" "XDG_CONFIG_HOME=$dir" "LD_PRELOAD=$lib" "LOCKSCOPE_MODE=$mode")
    for v in "$@"; do
        case "$v" in
        NOLOG) log="" ;;            # LOCKSCOPE_LOG left unset
        LOCKSCOPE_LOG=*) log=$v ;;
        *) envargs+=("$v") ;;
        esac
    done
    [ -n "$log" ] && envargs+=("$log")
    date +%s.%N > "$dir/t0"
    # (braces: no "Aborted" message from the shell for LOCKSCOPE_ABORT runs)
    { (cd "$dir/scen" && timeout -k 5 60 "${envargs[@]}" "$scen/$bin" </dev/null >"$dir/out" 2>"$dir/err")
      echo $? > "$dir/status"; } 2>/dev/null
    date +%s.%N > "$dir/t1"
}

# ---------------------------------------------------------------------------
# The record validator: python3 validate.py KIND DIR BIN MODE
cat > "$tmp/validate.py" <<'PYEOF'
import json, os, re, subprocess, sys

kind, d, binpath, mode = sys.argv[1:5]
FIELDS = ["hazard", "action", "mode", "pid", "tid", "fd", "path", "dev", "ino",
          "type", "start", "len", "call", "site", "time"]
problems = []
def bad(msg): problems.append(msg)

def read_log(path):
    recs, raws = [], []
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        bad("log does not end with a newline")
    for i, raw in enumerate(data.split(b"\n"), 1):
        if not raw:
            continue
        try:
            r = json.loads(raw)
        except ValueError as e:
            bad("log line %d is not JSON: %r" % (i, raw[:120]))
            continue
        if not isinstance(r, dict):
            bad("log line %d is not an object" % i); continue
        miss = [k for k in FIELDS + ["backtrace"] if k not in r]
        if miss:
            bad("log line %d lacks %s" % (i, ",".join(miss)))
        recs.append(r)
        raws.append(raw.decode())
    return recs, raws

recs, raws = read_log(os.path.join(d, "log"))
out = open(os.path.join(d, "out")).read()
t0 = float(open(os.path.join(d, "t0")).read())
t1 = float(open(os.path.join(d, "t1")).read())
binname = os.path.basename(binpath)
lfs = binname.endswith(".lfs")

def kv(line):
    return dict(p.split("=", 1) for p in line.split()[2:] if "=" in p)

pid = None
m = re.search(r"^# pid=(\d+)$", out, re.M)
if m:
    pid = int(m.group(1))

# every record: common field shapes
for r, raw in zip(recs, raws):
    tag = "%s@%s" % (r.get("hazard"), r.get("site"))
    if r.get("mode") != mode:
        bad("%s: mode %r in a %s run" % (tag, r.get("mode"), mode))
    if r.get("action") not in ("observed", "prevented", "refused"):
        bad("%s: action %r" % (tag, r.get("action")))
    if not isinstance(r.get("pid"), int) or not isinstance(r.get("tid"), int):
        bad("%s: pid/tid not numbers" % tag)
    if r.get("dev") is not None and not re.fullmatch(r"\d+:\d+", str(r["dev"])):
        bad("%s: dev %r is not \"MAJOR:MINOR\"" % (tag, r["dev"]))
    if r.get("ino") is not None and not isinstance(r["ino"], int):
        bad("%s: ino %r is not a number" % (tag, r["ino"]))
    if r.get("path") is not None and not str(r["path"]).startswith("/"):
        bad("%s: path %r is not absolute" % (tag, r["path"]))
    mt = re.search(r'"time":(\d+)\.(\d+)[,}]', raw)
    if not mt or len(mt.group(2)) != 6:
        bad("%s: time is not seconds with microseconds: %s" % (tag, raw[raw.find('"time"'):][:40]))
    elif not (t0 - 1 <= float(r["time"]) <= t1 + 1):
        bad("%s: time %s outside the run [%.3f, %.3f]" % (tag, r["time"], t0, t1))
    if r.get("site") is not None and not re.fullmatch(r"[^\s+]+\+0x[0-9a-f]+", r["site"]):
        bad("%s: site %r is not module+0xOFFSET" % (tag, r["site"]))

def site_lines(records):
    """site -> source line of the call (addr2line on the return address - 1)"""
    offs = sorted({r["site"] for r in records if r.get("site", "") and r["site"].startswith(binname + "+0x")})
    if not offs:
        return {}
    addrs = ["0x%x" % (int(s.split("+0x")[1], 16) - 1) for s in offs]
    res = subprocess.run(["addr2line", "-e", binpath] + addrs, capture_output=True, text=True)
    lines = res.stdout.splitlines()
    outm = {}
    for s, l in zip(offs, lines):
        mm = re.search(r":(\d+)", l)
        outm[s] = int(mm.group(1)) if mm else None
    return outm

if kind == "fields":
    # '# expect' lines: one record each, matched by source line
    exp = [kv(l) for l in out.splitlines() if l.startswith("# expect ")]
    noh = [int(kv(l)["line"]) for l in out.splitlines() if l.startswith("# nohazard ")]
    if not exp:
        bad("the scenario printed no '# expect' lines")
    lines = site_lines(recs)
    byline = {}
    for r in recs:
        byline.setdefault(lines.get(r.get("site")), []).append(r)
    for e in exp:
        ln = int(e["line"])
        got = byline.get(ln, [])
        tag = "%s line %d" % (e["hazard"], ln)
        if len(got) != 1:
            bad("%s: %d records from that line (want 1; lines seen: %s)" %
                (tag, len(got), sorted(k for k in byline if k)))
            continue
        r = got[0]
        call = e["call"] + ("64" if lfs and not e["call"].endswith("64") else "")
        want = {"hazard": e["hazard"], "action": "observed", "fd": int(e["fd"]),
                "path": e["path"], "dev": e["dev"], "ino": int(e["ino"]), "type": e["type"],
                "start": int(e["start"]), "len": int(e["len"]), "call": call,
                "pid": pid, "tid": pid, "backtrace": None, "repeat": 1}
        for k, v in want.items():
            if r.get(k) != v:
                bad("%s: %s is %r, want %r" % (tag, k, r.get(k), v))
        if not r["site"].startswith(binname + "+0x"):
            bad("%s: site %r is not in %s" % (tag, r["site"], binname))
    for ln in noh:
        if byline.get(ln):
            bad("line %d must give no record, gave %s" % (ln, [r["hazard"] for r in byline[ln]]))
    if len(recs) != len(exp):
        bad("%d records for %d expected" % (len(recs), len(exp)))

elif kind == "eintr":
    got = sorted((r["call"], r["type"], r["start"], r["len"]) for r in recs if r["hazard"] == "lock-eintr")
    c = "64" if lfs else ""
    want = sorted([("fcntl" + c, "write", 0, 10), ("lockf" + c, "write", 0, 10),
                   ("fcntl" + c, "write", 0, 10), ("flock", "exclusive", None, None)])
    if got != want:
        bad("lock-eintr records %s, want %s" % (got, want))
    for r in recs:
        if r["hazard"] == "lock-eintr":
            if r["action"] != "observed":
                bad("lock-eintr action %r" % r["action"])
            if not isinstance(r["fd"], int) or not r["path"] or r["ino"] is None:
                bad("lock-eintr record lacks fd/path/ino: %s" % r)
    if any(r["hazard"] != "lock-eintr" for r in recs):
        bad("unexpected records: %s" % [r["hazard"] for r in recs if r["hazard"] != "lock-eintr"])

elif kind == "xmix":
    mix = [r for r in recs if r["hazard"] == "flock-fcntl-mix"]
    want_action = "observed"   # strict refuses it only over NFS or with LOCKSCOPE_FLOCK=ofd
    if len(mix) != 3 or len({r["ino"] for r in mix}) != 3:
        bad("want 3 flock-fcntl-mix records on 3 files, got %s" % [(r["ino"], r["action"]) for r in mix])
    for r in mix:
        if (r["action"], r["call"], r["type"], r["start"], r["len"]) != (want_action, "flock", "exclusive", None, None):
            bad("record %s" % {k: r[k] for k in ("action", "call", "type", "start", "len")})
        if r["pid"] != pid or not r["path"] or "hz-xmix-" not in r["path"]:
            bad("record pid/path %r %r" % (r["pid"], r["path"]))
    if len(mix) != len(recs):
        bad("unexpected records: %s" % [r["hazard"] for r in recs if r["hazard"] != "flock-fcntl-mix"])

elif kind == "getlk":
    g = [r for r in recs if r["hazard"] == "getlk-ofd-pid"]
    if len(g) != 1:
        bad("want 1 getlk-ofd-pid record, got %d" % len(g))
    for r in g:
        want = {"action": "observed" if mode == "audit" else "prevented", "type": "write",
                "start": 0, "len": 0, "call": "fcntl64" if lfs else "fcntl"}
        for k, v in want.items():
            if r.get(k) != v:
                bad("getlk-ofd-pid: %s is %r, want %r" % (k, r.get(k), v))
        if not r["path"] or "hz-ofdpid" not in r["path"] or not isinstance(r["fd"], int):
            bad("getlk-ofd-pid: fd/path %r %r" % (r["fd"], r["path"]))

elif kind == "abort":
    st = int(open(os.path.join(d, "status")).read())
    if st != 128 + 6:
        bad("exit status %d, want %d (SIGABRT)" % (st, 128 + 6))
    if len(recs) != 1:
        bad("want exactly the first record in the log, got %d" % len(recs))
    elif (recs[0]["hazard"], recs[0]["start"], recs[0]["len"], recs[0]["type"]) != ("unlock-not-held", 0, 10, "unlock"):
        bad("the record is not the first hazard: %s" % raws[0][:200])
    if "set_0_10=" in out:
        bad("the program went on after the first hazard")

elif kind == "backtrace":
    if not recs:
        bad("no records")
    for r in recs:
        bt = r.get("backtrace")
        if not isinstance(bt, list) or not bt:
            bad("%s: backtrace %r is not a non-empty array" % (r["hazard"], bt)); continue
        for f in bt:
            if not isinstance(f, str) or not re.fullmatch(r"[^\s+]+\+0x[0-9a-f]+", f):
                bad("%s: frame %r is not module+0xOFFSET" % (r["hazard"], f))
        if not any(f.startswith(binname + "+0x") for f in bt):
            bad("%s: no frame of %s in %s" % (r["hazard"], binname, bt))

elif kind == "flood":
    sites = {}
    for l in out.splitlines():
        if l.startswith("# site "):
            e = kv(l)
            sites[e["name"]] = e
    if set(sites) != {"a", "b", "c"}:
        bad("site lines missing: %s" % sorted(sites))
    lines = site_lines(recs)
    for name, e in sites.items():
        ln, count = int(e["line"]), int(e["count"])
        who = int(e.get("child", pid))
        mine = [r for r in recs if lines.get(r.get("site")) == ln]
        if any(r["pid"] != who for r in mine):
            bad("site %s: records of pids %s, want only %d" % (name, sorted({r["pid"] for r in mine}), who))
        reps = [r.get("repeat") for r in mine]
        if sum(reps) != count:
            bad("site %s: repeat fields %s sum to %d, want %d" % (name, reps, sum(reps), count))
        if len(mine) > 6:
            bad("site %s: %d records for %d hazards: no flood control" % (name, len(mine), count))
        # 1st, 10th, 100th, 1000th written when they happen, the rest at exit
        want = [x for x, lim in zip([1, 9, 90, 900], [1, 10, 100, 1000]) if lim <= count]
        rest = count - sum(want)
        if rest:
            want.append(rest)
        if reps != want:
            bad("site %s: repeats %s, want %s" % (name, reps, want))
        if rest and mine:
            last = mine[-1]
            if last["fd"] is not None or not last["path"] or "hz-flood" not in last["path"]:
                bad("site %s: the exit record has fd %r path %r (want null and the file)" % (name, last["fd"], last["path"]))

elif kind == "logfd":
    if "x_clean=yes" not in out:
        bad("a record was written into the program's file")
    if len(recs) != 3 or len({r["site"] for r in recs}) != 3:
        bad("want 3 unlock-not-held records from 3 sites, got %s" % [(r["hazard"], r["site"]) for r in recs])
    if any(r["hazard"] != "unlock-not-held" or r.get("repeat") != 1 for r in recs):
        bad("records %s" % [(r["hazard"], r.get("repeat")) for r in recs])

else:
    bad("unknown check kind " + kind)

for p in problems:
    print(p)
sys.exit(1 if problems else 0)
PYEOF
validate() { python3 "$tmp/validate.py" "$@"; }

# ---- fields ----------------------------------------------------------------
for bin in hazard_unlock_not_held hazard_lock_already_held; do
    for b in "$bin" "$bin.lfs"; do
        for mode in audit fix strict; do
            w="$tmp/$b-$mode"
            run_shim "$w" "$mode" "$b"
            logs+=("$w/log")
            check "fields: $b $mode" validate fields "$w" "$scen/$b" "$mode"
        done
    done
done

# ---- lock-eintr, flock-fcntl-mix across processes, getlk-ofd-pid -----------
for mode in audit fix strict; do
    w="$tmp/eintr-$mode"; run_shim "$w" "$mode" hazard_lock_eintr; logs+=("$w/log")
    check "lock-eintr records: $mode" validate eintr "$w" "$scen/hazard_lock_eintr" "$mode"
    w="$tmp/xmix-$mode"; run_shim "$w" "$mode" hazard_flock_fcntl_mix_xproc; logs+=("$w/log")
    check "flock-fcntl-mix across processes: $mode" \
        validate xmix "$w" "$scen/hazard_flock_fcntl_mix_xproc" "$mode"
    w="$tmp/getlk-$mode"; run_shim "$w" "$mode" hazard_getlk_ofd_pid; logs+=("$w/log")
    check "getlk-ofd-pid record: $mode" validate getlk "$w" "$scen/hazard_getlk_ofd_pid" "$mode"
done

# ---- LOCKSCOPE_ABORT=1 -------------------------------------------------------
for mode in audit fix strict; do
    w="$tmp/abort-$mode"
    run_shim "$w" "$mode" hazard_unlock_not_held LOCKSCOPE_ABORT=1
    check "LOCKSCOPE_ABORT=1: SIGABRT at the first hazard, record logged: $mode" \
        validate abort "$w" "$scen/hazard_unlock_not_held" "$mode"
done
if command -v strace >/dev/null 2>&1; then
    w="$tmp/abort-strace"; mkdir -p "$w/scen"; : > "$w/log"
    { (cd "$w/scen" && timeout 60 env -u LOCKSCOPE_MODE SCEN_DIR="$w/scen" \
        strace -f -qq -e trace=write -e signal=none -s 0 -o "$w/trace" \
        env LD_PRELOAD="$lib" LOCKSCOPE_LOG="$w/log" LOCKSCOPE_ABORT=1 \
        "$scen/hazard_unlock_not_held" </dev/null >"$w/out" 2>"$w/err"); } 2>/dev/null
    size=$(stat -c %s "$w/log")
    if [ "$size" -gt 0 ] && grep -Eq "^[0-9]+ +write\([0-9]+, \"\"\.\.\., $size\) += $size\$" "$w/trace"; then
        ok "LOCKSCOPE_ABORT=1: the record is one write(2) of $size bytes"
    else
        not_ok "LOCKSCOPE_ABORT=1: the record is one write(2)" "$(echo "log size $size"; grep write "$w/trace" | tail -5)"
    fi
else
    ok "LOCKSCOPE_ABORT=1: the record is one write(2) # skip strace not installed"
fi

# ---- LOCKSCOPE_BACKTRACE=1 --------------------------------------------------
for mode in audit fix; do
    w="$tmp/bt-$mode"
    run_shim "$w" "$mode" hazard_unlock_not_held LOCKSCOPE_BACKTRACE=1
    logs+=("$w/log")
    check "LOCKSCOPE_BACKTRACE=1: backtrace arrays: $mode" \
        validate backtrace "$w" "$scen/hazard_unlock_not_held" "$mode"
done

# ---- flood control -----------------------------------------------------------
for mode in audit fix strict; do
    w="$tmp/flood-$mode"
    run_shim "$w" "$mode" hazard_flood
    logs+=("$w/log")
    check "flood control: repeats sum to the count, the rest at exit, not the parent's in a child: $mode" \
        validate flood "$w" "$scen/hazard_flood" "$mode"
done

# ---- the log descriptor ----------------------------------------------------
for mode in audit fix; do
    w="$tmp/logfd-$mode"
    run_shim "$w" "$mode" hazard_log_fd
    logs+=("$w/log")
    check "log descriptor survives closefrom, is reopened when replaced behind the shim's back: $mode" \
        validate logfd "$w" "$scen/hazard_log_fd" "$mode"
done

# ---- text format on stderr -----------------------------------------------------
text_check() {
    local w=$1 fmt=$2
    python3 - "$w" "$fmt" <<'PYEOF'
import json, re, sys
w, fmt = sys.argv[1:3]
err = open(w + "/err").read().splitlines()
out = open(w + "/out").read()
exp = [l for l in out.splitlines() if l.startswith("# expect ")]
pid = re.search(r"^# pid=(\d+)$", out, re.M).group(1)
probs = []
if len(err) != len(exp):
    probs.append("%d stderr lines for %d records: %s" % (len(err), len(exp), err[:8]))
for l in err:
    if fmt == "text":
        if l.startswith("{"):
            probs.append("a JSON line in text format: " + l[:100])
        if "unlock-not-held" not in l or "observed" not in l or pid not in l or "fcntl" not in l and "lockf" not in l:
            probs.append("line lacks hazard/action/pid/call: " + l)
    else:
        try:
            r = json.loads(l)
            if r["hazard"] != "unlock-not-held":
                probs.append("hazard %r" % r["hazard"])
        except ValueError:
            probs.append("not JSON: " + l[:100])
for p in probs:
    print(p)
sys.exit(1 if probs else 0)
PYEOF
}
w="$tmp/text"
run_shim "$w" fix hazard_unlock_not_held NOLOG
check "text format on stderr when LOCKSCOPE_LOG is unset" text_check "$w" text
check "text format: nothing in a log file" test ! -s "$w/log"
w="$tmp/stderr-json"
run_shim "$w" fix hazard_unlock_not_held LOCKSCOPE_LOG=stderr LOCKSCOPE_FORMAT=json
check "LOCKSCOPE_LOG=stderr LOCKSCOPE_FORMAT=json: JSON lines on stderr" text_check "$w" json
w="$tmp/file-text"
run_shim "$w" fix hazard_unlock_not_held LOCKSCOPE_FORMAT=text
check "LOCKSCOPE_FORMAT=text to a file: one text line per record" \
    bash -c "[ \$(wc -l < '$w/log') = 5 ] && ! grep -q '^{' '$w/log' && [ \$(grep -c unlock-not-held '$w/log') = 5 ]"

# ---- lockscope report ----------------------------------------------------------
report_check() {
    python3 - "$cmd" "$@" <<'PYEOF'
import collections, json, re, subprocess, sys
cmd, logs = sys.argv[1], sys.argv[2:]
recs = []
for p in logs:
    for l in open(p):
        if l.strip():
            recs.append(json.loads(l))
probs = []
per_h = collections.Counter(); per_ha = collections.Counter(); per_site = collections.Counter()
for r in recs:
    n = r.get("repeat", 1) or 1
    per_h[r["hazard"]] += n
    per_ha[(r["hazard"], r["action"])] += n
    per_site[r["site"]] += n
res = subprocess.run([cmd, "report", "--json"] + logs, capture_output=True, text=True)
if res.returncode != 0:
    probs.append("report --json exit %d: %s" % (res.returncode, res.stderr[:300]))
else:
    j = json.loads(res.stdout)
    if j.get("records") != len(recs):
        probs.append("records %r, logs hold %d" % (j.get("records"), len(recs)))
    if j.get("hazards_total") != sum(per_h.values()):
        probs.append("hazards_total %r, want %d" % (j.get("hazards_total"), sum(per_h.values())))
    got = {h["hazard"]: h for h in j.get("hazards", [])}
    if set(got) != set(per_h):
        probs.append("hazards %s, want %s" % (sorted(got), sorted(per_h)))
    for name, n in per_h.items():
        h = got.get(name)
        if not h:
            continue
        if h["count"] != n:
            probs.append("%s: count %d, want %d" % (name, h["count"], n))
        for a in ("observed", "prevented", "refused"):
            if h.get(a) != per_ha[(name, a)]:
                probs.append("%s: %s %r, want %d" % (name, a, h.get(a), per_ha[(name, a)]))
    sites = {s["site"]: s["count"] for s in j.get("sites", [])}
    for s, n in per_site.items():
        if sites.get(s) != n:
            probs.append("site %s: count %r, want %d" % (s, sites.get(s), n))
res = subprocess.run([cmd, "report"] + logs, capture_output=True, text=True)
if res.returncode != 0:
    probs.append("report exit %d: %s" % (res.returncode, res.stderr[:300]))
else:
    text = res.stdout
    sect = text.split("Per hazard:", 1)[1].split("Per file:", 1)[0] if "Per hazard:" in text else ""
    for name, n in per_h.items():
        m = re.search(r"^\s*(\d+)\s+%s:" % re.escape(name), sect, re.M)
        if not m or int(m.group(1)) != n:
            probs.append("text report: %s shows %s, want %d" % (name, m.group(1) if m else "nothing", n))
for p in probs:
    print(p)
sys.exit(1 if probs else 0)
PYEOF
}
check "report --json and report: per hazard/action/site counts match one log" report_check "$tmp/flood-fix/log"
check "report --json and report: counts match ${#logs[@]} logs together" report_check "${logs[@]}"
cat "${logs[@]}" > "$tmp/all.jsonl"
check "report: the logs concatenated into one file" report_check "$tmp/all.jsonl"

finish
