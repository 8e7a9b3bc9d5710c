# Escape attempts on the filesystem and the kernel, in the strict sandbox:
# /etc, /usr and the host's HOME cannot be written, the attempt directory
# (where the log and the socket are, the daemon's data directory) is not
# visible beyond the job's HOME, /sys is absent, and mount, unshare -U,
# /proc/sys/kernel/core_pattern and mknod all fail.  The workspace is
# writable.  Asserted from the job's output and from the host.
. "$(dirname "$0")/sandbox_lib.sh"

tag=pw-escape-$$
cat > ci.yml <<YML
jobs:
  fs:
    script:
      - touch /etc/$tag 2>/dev/null && echo etc-ESCAPED || echo etc-refused
      - touch /usr/$tag 2>/dev/null && echo usr-ESCAPED || echo usr-refused
      - touch /root/$tag 2>/dev/null && echo roothome-ESCAPED || echo roothome-refused
      - ls -A "\$HOME/.." | tr '\n' ' ' > attempt.txt
      - test -e /sys/kernel && echo sys-VISIBLE || echo sys-absent
      - echo written > ws.txt && echo workspace-ok
      - touch "\$HOME/x" && touch /tmp/x && echo home-tmp-ok
  kernel:
    script:
      - mkdir -p m && (mount -t tmpfs none m 2>/dev/null && echo mount-ESCAPED || echo mount-refused)
      - unshare -U true 2>/dev/null && echo unshare-ESCAPED || echo unshare-refused
      - (echo '|/bin/sh' > /proc/sys/kernel/core_pattern) 2>/dev/null && echo core-ESCAPED || echo core-refused
      - mknod n c 1 3 2>/dev/null && echo mknod-ESCAPED || echo mknod-refused
      - grep -E '^(CapEff|CapBnd|NoNewPrivs|Seccomp):' /proc/self/status | tr -s '\t' ' '
      - test "\$(cat /proc/sys/kernel/hostname)" = pipewright && echo uts-ok
YML
core_before=$(cat /proc/sys/kernel/core_pattern)
pw run -f ci.yml
expect_rc 0
expect_out "[fs] etc-refused" "[fs] usr-refused" "[fs] roothome-refused" \
	"[fs] sys-absent" "[fs] workspace-ok" "[fs] home-tmp-ok" \
	"[kernel] mount-refused" "[kernel] unshare-refused" \
	"[kernel] core-refused" "[kernel] mknod-refused" \
	"[kernel] CapEff: 0000000000000000" "[kernel] CapBnd: 0000000000000000" \
	"[kernel] NoNewPrivs: 1" "[kernel] Seccomp: 2" "[kernel] uts-ok"
# (The commands are echoed too; only an outcome line counts.)
! grep -qE '^\[[a-z]+\] [a-z]+-ESCAPED$' out || fail "an escape worked"
[ "$(cat attempt.txt)" = "home " ] || fail "the attempt directory shows: $(cat attempt.txt)"
# From the host.
[ ! -e /etc/$tag ] && [ ! -e /usr/$tag ] && [ ! -e /root/$tag ] ||
	fail "a file was written on the host"
[ "$(cat /proc/sys/kernel/core_pattern)" = "$core_before" ] || fail "core_pattern changed"
[ "$(cat ws.txt)" = written ] || fail "workspace file missing"
[ ! -e n ] || fail "mknod made a node"
true
