"""Guessing credentials is slowed down: 300 wrong bearer tokens from
127.0.0.2 are answered 401 ten times (http.max_auth_failures), then 429
with Retry-After, and a right token from that address is refused too while
it is blocked; a right token from 127.0.0.1 still works.  Wrong webhook
signatures count the same way.  Behind a trusted proxy the client is the
one X-Forwarded-For names, so two clients of one proxy are told apart;
an IPv6 client is counted by its /64."""
import http.client
import json

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: echo built
"""
TRIES = 300
FAILS = 10  # http.max_auth_failures' default


def request(d, src, method, path, headers=None, body=None):
    """One request from source address src: (status, headers, body)."""
    c = http.client.HTTPConnection(d.host, d.port, timeout=pw.DEADLINE,
                                   source_address=(src, 0))
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        c.close()


def tally(answers):
    """{status: count}, and every 429 checked for Retry-After and its error."""
    out = {}
    for status, hdrs, body in answers:
        out[status] = out.get(status, 0) + 1
        if status == 429:
            ra = hdrs.get("retry-after", "")
            expect(ra.isdigit() and 1 <= int(ra) <= 60, "Retry-After %r" % ra)
            eq(json.loads(body)["error"]["code"], "too_many_requests", "429 code")
    return out


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": wh.PIPELINE, "content.txt": "c\n"})
    origin.push()
    d = t.daemon(projects={"demo": PIPELINE, "app": wh.project(t, origin, "github")},
                 anonymous_read=False)

    def tokens():
        bad = {"Authorization": "Bearer pw_" + "0" * 40}
        answers = [request(d, "127.0.0.2", "GET", "/api/v1/projects", bad)
                   for _ in range(TRIES)]
        eq(tally(answers), {401: FAILS, 429: TRIES - FAILS}, "answers by status")
        eq([a[0] for a in answers[:FAILS + 1]], [401] * FAILS + [429],
           "the %dth failure is the last 401" % FAILS)
        good = {"Authorization": "Bearer " + d.tokens["reader"]}
        eq(request(d, "127.0.0.2", "GET", "/api/v1/projects", good)[0], 429,
           "a right token from the blocked address (no oracle)")
        eq(request(d, "127.0.0.1", "GET", "/api/v1/projects", good)[0], 200,
           "a right token from 127.0.0.1")
        eq(request(d, "127.0.0.2", "GET", "/healthz")[0], 200,
           "/healthz from the blocked address (no credentials)")
    t.check("%d wrong tokens from 127.0.0.2: %d × 401, then 429 + Retry-After"
            % (TRIES, FAILS), tokens)

    def signatures():
        body = json.dumps(wh.github_push(sha)).encode()

        def hook(src, secret):
            h = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-%s" % src,
                 "Content-Type": "application/json",
                 "X-Hub-Signature-256": "sha256=" + wh.hex_mac(secret, body)}
            return request(d, src, "POST", "/hooks/github?project=app", h, body)
        answers = [hook("127.0.0.3", "wrong") for _ in range(FAILS + 5)]
        eq(tally(answers), {401: FAILS, 429: 5}, "wrong signatures by status")
        eq(hook("127.0.0.3", wh.SECRET)[0], 429, "a right signature from 127.0.0.3")
        eq(hook("127.0.0.1", wh.SECRET)[0], 202, "a right signature from 127.0.0.1")
    t.check("wrong webhook signatures count the same way", signatures)
    t.check("SIGTERM: exit 0", d.stop)

    d2 = t.daemon(projects={"demo": PIPELINE}, anonymous_read=False, name="proxied",
                  config="http: {trusted_proxies: [127.0.0.4/32]}")

    def proxied():
        def via(client):
            h = {"Authorization": "Bearer pw_" + "1" * 40,
                 "X-Forwarded-For": "%s, %s" % ("198.51.100.1", client)}
            return request(d2, "127.0.0.4", "GET", "/api/v1/projects", h)
        a = tally([via("203.0.113.5") for _ in range(FAILS + 1)])
        eq(a, {401: FAILS, 429: 1}, "client 203.0.113.5 through the proxy")
        eq(via("203.0.113.6")[0], 401, "another client of the same proxy")
        # IPv6 clients are counted by their /64: a fresh address for each
        # guess does not help.
        a = tally([via("2001:db8::%x" % (i + 1)) for i in range(FAILS + 1)])
        eq(a, {401: FAILS, 429: 1}, "eleven addresses of 2001:db8::/64")
        eq(via("2001:db8:0:1::1")[0], 401, "another /64")
        # Not trusted: X-Forwarded-For is the client's own word.
        h = {"Authorization": "Bearer pw_" + "2" * 40, "X-Forwarded-For": "203.0.113.7"}
        a = tally([request(d2, "127.0.0.5", "GET", "/api/v1/projects", h)
                   for _ in range(FAILS + 1)])
        eq(a, {401: FAILS, 429: 1}, "an untrusted peer naming a client")
        eq(request(d2, "127.0.0.4", "GET", "/api/v1/projects",
                   {"Authorization": "Bearer pw_" + "3" * 40,
                    "X-Forwarded-For": "203.0.113.7"})[0], 401,
           "the client it named is not blocked")
    t.check("behind a trusted proxy: X-Forwarded-For's client is the one counted", proxied)
    t.check("SIGTERM: exit 0 (proxied)", d2.stop)


pw.main(main)
