#!/usr/bin/env python3
"""run.py - lockscope's benchmark harness (see README.md in this directory).

Runs the driver programs (bench, sqlite_bench) natively, under a bare
passthrough interposer and under liblockscope.so in modes off, audit and
fix, and reports:
  - wall time per call, every (op x variant) run side by side, interleaved,
    several repetitions, as ratios to native (min and median);
  - user-space instructions per call (valgrind --tool=callgrind, two
    iteration counts differenced so startup cancels);
  - system calls per call (strace -f -c, differenced the same way);
  - how the cost grows with open fds, with locks held on one file and
    across files, and with threads locking different files;
  - one whole program: many small SQLite transactions;
  - the targets for `fix`, met or missed.
Prints tables; writes the same as JSON.  Timing is reported, never
asserted: the exit status is 0 whatever the numbers are.

Environment: BENCH_QUICK=1 for a ~1-minute run; BENCH_DIR=DIR for the
files (default: a fresh directory in /dev/shm, else in $TMPDIR or /tmp);
BENCH_REPS=R to override the repetitions.
"""
import argparse
import glob
import json
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

VARIANTS = ["native", "passthrough", "off", "audit", "fix"]
MAIN_OPS = ["open_close", "dup_close", "fcntl_getfl", "fcntl_lock", "fcntl_lock_static", "lockf", "flock",
            "open_lock_close", "fork_exit"]
OP_LABEL = {
    "open_close": "open+close",
    "dup_close": "dup+close",
    "fcntl_getfl": "fcntl F_GETFL",
    "fcntl_lock": "fcntl lock+unlock",
    "fcntl_lock_static": "fcntl pair, static",
    "lockf": "lockf lock+unlock",
    "flock": "flock lock+unlock",
    "open_lock_close": "open+lock+close",
    "fork_exit": "fork+exit+wait",
    "sqlite_rollback": "SQLite rollback",
    "sqlite_wal": "SQLite WAL",
}
NO_LOCK_OPS = ["open_close", "dup_close", "fcntl_getfl"]
PAIR_OPS = ["fcntl_lock", "fcntl_lock_static", "lockf", "flock"]

FULL = {
    "reps": 9,
    "batches": 5,
    "budget_ms": 300,
    "deadline_s": 540,
    "setup_s": 8,
    "n": {"open_close": 20000, "dup_close": 100000, "fcntl_getfl": 200000, "fcntl_lock": 40000,
          "fcntl_lock_static": 40000, "lockf": 40000, "flock": 60000, "open_lock_close": 8000, "fork_exit": 300},
    "cg_variants": VARIANTS,
    "cg_n": {"default": (200, 1200), "fork_exit": (10, 50)},
    "st_variants": ["native", "off", "audit", "fix"],
    "st_n": {"default": (200, 1200), "fork_exit": (20, 120)},
    "scale_reps": 3,
    "scale_variants": ["native", "audit", "fix"],
    "scale_n": {"open_close": 5000, "dup_close": 20000, "fcntl_getfl": 40000, "fcntl_lock": 5000,
                "open_lock_close": 2000, "flock": 2000},
    "fds_sizes": [10, 1000, 10000, 100000],
    "lock_sizes": [1, 10, 100, 1000, 10000],
    "scale_cg_variants": ["native", "fix"],
    "scale_cg_n": (50, 250),
    "threads": [1, 2, 8],
    "thread_n": 10000,
    "thread_variants": VARIANTS,
    "thread_st_n": (200, 1000),
    "sqlite_modes": {"rollback": 2000, "wal": 5000},
    "sqlite_variants": VARIANTS,
    "sqlite_cg_n": (100, 500),
    "interfere_reps": 5,
    "interfere_n": 20000,
}
QUICK = {
    "reps": 3,
    "batches": 3,
    "budget_ms": 60,
    "deadline_s": 60,
    "setup_s": 4,
    "n": {k: max(v // 5, 20) for k, v in FULL["n"].items()},
    "cg_variants": ["native", "passthrough", "fix"],
    "cg_n": {"default": (100, 600), "fork_exit": (5, 25)},
    "st_variants": ["native", "fix"],
    "st_n": {"default": (100, 600), "fork_exit": (10, 60)},
    "scale_reps": 2,
    "scale_variants": ["native", "fix"],
    "scale_n": {k: max(v // 4, 200) for k, v in FULL["scale_n"].items()},
    "fds_sizes": [10, 1000, 100000],
    "lock_sizes": [1, 100, 2000],
    "scale_cg_variants": ["native", "fix"],
    "scale_cg_n": (30, 130),
    "threads": [1, 2, 8],
    "thread_n": 2000,
    "thread_variants": ["native", "fix"],
    "thread_st_n": (100, 400),
    "sqlite_modes": {"rollback": 500, "wal": 1500},
    "sqlite_variants": ["native", "passthrough", "fix"],
    "sqlite_cg_n": (50, 250),
    "interfere_reps": 2,
    "interfere_n": 5000,
}

SCALE_KINDS = {
    # kind: (driver option, sizes key, ops, what the size counts)
    "fds": ("-f", "fds_sizes", ["open_close", "dup_close", "fcntl_getfl", "fcntl_lock", "open_lock_close"],
            "open fds"),
    "locks_one_file": ("-l", "lock_sizes", ["fcntl_lock", "open_close", "open_lock_close", "flock"],
                       "locks held on the fcntl_lock file (one fd)"),
    "locks_across_files": ("-L", "lock_sizes", ["fcntl_lock", "open_close", "dup_close", "open_lock_close", "flock"],
                           "files with one lock held each"),
}

# ---------------------------------------------------------------- helpers


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmin(xs):
    xs = [x for x in xs if x is not None]
    return min(xs) if xs else None


def parse_kv(line):
    d = {}
    for tok in line.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                d[k] = float(v) if "." in v or "e" in v else int(v)
            except ValueError:
                d[k] = v
    return d


class Bench:
    def __init__(self, build, out, quick):
        self.build = build
        self.bdir = os.path.join(build, "bench")
        self.bench = os.path.join(self.bdir, "bench")
        self.sqlite = os.path.join(self.bdir, "sqlite_bench")
        self.pt = os.path.join(self.bdir, "passthrough.so")
        self.lib = os.path.join(build, "liblockscope.so")
        self.quick = quick
        self.cfg = dict(QUICK if quick else FULL)
        if os.environ.get("BENCH_REPS"):
            self.cfg["reps"] = max(1, int(os.environ["BENCH_REPS"]))
        self.out = out if os.path.isabs(out) else os.path.join(HERE, out)
        self.valgrind = shutil.which("valgrind")
        self.strace = shutil.which("strace")
        self.errors = []
        self.t0 = time.time()
        self.workdir = self._make_workdir()
        self.files = os.path.join(self.workdir, "files")
        self.tmp = os.path.join(self.workdir, "tmp")
        os.makedirs(self.files)
        os.makedirs(self.tmp)
        home = os.path.join(self.workdir, "home")
        os.makedirs(home)
        base = {k: v for k, v in os.environ.items()
                if not k.startswith("LOCKSCOPE_") and k not in ("LD_PRELOAD", "LD_LIBRARY_PATH")}
        # no user config file can change the modes measured here
        base["HOME"] = home
        base["XDG_CONFIG_HOME"] = home
        self.base_env = base
        self.res = {"meta": {}, "ops": {}, "scaling": {}, "threads": {}, "sqlite": {}, "targets": []}

    def _make_workdir(self):
        d = os.environ.get("BENCH_DIR")
        if d:
            os.makedirs(d, exist_ok=True)
            return tempfile.mkdtemp(prefix="lsbench.", dir=d)
        if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
            return tempfile.mkdtemp(prefix="lsbench.", dir="/dev/shm")
        return tempfile.mkdtemp(prefix="lsbench.")

    def late(self):
        """Past the soft deadline: the rest is done with fewer repetitions."""
        if time.time() - self.t0 > self.cfg["deadline_s"]:
            if not self.res["meta"].get("late_from"):
                self.res["meta"]["late_from"] = round(time.time() - self.t0)
                log("[%s] behind time: one repetition from here on" % self.elapsed())
            return True
        return False

    def elapsed(self):
        return "%5.0fs" % (time.time() - self.t0)

    def variant_env(self, v):
        """What the variant adds to the environment."""
        if v == "native":
            return {}
        if v == "passthrough":
            return {"LD_PRELOAD": self.pt}
        return {"LD_PRELOAD": self.lib, "LOCKSCOPE_MODE": v,
                "LOCKSCOPE_LOG": os.path.join(self.workdir, "lockscope-%s.log" % v)}

    def run(self, argv, v, timeout=600, wrapper=None, retry_cleanup=None):
        """Run argv in variant v; wrapper(env_extra) -> (prefix argv, env) for
        valgrind/strace.  Returns (list of parsed lines, error or None)."""
        extra = self.variant_env(v)
        if wrapper:
            prefix, env = wrapper(extra)
        else:
            prefix, env = [], dict(self.base_env, **extra)
        for attempt in (1, 2):
            try:
                p = subprocess.run(prefix + argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   timeout=timeout, universal_newlines=True)
            except subprocess.TimeoutExpired:
                err = "timeout after %ds: %s" % (timeout, " ".join(argv))
                self.errors.append("%s: %s" % (v, err))
                return [], err
            if p.returncode >= 0 or attempt == 2:
                break
            # killed by a signal (the OOM killer on a crowded machine): once more
            log("[%s] %s killed by signal %d, once more" % (self.elapsed(), os.path.basename(argv[0]), -p.returncode))
            if retry_cleanup:
                retry_cleanup()
        lines = [parse_kv(l) for l in p.stdout.splitlines() if l.startswith("op=")]
        if p.returncode != 0:
            msg = (p.stderr.strip().splitlines() or ["exit %d" % p.returncode])[-1]
            err = "exit %d: %s" % (p.returncode, msg)
            self.errors.append("%s %s: %s" % (v, " ".join(os.path.basename(a) for a in argv[:1]) + " " +
                                              " ".join(argv[1:]), err))
            return lines, err
        return lines, None

    # ------------------------------------------------------------ commands

    def bench_argv(self, ops, n, extra=(), batches=None, warm=None, budget=False):
        a = [self.bench, "-d", self.files]
        if budget:
            a += ["-T", str(self.cfg["budget_ms"])]
        if batches is not None:
            a += ["-b", str(batches)]
        if warm is not None:
            a += ["-w", str(warm)]
        return a + list(extra) + [ops, str(n)]

    def sqlite_argv(self, mode, n, batches=None, warm=None):
        a = [self.sqlite, "-d", self.files]
        if batches is not None:
            a += ["-b", str(batches)]
        if warm is not None:
            a += ["-w", str(warm)]
        return a + [mode, str(n)]

    # ---- callgrind

    def cg_wrapper(self, tag, extra_opts=()):
        out = os.path.join(self.tmp, tag)

        def w(extra):
            env = dict(self.base_env)
            args = [self.valgrind, "--tool=callgrind", "--callgrind-out-file=%s.%%p" % out] + list(extra_opts)
            # the preload must reach the program, not valgrind's own loader
            for k, val in extra.items():
                if k == "LD_PRELOAD":
                    env["LD_PRELOAD"] = val
                else:
                    env[k] = val
            return args, env
        return w, out

    def cg_clean(self, out):
        for f in self.cg_files(out):
            os.unlink(f)

    @staticmethod
    def cg_files(out):
        return sorted(glob.glob(out + ".*"))

    @staticmethod
    def cg_read(path):
        desc, total = None, None
        with open(path, errors="replace") as f:
            for line in f:
                if line.startswith("desc: Trigger:"):
                    desc = line.split(":", 2)[2].strip()
                elif line.startswith("summary:") or (total is None and line.startswith("totals:")):
                    total = int(line.split()[1])
        return desc, total or 0

    def cg_whole(self, argv_fn, v, n1, n2, tag):
        """Instructions per iteration of the whole process (all processes
        it forks), differenced between n1 and n2 iterations."""
        tot = []
        for n in (n1, n2):
            t = "%s-%s-%d" % (tag, v, n)
            w, out = self.cg_wrapper(t)
            _, err = self.run(argv_fn(n), v, wrapper=w, retry_cleanup=lambda out=out: self.cg_clean(out))
            files = self.cg_files(out)
            if err or not files:
                return None
            tot.append(sum(self.cg_read(f)[1] for f in files))
            for f in files:
                os.unlink(f)
        return (tot[1] - tot[0]) / float(n2 - n1)

    def cg_toggled(self, ops, opt, size, v, n1, n2, tag):
        """-c mode: per op, instructions per iteration counted only around
        its loops, differenced between n1 and n2 iterations."""
        w, out = self.cg_wrapper("%s-%s-%s" % (tag, v, size),
                                 ["--collect-atstart=no", "--instr-atstart=no"])
        warm = 10 if min(k2 for _, k2, _ in ops) >= 10 else 2
        argv = self.bench_argv(",".join("%s:%d:%d" % o for o in ops), n2,
                               [opt, str(size), "-c", str(n1), "-S", str(self.cfg["setup_s"] * 3)], warm=warm)
        lines, err = self.run(argv, v, wrapper=w, timeout=300, retry_cleanup=lambda: self.cg_clean(out))
        res = {}
        counts = {}
        for f in self.cg_files(out):
            desc, total = self.cg_read(f)
            m = re.search(r"op=(\w+) n=(\d+)", desc or "")
            if m:
                counts[(m.group(1), int(m.group(2)))] = total
            os.unlink(f)
        for op, k2, k1 in ops:
            if (op, k1) in counts and (op, k2) in counts:
                res[op] = (counts[(op, k2)] - counts[(op, k1)]) / float(k2 - k1)
        reached = lines[0] if lines else {}
        return res, reached, err

    # ---- strace

    def st_wrapper(self, tag):
        out = os.path.join(self.tmp, tag + ".strace")

        def w(extra):
            args = [self.strace, "-f", "-c", "-o", out]
            for k, val in extra.items():
                args += ["-E", "%s=%s" % (k, val)]
            return args + ["--"], dict(self.base_env)
        return w, out

    @staticmethod
    def st_read(path):
        calls = {}
        with open(path, errors="replace") as f:
            for line in f:
                t = line.split()
                if len(t) < 5 or not re.match(r"^[\d.]+$", t[0]) or t[-1] == "total":
                    continue
                try:
                    calls[t[-1]] = int(t[3])
                except ValueError:
                    pass
        return calls

    def st_diff(self, argv_fn, v, n1, n2, tag):
        got = []
        for n in (n1, n2):
            w, out = self.st_wrapper("%s-%s-%d" % (tag, v, n))
            _, err = self.run(argv_fn(n), v, wrapper=w)
            if err or not os.path.exists(out):
                return None
            got.append(self.st_read(out))
            os.unlink(out)
        names = set(got[0]) | set(got[1])
        per = {}
        for k in names:
            d = (got[1].get(k, 0) - got[0].get(k, 0)) / float(n2 - n1)
            if abs(d) >= 0.005:
                per[k] = round(d, 2)
        return {"total": round(sum(per.values()), 2), "by_name": dict(sorted(per.items(), key=lambda kv: -kv[1]))}

    # ------------------------------------------------------------ sections

    def meta(self):
        m = self.res["meta"]
        m["quick"] = self.quick
        m["date"] = time.strftime("%Y-%m-%d %H:%M:%S %z")
        m["kernel"] = platform.release()
        m["machine"] = platform.machine()
        m["cpus"] = os.cpu_count()
        try:
            with open("/proc/cpuinfo") as f:
                for line in f:
                    if line.startswith("model name"):
                        m["cpu"] = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
        try:
            m["libc"] = " ".join(platform.libc_ver())
        except Exception:
            pass
        try:
            m["git"] = subprocess.run(["git", "-C", HERE, "describe", "--always", "--dirty"],
                                      stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                      universal_newlines=True).stdout.strip()
        except OSError:
            pass
        try:
            fs = subprocess.run(["stat", "-f", "-c", "%T", self.files], stdout=subprocess.PIPE,
                                universal_newlines=True).stdout.strip()
        except OSError:
            fs = "?"
        m["files_dir"] = self.files
        m["files_fs"] = fs
        m["reps"] = self.cfg["reps"]
        m["batches"] = self.cfg["batches"]
        m["valgrind"] = subprocess.run([self.valgrind, "--version"], stdout=subprocess.PIPE,
                                       universal_newlines=True).stdout.strip() if self.valgrind else None
        m["strace"] = bool(self.strace)
        m["system_config_file"] = os.path.exists("/etc/lockscope.conf")
        try:
            import hashlib
            with open(self.lib, "rb") as f:
                m["liblockscope_sha256"] = hashlib.sha256(f.read()).hexdigest()[:16]
        except OSError:
            pass
        m["proc_locks_lines_start"] = self.proc_locks_lines()
        m["timing"] = ("each value: the best of %d batches inside one process, ns per op; "
                       "each repetition runs every variant of an op back to back in a rotated order; "
                       "ratio_min = min(variant)/min(native), ratio_median = median over repetitions "
                       "of variant/native of the same repetition" % self.cfg["batches"])

    def section_time(self):
        cfg = self.cfg
        reps = cfg["reps"]
        log("[%s] wall time: %d ops x %d variants x %d repetitions" % (self.elapsed(), len(MAIN_OPS), len(VARIANTS), reps))
        samples = {op: {v: [None] * reps for v in VARIANTS} for op in MAIN_OPS}
        for r in range(reps):
            for i, op in enumerate(MAIN_OPS):
                k = (r + i) % len(VARIANTS)
                order = VARIANTS[k:] + VARIANTS[:k]
                for v in order:
                    lines, err = self.run(self.bench_argv(op, cfg["n"][op], batches=cfg["batches"], budget=True), v)
                    if lines and not err:
                        samples[op][v][r] = lines[0]["best"]
        for op in MAIN_OPS:
            self.res["ops"][op] = {"label": OP_LABEL[op], "n": cfg["n"][op],
                                   "time": self.summarise(samples[op], reps)}

    def summarise(self, samp, reps, variants=None):
        variants = variants or list(samp)
        out = {}
        nat = samp.get("native")
        for v in variants:
            xs = samp[v]
            d = {"ns_best": xs, "ns_min": fmin(xs), "ns_median": median(xs)}
            if nat and fmin(nat) and fmin(xs):
                d["ratio_min"] = fmin(xs) / fmin(nat)
                d["ratio_median"] = median([(x / y) if (x and y) else None for x, y in zip(xs, nat)])
            out[v] = d
        return out

    def section_instr(self):
        if not self.valgrind:
            log("[%s] callgrind: valgrind not found, skipped" % self.elapsed())
            return
        cfg = self.cfg
        log("[%s] callgrind: instructions per call (%s)" % (self.elapsed(), ", ".join(cfg["cg_variants"])))
        for op in MAIN_OPS:
            n1, n2 = cfg["cg_n"].get(op, cfg["cg_n"]["default"])
            ins = {}
            for v in cfg["cg_variants"]:
                extra = ["-C"] if op == "fork_exit" else []
                ins[v] = self.cg_whole(lambda n, op=op, extra=extra: self.bench_argv(op, n, extra, batches=1, warm=0),
                                       v, n1, n2, "cg-" + op)
            self.res["ops"][op]["instr"] = ins
            self.res["ops"][op]["instr_n"] = [n1, n2]

    def section_syscalls(self):
        if not self.strace:
            log("[%s] strace: not found, skipped" % self.elapsed())
            return
        cfg = self.cfg
        log("[%s] strace: system calls per call (%s)" % (self.elapsed(), ", ".join(cfg["st_variants"])))
        for op in MAIN_OPS:
            n1, n2 = cfg["st_n"].get(op, cfg["st_n"]["default"])
            sc = {}
            for v in cfg["st_variants"]:
                sc[v] = self.st_diff(lambda n, op=op: self.bench_argv(op, n, batches=1, warm=0), v, n1, n2, "st-" + op)
            self.res["ops"][op]["syscalls"] = sc

    def section_scaling(self):
        cfg = self.cfg
        for kind, (opt, sizes_key, ops, what) in SCALE_KINDS.items():
            sizes = cfg[sizes_key]
            log("[%s] scaling with %s: sizes %s" % (self.elapsed(), what, sizes))
            res = {"what": what, "sizes": sizes, "ops": ops, "time": {}, "instr": {}, "reached": {},
                   "reached_cg": {}}
            reached_key = {"-f": "fds", "-l": "locks", "-L": "files"}[opt]
            n_ops = ",".join("%s:%d" % (o, cfg["scale_n"][o]) for o in ops)
            n = min(cfg["scale_n"][o] for o in ops)
            for size in sizes:
                samp = {op: {v: [None] * cfg["scale_reps"] for v in cfg["scale_variants"]} for op in ops}
                reps = cfg["scale_reps"]
                if self.late():
                    reps = 1        # behind time (a crowded machine): instruction counts matter more
                    res["late"] = True
                for r in range(reps):
                    k = r % len(cfg["scale_variants"])
                    order = cfg["scale_variants"][k:] + cfg["scale_variants"][:k]
                    for v in order:
                        # every op of the list in one process: the setup is paid once
                        lines, err = self.run(self.bench_argv(n_ops, n, [opt, str(size), "-S", str(cfg["setup_s"])],
                                                              batches=cfg["batches"], budget=True), v, timeout=300)
                        for l in lines:
                            samp[l["op"]][v][r] = l["best"]
                            got = l.get(reached_key)
                            rv = res["reached"].setdefault(str(size), {})
                            if got is not None and (rv.get(v) is None or got < rv[v]):
                                rv[v] = got
                res["time"][str(size)] = {op: self.summarise(samp[op], cfg["scale_reps"]) for op in ops}
                if self.valgrind:
                    # fewer iterations where one takes long (instruction
                    # counts are exact: a few iterations are enough)
                    n1, n2 = cfg["scale_cg_n"]
                    spec = []
                    for op in ops:
                        worst = max([res["time"][str(size)][op][v]["ns_min"] or 0 for v in cfg["scale_variants"]])
                        k2 = n2 if worst <= 20000 else max(4, int(n2 * 20000 / worst))
                        k1 = n1 if k2 == n2 else max(1, k2 // 5)
                        spec.append((op, k2, k1))
                    ins = {}
                    for v in cfg["scale_cg_variants"]:
                        per, reached, err = self.cg_toggled(spec, opt, size, v, n1, n2, "cgs-" + kind)
                        ins[v] = per
                        res["reached_cg"].setdefault(str(size), {})[v] = reached.get(reached_key)
                    res["instr"][str(size)] = ins
            self.res["scaling"][kind] = res

    def section_threads(self):
        cfg = self.cfg
        log("[%s] threads locking different files: %s" % (self.elapsed(), cfg["threads"]))
        res = {"op": "fcntl_lock", "n_per_thread": cfg["thread_n"], "time": {}, "nvcsw_per_kop": {}, "futex": {}}
        vs = cfg["thread_variants"]
        for t in cfg["threads"]:
            samp = {v: [None] * cfg["reps"] for v in vs}
            csw = {v: [] for v in vs}
            for r in range(cfg["reps"]):
                k = r % len(vs)
                for v in vs[k:] + vs[:k]:
                    lines, err = self.run(self.bench_argv("fcntl_lock", cfg["thread_n"], ["-t", str(t)],
                                                          batches=cfg["batches"]), v)
                    if lines and not err:
                        samp[v][r] = lines[0]["best"]
                        ops_done = (cfg["thread_n"] // cfg["batches"]) * cfg["batches"] * t
                        csw[v].append(1000.0 * lines[0]["nvcsw"] / ops_done)
            res["time"][str(t)] = self.summarise(samp, cfg["reps"])
            res["nvcsw_per_kop"][str(t)] = {v: median(csw[v]) for v in vs}
            # how parallel the machine itself is: a loop with no call at all
            sp = []
            for r in range(cfg["reps"]):
                lines, err = self.run(self.bench_argv("spin", cfg["thread_n"] * 10, ["-t", str(t)],
                                                      batches=cfg["batches"]), "native")
                if lines and not err:
                    sp.append(lines[0]["best"])
            res.setdefault("spin_ns", {})[str(t)] = fmin(sp)
            if self.strace and t > 1:
                for v in ("native", "fix"):
                    n1, n2 = cfg["thread_st_n"]
                    d = self.st_diff(lambda n, t=t: self.bench_argv("fcntl_lock", n, ["-t", str(t)], batches=1, warm=1),
                                     v, n1, n2, "st-thr%d" % t)
                    # per op: the difference counts t threads' iterations
                    if d:
                        futex = max(0.0, d["by_name"].get("futex", 0.0) / t)
                        res["futex"].setdefault(str(t), {})[v] = round(futex, 3)
        spin = res.get("spin_ns", {})
        t1 = spin.get(str(cfg["threads"][0]))
        res["machine_speedup"] = {t: (int(t) * t1 / x if (t1 and x) else None) for t, x in spin.items()}
        self.res["threads"] = res

    def section_sqlite(self):
        cfg = self.cfg
        modes = cfg["sqlite_modes"]
        vs = cfg["sqlite_variants"]
        log("[%s] SQLite: %s under %s" % (self.elapsed(), ", ".join(modes), ", ".join(vs)))
        for mode, n in modes.items():
            samp = {v: [None] * cfg["reps"] for v in vs}
            version = None
            for r in range(cfg["reps"]):
                k = r % len(vs)
                for v in vs[k:] + vs[:k]:
                    lines, err = self.run(self.sqlite_argv(mode, n, batches=cfg["batches"]), v)
                    if lines and not err:
                        samp[v][r] = lines[0]["best"]
                        version = lines[0].get("version")
            d = {"label": OP_LABEL["sqlite_" + mode], "n": n, "sqlite_version": version,
                 "time": self.summarise(samp, cfg["reps"])}
            n1, n2 = cfg["sqlite_cg_n"]
            if self.valgrind:
                d["instr"] = {v: self.cg_whole(lambda k, mode=mode: self.sqlite_argv(mode, k, batches=1, warm=0),
                                               v, n1, n2, "cg-sq-" + mode) for v in ("native", "fix")}
            if self.strace:
                d["syscalls"] = {v: self.st_diff(lambda k, mode=mode: self.sqlite_argv(mode, k, batches=1, warm=0),
                                                 v, n1, n2, "st-sq-" + mode) for v in ("native", "fix")}
            self.res["sqlite"][mode] = d

    def section_interference(self):
        """What one process's locking costs the others: a native process
        doing fcntl lock+unlock, alone and while another process does
        flock lock+unlock in a loop, natively or under lockscope.  (Reading
        /proc/locks takes the kernel's file_rwsem for writing, which stops
        every lock and unlock on the system meanwhile.)  Reported as the
        MEAN ns per op, stalls included."""
        cfg = self.cfg
        bgs = ["none", "native", "fix"]
        log("[%s] interference: native fcntl lock+unlock while another process does flock (%s)"
            % (self.elapsed(), ", ".join(bgs)))
        mean = {b: [] for b in bgs}
        csw = {b: [] for b in bgs}
        for r in range(cfg["interfere_reps"]):
            k = r % len(bgs)
            for b in bgs[k:] + bgs[:k]:
                bg = None
                if b != "none":
                    env = dict(self.base_env, **self.variant_env(b))
                    bg = subprocess.Popen(self.bench_argv("flock", 10 ** 9, batches=1, warm=0), env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(0.2)
                lines, err = self.run(self.bench_argv("fcntl_lock", cfg["interfere_n"], batches=5, warm=100), "native")
                if bg is not None:
                    bg.terminate()
                    try:
                        bg.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        bg.kill()
                        bg.wait()
                if lines and not err:
                    mean[b].append(lines[0]["ns"])
                    csw[b].append(1000.0 * lines[0]["nvcsw"] / lines[0]["n"])
        res = {"foreground": "native fcntl_lock", "background": "flock lock+unlock loop", "mean_ns": {},
               "ratio_median": {}, "nvcsw_per_kop": {}}
        for b in bgs:
            res["mean_ns"][b] = median(mean[b])
            res["nvcsw_per_kop"][b] = median(csw[b])
            if median(mean["none"]) and median(mean[b]):
                res["ratio_median"][b] = median(mean[b]) / median(mean["none"])
        self.res["interference"] = res

    @staticmethod
    def proc_locks_lines():
        """Locks held on the whole system: lockscope reads /proc/locks on some paths."""
        try:
            with open("/proc/locks") as f:
                return sum(1 for _ in f)
        except OSError:
            return None

    @staticmethod
    def cpu_sample():
        """(busy seconds of all CPUs, CPU seconds of this harness and its children)"""
        busy = 0.0
        try:
            with open("/proc/stat") as f:
                t = [int(x) for x in f.readline().split()[1:]]
            # user nice system idle iowait irq softirq steal
            busy = (t[0] + t[1] + t[2] + t[5] + t[6] + (t[7] if len(t) > 7 else 0)) / float(os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError, IndexError):
            pass
        tm = os.times()
        return busy, tm.user + tm.system + tm.children_user + tm.children_system

    def hazard_logs(self):
        h = {}
        for v in ("off", "audit", "fix"):
            p = os.path.join(self.workdir, "lockscope-%s.log" % v)
            lines = []
            if os.path.exists(p):
                with open(p, errors="replace") as f:
                    lines = f.read().splitlines()
            names = {}
            for l in lines:
                m = re.search(r'"(?:name|hazard)"\s*:\s*"([\w-]+)"', l) or re.search(r"\b([a-z]+(?:-[a-z]+)+)\b", l)
                key = m.group(1) if m else "?"
                names[key] = names.get(key, 0) + 1
            h[v] = {"lines": len(lines), "kinds": names}
        self.res["hazard_log"] = h

    # ------------------------------------------------------------ targets

    def targets(self):
        T = []
        ops = self.res["ops"]

        def add(name, target, measured, met, margin, note=""):
            T.append({"target": name, "goal": target, "measured": measured, "met": met,
                      "margin": margin, "note": note})

        for op in NO_LOCK_OPS:
            ins = ops[op].get("instr", {})
            f, p = ins.get("fix"), ins.get("passthrough")
            if f is not None and p is not None:
                d = f - p
                add("%s: instructions over the passthrough floor" % OP_LABEL[op], "<= 30",
                    "%+.1f (fix %.1f, floor %.1f)" % (d, f, p), d <= 30,
                    "%+.1f instructions" % (d - 30))
            t = ops[op]["time"]["fix"]
            if t.get("ratio_median") is not None:
                r = t["ratio_median"]
                add("%s: wall time vs native" % OP_LABEL[op], "<= 1.03x",
                    "%.3fx median, %.3fx min" % (r, t["ratio_min"]), r <= 1.03,
                    "%+.1f%%" % ((r - 1.03) * 100))
        for op in PAIR_OPS:
            t = ops[op]["time"]["fix"]
            if t.get("ratio_median") is not None:
                r = t["ratio_median"]
                add("%s: wall time vs native" % OP_LABEL[op], "<= 1.10x",
                    "%.2fx median, %.2fx min" % (r, t["ratio_min"]), r <= 1.10,
                    "%+.0f%%" % ((r - 1.10) * 100))
        # cost curves
        for kind, sc in self.res["scaling"].items():
            sizes = sc["sizes"]
            for op in sc["ops"]:
                added = {}
                for s in sizes:
                    ins = sc["instr"].get(str(s), {})
                    f, nat = ins.get("fix", {}).get(op), ins.get("native", {}).get(op)
                    added[s] = None if f is None or nat is None else f - nat
                verdict = self.growth(sizes, added)
                sc.setdefault("added_instr", {})[op] = {str(s): added[s] for s in sizes}
                sc.setdefault("growth", {})[op] = verdict
                if verdict["steps"]:
                    worst = max(verdict["steps"], key=lambda st: st["excess"])
                    add("%s, %s: growth of the shim's instructions" % (kind.replace("_", " "), OP_LABEL[op]),
                        "no step worse than O(log n)",
                        " -> ".join("%s" % ("?" if added[s] is None else "%.0f" % added[s]) for s in sizes)
                        + "  (n = %s)" % ", ".join(str(s) for s in sizes),
                        verdict["ok"],
                        "worst step %s->%s: %.0f vs %.0f allowed" % (worst["from"], worst["to"], worst["got"], worst["allowed"]))
        # threads
        th = self.res.get("threads", {})
        if th.get("time"):
            ts = sorted(int(t) for t in th["time"])
            rs = {t: th["time"][str(t)].get("fix", {}).get("ratio_median") for t in ts}
            fut = th.get("futex", {})
            worst_f = max([fut[k].get("fix", 0) for k in fut] or [0])
            nat_f = max([fut[k].get("native", 0) for k in fut] or [0])
            r1, rmax = rs.get(ts[0]), rs.get(ts[-1])
            serial = worst_f >= 0.01 and worst_f > 5 * max(nat_f, 0.001)
            growth = (rmax / r1) if (r1 and rmax) else None
            add("threads locking different files: no serialisation on one global lock",
                "no futex waits beyond native's",
                "fix/native %s; futex calls per op (fix) %s, native %s" % (
                    ", ".join("%d thr %.2fx" % (t, rs[t]) for t in ts if rs[t]),
                    ", ".join("%s thr %.2f" % (k, fut[k].get("fix", 0)) for k in sorted(fut, key=int)),
                    ", ".join("%s thr %.2f" % (k, fut[k].get("native", 0)) for k in sorted(fut, key=int))),
                not serial,
                "fix waits on a futex %.2f times per op (native %.2f); its ratio to native grows %sx from %d to %d threads"
                % (worst_f, nat_f, fmt(growth, "%.2f"), ts[0], ts[-1]),
                "judged by futex waits and context switches, which show a lock that serialises even where "
                "the machine cannot run the threads in parallel")
        for mode, d in self.res["sqlite"].items():
            t = d["time"].get("fix", {})
            if t.get("ratio_median") is not None:
                r = t["ratio_median"]
                add("%s workload: wall time vs native" % d["label"], "<= 1.03x",
                    "%.3fx median, %.3fx min" % (r, t["ratio_min"]), r <= 1.03, "%+.1f%%" % ((r - 1.03) * 100))
        self.res["targets"] = T

    @staticmethod
    def shortfall(sc, size):
        """{variant (cg: its callgrind run): reached} where a setup fell short of size"""
        short = {}
        for src, tag in ((sc.get("reached", {}), ""), (sc.get("reached_cg", {}), " (callgrind)")):
            for v, got in src.get(str(size), {}).items():
                if got is not None and got < size:
                    short[v + tag] = got
        return short

    @staticmethod
    def growth(sizes, added):
        """A step from n=a to n=b is within O(log n) if what the shim adds
        at b is at most what it adds at a times (log2 b + 1)/(log2 a + 1),
        plus 60 instructions of slack."""
        steps, ok = [], True
        have = [x for x in sizes if added.get(x) is not None]    # across a missing point
        for a, b in zip(have, have[1:]):
            ya, yb = added[a], added[b]
            allowed = max(ya, 0) * (math.log2(b) + 1) / (math.log2(a) + 1) + 60
            exp = math.log(max(yb, 1) / max(ya, 1)) / math.log(b / a)
            steps.append({"from": a, "to": b, "got": yb, "allowed": allowed, "excess": yb - allowed,
                          "exponent": exp, "ok": yb <= allowed})
            ok = ok and yb <= allowed
        return {"ok": ok, "steps": steps}

    # ------------------------------------------------------------ printing

    def print_tables(self):
        R = self.res
        p = print
        m = R["meta"]
        p("")
        p("lockscope benchmark%s - %s, %s CPUs, kernel %s, files on %s; %s" % (
            " (QUICK)" if self.quick else "", m.get("cpu", "?"), m.get("cpus"), m.get("kernel"),
            m.get("files_fs"), m.get("git", "")))
        p("liblockscope.so sha256 %s; /proc/locks had %s lines at start, %s at end (lockscope reads it on some paths)"
          % (m.get("liblockscope_sha256"), m.get("proc_locks_lines_start"), m.get("proc_locks_lines_end")))
        p("time: best of %d batches per process, %d interleaved repetitions; ratio = variant/native as min / median"
          % (m["batches"], m["reps"]))
        fc = m.get("foreign_cpu_share")
        if fc is not None:
            p("other processes used %.0f%% of the CPUs during the run (load average %s at start, %s at end)%s" % (
                100 * fc, "/".join(m.get("loadavg_start", [])), "/".join(m.get("loadavg_end", [])),
                ": WALL TIMES ARE DISTURBED; instruction and system call counts are not" if fc > 0.10 else ""))
        p("")
        hdr = "%-20s %10s" % ("op", "native ns")
        for v in VARIANTS[1:]:
            hdr += " %15s" % v
        p("WALL TIME per call (ratio to native: min / median)")
        p(hdr)
        p("-" * len(hdr))
        rows = [(op, R["ops"][op]) for op in MAIN_OPS] + \
               [("sqlite_" + k, d) for k, d in R["sqlite"].items()]
        for op, d in rows:
            t = d["time"]
            line = "%-20s %10s" % (OP_LABEL[op], fmt(t["native"]["ns_min"], "%.0f"))
            for v in VARIANTS[1:]:
                if v in t and t[v].get("ratio_min") is not None:
                    line += " %15s" % ("%.2f / %.2f" % (t[v]["ratio_min"], t[v]["ratio_median"]))
                else:
                    line += " %15s" % "-"
            p(line)
        p("")
        p("USER-SPACE INSTRUCTIONS per call (callgrind, whole process, (I(N2)-I(N1))/(N2-N1))")
        hdr = "%-20s" % "op" + "".join(" %11s" % v for v in VARIANTS) + " %12s" % "fix-floor"
        p(hdr)
        p("-" * len(hdr))
        for op, d in rows:
            ins = d.get("instr", {})
            line = "%-20s" % OP_LABEL[op] + "".join(" %11s" % fmt(ins.get(v), "%.0f") for v in VARIANTS)
            f, fl = ins.get("fix"), ins.get("passthrough")
            line += " %12s" % (fmt(f - fl, "%+.0f") if f is not None and fl is not None else "-")
            p(line)
        p("")
        p("SYSTEM CALLS per call (strace -f -c, differenced)")
        for op, d in rows:
            sc = d.get("syscalls", {})
            if not sc:
                continue
            parts = []
            for v in ("native", "off", "audit", "fix"):
                if sc.get(v):
                    parts.append("%s %.1f" % (v, sc[v]["total"]))
            p("%-20s %s" % (OP_LABEL[op], "  ".join(parts)))
            if sc.get("fix"):
                p("%-20s   fix: %s" % ("", ", ".join("%s %g" % kv for kv in sc["fix"]["by_name"].items())))
            if sc.get("native"):
                p("%-20s   native: %s" % ("", ", ".join("%s %g" % kv for kv in sc["native"]["by_name"].items())))
        for kind, sc in R["scaling"].items():
            p("")
            p("SCALING with %s  (time: native ns, then variant/native median; Ir: native / fix instructions)"
              % sc["what"])
            vs = [v for v in self.cfg["scale_variants"] if v != "native"]
            hdr = "%-18s %12s %10s" % ("op", "n", "native ns") + "".join(" %8s" % v for v in vs) + \
                  " %10s %10s %9s" % ("Ir native", "Ir fix", "added")
            p(hdr)
            p("-" * len(hdr))
            for op in sc["ops"]:
                for s in sc["sizes"]:
                    t = sc["time"].get(str(s), {}).get(op, {})
                    short = self.shortfall(sc, s)
                    label = str(s) + ("*" if short else "")
                    line = "%-18s %12s %10s" % (OP_LABEL[op], label, fmt(t.get("native", {}).get("ns_min"), "%.0f"))
                    for v in vs:
                        line += " %8s" % fmt(t.get(v, {}).get("ratio_median"), "%.2f")
                    ins = sc["instr"].get(str(s), {})
                    a, b = ins.get("native", {}).get(op), ins.get("fix", {}).get(op)
                    line += " %10s %10s %9s" % (fmt(a, "%.0f"), fmt(b, "%.0f"),
                                                fmt(b - a, "%+.0f") if a is not None and b is not None else "-")
                    p(line)
            for s_ in sc["sizes"]:
                short = self.shortfall(sc, s_)
                if short:
                    p("  * %d: the setup reached only %s (limit on open files, or the setup's time budget)" % (
                        s_, ", ".join("%s %s" % (v, got) for v, got in sorted(short.items()))))
        th = R.get("threads")
        if th and th.get("time"):
            p("")
            p("(this machine runs %s threads of pure computation %s times as fast as one)" % (
                "/".join(sorted(th.get("machine_speedup", {}), key=int)),
                "/".join(fmt(th["machine_speedup"][t], "%.1f") for t in sorted(th.get("machine_speedup", {}), key=int))))
            p("THREADS each locking its own file (fcntl lock+unlock; ns per op per thread; ratio median; "
              "voluntary context switches per 1000 ops; futex calls per op)")
            vs = self.cfg["thread_variants"]
            hdr = "%-8s %10s" % ("threads", "native ns") + "".join(" %11s" % v for v in vs[1:]) + \
                  "  %-22s %s" % ("nvcsw/kop nat/fix", "futex/op nat/fix")
            p(hdr)
            p("-" * len(hdr))
            for t in sorted(th["time"], key=int):
                tt = th["time"][t]
                line = "%-8s %10s" % (t, fmt(tt["native"]["ns_min"], "%.0f"))
                for v in vs[1:]:
                    line += " %11s" % fmt(tt.get(v, {}).get("ratio_median"), "%.2f")
                cs = th["nvcsw_per_kop"].get(t, {})
                fu = th["futex"].get(t, {})
                line += "  %-22s %s" % ("%s / %s" % (fmt(cs.get("native"), "%.1f"), fmt(cs.get("fix"), "%.1f")),
                                        "%s / %s" % (fmt(fu.get("native"), "%.2f"), fmt(fu.get("fix"), "%.2f")) if fu else "-")
                p(line)
        it = R.get("interference")
        if it and it.get("mean_ns"):
            p("")
            p("INTERFERENCE: a native process's fcntl lock+unlock (MEAN ns, stalls included) while another process "
              "loops on flock")
            for b in ("none", "native", "fix"):
                p("  background %-7s %10s ns  %6sx  %s voluntary context switches per 1000 ops" % (
                    b, fmt(it["mean_ns"].get(b), "%.0f"), fmt(it["ratio_median"].get(b), "%.2f"),
                    fmt(it["nvcsw_per_kop"].get(b), "%.1f")))
        hz = R.get("hazard_log", {})
        if hz:
            p("")
            p("hazard log lines written during the run: " + ", ".join(
                "%s %d%s" % (v, hz[v]["lines"], (" " + str(hz[v]["kinds"])) if hz[v]["kinds"] else "") for v in hz))
        p("")
        p("TARGETS for fix")
        for t in R["targets"]:
            p("  [%s] %s (goal %s): %s%s" % ("met   " if t["met"] else "MISSED", t["target"], t["goal"],
                                             t["measured"], "" if t["met"] else "  -- " + t["margin"]))
        met = sum(1 for t in R["targets"] if t["met"])
        p("  %d of %d met" % (met, len(R["targets"])))
        if self.errors:
            p("")
            p("ERRORS (runs that failed; their values are missing):")
            for e in self.errors[:30]:
                p("  " + e)
        p("")
        p("JSON: %s   (%.0f s)" % (self.out, time.time() - self.t0))

    def main(self):
        try:
            self.meta()
            load0 = self.cpu_sample()
            try:
                with open("/proc/loadavg") as f:
                    self.res["meta"]["loadavg_start"] = f.read().split()[:3]
            except OSError:
                pass
            secs = self.res["meta"]["section_seconds"] = {}
            for name, fn in (("time", self.section_time), ("instructions", self.section_instr),
                             ("syscalls", self.section_syscalls), ("threads", self.section_threads),
                             ("sqlite", self.section_sqlite), ("interference", self.section_interference),
                             ("scaling", self.section_scaling)):
                t = time.time()
                fn()
                secs[name] = round(time.time() - t, 1)
            load1 = self.cpu_sample()
            self.res["meta"]["proc_locks_lines_end"] = self.proc_locks_lines()
            wall = time.time() - self.t0
            ncpu = os.cpu_count() or 1
            # CPU time other processes took while this ran (valgrind and
            # strace runs are this harness's children and count as ours)
            self.res["meta"]["foreign_cpu_share"] = max(0.0, ((load1[0] - load0[0]) - (load1[1] - load0[1])) / (wall * ncpu))
            try:
                with open("/proc/loadavg") as f:
                    self.res["meta"]["loadavg_end"] = f.read().split()[:3]
            except OSError:
                pass
            self.hazard_logs()
            self.targets()
            self.res["errors"] = self.errors
            self.res["meta"]["seconds"] = round(time.time() - self.t0, 1)
            with open(self.out, "w") as f:
                json.dump(self.res, f, indent=1, sort_keys=False)
                f.write("\n")
            self.print_tables()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)
        return 0


def profile(b, ops, variant, n):
    """Where the instructions of OP go, per call: callgrind_annotate of a
    whole-process run of n iterations (startup is included, but with n
    large it is noise)."""
    ann = shutil.which("callgrind_annotate")
    if not b.valgrind or not ann:
        log("bench: --profile needs valgrind and callgrind_annotate")
        return 1
    def show(path, k, title, inclusive=False):
        txt = subprocess.run([ann, "--auto=no", "--inclusive=%s" % ("yes" if inclusive else "no"), path],
                             stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, universal_newlines=True).stdout
        print(title)
        shown = 0
        for line in txt.splitlines():
            mm = re.match(r"^\s*([\d,]+) \(\s*[\d.]+%\)\s+(.*)$", line)
            if not mm:
                continue
            ir = int(mm.group(1).replace(",", "")) / float(k)
            if ir < 0.5:
                continue
            print("%10.1f  %s" % (ir, mm.group(2)))
            shown += 1
            if shown >= 30:
                break

    def pid_of(path):
        m = re.search(r"\.(\d+)$", path)
        return int(m.group(1)) if m else 0

    try:
        for op in ops:
            k = max(n // 100, 20) if op == "fork_exit" else n
            w, out = b.cg_wrapper("prof-%s-%s" % (op, variant))
            _, err = b.run(b.bench_argv(op, k, batches=1, warm=0), variant, wrapper=w)
            files = sorted(b.cg_files(out), key=pid_of)
            if err or not files:
                log("bench: %s failed: %s" % (op, err))
                continue
            show(files[0], k, "== %s under %s: instructions per call by function (self cost / %d calls%s)"
                 % (op, variant, k, "; the parent's side, startup included" if op == "fork_exit" else ""))
            for f in files:
                os.unlink(f)
            if op == "fork_exit":
                # a child's own instructions: its counters start at zero (-C)
                w, out = b.cg_wrapper("prof-%s-%s-c" % (op, variant))
                b.run(b.bench_argv(op, 3, ["-C"], batches=1, warm=0), variant, wrapper=w)
                kids = [f for f in b.cg_files(out) if re.search(r"\.\d+$", f)]
                kids = sorted(kids, key=pid_of)[1:]
                if kids:
                    # (inclusive: callgrind books a child's own cost oddly once its counters were zeroed)
                    show(kids[-1], 1, "== fork_exit under %s: one child's instructions by function, INCLUSIVE"
                         % variant, inclusive=True)
                for f in b.cg_files(out):
                    os.unlink(f)
    finally:
        shutil.rmtree(b.workdir, ignore_errors=True)
    return 0


def fmt(x, f):
    return "-" if x is None else f % x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"), help="the build directory")
    ap.add_argument("--out", default=None, help="JSON output (default results.json, results-quick.json)")
    ap.add_argument("--quick", action="store_true", help="as BENCH_QUICK=1")
    ap.add_argument("--profile", metavar="OP[,OP...]", help="only print where each op's instructions go, by function")
    ap.add_argument("--variant", default="fix", choices=VARIANTS, help="with --profile (default fix)")
    ap.add_argument("-n", type=int, default=20000, help="with --profile: iterations (default 20000)")
    a = ap.parse_args()
    quick = a.quick or os.environ.get("BENCH_QUICK", "") not in ("", "0")
    out = a.out or ("results-quick.json" if quick else "results.json")
    b = Bench(os.path.abspath(a.build), out, quick)
    for f in (b.bench, b.sqlite, b.pt, b.lib):
        if not os.path.exists(f):
            log("bench: %s missing (make -C bench bins, and make at the top)" % f)
            return 1
    if a.profile:
        return profile(b, a.profile.split(","), a.variant, a.n)
    return b.main()


if __name__ == "__main__":
    sys.exit(main())
