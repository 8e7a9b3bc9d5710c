# An untied supervisor (the daemon's jobs) makes its end durable before it
# says it: the log, status.tmp and the directory after the rename, three
# fsyncs, for a daemon that comes back after a power loss and takes the
# attempt up from the files.  A tied one (`pipewright run`) has nobody to
# read them after a reboot: no fsync at all.  Counted with strace; skipped
# (77) without it.
. "$(dirname "$0")/lib.sh"

command -v strace >/dev/null || { echo "no strace: skipped"; exit 77; }
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

fsyncs() { grep -cE 'f(data)?sync\(' "$1.trace" || true; }

rc=0
supervise "$T/untied" >out 2>&1 || rc=$?
expect_rc 0
grep -qx 'result=success' untied/status || fail "untied: no success status"
grep -qx 'hi' untied/log || fail "untied: no log"
[ "$(fsyncs untied)" -eq 3 ] || fail "untied: $(fsyncs untied) fsyncs, expected 3"

rc=0
supervise "$T/tied" --tied >out 2>&1 || rc=$?
expect_rc 0
grep -qx 'result=success' tied/status || fail "tied: no success status"
grep -qx 'hi' tied/log || fail "tied: no log"
[ "$(fsyncs tied)" -eq 0 ] || fail "tied: $(fsyncs tied) fsyncs, expected 0"
echo ok
