# logs -f resumes a dropped stream: the real daemon behind a small TCP
# relay that cuts the first connection once "tick 2" has gone through.
# The command reconnects with Last-Event-ID, prints every line exactly
# once, and still exits with the job's result.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
. "$here/cli_lib.sh"

cat > demo.yml <<'YML'
jobs:
  slow:
    script:
      - echo "tick 0"
      - while [ ! -e "$GATE" ]; do sleep 0.05; done
      - for i in 1 2 3 4; do echo "tick $i"; sleep 0.25; done
YML
cat > relay.py <<'PY'
# Relays 127.0.0.1:0 -> the daemon; cuts the first connection after the
# daemon's answer has carried MARK.  Logs each request's head to relay.log.
import asyncio, sys
host, port = sys.argv[1].rsplit(":", 1)
MARK = b"tick 2"
conns = 0

async def pipe(r, w, watch):
    seen = b""
    try:
        while True:
            b = await r.read(65536)
            if not b:
                break
            w.write(b)
            await w.drain()
            if watch:
                seen = (seen + b)[-4096:]
                if MARK in seen:
                    return True
    except ConnectionError:
        pass
    return False

async def handle(cr, cw):
    global conns
    conns += 1
    first = conns == 1
    sr, sw = await asyncio.open_connection(host, int(port))
    head = await cr.readuntil(b"\r\n\r\n")
    with open("relay.log", "ab") as f:
        f.write(head)
    sw.write(head)
    up = asyncio.ensure_future(pipe(cr, sw, False))
    await pipe(sr, cw, first)
    up.cancel()
    for w in (cw, sw):
        w.close()

async def main():
    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    with open("relay.port.tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    import os
    os.rename("relay.port.tmp", "relay.port")
    await srv.serve_forever()

asyncio.run(main())
PY
start_daemon
python3 relay.py "${PIPEWRIGHT_URL#http://}" 2>relay.err &
relay=$!
trap 'kill "$relay" 2>/dev/null; stop_daemon; rm -rf "$T"' EXIT
wait_for_file relay.port
id=$(trigger_run --env "GATE=$T/gate")

"$PW_BIN" logs -f "$id" slow --server "http://127.0.0.1:$(cat relay.port)" \
	>follow.out 2>follow.err &
fpid=$!
for i in $(seq 1 600); do
	grep -qxF "tick 0" follow.out 2>/dev/null && break
	sleep 0.05
done
grep -qxF "tick 0" follow.out || fail "no 'tick 0' in 30 s: $(cat follow.err)"
touch gate
frc=0
wait "$fpid" || frc=$?
[ "$frc" -eq 0 ] || fail "logs -f: exit $frc: $(cat follow.err)"
for i in 0 1 2 3 4; do
	[ "$(grep -cxF "tick $i" follow.out)" -eq 1 ] ||
		fail "'tick $i' not printed exactly once: $(cat follow.out)"
done
[ "$(grep -c '^GET /api/v1/runs/.*/log?follow=1 ' relay.log)" -eq 2 ] ||
	fail "expected a second request after the cut: $(cat relay.log)"
grep -qiE '^Last-Event-ID: [0-9]+' relay.log || fail "no Last-Event-ID: $(cat relay.log)"
