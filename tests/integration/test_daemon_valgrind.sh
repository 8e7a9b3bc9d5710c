# The daemon under valgrind through a day in its life: a token, a trigger,
# a run with a matrix, a failure and a retry, its logs (text and SSE), a
# cancel, then SIGTERM.  No invalid access, no leak, no descriptor of its
# own left open.  Skipped (exit 77, said why) in the sanitizer build and
# where valgrind is missing.
. "$(dirname "$0")/lib.sh"

if [ -n "${PW_SANITIZED:-}" ]; then
	echo "SKIP: valgrind cannot run ASan-instrumented binaries"
	exit 77
fi
for tool in valgrind curl; do
	command -v "$tool" >/dev/null ||
		{ echo "SKIP: $tool is not installed (apt-get install $tool)"; exit 77; }
done

cat > pipeline.yml <<'YML'
jobs:
  lint: {stage: lint, script: echo lint}
  build:
    stage: build
    matrix: {CC: [gcc, clang]}
    script: echo "built with $CC"
  flaky:
    retry: 1
    script: test "$PIPEWRIGHT_ATTEMPT" -ge 2
  long:
    stage: deploy
    when: manual
    script: sleep 30
YML
cat > pw.yml <<'YML'
listen: 127.0.0.1:0
data_dir: var
sandbox: none
projects:
  - name: demo
    pipeline: pipeline.yml
YML
TOKEN=$("$PW_BIN" token create --config pw.yml --name ci --scope operate)

valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --track-fds=yes \
	--trace-children=yes --trace-children-skip='/bin/*,/usr/*' \
	"$PW_BIN" serve --config pw.yml >daemon.log 2>&1 &
pid=$!
trap 'kill -9 $pid 2>/dev/null || true; rm -rf "$T"' EXIT
for i in $(seq 1 600); do
	grep -q '^listening on http://' daemon.log && break
	kill -0 $pid 2>/dev/null || { cat daemon.log; fail "the daemon exited"; }
	sleep 0.05
done
url=$(sed -n 's/^listening on //p' daemon.log)
[ -n "$url" ] || fail "no 'listening on' line"

api() { curl -sS -H "Authorization: Bearer $TOKEN" "$@"; }
status_of() { api "$url/api/v1/runs/$1" | sed -n 's/^{"id":[0-9]*,"project":"[^"]*","status":"\([a-z_]*\)".*/\1/p'; }
wait_status() { # RUN STATUS
	for i in $(seq 1 600); do
		[ "$(status_of "$1")" = "$2" ] && return 0
		sleep 0.05
	done
	fail "run $1 never became $2 (is $(status_of "$1"))"
}

api -X POST -H 'Content-Type: application/json' -d '{"ref":"main"}' \
	"$url/api/v1/projects/demo/runs" >/dev/null
wait_status 1 success
api "$url/api/v1/runs/1/jobs/build%20(clang)/log" >out
expect_out "built with clang"
api "$url/api/v1/runs/1/jobs/flaky/log?follow=1" >out
grep -q '^event: end' out || fail "no end event"
api "$url/metrics" >/dev/null

api -X POST "$url/api/v1/runs/1/jobs/long/approve" >/dev/null
wait_status 1 running
api -X POST "$url/api/v1/runs/1/cancel" >/dev/null
wait_status 1 canceled

# The dashboard's side: pages, a session, reads, event streams that the
# client leaves (curl's --max-time) and one still open at the SIGTERM.
curl -sS "$url/" | grep -q '<html' || fail "no page at /"
curl -sS -c jar -H 'Content-Type: application/json' -d "{\"token\":\"$TOKEN\"}" \
	"$url/api/v1/session" >out
csrf=$(sed -n 's/.*"csrf":"\([^"]*\)".*/\1/p' out)
[ -n "$csrf" ] || fail "no session: $(cat out)"
curl -sS -b jar "$url/api/v1/runs?limit=1" | grep -q '"items":\[{' || fail "no runs"
curl -sS -b jar "$url/api/v1/runs/1/jobs/lint/sections" | grep -q '"command":"echo lint"' ||
	fail "no sections"
curl -sS -b jar "$url/api/v1/projects/demo/durations" >/dev/null
curl -sS -b jar "$url/api/v1/status" | grep -q '"store_bytes":' || fail "no status"
curl -sS -N --max-time 2 -b jar "$url/api/v1/events?runs=1&logs=1:flaky,1:lint@3" >out || true
grep -q '^event: end' out || fail "no end event in the events stream"
curl -sS -N -b jar "$url/api/v1/events" >/dev/null 2>&1 &
curl -sS -b jar -H "X-CSRF-Token: $csrf" -X DELETE -o /dev/null -w '%{http_code}' \
	"$url/api/v1/session" | grep -q 204 || fail "sign-out"

kill -TERM $pid
rc=0
wait $pid || rc=$?
cp daemon.log out
expect_rc 0
leaked=$(awk '/Open (file descriptor|AF_UNIX socket)/ { getline next_line;
	if (next_line !~ /inherited from parent/) print }' daemon.log)
[ -z "$leaked" ] || fail "descriptors left open at exit: $leaked"
true
