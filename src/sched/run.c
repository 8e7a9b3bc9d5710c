/*
 * Runs: creating one from a pipeline and a trigger's parameters, shaping
 * it before it starts (--only, approvals, restored states), cancelling it,
 * and reading its state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sched-int.h"

static char *
dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* A copy of a NULL-terminated list; NULL stays NULL. */
static char **
strv_dup(const char *const *v)
{
	size_t n = 0, i;
	char **out;

	if (v == NULL)
		return NULL;
	while (v[n] != NULL)
		n++;
	out = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

int
sched_run_create(struct sched *s, struct pipeline *p,
		 const struct sched_run_params *params, struct sched_run **out)
{
	struct sched_run *r;
	size_t n = 0, i;

	if (params->workspace == NULL || params->project == NULL ||
	    (params->workspace_at != NULL && params->workspace_at[0] != '/'))
		return -EINVAL;
	r = xcalloc(1, sizeof(*r));
	r->s = s;
	r->p = p;
	r->id = params->id;
	r->project = xstrdup(params->project);
	r->proj = sched_project(s, params->project);
	r->workspace = xstrdup(params->workspace);
	r->branch = dup_or_null(params->branch);
	r->tag = dup_or_null(params->tag);
	r->commit = dup_or_null(params->commit);
	r->skip_manual = params->skip_manual;
	r->project_max_jobs = params->project_max_jobs;
	r->network = params->network;
	r->network_denied = xstrdup(params->network_denied != NULL ?
				    params->network_denied :
				    "network: denied by the project's sandbox"
				    " configuration");
	r->sandbox = params->sandbox_set ? params->sandbox : s->opts.sandbox;
	r->resources = params->resources;
	r->timeout_ms = params->timeout_ms;
	r->max_log = params->max_log;
	r->uid = params->uid;
	r->gid = params->gid;
	while (params->env != NULL && params->env[n] != NULL)
		n++;
	r->env = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		r->env[i] = xstrdup(params->env[i]);
	for (n = 0; params->secrets != NULL && params->secrets[n] != NULL; n++)
		;
	r->secrets = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		r->secrets[i] = xstrdup(params->secrets[i]);
	r->state = SCHED_RUN_QUEUED;
	r->njobs = pipeline_job_count(p);
	r->jobs = xcalloc(r->njobs ? r->njobs : 1, sizeof(*r->jobs));
	r->workspace_at = dup_or_null(params->workspace_at);
	r->rootfs = dup_or_null(params->rootfs);
	r->mounts = strv_dup(params->mounts);
	r->env_defaults = strv_dup(params->env_defaults);
	for (i = 0; i < r->njobs; i++)
		r->jobs[i].workspace = params->jobs_dir != NULL ?
			xasprintf("%s/%zu", params->jobs_dir, i) :
			xstrdup(params->workspace);
	*out = r;
	return 0;
}

void
sched_run_destroy(struct sched_run *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->njobs; i++) {
		free(r->jobs[i].dir);
		sched_job_trace_env_free(&r->jobs[i]);
		free(r->jobs[i].ctx);
		free(r->jobs[i].fin_reason);
		free(r->jobs[i].workspace);
	}
	for (i = 0; r->env[i] != NULL; i++)
		free(r->env[i]);
	free(r->env);
	for (i = 0; r->secrets[i] != NULL; i++)
		free(r->secrets[i]);
	free(r->secrets);
	free(r->network_denied);
	free(r->jobs);
	free(r->project);
	free(r->workspace);
	free(r->workspace_at);
	free(r->rootfs);
	pw_strv_free(r->mounts);
	pw_strv_free(r->env_defaults);
	free(r->branch);
	free(r->tag);
	free(r->commit);
	pipeline_destroy(r->p);
	free(r);
}

/*
 * Marks every job `name` designates; -ENOENT if there is none.  Approval
 * marks manual jobs not yet decided (pending or waiting); -EALREADY if
 * every manual job of that name has run or is running already.
 */
static int
mark(struct sched_run *r, const char *name, bool approve)
{
	size_t j;
	int found = 0, manual = 0;

	for (j = 0; j < r->njobs; j++) {
		if (!pipeline_job_is(r->p, j, name))
			continue;
		if (approve) {
			if (pipeline_job_when(r->p, j) != PIPELINE_WHEN_MANUAL)
				continue;
			manual = 1;
			if (r->jobs[j].state != SCHED_JOB_PENDING &&
			    r->jobs[j].state != SCHED_JOB_WAITING)
				continue;
			r->jobs[j].approved = true;
			/* A job waiting for this is decided again. */
			if (r->jobs[j].state == SCHED_JOB_WAITING)
				r->jobs[j].state = SCHED_JOB_PENDING;
		} else {
			r->jobs[j].selected = true;
		}
		found = 1;
	}
	return found ? 0 : manual ? -EALREADY : -ENOENT;
}

int
sched_run_only(struct sched_run *r, const char *name)
{
	int rc;

	if (r->started)
		return -EBUSY;
	rc = mark(r, name, false);
	if (rc == 0)
		r->only = true;
	return rc;
}

int
sched_run_approve(struct sched_run *r, const char *name)
{
	int rc;

	if (r->started && sched_run_finished(r))
		return -EALREADY;
	rc = mark(r, name, true);
	if (rc == 0 && r->started) {
		sched_run_dirty(r);
		sched_pump(r->s);
	}
	return rc;
}

static bool
rerun_wanted(const struct sched_run *r, size_t j, const char *const *names)
{
	enum sched_job_state st = r->jobs[j].state;
	size_t k;

	if (names == NULL)
		return sched_state_is_failure(st) || st == SCHED_JOB_CANCELED;
	for (k = 0; names[k] != NULL; k++)
		if (pipeline_job_is(r->p, j, names[k]))
			return true;
	return false;
}

int
sched_run_rerun(struct sched_run *r, const char *const *names)
{
	bool changed = true;
	size_t j, k, n;
	int count = 0;

	if (r->started)
		return -EBUSY;
	for (k = 0; names != NULL && names[k] != NULL; k++) {
		for (j = 0; j < r->njobs; j++)
			if (pipeline_job_is(r->p, j, names[k]))
				break;
		if (j == r->njobs)
			return -ENOENT;
	}
	for (j = 0; j < r->njobs; j++)
		r->jobs[j].rerun = rerun_wanted(r, j, names);
	/* Everything downstream of a rerun job runs again too. */
	while (changed) {
		changed = false;
		for (j = 0; j < r->njobs; j++) {
			const size_t *preds;

			if (r->jobs[j].rerun)
				continue;
			n = pipeline_job_preds(r->p, j, &preds);
			for (k = 0; k < n; k++) {
				if (r->jobs[preds[k]].rerun) {
					r->jobs[j].rerun = changed = true;
					break;
				}
			}
		}
	}
	for (j = 0; j < r->njobs; j++) {
		if (!r->jobs[j].rerun)
			continue;
		r->jobs[j].state = SCHED_JOB_PENDING;
		r->jobs[j].base = r->jobs[j].attempts;
		r->jobs[j].lost = 0;
		r->jobs[j].neutral = false;
		count++;
	}
	return count;
}

int
sched_run_restore_job(struct sched_run *r, size_t job,
		      enum sched_job_state state, int attempts)
{
	if (r->started || job >= r->njobs || attempts < 0)
		return -EINVAL;
	/*
	 * An attempt that was running or about to is started afresh; a
	 * manual job that was waiting is decided again, so that an approval
	 * given since (sched_run_approve before the start) takes effect.
	 */
	if (state == SCHED_JOB_RUNNING || state == SCHED_JOB_READY ||
	    state == SCHED_JOB_WAITING)
		state = SCHED_JOB_PENDING;
	r->jobs[job].state = state;
	r->jobs[job].attempts = attempts;
	return 0;
}

int
sched_run_adopt_job(struct sched_run *r, size_t job, int attempt,
		    const char *dir, uint64_t offset)
{
	struct sched_job *jb;

	if (r->started || job >= r->njobs || attempt < 1 || dir == NULL)
		return -EINVAL;
	jb = &r->jobs[job];
	jb->state = SCHED_JOB_RUNNING;
	jb->attempts = attempt;
	jb->adopt = true;
	jb->adopt_offset = offset;
	free(jb->dir);
	jb->dir = xstrdup(dir);
	return 0;
}

int
sched_run_restore_lost(struct sched_run *r, size_t job, int lost)
{
	if (r->started || job >= r->njobs || lost < 0)
		return -EINVAL;
	r->jobs[job].lost = lost;
	return 0;
}

int
sched_run_restore_rerun(struct sched_run *r, size_t job, int after)
{
	if (r->started || job >= r->njobs || after < 0)
		return -EINVAL;
	r->jobs[job].rerun = true;
	r->jobs[job].base = after;
	return 0;
}

/*
 * Whether the run was running before this start: it has attempts to take
 * up, or its jobs ran — for a rerun, its jobs ran since (not a rerun
 * still queued, which a paused queue holds back).
 */
static bool
was_running(const struct sched_run *r)
{
	bool rerun = false, ran = false, ran_since = false;
	size_t j;

	for (j = 0; j < r->njobs; j++) {
		const struct sched_job *jb = &r->jobs[j];

		if (jb->adopt)
			return true;
		rerun |= jb->rerun;
		ran |= jb->attempts > 0;
		ran_since |= jb->rerun && jb->attempts > jb->base;
	}
	return rerun ? ran_since : ran;
}

int
sched_run_start(struct sched_run *r)
{
	struct sched *s = r->s;
	size_t j;

	if (r->started)
		return -EBUSY;
	if (s->detached)
		return -ECANCELED;
	r->started = true;
	r->seq = ++s->seq;
	r->prev = s->tail;
	if (s->tail != NULL)
		s->tail->next = r;
	else
		s->head = r;
	s->tail = r;
	sched_run_dirty(r);
	/*
	 * The budgets restored: the attempts since the job was last queued,
	 * the one taken up included, lost ones aside (they do not count).
	 */
	for (j = 0; j < r->njobs; j++) {
		struct sched_job *jb = &r->jobs[j];

		jb->tries = jb->attempts - jb->base - jb->lost;
		if (jb->tries < 0)
			jb->tries = 0;
	}
	/* A run that was running already: a paused queue does not hold it. */
	sched_run_set(r, was_running(r) ? SCHED_RUN_RUNNING : SCHED_RUN_QUEUED,
		      NULL);
	/* Jobs that will not run at all are settled up front. */
	for (j = 0; j < r->njobs; j++) {
		if (r->jobs[j].state != SCHED_JOB_PENDING)
			continue;
		if (r->only && !r->jobs[j].selected) {
			r->jobs[j].neutral = true;
			sched_job_set(r, j, SCHED_JOB_SKIPPED, -1,
				      "not selected");
		} else if (!pipeline_job_runs_on_branch(r->p, j, r->branch)) {
			char *why = xasprintf("branch '%s' not in branches",
					      r->branch);

			sched_job_set(r, j, SCHED_JOB_SKIPPED, -1, why);
			free(why);
		}
	}
	for (j = 0; j < r->njobs; j++) {
		if (!r->jobs[j].adopt)
			continue;
		/* Running since sched_run_adopt_job(), counted from now. */
		sched_count_running(r, j, 1);
		sched_job_adopt(r, j);
	}
	sched_pump(s);
	return 0;
}

int
sched_run_cancel(struct sched_run *r)
{
	size_t j;

	if (!r->started || sched_run_finished(r))
		return -EALREADY;
	if (r->canceling)
		return 0;
	r->canceling = true;
	sched_run_dirty(r);
	for (j = 0; j < r->njobs; j++) {
		enum sched_job_state st = r->jobs[j].state;

		if (st == SCHED_JOB_RUNNING)
			sched_job_cancel(r, j);
		else if (!sched_job_state_final(st))
			sched_job_set(r, j, SCHED_JOB_CANCELED, -1, "canceled");
	}
	sched_pump(r->s);
	return 0;
}

const char *
sched_attempt_workspace(const struct sched_run *r, size_t job)
{
	return job < r->njobs ? r->jobs[job].workspace : NULL;
}

uint64_t
sched_run_id(const struct sched_run *r)
{
	return r->id;
}

const struct pipeline *
sched_run_pipeline(const struct sched_run *r)
{
	return r->p;
}

enum sched_run_state
sched_run_state(const struct sched_run *r)
{
	return r->state;
}

bool
sched_run_finished(const struct sched_run *r)
{
	return r->state >= SCHED_RUN_SUCCESS;
}

enum sched_job_state
sched_run_job_state(const struct sched_run *r, size_t job)
{
	return r->jobs[job].state;
}

int
sched_run_job_attempts(const struct sched_run *r, size_t job)
{
	return r->jobs[job].attempts;
}

int
sched_run_job_rerun(const struct sched_run *r, size_t job)
{
	return r->jobs[job].rerun ? r->jobs[job].base : -1;
}

uint64_t
sched_run_job_started_ms(const struct sched_run *r, size_t job)
{
	return r->jobs[job].started_ms;
}

uint64_t
sched_run_job_finished_ms(const struct sched_run *r, size_t job)
{
	return r->jobs[job].finished_ms;
}

enum exec_sandbox
sched_run_sandbox(const struct sched_run *r)
{
	return r->sandbox;
}

void
sched_run_set_ids(struct sched_run *r, uint32_t uid, uint32_t gid)
{
	r->uid = uid;
	r->gid = gid;
}
