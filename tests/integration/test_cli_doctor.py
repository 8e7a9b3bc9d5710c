"""`pipewright doctor` against real states of a daemon's data directory.

- Healthy, with a job running: exit 0, one "ok" line per check; the live
  supervisor is the store's running attempt, not an orphan; the job goes
  on and the run succeeds (doctor disturbed nothing).
- Orphans made by the test: workspaces of a finished run and of a run the
  store never had, an attempt directory of a finished run, and an attempt
  directory where a Python unix socket listens while the store runs no
  attempt there: each reported, the socket as a problem (exit 1), and all
  of them left in place.  With the socket closed it is an orphaned
  directory, a warning only (exit 0).
- A running attempt whose supervisor and job are gone without a status
  file (supervisor stopped, daemon SIGKILLed, both killed): a warning that
  the next start marks it lost; the pid file's lock is free.  After a
  start the run finishes and doctor is clean.
- A copy of the store (pipewright backup) is clean; the same copy with
  pages in the middle overwritten fails integrity_check: exit 1.
- A configuration with an error: its problem printed as `serve --check`
  prints it, exit 1.
"""
import os
import re
import signal
import socket
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  gate:
    script:
      - echo $$ > "$PIDS/job.$PIPEWRIGHT_RUN_ID.$PIPEWRIGHT_ATTEMPT"
      - echo "waiting"
      - while [ ! -e "$PIDS/open" ]; do sleep 0.02; done
      - echo "through"
"""

CHECKS = ["config", "daemon", "store", "schema", "workspaces", "attempts",
          "supervisors", "running", "disk"]
LINE = re.compile(r"^(ok|warning|problem) +([a-z]+): (.*)$")


def doctor(config):
    p = subprocess.run([pw.PW_BIN, "doctor", "--config", config],
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=pw.DEADLINE)
    out = p.stdout.decode()
    lines = {}
    items = {}
    last = None
    for l in out.splitlines():
        m = LINE.match(l)
        if m:
            last = m.group(2)
            lines[last] = (m.group(1), m.group(3))
            items[last] = []
        elif l.startswith("           ") and last:
            items[last].append(l.strip())
    return p.returncode, lines, items, out, p.stderr.decode()


def expect_levels(res, want, what):
    """want: {check: level}; every other check must be ok."""
    rc, lines, _, out, err = res
    eq(sorted(lines), sorted(CHECKS), "%s: the checks printed\n%s" % (what, out))
    for c in CHECKS:
        level = want.get(c, "ok")
        if c == "disk" and level == "ok":
            # The machine's own disk: anything but a problem.
            expect(lines[c][0] in ("ok", "warning"), "%s: disk %r" % (what, lines[c]))
            continue
        eq(lines[c][0], level, "%s: %s line %r\n%s" % (what, c, lines[c][1], out))
    eq(rc, 1 if "problem" in want.values() else 0, "%s: exit\n%s%s" % (what, out, err))


def find_supervisor(dirpath):
    """The pid of the pipewright-supervisor given --dir dirpath."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        for i, a in enumerate(args[:-1]):
            if a == b"--dir" and args[i + 1] == dirpath.encode():
                return int(pid)
    return None


def main(t):
    pids = os.path.join(t.tmp, "pids")
    os.makedirs(pids)
    d = t.daemon(projects={"demo": PIPELINE})
    ws = os.path.join(d.data, "workspaces")
    at = os.path.join(d.data, "attempts")
    st = {}

    def healthy_with_a_job_running():
        rid = d.trigger("demo", {"env": {"PIDS": pids}})["id"]
        d.wait_job(rid, "gate", "running")
        pw.wait_until(lambda: os.path.exists(os.path.join(pids, "job.%d.1" % rid)),
                      "the job to start")
        res = doctor(d.config_path)
        expect_levels(res, {}, "healthy, a job running")
        lines = res[1]
        eq(lines["daemon"][1], "running: pid %d holds the lock on %s" %
           (d.proc.pid, os.path.join(d.data, "pipewright.pid")), "daemon line")
        expect(re.match(r"^\S+pipewright\.db: integrity_check ok, \d+ bytes$", lines["store"][1]),
               "store line %r" % lines["store"][1])
        expect(lines["supervisors"][1].startswith("1 answers, each for an attempt the store runs"),
               "supervisors line %r" % lines["supervisors"][1])
        expect(lines["running"][1].startswith("1 running attempt,"), "running line %r" %
               lines["running"][1])
        expect(lines["workspaces"][1].startswith("none orphaned (1 of runs"),
               "workspaces line %r" % lines["workspaces"][1])
        open(os.path.join(pids, "open"), "w").close()
        eq(d.wait_run(rid)["status"], "success", "the run doctor looked at")
        st["done"] = rid
        res = doctor(d.config_path)
        expect_levels(res, {}, "healthy, idle")
        expect(res[1]["supervisors"][1].startswith("0 answer,"), "idle supervisors %r" %
               res[1]["supervisors"][1])
    t.check("healthy state with a job running: exit 0, every check ok, the run succeeds",
            healthy_with_a_job_running)

    def orphans():
        fid = st["done"]
        made = [os.path.join(ws, "99999"), os.path.join(ws, str(fid)),
                os.path.join(at, "r%d-j0-a1" % fid), os.path.join(at, "r99998-j0-a1")]
        for p in made:
            os.makedirs(p)
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(os.path.join(made[3], "sock"))
        srv.listen(8)
        try:
            res = doctor(d.config_path)
            expect_levels(res, {"workspaces": "warning", "attempts": "warning",
                                "supervisors": "problem"}, "orphans")
            rc, lines, items, out, _ = res
            eq(sorted(items["workspaces"]), sorted([
                "%s (run %d is finished or pruned)" % (made[1], fid),
                "%s (run 99999 is not in the store)" % made[0]]), "workspace items")
            eq(items["attempts"], ["%s (run %d is finished or pruned)" % (made[2], fid)],
               "attempt items")
            eq(items["supervisors"], ["%s (no pipewright-supervisor process names it)" % made[3]],
               "supervisor items")
            expect("kill -TERM" in lines["supervisors"][1], "the hint: %r" % lines["supervisors"][1])
            expect("rm -rf" in lines["workspaces"][1], "the hint: %r" % lines["workspaces"][1])
            for p in made:
                expect(os.path.isdir(p), "doctor removed %s" % p)
            expect(os.path.exists(os.path.join(made[3], "sock")), "doctor removed the socket")
            # The Python server still listens: doctor's connections were closed.
            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            c.connect(os.path.join(made[3], "sock"))
            c.close()
        finally:
            srv.close()
        res = doctor(d.config_path)
        expect_levels(res, {"workspaces": "warning", "attempts": "warning"},
                      "orphans, the socket closed")
        eq(sorted(res[2]["attempts"]), sorted([
            "%s (run %d is finished or pruned)" % (made[2], fid),
            "%s (run 99998 is not in the store)" % made[3]]), "attempt items")
        for p in made:
            subprocess.run(["rm", "-rf", p], check=True)
        expect_levels(doctor(d.config_path), {}, "the orphans removed as told")
    t.check("orphaned workspaces and attempt dirs, a socket without an attempt: reported, exit 1",
            orphans)

    def lost_attempt():
        os.unlink(os.path.join(pids, "open"))
        rid = d.trigger("demo", {"env": {"PIDS": pids}})["id"]
        d.wait_job(rid, "gate", "running")
        job_file = os.path.join(pids, "job.%d.1" % rid)
        pw.wait_until(lambda: os.path.exists(job_file), "the job to start")
        adir = os.path.join(at, "r%d-j0-a1" % rid)
        sv = pw.wait_until(lambda: find_supervisor(adir), "the supervisor of %s" % adir)
        # Stopped, it cannot write a status file when the daemon dies.
        os.kill(sv, signal.SIGSTOP)
        d.kill()
        os.kill(sv, signal.SIGKILL)
        with open(job_file) as f:
            os.kill(int(f.read()), signal.SIGKILL)
        pw.wait_until(lambda: not pw.alive(sv), "the supervisor to be gone")
        expect(not os.path.exists(os.path.join(adir, "status")), "a status file was written")
        res = doctor(d.config_path)
        expect_levels(res, {"running": "warning"}, "a lost attempt")
        eq(res[2]["running"], [adir], "running items")
        expect("marks it lost" in res[1]["running"][1], "the hint: %r" % res[1]["running"][1])
        eq(res[1]["daemon"][1], "not running (nobody holds the lock on %s)" %
           os.path.join(d.data, "pipewright.pid"), "daemon line")
        open(os.path.join(pids, "open"), "w").close()
        d.start()
        run = d.wait_run(rid)
        eq(run["jobs"][0]["attempts"][0]["status"], "lost", "the first attempt")
        expect_levels(doctor(d.config_path), {}, "after the restart")
    t.check("a running attempt without supervisor or status: a warning; lost at the next start",
            lost_attempt)

    def corrupted():
        cdir = os.path.join(t.tmp, "copy")
        os.makedirs(cdir)
        db = os.path.join(cdir, "pipewright.db")
        p = subprocess.run([pw.PW_BIN, "backup", "--config", d.config_path, db],
                           capture_output=True, timeout=pw.DEADLINE)
        eq(p.returncode, 0, "backup: %r" % p.stderr)
        with open(d.config_path) as f:
            text = f.read()
        cfg = os.path.join(d.dir, "copy.yml")
        with open(cfg, "w") as f:
            f.write(re.sub(r"(?m)^data_dir: .*$", "data_dir: " + cdir, text))
        expect_levels(doctor(cfg), {}, "the clean copy")
        with open(db, "r+b") as f:
            head = f.read(100)
            size = int.from_bytes(head[16:18], "big")
            size = 65536 if size == 1 else size
            pages = os.path.getsize(db) // size
            expect(pages >= 8, "the copy has only %d pages" % pages)
            f.seek((pages // 2) * size)
            f.write(os.urandom(3 * size))
        res = doctor(cfg)
        eq(res[0], 1, "exit for a corrupted store\n" + res[3])
        eq(res[1]["store"][0], "problem", "store line: %r" % (res[1]["store"],))
        expect("restore the latest backup" in res[1]["store"][1], "the hint: %r" %
               res[1]["store"][1])
        print("  " + "\n  ".join(res[3].splitlines()[2:6]))
    t.check("a copy of the store with pages overwritten: integrity problem, exit 1", corrupted)

    def bad_config():
        cfg = os.path.join(d.dir, "bad.yml")
        with open(cfg, "w") as f:
            f.write("listen: 127.0.0.1:0\nno_such_key: 1\nprojects: []\n")
        rc, lines, _, out, err = doctor(cfg)
        eq(rc, 1, "exit for a bad configuration")
        eq(lines["config"][0], "problem", "config line")
        expect(re.search(r"bad\.yml:2:1: error: .*no_such_key", err), "stderr: %r" % err)
        chk = subprocess.run([pw.PW_BIN, "serve", "--check", "--config", cfg],
                             capture_output=True, timeout=pw.DEADLINE)
        eq(err, chk.stderr.decode(), "the problems as serve --check prints them")
    t.check("a configuration with an error: printed as serve --check does, exit 1", bad_config)


pw.main(main)
