# Shared by the test_sandbox_*.sh scenarios: lib.sh, and a skip (exit 77,
# saying what is missing) where the strict sandbox cannot run at all.
. "$(dirname "$0")/lib.sh"

sandbox_missing() {
	[ "$(id -u)" -eq 0 ] || { echo "not root"; return; }
	unshare -U -p -m -n --fork true 2>/dev/null ||
		{ echo "user/pid/mount/net namespaces are not available"; return; }
	local c
	for c in memory pids; do
		grep -qE "^[0-9]+:([^:]*,)?$c(,[^:]*)?:" /proc/self/cgroup ||
			grep -qw "$c" /sys/fs/cgroup/cgroup.controllers 2>/dev/null ||
			grep -qw "$c" /sys/fs/cgroup/unified/cgroup.controllers 2>/dev/null ||
			{ echo "no '$c' cgroup controller"; return; }
	done
}
why=$(sandbox_missing)
if [ -n "$why" ]; then
	echo "SKIP: the strict sandbox cannot run here: $why"
	exit 77
fi
