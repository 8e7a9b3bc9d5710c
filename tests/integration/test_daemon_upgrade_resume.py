"""An upgrade whose new binary never gets ready: the old daemon's swap,
then its resumption (issue 12's debts).

A job waits on a gate file under its supervisor, our daemon's child.
`kill -USR2` with a configured binary that hangs: the daemon hands its
jobs over and lets go of that supervisor.  While it waits for a successor
that never comes, a change to a run (cancel, queue pause) answers 503
`unavailable` with `Retry-After: 1`: a client learns when to try again.
After upgrade_timeout the hanging binary is killed and the daemon
resumes: it takes the job up again through the supervisor's socket, the
run keeps the started_at of its first start, and once the job ends the
supervisor, still the daemon's child, is reaped — no zombie is left
behind (a zombie that PID 1 has not collected yet, once reparented,
would not be ours).
"""
import os
import signal

import pwdaemon as pw
from pwdaemon import eq, expect

GATED = """\
jobs:
  wait:
    script:
      - while [ ! -e "$GATE/open" ]; do sleep 0.05; done; echo "gate opened"
"""

HANG = """#!/bin/sh
exec sleep 600
"""


def proc_stat(pid):
    """(state, ppid) of pid, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    # The name is in parentheses and may hold spaces: split after it.
    rest = text[text.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def zombie_children(pid):
    kids = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None and st[1] == pid and st[0] == "Z":
                kids.append(int(name))
    return kids


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    script = os.path.join(t.tmp, "pipewright-next")
    with open(script, "w") as f:
        f.write(HANG)
    os.chmod(script, 0o755)
    timeout = 3 * pw.SLOW
    d = t.daemon(projects={"gated": GATED},
                 tokens=(("operator", "operate"), ("admin", "admin")),
                 config="drain: detach\nbinary: %s\nupgrade_timeout: %ds\n"
                 % (script, timeout))
    st = {}

    def running():
        rid = d.trigger("gated", {"env": {"GATE": gate}})["id"]
        d.wait_job(rid, "wait", "running")
        # The job's row says running while its workspace is still being
        # made, and the supervisor's fork of the job looks like a second
        # supervisor until it execs: wait for the one supervisor.
        sv = pw.wait_until(lambda: (lambda s: s if len(s) == 1 else None)(
            pw.supervisors_under(d.data)), "one supervisor of the running job")
        eq(proc_stat(sv[0])[1], d.proc.pid, "the supervisor's parent")
        st.update(rid=rid, sv=sv[0], started=d.run(rid)["started_at"])
        expect(st["started"], "the run has a started_at")
    t.check("a job runs under a supervisor, the daemon's child", running)

    def swap():
        d.signal(signal.SIGUSR2)
        d.wait_log(r"upgrade\.spawned")
        r = d.post("/api/v1/runs/%d/cancel" % st["rid"], token="operator")
        d.expect_error(r, 503, "unavailable", what="cancel during the swap")
        eq(r.header("Retry-After"), "1", "the cancel's Retry-After")
        r = d.post("/api/v1/queue/pause", token="admin")
        d.expect_error(r, 503, "unavailable", what="queue pause during the swap")
        eq(r.header("Retry-After"), "1", "the pause's Retry-After")
        # Reads go on meanwhile, without one.
        r = d.get("/api/v1/runs/%d" % st["rid"])
        eq(r.status, 200, "a read during the swap")
        eq(r.header("Retry-After"), None, "a read's Retry-After")
    t.check("during the swap: changes answer 503 with Retry-After: 1", swap)

    def resumed():
        d.wait_log(r"upgrade\.resumed", timeout=timeout + pw.DEADLINE)
        d.wait_log(r"attempt\.adopt run=%d " % st["rid"])
        run = d.run(st["rid"])
        eq(run["status"], "running", "the run after the resumption")
        eq(run["started_at"], st["started"], "the run's started_at")
        eq(proc_stat(st["sv"])[1], d.proc.pid, "the supervisor's parent")
    t.check("the daemon resumes and takes its job up again", resumed)

    def reaped():
        open(os.path.join(gate, "open"), "w").close()
        run = d.wait_run(st["rid"])
        eq(run["status"], "success", "the run")
        eq(run["started_at"], st["started"], "the run's started_at")
        # It exits once its client has the end; only we can reap it.
        pw.wait_until(lambda: proc_stat(st["sv"]) is None,
                      "the supervisor to be reaped", timeout=5 * pw.SLOW)
        eq(zombie_children(d.proc.pid), [], "zombie children of the daemon")
    t.check("the job ends: its supervisor is reaped, no zombie left", reaped)

    def ready():
        eq(d.get("/readyz").status, 200, "/readyz")
        r = d.post("/api/v1/queue/pause", token="admin")
        eq(r.status, 200, "queue pause once resumed (%r)" % r.body[:200])
    t.check("changes are answered again", ready)


pw.main(main)
