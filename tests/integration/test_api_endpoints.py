"""Every endpoint's happy path over real HTTP: projects, trigger (201 and
the whole run object), a run, the runs list, the audit trail, the run's and
a job's logs (offset, X-Log-Offset, tail), the badge, health, readiness,
metrics and the OpenAPI document."""
import json
import re

import pwdaemon as pw
from pwdaemon import eq, expect, fail

PIPELINE = """\
stages: [build, test]
jobs:
  compile:
    stage: build
    script:
      - echo "compiling $GREETING"
      - for i in 1 2 3 4 5; do echo "line $i"; done
  unit:
    stage: test
    matrix: {CC: [gcc], MODE: [debug]}
    script: echo tested
"""

RUN_KEYS = {"id", "project", "status", "trigger", "ref", "branch", "tag", "pr",
            "fork", "commit", "problems", "created_at", "started_at",
            "finished_at", "url", "jobs"}
ATTEMPT_KEYS = {"number", "status", "exit_code", "reason", "started_at", "finished_at"}


def time_ok(v, what, null_ok=True):
    if v is None:
        expect(null_ok, "%s is null" % what)
        return
    expect(isinstance(v, str) and pw.RFC3339_MS.match(v),
           "%s %r is not RFC 3339 with milliseconds and Z" % (what, v))


def check_run_shape(r, d, finished):
    missing = RUN_KEYS - set(r)
    expect(not missing, "run object lacks %s" % sorted(missing))
    expect(isinstance(r["id"], int) and r["id"] >= 1, "id %r" % r["id"])
    eq(r["project"], "demo", "project")
    eq(r["trigger"], "api", "trigger")
    eq(r["ref"], "refs/heads/main", "ref")
    eq(r["branch"], "main", "branch")
    eq(r["tag"], None, "tag")
    eq(r["pr"], None, "pr")
    eq(r["fork"], False, "fork")
    eq(r["commit"], "0123456789abcdef0123456789abcdef01234567", "commit")
    eq(r["problems"], [], "problems")
    eq(r["url"], "%s/api/v1/runs/%d" % (d.url, r["id"]), "url")
    time_ok(r["created_at"], "created_at", null_ok=False)
    time_ok(r["started_at"], "started_at", null_ok=not finished)
    time_ok(r["finished_at"], "finished_at", null_ok=not finished)
    eq([(j["name"], j["stage"]) for j in r["jobs"]],
       [("compile", "build"), ("unit (gcc, debug)", "test")], "jobs")
    for j in r["jobs"]:
        eq(set(j) >= {"name", "stage", "status", "attempts"}, True, "job keys %s" % sorted(j))
        for a in j["attempts"]:
            missing = ATTEMPT_KEYS - set(a)
            expect(not missing, "attempt lacks %s" % sorted(missing))
            time_ok(a["started_at"], "attempt started_at", null_ok=False)
            time_ok(a["finished_at"], "attempt finished_at", null_ok=not finished)


def main(t):
    d = t.daemon(projects={"demo": PIPELINE, "other": PIPELINE})
    st = {}

    def projects():
        p = d.get_json("/api/v1/projects")
        eq([x["name"] for x in p["items"]], ["demo", "other"], "project names")
        eq(p["items"][0]["runs_url"], d.url + "/api/v1/projects/demo/runs", "runs_url")
        eq(p["items"][0]["max_jobs"], 4, "max_jobs (the global one)")
    t.check("GET /api/v1/projects lists both projects", projects)

    def trigger():
        r = d.post("/api/v1/projects/demo/runs", token="operator",
                   body={"ref": "refs/heads/main",
                         "commit": "0123456789abcdef0123456789abcdef01234567",
                         "env": {"GREETING": "hello"}})
        eq(r.status, 201, "status (%r)" % r.body)
        expect(r.header("Content-Type").startswith("application/json"), "Content-Type")
        run = r.json()
        check_run_shape(run, d, finished=False)
        expect(run["status"] in ("queued", "running"), "status %r" % run["status"])
        st["id"] = run["id"]
    t.check("POST /api/v1/projects/demo/runs answers 201 with the run object", trigger)
    rid = st["id"]

    def finished():
        run = d.wait_run(rid)
        eq(run["status"], "success", "run status")
        check_run_shape(run, d, finished=True)
        for j in run["jobs"]:
            eq(j["status"], "success", "job %s status" % j["name"])
            eq(len(j["attempts"]), 1, "attempts")
            a = j["attempts"][0]
            eq((a["number"], a["status"], a["exit_code"]), (1, "success", 0), "attempt")
        expect(run["created_at"] <= run["started_at"] <= run["finished_at"],
               "times out of order")
    t.check("GET /api/v1/runs/ID: the run finishes with every field set", finished)

    def runs_list():
        p = d.get_json("/api/v1/projects/demo/runs")
        eq(p["next_cursor"], None, "next_cursor")
        eq([x["id"] for x in p["items"]], [rid], "ids")
        item = p["items"][0]
        expect("jobs" not in item, "list items carry no jobs")
        eq(set(item) >= RUN_KEYS - {"jobs"}, True, "summary keys %s" % sorted(item))
        eq(item["status"], "success", "status")
        eq(d.get_json("/api/v1/projects/other/runs"), {"items": [], "next_cursor": None},
           "the other project's runs")
    t.check("GET /api/v1/projects/demo/runs lists the run without jobs", runs_list)

    def events():
        ev = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        eq(len(ev), 1, "events %r" % ev)
        eq((ev[0]["actor"], ev[0]["action"], ev[0]["detail"]),
           ("token operator", "trigger", "refs/heads/main"), "trigger event")
        pw.RFC3339_MS.match(ev[0]["time"]) or fail("event time %r" % ev[0]["time"])
    t.check("GET /api/v1/runs/ID/events: who triggered it", events)

    def run_log():
        r = d.get("/api/v1/runs/%d/log" % rid)
        eq(r.status, 200, "status")
        eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
    t.check("GET /api/v1/runs/ID/log answers text", run_log)

    full = "$ echo \"compiling $GREETING\"\ncompiling hello\n" \
           "$ for i in 1 2 3 4 5; do echo \"line $i\"; done\n" + \
           "".join("line %d\n" % i for i in range(1, 6))

    def job_log():
        r = d.get("/api/v1/runs/%d/jobs/compile/log" % rid)
        eq(r.status, 200, "status")
        eq(r.header("Content-Type"), "text/plain; charset=utf-8", "Content-Type")
        eq(r.text, full, "the whole log")
        eq(r.header("X-Log-Offset"), str(len(full.encode())), "X-Log-Offset")
        run = d.run(rid)
        eq(run["jobs"][0]["attempts"][0].get("log_bytes"), len(full.encode()), "log_bytes")
    t.check("GET .../jobs/compile/log: the whole log and X-Log-Offset", job_log)

    def job_log_offset():
        off = full.index("line 1")
        r = d.get("/api/v1/runs/%d/jobs/compile/log?offset=%d" % (rid, off))
        eq(r.text, full[off:], "from offset")
        eq(r.header("X-Log-Offset"), str(len(full)), "X-Log-Offset")
        r = d.get("/api/v1/runs/%d/jobs/compile/log?offset=%d" % (rid, len(full)))
        eq((r.status, r.text, r.header("X-Log-Offset")), (200, "", str(len(full))),
           "at the end")
        r = d.get("/api/v1/runs/%d/jobs/compile/log?offset=0&attempt=1" % rid)
        eq(r.text, full, "attempt=1")
    t.check("GET .../log?offset=N: the rest from N", job_log_offset)

    def job_log_tail():
        r = d.get("/api/v1/runs/%d/jobs/compile/log?tail=2" % rid)
        eq(r.text, "line 4\nline 5\n", "tail=2")
        eq(r.header("X-Log-Offset"), str(len(full)), "X-Log-Offset")
        r = d.get("/api/v1/runs/%d/jobs/compile/log?tail=1000" % rid)
        eq(r.text, full, "tail past the start")
    t.check("GET .../log?tail=N: the last N lines", job_log_tail)

    def job_log_encoded():
        r = d.get("/api/v1/runs/%d/jobs/unit%%20%%28gcc%%2C%%20debug%%29/log" % rid)
        eq((r.status, r.text), (200, "$ echo tested\ntested\n"), "the matrix job's log")
    t.check("a job name is one percent-encoded segment", job_log_encoded)

    def badge():
        r = d.get("/badge/demo.svg")
        eq(r.status, 200, "status")
        eq(r.header("Content-Type"), "image/svg+xml", "Content-Type")
        eq(r.header("Cache-Control"), "no-cache", "Cache-Control")
        expect(r.text.startswith("<svg") and ">success<" in r.text, "svg: %r" % r.text[:200])
        r = d.get("/badge/demo.svg?branch=main")
        expect(">success<" in r.text, "branch=main")
        r = d.get("/badge/demo.svg?branch=other")
        expect(">unknown<" in r.text, "branch=other: %r" % r.text)
        r = d.get("/badge/other.svg")
        expect(r.status == 200 and ">unknown<" in r.text, "no runs yet")
    t.check("GET /badge/demo.svg shows the latest finished run's status", badge)

    def health():
        r = d.get("/healthz")
        eq((r.status, r.json()), (200, {"status": "ok"}), "healthz")
        r = d.get("/readyz")
        eq((r.status, r.json()), (200, {"status": "ready"}), "readyz")
    t.check("GET /healthz and /readyz", health)

    def metrics():
        r = d.get("/metrics")
        eq(r.status, 200, "status")
        expect(r.header("Content-Type").startswith("text/plain; version=0.0.4"),
               "Content-Type %r" % r.header("Content-Type"))
        m = r.text
        for line in [
            'pipewright_runs{project="demo",status="success"} 1',
            "# TYPE pipewright_job_duration_seconds histogram",
            'pipewright_job_duration_seconds_bucket{project="demo",job="compile",le="+Inf"} 1',
            'pipewright_job_duration_seconds_count{project="demo",job="compile"} 1',
            "pipewright_queue_depth 0",
            'pipewright_jobs_finished_total{status="success"} 2',
            'pipewright_http_requests_total{route="/api/v1/projects/{project}/runs",status="201"} 1',
        ]:
            expect(line in m.splitlines(), "metrics lack %r:\n%s" % (line, m))
        expect(re.search(r'^pipewright_http_requests_total\{route="/healthz",status="200"\} [1-9]',
                         m, re.M), "no /healthz count")
        # The matrix job's series is named as the job is (unit [...]).
        expect(re.search(r'^pipewright_job_duration_seconds_count\{project="demo",'
                         r'job="unit [^"]+"\} 1$', m, re.M), "no count for unit")
        expect(re.search(r'^pipewright_job_duration_seconds_sum\{project="demo",job="compile"\} '
                         r'[0-9.]+$', m, re.M), "no _sum")
        # Every sample line is NAME{LABELS} VALUE.
        for line in m.splitlines():
            if line and not line.startswith("#"):
                expect(re.match(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? [0-9.e+]+$',
                                line), "bad sample line %r" % line)
    t.check("GET /metrics in the Prometheus text format", metrics)

    def openapi():
        r = d.get("/api/v1/openapi.json")
        eq(r.status, 200, "status")
        eq(r.header("Content-Type"), "application/json", "Content-Type")
        doc = json.loads(r.body)
        eq(doc["openapi"], "3.1.0", "openapi")
        with open(pw.os.path.join(pw.os.environ.get("PW_SOURCE_DIR", "."),
                                  "docs", "openapi.json"), "rb") as f:
            eq(json.loads(f.read()), doc, "the served document vs docs/openapi.json")
        for p in ["/api/v1/projects", "/api/v1/projects/{project}/runs", "/api/v1/runs/{id}",
                  "/api/v1/runs/{id}/jobs/{job}/log", "/healthz", "/metrics"]:
            expect(p in doc["paths"], "no path %s" % p)
    t.check("GET /api/v1/openapi.json is docs/openapi.json, OpenAPI 3.1.0", openapi)

    def keep_alive():
        # Several requests on one connection, answered in order.
        c = d.conn()
        for path in ["/healthz", "/api/v1/runs/%d" % rid, "/readyz"]:
            c.request("GET", path)
            r = c.getresponse()
            r.read()
            eq(r.status, 200, path)
        c.close()
    t.check("keep-alive: three requests on one connection", keep_alive)

    def problems():
        # A pipeline with problems makes a run that is finished at once.
        with open(pw.os.path.join(d.dir, "other.yml"), "w") as f:
            f.write("stages: [a]\njobs:\n  x:\n    stage: b\n    script: true\n")
        run = d.trigger("other", {})
        eq(run["status"], "error", "status")
        eq(run["problems"], [{"file": pw.os.path.join(d.dir, "other.yml"), "line": 4,
                              "column": 12,
                              "message": "unknown stage 'b' in job 'x'; stages are a"}],
           "problems")
        eq(run["jobs"], [], "jobs")
        eq(run["started_at"], None, "started_at")
        eq(run["finished_at"], run["created_at"], "finished_at")
        r = d.get("/badge/other.svg")
        expect(">error<" in r.text, "badge: %r" % r.text)
    t.check("a pipeline with problems: 201, status error, problems, finished", problems)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
