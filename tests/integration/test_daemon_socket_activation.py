"""Socket activation: the daemon takes its listener from systemd's protocol
(LISTEN_FDS=1, LISTEN_PID = its own pid, descriptor 3) and the port stays
held across a restart, so nothing else (a job, say) can bind it while the
daemon is down, and a client that connects in between is answered by the
next daemon.  The test plays systemd: it binds the socket, keeps it, and
starts each daemon through a wrapper that exec()s, so the pid in
LISTEN_PID is the daemon's.  LISTEN_PID naming another process is ignored
(the variables leaked from a parent), as sd_listen_fds(3) says."""
import errno
import os
import re
import socket
import subprocess
import sys
import time

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = "jobs:\n  a:\n    script: \"true\"\n"

# fd 3 <- the socket; LISTEN_PID is set after the fork, so it is ours.
WRAPPER = r"""
import os, sys
os.dup2(int(sys.argv[1]), 3)
os.close(int(sys.argv[1]))
os.environ["LISTEN_FDS"] = "1"
os.environ["LISTEN_PID"] = sys.argv[2] if sys.argv[2] != "self" else str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
"""


def start(d, sock, pid="self"):
    """Starts d through the wrapper; returns the port it says it listens on."""
    d.errf = open(d.err_path, "ab")
    d.err_start = d.errf.tell()
    d.proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, str(sock.fileno()), pid,
         pw.PW_BIN, "serve", "--config", d.config_path],
        stdin=subprocess.DEVNULL, stdout=d.errf, stderr=d.errf, cwd=d.dir,
        pass_fds=(sock.fileno(),))
    d.t.procs.append(d.proc)
    pat = re.compile(r"listening on http://(\S+):(\d+)")
    pw.wait_until(lambda: pat.search(d.log(since_start=True)) or
                  d.proc.poll() is not None, "the daemon listens")
    m = pat.search(d.log(since_start=True))
    expect(m, "the daemon did not listen:\n%s" % d.log(since_start=True))
    d.host, d.port = m.group(1), int(m.group(2))
    d.url = "http://%s:%d" % (d.host, d.port)
    return d.port


def port_free(port):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError as e:
        eq(e.errno, errno.EADDRINUSE, "bind's error")
        return False
    finally:
        s.close()


def main(t):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    d = t.daemon(projects={"demo": PIPELINE}, start=False)

    def first_start():
        eq(start(d, sock), port, "the port the daemon listens on")
        eq(d.get("/healthz").status, 200, "GET /healthz")

    t.check("the daemon adopts the activated socket", first_start)

    pending = {}

    def down():
        d.stop()
        expect(not port_free(port),
               "the port is free while the daemon is down: a job could take it")
        # A client arriving now waits in the socket's queue.
        c = socket.create_connection(("127.0.0.1", port), 5)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        pending["c"] = c

    t.check("the port stays held while the daemon is down", down)

    def restart():
        eq(start(d, sock), port, "the port after the restart")
        c = pending["c"]
        c.settimeout(pw.DEADLINE)
        data = b""
        while True:
            b = c.recv(4096)
            if not b:
                break
            data += b
        c.close()
        expect(data.startswith(b"HTTP/1.1 200"),
               "the client queued during the restart got %r" % data[:80])
        eq(d.get("/healthz").status, 200, "GET /healthz after the restart")
        d.stop()

    t.check("the next daemon answers on the same socket, queued client included",
            restart)

    def foreign_pid():
        other = start(d, sock, pid="1")
        expect(other != port, "LISTEN_PID of another process was obeyed")
        d.stop()

    t.check("LISTEN_PID naming another process is ignored", foreign_pid)
    sock.close()


pw.main(main)
