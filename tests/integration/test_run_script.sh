# Script items run in one `sh -e`: each is echoed whole as "$ item", `cd`
# and variables carry over, and working_dir starts the job in a subdirectory.
. "$(dirname "$0")/lib.sh"

mkdir -p src/deep
cat > ci.yml <<'YML'
jobs:
  steps:
    working_dir: src
    script:
      - pwd
      - X=42; cd deep
      - |
        echo "x is $X"
        pwd
YML
pw run -f ci.yml
expect_rc 0
expect_out '[steps] $ pwd' "[steps] $T/src" '[steps] $ X=42; cd deep' \
	'[steps] $ echo "x is $X"' '[steps] pwd' "[steps] x is 42" "[steps] $T/src/deep"
