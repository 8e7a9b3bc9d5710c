"""Schedules: a slot missed while the daemon was down runs once at start,
with trigger "schedule" and actor "schedule"; a restart does not run it
again.  Also the outbox listing answers (empty here) and refuses a bad
state."""
import os
import sqlite3
import time

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  nightly:
    script: echo "nightly on $PIPEWRIGHT_BRANCH"
"""
SPEC = "0 0 1 1 *"  # once a year: the next slot is months away


def main(t):
    d = t.daemon(projects={"nightly": PIPELINE}, start=False)
    with open(d.config_path) as f:
        text = f.read()
    text = text.replace("    pipeline: nightly.yml",
                        "    pipeline: nightly.yml\n"
                        "    schedules: [{cron: \"%s\", ref: main}]" % SPEC)
    with open(d.config_path, "w") as f:
        f.write(text)
    # The last fire was two years ago: this year's slot was missed.
    db = sqlite3.connect(os.path.join(d.data, "pipewright.db"))
    with db:
        db.execute("INSERT INTO schedules (project, spec, ref, last_fire) "
                   "VALUES (?, ?, ?, ?)",
                   ("nightly", SPEC, "main", int((time.time() - 2 * 366 * 86400) * 1000)))
    db.close()

    def missed_runs_once():
        d.start()
        d.wait_log(r"schedule\.fired project=nightly")
        runs = d.get_json("/api/v1/projects/nightly/runs")["items"]
        eq(len(runs), 1, "runs after the start")
        run = d.wait_run(runs[0]["id"])
        eq((run["trigger"], run["actor"], run["ref"], run["branch"], run["status"]),
           ("schedule", "schedule", "refs/heads/main", "main", "success"),
           "the scheduled run")
        log = d.get("/api/v1/runs/%d/jobs/nightly/log" % run["id"]).text
        expect("nightly on main" in log, "the job's log: %r" % log)
    t.check("a slot missed while down runs once at start", missed_runs_once)

    def not_again():
        d.stop()
        d.start()
        # A run triggered now is committed after anything the start queued.
        rid = d.trigger("nightly")["id"]
        d.wait_run(rid)
        runs = d.get_json("/api/v1/projects/nightly/runs")["items"]
        eq(sorted(r["trigger"] for r in runs), ["api", "schedule"],
           "runs after a restart")
    t.check("a restart does not run the same slot again", not_again)

    def outbox():
        eq(d.get_json("/api/v1/outbox?state=failed"), {"items": [], "next_cursor": None},
           "no failed calls")
        d.expect_error(d.get("/api/v1/outbox?state=lost"), 400, "bad_request",
                       "unknown state 'lost'; expected pending, delivered or failed")
    t.check("the outbox listing", outbox)
    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
