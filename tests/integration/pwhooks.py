"""Shared by the test_webhook_*.py scenarios: a real git "origin" (a bare
repository the project's `repo:` points at) with a work clone to commit
and push from, the forges' published payloads (tests/fixtures/webhooks)
adjusted to that repository, deliveries signed the way each forge signs
them (over the exact bytes sent), and a local HTTP receiver standing in
for the forge's commit-status API.

Python 3 standard library only; used together with pwdaemon.py.
"""
import base64
import copy
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time
import urllib.parse
import uuid

import pwdaemon as pw
from pwdaemon import eq, expect, fail

SOURCE_DIR = os.environ.get("PW_SOURCE_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..")
FIXTURES = os.path.join(SOURCE_DIR, "tests", "fixtures", "webhooks")
ZERO = "0" * 40
SECRET = "It's a Secret to Everybody"
FORGE_REPO = "acme/app"

# The pipeline committed into the test repository: the job prints the
# commit's file and what the run was told about a pull request.
PIPELINE = """\
jobs:
  show:
    script:
      - cat content.txt
      - echo "pr=${PIPEWRIGHT_PR:-none} fork=${PIPEWRIGHT_FORK:-none}"
"""


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return json.load(f)


# ---- git ----

class Origin:
    """A bare repository (the forge's copy) and a work clone."""

    def __init__(self, t, name="origin"):
        self.t = t
        self.bare = os.path.join(t.tmp, name + ".git")
        self.work = os.path.join(t.tmp, name + "-work")
        home = os.path.join(t.tmp, "home")
        os.makedirs(home, exist_ok=True)
        self.env = dict(os.environ, HOME=home, GIT_CONFIG_NOSYSTEM="1",
                        GIT_AUTHOR_NAME="Test", GIT_AUTHOR_EMAIL="test@example.com",
                        GIT_COMMITTER_NAME="Test",
                        GIT_COMMITTER_EMAIL="test@example.com",
                        GIT_TERMINAL_PROMPT="0")
        self.git("init", "-q", "--bare", "-b", "main", self.bare, cwd=t.tmp)
        self.git("init", "-q", "-b", "main", self.work, cwd=t.tmp)
        self.git("remote", "add", "origin", self.bare)

    def git(self, *args, cwd=None):
        p = subprocess.run(["git"] + list(args), cwd=cwd or self.work, env=self.env,
                           stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=pw.DEADLINE)
        if p.returncode != 0:
            fail("git %s: exit %d: %s" % (" ".join(args), p.returncode,
                                          p.stderr.decode(errors="replace")))
        return p.stdout.decode().strip()

    def commit(self, message, files):
        """Writes files ({path: text}), commits them; returns the sha."""
        for path, text in files.items():
            full = os.path.join(self.work, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")

    def push(self, ref="refs/heads/main", sha="HEAD", force=False):
        self.git("push", "-q", "origin", "%s%s:%s" % ("+" if force else "", sha, ref))

    def checkout(self, branch, create=False):
        if create:
            self.git("checkout", "-q", "-b", branch)
        else:
            self.git("checkout", "-q", branch)


# ---- configuration ----

def secret_file(t, name, value):
    path = os.path.join(t.tmp, name)
    with open(path, "w") as f:
        f.write(value + "\n")
    return path


def project(t, origin, forge="github", secret=SECRET, **keys):
    """The keys of a `repo` project on origin, as pwdaemon writes them;
    keys given as YAML text (branches="[main]")."""
    p = {"repo": origin.bare, "forge": forge, "forge_repo": FORGE_REPO}
    if secret is not None:
        p["webhook_secret"] = "{file: %s}" % secret_file(t, "hook-secret-" + forge, secret)
    p.update(keys)
    return p


# ---- payloads ----

def _repo_fields(o, repo):
    o["full_name"] = repo
    o["name"] = repo.split("/")[-1]


def github_push(sha, ref="refs/heads/main", before=None, message="change",
                repo=FORGE_REPO, name="github-push.json"):
    p = fixture(name)
    p["ref"] = ref
    p["after"] = sha
    p["before"] = before or "1" * 40
    if p.get("head_commit"):
        p["head_commit"]["id"] = sha
        p["head_commit"]["message"] = message
    if p.get("commits"):
        p["commits"][-1]["id"] = sha
        p["commits"][-1]["message"] = message
    _repo_fields(p["repository"], repo)
    return p


def gitea_push(sha, ref="refs/heads/main", before=None, message="change",
               repo=FORGE_REPO):
    p = fixture("gitea-push.json")
    p["ref"] = ref
    p["after"] = sha
    p["before"] = before or "1" * 40
    p["commits"] = p["commits"][:1]
    p["commits"][0]["id"] = sha
    p["commits"][0]["message"] = message
    p.pop("head_commit", None)
    _repo_fields(p["repository"], repo)
    return p


def gitlab_push(sha, ref="refs/heads/main", before=None, message="change",
                repo=FORGE_REPO):
    p = fixture("gitlab-push.json")
    p["ref"] = ref
    p["after"] = p["checkout_sha"] = sha
    p["before"] = before or "1" * 40
    p["commits"][-1]["id"] = sha
    p["commits"][-1]["message"] = message
    p["project"]["path_with_namespace"] = repo
    return p


def github_pr(sha, number=7, fork=False, action="opened", base="main",
              head_ref="feature", repo=FORGE_REPO):
    p = fixture("github-pull_request-opened.json")
    p["action"] = action
    p["number"] = number
    pr = p["pull_request"]
    pr["number"] = number
    pr["head"]["sha"] = sha
    pr["head"]["ref"] = head_ref
    pr["base"]["ref"] = base
    _repo_fields(p["repository"], repo)
    _repo_fields(pr["base"]["repo"], repo)
    if fork:
        _repo_fields(pr["head"]["repo"], "someone/app")
        pr["head"]["repo"]["id"] = pr["base"]["repo"]["id"] + 1
    else:
        _repo_fields(pr["head"]["repo"], repo)
        pr["head"]["repo"]["id"] = pr["base"]["repo"]["id"]
    return p


# ---- deliveries ----

def hex_mac(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def gitlab_signed_headers(whsec, body, msg_id="msg_1", timestamp=None):
    """GitLab's signed webhook headers (Standard Webhooks)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(whsec[len("whsec_"):])
    mac = hmac.new(key, b"%s.%s." % (msg_id.encode(), ts.encode()) + body,
                   hashlib.sha256).digest()
    return {"webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": "v1," + base64.b64encode(mac).decode()}


EVENTS = {
    "github": ("X-GitHub-Event", "X-GitHub-Delivery", "push"),
    "gitea": ("X-Gitea-Event", "X-Gitea-Delivery", "push"),
    "gitlab": ("X-Gitlab-Event", "X-Gitlab-Event-UUID", "Push Hook"),
    "generic": (None, "X-Pipewright-Delivery", None),
}


def hook(d, forge, payload, event=None, delivery=None, secret=SECRET, sign=True,
         project=None, headers=None, content_type="application/json"):
    """POSTs a delivery to /hooks/FORGE, signed as the forge signs it
    (sign=False: no signature header).  payload: dict (sent as JSON) or
    bytes.  delivery: None makes a fresh id; False sends none."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    h = {}
    ev_header, del_header, default_event = EVENTS[forge]
    if ev_header is not None:
        h[ev_header] = event or default_event
    if delivery is not False:
        h[del_header] = delivery or str(uuid.uuid4())
    if sign and secret is not None:
        if forge == "github":
            h["X-Hub-Signature-256"] = "sha256=" + hex_mac(secret, body)
        elif forge == "gitea":
            h["X-Gitea-Signature"] = hex_mac(secret, body)
        elif forge == "gitlab":
            h["X-Gitlab-Token"] = secret
        else:
            h["X-Pipewright-Signature"] = "sha256=" + hex_mac(secret, body)
    if content_type is not None:
        h["Content-Type"] = content_type
    h.update(headers or {})
    path = "/hooks/" + forge
    if project is not None:
        path += "?project=" + urllib.parse.quote(project)
    return d.post(path, body=body, headers=h)


def accepted(r, what="webhook"):
    """A 202 {"run", "url"} answer: the run id."""
    eq(r.status, 202, "%s status (%r)" % (what, r.body[:300]))
    j = r.json()
    expect(isinstance(j.get("run"), int), "%s: no run id: %r" % (what, j))
    expect(j.get("url", "").endswith("/api/v1/runs/%d" % j["run"]),
           "%s: url %r" % (what, j.get("url")))
    return j["run"]


def runs(d, project="app"):
    return d.get_json("/api/v1/projects/%s/runs?limit=200" % project)["items"]


def job_log(d, rid, job="show"):
    r = d.get("/api/v1/runs/%d/jobs/%s/log" % (rid, job))
    eq(r.status, 200, "log of %s in run %d" % (job, rid))
    return r.text


def run_log(d, rid):
    r = d.get("/api/v1/runs/%d/log" % rid)
    eq(r.status, 200, "run %d's log" % rid)
    return r.text


# ---- the forge's status API ----

class Receiver:
    """An HTTP server on 127.0.0.1:0 in a thread, recording each request
    (method, path, headers with lower-case names, JSON body) and answering
    with answer(call) -> (status, body bytes); default 201 {}."""

    def __init__(self, t):
        self.calls = []
        self.cond = threading.Condition()
        self.answer = lambda call: (201, b"{}")
        rec = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(n)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                call = {"method": self.command, "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},
                        "json": body, "time": time.monotonic()}
                with rec.cond:
                    status, out = rec.answer(call)
                    call["answered"] = status
                    rec.calls.append(call)
                    rec.cond.notify_all()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        t.receivers = getattr(t, "receivers", []) + [self]

    def snapshot(self):
        with self.cond:
            return list(self.calls)

    def wait(self, pred, what, timeout=None):
        """Waits until pred(calls) is true; returns the calls."""
        end = time.monotonic() + (timeout if timeout is not None else pw.DEADLINE)
        with self.cond:
            while not pred(self.calls):
                left = end - time.monotonic()
                if left <= 0:
                    fail("timed out waiting for %s; calls: %s" % (
                        what, json.dumps([(c["path"], c["json"], c["answered"])
                                          for c in self.calls])[:2000]))
                self.cond.wait(left)
            return list(self.calls)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def states(calls, context, key="context"):
    """The states sent for one context, in order, and only answered ones."""
    return [c["json"]["state"] for c in calls
            if isinstance(c["json"], dict) and c["json"].get(key) == context]


def copy_of(p):
    return copy.deepcopy(p)


# ---- statuses ----

def gated_pipeline(gate_dir):
    """Two stages; build waits until GATE/open-<run id> or GATE/open-all
    exists (the test decides when a run may finish); test passes iff
    result.txt says ok."""
    return """\
stages: [build, test]
jobs:
  build:
    stage: build
    script:
      - while [ ! -e "%(g)s/open-$PIPEWRIGHT_RUN_ID" ] && [ ! -e "%(g)s/open-all" ]; do sleep 0.02; done
  test:
    stage: test
    script: test "$(cat result.txt)" = ok
""" % {"g": gate_dir}


def open_gate(gate_dir, rid="all"):
    open(os.path.join(gate_dir, "open-%s" % rid), "w").close()


def outbox(d, run=None, state=None):
    q = "?limit=200" + ("&state=" + state if state else "")
    items = d.get_json("/api/v1/outbox" + q)["items"]
    return [i for i in items if run is None or i.get("run") == run]
