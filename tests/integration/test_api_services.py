"""Services beside a job, through the daemon, without a sandbox and (where
it can run) in the strict one.

- `ok`: a web service (python3's http.server, its index written by
  `setup` into its PIPEWRIGHT_SERVICE_DIR, ready over http) and a client
  that `needs` it (ready by a command that fetches from it); the script
  reads the page.  The job log shows the order: web started and ready,
  then client, then the script, then client and web stopped.  Each
  service's output is its own stream: ?stream=web has the server's access
  lines, ?stream=client its own; ?stream=job is the job's log; an unknown
  stream is 404 naming the ones there are; follow is refused for a
  stream (400); `pipewright logs RUN ok --stream web` prints the same.
- `never`: a service never ready (tcp on a port nobody listens on,
  ready_timeout 1s) fails the job before its script, the reason naming
  the service and what was waited for, the log its last lines.
- `dies`: a service that exits while the script runs (the script asks it
  to) fails the job with a reason naming it, not the script.
- `tree`: a service whose children ignore SIGTERM (one of them in a
  session of its own): the service gets SIGTERM first (its stream says
  so), and afterwards no process with the children's marker is left on
  the host (read from /proc, the host's view).
- a run canceled while its script runs: the job is canceled (not failed:
  the services' deaths in the cancel are not taken for failures) and
  nothing of its service is left on the host.
"""
import os
import random
import re
import socket
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = r"""
jobs:
  ok:
    services:
      web:
        command: [python3, -m, http.server, "@PORT@", --bind, 127.0.0.1,
                  --directory, $PIPEWRIGHT_SERVICE_DIR]
        setup: ["echo served-by-web > $PIPEWRIGHT_SERVICE_DIR/index.html"]
        ready: {http: "http://127.0.0.1:@PORT@/"}
        ready_timeout: 30s
      client:
        command: "echo client up in $WHERE; exec sleep 3600"
        needs: [web]
        env: {WHERE: "$PIPEWRIGHT_SERVICE_DIR"}
        ready: {command: "python3 -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:@PORT@/\")'"}
    script:
      - python3 -c 'import urllib.request as u; print(u.urlopen("http://127.0.0.1:@PORT@/").read().decode())'
  never:
    services:
      db:
        command: "echo db booting; exec sleep 3600"
        ready: {tcp: @PORT2@}
        ready_timeout: 1s
    script: [echo SCRIPT-RAN]
  dies:
    services:
      db:
        command: "echo db up; while [ ! -e $PIPEWRIGHT_SERVICE_DIR/stop ]; do sleep 0.05; done; echo db going; exit 3"
    script:
      - touch $HOME/services/db/stop
      - sleep 600
  tree:
    services:
      t:
        command: >-
          trap 'echo t got TERM; exit 0' TERM;
          sh -c 'trap "" TERM; exec sleep @MARK@' &
          setsid sh -c 'trap "" TERM; exec sleep @MARK@' &
          touch $PIPEWRIGHT_SERVICE_DIR/up; wait
        ready: {command: "test -e $PIPEWRIGHT_SERVICE_DIR/up"}
    script: [echo tree-script]
"""


CANCEL = r"""
jobs:
  long:
    services:
      s:
        command: "trap '' TERM; echo s up; exec sleep @MARK@"
    script: [echo long-script-started, sleep 600]
"""


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def marked(mark):
    """Host processes whose command line holds mark."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                if mark.encode() in f.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def log(d, rid, job, query=""):
    r = d.get("/api/v1/runs/%d/jobs/%s/log%s" % (rid, job, query))
    return r.status, r.text


def scenario(t, mode):
    mark = "9%09d" % random.randrange(10 ** 9)
    text = (PIPELINE.replace("@PORT@", str(free_port()))
            .replace("@PORT2@", str(free_port())).replace("@MARK@", mark))
    mark2 = "8%09d" % random.randrange(10 ** 9)
    d = t.daemon(projects={"svc": text, "cancel": CANCEL.replace("@MARK@", mark2)},
                 name="d-" + mode,
                 config="sandbox: %s\nkill_grace: 2s" % mode)
    rid = d.trigger("svc", {"ref": "refs/heads/main"})["id"]
    run = d.wait_run(rid)
    jobs = {j["name"]: j for j in run["jobs"]}
    what = "(%s) " % mode

    # ok: order, the page, the streams.
    st, text = log(d, rid, "ok")
    eq(jobs["ok"]["status"], "success", what + "ok's status (log: %s)" % text[-2000:])
    order = ["starting service web", "service web ready", "starting service client",
             "service client ready", "\nserved-by-web", "stopping service client",
             "stopping service web"]
    at = [text.find(s) for s in order]
    expect(all(a >= 0 for a in at) and at == sorted(at),
           what + "ok's log in order %r: %r" % (order, text))
    st, web = log(d, rid, "ok", "?stream=web")
    eq(st, 200, what + "stream web")
    expect('"GET / HTTP/1.1" 200' in web, what + "web's stream has its access lines: %r" % web)
    expect("served-by-web" not in web, what + "web's stream is not the job's")
    st, client = log(d, rid, "ok", "?stream=client")
    expect(st == 200 and "client up in " in client and "/services/client" in client,
           what + "client's stream, with its own dir: %r" % client)
    st, same = log(d, rid, "ok", "?stream=job")
    eq((st, same), (200, text), what + "stream=job is the job's log")
    st, tail = log(d, rid, "ok", "?stream=web&tail=1")
    expect(st == 200 and tail.count("\n") == 1 and tail in web, what + "tail of a stream: %r" % tail)
    r = d.get("/api/v1/runs/%d/jobs/ok/log?stream=nope" % rid)
    d.expect_error(r, 404, "not_found", re.compile("its streams: client, web"),
                   what + "unknown stream")
    r = d.get("/api/v1/runs/%d/jobs/ok/log?stream=web&follow=1" % rid)
    d.expect_error(r, 400, "bad_request", re.compile("stored when its job ends"),
                   what + "follow a stream")
    p = subprocess.run([pw.PW_BIN, "logs", str(rid), "ok", "--stream", "web", "--server", d.url],
                       capture_output=True, timeout=pw.DEADLINE)
    eq((p.returncode, p.stdout.decode()), (0, web), what + "logs --stream web")

    # never: an error before the script, with the service's last lines.
    j = jobs["never"]
    eq(j["status"], "failed", what + "never's status")
    st, text = log(d, rid, "never")
    reason = j["attempts"][-1]["reason"] or ""
    expect("service db: not ready after 1s (waited for tcp 127.0.0.1:" in reason,
           what + "never's reason: %r" % reason)
    expect("SCRIPT-RAN" not in text, what + "never's script did not run")
    expect(text.find("the last lines of service db") < text.find("db booting"),
           what + "never's log ends with db's lines: %r" % text)

    # dies: the service's failure, not the script's.
    j = jobs["dies"]
    eq(j["status"], "failed", what + "dies' status")
    eq(j["attempts"][-1]["reason"], "service db exited (exit status 3) while the script ran",
       what + "dies' reason")
    st, text = log(d, rid, "dies")
    expect("db going" in text, what + "dies' log has db's last lines: %r" % text)

    # tree: SIGTERM first, then nothing left on the host.
    eq(jobs["tree"]["status"], "success", what + "tree's status")
    st, t_log = log(d, rid, "tree", "?stream=t")
    expect("t got TERM" in t_log, what + "t was sent SIGTERM: %r" % t_log)
    eq(marked("sleep\0" + mark), [], what + "processes of t's tree left on the host")

    # A cancel while the script runs.
    rid = d.trigger("cancel", {"ref": "refs/heads/main"})["id"]
    pw.wait_until(lambda: "long-script-started\n" in log(d, rid, "long")[1],
                  what + "the long job's script to start")
    pw.wait_until(lambda: marked("sleep\0" + mark2), what + "the service's sleep to run")
    r = d.post("/api/v1/runs/%d/cancel" % rid, token="operator")
    eq(r.status, 200, what + "cancel (%r)" % r.body)
    run = d.wait_run(rid)
    eq(run["status"], "canceled", what + "the canceled run")
    eq(run["jobs"][0]["status"], "canceled", what + "the canceled job")
    eq(marked("sleep\0" + mark2), [], what + "the service left on the host after the cancel")
    d.stop()


def main(t):
    scenario(t, "none")
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict half: the strict sandbox cannot run here: %s" % why)
    scenario(t, "strict")


pw.main(main)
