#!/usr/bin/env bash
# `cmake --install` into a scratch prefix: the layout, the installed
# configuration valid, the units naming the installed paths, the installed
# pipewright finding its supervisor in libexec/pipewright (a pipeline run
# with --sandbox none, as any user may), pipewright(1) listing every
# command and option `--help` prints, pipewright.yml(5) rendering without a
# groff warning, and the completion offering every command and a command's
# options.  Skipped (77) without pandoc, which the man pages are made with.
. "$(dirname "$0")/lib.sh"
build=$(dirname "$PW_BIN")
if [ ! -f "$build/man/pipewright.1" ]; then
	echo "SKIP: no man pages in $build (pandoc missing at configure time: apt-get install pandoc)"
	exit 77
fi
command -v man >/dev/null ||
	{ echo "SKIP: man is not installed (apt-get install man-db)"; exit 77; }

p=$T/prefix
cmake --install "$build" --prefix "$p" >install.log 2>&1 ||
	{ cat install.log; fail "cmake --install"; }
for f in bin/pipewright libexec/pipewright/pipewright-supervisor etc/pipewright/pipewright.yml \
	lib/systemd/system/pipewright.service lib/systemd/system/pipewright.socket \
	share/bash-completion/completions/pipewright share/man/man1/pipewright.1 \
	share/man/man5/pipewright.yml.5 share/doc/pipewright/LICENSE; do
	[ -f "$p/$f" ] || fail "not installed: $f"
done
[ ! -e "$p/bin/pipewright-supervisor" ] || fail "the supervisor is on PATH"

# The paths configured into the build (not --prefix's): the unit's ExecStart.
unit=$p/lib/systemd/system/pipewright.service
grep -qE '^ExecStart=/.*/bin/pipewright serve --config /.*/pipewright/pipewright.yml$' "$unit" ||
	fail "ExecStart: $(grep ExecStart "$unit")"
! grep -q '^StateDirectory=' "$p/lib/systemd/system/pipewright.service" ||
	fail "StateDirectory= would give the state to root"

pw serve --check --config "$p/etc/pipewright/pipewright.yml"
expect_rc 0
grep -q 'valid, 0 projects' out || fail "the installed configuration"

# The installed binary finds the installed supervisor.
mkdir ws && printf 'jobs:\n  hi:\n    script: echo installed-ok\n' >ws/.pipewright.yml
(cd ws && timeout 60 "$p/bin/pipewright" run --sandbox none) >out 2>&1 ||
	fail "run with the installed binary"
grep -q 'installed-ok' out || fail "the job's output"

# pipewright(1): every command, every option of every command.
MANWIDTH=200 man -l -P cat "$p/share/man/man1/pipewright.1" >man1 2>man1.err
[ ! -s man1.err ] || { cat man1.err; fail "man -l pipewright.1 complained"; }
for cmd in $("$PW_BIN" help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	grep -q "pipewright $cmd" man1 || fail "pipewright(1) lacks the command $cmd"
	for opt in $("$PW_BIN" "$cmd" --help | awk '/^ +-/ {
		for (i = 1; i <= NF; i++) if ($i ~ /^--?[a-z]/) { sub(/,$/, "", $i); print $i } }'); do
		grep -q -- "$opt" man1 || fail "pipewright(1) lacks $cmd's option $opt"
	done
done
LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z \
	"$p/share/man/man5/pipewright.yml.5" >/dev/null 2>man5.err
[ ! -s man5.err ] || { cat man5.err; fail "groff warns about pipewright.yml(5)"; }

# The completion: every command from its first letters, a command's options.
cat >comp.sh <<'EOS'
set -u
. "$1/share/bash-completion/completions/pipewright"
for cmd in $("$2" help | awk '/^commands:/ { on = 1; next } on && /^  [a-z]/ { print $1 }'); do
	COMP_WORDS=("$2" "${cmd:0:3}"); COMP_CWORD=1; _pipewright
	printf '%s\n' "${COMPREPLY[@]}" | grep -qx "$cmd" || { echo "no $cmd for ${cmd:0:3}"; exit 1; }
done
COMP_WORDS=("$2" run --sa); COMP_CWORD=2; _pipewright
[ "${COMPREPLY[*]}" = "--sandbox" ] || { echo "run --sa: ${COMPREPLY[*]}"; exit 1; }
COMP_WORDS=("$2" run --network ""); COMP_CWORD=3; _pipewright
[ "${COMPREPLY[*]}" = "allow deny" ] || { echo "--network: ${COMPREPLY[*]}"; exit 1; }
# No daemon answers there: project names are quietly not offered.
COMP_WORDS=("$2" runs --server http://127.0.0.1:1 ""); COMP_CWORD=4; _pipewright
[ "${#COMPREPLY[@]}" -eq 0 ] || { echo "projects without a daemon: ${COMPREPLY[*]}"; exit 1; }
echo completion-ok
EOS
bash comp.sh "$p" "$PW_BIN" >out 2>&1 || fail "the completion"
[ "$(cat out)" = completion-ok ] || fail "the completion printed more"
echo PASS
