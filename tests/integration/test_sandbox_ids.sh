# pipewright run: the job's host ids never come from the workspace.  The
# workspace belongs to a group that may read a file (mode 0640, root:that
# group), and where the host has one, to group shadow (/etc/shadow is
# bound into the job read-only).  The job runs as the checkout's owner
# with that user's primary group (here the owner has no passwd entry, so
# gid = uid) and no supplementary groups: it cannot read either file.
# Asserted inside (the reads fail) and from the host (/proc/PID/status of
# the job's shell while it runs: Uid, Gid, Groups).
. "$(dirname "$0")/sandbox_lib.sh"

# The job's processes: in a pid namespace of their own, working in $T.
# Builtins only (-ef compares the inodes): a fork per process is slow.
job_pids() {
	local p line
	for p in /proc/[0-9]*; do
		[ "$p/cwd" -ef "$T" ] || continue
		while read -r line; do
			case "$line" in
			NSpid:*) [ "${line#NSpid:*[0-9][[:space:]]}" != "$line" ] && echo "${p#/proc/}" ;;
			esac
		done < "$p/status" 2>/dev/null || true
	done
}

cat > ci.yml <<'YML'
jobs:
  peek:
    script:
      - if cat secret.txt; then echo "read secret.txt"; else echo "secret.txt denied"; fi
      - if head -c 64 /etc/shadow; then echo "read shadow"; else echo "shadow denied"; fi
      - touch ready
      - while [ ! -e go ]; do sleep 0.05; done
YML

try_group() { # GROUP
	local g=$1 gid p n=0
	gid=$(getent group "$g" | cut -d: -f3 || true)
	[ -n "$gid" ] || gid=$g
	chgrp "$g" "$T"
	printf 'top secret\n' > secret.txt
	chown "0:$g" secret.txt
	chmod 0640 secret.txt
	rm -f ready go
	rc=0
	timeout -k 5 60 "$PW_BIN" run -f ci.yml >out 2>&1 &
	local pid=$!
	wait_for_file ready
	for p in $(job_pids); do
		st=$(grep -E '^(Uid|Gid|Groups):' "/proc/$p/status" 2>/dev/null) || continue
		[ -n "$st" ] || continue  # a short-lived process that is gone
		n=$((n + 1))
		if ! grep -qE "^Uid:\s+($PW_JOB_UID\s+){3}$PW_JOB_UID$" <<<"$st" ||
			! grep -qE "^Gid:\s+($PW_JOB_UID\s+){3}$PW_JOB_UID$" <<<"$st" ||
			! grep -qE "^Groups:\s*$" <<<"$st"; then
			touch go
			wait "$pid" || true
			fail "job process $p (workspace group $g): $(tr '\n' ' ' <<<"$st")"
		fi
	done
	touch go
	wait "$pid" || rc=$?
	[ "$n" -gt 0 ] || fail "no process of the job found from the host"
	expect_rc 0
	expect_out "[peek] secret.txt denied"
	expect_no_out "top secret"
	! grep -qxF "[peek] read secret.txt" out || fail "the job read secret.txt"
	if [ "$g" = shadow ]; then
		expect_out "[peek] shadow denied"
		! grep -qxF "[peek] read shadow" out || fail "the job read /etc/shadow"
	fi
}

# A group nobody has, so that only the workspace could have given it.
try_group 1500000007
if getent group shadow >/dev/null && [ "$(stat -c %G%a /etc/shadow)" = shadow640 ]; then
	try_group shadow
else
	echo "note: no group shadow with a 0640 /etc/shadow here; tried a numeric group only"
fi
echo ok
