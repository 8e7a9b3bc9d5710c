# Shared by the integration tests: each test_*.sh is one scenario that runs
# the real build/pipewright in a temporary directory.  ctest sets PW_BIN.
set -euo pipefail

PW_BIN=${PW_BIN:?PW_BIN must point at build/pipewright}
T=$(mktemp -d "${TMPDIR:-/tmp}/pw-it.XXXXXX")
trap 'rm -rf "$T"' EXIT
cd "$T"
# pipewright run sandboxes jobs (strict) by default: a job runs as the
# workspace's owner, never as host root, so the workspace gets one.
PW_JOB_UID=${PW_JOB_UID:-1000000000}
if [ "$(id -u)" -eq 0 ]; then chown "$PW_JOB_UID:$PW_JOB_UID" "$T"; fi
# Our own git in that directory, as root: trusted here (a test's repo).
export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0=safe.directory GIT_CONFIG_VALUE_0='*'

fail() {
	echo "FAIL: $*" >&2
	if [ -f out ]; then echo "--- output:" >&2; cat out >&2; fi
	exit 1
}

# pw ARGS...: runs pipewright with a hard time limit; stdout+stderr in ./out,
# the exit status in $rc.
# With PW_TEST_ROOTFS (a directory tree), every strict `pw run` runs its
# jobs in that root instead of the host's: the sandbox's tests, unchanged,
# inside an image (ctest's images/sandbox_rootfs_* entries).
pw() {
	rc=0
	if [ -n "${PW_TEST_ROOTFS:-}" ] && [ "${1:-}" = run ] &&
		! [[ " $* " == *" --sandbox none "* ]]; then
		shift
		set -- run --rootfs "$PW_TEST_ROOTFS" "$@"
	fi
	# PW_TEST_SUPERVISOR_POOL: every `pw run` on pre-started supervisors
	# (ctest's pool/sandbox_* entries: the escapes against pooled ones).
	if [ -n "${PW_TEST_SUPERVISOR_POOL:-}" ] && [ "${1:-}" = run ]; then
		shift
		set -- run --supervisor-pool "$PW_TEST_SUPERVISOR_POOL" "$@"
	fi
	timeout -k 5 60 "$PW_BIN" "$@" >out 2>&1 || rc=$?
}

expect_rc() {
	[ "$rc" -eq "$1" ] || fail "exit status $rc, expected $1"
}

# Each line given must appear in ./out (fixed strings).
expect_out() {
	local l
	for l in "$@"; do
		grep -qxF -- "$l" out || fail "missing line: $l"
	done
}

expect_no_out() {
	local l
	for l in "$@"; do
		! grep -qF -- "$l" out || fail "unexpected text: $l"
	done
}

# The line number of the first line equal to $1 in ./out.
line_of() {
	local n
	n=$(grep -nxF -- "$1" out | head -n1 | cut -d: -f1)
	[ -n "$n" ] || fail "missing line: $1"
	echo "$n"
}

# before A B: line A comes before line B in ./out.
before() {
	[ "$(line_of "$1")" -lt "$(line_of "$2")" ] || fail "'$1' is not before '$2'"
}

# The summary row of a job: "STATUS ATTEMPTS" (the table's 3rd and 4th columns).
summary_of() {
	awk -v job="$1" '
		/^JOB +STAGE +STATUS/ { t = 1; next }
		t && index($0, job "  ") == 1 {
			rest = substr($0, length(job) + 1)
			split(rest, f, " +")
			print f[3], f[4]
		}' out
}

expect_job() { # JOB STATUS ATTEMPTS
	local got
	got=$(summary_of "$1")
	[ "$got" = "$2 $3" ] || fail "job '$1': got '$got', expected '$2 $3'"
}

# Waits until a file exists, at most 20 s (a condition, not a guess).
wait_for_file() {
	local i
	for i in $(seq 1 400); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	fail "timed out waiting for $1"
}

# True while the process exists (and is not a zombie).
alive() {
	[ -e "/proc/$1" ] && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null
}
