# `pipewright run` keeps caches in $XDG_CACHE_HOME/pipewright (or
# --cache-dir), through the daemon's reuse step: the first run misses and
# saves, a second one (its cached directory gone) hits and restores; a
# restore never overwrites a file the developer has; --no-cache neither
# restores nor saves (with --clean the artifacts still pass); --clean passes build's artifacts to the job that
# needs it, in its fresh workspace, and a job whose source saved none is
# told so (and fails, here, for want of the file).
. "$(dirname "$0")/lib.sh"

export XDG_CACHE_HOME="$T/xdg"
mkdir repo
cd repo
git init -q -b main .
printf 'out\n' >> .git/info/exclude      # pw's own output file
cat > .pipewright.yml <<'YML'
stages: [build, test]
jobs:
  build:
    stage: build
    cache:
      key: {prefix: dep, files: [deps.txt]}
      paths: [cachedir/]
    artifacts:
      paths: [dist/app]
    script:
      - if [ -f cachedir/stamp ]; then echo "warm $(cat cachedir/stamp) $(cat cachedir/other)"; else echo cold; fi
      - mkdir -p cachedir dist && echo built > cachedir/stamp && echo other > cachedir/other
      - echo app-binary > dist/app
  test:
    stage: test
    needs: [build]
    script:
      - echo "got $(cat dist/app)"
YML
cat > report.yml <<'YML'
stages: [one, two]
jobs:
  maker:
    stage: one
    artifacts:
      paths: [report.txt]
      when: on_failure
    script: [echo made > report.txt]
  user:
    stage: two
    needs: [maker]
    script:
      - test -e report.txt || { echo "no report.txt from maker"; exit 4; }
YML
echo 1 > deps.txt
printf 'cachedir/\ndist/\n' > .gitignore
git add -A
git -c user.name=t -c user.email=t@example.invalid commit -q -m first

# First run: a miss, then saved in branch main's scope.
pw run --sandbox none
expect_rc 0
expect_out "==> caches in $XDG_CACHE_HOME/pipewright (branch:main)" "[build] cold"
grep -q '^\[build\] cache miss: dep-[0-9a-f]\{64\}$' out || fail "no miss line"
grep -q '^\[build\] cache saved: dep-[0-9a-f]\{64\} (branch:main) .* saved in ' out ||
	fail "no saved line"
key=$(sed -n 's/^\[build\] cache miss: \(dep-[0-9a-f]*\)$/\1/p' out)
[ -f "$XDG_CACHE_HOME/pipewright/local.db" ] || fail "no store in \$XDG_CACHE_HOME/pipewright"
[ -n "$(find "$XDG_CACHE_HOME/pipewright/blobs/sha256" -type f)" ] || fail "no blob saved"

# Second run, the cached directory gone: a hit, restored, not saved again.
rm -rf cachedir dist
pw run --sandbox none
expect_rc 0
expect_out "[build] warm built other" \
	"[build] cache not saved: $key: skipped, the key exists (branch:main)"
grep -q "^\[build\] cache hit: $key (branch:main) .* restored in " out || fail "no hit line"

# keep_existing: the developer's changed file stays; the missing one
# comes back.
echo mine > cachedir/stamp
rm cachedir/other
pw run --sandbox none --only build
expect_rc 0
expect_out "[build] warm mine other"
grep -q "^\[build\] cache hit: $key " out || fail "no hit line"

# --no-cache: a new key is neither looked up nor saved, so the next run
# misses it.
echo 2 > deps.txt
rm -rf cachedir
pw run --sandbox none --no-cache --only build
expect_rc 0
expect_out "[build] cold"
expect_no_out "cache hit" "cache miss" "cache saved" "caches in"
rm -rf cachedir
pw run --sandbox none --only build
expect_rc 0
grep -q '^\[build\] cache miss: dep-[0-9a-f]\{64\}$' out || fail "--no-cache saved the cache"
expect_out "[build] cold"

# --cache-dir: the store and blobs go there, the XDG one is not read.
rm -rf cachedir
pw run --sandbox none --cache-dir "$T/other-cache" --only build
expect_rc 0
expect_out "==> caches in $T/other-cache (branch:main)" "[build] cold"
grep -q '^\[build\] cache miss: ' out || fail "--cache-dir read another store"
[ -f "$T/other-cache/local.db" ] || fail "no store in --cache-dir"
[ -n "$(find "$T/other-cache/blobs/sha256" -type f)" ] || fail "no blob in --cache-dir"

# --clean: test gets build's artifact in its fresh workspace; build's
# cache is restored into its own.
git checkout -q deps.txt
blobs_before=$(find "$XDG_CACHE_HOME/pipewright/blobs/sha256" -type f | wc -l)
pw run --sandbox none --clean
expect_rc 0
expect_out "[build] warm built other" "[build] artifacts saved: build, 1 files, 11 bytes" \
	"[test] artifacts of build restored: 1 files, 11 bytes" "[test] got app-binary"
[ ! -e dist/app ] || [ "$(cat dist/app)" = app-binary ] || fail "the checkout changed"
# The run's artifacts are dropped with it: only the caches' blobs stay.
blobs=$(find "$XDG_CACHE_HOME/pipewright/blobs/sha256" -type f | wc -l)
[ "$blobs" -eq "$blobs_before" ] || fail "$blobs blobs kept, expected $blobs_before"

# --clean --no-cache: the artifacts still pass (through the run's
# temporary directory); no cache is read or saved, no directory made.
pw run --sandbox none --clean --no-cache --cache-dir "$T/unused"
expect_rc 0
expect_out "[build] cold" "[test] artifacts of build restored: 1 files, 11 bytes" \
	"[test] got app-binary"
expect_no_out "cache hit" "cache miss" "cache saved" "caches in"
[ ! -e "$T/unused" ] || fail "--no-cache made the cache directory"

# A job whose source saved no artifact is told so, and the file is not
# there.
pw run --sandbox none --clean -f report.yml
expect_rc 1
expect_out "[user] artifacts of maker: none (it saved none: its \`when: on_failure\` did not match, or it did not run)" \
	"[user] no report.txt from maker" "==> user: failed: exit status 4"
# Without --clean the jobs share the checkout: nothing to pass.
rm -f report.txt
pw run --sandbox none -f report.yml
expect_rc 0
expect_no_out "artifacts of maker"
rm -f report.txt

echo PASS
