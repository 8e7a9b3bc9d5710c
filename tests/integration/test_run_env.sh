# A job's environment is the fixed base, then the file's env, then the
# matrix, then --env; nothing else is inherited.  stdin is /dev/null and
# HOME is a writable directory of the job's own.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
env:
  LEVEL: pipeline
  PY: 3.10
  KEEP: from-file
jobs:
  show:
    stage: build
    env: {LEVEL: job, OPT: "-O2"}
    matrix: {MODE: [debug]}
    script:
      - env | sort > "$PIPEWRIGHT_WORKSPACE/env.txt"
      - readlink /proc/self/fd/0 > "$PIPEWRIGHT_WORKSPACE/stdin.txt"
      - touch "$HOME/written" && echo home-ok
YML
export LEAKY_SECRET=must-not-pass
pw run -f ci.yml --env KEEP=from-cli --branch feature/x
expect_rc 0
expect_out "[show (debug)] home-ok"
grep -qx "LEVEL=job" env.txt || fail "job env does not override pipeline env"
grep -qx "PY=3.10" env.txt || fail "3.10 was not kept as written"
grep -qx "OPT=-O2" env.txt || fail "OPT missing"
grep -qx "MODE=debug" env.txt || fail "matrix value missing"
grep -qx "KEEP=from-cli" env.txt || fail "--env does not override the file"
grep -qx "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" env.txt || fail PATH
grep -qx "LANG=C.UTF-8" env.txt || fail LANG
grep -qx "CI=true" env.txt || fail CI
grep -qx "PIPEWRIGHT=true" env.txt || fail PIPEWRIGHT
grep -qx "PIPEWRIGHT_JOB=show (debug)" env.txt || fail PIPEWRIGHT_JOB
grep -qx "PIPEWRIGHT_STAGE=build" env.txt || fail PIPEWRIGHT_STAGE
grep -qx "PIPEWRIGHT_ATTEMPT=1" env.txt || fail PIPEWRIGHT_ATTEMPT
grep -qx "PIPEWRIGHT_BRANCH=feature/x" env.txt || fail PIPEWRIGHT_BRANCH
grep -qx "PIPEWRIGHT_WORKSPACE=$T" env.txt || fail PIPEWRIGHT_WORKSPACE
grep -q "^PIPEWRIGHT_RUN_ID=[0-9][0-9]*$" env.txt || fail PIPEWRIGHT_RUN_ID
grep -q "^HOME=/" env.txt || fail HOME
! grep -q LEAKY_SECRET env.txt || fail "the caller's environment leaked into the job"
[ "$(cat stdin.txt)" = /dev/null ] || fail "stdin is $(cat stdin.txt), not /dev/null"
# Only what the lines above account for, plus the shell's own PWD/SHLVL/_.
extra=$(grep -vE '^(LEVEL|PY|KEEP|OPT|MODE|PATH|HOME|LANG|CI|PIPEWRIGHT|PIPEWRIGHT_[A-Z_]+|PWD|OLDPWD|SHLVL|_)=' env.txt || true)
[ -z "$extra" ] || fail "unexpected variables: $extra"

# Only PIPEWRIGHT_ (with its underscore) is reserved, as on the server.
pw run -f ci.yml --env PIPEWRIGHTX=1
expect_rc 0
grep -qx "PIPEWRIGHTX=1" env.txt || fail "--env PIPEWRIGHTX=1 did not reach the job"

# Bad --env values are usage errors.
pw run -f ci.yml --env PIPEWRIGHT_JOB=x
expect_rc 2
expect_out "pipewright: --env: PIPEWRIGHT_JOB is set by pipewright and cannot be set"
pw run -f ci.yml --env 1BAD=x
expect_rc 2
