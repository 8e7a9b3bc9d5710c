"""Artifacts and caches through the daemon and the command line.

To control every field (an expired row, a missing blob, a damaged one),
the scenario puts its rows into the daemon's database beside a finished
run (through SQLite, another connection, as `pipewright backup` reads
it; runs that make artifacts are test_api_reuse_*.py) and its blobs where the
daemon reads them, <data_dir>/blobs/sha256/<aa>/<digest>: a real
zstd-compressed tar made by GNU tar.  Then: the listing; the archive
streamed whole (byte for byte); one file of it with ?path= (extracted by
libarchive off the loop); a symlink or directory named by ?path= refused
(400); an expired artifact 410 with when; a missing blob 404; clients
resetting halfway through a 32 MiB download leave the daemon serving.  The CLI
downloads the archive checked against its digest, refuses a damaged one
(no file left under the final name), fetches one file, lists; `cache
list` shows the entries, `cache rm` (admin) deletes one with an audit
row naming the token, and a second rm says there is none (exit 1)."""
import hashlib
import os
import socket
import struct
import sqlite3
import subprocess
import time

import pwdaemon as pw
from pwdaemon import eq, expect

PIPELINE = """\
jobs:
  build:
    script: ["true"]
"""


def blob(d, tree, name):
    """A tar.zst of tree placed as a blob; its digest, size and bytes."""
    out = os.path.join(d.dir, name + ".tar.zst")
    subprocess.run(["tar", "--zstd", "-cf", out, "-C", tree, "."], check=True)
    with open(out, "rb") as f:
        data = f.read()
    digest = hashlib.sha256(data).hexdigest()
    place = os.path.join(d.data, "blobs", "sha256", digest[:2])
    os.makedirs(place, exist_ok=True)
    with open(os.path.join(place, digest), "wb") as f:
        f.write(data)
    return digest, len(data), data


def cli(d, token, *args, cwd=None):
    env = dict(os.environ, PIPEWRIGHT_TOKEN=d.tokens[token])
    p = subprocess.run([pw.PW_BIN] + list(args) + ["--server", d.url],
                       stdin=subprocess.DEVNULL, capture_output=True, env=env,
                       cwd=cwd, timeout=pw.DEADLINE)
    return p.returncode, p.stdout.decode(errors="replace"), p.stderr.decode(errors="replace")


def main(t):
    d = t.daemon(projects={"demo": PIPELINE},
                 tokens=(("operator", "operate"), ("reader", "read"), ("admin", "admin")))
    rid = d.trigger("demo", {"ref": "refs/heads/main"})["id"]
    eq(d.wait_run(rid)["status"], "success", "the run")

    tree = os.path.join(d.dir, "tree")
    os.makedirs(os.path.join(tree, "dir"))
    with open(os.path.join(tree, "dir", "a.txt"), "w") as f:
        f.write("hello\n")
    big = os.urandom(3 * 1024 * 1024)
    with open(os.path.join(tree, "app"), "wb") as f:
        f.write(big)
    os.symlink("dir/a.txt", os.path.join(tree, "link"))
    digest, size, data = blob(d, tree, "app")
    gone = "e" * 64
    lost = "f" * 64
    now = int(time.time() * 1000)
    db = sqlite3.connect(os.path.join(d.data, "pipewright.db"), timeout=10)
    with db:
        db.executemany(
            "INSERT INTO artifacts (run_id, job_idx, job_name, name, digest,"
            " size, files, created_ms, expires_ms, removed_ms)"
            " VALUES (?, 0, 'build', ?, ?, ?, ?, ?, ?, ?)",
            [(rid, "app", digest, size, 3, now, 0, 0),
             (rid, "old", gone, 10, 1, now - 90000, now - 60000, now - 1000),
             (rid, "lost", lost, 10, 1, now, 0, 0)])
        db.executemany(
            "INSERT INTO caches (project, scope, key, digest, size,"
            " created_ms, last_used_ms) VALUES ('demo', ?, ?, ?, ?, ?, ?)",
            [("branch:main", "cargo-1", digest, size, now, now),
             ("pr:4", "cargo-1", digest, size, now + 1, now + 1),
             ("branch:main", "npm/x y", digest, 5, now + 2, now + 2)])
    db.close()
    base = "/api/v1/runs/%d/artifacts" % rid

    def listing():
        items = d.get_json(base, token="reader")["items"]
        eq([(i["name"], i["job"], i["expired"]) for i in items],
           [("app", "build", False), ("lost", "build", False), ("old", "build", True)],
           "the run's artifacts")
        eq((items[0]["size"], items[0]["files"], items[0]["digest"], items[0]["expires"]),
           (size, 3, digest, None), "app's fields")
        eq(items[0]["url"], d.url + base + "/app", "app's url")
        d.expect_error(d.get("/api/v1/runs/%d/artifacts" % (rid + 50), token="reader"),
                       404, "not_found", "no run %d" % (rid + 50), "a run that is not")
    t.check("GET /runs/{id}/artifacts lists them, expired ones marked", listing)

    def whole():
        r = d.get(base + "/app", token="reader")
        eq(r.status, 200, "status (%r)" % r.body[:200])
        eq(r.header("Content-Type"), "application/zstd", "Content-Type")
        eq(r.header("Content-Disposition"),
           'attachment; filename="%d-app.tar.zst"' % rid, "Content-Disposition")
        eq(len(r.body), size, "bytes")
        expect(r.body == data, "the download is not the blob")
    t.check("GET .../artifacts/{name} streams the archive whole", whole)

    def leaver():
        # A client that reads a little and resets the connection: the
        # daemon's next write fails with EPIPE (a signal would end it).
        # 32 MiB: more than loopback's socket buffers hold, so the daemon
        # is still writing when the reset comes.
        hugetree = os.path.join(d.dir, "hugetree")
        os.makedirs(hugetree)
        with open(os.path.join(hugetree, "blob"), "wb") as f:
            f.write(os.urandom(32 * 1024 * 1024))
        hdigest, hsize, _ = blob(d, hugetree, "huge")
        db = sqlite3.connect(os.path.join(d.data, "pipewright.db"), timeout=10)
        with db:
            db.execute("INSERT INTO artifacts (run_id, job_idx, job_name, name, digest,"
                       " size, files, created_ms, expires_ms, removed_ms)"
                       " VALUES (?, 0, 'build', 'huge', ?, ?, 1, ?, 0, 0)",
                       (rid, hdigest, hsize, int(time.time() * 1000)))
        db.close()
        host, port = d.url.split("//")[1].split(":")
        for _ in range(3):
            s = socket.create_connection((host, int(port)), timeout=pw.DEADLINE)
            s.sendall(("GET %s/huge HTTP/1.1\r\nHost: %s:%s\r\nAuthorization: Bearer %s\r\n\r\n"
                       % (base, host, port, d.tokens["reader"])).encode())
            head = s.recv(4096)
            expect(head.startswith(b"HTTP/1.1 200"), "the download began: %r" % head[:200])
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        eq(d.get("/healthz").status, 200, "/healthz after the clients left")
        eq(len(d.get(base + "/huge", token="reader").body), hsize, "a whole download after")
        db = sqlite3.connect(os.path.join(d.data, "pipewright.db"), timeout=10)
        with db:
            db.execute("DELETE FROM artifacts WHERE name = 'huge'")
        db.close()
    t.check("a client leaving halfway through a download leaves the daemon serving", leaver)

    def one_file():
        r = d.get(base + "/app?path=dir/a.txt", token="reader")
        eq((r.status, r.body), (200, b"hello\n"), "dir/a.txt")
        eq(r.header("Content-Type"), "application/octet-stream", "Content-Type")
        r = d.get(base + "/app?path=app", token="reader")
        expect(r.status == 200 and r.body == big, "app: %d, %d bytes" % (r.status, len(r.body)))
        d.expect_error(d.get(base + "/app?path=link", token="reader"), 400, "bad_request",
                       "'link' in artifact 'app' of run %d is not a regular file" % rid,
                       "a symlink")
        d.expect_error(d.get(base + "/app?path=dir", token="reader"), 400, "bad_request",
                       None, "a directory")
        d.expect_error(d.get(base + "/app?path=nope", token="reader"), 404, "not_found",
                       "no file 'nope' in artifact 'app' of run %d" % rid, "no such file")
    t.check("?path= gives one regular file of the archive", one_file)

    def gone_missing():
        e = d.expect_error(d.get(base + "/old", token="reader"), 410, "gone", None, "expired")
        expect(e["message"].startswith("artifact 'old' of job 'build' in run %d expired at "
                                       % rid), "410 message %r" % e["message"])
        d.expect_error(d.get(base + "/lost", token="reader"), 404, "not_found", None,
                       "a blob that is missing")
        d.expect_error(d.get(base + "/nosuch", token="reader"), 404, "not_found",
                       "run %d has no artifact 'nosuch'" % rid, "no such artifact")
    t.check("an expired artifact is 410 with when, a missing one 404", gone_missing)

    out = os.path.join(d.dir, "out")
    os.makedirs(out)

    def cli_download():
        rc, so, se = cli(d, "reader", "artifacts", str(rid), "-o", out, "--name", "app")
        eq(rc, 0, "exit (stderr %r)" % se)
        with open(os.path.join(out, "app.tar.zst"), "rb") as f:
            expect(f.read() == data, "app.tar.zst is not the archive")
        rc, so, se = cli(d, "reader", "artifacts", str(rid), "-o", out)
        eq(rc, 1, "exit with an expired and a missing artifact (stdout %r)" % so)
        expect("artifact 'old' of run %d expired" % rid in se, "stderr %r" % se)
        rc, so, se = cli(d, "reader", "artifacts", str(rid), "-o", out, "--name", "app",
                         "--path", "dir/a.txt")
        eq(rc, 0, "--path exit (stderr %r)" % se)
        with open(os.path.join(out, "a.txt")) as f:
            eq(f.read(), "hello\n", "a.txt")
        rc, so, se = cli(d, "reader", "artifacts", str(rid), "--list")
        eq(rc, 0, "--list exit (stderr %r)" % se)
        expect(so.startswith("NAME") and "expired" in so and "3.0 MiB" in so,
               "--list printed %r" % so)
        eq(sorted(f for f in os.listdir(out)), ["a.txt", "app.tar.zst"],
           "the files written (no temporary left)")
    t.check("pipewright artifacts downloads, --path fetches a file, --list lists",
            cli_download)

    def cli_damaged():
        place = os.path.join(d.data, "blobs", "sha256", digest[:2], digest)
        with open(place, "r+b") as f:
            f.seek(size // 2)
            f.write(b"\0" * 16)
        os.unlink(os.path.join(out, "app.tar.zst"))
        rc, so, se = cli(d, "reader", "artifacts", str(rid), "-o", out, "--name", "app")
        eq(rc, 1, "exit for a damaged download (stdout %r)" % so)
        expect("its SHA-256 is" in se and digest in se, "stderr %r" % se)
        eq(sorted(os.listdir(out)), ["a.txt"], "nothing left under the final name")
    t.check("a download whose digest differs is refused", cli_damaged)

    def caches():
        items = d.get_json("/api/v1/projects/demo/caches", token="reader")["items"]
        eq([(i["key"], i["scope"]) for i in items],
           [("npm/x y", "branch:main"), ("cargo-1", "pr:4"), ("cargo-1", "branch:main")],
           "the caches, newest first")
        rc, so, se = cli(d, "reader", "cache", "list", "demo")
        eq(rc, 0, "cache list exit (stderr %r)" % se)
        lines = so.splitlines()
        expect(lines[0].split() == ["KEY", "SCOPE", "SIZE", "CREATED", "LAST", "USED"],
               "header %r" % lines[0])
        eq([l.split()[0] for l in lines[1:]], ["npm/x", "cargo-1", "cargo-1"], "keys")
        rc, so, se = cli(d, "operator", "cache", "rm", "demo", "npm/x y")
        eq(rc, 1, "rm with an operate token (stdout %r)" % so)
        expect("lacks the 'admin' scope" in se, "stderr %r" % se)
        rc, so, se = cli(d, "admin", "cache", "rm", "demo", "cargo-1", "--scope", "pr:4")
        eq((rc, so), (0, "deleted cache 'cargo-1' (1 entry)\n"), "rm --scope (%r)" % se)
        rc, so, se = cli(d, "admin", "cache", "rm", "demo", "npm/x y")
        eq((rc, so), (0, "deleted cache 'npm/x y' (1 entry)\n"), "rm a key with / (%r)" % se)
        rc, so, se = cli(d, "admin", "cache", "rm", "demo", "npm/x y")
        eq(rc, 1, "a second rm")
        expect("project 'demo' has no cache 'npm/x y'" in se, "stderr %r" % se)
        eq([(i["key"], i["scope"]) for i in
            d.get_json("/api/v1/projects/demo/caches", token="reader")["items"]],
           [("cargo-1", "branch:main")], "what is left")
        audit = d.get_json("/api/v1/audit", token="admin")["items"]
        eq([(a["actor"], a["action"], a["detail"]) for a in audit],
           [("token admin", "cache.delete",
             "project=demo key=npm/x y scope=* deleted=1"),
            ("token admin", "cache.delete",
             "project=demo key=cargo-1 scope=pr:4 deleted=1")], "the audit trail")
    t.check("caches listed; rm by an admin, audited; none left to rm is 404", caches)

    d.stop()


pw.main(main)
