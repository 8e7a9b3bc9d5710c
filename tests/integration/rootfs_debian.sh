#!/bin/sh
# Prints the path of a Debian minbase root with python3, ps and ip, for
# running the sandbox's escape tests inside an image root
# (test_sandbox_*.sh with PW_TEST_ROOTFS).  Made once with debootstrap from apt's first mirror for
# this machine's suite (about a minute) and cached, read-only to jobs,
# under /var/cache/pipewright-test; a root older than 30 days is made
# again.  Exits 77 saying why when it cannot be made (not root, no
# debootstrap, no mirror).  One caller at a time makes or checks it.
set -eu
CACHE=${PW_TEST_CACHE:-/var/cache/pipewright-test}
[ "$(id -u)" -eq 0 ] || { echo "SKIP: needs root (debootstrap)" >&2; exit 77; }
command -v debootstrap >/dev/null ||
	{ echo "SKIP: debootstrap is not installed" >&2; exit 77; }
. /etc/os-release
suite=${VERSION_CODENAME:?}
mirror=$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources \
	2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=$(awk -v s="$suite" '$1 == "deb" && $3 == s {print $2; exit}' \
	/etc/apt/sources.list 2>/dev/null)
[ -n "$mirror" ] || { echo "SKIP: no mirror for $suite in apt's sources" >&2; exit 77; }
arch=$(dpkg --print-architecture)
include=python3,procps,iproute2
root="$CACHE/rootfs-$suite-$arch-minbase-$(echo "$include" | tr , -)"
mkdir -p "$CACHE"
chmod 0755 "$CACHE"
exec 9>"$CACHE/rootfs.lock"
flock 9
if [ -f "$root/.complete" ] && [ -n "$(find "$root/.complete" -mtime -30)" ]; then
	echo "$root"
	exit 0
fi
rm -rf "$root" "$root.new"
if ! debootstrap --variant=minbase --include="$include" "$suite" "$root.new" "$mirror" \
	>"$CACHE/rootfs.log" 2>&1; then
	tail -n 20 "$CACHE/rootfs.log" >&2
	rm -rf "$root.new"
	echo "FAIL: debootstrap failed (log: $CACHE/rootfs.log)" >&2
	exit 1
fi
rm -rf "$root.new/var/cache/apt/archives"
chmod 0755 "$root.new"
touch "$root.new/.complete"
mv "$root.new" "$root"
# Roots made for another list of packages go.
for d in "$CACHE"/rootfs-*; do
	[ "$d" = "$root" ] || [ ! -d "$d" ] || rm -rf "$d"
done
echo "$root"
