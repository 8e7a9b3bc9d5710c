# The client commands' failures: bad usage exits 2 before any request; a
# daemon that cannot be reached, an unknown run or project, a missing
# token and too small a scope exit 1 with the server's message as
# "pipewright: MESSAGE (STATUS CODE)".
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

# Local usage errors: no daemon needed, none is asked.
export PIPEWRIGHT_URL=http://127.0.0.1:1
for args in "show abc" "show 0" "show" "show 1 2" "runs" "logs" \
	"runs demo --limit 0" "runs demo --limit x" "status --bogus" \
	"rerun 1 --failed build" "trigger demo --env 1X=2" "trigger demo --env X" \
	"trigger demo --env PIPEWRIGHT_RUN=1" \
	"approve 1" "cancel" "logs 1 job --attempt 0" "logs 1 job --json" \
	"status --server ftp://example.com"; do
	# shellcheck disable=SC2086
	pw $args
	[ "$rc" -eq 2 ] || fail "'pipewright $args': exit $rc, expected 2"
done
# One rule for variable names, the server's: PIPEWRIGHT_ (with its
# underscore) and PIPEWRIGHT itself are reserved.  An accepted --env goes
# on to the request, which fails here: nothing listens on port 1.
for env in PIPEWRIGHT_X PIPEWRIGHT; do
	pw trigger demo --env "$env=1"
	expect_rc 2
	expect_out "pipewright: --env: $env is set by pipewright and cannot be set"
done
for env in PIPEWRIGHTX=1 _x=1; do
	pw trigger demo --env "$env"
	expect_rc 1
	expect_out "pipewright: cannot reach http://127.0.0.1:1: Connection refused"
done
pw show abc
expect_out "pipewright: 'abc' is not a run id; expected a positive number"
pw show --help
expect_rc 0
grep -q '^usage: pipewright show \[OPTIONS\] RUN$' out || fail "show --help"

# Nothing listens on port 1.
pw status
expect_rc 1
expect_out "pipewright: cannot reach http://127.0.0.1:1: Connection refused"
pw logs -f 1 build --server http://127.0.0.1:1/
expect_rc 1
expect_out "pipewright: cannot reach http://127.0.0.1:1: Connection refused"

# Ctrl-C while waiting for an answer: 130, and pipewright's own word for
# it (a SIGINT nobody handled would also end in 130).  The server takes
# the connection and says so in ./mute.accepted, then never answers: by
# then the command is waiting, its handler in place since before it
# connected.
python3 -c 'import os, socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(5)
open("mute.port.tmp", "w").write(str(s.getsockname()[1]))
os.rename("mute.port.tmp", "mute.port")
c, _ = s.accept(); open("mute.accepted", "w").close(); time.sleep(60)' &
mute=$!
wait_for_file mute.port
"$PW_BIN" logs -f 1 build --server "http://127.0.0.1:$(cat mute.port)" 2>sigint.err &
cpid=$!
wait_for_file mute.accepted
kill -INT "$cpid"
crc=0
wait "$cpid" || crc=$?
kill "$mute"
[ "$crc" -eq 130 ] || fail "Ctrl-C: exit $crc, expected 130"
grep -qx "pipewright: interrupted" sigint.err ||
	fail "Ctrl-C: no 'pipewright: interrupted' on stderr: $(cat sigint.err)"

cat > demo.yml <<'YML'
jobs:
  build:
    script: echo built
YML
start_daemon

pw show 999999
expect_rc 1
grep -qE '^pipewright: .+ \(404 not_found\)$' out || fail "show 999999: $(cat out)"
pw runs no-such-project
expect_rc 1
grep -qE '^pipewright: .+ \(404 not_found\)$' out || fail "runs: $(cat out)"
pw logs 999999 build
expect_rc 1
grep -qE '^pipewright: .+ \(404 not_found\)$' out || fail "logs: $(cat out)"
pw cancel 999999
expect_rc 1
grep -qE '^pipewright: .+ \(404 not_found\)$' out || fail "cancel: $(cat out)"
pw status no-such-project
expect_rc 1

# No token: 401, and a hint; a read token cannot trigger: 403.
PIPEWRIGHT_TOKEN='' pw status
expect_rc 1
grep -qE '^pipewright: .+ \(401 unauthorized\)$' out || fail "no token: $(cat out)"
expect_out "pipewright: set PIPEWRIGHT_TOKEN to a token from 'pipewright token create'"
PIPEWRIGHT_TOKEN=not-a-token pw status
expect_rc 1
grep -qE '^pipewright: .+ \(401 unauthorized\)$' out || fail "bad token: $(cat out)"
expect_no_out "not-a-token"
reader=$(make_token reader read)
PIPEWRIGHT_TOKEN=$reader pw status
expect_rc 0
PIPEWRIGHT_TOKEN=$reader pw trigger demo
expect_rc 1
grep -qE '^pipewright: .+ \(403 forbidden\)$' out || fail "read token: $(cat out)"
expect_no_out "$reader"
