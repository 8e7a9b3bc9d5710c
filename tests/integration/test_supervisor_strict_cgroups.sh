# A strict job's processes are in the job's own cgroups, in every
# hierarchy that has them (memory, pids, cpu), looked at from the host
# while the job runs: pipewright-<supervisor pid> below the supervisor's
# own cgroup.  On v1 the job's init moves itself there (cgroup.c,
# sv_cgroup_join), not the supervisor; a job left in the supervisor's
# cgroup would still pass the escape tests' "/" of /proc/self/cgroup,
# not this.  The job blocks reading a FIFO the test opens once it has
# looked, so the look happens while the job runs.  Root only (77 else).
#
# Then a pooled supervisor spawned --ahead (strict jobs expected) given a
# job without the sandbox: its cgroup directories were made while it
# waited (they are there while the job runs, which makes none), hold
# nothing of the job, and are gone once it has exited.
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

mkdir -p dir2
mkfifo ws/go2
rc=0
python3 - "$sup" "$T" >out 2>&1 <<'PY' || rc=$?
import array, os, socket, subprocess, sys, threading
sup, t = sys.argv[1], sys.argv[2]
d, ws = os.path.join(t, "dir2"), os.path.join(t, "ws")
# Neither end may sit at 3, where the supervisor's goes.
hold = os.open("/dev/null", os.O_RDONLY)
ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
os.dup2(theirs.fileno(), 3)
os.set_inheritable(3, True)
p = subprocess.Popen([sup, "--pooled", "3", "--ahead", " " * 256],
                     pass_fds=(3,))
os.close(3)
if hold != 3:
    os.close(hold)
theirs.close()
ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
ls.bind(os.path.join(d, "sock"))
ls.listen(8)
argv = [sup, "--dir", d, "--listen-fd", "3", "--cwd", ws, "--",
        "/bin/cat", "go2"]
ours.sendmsg([b"".join(a.encode() + b"\0" for a in argv)],
             [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
               array.array("i", [ls.fileno()]))])

def unblock():
    p.wait()
    try:
        os.close(os.open(os.path.join(ws, "go2"), os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        pass
threading.Thread(target=unblock, daemon=True).start()
go = open(os.path.join(ws, "go2"), "w")

dirs, v2 = [], None
with open("/proc/%d/cgroup" % p.pid) as f:
    for line in f:
        _, ctls, path = line.rstrip("\n").split(":", 2)
        if ctls == "":
            v2 = path
        for c in ctls.split(","):
            if c in ("memory", "pids", "cpu"):
                dirs.append("/sys/fs/cgroup/%s%s/pipewright-%d"
                            % (c, path.rstrip("/"), p.pid))
if not dirs and v2 is not None:
    dirs.append("/sys/fs/cgroup%s/pipewright-%d" % (v2.rstrip("/"), p.pid))
bad = []
for x in dirs:
    if not os.path.isdir(x):
        bad.append("%s not made ahead" % x)
    else:
        with open(os.path.join(x, "cgroup.procs")) as f:
            if f.read().strip():
                bad.append("%s holds processes of a job without the "
                           "sandbox" % x)
go.close()
rc = p.wait(timeout=60)
for x in dirs:
    if os.path.exists(x):
        bad.append("%s left behind" % x)
if bad:
    sys.exit("; ".join(bad))
sys.exit(rc)
PY
expect_rc 0
grep -qx 'result=success' dir2/status || fail "pooled: no success status: $(cat dir2/status out)"
echo ok
