"""Chaos (issue 6): the daemon is SIGKILLed at a random moment, 30 times,
while clients send signed GitHub push webhooks and API triggers at a
steady rate and jobs run; after each kill it is started again.

Clients behave as real ones do: a request that got no 2xx answer (the
daemon died under it, or was down) is sent again with the same
Idempotency-Key or delivery id until one comes.  So every request ends
with a 2xx, and at the end (the daemon up, everything settled):
 - each request has exactly one run, the one it was answered with, and
   there is no other run (a retried delivery or key never made a second);
 - every run is final;
 - no job ran twice except as a recorded retry: each job appends "RUN JOB
   ATTEMPT KEY" to a ledger when it starts, and every line is one of the
   API's attempts of that job, none twice, and a job with two lines has a
   first attempt that did not succeed;
 - PRAGMA integrity_check is ok on the database once the daemon stopped;
 - no supervisor or job process is left (/proc scanned for the test's
   directory in command lines and environments).

The webhooks push distinct commits of a real repository (a checkout each,
on one mirror, so they come slower); the API triggers go to a project
without a repository.  Rounds last 0.2–1.2 s (seeded; the seed is printed).

A kill between the commit of an attempt and the start of its supervisor
leaves an attempt that never ran: it is recorded lost ("lost before it
started") and started again without spending lost_retries (a recorded
retry), so the default lost_retries holds however often that happens.
"""
import http.client
import os
import random
import re
import sqlite3
import threading
import time
import uuid

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

ROUNDS = 30
WEBHOOKS = 40
# Requests come a little slower under sanitizers, not SLOW times slower:
# the rounds are not longer there.
PACE = 2 if pw.SANITIZED else 1

REPO_PIPELINE = """\
jobs:
  show:
    script:
      - echo "$PIPEWRIGHT_RUN_ID $PIPEWRIGHT_JOB $PIPEWRIGHT_ATTEMPT $PIPEWRIGHT_COMMIT" >> %(ledger)s
      - sleep 0.1
"""

API_PIPELINE = """\
stages: [one, two]
env:
  CHAOS_MARK: %(mark)s
jobs:
  first:
    stage: one
    script:
      - echo "$PIPEWRIGHT_RUN_ID $PIPEWRIGHT_JOB $PIPEWRIGHT_ATTEMPT $KEY" >> %(ledger)s
      - sleep 0.15
  second:
    stage: two
    script:
      - echo "$PIPEWRIGHT_RUN_ID $PIPEWRIGHT_JOB $PIPEWRIGHT_ATTEMPT $KEY" >> %(ledger)s
      - sleep 0.1
"""


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Client:
    """Sends requests at a steady pace, each until it gets a 2xx."""

    def __init__(self, d, shas):
        self.d = d
        self.shas = shas
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.api = {}        # key -> run id
        self.hooks = {}      # delivery id -> (sha, run id)
        self.retries = 0
        self.failures = []   # 4xx or unexpected answers
        self.threads = [threading.Thread(target=self.triggers),
                        threading.Thread(target=self.webhooks)]
        for th in self.threads:
            th.start()

    def until_2xx(self, send, what):
        end = time.monotonic() + 30 * pw.SLOW
        while True:
            try:
                r = send()
                if 200 <= r.status < 300:
                    return r
                if r.status != 503:
                    with self.lock:
                        self.failures.append("%s: %r" % (what, r))
                    return None
            except (OSError, http.client.HTTPException):
                pass
            with self.lock:
                self.retries += 1
            if time.monotonic() > end:
                with self.lock:
                    self.failures.append("%s: no 2xx in 30 s" % what)
                return None
            time.sleep(0.05)

    def triggers(self):
        while not self.stop.is_set():
            key = str(uuid.uuid4())
            r = self.until_2xx(lambda: self.d.post(
                "/api/v1/projects/api/runs", body={"env": {"KEY": key}},
                token="operator", headers={"Idempotency-Key": key}), "trigger " + key)
            if r is not None:
                with self.lock:
                    self.api[key] = r.json()["id"]
            time.sleep(0.25 * PACE)

    def webhooks(self):
        for sha in self.shas:
            if self.stop.is_set():
                break
            delivery = str(uuid.uuid4())
            r = self.until_2xx(lambda: wh.hook(self.d, "github", wh.github_push(sha),
                                               delivery=delivery), "webhook " + delivery)
            if r is not None:
                with self.lock:
                    self.hooks[delivery] = (sha, r.json()["run"])
            time.sleep(0.7 * PACE)

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join()


def all_runs(d, project):
    out, cursor = [], None
    while True:
        path = "/api/v1/projects/%s/runs?limit=100" % project
        if cursor:
            path += "&cursor=" + cursor
        page = d.get_json(path)
        out += page["items"]
        cursor = page.get("next_cursor")
        if not cursor:
            return out


def leftovers(tmp, me):
    """Processes whose command line or environment names tmp."""
    found = []
    for p in os.listdir("/proc"):
        if not p.isdigit() or int(p) in me:
            continue
        try:
            with open("/proc/%s/cmdline" % p, "rb") as f:
                cmd = f.read()
            with open("/proc/%s/environ" % p, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if (tmp.encode() in cmd or tmp.encode() in env) and pw.alive(int(p)):
            found.append("%s: %s" % (p, cmd.replace(b"\0", b" ").decode(errors="replace")))
    return found


def main(t):
    seed = int(os.environ.get("PW_CHAOS_SEED") or time.time())
    rng = random.Random(seed)
    print("seed %d (PW_CHAOS_SEED to repeat)" % seed)
    ledger = os.path.join(t.tmp, "ledger")
    open(ledger, "w").close()

    origin = wh.Origin(t)
    shas = []
    origin.commit("pipeline", {".pipewright.yml": REPO_PIPELINE % {"ledger": ledger}})
    for i in range(WEBHOOKS):
        shas.append(origin.commit("change %d" % i, {"content.txt": "%d\n" % i}))
    origin.push()
    port = free_port()
    # The pushed commits are not the branch's head (one push of all 40):
    # build_every_push builds them rather than cancel them as stale.
    d = t.daemon(projects={"app": wh.project(t, origin, "github", build_every_push="true"),
                           "api": API_PIPELINE % {"ledger": ledger, "mark": t.tmp}},
                 config="listen: 127.0.0.1:%d\ndrain: detach\nmax_jobs: 4\n" % port)
    st = {}

    def chaos():
        t0 = time.monotonic()
        c = Client(d, shas)
        try:
            for i in range(ROUNDS):
                # The daemon serves for a random while, then dies.
                # Not scaled under sanitizers: the starts get slower there.
                up = rng.uniform(0.2, 1.2)
                time.sleep(up)
                d.kill()
                d.start()
        finally:
            c.finish()
        st["client"] = c
        st["took"] = time.monotonic() - t0
        eq(c.failures, [], "requests that never got a 2xx, or a 4xx")
        print("  %d rounds in %.1f s: %d API triggers, %d webhooks answered, "
              "%d resends after a kill" % (ROUNDS, st["took"], len(c.api), len(c.hooks),
                                           c.retries))
        expect(len(c.api) >= ROUNDS and len(c.hooks) >= ROUNDS // 3,
               "too little traffic to mean anything")
    t.check("%d rounds of SIGKILL under webhooks and API triggers" % ROUNDS, chaos)

    c = st.get("client")
    if c is None:
        return

    def one_run_each():
        api = all_runs(d, "api")
        app = all_runs(d, "app")
        eq(len(set(c.api.values())), len(c.api), "distinct run ids of the API triggers")
        eq(sorted(r["id"] for r in api), sorted(c.api.values()),
           "the api project's runs are exactly the answered ones")
        eq(len({rid for _, rid in c.hooks.values()}), len(c.hooks),
           "distinct run ids of the webhooks")
        eq(sorted(r["id"] for r in app), sorted(rid for _, rid in c.hooks.values()),
           "the app project's runs are exactly the answered ones")
        by_id = {r["id"]: r for r in app}
        for delivery, (sha, rid) in c.hooks.items():
            eq(by_id[rid]["commit"], sha, "the commit of run %d (delivery %s)" % (rid, delivery))
        st["ids"] = sorted(c.api.values()) + sorted(rid for _, rid in c.hooks.values())
        print("  %d runs: %d from API triggers, %d from webhooks" %
              (len(st["ids"]), len(api), len(app)))
    t.check("every request answered 2xx has exactly one run", one_run_each)

    def final():
        t0 = time.monotonic()
        statuses = {}
        for rid in st["ids"]:
            run = d.wait_run(rid, timeout=pw.DEADLINE * 4)
            statuses[run["status"]] = statuses.get(run["status"], 0) + 1
            st.setdefault("runs", {})[rid] = run
        st["statuses"] = statuses
        print("  settled in %.1f s: %s" % (time.monotonic() - t0, statuses))
    t.check("every run reaches a final state", final)

    def succeeded():
        bad = []
        for rid, run in sorted(st["runs"].items()):
            odd = [(j["name"], a["number"], a["status"], a["reason"])
                   for j in run["jobs"] for a in j["attempts"] if a["status"] != "success"]
            if run["status"] == "success" and not odd:
                continue
            why = [l.split(" ", 2)[-1] for l in d.log().splitlines()
                   if re.search(r"\brun=%d\b" % rid, l) and " warn " in l]
            print("    run %d (%s) %s: %s %s" % (rid, run["project"], run["status"],
                                               odd, why))
            if run["status"] != "success":
                bad.append(rid)
        eq(bad, [], "runs that did not succeed (their jobs cannot fail)")
    t.check("every run succeeded (a lost attempt is retried)", succeeded)

    def ledger_check():
        seen = {}
        with open(ledger) as f:
            lines = [l.split() for l in f if l.strip()]
        keys = {rid: k for k, rid in c.api.items()}
        keys.update({rid: sha for sha, rid in c.hooks.values()})
        for rid, job, attempt, key in lines:
            rid, attempt = int(rid), int(attempt)
            seen.setdefault((rid, job), []).append(attempt)
            eq(key, keys.get(rid), "the request of run %d in the ledger" % rid)
        retried = lost = 0
        for rid, run in st["runs"].items():
            for j in run["jobs"]:
                api = [(a["number"], a["status"]) for a in j["attempts"]]
                ran = seen.get((rid, j["name"]), [])
                eq(len(ran), len(set(ran)), "run %d job %s ran attempt twice: %s"
                   % (rid, j["name"], ran))
                numbers = [n for n, _ in api]
                expect(set(ran) <= set(numbers), "run %d job %s: ledger %s, API %s"
                       % (rid, j["name"], ran, api))
                if run["status"] != "success":
                    continue  # reported by the check above
                expect(api[-1][1] == "success" and api[-1][0] in ran,
                       "run %d job %s: the last attempt succeeded and ran: ledger %s, API %s"
                       % (rid, j["name"], ran, api))
                for n, s in api[:-1]:
                    expect(s != "success", "run %d job %s: a success before the last "
                           "attempt: %s" % (rid, j["name"], api))
                retried += len(api) > 1
                lost += sum(1 for _, s in api if s == "lost")
        extra = set(seen) - {(rid, j["name"]) for rid, r in st["runs"].items()
                             for j in r["jobs"]}
        eq(extra, set(), "ledger lines of jobs the API does not know")
        print("  %d job executions in the ledger, %d jobs retried (%d lost attempts)"
              % (len(lines), retried, lost))
    t.check("no job ran twice except a recorded retry", ledger_check)

    def integrity():
        d.stop()
        db = sqlite3.connect("file:%s?mode=ro" % os.path.join(d.data, "pipewright.db"),
                             uri=True)
        try:
            eq(db.execute("PRAGMA integrity_check").fetchall(), [("ok",)], "integrity_check")
        finally:
            db.close()
    t.check("PRAGMA integrity_check: ok", integrity)

    def nothing_left():
        me = {os.getpid()}
        end = time.monotonic() + 10 * pw.SLOW
        while True:
            left = leftovers(t.tmp, me)
            if not left or time.monotonic() > end:
                break
            time.sleep(0.05)
        eq(left, [], "processes left behind")
    t.check("no supervisor or job process is left", nothing_left)


pw.main(main)
