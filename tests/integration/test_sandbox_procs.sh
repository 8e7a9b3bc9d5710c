# Escape attempts on processes, in the strict sandbox: the job sees only
# its own processes, cannot signal or look at a host pid, holds no
# descriptor of ours, and a grandchild that double-forks and ignores
# SIGTERM is gone when the job ends (checked from the host by a marker).
. "$(dirname "$0")/sandbox_lib.sh"

marker=$((40000 + $$ % 20000))
cat > ci.yml <<YML
jobs:
  probe:
    script:
      - ps -e -o pid=,comm= > ps.txt
      - ls /proc | grep -c '^[0-9]' > nprocs.txt
      - if kill -0 "\$HOST_PID" 2>/dev/null; then echo signal-ESCAPED; else echo signal-refused; fi
      - if cat /proc/\$HOST_PID/status >/dev/null 2>&1; then echo proc-ESCAPED; else echo proc-refused; fi
      - ls -l /proc/\$\$/fd > fds.raw
      - sed -n 's/.* -> //p' fds.raw | grep -v '/fds[.]raw\$' > fds.txt
      - (trap '' TERM; setsid sh -c 'trap "" TERM; exec sleep $marker' &) ; echo forked
YML
pw run -f ci.yml --env HOST_PID=$$
expect_rc 0
expect_out "[probe] signal-refused" "[probe] proc-refused" "[probe] forked"
# ps: init, sh, ps (and whatever the shell forked for the pipeline): few, low pids.
n=$(wc -l < ps.txt)
[ "$n" -le 4 ] || fail "the job sees $n processes: $(cat ps.txt)"
awk '$1 > 10 { bad = 1 } END { exit bad }' ps.txt || fail "host pids visible: $(cat ps.txt)"
[ "$(cat nprocs.txt)" -le 5 ] || fail "/proc lists $(cat nprocs.txt) processes"
# Descriptors: /dev/null or the output pipe (one pipe inode), nothing else.
# (The listing goes to a file, not down a pipeline: a shell holds a
# pipeline's pipe for a moment after forking it, which is not a leak; the
# file itself, ls's stdout, is left out.)
grep -vE '^(/dev/null|pipe:\[[0-9]+\])$' fds.txt && fail "foreign descriptors: $(cat fds.txt)"
[ "$(grep -c pipe: fds.txt)" -ge 1 ] || fail "no output pipe in $(cat fds.txt)"
[ "$(grep pipe: fds.txt | sort -u | wc -l)" -eq 1 ] || fail "several pipes: $(cat fds.txt)"
# From the host: the double-forked grandchild is gone, at once.  The
# supervisor writes the job's status only after waitpid() said ECHILD (no
# process of the job is left, not even a zombie), and the run ends on that
# status: a grandchild still here now is one it lost.
if pgrep -f "^sleep $marker\$" >/dev/null; then
	pkill -f "^sleep $marker\$"
	fail "the double-forked grandchild survived the job"
fi
# A job never runs as host root: the workspace's owner made ps.txt.
[ "$(stat -c %u ps.txt)" = "$PW_JOB_UID" ] || fail "ps.txt owned by $(stat -c %u ps.txt)"
true
