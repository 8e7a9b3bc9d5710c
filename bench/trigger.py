#!/usr/bin/env python3
"""bench/trigger.py PORT TOKEN N TIMEOUT OUT [POLL_MS]: runs one after another.

Triggers a run of project 'b' over the API (POST /api/v1/projects/b/runs),
waits until the run is final, then triggers the next, N times.  A run's
latency is from just before its POST is sent to the first answer of
GET /api/v1/runs/ID that has its finished_at; that GET is asked every
POLL_MS milliseconds (default 1) over its own keep-alive connection: the
daemon answers at most a thousand small reads a second, and the figure
is late by at most one interval.  The store's own span, created_at to
finished_at, is kept beside it.

A run not final after TIMEOUT seconds stops the measurement: it is
reported (its id and last status), never waited for longer.  Writes each
latency (ms) to OUT, one a line, and prints one JSON object: the
percentiles, each run's store span, the runs' statuses.
"""
import datetime
import http.client
import json
import sys
import time

PORT, TOKEN, N, TIMEOUT, OUT = (int(sys.argv[1]), sys.argv[2],
                                int(sys.argv[3]), float(sys.argv[4]),
                                sys.argv[5])
POLL = (float(sys.argv[6]) if len(sys.argv) > 6 else 1.0) / 1000


def ms(stamp):
    """RFC 3339 with milliseconds and Z -> ms since the epoch."""
    t = datetime.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000


def pct(v, q):
    if not v:
        return None
    s = sorted(v)
    k = max(0, min(len(s) - 1, int(q / 100.0 * len(s) + 0.999999) - 1))
    return round(s[k], 2)


post = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
poll = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
hdr = {"Authorization": "Bearer " + TOKEN,
       "Content-Type": "application/json"}
lat, store, ids, statuses, polls = [], [], [], {}, 0
stuck = None
for i in range(N):
    t0 = time.monotonic()
    post.request("POST", "/api/v1/projects/b/runs", body="{}", headers=hdr)
    r = post.getresponse()
    body = r.read()
    if r.status // 100 != 2:
        stuck = {"trigger": i, "http_status": r.status,
                 "answer": body[:200].decode(errors="replace")}
        break
    run = json.loads(body)["id"]
    deadline = t0 + TIMEOUT
    while True:
        poll.request("GET", "/api/v1/runs/%d" % run)
        a = poll.getresponse()
        doc = json.loads(a.read())
        polls += 1
        t1 = time.monotonic()
        if doc.get("finished_at"):
            break
        if t1 > deadline:
            stuck = {"run": run, "status": doc.get("status"),
                     "jobs": [(j["name"], j["status"])
                              for j in doc.get("jobs", [])][:8],
                     "waited_s": round(t1 - t0, 1)}
            break
        time.sleep(POLL)
    if stuck:
        break
    lat.append((t1 - t0) * 1000)
    ids.append(run)
    store.append(ms(doc["finished_at"]) - ms(doc["created_at"]))
    statuses[doc["status"]] = statuses.get(doc["status"], 0) + 1

with open(OUT, "w") as f:
    for x in lat:
        f.write("%.3f\n" % x)
print(json.dumps({
    "runs": len(lat), "runs_wanted": N, "statuses": statuses,
    "stuck": stuck, "polls": polls, "poll_ms": POLL * 1000,
    "p50_ms": pct(lat, 50), "p90_ms": pct(lat, 90), "p99_ms": pct(lat, 99),
    "max_ms": round(max(lat), 2) if lat else None,
    "mean_ms": round(sum(lat) / len(lat), 2) if lat else None,
    "store_p50_ms": pct(store, 50), "store_p99_ms": pct(store, 99),
    "small": {"run_ids": ids, "ms": [round(x, 1) for x in lat],
              "store_ms": [round(x) for x in store]} if N <= 20 else None}))
