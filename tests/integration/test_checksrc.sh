# scripts/checksrc on a small tree made here, one file per rule broken and
# one per rule kept at its edge: the exact lines it prints (path:line:
# rule: ...), exit 1; then the same tree without the broken files, exit 0.
. "$(dirname "$0")/lib.sh"

CHECK="$PW_SOURCE_DIR/scripts/checksrc"
mkdir -p tree/src/api tree/src/store tree/src/daemon tree/src/exec \
	tree/src/cli tree/tests/unit tree/fuzz/corpus/http tree/docs
cd tree
long=$(printf 'x%.0s' $(seq 1 95))
# Broken.
printf '#include "pipewright/daemon.h"\n' > src/api/bad_include.c
printf 'int f(void) { return sqlite3_step(0); }\n#include <sqlite3.h>\n' > src/cli/bad_sql.c
printf 'void g(void)\n{\n\tif (fork() == 0)\n\t\tpopen ("x", "r");\n}\n' > src/cli/bad_spawn.c
printf '\tint %s;\n' "$long" > src/cli/bad_long.c
printf 'text \nok\nend\t\n' > docs/bad_space.md
# Kept: at the limit, a long message kept whole, comments and strings
# naming fork() or sqlite3_open, the store's SQL, exec's fork, the
# upgrade's uv_spawn, SQL in a unit test, trailing spaces in a corpus.
printf '\tint %s;\n' "${long:0:87}" > src/cli/ok_edge.c
printf '\tfail("%s%s");\n' "$long" "$long" > src/cli/ok_message.c
printf '/* fork() and sqlite3_open() in prose */\nconst char *s = "exec(";\n' > src/cli/ok_prose.c
printf '#include <sqlite3.h>\nint h(void) { return sqlite3_step(0); }\n' > src/store/ok.c
printf 'int e(void) { return fork(); }\n' > src/exec/ok.c
printf 'int u(void) { return uv_spawn(0, 0, 0); }\n' > src/daemon/upgrade.c
printf '#include <sqlite3.h>\n' > tests/unit/test_ok.c
printf 'GET / HTTP/1.1 \n' > fuzz/corpus/http/ok.txt

rc=0
"$CHECK" --root . > ../out || rc=$?
cd ..
expect_rc 1
cat > want <<WANT
docs/bad_space.md:1: trailing-space: line ends in white space
docs/bad_space.md:3: trailing-space: line ends in white space
src/api/bad_include.c:1: include-graph: src/api includes pipewright/daemon.h: the api is given its store, config and operations at creation (struct api_env), not the daemon
src/cli/bad_long.c:1: long-line: 108 columns; at most 100
src/cli/bad_spawn.c:3: spawn-outside-exec: fork starts a process outside src/exec and src/supervisor (scripts/checksrc lists the exceptions)
src/cli/bad_spawn.c:4: spawn-outside-exec: popen starts a process outside src/exec and src/supervisor (scripts/checksrc lists the exceptions)
src/cli/bad_sql.c:1: sql-outside-store: sqlite3_step outside src/store
src/cli/bad_sql.c:2: sql-outside-store: sqlite3.h outside src/store
WANT
diff want out >&2 || fail "checksrc's report differs (above: - wanted, + got)"

rm tree/src/api/bad_include.c tree/src/cli/bad_* tree/docs/bad_space.md
rc=0
"$CHECK" --root tree > out || rc=$?
expect_rc 0
[ ! -s out ] || fail "a clean tree reported: $(cat out)"
