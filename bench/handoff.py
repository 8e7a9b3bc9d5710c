#!/usr/bin/env python3
"""bench/handoff.py LOG SLOTS: the exit -> next execve gap by stages.

Reads a daemon's debug log (PIPEWRIGHT_DEBUG=1): the `attempt.stamps`
lines (the supervisor's CLOCK_MONOTONIC stamps: spec received by a pooled
supervisor, execve, exit, output drained and status begun, and the
daemon's END seen) and the `attempt.stage` lines (the daemon's: the end's
write queued and committed, the next attempt's row queued and committed,
its workspace ready, exec_start called and returned).  Pairs each exit
with the execve that fills its slot as bench/gaps.py does (the slot free
longest is filled first), and prints, for each stage, the time since the
exit (p50 / p90 / p99 µs): the first half from the ended attempt's stamps,
the second from the starting one's.
"""
import heapq
import re
import sys

LOG, SLOTS = sys.argv[1], int(sys.argv[2])
st_rx = re.compile(r"attempt\.stamps run=(\d+) job=(\d+) attempt=(\d+) (.*)")
sg_rx = re.compile(r"attempt\.stage run=(\d+) job=(\d+) attempt=(\d+) "
                   r"stage=(\w+) mono_us=(\d+)")
att = {}
with open(LOG, errors="replace") as f:
    for line in f:
        m = st_rx.search(line)
        if m:
            k = (m.group(1), m.group(2), m.group(3))
            d = att.setdefault(k, {})
            for kv in m.group(4).split():
                n, _, v = kv.partition("=")
                if n.endswith("_mono_us") and int(v) != 0:
                    d[n[:-8]] = int(v)
            continue
        m = sg_rx.search(line)
        if m:
            k = (m.group(1), m.group(2), m.group(3))
            att.setdefault(k, {}).setdefault(m.group(4), int(m.group(5)))
runs = sorted((d for d in att.values() if "execve" in d and "exited" in d),
              key=lambda d: d["execve"])
END = ["drained", "end_seen", "end_queued", "end_committed"]
START = ["row_queued", "row_committed", "workspace_ready", "start",
         "started", "spec", "execve"]
free = [(float("-inf"), -i, None) for i in range(SLOTS)]
rows = {s: [] for s in END + START}
tick = 0
for d in runs:
    _, _, prev = heapq.heappop(free)
    if prev is not None:
        for s in END:
            if s in prev:
                rows[s].append(prev[s] - prev["exited"])
        for s in START:
            if s in d:
                rows[s].append(d[s] - prev["exited"])
    tick += 1
    heapq.heappush(free, (d["exited"], tick, d))


def pct(v, q):
    v = sorted(v)
    return v[max(0, min(len(v) - 1, int(q / 100.0 * len(v) + 0.999999) - 1))]


print("%-16s %6s %9s %9s %9s" % ("since the exit", "n", "p50 us",
                                 "p90 us", "p99 us"))
for s in END + START:
    v = rows[s]
    if v:
        print("%-16s %6d %9d %9d %9d" % (s, len(v), pct(v, 50), pct(v, 90),
                                         pct(v, 99)))
