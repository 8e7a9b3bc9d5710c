"""`scripts/dev screenshots`: docs/dashboard/*.png, each view of the
dashboard on fixed data (the `demo` and `app` projects of pipelines.py and
the same sequence of runs every time), taken by Debian's chromium. Not run
by CI: CI must not rewrite docs/."""
import hashlib
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

OUT = os.path.join(HERE, "..", "..", "docs", "dashboard")


def main(t):
    modules, chromium = install()
    d = t.daemon(projects={"demo": pipelines.DEMO, "app": pipelines.APP},
                 tokens=(("operator", "operate"), ("admin", "admin")))
    gate = os.path.join(t.tmp, "gate")
    os.makedirs(gate)
    # Finished runs of demo: their durations make the chart; two failed.
    runs = []
    for i, delay in enumerate([2, 3, 2, 4, 3, 5, 3, 6, 4, 7]):
        env = {"DELAY": str(delay), "FAIL": "1" if i in (3, 8) else "0"}
        commit = hashlib.sha1(b"demo-%d" % i).hexdigest()
        rid = d.trigger("demo", {"ref": "main" if i % 4 else "feature/retry",
                                 "commit": commit, "env": env})["id"]
        d.wait_run(rid)
        runs.append(rid)
    # app: one run waiting on its compile job (running), for the queue view.
    for name in ("a.unit-pass",):
        open(os.path.join(gate, name), "w").close()
    running = d.trigger("app", {"ref": "main", "env": {"GATE": gate, "KEY": "a"}})["id"]
    d.wait_job(running, "compile", ("running",))
    cfg = os.path.join(t.tmp, "shots.json")
    with open(cfg, "w") as f:
        json.dump({"url": d.url, "tokens": d.tokens, "gate": gate, "chromium": chromium,
                   "out": os.path.abspath(OUT), "runs": runs, "running": running}, f)
    os.makedirs(OUT, exist_ok=True)
    env = dict(os.environ, NODE_PATH=modules)
    p = subprocess.run(["node", os.path.join(HERE, "screenshots.mjs"), cfg], env=env,
                       timeout=600)
    open(os.path.join(gate, "a.compile"), "w").close()
    pw.expect(p.returncode == 0, "screenshots.mjs exited %d" % p.returncode)
    t.passed += 1


pw.main(main)
