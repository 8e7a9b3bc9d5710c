"""GET /api/v1/events: one SSE stream per tab.  A feed stream (no
parameter, all=1 or project=P) reports a new run and its statuses as it
goes queued → running → success, and nothing of another project's runs
when filtered; a stream for runs=ID reports the run and its jobs' status
changes; logs=RUN:JOB streams the job's log lines as the job prints them
(the job waits at a gate the test opens, so the first lines must arrive
before the rest exist) and ends with `end`; every event has an id, and a
stream reopened with Last-Event-ID continues the log at the next byte and
reports a run created while it was away.  Bad parameters are 400."""
import json
import os
import socket
import struct
import time

import pwdaemon as pw
from pwdaemon import eq, expect, fail

PIPELINE = """\
jobs:
  work:
    script:
      - echo "first line"
      - while [ ! -e "$GATE/open.$PIPEWRIGHT_RUN_ID" ]; do sleep 0.02; done
      - echo "second line"
  other:
    needs: [work]
    script: echo other
"""
QUICK = "jobs:\n  a:\n    script: echo quick\n"
BIG = "jobs:\n  big:\n    script: head -c 4000000 /dev/zero | tr '\\\\0' x | fold -w 100\n"


class Sse:
    def __init__(self, d, path, last_id=None):
        self.c = d.conn()
        h = {"Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = last_id
        self.c.request("GET", path, headers=h)
        self.r = self.c.getresponse()
        eq(self.r.status, 200, "GET %s status" % path)
        eq(self.r.getheader("Content-Type"), "text/event-stream", "Content-Type")
        self.last_id = None

    def next(self):
        """The next event: (event, id, data)."""
        ev = {}
        end = time.monotonic() + pw.DEADLINE
        while True:
            if time.monotonic() > end:
                fail("no event within %ds" % pw.DEADLINE)
            line = self.r.readline()
            if not line:
                fail("the stream ended")
            line = line.decode("utf-8").rstrip("\n")
            if line.startswith(":"):
                continue
            if line == "":
                if ev:
                    expect(ev.get("id"), "an id on every event: %r" % ev)
                    self.last_id = ev["id"]
                    if os.environ.get("EV_DEBUG"):
                        print("EV", ev)
                    return ev.get("event"), ev["id"], json.loads(ev["data"])
                continue
            k, _, v = line.partition(":")
            ev[k] = v[1:] if v.startswith(" ") else v

    def until(self, pred, what):
        seen = []
        while True:
            try:
                e = self.next()
            except pw.Failure as x:
                fail("%s waiting for %s after %r" % (x, what, seen[-10:]))
            seen.append(e[:1] + e[2:])
            if pred(*e):
                return e
            if len(seen) > 500:
                fail("no %s in %r" % (what, seen[-20:]))

    def close(self):
        self.c.close()


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    d = t.daemon(projects={"demo": PIPELINE, "quick": QUICK, "big": BIG})
    env = {"env": {"GATE": gate}}
    st = {}

    def opening(rid):
        open(os.path.join(gate, "open.%d" % rid), "w").close()

    def feed():
        s = Sse(d, "/api/v1/events")
        p = Sse(d, "/api/v1/events?project=quick")
        rid = d.trigger("demo", env)["id"]
        st["rid"] = rid
        # Queued may be over before the stream looks: running is certain
        # (the job waits at the gate).
        s.until(lambda ev, i, x: ev == "run" and x["id"] == rid and x["status"] == "running",
                "run %d running in the feed" % rid)
        q = d.trigger("quick")["id"]
        e = p.until(lambda ev, i, x: ev == "run", "a run in the quick feed")
        eq(e[2]["id"], q, "the project feed reports only its project's run (not %d)" % rid)
        if e[2]["status"] != "success":
            p.until(lambda ev, i, x: ev == "run" and x["id"] == q and
                    x["status"] == "success", "the quick run's success")
        st["feed"] = s
        p.close()
    t.check("a feed reports new runs and their statuses, by project", feed)

    def logs():
        rid = st["rid"]
        s = Sse(d, "/api/v1/events?runs=%d&logs=%d:work" % (rid, rid))
        e = s.until(lambda ev, i, x: ev == "job" and x["job"] == "work" and
                    x["status"] == "running", "job work running")
        eq(e[2]["run"], rid, "the job event's run")
        e = s.until(lambda ev, i, x: ev == "log", "the first log event")
        eq(e[2]["offset"], 0, "the log starts at 0")
        eq(e[2]["job"], "work", "the log's job")
        text = e[2]["text"]
        while "first line" not in text:
            e = s.until(lambda ev, i, x: ev == "log", "more log")
            text += e[2]["text"]
        expect("second line" not in text, "the second line does not exist yet")
        st["resume_id"] = s.last_id
        st["resume_next"] = len(text.encode())
        s.close()
        opening(rid)
        s2 = Sse(d, "/api/v1/events?runs=%d&logs=%d:work" % (rid, rid), last_id=st["resume_id"])
        text = ""
        # The end, the other job's success and the run's come in any order.
        want = {"end", "other", "run"}
        while want:
            ev, _, x = s2.until(lambda ev, i, x: ev in ("log", "end", "job", "run"), "the end")
            if ev == "log":
                if text == "":
                    eq(x["offset"], st["resume_next"],
                       "the resumed log continues at the next byte")
                text += x["text"]
            elif ev == "end":
                eq(x["status"], "success", "end's status")
                eq(x["exit_code"], 0, "end's exit code")
                want.discard("end")
            elif ev == "job" and x["job"] == "other" and x["status"] == "success":
                want.discard("other")
            elif ev == "run" and x["status"] == "success":
                want.discard("run")
        expect("second line" in text, "the second line arrived: %r" % text)
        s2.close()
    t.check("runs= and logs=: job statuses, live log lines, resume, end", logs)

    def feed_resume():
        s = st["feed"]
        s.until(lambda ev, i, x: ev == "run" and x["id"] == st["rid"] and
                x["status"] == "success", "the run's success in the feed")
        last = s.last_id
        s.close()
        rid = d.trigger("quick")["id"]
        d.wait_run(rid)
        s = Sse(d, "/api/v1/events?all=1", last_id=last)
        s.until(lambda ev, i, x: ev == "run" and x["id"] == rid, "the run made while away")
        s.close()
    t.check("a feed resumed with Last-Event-ID reports the runs made meanwhile", feed_resume)

    def at_offset():
        rid = st["rid"]
        whole = d.get("/api/v1/runs/%d/jobs/work/log" % rid).body
        s = Sse(d, "/api/v1/events?logs=%d:work@5" % rid)
        e = s.until(lambda ev, i, x: ev == "log", "the log from @5")
        eq(e[2]["offset"], 5, "logs=RUN:JOB@5 starts at byte 5")
        text = e[2]["text"]
        while True:
            ev, _, x = s.until(lambda ev, i, x: ev in ("log", "end"), "the end")
            if ev == "end":
                break
            text += x["text"]
        eq(text.encode(), whole[5:], "the log from byte 5 to its end")
        s.close()
    t.check("logs=RUN:JOB@OFFSET starts there", at_offset)

    def resets():
        # SIGPIPE comes only from a write after the one that met the reset
        # (that one fails ECONNRESET): a look must write several events
        # while the reset lands.  Eight follows of a 4 MB log make each
        # look eight 256 KiB events, read from the store one by one; the
        # client resets as soon as the answer's head arrives, while the
        # first look is still reading and writing.
        rid = d.trigger("big")["id"]
        st["big"] = rid
        d.wait_run(rid)
        size = int(d.get("/api/v1/runs/%d/jobs/big/log?tail_bytes=1" % rid).header("X-Log-Size"))
        expect(size >= 4000000, "a 4 MB log (%d)" % size)
        logs = ",".join(["%d:big" % rid] * 8)
        for path, linger in [(p, l) for p in ("/api/v1/runs/%d/jobs/big/log" % rid,
                                              "/api/v1/events?logs=" + logs)
                             for l in (False, True)] * 10:
            try:
                c = socket.create_connection((d.host, d.port))
                c.sendall(("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode())
                c.recv(100)
            except OSError as x:
                fail("the daemon ended while clients reset (exit %r, -13 is SIGPIPE): %s"
                     % (d.proc.wait(timeout=pw.DEADLINE), x))
            # Closed while the daemon still writes: its next writes meet
            # a reset (once with SO_LINGER 0: the reset at once).
            if linger:
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            expect(d.proc.poll() is None, "the daemon outlives a reset %s (exit %r)"
                   % (path[:40], d.proc.poll()))
        eq(d.get_json("/healthz"), {"status": "ok"}, "the daemon still answers")
        expect(d.proc.poll() is None, "the daemon is alive (exit %r)" % d.proc.poll())
    t.check("clients resetting mid-answer leave the daemon running", resets)

    def whole_log():
        # A finished 4 MB log is many pieces, and nothing else is written
        # meanwhile: the stream must go on sending it, not wait for the
        # store to change.
        rid = st["big"]
        size = int(d.get("/api/v1/runs/%d/jobs/big/log?tail_bytes=1" % rid).header("X-Log-Size"))
        s = Sse(d, "/api/v1/events?logs=%d:big" % rid)
        got = 0
        while True:
            ev, i, x = s.until(lambda ev, i, x: ev in ("log", "end"), "the log's end")
            if ev == "end":
                break
            eq(x["offset"], got, "each piece follows the last")
            got = int(i.rsplit("=", 1)[1])
            # The log is ASCII and NULs (tr is given '\\0'): a character a
            # byte, a NUL as U+FFFD, none lost to cJSON's NUL-ended strings.
            eq(len(x["text"]), got - x["offset"], "a piece's text is as long as its bytes")
        eq(got, size, "the whole log, then end")
        s.close()
    t.check("a log of many pieces is sent whole while the store is idle", whole_log)

    def bad():
        for q in ("runs=x", "runs=0", "logs=5", "logs=5:", "runs=" + ",".join(
                str(i) for i in range(1, 60))):
            d.expect_error(d.get("/api/v1/events?" + q), 400, "bad_request", what=q)
        d.expect_error(d.get("/api/v1/events?project=nope"), 404, "not_found",
                       what="unknown project")
    t.check("bad parameters", bad)

    def shutdown():
        socks = []
        for q in ("all=1", "logs=%d:work" % st["rid"]):
            c = socket.create_connection((d.host, d.port), timeout=pw.DEADLINE)
            c.sendall(("GET /api/v1/events?%s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                       % q).encode())
            got = b""
            while b"\r\n\r\n" not in got:
                got += c.recv(4096)
            socks.append((c, got))
        d.stop()
        for c, got in socks:
            while True:
                b = c.recv(65536)
                if not b:
                    break
                got += b
            c.close()
            # The stream's last chunk: ended, not cut short.
            expect(got.endswith(b"\r\n0\r\n\r\n"), "a stream ends with its last chunk: %r"
                   % got[-60:])
    t.check("SIGTERM ends open event streams cleanly and the daemon exits 0", shutdown)


pw.main(main)
