# `pipewright run` reads its pipeline file beneath the current directory:
# a job that replaces .pipewright.yml with a symlink to a root-only file
# (/etc/shadow in the attack) makes the next run refuse with one line, and
# none of that file's lines reach the output.  Runs unconfined (--sandbox
# none): what is tested is the reading of the file, not the sandbox.
. "$(dirname "$0")/lib.sh"

# The secret: outside the workspace, readable by us (root in CI: 0600 root).
S=$(mktemp -d "${TMPDIR:-/tmp}/pw-secret.XXXXXX")
trap 'rm -rf "$T" "$S"' EXIT
cat > "$S/shadow" <<'TXT'
root:$6$s3cretsalt$s3crethash0:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
alice: s3cret-line-2
bob:
  s3cret-line-3
TXT
chmod 600 "$S/shadow"

# The first run's job plants the symlink where the next run looks.
cat > .pipewright.yml <<YML
jobs:
  plant:
    script:
      - ln -sf $S/shadow .pipewright.yml
YML
pw run --sandbox none
expect_rc 0
[ -L .pipewright.yml ] || fail "the job did not plant the symlink"

pw run --sandbox none
expect_rc 2
expect_out ".pipewright.yml: error: refusing to read it: it leads outside $T (a symlink?); give an absolute path with -f to read a file elsewhere"
expect_no_out s3cret root: daemon: alice bob
[ "$(wc -l < out)" -eq 1 ] || fail "more than one line"

# The same through -f with a relative path, and through a directory link.
pw run --sandbox none -f .pipewright.yml
expect_rc 2
expect_no_out s3cret
ln -s "$S" outside
pw run --sandbox none -f outside/shadow
expect_rc 2
expect_out "outside/shadow: error: refusing to read it: it leads outside $T (a symlink?); give an absolute path with -f to read a file elsewhere"
expect_no_out s3cret
pw run --sandbox none -f ../x.yml
expect_rc 2
expect_no_out s3cret

# Named by absolute path, the file is the user's choice and is read; it is
# no pipeline, and the one problem says so without quoting it.
pw run --sandbox none -f "$S/shadow"
expect_rc 2
expect_out "$S/shadow:1:1: error: not a pipeline file: no 'jobs' and no other top-level key of a pipeline"
expect_no_out s3cret
[ "$(wc -l < out)" -eq 1 ] || fail "more than one line"

# A symlink that stays in the workspace is followed.
mkdir ci
printf 'jobs:\n  a: {script: echo from-ci}\n' > ci/pipeline.yml
ln -sf ci/pipeline.yml .pipewright.yml
pw run --sandbox none
expect_rc 0
expect_out "[a] from-ci"
