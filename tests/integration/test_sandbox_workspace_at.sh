# pipewright-supervisor --workspace-at: a strict job sees its workspace at
# the path given (its cwd; `pwd -P` agrees, no symlink involved) and
# writes into the host's directory through it; a mount point that is not
# absolute, has . or .. components, or lies in the system directories,
# /dev, /proc or is / is refused before the job runs, saying so in the
# status file.
. "$(dirname "$0")/sandbox_lib.sh"

sup=$(dirname "$PW_BIN")/pipewright-supervisor
mkdir ws
chown "$PW_JOB_UID:$PW_JOB_UID" ws

# supervise AT: runs `pwd -P > where` at AT; the status file's lines in ./st.
supervise() {
	rm -rf a
	mkdir -p a/home
	python3 - "$sup" "$T" "$1" "$PW_JOB_UID" <<'PY'
import os, socket, subprocess, sys
sup, t, at, uid = sys.argv[1:]
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.join(t, "a", "sock"))
s.listen()
os.dup2(s.fileno(), 3)   # the supervisor's --listen-fd
subprocess.run([sup, "--dir", os.path.join(t, "a"), "--listen-fd", "3", "--sandbox", "strict",
                "--workspace", os.path.join(t, "ws"), "--workspace-at", at, "--uid", uid,
                "--cwd", at, "--", "/bin/sh", "-c", "pwd -P > where; ls -A /builds"],
               pass_fds=(3,), timeout=60, check=False)
PY
	cp a/status st
}

supervise /builds/app
grep -qx "result=success" st || fail "the job at /builds/app: $(cat st)"
[ "$(cat ws/where)" = /builds/app ] || fail "pwd -P said $(cat ws/where)"
grep -qx app a/log || fail "/builds holds more than app: $(cat a/log)"

for at in /usr/x /etc /proc/1 /dev/x / relative /builds/../etc /builds/./x; do
	supervise "$at"
	grep -qx "result=failed" st || fail "--workspace-at $at was not refused: $(cat st)"
	grep -qF "reason=sandbox: --workspace-at $at: expected an absolute path" st ||
		fail "--workspace-at $at: $(cat st)"
done
echo ok
