/*
 * Dashboard sessions: a page signs in once with an API token and gets a
 * cookie; the cookie then acts as that token.
 *
 * POST /api/v1/session {token} checks the token like a bearer header
 * (failures count towards the address's throttle), stores the SHA-256 of
 * a new random cookie value with a CSRF value, and answers with the
 * cookie (HttpOnly, SameSite=Strict, Path=/, Max-Age; Secure when a
 * trusted proxy says the client came over https — the daemon itself
 * speaks plain HTTP).  GET says who the session is ({name, scope, csrf});
 * DELETE removes its row, so the cookie is worthless even if kept.
 *
 * A request with the cookie and no Authorization header is the session's
 * token.  One that may change state (any method but GET and HEAD) must
 * also carry the session's CSRF value in X-CSRF-Token, which another
 * origin cannot read: 403 otherwise.  SameSite=Strict already keeps the
 * cookie off cross-site requests; the header is the second lock, for
 * browsers or proxies that do not honour it.  A bearer header wins over
 * the cookie and needs no CSRF value (no browser adds it by itself).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api-int.h"

#define COOKIE "pw_session"
#define TTL_MS (7ULL * 24 * 3600 * 1000)

bool
api_session_cookie(const char *h, char *out, size_t len)
{
	const char *p, *end;
	size_t n;

	for (p = h; p != NULL && *p != '\0'; p = end) {
		while (*p == ' ' || *p == ';')
			p++;
		end = strchr(p, ';');
		if (end == NULL)
			end = p + strlen(p);
		if (strncmp(p, COOKIE "=", strlen(COOKIE) + 1) != 0)
			continue;
		p += strlen(COOKIE) + 1;
		n = (size_t)(end - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n == 0 || n >= len)
			return false;
		memcpy(out, p, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static bool
cookie_value(struct http_request *req, char *out, size_t len)
{
	return api_session_cookie(http_request_header(req, "Cookie"), out, len);
}

/* The live session the request's cookie names: 0, -ENOENT, or an error. */
static int
session_of(struct api *a, struct http_request *req, char *hash,
	   struct store_session *ss)
{
	char value[AUTH_MAX_TOKEN];

	if (!cookie_value(req, value, sizeof(value)))
		return -ENOENT;
	if (auth_hash(value, hash) < 0)
		return -EIO;
	return store_session_find(a->env.store, hash, pw_now_ms(), ss);
}

static bool
safe_method(struct http_request *req)
{
	const char *m = http_request_method(req);

	return strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
}

/* false: it has answered 403. */
static bool
csrf_ok(struct http_request *req, const struct store_session *ss)
{
	const char *h = http_request_header(req, "X-CSRF-Token");

	if (safe_method(req))
		return true;
	if (h != NULL && auth_equal(h, strlen(h), ss->csrf, strlen(ss->csrf)))
		return true;
	http_respond_error(req, 403, "forbidden", "%s",
			   h == NULL ? "a request made with the session cookie "
			   "needs the session's X-CSRF-Token header" :
			   "the X-CSRF-Token header is not this session's");
	return false;
}

int
api_session_auth(struct api *a, struct http_request *req,
		 enum auth_scope need, char **actor)
{
	char hash[AUTH_HASH_HEX];
	struct store_session ss = {0};
	enum auth_scope have;
	int rc;

	/* actor NULL: a stream asking again, which answers nothing. */
	rc = session_of(a, req, hash, &ss);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		if (actor != NULL)
			api_respond_errno(req, rc, "cannot read the session");
		return -1;
	}
	if (actor != NULL && !csrf_ok(req, &ss)) {
		store_session_free(&ss);
		return -1;
	}
	if (auth_scope_parse(ss.scope, &have) < 0 || have < need) {
		if (actor != NULL)
			http_respond_error(req, 403, "forbidden",
					   "the token '%s' lacks the '%s' scope",
					   ss.token_name, auth_scope_name(need));
		store_session_free(&ss);
		return -1;
	}
	if (actor != NULL)
		*actor = xasprintf("token %s", ss.token_name);
	store_session_free(&ss);
	return 1;
}

/* The Set-Cookie header: a new value, or (value NULL) one that ends it. */
static char *
set_cookie(struct http_request *req, const char *value)
{
	const char *proto = http_request_header(req, "X-Forwarded-Proto");
	bool secure = http_request_via_proxy(req) && proto != NULL &&
		      strcasecmp(proto, "https") == 0;

	return xasprintf("Set-Cookie: " COOKIE "=%s; Path=/; HttpOnly; "
			 "SameSite=Strict; Max-Age=%llu%s",
			 value != NULL ? value : "",
			 value != NULL ? (unsigned long long)(TTL_MS / 1000) : 0ULL,
			 secure ? "; Secure" : "");
}

static cJSON *
session_json(const char *name, const char *scope, const char *csrf,
	     uint64_t expires_at)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddStringToObject(o, "name", name);
	cJSON_AddStringToObject(o, "scope", scope);
	cJSON_AddStringToObject(o, "csrf", csrf);
	cJSON_AddItemToObject(o, "expires_at", api_time(expires_at));
	return o;
}

/* A sign-in waiting for its row to commit. */
struct signin {
	struct api *a;
	struct http_request *req;  /* NULL once the client has gone */
	struct store_session_new n;
	char hash[AUTH_HASH_HEX], token_hash[AUTH_HASH_HEX];
	char value[AUTH_TOKEN_LEN + 1], csrf[AUTH_TOKEN_LEN + 1];
	char *name, *scope;
};

static void
signin_abort(struct http_request *req, void *arg)
{
	struct signin *s = arg;

	(void)req;
	s->req = NULL;
}

static int
signin_write(struct store_tx *tx, void *arg)
{
	struct signin *s = arg;

	return store_tx_session_insert(tx, &s->n);
}

static void
signin_done(int rc, void *arg)
{
	struct signin *s = arg;
	const char *headers[3] = {NULL, "Cache-Control: no-store", NULL};
	cJSON *o;
	char *body;

	if (s->req != NULL) {
		http_request_on_abort(s->req, NULL, NULL);
		if (rc == -ENOENT) {
			http_respond_error(s->req, 401, "unauthorized",
					   "the token is not valid");
		} else if (rc < 0) {
			api_respond_errno(s->req, rc, "cannot store the session");
		} else {
			headers[0] = set_cookie(s->req, s->value);
			o = session_json(s->name, s->scope, s->csrf,
					 s->n.expires_at);
			body = cJSON_PrintUnformatted(o);
			cJSON_Delete(o);
			http_respond(s->req, 201, "application/json", headers,
				     body, strlen(body));
			free(body);
			free((char *)headers[0]);
		}
	}
	explicit_bzero(s->value, sizeof(s->value));
	free(s->name);
	free(s->scope);
	free(s);
}

void
api_session_create(struct api *a, struct http_request *req, const char *actor)
{
	const char *ct = http_request_header(req, "Content-Type");
	const char *body, *token;
	struct signin *s;
	char *name = NULL, *scope = NULL;
	char token_hash[AUTH_HASH_HEX];
	size_t len;
	cJSON *o;
	int rc;

	(void)actor;
	if (ct == NULL || strncasecmp(ct, "application/json", 16) != 0) {
		http_respond_error(req, 415, "unsupported_media_type",
				   "expected Content-Type: application/json");
		return;
	}
	body = http_request_body(req, &len);
	o = cJSON_ParseWithLength(body, len);
	token = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "token"));
	if (!cJSON_IsObject(o) || token == NULL) {
		cJSON_Delete(o);
		http_respond_error(req, 400, "bad_request",
				   "expected a JSON object {\"token\": \"pw_...\"}");
		return;
	}
	rc = strlen(token) < AUTH_MAX_TOKEN ? auth_hash(token, token_hash) :
					      -EACCES;
	cJSON_Delete(o);
	if (rc == 0)
		rc = store_token_find(a->env.store, token_hash, &name, &scope);
	/*
	 * As for bearer tokens (guard.c): a valid token is served even from
	 * a blocked address; only a wrong one gets the block's 429.
	 */
	if ((rc == -ENOENT || rc == -EACCES) && api_throttled(a, req, NULL))
		return;
	if (rc == -ENOENT || rc == -EACCES) {
		api_auth_failed(a, req, NULL);
		http_respond_error(req, 401, "unauthorized",
				   "the token is not valid");
		return;
	}
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot check the token");
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->a = a;
	s->req = req;
	s->name = name;
	s->scope = scope;
	memcpy(s->token_hash, token_hash, sizeof(token_hash));
	/* Two random values: the cookie's and the CSRF header's. */
	if (auth_token_new(s->value) < 0 || auth_token_new(s->csrf) < 0 ||
	    auth_hash(s->value, s->hash) < 0) {
		free(name);
		free(scope);
		free(s);
		http_respond_error(req, 500, "internal", "no random bytes");
		return;
	}
	s->n = (struct store_session_new){
		.hash = s->hash, .token_hash = s->token_hash, .csrf = s->csrf,
		.now = pw_now_ms(), .expires_at = pw_now_ms() + TTL_MS,
	};
	http_request_on_abort(req, signin_abort, s);
	store_write(a->env.store, signin_write, signin_done, s);
}

void
api_session_get(struct api *a, struct http_request *req, const char *actor)
{
	char hash[AUTH_HASH_HEX];
	struct store_session ss = {0};
	static const char *const headers[] = {"Cache-Control: no-store", NULL};
	cJSON *o;
	char *body;
	int rc;

	(void)actor;
	rc = session_of(a, req, hash, &ss);
	if (rc == -ENOENT) {
		http_respond_error(req, 401, "unauthorized",
				   "not signed in (no session, or it ended)");
		return;
	}
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the session");
		return;
	}
	o = session_json(ss.token_name, ss.scope, ss.csrf, ss.expires_at);
	store_session_free(&ss);
	body = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	http_respond(req, 200, "application/json", headers, body, strlen(body));
	free(body);
}

/* A sign-out waiting for its delete to commit. */
struct signout {
	struct http_request *req;
	char hash[AUTH_HASH_HEX];
};

static void
signout_abort(struct http_request *req, void *arg)
{
	struct signout *s = arg;

	(void)req;
	s->req = NULL;
}

static int
signout_write(struct store_tx *tx, void *arg)
{
	struct signout *s = arg;

	return store_tx_session_delete(tx, s->hash);
}

static void
signout_done(int rc, void *arg)
{
	struct signout *s = arg;
	const char *headers[3] = {NULL, "Cache-Control: no-store", NULL};

	if (s->req != NULL) {
		http_request_on_abort(s->req, NULL, NULL);
		if (rc < 0) {
			api_respond_errno(s->req, rc, "cannot end the session");
		} else {
			headers[0] = set_cookie(s->req, NULL);
			http_respond(s->req, 204, NULL, headers, NULL, 0);
			free((char *)headers[0]);
		}
	}
	free(s);
}

void
api_session_delete(struct api *a, struct http_request *req, const char *actor)
{
	struct store_session ss = {0};
	struct signout *s = xcalloc(1, sizeof(*s));
	int rc;

	(void)actor;
	rc = session_of(a, req, s->hash, &ss);
	if (rc == -ENOENT) {
		free(s);
		http_respond_error(req, 401, "unauthorized",
				   "not signed in (no session, or it ended)");
		return;
	}
	if (rc < 0 || !csrf_ok(req, &ss)) {
		if (rc < 0)
			api_respond_errno(req, rc, "cannot read the session");
		store_session_free(&ss);
		free(s);
		return;
	}
	store_session_free(&ss);
	s->req = req;
	http_request_on_abort(req, signout_abort, s);
	store_write(a->env.store, signout_write, signout_done, s);
}
