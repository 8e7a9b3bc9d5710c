"""`pipewright doctor`'s disk check on a filesystem that really fills up:
a 2 MiB tmpfs mounted on the data directory in a private mount namespace
(unshare -m; as a non-root user with -r as well), so nothing outside this
test sees it.  Empty: ok; filled to ~7% free: a warning (under 10% and
1 GiB), exit 0; filled until ENOSPC: a problem (under 1% and 100 MiB),
exit 1.  Skipped (77) where mount namespaces are not available."""
import os
import re
import shutil
import subprocess

import pwdaemon as pw
from pwdaemon import eq, expect

# Runs inside the namespace: mount, then doctor at three levels of fill.
SCRIPT = r"""
set -u
mount -t tmpfs -o size=2m tmpfs "$DATA" || exit 99
"$PW" doctor --config "$CFG" > "$OUT/empty" 2>&1; echo $? > "$OUT/empty.rc"
dd if=/dev/zero of="$DATA/fill" bs=1024 count=1900 2>/dev/null
"$PW" doctor --config "$CFG" > "$OUT/low" 2>&1; echo $? > "$OUT/low.rc"
dd if=/dev/zero of="$DATA/fill2" bs=4096 2>/dev/null
"$PW" doctor --config "$CFG" > "$OUT/full" 2>&1; echo $? > "$OUT/full.rc"
exit 0
"""


def main(t):
    if shutil.which("unshare") is None:
        pw.skip("no unshare(1): cannot make a private mount namespace")
    data = os.path.join(t.tmp, "data")
    out = os.path.join(t.tmp, "out")
    os.makedirs(data)
    os.makedirs(out)
    cfg = os.path.join(t.tmp, "pw.yml")
    with open(cfg, "w") as f:
        f.write("listen: 127.0.0.1:0\ndata_dir: %s\nprojects: []\n" % data)
    cmd = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-r", "-m"]
    env = dict(os.environ, DATA=data, OUT=out, CFG=cfg, PW=pw.PW_BIN)
    p = subprocess.run(cmd + ["sh", "-c", SCRIPT], env=env, capture_output=True,
                       timeout=pw.DEADLINE * 3)
    if p.returncode != 0:
        pw.skip("mount namespaces are not available here (%s exit %d: %s)" %
                (" ".join(cmd), p.returncode, p.stderr.decode().strip()))

    def level(name):
        with open(os.path.join(out, name)) as f:
            text = f.read()
        with open(os.path.join(out, name + ".rc")) as f:
            rc = int(f.read())
        m = re.search(r"(?m)^(ok|warning|problem) +disk: (.*)$", text)
        expect(m, "%s: no disk line in\n%s" % (name, text))
        print("  %s: %s  %s" % (name, m.group(1), m.group(2)))
        # The tmpfs, not the disk under it.
        expect(" of 2.0 MiB " in m.group(2), "%s: not the tmpfs: %r" % (name, m.group(2)))
        return m.group(1), m.group(2), rc

    def empty():
        lv, _, rc = level("empty")
        eq(lv, "ok", "an empty 2 MiB tmpfs")
        eq(rc, 0, "exit")
    t.check("an empty tmpfs: disk ok, exit 0", empty)

    def low():
        lv, text, rc = level("low")
        eq(lv, "warning", "148 KiB free of 2 MiB")
        expect("running out" in text, "the hint: %r" % text)
        eq(rc, 0, "exit for a warning")
    t.check("filled to ~7% free: a warning, exit 0", low)

    def full():
        lv, text, rc = level("full")
        eq(lv, "problem", "a full tmpfs")
        expect("writes will fail" in text, "the hint: %r" % text)
        eq(rc, 1, "exit for a problem")
    t.check("filled until ENOSPC: a problem, exit 1", full)

    # The namespace is gone with its mount: the directory is ours again.
    eq(os.listdir(data), [], "the data directory outside the namespace")


pw.main(main)
