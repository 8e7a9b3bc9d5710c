"""POST /api/v1/runs/{id}/rerun of failed jobs keeps earlier attempts: a
job fails until a marker file (its path from the trigger's env) exists;
after the rerun it has attempt 2 and succeeds, the job that succeeded keeps
its single attempt, the one after the failure runs, the run succeeds, the
audit trail says who reran.  The rerun uses the run's stored pipeline and
env, not the file as it is now.  Rerunning named jobs works too."""
import os

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build, test, deploy]
jobs:
  ok:
    stage: build
    script: echo "ok attempt $PIPEWRIGHT_ATTEMPT"
  flaky:
    stage: test
    script:
      - test -e "$MARKER" || { echo "no marker"; exit 1; }
      - echo "marker found"
  after:
    stage: deploy
    script: echo after
"""


def attempts(run, name):
    for j in run["jobs"]:
        if j["name"] == name:
            return [(a["number"], a["status"], a["exit_code"]) for a in j["attempts"]]
    pw.fail("no job %s" % name)


def main(t):
    d = t.daemon(projects={"demo": PIPELINE})
    marker = os.path.join(t.tmp, "marker")
    run = d.trigger("demo", {"env": {"MARKER": marker}})
    rid = run["id"]

    def failed():
        r = d.wait_run(rid)
        eq(r["status"], "failed", "run status")
        eq(attempts(r, "ok"), [(1, "success", 0)], "ok's attempts")
        eq(attempts(r, "flaky"), [(1, "failed", 1)], "flaky's attempts")
        eq(attempts(r, "after"), [], "after's attempts")
        expect(r["finished_at"] is not None, "finished_at")
    t.check("the run fails in flaky; after never runs", failed)

    def rerun():
        with open(marker, "w"):
            pass
        # The rerun must use the stored snapshot, not this edit.
        with open(os.path.join(d.dir, "demo.yml"), "w") as f:
            f.write(PIPELINE.replace('echo "marker found"', "exit 42"))
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": "failed"}, token="operator")
        eq(r.status, 200, "rerun status (%r)" % r.body)
        body = r.json()
        eq(body["id"], rid, "the same run")
        expect(body["status"] in ("queued", "running"), "status %r" % body["status"])
        eq(body["finished_at"], None, "finished_at after the rerun")
        r = d.wait_run(rid)
        eq(r["status"], "success", "run status after the rerun")
        eq(attempts(r, "ok"), [(1, "success", 0)], "ok keeps its one attempt")
        eq(attempts(r, "flaky"), [(1, "failed", 1), (2, "success", 0)], "flaky's attempts")
        eq(attempts(r, "after"), [(1, "success", 0)], "after's attempts")
        job = {j["name"]: j for j in r["jobs"]}
        eq(job["flaky"]["status"], "success", "a job's status is its latest attempt's")
    t.check("rerun {jobs: failed}: flaky gets attempt 2 and succeeds", rerun)

    def logs():
        base = "/api/v1/runs/%d/jobs/flaky/log" % rid
        a1 = d.get(base + "?attempt=1").text
        a2 = d.get(base + "?attempt=2").text
        latest = d.get(base).text
        expect("no marker" in a1.splitlines(), "attempt 1's log %r" % a1)
        expect("marker found" in a2.splitlines() and "no marker" not in a2.splitlines(),
               "attempt 2's log %r" % a2)
        eq(latest, a2, "the latest attempt's log by default")
    t.check("both attempts' logs are kept", logs)

    def events():
        ev = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        eq([(e["actor"], e["action"], e["detail"]) for e in ev],
           [("token operator", "trigger", None),
            ("token operator", "rerun", "failed jobs")], "events")
    t.check("the audit trail records the rerun", events)

    def named():
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": ["ok"]}, token="operator")
        eq(r.status, 200, "rerun ok (%r)" % r.body)
        r = d.wait_run(rid)
        eq(r["status"], "success", "status")
        eq(attempts(r, "ok"), [(1, "success", 0), (2, "success", 0)], "ok's attempts")
        log = d.get("/api/v1/runs/%d/jobs/ok/log" % rid).text
        expect("ok attempt 2\n" in log, "PIPEWRIGHT_ATTEMPT in attempt 2: %r" % log)
        ev = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        eq(ev[-1]["detail"], "named jobs", "the last event")
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": ["nope"]}, token="operator")
        d.expect_error(r, 404, "not_found", "no such job in the run", "unknown job")
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": "failed"}, token="operator")
        d.expect_error(r, 409, "conflict", "nothing to rerun: no job failed", "no failures")
    t.check("rerun {jobs: [ok]}; an unknown name is 404; nothing failed is 409", named)

    def running():
        # A rerun of a run that has not finished is refused.
        with open(os.path.join(d.dir, "demo.yml"), "w") as f:
            f.write(PIPELINE.replace('echo "ok attempt $PIPEWRIGHT_ATTEMPT"',
                                     "while [ ! -e \"$MARKER.go\" ]; do sleep 0.02; done"))
        r2 = d.trigger("demo", {"env": {"MARKER": marker}})["id"]
        d.wait_job(r2, "ok", "running")
        r = d.post("/api/v1/runs/%d/rerun" % r2, body={"jobs": "failed"}, token="operator")
        d.expect_error(r, 409, "conflict", "the run has not finished yet", "running run")
        with open(marker + ".go", "w"):
            pass
        eq(d.wait_run(r2)["status"], "success", "the second run")
    t.check("rerun of an unfinished run is 409", running)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
