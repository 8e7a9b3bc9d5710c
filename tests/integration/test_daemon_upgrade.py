"""Zero-downtime upgrade (issue 6): SIGUSR2 or `pipewright upgrade`.

 - Under load: a counter job runs across `kill -USR2`; one thread asks
   /healthz on a new connection each time, one keeps a connection alive
   (reconnecting only when the daemon closes it cleanly: "Connection:
   close", or an end of stream seen before the next request is sent; a
   request that meets the close of the idle connection — no byte of an
   answer — is sent again once, as RFC 9112 lets a client do, and counted:
   at most one per swap), one triggers runs without pause.  Zero connection errors; the pid file
   names the new daemon; every trigger answered 201 has a run that
   finishes, some of them answered by the old daemon while it handed over
   (its log says so; the new binary waits at a gate until one such trigger
   has been answered, so the window always holds one); the counter job's log has every line once.
 - `pipewright upgrade --config` does the same and says "upgraded: pid
   OLD → NEW".
 - The configured `binary` fails to start (a script that exits 1): the
   old daemon goes on serving and scheduling — a job running across the
   attempt finishes whole, a new run succeeds; upgrade.result says
   "failed: ..."; `pipewright upgrade` exits 1.
 - The binary hangs (a script that sleeps) with upgrade_timeout 2s: it is
   killed after 2 s, the old daemon resumes.  A binary that cannot be run
   at all (not executable) fails at once.
 - systemd's notifications (NOTIFY_SOCKET, a datagram socket of the
   test): READY=1 at start, RELOADING=1 when an upgrade begins, then
   MAINPID=NEW + READY=1 from the new daemon (or READY=1 from the old one
   when it resumes), STOPPING=1 at the end.

The configured binary is one script whose mode file says what it does:
exec the real pipewright ("ok"), exit 1 ("fail"), or sleep ("hang").
After an upgrade the daemon is not the test's child any more: it is
followed by its pid (PidProc).
"""
import http.client
import os
import re
import select
import signal
import socket
import subprocess
import threading
import time
import uuid

import pwdaemon as pw
from pwdaemon import eq, expect

LINES = 100

COUNTER = """\
jobs:
  count:
    script:
      - i=0; while [ $i -lt %d ]; do echo "count $i"; i=$((i+1)); sleep 0.05; done
""" % LINES

QUICK = """\
jobs:
  hello:
    script: echo hello
"""

SCRIPT = """#!/bin/sh
case "$(cat '%(mode)s')" in
ok) exec '%(bin)s' "$@" ;;
gate) while [ ! -e '%(gate)s' ]; do sleep 0.02; done; exec '%(bin)s' "$@" ;;
hang) echo $$ > '%(hang)s'; exec sleep 600 ;;
*) echo "broken-binary: refusing to start" >&2; exit 1 ;;
esac
"""


class PidProc:
    """A daemon that is not our child (an upgrade started it): what
    pwdaemon and its cleanup need of a Popen, by pid."""

    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        return None if pw.alive(self.pid) else 0

    def send_signal(self, sig):
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def kill(self):
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout=None):
        end = time.monotonic() + (timeout if timeout is not None else 3600)
        while pw.alive(self.pid):
            if time.monotonic() > end:
                raise subprocess.TimeoutExpired("pid %d" % self.pid, timeout)
            time.sleep(0.02)
        # Its status went to whoever reaped it; the log tells how it ended.
        return 0


class Notify:
    """A stand-in for systemd's notification socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.1)
        self.msgs = []
        self.stop = threading.Event()
        self.th = threading.Thread(target=self.recv)
        self.th.start()

    def recv(self):
        while not self.stop.is_set():
            try:
                self.msgs.append(self.sock.recv(4096).decode())
            except socket.timeout:
                pass

    def since(self, n):
        return [m for m in self.msgs[n:] if not m.startswith("SYNC ")]

    def sync(self):
        """Returns once every datagram sent before this call was read."""
        mark = "SYNC %s" % uuid.uuid4()
        c = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            c.sendto(mark.encode(), self.sock.getsockname())
        finally:
            c.close()
        pw.wait_until(lambda: mark in self.msgs, "the notification socket's queue")

    def close(self):
        self.stop.set()
        self.th.join()
        self.sock.close()


class Load:
    """The clients that run throughout a swap."""

    def __init__(self, d, triggers=True):
        self.d = d
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors = []
        self.fresh = self.alive = self.reconnects = 0
        self.races = []        # idle closes met by a request, sent again
        self.triggered = []    # (key, run id)
        self.threads = [threading.Thread(target=self.hammer),
                        threading.Thread(target=self.keepalive)]
        if triggers:
            self.threads.append(threading.Thread(target=self.trigger))
        for th in self.threads:
            th.start()

    def error(self, who, what):
        with self.lock:
            self.errors.append("%s: %s" % (who, what))

    def hammer(self):
        while not self.stop.is_set():
            c = http.client.HTTPConnection(self.d.host, self.d.port, timeout=10 * pw.SLOW)
            try:
                c.request("GET", "/healthz")
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    self.error("fresh", "status %d" % r.status)
                self.fresh += 1
            except (OSError, http.client.HTTPException) as e:
                self.error("fresh", repr(e))
            finally:
                c.close()

    def keepalive(self):
        c = None
        while not self.stop.is_set():
            try:
                if c is None:
                    c = http.client.HTTPConnection(self.d.host, self.d.port,
                                                   timeout=10 * pw.SLOW)
                    c.connect()
                    reused = False
                elif select.select([c.sock], [], [], 0)[0]:
                    # Readable while idle: the daemon closed it cleanly.
                    if c.sock.recv(1, socket.MSG_PEEK) == b"":
                        c.close()
                        c = None
                        self.reconnects += 1
                        continue
                    self.error("keep-alive", "unexpected bytes while idle")
                try:
                    c.request("GET", "/healthz")
                    r = c.getresponse()
                except (ConnectionResetError, BrokenPipeError,
                        http.client.RemoteDisconnected) as e:
                    if not reused:
                        raise
                    # The daemon closed the idle connection as we sent:
                    # nothing of an answer came, and a client may send an
                    # idempotent request again (RFC 9112, 9.3.1) — once,
                    # on a new connection, which must work.
                    self.races.append(repr(e))
                    c.close()
                    c = http.client.HTTPConnection(self.d.host, self.d.port,
                                                   timeout=10 * pw.SLOW)
                    reused = False
                    c.request("GET", "/healthz")
                    r = c.getresponse()
                r.read()
                reused = True
                if r.status != 200:
                    self.error("keep-alive", "status %d" % r.status)
                self.alive += 1
                if r.will_close:
                    c.close()
                    c = None
                    self.reconnects += 1
            except (OSError, http.client.HTTPException) as e:
                self.error("keep-alive", repr(e))
                if c is not None:
                    c.close()
                c = None
            # Pacing, not synchronisation: a client that is mostly idle.
            time.sleep(0.01)
        if c is not None:
            c.close()

    def trigger(self):
        while not self.stop.is_set():
            key = str(uuid.uuid4())
            try:
                r = self.d.post("/api/v1/projects/quick/runs", body={}, token="operator",
                                headers={"Idempotency-Key": key})
                if r.status != 201:
                    self.error("trigger", "status %d %r" % (r.status, r.body[:200]))
                else:
                    with self.lock:
                        self.triggered.append((key, r.json()["id"]))
            except (OSError, http.client.HTTPException) as e:
                self.error("trigger", repr(e))
            time.sleep(0.03)

    def finish(self):
        self.stop.set()
        for th in self.threads:
            th.join()
        return self


def pid_file(d):
    with open(os.path.join(d.data, "pipewright.pid")) as f:
        return int(f.read().strip() or 0)


def result(d):
    with open(os.path.join(d.data, "upgrade.result")) as f:
        return f.read().strip()


def counter_lines(d, rid):
    r = d.get("/api/v1/runs/%d/jobs/count/log" % rid)
    eq(r.status, 200, "log of run %d" % rid)
    return [l for l in r.text.splitlines() if re.match(r"^count \d+$", l)]


def whole(d, rid):
    run = d.wait_run(rid, timeout=pw.DEADLINE * 2)
    eq(run["status"], "success", "counter run %d" % rid)
    eq([(a["number"], a["status"]) for a in run["jobs"][0]["attempts"]], [(1, "success")],
       "counter run %d's attempts" % rid)
    got = counter_lines(d, rid)
    eq(got, ["count %d" % i for i in range(LINES)], "counter run %d's lines" % rid)


def counting(d):
    rid = d.trigger("count")["id"]
    pw.wait_until(lambda: len(counter_lines(d, rid)) >= 5, "run %d's first lines" % rid)
    return rid


def upgraded(d, old):
    """Waits for the new daemon: the old one gone, the pid file naming a
    live other one; d follows it from now on."""
    def cond():
        new = pid_file(d)
        return not pw.alive(old) and new != old and pw.alive(new) and new
    new = pw.wait_until(cond, "the new daemon in the pid file")
    if d.proc.pid == old and isinstance(d.proc, subprocess.Popen):
        eq(d.proc.wait(pw.DEADLINE), 0, "the old daemon's exit status")
    d.proc = PidProc(new)
    d.t.procs.append(d.proc)
    eq(d.get("/healthz").status, 200, "the new daemon answers")
    return new


def cli_upgrade(d):
    t0 = time.monotonic()
    p = subprocess.run([pw.PW_BIN, "upgrade", "--config", d.config_path],
                       stdin=subprocess.DEVNULL, capture_output=True,
                       timeout=pw.DEADLINE * 3)
    return p.returncode, p.stdout.decode(), p.stderr.decode(), time.monotonic() - t0


def main(t):
    mode = os.path.join(t.tmp, "mode")
    hang = os.path.join(t.tmp, "hang.pid")
    script = os.path.join(t.tmp, "pipewright-next")
    with open(script, "w") as f:
        f.write(SCRIPT % {"mode": mode, "bin": pw.PW_BIN, "hang": hang,
                          "gate": os.path.join(t.tmp, "gate")})
    os.chmod(script, 0o755)

    def set_mode(m):
        with open(mode, "w") as f:
            f.write(m + "\n")
    set_mode("ok")
    projects = {"count": COUNTER, "quick": QUICK}

    def config(timeout):
        return ("drain: detach\nbinary: %s\nupgrade_timeout: %ds\n"
                % (script, timeout))
    notify = Notify(os.path.join(t.tmp, "notify"))
    os.environ["NOTIFY_SOCKET"] = os.path.join(t.tmp, "notify")
    try:
        d = t.daemon(projects=projects, config=config(30 * pw.SLOW))
        scenarios(t, d, projects, config, script, set_mode, hang, notify)
    finally:
        notify.close()


def notified(notify, n, want):
    def cond():
        got = notify.since(n)
        return got[:len(want)] == want and got
    try:
        pw.wait_until(cond, "notifications %r" % want, timeout=5 * pw.SLOW)
    except pw.Failure:
        pw.fail("systemd notifications: got %r, expected %r (all: %r)"
                % (notify.since(n), want, notify.msgs))


def scenarios(t, d, projects, config, script, set_mode, hang, notify):
    t.check("READY=1 to systemd at start", notified, notify, 0, ["READY=1"])

    def under_load():
        n = len(notify.msgs)
        rid = counting(d)
        old = d.proc.pid
        load = Load(d)
        pw.wait_until(lambda: load.fresh > 50 and len(load.triggered) > 3, "load to run")
        # The new binary waits at a gate until a trigger has been answered
        # while the old daemon hands over: that window is then sure to
        # hold one, however fast the swap.
        set_mode("gate")
        t0 = time.monotonic()
        os.kill(old, signal.SIGUSR2)
        pw.wait_until(lambda: "upgrade.spawned" in d.log(), "the new daemon spawned")
        r = d.post("/api/v1/projects/quick/runs", body={}, token="operator",
                   headers={"Idempotency-Key": "in-the-handover"})
        eq(r.status, 201, "a trigger during the handover (%r)" % r.body[:200])
        with load.lock:
            load.triggered.append(("in-the-handover", r.json()["id"]))
        set_mode("ok")
        open(os.path.join(t.tmp, "gate"), "w").close()
        new = upgraded(d, old)
        took = time.monotonic() - t0
        # Some more traffic on the new daemon alone.
        fresh = load.fresh
        pw.wait_until(lambda: load.fresh > fresh + 50, "load on the new daemon")
        load.finish()
        eq(load.errors, [], "client errors during the swap")
        eq(result(d), "ok %d" % new, "upgrade.result")
        # Runs the old daemon committed while handing over: the new one ran them.
        log = d.log()
        window = log[log.index("upgrade.start"):log.index("upgrade.ready")]
        swapped = [int(x) for x in re.findall(r"run\.created run=(\d+) project=quick", window)]
        for key, run in load.triggered:
            eq(d.wait_run(run)["status"], "success", "run %d (key %s)" % (run, key))
        whole(d, rid)
        print("  swap %d -> %d in %.2f s: %d fresh /healthz, %d keep-alive "
              "(%d reconnects, %d idle-close races sent again), %d triggers "
              "(%d during the handover), 0 errors"
              % (old, new, took, load.fresh, load.alive, load.reconnects,
                 len(load.races), len(load.triggered), len(swapped)))
        # One keep-alive connection: at most its one close can race.
        expect(len(load.races) <= 1, "idle-close races: %r" % load.races)
        expect(swapped, "no trigger landed while the old daemon handed over")
        # The old daemon has exited: all it sent is queued.  Nothing but
        # these two, and above all no STOPPING=1 from the old one, which
        # systemd (NotifyAccess=all) would take for the service's stop.
        notify.sync()
        eq(notify.since(n), ["RELOADING=1", "MAINPID=%d\nREADY=1" % new],
           "notifications to systemd during the upgrade")
    t.check("kill -USR2 under load: no connection error, the job goes on, "
            "every triggered run runs", under_load)

    def with_cli():
        rid = counting(d)
        old = d.proc.pid
        rc, out, err, took = cli_upgrade(d)
        eq(rc, 0, "pipewright upgrade's exit status (stderr %r)" % err)
        m = re.match(r"^upgraded: pid (\d+) \u2192 (\d+)$", out.strip())
        expect(m, "pipewright upgrade printed %r" % out)
        eq(int(m.group(1)), old, "the old pid it printed")
        new = upgraded(d, old)
        eq(int(m.group(2)), new, "the new pid it printed")
        whole(d, rid)
        print("  %s (%.2f s)" % (out.strip(), took))
    t.check("pipewright upgrade --config: exit 0, 'upgraded: pid OLD → NEW'", with_cli)

    def goes_on(what, timeout):
        n = len(notify.msgs)
        old = d.proc.pid
        rid = counting(d)
        load = Load(d, triggers=False)
        rc, out, err, took = cli_upgrade(d)
        load.finish()
        eq(rc, 1, "pipewright upgrade's exit status (%s; stdout %r)" % (what, out))
        expect(re.search(r"upgrade failed: .*%s" % what, err),
               "pipewright upgrade said %r" % err)
        expect(result(d).startswith("failed: "), "upgrade.result %r" % result(d))
        if timeout:
            expect(took >= timeout - 0.1, "it gave up after %.2f s, before %d s" % (took, timeout))
        d.wait_log(r"upgrade\.resumed")
        eq(pid_file(d), old, "the pid file still names the old daemon")
        expect(pw.alive(old), "the old daemon is alive")
        eq(load.errors, [], "client errors during the failed upgrade")
        eq(d.get("/readyz").status, 200, "ready again")
        q = d.trigger("quick")["id"]
        eq(d.wait_run(q)["status"], "success", "a new run after the failed upgrade")
        whole(d, rid)
        if "cannot run" in what:
            eq(notify.since(n), [], "notifications when nothing was started")
        else:
            notified(notify, n, ["RELOADING=1", "READY=1"])
        print("  %s (%.2f s); %d + %d /healthz, 0 errors"
              % (err.strip(), took, load.fresh, load.alive))

    def fails():
        set_mode("fail")
        # Its exit or the end of its channel, whichever the daemon sees first.
        goes_on("(exited with status 1|closed its channel before it was ready)", 0)
    t.check("a binary that fails to start: the old daemon goes on", fails)

    def not_executable():
        os.chmod(script, 0o644)
        try:
            goes_on("cannot run %s" % script, 0)
        finally:
            os.chmod(script, 0o755)
    t.check("a binary that cannot be run: failed at once, the old daemon goes on",
            not_executable)

    def hangs():
        set_mode("hang")
        d.write_config(projects, config(2))
        d.signal(signal.SIGHUP)
        d.wait_log(r"config\.reloaded")
        goes_on(r"not ready within 2000 ms", 2)
        sleeper = int(open(hang).read())
        pw.wait_until(lambda: not pw.alive(sleeper), "the hanging binary to be killed")
    t.check("a binary that hangs (upgrade_timeout 2s): killed, the old daemon resumes",
            hangs)

    def stop():
        set_mode("ok")
        n = len(notify.msgs)
        d.stop()
        d.wait_log(r"shutdown\.done")
        notified(notify, n, ["STOPPING=1"])
    t.check("SIGTERM at the end", stop)


pw.main(main)
