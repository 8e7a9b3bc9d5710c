"""Runs queued behind a paused queue, then let go: a queued run holds no
workspace (no directory, and under the strict sandbox with a workspace
size limit no image and no loop device) while it waits for a slot; the
resume starts each run once, even when it comes while the runs just
triggered are still being set up; every run then succeeds with exactly
one attempt per job, no run is taken up as if the daemon had restarted
(`run.recover`); while they run, of the runs still queued only those
next in line hold a workspace, and once they have ended no loop device
backs any of theirs.  A repository project's runs triggered while paused
(one of them before a restart) are checked out once each by the resume
and run once.  The strict half is skipped where the strict sandbox,
mount -o loop or mkfs.ext4 is missing."""
import os
import re
import shutil
import subprocess

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

RUNS = 12

PIPELINE = """\
stages: [a, b]
jobs:
  one:
    stage: a
    script: [echo "one in $PIPEWRIGHT_RUN_ID" > mark, cat mark]
  two:
    stage: b
    script: [test ! -e mark, echo "two in $PIPEWRIGHT_RUN_ID"]
"""


def loops_of(data):
    """Loop devices backing an image under data's workspaces."""
    r = subprocess.run(["losetup", "-a"], capture_output=True, text=True)
    ws = os.path.join(data, "workspaces")
    return [line for line in r.stdout.splitlines() if ws in line]


def case(t, name, config, strict):
    d = t.daemon(projects={"b": PIPELINE}, name=name,
                 config=config + "max_jobs: 2\n",
                 tokens=(("operator", "operate"), ("admin", "admin")))
    ws_dir = os.path.join(d.data, "workspaces")
    ids = []

    def held():
        eq(d.post("/api/v1/queue/pause", token="admin").status, 200, "pause")
        for _ in range(RUNS):
            ids.append(d.trigger("b")["id"])
        q = d.get_json("/api/v1/queue")
        # Nothing is made for a run until its first job is about to start.
        left = sorted(os.listdir(ws_dir)) if os.path.isdir(ws_dir) else []
        loops = loops_of(d.data) if strict else []
        # Resumed at once, before anything is checked: the runs just
        # triggered may still be in the middle of being set up.
        r = d.post("/api/v1/queue/resume", token="admin")
        eq(r.status, 200, "resume (%r)" % r.body)
        eq((q["paused"], q["queued"], q["running"]), (True, RUNS, 0),
           "the queue after %d triggers" % RUNS)
        eq(left, [], "the workspaces of queued runs")
        eq(loops, [], "loop devices held by queued runs")
    t.check("%s: %d queued runs hold no workspace; resumed at once" % (name, RUNS), held)

    def each_once():
        # While they run, a run still queued holds a workspace only when
        # it is next in line (two slots: two of them; the store may still
        # say queued of the two that have just started).
        most = [0]

        def done():
            st = {rid: d.run(rid)["status"] for rid in ids}
            queued = [rid for rid in ids if st[rid] == "queued"]
            most[0] = max(most[0], sum(os.path.exists(os.path.join(ws_dir, str(rid)))
                                       for rid in queued))
            return all(v not in ("queued", "running") for v in st.values())
        pw.wait_until(done, "the runs to end")
        expect(most[0] <= 4, "queued runs holding a workspace: %d at once" % most[0])
        for rid in ids:
            run = d.wait_run(rid)
            eq(run["status"], "success", "run %d (%r)" % (rid, run))
            for j in run["jobs"]:
                eq(len(j["attempts"]), 1, "run %d job %s's attempts (%r)" %
                   (rid, j["name"], j["attempts"]))
        log = d.log(since_start=True)
        expect("run.recover" not in log, "a run was built again:\n%s" %
               "\n".join(line for line in log.splitlines() if "run.recover" in line))
        expect("cannot prepare" not in log, "a workspace failed:\n%s" % log)
        q = d.get_json("/api/v1/queue")
        eq((q["queued"], q["running"]), (0, 0), "the queue after the runs")
        if strict:
            pw.wait_until(lambda: loops_of(d.data) == [], "the runs' loop devices to go")
    t.check("%s: every run succeeds once, one attempt per job, none recovered" % name,
            each_once)
    d.stop()


def repository(t):
    """A repository project's run is not even checked out while paused:
    the resume checks out the runs the pause held back, each once, also
    one held back across a restart."""
    origin = wh.Origin(t)
    origin.commit("first", {".pipewright.yml": PIPELINE})
    origin.push()
    d = t.daemon(projects={"app": {"repo": origin.bare}}, name="repo",
                 config="max_jobs: 2\n",
                 tokens=(("operator", "operate"), ("admin", "admin")))
    ids = []

    def held():
        eq(d.post("/api/v1/queue/pause", token="admin").status, 200, "pause")
        ids.append(d.trigger("app", {"ref": "main"})["id"])
        d.stop()
        d.start()
        for _ in range(3):
            ids.append(d.trigger("app", {"ref": "main"})["id"])
        for rid in ids:
            eq(d.run(rid)["status"], "queued", "run %d while paused" % rid)
        eq(d.post("/api/v1/queue/resume", token="admin").status, 200, "resume")
        for rid in ids:
            run = d.wait_run(rid)
            eq(run["status"], "success", "run %d (%r)" % (rid, run))
            for j in run["jobs"]:
                eq(len(j["attempts"]), 1, "run %d job %s's attempts" % (rid, j["name"]))
        # From the resume on, each held run is checked out once.
        log = d.log(since_start=True)
        after = log[log.index("queue.resume"):]
        for rid in ids:
            eq(len(re.findall(r"run\.recover run=%d: checking out" % rid, after)), 1,
               "checkouts of run %d after the resume" % rid)
    t.check("repository: runs held back by the pause (one across a restart) run once "
            "after the resume", held)
    d.stop()


def main(t):
    repository(t)
    case(t, "none", "", False)
    why = pw.strict_sandbox_missing()
    if why is None and shutil.which("mkfs.ext4") is None:
        why = "mkfs.ext4 (e2fsprogs) is not installed"
    if why is None and not os.path.exists("/dev/loop-control"):
        why = "no loop devices (/dev/loop-control)"
    if why:
        print("SKIP strict: %s" % why)
        return
    case(t, "strict", "sandbox: {mode: strict, limits: {workspace: 32M}}\n", True)


pw.main(main)
