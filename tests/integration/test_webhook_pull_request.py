"""Pull requests: GitHub's pull_request "opened" payload, adjusted so that
head.sha is a commit pushed only to refs/pull/7/head in the origin, runs
that commit (fetched from the PR ref, not from any branch), with
PIPEWRIGHT_PR=7, PIPEWRIGHT_FORK=false, branch = the head branch, and the
project's secret.  From a fork (head.repo not the base repository) the
run has fork=true, PIPEWRIGHT_FORK=true and its job, which names the
secret, does not get it — also when rerun — unless the project sets
secrets_on_forks: true.  A head sha that is not on the PR's ref is not
run (the checkout fails: status error, git's words in the run log).  A
GitLab merge request runs from refs/merge-requests/N/head; its fork is
source_project_id != target_project_id."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  show:
    secrets: [TOKEN]
    script:
      - cat content.txt
      - echo "pr=${PIPEWRIGHT_PR:-none} fork=${PIPEWRIGHT_FORK:-none}"
      - if [ -n "${TOKEN:-}" ]; then echo "token=set len=${#TOKEN}"; else echo token=unset; fi
"""
TOKEN = "s3cr3t-value"


def main(t):
    origin = wh.Origin(t)
    base = origin.commit("base", {".pipewright.yml": PIPELINE, "content.txt": "main content\n"})
    origin.push()
    origin.checkout("feature", create=True)
    pr7 = origin.commit("pr 7", {"content.txt": "pr7 content\n"})
    origin.push("refs/pull/7/head")
    pr8 = origin.commit("pr 8 from a fork", {"content.txt": "fork content\n"})
    origin.push("refs/pull/8/head")
    mr3 = origin.commit("mr 3", {"content.txt": "mr3 content\n"})
    origin.push("refs/merge-requests/3/head")
    lonely = origin.commit("on no ref", {"content.txt": "lonely\n"})
    origin.push("refs/heads/elsewhere")

    token_file = wh.secret_file(t, "token", TOKEN)
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github", secrets="[TOKEN]"),
        "trusting": wh.project(t, origin, "github", secrets="[TOKEN]",
                               forge_repo="acme/trusting", secrets_on_forks="true"),
        "lab": wh.project(t, origin, "gitlab", secrets="[TOKEN]"),
    }, config="secrets:\n  TOKEN: {file: %s}" % token_file)

    def pr_run(rid, sha, content, pr, fork, token, project="app"):
        run = d.wait_run(rid)
        eq(run["status"], "success", "run %d status" % rid)
        eq(run["project"], project, "project")
        eq(run["commit"], sha, "commit")
        eq(run["pr"], pr, "pr")
        eq(run["fork"], fork, "fork")
        eq(run["branch"], "feature", "branch (the head branch)")
        log = wh.job_log(d, rid)
        expect(content in log, "the job saw %r" % log)
        expect("pr=%d fork=%s" % (pr, "true" if fork else "false") in log,
               "PR variables: %r" % log)
        want = "token=set len=%d" % len(TOKEN) if token else "token=unset"
        expect(want in log, "expected %r in %r" % (want, log))
        expect(TOKEN not in log, "the token's value in the log")
        return run

    def same_repo():
        r = wh.hook(d, "github", wh.github_pr(pr7, 7), event="pull_request")
        pr_run(wh.accepted(r), pr7, "pr7 content", 7, False, True)
    t.check("PR 7 runs refs/pull/7/head's commit with PIPEWRIGHT_PR=7 and the secret",
            same_repo)

    st = {}

    def from_fork():
        r = wh.hook(d, "github", wh.github_pr(pr8, 8, fork=True), event="pull_request")
        st["fork"] = rid = wh.accepted(r)
        pr_run(rid, pr8, "fork content", 8, True, False)
    t.check("PR 8 from a fork: PIPEWRIGHT_FORK=true, no secret", from_fork)

    def rerun_fork():
        rid = st["fork"]
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": ["show"]}, token="operator")
        eq(r.status, 200, "rerun (%r)" % r.body[:300])
        d.wait_run(rid)
        pw.wait_until(lambda: len(d.job(rid, "show")["attempts"]) == 2 and
                      d.job(rid, "show")["status"] == "success", "the second attempt")
        r = d.get("/api/v1/runs/%d/jobs/show/log?attempt=2" % rid)
        eq(r.status, 200, "second attempt's log")
        expect("token=unset" in r.text and "fork=true" in r.text,
               "the rerun's job got: %r" % r.text)
    t.check("a rerun of the fork's run still has no secret", rerun_fork)

    def trusting():
        r = wh.hook(d, "github", wh.github_pr(pr8, 8, fork=True), event="pull_request",
                    project="trusting")
        pr_run(wh.accepted(r), pr8, "fork content", 8, True, True, "trusting")
    t.check("secrets_on_forks: true gives the fork's run the secret", trusting)

    def synchronize():
        p = wh.github_pr(pr7, 7, action="synchronize")
        p["before"], p["after"] = base, pr7
        r = wh.hook(d, "github", p, event="pull_request")
        pr_run(wh.accepted(r), pr7, "pr7 content", 7, False, True)
    t.check("synchronize (new commits) runs too", synchronize)

    def not_on_ref():
        # The payload claims PR 7's head is a commit that is on no PR ref:
        # the checkout refuses it.
        r = wh.hook(d, "github", wh.github_pr(lonely, 7), event="pull_request")
        rid = wh.accepted(r)
        run = d.wait_run(rid)
        eq(run["status"], "error", "status of a run whose sha is not on refs/pull/7/head")
        eq(run["jobs"], [], "jobs")
        log = wh.run_log(d, rid)
        expect(lonely in log and "refs/pull/7/head" in log.replace("%2F", "/"),
               "the run log should name the sha and the ref: %r" % log)
    t.check("a head sha not on refs/pull/7/head: error, no job runs", not_on_ref)

    def gitlab_mr(fork):
        p = wh.fixture("gitlab-merge-request.json")
        oa = p["object_attributes"]
        oa["iid"] = 3
        oa["last_commit"]["id"] = mr3
        oa["last_commit"]["message"] = "mr 3"
        oa["source_branch"], oa["target_branch"] = "feature", "main"
        oa["target_project_id"] = p["project"]["id"]
        oa["source_project_id"] = p["project"]["id"] + (1 if fork else 0)
        p["project"]["path_with_namespace"] = wh.FORGE_REPO
        r = wh.hook(d, "gitlab", p, event="Merge Request Hook")
        rid = wh.accepted(r)
        pr_run(rid, mr3, "mr3 content", 3, fork, not fork, "lab")
        expect("merge-requests/3/head" in wh.run_log(d, rid).replace("%2F", "/"),
               "fetched from refs/merge-requests/3/head")
    t.check("GitLab MR 3 runs refs/merge-requests/3/head's commit", gitlab_mr, False)
    t.check("GitLab MR from another project: fork, no secret", gitlab_mr, True)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
