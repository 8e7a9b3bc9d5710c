"""Webhook replay.  GitHub's and Gitea's signatures cover the body, not the
delivery id, so anyone who saw a delivery can send its exact bytes again
under a new id.  The same push (project, ref, before, after) answers the
run its first copy made and makes no second run, for GitHub and Gitea; a
signed GitLab hook resent with its signed webhook-id but a fresh
Idempotency-Key is the same delivery (a merge request, which no push key
covers).  A push whose commit is no longer its branch's head when it is
checked out (here: an older commit of the real origin) ends canceled with
"stale push" in its log and audit trail, builds nothing, and does not
cancel the branch's current run although the project has
cancel_superseded; with build_every_push: true it builds, and still
cancels nothing."""
import base64
import json
import os

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()

# The job waits for its gate (GATE/open-<run id>): the test decides when
# the branch's current run may finish, so it is running when the stale
# push arrives.
PIPELINE = """\
jobs:
  show:
    script:
      - while [ ! -e "%(g)s/open-$PIPEWRIGHT_RUN_ID" ]; do sleep 0.02; done
      - cat content.txt
"""


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    origin = wh.Origin(t)
    old = origin.commit("first", {".pipewright.yml": PIPELINE % {"g": gate},
                                  "content.txt": "old content\n"})
    origin.push()
    origin.checkout("feature", create=True)
    mr = origin.commit("mr 3", {"content.txt": "mr content\n"})
    origin.push("refs/merge-requests/3/head")
    origin.checkout("main")
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github", cancel_superseded="true"),
        "tea": wh.project(t, origin, "gitea", cancel_superseded="true"),
        "lab": wh.project(t, origin, "gitlab", webhook_signing_secret="{file: %s}" %
                          wh.secret_file(t, "whsec", WHSEC)),
        "every": wh.project(t, origin, "github", forge_repo="acme/every",
                            cancel_superseded="true", build_every_push="true"),
    }, config="max_jobs: 8")

    def release(rid):
        open(os.path.join(gate, "open-%d" % rid), "w").close()

    def replay(forge, push, project):
        # The bytes and signature of the first delivery, resent as they
        # were but for the delivery id.
        body = json.dumps(push).encode()
        first = wh.accepted(wh.hook(d, forge, body, delivery="first-" + forge), "first copy")
        for i in range(3):
            again = wh.hook(d, forge, body, delivery="replayed-%s-%d" % (forge, i))
            eq(wh.accepted(again, "replay %d" % i), first, "the run replay %d answers" % i)
        eq([x["id"] for x in wh.runs(d, project)], [first], "runs of %s" % project)
        release(first)
        eq(d.wait_run(first)["status"], "success", "the first run")
        eq([x["id"] for x in wh.runs(d, project)], [first], "runs of %s at the end" % project)
        return first

    t.check("GitHub: a push resent with a new X-GitHub-Delivery answers its run, no second",
            lambda: replay("github", wh.github_push(old, before=wh.ZERO), "app"))
    t.check("Gitea: a push resent with a new X-Gitea-Delivery answers its run, no second",
            lambda: replay("gitea", wh.gitea_push(old, before=wh.ZERO), "tea"))

    def gitlab_signed():
        p = wh.fixture("gitlab-merge-request.json")
        oa = p["object_attributes"]
        oa["iid"] = 3
        oa["last_commit"]["id"] = mr
        oa["source_branch"], oa["target_branch"] = "feature", "main"
        oa["source_project_id"] = oa["target_project_id"] = p["project"]["id"]
        p["project"]["path_with_namespace"] = wh.FORGE_REPO
        body = json.dumps(p).encode()
        signed = wh.gitlab_signed_headers(WHSEC, body, msg_id="msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        # No X-Gitlab-Token: only the signature vouches for the delivery.
        first = wh.accepted(wh.hook(d, "gitlab", body, event="Merge Request Hook",
                                    secret=None, headers=dict(signed, **{
                                        "Idempotency-Key": "key-1"})), "signed MR")
        for key in ("key-2", "key-3"):
            r = wh.hook(d, "gitlab", body, event="Merge Request Hook", secret=None,
                        headers=dict(signed, **{"Idempotency-Key": key}))
            eq(wh.accepted(r, "replay with Idempotency-Key %s" % key), first,
               "the run a replay with Idempotency-Key %s answers" % key)
        eq([x["id"] for x in wh.runs(d, "lab")], [first], "runs of lab")
        release(first)
        eq(d.wait_run(first)["status"], "success", "the MR run")
    t.check("GitLab: a signed hook resent with its webhook-id and a new Idempotency-Key "
            "answers its run", gitlab_signed)

    # The branch moves on: `new` is main's head from here.
    new = origin.commit("second", {"content.txt": "new content\n"})
    origin.push()

    def stale_does_not_supersede():
        current = wh.accepted(wh.hook(d, "github", wh.github_push(new, before=old)), "push of new")
        d.wait_job(current, "show", "running")
        # A push of the older commit (not one seen before: another before).
        rid = wh.accepted(wh.hook(d, "github", wh.github_push(old, before="3" * 40)),
                          "push of the older commit")
        expect(rid > current, "the stale push's run is the newer one")
        run = d.wait_run(rid)
        eq(run["status"], "canceled", "the stale push's run")
        expect(all(j["status"] in ("pending", "canceled") for j in run["jobs"]),
               "a job of the stale run ran: %r" % run["jobs"])
        log = wh.run_log(d, rid)
        expect("stale push: refs/heads/main is at %s now, not %s" % (new, old) in log,
               "the run log says why: %r" % log)
        events = d.get_json("/api/v1/runs/%d/events" % rid)["items"]
        expect({"actor": "pipewright", "action": "cancel", "detail": "stale push"} in
               [{k: e[k] for k in ("actor", "action", "detail")} for e in events],
               "the audit trail says stale push: %r" % events)
        eq(d.run(current)["status"], "running", "the branch's current run")
        release(current)
        run = d.wait_run(current)
        eq(run["status"], "success", "the current run")
        eq(run["commit"], new, "the current run's commit")
        expect("new content" in wh.job_log(d, current), "the current run built new")
    t.check("a push of an older commit: canceled 'stale push'; the branch's current run "
            "is not superseded", stale_does_not_supersede)

    def every_push():
        push = lambda sha, before: wh.github_push(sha, before=before, repo="acme/every")
        current = wh.accepted(wh.hook(d, "github", push(new, old)), "every: push of new")
        d.wait_job(current, "show", "running")
        rid = wh.accepted(wh.hook(d, "github", push(old, "4" * 40)), "every: older commit")
        d.wait_job(rid, "show", "running")
        release(rid)
        run = d.wait_run(rid)
        eq(run["status"], "success", "build_every_push: the older commit's run")
        eq(run["commit"], old, "its commit")
        expect("old content" in wh.job_log(d, rid), "it built the older commit")
        expect("built all the same (build_every_push)" in wh.run_log(d, rid),
               "its log says it was stale")
        eq(d.run(current)["status"], "running", "the branch's current run")
        release(current)
        eq(d.wait_run(current)["status"], "success", "the current run")
    t.check("build_every_push: true builds the older commit, and supersedes nothing",
            every_push)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
