"""A rerun across restarts (issue 12's debts): what a rerun decided is in
the store, not only in the daemon's memory.

One run of a job with `lost_retries: 1` that waits for a file.  Its
supervisor dies twice while no daemon runs (drain: detach, then the
"crash"): attempt 1 is lost and retried, attempt 2 lost with the budget
spent, and the run fails.  Then, with the queue paused, a rerun: it
answers 200 and the run is queued, its job pending (or ready).  The daemon restarts:
the run is still queued, its job not run, the queue still paused;
once resumed the rerun runs (attempt 3).  Its supervisor dies too: the
two lost attempts before the rerun are not counted against it, so
attempt 3 lost is retried as attempt 4, which succeeds.
"""
import os
import signal

import pwdaemon as pw
from pwdaemon import eq, expect

WAITER = """\
jobs:
  work:
    lost_retries: 1
    script:
      - echo $$ > "$PIDS/job.$PIPEWRIGHT_ATTEMPT"
      - echo $PPID > "$PIDS/sup.$PIPEWRIGHT_ATTEMPT"
      - while [ ! -e "$PIDS/go" ]; do sleep 0.05; done; echo "attempt $PIPEWRIGHT_ATTEMPT done"
"""


def read_pid(path):
    def cond():
        with open(path) as f:
            s = f.read().strip()
        return s and int(s)
    return pw.wait_until(cond, "pid file %s" % path)


def attempts(run):
    return [(a["number"], a["status"]) for a in run["jobs"][0]["attempts"]]


def main(t):
    piddir = os.path.join(t.tmp, "pids")
    os.makedirs(piddir)
    d = t.daemon(projects={"waiter": WAITER},
                 tokens=(("operator", "operate"), ("admin", "admin")),
                 config="drain: detach\n")
    st = {}

    def crash(attempt):
        """Stops the daemon, kills attempt's supervisor and job while it
        is down, starts it again."""
        job = read_pid(os.path.join(piddir, "job.%d" % attempt))
        sup = read_pid(os.path.join(piddir, "sup.%d" % attempt))
        d.stop()
        pgid = os.getpgid(job)
        os.kill(sup, signal.SIGKILL)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pw.wait_until(lambda: not pw.alive(sup) and not pw.alive(job),
                      "attempt %d's supervisor and job to die" % attempt)
        d.start()

    def lost_twice():
        rid = st["rid"] = d.trigger("waiter", {"env": {"PIDS": piddir}})["id"]
        crash(1)
        d.wait_log(r"attempt\.adopt run=%d job=work attempt=1" % rid)
        crash(2)
        run = d.wait_run(rid)
        eq(run["status"], "failed", "the run")
        eq(attempts(run), [(1, "lost"), (2, "lost")], "its attempts")
    t.check("attempt 1 lost and retried, attempt 2 lost: the run fails", lost_twice)

    def rerun_paused():
        rid = st["rid"]
        r = d.post("/api/v1/queue/pause", token="admin")
        eq(r.status, 200, "queue pause (%r)" % r.body[:200])
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": "failed"},
                   token="operator")
        eq(r.status, 200, "rerun (%r)" % r.body[:200])
        run = d.run(rid)
        eq(run["status"], "queued", "the run after the rerun")
        # Ready once the queued run is started: what a paused queue holds.
        expect(run["jobs"][0]["status"] in ("pending", "ready"),
               "its job after the rerun: %s" % run["jobs"][0]["status"])
        d.stop()
        d.start()
        d.wait_log(r"run\.recover run=%d" % rid)
        eq(d.get_json("/api/v1/queue")["paused"], True, "the queue after the restart")
        run = d.run(rid)
        eq(run["status"], "queued", "the run after the restart")
        expect(run["jobs"][0]["status"] in ("pending", "ready"),
               "its job after the restart: %s" % run["jobs"][0]["status"])
        eq(attempts(run), [(1, "lost"), (2, "lost")], "its attempts")
        r = d.post("/api/v1/queue/resume", token="admin")
        eq(r.status, 200, "queue resume (%r)" % r.body[:200])
        d.wait_job(rid, "work", "running")
        read_pid(os.path.join(piddir, "sup.3"))
    t.check("a rerun queued while paused survives a restart and runs once resumed",
            rerun_paused)

    def lost_after_rerun():
        rid = st["rid"]
        crash(3)
        d.wait_job(rid, "work", "running")
        read_pid(os.path.join(piddir, "sup.4"))
        open(os.path.join(piddir, "go"), "w").close()
        run = d.wait_run(rid)
        eq(run["status"], "success", "the run")
        eq(attempts(run), [(1, "lost"), (2, "lost"), (3, "lost"), (4, "success")],
           "its attempts")
        reason = run["jobs"][0]["attempts"][2]["reason"] or ""
        expect("trying again (lost_retries 1 of 1)" in reason,
               "attempt 3's reason: %r" % reason)
    t.check("lost after the rerun: lost_retries counts from the rerun", lost_after_rerun)


pw.main(main)
