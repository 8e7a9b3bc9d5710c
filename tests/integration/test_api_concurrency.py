"""50 concurrent clients, each on its own connection, trigger runs and read
at once: every request succeeds, each trigger makes exactly one run, and
every run finishes."""
import threading

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build, test]
jobs:
  build:
    stage: build
    script: echo "client $CLIENT"
  test:
    stage: test
    script: echo tested
"""
CLIENTS = 50


def main(t):
    # Each client opens a fresh connection per request.  A connection
    # counts toward its address's http.max_connections_per_address until
    # the daemon has finished answering it and seen its close, so 50
    # clients cycling connections from 127.0.0.1 can briefly hold more than
    # the default 64; the cap itself is test_api_limits' and test_http's.
    d = t.daemon(projects={"demo": PIPELINE},
                 config="http: {max_connections_per_address: 256}")
    ids, errors = {}, []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(n):
        try:
            start.wait(pw.DEADLINE)
            r = d.get("/api/v1/projects")
            eq(r.status, 200, "projects")
            run = d.trigger("demo", {"env": {"CLIENT": str(n)}})
            r = d.get("/api/v1/runs/%d" % run["id"])
            eq(r.status, 200, "run")
            eq(r.json()["id"], run["id"], "run id")
            r = d.get("/api/v1/projects/demo/runs?limit=5")
            eq(r.status, 200, "list")
            r = d.get("/metrics")
            eq(r.status, 200, "metrics")
            # Keep-alive: three more on one connection.
            c = d.conn()
            for p in ["/healthz", "/api/v1/runs/%d/events" % run["id"], "/readyz"]:
                c.request("GET", p)
                resp = c.getresponse()
                resp.read()
                eq(resp.status, 200, p)
            c.close()
            with lock:
                ids[n] = run["id"]
        except Exception as e:  # counted below
            with lock:
                errors.append("client %d: %r" % (n, e))

    def hammer():
        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(pw.DEADLINE * 2)
        eq(errors, [], "errors")
        eq(len(ids), CLIENTS, "clients done")
        eq(len(set(ids.values())), CLIENTS, "distinct run ids")
    t.check("%d clients at once: every request answered 200/201" % CLIENTS, hammer)

    def all_finish():
        pw.wait_until(lambda: not d.get_json(
            "/api/v1/projects/demo/runs?status=queued,running&limit=200")["items"],
            "every run to finish", timeout=pw.DEADLINE * 3)
        p = d.get_json("/api/v1/projects/demo/runs?limit=200")
        eq(sorted(x["id"] for x in p["items"]), sorted(ids.values()), "the runs")
        eq({x["status"] for x in p["items"]}, {"success"}, "statuses")
        for n, rid in list(ids.items())[:5]:
            text = d.get("/api/v1/runs/%d/jobs/build/log" % rid).text
            expect("client %d\n" % n in text, "run %d's log %r" % (rid, text))
        m = d.get("/metrics").text.splitlines()
        expect('pipewright_runs{project="demo",status="success"} %d' % CLIENTS in m,
               "pipewright_runs")
    t.check("every run finishes; the list holds exactly those runs", all_finish)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
