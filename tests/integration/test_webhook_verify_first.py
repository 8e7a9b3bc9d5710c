"""A delivery without ?project= is authenticated before its fields are
checked: a GitLab push that lacks project.git_http_url, with a wrong
X-Gitlab-Token, answers 401 (not 400 naming the missing field), and a
GitHub push missing `after` signed with the wrong key answers 401; the
same deliveries signed right answer 400 naming the field.  A GitHub ping
from a hook of no repository (an organization's) answers 200; a ping of a
repository no project takes answers 404, and so does a malformed push of
one.  No run is made by any of them."""
import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": wh.PIPELINE, "content.txt": "c\n"})
    origin.push()
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github"),
        "lab": wh.project(t, origin, "gitlab", forge_repo="acme/lab"),
    })

    def gitlab_wrong_token():
        p = wh.gitlab_push(sha, repo="acme/lab")
        del p["project"]["git_http_url"]
        r = wh.hook(d, "gitlab", p, secret="not the secret")
        d.expect_error(r, 401, "unauthorized", what="wrong token, field missing")
        expect("git_http_url" not in r.text, "the 401 names the missing field: %r" % r.text)
        r = wh.hook(d, "gitlab", p)
        e = d.expect_error(r, 400, "bad_request", what="right token, field missing")
        expect("git_http_url" in e["message"], "the 400 names the field: %r" % e["message"])
        d.wait_log(r'webhook\.refused forge=gitlab project=lab')
    t.check("GitLab without ?project=: a wrong token is 401 before a missing field is 400",
            gitlab_wrong_token)

    def github_wrong_signature():
        p = wh.github_push(sha)
        del p["after"]
        r = wh.hook(d, "github", p, secret="not the secret")
        d.expect_error(r, 401, "unauthorized", what="wrong signature, field missing")
        e = d.expect_error(wh.hook(d, "github", p), 400, "bad_request",
                           what="right signature, field missing")
        expect("after" in e["message"], "the 400 names the field: %r" % e["message"])
    t.check("GitHub without ?project=: a wrong signature is 401 before a missing field is 400",
            github_wrong_signature)

    def org_ping():
        p = wh.fixture("github-ping.json")
        del p["repository"]
        p["organization"] = {"login": "acme", "id": 1}
        r = wh.hook(d, "github", p, event="ping")
        eq(r.status, 200, "ping without repository (%r)" % r.body[:300])
        eq(r.json(), {"pong": True}, "answer")
        p = wh.fixture("github-ping.json")
        wh._repo_fields(p["repository"], "someone/else")
        d.expect_error(wh.hook(d, "github", p, event="ping"), 404, "not_found",
                       what="ping of a repository no project takes")
        # Nothing of it is checked before it is known whose it is.
        p = wh.github_push(sha, repo="someone/else")
        del p["after"]
        d.expect_error(wh.hook(d, "github", p), 404, "not_found",
                       "no project takes webhooks of 'someone/else'; name one with "
                       "?project=NAME", what="a broken push of an unknown repository")
    t.check("a ping of no repository: 200; of an unknown repository: 404", org_ping)

    t.check("no run was made", lambda: (eq(wh.runs(d, "app"), [], "app runs"),
                                        eq(wh.runs(d, "lab"), [], "lab runs")))
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
