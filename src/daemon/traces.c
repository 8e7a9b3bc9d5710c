/*
 * Traces: a run is a trace, its run span (SERVER) the root, one span
 * (INTERNAL) per job attempt under it, and the attempt's timed steps
 * (queue wait, workspace, cache and artifact restore and save, script)
 * under that; semantic conventions: docs/operations.md, "Traces".
 *
 * The ids are chosen before anything is sent: the run's trace id and run
 * span id with its first attempt (or its end, for a run that had none),
 * the attempt's span id in the transaction that records the attempt, so
 * that the job's TRACEPARENT names a span that will exist.  The spans are
 * built from store rows in the transaction that ends the attempt or the
 * run and put in the outbox there (kind otlp), so a crash can lose
 * neither; notify sends them to <endpoint>/v1/traces later, retrying.
 * What the writer thread needs of the configuration is copied on the
 * loop thread first (struct traces_op): a reload never races a build.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "daemon-int.h"
#include "pipewright/notify.h"
#include "pipewright/trace.h"

#ifndef PW_VERSION_STRING
#define PW_VERSION_STRING "0"
#endif

struct traces_op {
	char *url;               /* <endpoint>/v1/traces */
	char *service;           /* service.name */
	char *public_url;        /* for the runs' URLs */
	char *node;              /* host.name */
	char *sandbox;           /* the project's sandbox mode */
	double sample;
	uint64_t max_age_ms;     /* the rows' expiry after now */
};

struct traces_op *
traces_op_new(struct daemon *d, const char *project)
{
	const char *ep = config_otel_endpoint(d->config);
	const struct config_project *p;
	struct traces_op *t;
	struct utsname u;

	if (ep == NULL)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->url = xasprintf("%s/v1/traces", ep);
	t->service = xstrdup(config_otel_service_name(d->config));
	t->public_url = xstrdup(d->public_url);
	t->node = xstrdup(uname(&u) == 0 ? u.nodename : "");
	p = project != NULL ? config_project_find(d->config, project) : NULL;
	t->sandbox = xstrdup(config_sandbox_name(p != NULL ?
			     config_project_sandbox(p) :
			     config_sandbox(d->config)));
	t->sample = config_otel_sample(d->config);
	t->max_age_ms = config_otel_max_age_ms(d->config);
	return t;
}

void
traces_op_free(struct traces_op *t)
{
	if (t == NULL)
		return;
	free(t->url);
	free(t->service);
	free(t->public_url);
	free(t->node);
	free(t->sandbox);
	free(t);
}

/* cicd.pipeline.task.run.result for a job state. */
static const char *
task_result(const char *st)
{
	if (st == NULL)
		return "error";
	if (strcmp(st, "success") == 0)
		return "success";
	if (strcmp(st, "failed") == 0)
		return "failure";
	if (strcmp(st, "timed_out") == 0)
		return "timeout";
	if (strcmp(st, "canceled") == 0)
		return "cancellation";
	if (strcmp(st, "skipped") == 0)
		return "skip";
	return "error"; /* lost: the system's failure, not the job's */
}

/* cicd.pipeline.result for a run status. */
static const char *
run_result(const char *st)
{
	if (st == NULL)
		return "error";
	if (strcmp(st, "success") == 0)
		return "success";
	if (strcmp(st, "failed") == 0)
		return "failure";
	if (strcmp(st, "canceled") == 0)
		return "cancellation";
	return "error";
}

/* The body as an outbox row of kind otlp, keyed uniquely (never coalesced). */
static int
put_row(struct store_tx *tx, const struct traces_op *t, uint64_t run,
	const char *project, const char *key, char *body, uint64_t now)
{
	struct store_outbox_new o = {
		.key = key,
		.seq = 1,
		.run = run,
		.method = "POST",
		.url = t->url,
		.headers = "Content-Type: application/json\n",
		.body = body,
		.project = project,
		.created_at = now,
		.kind = "otlp",
		.expires_at = now + t->max_age_ms,
	};
	int rc = store_tx_outbox_put(tx, &o);

	free(body);
	return rc;
}

int
traces_put_attempt(struct store_tx *tx, const struct traces_op *t,
		   uint64_t run, uint64_t attempt, uint64_t script_from,
		   uint64_t now)
{
	struct store_trace tr;
	struct trace_span *sp;
	struct trace_attr a[14];
	char span[TRACE_SPAN_HEX], runid[24], taskid[24], *url, *key;
	bool error;
	size_t i, n = 0, na = 0;
	int rc;

	if (t == NULL)
		return 0;
	if (script_from != 0) {
		/* The script: from the supervisor's start to the end. */
		struct store_step_new s = {
			.attempt = attempt,
			.span_id = span,
			.name = "script",
			.started_at = script_from,
			.finished_at = now,
		};

		trace_span_id_new(span);
		if ((rc = store_tx_step_insert(tx, &s)) < 0)
			return rc;
	}
	if ((rc = store_tx_trace_read(tx, run, attempt, &tr)) < 0)
		return rc;
	if (!trace_id_valid(tr.trace_id, 32) ||
	    !trace_id_valid(tr.attempt_span, 16) ||
	    !trace_sampled(tr.trace_id, t->sample)) {
		store_trace_free(&tr);
		return 0;
	}
	snprintf(runid, sizeof(runid), "%" PRIu64, run);
	snprintf(taskid, sizeof(taskid), "%" PRIu64, attempt);
	url = xasprintf("%s/api/v1/runs/%" PRIu64 "/jobs/%s/log?attempt=%d",
			t->public_url, run, tr.job, tr.number);
	error = strcmp(task_result(tr.attempt_status), "success") != 0 &&
		strcmp(task_result(tr.attempt_status), "skip") != 0 &&
		strcmp(task_result(tr.attempt_status), "cancellation") != 0;
	a[na++] = (struct trace_attr){"cicd.pipeline.name", TRACE_STR,
				      tr.project, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.run.id", TRACE_STR,
				      runid, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.task.name", TRACE_STR,
				      tr.job, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.task.run.id", TRACE_STR,
				      taskid, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.task.run.result",
				      TRACE_STR,
				      task_result(tr.attempt_status), 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.task.run.url.full",
				      TRACE_STR, url, 0};
	if (error)
		a[na++] = (struct trace_attr){"error.type", TRACE_STR,
					      tr.attempt_status, 0};
	a[na++] = (struct trace_attr){"pipewright.job.stage", TRACE_STR,
				      tr.stage, 0};
	a[na++] = (struct trace_attr){"pipewright.attempt.number", TRACE_INT,
				      NULL, tr.number};
	if (tr.exit_code >= 0)
		a[na++] = (struct trace_attr){"process.exit.code", TRACE_INT,
					      NULL, tr.exit_code};
	a[na++] = (struct trace_attr){"host.name", TRACE_STR, t->node, 0};
	a[na++] = (struct trace_attr){"pipewright.sandbox", TRACE_STR,
				      t->sandbox, 0};
	sp = xcalloc(tr.nsteps + 1, sizeof(*sp));
	sp[n++] = (struct trace_span){
		.trace_id = tr.trace_id,
		.span_id = tr.attempt_span,
		.parent_id = tr.span_id,
		.name = tr.job,
		.kind = TRACE_KIND_INTERNAL,
		.start_ms = tr.attempt_started,
		.end_ms = tr.attempt_finished != 0 ? tr.attempt_finished : now,
		.error = error,
		.message = error ? tr.reason : NULL,
		.attrs = a,
		.nattrs = na,
	};
	for (i = 0; i < tr.nsteps; i++)
		sp[n++] = (struct trace_span){
			.trace_id = tr.trace_id,
			.span_id = tr.steps[i].span_id,
			.parent_id = tr.attempt_span,
			.name = tr.steps[i].name,
			.kind = TRACE_KIND_INTERNAL,
			.start_ms = tr.steps[i].started_at,
			.end_ms = tr.steps[i].finished_at,
			.error = tr.steps[i].error != NULL,
			.message = tr.steps[i].error,
		};
	key = xasprintf("otlp:%" PRIu64 ":attempt:%" PRIu64, run, attempt);
	rc = put_row(tx, t, run, tr.project, key,
		     trace_otlp_json(t->service, PW_VERSION_STRING, sp, n),
		     now);
	free(key);
	free(sp);
	free(url);
	store_trace_free(&tr);
	return rc;
}

int
traces_put_run(struct store_tx *tx, const struct traces_op *t, uint64_t run,
	       uint64_t now)
{
	char trace[TRACE_ID_HEX], span[TRACE_SPAN_HEX], qspan[TRACE_SPAN_HEX];
	char got_t[TRACE_ID_HEX], got_s[TRACE_SPAN_HEX], runid[24];
	struct trace_span sp[2];
	struct trace_attr a[12];
	struct store_trace tr;
	char *url, *key, *name;
	const char *result;
	size_t na = 0, n = 0;
	int rc;

	if (t == NULL)
		return 0;
	/* A run that ended before any attempt has no ids yet. */
	trace_id_new(trace);
	trace_span_id_new(span);
	rc = store_tx_run_trace(tx, run, trace, span, got_t, got_s);
	if (rc == 0)
		rc = store_tx_trace_read(tx, run, 0, &tr);
	if (rc < 0)
		return rc;
	if (!trace_id_valid(tr.trace_id, 32) || !trace_id_valid(tr.span_id, 16) ||
	    !trace_sampled(tr.trace_id, t->sample)) {
		store_trace_free(&tr);
		return 0;
	}
	result = run_result(tr.status);
	snprintf(runid, sizeof(runid), "%" PRIu64, run);
	url = xasprintf("%s/api/v1/runs/%" PRIu64, t->public_url, run);
	name = xasprintf("RUN %s", tr.project);
	a[na++] = (struct trace_attr){"cicd.pipeline.name", TRACE_STR,
				      tr.project, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.run.id", TRACE_STR,
				      runid, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.action.name", TRACE_STR,
				      "RUN", 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.result", TRACE_STR,
				      result, 0};
	a[na++] = (struct trace_attr){"cicd.pipeline.run.url.full", TRACE_STR,
				      url, 0};
	if (strcmp(result, "failure") == 0 || strcmp(result, "error") == 0)
		a[na++] = (struct trace_attr){"error.type", TRACE_STR,
					      tr.status, 0};
	a[na++] = (struct trace_attr){"pipewright.trigger", TRACE_STR,
				      tr.trigger, 0};
	a[na++] = (struct trace_attr){"pipewright.ref", TRACE_STR, tr.ref, 0};
	a[na++] = (struct trace_attr){"vcs.ref.head.name", TRACE_STR,
				      tr.branch, 0};
	a[na++] = (struct trace_attr){"vcs.ref.head.revision", TRACE_STR,
				      tr.commit, 0};
	if (tr.pr > 0)
		a[na++] = (struct trace_attr){"vcs.change.id", TRACE_INT, NULL,
					      tr.pr};
	sp[n++] = (struct trace_span){
		.trace_id = tr.trace_id,
		.span_id = tr.span_id,
		.name = name,
		.kind = TRACE_KIND_SERVER,
		.start_ms = tr.created_at,
		.end_ms = tr.finished_at != 0 ? tr.finished_at : now,
		.error = strcmp(result, "failure") == 0 ||
			 strcmp(result, "error") == 0,
		.message = tr.status,
		.attrs = a,
		.nattrs = na,
	};
	if (tr.started_at > tr.created_at) {
		/* Queued: from the trigger to the scheduler's start. */
		trace_span_id_new(qspan);
		sp[n++] = (struct trace_span){
			.trace_id = tr.trace_id,
			.span_id = qspan,
			.parent_id = tr.span_id,
			.name = "queue",
			.kind = TRACE_KIND_INTERNAL,
			.start_ms = tr.created_at,
			.end_ms = tr.started_at,
		};
	}
	key = xasprintf("otlp:%" PRIu64 ":run", run);
	rc = put_row(tx, t, run, tr.project, key,
		     trace_otlp_json(t->service, PW_VERSION_STRING, sp, n),
		     now);
	free(key);
	free(name);
	free(url);
	store_trace_free(&tr);
	return rc;
}

void
traces_attempt_env(struct daemon *d, struct live_attempt *la,
		   const char *trace_id, const char *span_id)
{
	char tp[TRACE_PARENT_SIZE];
	int rc;

	if (config_otel_endpoint(d->config) == NULL ||
	    !trace_id_valid(trace_id, 32) || !trace_id_valid(span_id, 16))
		return;
	trace_traceparent(trace_id, span_id,
			  trace_sampled(trace_id, config_otel_sample(d->config)),
			  tp);
	rc = sched_attempt_setenv(la->lr->run, la->job, "TRACEPARENT", tp);
	if (rc < 0)
		log_warnx("trace.env run=%" PRIu64 " job=%zu: %s", la->lr->id,
			  la->job, strerror(-rc));
}

/*
 * The otel headers as configured now (a reload may have changed them);
 * a row whose endpoint is no longer the configured one is sent without
 * them, so a secret never goes to a host it was not configured for.
 */
int
traces_target(struct daemon *d, const struct store_outbox *row,
	      struct notify_target *out)
{
	const char *ep = config_otel_endpoint(d->config), *name, *value;
	size_t i, n = config_otel_header_count(d->config), len;

	memset(out, 0, sizeof(*out));
	len = ep != NULL ? strlen(ep) : 0;
	if (ep == NULL || strncmp(row->url, ep, len) != 0 ||
	    strcmp(row->url + len, "/v1/traces") != 0)
		return 0;
	out->headers = xcalloc(n + 1, sizeof(*out->headers));
	for (i = 0; i < n; i++) {
		config_otel_header(d->config, i, &name, &value);
		out->headers[i] = xasprintf("%s: %s", name, value);
	}
	return 0;
}

/* ---- steps ---- */

struct step_op {
	struct store_step_new s;
	char span[TRACE_SPAN_HEX];
	char *name, *error;
};

static int
tx_step(struct store_tx *tx, void *arg)
{
	struct step_op *o = arg;

	return store_tx_step_insert(tx, &o->s);
}

static void
step_free(void *arg)
{
	struct step_op *o = arg;

	free(o->name);
	free(o->error);
	free(o);
}

void
traces_step(struct daemon *d, uint64_t attempt, const char *name,
	    uint64_t started_ms, uint64_t finished_ms, const char *error)
{
	struct step_op *o;

	if (attempt == 0 || config_otel_endpoint(d->config) == NULL)
		return;
	o = xcalloc(1, sizeof(*o));
	trace_span_id_new(o->span);
	o->name = xstrdup(name);
	o->error = error != NULL ? xstrdup(error) : NULL;
	o->s = (struct store_step_new){
		.attempt = attempt,
		.span_id = o->span,
		.name = o->name,
		.started_at = started_ms,
		.finished_at = finished_ms,
		.error = o->error,
	};
	daemon_write(d, tx_step, o, step_free);
}
