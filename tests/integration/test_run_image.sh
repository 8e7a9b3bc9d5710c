# pipewright run resolves a job's image through an image cache in its
# cache directory, as the daemon does: the job sees the image's files and
# Env, a second run finds it cached under the same digest, and
# --sandbox none with an image and a bad --image-registry are refused
# before anything runs.
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/sandbox_lib.sh"
for tool in skopeo umoci; do
	command -v $tool >/dev/null || { echo "SKIP: $tool is not installed"; exit 77; }
done
[ -x /bin/busybox ] || { echo "SKIP: /bin/busybox is missing (busybox-static)"; exit 77; }

PYTHONPATH="$HERE" python3 -c \
	'import sys, imagelib; imagelib.busybox_layout(sys.argv[1])' "$T/img"
cat > ci.yml <<YML
jobs:
  in-image:
    image: oci:$T/img:t
    script:
      - cat /marker
      - echo "env=\$FROM_IMAGE"
      - test -e /usr/lib/os-release && echo HOST-VISIBLE || echo host-hidden
YML
pw run -f ci.yml --cache-dir "$T/cache"
expect_rc 0
expect_out "[in-image] from-the-image"
expect_out "[in-image] env=yes"
expect_out "[in-image] host-hidden"
digest=$(sed -n 's/^\[in-image\] image oci:.*: pulled \(sha256:[0-9a-f]*\)$/\1/p' out)
[ -n "$digest" ] || fail "no 'pulled' line"
pw run -f ci.yml --cache-dir "$T/cache"
expect_rc 0
expect_out "[in-image] image oci:$T/img:t: cached $digest"

# A relative --cache-dir is the checkout's, for images as for caches.
pw run -f ci.yml --cache-dir rel-cache
expect_rc 0
expect_out "[in-image] from-the-image"
[ -d rel-cache/images/roots ] || fail "no image cache below ./rel-cache"

pw run -f ci.yml --cache-dir "$T/cache" --sandbox none
[ "$rc" -ne 0 ] || fail "--sandbox none with an image ran"
expect_out "pipewright: job 'in-image' has image 'oci:$T/img:t', which needs the strict sandbox; --sandbox none runs jobs on this machine's own root"
expect_no_out "from-the-image"

# --image-registry: each bad form said precisely, before any job.
pw run -f ci.yml --image-registry "reg/x,insecure"
expect_rc 2
expect_out "pipewright: --image-registry: invalid host 'reg/x'; expected a host[:port] such as registry.example.com:5000"
pw run -f ci.yml --image-registry "reg:5000,secure"
expect_rc 2
expect_out "pipewright: --image-registry reg:5000: unexpected 'secure'; expected insecure or authfile=FILE (last)"
pw run -f ci.yml --image-registry "reg:5000,authfile=$T/none.json"
expect_rc 2
expect_out "pipewright: --image-registry reg:5000: authfile $T/none.json: No such file or directory"
pw run -f ci.yml --image-registry reg:5000 --image-registry reg:5000,insecure
expect_rc 2
expect_out "pipewright: --image-registry reg:5000: given twice"
expect_no_out "from-the-image"
