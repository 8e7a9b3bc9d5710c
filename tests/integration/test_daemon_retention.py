"""Retention (keep_runs) off the run's end: a project's finished runs over
keep_runs are pruned shortly after a run ends, the oldest first; a
history far over the limit (rows written into the store by hand, counted
by the store's triggers) is pruned at start in batches of 100, one
transaction each, down to keep_runs."""
import os
import sqlite3
import time

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [s]
jobs:
  t:
    stage: s
    script: "true"
"""

KEEP = 3


def ids(d):
    p = d.get_json("/api/v1/projects/demo/runs?limit=200")
    return sorted(r["id"] for r in p["items"])


def main(t):
    d = t.daemon(projects={"demo": PIPELINE}, start=False)
    # The same project (its file written above), with keep_runs.
    d.write_config({"demo": {"pipeline": "demo.yml", "keep_runs": str(KEEP)}})
    d.start()
    made = []

    def after_runs():
        for _ in range(KEEP + 3):
            rid = d.trigger("demo")["id"]
            eq(d.wait_run(rid)["status"], "success", "run %d" % rid)
            made.append(rid)
        # The last runs' prune comes after their end: wait for it.
        left = pw.wait_until(lambda: (lambda x: x if len(x) == KEEP else None)(ids(d)),
                             "%d runs left" % KEEP)
        eq(left, made[-KEEP:], "the newest runs stay")
        expect("runs.pruned project=demo" in d.log(), "runs.pruned logged")
    t.check("runs over keep_runs are pruned after a run, the oldest first",
            after_runs)

    def at_start():
        d.stop()
        db = sqlite3.connect(os.path.join(d.data, "pipewright.db"))
        now = int(time.time() * 1000)
        with db:
            db.executemany(
                "INSERT INTO runs (project, status, trigger_kind,"
                " created_at, started_at, finished_at) VALUES"
                " ('demo', 'success', 'api', ?1, ?1, ?1)",
                [(now - 1000000 + i,) for i in range(250)])
            eq(db.execute("SELECT finished FROM run_counts WHERE project ="
                          " 'demo'").fetchone()[0], KEEP + 250,
               "rows inserted by hand are counted")
        db.close()
        since = len(d.log())
        d.start()
        pw.wait_until(lambda: len(ids(d)) == KEEP, "%d runs left" % KEEP)
        batches = [l for l in d.log()[since:].splitlines()
                   if "runs.pruned project=demo" in l]
        eq([l.split("count=")[1] for l in batches], ["100", "100", "50"],
           "pruned in batches of 100")
    t.check("a history far over keep_runs is pruned at start in batches",
            at_start)


pw.main(main)
