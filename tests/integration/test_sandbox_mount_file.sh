# An admin's --mount of a single file is read-only in the job like a
# directory's, even where the file's mode lets anyone write it (0666):
# the job's write is refused and the host's file is unchanged.
. "$(dirname "$0")/sandbox_lib.sh"

f=$(mktemp /var/tmp/pw-mount-file.XXXXXX)
trap 'rm -rf "$T" "$f"' EXIT
echo orig > "$f"
chmod 0666 "$f"
cat > ci.yml <<YML
jobs:
  w:
    script:
      - cat $f
      - echo changed > $f && echo file-WRITABLE || echo file-readonly
YML
pw run -f ci.yml --mount "$f"
expect_rc 0
expect_out "[w] orig" "[w] file-readonly"
[ "$(cat "$f")" = orig ] || fail "the job wrote the host's file $f: $(cat "$f")"
true
