# pipewright-supervisor reads the job's environment from --env-fd
# defensively: an unterminated last entry, an entry without a name or '=',
# more than 1 MiB or more than 8192 entries are usage errors (exit 2,
# saying which), before anything else happens.
. "$(dirname "$0")/lib.sh"

sup=$(dirname "$PW_BIN")/pipewright-supervisor
mkdir a

refused() { # FILE MESSAGE
	rc=0
	"$sup" --dir "$T/a" --listen-fd 3 --env-fd 7 -- /bin/true 7<"$1" >out 2>&1 || rc=$?
	expect_rc 2
	grep -qF -- "$2" out || fail "$1: no '$2'"
}

printf 'A=1\0B=2' > unterminated
refused unterminated "the last entry is not terminated"
printf 'A=1\0NOEQUALS\0' > noname
refused noname "entry 2 is not NAME=VALUE"
printf '=x\0' > emptyname
refused emptyname "entry 1 is not NAME=VALUE"
{ printf 'BIG='; head -c 1048576 /dev/zero | tr '\0' x; printf '\0'; } > big
refused big "Argument list too long"
for i in $(seq 1 8193); do printf 'V%d=1\0' "$i"; done > many
refused many "entry 8193 is not NAME=VALUE, or there are more than 8192"

# A good one passes the parse; fd 3 is no listening socket, which comes next.
printf 'A=1\0EMPTY=\0' > good
rc=0
"$sup" --dir "$T/a" --listen-fd 3 --env-fd 7 -- /bin/true 7<good 3</dev/null >out 2>&1 || rc=$?
expect_rc 1
grep -qF "is not a listening socket" out || fail "the good environment was refused"
echo ok
