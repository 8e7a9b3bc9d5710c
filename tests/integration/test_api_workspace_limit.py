"""A run's workspace has a size limit (`sandbox.limits.workspace`), its
jobs' workspaces inside it: a job
writing past it gets ENOSPC, the host holds no more than the limit for it
(the image's allocated size, checked from the host while the job waits),
and once the run has finished its file system is unmounted and its image
and loop device are gone.  Skipped (77) where the strict sandbox, mount -o
loop or mkfs.ext4 is missing."""
import os
import shutil
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

LIMIT = 32 << 20

PIPELINE = r"""
jobs:
  fill:
    script:
      - df -k . | tail -n 1
      - |
        if dd if=/dev/zero of=big bs=1M count=64 2>err; then echo wrote""-all; else echo "dd""-end: $(head -n 1 err)"; fi
      - while [ ! -e go ]; do sleep 0.05; done
"""


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    if shutil.which("mkfs.ext4") is None:
        pw.skip("mkfs.ext4 (e2fsprogs) is not installed")
    if not os.path.exists("/dev/loop-control"):
        pw.skip("no loop devices (/dev/loop-control)")
    d = t.daemon(projects={"fill": PIPELINE},
                 config="sandbox: {mode: strict, limits: {workspace: 32M}}\n")
    state = {}

    def full():
        rid = d.trigger("fill")["id"]
        state["rid"] = rid
        ws = os.path.join(d.data, "workspaces", str(rid))
        state["ws"] = ws
        img = ws + ".img"

        def log():
            return d.get("/api/v1/runs/%d/jobs/fill/log" % rid).text
        # Split in the script, so that the echoed command does not match.
        text = pw.wait_until(lambda: "\ndd-end: " in log() and log(), "the job's dd to end")
        expect("No space left on device" in text, "no ENOSPC in the log:\n%s" % text)
        expect("wrote-all" not in text, "the job wrote past the limit:\n%s" % text)
        expect(mounted(ws), "the workspace is not a mount point")
        st = os.stat(img)
        eq(st.st_size, LIMIT, "the image's size")
        expect(st.st_blocks * 512 <= LIMIT, "the image holds %d bytes" % (st.st_blocks * 512))
        # The job's own workspace lies in the run's file system: the limit
        # covers every job of the run.
        job_ws = os.path.join(ws, "jobs", "0")
        eq(os.stat(job_ws).st_dev, os.stat(ws).st_dev, "the job's workspace's file system")
        # The job waits for this file: written from the host, into its workspace.
        open(os.path.join(job_ws, "go"), "w").close()
        run = d.wait_run(rid)
        eq(run["status"], "success", "run status")
    t.check("a job writing past the workspace limit gets ENOSPC; the host holds at most the limit",
            full)

    def released():
        ws = state["ws"]

        def gone():
            # The daemon removes a run's workspace once its end is stored;
            # the loop device clears itself once the file system is let go.
            r = subprocess.run(["losetup", "-j", ws + ".img"], capture_output=True, text=True)
            return not mounted(ws) and not os.path.exists(ws + ".img") and r.stdout.strip() == ""
        pw.wait_until(gone, "the workspace's file system, image and loop device to go")
    t.check("after the run: unmounted, image and loop device gone", released)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
