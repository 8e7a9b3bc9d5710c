"""Forge binding: a project's webhook secret is checked only by its own
forge's scheme.  GitLab's X-Gitlab-Token is the secret itself, so
/hooks/gitlab?project=gh with the GitHub project's HMAC key as the token
would let anyone guess that key online; it is refused (401, no run), as
are /hooks/gitea and /hooks/generic for the GitHub project and
/hooks/github for a project without `forge` (generic).  The caller hears
only that the project does not take that forge's webhooks; the log names
the endpoint it does take.  The right endpoint still runs; /hooks/forgejo
is Gitea's."""
import json
import re

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

TRIVIAL = """\
jobs:
  show:
    script: cat content.txt
"""


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": TRIVIAL, "content.txt": "c\n"})
    origin.push()
    plain = wh.project(t, origin, "generic", forge_repo="acme/plain")
    del plain["forge"]                       # no forge: generic
    d = t.daemon(projects={
        "gh": wh.project(t, origin, "github"),
        "tea": wh.project(t, origin, "gitea"),
        "plain": plain,
    })

    def refused(r, project, url_forge, own, what):
        e = d.expect_error(r, 401, "unauthorized", what=what)
        expect("does not take %s webhooks" % url_forge in e["message"],
               "%s: message %r" % (what, e["message"]))
        # Which endpoint is right is for the admin's log, not the caller.
        expect("/hooks/" not in e["message"], "%s: message %r" % (what, e["message"]))
        eq(wh.runs(d, project), [], "%s: runs of %s" % (what, project))
        line = (r'webhook\.refused forge=%s project=%s reason="the project\'s forge is %s: '
                r'its webhooks go to /hooks/%s"' % (url_forge, project, own, own))
        pw.wait_until(lambda: re.search(line, d.log()), "%s: %s logged" % (what, line))

    def gitlab_token():
        # The GitHub project's secret, sent the way GitLab sends its token.
        r = wh.hook(d, "gitlab", wh.gitlab_push(sha), project="gh")
        refused(r, "gh", "gitlab", "github", "GitHub secret as X-Gitlab-Token")
        # A wrong token is refused the same way: nothing to tell them apart.
        r2 = wh.hook(d, "gitlab", wh.gitlab_push(sha), project="gh", secret="guess")
        eq((r2.status, r2.json()), (r.status, r.json()), "a wrong guess's answer")
    t.check("/hooks/gitlab?project=gh with GitHub's secret as X-Gitlab-Token: 401, no run",
            gitlab_token)

    t.check("/hooks/gitea?project=gh signed with GitHub's secret: 401, no run",
            lambda: refused(wh.hook(d, "gitea", wh.gitea_push(sha), project="gh"),
                            "gh", "gitea", "github", "gitea hook for a GitHub project"))
    t.check("/hooks/generic?project=gh signed with GitHub's secret: 401, no run",
            lambda: refused(wh.hook(d, "generic", {"ref": "main", "commit": sha},
                                    project="gh"),
                            "gh", "generic", "github", "generic hook for a GitHub project"))
    t.check("/hooks/github?project=plain (no forge: generic): 401, no run",
            lambda: refused(wh.hook(d, "github", wh.github_push(sha, repo="acme/plain"),
                                    project="plain"),
                            "plain", "github", "generic", "github hook for a generic project"))

    def right_endpoints():
        for forge, payload, project, kw in (
                ("github", wh.github_push(sha), "gh", {}),
                ("github", wh.github_push(sha, before="2" * 40), "gh", {"project": "gh"}),
                ("gitea", wh.gitea_push(sha), "tea", {}),
                ("generic", {"ref": "main", "commit": sha}, "plain", {"project": "plain"})):
            rid = wh.accepted(wh.hook(d, forge, payload, **kw), "%s for %s" % (forge, project))
            eq(d.wait_run(rid)["status"], "success", "%s run of %s" % (forge, project))
            expect(rid in [x["id"] for x in wh.runs(d, project)], "the run is %s's" % project)
        # Forgejo speaks Gitea: the same project, its own header names.
        body = json.dumps(wh.gitea_push(sha, before="3" * 40)).encode()
        r = d.post("/hooks/forgejo?project=tea", body=body, headers={
            "Content-Type": "application/json", "X-Forgejo-Event": "push",
            "X-Forgejo-Delivery": "fj-1", "X-Forgejo-Signature": wh.hex_mac(wh.SECRET, body)})
        eq(d.wait_run(wh.accepted(r, "forgejo"))["status"], "success", "forgejo run")
    t.check("each project's own endpoint still runs (forgejo is gitea)", right_endpoints)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
