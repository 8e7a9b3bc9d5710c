"""Jobs outlive the daemon (issue 6).  With `drain: detach` a SIGTERM ends
the daemon at once while its job goes on under its supervisor; the next
start takes the attempt up from the byte the store has, so the job's log
holds every line exactly once and it stays attempt 1.  A SIGKILL of the
daemon gives the same.  A job whose supervisor was killed too (the daemon
down, the machine "crashed") is lost at the next start: retried once by
default (lost_retries 1), never with an `environment` (the run fails).

The job prints a counter line every 50 ms for about 3 s and writes its
shell's pid and its parent's (the supervisor) to files named after the
attempt, so the test can see both outlive the daemon or kill them.
"""
import os
import re
import signal
import time

import pwdaemon as pw
from pwdaemon import eq, expect

LINES = 60

COUNTER = """\
jobs:
  count:
    %s
    script:
      - echo $$ > "$PIDS/job.$PIPEWRIGHT_RUN_ID.$PIPEWRIGHT_ATTEMPT"
      - echo $PPID > "$PIDS/sup.$PIPEWRIGHT_RUN_ID.$PIPEWRIGHT_ATTEMPT"
      - i=0; while [ $i -lt %d ]; do echo "count $i"; i=$((i+1)); sleep 0.05; done
"""


def read_pid(path):
    def cond():
        with open(path) as f:
            s = f.read().strip()
        return s and int(s)
    return pw.wait_until(cond, "pid file %s" % path)


def log_of(d, rid, attempt=1):
    r = d.get("/api/v1/runs/%d/jobs/count/log?attempt=%d" % (rid, attempt))
    eq(r.status, 200, "log of run %d attempt %d" % (rid, attempt))
    return r.text


def counter_lines(text):
    return [l for l in text.splitlines() if re.match(r"^count \d+$", l)]


def complete(d, rid, attempt=1):
    got = counter_lines(log_of(d, rid, attempt))
    want = ["count %d" % i for i in range(LINES)]
    if got != want:
        dups = sorted({l for l in got if got.count(l) > 1})
        missing = [l for l in want if l not in got]
        pw.fail("run %d attempt %d's log: %d counter lines, duplicates %s, missing %s"
                % (rid, attempt, len(got), dups[:10], missing[:10]))


def main(t):
    piddir = os.path.join(t.tmp, "pids")
    os.makedirs(piddir)
    env = {"PIDS": piddir}
    d = t.daemon(projects={"count": COUNTER % ("", LINES),
                           "deploy": COUNTER % ("environment: prod", LINES)},
                 config="drain: detach\n")

    def started(project):
        rid = d.trigger(project, {"env": env})["id"]
        d.wait_job(rid, "count", "running")
        job = read_pid(os.path.join(piddir, "job.%d.1" % rid))
        sup = read_pid(os.path.join(piddir, "sup.%d.1" % rid))
        # A few lines in: the stop comes in the middle of the job.
        pw.wait_until(lambda: len(counter_lines(log_of(d, rid))) >= 5,
                      "run %d's first lines" % rid)
        return rid, job, sup

    def survives(how):
        rid, job, sup = started("count")
        t0 = time.monotonic()
        if how == "SIGTERM":
            d.stop()
            took = time.monotonic() - t0
            # The drain is a commit, not a wait for the job (~3 s).
            expect(took < 2 * pw.SLOW, "SIGTERM with drain: detach took %.2f s" % took)
            expect(re.search(r"handover\.done", d.log()), "no handover.done in the log")
        else:
            d.kill()
        expect(pw.alive(job), "the job (pid %d) died with the daemon (%s)" % (job, how))
        expect(pw.alive(sup), "the supervisor (pid %d) died with the daemon" % sup)
        d.start()
        d.wait_log(r"attempt\.adopt run=%d job=count attempt=1" % rid)
        run = d.wait_run(rid)
        eq(run["status"], "success", "the run after a %s" % how)
        atts = run["jobs"][0]["attempts"]
        eq([(a["number"], a["status"]) for a in atts], [(1, "success")],
           "attempts after a %s" % how)
        complete(d, rid)
        print("  %s: stop took %.2f s, the job went on, %d lines once each"
              % (how, time.monotonic() - t0, LINES))
    t.check("SIGTERM (drain: detach) mid-job: the job goes on, the next daemon takes it up",
            survives, "SIGTERM")
    t.check("SIGKILL mid-job: the same", survives, "SIGKILL")

    def lost(project, want_attempts, want_status):
        rid, job, sup = started(project)
        d.stop()
        expect(pw.alive(sup), "the supervisor (pid %d) is alive" % sup)
        with open("/proc/%d/cmdline" % sup, "rb") as f:
            cmd = f.read()
        expect(b"supervisor" in cmd, "pid %d is not a supervisor: %r" % (sup, cmd))
        # The "crash": supervisor and job die while no daemon runs.
        pgid = os.getpgid(job)
        os.kill(sup, signal.SIGKILL)
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pw.wait_until(lambda: not pw.alive(sup) and not pw.alive(job),
                      "supervisor and job to die")
        d.start()
        run = d.wait_run(rid)
        eq(run["status"], want_status, "%s's run after its supervisor died" % project)
        atts = run["jobs"][0]["attempts"]
        eq([(a["number"], a["status"]) for a in atts], want_attempts,
           "%s's attempts" % project)
        reason = atts[0]["reason"] or ""
        expect(reason.startswith("lost: its supervisor is gone"),
               "attempt 1's reason says it was lost: %r" % reason)
        if len(atts) > 1:
            expect("lost_retries 1 of 1" in reason,
                   "attempt 1's reason says it is retried: %r" % reason)
            complete(d, rid, 2)
        else:
            expect("trying again" not in reason, "no retry announced: %r" % reason)
        return reason
    t.check("supervisor killed while the daemon was down: lost, retried once",
            lost, "count", [(1, "lost"), (2, "success")], "success")
    t.check("the same with an environment: lost, no retry, the run fails",
            lost, "deploy", [(1, "lost")], "failed")

    t.check("SIGTERM at the end: exit 0", d.stop)


pw.main(main)
