# bench/lib.sh: what bench/run's benchmarks share: a daemon of their own
# on a loopback port with a temporary config, pinned to core 0 (its jobs
# go back to all cores through the supervisor), the load on core 1, wrk's
# answers as JSON, and small waits that poll real state (no fixed sleeps
# standing in for "it is ready").
#
# Every benchmark writes one JSON object to $RES/<ID>.json; bench/report.py
# puts them together.  Sourced by bench/run, which sets ROOT, BIN, W, RES.

DPORT=${PW_BENCH_PORT:-18481}   # the daemon
NPORT=$((DPORT + 1))            # nginx, the references of B2/B3
DAEMON_CPU=0
LOAD_CPU=1

say() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
now_ms() { date +%s%3N; }

# ms since the epoch of an RFC 3339 time with milliseconds.
rfc_ms() { date -d "$1" +%s%3N; }

# pw_config DIR PIPELINE [KEY: VALUE]...: a config of one project 'b'
# running PIPELINE, data in DIR/data; extra top-level keys appended.
pw_config() {
	local dir=$1 pipeline=$2
	shift 2
	mkdir -p "$dir"
	{
		echo "listen: 127.0.0.1:$DPORT"
		echo "data_dir: data"
		echo "log_format: text"
		echo "anonymous_read: true" # the read benchmarks go without a token
		for kv in "$@"; do echo "$kv"; done
		echo "projects:"
		echo "  - name: b"
		echo "    pipeline: $pipeline"
		echo "    keep_runs: ${KEEP_RUNS:-500}"
	} >"$dir/pipewright.yml"
}

pw_token() {
	"$BIN/pipewright" token create --config "$1/pipewright.yml" \
		--name "bench$RANDOM$RANDOM" --scope operate 2>/dev/null
}

# pw_start DIR: the daemon on core 0; PW_PID; returns once it listens.
pw_start() {
	local dir=$1 i
	: >"$dir/serve.log"
	taskset -c $DAEMON_CPU "$BIN/pipewright" serve \
		--config "$dir/pipewright.yml" 2>>"$dir/serve.log" &
	PW_PID=$!
	for ((i = 0; i < 3000; i++)); do
		grep -q '^listening on' "$dir/serve.log" && return 0
		kill -0 $PW_PID 2>/dev/null || break
		sleep 0.01
	done
	say "the daemon did not start: $(tail -3 "$dir/serve.log")"
	return 1
}

# pw_stop: SIGTERM, then SIGKILL if the daemon is still there after 20 s
# (a drain that waits for a job that never ends must not hang the run).
pw_stop() {
	[ -n "${PW_PID:-}" ] || return 0
	kill -TERM "$PW_PID" 2>/dev/null
	local i
	for ((i = 0; i < 2000; i++)); do
		kill -0 "$PW_PID" 2>/dev/null || break
		sleep 0.01
	done
	if kill -0 "$PW_PID" 2>/dev/null; then
		say "the daemon did not stop within 20 s of SIGTERM: SIGKILL"
		kill -KILL "$PW_PID" 2>/dev/null
	fi
	wait "$PW_PID" 2>/dev/null
	PW_PID=
}

pw_kill() {
	[ -n "${PW_PID:-}" ] || return 0
	kill -KILL "$PW_PID" 2>/dev/null
	wait "$PW_PID" 2>/dev/null
	PW_PID=
}

# pw_trigger TOKEN [BODY]: prints the new run's id.
pw_trigger() {
	curl -sf -X POST -H "Authorization: Bearer $1" \
		-H 'Content-Type: application/json' -d "${2:-{\}}" \
		"http://127.0.0.1:$DPORT/api/v1/projects/b/runs" |
		python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])'
}

pw_run() { curl -sf "http://127.0.0.1:$DPORT/api/v1/runs/$1"; }

# pw_wait RUN SECONDS [STEP]: until the run is finished; prints its status.
pw_wait() {
	local run=$1 deadline=$(($(date +%s) + $2)) st
	while [ "$(date +%s)" -lt $deadline ]; do
		st=$(pw_run "$run" | python3 -c 'import json,sys
r = json.load(sys.stdin)
print(r["status"] if r["finished_at"] else "")' 2>/dev/null)
		[ -n "$st" ] && { echo "$st"; return 0; }
		sleep "${3:-0.1}"
	done
	echo timeout
	return 1
}

# sql DIR QUERY: a read of the daemon's store beside it (waiting out a
# moment's lock rather than failing).
sql() { sqlite3 -bail -cmd '.timeout 5000' "$1/data/pipewright.db" "$2"; }

# pw_settle DIR SECONDS STALL: until every run in the store is finished.
# Gives up after SECONDS in all, or as soon as STALL seconds pass with
# no attempt ending and no run finishing (a stuck run is a failure to
# report, not something to wait out).  Prints one JSON object: "left"
# (runs not finished), "why" ("", "stalled" or "deadline"), "waited_s",
# and "stuck": the first unfinished runs with their jobs' and latest
# attempts' states, as the store has them.
pw_settle() {
	local d=$1 t0 now last left mark prev= why=
	t0=$(date +%s)
	last=$t0
	while :; do
		left=$(sql "$d" "SELECT count(*) FROM runs WHERE finished_at = 0")
		[ "$left" = 0 ] && break
		now=$(date +%s)
		mark=$(sql "$d" "SELECT (SELECT count(*) FROM runs WHERE finished_at <> 0)
			|| '/' || (SELECT count(*) FROM attempts WHERE finished_at <> 0)")
		[ "$mark" != "$prev" ] && { prev=$mark; last=$now; }
		[ $((now - last)) -ge "$3" ] && { why=stalled; break; }
		[ $((now - t0)) -ge "$2" ] && { why=deadline; break; }
		sleep 0.1
	done
	local stuck=[]
	if [ "$left" != 0 ]; then
		stuck=$(sql "$d" "SELECT json_group_array(json(r)) FROM (
			SELECT json_object('run', id, 'status', status, 'jobs',
			  (SELECT json_group_array(json_object('job', j.name,
			    'status', j.status, 'attempt', (SELECT json_object(
			      'number', a.number, 'status', a.status,
			      'reason', a.reason) FROM attempts a
			      WHERE a.run_id = j.run_id AND a.idx = j.idx
			      ORDER BY a.number DESC LIMIT 1)))
			   FROM jobs j WHERE j.run_id = runs.id)) AS r
			FROM runs WHERE finished_at = 0 ORDER BY id LIMIT 4)")
	fi
	printf '{"left": %s, "why": "%s", "waited_s": %s, "stuck": %s}\n' \
		"$left" "$why" $(($(date +%s) - t0)) "${stuck:-[]}"
}

# store_history DIR N: N finished runs of project 'b' (one job, one
# attempt each, a failure in ten) written straight into DIR's store in
# one transaction, the way a store looks after weeks of use: one run a
# minute up to now (100,000 span 69 days, within the default keep_days
# of 90).  The daemon must not be running; the config must keep them
# (KEEP_RUNS above N).
store_history() {
	local d=$1 n=$2 base
	[ "$n" -gt 0 ] || return 0
	base=$(($(now_ms) - (n + 1) * 60000))
	sqlite3 -bail "$d/data/pipewright.db" <<EOF
BEGIN;
WITH RECURSIVE i(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM i WHERE x < $n)
INSERT INTO runs (id, project, status, trigger_kind, ref, branch, commit_sha,
  created_at, started_at, finished_at, log_bytes, actor, env, pipeline_file)
SELECT x, 'b', CASE WHEN x % 10 = 0 THEN 'failed' ELSE 'success' END, 'api',
  'refs/heads/main', 'main', printf('%040x', x), $base + x * 60000,
  $base + x * 60000 + 50, $base + x * 60000 + 1050, 12, 'token bench', '{}',
  'p.yml' FROM i;
INSERT INTO jobs (run_id, idx, name, stage, status)
  SELECT id, 0, 't', 's', status FROM runs;
INSERT INTO attempts (run_id, idx, number, status, exit_code, reason,
  started_at, finished_at, log_bytes)
  SELECT id, 0, 1, status, CASE status WHEN 'success' THEN 0 ELSE 1 END,
  'exit status ' || CASE status WHEN 'success' THEN 0 ELSE 1 END,
  started_at, finished_at, 12 FROM runs;
COMMIT;
EOF
}

# umount_under DIR: lazily unmounts whatever is mounted beneath DIR
# (strict runs' workspace file systems that a killed daemon left),
# deepest first, so that removing DIR removes files, not the contents of
# a file system still mounted elsewhere.
umount_under() {
	findmnt -rn -o TARGET | grep "^$1/" | sort -r | while read -r m; do
		umount -l "$m" 2>/dev/null
	done
}

# The wrk script that reports percentiles (and, with LIMIT set, stops
# after that many answers; with BODY set, POSTs it with TOKEN).
wrk_script() {
	cat >"$W/wrk.lua" <<'EOF'
local limit = tonumber(os.getenv("LIMIT") or "0")
local body = os.getenv("BODY")
local token = os.getenv("TOKEN")
local n = 0
if body then
	wrk.method = "POST"
	wrk.body = body
	wrk.headers["Content-Type"] = "application/json"
	wrk.headers["Authorization"] = "Bearer " .. token
end
function response(status, headers, b)
	n = n + 1
	if limit > 0 and n >= limit then wrk.thread:stop() end
end
function done(summary, latency, requests)
	local e = summary.errors
	local p = {}
	for _, q in ipairs({50, 75, 90, 95, 99, 99.9}) do
		p[#p + 1] = string.format('"%s": %.3f', q, latency:percentile(q) / 1000)
	end
	io.stderr:write(string.format('WRKJSON {"requests": %d, "seconds": %.3f, ' ..
		'"rps": %.1f, "errors": %d, "non2xx": %d, "max_ms": %.3f, ' ..
		'"pct_ms": {%s}}\n', summary.requests, summary.duration / 1e6,
		summary.requests / (summary.duration / 1e6),
		e.connect + e.read + e.write + e.timeout, e.status,
		latency.max / 1000, table.concat(p, ", ")))
end
EOF
}

# wrk_json ARGS...: wrk on core 1 with the script; its JSON on stdout.
wrk_json() {
	taskset -c $LOAD_CPU wrk -s "$W/wrk.lua" "$@" 2>&1 >/dev/null |
		sed -n 's/^WRKJSON //p'
}

# probe_start NAME PATH SECONDS: the paced /healthz probe on core 1, in
# the background until probe_stop; samples in $RES/NAME.lat.
probe_start() {
	rm -f "$RES/$1.lat.stop"
	taskset -c $LOAD_CPU "$BIN/bench/probe" latency $DPORT "$2" "$3" 2000 \
		"$RES/$1.lat" >"$W/$1.probe" &
	PROBE_PID=$!
}

# probe_stop NAME: not in a subshell ($(...) cannot wait for it); its
# JSON is then in $W/NAME.probe.
probe_stop() {
	touch "$RES/$1.lat.stop"
	wait "$PROBE_PID"
	PROBE_PID=
}

# nginx_start ROOT [DIRECTIVES]: nginx (not a daemon, one worker) serving
# ROOT on NPORT, with DIRECTIVES (e.g. a location) added to its server.
nginx_start() {
	mkdir -p "$W/nginx"
	cat >"$W/nginx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $W/nginx/nginx.pid;
error_log $W/nginx/error.log;
events { worker_connections 1024; }
http {
	access_log off;
	client_body_temp_path $W/nginx/body;
	proxy_temp_path $W/nginx/proxy;
	fastcgi_temp_path $W/nginx/fastcgi;
	uwsgi_temp_path $W/nginx/uwsgi;
	scgi_temp_path $W/nginx/scgi;
	keepalive_requests 1000000;
	server {
		listen 127.0.0.1:$NPORT;
		root $1;
		default_type application/json;
		${2:-}
	}
}
EOF
	taskset -c $DAEMON_CPU nginx -c "$W/nginx/nginx.conf" -e "$W/nginx/error.log" &
	NGINX_PID=$!
	for ((i = 0; i < 500; i++)); do
		curl -sf -o /dev/null "http://127.0.0.1:$NPORT/" && return 0
		curl -s -o /dev/null "http://127.0.0.1:$NPORT/" && return 0
		sleep 0.01
	done
	return 1
}

nginx_stop() {
	[ -n "${NGINX_PID:-}" ] || return 0
	kill -TERM "$NGINX_PID" 2>/dev/null
	wait "$NGINX_PID" 2>/dev/null
	NGINX_PID=
}

# private memory of PID in kB: Private_Clean + Private_Dirty, Anonymous,
# Rss, Pss (smaps_rollup) as a JSON object.
mem_json() {
	awk '/^Rss:/ {r=$2} /^Pss:/ {p=$2} /^Private_Clean:/ {pc=$2}
	     /^Private_Dirty:/ {pd=$2} /^Anonymous:/ {a=$2}
	     END {printf "{\"private_kb\": %d, \"anonymous_kb\": %d, \"rss_kb\": %d, \"pss_kb\": %d}", pc+pd, a, r, p}' \
		"/proc/$1/smaps_rollup"
}

# CPU ticks (utime + stime) of PID.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
