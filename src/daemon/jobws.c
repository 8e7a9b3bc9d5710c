/*
 * A job attempt's own workspace, made before its supervisor starts.
 *
 *   workspaces/<run>/             the run's directory (its file system
 *                                 when limits.workspace makes one, so the
 *                                 limit covers all of its jobs), made
 *                                 when its first job starts or, ahead,
 *                                 when it is next in line for a slot;
 *                                 a run further back in the queue holds
 *                                 none
 *   workspaces/<run>/checkout/    the run's commit: the pipeline is read
 *                                 from it, and jobs are checked out of it
 *   workspaces/<run>/jobs/<idx>/  job idx's workspace, made afresh for
 *                                 each attempt
 *
 * Each attempt (a retry, a rerun) gets a fresh workspace: what an earlier
 * attempt or another job left is gone, and what a job needs from another
 * comes as that job's artifacts.  For a project with a repository it is
 * the run's commit fetched from the run's checkout (scm_workspace: a
 * repository of its own, files at their commit times, handed to the
 * run's job uid); for a project whose pipeline is the server's, an empty
 * directory of the job uid's.  Removing the previous attempt's tree, the
 * checkout, and a failed checkout's tree all run off the loop.  git works
 * under another name (<idx>.co-<n>), renamed into place once complete, as
 * for the run's checkout: a git a killed daemon left running never writes
 * into the workspace the next attempt gets (leftovers go with the run).
 * An attempt a restarted daemon takes up is never prepared again: it
 * keeps working where it was.  A handover waits until no workspace is
 * being made (handover.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/scm.h"

struct jobws {
	struct daemon *d;
	uint64_t run;
	size_t job;
	char *ws;                 /* the job's workspace, host path */
	char *tmp;                /* where git works, renamed to ws */
	char *source;             /* the run's checkout; NULL: start empty */
	char *sha;
	uint32_t uid;             /* strict: the job's; 0: none */
	int rc;                   /* the worker's */
	char *why;                /* a failed checkout's, once tmp is gone */
	uv_work_t work;
	jobws_cb cb;
	void *arg;
	struct jobws *next;       /* in its run's ws_waiting */
};

static void
jobws_end(struct jobws *w, int rc, const char *why)
{
	w->d->jobws_active--;
	w->cb(rc, why, w->arg);
	free(w->ws);
	free(w->tmp);
	free(w->source);
	free(w->sha);
	free(w->why);
	free(w);
}

/* A failed checkout's tree goes off the loop (it may be most of one). */
static void
drop_tmp_work(uv_work_t *req)
{
	struct jobws *w = container_of(req, struct jobws, work);

	pw_remove_tree(w->tmp);
}

static void
drop_tmp_done(uv_work_t *req, int status)
{
	struct jobws *w = container_of(req, struct jobws, work);

	(void)status;
	jobws_end(w, w->rc, w->why);
}

static void
fail_checkout(struct jobws *w, int rc, char *why)
{
	w->rc = rc;
	w->why = why;
	if (uv_queue_work(&w->d->loop, &w->work, drop_tmp_work,
			  drop_tmp_done) < 0) {
		drop_tmp_work(&w->work);
		drop_tmp_done(&w->work, 0);
	}
}

/* The previous attempt's tree goes; the parent is made; empty or not. */
static void
clear_work(uv_work_t *req)
{
	struct jobws *w = container_of(req, struct jobws, work);
	char *parent = xstrdup(w->ws), *slash = strrchr(parent, '/');
	int rc;

	*slash = '\0';
	rc = pw_remove_tree(w->ws);
	if (rc == 0 || rc == -ENOENT)
		rc = pw_mkdirs(parent, 0755);
	if (rc == 0 && w->source == NULL) {
		if (mkdir(w->ws, 0755) < 0)
			rc = -errno;
		else if (w->uid != 0 && chown(w->ws, w->uid, w->uid) < 0)
			rc = -errno;
	}
	free(parent);
	w->rc = rc;
}

static void
on_checked_out(int rc, const char *log, size_t len, void *arg)
{
	struct jobws *w = arg;
	const char *last = log, *p;
	char *why = NULL;

	/* Only a complete checkout takes the workspace's name. */
	if (rc == 0 && rename(w->tmp, w->ws) < 0) {
		rc = -errno;
		why = xasprintf("cannot prepare the workspace: rename %s: %s",
				w->tmp, strerror(errno));
		fail_checkout(w, rc, why);
		return;
	}
	if (rc == 0) {
		jobws_end(w, 0, NULL);
		return;
	}
	/* git's last line says what failed; the whole log is the daemon's. */
	for (p = log; len > 0 && p < log + len - 1; p++)
		if (*p == '\n')
			last = p + 1;
	log_warnx("run=%llu job=%zu: cannot check out its workspace %s:\n%.*s",
		  (unsigned long long)w->run, w->job, w->ws, (int)len, log);
	why = xasprintf("cannot prepare the workspace: %.*s",
			(int)strcspn(last, "\n"), last);
	fail_checkout(w, rc, why);
}

static void
clear_done(uv_work_t *req, int status)
{
	struct jobws *w = container_of(req, struct jobws, work);
	struct scm_workspace_request sreq = {
		.source = w->source,
		.sha = w->sha,
		.workspace = w->tmp,
		.uid = w->uid,
		.gid = w->uid,
	};
	char *why;
	int rc = status < 0 ? status : w->rc;

	if (rc == 0 && w->source != NULL)
		rc = scm_workspace(w->d->scm, &sreq, on_checked_out, w);
	if (rc < 0) {
		why = xasprintf("cannot prepare the workspace %s: %s", w->ws,
				strerror(-rc));
		jobws_end(w, rc, why);
		free(why);
	} else if (w->source == NULL) {
		jobws_end(w, 0, NULL);
	}
}

/*
 * The run's checkout: <run>/checkout, or the run's directory itself for
 * a run an older daemon checked out (its jobs shared that workspace).
 */
static char *
run_checkout(const struct live_run *lr)
{
	char *co = xasprintf("%s/" JOBWS_CHECKOUT, lr->workspace);
	char *git = xasprintf("%s/.git", co);

	if (access(git, F_OK) < 0) {
		free(git);
		git = xasprintf("%s/.git", lr->workspace);
		if (access(git, F_OK) == 0) {
			free(co);
			co = xstrdup(lr->workspace);
		}
	}
	free(git);
	return co;
}

static struct jobws *
reverse(struct jobws *w)
{
	struct jobws *r = NULL, *next;

	for (; w != NULL; w = next) {
		next = w->next;
		w->next = r;
		r = w;
	}
	return r;
}

static void
jobws_go(struct jobws *w)
{
	int rc = uv_queue_work(&w->d->loop, &w->work, clear_work, clear_done);

	if (rc < 0)
		jobws_end(w, rc, "cannot prepare the workspace: no worker");
}

/* The runs next in line whose workspaces are made ahead: at most this. */
#define AHEAD_MAX 8

/* A run's workspace being made; the run is found again by its id. */
struct run_ws {
	struct daemon *d;
	uint64_t run;
	char *workspace;
};

/*
 * The run's workspace is made (rc 0) or not: the jobs' workspaces that
 * waited for it go on, or their attempts fail with the reason (retry
 * applies; the next attempt tries to make it again).  A run made ahead
 * may have ended meanwhile (cancelled while queued): what was made for
 * it goes with its end's cleanup, which waits for this (record.c), so
 * that a rerun never makes the same workspace while this one is made.
 */
static void
run_ws_made(int rc, void *arg)
{
	struct run_ws *m = arg;
	struct daemon *d = m->d;
	struct live_run *lr = live_run_find(d, m->run);
	struct jobws *w, *next;
	char *why = NULL;

	d->jobws_active--;
	if (lr != NULL && lr->ws == RUN_WS_MAKING &&
	    sched_run_finished(lr->run)) {
		/*
		 * Its end's cleanup takes what was made: now, if the end is
		 * stored (the run waited for this, record.c), else when it is.
		 */
		lr->ws = RUN_WS_FRESH;
		free(m->workspace);
		free(m);
		if (lr->ws_gone)
			record_run_gone(d, lr);
		else
			daemon_run_gone(d);
		return;
	}
	if (lr == NULL || lr->ws != RUN_WS_MAKING) {
		if (rc == 0 && (lr == NULL || sched_run_finished(lr->run))) {
			wsfs_release(m->workspace);
			pw_remove_tree(m->workspace);
		}
		free(m->workspace);
		free(m);
		daemon_run_gone(d);
		return;
	}
	free(m->workspace);
	free(m);
	w = lr->ws_waiting;
	lr->ws_waiting = NULL;
	lr->ws = rc < 0 ? RUN_WS_FRESH : RUN_WS_READY;
	if (rc < 0) {
		log_warnx("run=%llu: cannot prepare its workspace %s: %s",
			  (unsigned long long)lr->id, lr->workspace,
			  strerror(-rc));
		why = xasprintf("cannot prepare the run's workspace: %s",
				strerror(-rc));
	}
	/* In the order they came: file order within the run. */
	for (w = reverse(w); w != NULL; w = next) {
		next = w->next;
		w->next = NULL;
		if (rc < 0)
			jobws_end(w, rc, why);
		else
			jobws_go(w);
	}
	free(why);
	daemon_run_gone(d);
}

/*
 * A fresh run directory (whatever an earlier daemon left of it goes), or
 * under a size limit a file system of its own (wsfs.c, off the loop).
 * The run's job uid is given it at its jobs' start (jobids.c).  Counted
 * with the jobs' workspaces: a handover waits for it.
 */
static void
run_ws_make(struct daemon *d, struct live_run *lr)
{
	uint64_t size = wsfs_size(config_project_find(d->config, lr->project));
	struct run_ws *m = xcalloc(1, sizeof(*m));

	m->d = d;
	m->run = lr->id;
	m->workspace = xstrdup(lr->workspace);
	lr->ws = RUN_WS_MAKING;
	d->jobws_active++;
	if (size != 0) {
		wsfs_prepare(d, lr->workspace, size, run_ws_made, m);
		return;
	}
	pw_remove_tree(lr->workspace);
	run_ws_made(pw_mkdirs(lr->workspace, 0755), m);
}

/*
 * The runs next in line for a slot (as many as there are slots) get their
 * workspaces now, so that their first job does not wait for a file
 * system to be made; the rest of the queue holds none.
 */
static void
make_ahead(struct daemon *d)
{
	struct sched_run *next[AHEAD_MAX];
	size_t n = config_max_jobs(d->config), i;
	struct live_run *lr;

	n = sched_queued_next(d->sched, next, n < AHEAD_MAX ? n : AHEAD_MAX);
	for (i = 0; i < n; i++) {
		lr = live_run_of(d, next[i]);
		if (lr != NULL && lr->ws == RUN_WS_FRESH)
			run_ws_make(d, lr);
	}
}

void
jobws_prepare(struct daemon *d, struct live_run *lr, size_t job,
	      jobws_cb cb, void *arg)
{
	const struct config_project *proj =
		config_project_find(d->config, lr->project);
	const char *ws = sched_attempt_workspace(lr->run, job);
	struct jobws *w;

	if (ws == NULL) {
		cb(-EINVAL, "no such job", arg);
		return;
	}
	w = xcalloc(1, sizeof(*w));
	w->d = d;
	w->run = lr->id;
	w->job = job;
	w->ws = xstrdup(ws);
	w->uid = sched_run_sandbox(lr->run) == EXEC_SANDBOX_STRICT ?
			 lr->job_uid : 0;
	if (proj != NULL && config_project_repo(proj) != NULL &&
	    lr->commit != NULL) {
		w->source = run_checkout(lr);
		w->sha = xstrdup(lr->commit);
		w->tmp = xasprintf("%s" FILES_CHECKOUT_INFIX "%llx", ws,
				   (unsigned long long)uv_hrtime());
	}
	w->cb = cb;
	w->arg = arg;
	d->jobws_active++;
	if (lr->ws != RUN_WS_READY) {
		/* The run's own workspace first: made once, for all its jobs. */
		w->next = lr->ws_waiting;
		lr->ws_waiting = w;
		if (lr->ws == RUN_WS_FRESH)
			run_ws_make(d, lr);
	} else {
		jobws_go(w);
	}
	/* A job starts: the next runs in line get ready behind it. */
	make_ahead(d);
}
