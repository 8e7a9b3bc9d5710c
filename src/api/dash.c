/*
 * Endpoints the dashboard reads: runs across projects, a run's pipeline
 * snapshot, job durations with their percentiles, and the daemon's
 * status (readiness, queue, slots, store size) on one page.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

static const char *
nonempty(const char *s)
{
	return s != NULL && *s != '\0' ? s : NULL;
}

void
api_runs_across(struct api *a, struct http_request *req, const char *actor)
{
	const char *st[API_RUN_STATUSES + 1];
	struct store_run_filter f = {0};
	struct store_run **runs = NULL;
	size_t n = 0, i;
	uint64_t next = 0;
	char *copy;
	cJSON *o, *items;
	int rc;

	(void)actor;
	f.project = nonempty(http_request_query(req, "project"));
	f.branch = nonempty(http_request_query(req, "branch"));
	f.trigger = nonempty(http_request_query(req, "trigger"));
	if (f.project != NULL &&
	    config_project_find(api_config(a), f.project) == NULL) {
		http_respond_error(req, 404, "not_found", "no project '%s'",
				   f.project);
		return;
	}
	if (!api_paging(req, 50, &f.limit, &f.before))
		return;
	if (!api_statuses(req, st, &copy, &f.status)) {
		free(copy);
		return;
	}
	rc = store_runs_across(a->env.store, &f, &runs, &n, &next);
	free(copy);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the runs");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(items, api_run_json(a, runs[i], false));
	api_add_cursor(o, next);
	store_runs_free(runs, n);
	api_respond_tree(req, 200, o);
}

void
api_run_pipeline(struct api *a, struct http_request *req, const char *actor)
{
	static const char *const hdrs[] = {"X-Content-Type-Options: nosniff",
					   NULL};
	struct store_run *r;
	uint64_t id;

	(void)actor;
	if (!api_read_run(a, req, &id, &r))
		return;
	if (r->pipeline == NULL) {
		http_respond_error(req, 404, "not_found", "run %llu has no "
				   "pipeline snapshot (it was not read)",
				   (unsigned long long)id);
	} else {
		/* YAML as the repository had it: text, never rendered. */
		http_respond(req, 200, "text/plain; charset=utf-8", hdrs,
			     r->pipeline, r->pipeline_len);
	}
	store_run_free(r);
}

static int
cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;

	return a < b ? -1 : a > b;
}

/* The nearest-rank percentile p (0..100) of n sorted values. */
static uint64_t
percentile(const uint64_t *v, size_t n, unsigned p)
{
	size_t rank = (p * n + 99) / 100;

	return v[rank > 0 ? rank - 1 : 0];
}

static int
job_json(struct api *a, const char *project, const char *job, size_t last,
	 cJSON *items)
{
	struct store_duration *d = NULL;
	uint64_t *ms;
	size_t n = 0, i;
	cJSON *it, *samples;
	int rc;

	rc = store_job_durations(a->env.store, project, job, last, &d, &n);
	if (rc < 0)
		return rc;
	it = cJSON_CreateObject();
	cJSON_AddStringToObject(it, "job", job);
	samples = cJSON_AddArrayToObject(it, "durations");
	ms = xcalloc(n + 1, sizeof(*ms));
	for (i = 0; i < n; i++) {
		cJSON *s = cJSON_CreateObject();

		ms[i] = d[i].finished_at - d[i].started_at;
		cJSON_AddNumberToObject(s, "run", (double)d[i].run);
		cJSON_AddNumberToObject(s, "attempt", d[i].attempt);
		cJSON_AddItemToObject(s, "finished_at",
				      api_time(d[i].finished_at));
		cJSON_AddNumberToObject(s, "ms", (double)ms[i]);
		cJSON_AddItemToArray(samples, s);
	}
	cJSON_AddNumberToObject(it, "count", (double)n);
	qsort(ms, n, sizeof(*ms), cmp_u64);
	if (n > 0) {
		cJSON_AddNumberToObject(it, "p50_ms", (double)percentile(ms, n, 50));
		cJSON_AddNumberToObject(it, "p95_ms", (double)percentile(ms, n, 95));
	} else {
		cJSON_AddNullToObject(it, "p50_ms");
		cJSON_AddNullToObject(it, "p95_ms");
	}
	cJSON_AddItemToArray(items, it);
	free(ms);
	free(d);
	return 0;
}

void
api_durations(struct api *a, struct http_request *req, const char *actor)
{
	const char *project = http_request_param(req, "project");
	const char *job = nonempty(http_request_query(req, "job"));
	const char *q_last = http_request_query(req, "last");
	char **names = NULL, *end;
	size_t nnames = 0, i;
	unsigned long last = 30;
	cJSON *o, *items;
	int rc = 0;

	(void)actor;
	if (config_project_find(api_config(a), project) == NULL) {
		http_respond_error(req, 404, "not_found", "no project '%s'",
				   project);
		return;
	}
	if (q_last != NULL) {
		last = strtoul(q_last, &end, 10);
		if (*q_last == '\0' || *end != '\0' || last < 1 ||
		    last > STORE_DURATIONS_MAX) {
			http_respond_error(req, 400, "bad_request", "last must be "
					   "a number from 1 to %d, got '%s'",
					   STORE_DURATIONS_MAX, q_last);
			return;
		}
	}
	if (job == NULL &&
	    (rc = store_job_names(a->env.store, project, &names, &nnames)) < 0) {
		api_respond_errno(req, rc, "cannot read the jobs");
		return;
	}
	o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "project", project);
	cJSON_AddNumberToObject(o, "last", (double)last);
	items = cJSON_AddArrayToObject(o, "items");
	if (job != NULL)
		rc = job_json(a, project, job, last, items);
	for (i = 0; i < nnames; i++) {
		if (rc == 0)
			rc = job_json(a, project, names[i], last, items);
		free(names[i]);
	}
	free(names);
	if (rc < 0) {
		cJSON_Delete(o);
		api_respond_errno(req, rc, "cannot read the durations");
		return;
	}
	api_respond_tree(req, 200, o);
}

void
api_status(struct api *a, struct http_request *req, const char *actor)
{
	struct api_stats st;
	size_t queued = 0, running = 0;
	uint64_t bytes = 0;
	bool paused = false;
	cJSON *o;

	(void)actor;
	a->env.queue_state(a->env.ctx, &paused, &queued, &running);
	a->env.stats(a->env.ctx, &st);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "ready", a->env.ready(a->env.ctx));
	cJSON_AddBoolToObject(o, "paused", paused);
	cJSON_AddNumberToObject(o, "queued", (double)queued);
	cJSON_AddNumberToObject(o, "running", (double)running);
	cJSON_AddNumberToObject(o, "slots", st.worker_slots);
	cJSON_AddNumberToObject(o, "slots_used", st.jobs_running);
	if (store_size(a->env.store, &bytes) == 0)
		cJSON_AddNumberToObject(o, "store_bytes", (double)bytes);
	else
		cJSON_AddNullToObject(o, "store_bytes");
	cJSON_AddNumberToObject(o, "blob_bytes", (double)st.blob_bytes);
	api_respond_tree(req, 200, o);
}
