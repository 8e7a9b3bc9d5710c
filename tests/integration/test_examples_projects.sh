# The example pipelines configs/pipelines/rust.yml and go.yml run with
# `pipewright run` on the projects they were written for
# (tests/fixtures/projects/*), each copied into a git repository of its
# own: lint, build and test succeed, the manual deploy waits until it is
# approved, and a lint or vet finding fails the job it should.
# The toolchains are Debian's (cargo, rustfmt, rust-clippy, golang-go),
# installed with apt-get when missing. Jobs get pipewright's fixed PATH,
# never the caller's (which may start with ~/.cargo/bin): the log must show
# /usr/bin's cargo and go. Each first runs with --clean, as the server
# would: the test job gets the build job's artifacts in a workspace of its
# own and compiles nothing, and a second run starts warm from the build's
# cache (in $XDG_CACHE_HOME, here the test's own). ctest label `examples`;
# a few minutes.
. "$(dirname "$0")/lib.sh"

# ---- the toolchains ----
PKGS=(cargo rustfmt rust-clippy golang-go gcc)
TOOLS=(/usr/bin/cargo /usr/bin/cargo-fmt /usr/bin/cargo-clippy /usr/bin/rustc /usr/bin/go
	/usr/bin/gcc)
missing_tools() {
	local t
	for t in "${TOOLS[@]}"; do [ -x "$t" ] || echo "$t"; done
}
if [ -n "$(missing_tools)" ]; then
	if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
		echo "installing from Debian: ${PKGS[*]}"
		apt-get update -qq >&2 &&
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${PKGS[@]}" >&2 ||
			echo "apt-get install ${PKGS[*]} failed" >&2
	fi
	if [ -n "$(missing_tools)" ]; then
		echo "SKIP: missing $(missing_tools | tr '\n' ' ')(Debian packages ${PKGS[*]}:" \
			"scripts/dev examples installs them, so does this test run as root)"
		exit 77
	fi
fi
echo "toolchains: $(/usr/bin/cargo --version), $(/usr/bin/rustc --version)," \
	"$(/usr/bin/go version)"

# Strict as root (the default; jobs run as the checkout's owner, PW_JOB_UID),
# otherwise without a sandbox: the pipelines are the same either way.
SANDBOX=()
if [ "$(id -u)" -ne 0 ]; then
	SANDBOX=(--sandbox none)
	echo "not root: running the pipelines with --sandbox none"
fi

# pw_ex ARGS...: pipewright run in the current project, with room for cold
# builds on a busy machine; output in $T/out, status in $rc.
pw_ex() {
	rc=0
	timeout -k 5 240 "$PW_BIN" run "${SANDBOX[@]}" "$@" >"$T/out" 2>&1 || rc=$?
}

# project NAME PIPELINE: a git repository $T/NAME holding the fixture and
# the pipeline as its .pipewright.yml; cd into it.
project() {
	local dir=$T/$1
	mkdir "$dir"
	cp -R "$PW_SOURCE_DIR/tests/fixtures/projects/$1/." "$dir/"
	cp "$PW_SOURCE_DIR/configs/pipelines/$2" "$dir/.pipewright.yml"
	cd "$dir"
	git init -q -b main .
	git add -A
	git -c user.name=t -c user.email=t@example.invalid commit -q -m "$1"
	if [ "$(id -u)" -eq 0 ]; then chown -R "$PW_JOB_UID:$PW_JOB_UID" "$dir"; fi
}

pw validate "$PW_SOURCE_DIR/configs/pipelines/rust.yml" "$PW_SOURCE_DIR/configs/pipelines/go.yml"
expect_rc 0
expect_out "$PW_SOURCE_DIR/configs/pipelines/rust.yml: valid, 5 jobs" \
	"$PW_SOURCE_DIR/configs/pipelines/go.yml: valid, 4 jobs"

export XDG_CACHE_HOME=$T/xdg

# ---- Rust ----
project rust-app rust.yml
sha=$(git rev-parse HEAD)
pw_ex --clean
cd "$T"
expect_rc 0
expect_out "[build] cache miss: cargo-release-$sha" "[test] self-test ok" "==> run success"
grep -q '^\[build\]    Compiling rust-app' out || fail "the cold build compiled nothing"
grep -q "^\[build\] cache saved: cargo-release-$sha (branch:main) " out || fail "build saved no cache"
grep -q '^\[build\] artifacts saved: build, [0-9]* files, ' out || fail "build saved no artifacts"
grep -q '^\[test\] artifacts of build restored: [0-9]* files, ' out ||
	fail "test got no artifacts of build"
grep -q '^\[test\] test result: ok\. 8 passed; 0 failed' out || fail "the unit tests did not run"
# The test job ran, in its own workspace, what the build job compiled.
expect_no_out "[test]    Compiling rust-app"
[ ! -e rust-app/target ] || fail "--clean wrote into the checkout"
# Warm: build's target/ comes from the cache and nothing is compiled.
cd rust-app
pw_ex --clean
cd "$T"
expect_rc 0
grep -q "^\[build\] cache hit: cargo-release-$sha (branch:main) " out || fail "no cache hit"
expect_out "[build] cache not saved: cargo-release-$sha: skipped, the key exists (branch:main)" \
	"[test] self-test ok" "==> run success"
expect_no_out "Compiling rust-app"

# In the checkout, shared by the jobs (the cache restores target/, which
# is missing there).
cd rust-app
pw_ex
cd "$T"
expect_rc 0
expect_out "[fmt] /usr/bin/cargo" \
	"[test] test self_test_passes ... ok" "[test] self-test ok" \
	"==> deploy: skipped: manual job not approved" "==> run success"
expect_job fmt success 1
grep -Eq '^\[fmt\] rustc [0-9]' out || fail "the fmt job printed no rustc version"
expect_job clippy success 1
expect_job build success 1
expect_job test success 1
expect_job deploy skipped 0
grep -q '^\[test\] test result: ok\. 8 passed; 0 failed' out || fail "the unit tests did not run"
# The test job ran what the build job compiled.
expect_no_out "[test]    Compiling rust-app"
[ -x rust-app/target/release/rust-app ] || fail "no target/release/rust-app in the checkout"

# Approved, the deploy runs; the checkout is the workspace, so the second
# run finds the first one's target/ and compiles nothing.
cd rust-app
pw_ex --approve deploy
cd "$T"
expect_rc 0
expect_out "[deploy] rust-app 0.1.0" "[deploy] self-test ok" "==> run success"
expect_job deploy success 1
expect_no_out "Compiling rust-app"
[ -x rust-app/dist/rust-app ] || fail "the deploy installed nothing"

# A needless `return` clippy denies, badly formatted: both lint jobs fail
# and nothing is built.
cd rust-app
echo 'pub fn  answer()->u8{return 42;}' >>src/lib.rs
pw_ex
cd "$T"
expect_rc 1
expect_out "==> fmt: failed: exit status 1" "==> clippy: failed: exit status 101" \
	"==> build: skipped: 'fmt' failed" "==> run failed"
grep -q '^\[clippy\] error: unneeded `return` statement' out || fail "clippy named no lint"
expect_job build skipped 0
expect_job test skipped 0

# ---- Go ----
project go-app go.yml
pw_ex --clean
cd "$T"
expect_rc 0
grep -q '^\[build\] cache miss: go-build-[0-9a-f]\{64\}$' out || fail "no miss line"
grep -q '^\[build\] cache saved: go-build-[0-9a-f]\{64\} (branch:main) ' out ||
	fail "build saved no cache"
grep -q '^\[build\] artifacts saved: build, 1 files, ' out || fail "build saved no bin/go-app"
grep -q '^\[test\] artifacts of build restored: 1 files, ' out || fail "test got no bin/go-app"
# The test job's own key is new: it starts from build's entry.
grep -q '^\[test\] cache hit: go-build-[0-9a-f]\{64\} (branch:main, by restore_keys for go-test-[0-9a-f]\{64\}) ' out ||
	fail "test did not start from build's cache"
expect_out "[test] self-test ok" "==> run success"
cd go-app
pw_ex --clean
cd "$T"
expect_rc 0
grep -q '^\[build\] cache hit: go-build-[0-9a-f]\{64\} (branch:main) ' out || fail "build: no hit"
grep -q '^\[test\] cache hit: go-test-[0-9a-f]\{64\} (branch:main) ' out || fail "test: no hit"
expect_out "[test] self-test ok" "==> run success"

cd go-app
pw_ex
cd "$T"
expect_rc 0
expect_out "[gofmt] /usr/bin/go" "[test] self-test ok" \
	"==> deploy: skipped: manual job not approved" "==> run success"
for m in cmd/go-app internal/ledger internal/money; do
	grep -Eq "^\[test\] ok[[:space:]]+example\.com/go-app/$m[[:space:]]" out ||
		fail "go test skipped $m"
done
[ "$(grep -Ec '^\[test\] ok[[:space:]]+example\.com/go-app/internal/ledger' out)" -eq 2 ] ||
	fail "the critical package was not tested twice (plain, then -race)"
expect_job gofmt success 1
expect_job build success 1
expect_job test success 1
expect_job deploy skipped 0

cd go-app
pw_ex --approve deploy
cd "$T"
expect_rc 0
expect_out "[deploy] go-app 0.1.0" "[deploy] self-test ok" "==> run success"
expect_job deploy success 1

# A format string vet finds wrong: the build job fails, nothing is tested.
cd go-app
printf '\nfunc debugBalance(a string) { fmt.Printf("%%d\\n", a) }\n' >>cmd/go-app/main.go
pw_ex
cd "$T"
expect_rc 1
expect_out "==> build: failed: exit status 2" "==> test: skipped: 'build' failed" \
	"==> run failed"
grep -q '^\[build\] .*Printf format %d has arg a of wrong type string' out ||
	fail "go vet named no finding"
expect_job test skipped 0
echo "ok: rust.yml and go.yml"
