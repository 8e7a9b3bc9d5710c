# `user:`: a job's script runs as a non-root user inside its namespaces.
# PostgreSQL's initdb refuses root: as `user: 1000` it initialises a
# cluster in the workspace and postgres answers a query over a socket
# there, while the same job without `user:` is refused by initdb.  A
# name resolves in the host's /etc/passwd (nobody), a group name in
# /etc/group, an unknown name fails the job saying so.  What the user
# writes in the workspace and HOME is the job's host uid's, as a root
# job's is: the next job (any user) can write it.
. "$(dirname "$0")/sandbox_lib.sh"

cat > ci.yml <<'YML'
stages: [one, two]
jobs:
  as-1000:
    stage: one
    user: 1000
    script:
      - echo "ids $(id -u):$(id -g) groups $(id -G)"
      - touch "$HOME/h" && echo "home writable"
      - mkdir -p made && echo x > made/by-1000 && echo "workspace writable"
  as-nobody:
    stage: one
    user: "nobody:nogroup"
    script: [echo "nobody is $(id -u):$(id -g)"]
  as-root:
    stage: two
    script:
      - echo "root is $(id -u)"
      - echo y >> made/by-1000 && rm -r made && echo "root rewrote it"
YML
pw run -f ci.yml
expect_rc 0
expect_out "[as-1000] ids 1000:1000 groups 1000" "[as-1000] home writable" \
	"[as-1000] workspace writable" "[as-nobody] nobody is 65534:65534" \
	"[as-root] root is 0" "[as-root] root rewrote it"

# The workspace's files from the host: the job's host uid, whoever wrote.
cat > ci.yml <<'YML'
jobs:
  keep:
    user: 1000
    script: [echo kept > kept]
YML
pw run -f ci.yml
expect_rc 0
[ "$(stat -c %u:%g kept)" = "$PW_JOB_UID:$PW_JOB_UID" ] ||
	fail "a file user 1000 wrote is $(stat -c %u:%g kept) on the host"

cat > ci.yml <<'YML'
jobs:
  who:
    user: no-such-user
    script: [id]
YML
pw run -f ci.yml
expect_rc 1
grep -qF "user 'no-such-user' is not in the host's /etc/passwd" out ||
	fail "an unknown user was not named"
expect_no_out "[who] \$ id"

# PostgreSQL: Debian's server binaries, where installed.
pg=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$pg" ] || [ ! -x "$pg/initdb" ]; then
	echo "SKIP: no PostgreSQL server binaries (/usr/lib/postgresql/*/bin: apt-get install postgresql); the user switch itself was tested"
	exit 77
fi
cat > ci.yml <<YML
jobs:
  as-root:
    script:
      - if $pg/initdb -D "\$PWD/root-data" >out.txt 2>&1; then echo "initdb ran as root"; else grep -o 'cannot be run as root' out.txt; fi
  pg:
    user: 1000
    script:
      - $pg/initdb -D "\$PWD/data" -U ci --auth=trust >/dev/null
      - $pg/pg_ctl -D "\$PWD/data" -o "-k \$PWD -c listen_addresses=''" -l pg.log -w start >/dev/null
      - $pg/psql -h "\$PWD" -U ci -d postgres -Atc "select 'answer ' || 40 + 2"
      - $pg/pg_ctl -D "\$PWD/data" -m fast -w stop >/dev/null
YML
rc=0
timeout -k 5 110 "$PW_BIN" run -f ci.yml >out 2>&1 || rc=$?
expect_rc 0
expect_out "[as-root] cannot be run as root" "[pg] answer 42"
[ "$(stat -c %u data/PG_VERSION)" = "$PW_JOB_UID" ] ||
	fail "the cluster's files are not the job's host uid's"
echo ok
