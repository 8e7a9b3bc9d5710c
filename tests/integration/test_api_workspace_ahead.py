"""A run next in line gets its workspace's file system made ahead (when
the job before it starts), and it can be cancelled while that is being
made.  Its end's cleanup then waits for the making to be over: a rerun
(or an approval) meanwhile is refused with 409 instead of making the same
workspace again while the first is still being made (two mkfs and two
mounts on one path, the second over the first), and once the making is
over the workspace, image and mount are gone and the rerun runs.

mkfs.ext4 is a wrapper in the daemon's PATH that holds the second file
system made (the run made ahead) until the test lets it go.  Skipped (77)
where the strict sandbox, mount -o loop or mkfs.ext4 is missing."""
import os
import shutil
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

HOLD = r"""
jobs:
  a:
    script:
      - while [ ! -e go ]; do sleep 0.05; done
  b:
    needs: [a]
    script:
      - while [ ! -e go ]; do sleep 0.05; done
"""

QUICK = """
jobs:
  q:
    script:
      - echo ran
"""

WRAPPER = """#!/bin/sh
# The first file system made goes through; the second waits for the test.
if mkdir "%(gate)s/first" 2>/dev/null; then exec %(real)s "$@"; fi
if mkdir "%(gate)s/second" 2>/dev/null; then
    touch "%(gate)s/held"
    # (or until the test's directory goes: a failed test leaves nothing)
    while [ ! -e "%(gate)s/release" ] && [ -d "%(gate)s" ]; do
        sleep 0.02
    done
fi
exec %(real)s "$@"
"""


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return sum(1 for line in f if line.split()[4] == path)


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    real = shutil.which("mkfs.ext4")
    if real is None:
        pw.skip("mkfs.ext4 (e2fsprogs) is not installed")
    if not os.path.exists("/dev/loop-control"):
        pw.skip("no loop devices (/dev/loop-control)")
    gate = os.path.join(t.tmp, "gate")
    bindir = os.path.join(t.tmp, "bin")
    os.mkdir(gate)
    os.mkdir(bindir)
    wrapper = os.path.join(bindir, "mkfs.ext4")
    with open(wrapper, "w") as f:
        f.write(WRAPPER % {"gate": gate, "real": real})
    os.chmod(wrapper, 0o755)
    os.environ["PATH"] = bindir + ":" + os.environ.get("PATH", "")
    d = t.daemon(projects={"hold": HOLD, "quick": QUICK},
                 config="max_jobs: 1\n"
                 "sandbox: {mode: strict, limits: {workspace: 32M}}\n")

    def go(rid, job, name):
        # Its script runs (so its workspace is there): then the file.
        pw.wait_until(lambda: "while [" in d.get(
            "/api/v1/runs/%d/jobs/%s/log" % (rid, name)).text,
            "job %s's script to run" % name)
        open(os.path.join(d.data, "workspaces", str(rid), "jobs", str(job),
                          "go"), "w").close()

    def scenario():
        hold = d.trigger("hold")["id"]
        d.wait_job(hold, "a", "running")
        quick = d.trigger("quick")["id"]
        ws = os.path.join(d.data, "workspaces", str(quick))
        # a ends, b starts: the run next in line gets its file system made.
        go(hold, 0, "a")
        pw.wait_until(lambda: os.path.exists(os.path.join(gate, "held")),
                      "the queued run's file system to be made ahead")
        eq(d.post("/api/v1/runs/%d/cancel" % quick, token="operator").status,
           200, "cancel")
        eq(d.wait_run(quick)["status"], "canceled", "the queued run")
        r = d.post("/api/v1/runs/%d/rerun" % quick, token="operator")
        eq(r.status, 409, "a rerun while its workspace is made (%r)" % r.body)
        expect(b"still being made" in r.body, "the reason: %r" % r.body)
        open(os.path.join(gate, "release"), "w").close()

        def gone():
            return mounted(ws) == 0 and not os.path.exists(ws + ".img") and \
                not os.path.exists(ws)
        pw.wait_until(gone, "the cancelled run's workspace to go")
        r = d.post("/api/v1/runs/%d/rerun" % quick, token="operator")
        eq(r.status, 200, "the rerun once it is gone (%r)" % r.body)
        go(hold, 1, "b")
        eq(d.wait_run(hold)["status"], "success", "the run before it")
        run = d.wait_run(quick)
        eq(run["status"], "success", "the rerun")
        expect("ran" in d.get("/api/v1/runs/%d/jobs/q/log" % quick).text,
               "the rerun's log")

        def clean():
            r = subprocess.run(["losetup", "-j", ws + ".img"],
                               capture_output=True, text=True)
            return mounted(ws) == 0 and not os.path.exists(ws + ".img") \
                and r.stdout.strip() == ""
        pw.wait_until(clean, "the rerun's file system, image and loop device "
                      "to go")
    t.check("a run cancelled while its workspace is made ahead: its cleanup "
            "waits, a rerun meanwhile is refused", scenario)
    open(os.path.join(gate, "release"), "w").close()

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
