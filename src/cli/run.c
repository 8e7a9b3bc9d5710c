/*
 * `pipewright run`: runs a pipeline file in the current directory on the
 * same scheduler, executor and supervisor as the daemon.  The workspace is
 * the current directory, shared by the jobs, at its own path; with
 * --clean each job attempt gets a fresh workspace as on the server: the
 * checkout's HEAD commit fetched into <tmp>/jobs/<idx> (scm_workspace,
 * files at their commit times), seen under strict at /builds/<name of
 * the checkout's directory>; the checkout itself is only read.  Attempt
 * directories (logs, HOME) and those workspaces live in a temporary
 * directory removed at the end.  Ctrl-C cancels the run (every
 * job's whole process tree is killed) and exits 130; a second Ctrl-C exits
 * at once, and the supervisors, tied to this process, still clean up.
 * Jobs run in the strict sandbox unless --sandbox none; secrets a job
 * names come from our environment.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "run-int.h"
#include "pipewright/config.h"
#include "pipewright/scm.h"

#define GIT_OUTPUT_MAX 4096

/* The query each git helper answers, and where its answer goes. */
struct git_query {
	struct run_cli *c;
	char **dst;
	const char *argv[6];
};

static void start_run(struct run_cli *c);

/* After a job attempt: its test reports read, artifacts and caches saved. */
static void
on_finish(void *arg, struct sched_run *run, size_t job, int attempt,
	  const struct sched_attempt_result *res)
{
	struct run_cli *c = arg;
	struct prep *pr;

	(void)attempt;
	pr = xcalloc(1, sizeof(*pr));
	pr->c = c;
	pr->run = run;
	pr->job = job;
	pr->state = res->state;
	if (run_reports_start(c->reports, run, job, res->state,
			      run_save_or_settle, pr))
		return;
	run_save_or_settle(pr);
}

static void
on_workspace(int rc, const char *log, size_t len, void *arg)
{
	struct prep *pr = arg;
	struct run_cli *c = pr->c;
	const char *last = log, *p;
	char *why;

	if (rc == 0) {
		run_image_then_restore(pr);
		return;
	} else {
		for (p = log; len > 0 && p < log + len - 1; p++)
			if (*p == '\n')
				last = p + 1;
		fprintf(stderr, "%.*s", (int)len, log);
		why = xasprintf("cannot prepare the workspace: %.*s",
				(int)strcspn(last, "\n"), last);
		rc = sched_attempt_fail(c->run, pr->job, why);
		free(why);
	}
	(void)rc; /* the attempt is held: neither refuses it */
	free(pr);
}

/*
 * Before each attempt: with --clean its workspace afresh, the checkout's
 * HEAD commit (the previous attempt's workspace removed first); then its
 * artifacts and caches.
 */
static void
on_prepare(void *arg, struct sched_run *run, size_t job, int attempt,
	   const char *dir)
{
	struct run_cli *c = arg;
	const char *ws = sched_attempt_workspace(run, job);
	struct scm_workspace_request req = {
		.source = c->workspace,
		.sha = c->commit,
		.workspace = ws,
		/* The checkout's owner's, as its files are (0: left root's). */
		.uid = c->owner_uid,
		.gid = c->owner_gid,
	};
	struct prep *pr = xcalloc(1, sizeof(*pr));
	char *why, *parent;
	int rc;

	(void)attempt;
	(void)dir;
	pr->c = c;
	pr->run = run;
	pr->job = job;
	if (!c->o->clean) {
		run_image_then_restore(pr);
		return;
	}
	parent = xstrdup(ws);
	*strrchr(parent, '/') = '\0';
	rc = pw_remove_tree(ws);
	if (rc == 0 || rc == -ENOENT)
		rc = pw_mkdirs(parent, 0755);
	if (rc == 0)
		rc = scm_workspace(c->scm, &req, on_workspace, pr);
	free(parent);
	if (rc < 0) {
		why = xasprintf("cannot prepare the workspace %s: %s", ws,
				strerror(-rc));
		rc = sched_attempt_fail(run, job, why);
		(void)rc;
		free(why);
		free(pr);
	}
}

static char *
first_line(const char *s, size_t len)
{
	size_t n = 0;

	while (n < len && s[n] != '\n' && s[n] != '\r')
		n++;
	return n > 0 ? xstrndup(s, n) : NULL;
}

static void
on_git(int status, const char *out, size_t len, void *arg)
{
	struct git_query *q = arg;
	struct run_cli *c = q->c;

	if (status == 0 && *q->dst == NULL)
		*q->dst = first_line(out, len);
	free(q);
	if (--c->git_pending == 0)
		start_run(c);
}

/* Asks git what it knows about HEAD; unknown things stay NULL. */
static void
ask_git(struct run_cli *c)
{
	static const char *const queries[][5] = {
		{"git", "rev-parse", "--verify", "-q", "HEAD"},
		{"git", "symbolic-ref", "--short", "-q", "HEAD"},
		{"git", "tag", "--points-at", "HEAD", NULL},
		{"git", "status", "--porcelain", NULL, NULL},
	};
	char **dsts[] = {&c->commit, &c->branch, &c->tag, &c->dirty};
	size_t i, k, n = 0;

	/*
	 * Ours, and the checkout's owner's repository: run as root (the
	 * strict sandbox), git would refuse it as of dubious ownership.
	 */
	for (i = 0; environ[i] != NULL; i++)
		;
	c->git_env = xcalloc(i + 4, sizeof(char *));
	for (i = 0; environ[i] != NULL; i++)
		if (strncmp(environ[i], "GIT_CONFIG_", 11) != 0)
			c->git_env[n++] = environ[i];
	c->git_env[n++] = "GIT_CONFIG_COUNT=1";
	c->git_env[n++] = "GIT_CONFIG_KEY_0=safe.directory";
	c->git_env[n++] = "GIT_CONFIG_VALUE_0=*";
	c->git_pending = 1; /* held until every query is sent */
	for (i = 0; i < PW_ARRAY_LEN(queries); i++) {
		struct git_query *q = xcalloc(1, sizeof(*q));

		q->c = c;
		q->dst = dsts[i];
		for (k = 0; k < 5; k++)
			q->argv[k] = queries[i][k];
		c->git_pending++;
		if (exec_helper(c->exec, q->argv, c->workspace,
				(const char *const *)c->git_env,
				GIT_OUTPUT_MAX, on_git, q) < 0) {
			c->git_pending--; /* no git: nothing known */
			free(q);
		}
	}
	if (--c->git_pending == 0)
		start_run(c);
}

static void
on_event(void *arg, const struct sched_event *ev)
{
	struct run_cli *c = arg;

	term_event(c->term, ev);
	if (ev->kind == SCHED_EVENT_RUN && ev->state >= SCHED_RUN_SUCCESS) {
		c->status = ev->state == SCHED_RUN_SUCCESS ? CLI_OK :
							     CLI_FAILED;
		uv_close((uv_handle_t *)&c->sigint, NULL);
		uv_close((uv_handle_t *)&c->sigterm, NULL);
	}
}

static void
on_output(void *arg, struct sched_run *run, size_t job, int attempt,
	  const char *data, size_t len)
{
	struct run_cli *c = arg;

	(void)run;
	(void)attempt;
	term_output(c->term, job, data, len);
}

static void
on_signal(uv_signal_t *h, int signum)
{
	struct run_cli *c = h->data;

	if (c->interrupted) {
		/* The supervisors are tied to us and kill their jobs. */
		fprintf(stderr, "\npipewright: interrupted again, exiting\n");
		exit(CLI_INTERRUPTED);
	}
	c->interrupted = true;
	term_note(c->term, "interrupted (%s): stopping %d running job%s",
		  signum == SIGINT ? "SIGINT" : "SIGTERM",
		  sched_running(c->sched),
		  sched_running(c->sched) == 1 ? "" : "s");
	if (c->run != NULL && sched_run_cancel(c->run) < 0)
		return; /* already finished */
}

/*
 * The secrets the pipeline's jobs name, from our own environment ("K=V",
 * NULL-terminated; caller frees the array, not the strings).  A secret we
 * do not have is left out: the job that needs it fails saying so.
 */
static char **
collect_secrets(const struct pipeline *p)
{
	char **v = NULL;
	size_t cap = 0, n = 0, j, k, i;

	v = xgrow(v, &cap, 1, sizeof(*v));
	for (j = 0; j < pipeline_job_count(p); j++) {
		const char *const *names = pipeline_job_secrets(p, j);

		for (k = 0; names[k] != NULL; k++) {
			size_t len = strlen(names[k]);
			char *kv = NULL;

			for (i = 0; environ[i] != NULL && kv == NULL; i++)
				if (strncmp(environ[i], names[k], len) == 0 &&
				    environ[i][len] == '=')
					kv = environ[i];
			for (i = 0; kv != NULL && i < n; i++)
				if (v[i] == kv)
					kv = NULL;
			if (kv == NULL)
				continue;
			v = xgrow(v, &cap, n + 2, sizeof(*v));
			v[n++] = kv;
		}
	}
	v[n] = NULL;
	return v;
}

static void
start_sched(struct run_cli *c)
{
	char **secrets = collect_secrets(c->p);
	char *jobs_dir = NULL, *builds = NULL;
	struct sched_run_params params = {
		.id = (uint64_t)getpid(),
		.project = "local",
		.workspace = c->workspace,
		.branch = c->o->branch != NULL ? c->o->branch : c->branch,
		.tag = c->tag,
		.commit = c->commit,
		.env = (const char *const *)c->o->env,
		.skip_manual = true,
		.secrets = (const char *const *)secrets,
		/* The developer is the admin here: granted unless refused. */
		.network = !c->o->network_deny && !c->rootless,
		.network_denied = c->rootless
			? "network: `network: true` under the strict sandbox "
			  "needs root (its namespace is wired up by "
			  "slirp4netns from the host's side): run as root, or "
			  "--sandbox none"
			: "network: denied by --network deny",
		.uid = c->uid,
		.gid = c->gid,
		.rootfs = c->o->rootfs,
		.mounts = (const char *const *)c->o->mounts,
	};
	size_t i;
	int rc;

	if (c->o->clean) {
		jobs_dir = xasprintf("%s/jobs", c->tmpdir);
		builds = run_builds_path(c->workspace);
		params.jobs_dir = jobs_dir;
		params.workspace_at = builds;
	}
	rc = sched_run_create(c->sched, c->p, &params, &c->run);
	free(secrets);  /* copied */
	free(jobs_dir);
	free(builds);
	if (rc < 0) {
		fprintf(stderr, "pipewright: cannot create the run: %s\n",
			strerror(-rc));
		c->status = CLI_FAILED;
		goto fail;
	}
	c->p = NULL;
	for (i = 0; i < c->o->nonly; i++) {
		if (sched_run_only(c->run, c->o->only[i]) < 0) {
			fprintf(stderr, "pipewright: --only: no job named '%s'\n",
				c->o->only[i]);
			c->status = CLI_USAGE;
			goto fail;
		}
	}
	for (i = 0; i < c->o->napprove; i++) {
		if (sched_run_approve(c->run, c->o->approve[i]) < 0) {
			fprintf(stderr, "pipewright: --approve: no manual job "
				"named '%s'\n", c->o->approve[i]);
			c->status = CLI_USAGE;
			goto fail;
		}
	}
	if (sched_run_start(c->run) == 0)
		return;
fail:
	uv_close((uv_handle_t *)&c->sigint, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void
close_signals(struct run_cli *c)
{
	uv_close((uv_handle_t *)&c->sigint, NULL);
	uv_close((uv_handle_t *)&c->sigterm, NULL);
}

static void
on_begun(int rc, void *arg)
{
	struct run_cli *c = arg;

	if (rc < 0) {
		fprintf(stderr, "pipewright: cannot record the run for its "
			"artifacts: %s\n", strerror(-rc));
		c->status = CLI_FAILED;
		close_signals(c);
		return;
	}
	start_sched(c);
}

/* git has answered: the run starts. */
static void
start_run(struct run_cli *c)
{
	if (c->o->clean && c->commit == NULL) {
		fprintf(stderr, "pipewright: --clean: %s has no commit to check "
			"out (git rev-parse HEAD failed): commit first, or run "
			"without --clean\n", c->workspace);
		c->status = CLI_FAILED;
		close_signals(c);
		return;
	}
	/* What the server's clone would not have either: say so, once. */
	if (c->o->clean && c->dirty != NULL)
		fprintf(stderr, "pipewright: --clean: the jobs get commit %.12s "
			"as the server would; uncommitted changes in %s are "
			"left out (such as '%s': see git status)\n", c->commit,
			c->workspace, c->dirty);
	run_open_reuse(c);
	if (c->cache != NULL) {
		run_cache_begin(c->cache, c->commit, on_begun, c);
		return;
	}
	start_sched(c);
}

static bool
has_git(const char *dir)
{
	char *git = xasprintf("%s/.git", dir);
	bool yes = access(git, F_OK) == 0;

	free(git);
	return yes;
}

int
cmd_run(int argc, char **argv)
{
	struct run_opts o = {
		.file = ".pipewright.yml",
		.grace_ms = 10000,
		.sandbox = EXEC_SANDBOX_STRICT,
	};
	struct run_cli c;
	struct sched_options so;
	struct sched_callbacks cb;
	struct config_limits lim;
	const char *tmp = getenv("TMPDIR");
	char sup[PATH_MAX];
	char *err = NULL;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;

	memset(&c, 0, sizeof(c));
	c.o = &o;
	c.status = CLI_FAILED;
	rc = run_parse_opts(argc, argv, &o);
	if (rc != 0) {
		cli_usage_print(rc > 0 ? stdout : stderr, &run_usage);
		rc = rc > 0 ? CLI_OK : CLI_USAGE;
		goto out_opts;
	}
	if (o.jobs == 0)
		o.jobs = cores > 0 ? (int)cores : 1;
	if (getcwd(c.workspace, sizeof(c.workspace)) == NULL) {
		fprintf(stderr, "pipewright: cannot tell the current "
			"directory: %s\n", strerror(errno));
		rc = CLI_FAILED;
		goto out_opts;
	}
	rc = cli_load_workspace_pipeline(c.workspace, o.file, stderr, &c.p);
	if (rc != CLI_OK)
		goto out_opts;
	if (run_images_preflight(&c) < 0) {
		rc = CLI_FAILED;
		goto out_pipeline;
	}
	if (run_sandbox_preflight(&c) < 0) {
		rc = CLI_FAILED;
		goto out_pipeline;
	}
	/* Restored files are the checkout's owner's under strict (the
	 * jobs' ids or idmapped to them), else ours. */
	c.ids.uid = c.owner_uid != 0 ? (uid_t)c.owner_uid : geteuid();
	c.ids.gid = c.owner_uid != 0 ? (gid_t)c.owner_gid : getegid();
	snprintf(c.tmpdir, sizeof(c.tmpdir), "%s/pipewright-run.XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(c.tmpdir) == NULL) {
		fprintf(stderr, "pipewright: cannot create a directory in "
			"%s: %s\n", tmp != NULL ? tmp : "/tmp", strerror(errno));
		rc = CLI_FAILED;
		goto out_pipeline;
	}
	if (c.none_as_owner && chmod(c.tmpdir, 0711) < 0) {
		fprintf(stderr, "pipewright: chmod %s: %s\n", c.tmpdir,
			strerror(errno));
		rc = CLI_FAILED;
		goto out_tmp;
	}
	if (cli_supervisor_path(sup, sizeof(sup)) < 0) {
		fprintf(stderr, "pipewright: cannot find pipewright-supervisor "
			"next to this program nor at %s\n", sup);
		rc = CLI_FAILED;
		goto out_tmp;
	}

	uv_loop_init(&c.loop);
	c.term = term_create(stdout, isatty(STDOUT_FILENO), o.color, c.p);
	run_reports_create(&c.loop, c.p, &c.reports);
	rc = exec_create(&c.loop, sup, &c.exec);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", strerror(-rc));
		rc = CLI_FAILED;
		goto out_loop;
	}
	/*
	 * The server's built-in defaults bound a job that asks for nothing
	 * (a fork bomb meets the pids limit); a job may ask for more: the
	 * one running it is its own admin, so there are no ceilings.
	 */
	config_limits_builtin(&lim);
	so = (struct sched_options){
		.sandbox = o.sandbox,
		.max_jobs = o.jobs,
		.attempts_dir = c.tmpdir,
		.kill_grace_ms = o.grace_ms,
		.tied = true,
		.max_log = lim.max_log,
		.resources = {
			.memory = lim.memory.dflt,
			.pids = lim.pids.dflt,
			.cpu_seconds = lim.cpu_seconds.dflt,
		},
		.timeout_ms = lim.timeout_ms.dflt,
	};
	cb = (struct sched_callbacks){
		.event = on_event,
		.output = on_output,
		/* Both set: with neither --clean nor caches they proceed. */
		.attempt_prepare = on_prepare,
		.attempt_finish = on_finish,
		.arg = &c,
	};
	if (run_open_images(&c) < 0) {
		rc = CLI_FAILED;
		goto out_exec;
	}
	if (o.clean) {
		char *mirrors = xasprintf("%s/git", c.tmpdir);

		rc = scm_create(&c.loop, c.exec, mirrors, &c.scm);
		free(mirrors);
		if (rc < 0) {
			fprintf(stderr, "pipewright: %s\n", strerror(-rc));
			rc = CLI_FAILED;
			goto out_exec;
		}
	}
	rc = sched_create(&c.loop, c.exec, &so, &cb, &c.sched);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", strerror(-rc));
		rc = CLI_FAILED;
		goto out_exec;
	}
	/* git fetches from the top of the checkout, where .git is. */
	if (o.clean && !has_git(c.workspace)) {
		fprintf(stderr, "pipewright: --clean: %s is not the top of a git "
			"checkout (no .git there)\n", c.workspace);
		rc = CLI_FAILED;
		sched_destroy(c.sched);
		goto out_exec;
	}
	/*
	 * A network namespace ready for each parallel job, and one spare;
	 * started once nothing above can fail, since its helper process
	 * must not be left behind by an early exit.
	 */
	if (o.sandbox == EXEC_SANDBOX_STRICT && !c.rootless &&
	    exec_netns_pool(c.exec, o.jobs < 15 ? (size_t)o.jobs + 1 : 16) < 0)
		fprintf(stderr, "pipewright: no network namespace pool; each "
			"job makes its own\n");
	if (o.supervisor_pool > 0 &&
	    exec_supervisor_pool(c.exec, o.supervisor_pool) < 0)
		fprintf(stderr, "pipewright: no supervisor pool; each job "
			"starts its own\n");
	uv_signal_init(&c.loop, &c.sigint);
	uv_signal_init(&c.loop, &c.sigterm);
	c.sigint.data = c.sigterm.data = &c;
	uv_signal_start(&c.sigint, on_signal, SIGINT);
	uv_signal_start(&c.sigterm, on_signal, SIGTERM);

	ask_git(&c);
	uv_run(&c.loop, UV_RUN_DEFAULT);

	if (c.run != NULL && sched_run_finished(c.run)) {
		term_summary(c.term, c.run);
		run_reports_summary(c.reports, stdout);
	}
	rc = c.interrupted ? CLI_INTERRUPTED : c.status;
	if (run_cache_close(c.cache, rc == CLI_OK, &err) < 0) {
		fprintf(stderr, "pipewright: %s\n", err);
		free(err);
	}
	sched_run_destroy(c.run);
	sched_destroy(c.sched);
	while (c.nuses > 0)
		image_use_release(c.uses[--c.nuses]);
	free(c.uses);
out_exec:
	image_cache_destroy(c.images);
	if (c.scm != NULL)
		scm_destroy(c.scm);
	if (c.exec != NULL && o.supervisor_pool > 0 &&
	    exec_supervisor_pool(c.exec, 0) == 0)
		uv_run(&c.loop, UV_RUN_DEFAULT);  /* its supervisors reaped */
	exec_destroy(c.exec);
out_loop:
	term_destroy(c.term);
	run_reports_destroy(c.reports);
	if (uv_loop_close(&c.loop) != 0)
		fprintf(stderr, "pipewright: internal error: handles left "
			"open at exit\n");
out_tmp:
	pw_remove_tree(c.tmpdir);
out_pipeline:
	pipeline_destroy(c.p);
	free(c.git_env);
	free(c.branch);
	free(c.commit);
	free(c.tag);
	free(c.dirty);
out_opts:
	free(o.only);
	free(o.approve);
	free(o.env);
	free(o.mounts);
	while (o.nregs > 0)
		free((char *)o.regs[--o.nregs].host);
	free(o.regs);
	return rc;
}
