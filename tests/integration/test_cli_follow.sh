# logs -f prints a job's output while it runs and exits with the job's
# result: 0 for a job that succeeds, 1 for one that fails; on a finished
# job it prints the whole log at once.  The jobs print a first line, then
# wait for the test to open a gate (a file), so that "printed while it
# runs" does not depend on timing; then they print a line every 0.25 s.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
jobs:
  slow:
    script:
      - echo "tick 0"
      - while [ ! -e "$GATE" ]; do sleep 0.05; done
      - for i in 1 2 3 4; do echo "tick $i"; sleep 0.25; done
  slow-fail:
    script:
      - echo "tock 0"
      - while [ ! -e "$GATE" ]; do sleep 0.05; done
      - for i in 1 2 3 4; do echo "tock $i"; sleep 0.25; done
      - exit 4
YML
start_daemon
id=$(trigger_run --env "GATE=$T/gate")

# Followed in the background: the first line arrives while the job waits.
"$PW_BIN" logs -f "$id" slow >follow.out 2>follow.err &
fpid=$!
for i in $(seq 1 600); do
	grep -qxF "tick 0" follow.out 2>/dev/null && break
	sleep 0.05
done
grep -qxF "tick 0" follow.out || fail "logs -f: no 'tick 0' in 30 s: $(cat follow.err)"
alive "$fpid" || fail "logs -f exited before the job ended"
[ "$(job_status "$id" slow)" = running ] || fail "slow is not running"
touch gate
frc=0
wait "$fpid" || frc=$?
[ "$frc" -eq 0 ] || fail "logs -f slow: exit $frc: $(cat follow.err)"
for i in 0 1 2 3 4; do
	grep -qxF "tick $i" follow.out || fail "logs -f: no 'tick $i'"
done
[ "$(grep -c '^tick ' follow.out)" -eq 5 ] || fail "logs -f: a line twice"
[ ! -s follow.err ] || fail "logs -f slow: $(cat follow.err)"

pw logs -f "$id" slow-fail
expect_rc 1
expect_out "tock 0" "tock 4" "pipewright: job 'slow-fail' failed: exit status 4"
before "tock 1" "tock 4"

# Once finished: the whole log and the result, at once.
wait_run "$id" failed
pw logs -f "$id" slow
expect_rc 0
expect_out "tick 0" "tick 4"
pw logs -f "$id" slow-fail
expect_rc 1
expect_out "tock 4"
