"""Commit statuses of runs that end `error` before any job runs, and of a
manual job left waiting, received by a local HTTP server standing in for
GitHub's API: a pushed commit whose pipeline file has problems gets the
state `error` on pipewright/app with a description saying why (the file
and how many problems); a run whose commit is not on its ref (the
checkout fails) gets `error` saying so; with status_per_job, a manual job
left waiting for approval shows pending "waiting for approval", not
"queued"."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

STATUS_TOKEN = "ghp_status_token_err"

MANUAL = """\
stages: [build, deploy]
jobs:
  build:
    stage: build
    script: echo built
  deploy:
    stage: deploy
    when: manual
    script: echo deployed
"""


def main(t):
    origin = wh.Origin(t)
    broken = origin.commit("broken", {".pipewright.yml": "jobs:\n  build:\n    scrpt: x\n"})
    origin.push()
    manual = origin.commit("manual", {".pipewright.yml": MANUAL})
    origin.push("refs/heads/manual")
    rec = wh.Receiver(t)
    token = "{file: %s}" % wh.secret_file(t, "status-token", STATUS_TOKEN)
    common = dict(forge_api=rec.url, status_token=token, build_every_push="true")
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github", **common),
        "perjob": wh.project(t, origin, "github", forge_repo="acme/perjob",
                             status_per_job="true", **common),
    })

    def last(path, context):
        calls = [c for c in rec.snapshot() if c["path"] == path and
                 isinstance(c["json"], dict) and c["json"].get("context") == context]
        return calls[-1]["json"] if calls else None

    def wait_state(path, context, state):
        rec.wait(lambda cs: (last(path, context) or {}).get("state") == state,
                 "%s %s on %s" % (context, state, path))
        return last(path, context)

    def pipeline_problems():
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(broken)))
        eq(d.wait_run(rid)["status"], "error", "run status")
        s = wait_state("/repos/acme/app/statuses/%s" % broken, "pipewright/app", "error")
        eq(s["description"], "pipewright run %d: error: .pipewright.yml has 2 problems" % rid,
           "description")
        expect(s["target_url"].endswith("/api/v1/runs/%d" % rid), "target_url %r" %
               s["target_url"])
        eq(rec.snapshot()[-1]["headers"].get("authorization"), "Bearer " + STATUS_TOKEN,
           "Authorization")
    t.check("a pipeline with problems: error, and why", pipeline_problems)

    def checkout_fails():
        missing = "1234567" * 5 + "89abc"
        r = d.trigger("app", {"ref": "main", "commit": missing})
        eq(d.wait_run(r["id"])["status"], "error", "run status")
        s = wait_state("/repos/acme/app/statuses/%s" % missing, "pipewright/app", "error")
        eq(s["description"], "pipewright run %d: error: the commit is not on refs/heads/main"
           % r["id"], "description")
    t.check("a failed checkout: error, and why", checkout_fails)

    def waiting():
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(manual, ref="refs/heads/manual"),
                                  project="perjob"))
        eq(d.wait_run(rid)["status"], "success", "run status")
        eq(d.job(rid, "deploy")["status"], "waiting", "deploy")
        path = "/repos/acme/perjob/statuses/%s" % manual
        wait_state(path, "pipewright/perjob", "success")
        wait_state(path, "pipewright/perjob/build", "success")
        pw.wait_until(lambda: all(r["state"] == "delivered" for r in wh.outbox(d, rid)),
                      "run %d's statuses delivered" % rid)
        s = last(path, "pipewright/perjob/deploy")
        expect(s is not None, "a status for deploy")
        eq((s["state"], s["description"]),
           ("pending", "pipewright run %d: waiting for approval" % rid), "deploy's status")
    t.check("a manual job left waiting: pending, waiting for approval", waiting)

    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
