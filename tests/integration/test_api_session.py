"""Dashboard sessions (POST/GET/DELETE /api/v1/session): signing in with a
token sets an HttpOnly, SameSite=Strict cookie (Secure only when a trusted
proxy says https); the cookie then acts as the token, with its scope: a
read session is refused 403 on a POST; a cookie-authenticated POST needs
the session's X-CSRF-Token (none or a wrong one: 403) while bearer tokens
need none; a bad token is 401 and counts towards the throttle; signing out
ends the session in the store, so the old cookie (and its CSRF value) no
longer work.  Every state-changing route of the API (from its OpenAPI
document) refuses a cookie without the CSRF value, and a read session with
it; a token removed from the store ends its sessions.  Wrong tokens at
sign-in are throttled like bearer tokens."""
import http.client
import os
import re
import sqlite3

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = "jobs:\n  a:\n    script: [true]\n"


def cookie_of(r):
    sc = r.header("Set-Cookie")
    expect(sc, "a Set-Cookie header: %r" % (r.headers,))
    m = re.match(r"pw_session=([^;]*)", sc)
    expect(m, "the cookie is pw_session: %r" % sc)
    return m.group(1), [p.strip() for p in sc.split(";")[1:]]


def main(t):
    d = t.daemon(projects={"demo": PIPELINE}, anonymous_read=False,
                 config="http: {trusted_proxies: [127.0.0.4/32]}",
                 tokens=(("operator", "operate"), ("reader", "read"), ("admin", "admin"),
                         ("temp", "operate")))
    st = {}

    def sign_in(tok, **kw):
        return d.post("/api/v1/session", {"token": d.tokens[tok]}, **kw)

    def with_cookie(method, path, cookie, csrf=None, body=None):
        h = {"Cookie": "other=1; pw_session=%s" % cookie}
        if csrf is not None:
            h["X-CSRF-Token"] = csrf
        return d.request(method, path, body=body, headers=h)

    def refusals():
        d.expect_error(d.post("/api/v1/session", {"token": "pw_nope"}), 401,
                       "unauthorized", what="an unknown token")
        d.expect_error(d.post("/api/v1/session", {"tok": "x"}), 400, "bad_request",
                       what="no token field")
        d.expect_error(d.post("/api/v1/session", "x", content_type="text/plain"), 415,
                       "unsupported_media_type", what="not JSON")
        d.expect_error(d.get("/api/v1/session"), 401, "unauthorized", what="no cookie")
        d.expect_error(with_cookie("GET", "/api/v1/session", "pw_forged"), 401,
                       "unauthorized", what="a forged cookie")
    t.check("sign-in refusals", refusals)

    def read_session():
        r = sign_in("reader")
        eq(r.status, 201, "sign-in with a read token (%r)" % r.body)
        eq(r.header("Cache-Control"), "no-store", "sign-in's answer is not kept")
        value, attrs = cookie_of(r)
        for a in ("HttpOnly", "SameSite=Strict", "Path=/"):
            expect(a in attrs, "cookie has %s: %r" % (a, attrs))
        expect("Secure" not in attrs, "no Secure over plain HTTP: %r" % attrs)
        expect(any(a.startswith("Max-Age=") and int(a[8:]) > 0 for a in attrs),
               "a Max-Age: %r" % attrs)
        expect(d.tokens["reader"] not in r.header("Set-Cookie"), "the cookie is not the token")
        j = r.json()
        eq(j["scope"], "read", "session scope")
        eq(j["name"], "reader", "session's token name")
        expect(len(j["csrf"]) >= 32, "a CSRF value: %r" % j)
        st["read"] = (value, j["csrf"])
        r = with_cookie("GET", "/api/v1/session", value)
        eq(r.status, 200, "GET /api/v1/session with the cookie")
        eq(r.json()["csrf"], j["csrf"], "the same CSRF value")
        eq(r.json()["scope"], "read", "the same scope")
        r = with_cookie("GET", "/api/v1/queue", value)
        eq(r.status, 200, "a read with the cookie (anonymous_read is off): %r" % r.body)
        d.expect_error(d.get("/api/v1/queue"), 401, "unauthorized", what="the same without it")
        r = with_cookie("POST", "/api/v1/projects/demo/runs", value, csrf=j["csrf"], body={})
        d.expect_error(r, 403, "forbidden", "the token 'reader' lacks the 'operate' scope",
                       what="a forged POST with a read session")
    t.check("a read session: cookie flags, reads, a POST refused 403", read_session)

    def operate_session():
        r = sign_in("operator")
        eq(r.status, 201, "sign-in with an operate token")
        value, _ = cookie_of(r)
        csrf = r.json()["csrf"]
        expect(csrf != st["read"][1], "each session has its own CSRF value")
        st["op"] = (value, csrf)
        r = with_cookie("POST", "/api/v1/projects/demo/runs", value, body={})
        d.expect_error(r, 403, "forbidden", what="a cookie POST without X-CSRF-Token")
        r = with_cookie("POST", "/api/v1/projects/demo/runs", value, csrf=st["read"][1],
                        body={})
        d.expect_error(r, 403, "forbidden", what="a cookie POST with another session's CSRF")
        r = with_cookie("POST", "/api/v1/projects/demo/runs", value, csrf=csrf, body={})
        eq(r.status, 201, "a cookie POST with its CSRF value (%r)" % r.body)
        rid = r.json()["id"]
        r = d.post("/api/v1/projects/demo/runs", {}, token="operator")
        eq(r.status, 201, "a bearer POST needs no CSRF value")
        for i in (rid, r.json()["id"]):
            pw.wait_until(lambda: d.get_json("/api/v1/runs/%d" % i, token="reader")["status"]
                          in pw.FINISHED, "run %d finished" % i)
        audit = d.get_json("/api/v1/runs/%d" % rid, token="reader")
        eq(audit.get("actor"), "token operator", "the session acts as its token")
    t.check("an operate session: CSRF required on POST; bearer as before", operate_session)

    def sign_out():
        value, csrf = st["op"]
        r = with_cookie("DELETE", "/api/v1/session", value)
        d.expect_error(r, 403, "forbidden", what="sign-out without X-CSRF-Token")
        r = with_cookie("DELETE", "/api/v1/session", value, csrf=csrf)
        eq(r.status, 204, "sign-out (%r)" % r.body)
        eq(r.header("Cache-Control"), "no-store", "sign-out's answer is not kept")
        _, attrs = cookie_of(r)
        expect("Max-Age=0" in attrs, "the cookie is cleared: %r" % attrs)
        d.expect_error(with_cookie("GET", "/api/v1/session", value), 401, "unauthorized",
                       what="the old cookie after sign-out")
        r = with_cookie("POST", "/api/v1/projects/demo/runs", value, csrf=csrf, body={})
        d.expect_error(r, 401, "unauthorized", what="a POST with the old cookie and CSRF")
        r = with_cookie("GET", "/api/v1/session", st["read"][0])
        eq(r.status, 200, "another session is untouched")
    t.check("sign-out ends the session server-side", sign_out)

    def every_change():
        spec = d.get_json("/api/v1/openapi.json")
        changes = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops
                   if m in ("post", "put", "patch", "delete") and p != "/api/v1/session"
                   and not p.startswith("/hooks/")]
        expect(len(changes) >= 7, "trigger, cancel, rerun, approve, pause, resume, cache "
               "delete at least: %r" % changes)
        runs = len(d.get_json("/api/v1/runs?limit=200", token="reader")["items"])
        r = sign_in("admin")
        eq(r.status, 201, "sign-in with an admin token")
        admin, _ = cookie_of(r)
        for m, p in changes:
            path = (p.replace("{project}", "demo").replace("{id}", "1")
                    .replace("{job}", "a").replace("{key}", "k"))
            body = {} if m != "DELETE" else None
            d.expect_error(with_cookie(m, path, admin, body=body), 403, "forbidden",
                           "a request made with the session cookie needs the session's "
                           "X-CSRF-Token header", what="%s %s, admin cookie, no CSRF" % (m, p))
            d.expect_error(with_cookie(m, path, st["read"][0], csrf=st["read"][1], body=body),
                           403, "forbidden", re.compile("^the token 'reader' lacks the"),
                           what="%s %s, read session with its CSRF" % (m, p))
        eq(d.get_json("/api/v1/queue", token="reader")["paused"], False, "the queue not paused")
        eq(len(d.get_json("/api/v1/runs?limit=200", token="reader")["items"]), runs,
           "no run triggered")
    t.check("every state change with the cookie needs CSRF and the scope", every_change)

    def removed_token():
        r = sign_in("temp")
        eq(r.status, 201, "sign-in with a token about to be removed")
        value, _ = cookie_of(r)
        eq(with_cookie("GET", "/api/v1/session", value).status, 200, "the session is live")
        # No command removes a token: an operator deletes its row.
        db = sqlite3.connect(os.path.join(d.data, "pipewright.db"), timeout=pw.DEADLINE)
        with db:
            db.execute("DELETE FROM tokens WHERE name = 'temp'")
        db.close()
        d.expect_error(with_cookie("GET", "/api/v1/session", value), 401, "unauthorized",
                       what="the session of a removed token")
        d.expect_error(with_cookie("GET", "/api/v1/queue", value), 401, "unauthorized",
                       what="a read with the removed token's cookie")
    t.check("a token removed from the store ends its sessions", removed_token)

    def stream_ends():
        # An open event stream is not a way around sign-out or a removed
        # token: it ends before it sends anything more.
        for who, end in (("operator", "sign-out"), ("temp2", "removal")):
            if who == "temp2":
                d.token("temp2", "read")
            r = sign_in(who)
            eq(r.status, 201, "sign-in as %s" % who)
            value, csrf = cookie_of(r)[0], r.json()["csrf"]
            c = d.conn()
            c.request("GET", "/api/v1/events?all=1",
                      headers={"Cookie": "pw_session=" + value})
            sse = c.getresponse()
            eq(sse.status, 200, "an event stream with the session cookie")
            if end == "sign-out":
                eq(with_cookie("DELETE", "/api/v1/session", value, csrf=csrf).status, 204,
                   "sign-out")
            else:
                db = sqlite3.connect(os.path.join(d.data, "pipewright.db"),
                                     timeout=pw.DEADLINE)
                with db:
                    db.execute("DELETE FROM tokens WHERE name = 'temp2'")
                db.close()
            rid = d.post("/api/v1/projects/demo/runs", {}, token="admin").json()["id"]
            rest = sse.read()  # to the stream's end: it must come
            c.close()
            expect(b"event: run" not in rest, "no run sent after the %s: %r" % (end, rest[:300]))
            pw.wait_until(lambda: d.get_json("/api/v1/runs/%d" % rid, token="reader")["status"]
                          in pw.FINISHED, "run %d finished" % rid)
    t.check("an open event stream ends with its session", stream_ends)

    def secure():
        for src, proto, want in (("127.0.0.1", "https", False), ("127.0.0.4", "http", False),
                                 ("127.0.0.4", "https", True)):
            c = http.client.HTTPConnection(d.host, d.port, timeout=pw.DEADLINE,
                                           source_address=(src, 0))
            body = '{"token": "%s"}' % d.tokens["reader"]
            c.request("POST", "/api/v1/session", body=body,
                      headers={"Content-Type": "application/json",
                               "X-Forwarded-Proto": proto,
                               "X-Forwarded-For": "192.0.2.7"})
            r = c.getresponse()
            sc = r.getheader("Set-Cookie") or ""
            r.read()
            c.close()
            eq(r.status, 201, "sign-in from %s (%s)" % (src, proto))
            eq("; Secure" in sc, want, "Secure from %s saying %s: %r" % (src, proto, sc))
    t.check("Secure only when a trusted proxy says https", secure)

    def throttle():
        codes = [d.post("/api/v1/session", {"token": "pw_guess%d" % i}).status
                 for i in range(11)]
        # One bad sign-in came before (refusals): the block starts within ten.
        expect(429 in codes, "bad sign-ins are blocked: %r" % codes)
        k = codes.index(429)
        eq(codes, [401] * k + [429] * (11 - k), "401 until the block, then 429")
        expect(k >= 9, "the block comes after the tenth failure, not before: %r" % codes)
        r = sign_in("reader")
        eq(r.status, 201, "a valid token still signs in from the blocked address")
    t.check("wrong tokens at sign-in are throttled; a valid one is served", throttle)


pw.main(main)
