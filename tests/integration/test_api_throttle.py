"""Guessing credentials is slowed down where guessing is possible.

Bearer tokens: 300 wrong ones from 127.0.0.2 are answered 401 ten times
(http.max_auth_failures), then 429 with Retry-After; a valid token from
that address still works (a 256-bit token cannot be guessed, and a
neighbour behind the same NAT must not lock an admin out).

Webhooks come from a forge's few shared addresses.  HMAC signatures
cannot be guessed online, so 300 wrong GitHub signatures from 127.0.0.2
block nothing: the genuine delivery that follows is taken (202).  A plain
X-Gitlab-Token can be guessed: its failures are counted per (project,
address), so eleven wrong tokens for project A block A's hooks from that
address while project B's genuine hook from it is taken.

Behind a trusted proxy the client is the one X-Forwarded-For names, so
two clients of one proxy are told apart; an IPv6 client is counted by
its /64."""
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
    d = t.daemon(projects={"demo": PIPELINE, "app": wh.project(t, origin, "github"),
                           "lab-a": wh.project(t, origin, "gitlab", forge_repo="group/a"),
                           "lab-b": wh.project(t, origin, "gitlab", forge_repo="group/b")},
                 anonymous_read=False)

    def github(src, secret):
        body = json.dumps(wh.github_push(sha)).encode()
        h = {"X-GitHub-Event": "push", "X-GitHub-Delivery": "d-%s" % src,
             "Content-Type": "application/json",
             "X-Hub-Signature-256": "sha256=" + wh.hex_mac(secret, body)}
        return request(d, src, "POST", "/hooks/github?project=app", h, body)

    def signatures():
        answers = [github("127.0.0.2", "wrong") for _ in range(TRIES)]
        eq(tally(answers), {401: TRIES}, "wrong signatures by status")
        eq(github("127.0.0.2", wh.SECRET)[0], 202,
           "the genuine delivery from the same address")
    t.check("%d wrong GitHub signatures from 127.0.0.2 block nothing (HMAC "
            "cannot be guessed)" % TRIES, signatures)

    def gitlab(src, project, secret):
        body = json.dumps(wh.gitlab_push(sha, repo="group/" + project[-1])).encode()
        h = {"X-Gitlab-Event": "Push Hook", "Content-Type": "application/json",
             "X-Gitlab-Event-UUID": "u-%s-%s" % (src, project),
             "X-Gitlab-Token": secret}
        return request(d, src, "POST", "/hooks/gitlab?project=" + project, h, body)

    def gitlab_tokens():
        answers = [gitlab("127.0.0.2", "lab-a", "wrong") for _ in range(FAILS + 1)]
        eq(tally(answers), {401: FAILS, 429: 1}, "wrong X-Gitlab-Tokens for lab-a")
        eq(gitlab("127.0.0.2", "lab-a", wh.SECRET)[0], 429,
           "the right token for lab-a from the blocked pair (no oracle)")
        eq(gitlab("127.0.0.2", "lab-b", wh.SECRET)[0], 202,
           "lab-b's genuine hook from the same address")
        eq(gitlab("127.0.0.1", "lab-a", wh.SECRET)[0], 202,
           "lab-a's genuine hook from another address")
    t.check("%d wrong X-Gitlab-Tokens for lab-a from 127.0.0.2: lab-a blocked "
            "for that address, lab-b not" % (FAILS + 1), gitlab_tokens)

    def tokens():
        bad = {"Authorization": "Bearer pw_" + "0" * 40}
        answers = [request(d, "127.0.0.2", "GET", "/api/v1/projects", bad)
                   for _ in range(TRIES)]
        eq(tally(answers), {401: FAILS, 429: TRIES - FAILS}, "answers by status")
        eq([a[0] for a in answers[:FAILS + 1]], [401] * FAILS + [429],
           "the %dth failure is the last 401" % FAILS)
        good = {"Authorization": "Bearer " + d.tokens["reader"]}
        eq(request(d, "127.0.0.2", "GET", "/api/v1/projects", good)[0], 200,
           "a valid token from the blocked address")
        eq(request(d, "127.0.0.2", "GET", "/api/v1/projects", bad)[0], 429,
           "still blocked for wrong ones")
        eq(request(d, "127.0.0.1", "GET", "/api/v1/projects", good)[0], 200,
           "a right token from 127.0.0.1")
        eq(request(d, "127.0.0.2", "GET", "/healthz")[0], 200,
           "/healthz from the blocked address (no credentials)")
    t.check("%d wrong tokens from 127.0.0.2: %d × 401, then 429 + Retry-After"
            % (TRIES, FAILS), tokens)

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
