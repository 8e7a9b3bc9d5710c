/*
 * exec and pipewright-supervisor, together and for real: every attempt
 * spawns the built supervisor (PW_SUPERVISOR_PATH) in a fresh temporary
 * directory and runs real shell jobs.  Everything is driven by the loop and
 * callbacks; a uv_timer is a hard deadline that fails the test, never a
 * way to wait.  Process trees are checked honestly: a pid written by the
 * job must be gone (kill(pid, 0) fails with ESRCH) once the attempt ended.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "pipewright/exec.h"
#include "pipewright/supervisor-proto.h"
#include "../../src/exec/exec-int.h"
#include "testlib.h"

#define DEADLINE_MS 30000

struct run {
	uv_loop_t loop;
	struct exec *e;
	uv_timer_t deadline;
	struct tl_job job;          /* its directory, environment and spec */
	struct exec_attempt *a;
	struct buf out;             /* everything output_cb gave */
	int ended;                  /* end_cb calls */
	int expect;                 /* end_cb calls before the loop may end */
	struct exec_status st;
	char *reason;
	uint64_t t0, elapsed;       /* mono ms: start to end_cb */
	/* Called after each output piece, for tests that act on output. */
	void (*on_output)(struct run *r);
	bool acted;
	pid_t job_pid;
	bool notes;                 /* exec_log_notes: out is read from the file */
	size_t nnotes;              /* notes received */
};

static int
setup(void **state)
{
	struct run *r = calloc(1, sizeof(*r));

	assert_non_null(r);
	tl_job_init(&r->job, "pw-exec");
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(exec_create(&r->loop, PW_SUPERVISOR_PATH, &r->e), 0);
#ifdef PW_TEST_POOL
	/* Every case again on pre-started supervisors (test_exec_pooled). */
	assert_int_equal(exec_supervisor_pool(r->e, PW_TEST_POOL), 0);
#endif
	tl_deadline_start(&r->loop, &r->deadline, DEADLINE_MS);
	buf_init(&r->out, 0);
	r->job.spec.kill_grace_ms = 10000;
	r->expect = 1;
	*state = r;
	return 0;
}

/* The same, with notes: output_cb's sizes, the bytes read from dir/log. */
static int
setup_notes(void **state)
{
	struct run *r;

	setup(state);
	r = *state;
	exec_log_notes(r->e, true);
	r->notes = true;
	return 0;
}

static int
teardown(void **state)
{
	struct run *r = *state;

	if (r->job_pid > 0)
		kill(-r->job_pid, SIGKILL);
	tl_job_cleanup(&r->job);
	buf_free(&r->out);
	free(r->reason);
	free(r);
	return 0;
}

/* The loop has run dry: destroy exec and prove no handle was left. */
static void
finish_loop(struct run *r)
{
	assert_int_equal(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
#ifdef PW_TEST_POOL
	/* Drained, its supervisors exit and are reaped before the close. */
	assert_int_equal(exec_supervisor_pool(r->e, 0), 0);
	assert_int_equal(uv_run(&r->loop, UV_RUN_DEFAULT), 0);
#endif
	assert_int_equal(r->ended, r->expect);
	assert_int_equal(exec_active(r->e), 0);
	exec_destroy(r->e);
	r->e = NULL;
	assert_int_equal(uv_loop_close(&r->loop), 0);
}

static void
on_output(struct exec_attempt *a, const char *data, size_t len, void *arg)
{
	struct run *r = arg;

	assert_ptr_equal(a, r->a);
	if (data == NULL) {
		/* A note: the bytes are in the file already, all of them. */
		char *path, *p = malloc(len > 0 ? len : 1);
		int fd;

		assert_true(r->notes);
		assert_true(len > 0);
		assert_non_null(p);
		path = xasprintf("%s/%s", r->job.dir, SUPERVISOR_LOG_FILE);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		free(path);
		assert_true(fd >= 0);
		assert_int_equal(pread(fd, p, len, (off_t)r->out.len),
				 (ssize_t)len);
		close(fd);
		assert_int_equal(buf_append(&r->out, p, len), 0);
		free(p);
		r->nnotes++;
	} else {
		assert_int_equal(buf_append(&r->out, data, len), 0);
	}
	if (r->on_output != NULL)
		r->on_output(r);
}

static void
on_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct run *r = arg;

	assert_ptr_equal(a, r->a);
	assert_string_equal(exec_attempt_dir(a), r->job.dir);
	r->st = *st;
	free(r->reason);
	r->reason = strdup(st->reason);
	r->st.reason = r->reason;
	r->elapsed = uv_hrtime() / 1000000 - r->t0;
	if (++r->ended == r->expect)
		uv_close((uv_handle_t *)&r->deadline, NULL);
}

static void
start(struct run *r, const char *const *argv)
{
	r->job.spec.argv = argv;
	r->t0 = uv_hrtime() / 1000000;
	assert_int_equal(exec_start(r->e, &r->job.spec, on_output, on_end, r, &r->a), 0);
	assert_int_equal(exec_active(r->e), 1);
}

static void
run_sh(struct run *r, const char *script)
{
	const char *argv[] = {"/bin/sh", "-c", script, NULL};

	start(r, argv);
	finish_loop(r);
}

static char *
slurp(const char *dir, const char *name, size_t *len)
{
	char *path, *data = NULL;
	size_t n = 0;

	assert_true(asprintf(&path, "%s/%s", dir, name) > 0);
	assert_int_equal(pw_read_file(path, 64 << 20, &data, &n), 0);
	free(path);
	if (len != NULL)
		*len = n;
	return data;
}

static pid_t
read_pid(const char *path)
{
	char buf[32] = "";
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	return (pid_t)atoi(buf);
}

static void
assert_gone(pid_t pid)
{
	assert_true(pid > 1);
	assert_int_equal(kill(pid, 0), -1);
	assert_int_equal(errno, ESRCH);
}

static bool
output_has(const struct run *r, const char *s)
{
	return r->out.data != NULL && strstr(r->out.data, s) != NULL;
}

static void
test_success(void **state)
{
	struct run *r = *state;
	struct stat sb;
	char *log, *status, *sock;

	run_sh(r, "echo hi; echo err >&2");
	assert_string_equal(r->out.data, "hi\nerr\n");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_int_equal(r->st.exit_code, 0);
	assert_int_equal(r->st.term_signal, 0);
	assert_string_equal(r->st.reason, "exit status 0");
	assert_int_equal(r->st.log_bytes, 7);
	assert_true(r->st.started_ms > 1600000000000ULL);
	assert_true(r->st.finished_ms >= r->st.started_ms);

	log = slurp(r->job.dir, SUPERVISOR_LOG_FILE, NULL);
	assert_string_equal(log, "hi\nerr\n");
	free(log);
	status = slurp(r->job.dir, SUPERVISOR_STATUS_FILE, NULL);
	assert_non_null(strstr(status, "version=1\nresult=success\nexit_code=0\n"
				       "signal=0\nreason=exit status 0\n"
				       "log_bytes=7\nstarted_ms="));
	free(status);
	/* The supervisor is gone and took its socket with it. */
	assert_true(asprintf(&sock, "%s/%s", r->job.dir, SUPERVISOR_SOCK_FILE) > 0);
	assert_int_equal(stat(sock, &sb), -1);
	assert_int_equal(errno, ENOENT);
	free(sock);
	assert_true(asprintf(&sock, "%s/home", r->job.dir) > 0);
	assert_int_equal(stat(sock, &sb), 0);
	assert_true(S_ISDIR(sb.st_mode));
	assert_int_equal(sb.st_mode & 0777, 0700);
	free(sock);
}

/* The B5 stamps: taken around the job's life, on the monotonic clock. */
static void
test_mono_stamps(void **state)
{
	struct run *r = *state;
	struct timespec ts;
	uint64_t before, after;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	before = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	run_sh(r, "exit 3");
	clock_gettime(CLOCK_MONOTONIC, &ts);
	after = (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
	assert_int_equal(r->st.exit_code, 3);
	assert_true(r->st.execve_mono_us != 0);
	assert_true(r->st.exited_mono_us != 0);
	assert_true(before <= r->st.execve_mono_us);
	assert_true(r->st.execve_mono_us <= r->st.exited_mono_us);
	assert_true(r->st.exited_mono_us <= after);
	/* The hand-off's: output drained after the exit, before END came. */
	assert_true(r->st.exited_mono_us <= r->st.drained_mono_us);
	assert_true(r->st.drained_mono_us <= after);
	/* A pooled supervisor's spec, before the job's execve; a fresh one
	 * (always here without the pool) has none. */
#ifndef PW_TEST_POOL
	assert_int_equal(r->st.spec_mono_us, 0);
#endif
	if (r->st.spec_mono_us != 0) {
		assert_true(before <= r->st.spec_mono_us);
		assert_true(r->st.spec_mono_us <= r->st.execve_mono_us);
	}
}

static void
test_failure(void **state)
{
	struct run *r = *state;

	run_sh(r, "echo before; exit 3");
	assert_string_equal(r->out.data, "before\n");
	assert_int_equal(r->st.result, EXEC_FAILED);
	assert_int_equal(r->st.exit_code, 3);
	assert_int_equal(r->st.term_signal, 0);
	assert_string_equal(r->st.reason, "exit status 3");
}

static void
test_killed_by_signal(void **state)
{
	struct run *r = *state;

	run_sh(r, "kill -KILL $$");
	assert_int_equal(r->st.result, EXEC_FAILED);
	assert_int_equal(r->st.exit_code, -1);
	assert_int_equal(r->st.term_signal, SIGKILL);
	assert_string_equal(r->st.reason, "killed by signal SIGKILL");
}

static void
test_env_exact(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/usr/bin/env", NULL};
	const char *env[] = {"A=1", "B=two words", "PATH=/usr/bin:/bin",
			     "EMPTY=", NULL};

	r->job.spec.env = env;
	start(r, argv);
	finish_loop(r);
	assert_string_equal(r->out.data,
			    "A=1\nB=two words\nPATH=/usr/bin:/bin\nEMPTY=\n");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
}

/*
 * The supervisor's own environment is never the job's (it runs as host
 * root under strict): the job sees its variables, its parent, the
 * supervisor, holds none of them and only exec's fixed PATH.
 */
static void
test_env_not_the_supervisors(void **state)
{
	struct run *r = *state;
	const char *env[] = {"PW_CANARY=canary-4711", "GCONV_PATH=/nowhere",
			     "PATH=/usr/bin:/bin", NULL};

	r->job.spec.env = env;
	run_sh(r, "echo \"job: $PW_CANARY $GCONV_PATH\";"
		  " tr '\\0' '\\n' < /proc/$PPID/environ | sort");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_non_null(strstr(r->out.data, "job: canary-4711 /nowhere\n"));
	assert_null(strstr(r->out.data, "PW_CANARY="));
	assert_null(strstr(r->out.data, "GCONV_PATH="));
	assert_non_null(strstr(r->out.data,
			       "PATH=/usr/sbin:/usr/bin:/sbin:/bin\n"));
}

/* A malformed or oversized environment is refused before anything runs. */
static void
test_env_refused(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/true", NULL};
	const char *noname[] = {"PATH=/usr/bin:/bin", "NOEQUALS", NULL};
	const char *empty[] = {"=value", NULL};
	const char *big[] = {NULL, NULL};
	char *huge = xmalloc(SUPERVISOR_MAX_ENV + 8);

	memset(huge, 'x', SUPERVISOR_MAX_ENV + 7);
	memcpy(huge, "BIG=", 4);
	huge[SUPERVISOR_MAX_ENV + 7] = '\0';
	big[0] = huge;
	r->job.spec.argv = argv;
	r->job.spec.env = noname;
	assert_int_equal(exec_start(r->e, &r->job.spec, on_output, on_end, r,
				    &r->a), -EINVAL);
	r->job.spec.env = empty;
	assert_int_equal(exec_start(r->e, &r->job.spec, on_output, on_end, r,
				    &r->a), -EINVAL);
	r->job.spec.env = big;
	assert_int_equal(exec_start(r->e, &r->job.spec, on_output, on_end, r,
				    &r->a), -E2BIG);
	free(huge);
	assert_int_equal(exec_active(r->e), 0);
	uv_close((uv_handle_t *)&r->deadline, NULL);
	r->expect = 0;
	finish_loop(r);
}

/*
 * Secrets are masked before the log: whole, split across reads (a pause
 * between the pieces), overlapping secrets (the longest wins), and a
 * secret's prefix at the very end of the output is kept as it was.
 */
static void
test_mask_secrets(void **state)
{
	struct run *r = *state;
	const char *mask[] = {"TOKEN", "SHORT", "UNSET", NULL};
	const char *env[] = {"TOKEN=abc-XYZ-123", "SHORT=XYZ",
			     "PATH=/usr/bin:/bin", NULL};
	char *log;
	size_t len;

	r->job.spec.env = env;
	r->job.spec.mask = mask;
	run_sh(r, "echo \"t=$TOKEN s=$SHORT\"; printf 'split abc-X';"
		  " sleep 0.2; printf 'YZ-123 end\\n'; printf 'abc-XY'");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_string_equal(r->out.data, "t=*** s=***\nsplit *** end\nabc-XY");
	log = slurp(r->job.dir, SUPERVISOR_LOG_FILE, &len);
	assert_string_equal(log, r->out.data);
	free(log);
}

static void
test_cwd(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/pwd", "-P", NULL};
	char real[PATH_MAX], *want;

	assert_non_null(realpath(r->job.tmp, real));
	start(r, argv);
	finish_loop(r);
	assert_true(asprintf(&want, "%s\n", real) > 0);
	assert_string_equal(r->out.data, want);
	free(want);
}

/*
 * A daemon pinned to one CPU (bench/run's taskset, systemd's
 * CPUAffinity=) does not pin its jobs, sandbox none included: the job
 * sees at least every CPU we had before pinning ourselves.
 */
static void
test_affinity_not_inherited(void **state)
{
	struct run *r = *state;
	cpu_set_t had, one;
	int first = -1, i, seen;

	assert_int_equal(sched_getaffinity(0, sizeof(had), &had), 0);
	if (CPU_COUNT(&had) < 2)
		skip();
	for (i = 0; i < CPU_SETSIZE && first < 0; i++)
		if (CPU_ISSET(i, &had))
			first = i;
	CPU_ZERO(&one);
	CPU_SET(first, &one);
	assert_int_equal(sched_setaffinity(0, sizeof(one), &one), 0);
	/* A fresh supervisor inherits the pin (test_exec; test_exec_pooled's
	 * were started before it). */
	run_sh(r, "nproc");
	assert_int_equal(sched_setaffinity(0, sizeof(had), &had), 0);
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_non_null(r->out.data);
	assert_int_equal(sscanf(r->out.data, "%d", &seen), 1);
	assert_true(seen >= CPU_COUNT(&had));
}

static void
test_stdio(void **state)
{
	struct run *r = *state;

	/* stdin is /dev/null, stdout and stderr are one pipe. */
	run_sh(r, "readlink /proc/self/fd/0; cat; "
		  "o=$(readlink /proc/$$/fd/1); e=$(readlink /proc/$$/fd/2); "
		  "case $o in pipe:*) [ \"$o\" = \"$e\" ] && echo same;; esac");
	assert_string_equal(r->out.data, "/dev/null\nsame\n");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
}

static void
test_no_leaked_fds(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/ls", "/proc/self/fd", NULL};

	/* 3 is the directory ls itself opens: nothing of ours is there. */
	start(r, argv);
	finish_loop(r);
	assert_string_equal(r->out.data, "0\n1\n2\n3\n");
}

static void
test_cannot_run(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/nonexistent/prog", "x", NULL};

	start(r, argv);
	finish_loop(r);
	assert_string_equal(r->out.data,
			    "pipewright-supervisor: cannot run /nonexistent/prog: "
			    "No such file or directory\n");
	assert_int_equal(r->st.result, EXEC_FAILED);
	assert_int_equal(r->st.exit_code, 127);
}

static void
test_bad_cwd(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/true", NULL};

	r->job.spec.cwd = "/nonexistent/dir";
	start(r, argv);
	finish_loop(r);
	assert_string_equal(r->out.data,
			    "pipewright-supervisor: cannot enter working directory "
			    "/nonexistent/dir: No such file or directory\n");
	assert_int_equal(r->st.result, EXEC_FAILED);
	assert_int_equal(r->st.exit_code, 1);
}

/*
 * A grandchild that ignores SIGTERM, left its process group and session
 * through a double fork, and keeps forking `sleep`: only /proc scanning
 * and repeated SIGKILL get it.
 */
static const char stubborn[] =
	"trap '' TERM; "
	"(setsid sh -c 'trap \"\" TERM; echo $$ > \"$PF\"; "
	"while :; do sleep 1; done' &); "
	"while [ ! -s \"$PF\" ]; do :; done; echo ready; ";

static void
test_timeout_kills_tree(void **state)
{
	struct run *r = *state;
	char script[512];

	snprintf(script, sizeof(script), "%s sleep 100", stubborn);
	r->job.spec.timeout_ms = 300;
	r->job.spec.kill_grace_ms = 200;
	run_sh(r, script);
	assert_string_equal(r->out.data, "ready\n");
	assert_int_equal(r->st.result, EXEC_TIMED_OUT);
	assert_string_equal(r->st.reason, "killed: timeout 300ms exceeded");
	assert_true(r->elapsed >= 300);
	assert_true(r->elapsed < 5000);
	assert_gone(read_pid(r->job.pidfile));
}

static void
cancel_when_ready(struct run *r)
{
	if (!r->acted && output_has(r, "ready\n")) {
		r->acted = true;
		assert_int_equal(exec_cancel(r->a), 0);
		assert_int_equal(exec_cancel(r->a), 0);  /* twice is fine */
	}
}

static void
test_cancel(void **state)
{
	struct run *r = *state;
	char script[512];

	snprintf(script, sizeof(script), "%s sleep 100", stubborn);
	r->job.spec.kill_grace_ms = 200;
	r->on_output = cancel_when_ready;
	run_sh(r, script);
	assert_true(r->acted);
	assert_int_equal(r->st.result, EXEC_CANCELED);
	assert_string_equal(r->st.reason, "canceled");
	assert_true(r->elapsed < 5000);
	assert_gone(read_pid(r->job.pidfile));
}

static void
test_background_killed(void **state)
{
	struct run *r = *state;

	/* The grace is long: SIGTERM alone must do, with no wait. */
	r->job.spec.kill_grace_ms = 10000;
	run_sh(r, "sleep 1000 & echo $! > \"$PF\"; echo done");
	assert_string_equal(r->out.data, "done\n");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_true(r->elapsed < 3000);
	assert_gone(read_pid(r->job.pidfile));
}

static void
test_log_cap(void **state)
{
	struct run *r = *state;
	const char marker[] =
		"\n[pipewright: log truncated at 4K; further output dropped]\n";
	char *log;
	size_t len, i;
	struct stat sb;

	r->job.spec.max_log = 4096;
	run_sh(r, "head -c 100000 /dev/zero | tr '\\0' x; echo dropped; "
		  "echo alive > \"$PF\"");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_int_equal(r->out.len, 4096 + strlen(marker));
	for (i = 0; i < 4096; i++)
		assert_int_equal(r->out.data[i], 'x');
	assert_string_equal(r->out.data + 4096, marker);
	assert_int_equal(r->st.log_bytes, r->out.len);
	log = slurp(r->job.dir, SUPERVISOR_LOG_FILE, &len);
	assert_int_equal(len, r->out.len);
	assert_memory_equal(log, r->out.data, len);
	free(log);
	/* The job went on past the cap. */
	assert_int_equal(stat(r->job.pidfile, &sb), 0);
}

/* Writes `data` as the attempt directory's prelude, as the daemon does. */
static void
put_prelude(struct run *r, const char *data, size_t len)
{
	char *path;
	FILE *fp;

	assert_int_equal(pw_mkdirs(r->job.dir, 0700), 0);
	assert_true(asprintf(&path, "%s/%s", r->job.dir,
			     SUPERVISOR_PRELUDE_FILE) > 0);
	fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(data, 1, len, fp), len);
	fclose(fp);
	free(path);
}

/*
 * A prelude begins the log: masked, counted in log_bytes, a newline added,
 * the file consumed; a later attach from inside it gets the rest exactly.
 */
static void
test_prelude(void **state)
{
	struct run *r = *state;
	const char *mask[] = {"TOKEN", NULL};
	const char *env[] = {"TOKEN=abc-XYZ-123", "PATH=/usr/bin:/bin", NULL};
	const char *want = "cache restored: deps-abc-XYZ-123 wait\n"
			   "job\n";
	const char *masked = "cache restored: deps-*** wait\njob\n";
	struct stat sb;
	char *log, *path;
	size_t len;

	put_prelude(r, want, strlen("cache restored: deps-abc-XYZ-123 wait"));
	r->job.spec.env = env;
	r->job.spec.mask = mask;
	run_sh(r, "echo job");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_string_equal(r->out.data, masked);
	assert_int_equal(r->st.log_bytes, strlen(masked));
	log = slurp(r->job.dir, SUPERVISOR_LOG_FILE, &len);
	assert_string_equal(log, masked);
	free(log);
	assert_true(asprintf(&path, "%s/%s", r->job.dir,
			     SUPERVISOR_PRELUDE_FILE) > 0);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(errno, ENOENT);
	free(path);

	/* Taken up again from byte 5 of the prelude: the rest, once. */
	buf_reset(&r->out);
	r->ended = 0;
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(exec_create(&r->loop, PW_SUPERVISOR_PATH, &r->e), 0);
	tl_deadline_start(&r->loop, &r->deadline, DEADLINE_MS);
	assert_int_equal(exec_attach(r->e, r->job.dir, 5, on_output, on_end, r,
				     &r->a), 0);
	finish_loop(r);
	assert_string_equal(r->out.data, masked + 5);
	assert_int_equal(r->st.result, EXEC_SUCCESS);
}

/* Past 64 KiB a prelude is cut with a marker; the job's cap counts it. */
static void
test_prelude_capped(void **state)
{
	struct run *r = *state;
	const char marker[] = "[pipewright: prelude truncated at 64K]\n";
	size_t n = SUPERVISOR_MAX_PRELUDE + 100, i;
	char *big = malloc(n);

	assert_non_null(big);
	memset(big, 'p', n);
	put_prelude(r, big, n);
	free(big);
	r->job.spec.max_log = SUPERVISOR_MAX_PRELUDE + 4096;
	run_sh(r, "echo job");
	assert_int_equal(r->out.len, SUPERVISOR_MAX_PRELUDE + 1 +
				     strlen(marker) + 4);
	for (i = 0; i < SUPERVISOR_MAX_PRELUDE; i++)
		assert_int_equal(r->out.data[i], 'p');
	assert_string_equal(r->out.data + SUPERVISOR_MAX_PRELUDE,
			    "\n[pipewright: prelude truncated at 64K]\njob\n");
	assert_int_equal(r->st.log_bytes, r->out.len);
}

/* A prelude that is a symlink or a FIFO is ignored, and never hangs. */
static void
test_prelude_not_regular(void **state)
{
	struct run *r = *state;
	char *path, *target;
	FILE *fp;

	assert_int_equal(pw_mkdirs(r->job.dir, 0700), 0);
	assert_true(asprintf(&path, "%s/%s", r->job.dir,
			     SUPERVISOR_PRELUDE_FILE) > 0);
	assert_true(asprintf(&target, "%s/host-file", r->job.tmp) > 0);
	fp = fopen(target, "w");
	assert_non_null(fp);
	fputs("host secret\n", fp);
	fclose(fp);
	assert_int_equal(symlink(target, path), 0);
	run_sh(r, "echo job");
	assert_string_equal(r->out.data, "job\n");

	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkfifo(path, 0600), 0);
	buf_reset(&r->out);
	r->ended = 0;
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(exec_create(&r->loop, PW_SUPERVISOR_PATH, &r->e), 0);
	tl_deadline_start(&r->loop, &r->deadline, DEADLINE_MS);
	run_sh(r, "echo again");
	assert_string_equal(r->out.data, "again\n");
	free(target);
	free(path);
}

static uint64_t
fnv(uint64_t h, const char *p, size_t n)
{
	while (n-- > 0)
		h = (h ^ (unsigned char)*p++) * 1099511628211ULL;
	return h;
}

static void
test_large_output(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/usr/bin/seq", "1", "3000000", NULL};
	struct buf want;
	char line[16], *log;
	size_t len;
	int i, n;

	start(r, argv);
	finish_loop(r);
	buf_init(&want, 0);
	for (i = 1; i <= 3000000; i++) {
		n = snprintf(line, sizeof(line), "%d\n", i);
		assert_int_equal(buf_append(&want, line, (size_t)n), 0);
	}
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_int_equal(r->out.len, want.len);
	assert_int_equal(r->st.log_bytes, want.len);
	assert_int_equal(fnv(14695981039346656037ULL, r->out.data, r->out.len),
			 fnv(14695981039346656037ULL, want.data, want.len));
	log = slurp(r->job.dir, SUPERVISOR_LOG_FILE, &len);
	assert_int_equal(len, want.len);
	assert_int_equal(fnv(14695981039346656037ULL, log, len),
			 fnv(14695981039346656037ULL, want.data, want.len));
	free(log);
	buf_free(&want);
	print_message("    20.9 MB of output in %llu ms\n",
		      (unsigned long long)r->elapsed);
}

/* The job prints "<its pid> <its parent, the supervisor>"; kill that. */
static void
kill_supervisor(struct run *r)
{
	int pid, ppid;

	if (r->acted || !output_has(r, "ready\n"))
		return;
	r->acted = true;
	assert_int_equal(sscanf(r->out.data, "%d %d", &pid, &ppid), 2);
	r->job_pid = pid;  /* orphaned now: teardown kills its group */
	assert_int_equal(kill(ppid, SIGKILL), 0);
}

static void
test_supervisor_killed(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/true", NULL};

	r->on_output = kill_supervisor;
	run_sh(r, "echo $$ $PPID; echo ready; exec sleep 100");
	assert_int_equal(r->st.result, EXEC_LOST);
	assert_string_equal(r->st.reason,
			    "supervisor exited (signal 9) without a result");
	assert_int_equal(r->st.log_bytes, r->out.len);
	assert_non_null(strstr(r->out.data, "\nready\n"));

	/* The dead supervisor left its socket; a new attempt replaces it. */
	assert_int_equal(uv_loop_init(&r->loop), 0);
	assert_int_equal(exec_create(&r->loop, PW_SUPERVISOR_PATH, &r->e), 0);
	tl_deadline_start(&r->loop, &r->deadline, DEADLINE_MS);
	r->on_output = NULL;
	r->ended = 0;
	buf_reset(&r->out);
	start(r, argv);
	finish_loop(r);
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_int_equal(r->out.len, 0);
}

/* Killed mid-stream: whatever the log holds still arrives, in order. */
static void
kill_supervisor_midstream(struct run *r)
{
	int pid, ppid;

	if (r->acted || r->out.len < (1 << 20))
		return;
	r->acted = true;
	assert_int_equal(sscanf(r->out.data, "%d %d", &pid, &ppid), 2);
	r->job_pid = pid;
	assert_int_equal(kill(ppid, SIGKILL), 0);
}

static void
test_supervisor_killed_midstream(void **state)
{
	struct run *r = *state;
	char *log, *nl, line[16];
	size_t len, off;
	int i, n;

	r->on_output = kill_supervisor_midstream;
	run_sh(r, "echo $$ $PPID; seq 1 3000000; exec sleep 100");
	assert_int_equal(r->st.result, EXEC_LOST);
	log = slurp(r->job.dir, SUPERVISOR_LOG_FILE, &len);
	assert_int_equal(r->out.len, len);
	assert_memory_equal(r->out.data, log, len);
	free(log);
	nl = memchr(r->out.data, '\n', r->out.len);
	assert_non_null(nl);
	off = (size_t)(nl + 1 - r->out.data);
	for (i = 1; off < r->out.len; i++, off += (size_t)n) {
		n = snprintf(line, sizeof(line), "%d\n", i);
		if (off + (size_t)n > r->out.len)
			n = (int)(r->out.len - off);  /* the last line may be cut */
		assert_memory_equal(r->out.data + off, line, (size_t)n);
	}
}

/*
 * A raw client, blocking with a timeout (the supervisor answers at once);
 * -1 if the supervisor has already gone.
 */
static int
raw_connect_or_fail(const char *dir)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};
	int fd;

	assert_true(snprintf(addr.sun_path, sizeof(addr.sun_path), "%s/%s", dir,
			     SUPERVISOR_SOCK_FILE) < (int)sizeof(addr.sun_path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		assert_true(errno == ENOENT || errno == ECONNREFUSED);
		close(fd);
		return -1;
	}
	return fd;
}

static int
raw_connect(const char *dir)
{
	int fd = raw_connect_or_fail(dir);

	assert_true(fd >= 0);
	return fd;
}

/* Reads to EOF; a reset counts as the end only if `reset_ok`. */
static void
raw_read_until(int fd, struct buf *b, bool reset_ok)
{
	char chunk[4096];
	ssize_t n;

	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		assert_int_equal(buf_append(b, chunk, (size_t)n), 0);
	if (n < 0 && errno == ECONNRESET && reset_ok)
		return;
	assert_int_equal(n, 0);  /* EOF, not the timeout */
}

static void
raw_read_all(int fd, struct buf *b)
{
	raw_read_until(fd, b, false);
}

struct second {
	struct exec_parser p;
	struct buf log;
};

static void
second_log(const char *data, size_t len, void *arg)
{
	struct second *s = arg;

	assert_int_equal(buf_append(&s->log, data, len), 0);
}

static int raw_late = -1;  /* test_protocol's second client, across callbacks */

static void
talk_to_supervisor(struct run *r)
{
	struct buf b;
	char fifo[160];
	int fd, w;

	if (r->acted || !output_has(r, "hello\n"))
		return;
	r->acted = true;
	/* A version older than any we speak is refused, by name. */
	fd = raw_connect(r->job.dir);
	assert_int_equal(write(fd, "ATTACH 0 0\n", 11), 11);
	buf_init(&b, 0);
	raw_read_all(fd, &b);
	assert_string_equal(b.data, "ERR unsupported protocol version 0\n");
	close(fd);
	buf_free(&b);
	/* A second client from offset 3; read after the job is released. */
	raw_late = raw_connect(r->job.dir);
	assert_int_equal(write(raw_late, "ATTACH 1 3\n", 11), 11);
	snprintf(fifo, sizeof(fifo), "%s/fifo", r->job.tmp);
	w = open(fifo, O_WRONLY | O_CLOEXEC);
	assert_true(w >= 0);
	assert_int_equal(write(w, "\n", 1), 1);
	close(w);
}

static void
test_protocol(void **state)
{
	struct run *r = *state;
	struct second s;
	struct buf b;
	char fifo[160], env_fifo[200], *status;
	const char *env[] = {"PATH=/usr/bin:/bin", env_fifo, NULL};

	snprintf(fifo, sizeof(fifo), "%s/fifo", r->job.tmp);
	snprintf(env_fifo, sizeof(env_fifo), "FIFO=%s", fifo);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	r->job.spec.env = env;
	r->on_output = talk_to_supervisor;
	run_sh(r, "echo hello; read x < \"$FIFO\"; echo bye");
	assert_true(r->acted);
	assert_string_equal(r->out.data, "hello\nbye\n");

	/* The late client got OK, the log from byte 3, then END + status. */
	buf_init(&b, 0);
	raw_read_all(raw_late, &b);
	close(raw_late);
	raw_late = -1;
	assert_int_equal(strncmp(b.data, "OK 1\n", 5), 0);
	exec_parser_init(&s.p);
	buf_init(&s.log, 0);
	assert_int_equal(exec_parser_feed(&s.p, b.data, b.len, second_log, &s),
			 EXEC_PARSE_DONE);
	assert_string_equal(s.log.data, "lo\nbye\n");
	status = slurp(r->job.dir, SUPERVISOR_STATUS_FILE, NULL);
	assert_int_equal(s.p.end.len, strlen(status));
	assert_memory_equal(s.p.end.data, status, s.p.end.len);
	free(status);
	exec_parser_free(&s.p);
	buf_free(&s.log);
	buf_free(&b);
}

/* --tied: the process that started the attempt dies; so does the job. */
static void
tied_child_exit(struct run *r)
{
	if (output_has(r, "ready\n"))
		_exit(0);
}

/*
 * The process's last thread, once the one that started the attempt has
 * exited: it lets the supervisor act on whatever that exit told it,
 * then ends the process.  No cmocka here (a child, another thread).
 */
static void *
tied_last_thread(void *arg)
{
	struct run *r = arg;
	char path[64], stat[256], *p, ok[8];
	int fd;
	ssize_t n;

	/*
	 * The first thread is the group's leader: it stays a zombie ('Z')
	 * once its exit is done, by which time the kernel has handed the
	 * supervisor to us and sent any death signal.
	 */
	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)getpid());
	for (;;) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		n = fd >= 0 ? read(fd, stat, sizeof(stat) - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			_exit(7);
		stat[n] = '\0';
		if ((p = strrchr(stat, ')')) != NULL && p[1] == ' ' &&
		    p[2] == 'Z')
			break;
		sched_yield();
	}
	/*
	 * A signal queued before our connect is handled before our ATTACH
	 * is answered (one thread polling: the signal first).
	 */
	fd = raw_connect_or_fail(r->job.dir);
	if (fd < 0 || write(fd, "ATTACH 1 0\n", 11) != 11 ||
	    read(fd, ok, 3) != 3 || memcmp(ok, "OK ", 3) != 0)
		_exit(8);
	_exit(0);
}

/* The thread that started it ends first; the process a moment later. */
static void
tied_thread_exit(struct run *r)
{
	pthread_t t;

	if (!output_has(r, "ready\n"))
		return;
	if (pthread_create(&t, NULL, tied_last_thread, r) != 0)
		_exit(9);
	pthread_exit(NULL);
}

static void
tied_child_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	(void)a;
	(void)st;
	(void)arg;
	_exit(3);  /* ended before we exited: wrong */
}

static void
tied_case(struct run *r, void (*exit_how)(struct run *))
{
	const char *argv[] = {"/bin/sh", "-c", "echo $$ > \"$PF\"; echo ready; "
			      "exec sleep 100", NULL};
	struct exec_status st;
	struct buf b;
	char *text, *reason;
	size_t len;
	pid_t child;
	int status, fd;

	r->job.spec.tied = true;
	r->job.spec.argv = argv;
	r->job.spec.kill_grace_ms = 200;
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		if (uv_loop_fork(&r->loop) < 0)
			_exit(5);
#ifdef PW_TEST_POOL
		/*
		 * Pooled supervisors are tied to the process that started
		 * them, our parent here: the child, the starter that dies,
		 * takes from a pool of its own.
		 */
		if (exec_create(&r->loop, PW_SUPERVISOR_PATH, &r->e) < 0 ||
		    exec_supervisor_pool(r->e, PW_TEST_POOL) < 0)
			_exit(6);
#endif
		r->on_output = exit_how;
		if (exec_start(r->e, &r->job.spec, on_output, tied_child_end, r,
			       &r->a) < 0)
			_exit(2);
		uv_run(&r->loop, UV_RUN_DEFAULT);
		_exit(4);
	}
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);

	/* Re-attach the way a restarted daemon would, or read what is left. */
	buf_init(&b, 0);
	fd = raw_connect_or_fail(r->job.dir);
	if (fd >= 0) {
		/* END once the tree is gone; a reset if it was exiting. */
		if (write(fd, "ATTACH 1 0\n", 11) == 11)
			raw_read_until(fd, &b, true);
		close(fd);
	}
	text = slurp(r->job.dir, SUPERVISOR_STATUS_FILE, &len);
	assert_int_equal(exec_status_parse(text, len, &st, &reason), 0);
	assert_int_equal(st.result, EXEC_CANCELED);
	assert_string_equal(st.reason, "canceled: pipewright exited");
	free(reason);
	free(text);
	buf_free(&b);
	assert_gone(read_pid(r->job.pidfile));

	uv_close((uv_handle_t *)&r->deadline, NULL);
	r->expect = 0;
	finish_loop(r);
}

static void
test_tied(void **state)
{
	tied_case(*state, tied_child_exit);
}

/*
 * The thread that started the attempt exits before the process does: the
 * death signal follows that thread and fires while the process (its
 * pid, getppid()'s answer) still lives.  The job must go on until the
 * process has gone, and then end as the starter's death.
 */
static void
test_tied_thread_first(void **state)
{
	tied_case(*state, tied_thread_exit);
}

struct helper_result {
	int calls;
	int status;
	char *output;
	size_t len;
};

static void
on_helper(int status, const char *output, size_t len, void *arg)
{
	struct helper_result *h = arg;

	h->calls++;
	h->status = status;
	assert_int_equal(output[len], '\0');
	h->output = malloc(len + 1);
	memcpy(h->output, output, len + 1);
	h->len = len;
}

static void
run_helper(struct run *r, const char *const *argv, size_t max,
	   struct helper_result *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(exec_helper(r->e, argv, r->job.tmp, NULL, max, on_helper, h), 0);
	assert_int_equal(exec_active(r->e), 1);
	assert_int_equal(uv_run(&r->loop, UV_RUN_NOWAIT) >= 0, 1);
	while (h->calls == 0)
		uv_run(&r->loop, UV_RUN_ONCE);
	assert_int_equal(h->calls, 1);
	assert_int_equal(exec_active(r->e), 0);
}

static void
test_helper(void **state)
{
	struct run *r = *state;
	const char *out_err[] = {"/bin/sh", "-c",
				 "echo out; echo err >&2; pwd; exit 5", NULL};
	const char *big[] = {"/bin/sh", "-c", "head -c 100000 /dev/zero", NULL};
	const char *sig[] = {"/bin/sh", "-c", "kill -TERM $$", NULL};
	const char *missing[] = {"/nonexistent/git", "status", NULL};
	struct helper_result h;
	char *want;

	run_helper(r, out_err, 4096, &h);
	assert_int_equal(h.status, 5);
	assert_true(asprintf(&want, "out\nerr\n%s\n", r->job.tmp) > 0);
	assert_string_equal(h.output, want);
	free(want);
	free(h.output);

	run_helper(r, big, 100, &h);
	assert_int_equal(h.status, 0);
	assert_int_equal(h.len, 100);
	free(h.output);

	run_helper(r, sig, 100, &h);
	assert_int_equal(h.status, 128 + SIGTERM);
	assert_int_equal(h.len, 0);
	free(h.output);

	memset(&h, 0, sizeof(h));
	assert_int_equal(exec_helper(r->e, missing, NULL, NULL, 100, on_helper, &h),
			 UV_ENOENT);
	assert_int_equal(exec_active(r->e), 0);

	uv_close((uv_handle_t *)&r->deadline, NULL);
	r->expect = 0;
	finish_loop(r);
	assert_int_equal(h.calls, 0);
}

/*
 * Dies within a few seconds: its pidfd turns readable when it has exited
 * (zombie or reaped), which is what a SIGKILL sent to it must lead to.
 */
static void
assert_dies(pid_t pid)
{
	struct pollfd p;
	int fd;

	assert_true(pid > 1);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0) {
		assert_int_equal(errno, ESRCH);  /* gone already */
		return;
	}
	p.fd = fd;
	p.events = POLLIN;
	assert_int_equal(poll(&p, 1, 5000), 1);
	close(fd);
}

static void
spawn_helper(struct run *r, const struct exec_helper_spec *spec,
	     struct helper_result *h)
{
	memset(h, 0, sizeof(*h));
	assert_int_equal(exec_helper_spawn(r->e, spec, on_helper, h), 0);
	while (h->calls == 0)
		uv_run(&r->loop, UV_RUN_ONCE);
	assert_int_equal(h->calls, 1);
	assert_int_equal(exec_active(r->e), 0);
}

/*
 * exec_helper_spawn's timeout kills the helper's whole group, background
 * processes included, and says so; a helper done in time is untouched; a
 * straggler that left the group delays the callback by the grace only.
 */
static void
test_helper_timeout(void **state)
{
	struct run *r = *state;
	char script[512], bgfile[160];
	const char *argv[] = {"/bin/sh", "-c", script, NULL};
	struct exec_helper_spec spec = {
		.argv = argv, .cwd = r->job.tmp, .env = r->job.env,
		.max_output = 4096, .timeout_ms = 300,
	};
	struct helper_result h;
	uint64_t t0;
	pid_t bg;

	snprintf(bgfile, sizeof(bgfile), "%s/bg", r->job.tmp);
	/* Quick: the exit status as usual, no -ETIMEDOUT (a deadline no
	 * loaded machine reaches: this case is about the status). */
	snprintf(script, sizeof(script), "echo quick; exit 3");
	spec.timeout_ms = 60000;
	spawn_helper(r, &spec, &h);
	assert_int_equal(h.status, 3);
	assert_string_equal(h.output, "quick\n");
	free(h.output);
	spec.timeout_ms = 300;

	/* Hangs, with a background process in its group. */
	snprintf(script, sizeof(script),
		 "sleep 60 & echo $! > %s; echo started; wait", bgfile);
	t0 = pw_mono_ms();
	spawn_helper(r, &spec, &h);
	assert_int_equal(h.status, -ETIMEDOUT);
	assert_string_equal(h.output, "started\n");
	assert_true(pw_mono_ms() - t0 >= 300);
	free(h.output);
	assert_dies(read_pid(bgfile));

	/* A straggler in a session of its own keeps the pipe open. */
	snprintf(script, sizeof(script),
		 "setsid sh -c 'echo $$ > %s; exec sleep 60' & "
		 "while [ ! -s %s ]; do :; done; echo left; exec sleep 60",
		 bgfile, bgfile);
	unlink(bgfile);
	t0 = pw_mono_ms();
	spawn_helper(r, &spec, &h);
	assert_int_equal(h.status, -ETIMEDOUT);
	assert_string_equal(h.output, "left\n");
	/*
	 * The timeout, then about a second for the straggler's pipe; libuv
	 * timers count from the loop's cached time, so allow them to end a
	 * little before 300 + 1000 ms by the wall clock.
	 */
	assert_true(pw_mono_ms() - t0 >= 1200);
	free(h.output);
	bg = read_pid(bgfile);
	assert_int_equal(kill(bg, 0), 0);  /* out of reach: still there */
	kill(bg, SIGKILL);

	uv_close((uv_handle_t *)&r->deadline, NULL);
	r->expect = 0;
	finish_loop(r);
}

static void
test_start_errors(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/true", NULL};
	struct exec *bad;
	struct stat sb;
	char *sock;

	r->job.spec.argv = argv;
	/* A supervisor that cannot be spawned: an error, no callback. */
	assert_int_equal(exec_create(&r->loop, "/nonexistent/supervisor", &bad), 0);
	assert_int_equal(exec_start(bad, &r->job.spec, on_output, on_end, r, &r->a),
			 UV_ENOENT);
	assert_int_equal(exec_active(bad), 0);
	exec_destroy(bad);
	assert_true(asprintf(&sock, "%s/%s", r->job.dir, SUPERVISOR_SOCK_FILE) > 0);
	assert_int_equal(stat(sock, &sb), -1);  /* cleaned up */
	free(sock);
	r->job.spec.argv = NULL;
	assert_int_equal(exec_start(r->e, &r->job.spec, on_output, on_end, r, &r->a),
			 -EINVAL);
	uv_close((uv_handle_t *)&r->deadline, NULL);
	r->expect = 0;
	finish_loop(r);
}

/* Many attempts one after the other: cost per attempt, and no leaks. */
struct many {
	struct run *r;
	int left, done;
	char dir[160];
};

static void many_next(struct many *m);

static void
many_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct many *m = arg;

	(void)a;
	assert_int_equal(st->result, EXEC_SUCCESS);
	m->done++;
	if (m->left > 0)
		many_next(m);
	else
		uv_close((uv_handle_t *)&m->r->deadline, NULL);
}

static void
many_next(struct many *m)
{
	static const char *const argv[] = {"/bin/true", NULL};
	struct exec_attempt *a;

	snprintf(m->dir, sizeof(m->dir), "%s/a%d", m->r->job.tmp, m->left--);
	m->r->job.spec.dir = m->dir;
	m->r->job.spec.argv = argv;
	assert_int_equal(exec_start(m->r->e, &m->r->job.spec, NULL, many_end, m, &a), 0);
}

static void
test_many_attempts(void **state)
{
	struct run *r = *state;
	struct many m = {.r = r, .left = 200};
	uint64_t t0 = uv_hrtime();

	many_next(&m);
	r->expect = 0;
	finish_loop(r);
	assert_int_equal(m.done, 200);
	print_message("    200 sequential /bin/true attempts: %.2f ms each\n",
		      (double)(uv_hrtime() - t0) / 1e6 / 200);
}

static void
concurrent_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct run *r = arg;

	(void)a;
	assert_int_equal(st->result, EXEC_SUCCESS);
	assert_int_equal(st->log_bytes, 6);
	if (++r->ended == r->expect)
		uv_close((uv_handle_t *)&r->deadline, NULL);
}

static void
test_concurrent(void **state)
{
	struct run *r = *state;
	const char *argv[] = {"/bin/sh", "-c", "echo hello", NULL};
	char dirs[20][160];
	struct exec_attempt *a;
	int i;

	r->expect = 20;
	r->job.spec.argv = argv;
	for (i = 0; i < 20; i++) {
		snprintf(dirs[i], sizeof(dirs[i]), "%s/c%d", r->job.tmp, i);
		r->job.spec.dir = dirs[i];
		assert_int_equal(exec_start(r->e, &r->job.spec, NULL, concurrent_end,
					    r, &a), 0);
	}
	assert_int_equal(exec_active(r->e), 20);
	finish_loop(r);
}

static void
collect(const char *data, size_t len, void *arg)
{
	assert_int_equal(buf_append(arg, data, len), 0);
}

static void
size_note(uint64_t size, void *arg)
{
	uint64_t *got = arg;

	*got = size;
}

/* Version 2's notes: only to a parser that takes them, only in version 2. */
static void
test_parser_notes(void **state)
{
	static const char stream[] = "OK 2\nSIZE 7\nSIZE 4096\nEND 24\n"
				     "version=1\nresult=failed\n";
	struct exec_parser p;
	uint64_t got = 0;
	size_t i;

	(void)state;
	exec_parser_init(&p);
	p.size_cb = size_note;
	p.size_arg = &got;
	for (i = 0; i < sizeof(stream) - 1; i++) {
		exec_parser_feed(&p, stream + i, 1, collect, NULL);
		if (i == 11)
			assert_int_equal(got, 7);  /* at its newline, not later */
	}
	assert_int_equal(p.state, EXEC_PARSE_DONE);
	assert_int_equal(got, 4096);
	exec_parser_free(&p);
	/* Version 1 has no notes, and a parser without size_cb takes none. */
	exec_parser_init(&p);
	p.size_cb = size_note;
	p.size_arg = &got;
	assert_int_equal(exec_parser_feed(&p, "OK 1\nSIZE 9\n", 12, collect,
					  NULL), EXEC_PARSE_ERROR);
	exec_parser_free(&p);
	exec_parser_init(&p);
	assert_int_equal(exec_parser_feed(&p, "OK 2\nSIZE 9\n", 12, collect,
					  NULL), EXEC_PARSE_ERROR);
	exec_parser_free(&p);
	exec_parser_init(&p);
	p.size_cb = size_note;
	assert_int_equal(exec_parser_feed(&p, "OK 2\nSIZE x\n", 12, collect,
					  NULL), EXEC_PARSE_ERROR);
	exec_parser_free(&p);
}

/*
 * Notes from a supervisor: no bytes on the socket, and the sizes lead to
 * every byte of the log exactly once (on_output reads them back).
 */
static void
test_notes_no_bytes(void **state)
{
	struct run *r = *state;

	run_sh(r, "seq 1 200000; echo done");
	assert_int_equal(r->st.result, EXEC_SUCCESS);
	assert_true(r->nnotes > 0);
	assert_int_equal(r->out.len, r->st.log_bytes);
	assert_true(r->out.len > 200000);
	assert_memory_equal(r->out.data + r->out.len - 5, "done\n", 5);
}

static void
test_parser(void **state)
{
	static const char full[] =
		"version=1\nresult=timed_out\nexit_code=-1\nsignal=15\n"
		"reason=killed: timeout 1m exceeded\nlog_bytes=12\n"
		"started_ms=1000\nfinished_ms=2000\nfuture_key=x\n";
	static const char stream[] =
		"OK 1\nLOG 5\nhelloLOG 0\nLOG 3\n\n\nxEND 24\nversion=1\nresult=failed\n"
		"trailing ignored";
	struct exec_parser p;
	struct exec_status st;
	struct buf b;
	char *reason, longline[400];
	size_t i;

	(void)state;
	/* Byte by byte: headers and payloads split everywhere. */
	exec_parser_init(&p);
	buf_init(&b, 0);
	for (i = 0; i < sizeof(stream) - 1; i++)
		exec_parser_feed(&p, stream + i, 1, collect, &b);
	assert_int_equal(p.state, EXEC_PARSE_DONE);
	assert_int_equal(b.len, 8);
	assert_memory_equal(b.data, "hello\n\nx", 8);
	assert_int_equal(exec_status_parse(p.end.data, p.end.len, &st, &reason), 0);
	assert_int_equal(st.result, EXEC_FAILED);
	assert_int_equal(st.exit_code, -1);
	assert_string_equal(st.reason, "");
	free(reason);
	exec_parser_free(&p);
	buf_free(&b);

	/* Errors are states, not crashes. */
	exec_parser_init(&p);
	assert_int_equal(exec_parser_feed(&p, "ERR unsupported protocol version 1\n",
					  35, collect, NULL), EXEC_PARSE_ERROR);
	assert_string_equal(p.error, "supervisor refused: unsupported protocol version 1");
	exec_parser_free(&p);
	exec_parser_init(&p);
	memset(longline, 'L', sizeof(longline));
	assert_int_equal(exec_parser_feed(&p, longline, sizeof(longline), collect,
					  NULL), EXEC_PARSE_ERROR);
	exec_parser_free(&p);
	exec_parser_init(&p);
	assert_int_equal(exec_parser_feed(&p, "OK 1\nLOG -1\n", 12, collect, NULL),
			 EXEC_PARSE_ERROR);
	exec_parser_free(&p);
	exec_parser_init(&p);
	assert_int_equal(exec_parser_feed(&p, "OK 1\nEND 99999999\n", 18, collect,
					  NULL), EXEC_PARSE_ERROR);
	exec_parser_free(&p);

	/* Status files: complete, and broken ones refused. */
	assert_int_equal(exec_status_parse(full, strlen(full), &st, &reason), 0);
	assert_int_equal(st.result, EXEC_TIMED_OUT);
	assert_int_equal(st.term_signal, 15);
	assert_string_equal(st.reason, "killed: timeout 1m exceeded");
	assert_int_equal(st.log_bytes, 12);
	assert_int_equal(st.finished_ms, 2000);
	free(reason);
	assert_int_equal(exec_status_parse("result=success\n", 15, &st, &reason),
			 -EINVAL);
	assert_int_equal(exec_status_parse("version=2\nresult=success\n", 25, &st,
					   &reason), -EINVAL);
	assert_int_equal(exec_status_parse("version=1\nresult=maybe\n", 23, &st,
					   &reason), -EINVAL);
	assert_int_equal(exec_status_parse("version=1\nresult=failed\nexit_code=x\n",
					   36, &st, &reason), -EINVAL);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parser),
		cmocka_unit_test(test_parser_notes),
		cmocka_unit_test_setup_teardown(test_notes_no_bytes, setup_notes,
						teardown),
		/* The log's cases again with notes (the daemon's way). */
		cmocka_unit_test_setup_teardown(test_mask_secrets, setup_notes,
						teardown),
		cmocka_unit_test_setup_teardown(test_log_cap, setup_notes,
						teardown),
		cmocka_unit_test_setup_teardown(test_prelude, setup_notes,
						teardown),
		cmocka_unit_test_setup_teardown(test_prelude_capped, setup_notes,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_output, setup_notes,
						teardown),
		cmocka_unit_test_setup_teardown(test_supervisor_killed_midstream,
						setup_notes, teardown),
		cmocka_unit_test_setup_teardown(test_success, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mono_stamps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_killed_by_signal, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mask_secrets, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_not_the_supervisors,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_refused, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stdio, setup, teardown),
		cmocka_unit_test_setup_teardown(test_affinity_not_inherited,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_leaked_fds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cannot_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_cwd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout_kills_tree, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cancel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_background_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_log_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prelude, setup, teardown),
		cmocka_unit_test_setup_teardown(test_prelude_capped, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_prelude_not_regular, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_large_output, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supervisor_killed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_supervisor_killed_midstream, setup, teardown),
		cmocka_unit_test_setup_teardown(test_protocol, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tied, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tied_thread_first, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_helper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_helper_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_attempts, setup, teardown),
	};

	/* A supervisor that went away must not kill the test with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	/* One case by name (a glob), to repeat a racy one alone. */
	if (argc > 1)
		cmocka_set_test_filter(argv[1]);
	return cmocka_run_group_tests_name("exec", tests, NULL, NULL);
}
