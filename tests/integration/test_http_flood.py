"""Connection exhaustion: 1,000 idle sockets from one address (127.0.0.2)
leave /healthz and a signed webhook from 127.0.0.1 answering at once (the
per-address cap: the flooder's newcomers take its own idle places); 1,000
idle sockets spread over twenty addresses fill the table, and a newcomer
still gets in (the oldest idle connection makes room), while a client
following a run's events is never the one closed; a slowloris that
trickles its request head is answered 408 after http.header_timeout."""
import resource
import select
import socket

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

SLOW = """\
stages: [build]
jobs:
  build:
    stage: build
    script: sleep 60
"""
FLOOD = 1000


def raise_nofile(want):
    """The flood needs more descriptors than the usual 1,024 soft limit
    (the daemon, started after this, inherits it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pw.skip("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def open_idle(d, src, n):
    """n connections from source address src that send nothing."""
    out = []
    for _ in range(n):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((src, 0))
        s.settimeout(pw.DEADLINE)
        s.connect((d.host, d.port))
        out.append(s)
    return out


def follow(d, rid):
    """A socket following run rid's job log (Server-Sent Events) from
    127.0.0.1 once its head came, or None while the job has not started."""
    s = socket.create_connection((d.host, d.port), timeout=pw.DEADLINE)
    s.sendall(b"GET /api/v1/runs/%d/jobs/build/log?follow=1 HTTP/1.1\r\n"
              b"Host: 127.0.0.1\r\n\r\n" % rid)
    got = b""
    while b"\r\n\r\n" not in got:
        more = s.recv(4096)
        expect(more, "the follower was closed before its head: %r" % got)
        got += more
    if not got.startswith(b"HTTP/1.1 200 "):
        s.close()
        return None
    expect(b"text/event-stream" in got, "follower: %r" % got[:300])
    return s


def main(t):
    raise_nofile(3 * FLOOD + 512)
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": "jobs:\n  a:\n    script: 'true'\n"})
    origin.push()
    d = t.daemon(projects={"app": wh.project(t, origin, "github"), "slow": SLOW})
    held = []

    def one_address():
        held.extend(open_idle(d, "127.0.0.2", FLOOD))
        eq(d.get("/healthz").status, 200, "/healthz from 127.0.0.1")
        wh.accepted(wh.hook(d, "github", wh.github_push(sha)), "a signed webhook")
        m = d.get("/metrics", token="reader").text
        expect("pipewright_http_requests_total" in m, "metrics")
    t.check("1,000 idle sockets from 127.0.0.2: /healthz and a webhook answer", one_address)
    for s in held:
        s.close()
    held.clear()

    def many_addresses():
        rid = d.trigger("slow", {"ref": "main"})["id"]
        f = pw.wait_until(lambda: follow(d, rid), "a follower of the running job")
        # 50 from each of 20 addresses: under the per-address cap (64),
        # over max_connections (256) together.
        for i in range(20):
            held.extend(open_idle(d, "127.0.1.%d" % (i + 1), FLOOD // 20))
        # The oldest idle connections make room once idle for a second:
        # poll, bounded.
        pw.wait_until(lambda: d.get("/healthz").status == 200, "/healthz past a full table")
        wh.accepted(wh.hook(d, "github", wh.github_push(sha), delivery="full-table"),
                    "a webhook past a full table")
        # The follower was not taken for an idle connection: it sees the
        # run end.
        eq(d.post("/api/v1/runs/%d/cancel" % rid, token="operator").status, 200, "cancel")
        got = b""
        while b"event: end" not in got:
            more = f.recv(65536)
            expect(more, "the follower was closed: %r" % got[-200:])
            got += more
        f.close()
    t.check("1,000 idle sockets from 20 addresses fill the table: a newcomer gets in, "
            "a follower stays", many_addresses)
    for s in held:
        s.close()
    held.clear()

    d2 = t.daemon(projects={}, config="http: {header_timeout: 1s}", name="slowloris")

    def slowloris():
        s = socket.create_connection((d2.host, d2.port), timeout=pw.DEADLINE)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        got, i = b"", 0
        # One header line whenever the daemon has said nothing for 0.2 s
        # (the attack's own pace), until it answers; bounded.
        while b"\r\n\r\n" not in got and i < 200:
            r, _, _ = select.select([s], [], [], 0.2)
            if r:
                more = s.recv(65536)
                if not more:
                    break
                got += more
            else:
                try:
                    s.sendall(b"X-Trickle-%d: y\r\n" % i)
                except OSError:
                    break
                i += 1
        while True:  # the rest of the answer, then the close
            more = s.recv(65536)
            if not more:
                break
            got += more
        s.close()
        expect(got.startswith(b"HTTP/1.1 408 "), "answer %r" % got[:200])
        expect(b'"message":"request head not complete within 1000 ms"' in got,
               "message in %r" % got)
        expect(i < 100, "%d header lines before the answer" % i)
    t.check("a slowloris trickling its head: 408 after http.header_timeout", slowloris)
    t.check("SIGTERM: exit 0", d.stop)
    t.check("SIGTERM: exit 0 (slowloris)", d2.stop)


pw.main(main)
