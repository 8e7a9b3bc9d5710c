# A timeout kills the job's whole tree, including a grandchild that left
# the process group, daemonized and ignores SIGTERM.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  stuck:
    timeout: 500ms
    script:
      - (trap '' TERM; setsid sh -c 'trap "" TERM; echo $$ > "$PIPEWRIGHT_WORKSPACE/grandchild.pid"; while :; do sleep 1; done' &)
      - while [ ! -s grandchild.pid ]; do sleep 0.05; done
      - echo $$ > shell.pid
      - sleep 30
YML
# --sandbox none: host pids (see test_run_interrupt.sh).
pw run -f ci.yml --grace 300ms --sandbox none
expect_rc 1
expect_out "==> stuck: timed_out: killed: timeout 500ms exceeded" "==> run failed"
expect_job stuck timed_out 1
[ -s grandchild.pid ] || fail "the grandchild never started"
gc=$(cat grandchild.pid)
sh_pid=$(cat shell.pid)
alive "$gc" && fail "grandchild $gc survived the timeout"
alive "$sh_pid" && fail "the job's shell $sh_pid survived the timeout"
true
