#!/usr/bin/env python3
"""The Debian package, end to end, in a fresh Debian root.

Builds the package (scripts/dev package), checks it with lintian, and
installs it with dpkg -i into a root made by debootstrap from the mirror
apt uses here, for this machine's suite.  The root is entered through a
mount namespace and pivot_root (not a chroot: the strict sandbox's
`unshare -U` fails in one), with /proc, /sys (the cgroup hierarchies) and
/dev bound in, and a network namespace of its own, so that its daemon's
127.0.0.1:8080 is its own.  There is no systemd inside: the daemon is
started from the installed unit's ExecStart line, and the maintainer
scripts take their paths without systemd (the pid file and `pipewright
upgrade`, SIGTERM on removal).

Then: /healthz; a trivial pipeline triggered through the API; `man -l` on
both pages; the completion script, sourced, completing commands and the
daemon's project names; an upgrade of the package in place while a job
runs (the job survives under the new daemon and succeeds); a removal while
jobs run (they survive, one runs to its end); a purge (the job still
running is canceled, /var/lib/pipewright is gone).

The base root is cached as a tarball in $PW_PACKAGE_CACHE
(/var/cache/pipewright-test by default), keyed by suite, architecture,
mirror, debootstrap's version and the packages included (the package's
own dependencies among them), checked against its SHA-256 before use, and
made again after 7 days (so security updates come in).

Run by `scripts/dev package-test` (ctest -L package), once in CI; skipped
(exit 77) saying what is missing where it cannot run.
"""
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "integration"))
import pwdaemon as pw  # noqa: E402

SRC = os.environ.get("PW_SOURCE_DIR") or os.path.abspath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
CACHE = os.environ.get("PW_PACKAGE_CACHE", "/var/cache/pipewright-test")
CACHE_DAYS = 7
CONF = "/etc/pipewright/pipewright.yml"
STATE = "/var/lib/pipewright"
URL = "http://127.0.0.1:8080"
# Beyond the package's dependencies: man -l and the test's own probes.
EXTRA = ["man-db", "procps"]
DEADLINE = 60

T0 = time.monotonic()
STEPS = []


def step(name):
    now = time.monotonic()
    if STEPS:
        STEPS[-1][1] = now - STEPS[-1][1]
    STEPS.append([name, now])
    print("== %s (%.1f s so far)" % (name, now - T0), flush=True)


def run(cmd, check=True, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if check and r.returncode != 0:
        pw.fail("%s: exit %d\n%s%s" % (" ".join(cmd), r.returncode, r.stdout, r.stderr))
    return r


def wait_for(what, cond, deadline=DEADLINE):
    """Polls cond() until it is true (its value) or the deadline passes."""
    end = time.monotonic() + deadline
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > end:
            pw.fail("waited %d s for %s" % (deadline, what))
        time.sleep(0.05)


def missing():
    if os.geteuid() != 0:
        return "needs root (debootstrap, dpkg -i into a root, mount namespaces)"
    for tool in ("debootstrap", "lintian", "dpkg-buildpackage", "nsenter", "unshare",
                 "curl", "zstd", "ip"):
        if shutil.which(tool) is None:
            return "%s is not installed (scripts/dev package-test installs it)" % tool
    why = pw.strict_sandbox_missing()
    if why:
        return "the strict sandbox cannot run here: " + why
    return None


def suite_and_mirror():
    """This machine's suite and the first mirror apt uses for it."""
    osr = dict(line.rstrip("\n").split("=", 1) for line in open("/etc/os-release")
               if "=" in line)
    suite = osr.get("VERSION_CODENAME", "").strip('"')
    if not suite:
        pw.skip("/etc/os-release names no VERSION_CODENAME")
    files = ["/etc/apt/sources.list"]
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        files += [os.path.join(d, f) for f in sorted(os.listdir(d))]
    for path in files:
        try:
            text = open(path).read()
        except OSError:
            continue
        if path.endswith(".sources"):  # deb822 stanzas
            for stanza in re.split(r"\n\s*\n", text):
                fields = {}
                for line in stanza.splitlines():
                    m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
                    if m:
                        fields[m.group(1).lower()] = m.group(2).split()
                if ("deb" in fields.get("types", []) and suite in fields.get("suites", [])
                        and fields.get("uris")):
                    return suite, fields["uris"][0]
        else:
            for line in text.splitlines():
                w = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
                if len(w) >= 3 and w[0] == "deb" and w[2] == suite:
                    return suite, w[1]
    pw.skip("no mirror for %s in apt's sources" % suite)


def depends(deb):
    """The package's dependencies' names (first alternatives)."""
    dep = run(["dpkg-deb", "-f", deb, "Depends"]).stdout
    return sorted({re.split(r"[ (:]", d.split("|")[0].strip())[0]
                   for d in dep.split(",") if d.strip()})


def base_root(deb, root):
    """Unpacks the cached base root into root, making it first if needed."""
    suite, mirror = suite_and_mirror()
    arch = run(["dpkg", "--print-architecture"]).stdout.strip()
    dbs = run(["dpkg-query", "-W", "-f=${Version}", "debootstrap"]).stdout.strip()
    include = sorted(set(depends(deb) + EXTRA))
    key = hashlib.sha256(json.dumps(
        [suite, arch, mirror, "minbase", dbs, include]).encode()).hexdigest()[:16]
    os.makedirs(CACHE, mode=0o700, exist_ok=True)
    tarball = os.path.join(CACHE, "base-%s-%s-%s.tar.zst" % (suite, arch, key))
    print("base root: %s %s from %s, including %s -> %s" %
          (suite, arch, mirror, ",".join(include), tarball))

    def usable():
        try:
            st = os.stat(tarball)
            want = open(tarball + ".sha256").read().split()[0]
        except (OSError, IndexError):
            return False
        if time.time() - st.st_mtime > CACHE_DAYS * 86400:
            print("cached base root older than %d days: made again" % CACHE_DAYS)
            return False
        h = hashlib.sha256()
        with open(tarball, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        if h.hexdigest() != want:
            print("cached base root does not match its SHA-256: made again")
            return False
        return True

    # One test at a time makes or checks the cache.
    lock = open(os.path.join(CACHE, "lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if not usable():
        fresh = tempfile.mkdtemp(prefix="base-", dir=CACHE)
        try:
            r = run(["debootstrap", "--variant=minbase", "--include=" + ",".join(include),
                     suite, fresh, mirror], check=False)
            if r.returncode != 0:
                pw.fail("debootstrap failed:\n" + r.stdout[-3000:] + r.stderr[-3000:])
            run(["rm", "-rf", os.path.join(fresh, "var/cache/apt/archives")])
            os.chmod(fresh, 0o755)  # mkdtemp's 0700 would be the root's mode
            tmp = tarball + ".tmp"
            run(["tar", "--numeric-owner", "-C", fresh, "-I", "zstd -T0 -3", "-cf", tmp, "."])
            h = hashlib.sha256()
            with open(tmp, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            with open(tarball + ".sha256.tmp", "w") as f:
                f.write(h.hexdigest() + "\n")
            os.rename(tmp, tarball)
            os.rename(tarball + ".sha256.tmp", tarball + ".sha256")
            # Bases made for other keys (older dependencies, suites) go.
            for f in os.listdir(CACHE):
                if f.startswith("base-") and not f.startswith(os.path.basename(tarball)):
                    run(["rm", "-rf", os.path.join(CACHE, f)], check=False)
        finally:
            run(["rm", "-rf", fresh], check=False)
    else:
        print("cached base root: verified")
    run(["tar", "--numeric-owner", "-xpf", tarball, "-I", "zstd", "-C", root])
    lock.close()
    os.chmod(root, 0o755)


# The root's holder: a process in a mount and a network namespace of their
# own whose root is the Debian root; everything else enters it (nsenter).
HOLDER = r'''
set -e
root=$1
mount --make-rprivate /
mount --bind "$root" "$root"
mount --rbind /proc "$root/proc"
mount --rbind /sys "$root/sys"
mount --rbind /dev "$root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$root/run"
mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
ip link set lo up
cd "$root"
mkdir -p .oldroot
pivot_root . .oldroot
umount -l /.oldroot
rmdir /.oldroot
echo ready
exec sleep infinity
'''


class Root:
    def __init__(self, path):
        self.path = path
        self.holder = subprocess.Popen(
            ["unshare", "--mount", "--net", "--propagation", "private",
             "sh", "-c", HOLDER, "holder", path],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline()
        if line.strip() != "ready":
            pw.fail("could not enter the root: %s %s" % (line, self.holder.stderr.read()))
        self.mntns = os.readlink("/proc/%d/ns/mnt" % self.holder.pid)

    def cmd(self, argv, net_only=False):
        ns = ["-n"] if net_only else ["-m", "-n", "-r", "-w"]
        env = [] if net_only else ["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
                                   "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"]
        return ["nsenter", "-t", str(self.holder.pid)] + ns + ["--"] + env + argv

    def sh(self, script, check=True):
        return run(self.cmd(["sh", "-c", script]), check=check)

    def file(self, p):
        return os.path.join(self.path, p.lstrip("/"))

    def pids(self):
        """Processes in the root's mount namespace."""
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    if os.readlink("/proc/%s/ns/mnt" % d) == self.mntns:
                        out.append(int(d))
                except OSError:
                    pass
        return out

    def close(self):
        for _ in range(50):
            pids = self.pids()
            if not pids:
                break
            for p in pids:
                try:
                    os.kill(p, 9)
                except OSError:
                    pass
            time.sleep(0.1)
        self.holder.wait()


class Api:
    def __init__(self, root, token):
        self.root, self.token = root, token

    def req(self, method, path, body=None):
        argv = ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method,
                "-H", "Authorization: Bearer " + self.token, URL + path]
        if body is not None:
            argv += ["-H", "Content-Type: application/json", "--data", json.dumps(body)]
        r = run(self.root.cmd(argv, net_only=True), check=False)
        if r.returncode != 0:
            return None, r.stderr
        text, _, code = r.stdout.rpartition("\n")
        return int(code), text

    def json(self, method, path, body=None, want=200):
        code, text = self.req(method, path, body)
        pw.eq(code, want, "%s %s (%s)" % (method, path, text))
        return json.loads(text)

    def run_status(self, rid):
        return self.json("GET", "/api/v1/runs/%d" % rid)

    def job(self, rid, name):
        for j in self.run_status(rid)["jobs"]:
            if j["name"] == name:
                return j
        pw.fail("run %d has no job %s" % (rid, name))

    def log(self, rid, job):
        code, text = self.req("GET", "/api/v1/runs/%d/jobs/%s/log" % (rid, job))
        return text if code == 200 else ""

    def wait_finished(self, rid):
        return wait_for("run %d to finish" % rid,
                        lambda: (lambda r: r if r["status"] in pw.FINISHED else None)(
                            self.run_status(rid)))


SLOW_PIPELINE = """\
# Two jobs that run until the test releases each (a file under /opt,
# which jobs see read-only).
jobs:
  a:
    script:
      - echo "a started"
      - while [ ! -e /opt/pw-test/release-a ]; do sleep 0.05; done
      - echo "a released"
  b:
    script:
      - echo "b started"
      - while [ ! -e /opt/pw-test/release-b ]; do sleep 0.05; done
      - echo "b released"
"""

HELLO_PIPELINE = """\
jobs:
  hello:
    script: echo "hello from the package"
"""


def supervisors(root):
    """Supervisor pids in the root, by the attempt directory they serve."""
    out = {}
    for p in root.pids():
        try:
            argv = open("/proc/%d/cmdline" % p, "rb").read().split(b"\0")
            state = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and argv[0].endswith(b"pipewright-supervisor") and b"--dir" in argv:
            out[argv[argv.index(b"--dir") + 1].decode()] = p
    return out


def daemon_pid(root):
    try:
        pid = int(open(root.file(STATE + "/pipewright.pid")).read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0
    return pid if os.path.exists("/proc/%d" % pid) else 0


def alive(pid):
    try:
        return open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    why = missing()
    if why:
        pw.skip(why)
    work = tempfile.mkdtemp(prefix="pw-package-")
    root = None
    try:
        step("build the package (scripts/dev package)")
        r = run([os.path.join(SRC, "scripts", "dev"), "package"], check=False, cwd=SRC)
        if r.returncode != 0:
            pw.fail("scripts/dev package failed:\n" + r.stdout[-4000:] + r.stderr[-4000:])
        debs = [f for f in os.listdir(os.path.join(SRC, "build-deb")) if f.endswith(".deb")]
        pw.eq(len(debs), 1, "the .deb files in build-deb/ (%s)" % debs)
        deb = os.path.join(SRC, "build-deb", debs[0])
        version = run(["dpkg-deb", "-f", deb, "Version"]).stdout.strip()

        step("lintian")
        r = run(["lintian", "--fail-on", "error", deb], check=False)
        print(r.stdout + r.stderr)
        pw.eq(r.returncode, 0, "lintian's exit status (errors above)")
        pw.expect(not re.search(r"^E: ", r.stdout, re.M), "lintian reports errors")

        # The upgrade's package: the same files under a newer version.
        step("the upgrade's package")
        unpacked = os.path.join(work, "v2")
        run(["dpkg-deb", "-R", deb, unpacked])
        ctl = os.path.join(unpacked, "DEBIAN", "control")
        text = open(ctl).read()
        open(ctl, "w").write(re.sub(r"^Version: .*$", "Version: %s+upgrade1" % version,
                                    text, flags=re.M))
        deb2 = os.path.join(work, "pipewright_v2.deb")
        run(["dpkg-deb", "--root-owner-group", "-b", unpacked, deb2])

        step("the Debian root (debootstrap, cached)")
        rootdir = os.path.join(work, "root")
        os.mkdir(rootdir)
        base_root(deb, rootdir)
        os.makedirs(os.path.join(rootdir, "opt", "pw-test"))
        shutil.copy(deb, os.path.join(rootdir, "opt", "pw-test", "pipewright.deb"))
        shutil.copy(deb2, os.path.join(rootdir, "opt", "pw-test", "pipewright_v2.deb"))
        root = Root(rootdir)

        step("dpkg -i")
        r = root.sh("dpkg -i /opt/pw-test/pipewright.deb 2>&1")
        print(r.stdout)
        pw.expect(root.sh("getent passwd pipewright").stdout.startswith("pipewright:"),
                  "the pipewright system user exists")
        owner = root.sh("stat -c '%U:%G %a' " + STATE).stdout.strip()
        pw.eq(owner, "pipewright:pipewright 750", "the owner and mode of " + STATE)
        pw.expect(os.path.islink(root.file(
            "/etc/systemd/system/sockets.target.wants/pipewright.socket")),
            "pipewright.socket is enabled")
        pw.expect(os.path.islink(root.file(
            "/etc/systemd/system/multi-user.target.wants/pipewright.service")),
            "pipewright.service is enabled")
        pw.eq(daemon_pid(root), 0, "a daemon started by the installation")
        conffiles = root.sh("dpkg-query -W -f='${Conffiles}' pipewright").stdout
        pw.expect(CONF in conffiles, "%s is a conffile (%s)" % (CONF, conffiles))
        pw.expect("valid" in root.sh("pipewright serve --check --config " + CONF).stdout,
                  "the installed configuration is valid")

        # Two projects: the admin edits the conffile, as one would.
        os.makedirs(root.file("/etc/pipewright/pipelines"))
        open(root.file("/etc/pipewright/pipelines/hello.yml"), "w").write(HELLO_PIPELINE)
        open(root.file("/etc/pipewright/pipelines/slow.yml"), "w").write(SLOW_PIPELINE)
        conf = open(root.file(CONF)).read()
        pw.expect("projects: []\n" in conf, "the installed configuration has no projects")
        conf = conf.replace("projects: []\n", "projects:\n"
                            "  - {name: hello, pipeline: pipelines/hello.yml}\n"
                            "  - {name: slow, pipeline: pipelines/slow.yml, max_jobs: 2}\n")
        open(root.file(CONF), "w").write(conf)
        token = root.sh("pipewright token create --config %s --name test --scope admin"
                        % CONF).stdout.strip()
        pw.expect(token.startswith("pw_"), "a token (%r)" % token)

        step("start the daemon from the unit's ExecStart")
        unit = open(root.file("/lib/systemd/system/pipewright.service")).read()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
        pw.eq(exec_start, "/usr/bin/pipewright serve --config " + CONF, "ExecStart")
        log_path = os.path.join(work, "daemon.log")
        logf = open(log_path, "ab")
        subprocess.Popen(root.cmd(["setsid"] + exec_start.split()), stdin=subprocess.DEVNULL,
                         stdout=logf, stderr=logf)
        wait_for("the daemon to listen",
                 lambda: "listening on http://127.0.0.1:8080" in open(log_path).read())
        api = Api(root, token)
        code, body = api.req("GET", "/healthz")
        pw.eq(code, 200, "GET /healthz (%s)" % body)

        step("a pipeline through the API")
        rid = api.json("POST", "/api/v1/projects/hello/runs", {}, want=201)["id"]
        done = api.wait_finished(rid)
        pw.eq(done["status"], "success", "run %d's status (the job's log: %r)"
              % (rid, api.log(rid, "hello")))
        pw.expect("hello from the package" in api.log(rid, "hello"),
                  "the hello job's log: %r" % api.log(rid, "hello"))

        step("man -l, completion")
        for page, want in (("/usr/share/man/man1/pipewright.1.gz", "EXIT STATUS"),
                           ("/usr/share/man/man5/pipewright.yml.5.gz", "data_dir")):
            r = root.sh("MANWIDTH=80 man -l -P cat %s 2>&1" % page)
            pw.expect(want in r.stdout and "upgrade" in r.stdout,
                      "man -l %s: %s" % (page, r.stdout[:2000]))
            pw.expect("warning" not in r.stdout, "man -l %s warns: %s" % (page, r.stdout))
        comp = ("set -u; . /usr/share/bash-completion/completions/pipewright; "
                "complete -p pipewright; "
                "COMP_WORDS=(pipewright upg); COMP_CWORD=1; _pipewright; "
                "echo \"commands: ${COMPREPLY[*]}\"; "
                "COMP_WORDS=(pipewright logs --fo); COMP_CWORD=2; _pipewright; "
                "echo \"options: ${COMPREPLY[*]}\"; "
                "COMP_WORDS=(pipewright runs ''); COMP_CWORD=2; _pipewright; "
                "echo \"projects: ${COMPREPLY[*]}\"; "
                "COMP_WORDS=(pipewright show ''); COMP_CWORD=2; _pipewright; "
                "echo \"runs: ${COMPREPLY[*]}\"")
        r = run(root.cmd(["env", "PIPEWRIGHT_TOKEN=" + token, "bash", "-c", comp]))
        print(r.stdout, r.stderr)
        pw.eq(r.stderr, "", "the completion's stderr")
        pw.expect("complete -F _pipewright pipewright" in r.stdout, "the completion is defined")
        pw.expect("commands: upgrade\n" in r.stdout, "commands completed")
        pw.expect("options: --follow\n" in r.stdout, "options completed")
        pw.expect("projects: hello slow\n" in r.stdout, "project names from the daemon")
        pw.expect("runs: %d\n" % rid in r.stdout, "run ids from the daemon")

        step("upgrade in place while a job runs")
        up = api.json("POST", "/api/v1/projects/slow/runs", {}, want=201)["id"]
        wait_for("run %d's jobs to start" % up,
                 lambda: "a started" in api.log(up, "a") and "b started" in api.log(up, "b"))
        old = daemon_pid(root)
        sups = supervisors(root)
        pw.eq(len(sups), 2, "supervisors running (%s)" % sups)
        r = root.sh("dpkg -i --force-confold /opt/pw-test/pipewright_v2.deb 2>&1")
        print(r.stdout)
        pw.expect(re.search(r"upgraded: pid %d \u2192 \d+" % old, r.stdout),
                  "the postinst upgraded the daemon")
        new = daemon_pid(root)
        pw.expect(new not in (0, old) and not alive(old),
                  "a new daemon serves (old %d, new %d)" % (old, new))
        pw.eq(root.sh("dpkg-query -W -f='${Version}' pipewright").stdout,
              version + "+upgrade1", "the installed version")
        pw.eq(supervisors(root), sups, "the supervisors, after the upgrade")
        code, _ = api.req("GET", "/healthz")
        pw.eq(code, 200, "GET /healthz after the upgrade")
        open(root.file("/opt/pw-test/release-a"), "w").close()
        open(root.file("/opt/pw-test/release-b"), "w").close()
        done = api.wait_finished(up)
        pw.eq(done["status"], "success", "run %d's status after the upgrade" % up)
        for j in ("a", "b"):
            pw.expect("released" in api.log(up, j), "job %s's log goes on past the upgrade" % j)
        os.unlink(root.file("/opt/pw-test/release-a"))
        os.unlink(root.file("/opt/pw-test/release-b"))

        step("remove while jobs run")
        rm = api.json("POST", "/api/v1/projects/slow/runs", {}, want=201)["id"]
        wait_for("run %d's jobs to start" % rm,
                 lambda: "a started" in api.log(rm, "a") and "b started" in api.log(rm, "b"))
        sups = supervisors(root)
        pw.eq(len(sups), 2, "supervisors running (%s)" % sups)
        r = root.sh("dpkg -r pipewright 2>&1")
        print(r.stdout)
        pw.expect(not alive(new), "the daemon stopped on removal")
        pw.expect(not os.path.exists(root.file("/usr/bin/pipewright")), "the binary is gone")
        pw.expect(os.path.exists(root.file(CONF)), "the conffile stays until purge")
        pw.eq(supervisors(root), sups, "the supervisors, after the removal")
        adir = [d for d in sups if "-j" in d and d.endswith("-a1")]
        pw.eq(len(adir), 2, "attempt directories (%s)" % adir)
        # Job a runs to its end with no daemon and no package.
        open(root.file("/opt/pw-test/release-a"), "w").close()
        a_dir = [d for d in sups if "a started" in open(root.file(d + "/log"),
                                                        errors="replace").read()]
        pw.eq(len(a_dir), 1, "job a's attempt directory")
        status = wait_for("job a to end after the removal",
                          lambda: os.path.exists(root.file(a_dir[0] + "/status")) and
                          open(root.file(a_dir[0] + "/status")).read())
        pw.expect("result=success" in status, "job a's status after the removal: %r" % status)
        pw.expect("a released" in open(root.file(a_dir[0] + "/log")).read(),
                  "job a's log after the removal")
        b_sup = [p for d, p in sups.items() if d != a_dir[0]]
        pw.expect(alive(b_sup[0]), "job b still runs, its daemon and package gone")

        step("purge")
        r = root.sh("dpkg --purge pipewright 2>&1")
        print(r.stdout)
        pw.expect("canceling the jobs" in r.stdout, "the purge says it cancels jobs")
        pw.expect(not alive(b_sup[0]), "job b's supervisor is gone after the purge")
        pw.eq(supervisors(root), {}, "supervisors after the purge")
        pw.expect(not os.path.exists(root.file(STATE)), STATE + " is gone after the purge")
        pw.expect(not os.path.exists(root.file(CONF)), CONF + " is gone after the purge")
        step("done")
    except pw.Failure:
        try:
            print("daemon log (last 4000 bytes):\n" + open(os.path.join(work, "daemon.log"),
                                                           errors="replace").read()[-4000:])
        except OSError:
            pass
        raise
    finally:
        if root is not None:
            root.close()
        shutil.rmtree(work, ignore_errors=True)
    print("\nsteps:")
    for name, secs in STEPS[:-1]:
        print("  %6.1f s  %s" % (secs, name))
    print("  %6.1f s  total" % (time.monotonic() - T0))


if __name__ == "__main__":
    try:
        main()
    except pw.Skip as e:
        print("SKIP: %s" % e)
        sys.exit(77)
    except pw.Failure as e:
        print("FAIL: %s" % e)
        print("steps: " + ", ".join("%s" % n for n, _ in STEPS))
        sys.exit(1)
