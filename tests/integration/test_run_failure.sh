# A failure skips what depends on it, except `when: always`; `on_failure`
# runs only after a failure; allow_failure does not fail the run; exit 1.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  may-fail:
    stage: lint
    allow_failure: true
    script: exit 3
  compile:
    stage: build
    script:
      - echo compiling
      - exit 2
      - echo never printed
  unit:
    stage: test
    script: echo unit
  cleanup:
    stage: deploy
    when: always
    script: echo cleanup
  page-someone:
    stage: deploy
    when: on_failure
    script: echo paging
YML
pw run -f ci.yml --jobs 1
expect_rc 1
expect_out '[compile] $ echo compiling' "[compile] compiling" '[compile] $ exit 2' \
	"==> compile: failed: exit status 2" "==> unit: skipped: 'compile' failed" \
	"[cleanup] cleanup" "[page-someone] paging" "==> run failed"
expect_no_out "never printed"
before "==> may-fail: failed: exit status 3" "==> compile: running (attempt 1)"
expect_job may-fail failed 1
expect_job compile failed 1
expect_job unit skipped 0
expect_job cleanup success 1
expect_job page-someone success 1

# Without the failure, on_failure is skipped and the run succeeds despite
# the allowed failure.
sed -i 's/      - exit 2/      - "true"/' ci.yml
pw run -f ci.yml --jobs 1
expect_rc 0
expect_out "==> page-someone: skipped: on_failure: nothing it depends on failed" \
	"==> run success"
expect_job unit success 1
