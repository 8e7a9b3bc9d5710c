"""Restarting the daemon keeps history: runs, job logs and the audit trail
survive SIGTERM and a new start, and a SIGKILL of an idle daemon too.  A
run left running when the daemon is SIGKILLed is resumed at the next start
(src/daemon/runs.c runs_recover): its interrupted attempt is marked lost,
the job process of that attempt is gone, a new attempt runs and the run
finishes."""
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
      - echo $$ > "$PIDS/pid.$PIPEWRIGHT_ATTEMPT"
      - echo "attempt $PIPEWRIGHT_ATTEMPT waiting"
      - while [ ! -e "$PIDS/open" ]; do sleep 0.02; done
      - echo "attempt $PIPEWRIGHT_ATTEMPT through"
"""


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
        # The job's supervisor is tied to the daemon: the job goes with it.
        pw.wait_until(lambda: not pw.alive(pid1), "attempt 1's shell (pid %d) to go" % pid1)
        d.start()
        d.wait_log(r"run\.recover run=%d\b" % rid)
        d.wait_job(rid, "gate", "running")
        pw.wait_until(lambda: os.path.exists(os.path.join(piddir, "pid.2")),
                      "attempt 2 to start")
        run = d.run(rid)
        eq(run["status"], "running", "the resumed run")
        job = {j["name"]: j for j in run["jobs"]}
        eq([(a["number"], a["status"]) for a in job["build"]["attempts"]], [(1, "success")],
           "build is not run again")
        a1 = job["gate"]["attempts"][0]
        eq((a1["number"], a1["status"], a1["exit_code"], a1["reason"]),
           (1, "lost", None, "the daemon restarted while it ran"), "the interrupted attempt")
        expect(a1["finished_at"] is not None, "the lost attempt has finished_at")
        open(os.path.join(piddir, "open"), "w").close()
        run = d.wait_run(rid)
        eq(run["status"], "success", "the resumed run's result")
        job = {j["name"]: j for j in run["jobs"]}
        eq([(a["number"], a["status"]) for a in job["gate"]["attempts"]],
           [(1, "lost"), (2, "success")], "gate's attempts")
        log = d.get("/api/v1/runs/%d/jobs/gate/log?attempt=2" % rid).text
        expect("attempt 2 through" in log.splitlines(), "attempt 2's log %r" % log)
        same("after SIGKILL while running (the older runs)", [rid])
    t.check("SIGKILL while a job runs: at start the attempt is lost, attempt 2 runs",
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
        d.kill()
        d.write_config({"demo": PIPELINE})
        d.start()
        d.wait_log(r"run\.abandon run=%d\b" % rid)
        run = d.wait_run(rid)
        eq(run["status"], "error", "a run whose project is gone")
        expect(run["finished_at"] is not None, "the abandoned run has finished_at")
        job = {j["name"]: j for j in run["jobs"]}
        eq([(a["number"], a["status"]) for a in job["gate"]["attempts"]], [(1, "lost")],
           "gate's attempts")
        events = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        eq((events[-1]["actor"], events[-1]["action"]), ("pipewright", "abandon"),
           "the last event")
        open(os.path.join(piddir, "open"), "w").close()
    t.check("SIGKILL while a job runs, project removed: the run ends as an error",
            abandoned)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
