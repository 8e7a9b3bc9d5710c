/*
 * `pipewright run`'s caches and artifacts, through runcache.c: the cache
 * directory opened if the run uses it (else the run's temporary directory
 * for --clean's artifacts), an attempt's caches and artifacts restored
 * once its workspace and image are ready, and saved after it ends; the
 * step's lines are the job's output.
 */
#include <stdlib.h>
#include <string.h>

#include "run-int.h"

/* Whether the run uses the cache directory at all: without --clean
 * artifacts are simply there, and --no-cache leaves caches alone. */
static bool
wants_reuse(const struct run_cli *c)
{
	const struct pipeline *p = c->p;
	size_t j;

	for (j = 0; j < pipeline_job_count(p); j++) {
		if (!c->o->no_cache && pipeline_job_cache_count(p, j) > 0)
			return true;
		if (c->o->clean && pipeline_job_artifacts(p, j) != NULL)
			return true;
	}
	return false;
}

/*
 * The store and blobs of caches and artifacts: in the cache directory;
 * with --no-cache (only artifacts, only this run's) or without a cache
 * directory, in the run's temporary directory.
 */
void
run_open_reuse(struct run_cli *c)
{
	struct run_cache_params cp = {
		.project = c->workspace,
		.branch = c->o->branch != NULL ? c->o->branch : c->branch,
		.tag = c->tag,
		.default_branch = "main",
		.artifacts = c->o->clean,
		.caches = !c->o->no_cache,
	};
	char *dir = NULL, *err = NULL;
	int rc;

	if (!wants_reuse(c))
		return;
	if (cp.caches)
		dir = c->o->cache_dir != NULL ? xstrdup(c->o->cache_dir) :
						run_cache_default_dir();
	if (cp.caches && dir == NULL) {
		term_note(c->term, "caches off: neither $XDG_CACHE_HOME nor "
			  "$HOME is an absolute path (give --cache-dir)");
		cp.caches = false;
	}
	if (dir != NULL) {
		cp.dir = dir;
		rc = run_cache_open(&c->loop, &cp, &c->cache, &err);
		if (rc == 0) {
			term_note(c->term, "caches in %s (%s)", dir,
				  run_cache_write_scope(c->cache) != NULL ?
				  run_cache_write_scope(c->cache) :
				  "read only: no branch checked out");
		} else {
			term_note(c->term, "caches off: %s", err);
			cp.caches = false;
		}
		free(err);
		err = NULL;
		free(dir);
		dir = NULL;
	}
	if (c->cache != NULL || !cp.artifacts)
		return;
	dir = xasprintf("%s/reuse", c->tmpdir);
	cp.dir = dir;
	if (run_cache_open(&c->loop, &cp, &c->cache, &err) < 0) {
		term_note(c->term, "artifacts off: %s", err);
		free(err);
	}
	free(dir);
}

/* The step's lines are the job's, before its script or after it. */
static void
on_restored(const struct reuse_result *res, void *arg)
{
	struct prep *pr = arg;
	int rc;

	if (res->len > 0)
		term_output(pr->c->term, pr->job, res->log, res->len);
	if (res->rc < 0)
		rc = sched_attempt_fail(pr->run, pr->job, res->reason);
	else
		rc = sched_attempt_proceed(pr->run, pr->job, 0);
	(void)rc; /* the attempt is held: neither refuses it */
	free(pr);
}

void
run_restore_or_proceed(struct prep *pr)
{
	int rc;

	if (pr->c->cache != NULL) {
		run_cache_restore(pr->c->cache, pr->run, pr->job,
				  &pr->c->ids, on_restored, pr);
		return;
	}
	rc = sched_attempt_proceed(pr->run, pr->job, 0);
	(void)rc; /* the attempt is held: it cannot refuse */
	free(pr);
}

static void
on_saved(const struct reuse_result *res, void *arg)
{
	struct prep *pr = arg;
	int rc;

	if (res->len > 0) {
		rc = sched_attempt_log(pr->run, pr->job, res->log, res->len);
		(void)rc; /* past the cap: the output says so */
	}
	rc = sched_attempt_settle(pr->run, pr->job, res->rc, res->reason);
	(void)rc; /* it is finishing: settle cannot refuse it */
	free(pr);
}

/* After its reports (if any): the attempt's artifacts and caches. */
void
run_save_or_settle(void *arg)
{
	struct prep *pr = arg;
	struct run_cli *c = pr->c;
	int rc;

	if (c->cache == NULL) {
		rc = sched_attempt_settle(pr->run, pr->job, 0, NULL);
		(void)rc; /* it is finishing: settle cannot refuse it */
		free(pr);
		return;
	}
	run_cache_save(c->cache, pr->run, pr->job, &c->ids, pr->state,
		       on_saved, pr);
}
