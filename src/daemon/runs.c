/*
 * Runs in memory: building a sched run for a new or stored run (its
 * parameters, its project's secrets, its jobs' restored states) and
 * launching it: it is queued at once, and its run directory is made
 * fresh when its first job is about to start (each job's workspace in
 * it, jobws.c).  trigger.c, changes.c and recover.c
 * decide when.
 *
 * A finished run is not in memory: a rerun or an approval rebuilds it from
 * the store — the stored pipeline snapshot and env, never a re-read file.
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

bool
runs_status_finished(const char *status)
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

/*
 * "NAME=value" of the secrets the project's jobs may name (caller frees).
 * withheld: "NAME=" instead, for a pull request from a fork: its jobs run
 * and see the variable empty, as on the forges' own CI, rather than
 * failing because a secret they name is missing.
 */
static char **
project_secrets(struct daemon *d, const struct config_project *proj,
		bool withheld)
{
	size_t n = config_project_secret_count(proj), i, k = 0;
	char **v = xcalloc(n + 1, sizeof(char *));

	for (i = 0; i < n; i++) {
		const char *name = config_project_secret(proj, i);
		const char *value = config_secret(d->config, name, NULL);

		if (value != NULL)
			v[k++] = xasprintf("%s=%s", name, withheld ? "" : value);
	}
	return v;
}

/*
 * What the admin grants the run's jobs: the project's sandbox mode, its
 * host mounts and default variables, and the network only where its
 * `sandbox: {network: allow}` says so and never for a pull request from
 * a fork, whatever the project says (its author is not the project's).
 */
static void
grant(const struct config_project *proj, bool fork,
      struct sched_run_params *params)
{
	params->sandbox_set = true;
	params->sandbox = config_project_sandbox(proj) == CONFIG_SANDBOX_STRICT ?
				  EXEC_SANDBOX_STRICT : EXEC_SANDBOX_NONE;
	params->network = !fork &&
			  config_project_network(proj) == CONFIG_NETWORK_ALLOW;
	params->network_denied = fork ? "network: denied to pull requests from"
					" forks" : NULL;
	/* The admin's toolchains and their variables (`sandbox.mounts`,
	 * `sandbox.env`); a pipeline never chooses a host path. */
	params->mounts = config_project_mounts(proj);
	params->env_defaults = config_project_env(proj);
}

/*
 * A sched run for a stored or new run, not started.  row (may be NULL for
 * a new run) gives the branch, tag, commit, env and, with restore, each
 * job's state and attempt count.
 */
int
runs_build(struct daemon *d, struct pipeline *p, uint64_t id,
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
	/* A pull request from a fork gets no secrets unless the project says so. */
	char **secrets = project_secrets(d, proj, row != NULL && row->fork &&
					 !config_project_secrets_on_forks(proj));
	const struct config_limits *lim = config_project_limits(proj);
	char *jobs_dir, *builds;
	size_t j;
	int rc;

	params.secrets = (const char *const *)secrets;
	grant(proj, row != NULL && row->fork, &params);
	params.resources.memory = lim->memory.dflt;
	params.resources.pids = lim->pids.dflt;
	params.resources.cpu_seconds = lim->cpu_seconds.dflt;
	params.timeout_ms = lim->timeout_ms.dflt;
	params.max_log = lim->max_log;
	lr->d = d;
	lr->id = id;
	lr->project = xstrdup(config_project_name(proj));
	lr->created_ms = row != NULL ? row->created_at : pw_now_ms();
	lr->started_ms = row != NULL ? row->started_at : 0;
	lr->workspace = xasprintf("%s/%llu", d->workspaces_dir,
				  (unsigned long long)id);
	lr->branch = row != NULL && row->branch != NULL ? xstrdup(row->branch) :
							  NULL;
	lr->ref = row != NULL && row->ref != NULL ? xstrdup(row->ref) : NULL;
	lr->commit = row != NULL && row->commit != NULL ? xstrdup(row->commit) :
							  NULL;
	/* Kept for each job's cache and artifact scopes (jobreuse.c): the
	 * row, with its jobs, is not read again for them. */
	lr->tag = row != NULL && row->tag != NULL ? xstrdup(row->tag) : NULL;
	lr->pr = row != NULL ? row->pr : 0;
	lr->fork = row != NULL && row->fork;
	params.workspace = lr->workspace;
	/* Each job in a workspace of its own, seen at one path (jobws.c). */
	jobs_dir = xasprintf("%s/" JOBWS_JOBS, lr->workspace);
	builds = xasprintf("/builds/%s", lr->project);
	params.jobs_dir = jobs_dir;
	params.workspace_at = builds;
	rc = sched_run_create(d->sched, p, &params, &lr->run);
	free(jobs_dir);
	free(builds);
	pw_strv_free(env);
	pw_strv_free(secrets);
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
		if (rc == 0 && sj->rerun_after >= 0)
			rc = sched_run_restore_rerun(lr->run, (size_t)sj->idx,
						     sj->rerun_after);
		(void)rc; /* in range, before the start: cannot fail */
	}
	*out = lr;
	return 0;
}

/* Starts a built run whose workspace is ready. */
void
runs_start(struct daemon *d, struct live_run *lr)
{
	int rc;

	if (d->detached) {
		/* Stored as queued: the daemon that takes over starts it. */
		live_run_free(lr);
		daemon_run_gone(d);
		return;
	}
	live_run_link(d, lr);
	rc = sched_run_start(lr->run);
	(void)rc; /* a built run starts */
}

/*
 * Starts a built run that needs a fresh workspace: for a project with a
 * repository, its commit checked out again first (the checkout fills the
 * workspace before the run enters the scheduler).  Otherwise the run is
 * queued at once and its workspace made when its first job is about to
 * start (jobws.c): a run waiting for a slot holds no directory, and
 * under a size limit no image and no loop device (wsfs.c).
 */
void
runs_launch(struct daemon *d, struct live_run *lr)
{
	const struct config_project *proj =
		config_project_find(d->config, lr->project);

	if (!d->detached && proj != NULL && config_project_repo(proj) != NULL &&
	    lr->commit != NULL) {
		checkout_restart(d, lr, lr->ref, lr->commit);
		return;
	}
	lr->ws = RUN_WS_FRESH;
	runs_start(d, lr);
}

/* Problems as the JSON array the run object carries (caller frees). */
char *
runs_problems_json(const struct pipeline_problems *pp)
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
runs_check_ceilings(const struct config_project *proj, struct pipeline **p,
		    struct pipeline_problems *pp)
{
	const struct config_limits *lim = config_project_limits(proj);
	struct pipeline_resources max = {
		.memory = lim->memory.max,
		.pids = lim->pids.max,
		.cpu_seconds = lim->cpu_seconds.max,
		.timeout_ms = lim->timeout_ms.max,
	};

	if (*p != NULL && pipeline_check_ceilings(*p, &max, pp) > 0) {
		pipeline_destroy(*p);
		*p = NULL;
	}
}
