# pipewright run reads a job's JUnit reports after each attempt: a line
# of what it read in the job's output, a warning for a malformed file
# and for a glob that matched nothing, the pass on a retry of a test the
# first attempt failed, and after the run's table one line of counts with
# the failed tests by name.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  unit:
    retry: {max: 1, when: [failed]}
    script:
      - mkdir -p res
      - |
        if [ "$PIPEWRIGHT_ATTEMPT" = 1 ]; then f='<failure message="boom"/>'; else f=''; fi
        printf '<testsuite name="s"><testcase classname="app.Net" name="fetch">%s</testcase><testcase classname="app.Math" name="adds"/></testsuite>' "$f" > res/unit.xml
        printf '<testsuite><testcase' > res/broken.xml
        test "$PIPEWRIGHT_ATTEMPT" -ge 2
    reports: {junit: ["res/*.xml", "missing/*.xml"]}
  e2e:
    script:
      - mkdir -p r
      - printf '<testsuite name="e"><testcase name="login"><error message="no db"/></testcase><testcase name="skip"><skipped/></testcase></testsuite>' > r/e2e.xml
    reports: {junit: r/e2e.xml}
YML
pw run -f ci.yml
expect_rc 0
expect_out "[unit] reports: warning: 'missing/*.xml' matched no file" \
	"[unit] reports: 2 tests from 1 file: 1 passed, 1 failed, 0 errors, 0 skipped" \
	"[unit] reports: 2 tests from 1 file: 2 passed, 0 failed, 0 errors, 0 skipped" \
	"[unit] reports: 1 test passed on this retry after failing before" \
	"[e2e] reports: 2 tests from 1 file: 0 passed, 0 failed, 1 errors, 1 skipped" \
	"tests: 1 failed of 4, 1 skipped, 1 passed on a retry" \
	"  failed: e2e: login"
grep -qF "[unit] reports: warning: res/broken.xml:1:" out ||
	fail "no warning for the malformed file"
expect_no_out "failed: unit"
expect_job unit success 2

# `validate` checks the key with positions.
cat > bad.yml <<'YML'
jobs:
  t:
    script: make test
    reports:
      junit: [ok.xml, ../up.xml]
  u:
    script: x
    reports: {junt: a.xml}
YML
pw validate bad.yml
expect_rc 2
expect_out "bad.yml:5:23: error: path '../up.xml' in 'junit' in 'reports' of job 't' must stay inside the workspace: it has a '..' component" \
	"bad.yml:8:15: error: unknown key 'junt' in 'reports' of job 'u'; did you mean 'junit'?"
