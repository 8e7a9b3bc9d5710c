#!/bin/bash
# rootfs_run.sh TEST: runs the sandbox's scenario TEST unchanged with every
# job in a Debian minbase root with python3 (rootfs_debian.sh, cached)
# instead of the host's: lib.sh's `pw run` adds --rootfs.  Exits 77 when
# the root cannot be made here, saying why.
set -euo pipefail
root=$("$(dirname "$0")/rootfs_debian.sh") || exit $?
[ -x "$root/usr/bin/python3" ] || { echo "FAIL: $root has no python3"; exit 1; }
export PW_TEST_ROOTFS=$root
exec bash "$1"
