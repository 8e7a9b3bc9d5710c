"""Images for the image tests, made by the test itself: a busybox root
packed by umoci into an OCI layout, and layouts written by hand (layers as
tar archives made here) for the hostile shapes umoci must never see."""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile


def missing_tools():
    """What the image tests need and this machine lacks, or None."""
    for tool in ("skopeo", "umoci"):
        if shutil.which(tool) is None:
            return "%s is not installed (Debian package %s)" % (tool, tool)
    if not os.path.exists("/bin/busybox"):
        return "/bin/busybox is missing (Debian package busybox-static)"
    return None


def run(*argv):
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)


def busybox_layout(layout, tag="t", marker="from-the-image", user=None, passwd=None):
    """An OCI layout at `layout` with image `tag`: /bin/busybox, its
    applets as links, /marker, Env PATH=/bin:/usr/bin; its config's User
    `user` (none: root) and `passwd` as its /etc/passwd (none: no file)."""
    bundle = layout + ".bundle"
    run("umoci", "init", "--layout", layout)
    run("umoci", "new", "--image", "%s:%s" % (layout, tag))
    run("umoci", "unpack", "--image", "%s:%s" % (layout, tag), bundle)
    root = os.path.join(bundle, "rootfs")
    os.makedirs(os.path.join(root, "bin"), exist_ok=True)
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    shutil.copy2("/bin/busybox", os.path.join(root, "bin", "busybox"))
    out = subprocess.run(["/bin/busybox", "--list"], capture_output=True, text=True,
                         check=True).stdout.split()
    for applet in out:
        p = os.path.join(root, "bin", applet)
        if not os.path.lexists(p):
            os.symlink("busybox", p)
    with open(os.path.join(root, "marker"), "w") as f:
        f.write(marker + "\n")
    if passwd is not None:
        os.makedirs(os.path.join(root, "etc"), exist_ok=True)
        with open(os.path.join(root, "etc", "passwd"), "w") as f:
            f.write(passwd)
    run("umoci", "repack", "--image", "%s:%s" % (layout, tag), bundle)
    run("umoci", "config", "--image", "%s:%s" % (layout, tag),
        "--config.env", "PATH=/bin:/usr/bin", "--config.env", "FROM_IMAGE=yes",
        *(["--config.user", user] if user is not None else []))
    shutil.rmtree(bundle)
    return "%s:%s" % (layout, tag)


def _blob(layout, data):
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def _layer(entries):
    """entries: tarfile.TarInfo objects (with .data bytes for files)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for ti in entries:
            data = getattr(ti, "data", None)
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return gzip.compress(raw.getvalue())


class _Entry(tarfile.TarInfo):
    data = None


def entry(name, kind="file", data=b"x", target=None):
    ti = _Entry(name)
    ti.mode = 0o755 if kind == "dir" else 0o644
    if kind == "file":
        ti.data = data
    elif kind == "dir":
        ti.type = tarfile.DIRTYPE
    elif kind == "symlink":
        ti.type = tarfile.SYMTYPE
        ti.linkname = target
    elif kind == "hardlink":
        ti.type = tarfile.LNKTYPE
        ti.linkname = target
    elif kind == "chardev":
        ti.type = tarfile.CHRTYPE
        ti.devmajor, ti.devminor = 1, 3
    return ti


def hand_layout(layout, layers, tag="t"):
    """An OCI layout whose layers are lists of entry()s, written as given."""
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diffs = [], []
    for entries in layers:
        data = _layer(entries)
        d = _blob(layout, data)
        d["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
        descs.append(d)
        diffs.append("sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest())
    config = {"architecture": "amd64", "os": "linux",
              "config": {"Env": ["PATH=/bin"]},
              "rootfs": {"type": "layers", "diff_ids": diffs}}
    c = _blob(layout, json.dumps(config).encode())
    c["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "config": c, "layers": descs,
                "mediaType": "application/vnd.oci.image.manifest.v1+json"}
    m = _blob(layout, json.dumps(manifest).encode())
    m["mediaType"] = "application/vnd.oci.image.manifest.v1+json"
    m["annotations"] = {"org.opencontainers.image.ref.name": tag}
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [m]}, f)
    return "%s:%s" % (layout, tag)
