/*
 * response.c: whole answers: the status line, the headers, the body.
 *
 * An answer is built into one buffer and queued on the connection in one
 * write.  Every answer carries Content-Length (none for 204 and 304,
 * which have no body) and says "Connection: close" when the connection
 * closes after it (HTTP/1.0 keep-alive clients get "Connection:
 * keep-alive").  A HEAD request gets the same headers and no body.
 * Errors are JSON {"error": {"code", "message"}}, built with cJSON.
 *
 * A detached request (its connection went away, see http.h) is freed by
 * its answer, which goes nowhere; answers from inside an on_abort
 * callback, or to an answered request, are ignored.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "http-int.h"

const char *
http_status_text(int status)
{
	const char *t;

	if (status < 100 || status > 599)
		return "Unknown";
	t = http_status_str((enum http_status)status);
	return t[0] == '<' ? "Unknown" : t;
}

void
http_head_build(struct buf *out, struct http_request *req, int status,
		const char *content_type, const char *const *headers,
		bool close)
{
	char date[64];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	buf_addf(out, "HTTP/1.1 %d %s\r\nDate: %s\r\n", status,
		 http_status_text(status), date);
	if (content_type != NULL)
		buf_addf(out, "Content-Type: %s\r\n", content_type);
	if (close)
		buf_adds(out, "Connection: close\r\n");
	else if (req->http_major == 1 && req->http_minor == 0)
		buf_adds(out, "Connection: keep-alive\r\n");
	for (; headers != NULL && *headers != NULL; headers++)
		buf_addf(out, "%s\r\n", *headers);
}

void
http_request_log(struct http_request *req)
{
	struct http_server *s = req->server;

	if (s->log_cb != NULL)
		s->log_cb(s->log_arg, req, req->status,
			  (uv_hrtime() - req->start_ns) / 1000);
}

void
http_request_finish(struct http_request *req)
{
	req->answered = true;
	http_conn_request_done(req->conn, req);
}

/* Whether the request can be answered now; frees a detached one. */
static bool
answerable(struct http_request *req)
{
	if (req->aborting || req->answered || req->streaming)
		return false;
	if (req->conn == NULL) {
		http_request_free(req);
		return false;
	}
	return true;
}

void
http_respond(struct http_request *req, int status, const char *content_type,
	     const char *const *headers, const char *body, size_t len)
{
	struct buf out;
	bool close, nobody = status == 204 || status == 304 ||
			     (status >= 100 && status < 200);

	if (!answerable(req))
		return;
	close = http_conn_closing(req->conn, req);
	buf_init(&out, 0);
	http_head_build(&out, req, status, nobody ? NULL : content_type,
			headers, close);
	if (!nobody)
		buf_addf(&out, "Content-Length: %zu\r\n", len);
	buf_adds(&out, "\r\n");
	if (!nobody && !req->head && len > 0)
		buf_add(&out, body, len);
	req->status = status;
	http_request_log(req);
	http_conn_send(req->conn, out.data, out.len);
	buf_free(&out);
	http_request_finish(req);
}

void
http_respond_json(struct http_request *req, int status, const char *json)
{
	http_respond(req, status, "application/json", NULL, json, strlen(json));
}

static void
respond_error(struct http_request *req, int status, const char *code,
	      const char *msg, const char *const *headers)
{
	cJSON *root, *err;
	char *json;

	root = cJSON_CreateObject();
	err = cJSON_AddObjectToObject(root, "error");
	if (err == NULL || cJSON_AddStringToObject(err, "code", code) == NULL ||
	    cJSON_AddStringToObject(err, "message", msg) == NULL)
		abort();
	json = cJSON_PrintUnformatted(root);
	if (json == NULL)
		abort();
	cJSON_Delete(root);
	http_respond(req, status, "application/json", headers, json,
		     strlen(json));
	cJSON_free(json);
}

static void
respond_errorv(struct http_request *req, int status, const char *code,
	       const char *const *headers, const char *fmt, va_list ap)
{
	char *msg;

	if (!answerable(req))
		return;
	msg = xvasprintf(fmt, ap);
	respond_error(req, status, code, msg, headers);
	free(msg);
}

void
http_respond_error(struct http_request *req, int status, const char *code,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_errorv(req, status, code, NULL, fmt, ap);
	va_end(ap);
}

void
http_respond_error_with(struct http_request *req, int status, const char *code,
			const char *const *headers, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	respond_errorv(req, status, code, headers, fmt, ap);
	va_end(ap);
}

void
http_respond_error_now(struct http_request *req, int status,
		       const char *code, const char *msg)
{
	respond_error(req, status, code, msg, NULL);
}

void
http_respond_error_allow(struct http_request *req, const char *allow)
{
	char *hdr = xasprintf("Allow: %s", allow);
	const char *headers[] = { hdr, NULL };
	char *msg = xasprintf("%s is not allowed on %s (allowed: %s)",
			      req->method, http_request_path(req), allow);

	respond_error(req, 405, "method_not_allowed", msg, headers);
	free(msg);
	free(hdr);
}
