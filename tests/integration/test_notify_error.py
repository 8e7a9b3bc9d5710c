"""A run that ends `error` before it starts (its repository's pipeline has
problems) is a `failed` notification, with its branch and commit, put with
the run's error in one transaction; the next run on the branch that
succeeds is `fixed`."""
import json

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect
from test_notify_http import Receiver


def main(t):
    hook = Receiver()
    origin = wh.Origin(t)
    bad = origin.commit("broken", {".pipewright.yml": "jobs: 3\n"})
    origin.push()
    d = t.daemon(projects={"app": {
        "repo": origin.bare,
        "notify": "[{webhook: 'http://127.0.0.1:%d/ci', on: [failed, fixed],"
                  " branches: [main]}]" % hook.port}})

    def error_run():
        rid = d.trigger("app", {"ref": "main"})["id"]
        eq(d.wait_run(rid)["status"], "error", "the run with a broken pipeline")
        b = pw.wait_until(hook.bodies, "the failed message")
        eq(len(b), 1, "messages")
        eq(b[0]["event"], "failed", "event")
        eq(b[0]["run"]["id"], rid, "run")
        eq(b[0]["run"]["status"], "error", "status")
        eq(b[0]["run"]["branch"], "main", "branch")
        eq(b[0]["run"]["commit"], bad, "commit")
    t.check("a run ending error before it starts: failed", error_run)

    def fixed_after_error():
        origin.commit("fixed", {".pipewright.yml": wh.PIPELINE, "content.txt": "ok\n"})
        origin.push()
        rid = d.trigger("app", {"ref": "main"})["id"]
        eq(d.wait_run(rid)["status"], "success", "the fixed run")
        b = pw.wait_until(lambda: len(hook.bodies()) >= 2 and hook.bodies(),
                          "the fixed message")
        eq([(x["event"], x["run"]["id"]) for x in b[1:]], [("fixed", rid)], "messages")
        expect(json.dumps(b[1]).find("jobs: 3") < 0, "no pipeline text in the body")
    t.check("a success after an error run: fixed", fixed_after_error)
    hook.close()


pw.main(main)
