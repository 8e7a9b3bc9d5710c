# A strict job's HOME is not the daemon's disk.  Attack: fill $HOME
# (`dd if=/dev/zero of=$HOME/x`), which used to be the attempt's home/ in
# the daemon's data directory, beside its database.  Now HOME is a private
# tmpfs at the same path, charged to the job's memory cgroup and sized to
# its memory limit (as /tmp and /dev/shm are): 100M written by a job with
# `memory: 64M` ends in ENOSPC or in the memory limit's kill, never on
# disk.  Asserted inside (file system type, size, owner and mode, a write
# that fails) and from the host: while the job holds 32M in HOME, the
# attempt directories on the host hold almost nothing.  A job still uses
# HOME as usual.
. "$(dirname "$0")/sandbox_lib.sh"

# The attempt directories, outside the workspace (which the job sees).
R=$(mktemp -d "${TMPDIR:-/tmp}/pw-home-runs.XXXXXX")
trap 'rm -rf "$T" "$R"' EXIT

cat > ci.yml <<'YML'
jobs:
  use:
    script:
      - mkdir -p "$HOME/.cache/tool" && echo kept > "$HOME/.cache/tool/f"
      - test "$(cat "$HOME/.cache/tool/f")" = kept && echo home-usable
      - stat -c 'home %a %u' "$HOME"
      - stat -f -c 'home-fs %T' "$HOME"
  fill:
    resources: {memory: 64M}
    timeout: 60s
    script:
      - echo "home-size $(( $(stat -f -c '%b * %S' "$HOME") ))"
      - echo "tmp-size $(( $(stat -f -c '%b * %S' /tmp) ))"
      - echo "shm-size $(( $(stat -f -c '%b * %S' /dev/shm) ))"
      - dd if=/dev/zero of="$HOME/part" bs=1M count=32 status=none && echo wrote-32M
      - touch ready
      - while [ ! -e go ]; do sleep 0.05; done
      - dd if=/dev/zero of="$HOME/x" bs=1M count=100 status=none && echo HOME-TOOK-100M || echo "home-full rc=$?"
YML

rc=0
TMPDIR=$R timeout -k 5 60 "$PW_BIN" run -f ci.yml >out 2>&1 &
pid=$!
wait_for_file ready
# From the host: the 32M the job holds in HOME are nowhere under the
# attempt directories (its log and status are a few KiB).
held=$(du -sk "$R" | cut -f1)
homes=$(find "$R" -mindepth 3 -maxdepth 3 -type d -name home | wc -l)
touch go
wait "$pid" || rc=$?
[ "$homes" -ge 1 ] || fail "no attempt home/ under $R"
[ "$held" -lt 1024 ] || fail "the attempt directories hold ${held}K on the host while the job fills HOME"

expect_rc 1
expect_out "[use] home-usable" "[use] home 700 0" "[use] home-fs tmpfs" \
	"[fill] home-size 67108864" "[fill] tmp-size 67108864" \
	"[fill] shm-size 67108864" "[fill] wrote-32M"
! grep -qxF "[fill] HOME-TOOK-100M" out || fail "100M went into a 64M job's HOME"
if ! grep -qxF "[fill] home-full rc=1" out; then
	grep -q "fill.*killed: memory limit 64M exceeded" out ||
		fail "the fill neither met ENOSPC nor the memory limit"
fi
true
