"""A job of the daemon under `sandbox: strict`, asserted from its output:
root of its own user namespace, its own pid namespace, no network but
loopback, the data directory (the database) invisible, its workspace
writable; and with a data_dir written through ".." (the example
configuration's `../var`), the job still starts in its workspace.
Skipped (77) where the strict sandbox cannot run."""

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = r"""
stages: [build]
jobs:
  probe:
    stage: build
    script:
      - |
        echo "uid=$(id -u)"
        echo "nspid=$(grep '^NSpid:' /proc/self/status | cut -f2-)"
        echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ,)"
        if test -e "$DATA/pipewright.db"; then echo db=visible; else echo db=hidden; fi
        echo hello > written && echo "workspace=$(cat written)"
"""


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    d = t.daemon(projects={"demo": PIPELINE}, config="sandbox: strict")

    def strict():
        rid = d.trigger("demo", {"env": {"DATA": d.data}})["id"]
        run = d.wait_run(rid)
        log = d.get("/api/v1/runs/%d/jobs/probe/log" % rid).text
        eq(run["status"], "success", "run status (log: %r, problems: %r)" % (log, run["problems"]))
        lines = log.splitlines()
        for want in ["uid=0", "ifaces=lo,", "db=hidden", "workspace=hello"]:
            expect(want in lines, "no line %r in the log:\n%s" % (want, log))
        nspid = [l for l in lines if l.startswith("nspid=")]
        expect(nspid and len(nspid[0][6:].split()) == 1 and int(nspid[0][6:]) < 100,
               "not in its own pid namespace: %r" % nspid)
    t.check("a strict job: own user, pid and net namespaces; the database hidden", strict)

    t.check("SIGTERM: exit 0", d.stop)

    # The example configuration's `data_dir: ../var`: a path with ".." in
    # it, through a directory a strict job does not see (/var).
    d2 = t.daemon(projects={"demo": PIPELINE}, config="sandbox: strict", start=False)
    with open(d2.config_path) as f:
        text = f.read()
    with open(d2.config_path, "w") as f:
        f.write(text.replace("data_dir: %s" % d2.data, "data_dir: /var/..%s" % d2.data))
    d2.start()

    def dotdot():
        rid = d2.trigger("demo", {"env": {"DATA": "/nonexistent"}})["id"]
        run = d2.wait_run(rid)
        log = d2.get("/api/v1/runs/%d/jobs/probe/log" % rid).text
        eq(run["status"], "success", "run status (log: %r)" % log)
        expect("workspace=hello" in log.splitlines(), "no workspace line:\n%s" % log)
    t.check("a data_dir written with '..': the job starts in its workspace", dotdot)
    t.check("SIGTERM: exit 0", d2.stop)


pw.main(main)
