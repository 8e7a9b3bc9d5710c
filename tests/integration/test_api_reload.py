"""SIGHUP reloads the configuration: a bad file is refused with its
FILE:LINE:COLUMN problems in the log and the running configuration kept
(the daemon still serves it); a good file adds a project, which the API
then lists and runs; a project removed by a reload is gone from the API
while its runs stay readable."""
import os
import signal

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: echo "built run $PIPEWRIGHT_RUN_ID"
"""


def names(d):
    return [p["name"] for p in d.get_json("/api/v1/projects")["items"]]


def main(t):
    d = t.daemon(projects={"demo": PIPELINE})
    good = open(d.config_path).read()
    st = {}

    def bad():
        lines = good.splitlines()
        lines.insert(3, "max_jbos: 3")
        with open(d.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")
        d.signal(signal.SIGHUP)
        d.wait_log(r"config\.reload failed: keeping the running configuration")
        expect(("config.invalid %s:4:1: unknown top-level key 'max_jbos'; "
                "did you mean 'max_jobs'?" % d.config_path) in d.log(),
               "the problem with FILE:LINE:COLUMN in the log:\n%s" % d.log()[-1500:])
        eq(names(d), ["demo"], "projects")
        rid = d.trigger("demo", {})["id"]
        eq(d.wait_run(rid)["status"], "success", "a run of the kept configuration")
        st["demo_run"] = rid
        eq(d.get("/healthz").status, 200, "healthz")
    t.check("SIGHUP with a bad config: reload failed, the old one kept and served", bad)

    def add():
        d.write_config({"demo": PIPELINE, "added": PIPELINE})
        d.signal(signal.SIGHUP)
        d.wait_log(r"config\.reloaded path=\S+ projects=2")
        eq(names(d), ["demo", "added"], "projects")
        run = d.trigger("added", {})
        eq(run["project"], "added", "project")
        eq(d.wait_run(run["id"])["status"], "success", "the new project's run")
        eq(d.get("/api/v1/runs/%d/jobs/build/log" % run["id"]).text.splitlines()[-1],
           "built run %d" % run["id"], "its log (PIPEWRIGHT_RUN_ID)")
        eq(len(d.get_json("/api/v1/projects/added/runs")["items"]), 1, "its list")
    t.check("SIGHUP with a good config: the new project is listed and runs", add)

    def remove():
        d.write_config({"added": PIPELINE})
        d.signal(signal.SIGHUP)
        d.wait_log(r"config\.reloaded path=\S+ projects=1")
        eq(names(d), ["added"], "projects")
        d.expect_error(d.get("/api/v1/projects/demo/runs"), 404, "not_found",
                       "no project 'demo'", "the removed project's runs")
        d.expect_error(d.post("/api/v1/projects/demo/runs", body={}, token="operator"), 404,
                       "not_found", "no such project", "trigger of the removed project")
        eq(d.run(st["demo_run"])["status"], "success", "its old run is still readable")
    t.check("SIGHUP dropping a project: 404 for it, its runs still readable", remove)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
