"""POST /api/v1/runs/{id}/cancel of a running job tree: the job starts a
grandchild that ignores SIGTERM and one that left the process group
(setsid), and writes every pid to a file in a directory the test owns
(named through the trigger's env).  After the cancel the run is canceled,
the attempt canceled, the jobs after it canceled, every pid gone (checked
in /proc), and the audit trail names the token that canceled."""
import os

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build, test]
jobs:
  tree:
    stage: build
    script:
      - echo $$ > "$PIDS/shell"
      - sh -c 'trap "" TERM; echo $$ > "$PIDS/stubborn"; while :; do sleep 0.1; done' &
      - setsid sh -c 'echo $$ > "$PIDS/escaped"; exec sleep 600' &
      - sleep 600 & echo $! > "$PIDS/sleeper"
      - echo started
      - wait
  after:
    stage: test
    script: echo never
"""
SLOW = """\
stages: [build]
jobs:
  wait:
    stage: build
    script: sleep 600
"""
NAMES = ("shell", "stubborn", "escaped", "sleeper")


def main(t):
    d = t.daemon(projects={"demo": PIPELINE, "slow": SLOW})
    piddir = os.path.join(t.tmp, "pids")
    os.makedirs(piddir)
    st = {}

    def read_pids():
        pids = {}
        for n in NAMES:
            try:
                with open(os.path.join(piddir, n)) as f:
                    s = f.read().strip()
            except OSError:
                return None
            if not s.isdigit():
                return None
            pids[n] = int(s)
        return pids

    def running():
        run = d.trigger("demo", {"env": {"PIDS": piddir}})
        st["id"] = run["id"]
        d.wait_job(run["id"], "tree", "running")
        st["pids"] = pw.wait_until(read_pids, "the job to write its pids")
        for n, pid in st["pids"].items():
            expect(pw.alive(pid), "%s (pid %d) is not running before the cancel" % (n, pid))
        pw.wait_until(lambda: "started" in d.get(
            "/api/v1/runs/%d/jobs/tree/log" % run["id"]).text, "the job's 'started'")
    t.check("a running job tree with four processes", running)
    rid = st["id"]

    def cancel():
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
        eq(r.status, 200, "cancel status (%r)" % r.body)
        expect(r.json()["status"] in ("running", "canceled"), "answer %r" % r.json()["status"])
        run = d.wait_run(rid, timeout=pw.DEADLINE * 2)
        eq(run["status"], "canceled", "run status")
        jobs = {j["name"]: j for j in run["jobs"]}
        eq(jobs["tree"]["status"], "canceled", "tree's status")
        eq(len(jobs["tree"]["attempts"]), 1, "tree's attempts")
        a = jobs["tree"]["attempts"][0]
        eq(a["status"], "canceled", "attempt status")
        expect(a["finished_at"] is not None, "attempt finished_at")
        eq(jobs["after"]["status"], "canceled", "the job after it")
        eq(jobs["after"]["attempts"], [], "the job after it never ran")
    t.check("cancel: run canceled, attempt canceled, later job canceled", cancel)

    def gone():
        for n, pid in st["pids"].items():
            pw.wait_until(lambda: not pw.alive(pid), "%s (pid %d) to be gone" % (n, pid),
                          timeout=5)
    t.check("every process of the tree is gone, setsid and SIGTERM-proof ones too", gone)

    def audit():
        ev = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        eq([(e["actor"], e["action"]) for e in ev],
           [("token operator", "trigger"), ("token operator", "cancel")], "events")
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
        d.expect_error(r, 409, "conflict", "run %d has already finished (canceled)" % rid,
                       "a second cancel")
    t.check("the audit trail records the cancel; a second cancel is 409", audit)

    def queued():
        # A run canceled while others hold every slot (max_jobs: 4) never
        # starts a job.
        runs = [d.trigger("slow", {})["id"] for _ in range(5)]
        for rid2 in runs[:4]:
            d.wait_job(rid2, "wait", "running")
        last = runs[-1]
        eq(d.run(last)["status"], "queued", "the fifth run")
        r = d.post("/api/v1/runs/%d/cancel" % last, token="operator")
        eq(r.status, 200, "cancel of a queued run")
        run = d.wait_run(last)
        eq(run["status"], "canceled", "status")
        eq(run["jobs"][0]["attempts"], [], "attempts of the queued run")
        for rid2 in runs[:-1]:
            eq(d.post("/api/v1/runs/%d/cancel" % rid2, token="operator").status, 200,
               "cancel %d" % rid2)
        for rid2 in runs:
            eq(d.wait_run(rid2, timeout=pw.DEADLINE * 2)["status"], "canceled",
               "run %d" % rid2)
    t.check("cancel of queued runs", queued)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
