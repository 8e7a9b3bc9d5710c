# A strict job's processes are in the job's own cgroups, in every
# hierarchy that has them (memory, pids, cpu), looked at from the host
# while the job runs: pipewright-<supervisor pid> below the supervisor's
# own cgroup.  On v1 the job's init moves itself there (cgroup.c,
# sv_cgroup_join), not the supervisor; a job left in the supervisor's
# cgroup would still pass the escape tests' "/" of /proc/self/cgroup,
# not this.  The job blocks reading a FIFO the test opens once it has
# looked, so the look happens while the job runs.  Root only (77 else).
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || { echo "not root: skipped"; exit 77; }
sup=$(dirname "$PW_BIN")/pipewright-supervisor

mkdir -p ws dir/home
chown 1000000000:1000000000 ws
mkfifo ws/go
chmod 666 ws/go

rc=0
python3 - "$sup" "$T" >out 2>&1 <<'PY' || rc=$?
import os, socket, subprocess, sys, threading
sup, t = sys.argv[1], sys.argv[2]
d, ws = os.path.join(t, "dir"), os.path.join(t, "ws")
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(os.path.join(d, "sock"))
s.listen(8)
os.dup2(s.fileno(), 3)
os.set_inheritable(3, True)
p = subprocess.Popen([sup, "--dir", d, "--listen-fd", "3", "--sandbox",
                      "strict", "--uid", "1000000000", "--workspace", ws,
                      "--cwd", ws, "--memory", str(256 << 20), "--pids",
                      "64", "--", "/bin/cat", "go"], pass_fds=(3,))

# Opening the FIFO for writing waits until the job has it open for reading:
# from then until we close it, cat runs in the sandbox.  A supervisor that
# ends without starting the job opens it itself, so we never hang.
def unblock():
    p.wait()
    try:
        os.close(os.open(os.path.join(ws, "go"), os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        pass
threading.Thread(target=unblock, daemon=True).start()
go = open(os.path.join(ws, "go"), "w")

def cgroups(pid):
    own = {}
    with open("/proc/%d/cgroup" % pid) as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            for c in ctls.split(","):
                own[c] = path
    return own

cats = []
for e in os.listdir("/proc"):
    if not e.isdigit():
        continue
    try:
        with open("/proc/%s/comm" % e) as f:
            comm = f.read().strip()
        with open("/proc/%s/cmdline" % e, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        continue
    if comm == "cat" and argv[:2] == [b"/bin/cat", b"go"]:
        cats.append(int(e))
if len(cats) != 1:
    sys.exit("expected one running job, found %r" % cats)
sv, job = cgroups(p.pid), cgroups(cats[0])
bad = []
for c in ("memory", "pids", "cpu"):
    if c not in sv:
        continue  # no such v1 hierarchy; v2 paths are the same for all
    want = sv[c].rstrip("/") + "/pipewright-%d" % p.pid
    if job.get(c) != want:
        bad.append("%s: %s, expected %s" % (c, job.get(c), want))
v2 = sv.get("")
if v2 is not None and "memory" not in sv and \
   job.get("") != v2.rstrip("/") + "/pipewright-%d" % p.pid:
    bad.append("v2: %s under %s" % (job.get(""), v2))
go.close()
rc = p.wait(timeout=60)
if bad:
    sys.exit("the job is not in its cgroups: " + "; ".join(bad))
sys.exit(rc)
PY
expect_rc 0
grep -qx 'result=success' dir/status || fail "no success status: $(cat dir/status out)"
echo ok
