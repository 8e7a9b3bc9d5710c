# approve runs a `when: manual` job that waits; an unknown job is the
# server's error, exit 1.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
stages: [build, deploy]
jobs:
  build:
    stage: build
    script: echo built
  deploy:
    stage: deploy
    when: manual
    script: echo deployed
YML
start_daemon
id=$(trigger_run)
wait_job "$id" deploy waiting
[ "$(job_status "$id" build)" = success ] || fail "build did not run"

pw approve "$id" "no such job"
expect_rc 1
grep -qE '^pipewright: .+ \([0-9]{3} [a-z_]+\)$' out || fail "approve unknown: $(cat out)"

pw approve "$id" deploy
expect_rc 0
grep -qE "^approval of 'deploy' in run $id: [a-z]+$" out || fail "approve: $(cat out)"
wait_job "$id" deploy success
wait_run "$id" success
pwj logs "$id" deploy
grep -qxF deployed out.json || fail "deploy's log: $(cat out.json)"
pw show "$id"
[ "$(row_of deploy | cut -d' ' -f1-3)" = "deploy success 1" ] || fail "show: $(row_of deploy)"

# --json
id2=$(trigger_run)
wait_job "$id2" deploy waiting
pwj approve "$id2" deploy --json
expect_rc 0
expect_json
wait_job "$id2" deploy success
