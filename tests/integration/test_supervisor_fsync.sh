# An untied supervisor (the daemon's jobs) makes its end durable before it
# says it: the log, status.tmp and the directory after the rename, three
# fsyncs, for a daemon that comes back after a power loss and takes the
# attempt up from the files.  A tied one (`pipewright run`) has nobody to
# read them after a reboot: no fsync at all.  The same for a pre-started
# supervisor (`--pooled`) given either spec: what it was before its spec
# must not change what it is after.  Counted with strace; skipped (77)
# without it.  The daemon is told the end (END) before those fsyncs,
# so that it commits the end while the supervisor syncs; the client's end
# of stream still comes after them, with "status" in place.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { echo "no strace: skipped"; exit 77; }
# LeakSanitizer cannot work under ptrace (an ASan build): leaks are the
# other tests' to find, fsyncs this one's.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
sup=$(dirname "$PW_BIN")/pipewright-supervisor

# supervise DIR [--tied]: the job `echo hi` under a supervisor listening
# on a socket of its own (fd 3), nobody attached; the fsyncs it made.
supervise() {
	local dir=$1
	shift
	mkdir "$dir"
	python3 - "$dir" "$sup" "$@" <<'PY'
import os, socket, subprocess, sys
d, sup = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.path.join(d, "sock"))
s.listen(8)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
cmd = ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync",
       "-o", os.path.join(d, "..", os.path.basename(d) + ".trace"),
       sup, "--dir", d, "--listen-fd", "3"] + sys.argv[3:] + \
      ["--", "/bin/sh", "-c", "echo hi"]
sys.exit(subprocess.run(cmd, pass_fds=(3,), timeout=60).returncode)
PY
}

# supervise_pooled DIR [--tied]: the same through a pooled supervisor: it
# is started with `--pooled 3` and then sent the arguments and the
# listening socket (tied, and a tie whose other end we hold) as its spec.
supervise_pooled() {
	local dir=$1
	shift
	mkdir "$dir"
	python3 - "$dir" "$sup" "$@" <<'PY'
import os, socket, subprocess, sys
d, sup, extra = sys.argv[1], sys.argv[2], sys.argv[3:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.path.join(d, "sock"))
s.listen(8)
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
os.dup2(theirs.fileno(), 3)
os.set_inheritable(3, True)
cmd = ["strace", "-f", "-qq", "-e", "trace=fsync,fdatasync",
       "-o", os.path.join(d, "..", os.path.basename(d) + ".trace"),
       sup, "--pooled", "3"]
p = subprocess.Popen(cmd, pass_fds=(3,))
theirs.close()
os.close(3)
args = [sup, "--dir", d, "--listen-fd", "3"] + extra
fds = [s.fileno()]
if "--tied" in extra:
    rd, wr = os.pipe()
    args += ["--tie-fd", "4"]
    fds.append(rd)
args += ["--", "/bin/sh", "-c", "echo hi"]
socket.send_fds(ours, [b"".join(a.encode() + b"\0" for a in args)], fds)
sys.exit(p.wait(timeout=60))
PY
}

fsyncs() { grep -cE 'f(data)?sync\(' "$1.trace" || true; }

rc=0
supervise "$T/untied" >out 2>&1 || rc=$?
expect_rc 0
grep -qx 'result=success' untied/status || fail "untied: no success status"
grep -qx 'hi' untied/log || fail "untied: no log"
[ "$(fsyncs untied)" -eq 3 ] || fail "untied: $(fsyncs untied) fsyncs, expected 3"

# The same with a client attached (protocol 2, as the daemon): END is sent
# before the first fsync, the status renamed after its own fsync and
# before the directory's, and the stream ends only once "status" is there.
mkdir attached
python3 - "$T/attached" "$sup" >out 2>&1 <<'PY' || fail "attached: the client failed"
import os, socket, subprocess, sys
d, sup = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.path.join(d, "sock"))
s.listen(8)
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(os.path.join(d, "sock"))
c.sendall(b"ATTACH 2 0\n")
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
trace = os.path.join(d, "..", "attached.trace")
p = subprocess.Popen(["strace", "-qq", "-e",
                      "trace=fsync,fdatasync,sendto,rename,renameat,renameat2",
                      "-s", "64", "-o", trace, sup, "--dir", d,
                      "--listen-fd", "3", "--", "/bin/sh", "-c", "echo hi"],
                     pass_fds=(3,))
got = b""
while True:
    b = c.recv(65536)
    if not b:
        break
    got += b
assert b"END " in got and b"result=success" in got, got
assert os.path.exists(os.path.join(d, "status")), "end of stream before status"
sys.exit(p.wait(timeout=60))
PY
# The supervisor's own calls (strace without -f), in order.
order=$(grep -oE '^(sendto\([0-9]+, "END|fsync|renameat2?|rename)' attached.trace |
	sed 's/^sendto.*/END/' | tr '\n' ' ')
[ "$order" = "END fsync fsync renameat fsync " ] ||
	[ "$order" = "END fsync fsync renameat2 fsync " ] ||
	[ "$order" = "END fsync fsync rename fsync " ] ||
	fail "attached: calls in the order \"$order\", expected END, 3 fsyncs around the rename"
grep -qx 'result=success' attached/status || fail "attached: no success status"
[ ! -e attached/status.tmp ] || fail "attached: status.tmp left"

rc=0
supervise "$T/tied" --tied >out 2>&1 || rc=$?
expect_rc 0
grep -qx 'result=success' tied/status || fail "tied: no success status"
grep -qx 'hi' tied/log || fail "tied: no log"
[ "$(fsyncs tied)" -eq 0 ] || fail "tied: $(fsyncs tied) fsyncs, expected 0"
rc=0
supervise_pooled "$T/pooled-untied" >out 2>&1 || rc=$?
expect_rc 0
grep -qx 'result=success' pooled-untied/status ||
	fail "pooled, untied: no success status"
[ "$(fsyncs pooled-untied)" -eq 3 ] ||
	fail "pooled, untied: $(fsyncs pooled-untied) fsyncs, expected 3"

rc=0
supervise_pooled "$T/pooled-tied" --tied >out 2>&1 || rc=$?
expect_rc 0
grep -qx 'result=success' pooled-tied/status ||
	fail "pooled, tied: no success status"
[ "$(fsyncs pooled-tied)" -eq 0 ] ||
	fail "pooled, tied: $(fsyncs pooled-tied) fsyncs, expected 0"
echo ok
