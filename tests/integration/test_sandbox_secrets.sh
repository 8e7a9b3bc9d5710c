# Secrets: a job gets the secrets it names, from the caller's environment
# for pipewright run, and their values never reach the log: echoed whole,
# or written in two pieces with a pause between (two reads), or encoded
# (base64, hex, reversed).  A job that
# names a secret nobody gave fails saying which.  Also a workspace owned
# by root (strict: an idmapped one, test_run_owners.sh), and --sandbox none.
. "$(dirname "$0")/sandbox_lib.sh"

cat > ci.yml <<'YML'
jobs:
  deploy:
    secrets: [DEPLOY_TOKEN]
    script:
      - test "$DEPLOY_TOKEN" = "tok-Zq81-secret" && echo got-it
      - echo "token is $DEPLOY_TOKEN."
      - "printf 'split: tok-Zq'; sleep 0.3; printf '81-secret!\\n'"
YML
DEPLOY_TOKEN=tok-Zq81-secret pw run -f ci.yml
expect_rc 0
expect_out "[deploy] got-it" "[deploy] token is ***." "[deploy] split: ***!"
expect_no_out "Zq81"

pw run -f ci.yml
expect_rc 1
grep -q "secret 'DEPLOY_TOKEN' is not available" out || fail "no missing-secret reason"

# Encoded: base64 at each offset in a stream, hex (xxd, od; both cases),
# reversed.  Each form's middle is what must not appear; the ends of an
# aligned base64 carry bits of the neighbours and may stay.
cat > enc.yml <<'YML'
jobs:
  deploy:
    secrets: [DEPLOY_TOKEN]
    script:
      - for p in '' x xy; do printf '%s%s' "$p" "$DEPLOY_TOKEN" | base64; done
      - printf %s "$DEPLOY_TOKEN" | od -An -tx1 -v | tr -d ' \n'; echo
      - printf %s "$DEPLOY_TOKEN" | od -An -tx1 -v | tr -d ' \n' | tr a-f A-F; echo
      - if command -v xxd >/dev/null; then printf %s "$DEPLOY_TOKEN" | xxd -p; fi
      - printf %s "$DEPLOY_TOKEN" | rev; echo
      - echo encoded-done
YML
DEPLOY_TOKEN=tok-Zq81-secret pw run -f enc.yml
expect_rc 0
expect_out "[deploy] encoded-done"
[ "$(grep -v '^\[deploy\] \$' out | grep -cF '***')" -ge 6 ] || fail "fewer masked lines than forms"
for p in '' x xy; do
	b=$(printf '%s%s' "$p" tok-Zq81-secret | base64)
	expect_no_out "${b:3:${#b}-6}"
done
h=$(printf %s tok-Zq81-secret | od -An -tx1 -v | tr -d ' \n')
expect_no_out "$h" "$(printf %s "$h" | tr a-f A-F)" "$(printf %s tok-Zq81-secret | rev)"

# A root-owned workspace: masked as well under strict and none.
mkdir rootws && cp ci.yml rootws/ && cd rootws
DEPLOY_TOKEN=tok-Zq81-secret pw run -f ci.yml
expect_rc 0
expect_out "[deploy] split: ***!"
DEPLOY_TOKEN=tok-Zq81-secret pw run -f ci.yml --sandbox none
expect_rc 0
expect_out "[deploy] split: ***!"
