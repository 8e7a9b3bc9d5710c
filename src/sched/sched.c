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

struct sched_project *
sched_project(struct sched *s, const char *name)
{
	struct sched_project *p;

	for (p = s->projects; p != NULL; p = p->next)
		if (strcmp(p->name, name) == 0)
			return p;
	p = xcalloc(1, sizeof(*p));
	p->name = xstrdup(name);
	p->next = s->projects;
	s->projects = p;
	return p;
}

/* The job's environment's count in its project, made at its first use. */
static struct sched_env *
job_env(struct sched_run *r, size_t j)
{
	const char *name = pipeline_job_environment(r->p, j);
	struct sched_env *e;

	if (name == NULL)
		return NULL;
	for (e = r->proj->envs; e != NULL; e = e->next)
		if (strcmp(e->name, name) == 0)
			return e;
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->next = r->proj->envs;
	r->proj->envs = e;
	return e;
}

/* A job of the run starts or stops running: its project's counts. */
void
sched_count_running(struct sched_run *r, size_t j, int delta)
{
	struct sched_env *e = job_env(r, j);

	r->proj->running += delta;
	if (e != NULL)
		e->running += delta;
}

void
sched_destroy(struct sched *s)
{
	struct sched_project *p, *next;
	struct sched_env *e, *enext;

	if (s == NULL)
		return;
	for (p = s->projects; p != NULL; p = next) {
		next = p->next;
		for (e = p->envs; e != NULL; e = enext) {
			enext = e->next;
			free(e->name);
			free(e);
		}
		free(p->name);
		free(p);
	}
	free((char *)s->opts.attempts_dir);
	free(s);
}

int
sched_running(const struct sched *s)
{
	return s->running;
}

uint64_t
sched_visits(const struct sched *s)
{
	return s->visits;
}

size_t
sched_queued_next(const struct sched *s, struct sched_run **out, size_t n)
{
	struct sched_run *r;
	size_t k = 0;

	if (s->paused || s->detached)
		return 0;
	for (r = s->ready_queued.head; r != NULL && k < n; r = r->ready_next)
		if (r->nready > 0 && r->state == SCHED_RUN_QUEUED)
			out[k++] = r;
	return k;
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
sched_run_dirty(struct sched_run *r)
{
	/* A finished run is out of the FIFO: it is never looked at again. */
	if (r->dirty || !r->started || sched_run_finished(r))
		return;
	r->dirty = true;
	r->dirty_next = r->s->dirty;
	r->s->dirty = r;
}

static void
ready_unlink(struct sched_run *r)
{
	struct sched_ready *l = r->in_ready;

	if (l == NULL)
		return;
	if (r->ready_prev != NULL)
		r->ready_prev->ready_next = r->ready_next;
	else
		l->head = r->ready_next;
	if (r->ready_next != NULL)
		r->ready_next->ready_prev = r->ready_prev;
	else
		l->tail = r->ready_prev;
	r->ready_prev = r->ready_next = NULL;
	r->in_ready = NULL;
}

/*
 * Into the ready list of its state, by its place in the FIFO (usually
 * the last); a run that starts running moves from the queued runs' list
 * to the running runs'.
 */
static void
ready_link(struct sched_run *r)
{
	struct sched *s = r->s;
	struct sched_ready *l = r->state == SCHED_RUN_RUNNING ?
					&s->ready_running : &s->ready_queued;
	struct sched_run *after = l->tail;

	if (r->in_ready == l || !r->started || r->nready == 0)
		return;
	ready_unlink(r);
	while (after != NULL && after->seq > r->seq)
		after = after->ready_prev;
	r->ready_prev = after;
	r->ready_next = after != NULL ? after->ready_next : l->head;
	if (r->ready_next != NULL)
		r->ready_next->ready_prev = r;
	else
		l->tail = r;
	if (after != NULL)
		after->ready_next = r;
	else
		l->head = r;
	r->in_ready = l;
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

	if (r->jobs[j].state == SCHED_JOB_RUNNING && st != SCHED_JOB_RUNNING)
		sched_count_running(r, j, -1);
	else if (r->jobs[j].state != SCHED_JOB_RUNNING &&
		 st == SCHED_JOB_RUNNING)
		sched_count_running(r, j, 1);
	if (r->jobs[j].state == SCHED_JOB_READY && st != SCHED_JOB_READY)
		r->nready--;
	else if (r->jobs[j].state != SCHED_JOB_READY && st == SCHED_JOB_READY)
		r->nready++;
	r->jobs[j].state = st;
	if (st == SCHED_JOB_READY)
		ready_link(r);
	/* A start releases nothing and settles nothing: no round needed. */
	if (st != SCHED_JOB_RUNNING)
		sched_run_dirty(r);
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
	if (r->in_ready != NULL)
		ready_link(r);
	emit(r, &ev);
}

/* Another job of the same project holds this job's environment. */
static bool
environment_busy(struct sched_run *r, size_t j)
{
	const struct sched_env *e = job_env(r, j);

	return e != NULL && e->running > 0;
}

/* The project's own limit on jobs at once, over all its runs, is reached. */
static bool
project_full(const struct sched_run *r)
{
	return r->project_max_jobs > 0 &&
	       r->proj->running >= r->project_max_jobs;
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
	if (r->prev != NULL)
		r->prev->next = r->next;
	else
		s->head = r->next;
	if (r->next != NULL)
		r->next->prev = r->prev;
	else
		s->tail = r->prev;
	r->prev = r->next = NULL;
	ready_unlink(r);
}

static int
cmp_seq(const void *a, const void *b)
{
	const struct sched_run *x = *(struct sched_run *const *)a;
	const struct sched_run *y = *(struct sched_run *const *)b;

	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/*
 * FIFO: older runs take free slots first, jobs in file order; a round
 * stops as soon as the slots are full, and a paused queue's runs are not
 * even looked at.  The two ready lists are walked as one, oldest first.
 * A run that a round finds with no ready job left leaves its list here,
 * where it is safe to; a queued run whose job starts moves to the running
 * runs' list, behind the walk (it is older than what comes next there).
 */
static void
start_ready(struct sched *s)
{
	struct sched_run *a = s->ready_running.head, *r, *nb;
	struct sched_run *b = s->paused ? NULL : s->ready_queued.head;
	size_t j;

	while ((a != NULL || b != NULL) && s->running < s->opts.max_jobs) {
		if (a != NULL && (b == NULL || a->seq < b->seq)) {
			r = a;
			nb = b;
		} else {
			r = b;
			nb = b->ready_next;
		}
		s->visits++;
		for (j = 0; j < r->njobs && r->nready > 0 &&
			    s->running < s->opts.max_jobs; j++) {
			if (r->jobs[j].state != SCHED_JOB_READY ||
			    environment_busy(r, j) || project_full(r))
				continue;
			if (r->state == SCHED_RUN_QUEUED)
				sched_run_set(r, SCHED_RUN_RUNNING, NULL);
			sched_job_start(r, j);
		}
		if (r == a)
			a = r->ready_next;
		b = nb;
		if (r->nready == 0)
			ready_unlink(r);
	}
}

/*
 * One round over the runs something happened to (oldest first, as the
 * events they cause have always come): their pending jobs move on, free
 * slots take ready jobs, the runs that are done settle.  A run marked
 * again during the round (a job that could not even start) is taken in
 * the next one.
 */
static void
pump_once(struct sched *s)
{
	struct sched_run *r, **v;
	size_t n = 0, i;

	for (r = s->dirty; r != NULL; r = r->dirty_next)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (r = s->dirty, i = 0; r != NULL; r = r->dirty_next)
		v[i++] = r;
	s->dirty = NULL;
	s->visits += n;
	qsort(v, n, sizeof(*v), cmp_seq);
	/*
	 * Still marked: what release() changes needs no second round.  A run
	 * settled in an earlier round of this pump (marked again before it
	 * was) is left alone: nothing of it moves after its final event.
	 */
	for (i = 0; i < n; i++)
		if (!sched_run_finished(v[i]))
			release(v[i]);
	for (i = 0; i < n; i++)
		v[i]->dirty = false;
	start_ready(s);
	for (i = 0; i < n; i++) {
		r = v[i];
		if (!sched_run_finished(r) && settle(r))
			unlink_run(s, r);
	}
	free(v);
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
	} while (s->pump_again || s->dirty != NULL);
	s->pumping = false;
}

void
sched_detach(struct sched *s)
{
	struct sched_project *p;
	struct sched_env *e;
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
	for (p = s->projects; p != NULL; p = p->next) {
		p->running = 0;
		for (e = p->envs; e != NULL; e = e->next)
			e->running = 0;
	}
	s->dirty = NULL;
	s->ready_running.head = s->ready_running.tail = NULL;
	s->ready_queued.head = s->ready_queued.tail = NULL;
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
