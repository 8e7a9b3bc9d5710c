"""The audit trails.  A run canceled because a newer run of its branch
superseded it (cancel_superseded) says so in its own events: actor
pipewright, action cancel, detail "superseded by run N".  The daemon's own
actions go to GET /api/v1/audit (admin scope: 403 JSON for read and operate
tokens, 401 without one even with anonymous_read): every queue pause and
resume with who did it and when, newest first, paged by cursor like the
other lists, and kept across a restart."""
import os
import time

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  work:
    script:
      - while [ ! -e "$DIR/open-$PIPEWRIGHT_RUN_ID" ]; do sleep 0.02; done
"""


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    with open(os.path.join(t.tmp, "demo.yml"), "w") as f:
        f.write(PIPELINE)
    d = t.daemon(projects={"demo": {"pipeline": os.path.join(t.tmp, "demo.yml"),
                                    "cancel_superseded": "true"}},
                 tokens=(("operator", "operate"), ("reader", "read"), ("admin", "admin")))
    body = {"ref": "refs/heads/main", "env": {"DIR": gate}}

    def superseded():
        first = d.trigger("demo", body)["id"]
        d.wait_job(first, "work", "running")
        second = d.trigger("demo", body)["id"]
        eq(d.wait_run(first)["status"], "canceled", "the older run of main")
        events = d.get_json("/api/v1/runs/%d/events" % first)["items"]
        cancels = [(e["actor"], e["action"], e["detail"]) for e in events
                   if e["action"] == "cancel"]
        eq(cancels, [("pipewright", "cancel", "superseded by run %d" % second)],
           "run %d's cancel events (%r)" % (first, events))
        open(os.path.join(gate, "open-%d" % second), "w").close()
        eq(d.wait_run(second)["status"], "success", "the newer run")
        eq([e["action"] for e in d.get_json("/api/v1/runs/%d/events" % second)["items"]
            if e["action"] == "cancel"], [], "the newer run's cancel events")
    t.check("a superseded run's events say which run superseded it", superseded)

    def refusals():
        for tok in ("reader", "operator"):
            d.expect_error(d.get("/api/v1/audit", token=tok), 403, "forbidden",
                           "the token '%s' lacks the 'admin' scope" % tok,
                           "GET /api/v1/audit with a %s token" % tok)
        d.expect_error(d.get("/api/v1/audit"), 401, "unauthorized",
                       "a bearer token is required", "without a token (anonymous_read)")
        eq(d.get_json("/api/v1/audit", token="admin"), {"items": [], "next_cursor": None},
           "nothing done to the daemon yet")
    t.check("GET /api/v1/audit needs the admin scope", refusals)

    def pauses():
        start = time.time()
        for action in ("pause", "resume", "pause", "resume"):
            eq(d.post("/api/v1/queue/" + action, token="admin").status, 200, action)
        items = d.get_json("/api/v1/audit", token="admin")["items"]
        eq([(i["actor"], i["action"], i["detail"]) for i in items],
           [("token admin", "queue.resume", None), ("token admin", "queue.pause", None)] * 2,
           "the audit trail, newest first")
        ids = [i["id"] for i in items]
        eq(ids, sorted(ids, reverse=True), "ids newest first")
        for i in items:
            when = time.mktime(time.strptime(i["time"][:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            expect(start - 5 <= when <= time.time() + 5, "time %s is now" % i["time"])
        return ids
    ids = t.check("queue pause and resume go to the daemon's audit trail, with who", pauses)

    def paging():
        page = d.get_json("/api/v1/audit?limit=3", token="admin")
        eq([i["id"] for i in page["items"]], ids[:3], "first page")
        expect(page["next_cursor"], "a cursor after the first page: %r" % page)
        page = d.get_json("/api/v1/audit?limit=3&cursor=" + page["next_cursor"], token="admin")
        eq([i["id"] for i in page["items"]], ids[3:], "second page")
        eq(page["next_cursor"], None, "no cursor after the last page")
        d.expect_error(d.get("/api/v1/audit?limit=0", token="admin"), 400, "bad_request",
                       "limit must be a number from 1 to 200, got '0'", "limit=0")
        d.expect_error(d.get("/api/v1/audit?cursor=x", token="admin"), 400, "bad_request",
                       "cursor 'x' is not one this API gave out", "cursor=x")
    if ids:
        t.check("GET /api/v1/audit pages by cursor", paging)

    def restart():
        d.stop()
        d.start()
        eq([i["id"] for i in d.get_json("/api/v1/audit", token="admin")["items"]], ids,
           "the audit trail after a restart")
    if ids:
        t.check("the audit trail survives a restart", restart)

    d.stop()


pw.main(main)
