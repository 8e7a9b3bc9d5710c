# Terminal injection: a job prints OSC 52 (writes the operator's
# clipboard), a bare CR (overwrites what a line said), ESC [2J (clears the
# screen), C1 CSI as UTF-8 (U+009B) and as a raw byte, and a colour.
# `pipewright run`, `logs` and `logs -f` show each as an escape (\x1b,
# \x0d, \x07, \u009b, \x9b): no raw control byte reaches stdout, on a
# terminal or not.  `logs --raw` gives the bytes exactly, `--color` keeps
# the colour (SGR) and nothing else.  A ref with control characters is
# shown escaped by `show`, and a matrix value with one does not validate.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
jobs:
  inj:
    script:
      - printf 'clip\033]52;c;c2VjcmV0\007end\n'
      - printf 'fake\rreal\n'
      - printf 'clear\033[2Jscreen\n'
      - printf 'c1\302\2332Jx raw\2332Jy\n'
      - printf '\033[31mred\033[0m\n'
      - printf 'tail\033'
YML

# The bytes no output may hold, and the escapes it must hold instead.  (The
# raw 0x9B is not UTF-8: `logs -f` gets the log as JSON text, where the
# daemon has already made it U+FFFD; the other two show it as \x9b.)
no_raw_controls() { # FILE
	python3 - "$1" <<-'PY' || fail "raw control bytes in $1: $(od -c "$1" | head -20)"
	import sys
	d = open(sys.argv[1], "rb").read()
	bad = [b for b in (b"\x1b", b"\r", b"\x07", b"\x9b") if b in d]
	sys.exit(1 if bad else 0)
	PY
}
escaped_forms() { # FILE
	for s in 'clip\x1b]52;c;c2VjcmV0\x07end' 'fake\x0dreal' \
		'clear\x1b[2Jscreen' 'c1\u009b2Jx raw' 'tail\x1b'; do
		grep -qF -- "$s" "$1" || fail "no '$s' in $1"
	done
}

# run: the same job, locally.
cp demo.yml local.yml
timeout -k 5 60 "$PW_BIN" run --sandbox none -f local.yml >run.out 2>&1 ||
	fail "run failed: $(cat run.out)"
no_raw_controls run.out
escaped_forms run.out
grep -qF 'raw\x9b2Jy' run.out || fail "run: raw 0x9B not escaped"
grep -qF '[inj] \x1b[31mred\x1b[0m' run.out || fail "run: colour not escaped"
# Under a terminal too (script(1) gives it one), and with --color.
if command -v script >/dev/null; then
	script -qec "'$PW_BIN' run --sandbox none -f local.yml" /dev/null \
		>tty.out 2>&1 || fail "run on a tty failed: $(cat tty.out)"
	grep -qF 'clip\x1b]52;c;c2VjcmV0\x07end' tty.out || fail "tty: not escaped"
	! grep -qF "$(printf '\033]52')" tty.out || fail "tty: raw OSC 52"
fi
timeout -k 5 60 "$PW_BIN" run --sandbox none --color -f local.yml >color.out 2>&1 ||
	fail "run --color failed"
grep -qF "[inj] $(printf '\033[31mred\033[0m')" color.out || fail "run --color: no colour"
grep -qF 'clip\x1b]52;c;c2VjcmV0\x07end' color.out || fail "run --color: OSC passed"
grep -qF 'clear\x1b[2Jscreen' color.out || fail "run --color: ESC[2J passed"

start_daemon
id=$(trigger_run --ref main)
wait_run "$id" success

# logs: escaped whether or not stdout is a terminal.
timeout -k 5 60 "$PW_BIN" logs "$id" inj >logs.out 2>&1 || fail "logs failed"
no_raw_controls logs.out
escaped_forms logs.out
grep -qF 'raw\x9b2Jy' logs.out || fail "logs: raw 0x9B not escaped"
timeout -k 5 60 "$PW_BIN" logs -f "$id" inj >follow.out 2>&1 || fail "logs -f failed"
no_raw_controls follow.out
escaped_forms follow.out
timeout -k 5 60 "$PW_BIN" logs --color "$id" inj >lcolor.out 2>&1 || fail "logs --color failed"
grep -qF "$(printf '\033[31mred\033[0m')" lcolor.out || fail "logs --color: no colour"
grep -qF 'clip\x1b]52;c;c2VjcmV0\x07end' lcolor.out || fail "logs --color: OSC passed"
# --raw: exactly the job's bytes.
timeout -k 5 60 "$PW_BIN" logs --raw "$id" inj >raw.out 2>&1 || fail "logs --raw failed"
printf 'clip\033]52;c;c2VjcmV0\007end\n' >want
grep -qF -f want raw.out || fail "logs --raw: bytes changed"
grep -q "$(printf 'raw\2332Jy')" raw.out || fail "logs --raw: raw byte changed"
pw logs --raw --color "$id" inj
expect_rc 2

# show: a ref is a forge's string; shown escaped.
pwj trigger demo --json --ref "$(printf 'main\033]52;c;eA==\007\302\2332J')"
if [ "$rc" -eq 0 ]; then
	id2=$(jq_out 'd["id"]')
	no_raw_controls out.json
	timeout -k 5 60 "$PW_BIN" show "$id2" >show.out 2>&1 || true
	no_raw_controls show.out
	grep -qF 'main\x1b]52;c;eA==\x07\u009b2J' show.out ||
		fail "show: ref not escaped: $(cat show.out)"
	pwj show "$id2" --json
	no_raw_controls out.json
	[ "$(jq_out 'd["ref"]')" = "$(printf 'main\033]52;c;eA==\007\302\2332J')" ] ||
		fail "show --json: the ref changed"
else
	# Refused by the server: the message that names it is escaped too.
	no_raw_controls out
fi

# A matrix value with a control character is a validation error.
printf 'jobs:\n  t:\n    script: x\n    matrix: {OS: ["a\\e]52;c;eA==\\a"]}\n' >m.yml
pw validate m.yml
expect_rc 2
expect_out "m.yml:4:19: error: a matrix value 'a\\x1b]52;c;eA==\\x07' in the matrix of job 't' has a control character; names may not contain any"
no_raw_controls out
