"""`pipewright serve --check` exits 0 for a good configuration and 2 with
FILE:LINE:COLUMN problems for a bad one, and serve itself refuses a bad
one the same way; a second daemon on the same data_dir refuses to start
(the pid file's lock) and names the first, which goes on serving; the pid
file goes away when the daemon stops."""
import os
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
stages: [build]
jobs:
  build:
    stage: build
    script: echo built
"""


def pwrun(*args, **kw):
    return subprocess.run([pw.PW_BIN] + list(args), capture_output=True, text=True,
                          timeout=pw.DEADLINE, stdin=subprocess.DEVNULL, **kw)


def main(t):
    d = t.daemon(projects={"demo": PIPELINE}, start=False, tokens=())

    def good():
        p = pwrun("serve", "--check", "--config", d.config_path)
        eq((p.returncode, p.stdout, p.stderr),
           (0, "%s: valid, 1 project\n" % d.config_path, ""), "serve --check")
    t.check("serve --check: exit 0 for a good configuration", good)

    bad_path = os.path.join(d.dir, "bad.yml")
    with open(bad_path, "w") as f:
        f.write("listen: 127.0.0.1:0\n"
                "data_dir: data\n"
                "max_jbos: 3\n"
                "projects:\n"
                "  - name: x\n"
                "    pipeline: nope.yml\n")
    want = ("%s:3:1: error: unknown top-level key 'max_jbos'; did you mean 'max_jobs'?\n"
            "%s:6:15: error: cannot read pipeline file '%s' in project 'x': "
            "No such file or directory\n" % (bad_path, bad_path, os.path.join(d.dir, "nope.yml")))

    def bad():
        p = pwrun("serve", "--check", "--config", bad_path)
        eq((p.returncode, p.stdout), (2, ""), "exit status and stdout")
        eq(p.stderr, want, "problems")
        env = dict(os.environ, PIPEWRIGHT_CONFIG=bad_path)
        p = pwrun("serve", "--check", env=env)
        eq((p.returncode, p.stderr), (2, want), "--config from $PIPEWRIGHT_CONFIG")
    t.check("serve --check: exit 2 with FILE:LINE:COLUMN problems", bad)

    def serve_bad():
        p = pwrun("serve", "--config", bad_path)
        eq(p.returncode, 2, "exit status")
        eq(p.stderr, want, "problems")
        expect(not os.path.exists(os.path.join(d.dir, "data", "pipewright.db")),
               "no database made for a bad configuration")
    t.check("serve with a bad configuration: exit 2, same problems, nothing started",
            serve_bad)

    def no_config():
        env = {k: v for k, v in os.environ.items() if k != "PIPEWRIGHT_CONFIG"}
        p = pwrun("serve", env=env)
        eq(p.returncode, 2, "exit status")
        expect(p.stderr.startswith("pipewright: no configuration: give --config FILE "
                                   "or set PIPEWRIGHT_CONFIG\n"), "stderr %r" % p.stderr)
    t.check("serve without a configuration: exit 2", no_config)

    def second():
        d.start()
        pid_file = os.path.join(d.data, "pipewright.pid")
        with open(pid_file) as f:
            eq(f.read(), "%d\n" % d.proc.pid, "the pid file")
        p = pwrun("serve", "--config", d.config_path)
        eq(p.returncode, 1, "the second daemon's exit status (%r)" % p.stderr)
        eq(p.stderr, "another pipewright (pid %d) is serving %s\n" % (d.proc.pid, d.data),
           "the second daemon's message")
        expect("listening on" not in p.stderr, "the second daemon listened")
        eq(d.get("/healthz").status, 200, "the first still serves")
        with open(pid_file) as f:
            eq(f.read(), "%d\n" % d.proc.pid, "the pid file is the first daemon's")
        d.stop()
        expect(not os.path.exists(pid_file), "the pid file is left after a clean stop")
    t.check("a second daemon on the same data_dir refuses to start", second)


pw.main(main)
