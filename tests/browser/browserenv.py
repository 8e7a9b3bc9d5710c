"""The browser scripts' packages, installed once into a cache directory
with `npm ci` from package-lock.json (the versions pinned there), and
Debian's chromium."""
import os
import shutil
import subprocess

import pwdaemon as pw

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.environ.get("PW_TEST_CACHE", "/var/cache/pipewright-test")


def install():
    """Returns (node_modules directory, chromium binary); skips without them."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            pw.skip("%s is needed for the browser tests (apt-get install nodejs npm)" % tool)
    chromium = shutil.which("chromium")
    if chromium is None:
        pw.skip("Debian's chromium is needed for the browser tests (apt-get install chromium)")
    with open(os.path.join(HERE, "package-lock.json"), "rb") as f:
        import hashlib
        tag = hashlib.sha256(f.read()).hexdigest()[:12]
    prefix = os.path.join(CACHE, "browser-" + tag)
    modules = os.path.join(prefix, "node_modules")
    if os.path.isdir(os.path.join(modules, "playwright-core")) and \
            os.path.isdir(os.path.join(modules, "axe-core")):
        return modules, chromium
    tmp = prefix + ".tmp%d" % os.getpid()
    os.makedirs(tmp)
    for name in ("package.json", "package-lock.json"):
        shutil.copy(os.path.join(HERE, name), tmp)
    r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                       cwd=tmp, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        pw.skip("cannot install the browser tests' packages from the npm registry: %s"
                % (r.stderr or r.stdout).strip()[-300:])
    try:
        os.rename(tmp, prefix)
    except OSError:  # another test installed it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
    return modules, chromium
