/*
 * Triggering a run: the project's server-side pipeline is read and parsed
 * now, and the run (queued, or error with its problems), its jobs and the
 * audit event are committed in one transaction — an Idempotency-Key, a
 * delivery id or a webhook push (project, ref, before, after) that was
 * seen before returns the run it made — before the run starts and the
 * caller hears of it.  cancel_superseded cancels older runs of the
 * branch: at once for a project without a repository, after the checkout
 * for one with (checkout.c), and only by a run whose push is not stale,
 * so that a replayed old push cannot cancel the branch's current run.
 *
 * A run of a project with a repository fetches a full ref: a bare "main"
 * is refs/heads/main, a missing commit is the ref's head as git tells it
 * now, and a missing ref the default branch (the project's
 * default_branch, else the remote's HEAD: trigger_resolve) — all
 * before anything is recorded, so an unknown ref makes no run.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/auth.h"
#include "pipewright/scm.h"

struct trigger_op {
	struct daemon *d;
	char *project;
	struct pipeline *p;      /* NULL if the pipeline has problems */
	struct store_run_new row;
	struct store_run stored; /* what build() reads: branch, tag, commit, env */
	char *yaml, *problems, *env, *ref, *branch, *tag, *commit, *actor, *key;
	size_t yaml_len;
	char *forge, *delivery;
	char *trigger, *before;
	bool push;               /* deduped as a push (store_tx_push_*) */
	char key_hash[AUTH_HASH_HEX]; /* what the key stands for; "" if none */
	bool key_reused;         /* the key made a run of another body */
	char *sched_spec, *sched_ref; /* a schedule's fire, recorded with the run */
	uint64_t sched_fire;
	bool repo;               /* the project has a repository: check out first */
	const char *pipeline_file; /* the config's string, read before any
				      wait (a repository project has none) */
	int64_t pr;
	bool fork;
	uint64_t id;
	bool existed;
	struct traces_op *tr;    /* a run with problems ends at once: its span */
	daemon_done_cb cb;
	void *arg;
};

static int
tx_trigger(struct store_tx *tx, void *arg)
{
	struct trigger_op *t = arg;
	const struct pipeline *p = t->p;
	size_t j, n = p != NULL ? pipeline_job_count(p) : 0;
	char *response = NULL, *first;
	struct store_push push = {t->project, t->ref, t->before, t->commit};
	int rc, status;

	if (t->key != NULL &&
	    store_tx_run_by_key(tx, t->project, t->key, &t->id, &first) == 0) {
		/* Runs from before the hash was kept have none to compare. */
		t->key_reused = first != NULL && strcmp(first, t->key_hash) != 0;
		t->existed = true;
		free(first);
		return 0;
	}
	if (t->delivery != NULL &&
	    store_tx_delivery_find(tx, t->forge, t->delivery, &status,
				   &response) == 0) {
		/* The first answer named the run: {"run":N}. */
		t->existed = true;
		first = response != NULL ? strstr(response, "\"run\":") : NULL;
		t->id = first != NULL ? strtoull(first + 6, NULL, 10) : 0;
		free(response);
		return t->id != 0 ? 0 : -ENOENT;
	}
	if (t->push) {
		rc = store_tx_push_find(tx, &push, &t->id);
		if (rc == 0) {
			t->existed = true;
			return 0;
		}
		if (rc != -ENOENT)
			return rc;
	}
	rc = store_tx_run_insert(tx, &t->row, &t->id);
	if (rc == 0 && t->push)
		rc = store_tx_push_put(tx, &push, t->id, t->row.created_at);
	if (rc == 0 && t->delivery != NULL) {
		struct store_delivery_new dn = {
			.forge = t->forge,
			.id = t->delivery,
			.project = t->project,
			.run = t->id,
			.status = 202,
			.created_at = t->row.created_at,
		};

		dn.response = response = xasprintf("{\"run\":%llu}",
						   (unsigned long long)t->id);
		rc = store_tx_delivery_put(tx, &dn);
		free(response);
	}
	/* A pipeline with problems makes a run that has finished already. */
	if (rc == 0 && p == NULL && !t->repo)
		rc = store_tx_run_set_status(tx, t->id, "error", 0,
					     t->row.created_at);
	if (rc == 0 && p == NULL && !t->repo)
		rc = traces_put_run(tx, t->tr, t->id, t->row.created_at);
	for (j = 0; rc == 0 && j < n; j++)
		rc = store_tx_job_insert(tx, t->id, (int)j,
					 pipeline_job_name(p, j),
					 pipeline_stage(p, pipeline_job_stage(p, j)),
					 "pending");
	if (rc == 0)
		rc = store_tx_event(tx, t->id, t->row.created_at, t->actor,
				    "trigger", t->ref);
	if (rc == 0 && t->sched_spec != NULL)
		rc = store_tx_schedule_fired(tx, t->project, t->sched_spec,
					     t->sched_ref, t->sched_fire);
	return rc;
}

static void
trigger_free(struct trigger_op *t)
{
	pipeline_destroy(t->p);
	free(t->yaml);
	free(t->problems);
	free(t->env);
	free(t->ref);
	free(t->branch);
	free(t->tag);
	free(t->commit);
	free(t->actor);
	free(t->key);
	free(t->forge);
	free(t->delivery);
	free(t->trigger);
	free(t->before);
	free(t->sched_spec);
	free(t->sched_ref);
	free(t->project);
	traces_op_free(t->tr);
	free(t);
}

/* The superseded run's audit trail says which run took its place. */
struct superseded {
	uint64_t run, by;
};

static int
tx_superseded(struct store_tx *tx, void *arg)
{
	struct superseded *s = arg;
	char detail[48];

	snprintf(detail, sizeof(detail), "superseded by run %llu",
		 (unsigned long long)s->by);
	return store_tx_event(tx, s->run, pw_now_ms(), "pipewright", "cancel",
			      detail);
}

/* cancel_superseded: older runs of the branch give way to the new one. */
void
trigger_supersede(struct daemon *d, const struct config_project *proj,
		  const char *branch, uint64_t newer)
{
	struct live_run *lr;
	struct superseded *s;

	/* While handing over, the runs are not ours to cancel. */
	if (!config_project_cancel_superseded(proj) || branch == NULL ||
	    d->detached)
		return;
	for (lr = d->runs; lr != NULL; lr = lr->next) {
		if (lr->id >= newer ||
		    strcmp(lr->project, config_project_name(proj)) != 0 ||
		    lr->branch == NULL || strcmp(lr->branch, branch) != 0 ||
		    sched_run_finished(lr->run))
			continue;
		if (sched_run_cancel(lr->run) < 0)
			continue;
		log_info("run.superseded run=%llu by=%llu",
			 (unsigned long long)lr->id, (unsigned long long)newer);
		s = xmalloc(sizeof(*s));
		s->run = lr->id;
		s->by = newer;
		daemon_write(d, tx_superseded, s, free);
	}
}

static void
trigger_done(int rc, void *arg)
{
	struct trigger_op *t = arg;
	struct daemon *d = t->d;
	const struct config_project *proj;
	struct live_run *lr;
	char *msg = NULL;

	daemon_note_store(d, rc);
	if (rc == 0 && t->tr != NULL && !t->existed && d->notify != NULL)
		notify_kick(d->notify);
	if (rc < 0) {
		msg = xasprintf("cannot record the run: %s", store_strerror(rc));
		t->cb(rc, 0, msg, t->arg);
		free(msg);
		trigger_free(t);
		return;
	}
	if (t->key_reused) {
		msg = xasprintf("the Idempotency-Key '%s' made run %llu from "
				"another ref, commit or env; use a new key",
				t->key, (unsigned long long)t->id);
		t->cb(-EBADMSG, 0, msg, t->arg);
		free(msg);
		trigger_free(t);
		return;
	}
	proj = config_project_find(d->config, t->project);
	if (!t->existed) {
		log_info("run.created run=%llu project=%s actor=%s",
			 (unsigned long long)t->id, t->project, t->actor);
		if (t->repo && proj != NULL) {
			/* Superseding waits for the checkout: is it stale? */
			checkout_new_run(d, proj, t->id, &t->stored, t->ref);
		} else if (t->p != NULL && proj == NULL) {
			/* A reload removed the project meanwhile. */
			log_warnx("run=%llu: project %s is gone; not started",
				  (unsigned long long)t->id, t->project);
		} else if (t->p != NULL) {
			trigger_supersede(d, proj, t->branch, t->id);
			if (runs_build(d, t->p, t->id, proj, &t->stored, false,
				  &lr) == 0)
				runs_launch(d, lr);
			t->p = NULL; /* the run owns it now */
		}
	}
	t->cb(0, t->id, t->existed ? "again" : NULL, t->arg);
	trigger_free(t);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * What an Idempotency-Key stands for: SHA-256 of the canonical ref
 * ("main" and "refs/heads/main" are one), the commit and the env sorted
 * by name, as a JSON array (no NUL can hide a difference).
 */
static void
key_hash(struct trigger_op *t, const char *const *env, char out[AUTH_HASH_HEX])
{
	cJSON *a = cJSON_CreateArray(), *e = cJSON_CreateArray();
	const char **v;
	char *ref, *s;
	size_t n = 0, i;

	ref = t->tag != NULL ? xasprintf("refs/tags/%s", t->tag) :
	      t->branch != NULL ? xasprintf("refs/heads/%s", t->branch) :
	      xstrdup(t->ref != NULL ? t->ref : "");
	while (env != NULL && env[n] != NULL)
		n++;
	v = xcalloc(n + 1, sizeof(*v));
	for (i = 0; i < n; i++)
		v[i] = env[i];
	qsort(v, n, sizeof(*v), cmp_str);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(e, cJSON_CreateString(v[i]));
	cJSON_AddItemToArray(a, cJSON_CreateString(ref));
	cJSON_AddItemToArray(a, cJSON_CreateString(t->commit != NULL ?
						   t->commit : ""));
	cJSON_AddItemToArray(a, e);
	s = cJSON_PrintUnformatted(a);
	if (s == NULL || auth_hash(s, out) < 0)
		abort(); /* out of memory, or libcrypto broken */
	cJSON_free(s);
	cJSON_Delete(a);
	free(v);
	free(ref);
}

/* The env of a trigger as a JSON object; -EINVAL for a bad entry. */
static int
env_to_json(const char *const *env, char **out, char **msg)
{
	cJSON *o = cJSON_CreateObject();
	size_t i;

	for (i = 0; env != NULL && env[i] != NULL; i++) {
		const char *eq = strchr(env[i], '=');
		char *k;

		if (eq == NULL || eq == env[i]) {
			*msg = xasprintf("env entry '%s' is not KEY=VALUE", env[i]);
			cJSON_Delete(o);
			return -EINVAL;
		}
		k = xstrndup(env[i], (size_t)(eq - env[i]));
		cJSON_AddStringToObject(o, k, eq + 1);
		free(k);
	}
	*out = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return 0;
}

/* 40 (SHA-1) or 64 (SHA-256) lower-case hex digits. */
static bool
valid_sha(const char *s)
{
	size_t n = s != NULL ? strspn(s, "0123456789abcdef") : 0;

	return s != NULL && s[n] == '\0' && (n == 40 || n == 64);
}

static void trigger_store(struct trigger_op *t);

/* The run cannot be made after all: the caller hears why. */
static void
trigger_fail(struct trigger_op *t, int rc, const char *msg)
{
	t->cb(rc, 0, msg, t->arg);
	trigger_free(t);
}

/* A commit from git: nothing but what scm_checkout() takes. */
static bool
resolved_ok(struct trigger_op *t, int rc, const char *sha)
{
	char *msg;

	if (rc == 0 && valid_sha(sha) && !t->d->draining)
		return true;
	msg = rc == 0 && t->d->draining ? xstrdup("the daemon is shutting down") :
	      rc == -ENOENT ? xasprintf("the repository has no %s",
					t->ref != NULL ? t->ref :
					"default branch (its HEAD names none)") :
	      xasprintf("cannot tell which commit %s names: git ls-remote %s",
			t->ref != NULL ? t->ref : "the default branch",
			rc == -ETIMEDOUT ? "timed out" : "failed");
	log_warnx("run.refused project=%s: %s", t->project, msg);
	trigger_fail(t, rc == 0 && t->d->draining ? -EAGAIN :
			rc == -ENOENT ? -EBADMSG : -EIO, msg);
	free(msg);
	return false;
}

static void
on_ref_resolved(int rc, const char *sha, void *arg)
{
	struct trigger_op *t = arg;

	if (!resolved_ok(t, rc, sha))
		return;
	t->commit = xstrdup(sha);
	trigger_store(t);
}

static void
on_head_resolved(int rc, const char *ref, const char *sha, void *arg)
{
	struct trigger_op *t = arg;

	if (!resolved_ok(t, rc, sha))
		return;
	t->ref = xstrdup(ref);
	t->branch = xstrdup(ref + strlen("refs/heads/"));
	/* A commit named without a ref is fetched from the default branch. */
	if (t->commit == NULL)
		t->commit = xstrdup(sha);
	trigger_store(t);
}

/* The project's default_branch, resolved: a commit given stays. */
static void
on_default_resolved(int rc, const char *sha, void *arg)
{
	struct trigger_op *t = arg;

	if (!resolved_ok(t, rc, sha))
		return;
	if (t->commit == NULL)
		t->commit = xstrdup(sha);
	trigger_store(t);
}

/*
 * What a repository project's run builds when the request leaves it open:
 * the head of its ref, and without a ref the default branch: the
 * project's `default_branch` if the configuration sets it, else the one
 * the remote's HEAD names.  The one place that decides the default
 * branch of a trigger.
 */
static void
trigger_resolve(struct trigger_op *t, const struct config_project *proj)
{
	scm_resolve_cb done = on_ref_resolved;
	char *msg;
	int rc;

	if (t->ref == NULL && config_project_default_branch_set(proj)) {
		free(t->branch);
		t->branch = xstrdup(config_project_default_branch(proj));
		t->ref = xasprintf("refs/heads/%s", t->branch);
		done = on_default_resolved;
	}
	if (t->ref != NULL)
		rc = scm_resolve(t->d->scm, config_project_repo(proj), t->ref,
				 config_project_clone_token(proj), 0, done, t);
	else
		rc = scm_resolve_head(t->d->scm, config_project_repo(proj),
				      config_project_clone_token(proj), 0,
				      on_head_resolved, t);
	if (rc == -EINVAL) {
		msg = xasprintf("ref '%s' is not one git can fetch", t->ref);
		trigger_fail(t, -EINVAL, msg);
		free(msg);
	} else if (rc < 0) {
		on_ref_resolved(rc, NULL, t);
	}
}

void
daemon_trigger(struct daemon *d, const struct daemon_trigger *tr,
	       daemon_done_cb cb, void *arg)
{
	const struct config_project *proj =
		config_project_find(d->config, tr->project);
	const char *pipeline_path;
	struct pipeline_problems pp;
	struct trigger_op *t;
	char *msg = NULL;
	size_t len;
	int rc;

	if (proj == NULL) {
		cb(-ENOENT, 0, "no such project", arg);
		return;
	}
	if (d->draining) {
		cb(-EAGAIN, 0, "the daemon is shutting down", arg);
		return;
	}
	pipeline_path = config_project_pipeline(proj);
	if (pipeline_path == NULL && tr->commit != NULL &&
	    !valid_sha(tr->commit)) {
		cb(-EINVAL, 0, "\"commit\" of a project with a repository is "
		   "the full sha to check out (leave it out for the head of "
		   "the ref)", arg);
		return;
	}
	t = xcalloc(1, sizeof(*t));
	t->repo = pipeline_path == NULL;
	t->pipeline_file = pipeline_path;
	t->pr = tr->pr;
	t->fork = tr->fork;
	if (tr->schedule_spec != NULL) {
		t->sched_spec = xstrdup(tr->schedule_spec);
		t->sched_ref = xstrdup(tr->schedule_ref);
		t->sched_fire = tr->schedule_fire;
	}
	t->forge = tr->forge != NULL ? xstrdup(tr->forge) : NULL;
	t->delivery = tr->delivery != NULL && tr->forge != NULL ?
			      xstrdup(tr->delivery) : NULL;
	/* A push names its commit on its ref: nothing else to key it by. */
	t->push = tr->push && tr->ref != NULL && tr->commit != NULL;
	t->before = tr->before != NULL ? xstrdup(tr->before) : NULL;
	t->trigger = xstrdup(tr->trigger != NULL ? tr->trigger : "api");
	t->d = d;
	t->project = xstrdup(config_project_name(proj));
	t->cb = cb;
	t->arg = arg;
	if (env_to_json(tr->env, &t->env, &msg) < 0) {
		cb(-EINVAL, 0, msg, arg);
		free(msg);
		trigger_free(t);
		return;
	}
	if (tr->ref != NULL) {
		/* A repository's ref is fetched: "main" is a branch. */
		t->ref = t->repo && strncmp(tr->ref, "refs/", 5) != 0 ?
				 xasprintf("refs/heads/%s", tr->ref) :
				 xstrdup(tr->ref);
		if (strncmp(tr->ref, "refs/tags/", 10) == 0)
			t->tag = xstrdup(tr->ref + 10);
		else if (strncmp(tr->ref, "refs/heads/", 11) == 0)
			t->branch = xstrdup(tr->ref + 11);
		else if (strncmp(tr->ref, "refs/", 5) != 0)
			t->branch = xstrdup(tr->ref);
	}
	if (tr->branch != NULL) {
		free(t->branch);
		t->branch = xstrdup(tr->branch);
	}
	t->commit = tr->commit != NULL ? xstrdup(tr->commit) : NULL;
	t->actor = xstrdup(tr->actor != NULL ? tr->actor : "anonymous");
	t->key = tr->idempotency_key != NULL ? xstrdup(tr->idempotency_key) : NULL;
	if (t->key != NULL)
		key_hash(t, tr->env, t->key_hash);

	pipeline_problems_init(&pp);
	len = 0;
	rc = t->repo ? 0 : pw_read_file(pipeline_path, PIPELINE_MAX_BYTES,
					&t->yaml, &len);
	if (t->repo)
		;	/* read from the commit, after the checkout */
	else if (rc < 0)
		pipeline_problems_add(&pp, pipeline_path, 1, 1,
				      "cannot read the pipeline: %s",
				      rc == -EFBIG ? "file too large" :
						     strerror(-rc));
	else if (pipeline_parse(pipeline_path, t->yaml, len, &t->p, &pp) < 0)
		t->p = NULL;
	else
		runs_check_ceilings(proj, &t->p, &pp);
	if (pp.count > 0)
		t->problems = runs_problems_json(&pp);
	pipeline_problems_free(&pp);
	t->yaml_len = len;
	if (t->repo && (t->commit == NULL || t->ref == NULL))
		trigger_resolve(t, proj);
	else
		trigger_store(t);
}

/* Records the run (tx_trigger), then trigger_done. */
static void
trigger_store(struct trigger_op *t)
{
	t->row = (struct store_run_new){
		.project = t->project,
		.status = t->p != NULL || t->repo ? "queued" : "error",
		.pr = t->pr,
		.fork = t->fork,
		.trigger = t->trigger,
		.ref = t->ref,
		.branch = t->branch,
		.tag = t->tag,
		.commit = t->commit,
		.problems = t->problems,
		.pipeline_file = t->pipeline_file,
		.pipeline = t->yaml,
		.pipeline_len = t->yaml != NULL ? t->yaml_len : 0,
		.env = t->env,
		.actor = t->actor,
		.idempotency_key = t->key,
		.idempotency_hash = t->key != NULL ? t->key_hash : NULL,
		.created_at = pw_now_ms(),
	};
	t->stored.branch = t->branch;
	t->stored.tag = t->tag;
	t->stored.commit = t->commit;
	t->stored.env = t->env;
	t->stored.ref = t->ref;
	t->stored.trigger = t->trigger;
	t->stored.pr = t->pr;
	t->stored.fork = t->fork;
	if (t->p == NULL && !t->repo)
		t->tr = traces_op_new(t->d, t->project);
	store_write(t->d->store, tx_trigger, trigger_done, t);
}
