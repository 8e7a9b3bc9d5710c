"""The first page of GET /api/v1/projects/{project}/runs is kept rendered
(src/api/cache.c) and must never be older than what the store already
shows: a new run is on it as soon as its trigger is answered, and a state
change as soon as GET /api/v1/runs/ID (which reads the store directly)
shows it — while a second client polls the list on a keep-alive
connection all the time, refilling the cache whenever it can."""
import http.client
import os
import threading

import pwdaemon as pw
from pwdaemon import eq, expect

N = 20


def pipeline(gate):
    # The job waits for a file the test creates: the test decides when a
    # run goes from running to finished.
    return """\
jobs:
  build:
    script: while [ ! -e %s/go-$RUN ]; do sleep 0.01; done
""" % gate


class Poller:
    """Polls the first page of both limits on one keep-alive connection."""

    def __init__(self, d, project):
        self.d, self.project = d, project
        self.stop = threading.Event()
        self.polls = 0
        self.error = None
        self.th = threading.Thread(target=self.loop, daemon=True)
        self.th.start()

    def loop(self):
        c = http.client.HTTPConnection(self.d.host, self.d.port, timeout=pw.DEADLINE)
        try:
            while not self.stop.is_set():
                for limit in (20, 5):
                    c.request("GET", "/api/v1/projects/%s/runs?limit=%d" %
                              (self.project, limit))
                    r = c.getresponse()
                    r.read()
                    if r.status != 200:
                        self.error = "status %d" % r.status
                        return
                    self.polls += 1
        except Exception as e:  # noqa: BLE001 (reported by finish)
            self.error = repr(e)
        finally:
            c.close()

    def finish(self):
        self.stop.set()
        self.th.join(pw.DEADLINE)
        eq(self.error, None, "the poller's error")
        expect(self.polls > 0, "the poller polled")
        return self.polls


def first_page(d, project, limit=20):
    return d.get_json("/api/v1/projects/%s/runs?limit=%d" % (project, limit))["items"]


def main(t):
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    d = t.daemon(projects={"demo": pipeline(gate)})
    poller = Poller(d, "demo")

    def listed(rid, limit=20):
        for x in first_page(d, "demo", limit):
            if x["id"] == rid:
                return x
        return None

    def new_runs_and_states():
        for i in range(N):
            r = d.trigger("demo", {"env": {"RUN": str(i)}})
            rid = r["id"]
            # Answered: the run is committed, so on the list now.
            for limit in (20, 5):
                x = listed(rid, limit)
                expect(x is not None, "run %d on the first page (limit=%d) "
                       "right after its trigger was answered" % (rid, limit))
                eq(x["id"], first_page(d, "demo", limit)[0]["id"], "the newest")
            run = d.wait_run(rid, "running")
            eq(listed(rid)["status"], "running",
               "run %d on the list once GET /runs/%d says running" % (rid, rid))
            eq(listed(rid)["started_at"], run["started_at"], "started_at")
            open(os.path.join(gate, "go-%d" % i), "w").close()
            run = d.wait_run(rid)
            eq(run["status"], "success", "run %d" % rid)
            for limit in (20, 5):
                x = listed(rid, limit)
                eq((x["status"], x["finished_at"]), (run["status"], run["finished_at"]),
                   "run %d on the list (limit=%d) once GET /runs/%d says finished"
                   % (rid, limit, rid))
    t.check("%d runs: each on the cached first page as soon as it is answered, "
            "running and finished as soon as GET /runs/ID says so" % N,
            new_runs_and_states)

    def cancel():
        rid = d.trigger("demo", {"env": {"RUN": "never"}})["id"]
        d.wait_run(rid, "running")
        eq(listed(rid)["status"], "running", "before the cancel")
        r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
        eq(r.status, 200, "cancel (%r)" % r.body[:200])
        run = d.wait_run(rid)
        eq(run["status"], "canceled", "the run")
        eq(listed(rid)["status"], "canceled", "the list right after GET /runs/ID")
    t.check("a cancel shows on the cached list as soon as the run shows it", cancel)

    def identical():
        # With nothing written in between, the kept page is the same bytes
        # as a fresh rendering would be (the last run is finished).
        a = d.get("/api/v1/projects/demo/runs?limit=50").body
        b = d.get("/api/v1/projects/demo/runs?limit=50").body
        eq(a, b, "two reads in a row")
        eq(len(d.get_json("/api/v1/projects/demo/runs?limit=50")["items"]), N + 1,
           "every run")
    t.check("two reads with no write between are the same", identical)

    def polled():
        n = poller.finish()
        print("  the poller read the list %d times" % n)
    t.check("the keep-alive poller read the list throughout without an error", polled)
    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
