"""Test reports through the daemon, on a repository project (runs have a
commit): a job writes JUnit XML, fails its first attempt on one test and
passes it on the retry; GET /api/v1/runs/{id}/tests shows the latest
attempt's cases with `retried` on the test that turned, the run's JSON
has the counts, the project's flaky list names the test (keyed by job),
and a second run at the same commit that keeps failing it shows the
failure as `flaky`.  A second job leaves a malformed file, a billion
laughs, an external entity and a 2 GB sparse file beside a good report:
each is a warning line in its log, the good file's cases are stored,
and the daemon still answers.  Filters and errors of the endpoints."""
import subprocess

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

GEN = r"""#!/bin/sh
# Writes a JUnit report; `fetch` fails on the first attempt, or always
# with FAIL_ALWAYS set.
mkdir -p build/test-results/unit
if [ "$PIPEWRIGHT_ATTEMPT" = 1 ] || [ -n "$FAIL_ALWAYS" ]; then
  fetch='<failure message="connection refused">timed out after 5s</failure>'
  rc=1
else
  fetch=''
  rc=0
fi
cat > build/test-results/unit/TEST-app.xml <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<testsuites><testsuite name="app">
<testcase classname="app.Net" name="fetch" time="0.5">$fetch</testcase>
<testcase classname="app.Math" name="adds" time="0.012"/>
<testcase classname="app.Math" name="slow"><skipped message="later"/></testcase>
</testsuite></testsuites>
EOF
exit $rc
"""

LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">
<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>
<testsuite name="l"><testcase name="t"><failure message="&d;"/></testcase></testsuite>
"""

XXE = """<?xml version="1.0"?>
<!DOCTYPE t [<!ENTITY s SYSTEM "file:///etc/passwd">]>
<testsuite name="x"><testcase name="t"><failure message="&s;"/></testcase></testsuite>
"""

PIPELINE = r"""
jobs:
  unit:
    retry: {when: [failed], max: 1}
    script: [sh gen.sh]
    reports:
      junit: ["build/test-results/**/*.xml"]
  hostile:
    script:
      - mkdir -p r
      - printf '<testsuite><testcase name="ok" classname="k"/></testsuite>' > r/good.xml
      - printf '<testsuite><testcase name="x">' > r/broken.xml
      - cp laughs.xml xxe.xml r/
      - truncate -s 2G r/huge.xml
      - ln -s /etc/passwd r/link.xml
    reports: {junit: ["r/*.xml", "none/*.xml"]}
"""


def tests(d, rid, query=""):
    return d.get_json("/api/v1/runs/%d/tests%s" % (rid, query))


def case(body, name):
    for it in body["items"]:
        if it["name"] == name:
            return it
    pw.fail("no case %r in %r" % (name, body))


def cli(d, *args):
    p = subprocess.run([pw.PW_BIN, "tests", "--server", d.url] + list(args),
                       stdin=subprocess.DEVNULL, capture_output=True,
                       text=True, timeout=60)
    eq(p.returncode, 0, "pipewright tests %r: %r" % (args, p.stderr))
    return p.stdout


def main(t):
    origin = wh.Origin(t)
    origin.commit("first", {".pipewright.yml": PIPELINE, "gen.sh": GEN,
                            "laughs.xml": LAUGHS, "xxe.xml": XXE})
    origin.push()
    d = t.daemon(projects={"app": {"repo": origin.bare}})
    st = {}

    def retried():
        rid = d.trigger("app", {"ref": "main"})["id"]
        st["r1"] = rid
        run = d.wait_run(rid)
        eq(run["status"], "success", "run status (the retry passes)")
        unit = [j for j in run["jobs"] if j["name"] == "unit"][0]
        eq(len(unit["attempts"]), 2, "unit's attempts")
        eq(unit["tests"], {"total": 3, "passed": 2, "failed": 0, "error": 0,
                           "skipped": 1, "flaky": 0, "retried": 1},
           "unit's counts")
        eq(run["tests"]["total"], 4, "the run's total (unit 3, hostile 1)")
        body = tests(d, rid, "?job=unit")
        eq(len(body["items"]), 3, "unit's cases")
        fetch = case(body, "fetch")
        eq((fetch["status"], fetch["attempt"], fetch["retried"]),
           ("passed", 2, True), "fetch passed on the retry")
        eq(fetch["classname"], "app.Net", "classname")
        eq(fetch["suite"], "app", "suite")
        eq(case(body, "adds")["duration_ms"], 12, "duration")
        eq(case(body, "adds")["retried"], False, "adds never failed")
        eq(case(body, "slow")["message"], "later", "skip message")
        out = cli(d, str(rid), "--job", "unit")
        expect("passed on a retry" in out and "app.Math.adds" in out,
               "pipewright tests: %r" % out)
        expect(out.endswith("\n2 tests passed, 1 skipped, 1 passed on a"
                            " retry\n"), "the summary: %r" % out)
        log = d.get("/api/v1/runs/%d/jobs/unit/log" % rid).text
        expect("reports: 3 tests from 1 file: 2 passed, 0 failed, 0 errors,"
               " 1 skipped" in log, "the summary in unit's log: %r" % log)
    t.check("a retry that turns a failure into a pass is marked", retried)

    def flaky_list():
        body = d.get_json("/api/v1/projects/app/tests/flaky")
        eq(len(body["items"]), 1, "flaky tests: %r" % body)
        f = body["items"][0]
        eq((f["job"], f["suite"], f["classname"], f["name"], f["flips"]),
           ("unit", "app", "app.Net", "fetch", 1), "the flaky test")
        eq(f["last_commit"], origin.git("rev-parse", "HEAD").strip(),
           "at the pushed commit")
        eq(f["last_run"], st["r1"], "seen in the first run")
    t.check("the test that failed and passed at one commit is flaky",
            flaky_list)

    def marked():
        rid = d.trigger("app", {"ref": "main", "env": {"FAIL_ALWAYS": "1"}})["id"]
        run = d.wait_run(rid)
        eq(run["status"], "failed", "run status")
        unit = [j for j in run["jobs"] if j["name"] == "unit"][0]
        eq((unit["tests"]["failed"], unit["tests"]["flaky"]), (1, 1),
           "a failure of a known flaky test is counted as such")
        body = tests(d, rid, "?status=failed,error")
        eq([(c["name"], c["flaky"]) for c in body["items"]], [("fetch", True)],
           "the failure, marked flaky")
        expect("timed out after 5s" in body["items"][0]["message"],
               "the failure's text: %r" % body["items"][0]["message"])
        eq(body["counts"]["failed"], 1, "counts")
        out = cli(d, str(rid), "--failed")
        expect("failed  app.Net.fetch  unit  known flaky\n" in out and
               "      connection refused\n      timed out after 5s\n" in out,
               "pipewright tests --failed: %r" % out)
        expect(out.endswith("1 test failed of 4, 1 skipped, 1 of the failures"
                            " known flaky\n"), "the summary: %r" % out)
        # Passed (r1's retry) and failed (this run) at one commit again.
        body = d.get_json("/api/v1/projects/app/tests/flaky")
        eq(body["items"][0]["flips"], 3, "every disagreement counted")
    t.check("a known flaky test's failure is marked", marked)

    def hostile():
        rid = st["r1"]
        log = d.get("/api/v1/runs/%d/jobs/hostile/log" % rid).text
        for want in ("reports: warning: r/huge.xml is 2.0 GiB; a report may"
                     " be at most 64.0 MiB, nothing kept from it",
                     "reports: warning: r/broken.xml:1:",
                     "reports: warning: r/laughs.xml:2:",
                     "reports: warning: r/xxe.xml:2:",
                     "reports: warning: 'none/*.xml' matched no file",
                     "reports: 1 test from 1 file: 1 passed"):
            expect(want in log, "%r in hostile's log: %r" % (want, log))
        said = [l for l in log.splitlines() if l.startswith("reports:")]
        expect(not any("link.xml" in l for l in said) and "root:" not in log,
               "the link to /etc/passwd is passed by, never read: %r" % log)
        body = tests(d, rid, "?job=hostile")
        eq([c["name"] for c in body["items"]], ["ok"], "only the good file")
        eq(d.get("/healthz").status, 200, "the daemon answers")
    t.check("bad reports are warnings, nothing stored, daemon unharmed",
            hostile)

    def errors():
        rid = st["r1"]
        d.expect_error(d.get("/api/v1/runs/%d/tests?status=broken" % rid), 400,
                       "bad_request", "status 'broken' is not one of passed,"
                       " failed, error, skipped")
        d.expect_error(d.get("/api/v1/runs/%d/tests?job=nope" % rid), 404,
                       "not_found", "run %d has no job 'nope'" % rid)
        d.expect_error(d.get("/api/v1/runs/999999/tests"), 404, "not_found")
        for bad in ("-1", "x", "07x"):
            d.expect_error(d.get("/api/v1/runs/%d/tests?cursor=%s" % (rid, bad)),
                           400, "bad_request",
                           "cursor '%s' is not one this API gave out" % bad)
        d.expect_error(d.get("/api/v1/projects/nope/tests/flaky"), 404,
                       "not_found", "no project 'nope'")
        page = tests(d, rid, "?limit=2")
        eq(len(page["items"]), 2, "a page of 2")
        rest = tests(d, rid, "?limit=2&cursor=%s" % page["next_cursor"])
        eq(len(rest["items"]), 2, "the next page (4 cases in all)")
        names = [c["name"] for c in page["items"] + rest["items"]]
        eq(sorted(names), ["adds", "fetch", "ok", "slow"], "every case once")
    t.check("filters, pages and errors", errors)


if __name__ == "__main__":
    pw.main(main)
