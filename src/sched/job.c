/*
 * Starting a job's attempt through exec, and what comes back: output,
 * the end (held by attempt_finish until the caller settles it), retries.
 * The job's environment is built here, exactly as docs/pipeline.md
 * describes: a fixed base, then the file's env (already merged by
 * `pipeline`), then the trigger's env; nothing is inherited.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/log.h"
#include "sched-int.h"

#define BASE_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Which run and job an exec callback is about. */
struct attempt_ctx {
	struct sched_run *r;
	size_t j;
	int attempt;
};

/* A "K=V" list where a later value for K replaces the earlier one in place. */
struct envlist {
	char **items;
	size_t count, cap;
};

static void
env_set(struct envlist *e, const char *kv)
{
	size_t klen = strcspn(kv, "="), i;

	for (i = 0; i < e->count; i++) {
		if (strncmp(e->items[i], kv, klen) == 0 &&
		    e->items[i][klen] == '=') {
			free(e->items[i]);
			e->items[i] = xstrdup(kv);
			return;
		}
	}
	e->items = xgrow(e->items, &e->cap, e->count + 2, sizeof(char *));
	e->items[e->count++] = xstrdup(kv);
	e->items[e->count] = NULL;
}

static void
env_setf(struct envlist *e, const char *key, const char *value)
{
	char *kv = xasprintf("%s=%s", key, value);

	env_set(e, kv);
	free(kv);
}

static void
env_free(struct envlist *e)
{
	size_t i;

	for (i = 0; i < e->count; i++)
		free(e->items[i]);
	free(e->items);
}

static void
build_env(const struct sched_run *r, size_t j, const char *dir,
	  const char *workspace, struct envlist *e)
{
	const struct pipeline *p = r->p;
	const char *const *fe;
	char *home = xasprintf("%s/home", dir);
	char num[32];
	size_t i;

	env_setf(e, "PATH", BASE_PATH);
	env_setf(e, "HOME", home);
	env_setf(e, "LANG", "C.UTF-8");
	/* The image's Env (its PATH, say): below the admin's and the file's. */
	for (i = 0; r->jobs[j].img_env != NULL && r->jobs[j].img_env[i] != NULL;
	     i++)
		env_set(e, r->jobs[j].img_env[i]);
	/* The admin's defaults (sandbox.env): a toolchain's PATH, say. */
	for (i = 0; r->env_defaults != NULL && r->env_defaults[i] != NULL; i++)
		env_set(e, r->env_defaults[i]);
	env_setf(e, "CI", "true");
	env_setf(e, "PIPEWRIGHT", "true");
	env_setf(e, "PIPEWRIGHT_JOB", pipeline_job_name(p, j));
	env_setf(e, "PIPEWRIGHT_STAGE",
		 pipeline_stage(p, pipeline_job_stage(p, j)));
	snprintf(num, sizeof(num), "%d", r->jobs[j].attempts);
	env_setf(e, "PIPEWRIGHT_ATTEMPT", num);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)r->id);
	env_setf(e, "PIPEWRIGHT_RUN_ID", num);
	env_setf(e, "PIPEWRIGHT_WORKSPACE", workspace);
	if (r->commit != NULL)
		env_setf(e, "PIPEWRIGHT_COMMIT", r->commit);
	if (r->branch != NULL)
		env_setf(e, "PIPEWRIGHT_BRANCH", r->branch);
	if (r->tag != NULL)
		env_setf(e, "PIPEWRIGHT_TAG", r->tag);
	for (fe = pipeline_job_env(p, j); fe != NULL && *fe != NULL; fe++)
		env_set(e, *fe);
	for (i = 0; r->env[i] != NULL; i++)
		env_set(e, r->env[i]);
	/* Last: TRACEPARENT names this attempt's span, whatever came before. */
	for (i = 0; r->jobs[j].trace_env[i] != NULL; i++)
		env_set(e, r->jobs[j].trace_env[i]);
	free(home);
}

char **
sched_attempt_env(const struct sched_run *r, size_t j)
{
	const struct sched_job *job;
	struct envlist e = {0};
	const char *seen;

	if (j >= r->njobs)
		return NULL;
	job = &r->jobs[j];
	seen = r->sandbox == EXEC_SANDBOX_STRICT && r->workspace_at != NULL ?
		       r->workspace_at : job->workspace;
	build_env(r, j, job->dir != NULL ? job->dir : "", seen, &e);
	if (e.items == NULL)
		e.items = xcalloc(1, sizeof(char *));
	return e.items;
}

/*
 * One `sh -e -c` script for all items, so that `cd` and variables carry
 * over; each item is echoed whole as "$ item" before it runs.
 */
static char *
build_script(const struct pipeline *p, size_t j)
{
	size_t n = pipeline_job_script_count(p, j), k;
	struct buf b;
	const char *c;

	buf_init(&b, 0);
	for (k = 0; k < n; k++) {
		const char *item = pipeline_job_script(p, j, k);

		buf_adds(&b, "printf '%s\\n' '$ ");
		for (c = item; *c != '\0'; c++) {
			if (*c == '\'')
				buf_adds(&b, "'\\''");
			else
				buf_add(&b, c, 1);
		}
		buf_addf(&b, "'\n%s\n", item);
	}
	return buf_steal(&b);
}

static enum sched_job_state
state_of(enum exec_result res)
{
	switch (res) {
	case EXEC_SUCCESS:
		return SCHED_JOB_SUCCESS;
	case EXEC_FAILED:
		return SCHED_JOB_FAILED;
	case EXEC_TIMED_OUT:
		return SCHED_JOB_TIMED_OUT;
	case EXEC_CANCELED:
		return SCHED_JOB_CANCELED;
	case EXEC_LOST:
		break;
	}
	return SCHED_JOB_LOST;
}

static void
on_output(struct exec_attempt *a, const char *data, size_t len, void *arg)
{
	struct attempt_ctx *c = arg;
	struct sched *s = c->r->s;

	(void)a;
	if (s->cb.output != NULL)
		s->cb.output(s->cb.arg, c->r, c->j, c->attempt, data, len);
}

/* Whether a failed attempt gets another go under the job's `retry`. */
static bool
retries(const struct sched_run *r, size_t j, enum sched_job_state st)
{
	unsigned when = pipeline_job_retry_when(r->p, j);

	if (r->canceling || r->jobs[j].tries > pipeline_job_retry_max(r->p, j))
		return false;
	return (st == SCHED_JOB_FAILED && (when & PIPELINE_RETRY_FAILED)) ||
	       (st == SCHED_JOB_TIMED_OUT && (when & PIPELINE_RETRY_TIMED_OUT));
}

/* The attempt's exec side is over: no more output or end from it. */
static void
let_go(struct sched_job *job)
{
	job->att = NULL;
	free(job->ctx);
	job->ctx = NULL;
}

static void
finish(struct sched_run *r, size_t j, enum sched_job_state st, int exit_code,
       const char *reason)
{
	struct sched_job *job = &r->jobs[j];
	char *why = NULL;

	let_go(job);
	job->adopt = false;
	job->finished_ms = pw_now_ms();
	r->running--;
	r->s->running--;
	if (st == SCHED_JOB_LOST && !r->canceling &&
	    (job->never_ran || job->lost < pipeline_job_lost_retries(r->p, j))) {
		/*
		 * Not the job's failure: its retry budget is left alone; and
		 * an attempt that never ran costs nothing at all.
		 */
		if (job->never_ran)
			why = xasprintf("%s; starting it now", reason);
		else
			why = xasprintf("%s; trying again (lost_retries %d of "
					"%d)", reason != NULL ? reason : "lost",
					job->lost + 1,
					pipeline_job_lost_retries(r->p, j));
		job->lost += job->never_ran ? 0 : 1;
		job->never_ran = false;
		job->tries--;
		sched_job_set(r, j, st, exit_code, why);
		if (!r->canceling)
			sched_job_set(r, j, SCHED_JOB_READY, -1, NULL);
	} else if (retries(r, j, st)) {
		why = xasprintf("%s; retrying (attempt %d of %d)",
				reason != NULL ? reason : sched_job_state_name(st),
				job->tries + 1,
				pipeline_job_retry_max(r->p, j) + 1);
		sched_job_set(r, j, st, exit_code, why);
		/* Unless the event callback has just cancelled the run. */
		if (!r->canceling)
			sched_job_set(r, j, SCHED_JOB_READY, -1, NULL);
	} else {
		sched_job_set(r, j, st, exit_code, reason);
	}
	free(why);
	sched_pump(r->s);
}

static void
on_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	struct attempt_ctx *c = arg;
	struct sched_attempt_result res;
	struct sched_run *r;
	struct sched_job *job;
	size_t j;

	(void)a;
	/*
	 * The supervisor's monotonic stamps leave with the attempt's
	 * directory: logged here (debug only) for bench/run's B5.
	 */
	log_debug("attempt.stamps run=%llu job=%zu attempt=%d "
		  "execve_mono_us=%llu exited_mono_us=%llu spec_mono_us=%llu "
		  "drained_mono_us=%llu end_seen_mono_us=%llu",
		  (unsigned long long)c->r->id, c->j, c->attempt,
		  (unsigned long long)st->execve_mono_us,
		  (unsigned long long)st->exited_mono_us,
		  (unsigned long long)st->spec_mono_us,
		  (unsigned long long)st->drained_mono_us,
		  (unsigned long long)pw_mono_us());
	r = c->r;
	j = c->j;
	if (r->s->cb.attempt_finish == NULL) {
		/* finish() frees c (the job's ctx). */
		finish(r, j, state_of(st->result), st->exit_code, st->reason);
		return;
	}
	/*
	 * Still running, slot and all, until the caller settles it: what
	 * it does after the script (saving artifacts) may fail the job, so
	 * nothing may start on the strength of this result yet.
	 */
	job = &r->jobs[j];
	let_go(job);
	job->finishing = true;
	job->fin_logged = 0;
	job->fin_state = state_of(st->result);
	job->fin_exit = st->exit_code;
	free(job->fin_reason);
	job->fin_reason = st->reason != NULL ? xstrdup(st->reason) : NULL;
	res = (struct sched_attempt_result){
		.state = job->fin_state,
		.exit_code = job->fin_exit,
		.reason = job->fin_reason,
	};
	r->s->cb.attempt_finish(r->s->cb.arg, r, j, job->attempts, &res);
}

int
sched_attempt_settle(struct sched_run *r, size_t job, int rc,
		     const char *reason)
{
	struct sched_job *jb;
	enum sched_job_state st;
	char *why;

	if (job >= r->njobs || !r->jobs[job].finishing || rc > 0)
		return -EINVAL;
	jb = &r->jobs[job];
	jb->finishing = false;
	/* Let go of: the attempt belongs to whoever adopts it next. */
	if (r->s->detached)
		return -ECANCELED;
	st = jb->fin_state;
	why = jb->fin_reason;
	jb->fin_reason = NULL;
	if (rc < 0 && st == SCHED_JOB_SUCCESS) {
		st = SCHED_JOB_FAILED;
		free(why);
		why = reason != NULL ? xstrdup(reason) :
			xasprintf("cannot finish the job: %s", strerror(-rc));
	}
	finish(r, job, st, jb->fin_exit, why);
	free(why);
	return 0;
}

/* Passes bytes on after the supervisor's last: the same callback. */
static void
fin_output(struct sched_run *r, size_t j, const char *data, size_t len)
{
	struct sched *s = r->s;

	r->jobs[j].fin_logged += len;
	if (len > 0 && s->cb.output != NULL)
		s->cb.output(s->cb.arg, r, j, r->jobs[j].attempts, data, len);
}

int
sched_attempt_log(struct sched_run *r, size_t job, const char *data,
		  size_t len)
{
	static const char cut[] = "[pipewright: further lines after the job "
				  "dropped]\n";
	struct sched_job *jb;

	if (job >= r->njobs || !r->jobs[job].finishing)
		return -EINVAL;
	if (r->s->detached)
		return -ECANCELED;
	jb = &r->jobs[job];
	/*
	 * Lines about what a job left behind can be as many as its files (a
	 * warning each): capped like the prelude, with one line saying so.
	 */
	if (jb->fin_logged > SCHED_MAX_FINISH_LOG)
		return -E2BIG;
	if (len > SCHED_MAX_FINISH_LOG - jb->fin_logged) {
		fin_output(r, job, cut, sizeof(cut) - 1);
		jb->fin_logged = SCHED_MAX_FINISH_LOG + 1;
		return -E2BIG;
	}
	fin_output(r, job, data, len);
	return 0;
}

static struct attempt_ctx *
ctx_new(struct sched_run *r, size_t j)
{
	struct attempt_ctx *c = xmalloc(sizeof(*c));

	c->r = r;
	c->j = j;
	c->attempt = r->jobs[j].attempts;
	r->jobs[j].ctx = c;
	return c;
}

/* The "K=V" the run was given for secret `name`, or NULL. */
static const char *
secret_kv(const struct sched_run *r, const char *name)
{
	size_t i, n = strlen(name);

	for (i = 0; r->secrets[i] != NULL; i++)
		if (strncmp(r->secrets[i], name, n) == 0 &&
		    r->secrets[i][n] == '=')
			return r->secrets[i];
	return NULL;
}

/* One limit: the job's own, else the run's default, else the runner's. */
static uint64_t
limit(uint64_t job, uint64_t run, uint64_t dflt)
{
	return job != 0 ? job : run != 0 ? run : dflt;
}

/*
 * The sandbox part of the spec; the secrets go into env (and their names
 * into the mask).  NULL, or why the job cannot start (caller frees).
 */
static char *
sandbox_spec(const struct sched_run *r, size_t j, struct envlist *env,
	     struct exec_spec *spec)
{
	const struct exec_resources *d = &r->s->opts.resources;
	const struct exec_resources *rd = &r->resources;
	const char *const *names = pipeline_job_secrets(r->p, j);
	struct pipeline_resources pr;
	const char *kv;
	size_t i;

	pipeline_job_resources(r->p, j, &pr);
	spec->sandbox = r->sandbox;
	spec->workspace = r->jobs[j].workspace;
	if (spec->sandbox == EXEC_SANDBOX_STRICT) {
		spec->workspace_at = r->workspace_at;
		spec->rootfs = r->jobs[j].img_rootfs != NULL ?
				       r->jobs[j].img_rootfs : r->rootfs;
		spec->mounts = (const char *const *)r->mounts;
	}
	spec->uid = r->uid;
	spec->gid = r->gid;
	/* An image is a root for the strict sandbox to enter: on the host's
	 * own root its files would be nowhere. */
	if (pipeline_job_image(r->p, j) != NULL &&
	    spec->sandbox != EXEC_SANDBOX_STRICT)
		return xasprintf("image '%s' needs the strict sandbox; sandbox"
				 " none runs a job on the host's own root",
				 pipeline_job_image(r->p, j));
	if (pipeline_job_image(r->p, j) != NULL &&
	    r->jobs[j].img_rootfs == NULL)
		return xasprintf("image '%s' was not prepared for this job",
				 pipeline_job_image(r->p, j));
	/* Strict runs a job as the ids it was given, never the workspace's. */
	if (spec->sandbox == EXEC_SANDBOX_STRICT && spec->uid == 0)
		return xstrdup("sandbox: no job uid was given to this run "
			       "(job_ids)");
	spec->network = pipeline_job_network(r->p, j);
	/* The pipeline's user:, else the image's User (OCI config). */
	spec->user = pipeline_job_user(r->p, j);
	if (spec->user == NULL && r->jobs[j].img_user != NULL &&
	    r->jobs[j].img_user[0] != '\0')
		spec->user = r->jobs[j].img_user;
	/* Never run offline what asked for the network: say why instead. */
	if (spec->network && !r->network)
		return xstrdup(r->network_denied);
	spec->resources.memory = limit(pr.memory, rd->memory, d->memory);
	spec->resources.pids = limit(pr.pids, rd->pids, d->pids);
	spec->resources.cpu_seconds = limit(pr.cpu_seconds, rd->cpu_seconds,
					     d->cpu_seconds);
	spec->resources.file_size = limit(pr.file_size, rd->file_size,
					   d->file_size);
	spec->resources.open_files = limit(pr.open_files, rd->open_files,
					   d->open_files);
	spec->mask = names;
	for (i = 0; names[i] != NULL; i++) {
		kv = secret_kv(r, names[i]);
		if (kv == NULL)
			return xasprintf("secret '%s' is not available (for "
					 "pipewright run: set the variable %s "
					 "in its environment)", names[i],
					 names[i]);
		env_set(env, kv);
	}
	return NULL;
}

/* The job's services for exec, in start order (caller frees the array). */
static struct exec_service *
services_spec(const struct pipeline *p, size_t j, size_t *n)
{
	struct exec_service *v;
	size_t i;

	*n = pipeline_job_service_count(p, j);
	if (*n == 0)
		return NULL;
	v = xcalloc(*n, sizeof(*v));
	for (i = 0; i < *n; i++) {
		const struct pipeline_service *ps = pipeline_job_service(p, j, i);

		v[i] = (struct exec_service){
			.name = ps->name,
			.argv = ps->command,
			.shell = ps->shell,
			.setup = ps->setup,
			.env = ps->env,
			.ready = ps->ready,
			.ready_timeout_ms = ps->ready_timeout_ms,
		};
	}
	return v;
}

/* Hands the prepared attempt to exec. */
static void
launch(struct sched_run *r, size_t j)
{
	struct sched *s = r->s;
	struct sched_job *job = &r->jobs[j];
	const struct pipeline *p = r->p;
	const char *wd = pipeline_job_working_dir(p, j);
	struct envlist env = {0};
	struct attempt_ctx *c;
	struct pipeline_resources pr;
	struct exec_spec spec;
	struct exec_service *svcs = NULL;
	char *script, *cwd, *why;
	const char *argv[5], *seen;
	int rc;

	/* Strict with a mount point: the job's cwd is a path inside. */
	seen = r->sandbox == EXEC_SANDBOX_STRICT && r->workspace_at != NULL ?
		       r->workspace_at : job->workspace;
	cwd = wd != NULL ? xasprintf("%s/%s", seen, wd) : xstrdup(seen);
	build_env(r, j, job->dir, seen, &env);
	script = build_script(p, j);
	pipeline_job_resources(p, j, &pr);
	argv[0] = "/bin/sh";
	argv[1] = "-e";
	argv[2] = "-c";
	argv[3] = script;
	argv[4] = NULL;
	spec = (struct exec_spec){
		.dir = job->dir,
		.argv = argv,
		.env = (const char *const *)env.items,
		.cwd = cwd,
		.timeout_ms = limit(pr.timeout_ms, r->timeout_ms,
				    s->opts.timeout_ms != 0 ?
				    s->opts.timeout_ms :
				    pipeline_job_timeout_ms(p, j)),
		.kill_grace_ms = s->opts.kill_grace_ms,
		.max_log = limit(0, r->max_log, s->opts.max_log),
		.tied = s->opts.tied,
	};
	why = sandbox_spec(r, j, &env, &spec);
	if (why != NULL) {
		finish(r, j, SCHED_JOB_FAILED, -1, why);
		free(why);
		goto out;
	}
	spec.env = (const char *const *)env.items;  /* env may have grown */
	svcs = services_spec(p, j, &spec.nservices);
	spec.services = svcs;
	c = ctx_new(r, j);
	log_debug("attempt.stage run=%llu job=%zu attempt=%d stage=start "
		  "mono_us=%llu", (unsigned long long)r->id, j, c->attempt,
		  (unsigned long long)pw_mono_us());
	rc = exec_start(s->exec, &spec, on_output, on_end, c, &job->att);
	log_debug("attempt.stage run=%llu job=%zu attempt=%d stage=started "
		  "mono_us=%llu", (unsigned long long)r->id, j, c->attempt,
		  (unsigned long long)pw_mono_us());
	if (rc < 0) {
		why = xasprintf("cannot start the job: %s", strerror(-rc));
		finish(r, j, SCHED_JOB_FAILED, -1, why);
		free(why);
	} else if (r->canceling) {
		/*
		 * The event callback cancelled the run on the running event,
		 * when there was no attempt to stop yet.
		 */
		sched_job_cancel(r, j);
	}
out:
	free(svcs);
	env_free(&env);
	sched_job_trace_env_free(job);
	free(script);
	free(cwd);
}

void
sched_job_trace_env_free(struct sched_job *job)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(job->trace_env); i++) {
		free(job->trace_env[i]);
		job->trace_env[i] = NULL;
	}
	free(job->img_rootfs);
	job->img_rootfs = NULL;
	pw_strv_free(job->img_env);
	job->img_env = NULL;
	free(job->img_user);
	job->img_user = NULL;
}

int
sched_attempt_image(struct sched_run *r, size_t job, const char *rootfs,
		    const char *const *env, const char *user)
{
	struct sched_job *jb;
	size_t i, n = 0;

	if (job >= r->njobs || !r->jobs[job].preparing || rootfs == NULL)
		return -EINVAL;
	jb = &r->jobs[job];
	free(jb->img_rootfs);
	pw_strv_free(jb->img_env);
	free(jb->img_user);
	jb->img_rootfs = xstrdup(rootfs);
	jb->img_user = user != NULL ? xstrdup(user) : NULL;
	while (env != NULL && env[n] != NULL)
		n++;
	jb->img_env = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++)
		jb->img_env[i] = xstrdup(env[i]);
	return 0;
}

int
sched_attempt_setenv(struct sched_run *r, size_t job, const char *name,
		     const char *value)
{
	struct sched_job *jb;
	size_t i, len = strlen(name);

	if (job >= r->njobs || !r->jobs[job].preparing)
		return -EINVAL;
	jb = &r->jobs[job];
	for (i = 0; jb->trace_env[i] != NULL; i++)
		if (strncmp(jb->trace_env[i], name, len) == 0 &&
		    jb->trace_env[i][len] == '=')
			break;
	if (i + 1 >= PW_ARRAY_LEN(jb->trace_env))
		return -E2BIG;
	free(jb->trace_env[i]);
	jb->trace_env[i] = xasprintf("%s=%s", name, value);
	return 0;
}

void
sched_job_start(struct sched_run *r, size_t j)
{
	struct sched *s = r->s;
	struct sched_job *job = &r->jobs[j];

	job->attempts++;
	job->tries++;
	if (job->started_ms == 0)
		job->started_ms = pw_now_ms();
	free(job->dir);
	sched_job_trace_env_free(job);
	job->dir = xasprintf("%s/r%llu-j%zu-a%d", s->opts.attempts_dir,
			     (unsigned long long)r->id, j, job->attempts);
	r->running++;
	s->running++;
	sched_job_set(r, j, SCHED_JOB_RUNNING, -1, NULL);
	if (s->cb.attempt_prepare == NULL) {
		launch(r, j);
		return;
	}
	/* The caller records the attempt first; sched_attempt_proceed() goes on. */
	job->preparing = true;
	s->cb.attempt_prepare(s->cb.arg, r, j, job->attempts, job->dir);
}

int
sched_attempt_proceed(struct sched_run *r, size_t job, int rc)
{
	struct sched_job *jb;
	char *why;

	if (job >= r->njobs || !r->jobs[job].preparing)
		return -EINVAL;
	jb = &r->jobs[job];
	jb->preparing = false;
	if (rc < 0) {
		why = xasprintf("cannot record the attempt: %s", strerror(-rc));
		finish(r, job, SCHED_JOB_FAILED, -1, why);
		free(why);
	} else if (r->canceling) {
		finish(r, job, SCHED_JOB_CANCELED, -1, "canceled");
	} else {
		launch(r, job);
		/*
		 * Its row says running: once started, the job belongs to the
		 * supervisor and whoever adopts it next.
		 */
		if (r->s->detached && jb->att != NULL)
			sched_job_detach(r, job);
	}
	return 0;
}

int
sched_attempt_fail(struct sched_run *r, size_t job, const char *reason)
{
	struct sched_job *jb;

	if (job >= r->njobs || !r->jobs[job].preparing)
		return -EINVAL;
	jb = &r->jobs[job];
	jb->preparing = false;
	if (r->canceling)
		finish(r, job, SCHED_JOB_CANCELED, -1, "canceled");
	else
		finish(r, job, SCHED_JOB_FAILED, -1, reason);
	return 0;
}

void
sched_job_adopt(struct sched_run *r, size_t j)
{
	struct sched *s = r->s;
	struct sched_job *job = &r->jobs[j];
	struct attempt_ctx *c = ctx_new(r, j);
	char *why;
	int rc;

	if (job->started_ms == 0)
		job->started_ms = pw_now_ms();
	r->running++;
	s->running++;
	rc = exec_attach(s->exec, job->dir, job->adopt_offset, on_output,
			 on_end, c, &job->att);
	if (rc == -ENOENT) {
		job->never_ran = true;
		finish(r, j, SCHED_JOB_LOST, -1, "lost before it started (the "
		       "daemon stopped between recording the attempt and "
		       "starting it)");
	} else if (rc == -ESRCH) {
		finish(r, j, SCHED_JOB_LOST, -1, "lost: its supervisor is gone "
		       "and left no result (the machine restarted, or it was "
		       "killed)");
	} else if (rc < 0) {
		why = xasprintf("lost: cannot take up its supervisor: %s",
				strerror(-rc));
		finish(r, j, SCHED_JOB_LOST, -1, why);
		free(why);
	}
}

void
sched_job_detach(struct sched_run *r, size_t j)
{
	struct sched_job *job = &r->jobs[j];

	if (job->att == NULL)
		return;
	exec_detach(job->att);
	job->att = NULL;
	free(job->ctx);
	job->ctx = NULL;
}

void
sched_job_cancel(struct sched_run *r, size_t j)
{
	struct sched_job *job = &r->jobs[j];
	int rc;

	/* An attempt still being prepared is cancelled when it proceeds. */
	if (job->att == NULL)
		return;
	/*
	 * If the supervisor cannot be told, its socket is gone and its end
	 * is on the way: the end callback settles the job either way.
	 */
	rc = exec_cancel(job->att);
	(void)rc;
}
