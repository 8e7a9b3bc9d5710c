"""libcurl is opened when the first outbound call is due, not before
(include/pipewright/curlx.h): an idle daemon with an OTLP endpoint
configured has no libcurl mapped; once a run's spans are due they are
sent (a real receiver here gets them) and libcurl is mapped.  A daemon
that cannot load it (PIPEWRIGHT_LIBCURL names a file that does not
exist) says so in its log, keeps the spans pending and keeps serving;
a client command says so and fails."""
import http.server
import os
import re
import subprocess
import threading

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = "jobs:\n  a:\n    script: true\n"
MISSING = "/nonexistent/libcurl-for-this-test.so.4"


class Receiver:
    def __init__(self):
        self.posts = []
        rec = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                rec.posts.append((self.path, self.rfile.read(n)))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.port = self.srv.server_address[1]
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def mapped(d):
    with open("/proc/%d/maps" % d.proc.pid) as f:
        return "libcurl" in f.read()


def main(t):
    rec = Receiver()
    config = "otel:\n  endpoint: http://127.0.0.1:%d/\n" % rec.port
    d = t.daemon(projects={"app": PIPELINE}, config=config, name="loads")

    def idle_then_loaded():
        eq(d.get("/healthz").status, 200, "/healthz")
        expect(not mapped(d), "libcurl is not mapped by an idle daemon")
        rid = d.trigger("app", {"ref": "main"})["id"]
        eq(d.wait_run(rid)["status"], "success", "the run")
        pw.wait_until(lambda: rec.posts, "the run's spans at the receiver")
        eq(rec.posts[0][0], "/v1/traces", "the spans' path")
        expect(mapped(d), "libcurl is mapped once a call was due")
    t.check("idle, then loaded when due", idle_then_loaded)
    d.stop()

    os.environ["PIPEWRIGHT_LIBCURL"] = MISSING
    try:
        m = t.daemon(projects={"app": PIPELINE}, config=config, name="missing")
    finally:
        del os.environ["PIPEWRIGHT_LIBCURL"]
    sent = len(rec.posts)

    def missing():
        rid = m.trigger("app", {"ref": "main"})["id"]
        eq(m.wait_run(rid)["status"], "success", "the run")
        m.wait_log(re.escape("notify.libcurl error=\"cannot load libcurl (%s)"
                             % MISSING), "the daemon's error")
        eq(m.get("/healthz").status, 200, "/healthz after the error")
        items = m.get_json("/api/v1/outbox?limit=50", token="admin")["items"]
        spans = [i for i in items if i["kind"] == "otlp"]
        expect(spans, "span rows in the outbox")
        expect(all(i["state"] == "pending" and i["attempts"] == 0 for i in spans),
               "span rows pending, no attempt counted: %r" % spans)
        eq(len(rec.posts), sent, "nothing sent without libcurl")
        expect(not mapped(m), "no libcurl mapped")
    m.token("admin", "admin")
    t.check("a missing libcurl", missing)

    def client():
        env = dict(os.environ, PIPEWRIGHT_LIBCURL=MISSING, PIPEWRIGHT_URL=m.url)
        p = subprocess.run([pw.PW_BIN, "runs", "app"], env=env, capture_output=True,
                           text=True, timeout=pw.DEADLINE)
        expect(p.returncode != 0, "the client fails: %r" % (p,))
        expect("cannot load libcurl (%s)" % MISSING in p.stderr,
               "the client's error names the file: %r" % p.stderr)
    t.check("the client without libcurl", client)


pw.main(main)
