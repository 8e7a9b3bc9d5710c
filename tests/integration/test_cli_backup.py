"""`pipewright backup` while the daemon serves and a client triggers runs
without pause: the copy passes SQLite's integrity_check (Python's own
sqlite3, not ours), holds every run whose trigger was answered before the
backup began, the command says how many bytes and runs it copied, and the
daemon answered every request throughout.  An OUT that exists is refused
with exit 2 and left byte for byte as it was.  Restoring the copy (stop,
replace the file, remove -wal/-shm, start) serves those runs again and
`pipewright doctor` finds nothing wrong."""
import glob
import os
import re
import sqlite3
import subprocess
import threading
import time

import pwdaemon as pw
from pwdaemon import eq, expect

# Each run stores ~64 KiB of log, so the database is several MB by the
# time the backup starts and the copy takes a while.
PIPELINE = """\
jobs:
  build:
    script: head -c 65536 /dev/zero | tr '\\0' x; echo
"""


class Hammer(threading.Thread):
    """Triggers runs one after another until stopped; records every answer."""

    def __init__(self, d):
        super().__init__(daemon=True)
        self.d = d
        self.lock = threading.Lock()
        self.ids = []           # answered 201, in order
        self.errors = []        # anything else
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                r = self.d.post("/api/v1/projects/demo/runs", body={}, token="operator")
                if r.status == 201:
                    with self.lock:
                        self.ids.append(r.json()["id"])
                else:
                    self.errors.append("status %d: %r" % (r.status, r.body[:200]))
            except Exception as e:  # a refused or broken connection
                self.errors.append(repr(e))

    def answered(self):
        with self.lock:
            return list(self.ids)


def backup(d, out):
    return subprocess.run([pw.PW_BIN, "backup", "--config", d.config_path, out],
                          stdin=subprocess.DEVNULL, capture_output=True,
                          timeout=pw.DEADLINE * 3)


def main(t):
    d = t.daemon(projects={"demo": PIPELINE}, config="max_jobs: 2")
    out = os.path.join(t.tmp, "backup.db")
    st = {}

    def online():
        h = Hammer(d)
        h.start()
        try:
            pw.wait_until(lambda: len(h.answered()) >= 40, "40 runs answered", timeout=60 * pw.SLOW)
            st["before"] = h.answered()
            n0 = len(st["before"])
            p = backup(d, out)
            n1 = len(h.answered())
            eq(p.returncode, 0, "backup exit (stderr %r)" % p.stderr)
            st["stdout"] = p.stdout.decode()
            # The daemon goes on answering after the copy as before it.
            pw.wait_until(lambda: len(h.answered()) >= n1 + 5, "5 more runs answered")
            print("  %d runs answered before the backup, %d by its end" % (n0, n1))
        finally:
            h.stop.set()
            h.join(pw.DEADLINE)
        eq(h.errors, [], "requests that failed during the backup")
        r = d.get("/readyz")
        eq(r.status, 200, "readyz after the backup")
    t.check("backup while a client triggers runs: exit 0, the daemon answered every request",
            online)

    def copy_is_whole():
        expect(os.path.isfile(out), "no %s" % out)
        db = sqlite3.connect("file:%s?mode=ro" % out, uri=True)
        try:
            eq(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)], "integrity_check")
            ids = {r[0] for r in db.execute("SELECT id FROM runs")}
            runs = len(ids)
            version = db.execute("PRAGMA user_version").fetchone()[0]
            logs = db.execute("SELECT count(*) FROM log_chunks").fetchone()[0]
        finally:
            db.close()
        missing = sorted(set(st["before"]) - ids)
        eq(missing, [], "runs answered before the backup but missing from the copy")
        expect(logs > 0, "the copy has no log chunks")
        m = re.match(r"^(\S+): copied (\S+): (\d+) bytes, (\d+) runs?, schema version (\d+)$",
                     st["stdout"].strip())
        expect(m, "backup printed %r" % st["stdout"])
        eq(m.group(1), out, "the file it names")
        eq(m.group(2), os.path.join(d.data, "pipewright.db"), "the database it names")
        eq(int(m.group(3)), os.path.getsize(out), "bytes printed")
        eq(int(m.group(4)), runs, "runs printed")
        eq(int(m.group(5)), version, "schema version printed")
        # Only OUT itself: no temporary and no -wal/-shm next to it.
        eq(sorted(os.path.basename(p) for p in glob.glob(out + "*")), ["backup.db"],
           "files next to the copy")
        eq(oct(os.stat(out).st_mode & 0o777), oct(0o600), "the copy's mode")
    t.check("the copy passes integrity_check and has every run answered before it began",
            copy_is_whole)

    def refuses_existing():
        path = os.path.join(t.tmp, "precious.db")
        with open(path, "wb") as f:
            f.write(b"not to be replaced\n")
        before = os.stat(path)
        p = backup(d, path)
        eq(p.returncode, 2, "exit for an existing OUT")
        expect(re.search(r"precious\.db exists", p.stderr.decode()),
               "stderr says it exists: %r" % p.stderr)
        with open(path, "rb") as f:
            eq(f.read(), b"not to be replaced\n", "the file's bytes")
        eq(os.stat(path).st_mtime_ns, before.st_mtime_ns, "the file's mtime")
        eq(sorted(os.path.basename(p) for p in glob.glob(path + "*")), ["precious.db"],
           "files next to it")
        # The same for the backup just made.
        size = os.path.getsize(out)
        eq(backup(d, out).returncode, 2, "exit for the earlier backup as OUT")
        eq(os.path.getsize(out), size, "the earlier backup's size")
        # A directory that does not exist: a clear failure, exit 1.
        p = backup(d, os.path.join(t.tmp, "no", "such", "dir.db"))
        eq(p.returncode, 1, "exit for OUT in a missing directory")
        expect(b"cannot create" in p.stderr, "stderr: %r" % p.stderr)
    t.check("an OUT that exists: exit 2, the file untouched", refuses_existing)

    def restore():
        d.stop()
        db = os.path.join(d.data, "pipewright.db")
        os.replace(out, db)
        for suffix in ("-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)
        d.start()
        for rid in (st["before"][0], st["before"][-1]):
            eq(d.run(rid)["id"], rid, "run %d after the restore" % rid)
        p = subprocess.run([pw.PW_BIN, "doctor", "--config", d.config_path],
                           stdin=subprocess.DEVNULL, capture_output=True, timeout=pw.DEADLINE)
        eq(p.returncode, 0, "doctor after the restore:\n%s" % p.stdout.decode())
    t.check("restore: stop, replace, remove -wal/-shm, start: the runs are served; doctor exits 0",
            restore)


pw.main(main)
