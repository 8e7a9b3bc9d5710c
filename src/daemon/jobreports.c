/*
 * The daemon's side of test reports: after an attempt that ended in a
 * result (success, failed, timed_out) of a job with `reports: {junit:
 * [...]}`, its globs are expanded with the job's environment, the files
 * found and parsed by report_gather() on a worker thread (they are the
 * job's, hence hostile, and may be large), the cases stored in writes of
 * STORE_TESTS_CHUNK cases each, so that 100,000 of them never hold up the
 * other writes for seconds (the store also finds flips there, and makes
 * the attempt's cases visible with its last part: store_tx_tests_insert),
 * and the
 * lines saying what was read (or left out, and why) added to the
 * attempt's log.  Then the attempt goes on to its artifacts and caches
 * (jobreuse_save) and is settled.
 *
 * Reports never change a job's result: a report that cannot be read is
 * a warning in the log.  A daemon that lets go of the run meanwhile (a
 * handover) leaves the attempt unsettled; the next one finishes it again
 * and stores the same cases once (the insert replaces an attempt stored
 * whole, and goes on after the parts of one stored in part).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "pipewright/glob.h"
#include "pipewright/report.h"

struct rwork {
	uv_work_t req;
	struct daemon *d;
	uint64_t run;
	size_t job;
	int attempt;
	enum sched_job_state state;
	uint64_t attempt_id;
	uint64_t from;            /* UTC ms: the step's span */
	char *root;               /* the workspace */
	char **globs;             /* expanded, NULL-terminated */
	char *project, *commit, *job_name;
	struct buf pre;           /* lines from before the worker (a glob
				     that expands badly) */
	struct report_gathered g; /* the worker's result */
	int rc;
	struct store_test_new *rows;
	size_t stored, next;      /* rows stored; after the write in flight */
};

static void
rwork_free(struct rwork *w)
{
	free(w->root);
	pw_strv_free(w->globs);
	free(w->project);
	free(w->commit);
	free(w->job_name);
	buf_free(&w->pre);
	report_gathered_free(&w->g);
	free(w->rows);
	free(w);
}

/* The log lines and the settle, whatever happened to the cases. */
static void
go_on(struct rwork *w, const char *warning)
{
	struct daemon *d = w->d;
	struct live_run *lr = live_run_find(d, w->run);
	int rc;

	d->reports_busy--;
	if (lr == NULL) {
		/* Let go of meanwhile: the next daemon finishes it. */
		rwork_free(w);
		daemon_run_gone(d);
		return;
	}
	traces_step(d, w->attempt_id, "reports", w->from, pw_now_ms(),
		    warning);
	if (w->pre.len > 0) {
		rc = sched_attempt_log(lr->run, w->job, w->pre.data,
				       w->pre.len);
		(void)rc; /* past the cap: the log says so */
	}
	if (w->g.loglen > 0) {
		rc = sched_attempt_log(lr->run, w->job, w->g.log, w->g.loglen);
		(void)rc;
	}
	if (warning != NULL) {
		char *line = xasprintf("reports: warning: %s\n", warning);

		rc = sched_attempt_log(lr->run, w->job, line, strlen(line));
		(void)rc;
		free(line);
	}
	jobreuse_save(d, lr->run, w->job, w->attempt, w->state);
	rwork_free(w);
}

static int
store_fn(struct store_tx *tx, void *arg)
{
	struct rwork *w = arg;

	/* w->stored moves only once the part is committed. */
	w->next = w->stored;
	return store_tx_tests_insert(tx, w->attempt_id, w->run, w->project,
				     w->job_name, w->commit, w->rows,
				     w->g.cases.n, pw_now_ms(), &w->next);
}

static void
stored(int rc, void *arg)
{
	struct rwork *w = arg;
	char why[160];

	if (rc == 0 && w->next < w->g.cases.n) {
		/* The next part in a write of its own: others go between. */
		w->stored = w->next;
		store_write(w->d->store, store_fn, stored, w);
		return;
	}
	if (rc < 0) {
		log_warnx("reports.store run=%llu job=%zu error=\"%s\"",
			  (unsigned long long)w->run, w->job, strerror(-rc));
		snprintf(why, sizeof(why), "the test cases could not be"
			 " stored: %s", strerror(-rc));
	}
	go_on(w, rc < 0 ? why : NULL);
}

static void
work(uv_work_t *req)
{
	struct rwork *w = container_of(req, struct rwork, req);
	struct report_limits lim;

	report_limits_default(&lim);
	w->rc = report_gather(w->root, (const char *const *)w->globs, &lim,
			      &w->g);
}

static void
worked(uv_work_t *req, int status)
{
	struct rwork *w = container_of(req, struct rwork, req);
	size_t i;

	(void)status; /* never canceled: nobody calls uv_cancel on it */
	if (w->g.cases.n == 0 || w->attempt_id == 0) {
		go_on(w, NULL);
		return;
	}
	w->rows = xcalloc(w->g.cases.n, sizeof(*w->rows));
	for (i = 0; i < w->g.cases.n; i++) {
		const struct report_case *c = &w->g.cases.v[i];

		w->rows[i] = (struct store_test_new){
			.suite = c->suite, .classname = c->classname,
			.name = c->name, .file = c->file,
			.status = report_status_name(c->status),
			.message = c->message, .duration_ms = c->duration_ms,
		};
	}
	store_write(w->d->store, store_fn, stored, w);
}

/* The globs with the job's $NAMEs expanded; a bad one is a log line. */
static char **
expand(const char *const *globs, const char *const *env, struct buf *pre)
{
	size_t n = 0, k = 0, i;
	char **out;

	while (globs[n] != NULL)
		n++;
	out = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		const char *why;
		char err[160], *s = NULL;

		if (pw_expand(globs[i], env, &s, err, sizeof(err)) < 0) {
			buf_addf(pre, "reports: warning: '%s': %s\n", globs[i],
				 err);
			continue;
		}
		if ((why = glob_path_check(s)) != NULL) {
			buf_addf(pre, "reports: warning: '%s' is '%s', which"
				 " must stay inside the workspace: %s\n",
				 globs[i], s, why);
			free(s);
			continue;
		}
		out[k++] = s;
	}
	return out;
}

bool
jobreports_start(struct daemon *d, struct sched_run *run, size_t job,
		 int attempt, enum sched_job_state state)
{
	struct live_run *lr = live_run_of(d, run);
	const struct pipeline *p = sched_run_pipeline(run);
	const char *const *globs;
	struct live_attempt *la;
	struct rwork *w;
	char **env;

	if (lr == NULL || p == NULL)
		return false;
	globs = pipeline_job_reports_junit(p, job);
	if (globs == NULL || (state != SCHED_JOB_SUCCESS &&
			      state != SCHED_JOB_FAILED &&
			      state != SCHED_JOB_TIMED_OUT))
		return false;
	w = xcalloc(1, sizeof(*w));
	w->d = d;
	w->run = lr->id;
	w->job = job;
	w->attempt = attempt;
	w->state = state;
	w->from = pw_now_ms();
	la = live_attempt_find(d, lr->id, job, attempt);
	w->attempt_id = la != NULL ? la->id : 0;
	w->root = xstrdup(sched_attempt_workspace(run, job));
	w->project = xstrdup(lr->project);
	w->commit = lr->commit != NULL ? xstrdup(lr->commit) : NULL;
	w->job_name = xstrdup(pipeline_job_name(p, job));
	buf_init(&w->pre, 0);
	env = sched_attempt_env(run, job);
	w->globs = expand(globs, (const char *const *)env, &w->pre);
	pw_strv_free(env);
	d->reports_busy++;
	if (uv_queue_work(&d->loop, &w->req, work, worked) < 0) {
		/* Only for a NULL callback: cannot happen; say so anyway. */
		go_on(w, "cannot start reading the reports");
		return true;
	}
	return true;
}
