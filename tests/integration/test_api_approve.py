"""POST /api/v1/runs/{id}/jobs/{job}/approve of a `when: manual` job: the
run finishes with the manual job waiting; the approval puts the run back
to queued/running, the job runs, the run succeeds; the audit trail names
the approver.  Approving a job that is not waiting is refused."""
import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build, deploy]
jobs:
  build:
    stage: build
    script: echo built
  deploy:
    stage: deploy
    when: manual
    script: echo "deployed by $PIPEWRIGHT_JOB"
"""


def main(t):
    d = t.daemon(projects={"demo": PIPELINE})
    rid = d.trigger("demo", {"ref": "main"})["id"]
    st = {}

    def waiting():
        run = d.wait_run(rid)
        st["before"] = run
        jobs = {j["name"]: j for j in run["jobs"]}
        eq(run["status"], "success", "the run, finished without the manual job")
        eq(jobs["build"]["status"], "success", "build")
        eq(jobs["deploy"]["status"], "waiting", "deploy")
        eq(jobs["deploy"]["attempts"], [], "deploy's attempts")
        r = d.get("/api/v1/runs/%d/jobs/deploy/log" % rid)
        d.expect_error(r, 404, "not_found", "job 'deploy' has not started (it is waiting)",
                       "the log of a job that has not run")
    t.check("the run finishes with the manual job waiting", waiting)

    def refusals():
        r = d.post("/api/v1/runs/%d/jobs/deploy/approve" % rid, token="reader")
        d.expect_error(r, 403, "forbidden", "the token 'reader' lacks the 'operate' scope",
                       "read token")
        r = d.post("/api/v1/runs/%d/jobs/nope/approve" % rid, token="operator")
        d.expect_error(r, 404, "not_found", "no manual job of that name in the run",
                       "unknown job")
        r = d.post("/api/v1/runs/%d/jobs/build/approve" % rid, token="operator")
        d.expect_error(r, 404, "not_found", "no manual job of that name in the run",
                       "approve of a job that is not manual")
        eq(d.run(rid)["status"], "success", "the run after the refusals")
    t.check("approve: 403 for a read token, refusals for other jobs", refusals)

    def approve():
        r = d.post("/api/v1/runs/%d/jobs/deploy/approve" % rid, token="operator")
        eq(r.status, 200, "approve (%r)" % r.body)
        body = r.json()
        eq(body["id"], rid, "id")
        expect(body["status"] in ("queued", "running"), "status after approval %r" %
               body["status"])
        run = d.wait_run(rid)
        eq(run["status"], "success", "run")
        jobs = {j["name"]: j for j in run["jobs"]}
        eq([(a["number"], a["status"]) for a in jobs["deploy"]["attempts"]],
           [(1, "success")], "deploy's attempts")
        eq(len(jobs["build"]["attempts"]), 1, "build is not run again")
        eq(d.get("/api/v1/runs/%d/jobs/deploy/log" % rid).text.splitlines()[-1],
           "deployed by deploy", "deploy's log")
        expect(run["finished_at"] >= st["before"]["finished_at"], "finished_at")
        ev = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        eq([(e["actor"], e["action"], e["detail"]) for e in ev],
           [("token operator", "trigger", "main"), ("token operator", "approve", "deploy")],
           "events")
    t.check("approve: the job runs, the run succeeds, the event names the approver",
            approve)

    def again():
        r = d.post("/api/v1/runs/%d/jobs/deploy/approve" % rid, token="operator")
        d.expect_error(r, 409, "conflict", "job 'deploy' is not waiting for approval",
                       "a second approval")
        eq(d.run(rid)["status"], "success", "the run is not put back to queued")
        eq(len(d.get_json("/api/v1/runs/%d/events" % rid)["items"]), 2, "no new event")
    t.check("a second approval is refused", again)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
