# `pipewright validate`: 0 for valid files, 2 and FILE:LINE:COLUMN: error:
# lines for every problem of every file.
. "$(dirname "$0")/lib.sh"

cat > good.yml <<'YML'
jobs:
  a: {script: echo a}
  b: {script: [echo b], needs: [a]}
YML
cat > bad.yml <<'YML'
jobs:
  compile:
    scirpt: make
  test:
    stage: tset
    script: make test
    timeout: 10x
YML
pw validate good.yml
expect_rc 0
expect_out "good.yml: valid, 2 jobs"

pw validate good.yml bad.yml
expect_rc 2
expect_out "good.yml: valid, 2 jobs"
grep -q "^bad.yml:3:5: error: unknown key 'scirpt' in job 'compile'; did you mean 'script'?$" out ||
	fail "no unknown-key problem at 3:5"
grep -q "^bad.yml:2:3: error: .*script" out || fail "no missing-script problem at 2:3"
grep -q "^bad.yml:5:12: error: unknown stage 'tset'" out || fail "no unknown-stage problem at 5:12"
grep -q "^bad.yml:7:14: error: invalid duration '10x'" out || fail "no bad-duration problem at 7:14"

pw validate missing.yml
expect_rc 2
grep -q "^missing.yml: error: cannot read: No such file or directory$" out || fail "missing file"

printf 'jobs: [unclosed\n' > syntax.yml
pw validate syntax.yml
expect_rc 2
grep -q "^syntax.yml:[0-9]*:[0-9]*: error: " out || fail "no syntax error position"

pw validate
expect_rc 2
pw run -f bad.yml
expect_rc 2
pw frobnicate
expect_rc 2
