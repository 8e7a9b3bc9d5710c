#!/usr/bin/env python3
"""bench/report.py RES ROOT DATE SECONDS COMMAND [COMMIT]: bench/run's report.

Reads the benchmarks' JSON objects in RES (one per benchmark), computes
each figure's ratio to its reference and whether its goal is met, and
writes bench/results/DATE.json, the latency plots bench/results/*.png
(gnuplot) and docs/performance.md.  Standard library only.
"""
import json
import os
import platform
import subprocess
import sys

RES, ROOT, DATE, SECONDS, COMMAND = sys.argv[1:6]
COMMIT = sys.argv[6] if len(sys.argv) > 6 else None   # the one measured
OUT = os.path.join(ROOT, "bench", "results")


def load(name):
    try:
        with open(os.path.join(RES, name + ".json")) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        return {"failed": "no result (%s)" % e.__class__.__name__}


def machine():
    model = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {"nproc": os.cpu_count(), "model": model,
            "kernel": platform.release(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") *
                                os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def git_head():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short",
                               "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


rows = []   # (id, figure, value, reference, ratio, goal, met)


def row(bid, what, value, ref, ratio, goal, met, stretch=False):
    """A figure.  A stretch goal is reported, met or not, but it is no
    goal of the project's: it is neither counted nor listed as missed."""
    rows.append({"id": bid, "figure": what, "value": value,
                 "reference": ref, "ratio": ratio, "goal": goal,
                 "met": met, "stretch": stretch})


def r2(x):
    return None if x is None else round(x, 2)


def skipped(bid, res):
    why = res.get("not_run") or res.get("failed")
    if why:
        row(bid, "not run" if "not_run" in res else "failed", None, None,
            None, None, None)
        rows[-1]["why"] = why
        return True
    return False


results = {b: load(b) for b in ["B1", "B1hist", "B1sync", "B2", "B3", "B4",
                                "B5", "B6", "B7", "B8", "B9blob", "B9rust",
                                "B9healthz", "B10", "B12start", "B12pull",
                                "B13", "B14"]}
seconds = {}
for b in results:
    try:
        with open(os.path.join(RES, b + ".seconds")) as f:
            seconds[b] = int(f.read())
    except OSError:
        results[b] = {"not_run": "not selected in this run"}

b = results["B1"]
if not skipped("B1", b):
    loop = b["ref_loop"]["jobs_per_s"]
    bw = b["ref_bwrap"]["per_s"]
    n, s = b["none"]["jobs_per_s"], b["strict"]["jobs_per_s"]
    row("B1", "jobs/s, sandbox none (%d /bin/true jobs, max_jobs %d)" %
        (b["none"]["jobs"], b["max_jobs"]), n,
        "fork/exec + 2 fsync'd commits: %s/s" % loop, r2(n / loop),
        ">= 0.7x", n / loop >= 0.7)
    row("B1", "jobs/s, sandbox strict (%d jobs)" % b["strict"]["jobs"], s,
        "sandbox none: %s/s" % n, r2(s / n), ">= 0.8x", s / n >= 0.8)
    row("B1", "jobs/s, sandbox strict, against bwrap", s,
        "bwrap --unshare-all: %s/s" % bw, r2(s / bw), ">= 2.5x (stretch)",
        s / bw >= 2.5, stretch=True)

b = results["B1hist"]
if not skipped("B1hist", b):
    base = b["none"]
    for key, goal in (("hist_small", 0.95), ("hist_big", 0.9)):
        c = b[key]
        ratio = c["jobs_per_s"] / max(base["jobs_per_s"], 0.1)
        row("B1", "jobs/s, sandbox none, %d finished runs stored (%d jobs; "
            "run %s)" % (c["runs_stored"], c["jobs"], c["run_status"]),
            c["jobs_per_s"], "empty store, same run: %s/s" %
            base["jobs_per_s"], r2(ratio), ">= %gx" % goal,
            ratio >= goal and c["run_status"] == "success" and
            c["runs_stored"] >= c["history_written"])

b = results["B1sync"]
if not skipped("B1sync", b):
    calls = ", ".join("%s %d" % kv for kv in sorted(b["calls"].items()))
    row("B1", "fsync-like calls per job, sandbox none (%d jobs under strace; "
        "%s): the daemon %.2f, its supervisors and jobs %.2f" %
        (b["jobs"], calls or "none", b["daemon_per_job"],
         b["forked_per_job"]), b["per_job"],
        "bench/forkloop (2 commits a job): %s a job" %
        b["ref_loop"]["per_job"],
        r2(b["per_job"] / b["ref_loop"]["per_job"])
        if b["ref_loop"]["per_job"] else None, None, None)

b = results["B3"]
if not skipped("B3", b):
    p, g = b["pipewright"], b["nginx"]
    row("B3", "requests/s, runs?limit=20 over %d runs" % b["runs_stored"],
        p["rps"], "nginx, the same %d-byte JSON as a file: %s/s" %
        (b["body_bytes"], g["rps"]), r2(p["rps"] / g["rps"]), ">= 0.5x",
        p["rps"] / g["rps"] >= 0.5)
    pp, gp = p["pct_ms"]["99"], g["pct_ms"]["99"]
    row("B3", "p99 ms (wrk, %d connections)" % b["connections"], pp,
        "nginx p99: %s ms" % gp, r2(pp / gp if gp else None), "<= 3x",
        pp <= 3 * gp)

b = results["B4"]
if not skipped("B4", b):
    ch = b["ref_chunks"]["mib_per_s"]
    for key, label in (("big", "4 KiB writes"), ("lines", "128-byte lines")):
        c = b[key]
        pipe = c["ref_pipe"]["mib_per_s"]
        mib = c["bytes"] / 2**20
        row("B4", "transport MiB/s, %d MiB in %s" % (mib, label),
            c["transport_mib_s"], "plain pipe, same writer: %s MiB/s" % pipe,
            r2(c["transport_mib_s"] / pipe), ">= 0.8x",
            c["transport_mib_s"] / pipe >= 0.8)
        row("B4", "stored MiB/s, %s (%d of %d bytes stored)" %
            (label, c["stored_bytes"], c["bytes"]), c["stored_mib_s"],
            "SQLite 256 KiB chunk commits: %s MiB/s" % ch,
            r2(c["stored_mib_s"] / ch), ">= 0.8x",
            c["stored_mib_s"] / ch >= 0.8)
        h = c["healthz"]
        row("B4", "/healthz p99 ms during the %s flood (%d probes, %d "
            "errors)" % (label, h["requests"], h["errors"]), h["p99_ms"],
            None, None, "<= 10 ms", h["p99_ms"] <= 10 and h["errors"] == 0)

b = results["B6"]
if not skipped("B6", b):
    row("B6", "SIGKILL, start, /readyz 200 in ms (%d runs; %d restarts, "
        "worst)" % (b["runs_stored"], len(b["restarts_ms"])), b["max_ms"],
        None, None, "<= 1000 ms", b["max_ms"] <= 1000)

b = results["B7"]
if not skipped("B7", b):
    mi, ma = b["mem_idle"], b["mem_after_runs"]
    # The goal is about what the daemon allocates (anonymous memory);
    # private file pages (its own and its libraries' code, when no other
    # process maps them) are shown beside it.
    row("B7", "idle private (anonymous) memory kB",
        mi["anonymous_kb"], "RSS %d kB, PSS %d kB, private incl. file "
        "pages %d kB" % (mi["rss_kb"], mi["pss_kb"], mi["private_kb"]), None,
        "<= 4096 kB", mi["anonymous_kb"] <= 4096)
    row("B7", "idle CPU %% of a core over %d s" % b["idle_seconds"],
        b["idle_cpu_pct"], "%d ticks" % b["idle_cpu_ticks"], None,
        "<= 0.1%", b["idle_cpu_pct"] <= 0.1)
    growth = ma["anonymous_kb"] - mi["anonymous_kb"]
    row("B7", "anonymous memory growth kB after %d runs (%d s)" %
        (b["runs_made"], b["runs_seconds"]), growth,
        "RSS %d -> %d kB" % (mi["rss_kb"], ma["rss_kb"]), None,
        "<= 1024 kB after 10,000 runs",
        growth <= 1024 and b["runs_made"] >= 10000)

b = results["B9blob"]
if not skipped("B9", b):
    p, u = b["pack"], b["unpack"]
    what = "%d MiB in %d files" % (b["bytes"] >> 20, b["files"])
    tc, tx = b["tar_c_ms"] / 1000, b["tar_x_ms"] / 1000
    row("B9", "save s, %s (blob %d MiB; zstd %d, %d threads)" %
        (what, p["archive_bytes"] >> 20, p["zstd_level"], p["zstd_threads"]),
        p["seconds"], "tar -I zstd -cf: %.2f s (%d MiB)" %
        (tc, b["tar_bytes"] >> 20), r2(tc / p["seconds"]), ">= 1.0x",
        tc / p["seconds"] >= 1.0)
    row("B9", "restore s, %s" % what, u["seconds"],
        "tar -I zstd -xf: %.2f s" % tx, r2(tx / u["seconds"]), ">= 1.0x",
        tx / u["seconds"] >= 1.0)

b = results["B9rust"]
if not skipped("B9", b):
    ok = all(rc == 0 for rc in b["pipeline_rc"])
    speedup = b["pipeline_cold_s"] / max(b["pipeline_warm_s"], 0.01)
    row("B9", "the Rust pipeline, warm run s (`pipewright run %s`%s)" %
        (b["run_args"], "" if ok else "; a run failed: %s" %
         b["pipeline_rc"]), b["pipeline_warm_s"],
        "cold run: %.2f s" % b["pipeline_cold_s"], r2(speedup),
        "warm >= 5x faster", ok and speedup >= 5)
    if "pipeline_changed_s" in b:
        row("B9", "the Rust pipeline after a commit to src/main.rs s (caches "
            "by restore_keys)", b["pipeline_changed_s"], "cold run: %.2f s" %
            b["pipeline_cold_s"], r2(b["pipeline_cold_s"] /
                                     max(b["pipeline_changed_s"], 0.01)),
            None, None)
    row("B9", "cold `cargo build --release` s of the crate (%s)" %
        b["cargo"], b["cold_build_s"], "rebuild over target/: %.2f s "
        "with commit mtimes, %.2f s with mtimes now" %
        (b["rebuild_commit_mtimes_s"], b["rebuild_fresh_mtimes_s"]), None,
        ">= 30 s", b["cold_build_s"] >= 30)

b = results["B9healthz"]
if not skipped("B9", b):
    h = b["healthz"]
    row("B9", "/healthz p99 ms while a %d MiB, %d-file cache is saved and "
        "restored (%d probes, %d errors)" % (b["bytes"] >> 20, b["files"],
                                             h["requests"], h["errors"]),
        h["p99_ms"], "; ".join((b["save_line"] + "\n" +
                                b["restore_line"]).split("\n")), None,
        "<= 10 ms", h["p99_ms"] <= 10 and h["errors"] == 0 and
        b["run_status"] == "success")
    e = b.get("healthz_end")
    if e:
        row("B9", "/healthz p99 ms at the run's end, its workspaces (the "
            "tree twice) removed (%d probes, %d errors)" %
            (e["requests"], e["errors"]), e["p99_ms"],
            "max %s ms" % e["max_ms"], None, None, None)

b = results["B10"]
if not skipped("B10", b) and "runs_100k" in b:
    row("B10", "runs list first render ms, %d runs stored (Chromium, Performance API; "
        "median of %d)" % (b["stored_runs"], len(b["runs_100k"]["ms"])),
        b["runs_100k"]["median_ms"], "%s ms with 10 runs" % b["runs_10"]["median_ms"],
        b["runs_ratio"], "<= 1.5x", b["runs_ratio"] <= 1.5)
    if "log_50mb" in b:
        row("B10", "a %d MB log: ms to its first visible lines (median of %d)" %
            (b["log_bytes"] // 1000000, len(b["log_50mb"]["ms"])),
            b["log_50mb"]["median_ms"], None, None, "<= 500 ms",
            b["log_50mb"]["median_ms"] <= 500)
    if "idle_tab" in b:
        i = b["idle_tab"]
        row("B10", "daemon CPU %% of a core, one tab on a running job's log for %d s" %
            round(i["seconds"]), i["cpu_percent"], None, None, "<= 1%",
            i["cpu_percent"] <= 1)

b = results["B8"]
if not skipped("B8", b):
    h = b["healthz"]
    row("B8", "/healthz p99 ms, %d fork bombs and memory hogs, strict "
        "(%d probes, %d errors)" % (b["jobs"], h["requests"], h["errors"]),
        h["p99_ms"], None, None, "<= 10 ms",
        h["p99_ms"] <= 10 and h["errors"] == 0)
    ends = {}
    for a in b["attempts"]:
        k = "%s: %s" % (a["job"].rstrip("0123456789"),
                        a["reason"] or a["status"])
        ends[k] = ends.get(k, 0) + 1
    row("B8", "how the hostile jobs ended", "; ".join(
        "%s ×%d" % (k, v) for k, v in sorted(ends.items())), None, None,
        "killed by their limits", all("killed" in k for k in ends))

b = results["B2"]
if not skipped("B2", b):
    rows_s = b["ref_rows"]["rows_per_s"]
    ng = b.get("ref_nginx") or {}
    for mode, label in (("keepalive", "keep-alive"),
                        ("close", "Connection: close")):
        h = b[mode]
        n = ng.get(mode)
        row("B2", "webhooks/s, %s (%d signed %d-byte pushes, %d "
            "connections; %d answered 2xx, %d other, %d errors)" %
            (label, h["requests"], b["body_bytes"], h["connections"],
             h["ok"], h["non2xx"], h["errors"]), h["rps"],
            "single-row commits (synchronous=FULL): %s/s" % rows_s,
            r2(h["rps"] / rows_s), ">= 2.5x", h["rps"] / rows_s >= 2.5)
        if n:
            row("B2", "webhooks/s, %s, against nginx" % label, h["rps"],
                "nginx answering a static 202: %s/s" % n["rps"],
                r2(h["rps"] / n["rps"]), None, None)
        row("B2", "p99 ms, %s (p50 %s ms)" % (label, h["pct_ms"]["50"]),
            h["pct_ms"]["99"], "nginx p99: %s ms" % n["pct_ms"]["99"]
            if n else None, r2(h["pct_ms"]["99"] / n["pct_ms"]["99"])
            if n and n["pct_ms"]["99"] else None, "<= 50 ms",
            h["pct_ms"]["99"] <= 50)
    ok = b["keepalive"]["ok"] + b["close"]["ok"]
    lost = ok - b["runs_stored"]
    dup = b["run_ids_answered"] - b["distinct_run_ids"]
    row("B2", "runs stored / 2xx answers (distinct run ids answered: %d; "
        "still queued: %d)" % (b["distinct_run_ids"], b["runs_queued"]),
        "%d / %d" % (b["runs_stored"], ok), None, None,
        "0 lost, 0 duplicate",
        lost == 0 and dup == 0 and b["distinct_run_ids"] == ok)

def stuck_text(settle):
    """What a stuck run looks like in the store, in a few words."""
    out = []
    runs = settle.get("stuck") or []
    for r in runs[:2]:
        jobs = "; ".join("%s %s%s" % (j["job"], j["status"],
                                      ", attempt %d %s%s" % (
                                          j["attempt"]["number"],
                                          j["attempt"]["status"],
                                          " (%s)" % j["attempt"]["reason"]
                                          if j["attempt"].get("reason")
                                          else "")
                                      if j.get("attempt") else
                                      ", no attempt")
                         for j in r["jobs"][:4])
        out.append("run %d %s: %s" % (r["run"], r["status"], jobs))
    if len(runs) > 2:
        out.append("…")
    return " / ".join(out)


b = results["B5"]
if not skipped("B5", b):
    for key, goal in (("none", 5), ("strict", 8)):
        c = b.get(key)
        if not c:
            continue
        if c.get("failed"):
            row("B5", "exit-to-execve, sandbox %s: FAILED, %s" %
                (key, c["failed"]), None, None, None, "<= %d ms" % goal,
                False)
            continue
        settle = c.get("settle") or {}
        if c.get("runs_left"):
            # A run that never finishes is the benchmark's failure, not a
            # latency: said first, with what the store holds of it.
            row("B5", "exit-to-execve, sandbox %s: FAILED, %d of %d runs "
                "never finished (%s, given up after %d s; %s)" %
                (key, c["runs_left"], c["runs"],
                 "no job ended for 15 s" if settle.get("why") == "stalled"
                 else "the time allowed ran out", settle.get("waited_s", 0),
                 stuck_text(settle) or "no detail"),
                None, None, None, "<= %d ms" % goal, False)
            continue
        if c.get("p99_us") is None:
            row("B5", "exit-to-execve, sandbox %s: no pairs measured" % key,
                None, None, None, "<= %d ms" % goal, False)
            continue
        row("B5", "exit-to-execve p99 ms on the freed slot, sandbox %s "
            "(%d runs x 4 jobs, max_jobs %d, %d pairs; p50 %.2f ms, "
            "max %.2f ms)" % (key, c["runs"], c["max_jobs"], c["pairs"],
                              c["p50_us"] / 1000, c["max_us"] / 1000),
            round(c["p99_us"] / 1000, 2), None, None, "<= %d ms" % goal,
            c["p99_us"] <= goal * 1000 and c["negative"] == 0 and
            c["runs"] == c.get("runs_wanted"))

b = results["B13"]
if not skipped("B13", b):
    for key in ("none", "strict"):
        c = b.get(key)
        if not c:
            continue
        t = c.get("trigger") or {}
        m = c.get("median_run")
        if c.get("failed") or not m or t.get("stuck"):
            row("B13", "a 20-job pipeline, sandbox %s: FAILED, %s" %
                (key, c.get("failed") or "stuck: %s" % t.get("stuck")),
                None, None, None, ">= 0.9x", False)
            continue
        ok = all(r["status"] == "success" and r["jobs_timed"] == c["jobs"]
                 for r in c["runs"])
        row("B13", "a %d-job pipeline of 100 ms jobs (lint 2, unit shards "
            "8, 3x3 matrix, package 1; max_jobs %d), trigger to run final "
            "ms, sandbox %s (median of %d runs: %s ms)" %
            (c["jobs"], c["max_jobs"], key, len(c["runs"]),
             ", ".join("%g" % r["end_to_end_ms"] for r in c["runs"])),
            m["end_to_end_ms"], "its critical path's job times: %g ms "
            "(%s; against the nominal 4 x 100 ms: %.2fx)" %
            (m["critical_path_ms"], ", ".join(
                "%s %g" % kv for kv in m["stages_ms"].items()),
             400 / m["end_to_end_ms"]),
            r2(m["ratio"]), ">= 0.9x", ok and m["ratio"] >= 0.9)

b = results["B14"]
if not skipped("B14", b):
    base = b["none"]
    for key in ("hist_small", "hist_big"):
        c = b[key]
        if c.get("stuck") or not c.get("runs"):
            row("B14", "one-job runs, trigger to final, %d runs stored: "
                "FAILED, stuck: %s" % (c["history"], c.get("stuck")), None,
                None, None, "p50 <= 10 ms, p99 <= 20 ms", False)
            continue
        row("B14", "one /bin/true job, trigger to run final p50 ms, runs "
            "one after another, %d finished runs stored (%d runs; p99 %s "
            "ms, max %s ms; the store's created to finished p50 %s ms)" %
            (c["history"], c["runs"], c["p99_ms"], c["max_ms"],
             c["store_p50_ms"]), c["p50_ms"],
            "empty store: p50 %s ms, p99 %s ms" % (base["p50_ms"],
                                                  base["p99_ms"]),
            r2(c["p50_ms"] / base["p50_ms"]) if base.get("p50_ms") else None,
            "p50 <= 10 ms, p99 <= 20 ms",
            c["p50_ms"] <= 10 and c["p99_ms"] <= 20 and
            c["runs"] == c["runs_wanted"] and
            set(c["statuses"]) == {"success"})

b = results["B12start"]
if not skipped("B12", b):
    img, host = b.get("start_strict_rootfs"), b.get("start_strict_pool")
    if img and host:
        ratio = img["mean_ms"] / host["mean_ms"]
        row("B12", "a job's start ms (exec_start to its execve) in an image's "
            "root, strict (%d starts; median %.2f ms)" %
            (b["spawns"], img["median_ms"]), r2(img["mean_ms"]),
            "on the host's root: %.2f ms" % host["mean_ms"], r2(ratio),
            "<= 1.2x", ratio <= 1.2)
    else:
        row("B12", "a job's start in an image's root: not measured", None,
            None, None, "<= 1.2x", False)

b = results["B12pull"]
if not skipped("B12", b):
    ratio = b["hand_median_ms"] / b["ours_median_ms"]
    row("B12", "a cold pull and unpack s of an image (%d MiB of layers) by "
        "pipewright run, median of 3" % b["layers_mib"],
        r2(b["ours_median_ms"] / 1000),
        "skopeo copy + umoci unpack by hand: %.2f s" %
        (b["hand_median_ms"] / 1000), r2(ratio), ">= 0.9x", ratio >= 0.9)


def plot(name, title, series):
    """Latency percentile plot of raw samples: (label, file) pairs."""
    data = []
    for label, path in series:
        try:
            with open(path) as f:
                v = sorted(float(x) for x in f if x.strip())
        except OSError:
            continue
        if not v:
            continue
        dat = path + ".cdf"
        with open(dat, "w") as f:
            for i, x in enumerate(v):
                f.write("%.6f %.4f\n" % (100.0 * (i + 1) / len(v), x))
        data.append((label, dat))
    if not data:
        return None
    png = os.path.join(OUT, "%s-%s.png" % (DATE, name))
    cmds = ["set terminal pngcairo size 800,450" if has_cairo() else
            "set terminal png size 800,450",
            "set output '%s'" % png, "set title '%s'" % title,
            "set xlabel 'percentile'", "set ylabel 'latency (ms)'",
            "set logscale y", "set grid", "set key top left",
            "set xrange [0:100]"]
    cmds.append("plot " + ", ".join("'%s' using 1:2 with lines lw 2 "
                                    "title '%s'" % (d, l) for l, d in data))
    try:
        subprocess.run(["gnuplot"], input="\n".join(cmds), text=True,
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report: gnuplot: %s" % e, file=sys.stderr)
        return None
    return os.path.relpath(png, ROOT)


def has_cairo():
    try:
        out = subprocess.run(["gnuplot", "-e", "set terminal"],
                             capture_output=True, text=True).stderr
        return "pngcairo" in out
    except OSError:
        return False


def plot_pcts(name, title, series):
    """wrk's percentiles (no raw samples): (label, {pct: ms}) pairs."""
    data = []
    for label, pct in series:
        dat = os.path.join(RES, "%s-%s.pct" % (name, len(data)))
        with open(dat, "w") as f:
            for q in sorted(pct, key=float):
                f.write("%s %s\n" % (q, pct[q]))
        data.append((label, dat))
    png = os.path.join(OUT, "%s-%s.png" % (DATE, name))
    cmds = ["set terminal png size 800,450", "set output '%s'" % png,
            "set title '%s'" % title, "set xlabel 'percentile'",
            "set ylabel 'latency (ms)'", "set logscale y", "set grid",
            "set key top left",
            "plot " + ", ".join("'%s' using 1:2 with linespoints lw 2 "
                                "title '%s'" % (d, l) for l, d in data)]
    try:
        subprocess.run(["gnuplot"], input="\n".join(cmds), text=True,
                       check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print("report: gnuplot: %s" % e, file=sys.stderr)
        return None
    return os.path.relpath(png, ROOT)


os.makedirs(OUT, exist_ok=True)
plots = {}
if "big" in results["B4"]:
    plots["B4"] = plot("b4-healthz", "B4: /healthz latency during a log flood",
                       [("%d MiB in 4 KiB writes" %
                         (results["B4"]["big"]["bytes"] >> 20),
                         os.path.join(RES, "b4-big.lat")),
                        ("%d MiB in 128-byte lines" %
                         (results["B4"]["lines"]["bytes"] >> 20),
                         os.path.join(RES, "b4-lines.lat"))])
if "healthz" in results["B8"]:
    plots["B8"] = plot("b8-healthz", "B8: /healthz latency, fork bombs and "
                       "memory hogs", [("strict sandbox",
                                        os.path.join(RES, "b8.lat"))])
if "keepalive" in results["B2"]:
    plots["B2"] = plot("b2-latency", "B2: webhook latency, signed 6 KiB "
                       "pushes", [(l, os.path.join(RES, f)) for l, f in (
                           ("pipewright, keep-alive", "b2-keepalive.lat"),
                           ("pipewright, close", "b2-close.lat"),
                           ("nginx 202, keep-alive", "b2-nginx-keepalive.lat"),
                           ("nginx 202, close", "b2-nginx-close.lat"))])
if "none" in results["B5"]:
    plots["B5"] = plot("b5-gaps", "B5: a job exits, the next one execs "
                       "on the freed slot",
                       [("sandbox none", os.path.join(RES, "b5-none.lat")),
                        ("sandbox strict", os.path.join(RES, "b5-strict.lat"))])
if "hist_big" in results["B14"]:
    plots["B14"] = plot("b14-latency", "B14: one-job runs, trigger to run "
                        "final", [("%s runs stored" % results["B14"][k].get(
                            "history"), os.path.join(RES, "b14-%s.lat" %
                                                     results["B14"][k].get(
                                                         "history")))
                            for k in ("none", "hist_small", "hist_big")])
if "pipewright" in results["B3"]:
    plots["B3"] = plot_pcts("b3-latency", "B3: runs?limit=20, wrk latency",
                            [("pipewright",
                              results["B3"]["pipewright"]["pct_ms"]),
                             ("nginx (static file)",
                              results["B3"]["nginx"]["pct_ms"])])
plots = {k: v for k, v in plots.items() if v}

doc = {"date": DATE, "commit": COMMIT or git_head(), "command": COMMAND,
       "machine": machine(), "seconds_total": int(SECONDS),
       "seconds": seconds, "figures": rows, "plots": plots,
       "results": results}
jpath = os.path.join(OUT, DATE + ".json")
with open(jpath, "w") as f:
    json.dump(doc, f, indent=1)
    f.write("\n")


def fmt(x):
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "met" if x else "**missed**"
    if isinstance(x, float):
        return "%g" % x
    return str(x)


m = doc["machine"]
md = ["# Performance",
      "",
      "Generated by `bench/run` (bench/report.py) on %s from commit %s; "
      "do not edit by hand. Every figure stands beside a reference "
      "measured in the same run on the same machine: absolute numbers on a "
      "shared 2-core virtual machine drift, ratios much less."
      % (DATE, doc["commit"] or "?"),
      "",
      "Machine: %s × %s, %s GiB, Linux %s. The daemon runs pinned to core 0 "
      "(`taskset -c 0`; the supervisor gives jobs back all cores), the load "
      "generators (wrk, bench/probe) on core 1. The references run on core "
      "0. Whole run: %s s (`%s`); raw numbers in `%s`."
      % (m["nproc"], m["model"], m["memory_gib"], m["kernel"], SECONDS,
         COMMAND, os.path.relpath(jpath, ROOT)),
      "",
      "| id | figure | value | reference | ratio | goal | |",
      "| --- | --- | --- | --- | --- | --- | --- |"]
for r in rows:
    if r["figure"] in ("not run", "failed"):
        md.append("| %s | %s: %s | | | | | |" % (r["id"], r["figure"],
                                                 r["why"]))
        continue
    met = fmt(r["met"]) if r["met"] is not None else ""
    if r["stretch"] and r["met"] is not None:
        met = "met" if r["met"] else "missed (stretch)"
    md.append("| %s | %s | %s | %s | %s | %s | %s |" % (
        r["id"], r["figure"], fmt(r["value"]), fmt(r["reference"]),
        fmt(r["ratio"]) + ("×" if r["ratio"] is not None else ""),
        fmt(r["goal"]), met))
goals = [r for r in rows if r["met"] is not None and not r["stretch"]]
missed = [r for r in goals if r["met"] is False]
stretch = [r for r in rows if r["stretch"] and r["met"] is not None]
notrun = [r for r in rows if r["figure"] in ("not run", "failed")]
md += ["", "Goals met: %d of %d measured; missed: %s; not run: %s."
       % (len([r for r in goals if r["met"]]), len(goals),
          ", ".join("%s (%s)" % (r["id"], r["figure"]) for r in missed)
          or "none",
          ", ".join("%s (%s)" % (r["id"], r.get("why")) for r in notrun)
          or "none")]
if stretch:
    md += ["", "Stretch goals (reported, not counted): %s." % "; ".join(
        "%s (%s): %s, %s" % (r["id"], r["figure"], r["goal"],
                             "met" if r["met"] else "missed")
        for r in stretch)]
for k, title in (("B2", "B2: webhook ingest latency against nginx"),
                 ("B3", "B3: status API latency against nginx"),
                 ("B4", "B4: /healthz while a job floods its log"),
                 ("B5", "B5: queue-to-start, exit to the next execve"),
                 ("B14", "B14: one-job runs, trigger to run final"),
                 ("B8", "B8: /healthz while hostile jobs run")):
    if k in plots:
        md += ["", "## " + title, "",
               "![%s](../%s)" % (title, plots[k])]
notes_path = os.path.join(ROOT, "bench", "NOTES.md")
if os.path.exists(notes_path):
    with open(notes_path) as f:
        md += ["", f.read().rstrip()]
md += ["", "## How each figure is measured", "",
       "- **B1**: one pipeline of N jobs `script: /bin/true` (`max_jobs: 4`), "
       "triggered over the API; jobs/s = successful attempts / (last "
       "attempt's `finished_at` − first attempt's `started_at`) from the "
       "store; 1,000 jobs with `sandbox: none`, 500 with `strict`. "
       "References: `bench/forkloop` (fork/exec /bin/true, then two "
       "single-row autocommits in SQLite with WAL and synchronous=FULL, "
       "sequentially) for none; for strict, sandbox none of the same run "
       "(goal ≥ 0.8×: on a 2-core machine where one fork+exec costs ~3 ms, "
       "the sandbox may cost at most a fifth of the rate) and, as a "
       "stretch goal reported but not counted, `bwrap --unshare-all "
       "--ro-bind / / --proc /proc --dev /dev /bin/true` in a shell loop "
       "(≥ 2.5×).",
       "- **B1 with history** (`bench/run B1hist`): B1's sandbox-none case "
       "three times in a row, each in a fresh store: empty, then holding "
       "10,000, then 100,000 finished runs of the same project (one job "
       "and one attempt each, one run a minute up to now, so the default "
       "`keep_days: 90` keeps them; `keep_runs` above their number) "
       "written by the sqlite3 CLI in one transaction before the daemon "
       "starts, as B3's are. The figure is each store's jobs/s against the "
       "empty store's (goals ≥ 0.95× and ≥ 0.9×): nothing a job does may "
       "read or grow with the history.",
       "- **B1 fsyncs** (`bench/run B1sync`): B1's sandbox-none case with "
       "200 jobs while `strace -f -Y -e trace=fsync,fdatasync,"
       "sync_file_range,syncfs,sync,msync` is attached to the daemon (all "
       "its threads, and every process it starts from then on: "
       "supervisors and jobs); calls per successful job, split into the "
       "daemon's threads (its task ids when the run ends) and the "
       "processes it forked. strace slows every traced call, so this case "
       "is counted, never timed. Reference: `bench/forkloop` under the "
       "same strace (two commits a job, and SQLite's checkpoints).",
       "- **B3**: 100,000 finished runs (one job, one attempt each) written "
       "straight into the store with the sqlite3 CLI in one transaction "
       "before the daemon starts; `wrk -t1 -c4 -d10s` on "
       "`/api/v1/projects/b/runs?limit=20`, then on nginx (one worker, not "
       "a daemon, loopback) serving the daemon's own answer as a file.",
       "- **B4**: a job (`sandbox: none`, `max_log: 1G`) running "
       "`bench/pipe write BYTES SIZE`; transport = bytes / the attempt's "
       "`finished_at − started_at`; stored = bytes in `log_chunks` / time "
       "from the trigger to the run seen finished (its end is committed "
       "after its last log bytes). References: `bench/pipe measure` (the "
       "same writer into a pipe read by a 64 KiB read loop) and "
       "`bench/chunks log` (256 KiB chunk rows, one commit each, the "
       "daemon's batch). `/healthz` sampled every 2 ms over one keep-alive "
       "connection by `bench/probe` during the job.",
       "- **B6**: the B3 daemon SIGKILLed and started again three times; "
       "`bench/probe ready` asks `/readyz` in a 1 ms loop; ms from the "
       "start of `pipewright serve` to the first 200.",
       "- **B7**: `/proc/PID/smaps_rollup` (the figure is Anonymous; "
       "Private_Clean + Private_Dirty, Rss, Pss beside it) and utime+stime from "
       "`/proc/PID/stat` over the idle period (20 s, not 60 s, to keep the "
       "benchmark under 2 minutes); then runs POSTed by wrk (each run's "
       "only job is restricted to a branch never pushed, so the run goes "
       "through the API, the store, the scheduler and retention and "
       "finishes at once), and memory again.",
       "- **B8**: `sandbox: strict`, `max_jobs: 2`, a pipeline alternating "
       "a fork bomb (`resources: {pids: 256}`) and a memory hog "
       "(`resources: {memory: 256M}`, `tail -c 1G` of a pipe); `/healthz` "
       "sampled every 2 ms during the run.",
       "- **B9** (save and restore): `bench/blob gen` makes a 1 GiB tree "
       "of 20,000 files in 200 directories (1 KiB to 400 KiB, half random "
       "and half text-like 4 KiB blocks); `tar -I zstd -cf` of it, then "
       "`bench/blob pack` (blob_pack: the tree packed, hashed, fsync'd and "
       "renamed into a blob store), then `tar -I zstd -xf` and `bench/blob "
       "unpack` (blob_unpack: digest verified, every entry created beneath "
       "the root) into two fresh directories, nothing removed in between. "
       "- **B9** (the Rust pipeline): `bench/b9-rust.sh` on the crate "
       "`bench/gen-rust-crate.py` makes (20 modules of generic functions, "
       "a cold `cargo build --release` of at least 30 s), with "
       "configs/pipelines/rust.yml as its `.pipewright.yml`, in a clone "
       "owned by an unprivileged uid: `pipewright run --clean` twice with "
       "a cache directory of its own (`XDG_CACHE_HOME`), strict sandbox, "
       "wall time of each whole command; the first run is cold (no cache), "
       "the second restores the lint and build jobs' caches and passes "
       "the build's artifacts to the test job, as the first did. Beside "
       "it, plain cargo: a cold build, and rebuilds over the warm target/ "
       "after a fresh checkout with mtimes now and with commit mtimes.",
       "- **B9** (`/healthz`): a daemon (`sandbox: none`) runs a pipeline "
       "whose first job makes a 1 GiB, 20,000-file tree with `bench/blob "
       "gen` in its cached path and prints a line; once the line is in the "
       "log, `bench/probe` asks `/healthz` every 2 ms until the next job's "
       "first line is in its log: the cache's save after the first job, "
       "the next job's workspace and the cache's restore before its "
       "script. That job then counts the files and waits for a file of the "
       "benchmark's; the run's end (its workspaces removed) is probed apart.",
       "- **B12** (start): `bench/spawn N pipewright-supervisor "
       "strict,rootfs ROOT`: the two cases in one process with the network "
       "namespace pool on for both, exec_start to the job's execve (the "
       "supervisor's stamp), the image's root (the tests' Debian root, "
       "tests/integration/rootfs_debian.sh, else busybox's applets) "
       "against strict on the host's.",
       "- **B12** (pull): an OCI layout made by umoci from the tests' "
       "Debian root (device nodes left out); per round, both sides start "
       "with no earlier tree (removals synced) and take turns going first: "
       "`skopeo copy oci:… oci:…` + `umoci unpack` by hand, against "
       "`pipewright run` of a job `true` with an empty image cache minus "
       "the same run warm; the median of three rounds each.",
       "- **B10**: `bench/b10.py`: Debian's chromium driven by playwright-core "
       "(tests/browser), each page load in a fresh browser context. The runs "
       "list: navigation start to its first page of rows (a Performance API "
       "mark), with 10 runs stored, then with 100,000 (the rest inserted by "
       "sqlite3 into the stopped daemon's store, runs without jobs). The log: "
       "a job printing 819,200 lines of 64 bytes; navigation start to its "
       "last lines drawn. The idle tab: one page on a running job's log (its "
       "event stream open, the job printing nothing); the daemon's "
       "utime+stime from `/proc/PID/stat` over 60 s.",
       "- **B2**: a `repo` project taking GitHub pushes for `bench/app`, "
       "the queue paused first (`POST /api/v1/queue/pause`); "
       "`bench/hookload` sends the GitHub push fixture adjusted to exactly "
       "6 KiB (its repository's API URL templates dropped, the head "
       "commit's message padded), each request its own `X-GitHub-Delivery` "
       "and commit, `X-Hub-Signature-256` computed per request, from 16 "
       "connections, first keep-alive, then one connection per request "
       "(`Connection: close`); latency from the connect or send to the "
       "answer's last byte. Afterwards the store's run count must equal "
       "the 2xx answers, and the run ids answered must be distinct. "
       "References: `bench/chunks rows` (single-row inserts, one commit "
       "each, WAL, synchronous=FULL) and nginx answering every POST to "
       "`/hooks/` with a static 202, driven by the same `bench/hookload`.",
       "- **B5**: 200 runs of four `/bin/true` jobs in one stage, "
       "`max_jobs: 2`, triggered over the API (webhooks would check out a "
       "repository per run first) while the queue is paused, then resumed "
       "so a job always waits for a slot. The supervisor stamps "
       "CLOCK_MONOTONIC just before a job's execve and when it reaps it; "
       "the daemon logs both per attempt at debug level "
       "(`PIPEWRIGHT_DEBUG=1`, `attempt.stamps`), and `bench/gaps.py` "
       "pairs each exit with the next execve on the freed slot (the slot "
       "free longest is filled first). Again with `sandbox: strict` and "
       "50 runs. Goals: p99 ≤ 5 ms with sandbox none, ≤ 8 ms strict (a "
       "2-core machine where one fork+exec costs ~3 ms). The benchmark "
       "waits for every run to finish, at most 110 s, and gives up as "
       "soon as 15 s pass with no job ending and no run finishing: a run "
       "that never finishes is reported as the case's failure, with what "
       "the store holds of the first stuck runs (their jobs, latest "
       "attempts and reasons), never as a latency.",
       "- **B13**: a pipeline of 20 jobs, each `sleep 0.1`, in four stages: "
       "lint (`fmt`, `lint`), unit tests in 8 shards (a matrix of one "
       "variable), a 3×3 matrix, and a package job; `max_jobs: 9`, so "
       "every stage runs at once; five runs one after another "
       "(`bench/trigger.py`, below), sandbox none, then strict. The "
       "figure is the median run's end to end, from just before the "
       "trigger's POST to the first `GET /api/v1/runs/ID` showing it "
       "final (asked every 5 ms); the reference is the sum of its critical path's job times: "
       "per stage its longest job, a job's time its own (the supervisor's "
       "CLOCK_MONOTONIC stamps of its execve and its exit, the daemon's "
       "`attempt.stamps` debug lines; under the strict sandbox the job "
       "ends when the supervisor reaps the sandbox's init, so its "
       "teardown counts as the job's own). Goal ≥ 0.9×: what is not the "
       "jobs' own time (the trigger, the starts, the hand-offs between "
       "stages, the run's end) is at most a tenth of what a user waits. "
       "The ratio against the nominal 4 × 100 ms stands beside it.",
       "- **B14**: a project of one job `/bin/true` (sandbox none); "
       "`bench/trigger.py` POSTs a run, then asks `GET /api/v1/runs/ID` "
       "every millisecond on a keep-alive connection of its own until the "
       "answer has its `finished_at`, then triggers the next: 200 runs, "
       "latency from just before the POST to that answer (the store's "
       "`created_at` to `finished_at` beside it). In a store with 10,000, "
       "then 100,000 finished runs (written as for B1 with history), and "
       "in an empty one for reference. Goal: p50 ≤ 10 ms and p99 ≤ 20 ms "
       "with either history. A run not final after 30 s ends the "
       "measurement and is reported as stuck.",
       "",
       "Run it: `bench/run` (all) or `bench/run B1 B4`; see the README's "
       "Benchmarks section."]
with open(os.path.join(ROOT, "docs", "performance.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print(json.dumps(rows, indent=1))
