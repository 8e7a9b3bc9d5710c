"""Webhook signatures: a delivery without its signature, with a wrong one,
or signed over other bytes is refused with 401 and a JSON error, creates
no run, and the daemon logs webhook.refused; signed right it runs.  Per
forge: GitHub X-Hub-Signature-256, Gitea X-Gitea-Signature, GitLab
X-Gitlab-Token and its signed webhooks (webhook-id/-timestamp/-signature
with a whsec_ key; a stale timestamp is refused), generic
X-Pipewright-Signature.  A project without a secret refuses webhooks
unless webhook_insecure: true.  GitHub's form-encoded deliveries
(payload=JSON) are signed over the form body."""
import base64
import re
import time
import urllib.parse

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

WHSEC = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": wh.PIPELINE, "content.txt": "c\n"})
    origin.push()
    d = t.daemon(projects={
        "app": wh.project(t, origin, "github"),
        "tea": wh.project(t, origin, "gitea"),
        "lab": wh.project(t, origin, "gitlab", webhook_signing_secret="{file: %s}" %
                          wh.secret_file(t, "whsec", WHSEC)),
        "gen": wh.project(t, origin, "generic"),
        "open": wh.project(t, origin, "generic", secret=None, forge_repo="acme/open"),
        "insecure": wh.project(t, origin, "generic", secret=None, forge_repo="acme/insecure",
                                 webhook_insecure="true"),
    # Every refusal here comes from one address: more than the default
    # http.max_auth_failures (test_api_throttle is about that block).
    }, config="http: {max_auth_failures: 1000}")
    refusals = {"n": 0}

    def refused(r, project, why, what):
        e = d.expect_error(r, 401, "unauthorized", what=what)
        expect(re.search(why, e["message"]), "%s: message %r lacks %r" % (what, e["message"], why))
        eq(wh.runs(d, project), [], "%s: runs of %s" % (what, project))
        refusals["n"] += 1
        # One webhook.refused line per refusal, naming the project.
        pw.wait_until(lambda: len(re.findall(r"webhook\.refused .*project=%s\b" % project,
                                             d.log())) >= 1 and
                      len(re.findall(r"webhook\.refused", d.log())) >= refusals["n"],
                      "%s: webhook.refused logged" % what)

    push = wh.github_push(sha)

    t.check("github: no X-Hub-Signature-256 → 401, no run",
            lambda: refused(wh.hook(d, "github", push, sign=False), "app",
                            "X-Hub-Signature-256", "unsigned"))
    t.check("github: signed with another secret → 401, no run",
            lambda: refused(wh.hook(d, "github", push, secret="not the secret"), "app",
                            "does not match", "wrong secret"))

    def other_bytes():
        body = wh.json.dumps(push).encode()
        sig = "sha256=" + wh.hex_mac(wh.SECRET, body)
        r = wh.hook(d, "github", body + b" ", headers={"X-Hub-Signature-256": sig})
        refused(r, "app", "does not match", "signed over other bytes")
    t.check("github: signature of other bytes (one space added) → 401", other_bytes)
    t.check("github: not sha256=<hex> → 401",
            lambda: refused(wh.hook(d, "github", push, headers={"X-Hub-Signature-256": "sha1=abc"}),
                            "app", "sha256=", "malformed signature"))
    t.check("github: ?project= does not skip the signature",
            lambda: refused(wh.hook(d, "github", push, sign=False, project="app"), "app",
                            "X-Hub-Signature-256", "unsigned with ?project="))
    t.check("gitea: wrong X-Gitea-Signature → 401",
            lambda: refused(wh.hook(d, "gitea", wh.gitea_push(sha), secret="nope"), "tea",
                            "X-Gitea-Signature", "gitea wrong"))
    t.check("gitlab: wrong X-Gitlab-Token → 401",
            lambda: refused(wh.hook(d, "gitlab", wh.gitlab_push(sha), secret="nope"), "lab",
                            "X-Gitlab-Token", "gitlab wrong token"))
    t.check("generic: no X-Pipewright-Signature → 401",
            lambda: refused(wh.hook(d, "generic", {"ref": "main", "commit": sha}, sign=False,
                                    project="gen"), "gen", "X-Pipewright-Signature",
                            "generic unsigned"))
    t.check("a project without a secret refuses webhooks",
            lambda: refused(wh.hook(d, "generic", {"ref": "main", "commit": sha}, sign=False,
                                    project="open"), "open", "no webhook secret",
                            "no secret"))

    def gitlab_signed(ts_offset, msg_id, good_sig=True):
        p = wh.gitlab_push(sha)
        body = wh.json.dumps(p).encode()
        h = wh.gitlab_signed_headers(WHSEC if good_sig else "whsec_" + base64.b64encode(
            b"x" * 32).decode(), body, msg_id, int(time.time()) + ts_offset)
        # The right token comes along too: a bad signature must still lose.
        return wh.hook(d, "gitlab", body, headers=h)

    t.check("gitlab signed webhook, stale timestamp (10 min) → 401",
            lambda: refused(gitlab_signed(-600, "msg_stale"), "lab", "stale",
                            "gitlab stale"))
    t.check("gitlab signed webhook, wrong key (right token) → 401",
            lambda: refused(gitlab_signed(0, "msg_bad", good_sig=False), "lab",
                            "webhook-signature does not match", "gitlab bad signature"))

    def runs_ok(r, project, what):
        rid = wh.accepted(r, what)
        run = d.wait_run(rid)
        eq(run["status"], "success", what + " status")
        eq(run["commit"], sha, what + " commit")
        expect(rid in [x["id"] for x in wh.runs(d, project)], "%s: run listed" % what)

    t.check("gitlab signed webhook, fresh and right → 202, runs",
            lambda: runs_ok(gitlab_signed(0, "msg_good"), "lab", "gitlab signed"))
    t.check("github signed right → 202, runs",
            lambda: runs_ok(wh.hook(d, "github", push), "app", "github signed"))

    def github_form():
        body = ("payload=" + urllib.parse.quote(wh.json.dumps(push))).encode()
        r = wh.hook(d, "github", body, content_type="application/x-www-form-urlencoded")
        runs_ok(r, "app", "github form")
    t.check("github form-encoded delivery signed over the form body → 202", github_form)
    t.check("webhook_insecure: true takes unsigned deliveries",
            lambda: runs_ok(wh.hook(d, "generic", {"ref": "main", "commit": sha}, sign=False,
                                    project="insecure"), "insecure", "insecure"))

    def no_secret_leak():
        log = d.log()
        for s in (wh.SECRET, WHSEC, WHSEC[6:]):
            expect(s not in log, "the daemon's log shows a secret")
    t.check("no secret in the daemon's log", no_secret_leak)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
