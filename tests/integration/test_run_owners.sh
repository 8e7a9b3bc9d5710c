# pipewright run as root, whoever owns the checkout, whichever sandbox ran
# first: the files jobs leave are always the checkout owner's, and the next
# job can write them.
#  - a root-owned checkout (a CI box, a container): strict jobs run as an
#    unprivileged host id (seen from the host while they run) and see the
#    checkout through an idmapped mount: root's files are theirs to write,
#    and what they write is root's; likewise for `user: 1000` and for
#    --clean workspaces;
#  - a developer's checkout run with --sandbox none, then strict: the
#    none job ran as the owner, so the strict job can rewrite its files;
#  - strict then none in a root-owned checkout: root's files throughout.
. "$(dirname "$0")/sandbox_lib.sh"

mkdir repo
cd repo
chown 0:0 .
git init -q -b main .
printf "out\nbuild\n" >> .git/info/exclude
echo 'old' > old.txt
cat > .pipewright.yml <<'YML'
stages: [one, two]
jobs:
  write:
    stage: one
    script:
      - echo "uid $(id -u) owner $(stat -c %u old.txt)"
      - echo more >> old.txt && mkdir -p build && echo new > build/new.txt
      - touch ready; while [ ! -e go ]; do sleep 0.05; done
  as-user:
    stage: two
    user: 1000
    script:
      - echo "user $(id -u) sees $(stat -c %u build/new.txt)"
      - echo again >> build/new.txt && rm old.txt.bak 2>/dev/null; echo "user wrote"
YML
git add -A
git -c user.name=t -c user.email=t@example.invalid commit -q -m first
cp old.txt old.txt.bak

rc=0
timeout -k 5 60 "$PW_BIN" run >out 2>&1 &
pid=$!
wait_for_file ready
# The job's processes from the host (in a pid namespace of their own:
# two NSpid numbers): an unprivileged uid, never root.
juid=""
for p in /proc/[0-9]*; do
	[ "$p/cwd" -ef "$PWD" ] || continue
	st=$(grep -E '^(Uid|NSpid):' "$p/status" 2>/dev/null) || continue
	grep -qE '^NSpid:\s+[0-9]+\s+[0-9]+' <<<"$st" || continue
	u=$(awk '/^Uid:/ {print $2}' <<<"$st")
	[ "$u" != 0 ] || { touch go; wait "$pid" || true; fail "a strict job ran as host root"; }
	juid=$u
done
touch go
wait "$pid" || rc=$?
rm -f ready go
expect_rc 0
[ -n "$juid" ] || fail "no process of the job found in the checkout"
expect_out "[write] uid 0 owner 0" "[as-user] user 1000 sees 1000" "[as-user] user wrote"
for f in old.txt build build/new.txt; do
	[ "$(stat -c %u:%g "$f")" = "0:0" ] || fail "$f is $(stat -c %u:%g "$f") on the host, not root's"
done
[ "$(cat build/new.txt)" = "$(printf 'new\nagain')" ] || fail "build/new.txt: $(cat build/new.txt)"
[ ! -e old.txt.bak ] || fail "user 1000 could not remove a root-owned file"

# --clean: git as the checkout's owner (root); the job's workspace too.
echo dirty >> old.txt
cat > clean.yml <<'YML'
jobs:
  c:
    user: 1000
    script: [echo "clean $(id -u) $(cat old.txt)", touch mine]
YML
git add clean.yml
git -c user.name=t -c user.email=t@example.invalid commit -q -m clean
pw run --clean -f clean.yml
expect_rc 0
expect_out "[c] clean 1000 old"
grep -qF "uncommitted changes in $PWD are left out (such as ' M old.txt'" out ||
	fail "--clean did not say that uncommitted changes are left out"
git checkout -q old.txt
pw run --clean -f clean.yml
expect_rc 0
expect_no_out "uncommitted"
! grep -q "uncommitted changes" out || fail "--clean warned on a clean checkout"

# A developer's checkout: none first (as its owner), then strict.
cd "$T"
mkdir dev
chown "$PW_JOB_UID:$PW_JOB_UID" dev
cd dev
cat > .pipewright.yml <<'YML'
jobs:
  j:
    script: ["echo ran as $(id -u)", mkdir -p build, echo x >> build/log]
YML
pw run --sandbox none
expect_rc 0
expect_out "[j] ran as $PW_JOB_UID"
[ "$(stat -c %u build/log)" = "$PW_JOB_UID" ] || fail "a none job left $(stat -c %u build/log)'s file"
pw run
expect_rc 0
expect_out "[j] ran as 0"
[ "$(wc -l < build/log)" -eq 2 ] || fail "the strict job could not append to the none job's file"
[ "$(stat -c %u build/log)" = "$PW_JOB_UID" ] || fail "build/log changed owner"

# Strict then none in a root-owned checkout: root's files throughout.
cd "$T"
mkdir rootco
cd rootco
cp ../dev/.pipewright.yml .
pw run
expect_rc 0
pw run --sandbox none
expect_rc 0
[ "$(wc -l < build/log)" -eq 2 ] || fail "none after strict: $(wc -l < build/log) lines"
[ "$(stat -c %u:%g build build/log)" = "$(printf '0:0\n0:0')" ] || fail "strict left non-root files in a root checkout"
echo ok
