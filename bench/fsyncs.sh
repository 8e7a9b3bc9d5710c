#!/usr/bin/env bash
# bench/fsyncs.sh BIN_DIR [JOBS] [MAX_JOBS] [SANDBOX]: fsyncs and store
# commits per job on the job path.
#
# One run of JOBS trivial jobs (/bin/true, one stage: a hand-off after
# every job) through a daemon of its own under `strace -f -e
# trace=fsync,fdatasync`, so the count covers the daemon, its writer
# thread and every supervisor.  Prints, as JSON, the fsync calls per job
# (all, the daemon's threads', the supervisors') and the store's commits
# per job (pipewright_store_commits_total on /metrics), counted from the
# trigger to the run's last write.  Counts, not times: strace slows
# everything, so this says how many, never how fast.  Needs the binaries
# in BIN_DIR (pipewright, pipewright-supervisor), curl, sqlite3, strace.
# docs/internals/jobpath.md, "One commit per hand-off", has its figures.
set -u
BIN=${1:?usage: bench/fsyncs.sh BIN_DIR [JOBS] [MAX_JOBS] [SANDBOX]}
N=${2:-200}
MAXJ=${3:-1}
MODE=${4:-none}
PORT=${PW_BENCH_PORT:-$((20000 + $$ % 20000))}
W=$(mktemp -d /tmp/pw-fsyncs.XXXXXX)
PID= DPID=
# The daemon is strace's child: stopped first, strace then ends with it.
stop() {
	[ -n "$DPID" ] && kill -TERM "$DPID" 2>/dev/null
	[ -n "$PID" ] && { [ -n "$DPID" ] || kill "$PID"; wait "$PID"; } 2>/dev/null
	rm -rf "$W"
}
trap stop EXIT

{
	echo "stages: [s]"
	echo "jobs:"
	for ((i = 0; i < N; i++)); do
		printf '  t%d:\n    stage: s\n    script: /bin/true\n' $i
	done
} >"$W/p.yml"
cat >"$W/pipewright.yml" <<EOF
listen: 127.0.0.1:$PORT
data_dir: data
log_format: text
anonymous_read: true
sandbox: $MODE
max_jobs: $MAXJ
projects:
  - name: b
    pipeline: p.yml
EOF
TOK=$("$BIN/pipewright" token create --config "$W/pipewright.yml" \
	--name fsyncs --scope operate 2>/dev/null)

: >"$W/serve.log"
strace -f -qq -o "$W/trace" -e trace=fsync,fdatasync \
	"$BIN/pipewright" serve --config "$W/pipewright.yml" 2>"$W/serve.log" &
PID=$!
for ((i = 0; i < 3000; i++)); do
	grep -q '^listening on' "$W/serve.log" && break
	sleep 0.01
done
grep -q '^listening on' "$W/serve.log" ||
	{ echo "the daemon did not start: $(tail -3 "$W/serve.log")" >&2; exit 1; }
DPID=$(ps -o pid= --ppid "$PID" | head -1 | tr -d ' ')
metric() {
	curl -sf "http://127.0.0.1:$PORT/metrics" |
		awk -v m="$1" '$1 == m {print $2}'
}
# What starting the daemon did is not the job path: counted from here.
c0=$(metric pipewright_store_commits_total)
l0=$(wc -l <"$W/trace")
RUN=$(curl -sf -X POST -H "Authorization: Bearer $TOK" \
	-H 'Content-Type: application/json' -d '{}' \
	"http://127.0.0.1:$PORT/api/v1/projects/b/runs" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
[ -n "$RUN" ] || { echo "the trigger failed" >&2; exit 1; }
for ((i = 0; i < 6000; i++)); do
	st=$(sqlite3 "$W/data/pipewright.db" \
		"SELECT status FROM runs WHERE id = $RUN AND finished_at > 0" 2>/dev/null)
	[ -n "$st" ] && break
	sleep 0.05
done
# The run's final write and what it sets off (retention) settle first.
for ((i = 0; i < 100; i++)); do
	c1=$(metric pipewright_store_commits_total)
	sleep 0.1
	[ "$c1" = "$(metric pipewright_store_commits_total)" ] && break
done
l1=$(wc -l <"$W/trace")
ok=$(sqlite3 "$W/data/pipewright.db" \
	"SELECT count(*) FROM attempts WHERE run_id = $RUN AND status = 'success'")
# Who called fsync: the daemon's threads (strace's child and its tasks
# now; the writer thread lives as long as the store) or a supervisor.
sed -n "$((l0 + 1)),${l1}p" "$W/trace" | grep -E 'f(data)?sync\(' >"$W/calls"
tids=$(ls "/proc/$DPID/task" | tr '\n' ' ')
python3 - "$W/calls" "$N" "$ok" "$st" "$c0" "$c1" "$tids" <<'PY'
import sys, json
calls, n, ok, st, c0, c1, tids = sys.argv[1:]
tids = set(int(t) for t in tids.split())
daemon = sup = 0
for line in open(calls):
    if int(line.split()[0]) in tids:
        daemon += 1
    else:
        sup += 1
n = int(n)
print(json.dumps({"jobs": n, "succeeded": int(ok), "run": st,
    "fsyncs_per_job": round((daemon + sup) / n, 2),
    "daemon_fsyncs_per_job": round(daemon / n, 2),
    "supervisor_fsyncs_per_job": round(sup / n, 2),
    "store_commits_per_job": round((int(c1) - int(c0)) / n, 2)}))
PY
