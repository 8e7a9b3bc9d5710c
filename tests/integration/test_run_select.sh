# Manual jobs are skipped unless --approve; --only runs just the named jobs
# (a base name means every matrix expansion); branches filter by --branch,
# `*` within one segment of a branch name and `**` across any depth.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  build:
    stage: build
    matrix: {OS: [linux, bsd]}
    script: echo "build $OS"
  test:
    script: echo test
  release-notes:
    stage: deploy
    branches: ["release/**"]
    script: echo notes
  top-notes:
    stage: deploy
    branches: ["release/*"]
    script: echo top-notes
  ship:
    stage: deploy
    when: manual
    script: echo shipping
  announce:
    stage: deploy
    needs: [ship]
    script: echo announce
YML
pw run -f ci.yml --branch main
expect_rc 0
expect_out "==> ship: skipped: manual job not approved" \
	"==> announce: skipped: 'ship' was skipped" \
	"==> release-notes: skipped: branch 'main' not in branches"
expect_no_out "[ship] shipping"

pw run -f ci.yml --branch release/1.2/rc --approve ship
expect_rc 0
expect_out "[ship] shipping" "[announce] announce" "[release-notes] notes" \
	"==> top-notes: skipped: branch 'release/1.2/rc' not in branches"
expect_no_out "[top-notes] top-notes"

pw run -f ci.yml --branch release/1.3
expect_rc 0
expect_out "[release-notes] notes" "[top-notes] top-notes"

pw run -f ci.yml --only build
expect_rc 0
expect_out "[build (linux)] build linux" "[build (bsd)] build bsd" \
	"==> test: skipped: not selected"
expect_job test skipped 0

pw run -f ci.yml --only "build (bsd)" --only test
expect_rc 0
expect_out "[build (bsd)] build bsd" "[test] test"
expect_no_out "[build (linux)]"

pw run -f ci.yml --only nosuch
expect_rc 2
expect_out "pipewright: --only: no job named 'nosuch'"
pw run -f ci.yml --approve build
expect_rc 2
