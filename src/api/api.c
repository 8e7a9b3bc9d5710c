/*
 * The API's route table, authentication, request counting, and the
 * helpers every handler shares (run ids, errors, run answers).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "pipewright/log.h"

static const struct http_route routes[] = {
	{"GET", "/healthz", api_healthz, NULL},
	{"GET", "/readyz", api_readyz, NULL},
	{"GET", "/metrics", api_metrics, NULL},
	{"GET", "/badge/{file}", api_badge, "/badge/{project}.svg"},
	{"GET", "/api/v1/openapi.json", api_openapi, NULL},
	{"GET", "/api/v1/projects", api_projects, NULL},
	{"GET", "/api/v1/projects/{project}/runs", api_runs_list, NULL},
	{"POST", "/api/v1/projects/{project}/runs", api_trigger, NULL},
	{"GET", "/api/v1/runs/{id}", api_run_get, NULL},
	{"GET", "/api/v1/runs/{id}/events", api_run_events, NULL},
	{"GET", "/api/v1/runs/{id}/log", api_run_log, NULL},
	{"POST", "/api/v1/runs/{id}/cancel", api_cancel, NULL},
	{"POST", "/api/v1/runs/{id}/rerun", api_rerun, NULL},
	{"GET", "/api/v1/runs/{id}/jobs/{job}/log", api_job_log, NULL},
	{"POST", "/api/v1/runs/{id}/jobs/{job}/approve", api_approve, NULL},
	{"GET", "/api/v1/outbox", api_outbox, NULL},
	{"GET", "/api/v1/queue", api_queue, NULL},
	{"POST", "/api/v1/queue/pause", api_queue_pause, NULL},
	{"POST", "/api/v1/queue/resume", api_queue_resume, NULL},
	{"POST", "/hooks/{forge}", api_hook, NULL},
};

int
api_create(struct daemon *d, struct api **out)
{
	struct api *a = xcalloc(1, sizeof(*a));

	a->d = d;
	a->fails = xcalloc(API_THROTTLE_ADDRS, sizeof(*a->fails));
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
	free(a);
}

size_t
api_routes(const struct api *a, const struct http_route **out)
{
	(void)a;
	*out = routes;
	return PW_ARRAY_LEN(routes);
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
api_auth(struct api *a, struct http_request *req, enum auth_scope need,
	 char **actor)
{
	const char *h = http_request_header(req, "Authorization");
	char *name = NULL;
	int rc;

	*actor = NULL;
	if (h == NULL && need == AUTH_SCOPE_READ &&
	    config_anonymous_read(daemon_config(a->d))) {
		*actor = xstrdup("anonymous");
		return true;
	}
	/*
	 * A valid token is served even while its address is blocked; only
	 * one that is not valid gets the block's 429 (why: guard.c).
	 */
	rc = auth_check(daemon_store(a->d), h, need, &name);
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
api_read_run(struct api *a, struct http_request *req, uint64_t *id,
	     struct store_run **row)
{
	char *actor;
	int rc;

	if (!api_auth(a, req, AUTH_SCOPE_READ, &actor))
		return false;
	free(actor);
	if (!api_run_id(req, id))
		return false;
	rc = store_run_get(daemon_store(a->d), *id, row);
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

	rc = store_run_get(daemon_store(a->d), id, &r);
	if (rc == -ENOENT) {
		http_respond_error(req, 404, "not_found", "no run %llu",
				   (unsigned long long)id);
		return;
	}
	if (rc < 0) {
		api_respond_errno(req, rc == -ENOENT ? -EIO : rc, NULL);
		return;
	}
	o = api_run_json(a, r, true);
	s = cJSON_PrintUnformatted(o);
	http_respond_json(req, status, s);
	free(s);
	cJSON_Delete(o);
	store_run_free(r);
}
