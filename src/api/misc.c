/*
 * The endpoints around the API: health and readiness, Prometheus metrics,
 * status badges and the OpenAPI document.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "pipewright/log.h"
#include "pipewright/sched.h"

void
api_healthz(struct api *a, struct http_request *req, const char *actor)
{
	(void)a;
	(void)actor;
	http_respond_json(req, 200, "{\"status\":\"ok\"}");
}

void
api_readyz(struct api *a, struct http_request *req, const char *actor)
{
	int rc;

	(void)actor;
	if (a->env.ready(a->env.ctx)) {
		http_respond_json(req, 200, "{\"status\":\"ready\"}");
		return;
	}
	/* Say why: an operator reads this when the probe fails. */
	rc = store_check(a->env.store);
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
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_addf(b, "\\%c", *s);
		else if (*s == '\n')
			buf_add(b, "\\n", 2);
		else
			buf_add(b, s, 1);
	}
}

/* One job's histogram: cumulative buckets, +Inf, sum and count. */
static void
duration_series(struct buf *b, const struct api_duration *s,
		const double *bounds)
{
	static const char *const kinds[] = {"_sum", "_count"};
	uint64_t cum = 0;
	size_t i;

	for (i = 0; i < API_DURATION_BUCKETS; i++) {
		cum += s->buckets[i];
		buf_adds(b, "pipewright_job_duration_seconds_bucket{project=\"");
		label(b, s->project);
		buf_adds(b, "\",job=\"");
		label(b, s->job);
		if (i + 1 < API_DURATION_BUCKETS)
			buf_addf(b, "\",le=\"%g\"} %llu\n", bounds[i],
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

	buf_add(c->b, "pipewright_runs{project=\"", 25);
	label(c->b, project);
	buf_addf(c->b, "\",status=\"%s\"} %llu\n", status,
		 (unsigned long long)n);
	if (strcmp(status, "queued") == 0)
		c->queued += n;
}

/* metrics: token (the default) makes /metrics a read like the API's. */
bool
api_metrics_public(struct api *a, struct http_request *req)
{
	(void)req;
	return config_metrics_public(api_config(a));
}

void
api_metrics(struct api *a, struct http_request *req, const char *actor)
{
	static const char *const outbox_states[] = {
		"pending", "delivered", "failed",
	};
	struct api_stats st;
	struct store_stats ss;
	struct count_ctx c;
	struct buf b, runs;
	size_t i;
	int rc;

	(void)actor;
	a->env.stats(a->env.ctx, &st);
	store_stats(a->env.store, &ss);
	buf_init(&b, 0);
	buf_init(&runs, 0);
	c.b = &runs;
	c.queued = 0;
	/*
	 * The run counts come from the store, which may fail to read: then
	 * they and the queue depth drawn from them are left out, rather
	 * than shown short, and the rest is still answered.
	 */
	rc = store_count_runs(a->env.store, on_count, &c);
	if (rc < 0) {
		log_warnx("metrics.runs error=\"%s\"", strerror(-rc));
		buf_addf(&b, "# pipewright_runs and pipewright_queue_depth left "
			 "out: cannot read the runs: %s\n", strerror(-rc));
	} else {
		buf_addf(&b, "# HELP pipewright_runs Runs in the history by "
			 "project and status.\n# TYPE pipewright_runs gauge\n");
		buf_add(&b, runs.data, runs.len);
		buf_addf(&b, "# HELP pipewright_queue_depth Runs waiting to "
			 "start.\n# TYPE pipewright_queue_depth gauge\n"
			 "pipewright_queue_depth %llu\n",
			 (unsigned long long)c.queued);
	}
	buf_free(&runs);
	buf_addf(&b,
		"# HELP pipewright_runs_active Runs the scheduler holds.\n"
		"# TYPE pipewright_runs_active gauge\n"
		"pipewright_runs_active %zu\n"
		"# HELP pipewright_jobs_running Jobs running now.\n"
		"# TYPE pipewright_jobs_running gauge\n"
		"pipewright_jobs_running %d\n",
		st.runs_active, st.jobs_running);
	buf_addf(&b, "# HELP pipewright_jobs_finished_total Job "
		 "attempts finished since start, by status.\n"
		 "# TYPE pipewright_jobs_finished_total counter\n");
	for (i = SCHED_JOB_SUCCESS; i <= SCHED_JOB_LOST; i++)
		buf_addf(&b, "pipewright_jobs_finished_total{status=\"%s\"} %llu\n",
			 sched_job_state_name((enum sched_job_state)i),
			 (unsigned long long)st.jobs_finished[i]);
	buf_addf(&b, "# HELP pipewright_job_duration_seconds How long "
		 "job attempts ran, by project and job.\n"
		 "# TYPE pipewright_job_duration_seconds histogram\n");
	for (i = 0; i < st.ndurations; i++)
		duration_series(&b, &st.durations[i], st.duration_bounds);
	buf_addf(&b, "# HELP pipewright_log_bytes_total Job output "
		 "bytes received since start.\n"
		 "# TYPE pipewright_log_bytes_total counter\n"
		 "pipewright_log_bytes_total %llu\n",
		 (unsigned long long)st.log_bytes);
	buf_addf(&b, "# HELP pipewright_cache_hits_total Cache restores "
		 "that found an entry.\n"
		 "# TYPE pipewright_cache_hits_total counter\n"
		 "pipewright_cache_hits_total %llu\n"
		 "# HELP pipewright_cache_misses_total Cache restores that "
		 "found none (or a corrupt one).\n"
		 "# TYPE pipewright_cache_misses_total counter\n"
		 "pipewright_cache_misses_total %llu\n"
		 "# HELP pipewright_cache_evictions_total Cache entries "
		 "evicted by retention.\n"
		 "# TYPE pipewright_cache_evictions_total counter\n"
		 "pipewright_cache_evictions_total %llu\n"
		 "# HELP pipewright_reuse_restored_bytes_total Bytes of "
		 "caches and artifacts restored into workspaces.\n"
		 "# TYPE pipewright_reuse_restored_bytes_total counter\n"
		 "pipewright_reuse_restored_bytes_total %llu\n"
		 "# HELP pipewright_reuse_saved_bytes_total Archive bytes of "
		 "caches and artifacts saved.\n"
		 "# TYPE pipewright_reuse_saved_bytes_total counter\n"
		 "pipewright_reuse_saved_bytes_total %llu\n"
		 "# HELP pipewright_blob_store_bytes The blob store's size "
		 "when retention last measured it.\n"
		 "# TYPE pipewright_blob_store_bytes gauge\n"
		 "pipewright_blob_store_bytes %llu\n",
		 (unsigned long long)st.cache_hits,
		 (unsigned long long)st.cache_misses,
		 (unsigned long long)st.cache_evictions,
		 (unsigned long long)st.reuse_bytes_restored,
		 (unsigned long long)st.reuse_bytes_saved,
		 (unsigned long long)st.blob_bytes);
	buf_addf(&b, "# HELP pipewright_store_commits_total Store "
		 "transactions committed.\n"
		 "# TYPE pipewright_store_commits_total counter\n"
		 "pipewright_store_commits_total %llu\n"
		 "# HELP pipewright_store_commit_failures_total Store "
		 "transactions that failed.\n"
		 "# TYPE pipewright_store_commit_failures_total counter\n"
		 "pipewright_store_commit_failures_total %llu\n",
		 (unsigned long long)ss.commits,
		 (unsigned long long)ss.commit_failures);
	buf_addf(&b, "# HELP pipewright_outbox Outbound calls (commit "
		 "statuses) by state.\n# TYPE pipewright_outbox gauge\n");
	for (i = 0; i < PW_ARRAY_LEN(outbox_states); i++) {
		uint64_t n = 0;

		if (store_outbox_count(a->env.store, outbox_states[i], &n) == 0)
			buf_addf(&b, "pipewright_outbox{state=\"%s\"} %llu\n",
				 outbox_states[i], (unsigned long long)n);
	}
	buf_addf(&b, "# HELP pipewright_http_requests_total HTTP "
		 "requests answered, by route and status.\n"
		 "# TYPE pipewright_http_requests_total counter\n");
	for (i = 0; i < a->ncounts; i++) {
		buf_add(&b, "pipewright_http_requests_total{route=\"", 38);
		label(&b, a->counts[i].route);
		buf_addf(&b, "\",status=\"%d\"} %llu\n",
			 a->counts[i].status,
			 (unsigned long long)a->counts[i].n);
	}
	http_respond(req, 200, "text/plain; version=0.0.4; charset=utf-8", NULL,
		     b.data, b.len);
	buf_free(&b);
}

/*
 * A project's badge is public unless it says `badge: token`.  The others
 * (and names that are no project, so that a 404 does not tell which names
 * exist) need what any read needs.
 */
bool
api_badge_public(struct api *a, struct http_request *req)
{
	const char *file = http_request_param(req, "file");
	size_t len = strlen(file);
	const struct config_project *p;
	char *project;

	if (len <= 4 || strcmp(file + len - 4, ".svg") != 0)
		return false;
	project = xstrndup(file, len - 4);
	p = config_project_find(api_config(a), project);
	free(project);
	return p != NULL && config_project_badge_public(p);
}

void
api_badge(struct api *a, struct http_request *req, const char *actor)
{
	static const char *const no_cache[] = {"Cache-Control: no-cache", NULL};
	const char *file = http_request_param(req, "file");
	const char *branch = http_request_query(req, "branch");
	const char *status = "unknown", *colour = "#9f9f9f";
	struct store_run *r = NULL;
	const struct config_project *p = NULL;
	size_t len = strlen(file);
	char *project, *svg;

	(void)actor;
	project = len > 4 && strcmp(file + len - 4, ".svg") == 0 ?
		  xstrndup(file, len - 4) : NULL;
	if (project != NULL)
		p = config_project_find(api_config(a), project);
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
	if (store_run_latest_finished(a->env.store, project,
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
api_openapi(struct api *a, struct http_request *req, const char *actor)
{
	(void)a;
	(void)actor;
	http_respond(req, 200, "application/json", NULL, api_openapi_json,
		     api_openapi_json_len);
}
