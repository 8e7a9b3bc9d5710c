"""A strict job of the daemon granted the network (its project says
`sandbox: {network: allow}`) has outbound access of its own but cannot
reach the daemon: not its API on 127.0.0.1, not through slirp4netns's
10.0.2.2, not on ::1.  The job requests /job-probe on each; the daemon
logs every request it gets (PIPEWRIGHT_DEBUG), so the assertion holds
from the daemon's side: no such request ever arrives.  A job of the same
pipeline in a project without the grant fails, saying why.  Skipped (77)
where the strict sandbox or slirp4netns cannot run."""
import os
import shutil

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = r"""
jobs:
  probe:
    network: true
    script:
      - |
        python3 -c '
        import os, socket
        port = int(os.environ["PORT"])
        for a in ("127.0.0.1", "10.0.2.2", "::1"):
            s = socket.socket(socket.AF_INET6 if ":" in a else socket.AF_INET)
            s.settimeout(3)
            try:
                s.connect((a, port))
                s.sendall(b"GET /job-probe HTTP/1.0\r\n\r\n")
                s.recv(100)
                print("api %s: REACHED" % a)
            except OSError:
                print("api %s: blocked" % a)
        '
"""


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    if shutil.which("slirp4netns") is None:
        pw.skip("slirp4netns is needed for a granted network (scripts/dev installs it)")
    os.environ["PIPEWRIGHT_DEBUG"] = "1"
    d = t.daemon(projects={"plain": PIPELINE}, config="sandbox: strict", start=False)
    pipeline = os.path.join(d.dir, "plain.yml")
    d.write_config({"plain": PIPELINE,
                    "granted": {"pipeline": pipeline,
                                "sandbox": "{network: allow}"}},
                   config="sandbox: strict")
    d.start()

    def granted():
        rid = d.trigger("granted", {"env": {"PORT": str(d.port)}})["id"]
        run = d.wait_run(rid)
        log = d.get("/api/v1/runs/%d/jobs/probe/log" % rid).text
        eq(run["status"], "success", "run status (log: %r)" % log)
        lines = log.splitlines()
        for a in ("127.0.0.1", "10.0.2.2", "::1"):
            expect("api %s: blocked" % a in lines, "%s: %r" % (a, log))
        expect(not [l for l in lines if l.startswith("api ") and l.endswith("REACHED")],
               "the job reached the API: %r" % log)
        # The daemon logs each request; the job's never came.
        expect(d.get("/job-probe-host").status == 404, "a request from the test")
        pw.wait_until(lambda: "/job-probe-host" in d.log(), "the test's own request logged")
        expect("path=/job-probe " not in d.log(),
               "the daemon got the job's request:\n%s" % d.log()[-2000:])
    t.check("a granted strict job cannot reach the daemon's API", granted)

    def denied():
        rid = d.trigger("plain", {"env": {"PORT": str(d.port)}})["id"]
        run = d.wait_run(rid)
        att = run["jobs"][0]["attempts"][-1]
        eq(run["status"], "failed", "run status")
        eq(att["reason"], "network: denied by the project's sandbox configuration",
           "reason")
    t.check("without the grant the job fails, saying so", denied)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
