#!/bin/bash
# bench/sched-rounds.sh BUILD_DIR RUNS [JOBS]: what the scheduler's rounds
# cost per job with RUNS runs queued.  The daemon (sandbox none, 2 slots)
# runs under callgrind, collecting only inside sched_pump (everything a
# round does, the starts it makes included); the queue is paused, RUNS
# runs of four /bin/true jobs are triggered, the counters are zeroed, the
# queue resumed, and once JOBS (default 200) jobs have succeeded the
# counters are dumped: instructions in rounds / jobs that ran meanwhile.
# Instruction counts, so it repeats on a busy machine; it takes minutes.
set -eu
BUILD=$(cd "$1" && pwd)
RUNS=$2
JOBS=${3:-200}
PORT=${PW_BENCH_PORT:-18591}
W=$(mktemp -d /tmp/pw-rounds.XXXXXX)
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$W"' EXIT

printf 'stages: [s]\njobs:\n' >"$W/p.yml"
for i in 1 2 3 4; do
	printf '  t%d:\n    stage: s\n    script: /bin/true\n' $i >>"$W/p.yml"
done
cat >"$W/pipewright.yml" <<EOF
listen: 127.0.0.1:$PORT
data_dir: data
log_format: text
max_jobs: 2
sandbox: none
projects:
  - name: b
    pipeline: p.yml
    keep_runs: 100000
EOF
tok=$("$BUILD/pipewright" token create --config "$W/pipewright.yml" \
	--name op --scope operate 2>/dev/null)
admin=$("$BUILD/pipewright" token create --config "$W/pipewright.yml" \
	--name ad --scope admin 2>/dev/null)
valgrind --tool=callgrind --toggle-collect=sched_pump \
	--callgrind-out-file="$W/cg.%p" "$BUILD/pipewright" serve \
	--config "$W/pipewright.yml" 2>"$W/serve.log" &
PID=$!
until grep -q '^listening on' "$W/serve.log"; do
	kill -0 $PID
	sleep 0.2
done
api() { curl -sf -o /dev/null -X POST -H "Authorization: Bearer $1" \
	-H 'Content-Type: application/json' -d '{}' \
	"http://127.0.0.1:$PORT/api/v1/$2"; }
api "$admin" queue/pause
seq "$RUNS" | xargs -P 2 -I@@ curl -sf -o /dev/null -X POST \
	-H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-d '{}' "http://127.0.0.1:$PORT/api/v1/projects/b/runs"
ok() { sqlite3 "$W/data/pipewright.db" \
	"SELECT count(*) FROM attempts WHERE status = 'success'"; }
callgrind_control -z $PID >/dev/null
before=$(ok)
api "$admin" queue/resume
while [ $(($(ok) - before)) -lt "$JOBS" ]; do
	sleep 0.2
done
callgrind_control -d $PID >/dev/null
jobs=$(($(ok) - before))
f=$(ls -t "$W"/cg.$PID* | grep -v '\.$' | head -1)
ir=$(callgrind_annotate "$f" 2>/dev/null | awk '/PROGRAM TOTALS/ {
	gsub(",", "", $1); print $1; exit }')
# PW_ROUNDS_OUT=FILE keeps the profile (callgrind_annotate FILE).
[ -z "${PW_ROUNDS_OUT:-}" ] || cp "$f" "$PW_ROUNDS_OUT"
echo "runs queued $RUNS: $ir instructions in sched_pump over $jobs jobs:" \
	"$((ir / jobs)) per job"
