# `pipewright run` bounds a job that asks for nothing: a fork bomb with no
# `resources` meets the built-in pids limit (1024) and is reported so, and
# none of its processes is left on the host.
. "$(dirname "$0")/sandbox_lib.sh"

marker=$((40000 + $$ % 20000))
cat > ci.yml <<YML
jobs:
  bomb:
    timeout: 280s
    script: while :; do sleep $marker & done
YML
# A thousand forks take minutes on a busy machine (a job's CPU weight is
# low): more than pw's 60 s.
rc=0
timeout -k 5 300 "$PW_BIN" run -f ci.yml >out 2>&1 || rc=$?
expect_rc 1
grep -q "bomb.*killed: more than 1024 processes" out || fail "no pids reason"
if pgrep -f "^sleep $marker\$" >/dev/null; then
	pkill -f "^sleep $marker\$"
	fail "processes of the bomb survived"
fi
true
