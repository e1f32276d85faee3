#!/usr/bin/env python3
"""rows.py - every row of the performance table (README "Performance"),
measured side by side in one run: native, passthrough (the floor of any
LD_PRELOAD shim), lockscope off, audit, fix.

  rows.py --build BUILD [--lib LIBLOCKSCOPE] [--quick] [--out FILE]

--lib measures another liblockscope.so with this build's programs (e.g. a
base build).  Wall times: medians over interleaved repetitions (each
repetition runs every variant in a rotated order) of the best batch inside
one process; ratios are per repetition, then the median.  Instructions:
callgrind, differenced between two iteration counts so startup cancels.
The machine-size background (created here, never assumed): one process
holding LOCKS locks natively and one under the shim (fix) on files of their
own, and PROCS idle processes with 100 fds each (half of them under the
shim); all of it is killed at the end, even on failure.  tdb: tdbtorture.c
(Samba's tdbtorture workload on Debian's libtdb) and torture.c (the same
kind of stress on raw fcntl record locks, with its own consistency check).  Timing is
reported, never asserted.
"""
import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as R  # noqa: E402  (the harness's runner, callgrind and strace helpers)

VARIANTS = ["native", "passthrough", "off", "audit", "fix"]
CG_VARIANTS = ["native", "passthrough", "fix"]

FULL = dict(reps=5, heavy_reps=3, bg_locks=(7000, 4000), bg_files=100, idle=1000, getlk_n=2000, first_files=1000,
            torture=(6, 1500), sqlite_inserts=5000, pair_n=20000, thread_n=20000, spawn_n=200,
            ranges=(1, 10000), budget_ms=4000)
QUICK = dict(reps=3, heavy_reps=2, bg_locks=(1500, 500), bg_files=20, idle=200, getlk_n=500, first_files=300,
             torture=(6, 1500), sqlite_inserts=500, pair_n=5000, thread_n=5000, spawn_n=50,
             ranges=(1, 2000), budget_ms=1500)


class Background:
    """bgload processes; stop() closes their stdin and waits (they kill their children)."""

    def __init__(self, b):
        self.b = b
        self.procs = []

    def start(self, argv, v):
        env = dict(self.b.base_env, **self.b.variant_env(v))
        p = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             universal_newlines=True)
        self.procs.append(p)
        line = p.stdout.readline().strip()
        return line

    def stop(self):
        for p in self.procs:
            try:
                p.stdin.close()
            except OSError:
                pass
        for p in self.procs:
            try:
                p.wait(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []


class Rows:
    def __init__(self, b, cfg):
        self.b = b
        self.cfg = cfg
        self.res = {"meta": {}, "rows": {}}
        self.bgload = os.path.join(b.bdir, "bgload")
        self.torture = os.path.join(b.bdir, "torture")
        self.tdbtorture = os.path.join(b.bdir, "tdbtorture")

    def log(self, msg):
        R.log("[%s] %s" % (self.b.elapsed(), msg))

    def interleaved(self, argv_fn, key="best", variants=VARIANTS, reps=None, parse=None):
        """{variant: [value per repetition]}, variants rotated per repetition."""
        reps = reps or self.cfg["reps"]
        out = {v: [None] * reps for v in variants}
        for r in range(reps):
            order = variants[r % len(variants):] + variants[:r % len(variants)]
            for v in order:
                if parse:
                    out[v][r] = parse(v)
                    continue
                lines, err = self.b.run(argv_fn(), v)
                if lines and not err:
                    out[v][r] = lines[0].get(key)
        return out

    @staticmethod
    def ratios(samp):
        nat = samp.get("native") or []
        res = {}
        for v, xs in samp.items():
            res[v] = {"median": R.median(xs),
                      "ratio": R.median([(x / y) if (x and y) else None for x, y in zip(xs, nat)])}
        return res

    def bench(self, ops, n, extra=(), budget=True):
        a = [self.b.bench, "-d", self.b.files, "-b", "3"]
        if budget:
            a += ["-T", str(self.cfg["budget_ms"])]
        return a + list(extra) + [ops, str(n)]

    def cg_ops(self, ops, extra, n1, n2, variants=CG_VARIANTS, tag="cg"):
        out = {}
        for v in variants:
            w, o = self.b.cg_wrapper("%s-%s" % (tag, v), ["--collect-atstart=no", "--instr-atstart=no"])
            argv = [self.b.bench, "-d", self.b.files, "-w", "10"] + list(extra) + \
                   ["-c", str(n1), ",".join("%s:%d:%d" % (op, n2, n1) for op in ops), str(n2)]
            self.b.run(argv, v, wrapper=w, timeout=600, retry_cleanup=lambda o=o: self.b.cg_clean(o))
            counts = {}
            for f in self.b.cg_files(o):
                desc, total = self.b.cg_read(f)
                m = R.re.search(r"op=(\w+) n=(\d+)", desc or "")
                if m:
                    counts[(m.group(1), int(m.group(2)))] = total
                os.unlink(f)
            out[v] = {op: ((counts[(op, n2)] - counts[(op, n1)]) / float(n2 - n1))
                      if (op, n1) in counts and (op, n2) in counts else None for op in ops}
        return out

    def row(self, name, **kw):
        self.res["rows"][name] = kw
        self.log("%s: %s" % (name, json.dumps(kw.get("summary", ""))))

    # ---------------------------------------------------------------- rows

    def lock_rows(self):
        c = self.cfg
        t = self.interleaved(lambda: self.bench("fcntl_lock", c["pair_n"]))
        cg = self.cg_ops(["fcntl_lock", "open_close", "dup_close", "fcntl_getfl", "flock"], [], 200, 1200)
        self.row("lock_pair_stack", time=self.ratios(t), instr={v: cg[v]["fcntl_lock"] for v in cg},
                 summary={"instr": {v: cg[v]["fcntl_lock"] for v in cg}, "wall": {v: x["ratio"] for v, x in self.ratios(t).items()}})
        t = self.interleaved(lambda: self.bench("fcntl_lock_static", c["pair_n"]))
        self.row("lock_pair_static", time=self.ratios(t), summary={v: x["ratio"] for v, x in self.ratios(t).items()})
        floor = {op: {v: cg[v][op] for v in cg} for op in ("open_close", "dup_close", "fcntl_getfl", "flock")}
        self.row("no_lock_ops_instr", instr=floor,
                 summary={op: (round(d["fix"] - d["passthrough"]) if d["fix"] is not None and d["passthrough"] is not None else None)
                          for op, d in floor.items()})
        held = self.cg_ops(["open_close", "dup_close"], ["-H"], 200, 1200, tag="cgheld")
        st = {}
        if self.b.strace:
            for v in ("native", "fix"):
                st[v] = self.b.st_diff(lambda n: [self.b.bench, "-d", self.b.files, "-H", "-b", "1", "-w", "0", "dup_close", str(n)],
                                       v, 100, 600, "held")
        t = self.interleaved(lambda: self.bench("dup_close", c["pair_n"], ["-H"]), variants=["native", "passthrough", "fix"])
        self.row("close_while_locked", instr=held, syscalls=st, time=self.ratios(t),
                 summary={"fix-floor": {op: (round(held["fix"][op] - held["passthrough"][op])
                                             if held["fix"][op] is not None and held["passthrough"][op] is not None else None)
                                        for op in ("open_close", "dup_close")},
                          "syscalls_dup_close": {v: (s or {}).get("total") for v, s in st.items()},
                          "wall_dup_close": {v: x["ratio"] for v, x in self.ratios(t).items()}})
        n1, n2 = c["ranges"]
        rg = {}
        for size in (n1, n2):
            rg[size] = self.cg_ops(["fcntl_lock"], ["-l", str(size), "-S", "120"], 100, 600, variants=["native", "fix"],
                                   tag="cgranges%d" % size)
        self.row("lock_pair_n_ranges", instr={str(k): v for k, v in rg.items()},
                 summary={"fix N=%d" % k: v["fix"]["fcntl_lock"] for k, v in rg.items()})

    def thread_rows(self):
        c = self.cfg
        res = {}
        for t in (1, 2, 8):
            s = self.interleaved(lambda t=t: self.bench("fcntl_lock", c["thread_n"], ["-t", str(t)], budget=False),
                                 key="best", variants=["native", "fix"])
            res[t] = self.ratios(s)
        self.row("threads_own_files", time={str(k): v for k, v in res.items()},
                 summary={"%d threads" % k: v["fix"]["ratio"] for k, v in res.items()})

    def process_rows(self):
        c = self.cfg
        ir, sc = {}, {}
        for v in CG_VARIANTS:
            w, o = self.b.cg_wrapper("true-%s" % v)
            self.b.run(["/bin/true"], v, wrapper=w)
            ir[v] = sum(self.b.cg_read(f)[1] for f in self.b.cg_files(o))
            self.b.cg_clean(o)
            if self.b.strace:
                w, o = self.b.st_wrapper("true-%s" % v)
                self.b.run(["/bin/true"], v, wrapper=w)
                if os.path.exists(o):
                    sc[v] = sum(self.b.st_read(o).values())
                    os.unlink(o)
        t = self.interleaved(lambda: self.bench("spawn_true", c["spawn_n"]))
        self.row("process_start", instr=ir, syscalls=sc, time=self.ratios(t),
                 summary={"instr+": ir["fix"] - ir["passthrough"] if ir.get("fix") and ir.get("passthrough") else None,
                          "syscalls+": (sc["fix"] - sc["passthrough"]) if "fix" in sc and "passthrough" in sc else None,
                          "fork+exec wall": self.ratios(t)["fix"]["ratio"]})
        fk = {}
        for v in CG_VARIANTS:
            fk[v] = self.b.cg_whole(lambda n: [self.b.bench, "-d", self.b.files, "-C", "-b", "1", "-w", "0", "fork_exit", str(n)],
                                    v, 20, 120, "fork")
        fl = self.interleaved(lambda: self.bench("fork_exit", 400), key="cminflt", variants=CG_VARIANTS, reps=1)
        self.row("fork_child_exit", instr=fk, child_minflt=fl,
                 summary={"instr+": (fk["fix"] - fk["native"]) if fk.get("fix") and fk.get("native") else None,
                          "child faults": {v: x[0] for v, x in fl.items()}})

    def torture_rows(self):
        p, l = self.cfg["torture"]
        db = os.path.join(self.b.files, "torture.db")
        t = self.interleaved(lambda: [self.torture, "-n", str(p), "-l", str(l), db], key="ns",
                             reps=self.cfg["heavy_reps"])
        ok = all(x is not None for xs in t.values() for x in xs)
        r = self.ratios(t)
        self.row("torture", procs=p, loops=l, time=r, all_consistent=ok,
                 summary={v: (round(x["median"] / 1e9, 3) if x["median"] else None, x["ratio"]) for v, x in r.items()})

    def tdb_rows(self):
        if not os.path.exists(self.tdbtorture):
            self.row("tdbtorture", skipped="not built: libtdb-dev missing (scripts/deps.sh installs it)")
            return
        p, l = self.cfg["torture"]
        db = os.path.join(self.b.files, "torture.tdb")
        t = self.interleaved(lambda: [self.tdbtorture, "-n", str(p), "-l", str(l), db], key="ns",
                             reps=self.cfg["heavy_reps"])
        r = self.ratios(t)
        self.row("tdbtorture", procs=p, loops=l, time=r, all_consistent=all(x is not None for xs in t.values() for x in xs),
                 summary={v: (round(x["median"] / 1e9, 3) if x["median"] else None, x["ratio"]) for v, x in r.items()})

    def sqlite_rows(self):
        if not shutil.which("sqlite3"):
            self.row("sqlite_cli", skipped="no sqlite3 CLI (scripts/deps.sh installs it)")
            return
        n = self.cfg["sqlite_inserts"]
        for mode, procs in (("rollback", 4), ("wal", 1), ("wal", 4)):
            sql = os.path.join(self.b.tmp, "ins-%s.sql" % mode)
            with open(sql, "w") as f:
                f.write(".timeout 60000\n")
                for i in range(n):
                    f.write("INSERT INTO t(v) VALUES(%d);\n" % i)
            db = os.path.join(self.b.files, "cli.db")

            def one(v, procs=procs, mode=mode, sql=sql, db=db):
                for suf in ("", "-journal", "-wal", "-shm"):
                    if os.path.exists(db + suf):
                        os.unlink(db + suf)
                subprocess.run(["sqlite3", db, "PRAGMA journal_mode=%s; CREATE TABLE t(id INTEGER PRIMARY KEY, v);"
                                % ("WAL" if mode == "wal" else "DELETE")], stdout=subprocess.DEVNULL, check=True)
                env = dict(self.b.base_env, **self.b.variant_env(v))
                t0 = time.time()
                ps = [subprocess.Popen(["sqlite3", db], stdin=open(sql), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, env=env) for _ in range(procs)]
                errs = sum(len(p.communicate()[1].splitlines()) for p in ps)
                dt = time.time() - t0
                cnt = subprocess.run(["sqlite3", db, "SELECT count(*) FROM t;"], stdout=subprocess.PIPE,
                                     universal_newlines=True).stdout.strip()
                if errs or cnt != str(procs * n):
                    self.b.errors.append("sqlite %s x%d under %s: %d error lines, %s rows" % (mode, procs, v, errs, cnt))
                return dt * 1e9
            t = self.interleaved(None, parse=one, reps=self.cfg["heavy_reps"])
            r = self.ratios(t)
            self.row("sqlite_cli_%s_%dp" % (mode, procs), inserts=n, time=r,
                     summary={v: (round(x["median"] / 1e9, 2) if x["median"] else None, x["ratio"]) for v, x in r.items()})

    def machine_rows(self, label):
        c = self.cfg
        g = self.interleaved(lambda: self.bench("getlk_other", c["getlk_n"]))
        f = self.interleaved(lambda: self.bench("first_lock", c["first_files"], ["-F", str(c["first_files"] * 2)]))
        rg, rf = self.ratios(g), self.ratios(f)
        self.row("getlk_other_%s" % label, time=rg,
                 summary={v: (round(x["median"] / 1e3, 1) if x["median"] else None, x["ratio"]) for v, x in rg.items()})
        self.row("first_lock_%s" % label, files=c["first_files"], time=rf,
                 summary={v: (round(x["median"] * c["first_files"] / 1e9, 4) if x["median"] else None, x["ratio"])
                          for v, x in rf.items()})

    SECTIONS = ("locks", "threads", "process", "torture", "tdb", "sqlite", "machine")

    def main(self, only=None):
        want = lambda name: not only or name in only  # noqa: E731
        m = self.res["meta"]
        m["lib"] = self.b.lib
        m["quick"] = self.b.quick
        m["date"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        m["nproc_limit"] = resource.getrlimit(resource.RLIMIT_NPROC)[0]
        with open("/proc/loadavg") as fh:
            m["loadavg_start"] = fh.read().split()[:3]
        bg = Background(self.b)
        try:
            for name, fn in (("locks", self.lock_rows), ("threads", self.thread_rows),
                             ("process", self.process_rows), ("torture", self.torture_rows),
                             ("tdb", self.tdb_rows), ("sqlite", self.sqlite_rows)):
                if want(name):
                    fn()
            if not want("machine"):
                raise StopIteration
            self.machine_rows("idle_machine")
            nat, shim = self.cfg["bg_locks"]
            idle = self.cfg["idle"]
            lim = m["nproc_limit"]
            if lim != resource.RLIM_INFINITY and lim < idle + 200:
                idle = max(0, lim - 200)
            m["background"] = [
                bg.start([self.bgload, "locks", self.b.files, str(self.cfg["bg_files"]), str(nat)], "native"),
                bg.start([self.bgload, "locks", self.b.files, str(self.cfg["bg_files"]), str(shim)], "fix"),
                bg.start([self.bgload, "idle", str(idle // 2), "100"], "native"),
                bg.start([self.bgload, "idle", str(idle - idle // 2), "100"], "fix"),
            ]
            m["proc_locks_lines"] = R.Bench.proc_locks_lines()
            self.log("background: %s, /proc/locks has %s lines" % (m["background"], m["proc_locks_lines"]))
            self.machine_rows("loaded_machine")
        except StopIteration:
            pass
        finally:
            bg.stop()
        with open("/proc/loadavg") as fh:
            m["loadavg_end"] = fh.read().split()[:3]
        self.res["errors"] = self.b.errors
        m["seconds"] = round(time.time() - self.b.t0, 1)
        return self.res


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--lib", default=None, help="the liblockscope.so to measure (default BUILD's)")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=None)
    ap.add_argument("--only", default=None, help="comma-separated sections: " + ",".join(Rows.SECTIONS))
    a = ap.parse_args()
    quick = a.quick or os.environ.get("BENCH_QUICK") == "1"
    out = a.out or ("rows-quick.json" if quick else "rows.json")
    b = R.Bench(os.path.abspath(a.build), out, quick)
    if a.lib:
        b.lib = os.path.abspath(a.lib)
    try:
        only = set(a.only.split(",")) if a.only else None
        if only and not only <= set(Rows.SECTIONS):
            ap.error("--only: sections are " + ",".join(Rows.SECTIONS))
        res = Rows(b, QUICK if quick else FULL).main(only)
        res["meta"]["note"] = "the machine may be shared: see loadavg; wall times are noisy, instruction counts are not"
        with open(b.out, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")
        print("\n== rows (lib %s)" % b.lib)
        for name, row in res["rows"].items():
            print("%-28s %s" % (name, json.dumps(row.get("summary", row.get("skipped")))))
        for e in res["errors"]:
            print("  error: %s" % e)
        print("JSON: %s (%.0f s)" % (b.out, res["meta"]["seconds"]))
    finally:
        shutil.rmtree(b.workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
