"""Webhook deliveries are idempotent: the same delivery id twice answers
the same run and makes one run, also when 10 copies arrive at once; the
same id from another forge is another delivery; after a restart a
redelivery still answers the first run (the delivery is stored with its
run).  test_webhook_burst.py sends 100 distinct deliveries at once;
test_webhook_replay.py resends one push under new delivery ids."""
import threading

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

TRIVIAL = """\
jobs:
  show:
    script: cat content.txt
"""


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": TRIVIAL, "content.txt": "c\n"})
    origin.push()
    d = t.daemon(projects={"app": wh.project(t, origin, "github"),
                           "tea": wh.project(t, origin, "gitea")},
                 config="max_jobs: 8")
    push = wh.github_push(sha)
    first = {}

    def redelivery():
        a = wh.accepted(wh.hook(d, "github", push, delivery="d-same"), "first delivery")
        b = wh.accepted(wh.hook(d, "github", push, delivery="d-same"), "redelivery")
        eq(b, a, "the redelivery's run")
        eq([x["id"] for x in wh.runs(d)], [a], "runs after a redelivery")
        eq(d.wait_run(a)["status"], "success", "the run")
        first["id"] = a
    t.check("the same delivery id twice: one run, the same answer", redelivery)

    def another_forge_same_id():
        # Delivery ids are per forge: GitHub's id reused by a Gitea hook
        # (of the Gitea project on the same repository) is another delivery.
        r = wh.hook(d, "gitea", wh.gitea_push(sha), delivery="d-same")
        rid = wh.accepted(r, "gitea delivery d-same")
        expect(rid != first["id"], "the gitea delivery answered GitHub's run")
        eq([x["id"] for x in wh.runs(d, "tea")], [rid], "runs of the Gitea project")
        d.wait_run(rid)
    t.check("the same id from another forge is another delivery", another_forge_same_id)

    def concurrent_same():
        # Another push (the same push again would answer the first run).
        other = wh.github_push(sha, before="2" * 40)
        out, errs = [], []
        gate = threading.Barrier(10)

        def send():
            try:
                gate.wait(pw.DEADLINE)
                out.append(wh.accepted(wh.hook(d, "github", other, delivery="d-burst")))
            except Exception as e:  # noqa: BLE001 (reported below)
                errs.append(e)
        ts = [threading.Thread(target=send) for _ in range(10)]
        for x in ts:
            x.start()
        for x in ts:
            x.join()
        eq(errs, [], "errors")
        eq(len(set(out)), 1, "run ids answered to 10 copies sent at once: %r" % out)
        ids = [x["id"] for x in wh.runs(d)]
        eq(sorted(ids), sorted([first["id"], out[0]]), "runs: the first and this one")
        first["burst"] = out[0]
        d.wait_run(out[0])
    t.check("10 copies of one delivery at once: one run", concurrent_same)

    def after_restart():
        d.stop()
        d.start()
        a = wh.accepted(wh.hook(d, "github", push, delivery="d-same"), "after restart")
        eq(a, first["id"], "the run a redelivery answers after a restart")
        b = wh.accepted(wh.hook(d, "github", push, delivery="d-burst"), "burst redelivery")
        eq(b, first.get("burst"), "d-burst's run after a restart")
        eq(len(wh.runs(d)), 2, "runs after the restart")
    t.check("a redelivery after a restart answers the first run", after_restart)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
