#!/usr/bin/env python3
"""bench/run B10: the dashboard in Debian's chromium (tests/browser's
packages, installed into the test cache).  Prints one JSON object.

- the runs list's first render (navigation start to the first page of
  rows in the table, Performance API mark) with 10 runs stored, then with
  100,000 (the rest inserted into the stopped daemon's store by sqlite3,
  runs without jobs, as a long history has);
- a 50 MB log (819,200 lines): navigation start to its last lines drawn;
- the daemon's utime+stime while one tab shows a running job's log (the
  tab's event stream open, the job printing nothing) for SECONDS.

PW_BIN names the daemon; argv: QUICK (1: fewer repetitions, 10 s idle)."""
import json
import os
import sqlite3
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
sys.path.insert(0, os.path.join(ROOT, "tests", "browser"))
import pwdaemon as pw  # noqa: E402
import pipelines  # noqa: E402
from browserenv import install  # noqa: E402

QUICK = len(sys.argv) > 1 and sys.argv[1] == "1"
TIMES = 3 if QUICK else 7
IDLE = 10 if QUICK else 60
RESULT = {}


def browser(modules, chromium, t, d, **kw):
    cfg = os.path.join(t.tmp, "b10.json")
    with open(cfg, "w") as f:
        json.dump(dict(url=d.url, tokens=d.tokens, chromium=chromium, gate=t.tmp, **kw), f)
    p = subprocess.run(["node", os.path.join(ROOT, "tests", "browser", "b10.mjs"), cfg],
                       env=dict(os.environ, NODE_PATH=modules), capture_output=True,
                       text=True, timeout=900)
    if p.returncode != 0:
        pw.fail("b10.mjs: %s" % p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main(t):
    modules, chromium = install()
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    # The history below must stay while it is measured: retention may
    # look at a project as soon as the daemon starts, so the project
    # keeps more runs than it will hold, all younger than keep_days.
    app = os.path.join(t.tmp, "app.yml")
    with open(app, "w") as f:
        f.write(pipelines.APP)
    d = t.daemon(projects={"app": {"pipeline": app, "keep_runs": "1000000"},
                           "big": pipelines.BIG})
    for i in range(10):
        k = "r%d" % i
        for g in ("compile", "unit-pass"):
            open(os.path.join(gate, "%s.%s" % (k, g)), "w").close()
        d.wait_run(d.trigger("app", {"ref": "main", "env": {"GATE": gate, "KEY": k}})["id"])
    RESULT["runs_10"] = browser(modules, chromium, t, d, op="runs", times=TIMES)
    d.stop()
    db = sqlite3.connect(os.path.join(d.data, "pipewright.db"))
    base = int(time.time() * 1000) - 100000 * 1000   # one a second up to now
    with db:
        db.execute("""WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c
                      WHERE i < 99990)
                      INSERT INTO runs (project, status, trigger_kind, ref, branch,
                                        created_at, started_at, finished_at, actor)
                      SELECT 'app', CASE WHEN i % 7 = 0 THEN 'failed' ELSE 'success' END,
                             'api', 'main', CASE WHEN i % 3 = 0 THEN 'dev' ELSE 'main' END,
                             ?1 + i * 1000, ?1 + i * 1000,
                             ?1 + i * 1000 + 4000, 'token bench' FROM c""", (base,))
    RESULT["stored_runs"] = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    db.close()
    d.start()
    RESULT["runs_100k"] = browser(modules, chromium, t, d, op="runs", times=TIMES)
    RESULT["runs_ratio"] = round(RESULT["runs_100k"]["median_ms"] /
                                 max(RESULT["runs_10"]["median_ms"], 0.1), 2)
    big = d.trigger("big")["id"]
    d.wait_run(big, timeout=300)
    RESULT["log_bytes"] = d.job(big, "big")["attempts"][-1]["log_bytes"]
    RESULT["log_50mb"] = browser(modules, chromium, t, d, op="log", times=TIMES,
                                 path="/runs/%d/jobs/big" % big)
    run = d.trigger("app", {"ref": "main", "env": {"GATE": gate, "KEY": "idle"}})["id"]
    d.wait_job(run, "compile", ("running",))
    RESULT["idle_tab"] = browser(modules, chromium, t, d, op="idle", seconds=IDLE,
                                 pid=d.proc.pid, path="/runs/%d/jobs/compile" % run)
    open(os.path.join(gate, "idle.compile"), "w").close()
    t.passed += 1


if __name__ == "__main__":
    # pw.main prints its own summary on stdout: the JSON goes to fd 3.
    out = os.fdopen(3, "w") if len(sys.argv) > 2 and sys.argv[2] == "fd3" else None
    try:
        pw.main(main)
    finally:
        if out:
            out.write(json.dumps(RESULT) + "\n")
            out.close()
