"""A full disk and a read-only database (issue 6): the daemon's data
directory (store, attempts, workspaces) lives on a small tmpfs of its own.

Full: a filler file takes every free block.  A trigger then answers 503
{"error": {"code": "unavailable"}} with a message that says the disk is
full, /readyz 503, /healthz 200, stored runs still read 200, the daemon
stays up and its log says why.  A job that prints while the disk fills
ends while it is still full: the daemon keeps its result (and the log
bytes the store could not take) and records them once there is space
again; the run reaches success and its stored log is a gapless prefix of
the job's output.  Once the filler is gone the daemon recovers by itself:
/readyz 200 with no write needed, and a new run succeeds.

Read-only: Linux refuses `mount -o remount,ro` while the daemon holds the
database open for writing (EBUSY), so the daemon is stopped, the tmpfs
remounted read-only and the daemon started on it: it serves reads, a
trigger answers 503 saying the database is read-only, /readyz 503; after
`mount -o remount,rw` (allowed under a running daemon) it recovers by
itself.

Needs root and mount namespaces: the scenario re-executes itself under
`unshare -m` with private mounts, so nothing leaks to the host; without
them it is skipped (exit 77).
"""
import errno
import os
import re
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

TMPFS_SIZE = "8m"

DEMO = """\
jobs:
  hello:
    script: echo "hello from a roomy disk"
"""

# Prints numbered lines until the test opens the gate, then a last one.
TALK = """\
jobs:
  talk:
    script:
      - i=0; while [ ! -e "$GATE/open" ]; do i=$((i+1)); echo "line $i"; sleep 0.01; done; echo "last line after $i"
"""

# A pipeline with problems makes a run that is finished at once (no job),
# and it stores its whole file: each of these triggers takes ~600 KiB.
BIG = "# " + "padding " * 75000 + "\njobs: [this is not a job map]\n"


def mount(*args):
    p = subprocess.run(["mount"] + list(args), capture_output=True)
    return p.returncode, p.stderr.decode().strip()


def fill(path):
    """Writes path until the file system is full; returns its size."""
    n = 0
    chunk = b"\0" * 65536
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            try:
                w = os.write(fd, chunk)
            except OSError as e:
                if e.errno != errno.ENOSPC:
                    raise
                break
            n += w
        # What is left is less than a chunk: take it too, byte by byte pages.
        for size in (4096, 512, 1):
            while True:
                try:
                    n += os.write(fd, chunk[:size])
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return n


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def metric(d, name):
    """The value of a metric line that starts with name, or 0."""
    r = d.get("/metrics")
    eq(r.status, 200, "GET /metrics")
    m = re.search(r"^%s (\d+(\.\d+)?)$" % re.escape(name), r.text, re.M)
    return float(m.group(1)) if m else 0.0


def error_message(r, status, what):
    eq(r.status, status, "%s status (%r)" % (what, r.body[:300]))
    e = r.json().get("error")
    expect(isinstance(e, dict), "%s: no error object: %r" % (what, r.body))
    eq(e.get("code"), "unavailable", "%s error code" % what)
    return e.get("message") or ""


def gapless(text, what):
    """text is the echoed command, then `line 1` .. `line N` (the last
    possibly cut short), maybe the `last line` and a marker; returns N."""
    lines = text.split("\n")
    n = 0
    for i, l in enumerate(lines):
        if l == "line %d" % (n + 1):
            n += 1
            continue
        if i == len(lines) - 1 and ("line %d" % (n + 1)).startswith(l):
            break  # the stored prefix ends inside a line
        if (l.startswith("$ ") or l.startswith("last line after") or
                l.startswith("[pipewright") or l == ""):
            continue
        pw.fail("%s: line %d is %r after `line %d`" % (what, i + 1, l[:80], n))
    return n


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    # The pid file stays off the tmpfs: the daemon must start on it read-only.
    d = t.daemon(projects={"demo": DEMO, "talk": TALK, "big": BIG}, start=False,
                 tokens=(), config="pid_file: %s\n" % os.path.join(t.tmp, "pw.pid"))
    os.makedirs(d.data, exist_ok=True)
    rc, err = mount("-t", "tmpfs", "-o", "size=%s,mode=0700" % TMPFS_SIZE, "tmpfs", d.data)
    if rc != 0:
        pw.skip("cannot mount a tmpfs on the data directory: %s" % err)
    d.token("operator", "operate")  # into the store on the tmpfs
    try:
        scenario(t, d, gate)
    finally:
        for p in t.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        mount("-o", "remount,rw", d.data)
        subprocess.run(["umount", "-l", d.data], capture_output=True)


def scenario(t, d, gate):
    filler = os.path.join(d.data, "filler")
    st = {}
    d.start()

    def before():
        rid = d.trigger("demo")["id"]
        eq(d.wait_run(rid)["status"], "success", "a run on the roomy disk")
        st["old"] = rid
        eq(d.get("/readyz").status, 200, "/readyz")
        st["talk"] = d.trigger("talk", {"env": {"GATE": gate}})["id"]
        pw.wait_until(lambda: "line 5\n" in d.get(
            "/api/v1/runs/%d/jobs/talk/log" % st["talk"]).text,
            "the talking job's first lines in the store")
    t.check("a run succeeds and a talking job starts before the disk fills", before)

    def full():
        st["filler"] = fill(filler)
        expect(free_bytes(d.data) < 65536, "the tmpfs is full (%d bytes free)" % free_bytes(d.data))
        # The WAL may still have room for a small write: a run that stores
        # a large pipeline needs more than the disk has.
        r = d.post("/api/v1/projects/big/runs", body={}, token="operator")
        msg = error_message(r, 503, "trigger on a full disk")
        expect(re.search(r"no space left on device", msg, re.I) and
               re.search(r"disk|store", msg),
               "the message says the disk is full: %r" % msg)
        st["msg"] = msg
        # Every write now needs space: a small trigger fails the same way.
        r = d.post("/api/v1/projects/demo/runs", body={}, token="operator")
        msg = error_message(r, 503, "a small trigger on a full disk")
        expect(re.search(r"no space left on device", msg, re.I), "message %r" % msg)
        r = d.get("/readyz")
        eq(r.status, 503, "/readyz on a full disk (%r)" % r.body[:200])
        rmsg = error_message(r, 503, "/readyz")
        expect(re.search(r"no space left on device", rmsg, re.I),
               "/readyz says why: %r" % rmsg)
        eq(d.get("/healthz").status, 200, "/healthz on a full disk")
        eq(d.run(st["old"])["status"], "success", "a stored run reads")
        eq(d.get("/api/v1/projects/demo/runs").status, 200, "the run list reads")
        expect(pw.alive(d.proc.pid), "the daemon is alive")
        d.wait_log(r"store\.commit_failed .*No space left on device",
                   "the daemon's log saying the disk is full")
    t.check("disk full: 503 unavailable saying so, /readyz 503, reads work", full)

    def job_ends_while_full():
        open(os.path.join(gate, "open"), "w").close()
        # The scheduler saw the job end (metrics are in memory)...
        pw.wait_until(lambda: metric(d, 'pipewright_jobs_finished_total{status="success"}') >= 2,
                      "the talking job to end")
        # ...but the store cannot say so yet.
        run = d.run(st["talk"])
        expect(run["status"] == "running", "the stored run is still running: %s" % run["status"])
        expect(pw.alive(d.proc.pid), "the daemon is alive")
        eq(d.get("/readyz").status, 503, "/readyz while still full")
    t.check("a job ends while the disk is full: the daemon lives, keeps its result", job_ends_while_full)

    def space_returns():
        os.unlink(filler)
        # Nothing needs to be written for readiness to come back.
        pw.wait_until(lambda: d.get("/readyz").status == 200, "/readyz 200 after space returns")
        run = d.wait_run(st["talk"])
        eq(run["status"], "success", "the talking run's final state")
        text = d.get("/api/v1/runs/%d/jobs/talk/log" % st["talk"]).text
        n = gapless(text, "the talking job's stored log")
        expect(n >= 5, "the stored log has its first lines (%d)" % n)
        st["talk_lines"] = n
        rid = d.trigger("demo")["id"]
        eq(d.wait_run(rid)["status"], "success", "a new run after space returned")
        d.wait_log(r"store\.recovered", "the daemon's log saying it recovered")
        expect(pw.alive(d.proc.pid), "the daemon is alive")
    t.check("space returns: /readyz 200 by itself, the run finishes, a new run succeeds",
            space_returns)

    def read_only():
        d.stop()
        rc, err = mount("-o", "remount,ro", d.data)
        expect(rc == 0, "remount ro: %s" % err)
        d.start()
        r = d.post("/api/v1/projects/demo/runs", body={}, token="operator")
        msg = error_message(r, 503, "trigger on a read-only database")
        expect(re.search(r"read-only", msg), "the message says read-only: %r" % msg)
        r = d.get("/readyz")
        rmsg = error_message(r, 503, "/readyz on a read-only database")
        expect(re.search(r"read-only", rmsg), "/readyz says why: %r" % rmsg)
        eq(d.get("/healthz").status, 200, "/healthz")
        eq(d.run(st["old"])["status"], "success", "a stored run reads")
        expect(pw.alive(d.proc.pid), "the daemon is alive")
        rc, err = mount("-o", "remount,rw", d.data)
        expect(rc == 0, "remount rw: %s" % err)
        pw.wait_until(lambda: d.get("/readyz").status == 200, "/readyz 200 once writable")
        rid = d.trigger("demo")["id"]
        eq(d.wait_run(rid)["status"], "success", "a run once writable again")
        d.stop()
    t.check("read-only: 503 saying so, /readyz 503; writable again: recovers", read_only)


if __name__ == "__main__":
    pw.reexec_in_mount_ns(__file__)
    pw.main(main)
