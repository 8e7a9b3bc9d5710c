/*
 * The daemon's side of caches and artifacts: the blob store under
 * <data_dir>/blobs and the reuse step (src/reuse/step.c) around each job
 * attempt.  Before the script (after jobws.c made the workspace): restore,
 * write the lines as the attempt's prelude, then start the supervisor or
 * fail the attempt with the step's reason.  After it (sched's
 * attempt_finish): save, add the lines to the log, settle with the step's
 * result.  The job's context comes from the run's row as the daemon
 * built the run (its ref, branch, tag, request and fork, for the scopes:
 * live_run keeps them), the project's default_branch,
 * and the environment sched gives the job (for $VARIABLES).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/blob.h"
#include "pipewright/reuse.h"
#include "pipewright/supervisor-proto.h"

static void
limits_of(const struct config *c, struct reuse_limits *l)
{
	struct config_reuse r;

	config_reuse(c, &r);
	*l = (struct reuse_limits){
		.artifact_max_size = r.artifacts_max_size,
		.artifact_expire_ms = r.artifacts_expire_in_ms,
		.keep_latest = r.artifacts_keep_latest,
		/* One cache above the whole budget would only be evicted. */
		.cache_max_size = r.caches_max_size,
	};
}

int
jobreuse_open(struct daemon *d, char **err)
{
	struct reuse_limits lim;
	char *dir = xasprintf("%s/blobs", config_data_dir(d->config));
	int rc;

	rc = blob_store_open(dir, &d->blobs);
	if (rc < 0) {
		*err = xasprintf("cannot open the blob store %s: %s", dir,
				 strerror(-rc));
		free(dir);
		return rc;
	}
	free(dir);
	limits_of(d->config, &lim);
	reuse_step_create(&d->loop, d->store, d->blobs, &lim, &d->reuse);
	return 0;
}

void
jobreuse_close(struct daemon *d)
{
	reuse_step_destroy(d->reuse);
	d->reuse = NULL;
	if (d->blobs != NULL)
		blob_store_close(d->blobs);
	d->blobs = NULL;
}

void
jobreuse_config(struct daemon *d)
{
	struct reuse_limits lim;

	if (d->reuse == NULL)
		return;
	limits_of(d->config, &lim);
	reuse_step_set_limits(d->reuse, &lim);
}

/* A job attempt as the step sees it; ctx_free after the call. */
struct ctx {
	struct reuse_job j;
	struct reuse_scopes sc;
	char **env;
};

static void
ctx_make(struct daemon *d, struct live_run *lr, size_t job, struct ctx *c)
{
	const struct config_project *proj =
		config_project_find(d->config, lr->project);
	const struct pipeline *p = sched_run_pipeline(lr->run);
	/* What the scopes need was kept from the run's row when it was
	 * built: reading the row again (with every job and attempt of the
	 * run) twice per job made a run's jobs cost O(jobs) each. */
	struct reuse_run rr = {
		.ref = lr->ref, .branch = lr->branch, .tag = lr->tag,
		.pr = lr->pr, .fork = lr->fork,
	};

	reuse_scopes_of(&rr, proj != NULL ?
			config_project_default_branch(proj) : NULL, &c->sc);
	/* The environment only expands cache and artifact names and paths
	 * (src/reuse/step.c); a job with neither does not build it. */
	c->env = pipeline_job_cache_count(p, job) > 0 ||
			 pipeline_job_artifacts(p, job) != NULL ?
		 sched_attempt_env(lr->run, job) : xcalloc(1, sizeof(char *));
	c->j = (struct reuse_job){
		.run = lr->id,
		.project = lr->project,
		.p = p,
		.job = job,
		.env = (const char *const *)c->env,
		.root = sched_attempt_workspace(lr->run, job),
		.uid = lr->job_uid != 0 ? lr->job_uid : geteuid(),
		.gid = lr->job_uid != 0 ? lr->job_uid : getegid(),
		.scopes = &c->sc,
		.keep_existing = false,
	};
}

static void
ctx_free(struct ctx *c)
{
	reuse_scopes_free(&c->sc);
	pw_strv_free(c->env);
}

/* ---- before the script ---- */

static void
restored(const struct reuse_result *res, void *arg)
{
	struct live_attempt *la = arg;
	struct daemon *d = la->d;
	size_t len = res->len;
	const char *data = res->log;
	struct buf pre = {0};
	int rc;

	la->ops--;
	if (la->orphan) {
		if (la->ops == 0)
			live_attempt_free(d, la);
		daemon_run_gone(d);
		return;
	}
	if (la->image_line != NULL) {
		buf_init(&pre, 0);
		buf_adds(&pre, la->image_line);
		buf_add(&pre, res->log, len);
		data = pre.data;
		len = pre.len;
	}
	if (len > SUPERVISOR_MAX_PRELUDE)
		len = SUPERVISOR_MAX_PRELUDE;
	/* A few lines, written whole: the supervisor copies them first. */
	if (len > 0 && la->dir != NULL &&
	    (rc = attempt_prelude_write(la->dir, data, len)) < 0)
		log_warnx("run=%llu job=%zu: cannot write the prelude: %s",
			  (unsigned long long)la->lr->id, la->job,
			  strerror(-rc));
	if (la->image_line != NULL)
		buf_free(&pre);
	/* A span only where there was something to restore (it said so). */
	if (res->len > 0 || res->rc < 0)
		traces_step(d, la->id, "reuse.restore", la->restore_from,
			    pw_now_ms(), res->rc < 0 ? res->reason : NULL);
	la->script_from = res->rc < 0 ? 0 : pw_now_ms();
	if (res->rc < 0)
		rc = sched_attempt_fail(la->lr->run, la->job, res->reason);
	else
		rc = sched_attempt_proceed(la->lr->run, la->job, 0);
	(void)rc; /* the attempt is prepared: neither refuses it */
	daemon_run_gone(d);
}

void
jobreuse_restore(struct live_attempt *la)
{
	struct ctx c;

	la->restore_from = pw_now_ms();
	ctx_make(la->d, la->lr, la->job, &c);
	reuse_step_restore(la->d->reuse, &c.j, restored, la);
	ctx_free(&c);
}

/* ---- after it ---- */

struct finishing {
	struct daemon *d;
	uint64_t run;
	size_t job;
	int attempt;
	uint64_t from;           /* the save began, UTC ms (its span) */
};

static void
saved(const struct reuse_result *res, void *arg)
{
	struct finishing *f = arg;
	struct daemon *d = f->d;
	struct live_run *lr = live_run_find(d, f->run);
	struct config_reuse cr;
	struct store_reuse_usage u;
	int rc;

	/* The run left memory meanwhile (a shutdown): the next daemon
	 * adopts the attempt and finishes it again. */
	if (lr != NULL) {
		struct live_attempt *la = live_attempt_find(d, f->run, f->job,
							    f->attempt);

		/* Before the settle: the attempt's span is built at its end. */
		if (la != NULL && (res->len > 0 || res->rc < 0))
			traces_step(d, la->id, "reuse.save", f->from,
				    pw_now_ms(), res->rc < 0 ? res->reason : NULL);
		if (res->len > 0) {
			rc = sched_attempt_log(lr->run, f->job, res->log,
					       res->len);
			(void)rc; /* past the cap: the log says so */
		}
		rc = sched_attempt_settle(lr->run, f->job, res->rc,
					  res->reason);
		(void)rc; /* -ECANCELED after a detach: the next one does */
	}
	config_reuse(d->config, &cr);
	if (res->saved_bytes > 0 &&
	    store_reuse_usage(d->store, &u) == 0 &&
	    u.cache_bytes > cr.caches_max_size)
		retain_now(d);
	free(f);
	daemon_run_gone(d);
}

/* The attempt's end, once its services' streams are stored. */
static void
finish_go(struct daemon *d, struct sched_run *run, size_t job, int attempt,
	  enum sched_job_state state)
{
	/* Test reports first (jobreports.c), which go on with the save. */
	if (jobreports_start(d, run, job, attempt, state))
		return;
	jobreuse_save(d, run, job, attempt, state);
}

void
jobreuse_save(struct daemon *d, struct sched_run *run, size_t job,
	      int attempt, enum sched_job_state state)
{
	struct live_run *lr = live_run_of(d, run);
	struct finishing *f;
	struct ctx c;
	int rc;

	if (lr == NULL || d->reuse == NULL) {
		rc = sched_attempt_settle(run, job, 0, NULL);
		(void)rc; /* it is finishing: settle cannot refuse it */
		return;
	}
	f = xcalloc(1, sizeof(*f));
	f->d = d;
	f->run = lr->id;
	f->job = job;
	f->attempt = attempt;
	f->from = pw_now_ms();
	ctx_make(d, lr, job, &c);
	reuse_step_save(d->reuse, &c.j, state, saved, f);
	ctx_free(&c);
}

static void
streams_stored(struct daemon *d, uint64_t run, size_t job, int attempt,
	       enum sched_job_state state)
{
	struct live_run *lr = live_run_find(d, run);

	/* The run left memory meanwhile: the next daemon finishes it. */
	if (lr == NULL) {
		daemon_run_gone(d);
		return;
	}
	finish_go(d, lr->run, job, attempt, state);
}

void
attempt_finish(void *arg, struct sched_run *run, size_t job, int attempt,
	       const struct sched_attempt_result *res)
{
	struct daemon *d = arg;
	struct live_run *lr = live_run_of(d, run);

	if (lr != NULL && streams_store(d, run, lr->id, job, attempt,
					res->state, streams_stored))
		return;
	finish_go(d, run, job, attempt, res->state);
}
