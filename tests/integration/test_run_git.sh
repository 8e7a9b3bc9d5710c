# In a git repository, the branch, commit and tag come from git, and the
# branch decides `branches:` filters.
. "$(dirname "$0")/lib.sh"

git init -q -b feature/login .
git -c user.name=t -c user.email=t@example.invalid commit -q --allow-empty -m first
git tag v1.0
sha=$(git rev-parse HEAD)
cat > .pipewright.yml <<'YML'
jobs:
  info:
    script: echo "$PIPEWRIGHT_BRANCH $PIPEWRIGHT_COMMIT $PIPEWRIGHT_TAG"
  main-only:
    branches: [main]
    script: echo main
YML
pw run
expect_rc 0
expect_out "[info] feature/login $sha v1.0" \
	"==> main-only: skipped: branch 'feature/login' not in branches"
