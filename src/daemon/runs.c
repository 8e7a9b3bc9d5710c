/*
 * What people do to runs: trigger, cancel, rerun, approve; and, at start,
 * picking up the runs a previous daemon left unfinished.
 *
 * Every change is committed before its callback reports success.  A
 * finished run is not in memory: a rerun or an approval rebuilds it from
 * the store — the stored pipeline snapshot and env, never a re-read file
 * — restores its jobs' states, and starts it in a fresh workspace.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"

static const char *const job_states[] = {
	"pending", "ready", "waiting", "running", "success", "failed",
	"canceled", "skipped", "timed_out", "lost",
};

static int
job_state_of(const char *name, enum sched_job_state *st)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(job_states); i++) {
		if (strcmp(name, job_states[i]) == 0) {
			*st = (enum sched_job_state)i;
			return 0;
		}
	}
	return -EINVAL;
}

static bool
run_status_finished(const char *status)
{
	return strcmp(status, "success") == 0 || strcmp(status, "failed") == 0 ||
	       strcmp(status, "canceled") == 0 || strcmp(status, "error") == 0;
}

/* "K=V" strings from a stored JSON object; NULL-terminated, caller frees. */
static char **
env_from_json(const char *json)
{
	cJSON *o = json != NULL ? cJSON_Parse(json) : NULL, *it;
	char **env;
	size_t n = 0;

	env = xcalloc((size_t)cJSON_GetArraySize(o) + 1, sizeof(char *));
	cJSON_ArrayForEach(it, o)
		if (cJSON_IsString(it))
			env[n++] = xasprintf("%s=%s", it->string, it->valuestring);
	cJSON_Delete(o);
	return env;
}

static void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v != NULL && v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* "NAME=value" of the secrets the project's jobs may name (caller frees). */
static char **
project_secrets(struct daemon *d, const struct config_project *proj)
{
	size_t n = config_project_secret_count(proj), i, k = 0;
	char **v = xcalloc(n + 1, sizeof(char *));

	for (i = 0; i < n; i++) {
		const char *name = config_project_secret(proj, i);
		const char *value = config_secret(d->config, name, NULL);

		if (value != NULL)
			v[k++] = xasprintf("%s=%s", name, value);
	}
	return v;
}

/*
 * A sched run for a stored or new run, not started.  row (may be NULL for
 * a new run) gives the branch, tag, commit, env and, with restore, each
 * job's state and attempt count.
 */
static int
build(struct daemon *d, struct pipeline *p, uint64_t id,
      const struct config_project *proj, const struct store_run *row,
      bool restore, struct live_run **out)
{
	struct live_run *lr = xcalloc(1, sizeof(*lr));
	char **env = env_from_json(row != NULL ? row->env : NULL);
	struct sched_run_params params = {
		.id = id,
		.project = config_project_name(proj),
		.branch = row != NULL ? row->branch : NULL,
		.tag = row != NULL ? row->tag : NULL,
		.commit = row != NULL ? row->commit : NULL,
		.env = (const char *const *)env,
		.project_max_jobs = (int)config_project_max_jobs(proj),
	};
	char **secrets = project_secrets(d, proj);
	size_t j;
	int rc;

	params.secrets = (const char *const *)secrets;
	lr->d = d;
	lr->id = id;
	lr->project = xstrdup(config_project_name(proj));
	lr->workspace = xasprintf("%s/%llu", d->workspaces_dir,
				  (unsigned long long)id);
	lr->branch = row != NULL && row->branch != NULL ? xstrdup(row->branch) :
							  NULL;
	params.workspace = lr->workspace;
	rc = sched_run_create(d->sched, p, &params, &lr->run);
	strv_free(env);
	strv_free(secrets);
	if (rc < 0) {
		pipeline_destroy(p);
		live_run_free(lr);
		return rc;
	}
	for (j = 0; restore && j < row->njobs; j++) {
		const struct store_job *sj = &row->jobs[j];
		enum sched_job_state st;

		if ((size_t)sj->idx >= pipeline_job_count(p) ||
		    job_state_of(sj->status, &st) < 0)
			continue;
		rc = sched_run_restore_job(lr->run, (size_t)sj->idx, st,
					   (int)sj->nattempts);
		(void)rc; /* in range, before the start: cannot fail */
	}
	*out = lr;
	return 0;
}

/* Starts a built run in a fresh workspace. */
static void
launch(struct daemon *d, struct live_run *lr)
{
	int rc;

	files_remove_tree(lr->workspace);
	rc = files_mkdirs(lr->workspace, 0755);
	/*
	 * A sandboxed job's root is the workspace's owner, never host root:
	 * the daemon's jobs run as DAEMON_JOB_UID (docs/operations.md).
	 */
	if (rc == 0 && config_sandbox(d->config) == CONFIG_SANDBOX_STRICT &&
	    chown(lr->workspace, DAEMON_JOB_UID, DAEMON_JOB_UID) < 0)
		rc = -errno;
	if (rc < 0)
		log_warnx("run=%llu: cannot prepare its workspace %s: %s",
			  (unsigned long long)lr->id, lr->workspace,
			  strerror(-rc));
	lr->next = d->runs;
	d->runs = lr;
	rc = sched_run_start(lr->run);
	(void)rc; /* a built run starts */
}

/* ---- trigger ---- */

struct trigger_op {
	struct daemon *d;
	char *project;
	struct pipeline *p;      /* NULL if the pipeline has problems */
	struct store_run_new row;
	struct store_run stored; /* what build() reads: branch, tag, commit, env */
	char *yaml, *problems, *env, *ref, *branch, *tag, *commit, *actor, *key;
	uint64_t id;
	bool existed;
	daemon_done_cb cb;
	void *arg;
};

static int
tx_trigger(struct store_tx *tx, void *arg)
{
	struct trigger_op *t = arg;
	const struct pipeline *p = t->p;
	size_t j, n = p != NULL ? pipeline_job_count(p) : 0;
	int rc;

	if (t->key != NULL &&
	    store_tx_run_by_key(tx, t->project, t->key, &t->id) == 0) {
		t->existed = true;
		return 0;
	}
	rc = store_tx_run_insert(tx, &t->row, &t->id);
	/* A pipeline with problems makes a run that has finished already. */
	if (rc == 0 && p == NULL)
		rc = store_tx_run_set_status(tx, t->id, "error", 0,
					     t->row.created_at);
	for (j = 0; rc == 0 && j < n; j++)
		rc = store_tx_job_insert(tx, t->id, (int)j,
					 pipeline_job_name(p, j),
					 pipeline_stage(p, pipeline_job_stage(p, j)),
					 "pending");
	if (rc == 0)
		rc = store_tx_event(tx, t->id, t->row.created_at, t->actor,
				    "trigger", t->ref);
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
	free(t->project);
	free(t);
}

/* cancel_superseded: older runs of the branch give way to the new one. */
static void
supersede(struct daemon *d, const struct config_project *proj,
	  const char *branch, uint64_t newer)
{
	struct live_run *lr;

	if (!config_project_cancel_superseded(proj) || branch == NULL)
		return;
	for (lr = d->runs; lr != NULL; lr = lr->next) {
		if (lr->id >= newer ||
		    strcmp(lr->project, config_project_name(proj)) != 0 ||
		    lr->branch == NULL || strcmp(lr->branch, branch) != 0 ||
		    sched_run_finished(lr->run))
			continue;
		if (sched_run_cancel(lr->run) == 0)
			log_info("run.superseded run=%llu by=%llu",
				 (unsigned long long)lr->id,
				 (unsigned long long)newer);
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
	if (rc < 0) {
		msg = xasprintf("cannot record the run: %s", strerror(-rc));
		t->cb(rc, 0, msg, t->arg);
		free(msg);
		trigger_free(t);
		return;
	}
	proj = config_project_find(d->config, t->project);
	if (!t->existed) {
		log_info("run.created run=%llu project=%s actor=%s",
			 (unsigned long long)t->id, t->project, t->actor);
		if (t->p != NULL && proj == NULL) {
			/* A reload removed the project meanwhile. */
			log_warnx("run=%llu: project %s is gone; not started",
				  (unsigned long long)t->id, t->project);
		} else if (t->p != NULL) {
			supersede(d, proj, t->branch, t->id);
			if (build(d, t->p, t->id, proj, &t->stored, false,
				  &lr) == 0)
				launch(d, lr);
			t->p = NULL; /* the run owns it now */
		}
	}
	t->cb(0, t->id, NULL, t->arg);
	trigger_free(t);
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

/* Problems as the JSON array the run object carries. */
static char *
problems_json(const struct pipeline_problems *pp)
{
	cJSON *a = cJSON_CreateArray();
	char *s;
	size_t i;

	for (i = 0; i < pp->count; i++) {
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "file", pp->items[i].file);
		cJSON_AddNumberToObject(o, "line", pp->items[i].line);
		cJSON_AddNumberToObject(o, "column", pp->items[i].column);
		cJSON_AddStringToObject(o, "message", pp->items[i].message);
		cJSON_AddItemToArray(a, o);
	}
	s = cJSON_PrintUnformatted(a);
	cJSON_Delete(a);
	return s;
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
	if (pipeline_path == NULL) {
		cb(-ENOTSUP, 0, "the project has a repository; runs of "
		   "repositories are started by webhooks", arg);
		return;
	}
	t = xcalloc(1, sizeof(*t));
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
		t->ref = xstrdup(tr->ref);
		if (strncmp(tr->ref, "refs/tags/", 10) == 0)
			t->tag = xstrdup(tr->ref + 10);
		else if (strncmp(tr->ref, "refs/heads/", 11) == 0)
			t->branch = xstrdup(tr->ref + 11);
		else if (strncmp(tr->ref, "refs/", 5) != 0)
			t->branch = xstrdup(tr->ref);
	}
	t->commit = tr->commit != NULL ? xstrdup(tr->commit) : NULL;
	t->actor = xstrdup(tr->actor != NULL ? tr->actor : "anonymous");
	t->key = tr->idempotency_key != NULL ? xstrdup(tr->idempotency_key) : NULL;

	pipeline_problems_init(&pp);
	rc = pw_read_file(pipeline_path, PIPELINE_MAX_BYTES, &t->yaml, &len);
	if (rc < 0)
		pipeline_problems_add(&pp, pipeline_path, 1, 1,
				      "cannot read the pipeline: %s",
				      rc == -EFBIG ? "file too large" :
						     strerror(-rc));
	else if (pipeline_parse(pipeline_path, t->yaml, len, &t->p, &pp) < 0)
		t->p = NULL;
	if (pp.count > 0)
		t->problems = problems_json(&pp);
	pipeline_problems_free(&pp);

	t->row = (struct store_run_new){
		.project = t->project,
		.status = t->p != NULL ? "queued" : "error",
		.trigger = tr->trigger != NULL ? tr->trigger : "api",
		.ref = t->ref,
		.branch = t->branch,
		.tag = t->tag,
		.commit = t->commit,
		.problems = t->problems,
		.pipeline_file = pipeline_path,
		.pipeline = t->yaml,
		.pipeline_len = t->yaml != NULL ? len : 0,
		.env = t->env,
		.actor = t->actor,
		.idempotency_key = t->key,
		.created_at = pw_now_ms(),
	};
	t->stored.branch = t->branch;
	t->stored.tag = t->tag;
	t->stored.commit = t->commit;
	t->stored.env = t->env;
	store_write(d->store, tx_trigger, trigger_done, t);
}

/* ---- audit events and the changes behind them ---- */

struct change_op {
	struct daemon *d;
	uint64_t run;
	char *actor, *action, *detail;
	struct live_run *launch;   /* started once the change is committed */
	daemon_done_cb cb;
	void *arg;
};

static int
tx_change(struct store_tx *tx, void *arg)
{
	struct change_op *c = arg;
	int rc = 0;

	if (c->launch != NULL)
		rc = store_tx_run_set_status(tx, c->run, "queued", 0, 0);
	if (rc == 0)
		rc = store_tx_event(tx, c->run, pw_now_ms(), c->actor,
				    c->action, c->detail);
	return rc;
}

static void
change_done(int rc, void *arg)
{
	struct change_op *c = arg;
	char *msg = NULL;

	daemon_note_store(c->d, rc);
	if (rc < 0) {
		msg = xasprintf("cannot record the %s: %s", c->action,
				strerror(-rc));
		if (c->launch != NULL)
			live_run_free(c->launch);
	} else {
		log_info("run.%s run=%llu actor=%s", c->action,
			 (unsigned long long)c->run, c->actor);
		if (c->launch != NULL)
			launch(c->d, c->launch);
	}
	c->cb(rc, c->run, msg, c->arg);
	free(msg);
	free(c->actor);
	free(c->action);
	free(c->detail);
	free(c);
}

static void
record_change(struct daemon *d, uint64_t run, const char *actor,
	      const char *action, const char *detail, struct live_run *lr,
	      daemon_done_cb cb, void *arg)
{
	struct change_op *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->run = run;
	c->actor = xstrdup(actor != NULL ? actor : "anonymous");
	c->action = xstrdup(action);
	c->detail = detail != NULL ? xstrdup(detail) : NULL;
	c->launch = lr;
	c->cb = cb;
	c->arg = arg;
	store_write(d->store, tx_change, change_done, c);
}

/* The stored run, for a change that needs it rebuilt. -ENOENT / -EBUSY. */
static int
load_finished(struct daemon *d, uint64_t id, struct store_run **row,
	      const struct config_project **proj, struct pipeline **p,
	      char **msg)
{
	struct pipeline_problems pp;
	int rc;

	rc = store_run_get(d->store, id, row);
	if (rc < 0) {
		*msg = xasprintf("no run %llu", (unsigned long long)id);
		return rc;
	}
	if (!run_status_finished((*row)->status)) {
		*msg = xasprintf("run %llu is %s", (unsigned long long)id,
				 (*row)->status);
		return -EBUSY;
	}
	*proj = config_project_find(d->config, (*row)->project);
	if (*proj == NULL) {
		*msg = xasprintf("project '%s' is no longer configured",
				 (*row)->project);
		return -ENOENT;
	}
	if ((*row)->pipeline == NULL) {
		*msg = xasprintf("run %llu has no pipeline to run again",
				 (unsigned long long)id);
		return -EALREADY;
	}
	pipeline_problems_init(&pp);
	rc = pipeline_parse((*row)->pipeline_file, (*row)->pipeline,
			    (*row)->pipeline_len, p, &pp);
	pipeline_problems_free(&pp);
	if (rc < 0) {
		*msg = xasprintf("run %llu's pipeline snapshot is invalid",
				 (unsigned long long)id);
		return -EALREADY;
	}
	return 0;
}

void
daemon_cancel(struct daemon *d, uint64_t run, const char *actor,
	      daemon_done_cb cb, void *arg)
{
	struct live_run *lr = live_run_find(d, run);
	struct store_run *row;
	char *msg;

	if (lr == NULL || sched_run_finished(lr->run)) {
		if (store_run_get(d->store, run, &row) < 0) {
			msg = xasprintf("no run %llu", (unsigned long long)run);
			cb(-ENOENT, run, msg, arg);
		} else {
			msg = xasprintf("run %llu has already finished (%s)",
					(unsigned long long)run, row->status);
			cb(-EALREADY, run, msg, arg);
			store_run_free(row);
		}
		free(msg);
		return;
	}
	if (sched_run_cancel(lr->run) < 0) {
		cb(-EALREADY, run, "the run has already finished", arg);
		return;
	}
	record_change(d, run, actor, "cancel", NULL, NULL, cb, arg);
}

void
daemon_rerun(struct daemon *d, uint64_t run, const char *const *names,
	     const char *actor, daemon_done_cb cb, void *arg)
{
	struct store_run *row = NULL;
	const struct config_project *proj;
	struct pipeline *p;
	struct live_run *lr;
	char *msg = NULL, *detail;
	int rc;

	if (live_run_find(d, run) != NULL) {
		cb(-EBUSY, run, "the run has not finished yet", arg);
		return;
	}
	rc = load_finished(d, run, &row, &proj, &p, &msg);
	if (rc == 0)
		rc = build(d, p, run, proj, row, true, &lr);
	if (rc == 0) {
		rc = sched_run_rerun(lr->run, names);
		if (rc <= 0) {
			msg = rc == 0 ? xstrdup("nothing to rerun: no job failed") :
					xstrdup("no such job in the run");
			rc = rc == 0 ? -EALREADY : rc;
			live_run_free(lr);
		}
	}
	store_run_free(row);
	if (rc < 0) {
		cb(rc, run, msg, arg);
		free(msg);
		return;
	}
	detail = names == NULL ? xstrdup("failed jobs") : xstrdup("named jobs");
	record_change(d, run, actor, "rerun", detail, lr, cb, arg);
	free(detail);
}

void
daemon_approve(struct daemon *d, uint64_t run, const char *job,
	       const char *actor, daemon_done_cb cb, void *arg)
{
	struct live_run *lr = live_run_find(d, run);
	struct store_run *row = NULL;
	const struct config_project *proj;
	struct pipeline *p;
	char *msg = NULL;
	int rc;

	if (lr != NULL && !sched_run_finished(lr->run)) {
		rc = sched_run_approve(lr->run, job);
		if (rc < 0) {
			msg = rc == -EALREADY ?
				      xasprintf("job '%s' is not waiting for "
						"approval", job) :
				      xstrdup("no manual job of that name "
					      "waits in the run");
			cb(rc, run, msg, arg);
			free(msg);
			return;
		}
		record_change(d, run, actor, "approve", job, NULL, cb, arg);
		return;
	}
	rc = load_finished(d, run, &row, &proj, &p, &msg);
	if (rc == 0)
		rc = build(d, p, run, proj, row, true, &lr);
	if (rc == 0 && (rc = sched_run_approve(lr->run, job)) < 0) {
		msg = rc == -EALREADY ?
			      xasprintf("job '%s' is not waiting for approval",
					job) :
			      xstrdup("no manual job of that name in the run");
		live_run_free(lr);
	}
	store_run_free(row);
	if (rc < 0) {
		cb(rc, run, msg, arg);
		free(msg);
		return;
	}
	record_change(d, run, actor, "approve", job, lr, cb, arg);
}

/* ---- recovery ---- */

struct lost_op {
	uint64_t attempt;
};

static int
tx_lost(struct store_tx *tx, void *arg)
{
	struct lost_op *l = arg;

	return store_tx_attempt_finish(tx, l->attempt, "lost",
				       -1, "the daemon restarted while it ran",
				       pw_now_ms());
}

/* The attempts a stopped daemon left running are lost; their jobs go on. */
static void
mark_lost(struct daemon *d, struct store_run *row)
{
	struct lost_op *l;
	size_t j;

	for (j = 0; j < row->njobs; j++) {
		struct store_job *sj = &row->jobs[j];

		if (sj->nattempts == 0 ||
		    strcmp(sj->attempts[sj->nattempts - 1].status, "running") != 0)
			continue;
		l = xmalloc(sizeof(*l));
		l->attempt = sj->attempts[sj->nattempts - 1].id;
		daemon_write(d, tx_lost, l, free);
		free(sj->status);
		sj->status = xstrdup("pending");
	}
}

struct abandon_op {
	uint64_t run;
	uint64_t now;
};

static int
tx_abandon(struct store_tx *tx, void *arg)
{
	struct abandon_op *a = arg;
	int rc;

	rc = store_tx_run_set_status(tx, a->run, "error", 0, a->now);
	if (rc == 0)
		rc = store_tx_event(tx, a->run, a->now, "pipewright", "abandon",
				    "its project or pipeline is gone");
	return rc;
}

int
runs_recover(struct daemon *d, char **err)
{
	struct store_run **rows;
	struct abandon_op *a;
	size_t n, i;
	int rc;

	rc = store_runs_unfinished(d->store, &rows, &n);
	if (rc < 0) {
		*err = xasprintf("cannot read unfinished runs: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < n; i++) {
		struct store_run *row = rows[i];
		const struct config_project *proj =
			config_project_find(d->config, row->project);
		struct pipeline_problems pp;
		struct pipeline *p = NULL;
		struct live_run *lr;

		mark_lost(d, row);
		pipeline_problems_init(&pp);
		if (proj == NULL || row->pipeline == NULL ||
		    pipeline_parse(row->pipeline_file, row->pipeline,
				   row->pipeline_len, &p, &pp) < 0) {
			/* Nothing can run it again: it ends as an error. */
			log_warnx("run.abandon run=%llu: its project or pipeline "
				  "is gone", (unsigned long long)row->id);
			a = xmalloc(sizeof(*a));
			a->run = row->id;
			a->now = pw_now_ms();
			daemon_write(d, tx_abandon, a, free);
		} else if (build(d, p, row->id, proj, row, true, &lr) == 0) {
			log_info("run.recover run=%llu", (unsigned long long)row->id);
			launch(d, lr);
		}
		pipeline_problems_free(&pp);
	}
	store_runs_free(rows, n);
	return 0;
}
