/*
 * The API's private parts, shared by src/api/ only.
 */
#ifndef PIPEWRIGHT_API_INT_H
#define PIPEWRIGHT_API_INT_H

#include <cjson/cJSON.h>

#include "pipewright/api.h"
#include "pipewright/auth.h"
#include "pipewright/config.h"
#include "pipewright/store.h"

/* Requests counted by route and status, for /metrics. */
struct api_count {
	char *route;
	int status;
	uint64_t n;
};

/* The rendered first pages of project run lists (cache.c). */
#define API_PAGES 8        /* pages kept (projects × limits) */
#define API_PAGE_LIMIT 100 /* larger pages are not kept */
struct api_page {
	char *project;
	size_t limit;
	char *body;
};
struct api_page_cache {
	struct api_page pages[API_PAGES];
	size_t n, next;  /* pages kept; the one to replace when full */
	uint64_t writes; /* the store's write count they were rendered at */
	char *url;       /* the public URL they were rendered with */
};

/* Failed authentications by client address (guard.c). */
#define API_THROTTLE_WINDOW_MS 60000ULL  /* failures counted within this */
#define API_THROTTLE_BLOCK_MS 60000ULL   /* for this long */
#define API_THROTTLE_ADDRS 4096          /* keys remembered */
struct api_fail {
	char key[160];          /* guard.c's fail_key: address [project] */
	uint64_t window_start;  /* ms */
	uint64_t last;          /* ms of the last failure */
	uint64_t blocked_until; /* ms; 0: not blocked */
	unsigned count;         /* failures in the window */
};

struct api {
	struct api_env env;
	struct http_route *http; /* the server's table, built from api.c's */
	struct api_count *counts;
	size_t ncounts, capcounts;
	struct api_page_cache pages;
	struct api_fail *fails; /* API_THROTTLE_ADDRS of them */
	size_t nfails;
	/* web.c: index.html with its asset URLs versioned, and its ETag. */
	char *index;
	size_t index_len;
	char index_etag[64];
};

/*
 * guard.c.  api_throttled: whether req's client is blocked for failed
 * authentications; if so it has answered 429 with Retry-After.
 * api_auth_failed counts one failure of req's client.  project: NULL
 * for bearer tokens (counted by address), the project for a webhook
 * secret sent as-is (counted by address and project).
 */
bool api_throttled(struct api *a, struct http_request *req,
		   const char *project);
void api_auth_failed(struct api *a, struct http_request *req,
		     const char *project);

/* The env's settings and public URL, now. */
const struct config *api_config(const struct api *a);
const char *api_public_url(const struct api *a);
/* Answers with the stored run `id` (status), or 404 / 503. */
void api_respond_run(struct api *a, struct http_request *req, int status,
		     uint64_t id);
/* A run, a page of runs: cJSON trees (caller deletes). */
cJSON *api_run_json(struct api *a, const struct store_run *r, bool with_jobs);
/* RFC 3339 with milliseconds and Z, or JSON null for 0. */
cJSON *api_time(uint64_t ms);
/*
 * Adds to e the fields of an entry of an audit trail, a run's or the
 * daemon's: time, actor, action and detail (JSON null if NULL).
 */
void api_audit_fields(cJSON *e, uint64_t time, const char *actor,
		      const char *action, const char *detail);
/* Answers with o as JSON and deletes it. */
void api_respond_tree(struct http_request *req, int status, cJSON *o);
/*
 * A list's page: ?limit= (1..200, else deflt) and ?cursor= (a next_cursor
 * given out before; 0: the first page).  false: it has answered 400.
 */
bool api_paging(struct http_request *req, size_t deflt, size_t *limit,
		uint64_t *before);
/* A page's "next_cursor": the string of next, or null for the last page. */
void api_add_cursor(cJSON *o, uint64_t next);
/*
 * ?status=a,b (run statuses) into out, NULL-terminated, static strings;
 * *set is out, or NULL without the parameter; *copy is scratch the caller
 * frees.  false: it has answered 400.
 */
#define API_RUN_STATUSES 6
bool api_statuses(struct http_request *req, const char **out, char **copy,
		  const char *const **set);
/* Parses "{id}" as a run id; answers 400 and returns false if it is not one. */
bool api_run_id(struct http_request *req, uint64_t *id);
/*
 * The common start of a handler that reads one run: the "{id}", the
 * stored run (caller frees *row).  false: it has answered.
 */
bool api_read_run(struct api *a, struct http_request *req, uint64_t *id,
		  struct store_run **row);
/*
 * Answers an error for a negative errno from the daemon or the store;
 * -EAGAIN (try again in a moment) with Retry-After.
 */
void api_respond_errno(struct http_request *req, int rc, const char *message);
/* Valid UTF-8 of len bytes; invalid sequences become U+FFFD (caller frees). */
char *api_utf8(const char *s, size_t len, size_t *used, bool final);

/*
 * The first page (no cursor, no filter) of a project's runs as rendered
 * before, or NULL: valid only while the store has written nothing since
 * (see cache.c).  api_page_put keeps a copy of one just rendered.
 */
const char *api_page_get(struct api *a, const char *project, size_t limit);
void api_page_put(struct api *a, const char *project, size_t limit,
		  const char *body);
void api_page_cache_free(struct api *a);

/*
 * The handlers, by file.  Each runs once the scope its route names is
 * checked (api.c's table); actor is who acts, "token NAME" or
 * "anonymous", or NULL where no token was asked for (public routes,
 * webhooks, and /metrics and badges when the settings make them public).
 */
void api_projects(struct api *a, struct http_request *req, const char *actor);
void api_runs_list(struct api *a, struct http_request *req, const char *actor);
void api_run_get(struct api *a, struct http_request *req, const char *actor);
void api_run_events(struct api *a, struct http_request *req, const char *actor);
void api_run_log(struct api *a, struct http_request *req, const char *actor);
void api_trigger(struct api *a, struct http_request *req, const char *actor);
void api_cancel(struct api *a, struct http_request *req, const char *actor);
void api_rerun(struct api *a, struct http_request *req, const char *actor);
void api_approve(struct api *a, struct http_request *req, const char *actor);
void api_hook(struct api *a, struct http_request *req, const char *actor);
void api_outbox(struct api *a, struct http_request *req, const char *actor);
void api_queue(struct api *a, struct http_request *req, const char *actor);
void api_queue_pause(struct api *a, struct http_request *req, const char *actor);
void api_queue_resume(struct api *a, struct http_request *req, const char *actor);
void api_audit(struct api *a, struct http_request *req, const char *actor);
void api_job_log(struct api *a, struct http_request *req, const char *actor);
void api_job_sections(struct api *a, struct http_request *req,
		      const char *actor);
void api_artifacts_list(struct api *a, struct http_request *req,
			const char *actor);
void api_artifact_get(struct api *a, struct http_request *req,
		      const char *actor);
void api_caches_list(struct api *a, struct http_request *req,
		     const char *actor);
void api_cache_delete(struct api *a, struct http_request *req,
		      const char *actor);
/* tests.c: test reports; a job's or a run's counts as JSON. */
void api_run_tests(struct api *a, struct http_request *req, const char *actor);
void api_project_flaky(struct api *a, struct http_request *req,
		       const char *actor);
cJSON *api_tests_counts_json(const struct store_test_counts *c);
void api_healthz(struct api *a, struct http_request *req, const char *actor);
void api_readyz(struct api *a, struct http_request *req, const char *actor);
void api_metrics(struct api *a, struct http_request *req, const char *actor);
/* cicd.c: OpenTelemetry's CI/CD metrics, appended to the exposition. */
void api_cicd_metrics(struct buf *b, const struct api_stats *st);
void api_badge(struct api *a, struct http_request *req, const char *actor);
void api_openapi(struct api *a, struct http_request *req, const char *actor);
/*
 * Whether a request needs no token after all, by the settings: /metrics
 * with `metrics: public`, a project's badge unless it says `badge: token`.
 */
bool api_metrics_public(struct api *a, struct http_request *req);
bool api_badge_public(struct api *a, struct http_request *req);

/*
 * session.c: dashboard sessions.  api_session_auth: for a request without
 * an Authorization header, its session cookie: 1 and *actor (caller
 * frees) if the session is live, allows need and (for a method other
 * than GET and HEAD) the request carries its X-CSRF-Token; 0 if there is
 * no live session; -1 if it has answered (403, or a store error).  With
 * actor NULL it answers nothing and checks no CSRF value: a stream that
 * is already answering asks again whether its session still allows it.
 */
int api_session_auth(struct api *a, struct http_request *req,
		     enum auth_scope need, char **actor);
void api_session_create(struct api *a, struct http_request *req,
			const char *actor);
/*
 * Whether req's credentials (bearer token, session, or anonymous_read)
 * still allow need, as when it came in: a stream asks before it sends
 * more, so a sign-out or a removed token ends it.
 */
bool api_still_allowed(struct api *a, struct http_request *req,
		       enum auth_scope need);
/* The pw_session value of a Cookie header (NULL: none) into out; false if
 * there is none or it does not fit (fuzz/fuzz_dash_params.c). */
bool api_session_cookie(const char *header, char *out, size_t len);
void api_session_get(struct api *a, struct http_request *req,
		     const char *actor);
void api_session_delete(struct api *a, struct http_request *req,
			const char *actor);

/* dash.c: what the dashboard reads. */
void api_runs_across(struct api *a, struct http_request *req,
		     const char *actor);
void api_run_pipeline(struct api *a, struct http_request *req,
		      const char *actor);
void api_durations(struct api *a, struct http_request *req, const char *actor);
void api_status(struct api *a, struct http_request *req, const char *actor);
/* events.c: one SSE stream per tab for runs, jobs and logs. */
void api_events(struct api *a, struct http_request *req, const char *actor);
/*
 * The stream's parameters parsed as api_events does, and dropped: whether
 * runs= and logs= are accepted (Last-Event-ID never refuses).  For
 * fuzz/fuzz_dash_params.c.
 */
bool api_events_params(const char *runs, const char *logs,
		       const char *last_id);

/*
 * web.c: the dashboard.  api_web_init renders index.html once (api_create);
 * api_web_page answers it for the client routes, api_web_asset the files
 * under /assets/ ({a}, {b}, ... the path's segments).
 */
void api_web_init(struct api *a);
void api_web_page(struct api *a, struct http_request *req, const char *actor);
void api_web_asset(struct api *a, struct http_request *req, const char *actor);
/* web/, embedded at build time (web-data.c, cmake/embed-web.cmake). */
extern const char *const api_web_names[];     /* "index.html", "assets/x.js" */
extern const unsigned char *const api_web_data[]; /* NUL-terminated too */
extern const size_t api_web_sizes[];
extern const char *const api_web_etags[];     /* SHA-256, hex */
extern const size_t api_web_count;
extern const char api_web_id[];               /* names the whole set */

/* The OpenAPI document, embedded at build time (openapi-data.c). */
extern const char api_openapi_json[];
extern const size_t api_openapi_json_len;

#endif
