/*
 * The scheduler's loop side: the FIFO of active runs, the global slots, the
 * per-project environment locks, and sched_pump(), which after every change
 * decides what can happen next.  Nothing here blocks; every transition is
 * reported through the event callback in the order it happens.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched-int.h"

static const char *const job_state_names[] = {
	[SCHED_JOB_PENDING] = "pending",   [SCHED_JOB_READY] = "ready",
	[SCHED_JOB_WAITING] = "waiting",   [SCHED_JOB_RUNNING] = "running",
	[SCHED_JOB_SUCCESS] = "success",   [SCHED_JOB_FAILED] = "failed",
	[SCHED_JOB_CANCELED] = "canceled", [SCHED_JOB_SKIPPED] = "skipped",
	[SCHED_JOB_TIMED_OUT] = "timed_out", [SCHED_JOB_LOST] = "lost",
};

static const char *const run_state_names[] = {
	[SCHED_RUN_QUEUED] = "queued",     [SCHED_RUN_RUNNING] = "running",
	[SCHED_RUN_SUCCESS] = "success",   [SCHED_RUN_FAILED] = "failed",
	[SCHED_RUN_CANCELED] = "canceled", [SCHED_RUN_ERROR] = "error",
};

const char *
sched_job_state_name(enum sched_job_state st)
{
	return (size_t)st < PW_ARRAY_LEN(job_state_names) ?
		job_state_names[st] : "?";
}

const char *
sched_run_state_name(enum sched_run_state st)
{
	return (size_t)st < PW_ARRAY_LEN(run_state_names) ?
		run_state_names[st] : "?";
}

bool
sched_job_state_final(enum sched_job_state st)
{
	return st >= SCHED_JOB_SUCCESS;
}

int
sched_create(uv_loop_t *loop, struct exec *exec,
	     const struct sched_options *opts, const struct sched_callbacks *cb,
	     struct sched **out)
{
	struct sched *s;

	if (opts->max_jobs < 1 || opts->attempts_dir == NULL)
		return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->exec = exec;
	s->opts = *opts;
	s->opts.attempts_dir = xstrdup(opts->attempts_dir);
	s->cb = *cb;
	*out = s;
	return 0;
}

void
sched_destroy(struct sched *s)
{
	if (s == NULL)
		return;
	free((char *)s->opts.attempts_dir);
	free(s);
}

int
sched_running(const struct sched *s)
{
	return s->running;
}

static void
emit(struct sched_run *r, struct sched_event *ev)
{
	ev->run = r;
	ev->run_id = r->id;
	ev->time_ms = pw_now_ms();
	if (r->s->cb.event != NULL)
		r->s->cb.event(r->s->cb.arg, ev);
}

void
sched_job_set(struct sched_run *r, size_t j, enum sched_job_state st,
	      int exit_code, const char *reason)
{
	struct sched_event ev = {
		.kind = SCHED_EVENT_JOB,
		.state = st,
		.job = j,
		.job_name = pipeline_job_name(r->p, j),
		.attempt = r->jobs[j].attempts,
		.exit_code = exit_code,
		.reason = reason,
	};

	r->jobs[j].state = st;
	emit(r, &ev);
}

void
sched_run_set(struct sched_run *r, enum sched_run_state st, const char *reason)
{
	struct sched_event ev = {
		.kind = SCHED_EVENT_RUN,
		.state = st,
		.exit_code = -1,
		.reason = reason,
	};

	r->state = st;
	emit(r, &ev);
}

/* Another job of the same project holds this job's environment. */
static bool
environment_busy(const struct sched *s, const struct sched_run *r, size_t j)
{
	const char *env = pipeline_job_environment(r->p, j);
	const struct sched_run *o;
	size_t k;

	if (env == NULL)
		return false;
	for (o = s->head; o != NULL; o = o->next) {
		if (strcmp(o->project, r->project) != 0 || o->running == 0)
			continue;
		for (k = 0; k < o->njobs; k++) {
			const char *oe;

			if (o->jobs[k].state != SCHED_JOB_RUNNING)
				continue;
			oe = pipeline_job_environment(o->p, k);
			if (oe != NULL && strcmp(oe, env) == 0)
				return true;
		}
	}
	return false;
}

/* The project's own limit on jobs at once, over all its runs, is reached. */
static bool
project_full(const struct sched *s, const struct sched_run *r)
{
	const struct sched_run *o;
	int n = 0;

	if (r->project_max_jobs <= 0)
		return false;
	for (o = s->head; o != NULL; o = o->next)
		if (strcmp(o->project, r->project) == 0)
			n += o->running;
	return n >= r->project_max_jobs;
}

/* Moves the run's pending jobs along as far as their predecessors allow. */
static void
release(struct sched_run *r)
{
	bool changed = true;
	size_t j;

	while (changed) {
		changed = false;
		for (j = 0; j < r->njobs; j++) {
			enum sched_verdict v;
			char *reason;

			if (r->jobs[j].state != SCHED_JOB_PENDING)
				continue;
			v = sched_rules_decide(r, j, &reason);
			switch (v) {
			case SCHED_VERDICT_WAIT:
				break;
			case SCHED_VERDICT_RUN:
				sched_job_set(r, j, SCHED_JOB_READY, -1, NULL);
				changed = true;
				break;
			case SCHED_VERDICT_HOLD:
				if (r->skip_manual)
					sched_job_set(r, j, SCHED_JOB_SKIPPED, -1,
						      "manual job not approved");
				else
					sched_job_set(r, j, SCHED_JOB_WAITING,
						      -1, "waiting for approval");
				changed = true;
				break;
			case SCHED_VERDICT_SKIP:
				sched_job_set(r, j, SCHED_JOB_SKIPPED, -1, reason);
				changed = true;
				break;
			}
			free(reason);
		}
	}
}

/*
 * A pending job that can only wait: with nothing of its run running or
 * ready (settle() checks), what it waits for is a manual job left waiting,
 * which can no longer be approved in this run.
 */
static bool
held(const struct sched_run *r, size_t j)
{
	char *reason;
	enum sched_verdict v = sched_rules_decide(r, j, &reason);

	free(reason);
	return v == SCHED_VERDICT_WAIT;
}

/*
 * A run is done when nothing runs and nothing can still start.  Its result
 * comes from its jobs' states too, not from r->canceling alone: that flag
 * lives in this process, while a cancel made before a restart reaches us
 * only as a job that ends (or was restored) canceled.  A job is canceled
 * only by a cancel of its run, so such a run was cancelled.
 */
static bool
settle(struct sched_run *r)
{
	bool failed = false, canceled = false;
	size_t j;

	if (r->running > 0)
		return false;
	for (j = 0; j < r->njobs; j++) {
		enum sched_job_state st = r->jobs[j].state;

		if (st == SCHED_JOB_PENDING ? !held(r, j) :
		    !sched_job_state_final(st) && st != SCHED_JOB_WAITING)
			return false;
		if (sched_state_is_failure(st) &&
		    !pipeline_job_allow_failure(r->p, j))
			failed = true;
		if (st == SCHED_JOB_CANCELED)
			canceled = true;
	}
	if (r->canceling)
		sched_run_set(r, SCHED_RUN_CANCELED, "canceled");
	else if (failed)
		sched_run_set(r, SCHED_RUN_FAILED, NULL);
	else if (canceled)
		sched_run_set(r, SCHED_RUN_CANCELED, "canceled");
	else
		sched_run_set(r, SCHED_RUN_SUCCESS, NULL);
	return true;
}

static void
unlink_run(struct sched *s, struct sched_run *r)
{
	struct sched_run **pp;

	for (pp = &s->head; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	s->tail = NULL;
	for (pp = &s->head; *pp != NULL; pp = &(*pp)->next)
		s->tail = *pp;
	r->next = NULL;
}

static void
pump_once(struct sched *s)
{
	struct sched_run *r, *next;
	size_t j;

	for (r = s->head; r != NULL; r = r->next)
		release(r);
	/* FIFO: older runs take free slots first, jobs in file order. */
	for (r = s->head; r != NULL; r = r->next) {
		for (j = 0; j < r->njobs && s->running < s->opts.max_jobs; j++) {
			if (r->jobs[j].state != SCHED_JOB_READY ||
			    (s->paused && r->state == SCHED_RUN_QUEUED) ||
			    environment_busy(s, r, j) || project_full(s, r))
				continue;
			if (r->state == SCHED_RUN_QUEUED)
				sched_run_set(r, SCHED_RUN_RUNNING, NULL);
			sched_job_start(r, j);
		}
	}
	for (r = s->head; r != NULL; r = next) {
		next = r->next;
		if (settle(r))
			unlink_run(s, r);
	}
}

void
sched_pump(struct sched *s)
{
	/*
	 * Callbacks run from inside a pump may change states again (a job
	 * that cannot start ends at once); they ask for another round
	 * instead of recursing.
	 */
	if (s->detached || s->held)
		return;
	if (s->pumping) {
		s->pump_again = true;
		return;
	}
	s->pumping = true;
	do {
		s->pump_again = false;
		pump_once(s);
	} while (s->pump_again);
	s->pumping = false;
}

void
sched_detach(struct sched *s)
{
	struct sched_run *r;
	size_t j;

	s->detached = true;
	for (r = s->head; r != NULL; r = r->next)
		for (j = 0; j < r->njobs; j++)
			sched_job_detach(r, j);
	/* The runs are no longer ours: nothing runs, none is linked. */
	for (r = s->head; r != NULL; r = r->next)
		r->running = 0;
	s->head = s->tail = NULL;
	s->running = 0;
}

void
sched_hold(struct sched *s, bool hold)
{
	s->held = hold;
	if (!hold)
		sched_pump(s);
}

void
sched_pause(struct sched *s, bool paused)
{
	s->paused = paused;
	sched_pump(s);
}

bool
sched_paused(const struct sched *s)
{
	return s->paused;
}
