"""The daemon's sandboxed jobs run with host ids of the configured `job_ids`
range, one uid (gid the same, no supplementary groups) per run in memory,
never the workspace's and never 100000.  Two concurrent runs get two
different uids of the range, each owning its job's workspace; the daemon stops
(drain: detach) while both run, a new one adopts them and starts a third
run: it gets neither adopted run's uid (the uid is stored with the
attempt).  Checked from the host in /proc/PID/status of the jobs' shells.
Skipped (77) where the strict sandbox cannot run."""
import os
import re

import pwdaemon as pw
from pwdaemon import eq, expect

FIRST, COUNT = 1879048292, 3

WAIT = r"""
jobs:
  wait:
    script:
      - echo waiting
      - while [ ! -e go ]; do sleep 0.05; done
"""


def job_ids(ws):
    """{(uid, gid, groups)} of the processes in a pid namespace whose cwd is ws."""
    seen = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if not os.path.samefile("/proc/%s/cwd" % pid, ws):
                continue
            with open("/proc/%s/status" % pid) as f:
                st = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if len(st.get("NSpid", "").split()) < 2:
            continue  # not in the job's pid namespace
        seen.add((tuple(st["Uid"].split()), tuple(st["Gid"].split()),
                  st["Groups"].strip()))
    return seen


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    d = t.daemon(projects={"a": WAIT, "b": WAIT, "c": WAIT},
                 config="sandbox: strict\ndrain: detach\n"
                        "job_ids: {first: %d, count: %d}\n" % (FIRST, COUNT))
    runs = {}

    def started(project):
        rid = d.trigger(project)["id"]
        d.wait_job(rid, "wait", "running")
        pw.wait_until(lambda: "waiting" in d.get(
            "/api/v1/runs/%d/jobs/wait/log" % rid).text, "run %d waiting" % rid)
        # The job's own workspace: the run's job 0.
        ws = os.path.join(d.data, "workspaces", str(rid), "jobs", "0")
        ids = pw.wait_until(lambda: job_ids(ws), "the processes of run %d" % rid)
        eq(len(ids), 1, "one identity for run %d's processes: %r" % (rid, ids))
        uid, gid, groups = next(iter(ids))
        eq(len(set(uid)), 1, "run %d: real, effective, saved uids %r" % (rid, uid))
        uid = int(uid[0])
        expect(FIRST <= uid < FIRST + COUNT,
               "run %d: uid %d outside job_ids %d..%d" % (rid, uid, FIRST, FIRST + COUNT - 1))
        eq(gid, (str(uid),) * 4, "run %d: the gids equal the uid" % rid)
        eq(groups, "", "run %d: supplementary groups" % rid)
        st = os.stat(ws)
        eq((st.st_uid, st.st_gid), (uid, uid), "run %d: the workspace's owner" % rid)
        runs[project] = (rid, ws, uid)
        return uid

    def concurrent():
        ua, ub = started("a"), started("b")
        expect(ua != ub, "two concurrent runs share uid %d" % ua)
    t.check("two concurrent runs: two uids of job_ids, gid = uid, no groups", concurrent)

    def adopted():
        d.stop()
        d.start()
        for p in ("a", "b"):
            d.wait_log(r"attempt\.adopt run=%d job=wait" % runs[p][0])
        uc = started("c")
        expect(uc not in (runs["a"][2], runs["b"][2]),
               "a new daemon gave uid %d of an adopted run to another" % uc)
    t.check("after a restart: the adopted runs keep their uids, a new run gets another",
            adopted)

    def finish():
        for p, (rid, ws, _) in runs.items():
            open(os.path.join(ws, "go"), "w").close()
        for p, (rid, ws, _) in runs.items():
            eq(d.wait_run(rid)["status"], "success", "run %d" % rid)
    t.check("the runs end", finish)
    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
