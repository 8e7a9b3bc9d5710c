"""The dashboard in a real browser: playwright-core (npm, pinned in
package.json and package-lock.json) drives Debian's chromium headless
against the real daemon with real runs; axe-core is injected into each
view. dashboard.mjs holds the checks; this file starts the daemon, makes
the tokens and hands them over.

Label `browser`: the packages are installed with `npm ci` into a cache
directory on first use (PW_TEST_CACHE, default /var/cache/pipewright-test).
Without node, npm or chromium, or when the install fails (no network), it
skips saying so."""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)
import pwdaemon as pw  # noqa: E402
import pipelines  # noqa: E402
from browserenv import install  # noqa: E402


def main(t):
    modules, chromium = install()
    d = t.daemon(projects={"app": pipelines.APP, "big": pipelines.BIG},
                 tokens=(("operator", "operate"), ("reader", "read"), ("admin", "admin")))
    # A second daemon that answers reads only to tokens.
    private = t.daemon(projects={"app": pipelines.APP}, name="private", anonymous_read=False,
                       tokens=(("reader", "read"),))
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    cfg = os.path.join(t.tmp, "browser.json")
    with open(cfg, "w") as f:
        json.dump({"url": d.url, "tokens": d.tokens, "gate": gate, "chromium": chromium,
                   "slow": pw.SLOW,
                   "private": {"url": private.url, "tokens": private.tokens}}, f)
    env = dict(os.environ, NODE_PATH=modules)
    p = subprocess.run(["node", os.path.join(HERE, "dashboard.mjs"), cfg], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=900)
    sys.stdout.write(p.stdout)
    for line in p.stdout.splitlines():
        if line.startswith("ok: "):
            t.passed += 1
        elif line.startswith("FAIL: "):
            t.failed += 1
    for daemon in (d, private):
        if daemon.proc.poll() is not None:
            t.failed += 1
            print("FAIL: the daemon %s exited %d during the browser tests"
                  % (daemon.dir, daemon.proc.returncode))
    if p.returncode != 0 and not t.failed:
        pw.fail("the browser script exited %d" % p.returncode)


pw.main(main)
