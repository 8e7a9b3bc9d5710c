# --rootfs and --mount: a strict job in a root the test builds (Debian's
# busybox-static and its applet links) sees that root's files and not the
# host's, the root's root-owned files as its root's (idmapped) and a file
# of uid 1000 as uid 1000's, cannot write the root (nor does anything it
# does reach the tree on disk; a second job shares it at the same time),
# has its workspace, HOME, /tmp and an /etc/hosts (and a granted network's
# resolv.conf); an admin's host path (--mount) is there read-only, with
# and without a rootfs.  A root whose /tmp, /proc and /dev are symlinks to the
# host's directories gets its own, and the host's stay empty.  Bad paths
# are refused with the reason.
. "$(dirname "$0")/sandbox_lib.sh"

bb=$(command -v busybox) || { echo "SKIP: busybox (busybox-static) is not installed"; exit 77; }
file -L "$bb" 2>/dev/null | grep -q 'statically linked' ||
	{ echo "SKIP: $bb is not statically linked (install busybox-static)"; exit 77; }

root=$T/root
mkdir -p "$root/bin" "$root/etc" "$root/root" "$root/home/builder"
cp "$bb" "$root/bin/busybox"
for a in $("$root/bin/busybox" --list); do
	[ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"
done
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "image-$$" > "$root/etc/pw-image"
chmod 0700 "$root/root"
echo secret > "$root/root/only-root"
chown 1000:1000 "$root/home/builder"
chmod -R go-w "$root"
listing() { find "$root" -printf '%p %m %U:%G %s %C@\n' | sort; }
listing > "$T/before"

# A toolchain outside /tmp (the sandbox's own): mounted read-only.
tool=$(mktemp -d /var/tmp/pw-tool.XXXXXX)
trap 'rm -rf "$T" "$tool"' EXIT
mkdir "$tool/bin"
printf '#!/bin/sh\necho tool-ok\n' > "$tool/bin/pwtool"
chmod -R a+rX "$tool"
chmod a+x "$tool/bin/pwtool"

cat > ci.yml <<'YML'
jobs:
  look:
    script:
      - cat /etc/pw-image
      - test -e /etc/debian_version && echo host-VISIBLE || echo host-hidden
      - test -e /usr/bin/apt && echo hostusr-VISIBLE || echo hostusr-hidden
      - echo "ids $(stat -c '%u:%g' /etc/pw-image /root/only-root /home/builder | tr '\n' ' ')"
      - cat /root/only-root
      - touch /etc/x 2>/dev/null && echo etc-WRITABLE || echo etc-readonly
      - touch /newdir 2>/dev/null && echo root-WRITABLE || echo root-readonly
      - echo written > ws.txt && echo workspace-ok
      - touch "$HOME/h" /tmp/t && echo home-tmp-ok
      - grep -q localhost /etc/hosts && echo hosts-ok
      - pwtool
      - touch "$(dirname "$(command -v pwtool)")/x" 2>/dev/null && echo tool-WRITABLE || echo tool-readonly
  twin:
    script:
      - echo "twin $(cat /etc/pw-image)"
YML
pw run -f ci.yml --jobs 2 --rootfs "$root" --mount "$tool" --env "PATH=$tool/bin:/bin"
expect_rc 0
expect_out "[twin] twin image-$$"
expect_out "[look] image-$$" "[look] host-hidden" "[look] hostusr-hidden" \
	"[look] ids 0:0 0:0 1000:1000 " "[look] secret" "[look] etc-readonly" \
	"[look] root-readonly" "[look] workspace-ok" "[look] home-tmp-ok" \
	"[look] hosts-ok" "[look] tool-ok" "[look] tool-readonly"
[ "$(cat ws.txt)" = written ] || fail "the workspace file is missing on the host"
listing | cmp -s - "$T/before" ||
	fail "the root on disk changed: $(listing | diff "$T/before" - | head)"
[ ! -e "$tool/bin/x" ] || fail "the job wrote into the mounted toolchain"

# The host's root with an admin's mount: there, read-only, at its path.
cat > host.yml <<'YML'
jobs:
  host:
    script:
      - test -e /etc/debian_version && echo host-root
      - pwtool
      - touch "$(dirname "$(command -v pwtool)")/x" 2>/dev/null && echo tool-WRITABLE || echo tool-readonly
YML
pw run -f host.yml --mount "$tool" --env "PATH=$tool/bin:/bin:/usr/bin"
expect_rc 0
expect_out "[host] host-root" "[host] tool-ok" "[host] tool-readonly"

# A granted network in a root without /etc/resolv.conf nor /etc/hosts:
# the job gets slirp4netns's resolver and a hosts file all the same.
if command -v slirp4netns >/dev/null; then
	cat > net.yml <<'YML'
jobs:
  net:
    network: true
    script:
      - grep '^nameserver' /etc/resolv.conf
      - grep -q '^127.0.0.1.*localhost' /etc/hosts && echo hosts-ok
YML
	pw run -f net.yml --rootfs "$root"
	expect_rc 0
	expect_out "[net] nameserver 10.0.2.3" "[net] hosts-ok"
	[ ! -e "$root/etc/resolv.conf" ] && [ ! -e "$root/etc/hosts" ] ||
		fail "files were made in the root on disk"
else
	echo "note: slirp4netns is missing: the granted network's files are not checked"
fi

# A hostile root: /tmp, /proc and /dev are absolute symlinks to host
# directories.  The job's own /tmp, /proc and /dev are made in its root
# (symlinks resolve inside it), nothing lands in the host's directories.
cp -a "$root" "$T/hostile"
mkdir "$T/esc-tmp" "$T/esc-proc" "$T/esc-dev"
for d in tmp proc dev; do ln -s "$T/esc-$d" "$T/hostile/$d"; done
cat > hostile.yml <<'YML'
jobs:
  hostile:
    script:
      - touch /tmp/t && test "$(awk '$2 == "/tmp" {print $3}' /proc/self/mounts)" = tmpfs && echo own-tmp
      - test -e /proc/self/status && echo own-proc
      - echo x > /dev/null && echo own-dev
YML
pw run -f hostile.yml --rootfs "$T/hostile"
expect_rc 0
expect_out "[hostile] own-tmp" "[hostile] own-proc" "[hostile] own-dev"
left=$(find "$T/esc-tmp" "$T/esc-proc" "$T/esc-dev" -mindepth 1)
[ -z "$left" ] || fail "the job's mounts went into the host's directories: $left"

# Refused: a relative path, a missing one, a rootfs that is a file, any
# of them without strict; a mount over the sandbox's own /tmp.
pw run -f ci.yml --mount relative/dir
expect_rc 2
expect_out "pipewright: --mount: expected an absolute path, got 'relative/dir'"
pw run -f ci.yml --rootfs "$T/missing"
expect_rc 2
expect_out "pipewright: --rootfs $T/missing: No such file or directory"
pw run -f ci.yml --rootfs "$T/ci.yml"
expect_rc 2
expect_out "pipewright: --rootfs $T/ci.yml: not a directory"
pw run -f ci.yml --sandbox none --mount "$tool"
expect_rc 2
expect_out "pipewright: --mount needs the strict sandbox (with --sandbox none a job sees the host as it is)"
pw run -f ci.yml --rootfs "$root" --mount "$T"
expect_rc 1
expect_out "==> look: failed: sandbox: --mount $T: expected an absolute path without . or .. clear of /dev, /proc, /tmp, HOME and the workspace"
true
