"""Caches through the daemon (strict sandbox where it can run, else
none, saying so), on a repository project with a GitHub webhook:

- a miss, then a hit of the exact key on the next run (not saved again);
- a changed key file: the exact key misses, a restore_keys prefix hits;
- a feature branch's run gets main's entry (the default branch's scope);
- a pull request's run saves under pr:N, which a main run never reads;
- two jobs of one stage saving one key: one entry, both succeed, one says
  it skipped;
- a corrupt blob: the next run's log says so, the entry is dropped, the
  job runs (cold) and saves anew;
- eviction: with caches.max_size small, a second entry pushes the least
  recently used one out, and its blob (aged past the collector's grace)
  is collected; the metrics count it.
A full disk while saving is left to test_blob's unit test (-ENOSPC)."""
import os
import re
import time

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

PIPELINE = r"""
stages: [build, par]
jobs:
  build:
    stage: build
    script:
      - if [ -f cache/stamp ]; then echo "warm from $(cat cache/stamp)"; else echo cold; fi
      - mkdir -p cache && echo "run-$PIPEWRIGHT_RUN_ID" > cache/stamp
    cache:
      key: {prefix: deps, files: [lock.txt]}
      paths: [cache/]
      restore_keys: [deps-]
  par1:
    stage: par
    script: [mkdir -p p, echo one > p/x]
    cache: {key: shared, paths: [p/]}
  par2:
    stage: par
    script: [mkdir -p p, echo two > p/x]
    cache: {key: shared, paths: [p/]}
"""

EVICT = r"""
jobs:
  fill:
    script: [mkdir -p c, head -c 3000 /dev/urandom > c/blob]
    cache: {key: "e-$PIPEWRIGHT_RUN_ID", paths: [c/]}
"""


def caches(d, project="app"):
    return d.get_json("/api/v1/projects/%s/caches?limit=200" % project)["items"]


def blob_path(d, digest):
    return os.path.join(d.data, "blobs", "sha256", digest[:2], digest)


def main(t):
    origin = wh.Origin(t)
    origin.commit("first", {".pipewright.yml": PIPELINE, "lock.txt": "v1\n"})
    origin.push()
    why = pw.strict_sandbox_missing()
    mode = "strict"
    if why:
        print("NOTE: the strict sandbox cannot run here (%s): sandbox none" % why)
        mode = "none"
    ev = wh.Origin(t, "ev")
    ev.commit("fill", {".pipewright.yml": EVICT})
    ev.push()
    d = t.daemon(projects={"app": wh.project(t, origin, "github"), "ev": {"repo": ev.bare}},
                 config="sandbox: %s\ncaches: {max_size: 5000}\n" % mode)

    def run(ref="main", ok=True):
        rid = d.trigger("app", {"ref": ref})["id"]
        r = d.wait_run(rid)
        if ok:
            eq(r["status"], "success", "run %d (log:\n%s)" % (rid, wh.run_log(d, rid)))
        return rid, wh.job_log(d, rid, "build")

    st = {}

    def miss_then_hit():
        rid, log = run()
        st["first"] = rid
        m = re.search(r"cache miss: (deps-[0-9a-f]{64})\n", log)
        expect(m, "no miss line:\n%s" % log)
        st["k1"] = key = m.group(1)
        expect("cold" in log and "cache saved: %s (branch:main)" % key in log,
               "first run:\n%s" % log)
        rid2, log = run()
        expect("cache hit: %s (branch:main)" % key in log, "second run:\n%s" % log)
        expect("warm from run-%d" % rid in log, "not warm:\n%s" % log)
        expect("cache not saved: %s: skipped, the key exists (branch:main)" % key in log,
               "an exact hit is saved again:\n%s" % log)
        keys = [c["key"] for c in caches(d) if c["key"].startswith("deps-")]
        eq(keys, [key], "one entry")
    t.check("a miss, then a hit of the exact key", miss_then_hit)

    def parallel():
        rid = st["first"]
        logs = [wh.job_log(d, rid, j) for j in ("par1", "par2")]
        for j in ("par1", "par2"):
            eq(d.job(rid, j)["status"], "success", j)
        saved = [l for l in logs if "cache saved: shared (branch:main)" in l]
        skipped = [l for l in logs if "cache not saved: shared: skipped" in l]
        eq((len(saved), len(skipped)), (1, 1), "one saved, one skipped:\n%s" % "\n".join(logs))
        eq(len([c for c in caches(d) if c["key"] == "shared"]), 1, "one entry")
    t.check("two parallel savers of one key: one entry, one skipped", parallel)

    def restore_keys():
        origin.commit("lock v2", {"lock.txt": "v2\n"})
        origin.push()
        _, log = run()
        m = re.search(r"cache hit: (deps-[0-9a-f]{64}) \(branch:main, by restore_keys for "
                      r"(deps-[0-9a-f]{64})\)", log)
        expect(m, "no prefix hit:\n%s" % log)
        eq(m.group(1), st["k1"], "the older key found by its prefix")
        st["k2"] = m.group(2)
        expect("cache saved: %s (branch:main)" % st["k2"] in log, "the new key saved:\n%s" % log)
    t.check("a changed key file: the restore_keys prefix hits", restore_keys)

    def fallback():
        origin.checkout("feature", create=True)
        origin.commit("feature lock", {"lock.txt": "feature\n"})
        origin.push("refs/heads/feature")
        _, log = run("feature")
        expect(re.search(r"cache hit: deps-[0-9a-f]{64} \(branch:main, by restore_keys", log),
               "feature did not get main's entry:\n%s" % log)
        expect(re.search(r"cache saved: deps-[0-9a-f]{64} \(branch:feature\)", log),
               "feature saves to its own scope:\n%s" % log)
    t.check("a feature branch's run falls back to main's entry", fallback)

    def pr_isolation():
        sha = origin.commit("pr lock", {"lock.txt": "pr-only\n"})
        origin.push("refs/pull/7/head")
        r = wh.hook(d, "github", wh.github_pr(sha, 7), event="pull_request")
        rid = wh.accepted(r)
        eq(d.wait_run(rid)["status"], "success", "PR run")
        log = wh.job_log(d, rid, "build")
        m = re.search(r"cache saved: (deps-[0-9a-f]{64}) \(pr:7\)", log)
        expect(m, "the PR saves under pr:7:\n%s" % log)
        prkey = m.group(1)
        # main with the same lock file: the same key, never pr:7's entry.
        origin.checkout("main")
        origin.commit("main lock", {"lock.txt": "pr-only\n"})
        origin.push()
        _, log = run()
        expect("pr:7" not in log, "main read pr:7:\n%s" % log)
        expect("cache hit: %s (branch:main)" % prkey not in log, "exact hit:\n%s" % log)
        expect("cache saved: %s (branch:main)" % prkey in log, "main saves its own:\n%s" % log)
        scopes = sorted(c["scope"] for c in caches(d) if c["key"] == prkey)
        eq(scopes, ["branch:main", "pr:7"], "two entries of one key")
    t.check("a pull request's save is never read by main", pr_isolation)

    def corrupt():
        key = [c for c in caches(d) if c["scope"] == "branch:main"
               and c["key"].startswith("deps-")][0]
        with open(blob_path(d, key["digest"]), "r+b") as f:
            f.seek(10)
            f.write(b"garbage" * 10)
        _, log = run()
        expect("was corrupt: dropped" in log, "no corrupt line:\n%s" % log)
        expect("cold" in log, "the job did not run cold:\n%s" % log)
        expect("cache saved: %s (branch:main)" % key["key"] in log, "saved anew:\n%s" % log)
    t.check("a corrupt blob is a miss, its entry dropped, the job runs", corrupt)

    def evict():
        rid1 = d.trigger("ev", {"ref": "main"})["id"]
        eq(d.wait_run(rid1)["status"], "success", "first fill")
        first = [c for c in caches(d, "ev")]
        eq(len(first), 1, "one entry (log:\n%s)" % wh.job_log(d, rid1, "fill"))
        path = blob_path(d, first[0]["digest"])
        old = time.time() - 7200
        os.utime(path, (old, old))
        rid2 = d.trigger("ev", {"ref": "main"})["id"]
        eq(d.wait_run(rid2)["status"], "success", "second fill")
        pw.wait_until(lambda: [c["key"] for c in caches(d, "ev")] == ["e-%d" % rid2],
                      "the older entry to be evicted")
        pw.wait_until(lambda: not os.path.exists(path), "its blob to be collected")
        m = d.get("/metrics").text
        ev = re.search(r"^pipewright_cache_evictions_total (\d+)$", m, re.M)
        expect(ev and int(ev.group(1)) >= 1, "evictions metric:\n%s" % m)
        hits = re.search(r"^pipewright_cache_hits_total (\d+)$", m, re.M)
        expect(hits and int(hits.group(1)) >= 3, "hits metric")
    t.check("eviction past caches.max_size, and the blob collected", evict)
    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
