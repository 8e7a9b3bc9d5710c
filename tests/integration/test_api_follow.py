"""A live Server-Sent Events follow of a running job's log (follow=1):
events arrive while the job runs; the client goes away mid-way and resumes
with Last-Event-ID; the texts put together are the whole log, no gap and
no duplicate; the stream ends with `end` and the job's result.  A follow of
a finished job replays the log and ends the same way."""
import json

import pwdaemon as pw
from pwdaemon import eq, expect, fail

PIPELINE = """\
stages: [test]
jobs:
  count:
    stage: test
    script: for i in $(seq 1 20); do echo "line $i"; sleep 0.05; done
  broken:
    stage: test
    script: printf 'caf\\303\\251 \\377 progress\\r50%%\\r100%%\\n'; exit 3
"""


class Sse:
    """One follow request; events() yields (event, id, data) as they come."""

    def __init__(self, d, path, last_id=None):
        self.c = d.conn()
        h = {"Accept": "text/event-stream"}
        if last_id is not None:
            h["Last-Event-ID"] = last_id
        self.c.request("GET", path, headers=h)
        self.r = self.c.getresponse()
        eq(self.r.status, 200, "follow status")
        eq(self.r.getheader("Content-Type"), "text/event-stream", "Content-Type")
        eq(self.r.getheader("Cache-Control"), "no-cache", "Cache-Control")

    def events(self):
        ev = {}
        while True:
            line = self.r.readline()
            if not line:
                if ev:
                    fail("the stream ended inside an event: %r" % ev)
                return
            line = line.decode("utf-8").rstrip("\n")
            if line == "":
                if ev:
                    yield ev.get("event", "message"), ev.get("id"), json.loads(ev["data"])
                ev = {}
                continue
            k, _, v = line.partition(":")
            expect(k in ("event", "id", "data"), "unexpected SSE field %r" % line)
            expect(k not in ev, "field %r twice in one event" % k)
            ev[k] = v[1:] if v.startswith(" ") else v

    def close(self):
        self.c.close()


def collect(sse, texts, state):
    """Checks and gathers log events; returns the end event's data."""
    for event, eid, data in sse.events():
        if event == "end":
            expect(eid is None, "end has an id")
            return data
        eq(event, "log", "event")
        eq(data["offset"], state["next"], "the event's offset (a gap or a repeat)")
        expect(eid is not None and eid.isdigit() and int(eid) > state["next"], "id %r" % eid)
        if "\ufffd" not in data["text"]:
            # Ids count bytes of the stored log; only U+FFFD changes a length.
            eq(int(eid) - state["next"], len(data["text"].encode("utf-8")),
               "the id: the offset of the next byte")
        state["next"] = int(eid)
        texts.append(data["text"])
    fail("the stream ended without an end event")


def main(t):
    d = t.daemon(projects={"demo": PIPELINE})
    run = d.trigger("demo", {})
    rid = run["id"]
    path = "/api/v1/runs/%d/jobs/count/log?follow=1" % rid

    texts, state = [], {"next": 0}

    def live():
        d.wait_job(rid, "count", "running")
        sse = Sse(d, path)
        seen = ""
        for event, eid, data in sse.events():
            eq(event, "log", "event before the job ends")
            eq(data["offset"], state["next"], "offset")
            state["next"] += len(data["text"].encode())
            eq(eid, str(state["next"]), "id")
            texts.append(data["text"])
            state["last_id"] = eid
            seen += data["text"]
            if "line 5\n" in seen:
                break
        # Live: we have line 5 and the job has not finished.
        eq(d.job(rid, "count")["status"], "running", "job status after line 5")
        expect("line 20" not in seen, "the whole log came at once")
        sse.close()
    t.check("follow=1 streams events while the job runs; close after line 5", live)

    def resume():
        sse = Sse(d, path, last_id=state["last_id"])
        end = collect(sse, texts, state)
        sse.close()
        eq(end, {"status": "success", "exit_code": 0, "reason": "exit status 0"}, "end")
        r = d.get("/api/v1/runs/%d/jobs/count/log" % rid)
        full = r.text
        expect(full.endswith("line 19\nline 20\n"), "the log: %r" % full[-100:])
        eq("".join(texts), full, "the followed text vs the whole log")
        eq(str(state["next"]), r.header("X-Log-Offset"), "the last id vs X-Log-Offset")
    t.check("resume with Last-Event-ID: the rest, then end; no gap, no duplicate", resume)

    def replay():
        d.wait_run(rid)
        for query, last_id, start in [("", None, 0), ("&offset=7", None, 7), ("", "13", 13)]:
            got, st = [], {"next": start}
            sse = Sse(d, path + query, last_id=last_id)
            end = collect(sse, got, st)
            sse.close()
            eq(end["status"], "success", "end status")
            full = d.get("/api/v1/runs/%d/jobs/count/log" % rid).body
            eq("".join(got).encode(), full[start:], "replay from %d" % start)
    t.check("follow of a finished job replays from 0, offset=N or Last-Event-ID", replay)

    def failed_job():
        got, st = [], {"next": 0}
        sse = Sse(d, "/api/v1/runs/%d/jobs/broken/log?follow=1" % rid)
        end = collect(sse, got, st)
        sse.close()
        eq(end, {"status": "failed", "exit_code": 3, "reason": "exit status 3"}, "end")
        text = "".join(got)
        expect("caf\u00e9 \ufffd progress\r50%\r100%\n" in text,
               "invalid UTF-8 as U+FFFD, carriage returns kept: %r" % text)
        raw = d.get("/api/v1/runs/%d/jobs/broken/log" % rid).body
        eq(st["next"], len(raw), "ids count bytes of the stored log")
    t.check("a failed job's end: status, exit_code, reason; U+FFFD and \\r in text",
            failed_job)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
