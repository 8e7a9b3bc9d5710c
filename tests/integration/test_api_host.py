"""Requests a browser could be tricked into (DNS rebinding) and header
tricks: a Host that names something else than this daemon is 421, on the
API and the webhooks alike, while IP literals, localhost, the public URL's
host and http.allowed_hosts pass; `Authorization :` (a space before the
colon) is 400, not an anonymous request; with no anonymous_read in the
configuration, reads need a token."""
import json

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: echo built
"""


def status_of(raw):
    head = raw.split(b"\r\n", 1)[0]
    expect(head.startswith(b"HTTP/1.1 "), "no answer: %r" % raw[:200])
    return int(head.split()[1]), raw.partition(b"\r\n\r\n")[2]


def main(t):
    d = t.daemon(projects={"demo": PIPELINE},
                 config="public_url: https://pw.example.org/\n"
                        "http: {allowed_hosts: [ci.example.com]}")

    def get(host, path="/api/v1/projects", method="GET"):
        req = ("%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
               "Content-Length: 0\r\n\r\n" % (method, path, host)).encode()
        return status_of(d.raw(req))

    def rebinding():
        for host in ["evil.example", "evil.example:%d" % d.port, "127.0.0.1.evil.example",
                     "ci.example.com.evil.example", "localhostx"]:
            status, body = get(host)
            eq(status, 421, "Host %s" % host)
            e = json.loads(body)["error"]
            eq(e["code"], "misdirected_request", "code")
            expect("http.allowed_hosts" in e["message"], "message %r" % e["message"])
        eq(get("evil.example", "/hooks/github", "POST")[0], 421, "a webhook")
        eq(get("evil.example", "/healthz")[0], 421, "/healthz")
    t.check("a Host this daemon does not serve: 421", rebinding)

    def allowed():
        for host in ["127.0.0.1:%d" % d.port, "127.0.0.1", "[::1]:%d" % d.port,
                     "10.1.2.3:8080", "localhost:%d" % d.port, "LOCALHOST",
                     "pw.example.org", "pw.example.org.", "ci.example.com:443",
                     "CI.Example.com"]:
            eq(get(host)[0], 200, "Host %s" % host)
        eq(status_of(d.raw(b"GET /api/v1/projects HTTP/1.0\r\n\r\n"))[0], 200,
           "HTTP/1.0 without Host")
    t.check("IP literals, localhost, the public URL's host, allowed_hosts: served", allowed)

    def auth_space():
        for name in [b"Authorization ", b"Authorization\t"]:
            raw = d.raw(b"GET /api/v1/projects HTTP/1.1\r\nHost: 127.0.0.1\r\n" + name +
                        b": Bearer " + d.tokens["reader"].encode() + b"\r\n\r\n")
            status, body = status_of(raw)
            eq(status, 400, "%r" % name)
            eq(json.loads(body)["error"]["code"], "bad_request", "code")
    t.check("`Authorization :` with a space before the colon: 400", auth_space)
    t.check("SIGTERM: exit 0", d.stop)

    d2 = t.daemon(projects={"demo": PIPELINE}, anonymous_read=None, name="defaults")

    def private_by_default():
        d2.expect_error(d2.get("/api/v1/projects"), 401, "unauthorized",
                        "a bearer token is required", "anonymous read")
        eq(d2.get("/api/v1/projects", token="reader").status, 200, "with a read token")
        eq(d2.get("/metrics").status, 401, "/metrics")
        eq(d2.get("/badge/demo.svg").status, 200, "the badge stays public")
        eq(d2.get("/healthz").status, 200, "/healthz")
    t.check("no anonymous_read in the configuration: reads need a token", private_by_default)
    t.check("SIGTERM: exit 0 (defaults)", d2.stop)


pw.main(main)
