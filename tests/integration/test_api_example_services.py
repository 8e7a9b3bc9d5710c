"""The example project tests/fixtures/projects/notes-service through the
daemon (test_example_services.sh drives the same project through
`pipewright run`): a real git repository of it is the project's `repo`,
the daemon runs its pipeline in the strict sandbox as root, and the real
API is asked what happened.

- The run succeeds: the unit job's deliberately flaky test fails on the
  first attempt and passes on the retry; the e2e job reaches the notes
  service and a real PostgreSQL, both started beside it as services.
- GET /api/v1/runs/{id}/tests holds the 6 unit tests of the retry, the
  flaky one `retried` (passed on a retry), and the 3 e2e checks that
  e2e.sh writes as JUnit XML.
- GET /api/v1/projects/notes/tests/flaky lists test_flaky_clock: it failed
  and passed at the pushed commit.
- The run's JSON has the counts, per job and for the run.
- GET .../jobs/e2e/log?stream=db holds PostgreSQL's own lines (ready, the
  shutdown that SIGTERM asked for), which the job's own log does not.
- Afterwards no process of the job's services is left on the host: read
  from /proc, the host's view.

Needs Debian's postgresql (15), python3-pytest and the strict sandbox
(root, namespaces, cgroups): skipped (77), saying which, elsewhere.
ctest label `postgres`."""
import os
import shutil
import subprocess

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

EXAMPLE = os.path.join(wh.SOURCE_DIR, "tests", "fixtures", "projects", "notes-service")
PG_BIN = "/usr/lib/postgresql/15/bin"
UNIT = ["test_health", "test_add_and_list", "test_refused[]", "test_refused[xxx]",
        "test_unknown_route", "test_flaky_clock"]
E2E = ["test_health", "test_add_and_list", "test_row_in_postgresql"]


def missing():
    if not os.access(os.path.join(PG_BIN, "postgres"), os.X_OK):
        return "Debian's postgresql (15) is not installed (scripts/dev test installs it)"
    if subprocess.run(["getent", "passwd", "postgres"], capture_output=True).returncode:
        return "no user postgres (Debian's postgresql makes it)"
    if subprocess.run(["/usr/bin/python3", "-c", "import pytest"], capture_output=True).returncode:
        return "python3-pytest is not installed (scripts/dev test installs it)"
    why = pw.strict_sandbox_missing()
    return "the strict sandbox cannot run here: %s" % why if why else None


def services_left(data):
    """Host processes of the example's services started by the daemon
    whose data directory is data: PostgreSQL's (the postmaster and the
    children it renames, all working in their service's directory under
    data) and the notes service (its environment names its directory
    there).  Processes of other tests are not this daemon's."""
    mine = data.encode() + b"/"
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            exe = os.readlink("/proc/%s/exe" % pid)
            cwd = os.readlink("/proc/%s/cwd" % pid)
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % pid, "rb") as f:
                env = f.read()
        except OSError:
            continue  # gone, or a kernel thread
        if not (exe.endswith("/postgresql/15/bin/postgres") or b"notes.app" in cmd):
            continue
        if (cwd.encode() + b"/").startswith(mine) or mine in env:
            found.append("%s %s" % (pid, cmd.replace(b"\0", b" ").decode(errors="replace")))
    return found


def main(t):
    why = missing()
    if why:
        pw.skip(why)
    origin = wh.Origin(t, "notes")
    # The example as it is, its modes kept (e2e.sh is executable).
    shutil.copytree(EXAMPLE, origin.work, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "build"))
    origin.git("add", "-A")
    origin.git("commit", "-q", "-m", "notes")
    sha = origin.git("rev-parse", "HEAD")
    origin.push()
    d = t.daemon(projects={"notes": {"repo": origin.bare}},
                 config="sandbox: strict\nkill_grace: 5s")
    rid = d.trigger("notes", {"ref": "main"})["id"]
    run = d.wait_run(rid, timeout=240 * pw.SLOW)
    jobs = {j["name"]: j for j in run["jobs"]}

    def log(job, query=""):
        r = d.get("/api/v1/runs/%d/jobs/%s/log%s" % (rid, job, query))
        eq(r.status, 200, "GET %s's log%s" % (job, query))
        return r.text

    def succeeded():
        eq(run["status"], "success", "the run (unit's log:\n%s\ne2e's log:\n%s)" %
           (log("unit")[-3000:], log("e2e")[-3000:]))
        eq(run["commit"], sha, "the run's commit")
        unit = jobs["unit"]
        eq([a["status"] for a in unit["attempts"]], ["failed", "success"],
           "unit's attempts: the flaky test fails the first")
        eq(len(jobs["e2e"]["attempts"]), 1, "e2e's attempts")
        text = log("e2e")
        for want in ("[pipewright: starting service db]", "[pipewright: starting service api]",
                     "\nrows in postgresql: 1\n", "\ne2e ok\n",
                     "reports: 3 tests from 1 file: 3 passed, 0 failed"):
            expect(want in text, "%r in e2e's log: %r" % (want, text))
    t.check("the example's run succeeds, its flaky test on the retry", succeeded)

    def tests():
        body = d.get_json("/api/v1/runs/%d/tests?job=unit" % rid)
        got = {c["name"]: c for c in body["items"]}
        eq(sorted(got), sorted(n.replace("[xxx]", "[" + "x" * 1001 + "]") for n in UNIT),
           "the unit tests")
        flaky = got["test_flaky_clock"]
        eq((flaky["status"], flaky["attempt"], flaky["retried"], flaky["classname"]),
           ("passed", 2, True, "tests.test_notes"), "test_flaky_clock, passed on a retry")
        eq([n for n, c in got.items() if c["retried"]], ["test_flaky_clock"],
           "only the flaky test turned")
        eq({c["status"] for c in got.values()}, {"passed"}, "the retry passed them all")
        body = d.get_json("/api/v1/runs/%d/tests?job=e2e" % rid)
        eq(sorted((c["classname"], c["name"], c["status"]) for c in body["items"]),
           sorted(("e2e", n, "passed") for n in E2E), "e2e's checks, from e2e.sh's report")
        body = d.get_json("/api/v1/runs/%d/tests?status=failed,error" % rid)
        eq(body["items"], [], "no failure in the run's latest attempts")
    t.check("GET /runs/{id}/tests: the retry's tests, the flaky one retried", tests)

    def flaky():
        body = d.get_json("/api/v1/projects/notes/tests/flaky")
        eq([(f["job"], f["classname"], f["name"]) for f in body["items"]],
           [("unit", "tests.test_notes", "test_flaky_clock")], "the project's flaky tests")
        f = body["items"][0]
        eq((f["flips"], f["last_commit"], f["last_run"]), (1, sha, rid),
           "failed and passed once at the pushed commit, in this run")
    t.check("GET /projects/notes/tests/flaky lists test_flaky_clock", flaky)

    def counts():
        eq(jobs["unit"]["tests"], {"total": 6, "passed": 6, "failed": 0, "error": 0,
                                   "skipped": 0, "flaky": 0, "retried": 1}, "unit's counts")
        eq(jobs["e2e"]["tests"], {"total": 3, "passed": 3, "failed": 0, "error": 0,
                                  "skipped": 0, "flaky": 0, "retried": 0}, "e2e's counts")
        eq(run["tests"], {"total": 9, "passed": 9, "failed": 0, "error": 0,
                          "skipped": 0, "flaky": 0, "retried": 1}, "the run's counts")
    t.check("the run's JSON has the test counts", counts)

    def db_stream():
        db = log("e2e", "?stream=db")
        for want in ("database system is ready to accept connections",
                     "received smart shutdown request", "database system is shut down"):
            expect(want in db, "%r in the db stream: %r" % (want, db[-3000:]))
        job = log("e2e")
        expect("database system is ready" not in job,
               "PostgreSQL's lines are in its stream, not the job's log: %r" % job)
        api = log("e2e", "?stream=api")
        expect('"POST /notes HTTP/1.1" 201' in api, "the api stream's request lines: %r" % api)
    t.check("?stream=db holds PostgreSQL's own lines", db_stream)

    def nothing_left():
        eq(services_left(d.data), [], "processes of the e2e job's services left on the host")
    t.check("no process of the services is left on the host", nothing_left)
    d.stop()


if __name__ == "__main__":
    pw.main(main)
