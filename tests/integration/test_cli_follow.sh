# logs -f prints a job's output while it runs and exits with the job's
# result: 0 for a job that succeeds, 1 for one that fails; on a finished
# job it prints the whole log at once.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/cli_lib.sh"

cat > demo.yml <<'YML'
jobs:
  slow:
    script:
      - for i in 1 2 3 4 5; do echo "tick $i"; sleep 0.25; done
  slow-fail:
    script:
      - for i in 1 2 3 4 5; do echo "tock $i"; sleep 0.25; done
      - exit 4
YML
start_daemon
id=$(trigger_run)

# Followed in the background: the first line arrives before the last is
# written.
"$PW_BIN" logs -f "$id" slow >follow.out 2>follow.err &
fpid=$!
for i in $(seq 1 400); do
	grep -qxF "tick 1" follow.out && break
	sleep 0.02
done
grep -qxF "tick 1" follow.out || fail "logs -f: no 'tick 1' in 8 s"
! grep -qxF "tick 5" follow.out || fail "logs -f: printed only at the end"
frc=0
wait "$fpid" || frc=$?
[ "$frc" -eq 0 ] || fail "logs -f slow: exit $frc: $(cat follow.err)"
for i in 1 2 3 4 5; do
	grep -qxF "tick $i" follow.out || fail "logs -f: no 'tick $i'"
done
[ "$(grep -c '^tick ' follow.out)" -eq 5 ] || fail "logs -f: a line twice"

pw logs -f "$id" slow-fail
expect_rc 1
expect_out "tock 1" "tock 5" "pipewright: job 'slow-fail' failed: exit status 4"
before "tock 1" "tock 5"

# Once finished: the whole log and the result, at once.
wait_run "$id" failed
pw logs -f "$id" slow
expect_rc 0
expect_out "tick 1" "tick 5"
pw logs -f "$id" slow-fail
expect_rc 1
expect_out "tock 5"
