"""Notifications over HTTP, against real receivers on 127.0.0.1 started
here: the generic webhook (its HMAC-SHA256 signature over timestamp,
delivery id and body checked as docs/operations.md tells receivers to),
the Slack form, a receiver that answers 500 once (the retry carries the
same delivery id), a receiver that is down and comes up later (delivered
once, also across a daemon restart), `fixed` after a failure and not on a
second success, `waiting` for a manual job, no secret in any body, and
the outbox listing hiding where notifications go from read scope."""
import hashlib
import hmac
import http.server
import json
import os
import socket
import threading
import time

import pwdaemon as pw
from pwdaemon import eq, expect

NOTIFY_SECRET = "notify-secret-3f9a1c"
JOB_SECRET = "job-secret-value-77e2b0"

PIPELINE = """\
stages: [build, deploy]
jobs:
  build:
    stage: build
    script: |
      echo "token is $TOK"
      test ! -f %(flag)s
  deploy:
    stage: deploy
    when: manual
    script: echo deployed
"""


class Receiver:
    """An HTTP/1.1 server on 127.0.0.1 recording every request; `fail`
    counts answers still to be 500."""

    def __init__(self, port=0):
        self.requests = []
        self.fail = 0
        self.lock = threading.Lock()
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                with rec.lock:
                    rec.requests.append({"path": self.path,
                                         "headers": dict(self.headers.items()),
                                         "body": body})
                    code = 500 if rec.fail > 0 else 200
                    if rec.fail > 0:
                        rec.fail -= 1
                out = b"oops" if code == 500 else b"ok"
                self.send_response(code)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", port), H)
        self.port = self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()

    def bodies(self):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests]

    def all(self):
        with self.lock:
            return list(self.requests)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def verify(req, secret):
    """What a receiver does (docs/operations.md): the signature over
    "<timestamp>.<delivery>.<body>", a recent timestamp."""
    h = {k.lower(): v for k, v in req["headers"].items()}
    ts = h.get("x-pipewright-timestamp")
    did = h.get("x-pipewright-delivery")
    sig = h.get("x-pipewright-signature-256")
    expect(ts and did and sig, "signature headers present: %r" % h)
    expect(abs(int(ts) - time.time()) < 300, "timestamp %s is recent" % ts)
    mac = hmac.new(secret.encode(), ts.encode() + b"." + did.encode() + b"." +
                   req["body"], hashlib.sha256).hexdigest()
    expect(hmac.compare_digest(sig, "sha256=" + mac), "signature %s matches" % sig)
    expect(h.get("content-type") == "application/json", "content type %r" %
           h.get("content-type"))
    return did


def main(t):
    hook = Receiver()
    hook.fail = 1  # the first delivery is answered 500: a retry follows
    slack = Receiver()
    late_port = free_port()  # nothing listens there yet
    flag = os.path.join(t.tmp, "fail-now")
    secret_file = os.path.join(t.tmp, "notify.secret")
    job_secret_file = os.path.join(t.tmp, "tok")
    slack_url_file = os.path.join(t.tmp, "slack.url")
    with open(secret_file, "w") as f:
        f.write(NOTIFY_SECRET + "\n")
    with open(job_secret_file, "w") as f:
        f.write(JOB_SECRET + "\n")
    with open(slack_url_file, "w") as f:
        f.write("http://127.0.0.1:%d/services/T0/B0/xyz\n" % slack.port)
    pipeline_file = os.path.join(t.tmp, "demo.yml")
    with open(pipeline_file, "w") as f:
        f.write(PIPELINE % {"flag": flag})
    notify = (
        "[{webhook: 'http://127.0.0.1:%d/ci', secret: {file: %s},"
        " on: [failed, fixed, success, waiting], branches: [main]},"
        " {slack: {file: %s}, on: [failed, fixed]},"
        " {webhook: 'http://127.0.0.1:%d/late', on: [failed]},"
        " {webhook: 'http://127.0.0.1:%d/other', branches: ['release/*']}]"
        % (hook.port, secret_file, slack_url_file, late_port, hook.port))
    d = t.daemon(projects={"demo": {"pipeline": pipeline_file, "secrets": "[TOK]",
                                    "notify": notify}},
                 config="secrets:\n  TOK: {file: %s}\n" % job_secret_file,
                 tokens=(("operator", "operate"), ("reader", "read"), ("admin", "admin")))
    state = {}

    def outbox(token="admin", kind=None):
        items = d.get_json("/api/v1/outbox?limit=200", token=token)["items"]
        return [i for i in items if kind is None or i["kind"] == kind]

    # Run 1 fails on main: failed to the webhook (500 once, then 200),
    # to Slack, and to the receiver that is down.
    open(flag, "w").close()
    r1 = d.trigger("demo", {"ref": "main"})["id"]

    def failed_run():
        run = d.wait_run(r1)
        eq(run["status"], "failed", "run 1")
        eq(run["branch"], "main", "run 1's branch")
        reqs = pw.wait_until(lambda: len(hook.all()) >= 2 and hook.all(),
                             "the webhook's retry")
        eq(len(reqs), 2, "requests to the webhook (500, then 200)")
        ids = [verify(r, NOTIFY_SECRET) for r in reqs]
        eq(ids[0], ids[1], "the retry's delivery id")
        expect(reqs[0]["headers"]["X-Pipewright-Timestamp"] <=
               reqs[1]["headers"]["X-Pipewright-Timestamp"], "timestamps in order")
        eq(reqs[0]["body"], reqs[1]["body"], "the retry's body")
        b = json.loads(reqs[0]["body"])
        eq(b["event"], "failed", "event")
        eq(b["delivery"], ids[0], "the body's delivery id")
        eq(b["project"], "demo", "project")
        eq(b["run"]["id"], r1, "run id")
        eq(b["run"]["status"], "failed", "run status")
        eq(b["run"]["branch"], "main", "branch")
        eq(b["run"]["url"], "%s/api/v1/runs/%d" % (d.url, r1), "run url")
        eq(b["job"], None, "job")
        eq(reqs[0]["path"], "/ci", "path")
        state["ids"] = set(ids)
        s = pw.wait_until(lambda: slack.bodies(), "the Slack message")
        eq(len(s), 1, "Slack messages")
        eq(sorted(s[0]), ["text"], "Slack's body keys")
        expect("demo run %d failed on main" % r1 in s[0]["text"], "Slack text %r" % s[0])
        expect("<%s/api/v1/runs/%d|run %d>" % (d.url, r1, r1) in s[0]["text"],
               "Slack link in %r" % s[0]["text"])
        eq(slack.all()[0]["path"], "/services/T0/B0/xyz", "Slack URL read from the file")
        expect("x-pipewright-signature-256" not in
               {k.lower() for k in slack.all()[0]["headers"]}, "Slack is not signed")
    t.check("failed: signed webhook, retried with the same delivery id; Slack text",
            failed_run)

    def late_pending():
        def retried():
            rows = [i for i in outbox() if i["url"].endswith("/late")]
            return rows and rows[0]["attempts"] >= 1 and rows[0]["last_error"] and rows
        rows = pw.wait_until(retried, "a failed attempt to the receiver that is down")
        eq(len(rows), 1, "rows for the late receiver")
        eq(rows[0]["state"], "pending", "its state")
        eq(rows[0]["kind"], "webhook", "its kind")
        expect("127.0.0.1" in rows[0]["last_error"], "last_error %r" % rows[0]["last_error"])
        expect(rows[0]["expires_at"] is not None, "expires_at is set")
        expect(rows[0]["next_at"] is not None, "next_at is set")
        state["late_id"] = rows[0]["id"]
    t.check("an unreachable endpoint: retried, the error in the outbox", late_pending)

    def read_scope():
        rows = outbox(token="reader")
        notes = [i for i in rows if i["kind"] != "status"]
        expect(notes, "notification rows listed to read scope")
        for i in notes:
            eq(i["url"], None, "url to read scope (%r)" % i)
            eq(i["redacted"], True, "redacted")
        raw = d.get("/api/v1/outbox?limit=200", token="reader").text
        expect("127.0.0.1:%d" % hook.port not in raw and "/services/" not in raw,
               "no notification URL in the read-scope listing")
        rows = outbox(token="admin")
        expect(any(i["url"] == "http://127.0.0.1:%d/ci" % hook.port for i in rows),
               "admin sees the webhook's URL")
        expect(all(i["redacted"] is False for i in rows), "nothing redacted to admin")
        expect(any(i["url"] == "(read from a file)" for i in rows),
               "a URL read from a file is not stored")
    t.check("GET /api/v1/outbox hides notification URLs from read scope", read_scope)

    # Restart with the late receiver still down, then bring it up.
    def restart_then_up():
        d.stop()
        late = Receiver(late_port)
        state["late"] = late
        d.start()
        got = pw.wait_until(lambda: late.all(), "the late delivery after the restart")
        row = pw.wait_until(
            lambda: [i for i in outbox() if i["id"] == state["late_id"] and
                     i["state"] == "delivered"], "the late row delivered")
        eq(len(got), 1, "deliveries to the late receiver")
        eq(json.loads(got[0]["body"])["run"]["id"], r1, "its run")
        eq(row[0]["last_error"], None, "last_error after delivery")
    t.check("receiver down, daemon restarted, receiver up: delivered once", restart_then_up)

    # Run 2 succeeds on main after the failure: fixed (webhook, Slack);
    # the manual deploy job waits: waiting.
    os.unlink(flag)

    def fixed_and_waiting():
        before = len(hook.all())
        r2 = d.trigger("demo", {"ref": "main"})["id"]
        run = d.wait_run(r2)
        eq(run["status"], "success", "run 2")

        def two():
            return [b for b in hook.bodies()[before:] if b["run"]["id"] == r2]
        got = pw.wait_until(lambda: len(two()) >= 2 and two(), "run 2's messages")
        eq(sorted(b["event"] for b in got), ["fixed", "waiting"], "run 2's events")
        w = [b for b in got if b["event"] == "waiting"][0]
        eq(w["job"], "deploy", "the waiting job")
        s = pw.wait_until(lambda: len(slack.bodies()) >= 2 and slack.bodies(),
                          "Slack's fixed")
        expect("demo run %d fixed the build on main" % r2 in s[1]["text"], "Slack %r" % s[1])
        state["r2"] = r2
    t.check("fixed after a failed run; waiting for a manual job", fixed_and_waiting)

    def second_success():
        r3 = d.trigger("demo", {"ref": "main"})["id"]
        eq(d.wait_run(r3)["status"], "success", "run 3")
        got = pw.wait_until(
            lambda: [b for b in hook.bodies() if b["run"]["id"] == r3 and
                     b["event"] == "waiting"], "run 3's waiting")
        # Every row of run 3 is put with its state changes: once waiting
        # is delivered, the rows of the run's end are in the outbox too.
        pw.wait_until(lambda: all(i["state"] == "delivered" for i in outbox()
                                  if i["run"] == r3), "run 3's rows delivered")
        events = sorted(b["event"] for b in hook.bodies() if b["run"]["id"] == r3)
        eq(events, ["success", "waiting"], "run 3: success, not fixed")
        eq(len(slack.bodies()), 2, "Slack (on failed, fixed): nothing for run 3")
        expect(not any(i["url"].endswith("/other") for i in outbox()),
               "no message for the entry of other branches")
    t.check("a second success is not fixed again", second_success)

    def no_secrets():
        msgs = hook.all() + slack.all() + state["late"].all()
        expect(msgs, "messages to look at")
        for m in msgs:
            for s in (JOB_SECRET, NOTIFY_SECRET):
                expect(s.encode() not in m["body"], "a secret in a body: %r" % m["body"])
                expect(all(s not in v for v in m["headers"].values()),
                       "a secret in a header")
        ids = [r["headers"]["X-Pipewright-Delivery"] for r in hook.all()]
        eq(len(set(ids)), len(ids) - 1, "distinct delivery ids but the one retry")
    t.check("no secret in any message; each delivery its own id", no_secrets)

    hook.close()
    slack.close()
    if "late" in state:
        state["late"].close()


if __name__ == "__main__":
    pw.main(main)
