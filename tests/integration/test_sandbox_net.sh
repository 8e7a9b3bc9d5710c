# The network: a job reaches only its own loopback unless it sets
# `network: true`.  The test listens on the host's loopback and counts the
# connections it gets, so the assertion holds from both sides.
. "$(dirname "$0")/sandbox_lib.sh"
command -v python3 >/dev/null || { echo "SKIP: python3 is needed for the listener"; exit 77; }

python3 - > port.txt 2>/dev/null <<'PY' &
import socket, sys
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); sys.stdout.close()
n = 0
s.settimeout(30)
try:
    while True:
        c, _ = s.accept(); n += 1; c.close()
        open("conns.txt", "w").write(str(n))
except Exception:
    pass
PY
listener=$!
trap 'kill $listener 2>/dev/null; rm -rf "$T"' EXIT
wait_for_file port.txt
for i in $(seq 1 100); do [ -s port.txt ] && break; sleep 0.05; done
port=$(cat port.txt)
cat > ci.yml <<YML
jobs:
  offline:
    script:
      - python3 -c 'import socket; socket.create_connection(("127.0.0.1", $port), 2)' 2>/dev/null && echo host-REACHED || echo host-unreachable
      - python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(1); socket.create_connection(s.getsockname(), 2); print("loopback-ok")'
  online:
    needs: [offline]
    network: true
    script:
      - python3 -c 'import socket; socket.create_connection(("127.0.0.1", $port), 2)' && echo host-reached
YML
pw run -f ci.yml
expect_rc 0
expect_out "[offline] host-unreachable" "[offline] loopback-ok" "[online] host-reached"
[ "$(cat conns.txt 2>/dev/null)" = 1 ] || fail "the listener saw $(cat conns.txt 2>/dev/null || echo 0) connections, expected exactly 1"
