/*
 * One blocking HTTP exchange with the daemon over libcurl's easy handle,
 * reused (keep-alive) across a command's requests.  JSON answers are read
 * whole into a capped buffer; a log is handed to a sink as it arrives
 * while an error answer is still collected, so that its
 * {"error": {"code", "message"}} can be printed.  Every request has a
 * connect timeout and a total timeout, except a followed log, which may
 * stay open for as long as its job runs (TCP keep-alive notices a dead
 * peer instead).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

struct xfer {
	struct client *c;
	struct buf body;     /* a JSON answer, or an error answer's body */
	client_sink sink;    /* a 2xx body goes here when set */
	void *arg;
	int sink_rc;         /* the sink's nonzero answer, if it stopped */
	CURLcode rc;         /* the transfer's outcome */
	bool too_big;        /* body passed its limit */
};

static size_t
on_write(char *data, size_t size, size_t n, void *arg)
{
	struct xfer *x = arg;
	size_t len = size * n;
	long status = 0;

	curl_easy_getinfo(x->c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->sink != NULL && status >= 200 && status < 300) {
		x->sink_rc = x->sink(x->arg, data, len);
		return x->sink_rc == 0 ? len : 0;
	}
	if (buf_append(&x->body, data, len) < 0) {
		x->too_big = true;
		return 0;
	}
	return len;
}

/* Readies the handle for one request; the caller frees *hdrs after it. */
static void
prepare(struct client *c, struct xfer *x, const char *method,
	const char *path, bool follow, struct curl_slist *extra,
	struct curl_slist **hdrs)
{
	char *url = xasprintf("%s%s", c->server, path);
	char *auth;
	CURL *h = c->curl;

	curl_easy_reset(h);
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	free(url); /* libcurl keeps its own copy */
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)CLIENT_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
			 follow ? 0L : (long)CLIENT_TIMEOUT_MS);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "pipewright/" PW_VERSION);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);

	*hdrs = curl_slist_append(NULL, follow ? "Accept: text/event-stream" :
					       "Accept: application/json");
	if (c->token != NULL) {
		auth = xasprintf("Authorization: Bearer %s", c->token);
		*hdrs = curl_slist_append(*hdrs, auth);
		explicit_bzero(auth, strlen(auth));
		free(auth);
	}
	for (; extra != NULL; extra = extra->next)
		*hdrs = curl_slist_append(*hdrs, extra->data);
	if (*hdrs == NULL)
		abort(); /* out of memory */
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, *hdrs);
}

void
client_transport_error(struct client *c, CURLcode rc)
{
	long oserr = 0;
	const char *why = c->errbuf[0] != '\0' ? c->errbuf :
						 curl_easy_strerror(rc);

	curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
		fprintf(stderr, "pipewright: cannot reach %s: %s\n", c->server,
			oserr != 0 ? strerror((int)oserr) : why);
		break;
	default:
		fprintf(stderr, "pipewright: %s: %s\n", c->server, why);
		break;
	}
}

/* Prints an error answer: the API's message and code when it sent one. */
static void
answer_error(struct client *c, const char *method, const char *path,
	     long status, const struct buf *body)
{
	cJSON *json = cJSON_ParseWithLength(body->data ? body->data : "",
					    body->len);
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(json, "error");
	/* Messages name runs, jobs and refs: shown escaped (cli.h). */
	char *msg = term_escape_str(json_str(err, "message"));
	char *code = term_escape_str(json_str(err, "code"));

	if (msg != NULL)
		fprintf(stderr, "pipewright: %s (%ld %s)\n", msg, status,
			code != NULL ? code : "error");
	else
		fprintf(stderr, "pipewright: %s %s%s: HTTP status %ld\n",
			method, c->server, path, status);
	if (status == 401 && c->token == NULL)
		fprintf(stderr, "pipewright: set PIPEWRIGHT_TOKEN to a token "
			"from 'pipewright token create'\n");
	free(msg);
	free(code);
	cJSON_Delete(json);
}

/* The common part of client_call and client_stream. */
static int
perform(struct client *c, struct xfer *x, const char *method,
	const char *path, bool *transport)
{
	long status = 0;

	*transport = false;
	x->rc = curl_easy_perform(c->curl);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
	if (x->too_big) {
		fprintf(stderr, "pipewright: %s %s: the answer is larger than "
			"%zu bytes\n", method, path, x->body.limit);
		return CLI_FAILED;
	}
	if (x->sink_rc != 0)
		return x->sink_rc > 0 ? CLI_OK : CLI_FAILED;
	if (x->rc != CURLE_OK) {
		*transport = true;
		return CLI_FAILED;
	}
	if (status < 200 || status > 299) {
		answer_error(c, method, path, status, &x->body);
		return CLI_FAILED;
	}
	return CLI_OK;
}

int
client_call(struct client *c, const char *method, const char *path,
	    const cJSON *body, struct client_response *r)
{
	struct xfer x = {.c = c};
	struct curl_slist *hdrs = NULL, *extra = NULL;
	char *payload = NULL;
	bool transport;
	int rc;

	memset(r, 0, sizeof(*r));
	buf_init(&x.body, CLIENT_JSON_MAX);
	if (body != NULL) {
		payload = cJSON_PrintUnformatted(body);
		if (payload == NULL)
			abort();
		extra = curl_slist_append(NULL,
					  "Content-Type: application/json");
	}
	prepare(c, &x, method, path, false, extra, &hdrs);
	if (payload != NULL)
		curl_easy_setopt(c->curl, CURLOPT_COPYPOSTFIELDS, payload);
	rc = perform(c, &x, method, path, &transport);
	if (transport)
		client_transport_error(c, x.rc);
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &r->status);
	if (rc == CLI_OK && x.body.len > 0) {
		r->json = cJSON_ParseWithLength(x.body.data, x.body.len);
		if (r->json == NULL) {
			fprintf(stderr, "pipewright: %s %s: the answer is not "
				"JSON\n", method, path);
			rc = CLI_FAILED;
		}
	}
	r->body = x.body;
	curl_slist_free_all(hdrs);
	curl_slist_free_all(extra);
	cJSON_free(payload);
	return rc;
}

int
client_stream(struct client *c, const char *path, bool follow,
	      struct curl_slist *headers, client_sink sink, void *arg,
	      bool *transport)
{
	struct xfer x = {.c = c, .sink = sink, .arg = arg};
	struct curl_slist *hdrs = NULL;
	int rc;

	buf_init(&x.body, CLIENT_ERROR_MAX);
	prepare(c, &x, "GET", path, follow, headers, &hdrs);
	rc = perform(c, &x, "GET", path, transport);
	c->last_rc = x.rc;
	curl_slist_free_all(hdrs);
	buf_free(&x.body);
	return rc;
}

void
client_response_free(struct client_response *r)
{
	cJSON_Delete(r->json);
	buf_free(&r->body);
	r->json = NULL;
}
