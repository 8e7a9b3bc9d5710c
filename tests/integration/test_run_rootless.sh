# pipewright run by a developer without root: the strict sandbox through
# unprivileged user namespaces.  A user made by the test (removed at the
# end) runs jobs in a checkout of theirs:
#  - with no subordinate ids: the job is root inside, only that user's
#    uid mapped; what it writes is the user's on the host; the host's
#    other files are not there (/root, the test's directory above the
#    checkout), the system directories are read-only; `user: 1000` fails
#    saying what it needs; the missing cgroup limits are said once;
#  - with a range in /etc/subuid and /etc/subgid (newuidmap, Debian's
#    uidmap): `user: 1000` runs as 1000 inside, still as the developer's
#    uid on the host, and root's other ids come from the range;
#  - an image or --rootfs is refused at once, saying it needs root.
. "$(dirname "$0")/sandbox_lib.sh"

command -v useradd >/dev/null || { echo "SKIP: no useradd to make a test user"; exit 77; }
[ -x /usr/bin/newuidmap ] && [ -x /usr/bin/newgidmap ] ||
	{ echo "SKIP: newuidmap/newgidmap missing (apt-get install uidmap)"; exit 77; }
U=pwt$$
useradd -M -d "$T/co" -s /bin/sh -K SUB_UID_COUNT=0 -K SUB_GID_COUNT=0 "$U"
trap 'userdel "$U" 2>/dev/null || true; rm -rf "$T"' EXIT
uid=$(id -u "$U")
gid=$(id -g "$U")
if ! su "$U" -c 'unshare -Urmpf --mount-proc true' 2>/dev/null; then
	echo "SKIP: unprivileged user namespaces are disabled here (sysctl kernel.unprivileged_userns_clone / user.max_user_namespaces)"
	exit 77
fi
chmod 0711 "$T"
echo "not for jobs" > "$T/outside"
mkdir co
chown "$U:$U" co
cd co
cat > .pipewright.yml <<YML
jobs:
  root:
    script:
      - echo "inside \$(id -u):\$(id -g)"
      - echo "map \$(tr -s ' ' < /proc/self/uid_map | sed 's/^ //')"
      - echo made > made
      - if ls /root >/dev/null 2>&1; then echo "sees /root"; fi
      - if [ -e "$T/outside" ]; then echo "sees outside"; fi
      - if touch /usr/pw-test 2>/dev/null; then echo "wrote /usr"; fi
      - echo root-done
  other:
    script: [echo other-done]
YML
chown "$U:$U" .pipewright.yml
as_user() {
	rc=0
	su "$U" -c "cd '$PWD' && timeout -k 5 60 '$PW_BIN' run $*" >out 2>&1 || rc=$?
}
as_user
expect_rc 0
expect_out "[root] inside 0:0" "[root] map 0 $uid 1" "[root] root-done" "[other] other-done"
expect_no_out "[root] sees /root" "[root] sees outside" "[root] wrote /usr"
[ ! -e /usr/pw-test ] || { rm -f /usr/pw-test; fail "a job wrote to /usr"; }
[ "$(stat -c %u:%g made)" = "$uid:$gid" ] || fail "made is $(stat -c %u:%g made), not the developer's"
n=$(grep -c "memory and pids limits do not apply" out || true)
if [ "$n" -ne 1 ]; then
	grep -q "^0::/" /proc/self/cgroup && [ -w "/sys/fs/cgroup$(sed -n 's/^0:://p' /proc/self/cgroup)" ] ||
		fail "the missing cgroup limits were said $n times, not once"
fi

cat > u.yml <<'YML'
jobs:
  pg:
    user: 1000
    script: [echo "as $(id -u):$(id -g)", echo u > by-user]
YML
chown "$U:$U" u.yml
as_user -f u.yml
expect_rc 1
grep -qF "user '1000' without root needs a range of 65536 subordinate ids of yours in /etc/subuid" out ||
	fail "user: without subordinate ids did not say what it needs"

# An image (or --rootfs) needs root: refused before anything is pulled.
cat > img.yml <<'YML'
jobs:
  boxed: {image: "oci:/nowhere/at-all:t", script: [echo IMAGE-RAN]}
YML
chown "$U:$U" img.yml
as_user -f img.yml
expect_rc 1
grep -qF "job 'boxed' has image 'oci:/nowhere/at-all:t', which needs root: " out ||
	fail "an image without root was not refused saying why"
grep -qF "run it with sudo" out || fail "the image refusal did not say what to do"
expect_no_out "[boxed] IMAGE-RAN"
! grep -q "cannot resolve\|pulled" out || fail "the image was looked up before the refusal"
as_user --rootfs /usr
expect_rc 1
grep -qF "pipewright: --rootfs /usr needs root: " out || fail "--rootfs without root was not refused"
expect_no_out "[root] root-done"

# A range of the user's own (far from other tests' and the daemon's ids).
start=$((400000000 + ($$ % 1000) * 65536))
usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$U"
as_user -f u.yml
expect_rc 0
expect_out "[pg] as 1000:1000"
[ "$(stat -c %u:%g by-user)" = "$uid:$gid" ] || fail "by-user is $(stat -c %u:%g by-user) on the host"
as_user
expect_rc 0
expect_out "[root] inside 0:0" "[root] map 0 $uid 1" "[root] 1 $((start + 1)) 65535"
echo ok
