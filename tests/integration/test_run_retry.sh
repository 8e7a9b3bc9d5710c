# retry: N gives up to N more attempts, numbered from 1 in
# PIPEWRIGHT_ATTEMPT; an exhausted retry fails the run.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  flaky:
    retry: 2
    script:
      - echo "attempt $PIPEWRIGHT_ATTEMPT"
      - test "$PIPEWRIGHT_ATTEMPT" -ge 3
  hopeless:
    retry: {max: 1, when: [failed]}
    script: exit 1
  not-on-failure:
    retry: {max: 3, when: [timed_out]}
    script: exit 1
YML
pw run -f ci.yml
expect_rc 1
expect_out "[flaky] attempt 1" "[flaky] attempt 2" "[flaky] attempt 3" \
	"==> flaky: failed: exit status 1; retrying (attempt 2 of 3)" \
	"==> flaky: failed: exit status 1; retrying (attempt 3 of 3)" \
	"==> flaky: success" "==> hopeless: failed: exit status 1"
expect_job flaky success 3
expect_job hopeless failed 2
expect_job not-on-failure failed 1
