# trigger starts a run (with --ref and --env) and prints its id and URL;
# rerun --failed gives the failed job and what depends on it a new
# attempt and keeps the successful job's; rerun JOB reruns that job.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
stages: [build, test]
jobs:
  flaky:
    stage: build
    script: if [ -e "$MARK" ]; then echo "now ok"; else echo "not yet"; exit 1; fi
  steady:
    stage: build
    script: echo steady
  after:
    stage: test
    needs: [flaky]
    script: echo after
YML
start_daemon

pw trigger demo --ref main --env "MARK=$T/ok" --env UNUSED=a=b
expect_rc 0
line=$(cat out)
[[ $line =~ ^run\ ([0-9]+)\ [a-z]+:\ https?://[^\ ]+$ ]] ||
	fail "trigger: '$line'"
id=${BASH_REMATCH[1]}
wait_run "$id" failed
[ "$(job_status "$id" flaky)" = failed ] || fail "flaky did not fail"
[ "$(job_status "$id" steady)" = success ] || fail "steady did not succeed"
[ "$(run_field "$id" 'd["ref"]')" != None ] || fail "trigger: ref not sent"

touch ok
pw rerun "$id" --failed
expect_rc 0
grep -qE "^rerun of run $id: [a-z]+$" out || fail "rerun: $(cat out)"
wait_run "$id" success
[ "$(job_status "$id" flaky)" = success ] || fail "flaky after rerun"
pw show "$id"
expect_rc 0
[ "$(row_of flaky | cut -d' ' -f2-3)" = "success 2" ] || fail "flaky: $(row_of flaky)"
[ "$(row_of steady | cut -d' ' -f2-3)" = "success 1" ] || fail "steady was rerun"
grep -qE '^flaky +1 +failed +1 ' out || fail "flaky's first attempt"
grep -qE '^flaky +2 +success +0 ' out || fail "flaky's second attempt"
pwj logs "$id" flaky --attempt 1
grep -qxF "not yet" out.json || fail "attempt 1's log"
pwj logs "$id" flaky
grep -qxF "now ok" out.json || fail "attempt 2's log"

# By name, with --json.
pwj rerun "$id" steady --json
expect_rc 0
expect_json
wait_run "$id" success
[ "$(run_field "$id" "[len(j['attempts']) for j in d['jobs'] if j['name'] == 'steady'][0]")" = 2 ] ||
	fail "steady: no second attempt"
pw rerun "$id" no-such-job
expect_rc 1
grep -qE '^pipewright: .+ \([0-9]{3} [a-z_]+\)$' out || fail "rerun unknown job: $(cat out)"
