"""Restarting the daemon keeps history: runs, job logs and the audit trail
survive SIGTERM and a new start, and a SIGKILL of an idle daemon too.  A
run left running when the daemon is SIGKILLed goes on: the job's
supervisor outlives the daemon (issue 6), and the next start takes the
attempt up (src/daemon/recover.c) — the job process is the same, it stays
attempt 1, its log is whole and the run finishes.  A run whose project is
gone at the next start ends as an error."""
import os
import signal

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build, test]
jobs:
  build:
    stage: build
    script: for i in 1 2 3; do echo "build line $i"; done
  gate:
    stage: test
    script:
      - echo $$ > "$PIDS/.pid.$PIPEWRIGHT_ATTEMPT"; mv "$PIDS/.pid.$PIPEWRIGHT_ATTEMPT" "$PIDS/pid.$PIPEWRIGHT_ATTEMPT"
      - echo "attempt $PIPEWRIGHT_ATTEMPT waiting"
      - n=0; while [ ! -e "$PIDS/open" ] && [ $n -lt 3000 ]; do sleep 0.02; n=$((n+1)); done
      - echo "attempt $PIPEWRIGHT_ATTEMPT through"
"""


# The gate gives up after about a minute: a supervisor outlives the daemon
# and the test, and a job waiting for a file of a removed directory would
# otherwise run until its timeout (an hour).


def snapshot(d, rid):
    """What must survive: the run, its events and every attempt's log."""
    run = d.run(rid)
    logs = {}
    for j in run["jobs"]:
        for a in j["attempts"]:
            r = d.get("/api/v1/runs/%d/jobs/%s/log?attempt=%d" % (rid, j["name"], a["number"]))
            eq(r.status, 200, "log of %s/%d" % (j["name"], a["number"]))
            logs[(j["name"], a["number"])] = r.text
    run.pop("url")  # the port changes
    events = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
    return run, events, logs


def main(t):
    piddir = os.path.join(t.tmp, "pids")
    os.makedirs(piddir)
    open(os.path.join(piddir, "open"), "w").close()
    d = t.daemon(projects={"demo": PIPELINE})
    st = {}

    def history():
        a = d.trigger("demo", {"ref": "main", "env": {"PIDS": piddir}})["id"]
        eq(d.wait_run(a)["status"], "success", "first run")
        r = d.post("/api/v1/runs/%d/rerun" % a, body={"jobs": ["gate"]}, token="operator")
        eq(r.status, 200, "rerun")
        eq(d.wait_run(a)["status"], "success", "after the rerun")
        b = d.trigger("demo", {"ref": "dev", "env": {"PIDS": piddir}})["id"]
        d.wait_run(b)
        st["ids"] = [a, b]
        st["before"] = [snapshot(d, i) for i in st["ids"]]
        eq(len(st["before"][0][2]), 3, "logs of run %d" % a)
        eq(len(st["before"][0][1]), 2, "events of run %d" % a)
    t.check("two runs, a rerun, their logs and events", history)

    def same(what, extra=()):
        for i, want in zip(st["ids"], st["before"]):
            got = snapshot(d, i)
            eq(got[0], want[0], "%s: run %d" % (what, i))
            eq(got[1], want[1], "%s: events of run %d" % (what, i))
            eq(got[2], want[2], "%s: logs of run %d" % (what, i))
        p = d.get_json("/api/v1/projects/demo/runs")
        eq([x["id"] for x in p["items"]], sorted(st["ids"] + list(extra), reverse=True),
           what + ": list")

    def sigterm():
        d.stop()
        d.start()
        same("after SIGTERM and a start")
    t.check("SIGTERM, start: runs, logs and events intact", sigterm)

    def sigkill_idle():
        d.kill()
        d.start()
        same("after SIGKILL while idle")
        eq(d.get("/readyz").status, 200, "ready")
        rid = d.trigger("demo", {"env": {"PIDS": piddir}})["id"]
        expect(rid > max(st["ids"]), "ids go on after the old ones: %d" % rid)
        d.wait_run(rid)
        st["ids"].append(rid)
        st["before"].append(snapshot(d, rid))
    t.check("SIGKILL while idle, start: history intact, new runs get new ids", sigkill_idle)

    def sigkill_running():
        os.unlink(os.path.join(piddir, "open"))
        for n in (1, 2):
            try:
                os.unlink(os.path.join(piddir, "pid.%d" % n))
            except FileNotFoundError:
                pass
        rid = d.trigger("demo", {"env": {"PIDS": piddir}})["id"]
        st["running"] = rid
        d.wait_job(rid, "gate", "running")
        pw.wait_until(lambda: os.path.exists(os.path.join(piddir, "pid.1")),
                      "attempt 1's pid file")
        with open(os.path.join(piddir, "pid.1")) as f:
            pid1 = int(f.read())
        d.kill()
        # The job's supervisor is not tied to the daemon: the job goes on.
        expect(pw.alive(pid1), "attempt 1's shell (pid %d) died with the daemon" % pid1)
        d.start()
        d.wait_log(r"run\.recover run=%d\b" % rid)
        d.wait_log(r"attempt\.adopt run=%d job=gate attempt=1\b" % rid)
        run = d.run(rid)
        eq(run["status"], "running", "the taken-up run")
        job = {j["name"]: j for j in run["jobs"]}
        eq([(a["number"], a["status"]) for a in job["build"]["attempts"]], [(1, "success")],
           "build is not run again")
        eq([(a["number"], a["status"]) for a in job["gate"]["attempts"]], [(1, "running")],
           "gate's attempt 1 is still running")
        expect(pw.alive(pid1), "attempt 1's shell (pid %d) is still there" % pid1)
        open(os.path.join(piddir, "open"), "w").close()
        run = d.wait_run(rid)
        eq(run["status"], "success", "the taken-up run's result")
        job = {j["name"]: j for j in run["jobs"]}
        eq([(a["number"], a["status"]) for a in job["gate"]["attempts"]],
           [(1, "success")], "gate's attempts")
        expect(not os.path.exists(os.path.join(piddir, "pid.2")), "no attempt 2 ran")
        log = d.get("/api/v1/runs/%d/jobs/gate/log?attempt=1" % rid).text
        eq([l for l in log.splitlines() if l.startswith("attempt ")],
           ["attempt 1 waiting", "attempt 1 through"], "attempt 1's whole log, once")
        same("after SIGKILL while running (the older runs)", [rid])
    t.check("SIGKILL while a job runs: at start the attempt is taken up and finishes",
            sigkill_running)

    def abandoned():
        d.stop()
        d.write_config({"demo": PIPELINE, "gone": PIPELINE})
        d.start()
        os.unlink(os.path.join(piddir, "open"))
        for n in (1, 2):
            try:
                os.unlink(os.path.join(piddir, "pid.%d" % n))
            except FileNotFoundError:
                pass
        rid = d.trigger("gone", {"env": {"PIDS": piddir}})["id"]
        d.wait_job(rid, "gate", "running")
        pw.wait_until(lambda: os.path.exists(os.path.join(piddir, "pid.1")),
                      "attempt 1's pid file")
        with open(os.path.join(piddir, "pid.1")) as f:
            pid1 = int(f.read())
        d.kill()
        d.write_config({"demo": PIPELINE})
        try:
            d.start()
            d.wait_log(r"run\.abandon run=%d\b" % rid)
            run = d.wait_run(rid)
            eq(run["status"], "error", "a run whose project is gone")
            expect(run["finished_at"] is not None, "the abandoned run has finished_at")
            events = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
            eq((events[-1]["actor"], events[-1]["action"]), ("pipewright", "abandon"),
               "the last event")
            # Nobody can take the attempt up any more: it ends, and so does
            # its job (its supervisor outlived the daemon).
            job = {j["name"]: j for j in d.run(rid)["jobs"]}
            a1 = job["gate"]["attempts"]
            eq(len(a1), 1, "gate's attempts")
            expect(a1[0]["status"] in ("lost", "canceled") and a1[0]["finished_at"],
                   "the abandoned run's attempt ended: %r" % a1[0])
            pw.wait_until(lambda: not pw.alive(pid1),
                          "the abandoned attempt's job (pid %d) to end" % pid1)
        finally:
            open(os.path.join(piddir, "open"), "w").close()
    t.check("SIGKILL while a job runs, project removed: the run ends as an error",
            abandoned)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
