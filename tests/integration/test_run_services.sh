# Services under `pipewright run`, strict as root (and without a sandbox
# either way): a script that fails shows its services' last lines at the
# end of its log (the service's own words on SIGTERM among them: it was
# stopped before its lines were taken; it is ready only once its trap is
# set, so the SIGTERM cannot come first); a service that exits before it is
# ready fails its job before the script, saying which, how and what was
# waited for; the run exits 1.  A secret a service prints is masked in its
# log like in the job's, also where a line is longer than the pieces its
# output is masked in (4090 bytes before it on one line: the value spans
# the first 4096 bytes' end).  A process the service started twice over
# and in a session of its own (a daemon's double fork: it is no longer
# below the service) gets SIGTERM and the grace too, not only SIGKILL.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  e2e:
    secrets: [TOKEN]
    services:
      db:
        command: "trap 'echo db stopping; exit 0' TERM; echo db says hello, token $TOKEN; printf '%4090s%s\\n' x \"$TOKEN\"; sh -c \"setsid sh -c 'trap \\\"echo orphan got TERM; exit 0\\\" TERM; while :; do sleep 0.1; done' &\"; touch $PIPEWRIGHT_SERVICE_DIR/up; while :; do sleep 0.1; done"
        ready: {command: "test -e $PIPEWRIGHT_SERVICE_DIR/up"}
    script:
      - echo testing
      - exit 4
  early:
    services:
      db:
        command: "echo short-lived; exit 7"
        ready: {command: "test -e /nonexistent-never"}
        ready_timeout: 20s
    script: [echo never printed]
YML

modes=(none)
[ "$(id -u)" -eq 0 ] && modes+=(strict)
for mode in "${modes[@]}"; do
	TOKEN=s3cr3t-value-42 pw run -f ci.yml --jobs 1 --grace 5s --sandbox "$mode"
	expect_rc 1
	expect_out "==> e2e: failed: exit status 4" \
		"[e2e] [pipewright: the last lines of service db's log:]" \
		"[e2e] db says hello, token ***" "[e2e] db stopping" \
		"[e2e] orphan got TERM" \
		"==> early: failed: service db: exited (exit status 7) before it was ready (waited for command 'test -e /nonexistent-never')" \
		"[early] short-lived"
	before "[e2e] [pipewright: stopping service db]" "[e2e] db stopping"
	expect_no_out "[early] never printed"
	grep -q s3cr3t-value-42 out && fail "a secret a service printed was not masked"
	echo "ok: $mode"
done
