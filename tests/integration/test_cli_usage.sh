# Every command's usage has one source: `pipewright help CMD` prints
# exactly what `pipewright CMD --help` prints, and that text is made from
# the same table getopt reads (src/cli/opts.c), so an option it shows is
# one the command takes and the other way round.  This holds the three
# together: the help texts agree, every option a help shows is accepted
# (never "unknown option"), no command in src/cli builds its own getopt
# table, and the documentation names every option.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SRC=${PW_SOURCE_DIR:-$here/../..}

# Nothing is reached: a probe that gets as far as a request fails there.
export PIPEWRIGHT_URL=http://127.0.0.1:1
unset PIPEWRIGHT_CONFIG PIPEWRIGHT_TOKEN

pw help
expect_rc 0
cmds=$(sed -n 's/^  \([a-z][a-z]*\)  *.*/\1/p' out)
[ "$(echo "$cmds" | wc -l)" -ge 18 ] || fail "pipewright help lists: $cmds"

for cmd in $cmds; do
	pw help "$cmd"
	expect_rc 0
	mv out help.out
	# `token`'s usage is its one subcommand's.
	sub=$cmd
	[ "$cmd" = token ] && sub="token create"
	head -n1 help.out | grep -q "^usage: pipewright $sub\( \|$\)" ||
		fail "help $cmd: $(head -n1 help.out)"
	pw "$cmd" --help
	expect_rc 0
	cmp -s out help.out || fail "'help $cmd' and '$cmd --help' differ"
	# shellcheck disable=SC2086
	for opt in $(grep -o -- '--[a-z][a-z-]*' help.out | sort -u); do
		# shellcheck disable=SC2086
		(cd "$T" && timeout -k 5 20 "$PW_BIN" $sub "$opt" >probe.out 2>&1) || true
		! grep -q "unknown option" probe.out ||
			fail "$sub: its help shows $opt, and it refuses it: $(cat probe.out)"
		# The reference pages: README.md for run, docs/ for the rest.
		grep -rqF -- "$opt" "$SRC/README.md" "$SRC/docs" ||
			fail "$sub $opt is documented nowhere (README.md, docs/)"
	done
done

# An option that is in no table is refused, by every kind of command.
for sub in run serve "token create" backup doctor upgrade validate status logs; do
	# shellcheck disable=SC2086
	pw $sub --no-such-option
	expect_rc 2
	expect_out "pipewright: $sub: unknown option '--no-such-option'"
done

# One table per command: getopt's own tables are built in opts.c alone.
others=$(grep -l 'getopt_long\|struct option ' "$SRC"/src/cli/*.c | grep -v '/opts\.c$' || true)
[ -z "$others" ] || fail "getopt tables outside src/cli/opts.c: $others"
echo "ok: every command's help is its getopt table, and documented"
