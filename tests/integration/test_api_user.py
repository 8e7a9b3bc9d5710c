"""`user:` under the daemon's strict sandbox: a job as `user: 1000` and
one as `user: nobody` (a name of the host's /etc/passwd) run as those
users inside, write their workspace, and the next job of the run (uid 0
inside) gets what they passed as artifacts; an unknown user name fails
its job with a reason naming it.  Where Debian's PostgreSQL is installed,
initdb and postgres run as `user: 1000` (the same job as root is refused
by initdb).  Skipped (77) where the strict sandbox cannot run."""

import glob

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = r"""
stages: [one, two]
jobs:
  numeric:
    stage: one
    user: 1000
    script:
      - echo "ids=$(id -u):$(id -g)"
      - echo built > out.txt && echo "home=$(touch "$HOME/x" && echo ok)"
    artifacts: {paths: [out.txt]}
  named:
    stage: one
    user: nobody
    script: [echo "nobody=$(id -u)"]
  after:
    stage: two
    needs: [numeric]
    script: [echo "root=$(id -u) got=$(cat out.txt)"]
"""

UNKNOWN = r"""
jobs:
  who:
    user: no-such-user-here
    script: [id]
"""

PG = r"""
jobs:
  pg:
    user: 1000
    script:
      - %(bin)s/initdb -D "$PWD/data" -U ci --auth=trust >/dev/null
      - %(bin)s/pg_ctl -D "$PWD/data" -o "-k $PWD -c listen_addresses=''" -l pg.log -w start >/dev/null
      - %(bin)s/psql -h "$PWD" -U ci -d postgres -Atc "select 'answer ' || 40 + 2"
      - %(bin)s/pg_ctl -D "$PWD/data" -m fast -w stop >/dev/null
"""


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    projects = {"demo": PIPELINE, "unknown": UNKNOWN}
    if bins:
        projects["pg"] = PG % {"bin": bins[-1].rsplit("/", 1)[0]}
    d = t.daemon(projects=projects, config="sandbox: strict")

    def log(rid, job):
        return d.get("/api/v1/runs/%d/jobs/%s/log" % (rid, job)).text

    def users():
        rid = d.trigger("demo", {})["id"]
        run = d.wait_run(rid)
        eq(run["status"], "success", "run status (logs: %r %r)" %
           (log(rid, "numeric"), log(rid, "after")))
        lines = log(rid, "numeric").splitlines()
        for want in ["ids=1000:1000", "home=ok"]:
            expect(want in lines, "no line %r in:\n%s" % (want, "\n".join(lines)))
        expect("nobody=65534" in log(rid, "named").splitlines(), log(rid, "named"))
        expect("root=0 got=built" in log(rid, "after").splitlines(), log(rid, "after"))
    t.check("user: 1000 and user: nobody inside; the next job reads their work", users)

    def unknown():
        rid = d.trigger("unknown", {})["id"]
        run = d.wait_run(rid)
        eq(run["status"], "failed", "run status")
        text = repr(run) + log(rid, "who")
        expect("user 'no-such-user-here' is not in the host's /etc/passwd" in text,
               "the unknown user is not named: %s" % text)
    t.check("an unknown user fails its job, naming it", unknown)

    def postgres():
        rid = d.trigger("pg", {})["id"]
        run = d.wait_run(rid, timeout=100)
        text = log(rid, "pg")
        eq(run["status"], "success", "run status (log: %r)" % text)
        expect("answer 42" in text.splitlines(), "no answer from postgres:\n%s" % text)
    if bins:
        t.check("initdb and postgres as user: 1000", postgres)
    else:
        print("note: no /usr/lib/postgresql/*/bin/initdb (apt-get install postgresql):"
              " the PostgreSQL check did not run")
    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
