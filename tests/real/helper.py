#!/usr/bin/env python3
"""helper.py - the Python halves of tests/real/run.sh.

Each subcommand prints one result line on stdout that run.sh compares with
what it expects (the same line natively and under the shim), details of
anything that went wrong on stderr, and exits 0 only when the result is the
expected one.

  handoff DB MODE N       two connections of one process used in turn, N times
                          (DESIGN-NOTES "Traps: SQLite"): A takes SHARED, B
                          joins, A finishes, B commits a write.  Then a
                          process without the shim must get an EXCLUSIVE lock
                          while both connections stay open (no stale lock).
  threads DB MODE T N TAG T threads, each with its own connection, N small
                          write transactions each (busy timeout); prints the
                          rows this process inserted.
  stress DB N TAG         N hand-offs of two connections (readers, then a
                          writer joined by a reader) with a busy timeout, to
                          run in several processes at once.
  check DB                integrity_check and row count.
  hazard DB               How To Corrupt An SQLite Database File, 2.2: hold a
                          write transaction, open and close the database file
                          with os.open/os.close, then probe with an sqlite3
                          process that runs without the shim.
  busy DB                 SQLite's busy path: COMMIT while a process without
                          the shim holds a read transaction (three tries),
                          then a write after it is gone.
  fork-read DB HOW        a program holding a read transaction forks three
                          children that read (HOW inherit: on the inherited
                          connection, after ending its transaction; new: on
                          their own connections); then the parent writes.
  ro-rw DB                a read-only connection reads, then a read-write
                          connection of the same process writes.
  rule1 FILE HOW          lock FILE (HOW: lockf, setlk or setlkw), open and
                          close FILE again, probe from a process without the
                          shim: prints "lock kept" or "lock lost".
  threads-lock FILE       rule 2: two threads lock FILE through two
                          descriptions.
  fork FILE               rule 6: a forked child and a spawned child with the
                          descriptor try to lock, unlock and close.
  exec FILE               rule 7: the lock survives exec; no shim fd or
                          variable is visible in the new image.
  probe-lock FILE         (internal) try a non-blocking write lock on FILE;
                          prints "free" or "held by PID".

MODE is an SQLite journal mode: delete (rollback journal) or wal.
HELPER_PENDING=N (environment) moves SQLite's PENDING_BYTE to N first.
"""
import fcntl
import os
import sqlite3
import struct
import subprocess
import sys
import threading

SQLITE3 = os.environ.get("SQLITE3", "sqlite3")
BUSY = 30              # seconds of busy timeout: natively no wait comes close
FLOCK_FMT = "hhqqi4x"   # struct flock on x86_64/aarch64 glibc: 32 bytes


def clean_env():
    """The environment of a probe: no preload, no lockscope settings."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LOCKSCOPE_") and k != "LD_PRELOAD"}
    return env


def err(*a):
    print(*a, file=sys.stderr, flush=True)


def connect(db, timeout):
    c = sqlite3.connect(db, timeout=timeout, isolation_level=None,
                        check_same_thread=False)
    return c


def setup(db, mode):
    c = connect(db, 5)
    got = c.execute("PRAGMA journal_mode=%s" % mode).fetchone()[0]
    if got.lower() != mode.lower():
        err("journal_mode is %s, wanted %s" % (got, mode))
        sys.exit(2)
    c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, who TEXT, n INTEGER)")
    c.close()


def sqlite_probe(db, sql):
    """Run sqlite3 without the shim; return (ok, output)."""
    r = subprocess.run([SQLITE3, db] + sql, env=clean_env(),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, timeout=30)
    return r.returncode == 0, r.stdout.strip()


def cmd_handoff(db, mode, n):
    n = int(n)
    setup(db, mode)
    # timeout=0: a BUSY shows at once instead of after a wait.
    a = connect(db, 0)
    b = connect(db, 0)
    ok = 0
    for i in range(n):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        try:
            first.execute("BEGIN")
            first.execute("SELECT count(*) FROM t").fetchone()      # SHARED
            second.execute("BEGIN")
            second.execute("SELECT count(*) FROM t").fetchone()     # joins
            first.execute("COMMIT")                                 # finishes
            second.execute("INSERT INTO t(who, n) VALUES('handoff', ?)", (i,))
            second.execute("COMMIT")                                # writes
            ok += 1
        except sqlite3.Error as e:
            err("iteration %d: %s" % (i, e))
            for c in (a, b):
                try:
                    c.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
    rows = a.execute("SELECT count(*) FROM t").fetchone()[0]
    integ = a.execute("PRAGMA integrity_check").fetchone()[0]
    # Both connections idle but open: nothing of theirs may still be locked.
    pok, pout = sqlite_probe(db, ["BEGIN EXCLUSIVE", "COMMIT"])
    a.close()
    b.close()
    print("handoff %d/%d rows %d integrity %s probe %s"
          % (ok, n, rows, integ, "ok" if pok else "failed"))
    if not pok:
        err("probe: " + pout)
    return ok == n and rows == n and integ == "ok" and pok


def cmd_threads(db, mode, nthreads, n, tag):
    nthreads, n = int(nthreads), int(n)
    setup(db, mode)
    errors = []
    lock = threading.Lock()

    def work(k):
        who = "%s-%d" % (tag, k)
        try:
            c = connect(db, BUSY)
            c.execute("PRAGMA synchronous=OFF")
            for i in range(n):
                c.execute("BEGIN IMMEDIATE")
                c.execute("INSERT INTO t(who, n) VALUES(?, ?)", (who, i))
                have = c.execute("SELECT count(*) FROM t WHERE who=?", (who,)).fetchone()[0]
                c.execute("COMMIT")
                if have != i + 1:
                    raise RuntimeError("%s sees %d rows of its own, wanted %d" % (who, have, i + 1))
                if i % 10 == 0:                       # a read transaction too
                    c.execute("BEGIN")
                    c.execute("SELECT count(*) FROM t").fetchone()
                    c.execute("COMMIT")
            c.close()
        except Exception as e:                        # noqa: BLE001
            with lock:
                errors.append("%s: %s" % (who, e))

    ts = [threading.Thread(target=work, args=(k,)) for k in range(nthreads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    c = connect(db, BUSY)
    mine = c.execute("SELECT count(*) FROM t WHERE who LIKE ?", (tag + "-%",)).fetchone()[0]
    c.close()
    for e in errors:
        err(e)
    print("threads %s inserted %d errors %d" % (tag, mine, len(errors)))
    return not errors and mine == nthreads * n


def cmd_stress(db, n, tag):
    n = int(n)
    a = connect(db, BUSY)
    b = connect(db, BUSY)
    for c in (a, b):
        c.execute("PRAGMA synchronous=OFF")   # fewer fsyncs, the same locks
    ok = 0
    errors = 0
    for i in range(n):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        try:
            # Readers: the kernel lock is taken through `first` and released
            # through `second` (the last one out).
            first.execute("BEGIN")
            first.execute("SELECT count(*) FROM t").fetchone()
            second.execute("BEGIN")
            second.execute("SELECT count(*) FROM t").fetchone()
            first.execute("COMMIT")
            second.execute("COMMIT")
            # A writer that `first` joins as a reader while it writes.  No
            # connection holds a lock while another of this process waits,
            # so natively nothing can deadlock and every commit succeeds.
            second.execute("BEGIN IMMEDIATE")
            second.execute("INSERT INTO t(who, n) VALUES(?, ?)", (tag, i))
            first.execute("BEGIN")
            first.execute("SELECT count(*) FROM t").fetchone()
            first.execute("COMMIT")
            second.execute("COMMIT")
            ok += 1
        except sqlite3.Error as e:
            errors += 1
            err("%s iteration %d: %s" % (tag, i, e))
            for c in (a, b):
                try:
                    c.execute("ROLLBACK")
                except sqlite3.Error:
                    pass
    mine = a.execute("SELECT count(*) FROM t WHERE who=?", (tag,)).fetchone()[0]
    a.close()
    b.close()
    print("stress %s %d/%d errors %d" % (tag, ok, n, errors))
    return ok == n and mine == n


def cmd_check(db):
    c = connect(db, 30)
    integ = c.execute("PRAGMA integrity_check").fetchone()[0]
    rows = c.execute("SELECT count(*) FROM t").fetchone()[0]
    c.close()
    print("integrity %s rows %d" % (integ, rows))
    return integ == "ok"


def cmd_hazard(db):
    setup(db, "delete")
    c = connect(db, 0)
    c.execute("INSERT INTO t(who, n) VALUES('before', 0)")
    c.execute("BEGIN IMMEDIATE")                       # RESERVED: a write lock
    c.execute("INSERT INTO t(who, n) VALUES('holder', 1)")
    fd = os.open(db, os.O_RDONLY)                      # the innocent-looking
    os.close(fd)                                       # open and close
    pok, pout = sqlite_probe(db, ["BEGIN IMMEDIATE", "ROLLBACK"])
    c.execute("COMMIT")
    rows = c.execute("SELECT count(*) FROM t").fetchone()[0]
    integ = c.execute("PRAGMA integrity_check").fetchone()[0]
    c.close()
    if pok:
        print("probe got a write lock: lock lost")
    else:
        print("probe: %s: lock kept" % ("database is locked" if "locked" in pout else pout))
    err("rows %d integrity %s" % (rows, integ))
    return rows == 2 and integ == "ok"


HOLD_READ = """
import ctypes, os, sqlite3, sys
if os.environ.get("HELPER_PENDING"):
    ctypes.CDLL("libsqlite3.so.0").sqlite3_test_control(11, ctypes.c_uint(int(os.environ["HELPER_PENDING"], 0)))
c = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
c.execute("BEGIN")
c.execute("SELECT count(*) FROM t").fetchone()
print("held", flush=True)
sys.stdin.read()
c.execute("COMMIT")
"""


def cmd_busy(db):
    """SQLite's normal busy path: a process without the shim holds a read
    transaction; this one's COMMIT cannot get EXCLUSIVE, so SQLite falls
    back to SHARED (re-locking the SHARED range it holds) and says
    "database is locked"; after the holder is gone the write succeeds."""
    setup(db, "delete")
    h = subprocess.Popen([sys.executable, "-c", HOLD_READ, db], env=clean_env(),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    if h.stdout.readline().strip() != "held":
        err("holder did not start")
        return False
    c = connect(db, 0)
    out = []
    for _ in range(3):
        try:
            c.execute("BEGIN IMMEDIATE")
            c.execute("INSERT INTO t(who, n) VALUES('busy', 1)")
            c.execute("COMMIT")
            out.append("written")
        except sqlite3.OperationalError as e:
            out.append(str(e))
            c.execute("ROLLBACK")
    h.stdin.close()
    h.wait()
    c.execute("INSERT INTO t(who, n) VALUES('busy', 2)")
    rows = c.execute("SELECT count(*) FROM t").fetchone()[0]
    c.close()
    print("busy: %s; after release rows %d" % (", ".join(out), rows))
    return rows == 1


def cmd_fork_read(db, how):
    """A program holding a read transaction forks three children.  HOW
    inherit: each child ends the inherited transaction and starts its own
    on the inherited connection (SQLite takes SHARED in the kernel: the
    child holds a read lock); new: each child reads through a connection of
    its own (SQLite shares the inherited in-memory SHARED: no kernel lock).
    While the children hold their transactions the parent ends its read and
    tries to write."""
    setup(db, "delete")
    c = connect(db, 0)
    c.execute("INSERT INTO t(who, n) VALUES('fork', 0)")
    c.execute("BEGIN")
    c.execute("SELECT count(*) FROM t").fetchone()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    kids = []
    for _ in range(3):
        pid = os.fork()
        if pid == 0:
            os.close(ready_r)
            os.close(go_w)
            st = b"r"
            try:
                if how == "inherit":
                    c.execute("COMMIT")
                    k = c
                else:
                    k = connect(db, 0)
                k.execute("BEGIN")
                k.execute("SELECT count(*) FROM t").fetchone()
            except sqlite3.Error as e:
                err("child: %s" % e)
                st = b"e"
            os.write(ready_w, st)
            os.read(go_r, 1)
            os._exit(0)
        kids.append(pid)
    os.close(ready_w)
    os.close(go_r)
    got = b""
    while len(got) < 3:
        b = os.read(ready_r, 3)
        if not b:
            break
        got += b
    try:
        c.execute("COMMIT")
        c.execute("BEGIN IMMEDIATE")
        c.execute("INSERT INTO t(who, n) VALUES('fork', 1)")
        c.execute("COMMIT")
        res = "parent wrote"
    except sqlite3.Error as e:
        res = "parent: %s" % e
        try:
            c.execute("ROLLBACK")
        except sqlite3.Error:
            pass
    os.close(go_w)
    for p in kids:
        os.waitpid(p, 0)
    print("children %s, %s" % (got.decode(), res))
    return got == b"rrr"


def cmd_ro_rw(db):
    """A read-only connection reads first (its SHARED pattern is what
    recognises the file), then a read-write connection of the same process
    writes, and a second process reads the row."""
    setup(db, "delete")
    ro = sqlite3.connect("file:%s?mode=ro" % db, uri=True, isolation_level=None, timeout=0)
    ro.execute("SELECT count(*) FROM t").fetchone()
    rw = connect(db, 0)
    try:
        rw.execute("INSERT INTO t(who, n) VALUES('rw', 1)")
        res = "write ok"
    except sqlite3.Error as e:
        res = "write: %s" % e
    rows = ro.execute("SELECT count(*) FROM t").fetchone()[0]
    pok, pout = sqlite_probe(db, ["SELECT count(*) FROM t"])
    ro.close()
    rw.close()
    print("%s, rows %d, other process sees %s" % (res, rows, pout if pok else "error"))
    return rows == 1


def flock_bytes(typ, start=0, length=0, whence=os.SEEK_SET):
    return struct.pack(FLOCK_FMT, typ, whence, start, length, 0)


def cmd_rule1(path, how):
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.write(fd, b"x" * 100)
    if how == "lockf":
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0, os.SEEK_SET)
    elif how == "setlk":
        fcntl.fcntl(fd, fcntl.F_SETLK, flock_bytes(fcntl.F_WRLCK, 0, 10))
    elif how == "setlkw":
        fcntl.fcntl(fd, fcntl.F_SETLKW, flock_bytes(fcntl.F_WRLCK, 0, 10))
    else:
        err("unknown HOW " + how)
        return False
    # Python's own file object: open() + close() of the same file.
    with open(path, "rb") as f:
        f.read(1)
    fd2 = os.open(path, os.O_RDONLY)
    os.close(fd2)
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "probe-lock", path],
                       env=clean_env(), stdout=subprocess.PIPE, text=True, timeout=30)
    out = r.stdout.strip()
    # The lock is still usable: unlock through the original descriptor.
    if how == "lockf":
        fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0, os.SEEK_SET)
    else:
        fcntl.fcntl(fd, fcntl.F_SETLK, flock_bytes(fcntl.F_UNLCK, 0, 10))
    os.close(fd)
    if out == "free":
        print("lock lost")
    elif out.startswith("held"):
        print("lock kept")
    else:
        err("probe said: %r" % out)
        return False
    return True


def try_lock(fd):
    """A non-blocking write lock on bytes 0-9 through fd: True if granted."""
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0, os.SEEK_SET)
        return True
    except OSError:
        return False


def probe(path):
    r = subprocess.run([sys.executable, os.path.abspath(__file__), "probe-lock", path],
                       env=clean_env(), stdout=subprocess.PIPE, text=True, timeout=30)
    return "held" if r.stdout.startswith("held") else r.stdout.strip()


def cmd_threads_lock(path):
    """Rule 2: two threads, two descriptions of one file, one process."""
    fds = [os.open(path, os.O_RDWR | os.O_CREAT, 0o644) for _ in range(2)]
    got = [None, None]

    def take(k):
        got[k] = try_lock(fds[k])

    for k in range(2):
        t = threading.Thread(target=take, args=(k,))
        t.start()
        t.join()
    print("first thread %s, second thread %s"
          % ("got it" if got[0] else "refused", "got it" if got[1] else "refused"))
    return True


def cmd_fork(path):
    """Rule 6 through os.fork() and subprocess (pass_fds)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0, os.SEEK_SET)
    out = []
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        res = "child refused" if not try_lock(fd) else "child got it"
        try:                                   # the child's unlock and close
            fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0, os.SEEK_SET)
        except OSError:
            pass
        os.close(fd)
        os.write(w, res.encode())
        os._exit(0)
    os.close(w)
    os.waitpid(pid, 0)
    out.append(os.read(r, 100).decode())
    os.close(r)
    out.append("after child: " + probe(path))
    code = ("import fcntl, os, sys\n"
            "try:\n"
            "    fcntl.lockf(%d, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 0, 0); print('spawned got it')\n"
            "except OSError: print('spawned refused')\n"
            "os.close(%d)\n" % (fd, fd))
    p = subprocess.run([sys.executable, "-c", code], pass_fds=(fd,), stdout=subprocess.PIPE,
                       text=True, timeout=30)
    out.append(p.stdout.strip())
    out.append("after spawned: " + probe(path))
    print(", ".join(out))
    return True


def cmd_exec(path, fd=None):
    """Rule 7: a lock on an inheritable fd survives exec; the new image sees
    no descriptor of the shim's at a low number and no LOCKSCOPE_ variable
    it did not have."""
    if fd is not None:                          # the new image
        fd = int(fd)
        before = probe(path)
        fcntl.lockf(fd, fcntl.LOCK_UN, 10, 0, os.SEEK_SET)
        after = probe(path)
        low = sorted(int(f) for f in os.listdir("/proc/self/fd") if int(f) < 64)
        env = sorted(k for k in os.environ if k.startswith("LOCKSCOPE"))
        print("after exec: %s, after unlock: %s, fds < 64: %s, env: %s"
              % (before, after, low, " ".join(env)))
        return True
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    os.set_inheritable(fd, True)
    fcntl.lockf(fd, fcntl.LOCK_EX, 10, 0, os.SEEK_SET)
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), "exec", path, str(fd)])


def cmd_probe_lock(path):
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLK, flock_bytes(fcntl.F_WRLCK, 0, 10))
    except OSError:
        got = fcntl.fcntl(fd, fcntl.F_GETLK, flock_bytes(fcntl.F_WRLCK, 0, 10))
        typ, _, _, _, pid = struct.unpack(FLOCK_FMT, got)
        print("held by %d" % pid)
        return True
    print("free")
    return True


def apply_pending():
    """HELPER_PENDING=N moves SQLite's PENDING_BYTE to N, as SQLite's own
    test suite does (0x10000), before any database is opened (the
    test-control call of the libsqlite3 that Python's sqlite3 uses)."""
    v = os.environ.get("HELPER_PENDING")
    if v:
        import ctypes
        lib = ctypes.CDLL("libsqlite3.so.0")
        lib.sqlite3_test_control(11, ctypes.c_uint(int(v, 0)))   # SQLITE_TESTCTRL_PENDING_BYTE


def main(argv):
    apply_pending()
    cmds = {"handoff": cmd_handoff, "threads": cmd_threads, "check": cmd_check, "stress": cmd_stress,
            "hazard": cmd_hazard, "rule1": cmd_rule1, "busy": cmd_busy, "ro-rw": cmd_ro_rw, "fork-read": cmd_fork_read,
            "threads-lock": cmd_threads_lock, "fork": cmd_fork, "exec": cmd_exec, "probe-lock": cmd_probe_lock}
    if len(argv) < 2 or argv[1] not in cmds:
        err(__doc__)
        return 2
    try:
        return 0 if cmds[argv[1]](*argv[2:]) else 1
    except Exception as e:                            # noqa: BLE001
        err("%s: %s: %s" % (argv[1], type(e).__name__, e))
        return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
