#!/usr/bin/env python3
"""bench/history.py: what a long history costs the job path.

    bench/history.py BUILD_DIR STORED [--keep N] [--runs M] [--seq K]
                     [--jobs J] [--port P] [--work DIR]

Makes a daemon of its own (sandbox none, max_jobs 4, one project 'b' of
one /bin/true job) whose store holds STORED finished runs, written
straight into it with sqlite3 in one transaction as bench/run's B3 does
(one job, one attempt each), then measures, in this order:

  burst   M runs triggered at once: runs/s from the store's times (first
          attempt started to last run finished);
  b1      one run of J /bin/true jobs (bench/run's B1): jobs/s from the
          store's times (first attempt started to last attempt ended);
  seq     K runs one after another, each triggered once the one before is
          final: API trigger -> run final from the store's times
          (runs.created_at to runs.finished_at), p50 and p99, and as the
          client saw it (POST sent to the final status read).

keep_runs is --keep (default 1,000,000: the history stays, so what is
measured is the cost of its mere presence); with a --keep below STORED
the daemon prunes down to it while it runs, and that cost is measured.
The daemon runs on core 0 as bench/run's do; with --under CMD and
--under-b1, b1's daemon runs under CMD too (callgrind: instructions per
job, two runs of different --jobs subtracted); with --strace-b1 FILE,
b1's syscalls per job by command name.  With --strace FILE,
strace -f -c counts its syscalls (and its supervisors') during burst
and seq: pread64 per run is the history a run reads.
Prints one JSON object.
"""
import argparse
import http.client
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time


def pct(xs, p):
    xs = sorted(xs)
    if not xs:
        return None
    k = max(0, min(len(xs) - 1, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


class Daemon:
    def __init__(self, build, work, port, keep, pipeline):
        self.build, self.work, self.port = build, work, port
        self.bin = os.path.join(build, "pipewright")
        os.makedirs(work, exist_ok=True)
        with open(os.path.join(work, "p.yml"), "w") as f:
            f.write(pipeline)
        self.cfg = os.path.join(work, "pipewright.yml")
        with open(self.cfg, "w") as f:
            f.write("listen: 127.0.0.1:%d\ndata_dir: data\nlog_format: text\n"
                    "anonymous_read: true\nsandbox: none\nmax_jobs: 4\n"
                    "projects:\n  - name: b\n    pipeline: p.yml\n"
                    "    keep_runs: %d\n" % (port, keep))
        self.db = os.path.join(work, "data", "pipewright.db")
        self.proc = None

    def token(self):
        return subprocess.check_output(
            [self.bin, "token", "create", "--config", self.cfg, "--name",
             "bench%d" % time.monotonic_ns(), "--scope", "operate"],
            stderr=subprocess.DEVNULL, text=True).strip()

    def seed(self, n):
        if n == 0:
            return
        # Finished in the last n minutes, one a minute: within the
        # default keep_days (90), so only --keep decides what stays.
        base = int(time.time() * 1000) - (n + 1) * 60000
        sql = """BEGIN;
WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < %d)
INSERT INTO runs (id, project, status, trigger_kind, ref, branch, commit_sha,
  created_at, started_at, finished_at, log_bytes, actor, env, pipeline_file)
SELECT x, 'b', CASE WHEN x %% 10 = 0 THEN 'failed' ELSE 'success' END, 'api',
  'refs/heads/main', 'main', printf('%%040x', x), %d + x * 60000,
  %d + x * 60000 + 50, %d + x * 60000 + 1050, 12, 'token bench', '{}',
  'p.yml' FROM i;
INSERT INTO jobs (run_id, idx, name, stage, status)
  SELECT id, 0, 't', 's', status FROM runs;
INSERT INTO attempts (run_id, idx, number, status, exit_code, reason,
  started_at, finished_at, log_bytes)
  SELECT id, 0, 1, status, CASE status WHEN 'success' THEN 0 ELSE 1 END,
  'exit status ' || CASE status WHEN 'success' THEN 0 ELSE 1 END,
  started_at, finished_at, 12 FROM runs;
COMMIT;
""" % (n, base, base, base)
        subprocess.run(["sqlite3", "-bail", self.db], input=sql, text=True,
                       check=True)

    def start(self, under=None):
        log = open(os.path.join(self.work, "serve.log"), "w")
        self.proc = subprocess.Popen(
            ["taskset", "-c", "0"] + (under.split() if under else []) +
            [self.bin, "serve", "--config", self.cfg],
            stderr=log, stdout=subprocess.DEVNULL)
        for _ in range(30000):
            with open(os.path.join(self.work, "serve.log")) as f:
                if any(l.startswith("listening on") for l in f):
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.01)
        raise SystemExit("the daemon did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait()
            self.proc = None

    def rows(self, sql):
        c = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return c.execute(sql).fetchall()
        finally:
            c.close()


class Api:
    def __init__(self, port, token):
        self.c = http.client.HTTPConnection("127.0.0.1", port)
        self.h = {"Authorization": "Bearer " + token,
                  "Content-Type": "application/json"}

    def trigger(self):
        self.c.request("POST", "/api/v1/projects/b/runs", "{}", self.h)
        r = self.c.getresponse()
        body = r.read()
        if r.status // 100 != 2:
            raise SystemExit("trigger: %d %s" % (r.status, body))
        return json.loads(body)["id"]

    def finished(self, run):
        self.c.request("GET", "/api/v1/runs/%d" % run)
        r = self.c.getresponse()
        j = json.loads(r.read())
        return j.get("finished_at") and j["status"] not in ("queued",
                                                            "running")


def wait_all(d, ids, timeout):
    deadline = time.monotonic() + timeout
    q = ",".join(str(i) for i in ids)
    while time.monotonic() < deadline:
        left = d.rows("SELECT count(*) FROM runs WHERE id IN (%s) AND"
                      " status IN ('queued', 'running')" % q)[0][0]
        if left == 0:
            return True
        time.sleep(0.05)
    return False


def per_command(path, jobs):
    """strace -f -Y's lines, counted by the caller's command name."""
    import collections
    import re
    rx = re.compile(r"^(\d+)<([^>]*)> +(\w+)\(")
    calls = collections.defaultdict(collections.Counter)
    with open(path, errors="replace") as f:
        for line in f:
            x = rx.match(line)
            if x and "resumed>" not in line:
                calls[x.group(2)][x.group(3)] += 1
    return {comm: {"calls": round(sum(c.values()) / jobs, 1),
                   "top": {k: round(v / jobs, 2) for k, v in
                           c.most_common(12)}}
            for comm, c in calls.items() if sum(c.values()) >= jobs}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("stored", type=int)
    ap.add_argument("--keep", type=int, default=1000000)
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--seq", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--port", type=int, default=18491)
    ap.add_argument("--work")
    ap.add_argument("--under", metavar="CMD", help="run the daemon under"
                    " CMD for burst and seq, e.g. 'valgrind --tool=callgrind"
                    " --callgrind-out-file=FILE' (instructions per run)")
    ap.add_argument("--under-b1", action="store_true", help="run b1's"
                    " daemon under --under's CMD too (with --runs 0 --seq 0:"
                    " instructions per job of one run of --jobs jobs)")
    ap.add_argument("--strace", metavar="FILE", help="count the daemon's"
                    " (and its supervisors') syscalls during burst and seq"
                    " with strace -f -c into FILE")
    ap.add_argument("--strace-b1", metavar="FILE", help="trace b1's daemon"
                    " and everything it starts (strace -f -Y) into FILE;"
                    " b1 gets 'syscalls_per_job': by command name (the"
                    " daemon, its supervisors, the jobs' sh and true), the"
                    " calls per job and the most frequent of each")
    a = ap.parse_args()
    work = a.work or tempfile.mkdtemp(prefix="pw-history-")
    out = {"stored": a.stored, "keep_runs": a.keep}

    # One run of one job, or of --jobs jobs for b1.
    one = "stages: [s]\njobs:\n  t:\n    stage: s\n    script: /bin/true\n"
    d = Daemon(a.build, os.path.join(work, "d"), a.port, a.keep, one)
    tok = d.token()
    d.seed(a.stored)
    d.start(a.under)
    st = None
    if a.strace:
        st = subprocess.Popen(["strace", "-f", "-c", "-o", a.strace, "-p",
                               str(d.proc.pid)], stderr=subprocess.PIPE,
                              text=True)
        st.stderr.readline()    # "strace: Process N attached"
    try:
        api = Api(a.port, tok)
        # burst
        ids = [api.trigger() for _ in range(a.runs)]
        if ids and not wait_all(d, ids, 300):
            raise SystemExit("burst: runs not finished in 300 s")
        q = ",".join(str(i) for i in ids) or "0"
        t0, t1 = d.rows("SELECT min(a.started_at), max(r.finished_at) FROM"
                        " runs r JOIN attempts a ON a.run_id = r.id WHERE"
                        " r.id IN (%s)" % q)[0]
        t0, t1 = t0 or 0, t1 or 0
        ok = d.rows("SELECT count(*) FROM runs WHERE id IN (%s) AND"
                    " status = 'success'" % q)[0][0]
        out["burst"] = {"runs": a.runs, "succeeded": ok,
                        "span_ms": t1 - t0,
                        "runs_per_s": round(ok * 1000.0 / max(t1 - t0, 1), 1)}
        # seq
        client_ms, seq = [], []
        for _ in range(a.seq):
            c0 = time.monotonic()
            run = api.trigger()
            while not api.finished(run):
                time.sleep(0.0005)
            client_ms.append((time.monotonic() - c0) * 1000.0)
            seq.append(run)
        store_ms = [fa - ca for ca, fa in d.rows(
            "SELECT created_at, finished_at FROM runs WHERE id IN (%s)"
            % (",".join(str(i) for i in seq) or "0"))] or [0]
        client_ms = client_ms or [0]
        out["seq"] = {
            "runs": a.seq,
            "store_p50_ms": pct(store_ms, 50), "store_p99_ms": pct(store_ms, 99),
            "store_mean_ms": round(statistics.mean(store_ms), 2),
            "client_p50_ms": round(pct(client_ms, 50), 2),
            "client_p99_ms": round(pct(client_ms, 99), 2)}
        out["finished_runs_after"] = d.rows(
            "SELECT count(*) FROM runs WHERE status NOT IN"
            " ('queued', 'running')")[0][0]
    finally:
        d.stop()
        if st:
            st.wait()
            st.stderr.close()

    # b1: the same store, a pipeline of --jobs jobs.
    if a.jobs > 0:
        with open(os.path.join(d.work, "p.yml"), "w") as f:
            f.write("stages: [s]\njobs:\n")
            for i in range(a.jobs):
                f.write("  t%d:\n    stage: s\n    script: /bin/true\n" % i)
        d.start(a.under if a.under_b1 else None)
        st = None
        if a.strace_b1:
            st = subprocess.Popen(["strace", "-f", "-Y", "-e", "signal=none",
                                   "-o", a.strace_b1, "-p",
                                   str(d.proc.pid)], stderr=subprocess.PIPE,
                                  text=True)
            st.stderr.readline()    # "strace: Process N attached"
        try:
            api = Api(a.port, tok)
            run = api.trigger()
            if not wait_all(d, [run], 300):
                raise SystemExit("b1: run not finished in 300 s")
            if st:
                st.terminate()
                st.wait()
                st.stderr.close()
                st = None
            span, ok = d.rows("SELECT max(finished_at) - min(started_at),"
                              " sum(status = 'success') FROM attempts"
                              " WHERE run_id = %d" % run)[0]
            out["b1"] = {"jobs": a.jobs, "succeeded": ok, "span_ms": span,
                         "jobs_per_s": round(ok * 1000.0 / max(span, 1), 1)}
            if a.strace_b1:
                out["b1"]["syscalls_per_job"] = per_command(a.strace_b1,
                                                            a.jobs)
        finally:
            if st:
                st.terminate()
                st.wait()
            d.stop()
    if not a.work:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
