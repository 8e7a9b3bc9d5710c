# Ctrl-C (SIGINT) cancels the run: every job's tree is killed, also a
# grandchild that ignores SIGTERM, and pipewright exits 130.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  long:
    script:
      - (trap '' TERM INT; setsid sh -c 'trap "" TERM INT; while :; do sleep 1; done' & echo $! > "$PIPEWRIGHT_WORKSPACE/gc.pid")
      - echo $$ > "$PIPEWRIGHT_WORKSPACE/job.pid"
      - sleep 60
  later:
    stage: deploy
    script: echo never
YML
rc=0
# No `timeout` wrapper here: it would pass the SIGINT on to its whole
# process group, and a second SIGINT means "exit now".  ctest's own
# time limit bounds this test.
# --sandbox none: this checks from the host by the pids the job prints,
# which in the strict sandbox are pids of the job's own namespace;
# test_sandbox_procs.sh covers the strict case.
"$PW_BIN" run -f ci.yml --grace 300ms --sandbox none >out 2>&1 &
pid=$!
wait_for_file job.pid
kill -INT "$pid"
wait "$pid" || rc=$?
expect_rc 130
expect_out "==> long: canceled: canceled" "==> later: canceled: canceled" "==> run canceled"
expect_no_out "[later] never"
job=$(cat job.pid)
gc=$(cat gc.pid)
alive "$job" && fail "the job's shell survived Ctrl-C"
alive "$gc" && fail "the job's grandchild survived Ctrl-C"
true
