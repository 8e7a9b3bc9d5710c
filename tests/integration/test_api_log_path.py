"""The log path: the supervisor writes the job's log file and tells the
daemon how far it has grown; the store's writer reads committed ranges
from that file, and the daemon reads it back only for a live follower
and for the sections it still looks for.  Every byte must arrive once, in
order, however it travelled:

- a job printing megabytes between its script lines: the stored log is
  its output exactly, its sections are found where the echoes are, a
  secret is masked, and a follower from the start gets the stored log;
- a job past `max_log`: the log is cut at the cap with the marker, and
  the job runs on;
- a daemon stopped (drain: detach) in the middle of a flood and started
  again: the next one takes the attempt up from the byte the store has,
  reading the rest from the same file, and the log holds every line once;
- a job (sandbox none: it reaches its attempt's directory) that puts a
  FIFO in its log's place while no daemon holds the file open: the next
  daemon refuses it instead of blocking on it, and serves on.
"""
import json
import os
import re

import pwdaemon as pw
from pwdaemon import eq, expect

SECRET = "s3cr3t-value-for-the-log-path"

FLOOD = """\
jobs:
  flood:
    secrets: [TOK]
    script:
      - echo "token $TOK"
      - seq 1 200000
      - while [ ! -e "$GO" ]; do sleep 0.02; done
      - echo "between"
      - seq 200001 300000
"""

CAPPED = """\
jobs:
  capped:
    script:
      - seq 1 1000000
      - echo "ran on" > "$MARK"
"""

RESUMED = """\
jobs:
  resumed:
    script:
      - seq 1 150000
      - while [ ! -e "$GO" ]; do sleep 0.02; done
      - seq 150001 300000
"""


FIFO = """\
jobs:
  fifo:
    script:
      - echo before
      - while [ ! -e "$GO" ]; do sleep 0.02; done
      - rm "$HOME/../log" && mkfifo "$HOME/../log" && touch "$SWAPPED"
      - while [ ! -e "$GO2" ]; do sleep 0.02; done
      - echo after
"""


def numbers(text, lo, hi):
    """The text's lines that are numbers must be lo..hi, once each."""
    got = [l for l in text.split("\n") if re.fullmatch(r"\d+", l)]
    want = [str(i) for i in range(lo, hi + 1)]
    if got != want:
        missing = len(set(want) - set(got))
        pw.fail("%d number lines (want %d), %d missing, first difference at %s"
                % (len(got), len(want), missing,
                   next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                        min(len(got), len(want)))))


def follow_all(d, path, seen=None):
    """A follow from byte 0 until its end event: the texts put together;
    seen(text so far) after each event."""
    c = d.conn(timeout=60)
    c.request("GET", path, headers={"Accept": "text/event-stream"})
    r = c.getresponse()
    eq(r.status, 200, "follow status")
    texts, ev, nxt = [], {}, 0
    while True:
        line = r.readline()
        if not line:
            pw.fail("the follow ended without an end event")
        line = line.decode("utf-8").rstrip("\n")
        if line:
            k, _, v = line.partition(":")
            ev[k] = v[1:] if v.startswith(" ") else v
            continue
        if not ev:
            continue
        data = json.loads(ev["data"])
        if ev.get("event") == "end":
            c.close()
            return "".join(texts), data
        eq(data["offset"], nxt, "the event's offset (a gap or a repeat)")
        nxt = int(ev["id"])
        texts.append(data["text"])
        ev = {}
        if seen is not None:
            seen(texts)


def main(t):
    secret_file = os.path.join(t.tmp, "tok")
    with open(secret_file, "w") as f:
        f.write(SECRET + "\n")
    mark = os.path.join(t.tmp, "ran-on")
    go = os.path.join(t.tmp, "go")
    flood_yml = os.path.join(t.tmp, "flood.yml")
    with open(flood_yml, "w") as f:
        f.write(FLOOD)
    d = t.daemon(
        projects={"flood": {"pipeline": flood_yml, "secrets": "[TOK]"},
                  "capped": CAPPED, "resumed": RESUMED, "fifo": FIFO},
        config="secrets:\n  TOK: {file: %s}\nmax_log: 4M\ndrain: detach\n"
        % secret_file)

    fgo = os.path.join(t.tmp, "flood-go")

    def flood():
        rid = d.trigger("flood", {"env": {"GO": fgo}})["id"]
        d.wait_job(rid, "flood", "running")

        def seen(texts):
            # The job waits for this follower: the rest comes live.
            if not os.path.exists(fgo) and "\n200000\n" in "".join(texts[-2:]):
                with open(fgo, "w"):
                    pass
        followed, end = follow_all(
            d, "/api/v1/runs/%d/jobs/flood/log?follow=1" % rid, seen)
        expect(os.path.exists(fgo), "the follower never saw line 200000")
        run = d.wait_run(rid)
        expect(end["status"] == "success", "the end %r, the log's tail %r" % (
            end, d.get("/api/v1/runs/%d/jobs/flood/log" % rid).text[-300:]))
        eq(run["status"], "success", "the run")
        log = d.get("/api/v1/runs/%d/jobs/flood/log" % rid).text
        eq(followed, log, "the followed text vs the stored log")
        numbers(log, 1, 300000)
        expect("token ***\n" in log, "the secret is not masked")
        expect(SECRET not in log, "the secret is in the log")
        lines = log.split("\n")
        secs = d.get_json("/api/v1/runs/%d/jobs/flood/sections" % rid)["items"]
        eq([s["command"] for s in secs],
           ['echo "token $TOK"', "seq 1 200000",
            'while [ ! -e "$GO" ]; do sleep 0.02; done', 'echo "between"',
            "seq 200001 300000"],
           "the sections")
        for s in secs:
            eq(lines[s["line"] - 1], "$ " + s["command"],
               "the log's line %d" % s["line"])
        eq(run["jobs"][0]["attempts"][0]["log_bytes"], len(log.encode()),
           "log_bytes vs the stored log")
    t.check("megabytes between script lines: stored once, followed live, "
            "sections and masks kept", flood)

    def capped():
        rid = d.trigger("capped", {"env": {"MARK": mark}})["id"]
        run = d.wait_run(rid)
        eq(run["status"], "success", "the run")
        log = d.get("/api/v1/runs/%d/jobs/capped/log" % rid).body
        marker = b"\n[pipewright: log truncated at 4M; further output dropped]\n"
        cut = log.find(marker)
        expect(cut > 0, "no truncation marker: %r" % log[-200:])
        eq(cut, 4 * 1024 * 1024, "where the log is cut")
        body = log[:cut].decode()
        first = body.split("\n")
        expect(first[0].startswith("$ seq"), "the first line %r" % first[0])
        numbers("\n".join(first[1:-1]), 1, len(first) - 2)
        expect(os.path.exists(mark), "the job did not run on past the cap")
        after = log[cut + len(marker):]
        # The daemon's own lines after the job may follow; never the job's.
        expect(not re.search(rb"^\d+$", after, re.M), "job output after the marker")
    t.check("max_log: cut at the cap with the marker, the job runs on", capped)

    def resumed():
        rid = d.trigger("resumed", {"env": {"GO": go}})["id"]
        pw.wait_until(lambda: "\n150000\n" in
                      d.get("/api/v1/runs/%d/jobs/resumed/log" % rid).text,
                      "the first half stored")
        d.stop()  # drain: detach; the supervisor goes on
        with open(go, "w"):
            pass
        d.start()
        run = d.wait_run(rid)
        eq(run["status"], "success", "the run after the restart")
        eq([a["number"] for a in run["jobs"][0]["attempts"]], [1], "attempts")
        log = d.get("/api/v1/runs/%d/jobs/resumed/log" % rid).text
        numbers(log, 1, 300000)
        eq(run["jobs"][0]["attempts"][0]["log_bytes"], len(log.encode()),
           "log_bytes vs the stored log")
    t.check("a restart mid-flood: the next daemon reads the rest from the file, "
            "every line once", resumed)

    def fifo():
        swapped = os.path.join(t.tmp, "swapped")
        rid = d.trigger("fifo", {"env": {"GO": fgo1, "GO2": fgo2,
                                          "SWAPPED": swapped}})["id"]
        pw.wait_until(lambda: "before\n" in
                      d.get("/api/v1/runs/%d/jobs/fifo/log" % rid).text,
                      "the first line stored")
        d.stop()  # drain: detach; nobody holds dir/log open now
        with open(fgo1, "w"):
            pass
        pw.wait_until(lambda: os.path.exists(swapped), "the log swapped")
        d.start()
        with open(fgo2, "w"):
            pass
        run = d.wait_run(rid)
        eq(run["status"], "success", "the run after the swap")
        eq(d.get("/healthz").status, 200, "the daemon serves")
        log = d.get("/api/v1/runs/%d/jobs/fifo/log" % rid).text
        expect(log.startswith("$ echo before\nbefore\n"),
               "the stored part: %r" % log[:200])
        expect("after" not in log.replace("$ echo after", ""),
               "bytes read from the FIFO: %r" % log)
    fgo1 = os.path.join(t.tmp, "fifo-go1")
    fgo2 = os.path.join(t.tmp, "fifo-go2")
    t.check("a FIFO in the log's place: refused, the daemon serves on", fifo)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
