# The network: a job reaches only its own loopback unless it sets
# `network: true` and is granted it (`pipewright run` grants it unless
# --network deny); granted, it gets a network namespace of its own with
# outbound access through slirp4netns, and still not the host: not its
# loopback (127.0.0.1 or slirp's 10.0.2.2), not its own addresses, not its
# abstract unix sockets, and a port it binds is not the host's.  Outbound
# is proven with a test host in a network namespace of its own behind a
# veth pair (the machine has no other network).  Every listener counts
# what reaches it, so each assertion holds from the host's side too.
. "$(dirname "$0")/sandbox_lib.sh"
for p in python3 ip slirp4netns; do
	command -v $p >/dev/null ||
		{ echo "SKIP: $p is needed (scripts/dev installs it)"; exit 77; }
done

net=$((RANDOM % 200 + 20))
ns=pwt-net-$$ veth_h=pwt$$h veth_t=pwt$$t
lo_addr=198.18.$net.$((RANDOM % 250 + 2))  # a service address on the host's lo
abstract=pw-test-$$-$RANDOM
cleanup() {
	kill $host_pid $th_pid 2>/dev/null || true
	ip link del "$veth_h" 2>/dev/null || true
	ip addr del "$lo_addr/32" dev lo 2>/dev/null || true
	ip netns del "$ns" 2>/dev/null || true
	rm -rf "$T"
}
host_pid= th_pid=
trap cleanup EXIT

# The host: TCP on every address (IPv4 and IPv6) at port P; 127.0.0.1
# only at port P2 (as the daemon holds its port); an abstract socket.
cat > host.py <<'PY'
import os, select, socket, sys
def tcp(fam, addr, port, v6only=False):
    s = socket.socket(fam)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if v6only:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((addr, port)); s.listen(16); return s
a4 = tcp(socket.AF_INET, "0.0.0.0", 0)
port = a4.getsockname()[1]
a6 = tcp(socket.AF_INET6, "::", port, v6only=True)
b = tcp(socket.AF_INET, "127.0.0.1", 0)
u = socket.socket(socket.AF_UNIX); u.bind("\0" + sys.argv[1]); u.listen(16)
open("ports.tmp", "w").write("%d %d\n" % (port, b.getsockname()[1]))
os.rename("ports.tmp", "ports.txt")
n = {a4: 0, a6: 0, b: 0, u: 0}
names = {a4: "tcp4", a6: "tcp6", b: "held", u: "abstract"}
while True:
    r, _, _ = select.select(list(n), [], [], 60)
    if not r:
        break
    for s in r:
        c, _ = s.accept(); c.close(); n[s] += 1
        open("conns-%s.txt" % names[s], "w").write(str(n[s]))
PY
python3 host.py "$abstract" 2>/dev/null &
host_pid=$!
wait_for_file ports.txt
read -r port held < ports.txt

# The test host: 10.231.N.2 behind a veth whose host end is 10.231.N.1.
ip netns add "$ns"
ip link add "$veth_h" type veth peer name "$veth_t"
ip link set "$veth_t" netns "$ns"
ip addr add "10.231.$net.1/24" dev "$veth_h"
ip link set "$veth_h" up
ip -n "$ns" addr add "10.231.$net.2/24" dev "$veth_t"
ip -n "$ns" link set "$veth_t" up
ip -n "$ns" link set lo up
ip addr add "$lo_addr/32" dev lo
cat > testhost.py <<'PY'
import os, socket
s = socket.socket(); s.bind(("10.231.%s.2" % os.environ["NET"], 0)); s.listen(4)
open("th.tmp", "w").write(str(s.getsockname()[1])); os.rename("th.tmp", "th.txt")
s.settimeout(60)
n = 0
while True:
    try:
        c, _ = s.accept()
    except OSError:
        break
    c.sendall(b"testhost-hello\n"); c.close(); n += 1
    open("conns-testhost.txt", "w").write(str(n))
PY
NET=$net ip netns exec "$ns" python3 testhost.py 2>/dev/null &
th_pid=$!
wait_for_file th.txt
th_port=$(cat th.txt)

# The host's own addresses, as the job would find them: all but 127/8,
# ::1 and link-local, the service address on lo included.
addrs=$(ip -o addr show | awk '$4 !~ /^(fe80|127\.|::1\/)/ { sub("/.*", "", $4); print $4 }' | tr '\n' ' ')
case " $addrs " in *" $lo_addr "*) ;; *) fail "the address on lo is not listed: $addrs";; esac
cat > probe.py <<'PY'
import socket, sys
port = int(sys.argv[1])
for a in ["127.0.0.1", "10.0.2.2", "::1"] + sys.argv[2:]:
    fam = socket.AF_INET6 if ":" in a else socket.AF_INET
    s = socket.socket(fam); s.settimeout(3)
    try:
        s.connect((a, port)); print("reach %s: REACHED" % a)
    except OSError:
        print("reach %s: blocked" % a)
    s.close()
PY
cat > abstract.py <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect("\0" + sys.argv[1]); print("abstract: REACHED")
except OSError:
    print("abstract: blocked")
PY
cat > bind6.py <<'PY'
import os, socket, sys, time
s = socket.socket(socket.AF_INET6)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
s.bind(("::1", int(sys.argv[1]))); s.listen(4)
print("bound [::1]:held", flush=True)
open("bound", "w").close()
# Held until the host has tried it (a condition, bounded).
deadline = time.monotonic() + 20
while not os.path.exists("checked") and time.monotonic() < deadline:
    time.sleep(0.05)
PY
cat > ci.yml <<YML
jobs:
  offline:
    script:
      - python3 probe.py $port
      - python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); socket.create_connection(s.getsockname(), 2); print("loopback-ok")'
  online:
    needs: [offline]
    network: true
    script:
      - python3 probe.py $port $addrs
      - python3 abstract.py $abstract
      - python3 -c 'import socket; print("testhost:", socket.create_connection(("10.231.$net.2", $th_port), 5).recv(64).decode().strip())'
      - grep '^nameserver' /etc/resolv.conf
      - ip route 2>/dev/null | grep -q '^default via 10.0.2.2 dev tap0' && echo default-route-ok || cat /proc/net/route
      - python3 bind6.py $held
YML
chown "$PW_JOB_UID:$PW_JOB_UID" *.py ci.yml
(
	wait_for_file bound
	# The host's [::1]:held: nobody there, whatever the job bound.
	python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET6)
try:
    s.connect(("::1", int(sys.argv[1]))); print("host-sees-job-bind")
except OSError:
    print("host-does-not-see-job-bind")' "$held" > bindcheck.txt
	touch checked
) &
checker=$!
pw run -f ci.yml
wait $checker || true
expect_rc 0
expect_out "[offline] reach 127.0.0.1: blocked" "[offline] loopback-ok" \
	"[online] abstract: blocked" "[online] testhost: testhost-hello" \
	"[online] nameserver 10.0.2.3" "[online] default-route-ok" \
	"[online] bound [::1]:held"
for a in 127.0.0.1 10.0.2.2 ::1 $addrs; do
	expect_out "[online] reach $a: blocked"
done
expect_no_out "REACHED"
for f in tcp4 tcp6 held abstract; do
	[ ! -e "conns-$f.txt" ] || fail "the host's $f listener saw $(cat "conns-$f.txt") connections from jobs"
done
[ "$(cat conns-testhost.txt 2>/dev/null)" = 1 ] ||
	fail "the test host saw $(cat conns-testhost.txt 2>/dev/null || echo 0) connections, expected 1"
[ "$(cat bindcheck.txt)" = host-does-not-see-job-bind ] ||
	fail "the job's bind of [::1]:$held was the host's ($(cat bindcheck.txt))"

# Denied: the job fails, saying why; it never runs offline.
cat > deny.yml <<'YML'
jobs:
  online:
    network: true
    script: [echo ran]
YML
pw run --network deny -f deny.yml
expect_rc 1
expect_no_out "ran"
grep -qF "network: denied by --network deny" out || fail "the reason is not said"
