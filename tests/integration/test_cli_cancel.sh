# cancel stops a running run (its long job is killed); canceling it again
# is refused by the server with 409, exit 1.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
jobs:
  long:
    script:
      - echo started
      - sleep 300
YML
start_daemon
id=$(trigger_run)
wait_job "$id" long running

pw cancel "$id"
expect_rc 0
grep -qE "^cancel of run $id: [a-z]+$" out || fail "cancel: $(cat out)"
wait_run "$id" canceled
[ "$(job_status "$id" long)" = canceled ] || fail "long: $(job_status "$id" long)"
pw logs -f "$id" long
expect_rc 1
expect_out started

pw cancel "$id"
expect_rc 1
grep -qE '^pipewright: .+ \(409 conflict\)$' out || fail "second cancel: $(cat out)"

# --json on a second run.
id2=$(trigger_run)
wait_job "$id2" long running
pwj cancel "$id2" --json
expect_rc 0
expect_json
wait_run "$id2" canceled
