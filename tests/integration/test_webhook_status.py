"""Commit statuses to GitHub's API, received by a local HTTP server the
test runs (forge_api: http://127.0.0.1:PORT): for a run started by a push,
POST /repos/acme/app/statuses/<sha> with Authorization: Bearer <token>,
{"state", "target_url", "description", "context": "pipewright/app"};
pending while the run is held (the test holds it until it has seen
pending), then success, and success is the last call: nothing is left in
the outbox to send.  target_url is the run's URL.  With status_per_job
each job has its context pipewright/PROJECT/JOB too.  A failing run ends
with failure (and the failed job's context too).  When the receiver
answers 500 to the first two attempts, the status still arrives, after
backoff delays that grow."""
import os
import re

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

STATUS_TOKEN = "ghp_status_token_123"


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    origin = wh.Origin(t)
    ok = origin.commit("ok", {".pipewright.yml": wh.gated_pipeline(gate), "result.txt": "ok\n"})
    bad = origin.commit("bad", {"result.txt": "bad\n"})
    origin.push()
    rec = wh.Receiver(t)
    flaky = {"n": 0}

    def answer(call):
        # acme/flaky: the first two calls that carry the final state fail.
        if call["path"].startswith("/repos/acme/flaky/") and \
                isinstance(call["json"], dict) and call["json"].get("state") == "success" \
                and flaky["n"] < 2:
            flaky["n"] += 1
            return 500, b'{"message": "try again"}'
        return 201, b'{"id": 1}'
    rec.answer = answer

    token = "{file: %s}" % wh.secret_file(t, "status-token", STATUS_TOKEN)
    # Both commits are pushed at once and each is run by name, `ok`
    # while `bad` is the head: build_every_push builds it, not stale.
    common = dict(forge_api=rec.url, status_token=token, build_every_push="true")
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github", **common),
        "perjob": wh.project(t, origin, "github", forge_repo="acme/perjob",
                             status_per_job="true", **common),
        "flaky": wh.project(t, origin, "github", forge_repo="acme/flaky", **common),
    })

    def of(calls, path, context):
        return [c for c in calls if c["path"] == path and c["json"].get("context") == context]

    def settled(rid):
        """Nothing of the run is left to send: every row delivered."""
        rows = pw.wait_until(lambda: (lambda r: r and all(x["state"] == "delivered" for x in r)
                                      and r)(wh.outbox(d, rid)),
                             "run %d's outbox rows all delivered" % rid)
        return rows

    st = {}

    def pending_then_success():
        r = wh.hook(d, "github", wh.github_push(ok))
        rid = wh.accepted(r)
        url = r.json()["url"]
        path = "/repos/acme/app/statuses/%s" % ok
        ctx = "pipewright/app"
        rec.wait(lambda cs: any(c["json"].get("state") == "pending" for c in of(cs, path, ctx)),
                 "a pending status")
        # The run is held by its gate: pending came while it ran.
        expect(d.run(rid)["status"] in ("queued", "running"), "the run is still going")
        wh.open_gate(gate, rid)
        eq(d.wait_run(rid)["status"], "success", "run status")
        rec.wait(lambda cs: any(c["json"].get("state") == "success" for c in of(cs, path, ctx)),
                 "a success status")
        settled(rid)
        calls = of(rec.snapshot(), path, ctx)
        states = [c["json"]["state"] for c in calls]
        expect(re.fullmatch(r"(pending,)+success", ",".join(states)),
               "states in order: %r" % states)
        for c in calls:
            eq(c["method"], "POST", "method")
            eq(c["headers"].get("authorization"), "Bearer " + STATUS_TOKEN, "Authorization")
            expect(c["headers"].get("content-type", "").startswith("application/json"),
                   "Content-Type %r" % c["headers"].get("content-type"))
            eq(c["json"]["target_url"], url, "target_url")
            expect(isinstance(c["json"].get("description"), str), "description")
        eq(calls[-1]["json"]["state"], "success", "the last state")
        # No job contexts without status_per_job, nothing for other shas.
        eq({c["json"]["context"] for c in rec.snapshot() if c["path"].startswith("/repos/acme/app/")},
           {ctx}, "contexts of app")
        st["app"] = rid
    t.check("GitHub: pending while it runs, then success, last; Bearer token, "
            "target_url the run's URL", pending_then_success)

    def per_job():
        wh.open_gate(gate)
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(ok), project="perjob"))
        eq(d.wait_run(rid)["status"], "success", "run status")
        settled(rid)
        calls = rec.snapshot()
        path = "/repos/acme/perjob/statuses/%s" % ok
        for ctx in ("pipewright/perjob", "pipewright/perjob/build", "pipewright/perjob/test"):
            s = [c["json"]["state"] for c in of(calls, path, ctx)]
            expect(s and s[-1] == "success" and set(s) <= {"pending", "success"},
                   "%s states: %r" % (ctx, s))
        eq({c["json"]["context"] for c in calls if c["path"] == path},
           {"pipewright/perjob", "pipewright/perjob/build", "pipewright/perjob/test"},
           "contexts")
    t.check("status_per_job: one context per job and one for the run", per_job)

    def failing():
        wh.open_gate(gate)
        a = wh.accepted(wh.hook(d, "github", wh.github_push(bad, before=ok)))
        b = wh.accepted(wh.hook(d, "github", wh.github_push(bad, before=ok), project="perjob"))
        eq(d.wait_run(a)["status"], "failed", "app run")
        eq(d.wait_run(b)["status"], "failed", "perjob run")
        settled(a)
        settled(b)
        calls = rec.snapshot()
        last = lambda p, ctx: [c["json"]["state"] for c in of(calls, p, ctx)][-1:]  # noqa: E731
        eq(last("/repos/acme/app/statuses/%s" % bad, "pipewright/app"), ["failure"], "app")
        p = "/repos/acme/perjob/statuses/%s" % bad
        eq(last(p, "pipewright/perjob"), ["failure"], "perjob run context")
        eq(last(p, "pipewright/perjob/build"), ["success"], "build context")
        eq(last(p, "pipewright/perjob/test"), ["failure"], "test context")
        # The earlier commit's statuses are untouched.
        eq(last("/repos/acme/app/statuses/%s" % ok, "pipewright/app"), ["success"],
           "the ok commit")
    t.check("a failing run: failure (per job: the failed job failure, the other success)",
            failing)

    def retried():
        wh.open_gate(gate)
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(ok), project="flaky"))
        eq(d.wait_run(rid)["status"], "success", "run status")
        path = "/repos/acme/flaky/statuses/%s" % ok
        calls = rec.wait(lambda cs: any(c["json"].get("state") == "success" and
                                        c["answered"] == 201 for c in of(cs, path, "pipewright/flaky")),
                         "the success status delivered", timeout=pw.DEADLINE)
        succ = [c for c in of(calls, path, "pipewright/flaky") if c["json"]["state"] == "success"]
        eq([c["answered"] for c in succ], [500, 500, 201], "answers to the success status")
        g1 = succ[1]["time"] - succ[0]["time"]
        g2 = succ[2]["time"] - succ[1]["time"]
        # notify's defaults: 1 s base, doubling, +-20 % jitter.
        expect(g1 >= 0.7, "first retry after %.2f s: no backoff" % g1)
        expect(g2 > g1, "second retry after %.2f s, first after %.2f s: not growing" % (g2, g1))
        rows = settled(rid)
        eq([r["attempts"] for r in rows if r["key"].endswith(":pipewright/flaky")], [3],
           "attempts stored")
        eq(wh.outbox(d, rid, "failed"), [], "failed rows")
    t.check("500 twice, then the status arrives after growing backoff", retried)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
