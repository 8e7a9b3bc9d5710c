"""The commit-status outbox survives a crash: the forge's API (a local
receiver) answers 500 while the run finishes, so the final status is
still pending when the daemon is SIGKILLed; the receiver then recovers,
the daemon starts again, and the success status arrives — the final
state, and no older one after it.  The run stays success across the
restart and the outbox row ends delivered."""
import os
import re

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

STATUS_TOKEN = "ghp_restart_token"


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    wh.open_gate(gate)
    origin = wh.Origin(t)
    sha = origin.commit("ok", {".pipewright.yml": wh.gated_pipeline(gate), "result.txt": "ok\n"})
    origin.push()
    rec = wh.Receiver(t)
    down = {"on": True}
    rec.answer = lambda call: (500, b'{"message": "down"}') if down["on"] else (201, b"{}")
    d = t.daemon(projects={"app": wh.project(
        t, origin, "github", forge_api=rec.url,
        status_token="{file: %s}" % wh.secret_file(t, "tok", STATUS_TOKEN))})
    path = "/repos/acme/app/statuses/%s" % sha
    st = {}

    def success_refused():
        rid = st["rid"] = wh.accepted(wh.hook(d, "github", wh.github_push(sha)))
        eq(d.wait_run(rid)["status"], "success", "run status")
        rec.wait(lambda cs: any(c["path"] == path and c["json"].get("state") == "success"
                                for c in cs), "the success status, answered 500")
        # The answer is stored a moment after the receiver sent it.
        rows = pw.wait_until(lambda: (lambda r: len(r) == 1 and r[0]["attempts"] >= 1 and r)(
            wh.outbox(d, rid)), "the refused attempt stored")
        eq(rows[0]["state"], "pending", "the row before the crash")
        expect("500" in (rows[0]["last_error"] or ""), "the row's last error: %r" % rows[0])
    t.check("the run ends; its status is refused (500) and stays pending", success_refused)

    def crash_and_restart():
        d.kill()
        n = len(rec.snapshot())
        down["on"] = False
        d.start()
        calls = rec.wait(lambda cs: any(c["answered"] == 201 for c in cs[n:]),
                         "the status delivered after the restart")
        after = [c for c in calls[n:] if c["path"] == path]
        eq([c["json"]["state"] for c in after], ["success"],
           "the states sent after the restart")
        eq(after[0]["headers"].get("authorization"), "Bearer " + STATUS_TOKEN, "Authorization")
        eq(after[0]["json"]["context"], "pipewright/app", "context")
        expect(re.search(r"/api/v1/runs/%d$" % st["rid"], after[0]["json"]["target_url"]),
               "target_url %r" % after[0]["json"]["target_url"])
        pw.wait_until(lambda: [r["state"] for r in wh.outbox(d, st["rid"])] == ["delivered"],
                      "the row delivered")
        eq(d.run(st["rid"])["status"], "success", "the run after the restart")
        eq([c["json"]["state"] for c in rec.snapshot() if c["path"] == path][-1], "success",
           "the last state the forge got")
    t.check("SIGKILL, the forge recovers, a start: the success status arrives",
            crash_and_restart)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
