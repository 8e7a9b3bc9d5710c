/*
 * The API's route table, authentication, request counting, and the
 * helpers every handler shares (run ids, errors, run answers).
 *
 * Each row of the table names the scope its route needs, so who may do
 * what is read in one place; one http handler (dispatch) checks it
 * before it calls the row's handler with the actor, the way tmux's
 * cmd_entry carries its flags.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "pipewright/log.h"

/*
 * Who may use a route.  API_READ, API_OPERATE and API_ADMIN need a bearer
 * token of at least that scope (auth.h); reads may be anonymous when the
 * settings say `anonymous_read: true`.  API_NONE takes no token.
 * API_HOOK takes none either: the handler checks the webhook's signature
 * against the project's secrets, which it knows only from the request.
 */
enum api_scope {
	API_NONE,
	API_READ,
	API_OPERATE,
	API_ADMIN,
	API_HOOK,
};

typedef void (*api_handler)(struct api *a, struct http_request *req,
			    const char *actor);

struct api_route {
	const char *method, *pattern;
	enum api_scope scope;
	/* If set and true for a request, it needs no token after all. */
	bool (*public)(struct api *a, struct http_request *req);
	api_handler handler;
	const char *name; /* for metrics: defaults to the pattern */
};

/* Every endpoint and who may use it (docs/api.md has the same list). */
static const struct api_route table[] = {
	{"GET", "/healthz", API_NONE, NULL, api_healthz, NULL},
	{"GET", "/readyz", API_NONE, NULL, api_readyz, NULL},
	{"GET", "/metrics", API_READ, api_metrics_public, api_metrics, NULL},
	{"GET", "/badge/{file}", API_READ, api_badge_public, api_badge,
	 "/badge/{project}.svg"},
	{"GET", "/api/v1/openapi.json", API_NONE, NULL, api_openapi, NULL},
	{"GET", "/api/v1/projects", API_READ, NULL, api_projects, NULL},
	{"GET", "/api/v1/runs", API_READ, NULL, api_runs_across, NULL},
	{"GET", "/api/v1/runs/{id}/pipeline", API_READ, NULL,
	 api_run_pipeline, NULL},
	{"GET", "/api/v1/projects/{project}/durations", API_READ, NULL,
	 api_durations, NULL},
	{"GET", "/api/v1/status", API_READ, NULL, api_status, NULL},
	{"GET", "/api/v1/events", API_READ, NULL, api_events, NULL},
	/* Sessions check their own credentials (session.c). */
	{"POST", "/api/v1/session", API_NONE, NULL, api_session_create, NULL},
	{"GET", "/api/v1/session", API_NONE, NULL, api_session_get, NULL},
	{"DELETE", "/api/v1/session", API_NONE, NULL, api_session_delete,
	 NULL},
	{"GET", "/api/v1/projects/{project}/runs", API_READ, NULL,
	 api_runs_list, NULL},
	{"POST", "/api/v1/projects/{project}/runs", API_OPERATE, NULL,
	 api_trigger, NULL},
	{"GET", "/api/v1/runs/{id}", API_READ, NULL, api_run_get, NULL},
	{"GET", "/api/v1/runs/{id}/events", API_READ, NULL, api_run_events,
	 NULL},
	{"GET", "/api/v1/runs/{id}/log", API_READ, NULL, api_run_log, NULL},
	{"POST", "/api/v1/runs/{id}/cancel", API_OPERATE, NULL, api_cancel,
	 NULL},
	{"POST", "/api/v1/runs/{id}/rerun", API_OPERATE, NULL, api_rerun,
	 NULL},
	{"GET", "/api/v1/runs/{id}/jobs/{job}/log", API_READ, NULL,
	 api_job_log, NULL},
	{"GET", "/api/v1/runs/{id}/jobs/{job}/sections", API_READ, NULL,
	 api_job_sections, NULL},
	{"POST", "/api/v1/runs/{id}/jobs/{job}/approve", API_OPERATE, NULL,
	 api_approve, NULL},
	{"GET", "/api/v1/runs/{id}/artifacts", API_READ, NULL,
	 api_artifacts_list, NULL},
	{"GET", "/api/v1/runs/{id}/artifacts/{name}", API_READ, NULL,
	 api_artifact_get, NULL},
	{"GET", "/api/v1/runs/{id}/tests", API_READ, NULL, api_run_tests,
	 NULL},
	{"GET", "/api/v1/projects/{project}/tests/flaky", API_READ, NULL,
	 api_project_flaky, NULL},
	{"GET", "/api/v1/projects/{project}/caches", API_READ, NULL,
	 api_caches_list, NULL},
	{"DELETE", "/api/v1/projects/{project}/caches/{key}", API_ADMIN, NULL,
	 api_cache_delete, NULL},
	{"GET", "/api/v1/outbox", API_READ, NULL, api_outbox, NULL},
	{"GET", "/api/v1/queue", API_READ, NULL, api_queue, NULL},
	{"POST", "/api/v1/queue/pause", API_ADMIN, NULL, api_queue_pause,
	 NULL},
	{"POST", "/api/v1/queue/resume", API_ADMIN, NULL, api_queue_resume,
	 NULL},
	{"GET", "/api/v1/audit", API_ADMIN, NULL, api_audit, NULL},
	{"POST", "/hooks/{forge}", API_HOOK, NULL, api_hook, NULL},
	/* The dashboard: its page for each client route, and its files. */
	{"GET", "/", API_NONE, NULL, api_web_page, NULL},
	{"GET", "/runs", API_NONE, NULL, api_web_page, "/ (page)"},
	{"GET", "/runs/{id}", API_NONE, NULL, api_web_page, "/ (page)"},
	{"GET", "/runs/{id}/jobs/{job}", API_NONE, NULL, api_web_page,
	 "/ (page)"},
	{"GET", "/projects", API_NONE, NULL, api_web_page, "/ (page)"},
	{"GET", "/projects/{project}", API_NONE, NULL, api_web_page,
	 "/ (page)"},
	{"GET", "/projects/{project}/durations", API_NONE, NULL, api_web_page,
	 "/ (page)"},
	{"GET", "/queue", API_NONE, NULL, api_web_page, "/ (page)"},
	{"GET", "/signin", API_NONE, NULL, api_web_page, "/ (page)"},
	{"GET", "/assets/{a}", API_NONE, NULL, api_web_asset, "/assets"},
	{"GET", "/assets/{a}/{b}", API_NONE, NULL, api_web_asset, "/assets"},
	{"GET", "/assets/{a}/{b}/{c}", API_NONE, NULL, api_web_asset,
	 "/assets"},
	{"GET", "/assets/{a}/{b}/{c}/{d}", API_NONE, NULL, api_web_asset,
	 "/assets"},
};

/*
 * Checks the request's bearer token for `need` (reads may be anonymous
 * when the settings say so).  On failure it has answered 401/403 and
 * returns false; on success *actor (caller frees) is "token NAME" or
 * "anonymous".
 */
static bool
authenticate(struct api *a, struct http_request *req, enum auth_scope need,
	     char **actor)
{
	const char *h = http_request_header(req, "Authorization");
	char *name = NULL;
	int rc;

	*actor = NULL;
	/* A page's session cookie stands for its token (session.c). */
	if (h == NULL && (rc = api_session_auth(a, req, need, actor)) != 0)
		return rc > 0;
	if (h == NULL && need == AUTH_SCOPE_READ &&
	    config_anonymous_read(api_config(a))) {
		*actor = xstrdup("anonymous");
		return true;
	}
	/*
	 * A valid token is served even while its address is blocked; only
	 * one that is not valid gets the block's 429 (why: guard.c).
	 */
	rc = auth_check(a->env.store, h, need, &name);
	if (rc < 0 && rc != -EPERM && h != NULL && api_throttled(a, req, NULL)) {
		free(name);
		return false;
	}
	if (rc == -EPERM) {
		http_respond_error(req, 403, "forbidden",
				   "the token '%s' lacks the '%s' scope", name,
				   auth_scope_name(need));
		free(name);
		return false;
	}
	if (rc < 0) {
		if (h != NULL)
			api_auth_failed(a, req, NULL);
		http_respond_error(req, 401, "unauthorized", "%s",
				   h == NULL ? "a bearer token is required" :
					       "the bearer token is not valid");
		free(name);
		return false;
	}
	*actor = xasprintf("token %s", name);
	free(name);
	return true;
}

bool
api_still_allowed(struct api *a, struct http_request *req,
		  enum auth_scope need)
{
	const char *h = http_request_header(req, "Authorization");
	int rc;

	/* As authenticate() decides, answering nothing. */
	if (h == NULL && (rc = api_session_auth(a, req, need, NULL)) != 0)
		return rc > 0;
	if (h == NULL)
		return need == AUTH_SCOPE_READ &&
		       config_anonymous_read(api_config(a));
	return auth_check(a->env.store, h, need, NULL) == 0;
}

/* Every route's http handler: its row's scope, then its handler. */
static void
dispatch(struct http_request *req, void *arg)
{
	static const enum auth_scope need[] = {
		[API_READ] = AUTH_SCOPE_READ,
		[API_OPERATE] = AUTH_SCOPE_OPERATE,
		[API_ADMIN] = AUTH_SCOPE_ADMIN,
	};
	struct api *a = arg;
	const struct api_route *r = &table[http_request_route_row(req) - a->http];
	char *actor = NULL;

	if (r->scope != API_NONE && r->scope != API_HOOK &&
	    (r->public == NULL || !r->public(a, req)) &&
	    !authenticate(a, req, need[r->scope], &actor))
		return;
	r->handler(a, req, actor);
	free(actor);
}

int
api_create(const struct api_env *env, struct api **out)
{
	struct api *a = xcalloc(1, sizeof(*a));
	size_t i;

	a->env = *env;
	a->fails = xcalloc(API_THROTTLE_ADDRS, sizeof(*a->fails));
	a->http = xcalloc(PW_ARRAY_LEN(table), sizeof(*a->http));
	for (i = 0; i < PW_ARRAY_LEN(table); i++)
		a->http[i] = (struct http_route){table[i].method,
						 table[i].pattern, dispatch,
						 table[i].name};
	api_web_init(a);
	*out = a;
	return 0;
}

void
api_destroy(struct api *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->ncounts; i++)
		free(a->counts[i].route);
	free(a->counts);
	api_page_cache_free(a);
	free(a->fails);
	free(a->index);
	free(a->http);
	free(a);
}

const struct config *
api_config(const struct api *a)
{
	return a->env.config(a->env.ctx);
}

const char *
api_public_url(const struct api *a)
{
	return a->env.public_url(a->env.ctx);
}

size_t
api_routes(const struct api *a, const struct http_route **out)
{
	*out = a->http;
	return PW_ARRAY_LEN(table);
}

void
api_log_request(void *arg, const struct http_request *req, int status,
		uint64_t duration_us)
{
	struct api *a = arg;
	const char *route = http_request_route(req);
	size_t i;

	if (route == NULL)
		route = "unmatched";
	for (i = 0; i < a->ncounts; i++)
		if (a->counts[i].status == status &&
		    strcmp(a->counts[i].route, route) == 0)
			break;
	if (i == a->ncounts) {
		a->counts = xgrow(a->counts, &a->capcounts, a->ncounts + 1,
				  sizeof(*a->counts));
		a->counts[i] = (struct api_count){xstrdup(route), status, 0};
		a->ncounts++;
	}
	a->counts[i].n++;
	log_debug("http.request method=%s path=%s status=%d us=%llu",
		  http_request_method(req), http_request_path(req), status,
		  (unsigned long long)duration_us);
}

bool
api_run_id(struct http_request *req, uint64_t *id)
{
	const char *s = http_request_param(req, "id");
	char *end;
	unsigned long long v;

	errno = 0;
	v = s != NULL && *s >= '1' && *s <= '9' ? strtoull(s, &end, 10) : 0;
	if (v == 0 || errno != 0 || *end != '\0') {
		http_respond_error(req, 400, "bad_request",
				   "run id must be a positive integer, got '%s'",
				   s != NULL ? s : "");
		return false;
	}
	*id = v;
	return true;
}

bool
api_paging(struct http_request *req, size_t deflt, size_t *limit,
	   uint64_t *before)
{
	const char *q_limit = http_request_query(req, "limit");
	const char *q_cursor = http_request_query(req, "cursor");
	unsigned long v;
	char *end;

	*limit = deflt;
	*before = 0;
	if (q_limit != NULL) {
		v = strtoul(q_limit, &end, 10);
		if (*q_limit == '\0' || *end != '\0' || v < 1 || v > 200) {
			http_respond_error(req, 400, "bad_request",
					   "limit must be a number from 1 to "
					   "200, got '%s'", q_limit);
			return false;
		}
		*limit = v;
	}
	if (q_cursor != NULL && *q_cursor != '\0') {
		*before = strtoull(q_cursor, &end, 10);
		if (*end != '\0' || *before == 0) {
			http_respond_error(req, 400, "bad_request",
					   "cursor '%s' is not one this API "
					   "gave out", q_cursor);
			return false;
		}
	}
	return true;
}

void
api_add_cursor(cJSON *o, uint64_t next)
{
	char cur[32];

	if (next == 0) {
		cJSON_AddNullToObject(o, "next_cursor");
		return;
	}
	snprintf(cur, sizeof(cur), "%llu", (unsigned long long)next);
	cJSON_AddStringToObject(o, "next_cursor", cur);
}

static const char *const run_statuses[API_RUN_STATUSES] = {
	"queued", "running", "success", "failed", "canceled", "error",
};

bool
api_statuses(struct http_request *req, const char **out, char **copy,
	     const char *const **set)
{
	const char *q = http_request_query(req, "status");
	char *tok, *save;
	size_t k, n = 0;

	*set = NULL;
	*copy = NULL;
	if (q == NULL || *q == '\0')
		return true;
	*copy = xstrdup(q);
	for (tok = strtok_r(*copy, ",", &save); tok != NULL;
	     tok = strtok_r(NULL, ",", &save)) {
		for (k = 0; k < PW_ARRAY_LEN(run_statuses); k++)
			if (strcmp(tok, run_statuses[k]) == 0)
				break;
		if (k == PW_ARRAY_LEN(run_statuses)) {
			http_respond_error(req, 400, "bad_request",
					   "unknown status '%s'; expected "
					   "queued, running, success, failed, "
					   "canceled or error", tok);
			return false;
		}
		if (n < PW_ARRAY_LEN(run_statuses))
			out[n++] = run_statuses[k];
	}
	out[n] = NULL;
	*set = out;
	return true;
}

bool
api_read_run(struct api *a, struct http_request *req, uint64_t *id,
	     struct store_run **row)
{
	int rc;

	if (!api_run_id(req, id))
		return false;
	rc = store_run_get(a->env.store, *id, row);
	if (rc == -ENOENT) {
		http_respond_error(req, 404, "not_found", "no run %llu",
				   (unsigned long long)*id);
		return false;
	}
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the run");
		return false;
	}
	return true;
}

void
api_respond_errno(struct http_request *req, int rc, const char *message)
{
	/*
	 * -EAGAIN is a daemon handing its jobs over (an upgrade's swap, a
	 * restart): the next daemon answers within a second or so.
	 */
	static const char *const retry_soon[] = {"Retry-After: 1", NULL};
	static const struct {
		int rc;
		int status;
		const char *code;
	} map[] = {
		{-ENOENT, 404, "not_found"},
		{-EINVAL, 400, "bad_request"},
		{-EBADMSG, 422, "unprocessable_entity"},
		{-EALREADY, 409, "conflict"},
		{-EBUSY, 409, "conflict"},
		{-EEXIST, 409, "conflict"},
		{-ENOTSUP, 409, "conflict"},
		{-EAGAIN, 503, "unavailable"},
		{-ENOSPC, 503, "unavailable"},
		{-EROFS, 503, "unavailable"},
		{-EIO, 503, "unavailable"},
	};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(map); i++) {
		if (map[i].rc == rc) {
			http_respond_error_with(req, map[i].status, map[i].code,
						rc == -EAGAIN ? retry_soon : NULL,
						"%s", message != NULL ? message :
						strerror(-rc));
			return;
		}
	}
	http_respond_error(req, 500, "internal", "%s",
			   message != NULL ? message : strerror(-rc));
}

void
api_respond_run(struct api *a, struct http_request *req, int status,
		uint64_t id)
{
	struct store_run *r;
	cJSON *o;
	char *s;
	int rc;

	rc = store_run_get(a->env.store, id, &r);
	if (rc == -ENOENT) {
		http_respond_error(req, 404, "not_found", "no run %llu",
				   (unsigned long long)id);
		return;
	}
	if (rc < 0) {
		api_respond_errno(req, rc, NULL);
		return;
	}
	o = api_run_json(a, r, true);
	s = cJSON_PrintUnformatted(o);
	http_respond_json(req, status, s);
	free(s);
	cJSON_Delete(o);
	store_run_free(r);
}
