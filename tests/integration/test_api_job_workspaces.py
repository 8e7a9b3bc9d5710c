"""Each job attempt of a run works in a fresh workspace of its own, the
run's commit checked out: a file the first job writes is not in the
second job's workspace; a rerun of the failed job (`rerun --failed`) gets
a fresh workspace, without what its first attempt left; every checked-out
file's mtime is the time of the last commit that touched it.  Sandbox
none: the job runs at its host path, workspaces/<run>/jobs/<idx>, which
PIPEWRIGHT_WORKSPACE and `pwd -P` both say.  Strict (skipped with a
message where it cannot run): the job's cwd is /builds/<project>, and
`pwd -P` and PIPEWRIGHT_WORKSPACE agree."""
import os

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

PIPELINE = r"""
stages: [one, two]
jobs:
  write:
    stage: one
    script:
      - echo "where ws=$PIPEWRIGHT_WORKSPACE pwd=$(pwd -P)"
      - echo "mtimes $(stat -c %Y a.txt) $(stat -c %Y sub/b.txt) $(stat -c %Y .pipewright.yml)"
      - echo from-write > left-by-write
  read:
    stage: two
    script:
      - echo "where ws=$PIPEWRIGHT_WORKSPACE pwd=$(pwd -P)"
      - if [ -e left-by-write ]; then echo "shared""-workspace"; exit 2; fi
      - if [ -e left-by-attempt ]; then echo "stale""-workspace"; exit 3; fi
      - echo "own""-workspace attempt $PIPEWRIGHT_ATTEMPT"
      - touch left-by-attempt
      - test -e "$MARKER" || { echo "no marker"; exit 1; }
"""

OLD, NEW = 1500000000, 1600000000


def line(log, prefix):
    for l in log.splitlines():
        if l.startswith(prefix):
            return l[len(prefix):]
    pw.fail("no line %r in:\n%s" % (prefix, log))


def main(t):
    origin = wh.Origin(t)
    origin.env["GIT_COMMITTER_DATE"] = "@%d +0000" % OLD
    origin.commit("first", {".pipewright.yml": PIPELINE, "a.txt": "1\n", "sub/b.txt": "b\n"})
    origin.env["GIT_COMMITTER_DATE"] = "@%d +0000" % NEW
    sha = origin.commit("second", {"a.txt": "2\n"})
    origin.push()
    d = t.daemon(projects={"app": {"repo": origin.bare}})
    marker = os.path.join(t.tmp, "marker")
    state = {}

    def first_run():
        rid = d.trigger("app", {"ref": "main", "env": {"MARKER": marker}})["id"]
        state["rid"] = rid
        run = d.wait_run(rid)
        eq(run["status"], "failed", "run status (log: %s)" % wh.run_log(d, rid))
        eq(run["commit"], sha, "the run's commit")
        wlog = wh.job_log(d, rid, "write")
        rlog = wh.job_log(d, rid, "read")
        expect("own-workspace attempt 1" in rlog and "shared-workspace" not in rlog,
               "read saw write's file:\n%s" % rlog)
        # Sandbox none: the host path, one per job.
        base = os.path.realpath(os.path.join(d.data, "workspaces", str(rid), "jobs"))
        eq(line(wlog, "where "), "ws=%s/0 pwd=%s/0" % (base, base), "write's workspace")
        eq(line(rlog, "where "), "ws=%s/1 pwd=%s/1" % (base, base), "read's workspace")
        eq(line(wlog, "mtimes "), "%d %d %d" % (NEW, OLD, OLD),
           "mtimes of a.txt, sub/b.txt, .pipewright.yml")
    t.check("two jobs of a run: two workspaces; files at their commits' times", first_run)

    def rerun():
        rid = state["rid"]
        with open(marker, "w"):
            pass
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": "failed"}, token="operator")
        eq(r.status, 200, "rerun status (%r)" % r.body)
        run = d.wait_run(rid)
        eq(run["status"], "success", "run status after the rerun (log: %s)"
           % wh.job_log(d, rid, "read"))
        rlog = wh.job_log(d, rid, "read")
        expect("own-workspace attempt 2" in rlog, "the second attempt's log:\n%s" % rlog)
        expect("stale-workspace" not in rlog, "the rerun saw its first attempt's file")
        # The finished run's trees: moved aside at once, removed off the loop.
        ws = os.path.join(d.data, "workspaces")
        gone = os.path.join(ws, ".gone")
        pw.wait_until(lambda: not os.path.exists(os.path.join(ws, str(rid))) and
                      (not os.path.exists(gone) or os.listdir(gone) == []),
                      "the run's workspace removed, nothing left in .gone")
    t.check("rerun --failed: the job's new attempt gets a fresh workspace", rerun)
    t.check("SIGTERM: exit 0", d.stop)

    why = pw.strict_sandbox_missing()
    if why:
        print("SKIP (strict part): the strict sandbox cannot run here: %s" % why)
        return
    s = t.daemon(projects={"app": {"repo": origin.bare}}, name="strict",
                 config="sandbox: strict\n")

    def strict():
        # MARKER=/ exists inside the sandbox too: read succeeds.
        rid = s.trigger("app", {"ref": "main", "env": {"MARKER": "/"}})["id"]
        run = s.wait_run(rid)
        eq(run["status"], "success", "strict run (log: %s)" % wh.job_log(s, rid, "read"))
        for job in ("write", "read"):
            log = wh.job_log(s, rid, job)
            eq(line(log, "where "), "ws=/builds/app pwd=/builds/app", job + "'s workspace")
        rlog = wh.job_log(s, rid, "read")
        expect("own-workspace attempt 1" in rlog, "read's log:\n%s" % rlog)
        eq(line(wh.job_log(s, rid, "write"), "mtimes "), "%d %d %d" % (NEW, OLD, OLD),
           "mtimes under strict")
        ws = os.path.join(s.data, "workspaces", str(rid))
        # Removed once the run's end is stored (after the API shows it).
        pw.wait_until(lambda: not os.path.exists(ws), "the run's workspace to go")
    t.check("strict: the cwd is /builds/<project>, as PIPEWRIGHT_WORKSPACE and pwd -P say",
            strict)
    t.check("SIGTERM: exit 0 (strict)", s.stop)


pw.main(main)
