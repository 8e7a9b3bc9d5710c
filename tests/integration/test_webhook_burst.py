"""100 webhook deliveries (distinct delivery ids, and distinct pushes: the
same push again would answer its first run) sent at once from 100
threads, each on its own connection: every one is answered 202 with its
own run id, exactly those 100 runs exist, each at the pushed commit, and
all of them finish successfully.  The runs wait for their checkouts, which
share the project's mirror one at a time (src/scm/scm.c), so this scenario
takes about a second per run; it is the one webhook scenario that does."""
import threading
import time

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq

N = 100
TRIVIAL = """\
jobs:
  show:
    script: cat content.txt
"""


def main(t):
    origin = wh.Origin(t)
    sha = origin.commit("first", {".pipewright.yml": TRIVIAL, "content.txt": "c\n"})
    origin.push()
    d = t.daemon(projects={"app": wh.project(t, origin, "github")},
                 # 100 connections at once from one address: more than the
                 # default http.max_connections_per_address (64).
                 config="max_jobs: 8\nhttp: {max_connections_per_address: 128}")
    # Pushes of the branch's head that differ in `before` only.
    pushes = [wh.github_push(sha, before="%040x" % (i + 1)) for i in range(N)]
    answers = {}

    def burst():
        errs = []
        lock = threading.Lock()
        gate = threading.Barrier(N)

        def send(i):
            try:
                gate.wait(pw.DEADLINE)
                r = wh.hook(d, "github", pushes[i], delivery="burst-%03d" % i)
                rid = wh.accepted(r, "delivery %d" % i)
                with lock:
                    answers[i] = rid
            except Exception as e:  # noqa: BLE001 (reported below)
                with lock:
                    errs.append("%d: %s" % (i, e))
        ts = [threading.Thread(target=send, args=(i,)) for i in range(N)]
        t0 = time.monotonic()
        for x in ts:
            x.start()
        for x in ts:
            x.join(pw.DEADLINE * 2)
        print("  %d deliveries answered in %.2f s" % (N, time.monotonic() - t0))
        eq(errs[:5], [], "errors (%d)" % len(errs))
        eq(len(answers), N, "answers")
        eq(len(set(answers.values())), N, "distinct run ids")
        eq({x["id"] for x in wh.runs(d)}, set(answers.values()),
           "the runs are exactly the answered ones")
    t.check("%d deliveries at once: %d runs, each answered with its own" % (N, N), burst)

    def all_finish():
        t0 = time.monotonic()
        # A deadline per run: the checkouts take turns on the mirror.
        for rid in sorted(answers.values()):
            run = d.wait_run(rid)
            eq(run["status"], "success", "run %d" % rid)
            eq(run["commit"], sha, "run %d's commit" % rid)
        print("  %d runs finished in %.1f s" % (N, time.monotonic() - t0))
        eq(len(answers), N, "runs waited for")
    t.check("all %d runs finish successfully at the pushed commit" % N, all_finish)

    def redelivery():
        r = wh.accepted(wh.hook(d, "github", pushes[42], delivery="burst-042"), "redelivery")
        eq(r, answers.get(42), "burst-042's redelivery")
        eq(len(wh.runs(d)), N, "runs after a redelivery")
    t.check("a redelivery of one of them makes nothing new", redelivery)

    # Under ASan, exit 0 also means no leak.
    t.check("SIGTERM: the daemon exits 0", d.stop)


pw.main(main)
