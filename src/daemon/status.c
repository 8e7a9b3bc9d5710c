/*
 * Commit statuses back to the forge.  A run's (and with status_per_job,
 * each job's) state change becomes an outbox row in the same transaction
 * as the change itself; notify sends it later, retrying, and only the
 * newest state per (commit, context) is sent.  The rows are built here on
 * the loop thread (the configuration is read nowhere else), and carry no
 * token: notify asks for the project's auth header when it sends, and
 * whether the forge took a status, through the callbacks at the end of
 * this file, which answer from the configuration of the moment.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "pipewright/forge.h"
#include "pipewright/notify.h"

/* The run status a job state shows as, for a per-job context. */
static const char *
job_as_run_status(enum sched_job_state st)
{
	switch (st) {
	case SCHED_JOB_PENDING:
	case SCHED_JOB_READY:
	case SCHED_JOB_WAITING:
		return "queued";
	case SCHED_JOB_RUNNING:
		return "running";
	case SCHED_JOB_SUCCESS:
		return "success";
	case SCHED_JOB_CANCELED:
	case SCHED_JOB_SKIPPED:
		return "canceled";
	case SCHED_JOB_FAILED:
	case SCHED_JOB_TIMED_OUT:
	case SCHED_JOB_LOST:
		break;
	}
	return "failed";
}

/* Later states of one key win: by time, then by how far along they are. */
static uint64_t
seq_of(uint64_t time_ms, const char *status)
{
	int rank = strcmp(status, "queued") == 0 ? 0 :
		   strcmp(status, "running") == 0 ? 1 : 2;

	return time_ms * 4 + (uint64_t)rank;
}

void
status_rows_free(struct status_rows *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->rows[i].key);
		free(r->rows[i].url);
		free(r->rows[i].headers);
		free(r->rows[i].body);
		free(r->rows[i].project);
		free(r->rows[i].kind);
		free(r->rows[i].target);
	}
	free(r->rows);
	r->rows = NULL;
	r->n = 0;
}

/* What a run or job context says: its status, or why (NULL: the status). */
static void
add_row(struct daemon *d, struct status_rows *out, uint64_t run,
	const char *commit, const struct config_project *p,
	enum forge_kind kind, const char *context, const char *status,
	const char *why, uint64_t time_ms)
{
	struct forge_status fs = {
		.api_base = config_project_forge_api(p),
		.forge_repo = config_project_forge_repo(p),
		.sha = commit,
		.context = context,
		.run_status = status,
	};
	struct forge_request req;
	struct status_row *row;
	char *target, *desc;
	struct buf h;
	size_t i;
	int rc;

	fs.target_url = target = xasprintf("%s/api/v1/runs/%llu",
					   d->public_url,
					   (unsigned long long)run);
	fs.description = desc = xasprintf("pipewright run %llu: %s",
					  (unsigned long long)run,
					  why != NULL ? why : status);
	rc = forge_status_request(kind, &fs, &req);
	free(target);
	free(desc);
	if (rc < 0) {
		log_warnx("status.skipped run=%llu context=%s: cannot build the "
			  "call (%s)", (unsigned long long)run, context,
			  strerror(-rc));
		return;
	}
	out->rows = xrealloc(out->rows, (out->n + 1) * sizeof(*out->rows));
	row = &out->rows[out->n++];
	memset(row, 0, sizeof(*row));
	row->key = xasprintf("%s:%s:%s:%s", forge_kind_name(kind),
			     config_project_forge_repo(p), commit, context);
	row->seq = seq_of(time_ms, status);
	row->run = run;
	row->url = req.url;
	row->body = req.body;
	req.url = req.body = NULL;
	buf_init(&h, 0);
	for (i = 0; req.headers != NULL && req.headers[i] != NULL; i++)
		buf_addf(&h, "%s\n", req.headers[i]);
	row->headers = buf_steal(&h);
	row->project = xstrdup(config_project_name(p));
	forge_request_free(&req);
}

/*
 * "failed, 3 tests failed of 412" for a finished run (job -1) or job
 * whose attempts left test reports; NULL if they left none (or the read
 * failed: the status goes out without the counts).
 */
static char *
tests_why(struct daemon *d, uint64_t run, long job, const char *status)
{
	struct store_test_counts *c = NULL, sum = {0};
	uint64_t total, bad;
	size_t n = 0, i;
	char *why;

	if (store_tests_counts(d->store, run, &c, &n) < 0)
		return NULL;
	for (i = 0; i < n; i++) {
		if (job >= 0 && c[i].job_idx != job)
			continue;
		sum.passed += c[i].passed;
		sum.failed += c[i].failed;
		sum.error += c[i].error;
		sum.skipped += c[i].skipped;
	}
	free(c);
	total = sum.passed + sum.failed + sum.error + sum.skipped;
	bad = sum.failed + sum.error;
	if (total == 0)
		return NULL;
	if (bad > 0)
		why = xasprintf("%s, %llu test%s failed of %llu", status,
				(unsigned long long)bad, bad == 1 ? "" : "s",
				(unsigned long long)total);
	else
		why = xasprintf("%s, %llu test%s passed", status,
				(unsigned long long)sum.passed,
				sum.passed == 1 ? "" : "s");
	return why;
}

static bool
finished(enum sched_event_kind kind, int state)
{
	if (kind == SCHED_EVENT_RUN)
		return state == SCHED_RUN_SUCCESS || state == SCHED_RUN_FAILED;
	return state == SCHED_JOB_SUCCESS || state == SCHED_JOB_FAILED ||
		state == SCHED_JOB_TIMED_OUT;
}

/* The project, if its runs report statuses; NULL if not. */
static const struct config_project *
status_project(struct daemon *d, const char *project, const char *commit,
	       enum forge_kind *kind)
{
	const struct config_project *p;

	if (commit == NULL)
		return NULL;
	p = config_project_find(d->config, project);
	if (p == NULL || config_project_status_token(p) == NULL)
		return NULL;
	*kind = config_project_forge(p);
	return *kind != FORGE_GENERIC ? p : NULL;
}

static void
forge_rows_for(struct daemon *d, const struct sched_event *ev,
	       struct status_rows *out)
{
	struct live_run *lr = live_run_find(d, ev->run_id);
	const struct config_project *p;
	enum forge_kind kind;
	char *context, *why = NULL;

	out->rows = NULL;
	out->n = 0;
	p = lr != NULL ? status_project(d, lr->project, lr->commit, &kind) : NULL;
	if (p == NULL)
		return;
	if (ev->kind == SCHED_EVENT_RUN) {
		context = xasprintf("pipewright/%s", lr->project);
		if (finished(ev->kind, ev->state))
			why = tests_why(d, lr->id, -1,
					sched_run_state_name(ev->state));
		add_row(d, out, lr->id, lr->commit, p, kind, context,
			sched_run_state_name(ev->state), why, ev->time_ms);
	} else if (config_project_status_per_job(p) &&
		   ev->state != SCHED_JOB_READY) {
		context = xasprintf("pipewright/%s/%s", lr->project,
				    ev->job_name);
		if (finished(ev->kind, ev->state))
			why = tests_why(d, lr->id, (long)ev->job,
					job_as_run_status(ev->state));
		/* Pending, but not as if it were about to run. */
		add_row(d, out, lr->id, lr->commit, p, kind, context,
			job_as_run_status(ev->state),
			ev->state == SCHED_JOB_WAITING ?
				"waiting for approval" : why, ev->time_ms);
	} else {
		return;
	}
	free(why);
	free(context);
}

/* The forge's statuses, then the project's notifications. */
void
status_rows_for(struct daemon *d, const struct sched_event *ev,
		struct status_rows *out)
{
	forge_rows_for(d, ev, out);
	notices_for(d, ev, out);
}

void
status_rows_error(struct daemon *d, const char *project, uint64_t run,
		  const char *branch, const char *ref, const char *commit,
		  const char *why, struct status_rows *out)
{
	const struct config_project *p;
	enum forge_kind kind;
	char *context, *desc;

	out->rows = NULL;
	out->n = 0;
	notices_error(d, project, run, branch, ref, commit, out);
	p = status_project(d, project, commit, &kind);
	if (p == NULL)
		return;
	context = xasprintf("pipewright/%s", project);
	desc = xasprintf("error: %s", why);
	add_row(d, out, run, commit, p, kind, context, "error", desc,
		pw_now_ms());
	free(desc);
	free(context);
}

int
status_rows_put(struct store_tx *tx, const struct status_rows *r,
		uint64_t now)
{
	size_t i;
	int rc = 0;

	for (i = 0; rc == 0 && i < r->n; i++) {
		const struct status_row *row = &r->rows[i];
		struct store_outbox_new o = {
			.key = row->key,
			.seq = row->seq,
			.run = row->run,
			.method = row->kind != NULL &&
				  strcmp(row->kind, "email") == 0 ? "SMTP" :
								    "POST",
			.url = row->url,
			.headers = row->headers,
			.body = row->body,
			.project = row->project,
			.created_at = now,
			.kind = row->kind,
			.expires_at = row->expires_at,
			.target = row->target,
		};

		rc = store_tx_outbox_put(tx, &o);
	}
	return rc;
}

/* ---- notify's callbacks ---- */

/* The status token's header for a project's outbox rows, asked at send time. */
static char *
status_auth_header(void *arg, const char *project)
{
	struct daemon *d = arg;
	const struct config_project *p = config_project_find(d->config, project);
	char *h = NULL;

	if (p == NULL || config_project_status_token(p) == NULL ||
	    forge_auth_header(config_project_forge(p),
			      config_project_status_token(p), &h) < 0)
		return NULL;
	return h;
}

static bool
status_delivered(void *arg, const char *project, int http_status,
		 const char *body)
{
	struct daemon *d = arg;
	const struct config_project *p = config_project_find(d->config, project);

	if (p == NULL)
		return http_status >= 200 && http_status < 300;
	return forge_status_delivered(config_project_forge(p), http_status, body);
}

int
daemon_notify_create(struct daemon *d, char **err)
{
	struct notify_options o = {
		.auth_header = status_auth_header,
		.delivered = status_delivered,
		.target = notices_target,
		.arg = d,
	};
	int rc = notify_create(&d->loop, d->store, &o, &d->notify);

	if (rc < 0)
		*err = xasprintf("cannot start sending commit statuses: %s",
				 strerror(-rc));
	return rc;
}
