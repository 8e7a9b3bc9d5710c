/*
 * Runs of projects with a repository: the run's workspace is filled with
 * exactly its commit (scm: the project's mirror, then a fresh repository
 * at that sha), what git said goes into the run's own log, and for a new
 * run the pipeline is read from that commit and its jobs stored before the
 * run starts.  A checkout that fails, or a pipeline with problems, ends
 * the run as `error` (git's message in the run log, the problems in the
 * run object, and, in the same transaction, an `error` commit status that
 * says why).  A rerun, an approval or a resumed run checks the same
 * commit out again into a fresh workspace before it starts.
 *
 * A webhook run of a branch or pull request is answered before anything
 * is fetched, so whether its commit is still the ref's head is decided
 * here, from the ref as just fetched: if not (a late, or a replayed old
 * push), the run ends `canceled` with "stale push" in its log and audit
 * trail, unless the project has build_every_push.  Only a run found not
 * stale supersedes older runs of its branch: an old push resent must not
 * cancel the run of the branch's current head.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/notify.h"
#include "pipewright/scm.h"

struct checkout {
	struct daemon *d;
	uint64_t run;
	char *project;
	struct live_run *lr;      /* a built run to start; NULL: a new run */
	struct store_run row;     /* a new run's parameters (owned strings) */
	struct pipeline *p;       /* a new run's pipeline, once read */
	char *workspace;          /* the run's directory */
	char *checkout;           /* <workspace>/checkout: the run's commit */
	char *tmp;                /* where git works, renamed to checkout */
	bool direct;              /* git works in checkout: the workspace is
				     a file system of its own (wsfs.c) */
	char *fetch_ref, *sha;    /* what to check out, once ready */
	char *yaml, *file, *problems;
	size_t len;
	char *log;                /* for the run's own log */
	size_t loglen;
	bool failed;
	char *why;                /* why it failed, for the commit status */
	struct status_rows st;    /* the run context's `error`, if it failed */
	struct traces_op *tr;     /* its run span, if it ends here; or NULL */
	char head[SCM_SHA_MAX + 1]; /* the ref's commit as fetched, "": unknown */
	bool want_head;           /* a webhook push or PR: is it stale? */
	bool stale;               /* its commit is not the ref's head */
	bool canceled;            /* stale and not build_every_push */
	struct checkout *next;    /* in d->checkouts until freed */
};

bool
checkout_running(struct daemon *d, uint64_t run)
{
	struct checkout *c;

	for (c = d->checkouts; c != NULL; c = c->next)
		if (c->run == run)
			return true;
	return false;
}

static void
checkout_free(struct checkout *c)
{
	struct checkout **pp;

	for (pp = &c->d->checkouts; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	pipeline_destroy(c->p);
	free(c->project);
	free(c->workspace);
	free(c->checkout);
	free(c->tmp);
	free(c->fetch_ref);
	free(c->sha);
	free(c->row.ref);
	free(c->row.branch);
	free(c->row.tag);
	free(c->row.commit);
	free(c->row.env);
	free(c->yaml);
	free(c->file);
	free(c->problems);
	free(c->log);
	free(c->why);
	status_rows_free(&c->st);
	traces_op_free(c->tr);
	free(c);
}

/* The run's log, the pipeline snapshot and jobs, or its end as an error. */
static int
tx_checked_out(struct store_tx *tx, void *arg)
{
	struct checkout *c = arg;
	const struct pipeline *p = c->p;
	size_t j, n = p != NULL ? pipeline_job_count(p) : 0;
	int rc = 0;

	if (c->loglen > 0)
		rc = store_tx_run_log_append(tx, c->run, c->log, c->loglen);
	if (rc == 0 && c->lr == NULL && c->file != NULL)
		rc = store_tx_run_set_pipeline(tx, c->run, c->file, c->yaml,
					       c->len, c->problems);
	for (j = 0; rc == 0 && j < n; j++)
		rc = store_tx_job_insert(tx, c->run, (int)j,
					 pipeline_job_name(p, j),
					 pipeline_stage(p, pipeline_job_stage(p, j)),
					 "pending");
	if (rc == 0 && c->failed)
		rc = store_tx_run_set_status(tx, c->run, "error", 0, pw_now_ms());
	if (rc == 0 && c->canceled)
		rc = store_tx_run_set_status(tx, c->run, "canceled", 0,
					     pw_now_ms());
	if (rc == 0 && c->canceled)
		rc = store_tx_event(tx, c->run, pw_now_ms(), "pipewright",
				    "cancel", "stale push");
	if (rc == 0 && c->failed)
		rc = status_rows_put(tx, &c->st, pw_now_ms());
	/* A run that ends before its jobs: its trace is its run span. */
	if (rc == 0 && (c->failed || c->canceled))
		rc = traces_put_run(tx, c->tr, c->run, pw_now_ms());
	return rc;
}

/* Appends a line to what goes into the run's log. */
static void
log_line(struct checkout *c, const char *line)
{
	size_t n = strlen(line);

	c->log = xrealloc(c->log, c->loglen + n + 1);
	memcpy(c->log + c->loglen, line, n + 1);
	c->loglen += n;
}

/*
 * Is the pushed commit still the head of the ref it was pushed to?  If
 * not, the run is stale: canceled, unless the project builds every push.
 */
static void
stale_check(struct checkout *c, const struct config_project *proj)
{
	char *line;

	if (!c->want_head || strcmp(c->head, c->row.commit) == 0)
		return;
	/* A ref the remote no longer has (a deleted branch) is no head. */
	c->stale = true;
	c->canceled = !config_project_build_every_push(proj);
	line = xasprintf("stale push: %s is at %s now, not %s; %s\n",
			 c->row.ref, c->head[0] != '\0' ? c->head :
			 "nothing (gone)", c->row.commit,
			 c->canceled ? "canceled (build_every_push: true "
				       "would build it)" :
				       "built all the same (build_every_push)");
	log_line(c, line);
	log_info("run.stale run=%llu ref=%s head=%s commit=%s%s",
		 (unsigned long long)c->run, c->row.ref,
		 c->head[0] != '\0' ? c->head : "-",
		 c->row.commit, c->canceled ? "" : " built=true");
	free(line);
}

static void
checked_out_done(int rc, void *arg)
{
	struct checkout *c = arg;
	struct daemon *d = c->d;
	const struct config_project *proj;
	struct live_run *lr = c->lr;

	daemon_note_store(d, rc);
	if (rc == 0 && (c->st.n > 0 || c->tr != NULL) && d->notify != NULL)
		notify_kick(d->notify);
	proj = config_project_find(d->config, c->project);
	if (rc < 0 || c->failed || c->canceled || proj == NULL) {
		if (rc < 0)
			log_warnx("run=%llu: cannot record its checkout: %s",
				  (unsigned long long)c->run, strerror(-rc));
		if (c->canceled && rc == 0)
			log_info("run.finished run=%llu status=canceled "
				 "reason=\"stale push\"",
				 (unsigned long long)c->run);
		else
			log_info("run.finished run=%llu status=error",
				 (unsigned long long)c->run);
		if (lr != NULL)
			live_run_free(lr);
		files_remove_run(d, c->run);
		checkout_free(c);
		daemon_run_gone(d);
		return;
	}
	if (lr == NULL) {
		rc = runs_build(d, c->p, c->run, proj, &c->row, false, &lr);
		c->p = NULL; /* the run owns it now */
		if (rc < 0) {
			checkout_free(c);
			return;
		}
		if (!c->stale)
			trigger_supersede(d, proj, c->row.branch, c->run);
	}
	runs_start(d, lr);
	checkout_free(c);
}

/* The pipeline of a new run, read from the commit just checked out. */
static void
read_pipeline(struct checkout *c, const struct config_project *proj)
{
	struct pipeline_problems pp;
	const char *path = config_project_pipeline_path(proj);
	char *line;
	int rc;

	pipeline_problems_init(&pp);
	c->file = xstrdup(path);
	rc = scm_read_file(c->checkout, path, PIPELINE_MAX_BYTES,
			   &c->yaml, &c->len);
	if (rc < 0)
		pipeline_problems_add(&pp, path, 1, 1, "%s",
				      rc == -ENOENT ?
					      "no pipeline file at this commit" :
				      rc == -EFBIG ? "the pipeline file is too large" :
						     strerror(-rc));
	else if (pipeline_parse(path, c->yaml, c->len, &c->p, &pp) < 0)
		c->p = NULL;
	else
		runs_check_ceilings(proj, &c->p, &pp);
	if (pp.count > 0) {
		c->problems = runs_problems_json(&pp);
		c->failed = true;
		c->why = xasprintf("%s has %zu problem%s", path, pp.count,
				   pp.count == 1 ? "" : "s");
		line = xasprintf("%s: the pipeline has %zu problem%s\n", path,
				 pp.count, pp.count == 1 ? "" : "s");
		log_line(c, line);
		free(line);
	}
	pipeline_problems_free(&pp);
}

static void
on_checkout(int rc, const char *log, size_t len, void *arg)
{
	struct checkout *c = arg;
	struct daemon *d = c->d;
	const struct config_project *proj =
		config_project_find(d->config, c->project);
	c->log = xmalloc(len + 1);
	memcpy(c->log, log, len);
	c->loglen = len;
	/* Only a complete checkout takes its name, in a fresh run directory. */
	if (rc == 0 && !c->direct) {
		pw_remove_tree(c->workspace);
		if (mkdir(c->workspace, 0755) < 0 ||
		    rename(c->tmp, c->checkout) < 0)
			rc = -errno;
	}
	if (rc < 0 && c->direct) {
		wsfs_release(c->workspace);
		pw_remove_tree(c->workspace);
	} else if (rc < 0) {
		pw_remove_tree(c->tmp);
	}
	if (rc == 0 && proj != NULL)
		stale_check(c, proj);
	if (rc < 0 || proj == NULL) {
		log_warnx("run=%llu: checkout failed: %s",
			  (unsigned long long)c->run, strerror(-rc));
		c->failed = true;
		c->why = rc == -ENOENT && c->fetch_ref != NULL ?
				 xasprintf("the commit is not on %s", c->fetch_ref) :
			 rc == -ETIMEDOUT ? xstrdup("the checkout timed out") :
				 xstrdup("the checkout failed");
	} else {
		/* Given to the run's job uid at its jobs' start (jobids.c). */
		if (c->lr == NULL && !c->canceled)
			read_pipeline(c, proj);
	}
	if (c->failed)
		status_rows_error(d, c->project, c->run,
				  c->lr != NULL ? c->lr->branch : c->row.branch,
				  c->lr != NULL ? c->lr->ref : c->row.ref,
				  c->sha, c->why, &c->st);
	if (c->failed || c->canceled)
		c->tr = traces_op_new(d, c->project);
	store_write(d->store, tx_checked_out, checked_out_done, c);
}

static void
checkout_go(struct checkout *c, const struct config_project *proj)
{
	struct scm_request req = {
		.project = config_project_name(proj),
		.repo = config_project_repo(proj),
		.fetch_ref = c->fetch_ref,
		.sha = c->sha,
		.workspace = c->direct ? c->checkout :
			(c->tmp = xasprintf("%s" FILES_CHECKOUT_INFIX "%llx",
					    c->workspace,
					    (unsigned long long)uv_hrtime())),
		.clone_token = config_project_clone_token(proj),
		.head = c->want_head ? c->head : NULL,
	};
	char *msg;
	int rc;

	rc = scm_checkout(c->d->scm, &req, on_checkout, c);
	if (rc < 0) {
		msg = xasprintf("cannot check out %s: %s\n", c->sha,
				strerror(-rc));
		on_checkout(rc, msg, strlen(msg), c);
		free(msg);
	}
}

/* The workspace's own file system is mounted (or could not be). */
static void
fs_ready(int rc, void *arg)
{
	struct checkout *c = arg;
	const struct config_project *proj =
		config_project_find(c->d->config, c->project);
	char *msg;

	if (rc == 0 && proj == NULL)
		rc = -ENOENT;
	if (rc < 0) {
		msg = xasprintf("cannot give the workspace its size limit:"
				" %s\n", strerror(-rc));
		on_checkout(rc, msg, strlen(msg), c);
		free(msg);
		return;
	}
	checkout_go(c, proj);
}

static void
checkout_start(struct checkout *c, const struct config_project *proj,
	       const char *ref, const char *sha)
{
	uint64_t size = wsfs_size(proj);

	c->fetch_ref = ref != NULL ? xstrdup(ref) : NULL;
	c->sha = xstrdup(sha);
	c->checkout = xasprintf("%s/" JOBWS_CHECKOUT, c->workspace);
	/* Until its result is committed (a recovery pass must not redo it). */
	c->next = c->d->checkouts;
	c->d->checkouts = c;
	if (size == 0) {
		checkout_go(c, proj);
		return;
	}
	/* git fills the mounted workspace itself: a mount point cannot be
	 * renamed into place. */
	c->direct = true;
	wsfs_prepare(c->d, c->workspace, size, fs_ready, c);
}

void
checkout_new_run(struct daemon *d, const struct config_project *proj,
		 uint64_t run, const struct store_run *row, const char *ref)
{
	struct checkout *c;

	/*
	 * Stored as queued: the daemon that takes over, or the queue's
	 * resume, checks it out (runs_release_held).
	 */
	if (d->detached)
		return;
	if (sched_paused(d->sched)) {
		size_t i;

		for (i = 0; i < d->nheld && d->held[i] != run; i++)
			;
		if (i == d->nheld) {
			d->held = xrealloc(d->held, (d->nheld + 1) *
							     sizeof(*d->held));
			d->held[d->nheld++] = run;
		}
		return;
	}
	c = xcalloc(1, sizeof(*c));
	c->d = d;
	c->run = run;
	c->project = xstrdup(config_project_name(proj));
	c->row.ref = row->ref != NULL ? xstrdup(row->ref) : NULL;
	c->row.branch = row->branch != NULL ? xstrdup(row->branch) : NULL;
	c->row.tag = row->tag != NULL ? xstrdup(row->tag) : NULL;
	c->row.commit = xstrdup(row->commit);
	c->row.env = row->env != NULL ? xstrdup(row->env) : NULL;
	c->row.fork = row->fork;
	c->row.pr = row->pr;
	c->workspace = xasprintf("%s/%llu", d->workspaces_dir,
				 (unsigned long long)run);
	/* A push to a branch or a PR moves on; a tag or an API run is
	 * built as asked. */
	c->want_head = row->trigger != NULL &&
		       strcmp(row->trigger, "webhook") == 0 && ref != NULL &&
		       (strncmp(ref, "refs/heads/", 11) == 0 || row->pr > 0);
	checkout_start(c, proj, ref, row->commit);
}

void
checkout_restart(struct daemon *d, struct live_run *lr, const char *ref,
		 const char *sha)
{
	const struct config_project *proj =
		config_project_find(d->config, lr->project);
	struct checkout *c = xcalloc(1, sizeof(*c));

	c->d = d;
	c->run = lr->id;
	c->project = xstrdup(lr->project);
	c->lr = lr;
	c->workspace = xstrdup(lr->workspace);
	checkout_start(c, proj, ref, sha);
}
