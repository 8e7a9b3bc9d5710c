# Limits: a fork bomb is stopped by the pids limit and reported so, and
# the runner stays responsive (another job of the run finishes); a memory
# hog is killed with the memory reason and the rest of its job goes too
# (checked from the host by a marker process).
. "$(dirname "$0")/sandbox_lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the memory hog"; exit 77; }

marker=$((40000 + $$ % 20000))
cat > ci.yml <<YML
jobs:
  bomb:
    resources: {pids: 64}
    timeout: 60s
    script: while :; do sleep 1000 & done
  bystander:
    script: sleep 1 && echo still-responsive
  hog:
    resources: {memory: 64M}
    timeout: 60s
    script:
      - sleep $marker &
      - python3 -c 'a = [bytearray(1 << 20) for i in range(512)]'
YML
start=$(date +%s)
pw run -f ci.yml
took=$(( $(date +%s) - start ))
expect_rc 1
expect_out "[bystander] still-responsive"
grep -q "bomb.*killed: more than 64 processes" out || fail "no pids reason"
grep -q "hog.*killed: memory limit 64M exceeded" out || fail "no memory reason"
[ "$took" -lt 30 ] || fail "the run took ${took}s"
if pgrep -f "^sleep $marker\$" >/dev/null; then
	pkill -f "^sleep $marker\$"
	fail "the memory hog's sibling survived"
fi
true
