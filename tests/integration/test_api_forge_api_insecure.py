"""A forge_api over plain http:// to a host other than loopback would send
the status token in clear: `pipewright serve --check` and serve refuse it
with the line and column of the key, and accept it with
forge_api_insecure: true; http:// to 127.0.0.1 (a forge on the same host)
is accepted as it is."""
import os
import subprocess

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect


def pwrun(*args):
    return subprocess.run([pw.PW_BIN] + list(args), capture_output=True, text=True,
                          timeout=pw.DEADLINE, stdin=subprocess.DEVNULL)


def main(t):
    origin = wh.Origin(t)
    token = "{file: %s}" % wh.secret_file(t, "status-token", "tok")

    def daemon(name, **keys):
        return t.daemon(name=name, start=False, tokens=(), projects={
            "app": wh.project(t, origin, "gitea", status_token=token, **keys)})

    def refused():
        d = daemon("plain", forge_api="http://git.example.com/api/v1")
        p = pwrun("serve", "--check", "--config", d.config_path)
        eq(p.returncode, 2, "exit status (%s)" % p.stderr)
        line = [i + 1 for i, l in enumerate(open(d.config_path)) if "forge_api:" in l][0]
        eq(p.stderr, "%s:%d:5: error: project 'app' sets 'forge_api' to plain http:// "
           "on another host: the status token would cross the network in clear; use "
           "https://, or set 'forge_api_insecure: true'\n" % (d.config_path, line),
           "the problem")
        eq(d.start(expect_fail=True), 2, "serve's exit status")
    t.check("http:// to another host: refused at load", refused)

    def insecure():
        d = daemon("insecure", forge_api="http://git.example.com/api/v1",
                   forge_api_insecure="true")
        p = pwrun("serve", "--check", "--config", d.config_path)
        eq((p.returncode, p.stderr), (0, ""), "serve --check")
    t.check("forge_api_insecure: true accepts it", insecure)

    def loopback():
        d = daemon("loopback", forge_api="http://127.0.0.1:3000/api/v1")
        p = pwrun("serve", "--check", "--config", d.config_path)
        eq((p.returncode, p.stderr), (0, ""), "serve --check")
        expect("forge_api" in open(d.config_path).read(), "the key is written")
    t.check("http:// to loopback: accepted", loopback)


pw.main(main)
