"""Every error status over real sockets, each with its JSON error code and
message: 400, 401, 403, 404, 405, 408, 409, 413, 414, 415, 431; after each
one the daemon still answers /healthz."""
import json
import re

import pwdaemon as pw
from pwdaemon import eq, expect, fail

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: echo built
"""


SLOW = """\
stages: [build]
jobs:
  build:
    stage: build
    script: sleep 60
"""


def follow(d, rid):
    """A socket following run rid's job log (Server-Sent Events), once the
    stream's head came; None while the job has not started (404)."""
    import socket
    s = socket.create_connection((d.host, d.port))
    s.sendall(b"GET /api/v1/runs/%d/jobs/build/log?follow=1 HTTP/1.1\r\n"
              b"Host: 127.0.0.1\r\n\r\n" % rid)
    s.settimeout(5)
    got = b""
    while b"\r\n\r\n" not in got:
        more = s.recv(4096)
        if not more:
            s.close()
            return None
        got += more
    if not got.startswith(b"HTTP/1.1 200 "):
        s.close()
        return None
    return s


def parse_raw(data, what):
    """The first HTTP response in data: (status, {header: value}, body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    expect(sep, "%s: no complete response in %r" % (what, data[:300]))
    lines = head.decode("latin-1").split("\r\n")
    m = re.match(r"^HTTP/1\.1 (\d{3}) ", lines[0])
    expect(m, "%s: status line %r" % (what, lines[0]))
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    n = int(hdrs.get("content-length", len(body)))
    return int(m.group(1)), hdrs, body[:n]


def main(t):
    d = t.daemon(projects={"demo": PIPELINE},
                 config="http: {max_body: 1K, read_timeout: 500ms}")
    tokens = {}

    def alive():
        r = d.get("/healthz")
        eq(r.status, 200, "/healthz afterwards")

    def check(what, fn):
        def both():
            fn()
            alive()
        t.check(what, both)

    st = {}

    def setup():
        st["id"] = d.trigger("demo", {"ref": "main"})["id"]
        eq(d.wait_run(st["id"])["status"], "success", "the first run")
    t.check("a finished run to aim at", setup)
    rid = st["id"]
    runs = "/api/v1/projects/demo/runs"

    # ---- 400 ----
    def bad_json():
        r = d.post(runs, body="{\"ref\": ", token="operator", content_type="application/json")
        d.expect_error(r, 400, "bad_request", "the body is not a JSON object", "bad JSON")
        r = d.post(runs, body="[1, 2]", token="operator", content_type="application/json")
        d.expect_error(r, 400, "bad_request", "the body is not a JSON object", "an array")
        r = d.post(runs, body={"ref": 5}, token="operator")
        d.expect_error(r, 400, "bad_request",
                       'expected {"ref": string, "commit": string, "env": {name: string}}',
                       "ref: 5")
    check("400: a body that is not a JSON object, or of the wrong shape", bad_json)

    def bad_run_id():
        for bad in ["abc", "0", "-1", "1x", "99999999999999999999999"]:
            r = d.get("/api/v1/runs/" + bad)
            d.expect_error(r, 400, "bad_request",
                           "run id must be a positive integer, got '%s'" % bad, "run " + bad)
        r = d.post("/api/v1/runs/abc/cancel", token="operator")
        d.expect_error(r, 400, "bad_request", "run id must be a positive integer, got 'abc'",
                       "cancel abc")
    check("400: a run id that is not a positive integer", bad_run_id)

    def bad_query():
        for q in ["limit=0", "limit=201", "limit=x", "limit="]:
            r = d.get(runs + "?" + q)
            d.expect_error(r, 400, "bad_request",
                           "limit must be a number from 1 to 200, got '%s'" % q[6:], q)
        r = d.get(runs + "?cursor=zz")
        d.expect_error(r, 400, "bad_request", "cursor 'zz' is not one this API gave out",
                       "cursor")
        r = d.get(runs + "?status=success,done")
        d.expect_error(r, 400, "bad_request",
                       "unknown status 'done'; expected queued, running, success, failed, "
                       "canceled or error", "status")
        for q in ["offset=-1", "tail=x"]:
            r = d.get("/api/v1/runs/%d/jobs/build/log?%s" % (rid, q))
            d.expect_error(r, 400, "bad_request",
                           "offset, start, end, tail, tail_bytes and Last-Event-ID take a whole number", q)
        r = d.get("/api/v1/runs/%d/jobs/build/log" % rid, headers={"Last-Event-ID": "x"})
        d.expect_error(r, 400, "bad_request",
                       "offset, start, end, tail, tail_bytes and Last-Event-ID take a whole number", "Last-Event-ID")
    check("400: bad limit, cursor, status, offset, tail and Last-Event-ID", bad_query)

    def bad_env():
        for name in ["1BAD", "A-B", ""]:
            r = d.post(runs, body={"env": {name: "x"}}, token="operator")
            d.expect_error(r, 400, "bad_request",
                           "env '%s': expected a variable name with a string value" % name,
                           "env %r" % name)
        r = d.post(runs, body={"env": {"OK": 1}}, token="operator")
        d.expect_error(r, 400, "bad_request",
                       "env 'OK': expected a variable name with a string value", "env value 1")
        r = d.post(runs, body={"env": {"PIPEWRIGHT_JOB": "x"}}, token="operator")
        d.expect_error(r, 400, "bad_request",
                       "env 'PIPEWRIGHT_JOB': PIPEWRIGHT_* variables are set by pipewright",
                       "PIPEWRIGHT_JOB")
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": 3}, token="operator")
        d.expect_error(r, 400, "bad_request",
                       'expected {"jobs": "failed"} or {"jobs": [name, ...]}', "rerun jobs: 3")
        eq(len(d.get_json(runs)["items"]), 1, "runs after the refusals")
    check("400: bad env names and values; a bad rerun body; no run made", bad_env)

    # ---- 401, 403 ----
    def unauthorized():
        r = d.post(runs, body={})
        d.expect_error(r, 401, "unauthorized", "a bearer token is required", "no token")
        r = d.post(runs, body={}, token="pw_not-a-real-token")
        d.expect_error(r, 401, "unauthorized", "the bearer token is not valid", "bad token")
        r = d.post(runs, body={}, headers={"Authorization": "Basic dXNlcjpwYXNz"})
        d.expect_error(r, 401, "unauthorized", "the bearer token is not valid", "Basic")
        r = d.get(runs, token="pw_not-a-real-token")
        d.expect_error(r, 401, "unauthorized", "the bearer token is not valid",
                       "a GET with a bad token")
        for path in ["/api/v1/runs/%d/cancel" % rid, "/api/v1/runs/%d/rerun" % rid,
                     "/api/v1/runs/%d/jobs/build/approve" % rid]:
            r = d.post(path, body={})
            d.expect_error(r, 401, "unauthorized", "a bearer token is required", path)
    check("401: POST without a token or with a bad one", unauthorized)

    def forbidden():
        r = d.post(runs, body={}, token="reader")
        d.expect_error(r, 403, "forbidden", "the token 'reader' lacks the 'operate' scope",
                       "read token")
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="reader")
        d.expect_error(r, 403, "forbidden", "the token 'reader' lacks the 'operate' scope",
                       "read token cancel")
        eq(d.get(runs, token="reader").status, 200, "a read token reads")
    check("403: a read token on POST", forbidden)

    # ---- 404 ----
    def not_found():
        d.expect_error(d.get("/api/v1/runs/999"), 404, "not_found", "no run 999", "run")
        d.expect_error(d.get("/api/v1/runs/999/events"), 404, "not_found", "no run 999",
                       "events")
        d.expect_error(d.get("/api/v1/runs/999/log"), 404, "not_found", "no run 999", "log")
        d.expect_error(d.get("/api/v1/projects/nope/runs"), 404, "not_found",
                       "no project 'nope'", "project")
        d.expect_error(d.post("/api/v1/projects/nope/runs", body={}, token="operator"),
                       404, "not_found", "no such project", "trigger of no project")
        d.expect_error(d.get("/api/v1/runs/%d/jobs/nope/log" % rid), 404, "not_found",
                       "no job 'nope' in run %d" % rid, "job")
        d.expect_error(d.get("/api/v1/runs/%d/jobs/build/log?attempt=2" % rid), 404,
                       "not_found", "job 'build' has no attempt '2'", "attempt")
        d.expect_error(d.post("/api/v1/runs/999/cancel", token="operator"), 404,
                       "not_found", "no run 999", "cancel")
        d.expect_error(d.post("/api/v1/runs/999/rerun", token="operator"), 404,
                       "not_found", "no run 999", "rerun")
        d.expect_error(d.get("/badge/nope.svg"), 404, "not_found", "no project 'nope'",
                       "badge")
        d.expect_error(d.get("/badge/demo.png"), 404, "not_found",
                       "badges are /badge/PROJECT.svg", "badge.png")
        d.expect_error(d.get("/nope"), 404, "not_found", "no route for GET /nope", "path")
        d.expect_error(d.get("/api/v1/runs/%d/jobs" % rid), 404, "not_found",
                       "no route for GET /api/v1/runs/%d/jobs" % rid, "jobs path")
    check("404: unknown run, project, job, attempt and path", not_found)

    # ---- 405 ----
    def not_allowed():
        r = d.request("DELETE", "/api/v1/runs/%d" % rid, token="operator")
        d.expect_error(r, 405, "method_not_allowed",
                       "DELETE is not allowed on /api/v1/runs/%d (allowed: GET, HEAD)" % rid,
                       "DELETE")
        eq(r.header("Allow"), "GET, HEAD", "Allow (HEAD comes with GET)")
        r = d.request("GET", "/api/v1/runs/%d/cancel" % rid)
        d.expect_error(r, 405, "method_not_allowed", None, "GET cancel")
        eq(r.header("Allow"), "POST", "Allow")
        r = d.request("PUT", runs, body={}, token="operator")
        eq(r.status, 405, "PUT runs")
        expect(set(r.header("Allow").replace(" ", "").split(",")) == {"GET", "HEAD", "POST"},
               "Allow on runs: %r" % r.header("Allow"))
    check("405: DELETE on a run, with Allow", not_allowed)

    # ---- 408 ----
    def timeout():
        started = pw.time.monotonic()
        out = d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Half: ", read_timeout=10)
        took = pw.time.monotonic() - started
        status, hdrs, body = parse_raw(out, "half a request")
        eq(status, 408, "status")
        e = json.loads(body)["error"]
        eq(e, {"code": "request_timeout",
               "message": "request not complete within 500 ms"}, "error")
        eq(hdrs.get("connection"), "close", "Connection")
        expect(0.4 <= took < 5, "answered after %.2f s" % took)
    check("408: half a request, read_timeout 500ms", timeout)

    # ---- 409 ----
    def conflict():
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
        d.expect_error(r, 409, "conflict", "run %d has already finished (success)" % rid,
                       "cancel a finished run")
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": "failed"}, token="operator")
        d.expect_error(r, 409, "conflict", "nothing to rerun: no job failed",
                       "rerun without failures")
        r = d.post("/api/v1/runs/%d/jobs/build/approve" % rid, token="operator")
        d.expect_error(r, 404, "not_found", "no manual job of that name in the run",
                       "approve a job that is not manual")
        eq(d.run(rid)["status"], "success", "the run after the refusals")
        ev = [e["action"] for e in d.get_json("/api/v1/runs/%d/events" % rid)["items"]]
        eq(ev, ["trigger"], "no event for a refused change")
    check("409: cancel of a finished run; rerun of a run without failures", conflict)

    # ---- 413 ----
    def too_large():
        big = {"ref": "main", "env": {"PAD": "x" * 2000}}
        r = d.post(runs, body=big, token="operator")
        d.expect_error(r, 413, "payload_too_large", "request body larger than 1024 bytes",
                       "Content-Length 2K")
        # A chunked body is stopped as it passes the limit.
        chunk = b"x" * 700
        req = (b"POST /api/v1/projects/demo/runs HTTP/1.1\r\nHost: x\r\n"
               b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
               (b"%x\r\n%s\r\n" % (len(chunk), chunk)) * 2 + b"0\r\n\r\n")
        status, _, body = parse_raw(d.raw(req), "chunked")
        eq(status, 413, "chunked status")
        eq(json.loads(body)["error"]["code"], "payload_too_large", "chunked code")
        eq(len(d.get_json(runs)["items"]), 1, "runs")
    check("413: a body over http.max_body (1K), by length and chunked", too_large)

    # ---- 414 ----
    def uri_too_long():
        status, _, body = parse_raw(
            d.raw(b"GET /api/v1/projects?" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"),
            "long URL")
        eq(status, 414, "status")
        eq(json.loads(body)["error"],
           {"code": "uri_too_long", "message": "request target longer than 8192 bytes"},
           "error")
    check("414: a 9000-byte URL", uri_too_long)

    # ---- 415 ----
    def media_type():
        r = d.post(runs, body='{"ref": "main"}', token="operator", content_type="text/plain")
        d.expect_error(r, 415, "unsupported_media_type",
                       "expected Content-Type: application/json", "text/plain")
        r = d.post(runs, body='{"ref": "main"}', token="operator")
        d.expect_error(r, 415, "unsupported_media_type",
                       "expected Content-Type: application/json", "no Content-Type")
        r = d.post(runs, body={"ref": "main"}, token="operator",
                   content_type="application/json; charset=utf-8")
        eq(r.status, 201, "application/json; charset=utf-8 is JSON")
        d.wait_run(r.json()["id"])
    check("415: POST trigger with text/plain", media_type)

    # ---- 431 ----
    def headers_too_large():
        status, _, body = parse_raw(
            d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n"),
            "a 20000-byte header")
        eq(status, 431, "status")
        eq(json.loads(body)["error"]["code"], "headers_too_large", "code")
        many = b"".join(b"X-H%d: v\r\n" % i for i in range(70))
        status, _, body = parse_raw(
            d.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"), "70 headers")
        eq(status, 431, "status")
        eq(json.loads(body)["error"],
           {"code": "headers_too_large", "message": "more than 64 request headers"}, "error")
    check("431: a huge header; too many headers", headers_too_large)

    def head():
        r = d.request("HEAD", "/api/v1/projects")
        eq((r.status, r.body), (200, b""), "HEAD: a GET's status, no body")
        expect(int(r.header("Content-Length")) > 0, "HEAD: the GET's Content-Length")
    check("HEAD wherever GET is", head)

    def too_many():
        d3 = t.daemon(projects={"slow": SLOW}, config="http: {max_connections: 2}",
                      name="small")
        import socket
        # Idle connections make room for a newcomer (test_http_flood has more).
        idle = [socket.create_connection((d3.host, d3.port)) for _ in range(2)]
        pw.wait_until(lambda: d3.get("/healthz").status == 200, "/healthz past idle ones")
        for s in idle:
            s.close()
        # Two connections busy following a running job's log are never
        # taken, however long they are idle: a third is turned away.
        rid = d3.trigger("slow", {"ref": "main"})["id"]
        busy = []
        for _ in range(2):
            s = pw.wait_until(lambda: follow(d3, rid), "a follower")
            busy.append(s)

        def third():
            out = d3.raw(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            return out.startswith(b"HTTP/1.1 503 ") and out
        status, hdrs, body = parse_raw(pw.wait_until(third, "a 503 for the third"), "third")
        eq(json.loads(body)["error"],
           {"code": "unavailable", "message": "too many connections (at most 2)"}, "error")
        eq(hdrs.get("connection"), "close", "Connection")
        for s in busy:
            s.close()
        # Until the daemon has seen the followers go, the table is full.
        pw.wait_until(lambda: d3.post("/api/v1/runs/%d/cancel" % rid,
                                      token="operator").status == 200, "the cancel")
        d3.wait_run(rid)
        d3.stop()
    t.check("503: more connections than http.max_connections, none idle", too_many)

    def anonymous_off():
        d2 = t.daemon(projects={"demo": PIPELINE,
                                "closed": {"pipeline": "demo.yml", "badge": "token"}},
                      anonymous_read=False, name="private")
        d2.expect_error(d2.get("/api/v1/projects"), 401, "unauthorized",
                        "a bearer token is required", "anonymous GET")
        eq(d2.get("/metrics").status, 401, "/metrics (metrics: token, the default)")
        eq(d2.get("/metrics", token="reader").status, 200, "/metrics with a read token")
        # Badges are public unless the project says badge: token; a name
        # that is no project does not answer 404 to the anonymous.
        eq(d2.get("/badge/demo.svg").status, 200, "anonymous badge (badge: public)")
        d2.expect_error(d2.get("/badge/closed.svg"), 401, "unauthorized",
                        "a bearer token is required", "badge: token")
        eq(d2.get("/badge/closed.svg", token="reader").status, 200, "badge: token with a token")
        d2.expect_error(d2.get("/badge/nope.svg"), 401, "unauthorized",
                        "a bearer token is required", "badge of no project")
        eq(d2.get("/api/v1/projects", token="reader").status, 200, "with a read token")
        eq(d2.get("/healthz").status, 200, "/healthz needs no token")
        d2.stop()
    t.check("anonymous_read: false: GET needs a token (401), /healthz does not", anonymous_off)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
