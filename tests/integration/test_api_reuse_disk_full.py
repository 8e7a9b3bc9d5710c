"""A full disk while a cache is saved: the blob store is a small tmpfs
(<data_dir>/blobs, in a private mount namespace; the database stays on
the real disk), a job's cache does not fit: its log says the cache was
not saved and why, the job succeeds, no entry is made, nothing is left
in the blob store's temporary directory; a smaller cache saves as usual
afterwards.  Needs root and mount namespaces (skipped saying so)."""
import os
import subprocess

import pwdaemon as pw
import pwhooks as wh
from pwdaemon import eq, expect

pw.reexec_in_mount_ns(__file__)

PIPELINE = r"""
jobs:
  fill:
    script:
      - mkdir -p c
      - head -c "$SIZE" /dev/urandom > c/blob
    cache: {key: "k-$SIZE", paths: [c/]}
"""


def main(t):
    origin = wh.Origin(t)
    origin.commit("first", {".pipewright.yml": PIPELINE})
    origin.push()
    d = t.daemon(projects={"app": {"repo": origin.bare}}, start=False)
    blobs = os.path.join(d.data, "blobs")
    os.makedirs(blobs, exist_ok=True)
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", blobs],
                       capture_output=True)
    if p.returncode != 0:
        pw.skip("cannot mount a tmpfs on the blob store: %s" % p.stderr.decode().strip())
    try:
        d.start()

        def full():
            rid = d.trigger("app", {"ref": "main", "env": {"SIZE": "1048576"}})["id"]
            run = d.wait_run(rid)
            log = wh.job_log(d, rid, "fill")
            eq(run["status"], "success", "the job's result stands (log:\n%s)" % log)
            expect("cache not saved: k-1048576: no space left on device" in log,
                   "the log says why:\n%s" % log)
            eq(d.get_json("/api/v1/projects/app/caches")["items"], [], "no entry")
            eq(os.listdir(os.path.join(blobs, "tmp")), [], "temporary files left")
        t.check("a full disk: the cache is not saved, the job succeeds, the log says why",
                full)

        def small():
            rid = d.trigger("app", {"ref": "main", "env": {"SIZE": "1000"}})["id"]
            eq(d.wait_run(rid)["status"], "success", "run")
            log = wh.job_log(d, rid, "fill")
            expect("cache saved: k-1000 (branch:main)" in log, "log:\n%s" % log)
        t.check("with room again, a cache saves", small)
        t.check("SIGTERM: exit 0", d.stop)
    finally:
        for proc in t.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        subprocess.run(["umount", "-l", blobs], capture_output=True)


pw.main(main)
