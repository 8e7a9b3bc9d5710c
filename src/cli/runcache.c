/*
 * `pipewright run`'s caches and artifacts: a store of its own (a SQLite
 * file, <dir>/local.db) and a blob store (<dir>/blobs) in the cache
 * directory, driven by the same reuse step as the daemon (src/reuse), so
 * that keys, lookups, scopes and archives follow one set of rules.  What
 * differs is said here:
 *
 * - the project is the checkout's path, so two checkouts sharing a cache
 *   directory never restore each other's caches;
 * - a restore never overwrites a file the developer has (keep_existing);
 * - without --clean the jobs share the checkout, where what a job built
 *   is already there: artifacts are neither saved nor restored;
 * - with --clean the run is recorded (artifacts belong to a run) and,
 *   when it ends, dropped with its artifacts and their blobs: they are
 *   the contract between this run's jobs, never kept for later;
 * - caches over 10 GiB in all, or unused for 30 days, are evicted when a
 *   run ends (the daemon's defaults), least recently used first.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "pipewright/blob.h"
#include "pipewright/reuse.h"
#include "pipewright/store.h"

#define LOCAL_CACHE_MAX_SIZE (10ULL << 30)
#define LOCAL_CACHE_MAX_AGE_MS (30ULL * 86400 * 1000)
#define LOCAL_EVICT_BATCH 200

struct run_cache {
	uv_loop_t *loop;
	struct store *store;
	struct blob_store *bs;
	struct reuse_step *step;
	struct reuse_scopes scopes;
	char *project;
	bool artifacts, caches;
	uint64_t run;             /* the store's run (artifacts); 0: none */
	/* the end: digests to drop once their rows are gone */
	char **digests;
	size_t ndigests;
	struct store_cache *evict;
	size_t nevict;
	const char *final;        /* the run's status as recorded */
	bool done;
	int rc;
};

char *
run_cache_default_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");

	/* The XDG rule: a relative $XDG_CACHE_HOME is ignored. */
	if (xdg != NULL && xdg[0] == '/')
		return xasprintf("%s/pipewright", xdg);
	if (home != NULL && home[0] == '/')
		return xasprintf("%s/.cache/pipewright", home);
	return NULL;
}

int
run_cache_open(uv_loop_t *loop, const struct run_cache_params *p,
	       struct run_cache **out, char **err)
{
	struct run_cache *rc = xcalloc(1, sizeof(*rc));
	struct reuse_limits lim = {
		.cache_max_size = LOCAL_CACHE_MAX_SIZE,
	};
	struct reuse_run rr = {
		.branch = p->branch,
		.tag = p->branch == NULL ? p->tag : NULL,
	};
	char *ref = NULL, *path;
	char *serr = NULL;
	int r;

	*out = NULL;
	r = pw_mkdirs(p->dir, 0700);
	if (r < 0) {
		*err = xasprintf("cannot create %s: %s", p->dir, strerror(-r));
		free(rc);
		return r;
	}
	path = xasprintf("%s/local.db", p->dir);
	r = store_open(loop, path, &rc->store, &serr);
	free(path);
	if (r < 0) {
		*err = serr != NULL ? serr : xstrdup(strerror(-r));
		free(rc);
		return r;
	}
	path = xasprintf("%s/blobs", p->dir);
	r = blob_store_open(path, &rc->bs);
	if (r < 0) {
		*err = xasprintf("cannot open the blob store %s: %s", path,
				 strerror(-r));
		free(path);
		store_close(rc->store, NULL, NULL);
		free(rc);
		return r;
	}
	free(path);
	if (p->branch != NULL)
		rr.ref = ref = xasprintf("refs/heads/%s", p->branch);
	reuse_scopes_of(&rr, p->default_branch, &rc->scopes);
	free(ref);
	rc->loop = loop;
	rc->project = xstrdup(p->project);
	rc->artifacts = p->artifacts;
	rc->caches = p->caches;
	reuse_step_create(loop, rc->store, rc->bs, &lim, &rc->step);
	*out = rc;
	return 0;
}

const char *
run_cache_write_scope(const struct run_cache *rc)
{
	return rc->scopes.write;
}

/* ---- the run's row ---- */

struct begin {
	struct run_cache *rc;
	struct store_run_new rn;
	uint64_t id;
	void (*cb)(int rc, void *arg);
	void *arg;
};

static int
begin_tx(struct store_tx *tx, void *arg)
{
	struct begin *b = arg;

	return store_tx_run_insert(tx, &b->rn, &b->id);
}

static void
begin_done(int rc, void *arg)
{
	struct begin *b = arg;

	if (rc == 0)
		b->rc->run = b->id;
	b->cb(rc, b->arg);
	free(b);
}

void
run_cache_begin(struct run_cache *rc, const char *commit,
		void (*cb)(int rc, void *arg), void *arg)
{
	struct begin *b;

	if (!rc->artifacts) {
		cb(0, arg);
		return;
	}
	b = xcalloc(1, sizeof(*b));
	b->rc = rc;
	b->cb = cb;
	b->arg = arg;
	b->rn = (struct store_run_new){
		.project = rc->project,
		.status = "running",
		.trigger = "local",
		.commit = commit,
		.created_at = pw_now_ms(),
	};
	store_write(rc->store, begin_tx, begin_done, b);
}

/* ---- around each job ---- */

static void
job_of(struct run_cache *rc, struct sched_run *run, size_t job,
       const struct run_cache_ids *ids, char **env, struct reuse_job *j)
{
	*j = (struct reuse_job){
		.run = rc->run,
		.project = rc->project,
		.p = sched_run_pipeline(run),
		.job = job,
		.env = (const char *const *)env,
		.root = sched_attempt_workspace(run, job),
		.uid = ids->uid,
		.gid = ids->gid,
		.scopes = &rc->scopes,
		.keep_existing = true,
		.caches_only = !rc->artifacts,
		.no_caches = !rc->caches,
	};
}

void
run_cache_restore(struct run_cache *rc, struct sched_run *run, size_t job,
		  const struct run_cache_ids *ids, reuse_step_cb cb, void *arg)
{
	char **env = sched_attempt_env(run, job);
	struct reuse_job j;

	job_of(rc, run, job, ids, env, &j);
	reuse_step_restore(rc->step, &j, cb, arg);
	pw_strv_free(env);
}

void
run_cache_save(struct run_cache *rc, struct sched_run *run, size_t job,
	       const struct run_cache_ids *ids, enum sched_job_state state,
	       reuse_step_cb cb, void *arg)
{
	char **env = sched_attempt_env(run, job);
	struct reuse_job j;

	job_of(rc, run, job, ids, env, &j);
	reuse_step_save(rc->step, &j, state, cb, arg);
	pw_strv_free(env);
}

/* ---- the end ---- */

static void
digest_add(struct run_cache *rc, const char *d)
{
	rc->digests = xrealloc(rc->digests,
			       (rc->ndigests + 1) * sizeof(char *));
	rc->digests[rc->ndigests++] = xstrdup(d);
}

static int
end_tx(struct store_tx *tx, void *arg)
{
	struct run_cache *rc = arg;
	uint64_t *ids = NULL, now = pw_now_ms(), n;
	size_t nids = 0, i;
	int r;

	if (rc->run != 0) {
		r = store_tx_run_set_status(tx, rc->run, rc->final, 0, now);
		if (r < 0)
			return r;
		/* Every finished run of the checkout: this one, and any an
		 * interrupted run left. */
		r = store_tx_prune_finished(tx, rc->project, &ids, &nids);
		free(ids);
		if (r < 0)
			return r;
	}
	for (i = 0; i < rc->nevict; i++) {
		r = store_tx_cache_delete(tx, rc->evict[i].project,
					  rc->evict[i].key,
					  rc->evict[i].scope, &n);
		if (r < 0)
			return r;
	}
	return 0;
}

static void
end_done(int r, void *arg)
{
	struct run_cache *rc = arg;

	rc->rc = r;
	rc->done = true;
}

static void
closed(void *arg)
{
	*(bool *)arg = true;
}

int
run_cache_close(struct run_cache *rc, bool success, char **err)
{
	struct store_artifact *arts = NULL;
	size_t narts = 0, i;
	uint64_t now = pw_now_ms();
	bool referenced, is_closed = false;
	int r = 0;

	*err = NULL;
	if (rc == NULL)
		return 0;
	rc->final = success ? "success" : "failed";
	if (rc->run != 0 &&
	    store_artifacts_list(rc->store, rc->run, &arts, &narts) == 0) {
		for (i = 0; i < narts; i++)
			digest_add(rc, arts[i].digest);
		store_artifacts_free(arts, narts);
	}
	if (store_caches_to_evict(rc->store, LOCAL_CACHE_MAX_SIZE,
				  now - LOCAL_CACHE_MAX_AGE_MS,
				  LOCAL_EVICT_BATCH, &rc->evict,
				  &rc->nevict) == 0)
		for (i = 0; i < rc->nevict; i++)
			digest_add(rc, rc->evict[i].digest);
	store_write(rc->store, end_tx, end_done, rc);
	while (!rc->done)
		uv_run(rc->loop, UV_RUN_ONCE);
	if (rc->rc < 0) {
		*err = xasprintf("cannot drop the run's artifacts from %s:"
				 " %s", "the cache", store_strerror(rc->rc));
		r = rc->rc;
	} else {
		/*
		 * The loop is only ours now, and a blob is one unlink:
		 * those no row names any more go (a reader elsewhere holds
		 * its lock, and blob_remove leaves it).
		 */
		for (i = 0; i < rc->ndigests; i++)
			if (store_digest_referenced(rc->store, rc->digests[i],
						    &referenced) == 0 &&
			    !referenced)
				(void)blob_remove(rc->bs, rc->digests[i]);
	}
	reuse_step_destroy(rc->step);
	blob_store_close(rc->bs);
	store_close(rc->store, closed, &is_closed);
	while (!is_closed)
		uv_run(rc->loop, UV_RUN_ONCE);
	reuse_scopes_free(&rc->scopes);
	for (i = 0; i < rc->ndigests; i++)
		free(rc->digests[i]);
	free(rc->digests);
	store_caches_free(rc->evict, rc->nevict);
	free(rc->project);
	free(rc);
	return r;
}
