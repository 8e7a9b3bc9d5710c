/*
 * sched: the order rules, retries, timeouts, manual jobs, --only, matrix,
 * slots, environments, the job's environment and script, cancel, restore
 * and branch filters.
 *
 * No mocks: every test parses a real pipeline, runs its jobs through the
 * real exec module and pipewright-supervisor as tiny /bin/sh scripts, and
 * records every sched event.  Order is asserted from the recorded events,
 * never from the clock (only cancel and timeout check, loosely, that they
 * were prompt); the loop runs until the run's final event and every test
 * ends with uv_loop_close() == 0.  A 20 s deadline cancels a run that hangs.
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

#include "pipewright/exec.h"
#include "pipewright/pipeline.h"
#include "pipewright/sched.h"
#include "pipewright/util.h"
#include "testlib.h"

#define MAX_EVENTS 512
#define MAX_JOBS 16
#define DEADLINE_MS 20000

/* A shell loop that waits (10 s at most) until `file` exists. */
#define WAIT_FOR(file)                                                     \
	"i=0; while [ ! -e " file " ] && [ $i -lt 200 ]; do sleep 0.05;"   \
	" i=$((i+1)); done; test -e " file

/* One sched event, copied out of the callback. */
struct rec {
	enum sched_event_kind kind;
	char job[64];        /* "" for run events */
	int state;
	int attempt;
	int exit_code;
	char reason[160];    /* "" if none */
};

/* One test's world: a loop, exec, sched, the current run and what it said. */
struct fx {
	uv_loop_t loop;
	uv_timer_t deadline;      /* cancels a run that hangs */
	uv_timer_t cancel_timer;  /* cancels the run from outside any callback */
	struct exec *exec;
	struct sched *sched;
	struct sched_run *run;
	uint64_t next_id;         /* run ids, so attempt directories differ */
	char attempts[PATH_MAX];
	char workspace[PATH_MAX];
	struct rec ev[MAX_EVENTS];
	size_t nev;
	struct buf out[MAX_JOBS]; /* each job's output, all attempts */
	int max_running;          /* most jobs running at once, per sched_running() */
	bool finished;            /* the run's final event came */
	bool deadline_hit;
	/* Cancel hooks. */
	const char *cancel_on_output;  /* this job's "started" line → cancel */
	const char *cancel_on_job;     /* this job's event in cancel_on_state → */
	int cancel_on_state;           /* cancel, inside the event callback */
	int cancel_rc;
	uint64_t cancel_at_ms;
	/* Approval hook: this manual job is approved when it starts waiting. */
	const char *approve_on_waiting;
	/* Detach hook: this output makes the scheduler let go of its jobs. */
	const char *detach_on_output;
	int approve_rc;
	/* attempt_prepare: held attempts proceed from a timer, as after a commit. */
	uv_timer_t prepare_timer;
	size_t held[MAX_JOBS];
	size_t nheld;
	int prepared;              /* attempts seen by attempt_prepare */
	char prepared_dir[PATH_MAX];
	bool make_ws;              /* the held attempt's workspace is made */
	const char *fail_first;    /* this job's first attempt is failed */
	bool trace_env;            /* attempt_prepare sets TRACEPARENT */
};

/* ---- helpers ---------------------------------------------------------- */

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

	if (sched_running(f->sched) > f->max_running)
		f->max_running = sched_running(f->sched);
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
	if (ev->kind == SCHED_EVENT_JOB && f->cancel_on_job != NULL &&
	    ev->state == f->cancel_on_state &&
	    strcmp(ev->job_name, f->cancel_on_job) == 0) {
		f->cancel_on_job = NULL;
		f->cancel_at_ms = pw_mono_ms();
		f->cancel_rc = sched_run_cancel(ev->run);
	}
	if (ev->kind == SCHED_EVENT_JOB && f->approve_on_waiting != NULL &&
	    ev->state == SCHED_JOB_WAITING &&
	    strcmp(ev->job_name, f->approve_on_waiting) == 0) {
		f->approve_on_waiting = NULL;
		f->approve_rc = sched_run_approve(ev->run, ev->job_name);
	}
	if (ev->kind == SCHED_EVENT_RUN && ev->state >= SCHED_RUN_SUCCESS) {
		f->finished = true;
		uv_timer_stop(&f->deadline);
	}
}

static void
on_cancel_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, cancel_timer);

	f->cancel_at_ms = pw_mono_ms();
	f->cancel_rc = sched_run_cancel(f->run);
}

static void on_detach_timer(uv_timer_t *t);

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
		uv_timer_start(&f->cancel_timer, on_detach_timer, 0, 0);
	}
	if (f->cancel_on_output != NULL &&
	    strcmp(pipeline_job_name(sched_run_pipeline(run), job),
		   f->cancel_on_output) == 0 &&
	    strstr(f->out[job].data, "\nstarted\n") != NULL) {
		f->cancel_on_output = NULL;
		uv_timer_start(&f->cancel_timer, on_cancel_timer, 0, 0);
	}
}

/* First the run is cancelled; if even that does not end it, stop. */
static void
on_deadline(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, deadline);
	int rc;

	if (f->deadline_hit) {
		uv_stop(&f->loop);
		return;
	}
	f->deadline_hit = true;
	rc = sched_run_cancel(f->run);
	(void)rc;
	uv_timer_start(&f->deadline, on_deadline, 5000, 0);
}

static void
on_prepare_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, prepare_timer);
	size_t i;

	for (i = 0; i < f->nheld; i++) {
		size_t j = f->held[i];
		const char *name = pipeline_job_name(sched_run_pipeline(f->run),
						     j);

		if (f->make_ws)
			assert_int_equal(pw_mkdirs(sched_attempt_workspace(
					f->run, j), 0755), 0);
		if (f->fail_first != NULL && strcmp(name, f->fail_first) == 0 &&
		    sched_run_job_attempts(f->run, j) == 1)
			assert_int_equal(sched_attempt_fail(f->run, j,
							    "no workspace"), 0);
		else
			assert_int_equal(sched_attempt_proceed(f->run, j, 0),
					 0);
	}
	f->nheld = 0;
}

static void
on_prepare(void *arg, struct sched_run *run, size_t job, int attempt,
	   const char *dir)
{
	struct fx *f = arg;

	assert_true(run == f->run);
	assert_int_equal(attempt, sched_run_job_attempts(run, job));
	assert_true(f->nheld < MAX_JOBS);
	f->held[f->nheld++] = job;
	f->prepared++;
	copy(f->prepared_dir, sizeof(f->prepared_dir), dir);
	if (f->trace_env) {
		char tp[64];

		snprintf(tp, sizeof(tp), "00-%032d-%016d-01", attempt, attempt);
		assert_int_equal(sched_attempt_setenv(run, job, "TRACEPARENT",
						      "first"), 0);
		/* The same name again replaces it. */
		assert_int_equal(sched_attempt_setenv(run, job, "TRACEPARENT",
						      tp), 0);
		assert_int_equal(sched_attempt_setenv(run, job, "TRACESTATE",
						      "a=1"), 0);
		assert_int_equal(sched_attempt_setenv(run, job, "X", "y"),
				 -E2BIG);
	}
	uv_timer_start(&f->prepare_timer, on_prepare_timer, 1, 0);
}

static struct fx *
fx_new_ex(int max_jobs, bool prepare)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct sched_options opts = {
		.max_jobs = max_jobs,
		.attempts_dir = f->attempts,
		.kill_grace_ms = 200,
		.tied = true,
	};
	struct sched_callbacks cb = {
		.event = on_event, .output = on_output, .arg = f,
		.attempt_prepare = prepare ? on_prepare : NULL,
	};
	char tmp[] = "/tmp/pw-sched-XXXXXX";
	size_t i;

	f->next_id = 41;
	assert_non_null(mkdtemp(tmp));
	assert_non_null(realpath(tmp, f->attempts));
	strcpy(tmp, "/tmp/pw-ws-XXXXXX");
	assert_non_null(mkdtemp(tmp));
	assert_non_null(realpath(tmp, f->workspace));
	for (i = 0; i < MAX_JOBS; i++)
		buf_init(&f->out[i], 1 << 20);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->deadline), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->cancel_timer), 0);
	assert_int_equal(uv_timer_init(&f->loop, &f->prepare_timer), 0);
	assert_int_equal(exec_create(&f->loop, PW_SUPERVISOR_PATH, &f->exec), 0);
	assert_int_equal(sched_create(&f->loop, f->exec, &opts, &cb, &f->sched),
			 0);
	return f;
}

static struct fx *
fx_new(int max_jobs)
{
	return fx_new_ex(max_jobs, false);
}

/* Destroys the run (if any) and everything else; the loop must close. */
static void
fx_free(struct fx *f)
{
	size_t i;

	sched_run_destroy(f->run);
	assert_int_equal(sched_running(f->sched), 0);
	sched_destroy(f->sched);
	assert_int_equal(exec_active(f->exec), 0);
	exec_destroy(f->exec);
	uv_close((uv_handle_t *)&f->deadline, NULL);
	uv_close((uv_handle_t *)&f->cancel_timer, NULL);
	uv_close((uv_handle_t *)&f->prepare_timer, NULL);
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
	size_t i;
	int rc;

	pipeline_problems_init(&pp);
	rc = pipeline_parse("test.yml", yaml, strlen(yaml), &p, &pp);
	for (i = 0; i < pp.count; i++)
		print_error("%s:%d:%d: %s\n", pp.items[i].file,
			    pp.items[i].line, pp.items[i].column,
			    pp.items[i].message);
	pipeline_problems_free(&pp);
	assert_int_equal(rc, 0);
	assert_non_null(p);
	return p;
}

/*
 * Creates f->run from `yaml`, replacing a finished earlier run.  `params`
 * may be NULL; id, project and workspace are filled in when not given.
 */
static struct sched_run *
fx_run(struct fx *f, const char *yaml, const struct sched_run_params *params)
{
	struct sched_run_params pr = {0};
	size_t i;

	if (params != NULL)
		pr = *params;
	if (pr.id == 0)
		pr.id = ++f->next_id;
	if (pr.project == NULL)
		pr.project = "proj";
	if (pr.workspace == NULL)
		pr.workspace = f->workspace;
	sched_run_destroy(f->run);
	f->run = NULL;
	f->nev = 0;
	f->finished = false;
	f->max_running = 0;
	for (i = 0; i < MAX_JOBS; i++)
		buf_reset(&f->out[i]);
	assert_int_equal(sched_run_create(f->sched, parse(yaml), &pr, &f->run),
			 0);
	assert_true(pipeline_job_count(sched_run_pipeline(f->run)) <= MAX_JOBS);
	return f->run;
}

/* Starts f->run and runs the loop until it has ended and every attempt is gone. */
static void
fx_go(struct fx *f)
{
	assert_int_equal(uv_timer_start(&f->deadline, on_deadline, DEADLINE_MS,
					0), 0);
	assert_int_equal(sched_run_start(f->run), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_false(f->deadline_hit);
	assert_true(f->finished);
	assert_true(sched_run_finished(f->run));
	/* Nothing happens after the run's final event. */
	assert_int_equal(f->ev[f->nev - 1].kind, SCHED_EVENT_RUN);
	assert_int_equal(exec_active(f->exec), 0);
}

static size_t
job_index(const struct fx *f, const char *name)
{
	long j = pipeline_job_find(sched_run_pipeline(f->run), name);

	if (j < 0)
		fail_msg("no job '%s'", name);
	return (size_t)j;
}

static enum sched_job_state
jstate(const struct fx *f, const char *name)
{
	return sched_run_job_state(f->run, job_index(f, name));
}

static int
jattempts(const struct fx *f, const char *name)
{
	return sched_run_job_attempts(f->run, job_index(f, name));
}

static const char *
jout(const struct fx *f, const char *name)
{
	const char *s = f->out[job_index(f, name)].data;

	return s != NULL ? s : "";
}

/* The first event of job `name` in `state`, or -1. */
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

/* The job's last event in a final state, or -1. */
static long
ev_final(const struct fx *f, const char *name)
{
	long i;

	for (i = (long)f->nev - 1; i >= 0; i--)
		if (f->ev[i].kind == SCHED_EVENT_JOB &&
		    strcmp(f->ev[i].job, name) == 0 &&
		    sched_job_state_final(f->ev[i].state))
			return i;
	return -1;
}

/* The reason of job `name`'s first event in `state`. */
static const char *
ev_reason(const struct fx *f, const char *name, int state)
{
	long i = ev_find(f, name, state);

	if (i < 0)
		fail_msg("job '%s' never was %s", name,
			 sched_job_state_name(state));
	return f->ev[i].reason;
}

#define assert_before(a, b)                                                \
	do {                                                               \
		long a_ = (a), b_ = (b);                                   \
		assert_true(a_ >= 0);                                      \
		assert_true(b_ >= 0);                                      \
		assert_true(a_ < b_);                                      \
	} while (0)

/* Job `a` started only after job `b` had ended. */
#define assert_after_end(f, a, b)                                          \
	assert_before(ev_final(f, b), ev_find(f, a, SCHED_JOB_RUNNING))

/* Job `a` started before job `b` ended: they overlapped. */
#define assert_overlap(f, a, b)                                            \
	assert_before(ev_find(f, a, SCHED_JOB_RUNNING), ev_final(f, b))

/* The job's events as "state/attempt ...", e.g. "ready/0 running/1 success/1". */
static const char *
trace(const struct fx *f, const char *name)
{
	static char s[1024];
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

/* The run's own events as "queued running success". */
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

/* The most of `names` (NULL-terminated; NULL: every job) running at once. */
static int
max_overlap(const struct fx *f, const char *const *names)
{
	char running[MAX_EVENTS][64];
	int n = 0, best = 0, k;
	size_t i;

	for (i = 0; i < f->nev; i++) {
		const struct rec *r = &f->ev[i];
		bool counted = names == NULL;

		for (k = 0; names != NULL && names[k] != NULL; k++)
			counted |= strcmp(names[k], r->job) == 0;
		if (r->kind != SCHED_EVENT_JOB || !counted)
			continue;
		if (r->state == SCHED_JOB_RUNNING) {
			copy(running[n++], sizeof(running[0]), r->job);
			best = n > best ? n : best;
		} else if (sched_job_state_final(r->state)) {
			for (k = 0; k < n; k++) {
				if (strcmp(running[k], r->job) == 0) {
					memmove(running[k], running[--n],
						sizeof(running[0]));
					break;
				}
			}
		}
	}
	return best;
}

/* Looks up "KEY=" in an `env` listing; NULL if absent. */
static const char *
env_value(const char *listing, const char *key, char *val, size_t len)
{
	size_t klen = strlen(key);
	const char *line;

	for (line = listing; line != NULL && *line != '\0';
	     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, key, klen) == 0 && line[klen] == '=') {
			snprintf(val, len, "%.*s",
				 (int)strcspn(line + klen + 1, "\n"),
				 line + klen + 1);
			return val;
		}
	}
	return NULL;
}

/* ---- order ------------------------------------------------------------ */

static void
test_state_names(void **state)
{
	(void)state;
	assert_string_equal(sched_job_state_name(SCHED_JOB_TIMED_OUT),
			    "timed_out");
	assert_string_equal(sched_job_state_name(SCHED_JOB_WAITING), "waiting");
	assert_string_equal(sched_run_state_name(SCHED_RUN_CANCELED),
			    "canceled");
	assert_false(sched_job_state_final(SCHED_JOB_WAITING));
	assert_false(sched_job_state_final(SCHED_JOB_RUNNING));
	assert_true(sched_job_state_final(SCHED_JOB_SKIPPED));
	assert_true(sched_job_state_final(SCHED_JOB_LOST));
}

/* Without `needs`, a job waits for every job of every earlier stage. */
static void
test_stages_in_order(void **state)
{
	struct fx *f = fx_new(4);
	static const char *const lint[] = {"fmt", "vet"};
	static const char *const build[] = {"compile", "link"};
	size_t i, k;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  fmt: {stage: lint, script: 'true'}\n"
		  "  vet: {stage: lint, script: 'true'}\n"
		  "  compile: {stage: build, script: 'true'}\n"
		  "  link: {stage: build, script: 'true'}\n"
		  "  unit: {script: 'true'}\n"
		  "  ship: {stage: deploy, script: 'true'}\n",
	       NULL);
	fx_go(f);
	assert_string_equal(run_trace(f), "queued running success");
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "fmt"), "ready/0 running/1 success/1");
	for (i = 0; i < 2; i++) {
		for (k = 0; k < 2; k++) {
			assert_after_end(f, build[i], lint[k]);
			assert_after_end(f, "unit", build[k]);
		}
	}
	/* A job without `stage` is in test, before deploy. */
	assert_after_end(f, "ship", "unit");
	/* Jobs of one stage start together when slots allow. */
	assert_overlap(f, "vet", "fmt");
	assert_overlap(f, "link", "compile");
	for (i = 0; i < 6; i++) {
		assert_int_equal(sched_run_job_attempts(f->run, i), 1);
		assert_true(sched_run_job_started_ms(f->run, i) > 0);
		assert_true(sched_run_job_finished_ms(f->run, i) >=
			    sched_run_job_started_ms(f->run, i));
	}
	fx_free(f);
}

/*
 * `needs: [x]` waits for x only, whatever the stages; `needs: []` starts
 * at once.  Each waiting script only succeeds if the other job ran while
 * it was still running.
 */
static void
test_needs_ignore_stages(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  fmt:\n"
		  "    stage: lint\n"
		  "    script: " WAIT_FOR("early.done") "\n"
		  "  compile:\n"
		  "    stage: build\n"
		  "    script: " WAIT_FOR("unit.done") "\n"
		  "  unit:\n"
		  "    stage: test\n"
		  "    needs: [fmt]\n"
		  "    script: touch unit.done\n"
		  "  early:\n"
		  "    stage: deploy\n"
		  "    needs: []\n"
		  "    script: touch early.done\n",
	       NULL);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_overlap(f, "early", "fmt");
	assert_after_end(f, "compile", "fmt");
	assert_after_end(f, "unit", "fmt");
	assert_overlap(f, "unit", "compile");
	assert_int_equal(jstate(f, "fmt"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "compile"), SCHED_JOB_SUCCESS);
	fx_free(f);
}

/*
 * A failure skips what needs it (naming the culprit) unless allow_failure
 * permits it; `when: always` runs anyway, `when: on_failure` runs because
 * something failed; the run fails.
 */
static void
test_failure_propagates(void **state)
{
	struct fx *f = fx_new(4);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  build: {stage: build, script: exit 3}\n"
		  "  flaky: {stage: build, allow_failure: true, script: exit 1}\n"
		  "  unit: {stage: test, needs: [build], script: 'true'}\n"
		  "  lenient: {stage: test, needs: [flaky], script: 'true'}\n"
		  "  cleanup: {stage: deploy, when: always, script: 'true'}\n"
		  "  notify: {stage: deploy, when: on_failure, script: 'true'}\n"
		  "  ship: {stage: deploy, script: 'true'}\n",
	       NULL);
	fx_go(f);
	assert_string_equal(run_trace(f), "queued running failed");
	assert_int_equal(jstate(f, "build"), SCHED_JOB_FAILED);
	assert_int_equal(f->ev[ev_find(f, "build", SCHED_JOB_FAILED)].exit_code,
			 3);
	assert_int_equal(jstate(f, "flaky"), SCHED_JOB_FAILED);
	assert_int_equal(jstate(f, "unit"), SCHED_JOB_SKIPPED);
	assert_string_equal(ev_reason(f, "unit", SCHED_JOB_SKIPPED),
			    "'build' failed");
	assert_string_equal(trace(f, "unit"), "skipped/0");
	assert_int_equal(jattempts(f, "unit"), 0);
	assert_int_equal(jstate(f, "lenient"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "cleanup"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "notify"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "ship"), SCHED_JOB_SKIPPED);
	assert_string_equal(ev_reason(f, "ship", SCHED_JOB_SKIPPED),
			    "'build' failed");
	assert_after_end(f, "cleanup", "lenient");
	fx_free(f);
}

/*
 * A strict run that was given no job uid starts nothing: its job fails
 * saying so instead of running as whoever owns the workspace.
 */
static void
test_strict_needs_ids(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	fx_run(f, "jobs:\n  a: {script: 'echo ran'}\n",
	       &(struct sched_run_params){.sandbox_set = true,
					  .sandbox = EXEC_SANDBOX_STRICT});
	fx_go(f);
	assert_int_equal(jstate(f, "a"), SCHED_JOB_FAILED);
	assert_string_equal(ev_reason(f, "a", SCHED_JOB_FAILED),
			    "sandbox: no job uid was given to this run "
			    "(job_ids)");
	assert_int_equal(f->out[0].len, 0);
	fx_free(f);
}

/* Only allowed failures: on_failure jobs are skipped, the run succeeds. */
static void
test_allowed_failure_succeeds(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  flaky: {stage: lint, allow_failure: true, script: exit 1}\n"
		  "  compile: {stage: build, script: 'true'}\n"
		  "  notify: {stage: deploy, when: on_failure, script: 'true'}\n",
	       NULL);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_int_equal(jstate(f, "flaky"), SCHED_JOB_FAILED);
	assert_int_equal(jstate(f, "compile"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "notify"), SCHED_JOB_SKIPPED);
	assert_string_equal(ev_reason(f, "notify", SCHED_JOB_SKIPPED),
			    "on_failure: nothing it depends on failed");
	fx_free(f);
}

/* ---- retry and timeout ------------------------------------------------ */

static void
test_retry(void **state)
{
	struct fx *f = fx_new(4);
	char *path, *count;
	size_t len;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  flaky:\n"
		  "    retry: 2\n"
		  "    script:\n"
		  "      - echo \"attempt $PIPEWRIGHT_ATTEMPT\" >> count\n"
		  "      - '[ \"$PIPEWRIGHT_ATTEMPT\" -ge 3 ]'\n"
		  "  hopeless: {retry: 1, script: exit 1}\n"
		  "  once:\n"
		  "    retry: {max: 1, when: [timed_out]}\n"
		  "    script: exit 1\n",
	       NULL);
	fx_go(f);
	assert_string_equal(trace(f, "flaky"),
			    "ready/0 running/1 failed/1 ready/1 running/2 "
			    "failed/2 ready/2 running/3 success/3");
	assert_int_equal(jattempts(f, "flaky"), 3);
	assert_int_equal(jstate(f, "flaky"), SCHED_JOB_SUCCESS);
	assert_non_null(strstr(ev_reason(f, "flaky", SCHED_JOB_FAILED),
			       "retrying (attempt 2 of 3)"));
	assert_non_null(strstr(f->ev[ev_final(f, "hopeless")].reason,
			       "exit status 1"));
	assert_string_equal(trace(f, "hopeless"),
			    "ready/0 running/1 failed/1 ready/1 running/2 "
			    "failed/2");
	assert_null(strstr(f->ev[ev_final(f, "hopeless")].reason, "retrying"));
	assert_int_equal(jattempts(f, "hopeless"), 2);
	assert_string_equal(trace(f, "once"), "ready/0 running/1 failed/1");
	assert_int_equal(jattempts(f, "once"), 1);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);
	/* The script saw each attempt's number. */
	path = xasprintf("%s/count", f->workspace);
	assert_int_equal(pw_read_file(path, 4096, &count, &len), 0);
	assert_string_equal(count, "attempt 1\nattempt 2\nattempt 3\n");
	free(count);
	free(path);
	fx_free(f);
}

static void
test_timeout(void **state)
{
	struct fx *f = fx_new(2);
	uint64_t t0 = pw_mono_ms();

	(void)state;
	fx_run(f, "jobs:\n"
		  "  slow: {timeout: 300ms, script: sleep 5}\n"
		  "  again:\n"
		  "    timeout: 300ms\n"
		  "    retry: {max: 1, when: [timed_out]}\n"
		  "    script: sleep 5\n",
	       NULL);
	fx_go(f);
	assert_true(pw_mono_ms() - t0 < 4000);
	assert_int_equal(jstate(f, "slow"), SCHED_JOB_TIMED_OUT);
	assert_string_equal(trace(f, "slow"), "ready/0 running/1 timed_out/1");
	assert_non_null(strstr(ev_reason(f, "slow", SCHED_JOB_TIMED_OUT),
			       "timeout"));
	assert_string_equal(trace(f, "again"),
			    "ready/0 running/1 timed_out/1 ready/1 running/2 "
			    "timed_out/2");
	assert_int_equal(jattempts(f, "again"), 2);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);
	fx_free(f);
}

/* ---- manual jobs ------------------------------------------------------ */

static const char manual_yaml[] =
	"jobs:\n"
	"  compile: {stage: build, script: 'true'}\n"
	"  publish: {stage: build, when: manual, script: 'true'}\n"
	"  unit: {stage: test, script: 'true'}\n"
	"  announce: {stage: deploy, needs: [publish], script: 'true'}\n";

static void
test_manual_skipped(void **state)
{
	struct fx *f = fx_new(2);
	struct sched_run_params pr = {.skip_manual = true};

	(void)state;
	fx_run(f, manual_yaml, &pr);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "publish"), "skipped/0");
	assert_string_equal(ev_reason(f, "publish", SCHED_JOB_SKIPPED),
			    "manual job not approved");
	assert_int_equal(jstate(f, "unit"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "announce"), SCHED_JOB_SKIPPED);
	assert_string_equal(ev_reason(f, "announce", SCHED_JOB_SKIPPED),
			    "'publish' was skipped");
	fx_free(f);
}

static void
test_manual_approved(void **state)
{
	struct fx *f = fx_new(2);
	struct sched_run_params pr = {.skip_manual = true};

	(void)state;
	fx_run(f, manual_yaml, &pr);
	assert_int_equal(sched_run_approve(f->run, "compile"), -ENOENT);
	assert_int_equal(sched_run_approve(f->run, "nope"), -ENOENT);
	assert_int_equal(sched_run_approve(f->run, "publish"), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_int_equal(jstate(f, "publish"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "announce"), SCHED_JOB_SUCCESS);
	assert_after_end(f, "announce", "publish");
	assert_int_equal(sched_run_approve(f->run, "publish"), -EALREADY);
	fx_free(f);
}

/*
 * Not skipped: the manual job waits, later stages go on, and the run ends
 * with it still waiting (and what `needs` it still pending).
 */
static void
test_manual_waiting(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	fx_run(f, manual_yaml, NULL);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "publish"), "waiting/0");
	assert_string_equal(ev_reason(f, "publish", SCHED_JOB_WAITING),
			    "waiting for approval");
	assert_int_equal(jstate(f, "publish"), SCHED_JOB_WAITING);
	assert_int_equal(jstate(f, "unit"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "announce"), SCHED_JOB_PENDING);
	assert_string_equal(trace(f, "announce"), "");
	fx_free(f);
}

/* ---- selection, matrix ------------------------------------------------ */

static void
test_only(void **state)
{
	struct fx *f = fx_new(2);
	static const char *const left_out[] = {
		"fmt", "compile (gcc)", "compile (clang)", "docs",
	};
	size_t i;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  fmt: {stage: lint, script: exit 1}\n"
		  "  compile:\n"
		  "    stage: build\n"
		  "    matrix: {CC: [gcc, clang]}\n"
		  "    script: exit 1\n"
		  "  unit: {stage: test, needs: [compile], script: 'true'}\n"
		  "  docs: {stage: test, script: exit 1}\n"
		  "  ship: {stage: deploy, needs: [docs], script: 'true'}\n",
	       NULL);
	assert_int_equal(sched_run_only(f->run, "nope"), -ENOENT);
	assert_int_equal(sched_run_only(f->run, "unit"), 0);
	assert_int_equal(sched_run_only(f->run, "ship"), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	for (i = 0; i < PW_ARRAY_LEN(left_out); i++) {
		assert_string_equal(trace(f, left_out[i]), "skipped/0");
		assert_string_equal(ev_reason(f, left_out[i], SCHED_JOB_SKIPPED),
				    "not selected");
		assert_before(ev_find(f, left_out[i], SCHED_JOB_SKIPPED),
			      ev_find(f, "unit", SCHED_JOB_RUNNING));
	}
	assert_int_equal(jstate(f, "unit"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "ship"), SCHED_JOB_SUCCESS);
	assert_int_equal(sched_run_only(f->run, "unit"), -EBUSY);

	/* A base name selects every job of its matrix. */
	fx_run(f, "jobs:\n"
		  "  fmt: {stage: lint, script: 'true'}\n"
		  "  compile:\n"
		  "    stage: build\n"
		  "    matrix: {CC: [gcc, clang]}\n"
		  "    script: 'true'\n",
	       NULL);
	assert_int_equal(sched_run_only(f->run, "compile"), 0);
	fx_go(f);
	assert_int_equal(jstate(f, "fmt"), SCHED_JOB_SKIPPED);
	assert_int_equal(jstate(f, "compile (gcc)"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "compile (clang)"), SCHED_JOB_SUCCESS);
	fx_free(f);
}

static void
test_matrix(void **state)
{
	struct fx *f = fx_new(3);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  compile:\n"
		  "    stage: build\n"
		  "    matrix: {CC: [gcc, clang]}\n"
		  "    script: echo \"cc=$CC job=$PIPEWRIGHT_JOB\"\n"
		  "  unit: {stage: build, needs: [compile], script: 'true'}\n",
	       NULL);
	assert_int_equal(pipeline_job_count(sched_run_pipeline(f->run)), 3);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_overlap(f, "compile (clang)", "compile (gcc)");
	assert_after_end(f, "unit", "compile (gcc)");
	assert_after_end(f, "unit", "compile (clang)");
	assert_non_null(strstr(jout(f, "compile (gcc)"),
			       "\ncc=gcc job=compile (gcc)\n"));
	assert_non_null(strstr(jout(f, "compile (clang)"),
			       "\ncc=clang job=compile (clang)\n"));
	fx_free(f);
}

/* ---- slots and environments ------------------------------------------- */

static const char four_jobs[] = "jobs:\n"
				"  a: {script: sleep 0.05}\n"
				"  b: {script: sleep 0.05}\n"
				"  c: {script: sleep 0.05}\n"
				"  d: {script: sleep 0.05}\n";

static void
test_max_jobs(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	fx_run(f, four_jobs, NULL);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_int_equal(max_overlap(f, NULL), 1);
	assert_int_equal(f->max_running, 1);
	/* Ready jobs start in file order. */
	assert_after_end(f, "b", "a");
	assert_after_end(f, "c", "b");
	assert_after_end(f, "d", "c");
	fx_free(f);

	f = fx_new(2);
	fx_run(f, four_jobs, NULL);
	fx_go(f);
	assert_int_equal(max_overlap(f, NULL), 2);
	assert_int_equal(f->max_running, 2);
	fx_free(f);
}

static void
test_environment_exclusive(void **state)
{
	struct fx *f = fx_new(4);
	static const char *const prod[] = {"prod-a", "prod-b", NULL};

	(void)state;
	fx_run(f, "jobs:\n"
		  "  prod-a: {environment: production, script: sleep 0.1}\n"
		  "  prod-b: {environment: production, script: sleep 0.1}\n"
		  "  stage-a: {environment: staging, script: sleep 0.1}\n"
		  "  other: {script: sleep 0.1}\n",
	       NULL);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_int_equal(max_overlap(f, prod), 1);
	assert_after_end(f, "prod-b", "prod-a");
	/* Waiting for its environment, prod-b held no slot. */
	assert_int_equal(max_overlap(f, NULL), 3);
	assert_overlap(f, "other", "prod-a");
	assert_overlap(f, "stage-a", "prod-a");
	fx_free(f);
}

/* ---- what a job sees -------------------------------------------------- */

/*
 * The environment is exactly the base, then the file's, then the
 * trigger's (which wins), and nothing of this process's.
 */
static void
test_env(void **state)
{
	struct fx *f = fx_new(1);
	static const char *const env[] = {"FROM_TRIGGER=t", "SHARED=trigger",
					  NULL};
	/* What /bin/sh itself may export. */
	static const char *const shell[] = {"PWD=", "OLDPWD=", "SHLVL=", "_="};
	struct sched_run_params pr = {
		.id = 7, .branch = "main", .commit = "abc123", .tag = "v1",
		.env = env,
	};
	char *want[] = {
		xstrdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:"
			"/usr/bin:/sbin:/bin"),
		xasprintf("HOME=%s/r7-j0-a1/home", f->attempts),
		xstrdup("LANG=C.UTF-8"), xstrdup("CI=true"),
		xstrdup("PIPEWRIGHT=true"), xstrdup("PIPEWRIGHT_JOB=show"),
		xstrdup("PIPEWRIGHT_STAGE=build"),
		xstrdup("PIPEWRIGHT_ATTEMPT=1"), xstrdup("PIPEWRIGHT_RUN_ID=7"),
		xasprintf("PIPEWRIGHT_WORKSPACE=%s", f->workspace),
		xstrdup("PIPEWRIGHT_BRANCH=main"),
		xstrdup("PIPEWRIGHT_COMMIT=abc123"),
		xstrdup("PIPEWRIGHT_TAG=v1"), xstrdup("TOP=top"),
		xstrdup("JOBV=j"), xstrdup("SHARED=trigger"),
		xstrdup("FROM_TRIGGER=t"),
	};
	char line[PATH_MAX], v[64];
	const char *out, *p;
	size_t i, len;
	bool known;

	(void)state;
	assert_int_equal(setenv("PW_LEAK_CHECK", "leaked", 1), 0);
	fx_run(f, "env: {TOP: top, SHARED: file}\n"
		  "jobs:\n"
		  "  show:\n"
		  "    stage: build\n"
		  "    env: {JOBV: j}\n"
		  "    script: env\n",
	       &pr);
	fx_go(f);
	unsetenv("PW_LEAK_CHECK");
	assert_int_equal(jstate(f, "show"), SCHED_JOB_SUCCESS);
	out = jout(f, "show");
	assert_true(strncmp(out, "$ env\n", 6) == 0);
	for (p = strchr(out, '\n') + 1; *p != '\0'; p += len + 1) {
		len = strcspn(p, "\n");
		snprintf(line, sizeof(line), "%.*s", (int)len, p);
		known = false;
		for (i = 0; i < PW_ARRAY_LEN(want); i++)
			if (want[i] != NULL && strcmp(line, want[i]) == 0) {
				free(want[i]);
				want[i] = NULL;
				known = true;
			}
		for (i = 0; i < PW_ARRAY_LEN(shell); i++)
			known |= strncmp(line, shell[i], strlen(shell[i])) == 0;
		if (!known)
			fail_msg("unexpected '%s' in:\n%s", line, out);
	}
	for (i = 0; i < PW_ARRAY_LEN(want); i++)
		if (want[i] != NULL)
			fail_msg("'%s' missing from:\n%s", want[i], out);
	assert_null(env_value(out, "PW_LEAK_CHECK", v, sizeof(v)));

	/* Without a branch, tag or commit, their variables are not set. */
	fx_run(f, "jobs:\n  show: {script: env}\n", NULL);
	fx_go(f);
	out = jout(f, "show");
	assert_non_null(env_value(out, "PIPEWRIGHT_RUN_ID", v, sizeof(v)));
	assert_null(env_value(out, "PIPEWRIGHT_BRANCH", v, sizeof(v)));
	assert_null(env_value(out, "PIPEWRIGHT_COMMIT", v, sizeof(v)));
	assert_null(env_value(out, "PIPEWRIGHT_TAG", v, sizeof(v)));
	assert_null(env_value(out, "SHARED", v, sizeof(v)));
	fx_free(f);
}

/*
 * Items are echoed as "$ item", run in one shell (cd carries over) and the
 * first failing one ends the job.
 */
static void
test_script(void **state)
{
	struct fx *f = fx_new(1);
	char *want;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  steps:\n"
		  "    stage: build\n"
		  "    script:\n"
		  "      - mkdir -p sub/dir && cd sub\n"
		  "      - cd dir\n"
		  "      - pwd\n"
		  "      - echo \"it's here\"\n"
		  "      - 'false'\n"
		  "      - echo never\n"
		  "  inside:\n"
		  "    stage: test\n"
		  "    when: always\n"
		  "    working_dir: sub\n"
		  "    script: pwd\n",
	       NULL);
	fx_go(f);
	assert_int_equal(jstate(f, "steps"), SCHED_JOB_FAILED);
	assert_int_equal(f->ev[ev_final(f, "steps")].exit_code, 1);
	want = xasprintf("$ mkdir -p sub/dir && cd sub\n"
			 "$ cd dir\n"
			 "$ pwd\n"
			 "%s/sub/dir\n"
			 "$ echo \"it's here\"\n"
			 "it's here\n"
			 "$ false\n",
			 f->workspace);
	assert_string_equal(jout(f, "steps"), want);
	free(want);
	want = xasprintf("$ pwd\n%s/sub\n", f->workspace);
	assert_string_equal(jout(f, "inside"), want);
	free(want);
	fx_free(f);
}

/* ---- cancel, restore, branches ---------------------------------------- */

static const char cancel_yaml[] =
	"jobs:\n"
	"  sleeper: {stage: build, script: [echo started, sleep 30]}\n"
	"  queued: {stage: build, script: 'true'}\n"
	"  later: {stage: test, script: 'true'}\n";

static void
check_canceled(struct fx *f)
{
	assert_int_equal(f->cancel_rc, 0);
	assert_true(pw_mono_ms() - f->cancel_at_ms < 3000);
	assert_string_equal(run_trace(f), "queued running canceled");
	assert_string_equal(trace(f, "sleeper"),
			    "ready/0 running/1 canceled/1");
	assert_string_equal(trace(f, "queued"), "ready/0 canceled/0");
	assert_string_equal(trace(f, "later"), "canceled/0");
	assert_null(strstr(jout(f, "queued"), "$"));
	assert_int_equal(sched_run_cancel(f->run), -EALREADY);
}

static void
test_cancel(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	fx_run(f, cancel_yaml, NULL);
	assert_int_equal(sched_run_cancel(f->run), -EALREADY);
	f->cancel_on_output = "sleeper";
	fx_go(f);
	check_canceled(f);
	fx_free(f);
}

/* The daemon may cancel from inside the event callback itself. */
static void
test_cancel_from_event(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	fx_run(f, cancel_yaml, NULL);
	f->cancel_on_job = "sleeper";
	f->cancel_on_state = SCHED_JOB_RUNNING;
	fx_go(f);
	check_canceled(f);
	fx_free(f);
}

/* Cancelling on a failure that would be retried: no retry follows. */
static void
test_cancel_stops_retry(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  flaky: {stage: build, retry: 2, script: exit 1}\n"
		  "  later: {stage: test, script: 'true'}\n",
	       NULL);
	f->cancel_on_job = "flaky";
	f->cancel_on_state = SCHED_JOB_FAILED;
	fx_go(f);
	assert_int_equal(f->cancel_rc, 0);
	assert_string_equal(run_trace(f), "queued running canceled");
	assert_string_equal(trace(f, "flaky"), "ready/0 running/1 failed/1");
	assert_int_equal(jstate(f, "flaky"), SCHED_JOB_FAILED);
	assert_string_equal(trace(f, "later"), "canceled/0");
	fx_free(f);
}

static void
test_restore(void **state)
{
	struct fx *f = fx_new(2);
	char *path;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  compile: {stage: build, script: touch compile.ran}\n"
		  "  unit:\n"
		  "    stage: test\n"
		  "    script: echo \"attempt $PIPEWRIGHT_ATTEMPT\"\n"
		  "  resumed:\n"
		  "    stage: test\n"
		  "    script: echo \"attempt $PIPEWRIGHT_ATTEMPT\"\n",
	       NULL);
	assert_int_equal(sched_run_restore_job(f->run, 3, SCHED_JOB_SUCCESS, 1),
			 -EINVAL);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "compile"),
					       SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "resumed"),
					       SCHED_JOB_RUNNING, 2), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "compile"), "");
	assert_int_equal(jstate(f, "compile"), SCHED_JOB_SUCCESS);
	assert_int_equal(jattempts(f, "compile"), 1);
	path = xasprintf("%s/compile.ran", f->workspace);
	assert_int_equal(access(path, F_OK), -1);
	free(path);
	assert_string_equal(trace(f, "unit"), "ready/0 running/1 success/1");
	assert_string_equal(trace(f, "resumed"), "ready/2 running/3 success/3");
	assert_int_equal(jattempts(f, "resumed"), 3);
	assert_non_null(strstr(jout(f, "resumed"), "\nattempt 3\n"));
	assert_int_equal(sched_run_restore_job(f->run, 0, SCHED_JOB_PENDING, 0),
			 -EINVAL);
	assert_int_equal(sched_run_start(f->run), -EBUSY);
	fx_free(f);
}

/* A manual job saved as waiting and approved since runs on restore. */
static void
test_restore_waiting_approved(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  build: {stage: build, script: 'true'}\n"
		  "  ship: {stage: deploy, when: manual, script: echo shipped}\n",
	       NULL);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "build"),
					       SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "ship"),
					       SCHED_JOB_WAITING, 0), 0);
	assert_int_equal(sched_run_approve(f->run, "ship"), 0);
	fx_go(f);
	assert_string_equal(trace(f, "ship"), "ready/0 running/1 success/1");
	assert_non_null(strstr(jout(f, "ship"), "shipped"));
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	fx_free(f);
}

/* A waiting manual job approved while its run is active runs then. */
static void
test_approve_while_active(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  build: {stage: build, script: 'true'}\n"
		  "  ship: {stage: deploy, when: manual, script: echo shipped}\n"
		  "  after: {stage: deploy, needs: [ship], script: echo after}\n",
	       NULL);
	f->approve_on_waiting = "ship";
	fx_go(f);
	assert_int_equal(f->approve_rc, 0);
	assert_string_equal(trace(f, "ship"),
			    "waiting/0 ready/0 running/1 success/1");
	assert_string_equal(trace(f, "after"), "ready/0 running/1 success/1");
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	/* A finished run takes no approval: the daemon rebuilds it. */
	assert_int_equal(sched_run_approve(f->run, "ship"), -EALREADY);
	fx_free(f);
}

/* A rerun of a restored run: failed jobs and their dependants only. */
static void
test_rerun_failed(void **state)
{
	struct fx *f = fx_new(2);
	static const char yaml[] =
		"jobs:\n"
		"  a: {stage: build, script: echo a}\n"
		"  b: {stage: build, script: echo \"b $PIPEWRIGHT_ATTEMPT\"}\n"
		"  c: {stage: test, needs: [b], script: echo c}\n"
		"  d: {stage: test, needs: [a], script: echo d}\n";
	const char *const names[] = {"nosuch", NULL};

	(void)state;
	fx_run(f, yaml, NULL);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "a"),
					       SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "b"),
					       SCHED_JOB_FAILED, 2), 0);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "c"),
					       SCHED_JOB_SKIPPED, 0), 0);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "d"),
					       SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_rerun(f->run, names), -ENOENT);
	assert_int_equal(sched_run_rerun(f->run, NULL), 2);
	fx_go(f);
	assert_string_equal(trace(f, "a"), "");
	assert_string_equal(trace(f, "d"), "");
	assert_string_equal(trace(f, "b"), "ready/2 running/3 success/3");
	assert_non_null(strstr(jout(f, "b"), "\nb 3\n"));
	assert_string_equal(trace(f, "c"), "ready/0 running/1 success/1");
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	fx_free(f);
}

/* A named rerun takes a successful job and what depends on it. */
static void
test_rerun_named(void **state)
{
	struct fx *f = fx_new(2);
	const char *const names[] = {"a", NULL};

	(void)state;
	fx_run(f, "jobs:\n"
		  "  a: {stage: build, script: echo a}\n"
		  "  b: {stage: test, script: echo b}\n"
		  "  other: {stage: build, needs: [], script: echo o}\n",
	       NULL);
	assert_int_equal(sched_run_restore_job(f->run, 0, SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_restore_job(f->run, 1, SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_restore_job(f->run, 2, SCHED_JOB_SUCCESS, 1), 0);
	assert_int_equal(sched_run_rerun(f->run, names), 2);
	fx_go(f);
	assert_string_equal(trace(f, "a"), "ready/1 running/2 success/2");
	assert_string_equal(trace(f, "b"), "ready/1 running/2 success/2");
	assert_string_equal(trace(f, "other"), "");
	fx_free(f);
}

/* With attempt_prepare, the supervisor starts only after proceed. */
static void
test_attempt_prepare(void **state)
{
	struct fx *f = fx_new_ex(2, true);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  one: {script: 'echo \"home=$HOME\"'}\n"
		  "  two: {script: exit 4}\n",
	       NULL);
	fx_go(f);
	assert_int_equal(f->prepared, 2);
	assert_string_equal(trace(f, "one"), "ready/0 running/1 success/1");
	assert_string_equal(trace(f, "two"), "ready/0 running/1 failed/1");
	assert_non_null(strstr(f->prepared_dir, "-a1"));
	assert_non_null(strstr(jout(f, "one"), "/home\n"));
	fx_free(f);
}

/*
 * sched_attempt_setenv: the attempt's own TRACEPARENT, after the file's
 * env (which cannot override it), fresh for each attempt; refused for a
 * job not being prepared.
 */
static void
test_attempt_setenv(void **state)
{
	struct fx *f = fx_new_ex(2, true);
	const char *out;

	(void)state;
	f->trace_env = true;
	fx_run(f, "env: {TRACEPARENT: from-file}\n"
		  "jobs:\n"
		  "  one:\n"
		  "    retry: 1\n"
		  "    script:\n"
		  "      - echo \"tp=$TRACEPARENT ts=$TRACESTATE\"\n"
		  "      - test $PIPEWRIGHT_ATTEMPT = 2\n",
	       NULL);
	assert_int_equal(sched_attempt_setenv(f->run, 0, "TRACEPARENT", "x"),
			 -EINVAL);
	fx_go(f);
	assert_string_equal(trace(f, "one"),
			    "ready/0 running/1 failed/1 ready/1 running/2"
			    " success/2");
	out = jout(f, "one");
	assert_non_null(strstr(out, "tp=00-00000000000000000000000000000001-"
			       "0000000000000001-01 ts=a=1\n"));
	assert_non_null(strstr(out, "tp=00-00000000000000000000000000000002-"
			       "0000000000000002-01 ts=a=1\n"));
	assert_null(strstr(out, "from-file"));
	fx_free(f);
}

/*
 * jobs_dir: each job in <jobs_dir>/<j>, which attempt_prepare makes;
 * sandbox none runs it at that host path (workspace_at is for strict).
 * An attempt the caller fails (its workspace could not be made) ends
 * failed with the reason, and retry applies.
 */
static void
test_jobs_dir(void **state)
{
	struct fx *f = fx_new_ex(2, true);
	struct sched_run_params pr = {0};
	char *jobs = xasprintf("%s/jobs", f->workspace), *want;

	(void)state;
	f->make_ws = true;
	f->fail_first = "two";
	pr.jobs_dir = jobs;
	pr.workspace_at = "/builds/proj";
	fx_run(f, "jobs:\n"
		  "  one: {script: 'echo \"ws=$PIPEWRIGHT_WORKSPACE pwd=$(pwd -P)\"'}\n"
		  "  two: {retry: 1, script: 'pwd -P'}\n",
	       &pr);
	want = xasprintf("%s/0", jobs);
	assert_string_equal(sched_attempt_workspace(f->run, 0), want);
	free(want);
	assert_null(sched_attempt_workspace(f->run, 2));
	fx_go(f);
	want = xasprintf("ws=%s/0 pwd=%s/0\n", jobs, jobs);
	assert_non_null(strstr(jout(f, "one"), want));
	free(want);
	want = xasprintf("%s/1\n", jobs);
	assert_non_null(strstr(jout(f, "two"), want));
	free(want);
	assert_string_equal(trace(f, "two"), "ready/0 running/1 failed/1 "
			    "ready/1 running/2 success/2");
	assert_non_null(strstr(ev_reason(f, "two", SCHED_JOB_FAILED),
			       "no workspace; retrying (attempt 2 of 2)"));
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	free(jobs);
	fx_free(f);
}

/* Cancelled while its attempt is being prepared: it never starts. */
static void
test_cancel_while_preparing(void **state)
{
	struct fx *f = fx_new_ex(1, true);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  one: {script: touch started}\n",
	       NULL);
	f->cancel_on_job = "one";
	f->cancel_on_state = SCHED_JOB_RUNNING;
	fx_go(f);
	assert_int_equal(f->cancel_rc, 0);
	assert_string_equal(trace(f, "one"), "ready/0 running/1 canceled/1");
	assert_string_equal(jout(f, "one"), "");
	fx_free(f);
}

/* A project limit of 1 holds jobs back even with free global slots. */
static void
test_project_max_jobs(void **state)
{
	struct fx *f = fx_new(4);
	struct sched_run_params pr = {.project_max_jobs = 1};

	(void)state;
	fx_run(f, "jobs:\n"
		  "  a: {script: 'sleep 0.1'}\n"
		  "  b: {script: 'sleep 0.1'}\n"
		  "  c: {script: 'sleep 0.1'}\n",
	       &pr);
	fx_go(f);
	assert_int_equal(f->max_running, 1);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	fx_free(f);
}

/* A skip names the first unmet need and what happened to it. */
static void
test_skip_reason(void **state)
{
	struct fx *f = fx_new(2);

	(void)state;
	fx_run(f, "jobs:\n"
		  "  a: {stage: build, script: 'true'}\n"
		  "  b: {stage: build, script: exit 1}\n"
		  "  c: {stage: test, needs: [a, b], script: 'true'}\n",
	       NULL);
	assert_int_equal(sched_run_restore_job(f->run, job_index(f, "a"),
					       SCHED_JOB_CANCELED, 1), 0);
	fx_go(f);
	assert_int_equal(jstate(f, "c"), SCHED_JOB_SKIPPED);
	assert_string_equal(ev_reason(f, "c", SCHED_JOB_SKIPPED),
			    "'a' was canceled");
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);
	fx_free(f);
}

static void
test_branches(void **state)
{
	struct fx *f = fx_new(2);
	static const char yaml[] =
		"jobs:\n"
		"  main-only: {stage: build, branches: [main], script: 'true'}\n"
		"  after: {stage: deploy, needs: [main-only], script: 'true'}\n"
		"  plain: {stage: test, script: 'true'}\n";
	struct sched_run_params pr = {.branch = "dev"};

	(void)state;
	fx_run(f, yaml, &pr);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "main-only"), "skipped/0");
	assert_string_equal(ev_reason(f, "main-only", SCHED_JOB_SKIPPED),
			    "branch 'dev' not in branches");
	assert_string_equal(ev_reason(f, "after", SCHED_JOB_SKIPPED),
			    "'main-only' was skipped");
	assert_int_equal(jstate(f, "plain"), SCHED_JOB_SUCCESS);

	fx_run(f, yaml, NULL);
	fx_go(f);
	assert_int_equal(jstate(f, "main-only"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "after"), SCHED_JOB_SUCCESS);
	assert_int_equal(jstate(f, "plain"), SCHED_JOB_SUCCESS);
	fx_free(f);
}

/* A lost attempt is tried again once, a deploy's (environment) never. */
static void
test_lost_retries(void **state)
{
	struct fx *f = fx_new(2);
	char *gone = xasprintf("%s/gone", f->attempts);
	char *never = xasprintf("%s/never-started", f->attempts);
	char *log = xasprintf("%s/log", gone);
	FILE *fp;

	(void)state;
	/* A log and nothing else: a job ran there and its supervisor vanished. */
	assert_int_equal(mkdir(gone, 0700), 0);
	fp = fopen(log, "w");
	assert_non_null(fp);
	fclose(fp);
	fx_run(f, "jobs:\n"
		  "  build: {script: echo \"attempt $PIPEWRIGHT_ATTEMPT\"}\n", NULL);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, gone, 0), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "build"), "lost/1 ready/1 running/2 success/2");
	assert_non_null(strstr(ev_reason(f, "build", SCHED_JOB_LOST),
			       "trying again (lost_retries 1 of 1)"));
	assert_non_null(strstr(jout(f, "build"), "attempt 2\n"));

	/* Lost before, within this run: the budget is spent. */
	fx_run(f, "jobs:\n  build: {script: 'true'}\n", NULL);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 3, gone, 0), 0);
	assert_int_equal(sched_run_restore_lost(f->run, 0, 1), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);
	assert_string_equal(trace(f, "build"), "lost/3");

	fx_run(f, "jobs:\n  deploy: {script: 'true', environment: prod}\n",
	       NULL);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, gone, 0), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);
	assert_string_equal(trace(f, "deploy"), "lost/1");
	assert_non_null(strstr(ev_reason(f, "deploy", SCHED_JOB_LOST),
			       "its supervisor is gone"));
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, gone, 0), -EINVAL);

	/* Never started: started now, whatever the budget (a deploy too). */
	fx_run(f, "jobs:\n  deploy: {script: 'true', environment: prod}\n",
	       NULL);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, never, 0), 0);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(trace(f, "deploy"),
			    "lost/1 ready/1 running/2 success/2");
	assert_non_null(strstr(ev_reason(f, "deploy", SCHED_JOB_LOST),
			       "lost before it started"));
	free(log);
	free(never);
	free(gone);
	fx_free(f);
}

/* An attempt's directory as a supervisor leaves it: an empty log, a result. */
static char *
ended_dir(const struct fx *f, const char *name, const char *result)
{
	char *dir = xasprintf("%s/%s", f->attempts, name);
	char *path;
	FILE *fp;

	assert_int_equal(mkdir(dir, 0700), 0);
	path = xasprintf("%s/log", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fclose(fp);
	free(path);
	path = xasprintf("%s/status", dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fprintf(fp, "version=1\nresult=%s\nexit_code=1\nsignal=0\n"
		"reason=exit status 1\nlog_bytes=0\nstarted_ms=1\n"
		"finished_ms=2\n", result);
	fclose(fp);
	free(path);
	return dir;
}

/*
 * The retry budget of a restored job counts the attempts since it was
 * last queued, the one taken up included: a restart gives none back.
 */
static void
test_retry_budget_restored(void **state)
{
	struct fx *f = fx_new(2);
	char *failed = ended_dir(f, "failed", "failed");

	(void)state;
	/* Attempt 1 failed and was retried; attempt 2, taken up, failed. */
	fx_run(f, "jobs:\n  flaky: {retry: 1, script: exit 1}\n", NULL);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 2, failed, 0), 0);
	fx_go(f);
	assert_string_equal(trace(f, "flaky"), "failed/2");
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_FAILED);

	/* The same after a rerun at 1: attempt 2 is its first try. */
	fx_run(f, "jobs:\n  flaky: {retry: 1, script: exit 1}\n", NULL);
	assert_int_equal(sched_run_restore_rerun(f->run, 0, 1), 0);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 2, failed, 0), 0);
	fx_go(f);
	assert_string_equal(trace(f, "flaky"),
			    "failed/2 ready/2 running/3 failed/3");
	assert_non_null(strstr(ev_reason(f, "flaky", SCHED_JOB_FAILED),
			       "retrying (attempt 2 of 2)"));

	/* Saved ready for its retry: the retry is the last try. */
	fx_run(f, "jobs:\n  flaky: {retry: 1, script: exit 1}\n", NULL);
	assert_int_equal(sched_run_restore_job(f->run, 0, SCHED_JOB_READY, 1),
			 0);
	fx_go(f);
	assert_string_equal(trace(f, "flaky"), "ready/1 running/2 failed/2");
	assert_int_equal(sched_run_restore_rerun(f->run, 0, 0), -EINVAL);
	free(failed);
	fx_free(f);
}

static void
on_rerun_resume_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, cancel_timer);

	assert_int_equal(sched_run_state(f->run), SCHED_RUN_QUEUED);
	assert_true(ev_find(f, "b", SCHED_JOB_RUNNING) < 0);
	sched_pause(f->sched, false);
}

/*
 * A restored rerun that had not started is a queued run: a paused queue
 * holds it.  One whose rerun jobs ran since was running: it goes on.
 */
static void
test_rerun_restored_paused(void **state)
{
	struct fx *f = fx_new(2);
	static const char yaml[] =
		"jobs:\n"
		"  a: {stage: build, script: 'true'}\n"
		"  b: {stage: test, script: echo \"b $PIPEWRIGHT_ATTEMPT\"}\n";

	(void)state;
	sched_pause(f->sched, true);
	fx_run(f, yaml, NULL);
	assert_int_equal(sched_run_restore_job(f->run, 0, SCHED_JOB_SUCCESS, 1),
			 0);
	assert_int_equal(sched_run_restore_job(f->run, 1, SCHED_JOB_PENDING, 1),
			 0);
	assert_int_equal(sched_run_restore_rerun(f->run, 1, 1), 0);
	assert_int_equal(sched_run_job_rerun(f->run, 0), -1);
	assert_int_equal(sched_run_job_rerun(f->run, 1), 1);
	assert_int_equal(uv_timer_start(&f->cancel_timer, on_rerun_resume_timer,
					50, 0), 0);
	fx_go(f);
	assert_string_equal(run_trace(f), "queued running success");
	assert_string_equal(trace(f, "b"), "ready/1 running/2 success/2");

	/* Rerun at 1, attempt 2 ran since: it was running, paused or not. */
	sched_pause(f->sched, true);
	fx_run(f, yaml, NULL);
	assert_int_equal(sched_run_restore_job(f->run, 0, SCHED_JOB_SUCCESS, 1),
			 0);
	assert_int_equal(sched_run_restore_job(f->run, 1, SCHED_JOB_READY, 2),
			 0);
	assert_int_equal(sched_run_restore_rerun(f->run, 1, 1), 0);
	fx_go(f);
	assert_string_equal(run_trace(f), "running success");
	assert_string_equal(trace(f, "b"), "ready/2 running/3 success/3");
	sched_pause(f->sched, false);
	fx_free(f);
}

static void
on_detach_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, cancel_timer);

	sched_detach(f->sched);
	uv_timer_stop(&f->deadline);
}

/*
 * A running attempt let go of by one scheduler is taken up by the next
 * (as after a daemon restart): the rest of its output comes exactly once,
 * and its end is reported without a second running event.
 */
static void
test_detach_adopt(void **state)
{
	struct fx *f = fx_new_ex(1, true);
	struct sched_options opts = {
		.max_jobs = 1, .attempts_dir = f->attempts, .kill_grace_ms = 200,
	};
	struct sched_callbacks cb = {
		.event = on_event, .output = on_output, .arg = f,
	};
	char *go = xasprintf("%s/go", f->workspace), *dir, *before;
	size_t have;
	FILE *fp;

	(void)state;
	fx_run(f, "jobs:\n"
		  "  long:\n"
		  "    script:\n"
		  "      - echo one\n"
		  "      - " WAIT_FOR("go") "\n"
		  "      - echo two\n", NULL);
	f->detach_on_output = "\none\n";
	assert_int_equal(uv_timer_start(&f->deadline, on_deadline, DEADLINE_MS,
					0), 0);
	assert_int_equal(sched_run_start(f->run), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_false(f->finished);
	assert_int_equal(exec_active(f->exec), 0);
	have = f->out[0].len;
	before = xstrdup(f->out[0].data);
	assert_null(strstr(before, "two\n"));
	dir = xstrdup(f->prepared_dir);

	/* A new scheduler, as in the next daemon. */
	sched_run_destroy(f->run);
	f->run = NULL;
	sched_destroy(f->sched);
	assert_int_equal(sched_create(&f->loop, f->exec, &opts, &cb, &f->sched),
			 0);
	fx_run(f, "jobs:\n  long: {script: 'false'}\n",
	       &(struct sched_run_params){.id = f->next_id});
	assert_int_equal(buf_append(&f->out[0], before, have), 0);
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, dir, have), 0);
	fp = fopen(go, "w");
	assert_non_null(fp);
	fclose(fp);
	fx_go(f);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	assert_string_equal(run_trace(f), "running success");
	assert_string_equal(trace(f, "long"), "success/1");
	/* Every byte once, in order, across the two schedulers. */
	assert_string_equal(jout(f, "long"), "$ echo one\none\n$ "
			    WAIT_FOR("go") "\n$ echo two\ntwo\n");
	free(before);
	free(dir);
	free(go);
	/*
	 * The first supervisor is our child that libuv let go of: wait for
	 * its exit (after the END it served) before its directory goes.
	 */
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	fx_free(f);
}

/*
 * A run cancelled by one scheduler whose job was still stopping when that
 * scheduler let go of it (as when the daemon restarts during the grace
 * period): the next scheduler takes the job up, it ends canceled, and so
 * does the run.  The cancel itself lived in the first process only; the
 * job's state is what crosses the restart.
 */
static void
test_cancel_adopt(void **state)
{
	struct fx *f = fx_new_ex(1, true);
	struct sched_options opts = {
		.max_jobs = 1, .attempts_dir = f->attempts,
		.kill_grace_ms = 20000,
	};
	struct sched_callbacks cb = {
		.event = on_event, .output = on_output, .arg = f,
		.attempt_prepare = on_prepare,
	};
	char *go = xasprintf("%s/go", f->workspace), *dir;
	FILE *fp;

	(void)state;
	/* A grace period long enough that only the go file ends the job. */
	sched_destroy(f->sched);
	assert_int_equal(sched_create(&f->loop, f->exec, &opts, &cb, &f->sched),
			 0);
	fx_run(f, "jobs:\n"
		  "  only:\n"
		  "    script:\n"
		  "      - trap 'echo stopping; " WAIT_FOR("go") "; exit 1' "
		  "TERM\n"
		  "      - echo started; while :; do sleep 0.05; done\n",
	       NULL);
	f->cancel_on_output = "only";
	f->detach_on_output = "\nstopping\n";
	assert_int_equal(uv_timer_start(&f->deadline, on_deadline, DEADLINE_MS,
					0), 0);
	assert_int_equal(sched_run_start(f->run), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(f->cancel_rc, 0);
	assert_false(f->finished);
	assert_int_equal(exec_active(f->exec), 0);
	dir = xstrdup(f->prepared_dir);

	/* The next daemon: the same run rebuilt, its attempt taken up. */
	sched_run_destroy(f->run);
	f->run = NULL;
	sched_destroy(f->sched);
	assert_int_equal(sched_create(&f->loop, f->exec, &opts, &cb, &f->sched),
			 0);
	fx_run(f, "jobs:\n  only: {script: 'true'}\n",
	       &(struct sched_run_params){.id = f->next_id});
	assert_int_equal(sched_run_adopt_job(f->run, 0, 1, dir, 0), 0);
	fp = fopen(go, "w");
	assert_non_null(fp);
	fclose(fp);
	fx_go(f);
	assert_string_equal(trace(f, "only"), "canceled/1");
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_CANCELED);
	assert_string_equal(run_trace(f), "running canceled");
	free(dir);
	free(go);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	fx_free(f);
}

/* While paused, a queued run stays queued; resuming starts it. */
static void
on_resume_timer(uv_timer_t *t)
{
	struct fx *f = container_of(t, struct fx, cancel_timer);

	assert_int_equal(sched_run_state(f->run), SCHED_RUN_QUEUED);
	assert_int_equal(sched_running(f->sched), 0);
	assert_true(ev_find(f, "a", SCHED_JOB_RUNNING) < 0);
	sched_pause(f->sched, false);
}

static void
test_pause(void **state)
{
	struct fx *f = fx_new(1);

	(void)state;
	sched_pause(f->sched, true);
	assert_true(sched_paused(f->sched));
	fx_run(f, "jobs:\n  a: {script: 'true'}\n", NULL);
	assert_int_equal(uv_timer_start(&f->cancel_timer, on_resume_timer, 50,
					0), 0);
	fx_go(f);
	assert_false(sched_paused(f->sched));
	assert_string_equal(run_trace(f), "queued running success");
	fx_free(f);
}

/*
 * A round looks at what changed and at what can start, not at every queued
 * run: a run's three jobs go by while 300 runs wait behind a paused queue,
 * and the rounds look at a handful of runs per job; cancelling the 300 one
 * by one looks at each of them a few times, not at all that are left.
 * Before, every round went over every queued run (300 per round).
 */
#define BIG_QUEUE 300

static void
test_rounds_ignore_queue(void **state)
{
	struct fx *f = fx_new(1);
	struct sched_run **q = xcalloc(BIG_QUEUE, sizeof(*q));
	const char *yaml = "stages: [a, b, c]\njobs:\n"
			   "  x: {stage: a, script: 'true'}\n"
			   "  y: {stage: b, script: 'true'}\n"
			   "  z: {stage: c, script: 'true'}\n";
	uint64_t v0, v1;
	size_t i;

	(void)state;
	fx_run(f, yaml, NULL);
	assert_int_equal(uv_timer_start(&f->deadline, on_deadline, DEADLINE_MS,
					0), 0);
	assert_int_equal(sched_run_start(f->run), 0);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_RUNNING);
	sched_pause(f->sched, true);
	for (i = 0; i < BIG_QUEUE; i++) {
		struct sched_run_params pr = {
			.id = ++f->next_id, .project = "proj",
			.workspace = f->workspace,
		};

		assert_int_equal(sched_run_create(f->sched, parse(yaml), &pr,
						  &q[i]), 0);
		assert_int_equal(sched_run_start(q[i]), 0);
		assert_int_equal(sched_run_state(q[i]), SCHED_RUN_QUEUED);
	}
	/* Adding each queued run looked at it alone. */
	assert_true(sched_visits(f->sched) < 4 * BIG_QUEUE);
	v0 = sched_visits(f->sched);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_false(f->deadline_hit);
	assert_int_equal(sched_run_state(f->run), SCHED_RUN_SUCCESS);
	for (i = 0; i < 3; i++)
		assert_int_equal(sched_run_job_state(f->run, i),
				 SCHED_JOB_SUCCESS);
	v1 = sched_visits(f->sched);
	/* Three jobs: a few rounds each, each looking at run 1 alone. */
	print_message("visits: %llu for the running run's jobs\n",
		      (unsigned long long)(v1 - v0));
	assert_true(v1 - v0 < 30);
	for (i = 0; i < BIG_QUEUE; i++) {
		assert_int_equal(sched_run_cancel(q[i]), 0);
		assert_int_equal(sched_run_state(q[i]), SCHED_RUN_CANCELED);
	}
	print_message("visits: %llu for %d cancels\n",
		      (unsigned long long)(sched_visits(f->sched) - v1),
		      BIG_QUEUE);
	assert_true(sched_visits(f->sched) - v1 < 4 * BIG_QUEUE);
	for (i = 0; i < BIG_QUEUE; i++)
		sched_run_destroy(q[i]);
	free(q);
	sched_pause(f->sched, false);
	fx_free(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_rounds_ignore_queue),
		cmocka_unit_test(test_stages_in_order),
		cmocka_unit_test(test_needs_ignore_stages),
		cmocka_unit_test(test_failure_propagates),
		cmocka_unit_test(test_strict_needs_ids),
		cmocka_unit_test(test_allowed_failure_succeeds),
		cmocka_unit_test(test_retry),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_manual_skipped),
		cmocka_unit_test(test_manual_approved),
		cmocka_unit_test(test_manual_waiting),
		cmocka_unit_test(test_only),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_max_jobs),
		cmocka_unit_test(test_environment_exclusive),
		cmocka_unit_test(test_env),
		cmocka_unit_test(test_script),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_cancel_from_event),
		cmocka_unit_test(test_cancel_stops_retry),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_restore_waiting_approved),
		cmocka_unit_test(test_approve_while_active),
		cmocka_unit_test(test_rerun_failed),
		cmocka_unit_test(test_rerun_named),
		cmocka_unit_test(test_attempt_prepare),
		cmocka_unit_test(test_attempt_setenv),
		cmocka_unit_test(test_jobs_dir),
		cmocka_unit_test(test_cancel_while_preparing),
		cmocka_unit_test(test_project_max_jobs),
		cmocka_unit_test(test_skip_reason),
		cmocka_unit_test(test_branches),
		cmocka_unit_test(test_lost_retries),
		cmocka_unit_test(test_detach_adopt),
		cmocka_unit_test(test_cancel_adopt),
		cmocka_unit_test(test_pause),
		cmocka_unit_test(test_retry_budget_restored),
		cmocka_unit_test(test_rerun_restored_paused),
	};

	return cmocka_run_group_tests_name("sched", tests, NULL, NULL);
}
