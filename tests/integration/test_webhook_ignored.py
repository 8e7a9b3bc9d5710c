"""What a webhook does not run, and how it says so.  Every ignore reason
answers 202 {"ignored": REASON} and creates no run: deleted (the fixture's
deletion, as a branch and as a tag), skip_ci ([skip ci] / [ci skip] in
the head commit's message), branch_filtered (the project takes `branches:
[main]`; a push to feature, a PR into feature), event_not_handled
(another event, a closed PR, a GitLab note), no_new_commits (before ==
after).  A tag push is not branch-filtered and runs.  ping answers 200.
Errors answer JSON: malformed JSON or a missing field 400, a wrong
content type 415, a body over http.max_body 413, an unknown forge 404, a
repository no project takes 404; the daemon keeps serving after each."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": wh.PIPELINE, "content.txt": "c\n"})
    origin.push()
    origin.push("refs/tags/v1")
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github", branches="[main]"),
        "lab": wh.project(t, origin, "gitlab", branches="[main]"),
    }, config="http:\n  max_body: 64K")

    def ignored(r, reason, what, project="app"):
        eq(r.status, 202, "%s status (%r)" % (what, r.body[:300]))
        eq(r.json(), {"ignored": reason}, what + " answer")
        eq(wh.runs(d, project), [], what + ": runs")

    def deleted_branch():
        p = wh.fixture("github-push-delete.json")
        p["ref"] = "refs/heads/main"
        wh._repo_fields(p["repository"], wh.FORGE_REPO)
        ignored(wh.hook(d, "github", p), "deleted", "branch deletion")
    t.check("github branch deletion (all-zero after) → ignored: deleted", deleted_branch)

    def deleted_tag():
        p = wh.fixture("github-push-delete.json")  # the fixture deletes a tag
        wh._repo_fields(p["repository"], wh.FORGE_REPO)
        ignored(wh.hook(d, "github", p), "deleted", "tag deletion")
    t.check("github tag deletion (the fixture as published) → ignored: deleted", deleted_tag)

    def deleted_gitlab():
        p = wh.gitlab_push(sha)
        p["after"] = wh.ZERO
        p["checkout_sha"] = None
        ignored(wh.hook(d, "gitlab", p), "deleted", "gitlab deletion", "lab")
    t.check("gitlab branch deletion → ignored: deleted", deleted_gitlab)

    t.check("[skip ci] in head_commit.message → ignored: skip_ci",
            lambda: ignored(wh.hook(d, "github", wh.github_push(sha, message="docs\n\n[skip ci]")),
                            "skip_ci", "skip ci"))
    t.check("[ci skip] in GitLab's head commit → ignored: skip_ci",
            lambda: ignored(wh.hook(d, "gitlab", wh.gitlab_push(sha, message="wip [CI SKIP]")),
                            "skip_ci", "ci skip", "lab"))

    def filtered():
        origin.push("refs/heads/feature")
        ignored(wh.hook(d, "github", wh.github_push(sha, ref="refs/heads/feature")),
                "branch_filtered", "push to feature")
        ignored(wh.hook(d, "github", wh.github_pr(sha, base="feature"), event="pull_request"),
                "branch_filtered", "PR into feature")
    t.check("branches: [main] filters a push to feature and a PR into feature", filtered)

    t.check("X-GitHub-Event: issues → ignored: event_not_handled",
            lambda: ignored(wh.hook(d, "github", wh.github_push(sha), event="issues"),
                            "event_not_handled", "issues"))
    t.check("a closed PR → ignored: event_not_handled",
            lambda: ignored(wh.hook(d, "github", wh.github_pr(sha, action="closed"),
                                    event="pull_request"),
                            "event_not_handled", "closed PR"))
    t.check("GitLab Note Hook → ignored: event_not_handled",
            lambda: ignored(wh.hook(d, "gitlab", wh.gitlab_push(sha), event="Note Hook"),
                            "event_not_handled", "note", "lab"))

    def mr_update_without_oldrev():
        p = wh.fixture("gitlab-merge-request.json")
        p["object_attributes"]["action"] = "update"
        p["object_attributes"].pop("oldrev", None)
        p["project"]["path_with_namespace"] = wh.FORGE_REPO
        ignored(wh.hook(d, "gitlab", p, event="Merge Request Hook"), "event_not_handled",
                "MR update without oldrev", "lab")
    t.check("GitLab MR update without oldrev (a title edit) → event_not_handled",
            mr_update_without_oldrev)

    t.check("before == after → ignored: no_new_commits",
            lambda: ignored(wh.hook(d, "github", wh.github_push(sha, before=sha)),
                            "no_new_commits", "no new commits"))

    def ping():
        p = wh.fixture("github-ping.json")
        wh._repo_fields(p["repository"], wh.FORGE_REPO)
        r = wh.hook(d, "github", p, event="ping")
        eq(r.status, 200, "ping status (%r)" % r.body[:300])
        expect(isinstance(r.json(), dict), "ping answer")
        r = wh.hook(d, "github", p, event="ping", secret="wrong")
        d.expect_error(r, 401, "unauthorized", what="ping signed wrong")
        eq(wh.runs(d), [], "runs after pings")
    t.check("ping → 200 (signed right; wrong → 401)", ping)

    def errors():
        good = wh.github_push(sha)
        d.expect_error(wh.hook(d, "github", b'{"ref": "refs/heads/main", '), 400, "bad_request",
                       what="truncated JSON")
        d.expect_error(wh.hook(d, "github", b'{"ref": "refs/heads/main", ', project="app"),
                       400, "bad_request", what="truncated JSON, signed, ?project=")
        d.expect_error(wh.hook(d, "github", b"[1, 2]"), 400, "bad_request", what="not an object")
        missing = dict(good)
        del missing["after"]
        e = d.expect_error(wh.hook(d, "github", missing), 400, "bad_request",
                           what="no 'after'")
        expect("after" in e["message"], "missing field message: %r" % e["message"])
        bad_sha = wh.github_push("--upload-pack=touch /tmp/x")
        d.expect_error(wh.hook(d, "github", bad_sha), 400, "bad_request", what="after not a sha")
        d.expect_error(wh.hook(d, "github", good, content_type="text/plain"), 415,
                       "unsupported_media_type", what="text/plain")
        d.expect_error(wh.hook(d, "gitlab", wh.gitlab_push(sha),
                               content_type="application/x-www-form-urlencoded"),
                       415, "unsupported_media_type", what="gitlab form")
        d.expect_error(wh.hook(d, "github", good, content_type=None), 415,
                       "unsupported_media_type", what="no Content-Type")
        big = dict(good, padding="x" * (100 * 1024))
        r = wh.hook(d, "github", big)
        eq(r.status, 413, "oversize status (%r)" % r.body[:300])
        expect((r.header("Content-Type") or "").startswith("application/json"),
               "413 Content-Type %r" % r.header("Content-Type"))
        d.expect_error(d.post("/hooks/bitbucket", body=good, headers={"X-Event-Key": "repo:push"}),
                       404, "not_found", what="unknown forge")
        other = wh.github_push(sha, repo="someone/else")
        e = d.expect_error(wh.hook(d, "github", other), 404, "not_found",
                           what="no project for the repository")
        expect("someone/else" in e["message"], "404 message %r" % e["message"])
        d.expect_error(wh.hook(d, "github", good, project="nope"), 404, "not_found",
                       what="?project= of no project")
        # The GitHub project is not GitLab's: a GitLab push for acme/app
        # finds "lab", a Gitea one finds nothing.
        d.expect_error(wh.hook(d, "gitea", wh.gitea_push(sha)), 404, "not_found",
                       what="no gitea project for acme/app")
        eq(wh.runs(d), [], "runs of app after the errors")
        eq(wh.runs(d, "lab"), [], "runs of lab after the errors")
    t.check("malformed 400, missing field 400, 415, 413, unknown forge 404, no project 404",
            errors)

    def tag_runs():
        p = wh.fixture("github-push-tag.json")
        p["after"] = p["head_commit"]["id"] = sha
        p["ref"] = "refs/tags/v1"
        wh._repo_fields(p["repository"], wh.FORGE_REPO)
        rid = wh.accepted(wh.hook(d, "github", p), "tag push")
        run = d.wait_run(rid)
        eq(run["status"], "success", "tag run status")
        eq((run["tag"], run["branch"], run["commit"]), ("v1", None, sha), "tag run")
        eq([x["id"] for x in wh.runs(d)], [rid], "runs")
    t.check("a tag push is not branch-filtered: it runs (the daemon still serves)", tag_runs)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
