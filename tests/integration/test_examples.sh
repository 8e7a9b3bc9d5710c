# Every example pipeline in configs/pipelines is valid, and the demo runs
# to success (its manual job skipped, its allowed failure allowed).
. "$(dirname "$0")/lib.sh"

pw validate "$PW_SOURCE_DIR"/configs/pipelines/*.yml
expect_rc 0
cp "$PW_SOURCE_DIR/configs/pipelines/demo.yml" .pipewright.yml
pw run --jobs 2
expect_rc 0
expect_out "==> publish: skipped: manual job not approved" "==> run success"
expect_job "compile (clang, release)" success 1
expect_job flaky-probe failed 1
