"""The admin's toolchain for the daemon's strict jobs: `sandbox.mounts`
binds a host directory read-only at its path in every job, `sandbox.env`
gives every job variables (its PATH here) that a pipeline's `env`
overrides, and a project's own `sandbox.env` adds to the top level's,
winning for a name both set.  The job runs the mounted tool and cannot
write into it; the host directory is checked afterwards.  Skipped (77)
where the strict sandbox cannot run."""
import os
import shutil
import tempfile

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = r"""
env: {OVER: pipeline}
jobs:
  tool:
    script:
      - pwtool
      - echo "var=$TOOLVAR over=$OVER only=$ADMIN_ONLY"
      - touch "$(dirname "$(command -v pwtool)")/x" 2>/dev/null && echo tool-WRITABLE || echo tool-readonly
"""


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    # Not below /tmp: the sandbox mounts its own /tmp there.
    tool = tempfile.mkdtemp(prefix="pw-tool.", dir="/var/tmp")
    try:
        os.mkdir(os.path.join(tool, "bin"))
        with open(os.path.join(tool, "bin", "pwtool"), "w") as f:
            f.write("#!/bin/sh\necho tool-ok\n")
        os.chmod(os.path.join(tool, "bin", "pwtool"), 0o755)
        os.chmod(tool, 0o755)
        run_checks(t, tool)
    finally:
        shutil.rmtree(tool, ignore_errors=True)


def run_checks(t, tool):
    config = ("sandbox:\n  mode: strict\n  mounts: [%s]\n"
              "  env: {PATH: '%s/bin:/usr/bin:/bin', TOOLVAR: top, OVER: admin,"
              " ADMIN_ONLY: yes}" % (tool, tool))
    d = t.daemon(projects={"top": PIPELINE}, config=config, start=False)
    pipeline = os.path.join(d.dir, "top.yml")
    d.write_config({"top": PIPELINE,
                    "own": {"pipeline": pipeline,
                            "sandbox": "{env: {TOOLVAR: mine}}"}},
                   config=config)
    d.start()

    def job(project, var):
        rid = d.trigger(project)["id"]
        run = d.wait_run(rid)
        log = d.get("/api/v1/runs/%d/jobs/tool/log" % rid).text
        eq(run["status"], "success", "run status (log: %r)" % log)
        lines = log.splitlines()
        for want in ("tool-ok", "var=%s over=pipeline only=yes" % var, "tool-readonly"):
            expect(want in lines, "%r missing from %r" % (want, log))
        expect(not os.path.exists(os.path.join(tool, "bin", "x")),
               "the job wrote into the host's toolchain")
    t.check("the top level's mount and env reach a job; the pipeline's env wins",
            job, "top", "top")
    t.check("a project's sandbox.env adds to the top level's, winning", job, "own",
            "mine")

    def refused():
        d.write_config({"top": PIPELINE},
                       config="sandbox:\n  mounts: [relative/x]")
        d.stop()
        d.start(expect_fail=True)
        expect("mount 'relative/x' in 'sandbox': expected an absolute path other than /"
               in d.log(), "the refusal in the log:\n%s" % d.log()[-2000:])
    t.check("a bad mount in the config is refused at load, saying why", refused)


if __name__ == "__main__":
    pw.main(main)
