"""Images from a real registry: Debian's docker-registry, started by the
test on 127.0.0.1 with a config of its own (its default listens on every
interface), once open and once behind htpasswd.  The daemon's `images`
config names each registry `insecure` (plain http) and gives the second
one an authfile: the job runs in the pulled image; the same registry with
a wrong password, or with no authfile, ends the job before it starts with
the image named and the registry's refusal.  `pipewright run` pulls
from both with --image-registry (insecure, an authfile) and with the
credentials of `skopeo login`.  Skipped (77) where the
strict sandbox cannot run, or skopeo, umoci or docker-registry are
missing."""
import base64
import crypt
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import imagelib as il
import pwdaemon as pw
from pwdaemon import eq, expect


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def start_registry(t, work, name, htpasswd=None):
    port = free_port()
    conf = os.path.join(work, name + ".yml")
    lines = ["version: 0.1", "log: {level: error}",
             "storage: {filesystem: {rootdirectory: %s}}" % os.path.join(work, name),
             "http: {addr: '127.0.0.1:%d'}" % port]
    if htpasswd:
        lines.append("auth: {htpasswd: {realm: pw, path: %s}}" % htpasswd)
    with open(conf, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = subprocess.Popen(["docker-registry", "serve", conf],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t.procs.append(proc)
    end = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/v2/" % port, timeout=2)
            break
        except urllib.error.HTTPError:
            break   # 401: it answers
        except OSError:
            if proc.poll() is not None or time.monotonic() > end:
                pw.fail("docker-registry did not answer on port %d" % port)
            time.sleep(0.05)
    return "127.0.0.1:%d" % port


def authfile(path, host, user, password):
    token = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    with open(path, "w") as f:
        json.dump({"auths": {host: {"auth": token}}}, f)
    os.chmod(path, 0o600)
    return path


def main(t):
    why = pw.strict_sandbox_missing() or il.missing_tools()
    if not why and shutil.which("docker-registry") is None:
        why = "docker-registry is not installed (Debian package docker-registry)"
    if why:
        pw.skip("registry images cannot be tested here: %s" % why)
    work = tempfile.mkdtemp(prefix="pw-reg.", dir="/var/tmp")
    try:
        scenarios(t, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scenarios(t, work):
    bb = il.busybox_layout(os.path.join(work, "bb"), marker="from-the-registry")
    htpasswd = os.path.join(work, "htpasswd")
    with open(htpasswd, "w") as f:
        f.write("ci:%s\n" % crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH)))
    open_host = start_registry(t, work, "open")
    auth_host = start_registry(t, work, "auth", htpasswd)
    private = il.busybox_layout(os.path.join(work, "private"), marker="from-the-registry-too")
    for host, img, creds in ((open_host, bb, []),
                             (auth_host, private, ["--dest-creds", "ci:s3cret"])):
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false"] + creds +
                       ["oci:" + img, "docker://%s/pw/bb:1" % host], check=True)
    good = authfile(os.path.join(work, "good.json"), auth_host, "ci", "s3cret")
    bad = authfile(os.path.join(work, "bad.json"), auth_host, "ci", "wrong")

    def pipeline(host):
        return "jobs:\n  j:\n    image: %s/pw/bb:1\n    script: [cat /marker]\n" % host

    def config(auth):
        regs = ["{host: '%s', insecure: true}" % open_host]
        regs.append("{host: '%s', insecure: true%s}" %
                    (auth_host, ", authfile: %s" % auth if auth else ""))
        return ("sandbox:\n  mode: strict\nimages:\n  registries: [%s]\n" %
                ", ".join(regs))

    d = t.daemon(projects={}, config=config(good), start=False)

    def restart(auth):
        d.write_config({"open": pipeline(open_host), "auth": pipeline(auth_host)},
                       config=config(auth))
        if d.proc is not None and d.proc.poll() is None:
            d.stop()
        d.start()

    def runs(project, status):
        rid = d.trigger(project)["id"]
        run = d.wait_run(rid)
        log = d.get("/api/v1/runs/%d/jobs/j/log" % rid).text
        eq(run["status"], status, "run status (log: %r)" % log)
        atts = [j for j in run["jobs"] if j["name"] == "j"][0].get("attempts") or []
        return log, (atts[-1].get("reason") if atts else None) or ""

    def pulled(project, marker):
        restart(good)
        log, _ = runs(project, "success")
        expect(marker in log.splitlines(), "the image's file in %r" % log)
        expect("pulled sha256:" in log, "a 'pulled' line in %r" % log)
    t.check("an image from an open registry", pulled, "open", "from-the-registry")
    t.check("an image from a registry with credentials from an authfile", pulled,
            "auth", "from-the-registry-too")

    def refused(auth):
        restart(auth)
        _, reason = runs("auth", "failed")
        expect("image '%s/pw/bb:1': cannot resolve it" % auth_host in reason,
               "the image named in %r" % reason)
        expect("unauthorized" in reason.lower() or "authentication" in reason.lower(),
               "the registry's refusal in %r" % reason)
        expect("s3cret" not in d.log() and "wrong" not in reason,
               "no password in the log or the reason")
    t.check("refused credentials end the job, naming the image and why", refused, bad)
    t.check("no credentials for a registry that needs them", refused, None)

    def run_cli(name, host, registry_args, env=None):
        """pipewright run of a job in host's image, in a checkout of its own."""
        co = os.path.join(work, "co-" + name)
        os.makedirs(co)
        with open(os.path.join(co, ".pipewright.yml"), "w") as f:
            f.write(pipeline(host))
        args = [os.environ["PW_BIN"], "run", "--cache-dir", os.path.join(co, ".cache")]
        for r in registry_args:
            args += ["--image-registry", r]
        full = dict(os.environ, **(env or {}))
        p = subprocess.run(args, cwd=co, env=full, capture_output=True, text=True,
                           timeout=120)
        return p.returncode, p.stdout + p.stderr

    def run_open():
        rc, out = run_cli("plain", open_host, [])
        expect(rc != 0 and "[j] from-the-registry" not in out,
               "a plain-http registry not named insecure was used: %r" % out)
        rc, out = run_cli("open", open_host, [open_host + ",insecure"])
        eq(rc, 0, "run's exit (output %r)" % out)
        expect("[j] from-the-registry" in out.splitlines(), "the image's file in %r" % out)
    t.check("pipewright run --image-registry HOST,insecure pulls from a plain-http "
            "registry", run_open)

    def run_authfile():
        rc, out = run_cli("authfile", auth_host, [auth_host + ",insecure,authfile=" + good])
        eq(rc, 0, "run's exit (output %r)" % out)
        expect("[j] from-the-registry-too" in out.splitlines(), "the image's file in %r" % out)
        rc, out = run_cli("badauth", auth_host, [auth_host + ",insecure,authfile=" + bad])
        expect(rc != 0 and "cannot resolve it" in out and "s3cret" not in out,
               "wrong credentials refused, naming the image: %r" % out)
    t.check("pipewright run --image-registry HOST,authfile=FILE", run_authfile)

    def run_skopeo_login():
        # Where `skopeo login` keeps credentials: $XDG_RUNTIME_DIR/containers.
        xdg = os.path.join(work, "xdg")
        os.makedirs(os.path.join(xdg, "containers"), mode=0o700)
        authfile(os.path.join(xdg, "containers", "auth.json"), auth_host, "ci", "s3cret")
        rc, out = run_cli("login", auth_host, [auth_host + ",insecure"],
                          env={"XDG_RUNTIME_DIR": xdg, "REGISTRY_AUTH_FILE": ""})
        eq(rc, 0, "run's exit (output %r)" % out)
        expect("[j] from-the-registry-too" in out.splitlines(), "the image's file in %r" % out)
    t.check("pipewright run uses skopeo's own credentials (skopeo login) by default",
            run_skopeo_login)


if __name__ == "__main__":
    pw.main(main)
