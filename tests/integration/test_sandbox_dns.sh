# A job without network (the strict sandbox's default: only its own
# loopback) fails a DNS lookup at once instead of waiting on a resolver
# it cannot reach: every nameserver its /etc/resolv.conf names (glibc's
# 127.0.0.1 if none) refuses a connection or is unreachable — an
# immediate error, never a timeout — and getent exits 2 (not found) with
# glibc's resolver giving up on the first error.  No timing is asserted:
# what would make a lookup wait (a reachable address that never answers)
# is shown absent instead.
. "$(dirname "$0")/sandbox_lib.sh"
command -v getent >/dev/null || { echo "SKIP: getent is needed"; exit 77; }

cat > dns.yml <<'YML'
jobs:
  offline:
    timeout: 2m
    script:
      - |
        servers=$(awk '$1 == "nameserver" {print $2}' /etc/resolv.conf 2>/dev/null)
        for ns in ${servers:-127.0.0.1}; do
          if bash -c "exec 3<>/dev/tcp/$ns/53" 2>err; then
            echo "resolver $ns: reachable"
          else
            echo "resolver $ns: $(sed -n 's/.*: //p' err | tail -n1)"
          fi
        done
      - |
        getent hosts example.com && echo "lookup: found" || echo "lookup: exit $?"
YML
pw run --network deny -f dns.yml
expect_rc 0
expect_out "[offline] lookup: exit 2"
# The script is echoed too: only the lines it printed count.
grep -q '^\[offline\] resolver ' out || fail "no resolver was tried"
! grep '^\[offline\] resolver ' out |
	grep -vE ': (Network is unreachable|Connection refused)$' ||
	fail "a resolver is reachable, or failed otherwise than at once"
