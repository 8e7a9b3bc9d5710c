# The kernel behind the strict sandbox: what a job could reach that the
# namespaces do not cover, each tried from inside a job (sandbox_probe.c)
# and asserted from its output and from the host.
#  - AF_VSOCK (the host's vsock port space, outside any network namespace):
#    socket() directly, with high bits in the family, through socketcall()
#    and the i386 socket() (int 0x80), through io_uring's IORING_OP_SOCKET.
#    Created only, never connected: the host's own tooling listens there.
#  - families a job has no business with refused alike; UNIX, INET, INET6
#    and NETLINK still work.
#  - personality(): PER_BSD and READ_IMPLIES_EXEC refused (also with high
#    bits set, which the kernel drops); PER_LINUX32, UNAME26,
#    ADDR_NO_RANDOMIZE (setarch -R) and the query still work.
#  - /proc/self/cgroup: the job's own cgroups are its root ("/").
#  - /proc: a key the job's host uid owns (made here, as that uid) does not
#    show in /proc/keys; keys, timer_list, sched_debug and latency_stats
#    read empty; acpi, scsi and asound are empty read-only tmpfs.  Entries
#    this kernel lacks are skipped.
. "$(dirname "$0")/sandbox_lib.sh"
command -v gcc >/dev/null || { echo "SKIP: gcc is missing (scripts/dev installs it)"; exit 77; }

gcc -O1 -o probe "$PW_SOURCE_DIR/tests/integration/sandbox_probe.c" ||
	fail "sandbox_probe.c does not compile"

# The job's host uid, as the host sees what it writes.
cat > ci.yml <<'YML'
jobs:
  mark:
    script:
      - touch owner
YML
pw run -f ci.yml
expect_rc 0
uid=$(stat -c %u owner)
[ "$uid" != 0 ] || fail "the job wrote as host root"
key=pw-walls-$$
keyid=$(./probe addkey "$uid" "$key") || fail "cannot add a key as uid $uid"
trap './probe rmkey "$uid" "$keyid" || true; rm -rf "$T"' EXIT

cat > ci.yml <<'YML'
jobs:
  probe:
    script:
      - for p in vsock vsock-hibits vsock-socketcall vsock-i386 vsock-uring; do ./probe $p; done
      - for f in 1 2 10 16 15 38 4 5 17 29 30 40 41 44; do printf 'af%s ' $f; ./probe family $f; done
      - for v in 6 400000 1 200000 ; do printf 'p%s ' $v; ./probe pers $v; done
      - printf 'h6 '; ./probe pers-hibits 6
      - for v in 0 8 20000 20008 40000 ffffffff; do printf 'p%s ' $v; ./probe pers $v; done
      - printf 'setarch-R '; setarch -R cat /proc/self/personality
      - cat /proc/self/cgroup > cgroup.txt
      - cat /proc/keys > keys.txt 2>&1 || echo "keys unreadable" >> keys.txt
      - for f in keys timer_list sched_debug latency_stats kcore sysrq-trigger; do if [ -e /proc/$f ]; then printf '%s %s\n' $f "$(cat /proc/$f 2>&1 | wc -c)"; fi; done > files.txt
      - for d in acpi scsi asound; do if [ -e /proc/$d ]; then printf '%s %s %s\n' $d "$(awk -v m=/proc/$d '$5 == m { print $9 }' /proc/self/mountinfo)" "$(ls -A /proc/$d | wc -l)"; fi; done > dirs.txt
      - if touch /proc/acpi/x 2>/dev/null; then echo "acpi-$(echo WRITABLE)"; fi
YML
pw run -f ci.yml
expect_rc 0

# AF_VSOCK, every way in; the 32-bit ones only where this CPU runs them.
expect_out "[probe] vsock-refused 97" "[probe] vsock-hibits-refused 97" \
	"[probe] vsock-uring-refused 38"
for p in vsock-socketcall vsock-i386; do
	grep -qxE "\[probe\] $p-(refused [0-9]+|unavailable)" out ||
		fail "$p was not refused"
done
! grep -E '^\[probe\] vsock.*-OPEN' out || fail "a vsock socket was made"
# Families: the four a build needs, the rest refused as a kernel without them.
# (each as the host's kernel has it: IPv6 may be off there)
for f in 1 2 10 16; do
	if [ "$(./probe family $f)" = family-OPEN ]; then
		expect_out "[probe] af$f family-OPEN"
	fi
done
for f in 15 38 4 5 17 29 30 40 41 44; do
	expect_out "[probe] af$f family-refused 97"
done
# personality.
for v in 6 400000 1 200000; do expect_out "[probe] p$v pers-refused 1"; done
expect_out "[probe] h6 pers-hibits-refused 1"
for v in 0 8 20000 20008 40000 ffffffff; do expect_out "[probe] p$v pers-OPEN"; done
expect_out "[probe] setarch-R 00040000"
# The cgroup namespace: every hierarchy's path is the job's own root.
[ -s cgroup.txt ] || fail "no /proc/self/cgroup"
grep -v ':/$' cgroup.txt && fail "the job sees cgroup paths outside its own: $(cat cgroup.txt)"
# /proc: the host-made key does not show; the covered files read empty.
grep -q "$key" keys.txt && fail "the job sees the host's key: $(cat keys.txt)"
[ -s keys.txt ] && fail "/proc/keys is not empty: $(cat keys.txt)"
[ -e /proc/keys ] && { grep -qx 'keys 0' files.txt || fail "/proc/keys: $(cat files.txt)"; }
for f in timer_list sched_debug latency_stats kcore sysrq-trigger; do
	[ -e /proc/$f ] || continue
	grep -qx "$f 0" files.txt || fail "/proc/$f is not empty in the job: $(cat files.txt)"
done
for d in acpi scsi asound; do
	[ -e /proc/$d ] || continue
	grep -qx "$d tmpfs 0" dirs.txt || fail "/proc/$d is not an empty tmpfs: $(cat dirs.txt)"
done
expect_no_out "acpi-WRITABLE"
true
