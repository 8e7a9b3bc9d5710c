"""Once, against the real thing: @opentelemetry/contrib-test-utils's
TestCollector (npm, pinned) receives what pipewright sends to
<endpoint>/v1/traces and takes it (it answers 415 to any content type but
exactly application/json, and parses the OTLP/JSON body into spans).  The
run's spans arrive in it with the tree the conventions describe, and the
TRACEPARENT the job printed names its attempt's span.

Label `otel`: installs the package into a cache directory on first use
(the npm registry; ~20 s, 116 MB with its dependencies), so it runs once,
on its own (`scripts/dev otel-test`), not in the sanitizer build.  Without
node and npm, or when the install fails (no network), it skips saying so.
The collector listens on :: (all addresses; it cannot be told otherwise):
the daemon reaches it on 127.0.0.1."""
import json
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import pwdaemon as pw  # noqa: E402
from pwdaemon import eq, expect  # noqa: E402

VERSION = "0.69.0"  # engines: node ^18.19.0 || >=20.6.0 (Debian 12 has 18.19)
CACHE = os.path.join(os.environ.get("PW_TEST_CACHE", "/var/cache/pipewright-test"),
                     "otel-testcollector-" + VERSION)
PIPELINE = """\
jobs:
  build:
    script: echo "TP=$TRACEPARENT"
"""


def install():
    if shutil.which("node") is None or shutil.which("npm") is None:
        pw.skip("node and npm are needed for the OTLP TestCollector (apt-get install nodejs npm)")
    mod = os.path.join(CACHE, "node_modules", "@opentelemetry", "contrib-test-utils")
    if os.path.isdir(mod):
        return
    os.makedirs(CACHE, exist_ok=True)
    r = subprocess.run(["npm", "install", "--prefix", CACHE, "--no-audit", "--no-fund",
                        "--loglevel=error", "@opentelemetry/contrib-test-utils@" + VERSION],
                       capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        pw.skip("cannot install @opentelemetry/contrib-test-utils@%s from the npm registry: %s"
                % (VERSION, (r.stderr or r.stdout).strip()[-300:]))


def main(t):
    install()
    env = dict(os.environ, NODE_PATH=os.path.join(CACHE, "node_modules"))
    col = subprocess.Popen(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                 "collector.js")],
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = json.loads(col.stdout.readline())["port"]
        d = t.daemon(projects={"app": PIPELINE},
                     config="otel: {endpoint: 'http://127.0.0.1:%d'}\n" % port)

        def spans():
            col.stdin.write("spans\n")
            col.stdin.flush()
            return json.loads(col.stdout.readline())

        def accepted():
            rid = d.trigger("app")["id"]
            eq(d.wait_run(rid)["status"], "success", "the run")
            pw.wait_until(lambda: len(spans()) >= 5, "the spans in the TestCollector")
            got = spans()
            runs = [s for s in got if s["name"] == "RUN app"]
            eq(len(runs), 1, "one run span")
            root = runs[0]
            eq(root["kind"], 2, "SERVER")
            job = [s for s in got if s["name"] == "build"]
            eq(len(job), 1, "one attempt span")
            eq(job[0]["parentSpanId"], root["spanId"], "the attempt under the run")
            steps = {s["name"] for s in got if s.get("parentSpanId") == job[0]["spanId"]}
            expect({"workspace", "script"} <= steps, "steps %r" % steps)
            eq({s["traceId"] for s in got}, {root["traceId"]}, "one trace")
            attrs = {a["key"]: a["value"] for a in job[0]["attributes"]}
            eq(attrs["cicd.pipeline.task.run.result"], {"stringValue": "success"}, "result")
            log = d.get("/api/v1/runs/%d/jobs/build/log" % rid).text
            m = re.search(r"^TP=(\S+)$", log, re.M)
            expect(m, "TRACEPARENT in the log: %r" % log)
            eq(m.group(1), "00-%s-%s-01" % (root["traceId"], job[0]["spanId"]), "TRACEPARENT")
            items = d.get_json("/api/v1/outbox?limit=50")["items"]
            eq({i["state"] for i in items if i["kind"] == "otlp"}, {"delivered"}, "outbox rows")
        t.check("the TestCollector accepts the run's spans: tree and TRACEPARENT", accepted)
        t.check("SIGTERM: the daemon exits 0", d.stop)
    finally:
        if col.poll() is None:
            try:
                col.stdin.write("close\n")
                col.stdin.flush()
                col.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                col.kill()
                col.wait()


pw.main(main)
