# `pipewright run --clean` runs each job as the server does: in a fresh
# workspace of its own, the checkout's HEAD commit, files at their
# commits' times.  A file the first job writes is not in the second's; an
# uncommitted file and an untracked one of the checkout are not there; a
# retry starts afresh; the checkout is left as it was.  Without --clean the
# jobs share the checkout.  Sandbox none runs at the host path; strict
# (where it can run) at /builds/<the checkout directory's name>.
. "$(dirname "$0")/lib.sh"

mkdir repo
cd repo
git init -q -b main .
echo out >> .git/info/exclude      # pw's own output file
cat > .pipewright.yml <<'YML'
stages: [one, two]
jobs:
  write:
    stage: one
    script:
      - echo "where ws=$PIPEWRIGHT_WORKSPACE pwd=$(pwd -P)"
      - echo "mtimes $(stat -c %Y a.txt) $(stat -c %Y .pipewright.yml)"
      - echo "a is $(cat a.txt); untracked $(test -e untracked && echo yes || echo no)"
      - echo from-write > left-by-write
  read:
    stage: two
    retry: 1
    script:
      - if [ -e left-by-write ]; then echo "shared""-workspace"; fi
      - if [ -e left-by-attempt ]; then echo "stale""-workspace"; exit 3; fi
      - touch left-by-attempt
      - echo "read attempt $PIPEWRIGHT_ATTEMPT"
      - test "$PIPEWRIGHT_ATTEMPT" = 2
YML
echo committed > a.txt
git add -A
GIT_COMMITTER_DATE='@1500000000 +0000' git -c user.name=t -c user.email=t@example.invalid \
	commit -q -m first
echo uncommitted > a.txt
echo x > untracked
if [ "$(id -u)" -eq 0 ]; then chown -R "$PW_JOB_UID:$PW_JOB_UID" .; fi
# -mindepth 1: the checkout's own directory changes when pw makes ./out.
before=$(find . -mindepth 1 \( -path ./.git -o -path ./out \) -prune -o -print0 | sort -z | xargs -0 stat -c '%n %s %Y' | sha256sum)
status=$(git status --porcelain)

pw run --clean --sandbox none
expect_rc 0
expect_out "[write] a is committed; untracked no" "[write] mtimes 1500000000 1500000000" \
	"[read] read attempt 1" "[read] read attempt 2"
expect_no_out "shared-workspace" "stale-workspace"
grep -q '^\[write\] where ws=/.*/jobs/0 pwd=/.*/jobs/0$' out || fail "write's host path"
ws=$(sed -n 's/^\[write\] where ws=\([^ ]*\) .*/\1/p' out)
case $ws in "$PWD"*) fail "a --clean job ran inside the checkout: $ws" ;; esac
[ ! -e "$ws" ] || fail "the job's workspace $ws outlived the run"
[ ! -e left-by-write ] && [ ! -e left-by-attempt ] || fail "a job wrote into the checkout"
after=$(find . -mindepth 1 \( -path ./.git -o -path ./out \) -prune -o -print0 | sort -z | xargs -0 stat -c '%n %s %Y' | sha256sum)
[ "$before" = "$after" ] || fail "the checkout's files changed"
[ "$(git status --porcelain)" = "$status" ] || fail "git status changed: $(git status --porcelain)"

# Without --clean: the checkout itself, shared by the jobs.
pw run --sandbox none
expect_rc 1
expect_out "[write] a is uncommitted; untracked yes" "[read] shared-workspace" \
	"==> read: failed: exit status 3" \
	"[write] where ws=$PWD pwd=$PWD"
rm -f left-by-write left-by-attempt

# A checkout without a commit: --clean says why.
mkdir ../empty
cd ../empty
cp ../repo/.pipewright.yml .
git init -q .
pw run --clean --sandbox none
expect_rc 1
expect_out "pipewright: --clean: $PWD has no commit to check out (git rev-parse HEAD failed): commit first, or run without --clean"
cd ../repo

why=$( [ "$(id -u)" -eq 0 ] || echo "not root"; unshare -U -p -m -n --fork true 2>/dev/null || echo "no namespaces")
if [ -n "$why" ]; then
	echo "SKIP (strict part): the strict sandbox cannot run here: $why"
	exit 0
fi
pw run --clean
expect_rc 0
expect_out "[write] where ws=/builds/repo pwd=/builds/repo" \
	"[write] mtimes 1500000000 1500000000" "[read] read attempt 2"
expect_no_out "shared-workspace" "stale-workspace"
[ ! -e left-by-write ] || fail "a strict job wrote into the checkout"

# Refused before any job, strict: one line, and nothing of the run's own
# left behind (its network namespace pool is made only once nothing can
# fail before the jobs).
mkdir -p sub
cp .pipewright.yml sub/
cd sub
pw run --clean
expect_rc 1
expect_out "pipewright: --clean: $PWD is not the top of a git checkout (no .git there)"
[ "$(wc -l <out)" -eq 1 ] || { cat out; fail "more than the one line"; }
