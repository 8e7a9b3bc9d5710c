# Jobs with the same `environment` never run at once, even with free slots.
. "$(dirname "$0")/lib.sh"

cat > ci.yml <<'YML'
jobs:
  deploy-eu:
    environment: production
    script: [echo start >> log, sleep 0.3, echo end >> log]
  deploy-us:
    environment: production
    script: [echo start >> log, sleep 0.3, echo end >> log]
  docs:
    script: echo docs
YML
pw run -f ci.yml --jobs 4
expect_rc 0
[ "$(tr '\n' ' ' < log)" = "start end start end " ] ||
	fail "production deploys overlapped: $(tr '\n' ' ' < log)"
