"""A push runs the pipeline at the pushed commit, for every forge: a real
origin gets two commits whose content.txt differs, the forge's payload
names the OLDER one, and the job prints content.txt: it must see the
older content.  The run is at that sha, triggered by the webhook, and its
own log (GET /api/v1/runs/ID/log) carries git's checkout output.
GitHub signs with X-Hub-Signature-256, Gitea with X-Gitea-Signature,
GitLab sends X-Gitlab-Token, generic signs with X-Pipewright-Signature
and names the project with ?project=.  The projects build every push
(build_every_push: true): by default a push that is no longer its
branch's head is canceled as stale (test_webhook_replay.py)."""
import re

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect


def main(t):
    origin = wh.Origin(t)
    old = origin.commit("first", {".pipewright.yml": wh.PIPELINE, "content.txt": "old content\n"})
    new = origin.commit("second", {"content.txt": "new content\n"})
    origin.push()
    expect(old != new, "two commits")

    projects = {
        "app": wh.project(t, origin, "github", build_every_push="true"),
        "lab": wh.project(t, origin, "gitlab", build_every_push="true"),
        "tea": wh.project(t, origin, "gitea", build_every_push="true"),
        "gen": wh.project(t, origin, "generic", build_every_push="true"),
    }
    d = t.daemon(projects=projects)

    def ran_older(name, r, project):
        rid = wh.accepted(r, name)
        run = d.wait_run(rid)
        eq(run["status"], "success", "%s run status" % name)
        eq(run["project"], project, "%s run project" % name)
        eq(run["commit"], old, "%s run commit" % name)
        eq(run["trigger"], "webhook", "%s run trigger" % name)
        eq(run["branch"], "main", "%s run branch" % name)
        log = wh.job_log(d, rid)
        expect("old content" in log and "new content" not in log,
               "%s: the job saw %r" % (name, log))
        expect("pr=none fork=none" in log, "%s: PR variables in a push: %r" % (name, log))
        rlog = wh.run_log(d, rid)
        # The git commands and what they said: a fetch of the sha and a
        # checkout landing on it.
        expect(re.search(r"^\$ git .*fetch .*%s" % old, rlog, re.M),
               "%s: run log has no fetch of %s: %r" % (name, old, rlog))
        expect(re.search(r"^\$ git .*checkout .*%s" % old, rlog, re.M),
               "%s: run log has no checkout of %s: %r" % (name, old, rlog))
        expect(re.search(r"^HEAD is now at %s" % old, rlog, re.M),
               "%s: run log does not end at %s: %r" % (name, old, rlog))
        eq([x["id"] for x in wh.runs(d, project)], [rid], "%s: runs of %s" % (name, project))
        return rid

    t.check("github push of the older commit runs it",
            lambda: ran_older("github", wh.hook(d, "github", wh.github_push(old, before=wh.ZERO)), "app"))
    t.check("gitlab push (X-Gitlab-Token) runs the older commit",
            lambda: ran_older("gitlab", wh.hook(d, "gitlab", wh.gitlab_push(old)), "lab"))
    t.check("gitea push (X-Gitea-Signature) runs the older commit",
            lambda: ran_older("gitea", wh.hook(d, "gitea", wh.gitea_push(old)), "tea"))
    t.check("generic (X-Pipewright-Signature, ?project=) runs the older commit",
            lambda: ran_older("generic", wh.hook(d, "generic", {"ref": "main", "commit": old},
                                                 project="gen"), "gen"))

    def newest():
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(new, before=old)))
        run = d.wait_run(rid)
        eq(run["status"], "success", "run status")
        eq(run["commit"], new, "run commit")
        log = wh.job_log(d, rid)
        expect("new content" in log, "the job saw %r" % log)
    t.check("the newer commit's push runs the newer content", newest)

    def forgejo():
        # /hooks/forgejo is Gitea's format with Forgejo's header names.
        body = wh.json.dumps(wh.gitea_push(new, before=old)).encode()
        r = d.post("/hooks/forgejo", body=body, headers={
            "Content-Type": "application/json", "X-Forgejo-Event": "push",
            "X-Forgejo-Delivery": "fj-1",
            "X-Forgejo-Signature": wh.hex_mac(wh.SECRET, body)})
        rid = wh.accepted(r, "forgejo")
        eq(d.wait_run(rid)["commit"], new, "forgejo run commit")
    t.check("/hooks/forgejo with X-Forgejo-* headers", forgejo)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
