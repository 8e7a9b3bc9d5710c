# status, runs, show and logs against the real daemon, as tables and as
# --json; a matrix job's name (spaces, a comma, parentheses, a slash) goes
# to the API as one path segment.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
stages: [build, test]
jobs:
  build:
    stage: build
    matrix: {OS: [linux/amd64], V: ["1.2"]}
    script: echo "built on $OS"
  unit:
    stage: test
    script:
      - echo "unit ran"
      - exit 3
YML
start_daemon
matrix='build (linux/amd64, 1.2)'

pw status
expect_rc 0
expect_out "demo" "  (no runs)"

id=$(trigger_run --ref main)
wait_run "$id" failed

# status: every project, the latest runs.
pw status
expect_rc 0
expect_out "demo"
grep -qE '^  ID +STATUS +BRANCH +COMMIT +TRIGGER +CREATED +DURATION$' out ||
	fail "status: no table header"
grep -qE "^  $id +failed +" out || fail "status: no row for run $id"
pw status demo
expect_rc 0
grep -qE "^  $id +failed +" out || fail "status demo: no row for run $id"
pwj status --json
expect_rc 0
expect_json
[ "$(jq_out 'd["items"][0]["runs"][0]["id"]')" = "$id" ] || fail "status --json"

# runs: filters go to the server.
id2=$(trigger_run)
wait_run "$id2" failed
pw runs demo
expect_rc 0
grep -qE '^ID +STATUS +BRANCH +COMMIT +TRIGGER +CREATED +DURATION$' out ||
	fail "runs: no table header"
[ "$(row_of "$id" | cut -d' ' -f1)" = failed ] || fail "runs: row of $id"
before "$(grep -E "^$id2 " out)" "$(grep -E "^$id " out)"
pw runs demo --status success
expect_rc 0
expect_out "(no runs)"
pw runs demo --limit 1
expect_rc 0
grep -qE "^$id2 " out || fail "runs --limit 1: newest run missing"
! grep -qE "^$id " out || fail "runs --limit 1: two runs"
pwj runs demo --status failed,error --limit 5 --json
expect_rc 0
expect_json
[ "$(jq_out 'len(d["items"])')" = 2 ] || fail "runs --json: two runs"
[ "$(jq_out '"next_cursor" in d')" = True ] || fail "runs --json: next_cursor"

# show: the run, its jobs, every attempt.
pw show "$id"
expect_rc 0
grep -qE "^run $id  demo  failed$" out || fail "show: header"
grep -qE '^  trigger +api$' out || fail "show: trigger"
grep -qE '^JOB +STAGE +STATUS +ATTEMPTS +DURATION$' out || fail "show: jobs table"
[ "$(row_of "$matrix" | cut -d' ' -f1-3)" = "build success 1" ] ||
	fail "show: $matrix: $(row_of "$matrix")"
[ "$(row_of unit | cut -d' ' -f1-3)" = "test failed 1" ] || fail "show: unit"
grep -qE '^JOB +ATTEMPT +STATUS +EXIT +DURATION +REASON$' out ||
	fail "show: attempts table"
grep -qE '^unit +1 +failed +3 ' out || fail "show: unit's attempt"
pwj show "$id" --json
expect_rc 0
expect_json
[ "$(jq_out 'd["id"]')" = "$id" ] || fail "show --json: id"
[ "$(jq_out 'len(d["jobs"])')" = 2 ] || fail "show --json: jobs"

# logs: the text as is, for a name with every awkward character.
pwj logs "$id" "$matrix"
expect_rc 0
grep -qxF "built on linux/amd64" out.json || fail "logs: $(cat out.json)"
pwj logs "$id" unit --attempt 1
expect_rc 0
grep -qxF "unit ran" out.json || fail "logs unit: $(cat out.json)"
pw logs "$id" "no such (job)"
expect_rc 1
grep -qE '^pipewright: .+ \(404 not_found\)$' out || fail "logs: unknown job"
