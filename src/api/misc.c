/*
 * The endpoints around the API: health and readiness, Prometheus metrics,
 * status badges and the OpenAPI document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "pipewright/sched.h"

void
api_healthz(struct http_request *req, void *arg)
{
	(void)arg;
	http_respond_json(req, 200, "{\"status\":\"ok\"}");
}

void
api_readyz(struct http_request *req, void *arg)
{
	struct api *a = arg;
	int rc;

	if (daemon_ready(a->d)) {
		http_respond_json(req, 200, "{\"status\":\"ready\"}");
		return;
	}
	/* Say why: an operator reads this when the probe fails. */
	rc = store_check(daemon_store(a->d));
	if (rc < 0)
		http_respond_error(req, 503, "unavailable",
				   "not ready: %s; it recovers by itself once "
				   "fixed", store_strerror(rc));
	else
		http_respond_error(req, 503, "unavailable",
				   "not ready: the daemon is shutting down");
}

/* Label values in the exposition format: \, " and newline escaped. */
static void
label(struct buf *b, const char *s)
{
	int rc = 0;

	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			rc |= buf_printf(b, "\\%c", *s);
		else if (*s == '\n')
			rc |= buf_append(b, "\\n", 2);
		else
			rc |= buf_append(b, s, 1);
	}
	(void)rc;
}

/* One job's histogram: cumulative buckets, +Inf, sum and count. */
static void
duration_series(struct buf *b, const struct daemon_duration *s)
{
	static const char *const kinds[] = {"_sum", "_count"};
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(daemon_duration_bounds); i++) {
		cum += s->buckets[i];
		buf_adds(b, "pipewright_job_duration_seconds_bucket{project=\"");
		label(b, s->project);
		buf_adds(b, "\",job=\"");
		label(b, s->job);
		if (i + 1 < PW_ARRAY_LEN(daemon_duration_bounds))
			buf_addf(b, "\",le=\"%g\"} %llu\n",
				 daemon_duration_bounds[i],
				 (unsigned long long)cum);
		else
			buf_addf(b, "\",le=\"+Inf\"} %llu\n",
				 (unsigned long long)cum);
	}
	for (i = 0; i < PW_ARRAY_LEN(kinds); i++) {
		buf_addf(b, "pipewright_job_duration_seconds%s{project=\"",
			 kinds[i]);
		label(b, s->project);
		buf_adds(b, "\",job=\"");
		label(b, s->job);
		if (i == 0)
			buf_addf(b, "\"} %.3f\n", s->sum_s);
		else
			buf_addf(b, "\"} %llu\n", (unsigned long long)s->count);
	}
}

struct count_ctx {
	struct buf *b;
	uint64_t queued;
};

static void
on_count(void *arg, const char *project, const char *status, uint64_t n)
{
	struct count_ctx *c = arg;
	int rc;

	rc = buf_append(c->b, "pipewright_runs{project=\"", 25);
	label(c->b, project);
	rc |= buf_printf(c->b, "\",status=\"%s\"} %llu\n", status,
			 (unsigned long long)n);
	(void)rc;
	if (strcmp(status, "queued") == 0)
		c->queued += n;
}

void
api_metrics(struct http_request *req, void *arg)
{
	static const char *const outbox_states[] = {
		"pending", "delivered", "failed",
	};
	struct api *a = arg;
	struct daemon_stats st;
	struct store_stats ss;
	struct count_ctx c;
	struct buf b;
	size_t i;
	char *actor;
	int rc;

	/* metrics: token (the default) makes /metrics a read like the API's. */
	if (!config_metrics_public(daemon_config(a->d))) {
		if (!api_auth(a, req, AUTH_SCOPE_READ, &actor))
			return;
		free(actor);
	}
	daemon_stats(a->d, &st);
	store_stats(daemon_store(a->d), &ss);
	buf_init(&b, 0);
	c.b = &b;
	c.queued = 0;
	rc = buf_printf(&b, "# HELP pipewright_runs Runs in the history by "
			"project and status.\n# TYPE pipewright_runs gauge\n");
	rc |= store_count_runs(daemon_store(a->d), on_count, &c);
	rc |= buf_printf(&b,
		"# HELP pipewright_queue_depth Runs waiting to start.\n"
		"# TYPE pipewright_queue_depth gauge\n"
		"pipewright_queue_depth %llu\n"
		"# HELP pipewright_runs_active Runs the scheduler holds.\n"
		"# TYPE pipewright_runs_active gauge\n"
		"pipewright_runs_active %zu\n"
		"# HELP pipewright_jobs_running Jobs running now.\n"
		"# TYPE pipewright_jobs_running gauge\n"
		"pipewright_jobs_running %d\n",
		(unsigned long long)c.queued, st.runs_active, st.jobs_running);
	rc |= buf_printf(&b, "# HELP pipewright_jobs_finished_total Job "
			 "attempts finished since start, by status.\n"
			 "# TYPE pipewright_jobs_finished_total counter\n");
	for (i = SCHED_JOB_SUCCESS; i <= SCHED_JOB_LOST; i++)
		rc |= buf_printf(&b, "pipewright_jobs_finished_total{status=\"%s\"} %llu\n",
				 sched_job_state_name((enum sched_job_state)i),
				 (unsigned long long)st.jobs_finished[i]);
	rc |= buf_printf(&b, "# HELP pipewright_job_duration_seconds How long "
			 "job attempts ran, by project and job.\n"
			 "# TYPE pipewright_job_duration_seconds histogram\n");
	for (i = 0; i < st.ndurations; i++)
		duration_series(&b, &st.durations[i]);
	rc |= buf_printf(&b, "# HELP pipewright_log_bytes_total Job output "
			 "bytes received since start.\n"
			 "# TYPE pipewright_log_bytes_total counter\n"
			 "pipewright_log_bytes_total %llu\n",
			 (unsigned long long)st.log_bytes);
	rc |= buf_printf(&b, "# HELP pipewright_store_commits_total Store "
			 "transactions committed.\n"
			 "# TYPE pipewright_store_commits_total counter\n"
			 "pipewright_store_commits_total %llu\n"
			 "# HELP pipewright_store_commit_failures_total Store "
			 "transactions that failed.\n"
			 "# TYPE pipewright_store_commit_failures_total counter\n"
			 "pipewright_store_commit_failures_total %llu\n",
			 (unsigned long long)ss.commits,
			 (unsigned long long)ss.commit_failures);
	rc |= buf_printf(&b, "# HELP pipewright_outbox Outbound calls (commit "
			 "statuses) by state.\n# TYPE pipewright_outbox gauge\n");
	for (i = 0; i < PW_ARRAY_LEN(outbox_states); i++) {
		uint64_t n = 0;

		if (store_outbox_count(daemon_store(a->d), outbox_states[i], &n) == 0)
			rc |= buf_printf(&b, "pipewright_outbox{state=\"%s\"} %llu\n",
					 outbox_states[i], (unsigned long long)n);
	}
	rc |= buf_printf(&b, "# HELP pipewright_http_requests_total HTTP "
			 "requests answered, by route and status.\n"
			 "# TYPE pipewright_http_requests_total counter\n");
	for (i = 0; i < a->ncounts; i++) {
		rc |= buf_append(&b, "pipewright_http_requests_total{route=\"", 38);
		label(&b, a->counts[i].route);
		rc |= buf_printf(&b, "\",status=\"%d\"} %llu\n",
				 a->counts[i].status,
				 (unsigned long long)a->counts[i].n);
	}
	(void)rc; /* unlimited buffer; a failed count only leaves it out */
	http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
		     b.data, b.len);
	buf_free(&b);
}

void
api_badge(struct http_request *req, void *arg)
{
	static const char *const no_cache[] = {"Cache-Control: no-cache", NULL};
	struct api *a = arg;
	const char *file = http_request_param(req, "file");
	const char *branch = http_request_query(req, "branch");
	const char *status = "unknown", *colour = "#9f9f9f";
	struct store_run *r = NULL;
	const struct config_project *p = NULL;
	size_t len = strlen(file);
	char *project, *svg, *actor;

	project = len > 4 && strcmp(file + len - 4, ".svg") == 0 ?
		  xstrndup(file, len - 4) : NULL;
	if (project != NULL)
		p = config_project_find(daemon_config(a->d), project);
	/*
	 * A project's badge is public unless it says `badge: token`.  The
	 * others (and names that are no project, so that a 404 does not tell
	 * which names exist) need what any read needs.
	 */
	if (p == NULL || !config_project_badge_public(p)) {
		if (!api_auth(a, req, AUTH_SCOPE_READ, &actor)) {
			free(project);
			return;
		}
		free(actor);
	}
	if (project == NULL) {
		http_respond_error(req, 404, "not_found",
				   "badges are /badge/PROJECT.svg");
		return;
	}
	if (p == NULL) {
		http_respond_error(req, 404, "not_found", "no project '%s'",
				   project);
		free(project);
		return;
	}
	if (store_run_latest_finished(daemon_store(a->d), project,
				      branch != NULL && *branch != '\0' ? branch :
									 NULL,
				      &r) == 0) {
		status = r->status;
		colour = strcmp(status, "success") == 0 ? "#4c1" :
			 strcmp(status, "failed") == 0	? "#e05d44" :
							  "#9f9f9f";
	}
	svg = xasprintf(
		"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"150\" "
		"height=\"20\" role=\"img\" aria-label=\"pipewright: %s\">"
		"<rect width=\"70\" height=\"20\" fill=\"#555\"/>"
		"<rect x=\"70\" width=\"80\" height=\"20\" fill=\"%s\"/>"
		"<g fill=\"#fff\" font-family=\"Verdana,sans-serif\" "
		"font-size=\"11\" text-anchor=\"middle\">"
		"<text x=\"35\" y=\"14\">pipewright</text>"
		"<text x=\"110\" y=\"14\">%s</text></g></svg>\n",
		status, colour, status);
	http_respond(req, 200, "image/svg+xml", no_cache, svg, strlen(svg));
	free(svg);
	free(project);
	store_run_free(r);
}

void
api_openapi(struct http_request *req, void *arg)
{
	(void)arg;
	http_respond(req, 200, "application/json", NULL, api_openapi_json,
		     api_openapi_json_len);
}
