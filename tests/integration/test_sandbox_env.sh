# The job's environment reaches the job only, never the root supervisor:
# a pipeline sets LD_PRELOAD to a library built here whose constructor
# leaves a mark (uid, host name, program) in every process that loads it,
# plus GCONV_PATH and GLIBC_TUNABLES.  Run against a dynamically linked
# supervisor (this build's if it is one, as under PW_SANITIZE, else the
# pipewright-supervisor-dynamic copy built for this test), strict and
# --sandbox none.  From the host: no mark was left by the supervisor (it
# would have been host root), the supervisor's /proc/PID/environ holds
# none of the job's variables while the job runs, and the job itself sees
# all of them (LD_PRELOAD applies in the job, as the job).
. "$(dirname "$0")/sandbox_lib.sh"

command -v cc >/dev/null || { echo "SKIP: no C compiler (cc) to build the preload library"; exit 77; }
command -v readelf >/dev/null || { echo "SKIP: no readelf (binutils)"; exit 77; }
bindir=$(dirname "$PW_BIN")
sup=$bindir/pipewright-supervisor
if ! readelf -l "$sup" | grep -q 'program interpreter'; then
	sup=$bindir/pipewright-supervisor-dynamic
	[ -x "$sup" ] || { echo "SKIP: no dynamically linked supervisor in $bindir"; exit 77; }
fi
readelf -l "$sup" | grep -q 'program interpreter' || fail "$sup is not dynamically linked"
export PIPEWRIGHT_SUPERVISOR=$sup

mkdir -m 1777 marks
cat > evil.c <<C
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

__attribute__((constructor)) static void
mark(void)
{
	char path[4096], exe[1024] = "?", host[256] = "?";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int fd;

	if (n > 0)
		exe[n] = '\0';
	gethostname(host, sizeof(host));
	snprintf(path, sizeof(path), "%s/m.XXXXXX", "$T/marks");
	if ((fd = mkstemp(path)) < 0)
		return;
	dprintf(fd, "uid=%d host=%s exe=%s\n", (int)getuid(), host, exe);
	close(fd);
}
C
cc -shared -fPIC -o evil.so evil.c || fail "cannot build evil.so"
chmod 0755 evil.so

cat > ci.yml <<YML
jobs:
  attack:
    env:
      LD_PRELOAD: $T/evil.so
      GCONV_PATH: $T/gconv
      GLIBC_TUNABLES: glibc.malloc.tcache_count=0
      PW_CANARY: canary-4711
    script:
      - echo "preload=\$LD_PRELOAD"
      - echo "gconv=\$GCONV_PATH tunables=\$GLIBC_TUNABLES canary=\$PW_CANARY"
      - touch ready
      - while [ ! -e go ]; do sleep 0.05; done
YML

# The job's variables in the environment of a supervisor of ours: fail.
check_supervisors() {
	local p found=0
	for p in /proc/[0-9]*; do
		[ "$p/exe" -ef "$sup" ] || continue  # a builtin: no fork per process
		tr '\0' '\n' < "$p/cmdline" 2>/dev/null | grep -qxF -- "$T" || continue
		found=1
		if tr '\0' '\n' < "$p/environ" |
			grep -E '^(LD_PRELOAD|GCONV_PATH|GLIBC_TUNABLES|PW_CANARY)='; then
			touch go
			fail "the supervisor ${p#/proc/} ($1) runs with the job's environment"
		fi
	done
	[ "$found" -eq 1 ] || { touch go; fail "no supervisor of this job found ($1)"; }
}

attack() { # MODE
	rm -f ready go out
	rm -f marks/m.*
	rc=0
	timeout -k 5 60 "$PW_BIN" run -f ci.yml --sandbox "$1" >out 2>&1 &
	local pid=$!
	wait_for_file ready
	check_supervisors "$1"
	touch go
	wait "$pid" || rc=$?
	expect_rc 0
	expect_out "[attack] preload=$T/evil.so" \
		"[attack] gconv=$T/gconv tunables=glibc.malloc.tcache_count=0 canary=canary-4711"
	# Marks: none by the supervisor, some by the job.
	if grep -l "exe=.*pipewright-supervisor" marks/m.* 2>/dev/null; then
		fail "the job's LD_PRELOAD ran in the supervisor ($1): $(cat marks/m.*)"
	fi
	grep -q "exe=/.*bin/.*sh" marks/m.* || fail "LD_PRELOAD did not reach the job ($1)"
}

attack strict
# Under strict, every mark is the job's: its host name, its host uid.
for m in marks/m.*; do
	owner=$(stat -c %u "$m")
	[ "$owner" -ne 0 ] || fail "a mark written by host root: $(cat "$m")"
	grep -q "host=pipewright " "$m" || fail "a mark from outside the sandbox: $(cat "$m")"
done
attack none
echo ok
