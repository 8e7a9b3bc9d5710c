"""Shared by the test_api_*.py scenarios: the real `pipewright serve` on
127.0.0.1:0 with a temporary data directory and a configuration the test
writes, tokens from `pipewright token create`, HTTP helpers over real
sockets, and waits that poll the API with a deadline (never a bare sleep
standing in for synchronisation).

Python 3 standard library only.  ctest sets PW_BIN (build/pipewright) and
PW_SANITIZED (deadlines are longer under sanitizers).

A scenario file looks like:

    import pwdaemon as pw

    def main(t):
        d = t.daemon(projects={"demo": PIPELINE})
        ...
        t.check("trigger answers 201", lambda: ...)

    pw.main(main)

t.check() runs one named assertion group; a failure prints "FAIL: ..." and
is counted, the scenario goes on with the next check.  An exception outside
a check ends the scenario.  At the end: "N passed, M failed", exit 1 if any
failed; every daemon started is killed whatever happens.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

# Absolute: the daemon runs in its own directory.
PW_BIN = os.path.abspath(os.environ.get("PW_BIN") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "..", "..", "build", "pipewright"))
SANITIZED = os.environ.get("PW_SANITIZED") == "1"
# Deadlines: generous, since they only bound a failure's wait.
SLOW = 4 if SANITIZED else 1
DEADLINE = 20 * SLOW

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
FINISHED = ("success", "failed", "canceled", "error")


class Failure(Exception):
    pass


class Skip(Exception):
    pass


def strict_sandbox_missing():
    """What the strict sandbox lacks here (root, namespaces, the memory and
    pids cgroup controllers), or None: a test then skips saying so."""
    if os.getuid() != 0:
        return "not root"
    if subprocess.run(["unshare", "-U", "-p", "-m", "-n", "--fork", "true"],
                      capture_output=True).returncode != 0:
        return "user/pid/mount/net namespaces are not available"
    with open("/proc/self/cgroup") as f:
        cg = f.read()
    for c in ("memory", "pids"):
        ok = any(c in line.split(":")[1].split(",") for line in cg.splitlines() if ":" in line)
        for path in ("/sys/fs/cgroup/cgroup.controllers",
                     "/sys/fs/cgroup/unified/cgroup.controllers"):
            try:
                ok = ok or c in open(path).read().split()
            except OSError:
                pass
        if not ok:
            return "no '%s' cgroup controller" % c
    return None


def skip(why):
    """Ends the scenario as skipped (exit 77), saying why."""
    raise Skip(why)


def fail(msg):
    raise Failure(msg)


def expect(cond, msg):
    if not cond:
        raise Failure(msg)


def eq(got, want, what):
    if got != want:
        raise Failure("%s: got %r, expected %r" % (what, got, want))


def reexec_in_mount_ns(script):
    """Runs the test file `script` again as root in a private mount
    namespace, so that the tmpfs it mounts is seen by nothing else;
    returns at once when this already is that run.  Exits 77 (skipped),
    saying what is missing, where that cannot be done."""
    if os.environ.get("PW_MOUNT_NS") == "1":
        return
    if os.geteuid() != 0:
        print("SKIP: needs root to mount a tmpfs (run as root, e.g. in CI's container)")
        sys.exit(77)
    if shutil.which("unshare") is None:
        print("SKIP: no unshare(1) to make a private mount namespace")
        sys.exit(77)
    probe = subprocess.run(["unshare", "-m", "--propagation", "private", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        print("SKIP: cannot make a mount namespace (unshare -m: %s)" %
              probe.stderr.decode().strip())
        sys.exit(77)
    env = dict(os.environ, PW_MOUNT_NS="1")
    sys.stdout.flush()
    os.execvpe("unshare", ["unshare", "-m", "--propagation", "private",
                           sys.executable, os.path.abspath(script)], env)


def wait_until(cond, what, timeout=None, interval=0.02):
    """Polls cond() until it returns a true value (returned) or the deadline;
    a Failure or a connection error in cond() counts as "not yet"."""
    end = time.monotonic() + (timeout if timeout is not None else DEADLINE)
    last = None
    while True:
        try:
            v = cond()
        except (Failure, OSError, http.client.HTTPException) as e:
            v, last = None, e
        if v:
            return v
        if time.monotonic() > end:
            fail("timed out waiting for %s%s" % (what, " (%s)" % last if last else ""))
        time.sleep(interval)


def alive(pid):
    """True while the process exists and is not a zombie."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("State:"):
                    return "Z" not in line.split()[1]
    except OSError:
        return False
    return True


class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # list of (name, value)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError:
            fail("not JSON (status %d): %r" % (self.status, self.body[:300]))

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


class Daemon:
    """One `pipewright serve` in its own directory under the test's tmp."""

    def __init__(self, t, name, projects, config, anonymous_read=True):
        self.t = t
        self.dir = os.path.join(t.tmp, name)
        os.makedirs(self.dir, exist_ok=True)
        self.data = os.path.join(self.dir, "data")
        self.config_path = os.path.join(self.dir, "pw.yml")
        self.err_path = os.path.join(self.dir, "daemon.err")
        self.proc = None
        self.url = self.host = self.port = None
        self.tokens = {}
        self.write_config(projects, config, anonymous_read)

    # ---- configuration ----

    def write_config(self, projects, config="", anonymous_read=True):
        """projects: {name: pipeline YAML text}, written as NAME.yml, or
        {name: {key: YAML value text}} for a project given by its keys;
        config: more top-level YAML, its keys replacing the defaults."""
        lines = [
            "listen: 127.0.0.1:0",
            "data_dir: %s" % self.data,
            "max_jobs: 4",
            "sandbox: none",
            "drain: cancel",
            "drain_timeout: 5s",
        ]
        # anonymous_read=None leaves the daemon's default (no token: 401).
        if anonymous_read is not None:
            lines.append("anonymous_read: %s" % ("true" if anonymous_read else "false"))
        if config:
            # The test's own top-level keys replace the defaults above.
            keys = set(re.findall(r"^([a-z_]+):", config, re.M))
            lines = [l for l in lines if l.split(":")[0] not in keys]
            lines.append(config.rstrip("\n"))
        lines.append("projects:" if projects else "projects: []")
        for name, yaml in projects.items():
            if isinstance(yaml, dict):
                # A project given by its keys (e.g. a `repo` project):
                # each value is YAML text, written as it is.
                lines.append("  - name: %s" % name)
                lines += ["    %s: %s" % (k, v) for k, v in yaml.items()]
                continue
            path = os.path.join(self.dir, name + ".yml")
            with open(path, "w") as f:
                f.write(yaml)
            lines += ["  - name: %s" % name, "    pipeline: %s.yml" % name]
        with open(self.config_path, "w") as f:
            f.write("\n".join(lines) + "\n")

    # ---- life ----

    def start(self, expect_fail=False):
        """Starts the daemon and waits for `listening on http://HOST:PORT`."""
        self.errf = open(self.err_path, "ab")
        self.err_start = self.errf.tell()
        self.proc = subprocess.Popen(
            [PW_BIN, "serve", "--config", self.config_path],
            stdin=subprocess.DEVNULL, stdout=self.errf, stderr=self.errf,
            cwd=self.dir)
        self.t.procs.append(self.proc)
        end = time.monotonic() + DEADLINE
        pat = re.compile(r"listening on http://(\S+):(\d+)")
        while True:
            m = pat.search(self.log(since_start=True))
            if m:
                break
            if self.proc.poll() is not None:
                if expect_fail:
                    return self.proc.returncode
                fail("the daemon exited %d before listening:\n%s" %
                     (self.proc.returncode, self.log(since_start=True)))
            if time.monotonic() > end:
                fail("no 'listening on' line in %d s:\n%s" % (DEADLINE, self.log()))
            time.sleep(0.02)
        if expect_fail:
            fail("the daemon started; it should have refused")
        self.host, self.port = m.group(1), int(m.group(2))
        self.url = "http://%s:%d" % (self.host, self.port)
        return None

    def log(self, since_start=False):
        try:
            with open(self.err_path, "rb") as f:
                if since_start:
                    f.seek(self.err_start)
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        """SIGTERM; the daemon must exit 0 within the deadline."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            fail("the daemon did not exit within %d s of SIGTERM" % DEADLINE)
        finally:
            self.errf.close()
        if rc != 0:
            fail("the daemon exited %d on SIGTERM:\n%s" % (rc, self.log()[-3000:]))

    def kill(self):
        """SIGKILL, as a crash would."""
        self.proc.kill()
        self.proc.wait()
        self.errf.close()

    # ---- tokens ----

    def token(self, name, scope):
        """A new token from `pipewright token create` (printed on stdout)."""
        p = subprocess.run(
            [PW_BIN, "token", "create", "--config", self.config_path,
             "--name", name, "--scope", scope],
            stdin=subprocess.DEVNULL, capture_output=True, timeout=DEADLINE)
        if p.returncode != 0:
            fail("token create %s %s: exit %d: %s" %
                 (name, scope, p.returncode, p.stderr.decode()))
        tok = p.stdout.decode().strip()
        expect(re.match(r"^pw_[A-Za-z0-9_-]+$", tok), "token create printed %r" % tok)
        self.tokens[name] = tok
        return tok

    # ---- HTTP ----

    def conn(self, timeout=None):
        return http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout or DEADLINE)

    def request(self, method, path, body=None, token=None, headers=None,
                content_type=None):
        """One request on a fresh connection.  body: dict/list (JSON),
        str or bytes.  token: a token string or a name from token()."""
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = "Bearer " + self.tokens.get(token, token)
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h.setdefault("Content-Type", content_type or "application/json")
        elif isinstance(body, str):
            body = body.encode()
        if body is not None and content_type is not None:
            h["Content-Type"] = content_type
        c = self.conn()
        try:
            c.request(method, path, body=body, headers=h)
            r = c.getresponse()
            return Response(r.status, r.reason, r.getheaders(), r.read())
        finally:
            c.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def get_json(self, path, status=200, **kw):
        r = self.get(path, **kw)
        eq(r.status, status, "GET %s status (%r)" % (path, r.body[:300]))
        return r.json()

    def expect_error(self, r, status, code, message=None, what=""):
        """r is an error answer: status, {"error": {"code", "message"}}."""
        eq(r.status, status, "%s status (%r)" % (what, r.body[:300]))
        expect((r.header("Content-Type") or "").startswith("application/json"),
               "%s: Content-Type %r" % (what, r.header("Content-Type")))
        e = r.json().get("error")
        expect(isinstance(e, dict), "%s: no error object: %r" % (what, r.body))
        eq(e.get("code"), code, "%s error code" % what)
        expect(isinstance(e.get("message"), str) and e["message"],
               "%s: no message" % what)
        if message is not None:
            if isinstance(message, re.Pattern):
                expect(message.search(e["message"]),
                       "%s message %r does not match %r" % (what, e["message"], message.pattern))
            else:
                eq(e["message"], message, "%s message" % what)
        return e

    def raw(self, data, read_timeout=None):
        """Sends raw bytes on a new socket; returns everything the daemon
        sends until it closes the connection (or the timeout)."""
        s = socket.create_connection((self.host, self.port), timeout=DEADLINE)
        try:
            if data:
                s.sendall(data)
            s.settimeout(read_timeout or DEADLINE)
            out = b""
            while True:
                try:
                    b = s.recv(65536)
                except (ConnectionResetError, socket.timeout):
                    break
                if not b:
                    break
                out += b
            return out
        finally:
            s.close()

    # ---- runs ----

    def trigger(self, project, body=None, token="operator", status=201, headers=None):
        r = self.post("/api/v1/projects/%s/runs" % project, body=body or {},
                      token=token, headers=headers)
        eq(r.status, status, "trigger %s status (%r)" % (project, r.body[:300]))
        return r.json()

    def run(self, rid):
        return self.get_json("/api/v1/runs/%d" % rid)

    def job(self, rid, name):
        for j in self.run(rid)["jobs"]:
            if j["name"] == name:
                return j
        fail("run %d has no job %r" % (rid, name))

    def wait_run(self, rid, statuses=FINISHED, timeout=None):
        """Polls GET /api/v1/runs/ID until its status is one of statuses."""
        if isinstance(statuses, str):
            statuses = (statuses,)
        last = {}

        def cond():
            last["run"] = self.run(rid)
            return last["run"]["status"] in statuses and last["run"]
        try:
            return wait_until(cond, "run %d to be %s" % (rid, "/".join(statuses)), timeout)
        except Failure as e:
            fail("%s; last: %s" % (e, json.dumps(last.get("run"))[:1500]))

    def wait_job(self, rid, name, statuses, timeout=None):
        if isinstance(statuses, str):
            statuses = (statuses,)

        def cond():
            j = self.job(rid, name)
            return j["status"] in statuses and j
        return wait_until(cond, "job %r of run %d to be %s" % (name, rid, "/".join(statuses)),
                          timeout)

    def wait_log(self, pattern, what=None, timeout=None):
        """Waits for a line of the daemon's stderr matching pattern."""
        rx = re.compile(pattern)
        return wait_until(lambda: rx.search(self.log()), what or "log line %r" % pattern,
                          timeout)


class Test:
    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.mkdtemp(prefix="pw-api.")
        self.procs = []
        self.daemons = []
        self.passed = 0
        self.failed = 0

    def daemon(self, projects=None, config="", name=None, start=True,
               anonymous_read=True, tokens=(("operator", "operate"), ("reader", "read"))):
        d = Daemon(self, name or "d%d" % len(self.daemons), projects or {}, config,
                   anonymous_read)
        self.daemons.append(d)
        for n, s in tokens:
            d.token(n, s)
        if start:
            d.start()
        return d

    def check(self, what, fn, *args):
        """Runs fn(*args) as one named check; counts it."""
        try:
            r = fn(*args)
        except Failure as e:
            self.failed += 1
            print("FAIL: %s: %s" % (what, e), file=sys.stderr)
            return None
        except Exception:
            self.failed += 1
            print("FAIL: %s: %s" % (what, traceback.format_exc()), file=sys.stderr)
            return None
        self.passed += 1
        print("ok: %s" % what)
        return r if r is not None else True

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        stop_supervisors(self.tmp)
        shutil.rmtree(self.tmp, ignore_errors=True)


def supervisors_under(path):
    """Pids of pipewright-supervisor processes whose --dir is below path."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"pipewright-supervisor") and \
                any(a.startswith(path.encode() + b"/") for a in argv):
            pids.append(int(pid))
    return pids


def stop_supervisors(path):
    """Jobs outlive the daemon: a scenario that ends while one runs must not
    leave it behind.  SIGTERM is the supervisor's cancel (its job's tree
    goes with it); SIGKILL after a grace for one that does not answer."""
    pids = supervisors_under(path)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    end = time.monotonic() + 5 * SLOW
    while pids and time.monotonic() < end:
        pids = [p for p in pids if alive(p)]
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(fn):
    """Runs a scenario: fn(t).  Exit 0, 1 (a failure) or 77 (skipped)."""
    name = os.path.basename(sys.argv[0])
    if not os.access(PW_BIN, os.X_OK):
        print("SKIP: no pipewright binary at %s" % PW_BIN)
        sys.exit(77)
    t = Test(name)
    sys.stdout.reconfigure(line_buffering=True)
    try:
        fn(t)
    except Skip as e:
        t.cleanup()
        print("SKIP: %s" % e)
        sys.exit(77)
    except Failure as e:
        t.failed += 1
        print("FAIL: %s" % e, file=sys.stderr)
    except Exception:
        t.failed += 1
        print("FAIL: %s" % traceback.format_exc(), file=sys.stderr)
    finally:
        if t.failed:
            for d in t.daemons:
                print("--- %s's stderr (last 3000 bytes):\n%s" % (d.dir, d.log()[-3000:]),
                      file=sys.stderr)
        t.cleanup()
    print("%d passed, %d failed" % (t.passed, t.failed))
    sys.exit(1 if t.failed else 0)
