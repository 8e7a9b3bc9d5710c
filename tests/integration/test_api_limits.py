"""The daemon's limits (`sandbox.limits`) under `sandbox: strict`: a job
whose pipeline has no `resources` still meets the server's default pids
limit (a fork bomb ends `killed: more than 1024 processes`, and none of
its processes is left on the host), a project's own limits override the
top-level ones, and a pipeline asking for more than a ceiling (memory:
1024G, timeout: 100000h) is refused before any job starts, the run's
problem naming the ceiling at the value's position.  Skipped (77) where
the strict sandbox cannot run."""
import os
import signal
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

# Each bomb's sleeps carry a marker argument, to find leftovers from the host.
MARK = 40000 + os.getpid() % 20000

BOMB = """
jobs:
  bomb:
    timeout: 280s
    script: while :; do sleep %d & done
""" % MARK

MODEST = """
jobs:
  modest:
    resources:
      memory: 4G
    script: "true"
"""

GREEDY = """
jobs:
  greedy:
    resources:
      memory: 1024G
    script: echo never
  slow:
    timeout: 100000h
    script: echo never
"""


def leftovers():
    r = subprocess.run(["pgrep", "-f", "^sleep %d$" % MARK], capture_output=True, text=True)
    return r.stdout.split()


def main(t):
    why = pw.strict_sandbox_missing()
    if why:
        pw.skip("the strict sandbox cannot run here: %s" % why)
    d = t.daemon(projects={"bomb": BOMB, "greedy": GREEDY, "modest": MODEST}, start=False,
                 config="sandbox: {mode: strict, limits: {memory: {default: 1G, max: 8G}}}\n")
    # One more project, on the same bomb, with a pids limit of its own.
    small = os.path.join(d.dir, "small.yml")
    with open(small, "w") as f:
        f.write(BOMB)
    with open(d.config_path, "a") as f:
        f.write("  - name: small\n    pipeline: small.yml\n"
                "    sandbox: {limits: {pids: 64}}\n")
    d.start()

    def bomb(project, n):
        rid = d.trigger(project)["id"]
        # A thousand forks at a job's low CPU weight: minutes on a busy machine.
        run = d.wait_run(rid, timeout=300 * pw.SLOW)
        eq(run["status"], "failed", "run status")
        att = run["jobs"][0]["attempts"][-1]
        eq(att["reason"], "killed: more than %d processes" % n, "the job's end")
        left = leftovers()
        if left:
            subprocess.run(["kill", "-9"] + left)
        expect(not left, "processes of the bomb left on the host: %r" % left)

    t.check("no resources: the default pids limit stops a fork bomb",
            bomb, "bomb", 1024)
    t.check("a project's own pids limit overrides the top-level one",
            bomb, "small", 64)

    def greedy():
        rid = d.trigger("greedy")["id"]
        run = d.wait_run(rid)
        eq(run["status"], "error", "run status")
        got = sorted((p["line"], p["column"], p["message"]) for p in run["problems"])
        eq(got, [(5, 15, "resources.memory: 1024G is above this server's ceiling of 8G"),
                 (8, 14, "timeout: 100000h is above this server's ceiling of 24h")],
           "problems")
        eq(run["problems"][0]["file"], os.path.join(d.dir, "greedy.yml"), "file")
        expect(all(j["attempts"] == [] for j in run.get("jobs", [])),
               "a job started: %r" % run.get("jobs"))
    t.check("a pipeline above the ceilings is refused, each named in place", greedy)

    def lowered():
        rid = d.trigger("modest")["id"]
        eq(d.wait_run(rid)["status"], "success", "run status under an 8G ceiling")
        with open(d.config_path) as f:
            text = f.read()
        with open(d.config_path, "w") as f:
            f.write(text.replace("max: 8G", "max: 2G"))
        d.signal(signal.SIGHUP)
        d.wait_log(r"config\.reloaded path=")
        r = d.post("/api/v1/runs/%d/rerun" % rid, body={"jobs": ["modest"]}, token="operator")
        eq(r.status, 409, "rerun above the lowered ceiling")
        expect("above this server's ceiling of 2G" in r.text,
               "the answer names the ceiling: %s" % r.text)
    t.check("a rerun meets the ceilings of now, lowered since the run", lowered)

    t.check("SIGTERM: exit 0", d.stop)


pw.main(main)
