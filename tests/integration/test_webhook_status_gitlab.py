"""Commit statuses to GitLab's API (a local receiver as forge_api
http://127.0.0.1:PORT/api/v4): for a run started by a GitLab push,
POST /api/v4/projects/acme%2Fapp/statuses/<sha> with PRIVATE-TOKEN,
{"state", "target_url", "description", "name": "pipewright/lab"};
running while the run is held, then success, last.  GitLab's 400
"Cannot transition status" counts as delivered (one attempt, nothing
retried); any other 400 is retried."""
import os
import re

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

STATUS_TOKEN = "glpat-status-token"


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    origin = wh.Origin(t)
    sha = origin.commit("ok", {".pipewright.yml": wh.gated_pipeline(gate), "result.txt": "ok\n"})
    origin.push()
    rec = wh.Receiver(t)
    other = {"n": 0}

    def answer(call):
        if "/projects/acme%2Fstuck/" in call["path"]:
            return 400, b'{"message":"Cannot transition status via :run from :running"}'
        if "/projects/acme%2Fother/" in call["path"] and other["n"] < 1 and \
                isinstance(call["json"], dict) and call["json"].get("state") == "success":
            other["n"] += 1
            return 400, b'{"message":"400 Bad request - state is missing"}'
        return 201, b'{"id": 7}'
    rec.answer = answer
    api = rec.url + "/api/v4"
    common = dict(forge_api=api, status_token="{file: %s}" %
                  wh.secret_file(t, "gl-token", STATUS_TOKEN))
    d = t.daemon(projects={
        "lab": wh.project(t, origin, "gitlab", **common),
        "stuck": wh.project(t, origin, "gitlab", forge_repo="acme/stuck", **common),
        "other": wh.project(t, origin, "gitlab", forge_repo="acme/other", **common),
    })

    def of(calls, path, name):
        return [c for c in calls if c["path"] == path and c["json"].get("name") == name]

    def running_then_success():
        r = wh.hook(d, "gitlab", wh.gitlab_push(sha))
        rid = wh.accepted(r)
        path = "/api/v4/projects/acme%%2Fapp/statuses/%s" % sha
        rec.wait(lambda cs: any(c["json"].get("state") == "running"
                                for c in of(cs, path, "pipewright/lab")), "a running status")
        expect(d.run(rid)["status"] == "running", "the run is still running")
        wh.open_gate(gate, rid)
        eq(d.wait_run(rid)["status"], "success", "run status")
        pw.wait_until(lambda: (lambda r: r and all(x["state"] == "delivered" for x in r))(
            wh.outbox(d, rid)), "the outbox delivered")
        calls = of(rec.snapshot(), path, "pipewright/lab")
        states = [c["json"]["state"] for c in calls]
        expect(re.fullmatch(r"(pending,)*(running,)+success", ",".join(states)),
               "states in order: %r" % states)
        for c in calls:
            eq(c["method"], "POST", "method")
            eq(c["headers"].get("private-token"), STATUS_TOKEN, "PRIVATE-TOKEN")
            expect("authorization" not in c["headers"], "an Authorization header too")
            eq(c["json"]["target_url"], r.json()["url"], "target_url")
            expect("context" not in c["json"], "GitLab names the context 'name'")
    t.check("GitLab: running while it runs, then success; PRIVATE-TOKEN, url-encoded path",
            running_then_success)

    def cannot_transition():
        wh.open_gate(gate)
        rid = wh.accepted(wh.hook(d, "gitlab", wh.gitlab_push(sha), project="stuck"))
        eq(d.wait_run(rid)["status"], "success", "run status")
        rows = pw.wait_until(lambda: (lambda r: r and all(x["state"] == "delivered" for x in r)
                                      and r)(wh.outbox(d, rid)), "the outbox delivered")
        eq([x["attempts"] for x in rows], [1], "attempts of the row")
        path = "/api/v4/projects/acme%%2Fstuck/statuses/%s" % sha
        s = [c["json"]["state"] for c in rec.snapshot() if c["path"] == path]
        eq(s.count("success"), 1, "success sent once (%r)" % s)
        eq(wh.outbox(d, rid, "failed"), [], "failed rows")
    t.check("400 'Cannot transition status' counts as delivered", cannot_transition)

    def other_400():
        wh.open_gate(gate)
        rid = wh.accepted(wh.hook(d, "gitlab", wh.gitlab_push(sha), project="other"))
        eq(d.wait_run(rid)["status"], "success", "run status")
        path = "/api/v4/projects/acme%%2Fother/statuses/%s" % sha
        calls = rec.wait(lambda cs: any(c["path"] == path and c["answered"] == 201 and
                                        c["json"].get("state") == "success" for c in cs),
                         "success delivered after the 400")
        answers = [c["answered"] for c in calls
                   if c["path"] == path and c["json"].get("state") == "success"]
        eq(answers, [400, 201], "answers to the success status")
        rows = pw.wait_until(lambda: (lambda r: r and all(x["state"] == "delivered" for x in r)
                                      and r)(wh.outbox(d, rid)), "the outbox delivered")
        expect(rows[0]["attempts"] >= 2, "the 400 was retried: %r" % rows[0])
    t.check("another 400 is a failure: retried until delivered", other_400)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
