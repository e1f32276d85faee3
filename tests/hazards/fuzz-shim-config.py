#!/usr/bin/env python3
"""fuzz-shim-config.py LIB TARGET SECONDS [SEED] - the configuration through
the real shim: random LOCKSCOPE_* values and config file contents (mutated
from tests/fuzz/corpus/config), each run of TARGET (tests/hazards/sec_target,
"hazard FILE") preloaded with LIB.  Every run must:
  - end by itself (10 s) and never on a signal;
  - exit 0 having run main (stdout "probe="), or 127 in strict with a
    configuration error line;
  - name the culprit in any "lockscope: configuration error: " line: a
    LOCKSCOPE_ variable, or the config file with ":LINE:" or ": REASON".
Never writes outside its work directory: log paths are always ours (lines of
a config file starting with "log" or "abort" are dropped: LOCKSCOPE_ABORT
would kill the program on purpose), and as root every run is made as nobody.
Prints "ok - ..." or "not ok - ..." with the failing input saved, exits 1 on
a failure."""
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

lib, target, secs = sys.argv[1], sys.argv[2], float(sys.argv[3])
seed = int(sys.argv[4]) if len(sys.argv) > 4 else int(time.time())
rng = random.Random(seed)
here = os.path.dirname(os.path.abspath(__file__))
corpus_dir = os.path.join(here, "..", "fuzz", "corpus", "config")
corpus = []
for name in sorted(os.listdir(corpus_dir)):
    with open(os.path.join(corpus_dir, name), "rb") as f:
        corpus.append(f.read())

VARS = ["MODE", "LOG", "FORMAT", "DEBUG", "FLOCK", "ABORT", "BACKTRACE", "OPEN_LOCK",
        "SCOPE", "CONFIG", "HANDOVER", "_X", "MDOE", "BOGUS"]
WORDS = [b"off", b"audit", b"fix", b"strict", b"text", b"json", b"0", b"1", b"native", b"ofd",
         b"exclusive", b"shared", b"deny-write", b"nonblock", b"process", b"description", b"auto",
         b"*", b"**", b"/", b"=", b";", b",", b"[", b"]", b"\"", b" ", b"\t", b"\\", b"?", b"*.db",
         b"/tmp/**", b"**=process", b"[!a-", b"[[:alpha:]]", b"\xff", b"\xc3\xa9", b"\x01", b"\r",
         b"[path \"", b"mode = ", b"scope = ", b"open_lock = ", b"\n"]


def rand_bytes(n):
    return bytes(rng.randrange(1, 256) for _ in range(n))


def rand_value():
    k = rng.random()
    if k < 0.5:
        return b"".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 12)))
    if k < 0.8:
        return rand_bytes(rng.randrange(0, 60))
    if k < 0.9:
        return b"a=shared;" * rng.randrange(1, 1500)     # many rules
    return b"x" * rng.choice([65535, 65536, 65537, 100000])


def mutate(data):
    data = bytearray(data)
    for _ in range(rng.randrange(1, 8)):
        op = rng.randrange(5)
        pos = rng.randrange(len(data) + 1)
        if op == 0 and data:
            del data[pos:pos + rng.randrange(1, 16)]
        elif op == 1:
            data[pos:pos] = rng.choice(WORDS)
        elif op == 2:
            data[pos:pos] = rand_bytes(rng.randrange(1, 8))
        elif op == 3 and corpus:
            c = rng.choice(corpus)
            s = rng.randrange(len(c) + 1)
            data[pos:pos] = c[s:s + rng.randrange(1, 80)]
        elif data:
            data[min(pos, len(data) - 1)] = rng.randrange(256)
    return bytes(data)


def safe_config(data):
    out = []
    for i, line in enumerate(data.split(b"\n")):
        s = line
        if i == 0 and s.startswith(b"\xef\xbb\xbf"):
            s = s[3:]
        s = s.lstrip(b" \t")
        out.append(b"# dropped" if s[:3].lower() == b"log" or s[:5].lower() == b"abort" else line)
    return b"\n".join(out)


work = tempfile.mkdtemp(prefix="lockscope-fuzzcfg.")
os.chmod(work, 0o777)
as_nobody = os.geteuid() == 0 and shutil.which("setpriv")
prefix = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if as_nobody else []
cfg_path = os.path.join(work, "c.conf")
err_re = re.compile(rb"^lockscope: configuration error: (LOCKSCOPE_[A-Z_]+[=:]|"
                    + re.escape(cfg_path.encode()) + rb"(:\d+: |: ))", re.M)
runs = 0
fails = 0
start = time.time()
while time.time() - start < secs and fails == 0:
    runs += 1
    env = {b"PATH": b"/usr/bin:/bin", b"HOME": work.encode()}
    for _ in range(rng.randrange(0, 5)):
        v = rng.choice(VARS)
        if v in ("LOG", "CONFIG", "ABORT"):
            continue
        env[b"LOCKSCOPE_" + v.encode()] = rand_value()
    env[b"LOCKSCOPE_LOG"] = rng.choice([b"stderr", os.path.join(work, "log.jsonl").encode(),
                                        os.path.join(work, "nodir", "x").encode()])
    if rng.random() < 0.7:
        with open(cfg_path, "wb") as f:
            f.write(safe_config(mutate(rng.choice(corpus))))
        os.chmod(cfg_path, 0o644)
        env[b"LOCKSCOPE_CONFIG"] = cfg_path.encode()
    data_file = os.path.join(work, "f%d" % (runs % 4))
    why = None
    try:
        # LD_PRELOAD for the target only (not for setpriv)
        p = subprocess.run(prefix + ["/usr/bin/env", "LD_PRELOAD=" + lib, target, "hazard", data_file],
                           env=env, cwd=work,
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=10)
        rc, out, err = p.returncode, p.stdout, p.stderr
        cfg_errs = [l for l in err.split(b"\n") if b"lockscope: configuration error: " in l]
        if rc < 0:
            why = "killed by signal %d" % -rc
        elif rc == 127:
            if not cfg_errs:
                why = "exit 127 without a configuration error line"
        elif rc != 0:
            why = "exit %d" % rc
        elif b"probe=" not in out:
            why = "main did not run"
        if why is None:
            for l in cfg_errs:
                if not err_re.match(l):
                    why = "configuration error names neither a variable nor file:line: %r" % l[:200]
                    break
            if len(cfg_errs) > 1:
                why = "%d configuration error lines" % len(cfg_errs)
    except subprocess.TimeoutExpired:
        why = "hung (10 s)"
        err = b""
    if why:
        fails += 1
        keep = os.path.join(os.getcwd(), "fuzz-shim-config-failure")
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, "env"), "wb") as f:
            f.write(b"LD_PRELOAD=" + lib.encode() + b"\n")
            for k, v in env.items():
                f.write(k + b"=" + v + b"\n")
        if os.path.exists(cfg_path):
            shutil.copy(cfg_path, os.path.join(keep, "c.conf"))
        print("not ok - config through the shim: %s (seed %d, run %d, input in %s)" % (why, seed, runs, keep))
        for l in err.split(b"\n")[:5]:
            print("#   %r" % l[:200])
shutil.rmtree(work, ignore_errors=True)
if fails == 0:
    print("ok - config through the shim (%d runs in %ds, seed %d)" % (runs, secs, seed))
sys.exit(1 if fails else 0)
