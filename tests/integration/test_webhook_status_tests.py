"""A commit status says how the tests went: a push whose job writes a
JUnit report with 1 failure of 3 ends with a GitHub status `failure`
whose description is "pipewright run N: failed, 1 test failed of 3"
(and the job's own context, with status_per_job, says the same of the
job); a job without reports keeps the plain description."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq

PIPELINE = r"""
jobs:
  unit:
    script:
      - mkdir -p out
      - printf '<testsuite name="s"><testcase name="a"/><testcase name="b"><failure/></testcase><testcase name="c"/></testsuite>' > out/r.xml
      - exit 1
    reports: {junit: [out/r.xml]}
  lint:
    script: [true]
"""

STATUS_TOKEN = "ghp_status_token_456"


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("tests", {".pipewright.yml": PIPELINE})
    origin.push()
    rec = wh.Receiver(t)
    token = "{file: %s}" % wh.secret_file(t, "status-token", STATUS_TOKEN)
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github", forge_api=rec.url,
                          status_token=token, status_per_job="true"),
    })
    path = "/repos/%s/statuses/%s" % (wh.FORGE_REPO, sha)

    def final(calls, ctx):
        return [c["json"] for c in calls if c["path"] == path and
                c["json"].get("context") == ctx and
                c["json"].get("state") in ("success", "failure")]

    def described():
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(sha)))
        eq(d.wait_run(rid)["status"], "failed", "run status")
        calls = rec.wait(lambda cs: final(cs, "pipewright/app") and
                         final(cs, "pipewright/app/unit") and
                         final(cs, "pipewright/app/lint"), "the final statuses")
        eq(final(calls, "pipewright/app")[-1]["description"],
           "pipewright run %d: failed, 1 test failed of 3" % rid, "the run's")
        eq(final(calls, "pipewright/app/unit")[-1]["description"],
           "pipewright run %d: failed, 1 test failed of 3" % rid, "unit's")
        eq(final(calls, "pipewright/app/lint")[-1]["description"],
           "pipewright run %d: success" % rid, "lint's (no reports)")
    t.check("the status description has the tests' counts", described)


if __name__ == "__main__":
    pw.main(main)
