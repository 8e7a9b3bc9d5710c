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


def row(bid, what, value, ref, ratio, goal, met):
    rows.append({"id": bid, "figure": what, "value": value,
                 "reference": ref, "ratio": ratio, "goal": goal,
                 "met": met})


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


results = {b: load(b) for b in ["B1", "B2", "B3", "B4", "B5", "B6", "B7",
                                "B8", "B9blob", "B9rust", "B9healthz",
                                "B10", "B12start", "B12pull"]}
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
    row("B1", "jobs/s, sandbox strict", s, "bwrap --unshare-all: %s/s" % bw,
        r2(s / bw), ">= 2.5x", s / bw >= 2.5)
    row("B1", "strict / none", s, "sandbox none: %s/s" % n, r2(s / n),
        None, None)

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

b = results["B5"]
if not skipped("B5", b):
    for key in ("none", "strict"):
        c = b.get(key)
        if not c:
            continue
        if c.get("p99_us") is None:
            row("B5", "exit-to-execve, sandbox %s: no pairs measured" % key,
                None, None, None, "<= 5 ms", False)
            continue
        row("B5", "exit-to-execve p99 ms on the freed slot, sandbox %s "
            "(%d runs x 4 jobs, max_jobs %d, %d pairs; p50 %.2f ms, "
            "max %.2f ms)" % (key, c["runs"], c["max_jobs"], c["pairs"],
                              c["p50_us"] / 1000, c["max_us"] / 1000),
            round(c["p99_us"] / 1000, 2), None, None, "<= 5 ms",
            c["p99_us"] <= 5000 and c["negative"] == 0 and
            c["runs_left"] == 0 and c["runs"] == c.get("runs_wanted"))

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
    md.append("| %s | %s | %s | %s | %s | %s | %s |" % (
        r["id"], r["figure"], fmt(r["value"]), fmt(r["reference"]),
        fmt(r["ratio"]) + ("×" if r["ratio"] is not None else ""),
        fmt(r["goal"]), fmt(r["met"]) if r["met"] is not None else ""))
missed = [r for r in rows if r["met"] is False]
notrun = [r for r in rows if r["figure"] in ("not run", "failed")]
md += ["", "Goals met: %d of %d measured; missed: %s; not run: %s."
       % (len([r for r in rows if r["met"]]),
          len([r for r in rows if r["met"] is not None]),
          ", ".join("%s (%s)" % (r["id"], r["figure"]) for r in missed)
          or "none",
          ", ".join("%s (%s)" % (r["id"], r.get("why")) for r in notrun)
          or "none")]
for k, title in (("B2", "B2: webhook ingest latency against nginx"),
                 ("B3", "B3: status API latency against nginx"),
                 ("B4", "B4: /healthz while a job floods its log"),
                 ("B5", "B5: queue-to-start, exit to the next execve"),
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
       "store. References: `bench/forkloop` (fork/exec /bin/true, then two "
       "single-row autocommits in SQLite with WAL and synchronous=FULL, "
       "sequentially), and `bwrap --unshare-all --ro-bind / / --proc /proc "
       "--dev /dev /bin/true` in a shell loop.",
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
       "50 runs.",
       "",
       "Run it: `bench/run` (all) or `bench/run B1 B4`; see the README's "
       "Benchmarks section."]
with open(os.path.join(ROOT, "docs", "performance.md"), "w") as f:
    f.write("\n".join(md) + "\n")
print(json.dumps(rows, indent=1))
