/*
 * The step around a job's script: restoring its needed artifacts and its
 * caches before, saving its artifacts and caches after.  Each call is a
 * short chain of phases that alternate between the loop and a worker
 * thread:
 *
 *   restore: loop (artifact rows, expand) → worker (hash key files) →
 *            loop (keys, lookups) → worker (unpack) → store write (touch
 *            hits, drop corrupt entries) → callback
 *   save:    loop (expand) → worker (hash key files) → loop (keys, exists,
 *            single-flight) → worker (pack) → store write (rows) → callback
 *
 * Store reads run on the loop as the store requires, writes through
 * store_write; blobs are only touched in workers.  Single-flight: the set
 * of (project, scope, key) being saved lives here, so a second job saving
 * a key another is packing skips at once; the store's first-save-wins
 * insert settles a race between processes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipewright/blob.h"
#include "pipewright/glob.h"
#include "pipewright/reuse.h"
#include "pipewright/store.h"
#include "pipewright/util.h"

struct flight {
	char *id;                    /* project '\\n' scope '\\n' key */
	struct flight *next;
};

struct reuse_step {
	uv_loop_t *loop;
	struct store *store;
	struct blob_store *bs;
	struct reuse_limits lim;
	struct reuse_stats stats;
	struct flight *flights;
	size_t busy;
};

struct citem {
	char *prefix, *literal;      /* expanded; NULL: none */
	char **files, **paths, **restore; /* expanded, NULL-terminated */
	bool has_files;
	bool push_only;              /* restore: expanded (a mistake fails
	                                the job before its script), not
	                                looked up */
	enum pipeline_cache_policy policy;
	char digest[BLOB_DIGEST_HEX + 1];   /* of files */
	struct blob_pack_result hres;
	int hrc;
	char *key;
	bool active;                 /* restore: looked up and hit; save:
	                                being packed */
	struct store_cache *hit;
	struct blob_unpack_result ur;
	struct blob_pack_result pr;
	int rc;
	uint64_t ms;
	bool won;
	char *flight;
	char *miss;                  /* restore: the miss line, in order */
};

struct aitem {
	char *name, *job;
	char *digest;
	struct blob_unpack_result ur;
	int rc;
};

struct task {
	struct reuse_step *st;
	uint64_t run;
	char *project, *root, *write_scope;
	char **read_scopes;
	uid_t uid;
	gid_t gid;
	bool keep_existing;
	struct citem *c;
	size_t nc;
	struct aitem *a;             /* restore: the sources' */
	size_t na;
	/* save: this job's artifacts */
	bool art;
	char **apaths, **aexclude;
	char *aname, *ajob;
	int ajob_idx;
	uint64_t expire_in_ms;
	struct blob_pack_result apr;
	int arc;
	bool adup;                   /* its name is another job's (-EEXIST) */
	uint64_t now;
	struct buf log;
	int rc;
	char *reason;
	uint64_t saved;
	uv_work_t w;
	reuse_step_cb cb;
	void *arg;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
reuse_step_create(uv_loop_t *loop, struct store *s, struct blob_store *bs,
		  const struct reuse_limits *lim, struct reuse_step **out)
{
	struct reuse_step *st = xcalloc(1, sizeof(*st));

	st->loop = loop;
	st->store = s;
	st->bs = bs;
	st->lim = *lim;
	*out = st;
}

void
reuse_step_set_limits(struct reuse_step *st, const struct reuse_limits *lim)
{
	st->lim = *lim;
}

void
reuse_step_stats(const struct reuse_step *st, struct reuse_stats *out)
{
	*out = st->stats;
}

size_t
reuse_step_busy(const struct reuse_step *st)
{
	return st->busy;
}

void
reuse_step_destroy(struct reuse_step *st)
{
	struct flight *f, *n;

	if (st == NULL)
		return;
	for (f = st->flights; f != NULL; f = n) {
		n = f->next;
		free(f->id);
		free(f);
	}
	free(st);
}

/* ---- the task ---- */

static void
strv_add(char ***v, size_t *n, char *s)
{
	*v = xrealloc(*v, (*n + 2) * sizeof(char *));
	(*v)[(*n)++] = s;
	(*v)[*n] = NULL;
}

static void
task_free(struct task *t)
{
	size_t i;

	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		free(c->prefix);
		free(c->literal);
		pw_strv_free(c->files);
		pw_strv_free(c->paths);
		pw_strv_free(c->restore);
		blob_pack_result_free(&c->hres);
		blob_pack_result_free(&c->pr);
		free(c->key);
		if (c->hit != NULL)
			store_caches_free(c->hit, 1);
		free(c->flight);
		free(c->miss);
	}
	free(t->c);
	for (i = 0; i < t->na; i++) {
		free(t->a[i].name);
		free(t->a[i].job);
		free(t->a[i].digest);
	}
	free(t->a);
	pw_strv_free(t->apaths);
	pw_strv_free(t->aexclude);
	free(t->aname);
	free(t->ajob);
	blob_pack_result_free(&t->apr);
	free(t->project);
	free(t->root);
	free(t->write_scope);
	pw_strv_free(t->read_scopes);
	buf_free(&t->log);
	free(t->reason);
	free(t);
}

static void
task_end(struct task *t)
{
	struct reuse_result res = {
		.rc = t->rc,
		.reason = t->reason,
		.log = t->log.data != NULL ? t->log.data : "",
		.len = t->log.len,
		.saved_bytes = t->saved,
	};

	t->st->busy--;
	t->cb(&res, t->arg);
	task_free(t);
}

static void
task_fail(struct task *t, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
task_fail(struct task *t, int rc, const char *fmt, ...)
{
	va_list ap;
	char *why;

	va_start(ap, fmt);
	if (vasprintf(&why, fmt, ap) < 0)
		abort();
	va_end(ap);
	if (t->rc == 0) {
		t->rc = rc < 0 ? rc : -EINVAL;
		t->reason = xstrdup(why);
	}
	buf_addf(&t->log, "%s\n", why);
	free(why);
}

static struct task *
task_new(struct reuse_step *st, const struct reuse_job *job,
	 reuse_step_cb cb, void *arg)
{
	struct task *t = xcalloc(1, sizeof(*t));
	size_t i, n = 0;

	t->st = st;
	t->run = job->run;
	t->project = xstrdup(job->project);
	t->root = xstrdup(job->root);
	t->uid = job->uid;
	t->gid = job->gid;
	t->keep_existing = job->keep_existing;
	if (job->scopes->write != NULL)
		t->write_scope = xstrdup(job->scopes->write);
	t->read_scopes = xcalloc(1, sizeof(char *));
	for (i = 0; i < job->scopes->nread; i++)
		strv_add(&t->read_scopes, &n, xstrdup(job->scopes->read[i]));
	buf_init(&t->log, 0);
	t->now = pw_now_ms();
	t->cb = cb;
	t->arg = arg;
	st->busy++;
	return t;
}

/* Expands one value of the pipeline for the job's log. */
static char *
expand(struct task *t, const char *what, const char *in,
       const char *const *env)
{
	char err[256];
	char *out;

	if (pw_expand(in, env, &out, err, sizeof(err)) < 0) {
		task_fail(t, -EINVAL, "%s '%s': %s", what, in, err);
		return NULL;
	}
	return out;
}

/* paths: each expanded value must still stay inside the workspace. */
static char **
expand_list(struct task *t, const char *what, const char *const *in,
	    const char *const *env, bool paths)
{
	char **v = xcalloc(1, sizeof(char *));
	const char *why;
	size_t n = 0;
	char *s;

	for (; in != NULL && *in != NULL; in++) {
		if ((s = expand(t, what, *in, env)) == NULL)
			break;
		if (paths && (why = glob_path_check(s)) != NULL) {
			task_fail(t, -EINVAL, "%s '%s' (from '%s') must stay"
				  " inside the workspace: %s", what, s, *in,
				  why);
			free(s);
			break;
		}
		strv_add(&v, &n, s);
	}
	return v;
}

/* The job's caches that the phase (restore: pull; save: push) uses. */
static void
caches_of(struct task *t, const struct reuse_job *job, bool saving)
{
	size_t n = pipeline_job_cache_count(job->p, job->job), i;

	t->c = xcalloc(n + 1, sizeof(*t->c));
	for (i = 0; i < n && t->rc == 0; i++) {
		const struct pipeline_cache *pc =
			pipeline_job_cache(job->p, job->job, i);
		struct citem *c;

		if (saving && pc->policy == PIPELINE_CACHE_PULL)
			continue;
		c = &t->c[t->nc++];
		c->policy = pc->policy;
		c->push_only = !saving && pc->policy == PIPELINE_CACHE_PUSH;
		c->hrc = 0;
		if (pc->prefix != NULL)
			c->prefix = expand(t, "cache key prefix", pc->prefix,
					   job->env);
		if (pc->literal != NULL)
			c->literal = expand(t, "cache key", pc->literal,
					    job->env);
		c->has_files = pc->files != NULL && pc->files[0] != NULL &&
			       !c->push_only;
		c->files = expand_list(t, "cache key file", pc->files,
				       job->env, true);
		c->paths = expand_list(t, "cache path", pc->paths, job->env,
				       true);
		c->restore = expand_list(t, "restore_keys prefix",
					 pc->restore_keys, job->env, false);
	}
}

static void
warn_lines(struct task *t, const struct blob_pack_result *r, const char *what)
{
	size_t i;

	for (i = 0; i < r->nwarnings; i++)
		buf_addf(&t->log, "warning: %s: %s\n", what, r->warnings[i]);
}

static void
queue(struct task *t, uv_work_cb work, uv_after_work_cb after)
{
	int rc = uv_queue_work(t->st->loop, &t->w, work, after);

	if (rc < 0) {
		task_fail(t, rc, "caches and artifacts: no worker thread: %s",
			  uv_strerror(rc));
		task_end(t);
	}
}

/* Worker: the digests of the caches' `files`. */
static void
hash_work(uv_work_t *w)
{
	struct task *t = container_of(w, struct task, w);
	size_t i;

	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (c->has_files)
			c->hrc = blob_hash_files(t->root,
						 (const char *const *)c->files,
						 t->uid, c->digest, &c->hres);
	}
}

/* Loop: each cache's key from its parts; false if one is bad (failed). */
static bool
make_keys(struct task *t)
{
	char err[256];
	size_t i, j;

	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (c->push_only)
			continue;
		warn_lines(t, &c->hres, "cache key files");
		if (c->hrc < 0) {
			task_fail(t, c->hrc, "cache key files: %s",
				  c->hres.err);
			return false;
		}
		if (reuse_cache_key(c->prefix, c->has_files ? c->digest : NULL,
				    c->literal, &c->key, err,
				    sizeof(err)) < 0) {
			task_fail(t, -EINVAL, "%s", err);
			return false;
		}
		for (j = 0; c->restore[j] != NULL; j++)
			if (reuse_key_check("restore_keys prefix",
					    c->restore[j], err,
					    sizeof(err)) < 0) {
				task_fail(t, -EINVAL, "%s", err);
				return false;
			}
	}
	return true;
}

static void
line_size_time(struct task *t, uint64_t bytes, uint64_t ms, const char *verb)
{
	char sz[32], du[32];

	pw_size_format(bytes, sz, sizeof(sz));
	pw_duration_format(ms, du, sizeof(du));
	buf_addf(&t->log, " %s %s in %s\n", sz, verb, du);
}

/* ---- restore ---- */

static int
restore_tx(struct store_tx *tx, void *arg)
{
	struct task *t = arg;
	size_t i;
	uint64_t n;
	int rc;

	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (!c->active)
			continue;
		if (c->rc == 0) {
			rc = store_tx_cache_touch(tx, t->project, c->hit->scope,
						  c->hit->key, t->now);
		} else if (c->rc == -EBADMSG || c->rc == -ENOENT) {
			rc = store_tx_cache_delete(tx, t->project, c->hit->key,
						   c->hit->scope, &n);
		} else {
			rc = 0;
		}
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	return 0;
}

static void
restore_tx_done(int rc, void *arg)
{
	struct task *t = arg;

	/* A lost touch only makes the entry older; a failed drop leaves a
	 * row whose blob the next restore finds missing again. */
	(void)rc;
	task_end(t);
}

static void
unpack_work(uv_work_t *w)
{
	struct task *t = container_of(w, struct task, w);
	struct blob_unpack_spec spec = {
		.root = t->root, .uid = t->uid, .gid = t->gid,
		.keep_existing = t->keep_existing,
	};
	uint64_t t0;
	size_t i;

	/*
	 * Caches first, then artifacts: a cache is whatever an older run
	 * left (a `target/` with last week's binary in it), the artifacts
	 * are what this run's jobs made, so where both have a file the
	 * artifact's must be the one the job finds.
	 */
	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (!c->active)
			continue;
		t0 = mono_ms();
		c->rc = blob_unpack(t->st->bs, c->hit->digest, &spec, &c->ur);
		c->ms = mono_ms() - t0;
	}
	for (i = 0; i < t->na; i++) {
		t->a[i].rc = blob_unpack(t->st->bs, t->a[i].digest, &spec,
					 &t->a[i].ur);
		if (t->a[i].rc < 0)
			return;     /* the job fails */
	}
}

static void
unpack_done(uv_work_t *w, int status)
{
	struct task *t = container_of(w, struct task, w);
	struct reuse_stats *s = &t->st->stats;
	char sz[32];
	size_t i;

	(void)status;
	for (i = 0; i < t->na && t->rc == 0; i++) {
		struct aitem *a = &t->a[i];

		if (a->rc < 0) {
			task_fail(t, a->rc, "artifacts of %s: cannot restore"
				  " '%s': %s", a->job, a->name,
				  a->ur.err[0] != '\0' ? a->ur.err :
				  a->rc == -ENOENT ? "its blob is missing" :
				  a->rc == -EBADMSG ? "its blob is corrupt" :
				  strerror(-a->rc));
			break;
		}
		s->bytes_restored += a->ur.content_bytes;
		pw_size_format(a->ur.content_bytes, sz, sizeof(sz));
		buf_addf(&t->log, "artifacts of %s restored: %llu files, %s",
			 a->job, (unsigned long long)a->ur.files, sz);
		if (a->ur.kept_existing > 0)
			buf_addf(&t->log, " (%llu already there, kept)",
				 (unsigned long long)a->ur.kept_existing);
		buf_adds(&t->log, "\n");
	}
	for (i = 0; i < t->nc && t->rc == 0; i++) {
		struct citem *c = &t->c[i];

		if (c->miss != NULL)
			buf_adds(&t->log, c->miss);
		if (!c->active)
			continue;
		if (c->rc == -EBADMSG || c->rc == -ENOENT) {
			s->cache_misses++;
			buf_addf(&t->log, "cache miss: %s (the entry %s in %s"
				 " was %s: dropped)\n", c->key, c->hit->key,
				 c->hit->scope, c->rc == -ENOENT ? "missing" :
				 "corrupt");
			continue;
		}
		if (c->rc < 0) {
			task_fail(t, c->rc, "cache %s (%s): cannot restore: %s",
				  c->hit->key, c->hit->scope,
				  c->ur.err[0] != '\0' ? c->ur.err :
				  strerror(-c->rc));
			break;
		}
		s->cache_hits++;
		s->bytes_restored += c->ur.content_bytes;
		buf_addf(&t->log, "cache hit: %s (%s", c->hit->key,
			 c->hit->scope);
		if (strcmp(c->hit->key, c->key) != 0)
			buf_addf(&t->log, ", by restore_keys for %s", c->key);
		buf_adds(&t->log, ")");
		line_size_time(t, c->ur.content_bytes, c->ms, "restored");
	}
	for (i = 0; i < t->nc && !t->c[i].active; i++)
		;
	if (i == t->nc) {
		task_end(t);
		return;
	}
	store_write(t->st->store, restore_tx, restore_tx_done, t);
}

static void
restore_hashed(uv_work_t *w, int status)
{
	struct task *t = container_of(w, struct task, w);
	struct store_cache *hit;
	bool any = t->na > 0;
	size_t i;
	int rc;

	(void)status;
	if (!make_keys(t)) {
		task_end(t);
		return;
	}
	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (c->push_only)
			continue;
		rc = store_cache_lookup(t->st->store, t->project,
					(const char *const *)t->read_scopes,
					c->key,
					(const char *const *)c->restore, &hit);
		if (rc == -ENOENT) {
			t->st->stats.cache_misses++;
			c->miss = xasprintf("cache miss: %s\n", c->key);
			continue;
		}
		if (rc < 0) {
			c->miss = xasprintf("cache miss: %s (cannot look it"
					    " up: %s)\n", c->key,
					    store_strerror(rc));
			continue;
		}
		c->hit = hit;
		c->active = true;
		any = true;
	}
	/* Nothing to unpack: unpack_done only writes the lines. */
	if (!any) {
		unpack_done(&t->w, 0);
		return;
	}
	queue(t, unpack_work, unpack_done);
}

/* Loop: the rows of the artifacts the job gets; false if one expired. */
static bool
artifacts_to_restore(struct task *t, const struct reuse_job *job)
{
	const size_t *src;
	size_t n = pipeline_job_artifact_sources(job->p, job->job, &src), i;
	struct store_artifact *row;
	char *msg;
	int rc;

	t->a = xcalloc(n + 1, sizeof(*t->a));
	for (i = 0; i < n; i++) {
		const struct pipeline_artifacts *pa =
			pipeline_job_artifacts(job->p, src[i]);
		const char *jname = pipeline_job_name(job->p, src[i]);

		rc = store_artifact_get(t->st->store, t->run, pa->name, &row);
		if (rc == -ENOENT) {
			buf_addf(&t->log, "artifacts of %s: none (it saved"
				 " none: its `when: %s` did not match, or it"
				 " did not run)\n", jname,
				 pipeline_when_name(pa->when));
			continue;
		}
		if (rc < 0) {
			task_fail(t, rc, "artifacts of %s: cannot look them"
				  " up: %s", jname, store_strerror(rc));
			return false;
		}
		if (row->removed_ms != 0 ||
		    (!t->st->lim.keep_latest && row->expires_ms != 0 &&
		     row->expires_ms <= t->now)) {
			msg = reuse_artifact_expired(row->name, row->job_name,
						     t->run, row->created_ms,
						     row->expires_ms != 0 ?
						     row->expires_ms :
						     row->removed_ms);
			task_fail(t, -ENOENT, "%s", msg);
			free(msg);
			store_artifacts_free(row, 1);
			return false;
		}
		t->a[t->na].name = xstrdup(row->name);
		t->a[t->na].job = xstrdup(row->job_name);
		t->a[t->na].digest = xstrdup(row->digest);
		t->na++;
		store_artifacts_free(row, 1);
	}
	return true;
}

void
reuse_step_restore(struct reuse_step *st, const struct reuse_job *job,
		   reuse_step_cb cb, void *arg)
{
	struct task *t = task_new(st, job, cb, arg);

	if (!job->caches_only && !artifacts_to_restore(t, job)) {
		task_end(t);
		return;
	}
	if (!job->no_caches)
		caches_of(t, job, false);
	if (t->rc < 0 || (t->nc == 0 && t->na == 0)) {
		task_end(t);
		return;
	}
	if (t->nc == 0) {
		queue(t, unpack_work, unpack_done);
		return;
	}
	queue(t, hash_work, restore_hashed);
}

/* ---- save ---- */

static char *
flight_id(const struct task *t, const char *key)
{
	return xasprintf("%s\n%s\n%s", t->project, t->write_scope, key);
}

static bool
flight_take(struct reuse_step *st, char *id)
{
	struct flight *f;

	for (f = st->flights; f != NULL; f = f->next)
		if (strcmp(f->id, id) == 0)
			return false;
	f = xcalloc(1, sizeof(*f));
	f->id = xstrdup(id);
	f->next = st->flights;
	st->flights = f;
	return true;
}

static void
flight_drop(struct reuse_step *st, const char *id)
{
	struct flight **pp, *f;

	for (pp = &st->flights; (f = *pp) != NULL; pp = &f->next)
		if (strcmp(f->id, id) == 0) {
			*pp = f->next;
			free(f->id);
			free(f);
			return;
		}
}

static int
save_tx(struct store_tx *tx, void *arg)
{
	struct task *t = arg;
	size_t i;
	int rc;

	if (t->art && t->arc == 0) {
		struct store_artifact_new a = {
			.run = t->run, .job_idx = t->ajob_idx,
			.job_name = t->ajob, .name = t->aname,
			.digest = t->apr.digest, .size = t->apr.archive_bytes,
			.files = t->apr.files, .created_ms = t->now,
			.expires_ms = reuse_artifact_expiry(
				t->now, t->expire_in_ms,
				t->st->lim.artifact_expire_ms),
		};

		rc = store_tx_artifact_insert(tx, &a);
		if (rc == -EEXIST)
			t->adup = true;
		else if (rc < 0)
			return rc;
	}
	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];
		struct store_cache_new cn = {
			.project = t->project, .scope = t->write_scope,
			.key = c->key, .digest = c->pr.digest,
			.size = c->pr.archive_bytes, .created_ms = t->now,
		};

		if (!c->active || c->rc < 0)
			continue;
		rc = store_tx_cache_insert(tx, &cn, &c->won);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
save_tx_done(int rc, void *arg)
{
	struct task *t = arg;
	struct reuse_stats *s = &t->st->stats;
	char sz[32];
	size_t i;

	if (rc < 0) {
		if (t->art && t->arc == 0)
			task_fail(t, rc, "artifacts: cannot record them: %s",
				  store_strerror(rc));
		for (i = 0; i < t->nc; i++)
			if (t->c[i].active && t->c[i].rc == 0)
				buf_addf(&t->log, "cache not saved: %s: cannot"
					 " record it: %s\n", t->c[i].key,
					 store_strerror(rc));
	} else {
		if (t->art && t->arc == 0 && t->adup) {
			task_fail(t, -EEXIST, "artifacts: the name '%s' is"
				  " another job's in this run", t->aname);
		} else if (t->art && t->arc == 0) {
			s->bytes_saved += t->apr.archive_bytes;
			pw_size_format(t->apr.content_bytes, sz, sizeof(sz));
			buf_addf(&t->log, "artifacts saved: %s, %llu files,"
				 " %s\n", t->aname,
				 (unsigned long long)t->apr.files, sz);
		}
		for (i = 0; i < t->nc; i++) {
			struct citem *c = &t->c[i];

			if (!c->active || c->rc < 0)
				continue;
			if (!c->won) {
				buf_addf(&t->log, "cache not saved: %s:"
					 " skipped, another job saved it"
					 " first\n", c->key);
				continue;
			}
			s->bytes_saved += c->pr.archive_bytes;
			t->saved += c->pr.archive_bytes;
			buf_addf(&t->log, "cache saved: %s (%s)", c->key,
				 t->write_scope);
			line_size_time(t, c->pr.content_bytes, c->ms, "saved");
		}
	}
	for (i = 0; i < t->nc; i++)
		if (t->c[i].flight != NULL)
			flight_drop(t->st, t->c[i].flight);
	task_end(t);
}

static void
pack_work(uv_work_t *w)
{
	struct task *t = container_of(w, struct task, w);
	struct blob_pack_spec spec = {.root = t->root, .uid = t->uid};
	uint64_t t0;
	size_t i;

	if (t->art) {
		spec.paths = (const char *const *)t->apaths;
		spec.exclude = (const char *const *)t->aexclude;
		spec.max_bytes = t->st->lim.artifact_max_size;
		t->arc = blob_pack(t->st->bs, &spec, &t->apr);
	}
	spec.exclude = NULL;
	spec.max_bytes = t->st->lim.cache_max_size;
	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (!c->active)
			continue;
		spec.paths = (const char *const *)c->paths;
		t0 = mono_ms();
		c->rc = blob_pack(t->st->bs, &spec, &c->pr);
		c->ms = mono_ms() - t0;
	}
}

static void
pack_done(uv_work_t *w, int status)
{
	struct task *t = container_of(w, struct task, w);
	char sz[32];
	size_t i;

	(void)status;
	if (t->art) {
		warn_lines(t, &t->apr, "artifacts");
		if (t->arc == -EFBIG) {
			pw_size_format(t->st->lim.artifact_max_size, sz,
				       sizeof(sz));
			task_fail(t, t->arc, "artifacts: above max_size %s"
				  " (%s); not saved", sz, t->apr.err);
		} else if (t->arc < 0) {
			task_fail(t, t->arc, "artifacts: cannot save them: %s",
				  t->apr.err[0] != '\0' ? t->apr.err :
				  strerror(-t->arc));
		}
	}
	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (!c->active)
			continue;
		warn_lines(t, &c->pr, "cache");
		if (c->rc < 0)
			buf_addf(&t->log, "cache not saved: %s: %s\n", c->key,
				 c->rc == -ENOSPC ? "no space left on device" :
				 c->pr.err[0] != '\0' ? c->pr.err :
				 strerror(-c->rc));
	}
	store_write(t->st->store, save_tx, save_tx_done, t);
}

static void
save_hashed(uv_work_t *w, int status)
{
	struct task *t = container_of(w, struct task, w);
	const char *one[2] = {NULL, NULL};
	struct store_cache *hit;
	bool any = t->art;
	size_t i;
	int rc;

	(void)status;
	if (!make_keys(t)) {
		task_end(t);
		return;
	}
	for (i = 0; i < t->nc; i++) {
		struct citem *c = &t->c[i];

		if (t->write_scope == NULL) {
			buf_addf(&t->log, "cache not saved: %s: this run saves"
				 " no caches (neither a branch, a tag nor a"
				 " request of this repository)\n", c->key);
			continue;
		}
		/* The exact key where this job looked: a hit is not saved
		 * again, and keys are never rewritten. */
		rc = store_cache_lookup(t->st->store, t->project,
					(const char *const *)t->read_scopes,
					c->key, one, &hit);
		if (rc == -ENOENT) {
			one[0] = t->write_scope;
			rc = store_cache_lookup(t->st->store, t->project, one,
						c->key, NULL, &hit);
			one[0] = NULL;
		}
		if (rc == 0 && strcmp(hit->key, c->key) == 0) {
			buf_addf(&t->log, "cache not saved: %s: skipped, the"
				 " key exists (%s)\n", c->key, hit->scope);
			store_caches_free(hit, 1);
			continue;
		}
		if (rc == 0)
			store_caches_free(hit, 1);
		c->flight = flight_id(t, c->key);
		if (!flight_take(t->st, c->flight)) {
			free(c->flight);
			c->flight = NULL;
			buf_addf(&t->log, "cache not saved: %s: skipped,"
				 " another job is saving it\n", c->key);
			continue;
		}
		c->active = true;
		any = true;
	}
	if (!any) {
		task_end(t);
		return;
	}
	queue(t, pack_work, pack_done);
}

void
reuse_step_save(struct reuse_step *st, const struct reuse_job *job,
		enum sched_job_state state, reuse_step_cb cb, void *arg)
{
	const struct pipeline_artifacts *pa =
		pipeline_job_artifacts(job->p, job->job);
	struct task *t = task_new(st, job, cb, arg);

	if (pa != NULL && !job->caches_only &&
	    reuse_artifacts_wanted(pa->when, state)) {
		t->art = true;
		t->apaths = expand_list(t, "artifacts path", pa->paths,
					job->env, true);
		t->aexclude = expand_list(t, "artifacts exclude", pa->exclude,
					  job->env, false);
		t->aname = xstrdup(pa->name);
		t->ajob = xstrdup(pipeline_job_name(job->p, job->job));
		t->ajob_idx = (int)job->job;
		t->expire_in_ms = pa->expire_in_ms;
	}
	/* A failed job's caches are not saved: its tree may be half made. */
	if (t->rc == 0 && state == SCHED_JOB_SUCCESS && !job->no_caches)
		caches_of(t, job, true);
	if (t->rc < 0 || (t->nc == 0 && !t->art)) {
		t->art = false;
		task_end(t);
		return;
	}
	if (t->nc == 0) {
		queue(t, pack_work, pack_done);
		return;
	}
	queue(t, hash_work, save_hashed);
}
