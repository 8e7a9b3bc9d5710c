# Stages run in order, `needs` overrides them, matrix jobs expand, and the
# summary lists every job.
. "$(dirname "$0")/lib.sh"

cat > .pipewright.yml <<'YML'
jobs:
  fmt:
    stage: lint
    script: echo fmt
  vet:
    stage: lint
    script: echo vet
  compile:
    stage: build
    matrix: {CC: [gcc, clang]}
    script: echo "cc=$CC"
  unit:
    needs: [compile]
    script: echo unit
  early:
    stage: deploy
    needs: []
    script: echo early
YML
pw run --jobs 2
expect_rc 0
expect_out "[compile (gcc)] cc=gcc" "[compile (clang)] cc=clang" \
	"==> run success"
for lint in fmt vet; do
	for cc in gcc clang; do
		before "==> $lint: success" "==> compile ($cc): running (attempt 1)"
	done
done
before "==> compile (gcc): success" "==> unit: running (attempt 1)"
before "==> compile (clang): success" "==> unit: running (attempt 1)"
expect_job fmt success 1
expect_job "compile (clang)" success 1
expect_job unit success 1
expect_job early success 1
