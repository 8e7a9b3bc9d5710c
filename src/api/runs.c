/*
 * Projects and runs: listing, reading, and the changes on-call engineers
 * make (trigger, cancel, rerun, approve).  A change is answered only once
 * the daemon has committed it; if the client goes away meanwhile, the
 * change still happens and nobody is answered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

/* A request waiting for a daemon change to commit. */
struct pending {
	struct api *a;
	struct http_request *req; /* NULL once the client has gone */
	int status;               /* to answer with on success */
};

static void
pending_abort(struct http_request *req, void *arg)
{
	struct pending *p = arg;

	(void)req;
	p->req = NULL;
}

static struct pending *
pending_new(struct api *a, struct http_request *req, int status)
{
	struct pending *p = xcalloc(1, sizeof(*p));

	p->a = a;
	p->req = req;
	p->status = status;
	http_request_on_abort(req, pending_abort, p);
	return p;
}

static void
pending_done(int rc, uint64_t run, const char *message, void *arg)
{
	struct pending *p = arg;

	if (p->req != NULL) {
		/* Answered now: the abort callback no longer applies. */
		http_request_on_abort(p->req, NULL, NULL);
		if (rc < 0)
			api_respond_errno(p->req, rc, message);
		else
			api_respond_run(p->a, p->req, p->status, run);
	}
	free(p);
}

/* The JSON body of a POST: NULL (and answered) if it is not an object. */
static cJSON *
json_body(struct http_request *req, bool optional)
{
	const char *ct = http_request_header(req, "Content-Type");
	size_t len;
	const char *body = http_request_body(req, &len);
	cJSON *o;

	if (len == 0 && optional)
		return cJSON_CreateObject();
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		http_respond_error(req, 415, "unsupported_media_type",
				   "expected Content-Type: application/json");
		return NULL;
	}
	o = cJSON_ParseWithLength(body, len);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		http_respond_error(req, 400, "bad_request",
				   "the body is not a JSON object");
		return NULL;
	}
	return o;
}

/*
 * "branches": each branch's newest run (the dashboard's projects view),
 * newest first; null if the store could not say.
 */
static void
add_branches(struct api *a, cJSON *it, const char *project)
{
	struct store_run **runs = NULL;
	size_t n = 0, i;
	cJSON *v;

	if (store_project_branches(a->env.store, project, 50, &runs, &n) < 0) {
		cJSON_AddNullToObject(it, "branches");
		return;
	}
	v = cJSON_AddArrayToObject(it, "branches");
	for (i = 0; i < n; i++) {
		cJSON *b = cJSON_CreateObject();

		cJSON_AddStringToObject(b, "branch", runs[i]->branch);
		cJSON_AddItemToObject(b, "run", api_run_json(a, runs[i], false));
		cJSON_AddItemToArray(v, b);
	}
	store_runs_free(runs, n);
}

void
api_projects(struct api *a, struct http_request *req, const char *actor)
{
	const struct config *c = api_config(a);
	cJSON *o, *items;
	char *url;
	size_t i;

	(void)actor;
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < config_project_count(c); i++) {
		const struct config_project *p = config_project(c, i);
		cJSON *it = cJSON_CreateObject();

		cJSON_AddStringToObject(it, "name", config_project_name(p));
		url = xasprintf("%s/api/v1/projects/%s/runs",
				api_public_url(a), config_project_name(p));
		cJSON_AddStringToObject(it, "runs_url", url);
		free(url);
		cJSON_AddNumberToObject(it, "max_jobs", config_project_max_jobs(p));
		add_branches(a, it, config_project_name(p));
		cJSON_AddItemToArray(items, it);
	}
	api_respond_tree(req, 200, o);
}

void
api_runs_list(struct api *a, struct http_request *req, const char *actor)
{
	const char *project = http_request_param(req, "project");
	struct store_run_filter f = {.project = project};
	const char *statuses[API_RUN_STATUSES + 1];
	struct store_run **runs = NULL;
	size_t n = 0, i;
	uint64_t next = 0;
	char *copy = NULL, *s;
	const char *cached;
	cJSON *o, *items;
	bool first;
	int rc;

	(void)actor;
	if (config_project_find(api_config(a), project) == NULL) {
		http_respond_error(req, 404, "not_found", "no project '%s'",
				   project);
		return;
	}
	if (!api_paging(req, 20, &f.limit, &f.before))
		return;
	if (!api_statuses(req, statuses, &copy, &f.status)) {
		free(copy);
		return;
	}
	f.branch = http_request_query(req, "branch");
	if (f.branch != NULL && *f.branch == '\0')
		f.branch = NULL;
	/* The first page, which dashboards poll, may be kept (cache.c). */
	first = f.before == 0 && f.status == NULL && f.branch == NULL;
	if (first && (cached = api_page_get(a, project, f.limit)) != NULL) {
		free(copy);
		http_respond_json(req, 200, cached);
		return;
	}
	rc = store_runs_list(a->env.store, &f, &runs, &n, &next);
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
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (first)
		api_page_put(a, project, f.limit, s);
	http_respond_json(req, 200, s);
	free(s);
}

void
api_run_get(struct api *a, struct http_request *req, const char *actor)
{
	uint64_t id;

	(void)actor;
	if (api_run_id(req, &id))
		api_respond_run(a, req, 200, id);
}

void
api_run_events(struct api *a, struct http_request *req, const char *actor)
{
	struct store_event *ev = NULL;
	struct store_run *r;
	cJSON *o, *items;
	size_t n = 0, i;
	uint64_t id;
	int rc;

	(void)actor;
	if (!api_read_run(a, req, &id, &r))
		return;
	store_run_free(r);
	rc = store_events_list(a->env.store, id, &ev, &n);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the events");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		cJSON *e = cJSON_CreateObject();

		api_audit_fields(e, ev[i].time, ev[i].actor, ev[i].action,
				 ev[i].detail);
		cJSON_AddItemToArray(items, e);
	}
	store_events_free(ev, n);
	api_respond_tree(req, 200, o);
}

void
api_run_log(struct api *a, struct http_request *req, const char *actor)
{
	struct store_run *r;
	struct buf b;
	uint64_t id;
	int rc;

	(void)actor;
	if (!api_read_run(a, req, &id, &r))
		return;
	store_run_free(r);
	buf_init(&b, 0);
	do {
		size_t before = b.len;

		rc = store_run_log_read(a->env.store, id, b.len, 1 << 20, &b);
		if (b.len == before)
			break;
	} while (rc == 0);
	http_respond(req, 200, "text/plain; charset=utf-8", NULL,
		     b.data != NULL ? b.data : "", b.len);
	buf_free(&b);
}

void
api_trigger(struct api *a, struct http_request *req, const char *actor)
{
	struct api_trigger t = {0};
	cJSON *body, *ref, *commit, *env, *it;
	char **envv = NULL;
	size_t n = 0;

	body = json_body(req, true);
	if (body == NULL)
		return;
	ref = cJSON_GetObjectItemCaseSensitive(body, "ref");
	commit = cJSON_GetObjectItemCaseSensitive(body, "commit");
	env = cJSON_GetObjectItemCaseSensitive(body, "env");
	if ((ref != NULL && !cJSON_IsString(ref) && !cJSON_IsNull(ref)) ||
	    (commit != NULL && !cJSON_IsString(commit) && !cJSON_IsNull(commit)) ||
	    (env != NULL && !cJSON_IsObject(env) && !cJSON_IsNull(env))) {
		http_respond_error(req, 400, "bad_request",
				   "expected {\"ref\": string, \"commit\": "
				   "string, \"env\": {name: string}}");
		goto out;
	}
	if (!cJSON_IsObject(env))
		env = NULL;
	envv = xcalloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(char *));
	cJSON_ArrayForEach(it, env) {
		const char *k = it->string;
		bool ok = cJSON_IsString(it) && pw_env_name_valid(k, strlen(k));

		if (!ok || pw_env_name_reserved(k, strlen(k))) {
			http_respond_error(req, 400, "bad_request",
					   "env '%s': %s", k,
					   !ok ? "expected a variable name with "
						 "a string value" :
						 "PIPEWRIGHT_* variables are set "
						 "by pipewright");
			goto out;
		}
		envv[n++] = xasprintf("%s=%s", k, it->valuestring);
	}
	t.project = http_request_param(req, "project");
	t.ref = cJSON_IsString(ref) ? ref->valuestring : NULL;
	t.commit = cJSON_IsString(commit) ? commit->valuestring : NULL;
	t.env = (const char *const *)envv;
	t.idempotency_key = http_request_header(req, "Idempotency-Key");
	t.actor = actor;
	t.trigger = "api";
	a->env.trigger(a->env.ctx, &t, pending_done,
		       pending_new(a, req, 201));
out:
	while (n > 0)
		free(envv[--n]);
	free(envv);
	cJSON_Delete(body);
}

void
api_cancel(struct api *a, struct http_request *req, const char *actor)
{
	uint64_t id;

	if (api_run_id(req, &id)) {
		a->env.cancel(a->env.ctx, id, actor, pending_done,
			      pending_new(a, req, 200));
	}
}

void
api_rerun(struct api *a, struct http_request *req, const char *actor)
{
	cJSON *body = NULL, *jobs, *it;
	char **names = NULL;
	size_t n = 0;
	uint64_t id;

	if (!api_run_id(req, &id) || (body = json_body(req, true)) == NULL)
		goto out;
	jobs = cJSON_GetObjectItemCaseSensitive(body, "jobs");
	if (jobs == NULL || (cJSON_IsString(jobs) &&
			     strcmp(jobs->valuestring, "failed") == 0)) {
		names = NULL;
	} else if (cJSON_IsArray(jobs) && cJSON_GetArraySize(jobs) > 0) {
		names = xcalloc((size_t)cJSON_GetArraySize(jobs) + 1,
				sizeof(char *));
		cJSON_ArrayForEach(it, jobs) {
			if (!cJSON_IsString(it)) {
				http_respond_error(req, 400, "bad_request",
						   "jobs: expected names");
				goto out;
			}
			names[n++] = it->valuestring;
		}
	} else {
		http_respond_error(req, 400, "bad_request",
				   "expected {\"jobs\": \"failed\"} or "
				   "{\"jobs\": [name, ...]}");
		goto out;
	}
	a->env.rerun(a->env.ctx, id, (const char *const *)names, actor,
		     pending_done, pending_new(a, req, 200));
out:
	free(names);
	cJSON_Delete(body);
}

void
api_approve(struct api *a, struct http_request *req, const char *actor)
{
	uint64_t id;

	if (api_run_id(req, &id)) {
		a->env.approve(a->env.ctx, id, http_request_param(req, "job"),
			       actor, pending_done, pending_new(a, req, 200));
	}
}
