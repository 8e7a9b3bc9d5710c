"""POST /api/v1/runs/{id}/cancel delivers one SIGTERM to the job's shell:
a shell that traps TERM runs its trap once, not once per path the signal
took (the process group, the walk of the tree, the sandbox's init).  The
trap writes to the job's log, read after the run ends, and then lingers
half a second: a second SIGTERM in that time (however late the shell got
to run its trap for the first) runs it again.  Both sandboxes: `none`,
and `strict` where it can run."""

import pwdaemon as pw
from pwdaemon import eq

PIPELINE = """\
stages: [build]
jobs:
  trap:
    stage: build
    script:
      - trap 'echo trapped; sleep 0.5' TERM
      - echo started
      - sleep 100 & wait
      - echo after-wait
"""


def cancel_once(t, d, what):
    def check():
        rid = d.trigger("demo", {})["id"]
        d.wait_job(rid, "trap", "running")
        log = "/api/v1/runs/%d/jobs/trap/log" % rid
        pw.wait_until(lambda: "started" in d.get(log).text, "the job's 'started'")
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
        eq(r.status, 200, "cancel status (%r)" % r.body)
        eq(d.wait_run(rid, timeout=pw.DEADLINE * 2)["status"], "canceled", "run status")
        lines = d.get(log).text.splitlines()
        eq(lines.count("trapped"), 1, "times the TERM trap ran (log: %r)" % lines)
    t.check("%s: one cancel, the shell's TERM trap runs once" % what, check)


def main(t):
    d = t.daemon(projects={"demo": PIPELINE})
    cancel_once(t, d, "sandbox none")
    t.check("SIGTERM: exit 0", d.stop)
    why = pw.strict_sandbox_missing()
    if why:
        print("skipped the strict sandbox: %s" % why)
        return
    s = t.daemon(projects={"demo": PIPELINE}, config="sandbox: strict", name="strict")
    cancel_once(t, s, "sandbox strict")
    t.check("SIGTERM: exit 0", s.stop)


pw.main(main)
