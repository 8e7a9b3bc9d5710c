"""The network is the admin's grant, never the pipeline author's: a job
with `network: true` runs only in a project whose config says
`sandbox: {network: allow}`, and never for a pull request from a fork,
whatever the project says.  Where it is denied, the job fails at its start
with the reason (its script never runs; it is not run offline either).
Under `sandbox: none` (no root needed), since the grant is decided before
the sandbox; test_sandbox_net and test_api_network cover what a granted
strict job can reach."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  show:
    network: true
    script:
      - echo "the script ran"
"""


def main(t):
    origin = wh.Origin(t)
    base = origin.commit("base", {".pipewright.yml": PIPELINE})
    origin.push()
    origin.checkout("feature", create=True)
    pr = origin.commit("pr", {"content.txt": "pr\n"})
    origin.push("refs/pull/7/head")
    origin.push("refs/pull/8/head")

    d = t.daemon(projects={
        "granted": wh.project(t, origin, "github", sandbox="{network: allow}"),
        "plain": wh.project(t, origin, "github", forge_repo="acme/plain"),
    })

    def job_of(rid):
        """The run, and its job's last attempt."""
        run = d.wait_run(rid)
        job = [j for j in run["jobs"] if j["name"] == "show"][0]
        expect(job["attempts"], "job without attempts: %r" % job)
        return run, job["attempts"][-1]

    def granted_same_repo():
        r = wh.hook(d, "github", wh.github_pr(pr, 7), event="pull_request")
        run, job = job_of(wh.accepted(r))
        eq(run["status"], "success", "run status (%r)" % job)
        expect("the script ran" in wh.job_log(d, run["id"]), "the script ran")
    t.check("a granted project's own PR gets the network", granted_same_repo)

    def granted_fork():
        r = wh.hook(d, "github", wh.github_pr(pr, 8, fork=True), event="pull_request")
        run, job = job_of(wh.accepted(r))
        eq(run["fork"], True, "fork")
        eq(run["status"], "failed", "run status")
        eq(job["reason"], "network: denied to pull requests from forks", "reason")
        expect("the script ran" not in wh.job_log(d, run["id"]),
               "the script ran without its network")
    t.check("a fork's PR is denied the network even where granted", granted_fork)

    def not_granted():
        r = wh.hook(d, "github", wh.github_push(base, repo="acme/plain"), event="push")
        rid = wh.accepted(r)
        run, job = job_of(rid)
        eq(run["status"], "failed", "run status")
        eq(job["reason"], "network: denied by the project's sandbox configuration",
           "reason")
        expect("the script ran" not in wh.job_log(d, rid),
               "the script ran without its network")
    t.check("a project without the grant: the job fails saying so", not_granted)


pw.main(main)
