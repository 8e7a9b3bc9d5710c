"""`pipewright logs RUN`, without a job, shows the run's own log: what
the daemon's checkout wrote (GET /api/v1/runs/{id}/log), then the
problems of the run's pipeline file as FILE:LINE:COLUMN: error: MESSAGE.
A run whose pipeline file is broken ends `error`, and this is where a
new user learns why.  A run that went well shows its checkout and no
problem, and `logs RUN JOB` is still the job's log.  -f and --attempt
are for a job's log, and an empty JOB is refused: each exit 2, before
any request."""
import subprocess

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

BROKEN = """\
jobs:
  build:
    scrpt: echo never
"""
GOOD = """\
jobs:
  build:
    script: echo built-it
"""


def logs(d, *args):
    p = subprocess.run([pw.PW_BIN, "logs", "--server", d.url] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=pw.DEADLINE)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("broken", {".pipewright.yml": BROKEN})
    origin.push()
    d = t.daemon(projects={"app": {"repo": origin.bare}})

    broken = d.trigger("app", {"ref": "refs/heads/main", "commit": sha})["id"]
    run = d.wait_run(broken)

    def broken_run():
        eq(run["status"], "error", "the broken run's status (%r)" % run)
        expect(run.get("problems"), "no problems in the run object: %r" % run)
        rc, out, err = logs(d, str(broken))
        eq(rc, 0, "exit status (stderr %r)" % err)
        expect(out.startswith(wh.run_log(d, broken)),
               "stdout does not begin with the run's log:\n%s\n---\n%s" %
               (out, wh.run_log(d, broken)))
        for p in run["problems"]:
            line = "%s:%d:%d: error: %s" % (p["file"], p["line"], p["column"], p["message"])
            expect(line in out.splitlines(), "missing %r in:\n%s" % (line, out))
        expect("scrpt" in out, "the problem does not name the key: %r" % out)
        expect("/jobs/" not in err, "asked for a job: %r" % err)
    t.check("logs RUN: a broken pipeline's run shows its log and its problems", broken_run)

    sha = origin.commit("fixed", {".pipewright.yml": GOOD})
    origin.push()
    good = d.trigger("app", {"ref": "refs/heads/main", "commit": sha})["id"]
    run2 = d.wait_run(good)

    def good_run():
        eq(run2["status"], "success", "the good run's status (%r)" % run2)
        text = wh.run_log(d, good)
        expect(text != "", "the checkout wrote nothing in the run's log")
        rc, out, err = logs(d, str(good))
        eq((rc, out), (0, text), "logs RUN (stderr %r)" % err)
        rc, out, err = logs(d, str(good), "build")
        eq(rc, 0, "logs RUN JOB (stderr %r)" % err)
        expect("built-it" in out, "the job's log: %r" % out)
    t.check("logs RUN: a good run shows its checkout; logs RUN JOB its job", good_run)

    def usage():
        for args, msg in (([str(good), "-f"], "pipewright: logs: -f is for a job's log; give RUN JOB"),
                          ([str(good), "--attempt", "1"],
                           "pipewright: logs: --attempt is for a job's log; give RUN JOB"),
                          ([str(good), ""], "pipewright: logs: the JOB name is empty")):
            rc, out, err = logs(d, *args)
            eq(rc, 2, "logs %r: exit status" % args)
            eq(err.splitlines()[:1], [msg], "logs %r: stderr" % args)
    t.check("logs RUN with -f, --attempt or an empty JOB: exit 2", usage)

    def unknown():
        rc, out, err = logs(d, "999999")
        eq(rc, 1, "exit status")
        expect(err.rstrip("\n").endswith("(404 not_found)"), "stderr %r" % err)
    t.check("logs RUN for no such run: the server's 404, exit 1", unknown)


pw.main(main)
