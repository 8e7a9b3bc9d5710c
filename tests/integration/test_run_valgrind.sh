# pipewright run and its supervisors under valgrind: no invalid access, no
# leak, no descriptor left open, on a pipeline with a matrix, a failure, a
# retry and a timeout.  Skipped (exit 77, said why) in the sanitizer build,
# where valgrind cannot run, and where valgrind is not installed.
. "$(dirname "$0")/lib.sh"

if [ -n "${PW_SANITIZED:-}" ]; then
	echo "SKIP: valgrind cannot run ASan-instrumented binaries"
	exit 77
fi
if ! command -v valgrind >/dev/null; then
	echo "SKIP: valgrind is not installed (apt-get install valgrind)"
	exit 77
fi

cat > ci.yml <<'YML'
jobs:
  lint: {stage: lint, script: echo lint}
  build:
    stage: build
    matrix: {CC: [gcc, clang]}
    script: echo "$CC"
  flaky:
    retry: 1
    script: test "$PIPEWRIGHT_ATTEMPT" -ge 2
  slow:
    timeout: 300ms
    allow_failure: true
    script: sleep 10
YML
# --sandbox none: valgrind knows neither open_tree nor move_mount, so the
# strict sandbox's setup cannot run under it; that path runs in the
# sanitizer build's integration tests instead.
rc=0
timeout -k 5 110 valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --track-fds=yes \
	--trace-children=yes --trace-children-skip='/bin/*,/usr/*' \
	"$PW_BIN" run -f ci.yml --grace 200ms --sandbox none >out 2>&1 || rc=$?
expect_rc 0
expect_out "==> run success"
# A descriptor a process opened itself and left open at exit is named
# with the stack that opened it; inherited ones (ctest's) are not ours.
leaked=$(awk '/Open (file descriptor|AF_UNIX socket)/ { getline next_line;
	if (next_line !~ /inherited from parent/) print }' out)
[ -z "$leaked" ] || fail "descriptors left open at exit: $leaked"
true
