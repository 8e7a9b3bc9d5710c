# A run that spans a daemon restart keeps its workspace's files when each
# daemon has a mount namespace of its own (as systemd's ProtectSystem=
# gives every start): the first job writes a file, the daemon is stopped
# (drain: detach) and another started in a new namespace; it takes the job
# up and mounts the workspace's file system again: it sees the adopted
# job's file, the file it writes reaches the job, which still has its own
# file at the end, and the second job gets a fresh workspace of its own in
# that file system (without the first job's file: files pass between jobs
# as artifacts, not through a shared workspace).  Both daemons run under
# `unshare -m --propagation slave`.
. "$(dirname "$0")/sandbox_lib.sh"
command -v mkfs.ext4 >/dev/null || { echo "SKIP: mkfs.ext4 (e2fsprogs) is not installed"; exit 77; }
[ -e /dev/loop-control ] || { echo "SKIP: no loop devices (/dev/loop-control)"; exit 77; }
unshare -m --propagation slave true 2>/dev/null || { echo "SKIP: unshare -m does not work here"; exit 77; }

# stop_daemon, make_token and the trap that stops the daemon at exit.
. "$(dirname "$0")/cli_lib.sh"

cat > p.yml <<'YML'
jobs:
  first:
    timeout: 60s    # should the test fail, the job it left does not stay
    script:
      - echo written-before > marker
      - while [ ! -e go ]; do sleep 0.05; done
      - cat marker
  second:
    needs: [first]
    script:
      - test ! -e marker
      - echo "fresh""-workspace"
YML
cat > pw.yml <<YML
listen: 127.0.0.1:0
data_dir: $T/data
drain: detach
anonymous_read: true
sandbox: {mode: strict, limits: {workspace: 32M}}
projects:
  - name: p
    pipeline: p.yml
YML

# start ERRFILE: a daemon in a mount namespace of its own; sets $URL.
start() {
	local i
	URL=
	unshare -m --propagation slave "$PW_BIN" serve --config "$T/pw.yml" 2>"$1" &
	DAEMON_PID=$!
	for i in $(seq 1 400); do
		URL=$(grep -o 'listening on http://[^ "]*' "$1" | sed 's/^listening on //') || true
		[ -n "$URL" ] && return 0
		alive "$DAEMON_PID" || { cat "$1" >&2; fail "the daemon exited"; }
		sleep 0.05
	done
	fail "no 'listening on' line in 20 s"
}

# until_log JOB TEXT: waits (20 s at most) for TEXT in the job's log.
until_log() {
	local i
	for i in $(seq 1 400); do
		curl -s "$URL/api/v1/runs/1/jobs/$1/log" >log 2>/dev/null || true
		grep -q -- "$2" log && return 0
		sleep 0.05
	done
	fail "job $1: no '$2' in its log: $(cat log)"
}

run_status() {
	curl -s "$URL/api/v1/runs/1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])'
}

start a.err
tok=$(make_token ci operate)
curl -sf -XPOST -H "Authorization: Bearer $tok" -H 'Content-Type: application/json' \
	-d '{}' "$URL/api/v1/projects/p/runs" >/dev/null || fail "trigger failed"
until_log first 'while \['
ws=$T/data/workspaces/1
nsenter -t "$DAEMON_PID" -m test -s "$ws/jobs/0/marker" || fail "no marker in the first daemon's workspace"
! grep -q " $ws " /proc/self/mountinfo || fail "the workspace is mounted in the test's namespace"
stop_daemon

start b.err
grep -q "attempt.adopt run=1 job=first" b.err || fail "the second daemon did not take the job up: $(cat b.err)"
# The adopted job waits for this file: written through the second daemon's
# mount, it reaches the job on the first one's.
nsenter -t "$DAEMON_PID" -m test -s "$ws/jobs/0/marker" || fail "no marker in the second daemon's namespace"
nsenter -t "$DAEMON_PID" -m touch "$ws/jobs/0/go" || fail "no workspace in the second daemon's namespace"
for i in $(seq 1 400); do
	s=$(run_status)
	case $s in success|failed|error|canceled) break ;; esac
	sleep 0.05
done
until_log first 'written-before'
until_log second 'fresh-workspace'
[ "$s" = success ] || fail "run status $s"
true
