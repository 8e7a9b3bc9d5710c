/*
 * sched's finish hook and the daemon's lines around a job's script: an
 * ended attempt held running until it is settled (dependants wait, a
 * settle can fail a success, a retry follows the settled state, a cancel
 * waits for the settle), lines added after the supervisor's last byte,
 * a prelude (written by the daemon's attempt_prelude_write) at the head
 * of the log, and adopted attempts going through the same hook, also
 * with an offset past the supervisor's log (a restart while finishing).
 *
 * As test_sched.c: real pipelines through the real exec and supervisor,
 * order from the recorded events, never the clock.  Settles come from a
 * zero timer, outside the hook, as a worker thread's result would.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "daemon-int.h"
#include "pipewright/exec.h"
#include "pipewright/pipeline.h"
#include "pipewright/sched.h"
#include "pipewright/supervisor-proto.h"
#include "pipewright/util.h"
#include "testlib.h"

#define MAX_EVENTS 128
#define MAX_JOBS 4
#define DEADLINE_MS 20000

#define WAIT_FOR(file)                                                     \
	"i=0; while [ ! -e " file " ] && [ $i -lt 200 ]; do sleep 0.05;"   \
	" i=$((i+1)); done; test -e " file

struct rec {
	enum sched_event_kind kind;
	char job[64];
	int state;
	int attempt;
	int exit_code;
	char reason[160];
};

struct fx {
	uv_loop_t loop;
	uv_timer_t deadline, settle_timer, prepare_timer, detach_timer;
	struct exec *exec;
	struct sched *sched;
	struct sched_run *run;
	uint64_t next_id;
	char attempts[PATH_MAX];
	char workspace[PATH_MAX];
	struct rec ev[MAX_EVENTS];
	size_t nev;
	struct buf out[MAX_JOBS];
	bool finished, deadline_hit;
	/* The finish hook. */
	int finishes;                 /* calls */
	struct sched_attempt_result res; /* the last call's, reason copied: */
	char res_reason[160];
	int res_attempt;
	size_t nev_at_finish;         /* events before the last call */
	int running_at_finish;        /* sched_running() then */
	enum sched_job_state state_at_finish;
	const char *log_line;         /* added with sched_attempt_log */
	int log_repeat;               /* that many times (0: once) */
	int log_ok, log_big;          /* calls answered 0, -E2BIG */
	int fail_settles;             /* this many settles fail with: */
	const char *fail_reason;
	bool cancel_in_finish;        /* the hook cancels the run */
	bool detach_in_finish;        /* the timer detaches instead */
	int cancel_rc, settle_rc, log_rc;
	bool finished_at_settle;      /* the run had ended before a settle */
	size_t pending[MAX_JOBS];     /* jobs to settle from the timer */
	size_t npending;
	/* attempt_prepare: writes `prelude` into the attempt dir, proceeds. */
	const char *prelude;
	size_t held[MAX_JOBS];
	size_t nheld;
	char prepared_dir[PATH_MAX];
	const char *detach_on_output;
};

static void
copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src != NULL ? src : "");
}

static void
on_event(void *arg, const struct sched_event *ev)
{
	struct fx *f = arg;
	struct rec *r;

	if (f->nev < MAX_EVENTS) {
		r = &f->ev[f->nev++];
		r->kind = ev->kind;
		copy(r->job, sizeof(r->job),
		     ev->kind == SCHED_EVENT_JOB ? ev->job_name : "");
		r->state = ev->state;
		r->attempt = ev->attempt;
		r->exit_code = ev->exit_code;
		copy(r->reason, sizeof(r->reason), ev->reason);
	}
	if (ev->kind == SCHED_EVENT_RUN && ev->state >= SCHED_RUN_SUCCESS) {
		f->finished = true;
		uv_timer_stop(&f->deadline);
	}
}

static void
on_deadline(uv_timer_t *t)
{
	(void)t;
	fail_msg("test deadline of %d ms passed", DEADLINE_MS);
}

static void
on_detach_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, detach_timer);

	sched_detach(f->sched);
	uv_timer_stop(&f->deadline);
}

static void
on_output(void *arg, struct sched_run *run, size_t job, int attempt,
	  const char *data, size_t len)
{
	struct fx *f = arg;

	(void)attempt;
	assert_true(run == f->run);
	assert_true(job < MAX_JOBS);
	assert_int_equal(buf_append(&f->out[job], data, len), 0);
	if (f->detach_on_output != NULL &&
	    strstr(f->out[job].data, f->detach_on_output) != NULL) {
		f->detach_on_output = NULL;
		uv_timer_start(&f->detach_timer, on_detach_timer, 0, 0);
	}
}

static void
on_settle_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, settle_timer);
	size_t i;
	int rc;

	if (f->detach_in_finish) {
		sched_detach(f->sched);
		uv_timer_stop(&f->deadline);
	}
	for (i = 0; i < f->npending; i++) {
		f->finished_at_settle |= f->finished;
		if (f->fail_settles > 0) {
			f->fail_settles--;
			rc = sched_attempt_settle(f->run, f->pending[i], -EFBIG,
						  f->fail_reason);
		} else {
			rc = sched_attempt_settle(f->run, f->pending[i], 0,
						  NULL);
		}
		f->settle_rc = rc;
	}
	f->npending = 0;
}

static void
on_finish(void *arg, struct sched_run *run, size_t job, int attempt,
	  const struct sched_attempt_result *res)
{
	struct fx *f = arg;
	int i;

	assert_true(run == f->run);
	f->finishes++;
	f->res = *res;
	copy(f->res_reason, sizeof(f->res_reason), res->reason);
	f->res.reason = f->res_reason;
	f->res_attempt = attempt;
	f->nev_at_finish = f->nev;
	f->running_at_finish = sched_running(f->sched);
	f->state_at_finish = sched_run_job_state(run, job);
	/* Not a value settle takes, and nothing to settle twice. */
	assert_int_equal(sched_attempt_settle(run, job, 1, NULL), -EINVAL);
	for (i = 0; f->log_line != NULL && i < (f->log_repeat > 0 ? f->log_repeat : 1);
	     i++) {
		f->log_rc = sched_attempt_log(run, job, f->log_line,
					      strlen(f->log_line));
		f->log_ok += f->log_rc == 0;
		f->log_big += f->log_rc == -E2BIG;
	}
	if (f->cancel_in_finish)
		f->cancel_rc = sched_run_cancel(run);
	assert_true(f->npending < MAX_JOBS);
	f->pending[f->npending++] = job;
	uv_timer_start(&f->settle_timer, on_settle_timer, 0, 0);
}

static void
on_prepare_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, prepare_timer);
	size_t i;

	for (i = 0; i < f->nheld; i++)
		assert_int_equal(sched_attempt_proceed(f->run, f->held[i], 0), 0);
	f->nheld = 0;
}

static void
on_prepare(void *arg, struct sched_run *run, size_t job, int attempt,
	   const char *dir)
{
	struct fx *f = arg;

	(void)attempt;
	(void)run;
	if (f->prelude != NULL)
		assert_int_equal(attempt_prelude_write(dir, f->prelude,
						       strlen(f->prelude)), 0);
	copy(f->prepared_dir, sizeof(f->prepared_dir), dir);
	f->held[f->nheld++] = job;
	uv_timer_start(&f->prepare_timer, on_prepare_timer, 0, 0);
}

static void
fx_sched(struct fx *f, bool finish)
{
	struct sched_options opts = {
		.max_jobs = 2,
		.attempts_dir = f->attempts,
		.kill_grace_ms = 200,
	};
	struct sched_callbacks cb = {
		.event = on_event, .output = on_output, .arg = f,
		.attempt_prepare = on_prepare,
		.attempt_finish = finish ? on_finish : NULL,
	};

	sched_destroy(f->sched);
	assert_int_equal(sched_create(&f->loop, f->exec, &opts, &cb, &f->sched),
			 0);
}

static struct fx *
fx_new(void)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	char tmp[] = "/tmp/pw-finws-XXXXXX";
	size_t i;

	f->next_id = 70;
	assert_non_null(mkdtemp(tmp));
	assert_non_null(realpath(tmp, f->attempts));
	strcpy(tmp, "/tmp/pw-finat-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	assert_non_null(realpath(tmp, f->workspace));
	for (i = 0; i < MAX_JOBS; i++)
		buf_init(&f->out[i], 1 << 20);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->deadline), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->settle_timer), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->prepare_timer), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->detach_timer), 0);
	assert_int_equal(exec_create(&f->loop, PW_SUPERVISOR_PATH, &f->exec), 0);
	fx_sched(f, true);
	return f;
}

static void
fx_free(struct fx *f)
{
	size_t i;

	sched_run_destroy(f->run);
	sched_destroy(f->sched);
	assert_int_equal(exec_active(f->exec), 0);
	exec_destroy(f->exec);
	uv_close((uv_handle_t *)&f->deadline, NULL);
	uv_close((uv_handle_t *)&f->settle_timer, NULL);
	uv_close((uv_handle_t *)&f->prepare_timer, NULL);
	uv_close((uv_handle_t *)&f->detach_timer, NULL);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	for (i = 0; i < MAX_JOBS; i++)
		buf_free(&f->out[i]);
	assert_int_equal(tl_rm_tree(f->attempts), 0);
	assert_int_equal(tl_rm_tree(f->workspace), 0);
	free(f);
}

static struct pipeline *
parse(const char *yaml)
{
	struct pipeline_problems pp;
	struct pipeline *p = NULL;

	pipeline_problems_init(&pp);
	assert_int_equal(pipeline_parse("test.yml", yaml, strlen(yaml), &p,
					&pp), 0);
	pipeline_problems_free(&pp);
	return p;
}

/* A new run of yaml with id `id` (0: the next), replacing the last. */
static void
fx_run(struct fx *f, const char *yaml, uint64_t id)
{
	struct sched_run_params pr = {
		.id = id != 0 ? id : ++f->next_id,
		.project = "proj",
		.workspace = f->workspace,
	};
	size_t i;

	sched_run_destroy(f->run);
	f->run = NULL;
	f->nev = 0;
	f->finished = false;
	for (i = 0; i < MAX_JOBS; i++)
		buf_reset(&f->out[i]);
	assert_int_equal(sched_run_create(f->sched, parse(yaml), &pr, &f->run),
			 0);
}

/* Starts the run; the loop runs until nothing is left to do. */
static void
fx_start(struct fx *f)
{
	assert_int_equal(uv_timer_start(&f->deadline, on_deadline, DEADLINE_MS,
					0), 0);
	assert_int_equal(sched_run_start(f->run), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
}

static void
fx_go(struct fx *f)
{
	fx_start(f);
	assert_true(f->finished);
	assert_int_equal(f->ev[f->nev - 1].kind, SCHED_EVENT_RUN);
	assert_int_equal(exec_active(f->exec), 0);
	assert_int_equal(sched_running(f->sched), 0);
}

static size_t
job_index(const struct fx *f, const char *name)
{
	long j = pipeline_job_find(sched_run_pipeline(f->run), name);

	if (j < 0)
		fail_msg("no job '%s'", name);
	return (size_t)j;
}

static const char *
jout(const struct fx *f, const char *name)
{
	const char *s = f->out[job_index(f, name)].data;

	return s != NULL ? s : "";
}

static long
ev_find(const struct fx *f, const char *name, int state)
{
	size_t i;

	for (i = 0; i < f->nev; i++)
		if (f->ev[i].kind == SCHED_EVENT_JOB &&
		    strcmp(f->ev[i].job, name) == 0 && f->ev[i].state == state)
			return (long)i;
	return -1;
}

static const struct rec *
ev_last(const struct fx *f, const char *name)
{
	long i;

	for (i = (long)f->nev - 1; i >= 0; i--)
		if (f->ev[i].kind == SCHED_EVENT_JOB &&
		    strcmp(f->ev[i].job, name) == 0)
			return &f->ev[i];
	fail_msg("no event of job '%s'", name);
	return NULL;
}

static const char *
trace(const struct fx *f, const char *name)
{
	static char s[512];
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < f->nev && n < sizeof(s); i++)
		if (f->ev[i].kind == SCHED_EVENT_JOB &&
		    strcmp(f->ev[i].job, name) == 0)
			n += snprintf(s + n, sizeof(s) - n, "%s%s/%d",
				      n ? " " : "",
				      sched_job_state_name(f->ev[i].state),
				      f->ev[i].attempt);
	return s;
}

static const char *
run_trace(const struct fx *f)
{
	static char s[256];
	size_t i, n = 0;

	s[0] = '\0';
	for (i = 0; i < f->nev && n < sizeof(s); i++)
		if (f->ev[i].kind == SCHED_EVENT_RUN)
			n += snprintf(s + n, sizeof(s) - n, "%s%s", n ? " " : "",
				      sched_run_state_name(f->ev[i].state));
	return s;
}

static char *
read_text(const char *dir, const char *name)
{
	char *path = xasprintf("%s/%s", dir, name), *text = NULL;
	size_t len;
	int rc = pw_read_file(path, 1 << 20, &text, &len);

	free(path);
	return rc == 0 ? text : NULL;
}

/* ---- tests ------------------------------------------------------------ */

/*
 * The build's end is held: its dependant does not start, its slot stays
 * taken, and the hook's line lands right after the script's output.
 */
static void
test_finish_holds_dependants(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	fx_run(f, "jobs:\n"
		  "  build: {script: echo built}\n"
		  "  test: {needs: [build], script: echo tested}\n", 0);
	/* Nothing is finishing before the start. */
	assert_int_equal(sched_attempt_settle(f->run, 0, 0, NULL), -EINVAL);
	assert_int_equal(sched_attempt_log(f->run, 0, "x", 1), -EINVAL);
	f->log_line = "cache saved: cargo-3f9a 412 MiB in 2.1s\n";
	fx_go(f);
	assert_int_equal(f->finishes, 2);
	assert_int_equal(f->log_rc, 0);
	assert_int_equal(f->settle_rc, 0);
	assert_string_equal(trace(f, "build"), "ready/0 running/1 success/1");
	assert_string_equal(trace(f, "test"), "ready/0 running/1 success/1");
	/* test became ready only after build's settled end. */
	assert_true(ev_find(f, "build", SCHED_JOB_SUCCESS) <
		    ev_find(f, "test", SCHED_JOB_READY));
	assert_int_equal(f->res.state, SCHED_JOB_SUCCESS);
	assert_int_equal(f->res.exit_code, 0);
	assert_string_equal(f->res.reason, "exit status 0");
	assert_int_equal(f->res_attempt, 1);
	assert_int_equal(f->state_at_finish, SCHED_JOB_RUNNING);
	assert_int_equal(f->running_at_finish, 1);
	assert_string_equal(jout(f, "build"), "$ echo built\nbuilt\n"
			    "cache saved: cargo-3f9a 412 MiB in 2.1s\n");
	assert_string_equal(run_trace(f), "queued running success");
	/* After the settle, nothing is finishing. */
	assert_int_equal(sched_attempt_log(f->run, 0, "x", 1), -EINVAL);
	fx_free(f);
}

/*
 * A failed settle fails a success with the caller's reason (and its
 * dependant is skipped); a failure stays the failure it was.
 */
static void
test_finish_fails_success(void **state)
{
	struct fx *f = fx_new();
	const struct rec *e;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  build: {script: 'true'}\n"
		  "  test: {needs: [build], script: 'true'}\n", 0);
	f->fail_settles = 1;
	f->fail_reason = "artifacts: 3.1 GiB is above max_size 1 GiB";
	fx_go(f);
	e = ev_last(f, "build");
	assert_int_equal(e->state, SCHED_JOB_FAILED);
	assert_int_equal(e->exit_code, 0);
	assert_string_equal(e->reason, f->fail_reason);
	assert_int_equal(ev_last(f, "test")->state, SCHED_JOB_SKIPPED);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);

	fx_run(f, "jobs:\n  bad: {script: exit 3}\n", 0);
	f->fail_settles = 1;
	fx_go(f);
	e = ev_last(f, "bad");
	assert_int_equal(e->state, SCHED_JOB_FAILED);
	assert_int_equal(e->exit_code, 3);
	assert_string_equal(e->reason, "exit status 3");
	assert_int_equal(f->res.state, SCHED_JOB_FAILED);
	fx_free(f);
}

/* The retry decision follows the settled state, not the script's. */
static void
test_finish_retry_settled(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	fx_run(f, "jobs:\n  build: {retry: 1, script: 'true'}\n", 0);
	f->fail_settles = 1;
	f->fail_reason = "artifacts: the disk is full";
	fx_go(f);
	assert_string_equal(trace(f, "build"), "ready/0 running/1 failed/1 "
			    "ready/1 running/2 success/2");
	assert_string_equal(f->ev[ev_find(f, "build", SCHED_JOB_FAILED)].reason,
			    "artifacts: the disk is full; retrying (attempt 2 "
			    "of 2)");
	assert_int_equal(f->finishes, 2);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	fx_free(f);
}

/*
 * A cancel while the attempt finishes waits for the settle: one end, the
 * supervisor's result, and the run canceled only after it.
 */
static void
test_finish_cancel_waits(void **state)
{
	struct fx *f = fx_new();

	(void)state;
	fx_run(f, "jobs:\n"
		  "  build: {script: 'true'}\n"
		  "  test: {needs: [build], script: 'true'}\n", 0);
	f->cancel_in_finish = true;
	f->log_line = "artifacts saved\n";
	fx_go(f);
	assert_int_equal(f->cancel_rc, 0);
	assert_int_equal(f->settle_rc, 0);
	assert_false(f->finished_at_settle);
	assert_int_equal(f->finishes, 1);
	assert_string_equal(trace(f, "build"), "ready/0 running/1 success/1");
	assert_string_equal(trace(f, "test"), "canceled/0");
	assert_string_equal(run_trace(f), "queued running canceled");
	assert_string_equal(jout(f, "build"), "$ true\nartifacts saved\n");
	fx_free(f);
}

/*
 * The prelude leads the log as sched reports it (what the daemon
 * stores), the supervisor's log file holds it too and the prelude file is
 * gone; an attempt let go of mid-script is taken up at the offset the
 * first scheduler reached (prelude included) and its end goes through the
 * next scheduler's hook: every byte once, in order.
 */
static void
test_finish_prelude_adopt(void **state)
{
	struct fx *f = fx_new();
	char *go = xasprintf("%s/go", f->workspace), *dir, *before, *log;
	const char *want;
	size_t have;
	FILE *fp;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  long:\n"
		  "    script:\n"
		  "      - echo one\n"
		  "      - " WAIT_FOR("go") "\n"
		  "      - echo two\n", 0);
	f->prelude = "artifact 'app' restored: 2 files, 12 KiB\n"
		     "cache restored: cargo-3f9a (no newline)";
	f->detach_on_output = "\none\n";
	fx_start(f);
	assert_false(f->finished);
	assert_int_equal(f->finishes, 0);
	have = f->out[0].len;
	before = xstrdup(f->out[0].data);
	/* The prelude first; more may have come before the let-go. */
	want = "artifact 'app' restored: 2 files, 12 KiB\n"
	       "cache restored: cargo-3f9a (no newline)\n"
	       "$ echo one\none\n";
	assert_int_equal(strncmp(before, want, strlen(want)), 0);
	assert_null(strstr(before, "two\n"));
	dir = xstrdup(f->prepared_dir);

	/* The next daemon's scheduler takes the attempt up. */
	sched_run_destroy(f->run);
	f->run = NULL;
	fx_sched(f, true);
	fx_run(f, "jobs:\n  long: {script: 'false'}\n", f->next_id);
	assert_int_equal(buf_append(&f->out[0], before, have), 0);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, dir, have), 0);
	fp = fopen(go, "w");
	assert_non_null(fp);
	fclose(fp);
	f->log_line = "cache saved: cargo-3f9a\n";
	fx_go(f);
	assert_int_equal(f->finishes, 1);
	assert_string_equal(trace(f, "long"), "success/1");
	want = "artifact 'app' restored: 2 files, 12 KiB\n"
	       "cache restored: cargo-3f9a (no newline)\n"
	       "$ echo one\none\n$ " WAIT_FOR("go") "\n$ echo two\ntwo\n";
	log = read_text(dir, SUPERVISOR_LOG_FILE);
	assert_non_null(log);
	assert_string_equal(log, want);
	assert_null(read_text(dir, SUPERVISOR_PRELUDE_FILE));
	assert_int_equal(strncmp(jout(f, "long"), want, strlen(want)), 0);
	assert_string_equal(jout(f, "long") + strlen(want),
			    "cache saved: cargo-3f9a\n");
	free(log);
	free(before);
	free(dir);
	free(go);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	fx_free(f);
}

/*
 * Let go of while finishing (the daemon stopped before it settled): the
 * settle is refused and changes nothing; the next scheduler adopts at the
 * offset that includes the lines already added (past the supervisor's
 * log), gets no byte twice, and finishes the attempt through its hook.
 */
static void
test_finish_detached_readopt(void **state)
{
	struct fx *f = fx_new();
	char *dir, *before;
	size_t have;

	(void)state;
	fx_run(f, "jobs:\n  build: {script: echo hi}\n", 0);
	f->log_line = "saving the cache\n";
	f->detach_in_finish = true;
	fx_start(f);
	assert_false(f->finished);
	assert_int_equal(f->finishes, 1);
	assert_int_equal(f->settle_rc, -ECANCELED);
	have = f->out[0].len;
	before = xstrdup(f->out[0].data);
	assert_string_equal(before, "$ echo hi\nhi\nsaving the cache\n");
	dir = xstrdup(f->prepared_dir);

	sched_run_destroy(f->run);
	f->run = NULL;
	fx_sched(f, true);
	f->detach_in_finish = false;
	f->finishes = 0;
	fx_run(f, "jobs:\n  build: {script: 'false'}\n", f->next_id);
	assert_int_equal(buf_append(&f->out[0], before, have), 0);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, dir, have), 0);
	f->log_line = "cache saved\n";
	fx_go(f);
	assert_int_equal(f->finishes, 1);
	assert_int_equal(f->res.state, SCHED_JOB_SUCCESS);
	assert_string_equal(trace(f, "build"), "success/1");
	assert_string_equal(jout(f, "build"),
			    "$ echo hi\nhi\nsaving the cache\ncache saved\n");
	free(before);
	free(dir);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	fx_free(f);
}

/* Lines after the job are capped: one line says the rest was dropped. */
static void
test_finish_log_capped(void **state)
{
	const char *cut = "[pipewright: further lines after the job dropped]\n";
	struct fx *f = fx_new();
	char line[1001];
	const char *out;
	size_t want;

	(void)state;
	memset(line, 'w', 999);
	line[999] = '\n';
	line[1000] = '\0';
	fx_run(f, "jobs:\n  build: {script: 'true'}\n", 0);
	f->log_line = line;
	f->log_repeat = 70;
	fx_go(f);
	assert_int_equal(f->log_ok, SCHED_MAX_FINISH_LOG / 1000);
	assert_int_equal(f->log_big, 70 - SCHED_MAX_FINISH_LOG / 1000);
	out = jout(f, "build");
	want = strlen("$ true\n") + SCHED_MAX_FINISH_LOG / 1000 * 1000;
	assert_int_equal(strlen(out), want + strlen(cut));
	assert_string_equal(out + want, cut);
	assert_string_equal(trace(f, "build"), "ready/0 running/1 success/1");
	fx_free(f);
}

/* The daemon's prelude writer: whole files only, capped, dir made. */
static void
test_prelude_write(void **state)
{
	struct fx *f = fx_new();
	char *dir = xasprintf("%s/r1-j0-a1", f->attempts), *text, *big;

	(void)state;
	assert_int_equal(attempt_prelude_write(dir, "a\n", 2), 0);
	text = read_text(dir, SUPERVISOR_PRELUDE_FILE);
	assert_non_null(text);
	assert_string_equal(text, "a\n");
	free(text);
	big = xcalloc(1, SUPERVISOR_MAX_PRELUDE + 1);
	memset(big, 'x', SUPERVISOR_MAX_PRELUDE + 1);
	assert_int_equal(attempt_prelude_write(dir, big,
					       SUPERVISOR_MAX_PRELUDE + 1),
			 -EFBIG);
	/* The earlier one is still whole; no temporary is left. */
	text = read_text(dir, SUPERVISOR_PRELUDE_FILE);
	assert_string_equal(text, "a\n");
	free(text);
	assert_null(read_text(dir, SUPERVISOR_PRELUDE_FILE ".tmp"));
	assert_int_equal(attempt_prelude_write(dir, big,
					       SUPERVISOR_MAX_PRELUDE), 0);
	free(big);
	free(dir);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_finish_holds_dependants),
		cmocka_unit_test(test_finish_fails_success),
		cmocka_unit_test(test_finish_retry_settled),
		cmocka_unit_test(test_finish_cancel_waits),
		cmocka_unit_test(test_finish_prelude_adopt),
		cmocka_unit_test(test_finish_detached_readopt),
		cmocka_unit_test(test_finish_log_capped),
		cmocka_unit_test(test_prelude_write),
	};

	return cmocka_run_group_tests_name("sched_finish", tests, NULL, NULL);
}
