# The example project tests/fixtures/projects/notes-service through
# `pipewright run`: its unit tests write JUnit XML and one of them is
# deliberately flaky (it fails on the job's first attempt: the job's retry
# passes); its e2e job starts a real PostgreSQL (Debian's, initdb as the
# service's setup, ready when pg_isready says so) and the notes service
# beside it as services, and checks through both: the HTTP answer, and the
# row read back from PostgreSQL.  Both jobs' JUnit reports are read: the
# retry is said to have turned the flaky failure into a pass, and the
# summary counts the 9 tests.  Afterwards no process of either service is
# left on the host.
#
# PostgreSQL refuses to run as root, so the e2e job says `user: postgres`;
# the pipeline runs as it is, strict, as root.
# ctest label `postgres`.
. "$(dirname "$0")/lib.sh"

PG=/usr/lib/postgresql/15/bin
if [ ! -x "$PG/postgres" ] || ! getent passwd postgres >/dev/null ||
	! /usr/bin/python3 -c 'import pytest' 2>/dev/null; then
	echo "SKIP: needs Debian's postgresql (15) and python3-pytest (scripts/dev test installs them)"
	exit 77
fi

src=$PW_SOURCE_DIR/tests/fixtures/projects/notes-service
[ "$(id -u)" -eq 0 ] || { echo "SKIP: the strict run needs root"; exit 77; }
pw validate "$src/.pipewright.yml"
expect_rc 0
expect_out "$src/.pipewright.yml: valid, 2 jobs"

dir=$T/notes
cp -R "$src/." "$dir/"
cd "$dir"
git init -q -b main .
git add -A
git -c user.name=t -c user.email=t@example.invalid commit -q -m notes
rc=0
chown -R "$PW_JOB_UID:$PW_JOB_UID" "$dir"
timeout -k 5 200 "$PW_BIN" run >"$T/out" 2>&1 || rc=$?
cd "$T"
expect_rc 0
# The flaky test: failed on attempt 1, passed on the retry.
grep -q '^\[unit\] FAILED tests/test_notes.py::test_flaky_clock' out ||
	fail "the flaky test did not fail on the first attempt"
expect_out "==> unit: running (attempt 2)" "==> unit: success"
grep -q "^\[unit\] 6 passed in " out || fail "the retry did not pass all 6 tests"
# The reports: read after each attempt, the retry's pass said once.
expect_out "[unit] reports: 6 tests from 1 file: 5 passed, 1 failed, 0 errors, 0 skipped" \
	"[unit] reports: 6 tests from 1 file: 6 passed, 0 failed, 0 errors, 0 skipped" \
	"[unit] reports: 1 test passed on this retry after failing before" \
	"[e2e] reports: 3 tests from 1 file: 3 passed, 0 failed, 0 errors, 0 skipped" \
	"tests: 9 passed, 1 passed on a retry"
# The e2e job, its services in order.
expect_out "[e2e] [pipewright: starting service db]" "[e2e] [pipewright: starting service api]" \
	"[e2e] rows in postgresql: 1" "[e2e] e2e ok" "[e2e] [pipewright: stopping service api]" \
	"[e2e] [pipewright: stopping service db]" "==> e2e: success"
before "[e2e] [pipewright: starting service api]" "[e2e] \$ ./e2e.sh"
grep -q '^\[e2e\] \[pipewright: service db ready after [0-9]* ms (command' out ||
	fail "db's readiness is not in the log"
# Nothing of the services left: no postgres and no notes.app of this run.
left=$(pgrep -af "notes.app --port 8080|postgres.*listen_addresses=127.0.0.1" || true)
[ -z "$left" ] || fail "processes left behind: $left"
