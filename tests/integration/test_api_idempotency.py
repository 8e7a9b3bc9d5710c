"""Idempotency-Key on POST /api/v1/projects/{project}/runs: a retried
trigger with the same key answers the same run and makes no second one,
even when the retries race; another key, or the same key on another
project, makes a new run."""
import threading

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: echo built
"""


def main(t):
    d = t.daemon(projects={"demo": PIPELINE, "other": PIPELINE})
    st = {}

    def same_key():
        h = {"Idempotency-Key": "deploy-2024-01-01"}
        a = d.trigger("demo", {"ref": "main"}, headers=h)
        b = d.trigger("demo", {"ref": "main"}, headers=h)
        eq(b["id"], a["id"], "the retried trigger's run id")
        d.wait_run(a["id"])
        c = d.trigger("demo", {"ref": "main"}, headers=h)
        eq((c["id"], c["status"]), (a["id"], "success"),
           "a retry after the run finished answers that run")
        p = d.get_json("/api/v1/projects/demo/runs")
        eq([x["id"] for x in p["items"]], [a["id"]], "one run in the list")
        ev = d.get_json("/api/v1/runs/%d/events" % a["id"])["items"]
        eq([e["action"] for e in ev], ["trigger"], "one trigger event")
        st["first"] = a["id"]
    t.check("the same key twice: the same run, one run in the list", same_key)

    def other_keys():
        a = d.trigger("demo", {}, headers={"Idempotency-Key": "another"})
        expect(a["id"] != st["first"], "another key made a new run")
        b = d.trigger("other", {}, headers={"Idempotency-Key": "deploy-2024-01-01"})
        expect(b["id"] not in (st["first"], a["id"]), "the key on another project")
        eq(b["project"], "other", "project")
        c = d.trigger("demo", {})
        expect(c["id"] not in (st["first"], a["id"], b["id"]), "no key: a new run")
        eq(len(d.get_json("/api/v1/projects/demo/runs")["items"]), 3, "demo's runs")
    t.check("another key, the key on another project, no key: new runs", other_keys)

    def racing():
        ids, errors = [], []

        def one():
            try:
                ids.append(d.trigger("demo", {}, headers={"Idempotency-Key": "race"})["id"])
            except Exception as e:  # reported below
                errors.append(repr(e))
        threads = [threading.Thread(target=one) for _ in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(pw.DEADLINE)
        eq(errors, [], "errors")
        eq(len(ids), 8, "answers")
        eq(len(set(ids)), 1, "distinct run ids among 8 racing retries %r" % ids)
        eq(len(d.get_json("/api/v1/projects/demo/runs")["items"]), 4, "demo's runs")
    t.check("8 racing requests with one key: one run", racing)

    def other_body():
        h = {"Idempotency-Key": "deploy-2024-01-01"}
        # The same run for the same canonical ref ("main" is refs/heads/main)
        # and env in any order.
        a = d.trigger("demo", {"ref": "refs/heads/main"}, headers=h)
        eq(a["id"], st["first"], "the same ref, spelt in full")
        k = {"Idempotency-Key": "env-order"}
        b = d.trigger("demo", {"env": {"A": "1", "B": "2"}}, headers=k)
        c = d.trigger("demo", {"env": {"B": "2", "A": "1"}}, headers=k)
        eq(c["id"], b["id"], "the same env in another order")
        n = len(d.get_json("/api/v1/projects/demo/runs")["items"])
        for body, what in [({"ref": "release"}, "another ref"),
                           ({"ref": "main", "env": {"X": "1"}}, "another env"),
                           ({"ref": "main", "commit": "a" * 40}, "a commit")]:
            r = d.post("/api/v1/projects/demo/runs", body=body, token="operator", headers=h)
            d.expect_error(r, 422, "unprocessable_entity",
                           "the Idempotency-Key 'deploy-2024-01-01' made run %d from "
                           "another ref, commit or env; use a new key" % st["first"], what)
        eq(len(d.get_json("/api/v1/projects/demo/runs")["items"]), n, "no new run")
    t.check("the key reused with another ref, commit or env: 422, no run", other_body)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
