"""Traces: with `otel` configured, each run is a trace sent as OTLP/HTTP
JSON to <endpoint>/v1/traces from the outbox.  A receiver here (a real
HTTP server on 127.0.0.1) records every request and checks the mapping:
the run span (SERVER, no parent), one span per job attempt (INTERNAL,
under the run span), their steps under the attempt (queue, workspace,
script), the CI/CD attributes, ids of the right length, the configured
headers (one read from a file), and the TRACEPARENT each job printed
naming its own attempt span, also for a job a restarted daemon took up
(its ids were stored before it started).  Then the collector is down while a run
ends: the spans wait in the outbox, pending and retried, and arrive once
it is back, each span once.  A 400 answer is not retried (OTLP says the
request will never be accepted): the row fails with the answer in
last_error."""
import http.server
import json
import os
import re
import threading

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  build:
    script: echo "TP=$TRACEPARENT" | tee out.txt
    artifacts: {paths: [out.txt]}
  test:
    needs: [build]
    retry: 1
    script:
      - echo "TP=$TRACEPARENT"
      - test -s out.txt
      - test "$PIPEWRIGHT_ATTEMPT" = 2
"""
# Prints its TRACEPARENT, then waits for the test's go (a file).
SLOW_PIPELINE = """\
jobs:
  wait:
    script:
      - echo "TP=$TRACEPARENT"
      - while [ ! -e "$GO" ]; do sleep 0.05; done
"""
HEX32 = re.compile(r"^[0-9a-f]{32}$")
HEX16 = re.compile(r"^[0-9a-f]{16}$")


class Receiver:
    """An OTLP/HTTP JSON receiver: records each POST, answers `status`."""

    def __init__(self, port=0):
        self.requests = []
        self.status = 200
        self.cond = threading.Condition()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with rec.cond:
                    rec.requests.append({"path": self.path, "headers": dict(self.headers),
                                         "body": body, "status": rec.status})
                    status = rec.status
                    rec.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def spans(self, status=200):
        out = []
        with self.cond:
            reqs = [r for r in self.requests if r["status"] == status]
        for r in reqs:
            doc = json.loads(r["body"])
            for rs in doc["resourceSpans"]:
                res = {a["key"]: list(a["value"].values())[0] for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    for s in ss["spans"]:
                        s["_resource"] = res
                        s["_attrs"] = {a["key"]: list(a["value"].values())[0]
                                       for a in s.get("attributes", [])}
                        out.append(s)
        return out


def run_spans(spans, rid):
    """The spans of run rid: its run span, and everything in its trace."""
    roots = [s for s in spans if s["_attrs"].get("cicd.pipeline.run.id") == str(rid)
             and "parentSpanId" not in s]
    if len(roots) != 1:
        return None, []
    return roots[0], [s for s in spans if s["traceId"] == roots[0]["traceId"]]


def main(t):
    rec = Receiver()
    secret = t.tmp + "/otel.key"
    with open(secret, "w") as f:
        f.write("k-123\n")
    config = ("otel:\n  endpoint: http://127.0.0.1:%d/\n"
              "  headers: {X-Api-Key: {file: %s}, X-Team: ci}\n"
              "  service_name: pw-test\n  sample: 1.0\n" % (rec.port, secret))
    d = t.daemon(projects={"app": PIPELINE, "bad": "jobs:\n  a:\n    scrpt: true\n",
                           "slow": SLOW_PIPELINE},
                 config=config + "drain: detach\n")

    state = {}

    def tree():
        rid = d.trigger("app")["id"]
        eq(d.wait_run(rid)["status"], "success", "the run")
        state["rid"] = rid

        def complete():
            root, spans = run_spans(rec.spans(), rid)
            # run + queue, build (3 steps), test x2 (3 steps each)
            return root is not None and len([s for s in spans if s["kind"] == 1
                                             and s.get("name") in ("build", "test")]) == 3
        pw.wait_until(complete, "the run's spans at the receiver")
        root, spans = run_spans(rec.spans(), rid)
        for r in rec.requests:
            eq(r["path"], "/v1/traces", "the path")
            eq(r["headers"].get("Content-Type"), "application/json", "content type")
            eq(r["headers"].get("X-Api-Key"), "k-123", "the header read from a file")
            eq(r["headers"].get("X-Team"), "ci", "the inline header")
            expect("Authorization" not in r["headers"], "no forge token")
        expect(HEX32.match(root["traceId"]), "trace id %r" % root["traceId"])
        ids = [s["spanId"] for s in spans]
        expect(all(HEX16.match(i) for i in ids), "span ids %r" % ids)
        eq(len(ids), len(set(ids)), "distinct span ids")
        eq(root["kind"], 2, "run span kind SERVER")
        eq(root["name"], "RUN app", "run span name")
        eq(root["_resource"].get("service.name"), "pw-test", "service.name")
        a = root["_attrs"]
        eq(a.get("cicd.pipeline.name"), "app", "cicd.pipeline.name")
        eq(a.get("cicd.pipeline.result"), "success", "cicd.pipeline.result")
        eq(a.get("pipewright.trigger"), "api", "trigger")
        expect(a.get("cicd.pipeline.run.url.full", "").endswith("/api/v1/runs/%d" % rid),
               "run URL %r" % a.get("cicd.pipeline.run.url.full"))
        attempts = [s for s in spans if s.get("parentSpanId") == root["spanId"]
                    and s["kind"] == 1 and s["name"] != "queue"]
        eq(sorted(s["name"] for s in attempts), ["build", "test", "test"], "attempt spans")
        for s in attempts:
            sa = s["_attrs"]
            eq(sa.get("cicd.pipeline.task.name"), s["name"], "task name")
            expect(sa.get("host.name"), "node")
            expect(sa.get("pipewright.sandbox") in ("none", "strict"), "sandbox %r" % sa)
            n = int(sa["pipewright.attempt.number"])
            res = sa["cicd.pipeline.task.run.result"]
            if s["name"] == "test" and n == 1:
                eq(res, "failure", "test's first attempt")
                eq(sa.get("error.type"), "failed", "error.type")
                eq(s["status"].get("code"), 2, "status ERROR")
            else:
                eq(res, "success", "%s attempt %d" % (s["name"], n))
                expect("error.type" not in sa, "no error.type on success")
            expect(int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]), "times")
            steps = sorted(c["name"] for c in spans if c.get("parentSpanId") == s["spanId"])
            expect("script" in steps and "workspace" in steps, "steps of %s: %r"
                   % (s["name"], steps))
            # build saves its artifact, test restores it before its script.
            want = "reuse.save" if s["name"] == "build" else "reuse.restore"
            expect(want in steps, "%s in the steps of %s: %r" % (want, s["name"], steps))
            if want == "reuse.restore":
                kids = {c["name"]: c for c in spans if c.get("parentSpanId") == s["spanId"]}
                expect(int(kids["reuse.restore"]["endTimeUnixNano"])
                       <= int(kids["script"]["startTimeUnixNano"]),
                       "the script began after the restore")
            for c in spans:
                if c.get("parentSpanId") == s["spanId"]:
                    eq(c["traceId"], root["traceId"], "a step's trace")
            # The TRACEPARENT the job printed names this attempt's span.
            log = d.get("/api/v1/runs/%d/jobs/%s/log?attempt=%d" % (rid, s["name"], n)).text
            m = re.search(r"^TP=(\S*)$", log, re.M)
            expect(m, "TRACEPARENT in the log of %s #%d: %r" % (s["name"], n, log))
            eq(m.group(1), "00-%s-%s-01" % (root["traceId"], s["spanId"]),
               "TRACEPARENT of %s #%d" % (s["name"], n))
        r = d.get_json("/api/v1/outbox?limit=200")
        expect(all("k-123" not in json.dumps(i) for i in r["items"]), "no header value in the API")
        expect("k-123" not in d.log(), "no header value in the log")
    t.check("a run's spans: tree, attributes, ids, headers, TRACEPARENT", tree)

    def metrics():
        m = d.get("/metrics").text
        c = re.search(r'^cicd_pipeline_run_duration_seconds_count\{cicd_pipeline_name="app",'
                      r'cicd_pipeline_run_state="executing",cicd_pipeline_result="success"\} (\d+)$',
                      m, re.M)
        expect(c and int(c.group(1)) == 1, "one executing run of app: %r" % (c and c.group(0)))
        expect(re.search(r'^cicd_pipeline_run_duration_seconds_bucket\{cicd_pipeline_name="app",'
                         r'cicd_pipeline_run_state="pending",cicd_pipeline_result="success",'
                         r'le="\+Inf"\} 1$', m, re.M), "the pending histogram")
        expect(re.search(r'^cicd_worker_count\{cicd_worker_state="busy"\} 0$', m, re.M),
               "no slot busy")
        expect(re.search(r'^cicd_worker_count\{cicd_worker_state="available"\} [1-9]\d*$',
                         m, re.M), "slots available")
        expect("# TYPE cicd_pipeline_run_active gauge" in m, "run_active")
    t.check("/metrics: cicd_pipeline_run_duration_seconds by state and result, worker slots",
            metrics)

    def problems():
        rid = d.trigger("bad")["id"]
        eq(d.wait_run(rid)["status"], "error", "a run with pipeline problems")
        pw.wait_until(lambda: run_spans(rec.spans(), rid)[0] is not None,
                      "its run span")
        root, spans = run_spans(rec.spans(), rid)
        eq(len(spans), 1, "the run span alone")
        eq(root["_attrs"].get("cicd.pipeline.result"), "error", "result")
        eq(root["_attrs"].get("error.type"), "error", "error.type")
        eq(root["status"].get("code"), 2, "status ERROR")
    t.check("a run that ends before its jobs: its run span, result error", problems)

    def restart():
        go = os.path.join(t.tmp, "go")
        rid = d.trigger("slow", {"env": {"GO": go}})["id"]
        d.wait_job(rid, "wait", "running")
        log = pw.wait_until(lambda: re.search(
            r"^TP=(\S+)$", d.get("/api/v1/runs/%d/jobs/wait/log" % rid).text, re.M),
            "the job's TRACEPARENT")
        d.stop()  # drain: detach, the job goes on
        d.start()
        d.wait_log(r"attempt\.adopt run=%d job=wait attempt=1" % rid)
        open(go, "w").close()
        eq(d.wait_run(rid)["status"], "success", "the run taken up")
        pw.wait_until(lambda: len(run_spans(rec.spans(), rid)[1]) >= 4,
                      "the run's spans after the restart")
        root, spans = run_spans(rec.spans(), rid)
        att = [x for x in spans if x["name"] == "wait"]
        eq(len(att), 1, "one attempt span")
        eq(att[0]["parentSpanId"], root["spanId"], "under the run span")
        eq(log.group(1), "00-%s-%s-01" % (root["traceId"], att[0]["spanId"]),
           "the TRACEPARENT the job saw before the restart")
    t.check("a job taken up after a restart: its span is the one its TRACEPARENT named",
            restart)

    def outage():
        port = rec.port
        rec.close()
        n_before = len(rec.requests)
        rid = d.trigger("app")["id"]
        eq(d.wait_run(rid)["status"], "success", "the run while the collector is down")

        def pending_tried():
            items = d.get_json("/api/v1/outbox?state=pending&limit=200")["items"]
            mine = [i for i in items if i["key"].startswith("otlp:%d:" % rid)]
            return len(mine) == 4 and all(i["attempts"] >= 1 for i in mine)
        pw.wait_until(pending_tried, "the spans pending, retried")
        back = Receiver(port)
        state["rec"] = back

        def delivered():
            root, spans = run_spans(back.spans(), rid)
            return root is not None and len(spans) >= 1 + 1 + 3 * 3
        pw.wait_until(delivered, "the spans after the collector came back",
                      timeout=pw.DEADLINE * 3)
        root, spans = run_spans(back.spans(), rid)
        ids = [s["spanId"] for s in spans]
        eq(len(ids), len(set(ids)), "each span once")
        eq(n_before, len(rec.requests), "nothing reached the closed receiver")

        def rows_delivered():
            items = d.get_json("/api/v1/outbox?limit=200")["items"]
            mine = [i for i in items if i["key"].startswith("otlp:%d:" % rid)]
            return sorted(i["state"] for i in mine) == ["delivered"] * 4
        # The answers are stored just after the receiver has the spans.
        pw.wait_until(rows_delivered, "the four rows delivered")
        root, spans = run_spans(back.spans(), rid)
        eq(len(spans), len({s["spanId"] for s in spans}), "still each span once")
    t.check("collector down, then up: delivered later, each span once", outage)

    def bad_request():
        back = state["rec"]
        back.status = 400
        rid = d.trigger("app")["id"]
        eq(d.wait_run(rid)["status"], "success", "the run")

        def failed():
            items = d.get_json("/api/v1/outbox?state=failed&limit=200")["items"]
            return [i for i in items if i["key"].startswith("otlp:%d:" % rid)]
        pw.wait_until(lambda: len(failed()) == 4, "the rows failed")
        for i in failed():
            eq(i["attempts"], 1, "a 400 is not retried")
            expect(i["last_error"].startswith("HTTP 400"), "last_error %r" % i["last_error"])
    t.check("a 400 answer: failed at once, with the answer", bad_request)
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
