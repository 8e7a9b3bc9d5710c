/*
 * `pipewright run`'s test reports: after each attempt of a job with
 * `reports: {junit: [...]}`, the files are read and parsed on a worker
 * thread (report_gather, the daemon's reader with its limits), the lines
 * saying what was read or left out go to the job's output, and the
 * counts of each job's latest attempt are kept for one line after the
 * run's summary: "tests: 3 failed of 412, 2 skipped" and the failed
 * tests by name.  Nothing is stored: flaky tests are the server's
 * business, but a pass on a retry of a test that failed the attempt
 * before is said.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipewright/glob.h"
#include "pipewright/report.h"

#define SHOW_FAILED 20   /* failed tests named after the summary */

struct job_tests {
	size_t counts[REPORT_NSTATUS];
	size_t retried;
	char **failed;       /* "class.name" of the latest attempt, owned */
	size_t nfailed;
	bool seen;
};

struct run_reports {
	uv_loop_t *loop;
	const struct pipeline *p;
	struct job_tests *jobs;  /* by job index */
	size_t njobs;
	int busy;
};

struct rr_work {
	uv_work_t req;
	struct run_reports *rr;
	struct sched_run *run;
	size_t job;
	char *root;
	char **globs;
	struct buf pre;
	struct report_gathered g;
	void (*then)(void *arg);
	void *arg;
};

void
run_reports_create(uv_loop_t *loop, const struct pipeline *p,
		   struct run_reports **out)
{
	struct run_reports *rr = xcalloc(1, sizeof(*rr));

	rr->loop = loop;
	rr->p = p;
	rr->njobs = pipeline_job_count(p);
	rr->jobs = xcalloc(rr->njobs + 1, sizeof(*rr->jobs));
	*out = rr;
}

void
run_reports_destroy(struct run_reports *rr)
{
	size_t i;

	if (rr == NULL)
		return;
	for (i = 0; i < rr->njobs; i++)
		pw_strv_free(rr->jobs[i].failed);
	free(rr->jobs);
	free(rr);
}

static char *
test_name(const struct report_case *c)
{
	return *c->classname ? xasprintf("%s.%s", c->classname, c->name) :
		xstrdup(c->name);
}

static bool
in(char *const *v, size_t n, const char *s)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* The attempt's counts replace the job's; passes of what failed before
 * are retried. */
static void
keep(struct job_tests *jt, const struct report_cases *cs)
{
	char **failed = xcalloc(cs->n + 1, sizeof(char *));
	size_t i, nf = 0, retried = 0;

	memset(jt->counts, 0, sizeof(jt->counts));
	for (i = 0; i < cs->n; i++) {
		const struct report_case *c = &cs->v[i];
		char *name = test_name(c);

		jt->counts[c->status]++;
		if (c->status == REPORT_FAILED || c->status == REPORT_ERROR) {
			failed[nf++] = name;
			continue;
		}
		if (c->status == REPORT_PASSED &&
		    in(jt->failed, jt->nfailed, name))
			retried++;
		free(name);
	}
	pw_strv_free(jt->failed);
	jt->failed = failed;
	jt->nfailed = nf;
	jt->retried = retried;
	jt->seen = true;
}

static void
work(uv_work_t *req)
{
	struct rr_work *w = container_of(req, struct rr_work, req);
	struct report_limits lim;
	int rc;

	report_limits_default(&lim);
	rc = report_gather(w->root, (const char *const *)w->globs, &lim,
			   &w->g);
	(void)rc; /* the workspace unreadable: g->log says so */
}

static void
worked(uv_work_t *req, int status)
{
	struct rr_work *w = container_of(req, struct rr_work, req);
	int rc;

	(void)status;
	w->rr->busy--;
	if (w->pre.len > 0) {
		rc = sched_attempt_log(w->run, w->job, w->pre.data, w->pre.len);
		(void)rc; /* past the cap: the output says so */
	}
	if (w->g.loglen > 0) {
		rc = sched_attempt_log(w->run, w->job, w->g.log, w->g.loglen);
		(void)rc;
	}
	keep(&w->rr->jobs[w->job], &w->g.cases);
	if (w->rr->jobs[w->job].retried > 0) {
		char *line = xasprintf("reports: %zu test%s passed on this"
				       " retry after failing before\n",
				       w->rr->jobs[w->job].retried,
				       w->rr->jobs[w->job].retried == 1 ?
				       "" : "s");

		rc = sched_attempt_log(w->run, w->job, line, strlen(line));
		(void)rc;
		free(line);
	}
	w->then(w->arg);
	free(w->root);
	pw_strv_free(w->globs);
	buf_free(&w->pre);
	report_gathered_free(&w->g);
	free(w);
}

bool
run_reports_start(struct run_reports *rr, struct sched_run *run, size_t job,
		  enum sched_job_state state, void (*then)(void *arg),
		  void *arg)
{
	const char *const *globs = pipeline_job_reports_junit(rr->p, job);
	struct rr_work *w;
	char **env;
	size_t n = 0, k = 0, i;

	if (globs == NULL || (state != SCHED_JOB_SUCCESS &&
			      state != SCHED_JOB_FAILED &&
			      state != SCHED_JOB_TIMED_OUT))
		return false;
	w = xcalloc(1, sizeof(*w));
	w->rr = rr;
	w->run = run;
	w->job = job;
	w->then = then;
	w->arg = arg;
	w->root = xstrdup(sched_attempt_workspace(run, job));
	buf_init(&w->pre, 0);
	while (globs[n] != NULL)
		n++;
	w->globs = xcalloc(n + 1, sizeof(char *));
	env = sched_attempt_env(run, job);
	for (i = 0; i < n; i++) {
		char err[160], *s = NULL;
		const char *why;

		if (pw_expand(globs[i], (const char *const *)env, &s, err,
			      sizeof(err)) < 0) {
			buf_addf(&w->pre, "reports: warning: '%s': %s\n",
				 globs[i], err);
		} else if ((why = glob_path_check(s)) != NULL) {
			buf_addf(&w->pre, "reports: warning: '%s' is '%s',"
				 " which must stay inside the workspace: %s\n",
				 globs[i], s, why);
			free(s);
		} else {
			w->globs[k++] = s;
		}
	}
	pw_strv_free(env);
	rr->busy++;
	if (uv_queue_work(rr->loop, &w->req, work, worked) < 0)
		abort(); /* only for a NULL callback */
	return true;
}

void
run_reports_summary(const struct run_reports *rr, FILE *out)
{
	size_t c[REPORT_NSTATUS] = {0}, total = 0, bad, shown = 0, i, k;
	size_t retried = 0;
	bool any = false;

	for (i = 0; i < rr->njobs; i++) {
		if (!rr->jobs[i].seen)
			continue;
		any = true;
		for (k = 0; k < REPORT_NSTATUS; k++) {
			c[k] += rr->jobs[i].counts[k];
			total += rr->jobs[i].counts[k];
		}
		retried += rr->jobs[i].retried;
	}
	if (!any)
		return;
	bad = c[REPORT_FAILED] + c[REPORT_ERROR];
	if (bad > 0)
		fprintf(out, "tests: %zu failed of %zu", bad, total);
	else
		fprintf(out, "tests: %zu passed", c[REPORT_PASSED]);
	if (c[REPORT_SKIPPED] > 0)
		fprintf(out, ", %zu skipped", c[REPORT_SKIPPED]);
	if (retried > 0)
		fprintf(out, ", %zu passed on a retry", retried);
	fputc('\n', out);
	for (i = 0; i < rr->njobs; i++)
		for (k = 0; k < rr->jobs[i].nfailed; k++) {
			char *job = term_escape_str(pipeline_job_name(rr->p, i));
			char *name = term_escape_str(rr->jobs[i].failed[k]);

			if (shown++ < SHOW_FAILED)
				fprintf(out, "  failed: %s: %s\n", job, name);
			free(job);
			free(name);
		}
	if (shown > SHOW_FAILED)
		fprintf(out, "  and %zu more (pipewright run shows them in"
			" each job's report files)\n", shown - SHOW_FAILED);
}
