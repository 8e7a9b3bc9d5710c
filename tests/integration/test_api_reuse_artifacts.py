"""Artifacts through the daemon, in the strict sandbox where it can run
(else sandbox none, saying so): build's artifacts reach test, which runs
the built program from its own fresh workspace, the restored files
belonging to the job's user; `rerun --failed` of test restores them into
its new workspace; build's log warns of a glob that matched nothing and
of a declared path behind a symlink to /etc, and nothing of /etc is in
the archive; a job whose artifacts pass artifacts.max_size fails saying
so; a job needing an artifact past its expire_in fails at once with the
message that names it (keep_latest off), without running its script."""
import time

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

PIPELINE = r"""
stages: [build, test]
jobs:
  build:
    stage: build
    script:
      - mkdir -p out/bin
      - printf '#!/bin/sh\necho built-app-ran\n' > out/bin/app
      - chmod +x out/bin/app
      - echo data > out/data.txt
      - ln -s /etc etc_link
    artifacts:
      paths: [out/, etc_link/shadow, "nothing/*.x"]
  test:
    stage: test
    needs: [build]
    script:
      - ./out/bin/app
      - test "$(stat -c %u out/bin/app)" = "$(id -u)" && echo "owner ok"
      - test ! -e etc_link && echo "no link"
      - test "$PIPEWRIGHT_ATTEMPT" -ge 2
"""

EXPIRY = r"""
stages: [build, test]
jobs:
  build:
    stage: build
    script: [echo x > f]
    artifacts: {paths: [f], expire_in: 1s}
  test:
    stage: test
    when: manual
    script: [echo test-script-ran, cat f]
"""

BIG = r"""
jobs:
  big:
    script: [head -c 200000 /dev/urandom > big.bin]
    artifacts: {paths: [big.bin]}
"""


def main(t):
    origin = wh.Origin(t)
    origin.commit("first", {".pipewright.yml": PIPELINE})
    origin.push()
    why = pw.strict_sandbox_missing()
    mode = "strict"
    if why:
        print("NOTE: the strict sandbox cannot run here (%s): sandbox none" % why)
        mode = "none"
    d = t.daemon(projects={
        "app": {"repo": origin.bare},
        "exp": EXPIRY, "big": BIG,
    }, config="sandbox: %s\nartifacts: {max_size: 65536, keep_latest: false}\n" % mode)
    st = {}

    def passed():
        rid = d.trigger("app", {"ref": "main"})["id"]
        st["rid"] = rid
        run = d.wait_run(rid)
        eq(run["status"], "failed", "run status (the first test attempt fails)")
        eq(d.job(rid, "build")["status"], "success", "build")
        blog = wh.job_log(d, rid, "build")
        expect("artifacts saved: build," in blog, "build's log:\n%s" % blog)
        expect("warning: artifacts: nothing/*.x" in blog, "no glob warning:\n%s" % blog)
        expect("etc_link/shadow" in blog and "warning" in blog,
               "no warning of the link out:\n%s" % blog)
        tlog = wh.job_log(d, rid, "test")
        expect("artifacts of build restored:" in tlog, "test's log:\n%s" % tlog)
        expect("built-app-ran" in tlog, "the built program did not run:\n%s" % tlog)
        expect("owner ok" in tlog, "restored files are not the job's:\n%s" % tlog)
        arts = d.get_json("/api/v1/runs/%d/artifacts" % rid)["items"]
        eq([a["name"] for a in arts], ["build"], "the run's artifacts")
        r = d.get("/api/v1/runs/%d/artifacts/build?path=out/data.txt" % rid)
        eq((r.status, r.text), (200, "data\n"), "one file of the artifact")
        r = d.get("/api/v1/runs/%d/artifacts/build?path=etc_link/shadow" % rid)
        eq(r.status, 404, "/etc/shadow through the link is not in the archive")
    t.check("build's artifacts run in test; warnings for a link out and an empty glob",
            passed)

    def rerun():
        rid = st["rid"]
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": "failed"}, token="operator")
        eq(r.status, 200, "rerun (%r)" % r.body)
        run = d.wait_run(rid)
        tlog = wh.job_log(d, rid, "test")
        eq(run["status"], "success", "after the rerun (log:\n%s)" % tlog)
        expect("artifacts of build restored:" in tlog and "built-app-ran" in tlog,
               "the rerun's log:\n%s" % tlog)
    t.check("rerun --failed restores build's artifacts into the new workspace", rerun)

    def expiry():
        rid = d.trigger("exp", {})["id"]
        d.wait_job(rid, "test", ("waiting", "manual"))
        arts = d.get_json("/api/v1/runs/%d/artifacts" % rid)["items"]
        eq(len(arts), 1, "one artifact")
        expires = arts[0]["expires"]
        expect(expires is not None, "no expiry: %r" % arts)
        # Until the server's clock (the Date of a response) is past it.
        exp_s = time.mktime(time.strptime(expires[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone

        def past():
            r = d.get("/healthz")
            date = r.header("Date")
            now = time.mktime(time.strptime(date, "%a, %d %b %Y %H:%M:%S GMT")) - time.timezone
            return now >= exp_s + 1
        pw.wait_until(past, "the artifact's expiry to pass")
        r = d.post("/api/v1/runs/%d/jobs/test/approve" % rid, token="operator")
        eq(r.status, 200, "approve (%r)" % r.body)
        run = d.wait_run(rid)
        eq(run["status"], "failed", "run status")
        j = d.job(rid, "test")
        eq(j["status"], "failed", "test's status")
        reason = j["attempts"][-1].get("reason") or ""
        want = "artifact 'build' of job 'build' in run %d expired at" % rid
        expect(want in reason, "reason: %r" % j)
        expect("pipewright rerun %d build" % rid in reason, "what to do: %r" % reason)
    t.check("an expired artifact fails the job that needs it, saying which", expiry)

    def big():
        rid = d.trigger("big", {})["id"]
        run = d.wait_run(rid)
        eq(run["status"], "failed", "run status")
        j = d.job(rid, "big")
        expect("above max_size 64 KiB" in (j["attempts"][-1].get("reason") or ""),
               "reason: %r" % j)
        log = wh.job_log(d, rid, "big")
        expect("above max_size" in log, "log:\n%s" % log)
        eq(d.get_json("/api/v1/runs/%d/artifacts" % rid)["items"], [], "no artifact kept")
    t.check("an artifact over max_size fails its job with the message", big)
    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
