#!/usr/bin/env python3
"""bench/gaps.py LOG SLOTS OUT: B5's queue-to-start gaps from a daemon log.

The daemon (PIPEWRIGHT_DEBUG=1) logs one line per attempt end,
`attempt.stamps run=R job=J attempt=A execve_mono_us=X exited_mono_us=Y`,
the supervisor's CLOCK_MONOTONIC stamps of the job's execve and of its
exit.  With SLOTS job slots and a queue that is never empty, every exit
frees a slot and some later execve fills it.  The attempts are taken in
execve order; each one after the first SLOTS fills the slot that has been
free the longest (the earliest exit not yet followed by a start), and its
gap is its execve minus that exit.  Writes each gap (ms) to OUT, one a
line, and prints JSON: counts and the percentiles in microseconds.
"""
import heapq
import json
import re
import sys

LOG, SLOTS, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
rx = re.compile(r"attempt\.stamps run=(\d+) job=(\d+) attempt=(\d+) "
                r"execve_mono_us=(\d+) exited_mono_us=(\d+)")
att, unknown = [], 0
with open(LOG, errors="replace") as f:
    for line in f:
        m = rx.search(line)
        if not m:
            continue
        x, y = int(m.group(4)), int(m.group(5))
        if x == 0 or y == 0:
            unknown += 1
            continue
        att.append((x, y))
att.sort()
free = [float("-inf")] * SLOTS   # when each slot became free
gaps, negative = [], 0
for x, y in att:
    f = heapq.heappop(free)
    if f != float("-inf"):
        g = x - f
        if g < 0:
            negative += 1   # a slot filled before it was free: reported
        gaps.append(g)
    heapq.heappush(free, y)
with open(OUT, "w") as f:
    for g in gaps:
        f.write("%.3f\n" % (g / 1000.0))


def pct(v, q):
    if not v:
        return None
    k = max(0, min(len(v) - 1, int(q / 100.0 * len(v) + 0.999999) - 1))
    return v[k]


s = sorted(gaps)
print(json.dumps({"attempts": len(att) + unknown, "unknown_stamps": unknown,
                  "pairs": len(s), "negative": negative,
                  "p50_us": pct(s, 50), "p90_us": pct(s, 90),
                  "p99_us": pct(s, 99), "max_us": s[-1] if s else None,
                  "mean_us": round(sum(s) / len(s), 1) if s else None}))
