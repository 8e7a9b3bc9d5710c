"""A cancel does not survive a restart as such: a run cancelled while its
only job was still stopping (its TERM trap runs for a while), then the
daemon killed and started again, is taken up from its supervisor; the job
ends `canceled`, and the run must end `canceled` too (it was recorded
`success`: the run's result came from the old process's cancel flag, not
from its jobs).

The job's trap waits for a file the test makes once the new daemon has
taken the attempt up, so the order is a fact, not a guess.
"""
import os

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  only:
    script:
      - trap 'echo stopping; i=0; while [ ! -e "$GO" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; exit 1' TERM
      - echo started; while :; do sleep 0.05; done
"""


def main(t):
    go = os.path.join(t.tmp, "go")
    d = t.daemon(projects={"p": PIPELINE}, config="kill_grace: 60s\n")

    def log(rid):
        r = d.get("/api/v1/runs/%d/jobs/only/log" % rid)
        eq(r.status, 200, "log of run %d" % rid)
        return r.text

    def scenario():
        rid = d.trigger("p", {"env": {"GO": go}})["id"]
        pw.wait_until(lambda: "\nstarted\n" in log(rid), "the job to start")
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
        eq(r.status, 200, "cancel status (%r)" % r.body)
        pw.wait_until(lambda: "\nstopping\n" in log(rid), "the job's TERM trap")
        eq(d.run(rid)["status"], "running", "the run while its job stops")
        d.kill()
        d.start()
        d.wait_log(r"attempt\.adopt run=%d job=only attempt=1" % rid)
        with open(go, "w"):
            pass
        run = d.wait_run(rid)
        atts = run["jobs"][0]["attempts"]
        eq([(a["number"], a["status"]) for a in atts], [(1, "canceled")],
           "the attempts")
        eq(run["jobs"][0]["status"], "canceled", "the job")
        eq(run["status"], "canceled", "the run")
    t.check("cancelled, then the daemon restarted while the job stopped: the run ends canceled",
            scenario)
    t.check("SIGTERM at the end: exit 0", d.stop)


pw.main(main)
