# Shared by the test_cli_*.sh scenarios (after lib.sh): starts the real
# daemon on 127.0.0.1:0 with a temporary data directory and the pipeline
# ./demo.yml as project "demo", finds its port from its stderr line
# "listening on http://HOST:PORT", makes an admin token, and points the
# client commands at it through $PIPEWRIGHT_URL and $PIPEWRIGHT_TOKEN.

DAEMON_PID=
trap 'stop_daemon; rm -rf "$T"' EXIT

# start_daemon [EXTRA CONFIG LINES]: demo.yml must exist in $T.
start_daemon() {
	local i url=
	cat > pw.yml <<-YML
	listen: 127.0.0.1:0
	data_dir: $T/data
	max_jobs: 4
	anonymous_read: false
	sandbox: none
	drain: cancel
	drain_timeout: 5s
	projects:
	  - name: demo
	    pipeline: demo.yml
	${1:-}
	YML
	mkdir -p data
	"$PW_BIN" serve --config "$T/pw.yml" 2>daemon.err &
	DAEMON_PID=$!
	for i in $(seq 1 400); do
		url=$(grep -o 'listening on http://[^ "]*' daemon.err 2>/dev/null |
			head -n1 | sed 's/^listening on //') || true
		[ -n "$url" ] && break
		alive "$DAEMON_PID" || { cat daemon.err >&2; fail "the daemon exited"; }
		sleep 0.05
	done
	[ -n "$url" ] || { cat daemon.err >&2; fail "no 'listening on' line in 20 s"; }
	export PIPEWRIGHT_URL=$url
	PIPEWRIGHT_TOKEN=$(make_token ci admin)
	export PIPEWRIGHT_TOKEN
}

# make_token NAME SCOPE: prints a new token (the last line `token create`
# prints).
make_token() {
	local tok
	tok=$(timeout 30 "$PW_BIN" token create --config "$T/pw.yml" \
		--name "$1" --scope "$2" 2>token.err | tail -n1) ||
		{ cat token.err >&2; fail "token create failed"; }
	tok=${tok##* }
	[ -n "$tok" ] || fail "token create printed no token"
	echo "$tok"
}

stop_daemon() {
	local i
	[ -n "$DAEMON_PID" ] || return 0
	kill -TERM "$DAEMON_PID" 2>/dev/null || true
	for i in $(seq 1 200); do
		alive "$DAEMON_PID" || break
		sleep 0.05
	done
	kill -KILL "$DAEMON_PID" 2>/dev/null || true
	wait "$DAEMON_PID" 2>/dev/null || true
	DAEMON_PID=
}

# pwj ARGS...: like pw, but stdout alone in ./out.json, stderr in ./out.
pwj() {
	rc=0
	timeout -k 5 60 "$PW_BIN" "$@" >out.json 2>out || rc=$?
}

# jq_out EXPR: a Python expression over `d`, the JSON in ./out.json.
jq_out() {
	python3 -c 'import json,sys; d=json.load(open("out.json")); print(eval(sys.argv[1]))' "$1" ||
		fail "out.json: not JSON or no $1: $(cat out.json)"
}

# expect_json: ./out.json parses as JSON.
expect_json() {
	python3 -c 'import json,sys; json.load(sys.stdin)' < out.json ||
		fail "not JSON: $(head -c 300 out.json)"
}

# trigger_run [ARGS]: triggers demo and prints the new run's id.
trigger_run() {
	pwj trigger demo --json "$@"
	expect_rc 0
	jq_out 'd["id"]'
}

# run_field ID EXPR: EXPR over the run object `d` (GET /api/v1/runs/ID).
run_field() {
	pwj show "$1" --json
	[ "$rc" -eq 0 ] || fail "show $1: exit $rc: $(cat out)"
	jq_out "$2"
}

# job_status ID JOB
job_status() {
	run_field "$1" "[j['status'] for j in d['jobs'] if j['name'] == '$2'][0]"
}

# wait_until DESCRIPTION COMMAND...: polls COMMAND (prints a value) until
# its output is one of the words in $WANT, for at most 30 s.
wait_until() {
	local what=$1 got= deadline=$((SECONDS + 30))
	shift
	while [ "$SECONDS" -lt "$deadline" ]; do
		got=$("$@") || true
		case " $WANT " in *" $got "*) return 0 ;; esac
		sleep 0.1
	done
	fail "timed out waiting for $what to be $WANT (last: $got)"
}

# wait_run ID STATUS...: until the run's status is one of them.
wait_run() {
	local id=$1
	shift
	WANT="$*" wait_until "run $id" run_field "$id" 'd["status"]'
}

# wait_job ID JOB STATUS...
wait_job() {
	local id=$1 job=$2
	shift 2
	WANT="$*" wait_until "job $job of run $id" job_status "$id" "$job"
}

# The table row of ./out that starts with $1 followed by two spaces, as
# its columns after the first, single-spaced.
row_of() {
	awk -v k="$1" 'index($0, k "  ") == 1 {
		rest = substr($0, length(k) + 1); sub(/^ +/, "", rest)
		gsub(/  +/, " ", rest); print rest; exit }' out
}
