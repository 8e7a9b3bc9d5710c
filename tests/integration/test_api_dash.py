"""The dashboard's reads over real sockets: GET /api/v1/runs across
projects (newest first, filtered by project, branch, status and trigger,
paged by cursor through every run exactly once; bad filters 400, unknown
project 404); a run's pipeline snapshot as text; a job's log by byte
range (start/end, tail_bytes, X-Log-Start and X-Log-Size, HEAD for the
size alone, download=1 as an attachment); per-job durations with p50/p95;
GET /api/v1/status (readiness, queue, slots, store size)."""
import pwdaemon as pw
from pwdaemon import eq, expect

DEMO = """\
jobs:
  build:
    script: for i in $(seq 1 200); do echo "line $i"; done
  test:
    needs: [build]
    script: echo tested
"""
OTHER = "jobs:\n  a:\n    script: echo other\n"
STEPS = """\
jobs:
  steps:
    script:
      - echo one
      - |
        echo two
        echo three
      - echo "$ not a section"
      - echo last
"""


def main(t):
    d = t.daemon(projects={"demo": DEMO, "other": OTHER, "steps": STEPS})
    st = {"runs": []}

    def seed():
        for i in range(5):
            st["runs"].append(("demo", d.trigger("demo")["id"]))
            st["runs"].append(("other", d.trigger("other")["id"]))
        for _, rid in st["runs"]:
            d.wait_run(rid)
    t.check("ten runs over two projects", seed)

    def across():
        ids = sorted((r for _, r in st["runs"]), reverse=True)
        got, cursor, pages = [], None, 0
        while True:
            q = "/api/v1/runs?limit=3" + ("&cursor=" + cursor if cursor else "")
            j = d.get_json(q)
            pages += 1
            expect(len(j["items"]) <= 3, "a page holds at most limit runs")
            got += [r["id"] for r in j["items"]]
            cursor = j["next_cursor"]
            if cursor is None:
                break
        eq(got, ids, "every run once, newest first, across projects")
        eq(pages, 4, "pages of 3 for 10 runs")
        j = d.get_json("/api/v1/runs?project=other")
        eq([r["id"] for r in j["items"]],
           sorted((r for p, r in st["runs"] if p == "other"), reverse=True), "project=other")
        expect(all(r["project"] == "other" for r in j["items"]), "only other's runs")
        j = d.get_json("/api/v1/runs?status=success,failed&trigger=api")
        eq(len(j["items"]), 10, "status and trigger filters keep the ten")
        eq(d.get_json("/api/v1/runs?status=running")["items"], [], "none running")
        eq(d.get_json("/api/v1/runs?trigger=webhook")["items"], [], "no webhook runs")
        eq(d.get_json("/api/v1/runs?branch=nope")["items"], [], "no such branch")
        d.expect_error(d.get("/api/v1/runs?status=done"), 400, "bad_request", what="bad status")
        d.expect_error(d.get("/api/v1/runs?limit=0"), 400, "bad_request", what="limit 0")
        d.expect_error(d.get("/api/v1/runs?cursor=x"), 400, "bad_request", what="bad cursor")
        d.expect_error(d.get("/api/v1/runs?project=nope"), 404, "not_found",
                       what="unknown project")
    t.check("GET /api/v1/runs: across projects, filters, cursor", across)

    def pipeline():
        rid = st["runs"][0][1]
        r = d.get("/api/v1/runs/%d/pipeline" % rid)
        eq(r.status, 200, "pipeline status")
        expect(r.header("Content-Type").startswith("text/plain"), "text")
        eq(r.text, DEMO, "the snapshot is the pipeline the run ran")
        d.expect_error(d.get("/api/v1/runs/99999/pipeline"), 404, "not_found",
                       what="no such run")
    t.check("GET /api/v1/runs/{id}/pipeline", pipeline)

    def needs():
        j = d.get_json("/api/v1/runs/%d" % st["runs"][0][1])
        eq({x["name"]: x["needs"] for x in j["jobs"]}, {"build": [], "test": ["build"]},
           "each job's needs")
        eq(j["commit_url"], None, "no forge link for a project without a repo")
    t.check("a run's jobs carry their needs", needs)

    def log_ranges():
        rid = st["runs"][0][1]
        full = d.get("/api/v1/runs/%d/jobs/build/log" % rid)
        eq(full.status, 200, "whole log")
        body = full.body
        size = len(body)
        expect(size > 1000, "a log of some size")
        eq(full.header("X-Log-Size"), str(size), "X-Log-Size of the whole log")
        r = d.get("/api/v1/runs/%d/jobs/build/log?start=10&end=50" % rid)
        eq(r.body, body[10:50], "bytes [10, 50)")
        eq(r.header("X-Log-Start"), "10", "X-Log-Start")
        eq(r.header("X-Log-Size"), str(size), "X-Log-Size with a range")
        r = d.get("/api/v1/runs/%d/jobs/build/log?start=%d&end=%d" % (rid, size - 5, size + 100))
        eq(r.body, body[-5:], "end past the log is clamped")
        r = d.get("/api/v1/runs/%d/jobs/build/log?tail_bytes=100" % rid)
        eq(r.body, body[-100:], "the last 100 bytes")
        eq(r.header("X-Log-Start"), str(size - 100), "X-Log-Start of the tail")
        r = d.get("/api/v1/runs/%d/jobs/build/log?tail_bytes=%d" % (rid, size * 2))
        eq(r.body, body, "a tail larger than the log is all of it")
        eq(r.header("X-Log-Start"), "0", "from 0")
        r = d.request("HEAD", "/api/v1/runs/%d/jobs/build/log" % rid)
        eq(r.status, 200, "HEAD")
        eq(r.header("X-Log-Size"), str(size), "HEAD gives the size")
        eq(r.body, b"", "HEAD has no body")
        r = d.get("/api/v1/runs/%d/jobs/build/log?download=1" % rid)
        eq(r.header("Content-Disposition"),
           'attachment; filename="run-%d-build-1.log"' % rid, "download")
        eq(r.body, body, "the download is the log")
        d.expect_error(d.get("/api/v1/runs/%d/jobs/build/log?start=50&end=10" % rid), 400,
                       "bad_request", what="end before start")
        d.expect_error(d.get("/api/v1/runs/%d/jobs/build/log?tail_bytes=x" % rid), 400,
                       "bad_request", what="tail_bytes not a number")
    t.check("job logs by byte range", log_ranges)

    def durations():
        j = d.get_json("/api/v1/projects/demo/durations?last=3")
        eq(j["project"], "demo", "project")
        eq([x["job"] for x in j["items"]], ["build", "test"], "the jobs of the newest run")
        demo = sorted((r for p, r in st["runs"] if p == "demo"), reverse=True)
        for x in j["items"]:
            eq(x["count"], 3, "last=3 samples of %s" % x["job"])
            eq([s["run"] for s in x["durations"]], demo[:3], "newest first")
            ms = sorted(s["ms"] for s in x["durations"])
            expect(all(isinstance(v, (int, float)) and v >= 0 for v in ms), "durations")
            eq(x["p50_ms"], ms[1], "p50 of three")
            eq(x["p95_ms"], ms[2], "p95 of three")
        j = d.get_json("/api/v1/projects/demo/durations?job=test")
        eq(len(j["items"]), 1, "job=test alone")
        eq(j["items"][0]["count"], 5, "all five runs by default")
        j = d.get_json("/api/v1/projects/demo/durations?job=nope")
        eq(j["items"][0]["count"], 0, "an unknown job has no samples")
        eq(j["items"][0]["p50_ms"], None, "no p50 then")
        d.expect_error(d.get("/api/v1/projects/demo/durations?last=0"), 400, "bad_request",
                       what="last=0")
        d.expect_error(d.get("/api/v1/projects/nope/durations"), 404, "not_found",
                       what="unknown project")
    t.check("GET /api/v1/projects/{p}/durations", durations)

    def sections():
        rid = d.trigger("steps")["id"]
        d.wait_run(rid)
        log = d.get("/api/v1/runs/%d/jobs/steps/log" % rid).text.split("\n")
        j = d.get_json("/api/v1/runs/%d/jobs/steps/sections" % rid)
        eq(j["attempt"], 1, "the latest attempt")
        items = j["items"]
        eq([(x["line"], x["command"]) for x in items],
           [(1, "echo one"), (3, "echo two"), (8, 'echo "$ not a section"'),
            (10, "echo last")],
           "each script line's echo, by line; the job's own '$ ' line is none")
        for x in items:
            eq(log[x["line"] - 1], "$ " + x["command"], "line %d is the echo" % x["line"])
            expect(isinstance(x["duration_ms"], int) and x["duration_ms"] >= 0,
                   "a finished attempt's sections have durations: %r" % x)
        starts = [x["started_ms"] for x in items]
        eq(starts, sorted(starts), "sections start in order")
        d.expect_error(d.get("/api/v1/runs/%d/jobs/nope/sections" % rid), 404, "not_found",
                       what="no such job")
    t.check("GET /api/v1/runs/{id}/jobs/{job}/sections", sections)

    def branches():
        ps = {p["name"]: p for p in d.get_json("/api/v1/projects")["items"]}
        # Runs triggered with no ref have no branch: none are listed.
        eq(ps["demo"]["branches"], [], "no branch runs yet")
        ids = {}
        for b in ("main", "dev", "main"):
            ids[b] = d.trigger("other", {"ref": "refs/heads/" + b})["id"]
            d.wait_run(ids[b])
        ps = {p["name"]: p for p in d.get_json("/api/v1/projects")["items"]}
        eq([(x["branch"], x["run"]["id"]) for x in ps["other"]["branches"]],
           [("main", ids["main"]), ("dev", ids["dev"])], "each branch's newest run, newest first")
    t.check("GET /api/v1/projects: branches", branches)

    def status():
        j = d.get_json("/api/v1/status")
        eq(j["ready"], True, "ready")
        eq(j["paused"], False, "not paused")
        eq(j["queued"], 0, "nothing queued")
        eq(j["running"], 0, "nothing running")
        eq(j["slots"], 4, "max_jobs slots")
        eq(j["slots_used"], 0, "no slot used")
        expect(isinstance(j["store_bytes"], int) and j["store_bytes"] > 4096,
               "store_bytes: %r" % j.get("store_bytes"))
    t.check("GET /api/v1/status", status)


pw.main(main)
