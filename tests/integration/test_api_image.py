"""Jobs in an image's root: a busybox image built by the test with umoci
(an `oci:` layout) and the same image as a `docker-archive:` tarball; the
job sees the image's files and Env, not the host's; a second run finds it
cached under the same digest; jobs starting together pull once; a missing
image, a layer whose bytes do not match its digest, and each hostile
layer (a `../` name, a write through an absolute symlink, a chain of
them, a device node) end the job before it starts with the image and the
reason named, and nothing is written on the host; sandbox none with an
image is refused when the job starts.  Skipped (77) where the strict
sandbox cannot run or skopeo/umoci are missing."""
import fcntl
import os
import re
import shutil
import subprocess
import tempfile

import imagelib as il
import pwdaemon as pw
from pwdaemon import eq, expect

CONFIG = "sandbox:\n  mode: strict\nmax_jobs: 4"


def job_of(d, rid, name):
    for j in d.run(rid)["jobs"]:
        if j["name"] == name:
            return j
    pw.fail("no job %s in run %d" % (name, rid))


def reason_of(d, rid, name):
    """The reason the job's last attempt ended with."""
    atts = job_of(d, rid, name).get("attempts") or []
    return (atts[-1].get("reason") if atts else None) or ""


def one_job(image, script):
    return ("jobs:\n  j:\n    image: %s\n    script:\n%s" %
            (image, "".join("      - %s\n" % s for s in script)))


def main(t):
    why = pw.strict_sandbox_missing() or il.missing_tools()
    if why:
        pw.skip("images cannot be tested here: %s" % why)
    # Not below /tmp: the sandbox mounts its own /tmp there.
    work = tempfile.mkdtemp(prefix="pw-img.", dir="/var/tmp")
    try:
        scenarios(t, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scenarios(t, work):
    bb = il.busybox_layout(os.path.join(work, "bb"))
    archive = os.path.join(work, "bb.tar")
    subprocess.run(["skopeo", "copy", "--quiet", "oci:" + bb,
                    "docker-archive:%s:pw/bb:1" % archive], check=True)
    d = t.daemon(projects={"p": "jobs:\n  j: {script: [true]}\n"}, config=CONFIG,
                 start=False)

    def start(pipelines):
        d.write_config(pipelines, config=CONFIG)
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        d.start()

    def run_one(project):
        rid = d.trigger(project)["id"]
        run = d.wait_run(rid)
        return rid, run

    script = ["cat /marker", "echo env=$FROM_IMAGE path=$PATH",
              "test -e /usr/lib/os-release && echo HOST-VISIBLE || echo host-hidden",
              "ls /bin/sh"]

    def in_image():
        start({"oci": one_job("oci:" + bb, script)})
        rid, run = run_one("oci")
        log = d.get("/api/v1/runs/%d/jobs/j/log" % rid).text
        eq(run["status"], "success", "run status (log: %r)" % log)
        m = re.search(r"^image oci:\S+: pulled (sha256:[0-9a-f]{64})$", log, re.M)
        expect(m, "a 'pulled' line first in %r" % log)
        for want in ("from-the-image", "host-hidden", "env=yes path=/bin:/usr/bin"):
            expect(want in log.splitlines(), "%r missing from %r" % (want, log))
        rid, run = run_one("oci")
        log = d.get("/api/v1/runs/%d/jobs/j/log" % rid).text
        eq(run["status"], "success", "second run (log: %r)" % log)
        expect("cached %s" % m.group(1) in log,
               "the second run found it cached under %s: %r" % (m.group(1), log))
    t.check("a job in an oci: image sees its files and Env, not the host's; "
            "then it is cached", in_image)

    def docker_archive():
        start({"da": one_job("docker-archive:" + archive, ["cat /marker"])})
        rid, run = run_one("da")
        log = d.get("/api/v1/runs/%d/jobs/j/log" % rid).text
        eq(run["status"], "success", "run status (log: %r)" % log)
        expect("from-the-image" in log, "the marker in %r" % log)
    t.check("a docker-archive: image", docker_archive)

    def image_user():
        passwd = ("root:x:0:0:root:/root:/bin/sh\n"
                  "builder:x:1234:1235:b:/home/builder:/bin/sh\n"
                  "tester:x:1500:1501:t:/home/tester:/bin/sh\n")
        ref = "oci:" + il.busybox_layout(os.path.join(work, "bbu"), marker="users",
                                         user="builder", passwd=passwd)
        ids = 'echo ids=$(id -u):$(id -g)'
        pipeline = ("jobs:\n"
                    "  own:\n    image: %s\n    script: ['%s']\n"
                    "  named:\n    image: %s\n    user: tester\n    script: ['%s']\n"
                    "  svc:\n    image: %s\n"
                    "    services:\n      s:\n"
                    "        command: 'id -u > $PIPEWRIGHT_SERVICE_DIR/uid; exec sleep 3600'\n"
                    "        ready: {command: 'test -s $PIPEWRIGHT_SERVICE_DIR/uid'}\n"
                    "    script: ['echo svc=$(cat $HOME/services/s/uid)', '%s',\n"
                    "             'touch made && echo wrote']\n"
                    % (ref, ids, ref, ids, ref, ids))
        start({"users": pipeline})
        rid, run = run_one("users")
        logs = {j: d.get("/api/v1/runs/%d/jobs/%s/log" % (rid, j)).text
                for j in ("own", "named", "svc")}
        eq(run["status"], "success", "run status (logs: %r)" % logs)
        # builder and tester exist only in the image's /etc/passwd.
        expect("ids=1234:1235" in logs["own"].splitlines(),
               "no user: runs as the image's User builder: %r" % logs["own"])
        expect("ids=1500:1501" in logs["named"].splitlines(),
               "user: tester from the image's passwd: %r" % logs["named"])
        for want in ("svc=1234", "ids=1234:1235", "wrote"):
            expect(want in logs["svc"].splitlines(),
                   "%r: the service and the job as builder, the workspace theirs: %r"
                   % (want, logs["svc"]))
    t.check("a job without user: runs as its image's User, a user: name resolves in "
            "the image's /etc/passwd, a service runs as that user too", image_user)

    def concurrent():
        fresh = il.busybox_layout(os.path.join(work, "bb2"), marker="second")
        jobs = "".join("  j%d:\n    image: oci:%s\n    script: [cat /marker]\n" % (i, fresh)
                       for i in range(3))
        start({"many": "jobs:\n" + jobs})
        before = d.log().count("image.pull ")
        rid, run = run_one("many")
        eq(run["status"], "success", "run status")
        eq(d.log().count("image.pull ") - before, 1, "pulls for three jobs")
    t.check("three jobs starting with one new image pull it once", concurrent)

    def held_across_restart():
        pipeline = one_job("oci:" + bb, ["touch ready-$PIPEWRIGHT_RUN_ID",
                                         "while [ ! -e open ]; do sleep 0.05; done"])
        d.write_config({"hold": pipeline}, config=CONFIG + "\ndrain: detach")
        d.stop()
        d.start()
        rid = d.trigger("hold")["id"]

        def ready():
            for root, _, files in os.walk(os.path.join(d.data, "workspaces")):
                if "ready-%d" % rid in files:
                    return root
        ws = pw.wait_until(ready, "the job running in its image")
        m = pw.wait_until(lambda: re.search(
            r"(?:pulled|cached) sha256:([0-9a-f]{64})",
            d.get("/api/v1/runs/%d/jobs/j/log" % rid).text), "the image line in the log")
        lock = os.path.join(d.data, "images", "roots", m.group(1) + ".lock")

        def held():
            with open(lock) as f:
                try:
                    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    return False
                except BlockingIOError:
                    return True
        expect(held(), "the running job's root is held")
        d.stop()   # drain: detach: the job goes on without a daemon
        expect(not held(), "no one holds the root while no daemon runs")
        d.start()
        pw.wait_until(held, "the restarted daemon holding the root again")
        eq(d.run(rid)["status"], "running", "the job still runs")
        open(os.path.join(ws, "open"), "w").close()
        eq(d.wait_run(rid)["status"], "success", "the adopted job's end")
        pw.wait_until(lambda: not held(), "the root let go once the job ended")
    t.check("a running job's root is held again by a restarted daemon", held_across_restart)

    def refused(project, image, *words):
        start({project: one_job(image, ["true"])})
        rid, run = run_one(project)
        eq(run["status"], "failed", "run status")
        reason = reason_of(d, rid, "j")
        for w in words:
            expect(w in reason, "%r missing from the reason %r" % (w, reason))

    t.check("a missing image", refused, "missing", "oci:%s/nowhere:t" % work,
            "image 'oci:%s/nowhere:t'" % work, "cannot resolve it")

    def mismatch():
        # A new image: a cached one is answered by its manifest alone.
        bad = os.path.join(work, "bad")
        il.busybox_layout(bad, marker="corrupt")
        blobs = os.path.join(bad, "blobs", "sha256")
        big = max(os.listdir(blobs), key=lambda n: os.path.getsize(os.path.join(blobs, n)))
        with open(os.path.join(blobs, big), "r+b") as f:
            f.seek(200)
            f.write(b"XXXX")
        refused("mismatch", "oci:%s:t" % bad, "cannot pull it", "Digest did not match")
    t.check("a layer whose bytes do not match its digest", mismatch)

    host = os.path.join(work, "host")
    os.mkdir(host)
    hostile = {
        "dotdot": ([[il.entry("etc", "dir"), il.entry("etc/../../escaped")]],
                   "'etc/../../escaped'", "climbs out"),
        "abslink": ([[il.entry("x", "symlink", target=host)],
                     [il.entry("x/pwned")]],
                    "'x/pwned'", "written through the symbolic link 'x'"),
        "chain": ([[il.entry("a", "symlink", target="/b"),
                    il.entry("b", "symlink", target=host)],
                   [il.entry("a/pwned")]],
                  "'a/pwned'", "written through the symbolic link 'a'"),
        "relclimb": ([[il.entry("up", "symlink", target="../../../../..")]],
                     "'up'", "climbs out of the root"),
        "device": ([[il.entry("null", "chardev")]], "'null'", "a device node"),
        # Layers after the first: the link layer 2 makes counts in layer 3.
        "late": ([[il.entry("etc", "dir")], [il.entry("x", "symlink", target=host)],
                  [il.entry("etc/ok"), il.entry("x/pwned")]],
                 "layer 3 of 3", "'x/pwned'", "written through the symbolic link 'x'"),
        "second": ([[il.entry("etc", "dir")], [il.entry("etc/ok"), il.entry("../up")],
                    [il.entry("fine")]],
                   "layer 2 of 3", "'../up'", "climbs out"),
        "hardlink": ([[il.entry("h", "hardlink", target="/etc/shadow")]],
                     "'h'", "outside the root"),
    }
    for name, (layers, *words) in sorted(hostile.items()):
        ref = il.hand_layout(os.path.join(work, "h-" + name), layers)
        t.check("a hostile layer (%s) is refused before unpacking" % name, refused,
                name, "oci:" + ref, "image 'oci:%s' refused" % ref, *words)
    expect(os.listdir(host) == [], "nothing written on the host: %r" % os.listdir(host))
    expect(not os.path.exists(os.path.join(work, "escaped")), "../ wrote beside the root")

    def none_sandbox():
        path = os.path.join(d.dir, "none.yml")
        with open(path, "w") as f:
            f.write(one_job("oci:" + bb, ["true"]))
        d.write_config({"p": "jobs:\n  j: {script: [true]}\n",
                        "none": {"pipeline": path, "sandbox": "{mode: none}"}},
                       config=CONFIG)
        d.stop()
        d.start()
        rid, run = run_one("none")
        eq(run["status"], "failed", "run status")
        reason = reason_of(d, rid, "j")
        expect("needs the strict sandbox" in reason, "the reason %r" % reason)
    t.check("an image under sandbox none fails when the job starts, saying why",
            none_sandbox)


if __name__ == "__main__":
    pw.main(main)
