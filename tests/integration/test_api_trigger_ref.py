"""POST /api/v1/projects/P/runs on a project with a repository: "ref":
"main" without a commit runs the branch's head (stored as refs/heads/main,
branch main); no ref runs the default branch, the one the repository's
HEAD names (here "trunk", not "main"), unless the project's
default_branch says which (it wins over HEAD); "ref" and "commit" together run
that commit; a bare "feature" is the branch feature.  A ref the repository
lacks is 422 and a commit that is no sha 400, and neither makes a run."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect


def main(t):
    origin = wh.Origin(t)
    first = origin.commit("first", {".pipewright.yml": wh.PIPELINE, "content.txt": "first\n"})
    head = origin.commit("second", {"content.txt": "second\n"})
    origin.push()
    origin.checkout("feature", create=True)
    feature = origin.commit("feature", {"content.txt": "feature\n"})
    origin.push("refs/heads/feature")
    origin.checkout("main")
    # A second repository whose default branch is trunk.
    other = wh.Origin(t, "other")
    trunk = other.commit("trunk", {".pipewright.yml": wh.PIPELINE, "content.txt": "trunk\n"})
    other.push("refs/heads/trunk")
    other.git("symbolic-ref", "HEAD", "refs/heads/trunk", cwd=other.bare)
    # A third whose HEAD names main, configured with default_branch: dev.
    third = wh.Origin(t, "third")
    third_main = third.commit("main", {".pipewright.yml": wh.PIPELINE,
                                       "content.txt": "on main\n"})
    third.push()
    third.checkout("dev", create=True)
    dev = third.commit("dev", {"content.txt": "on dev\n"})
    third.push("refs/heads/dev")
    d = t.daemon(projects={
        "app": {"repo": origin.bare},
        "other": {"repo": other.bare},
        "pinned": {"repo": third.bare, "default_branch": "dev"},
    })

    def ran(project, body, ref, branch, commit, content):
        r = d.trigger(project, body)
        eq((r["ref"], r["branch"], r["commit"]), (ref, branch, commit),
           "ref, branch, commit of %r" % body)
        run = d.wait_run(r["id"])
        eq(run["status"], "success", "run of %r (log: %s)" % (body, wh.run_log(d, r["id"])))
        expect(content in wh.job_log(d, r["id"]), "the job saw %r" % content)

    t.check('"ref": "main" without a commit: the head of main',
            ran, "app", {"ref": "main"}, "refs/heads/main", "main", head, "second")
    t.check("no ref: the default branch",
            ran, "app", {}, "refs/heads/main", "main", head, "second")
    t.check("no ref: the branch HEAD names (trunk)",
            ran, "other", {}, "refs/heads/trunk", "trunk", trunk, "trunk")
    t.check("no ref, default_branch: dev: the head of dev, not HEAD's main",
            ran, "pinned", {}, "refs/heads/dev", "dev", dev, "on dev")
    t.check("default_branch: dev and a commit of main without a ref: that commit",
            ran, "pinned", {"commit": third_main}, "refs/heads/dev", "dev", third_main,
            "on main")
    t.check('"ref": "main" on the same project: main',
            ran, "pinned", {"ref": "main"}, "refs/heads/main", "main", third_main, "on main")
    t.check('"ref": "main" with a commit: that commit',
            ran, "app", {"ref": "main", "commit": first}, "refs/heads/main", "main", first,
            "first")
    t.check('"ref": "feature": the branch feature',
            ran, "app", {"ref": "feature"}, "refs/heads/feature", "feature", feature,
            "feature")
    t.check('"ref": "refs/heads/feature" as before',
            ran, "app", {"ref": "refs/heads/feature"}, "refs/heads/feature", "feature",
            feature, "feature")

    def refused():
        before = len(wh.runs(d))
        d.expect_error(d.post("/api/v1/projects/app/runs", body={"ref": "nope"},
                              token="operator"),
                       422, "unprocessable_entity", "the repository has no refs/heads/nope",
                       what="unknown branch")
        d.expect_error(d.post("/api/v1/projects/app/runs", body={"commit": "abc"},
                              token="operator"), 400, "bad_request", what="a short commit")
        eq(len(wh.runs(d)), before, "runs made")
    t.check("an unknown ref: 422; a commit that is no sha: 400; no run", refused)
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
