/*
 * parse.c: one connection's request parser, bytes in, requests out.
 *
 * http_parser does the parsing; this file collects what its callbacks
 * report into a struct http_request and applies the server's limits as
 * the pieces arrive: the URL comes in pieces too, so its length is
 * counted here (414 as soon as it passes the limit), as are the headers
 * (431 past the count); the header bytes are limited by http_parser
 * itself (its process-wide maximum, HPE_HEADER_OVERFLOW → 431); a body
 * larger than the limit is refused from its Content-Length before it is
 * read, or as soon as a chunked body passes it (413).
 *
 * After each complete request the parser is paused (http_parser_pause):
 * whatever follows in the buffer belongs to the next request and waits
 * until the answer to this one is written, so pipelined answers keep the
 * requests' order.  No sockets here: fuzz/fuzz_http.c drives this file.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <uv.h>

#include "http-int.h"

static struct http_parse *
ps_of(http_parser *p)
{
	return container_of(p, struct http_parse, p);
}

static int
fail(struct http_parse *ps, int status, const char *code, const char *fmt,
     ...) __attribute__((format(printf, 4, 5)));

static int
fail(struct http_parse *ps, int status, const char *code, const char *fmt,
     ...)
{
	va_list ap;

	if (ps->status == 0) {
		ps->status = status;
		ps->code = code;
		va_start(ap, fmt);
		vsnprintf(ps->msg, sizeof(ps->msg), fmt, ap);
		va_end(ap);
	}
	return -1;
}

static int
on_message_begin(http_parser *p)
{
	struct http_parse *ps = ps_of(p);

	if (ps->req == NULL)
		ps->req = http_request_new();
	buf_init(&ps->req->url, ps->lim->max_url);
	buf_init(&ps->req->body, ps->lim->max_body);
	ps->req->start_ns = uv_hrtime();
	ps->in_message = true;
	return 0;
}

static int
on_url(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	if (ps->req->method[0] == '\0')
		snprintf(ps->req->method, sizeof(ps->req->method), "%s",
			 http_method_str((enum http_method)p->method));
	if (buf_append(&ps->req->url, at, len) != 0)
		return fail(ps, 414, "uri_too_long",
			    "request target longer than %zu bytes",
			    ps->lim->max_url);
	return 0;
}

/*
 * Whether name is an RFC 9110 token (tchar only).  http_parser, built
 * without HTTP_PARSER_STRICT as Debian ships it, lets spaces into field
 * names: "Authorization : Bearer x" would become a header named
 * "Authorization " that no lookup finds, and a request that carried a
 * token would be treated as anonymous.  RFC 9112 5.1 says a server must
 * reject whitespace between the field name and the colon with 400.
 */
static bool
field_name_ok(const char *name, size_t len)
{
	static const char tchar[] = "!#$%&'*+-.^_`|~";
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') ||
		      (ch != '\0' && strchr(tchar, ch) != NULL)))
			return false;
	}
	return true;
}

/* Stores the header read so far, if any. */
static int
header_end(struct http_parse *ps)
{
	struct http_request *req = ps->req;
	const char *name = ps->field.data, *value = ps->value.data;

	if (ps->field.len == 0)
		return 0;
	if (!field_name_ok(name, ps->field.len))
		return fail(ps, 400, "bad_request",
			    "invalid header name '%.40s': a field name is a "
			    "token, with no space before the colon", name);
	if (value == NULL)
		value = "";
	if (strcasecmp(name, "Content-Length") == 0)
		ps->has_cl = true;
	else if (strcasecmp(name, "Transfer-Encoding") == 0)
		ps->has_te = true;
	else if (strcasecmp(name, "Upgrade") == 0)
		ps->has_upgrade = true;
	http_kvs_add(&req->headers, name, ps->field.len, value,
		     ps->value.len);
	buf_reset(&ps->field);
	buf_reset(&ps->value);
	return 0;
}

static int
on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	if (ps->in_value || ps->field.len == 0) {
		if (header_end(ps) != 0)
			return -1;
		ps->in_value = false;
		if (ps->req->headers.count >= ps->lim->max_headers)
			return fail(ps, 431, "headers_too_large",
				    "more than %zu request headers",
				    ps->lim->max_headers);
	}
	/* http_parser's own header byte limit bounds these buffers. */
	if (buf_append(&ps->field, at, len) != 0)
		return fail(ps, 431, "headers_too_large",
			    "request headers larger than %zu bytes",
			    ps->lim->max_header_bytes);
	return 0;
}

static int
on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	ps->in_value = true;
	if (buf_append(&ps->value, at, len) != 0)
		return fail(ps, 431, "headers_too_large",
			    "request headers larger than %zu bytes",
			    ps->lim->max_header_bytes);
	return 0;
}

static int
on_headers_complete(http_parser *p)
{
	struct http_parse *ps = ps_of(p);
	struct http_request *req = ps->req;
	char msg[sizeof(ps->msg)];
	const char *expect;

	if (header_end(ps) != 0)
		return -1;
	ps->in_value = false;
	ps->headers_done = true;
	snprintf(req->method, sizeof(req->method), "%s",
		 http_method_str((enum http_method)p->method));
	req->http_major = p->http_major;
	req->http_minor = p->http_minor;
	if (p->method == HTTP_CONNECT)
		return fail(ps, 400, "bad_request",
			    "CONNECT is not supported");
	if (ps->has_upgrade || p->upgrade)
		return fail(ps, 400, "bad_request",
			    "protocol upgrades are not supported");
	if (ps->has_cl && ps->has_te)
		return fail(ps, 400, "bad_request",
			    "Content-Length and Transfer-Encoding together");
	if (p->http_major != 1)
		return fail(ps, 400, "bad_request",
			    "HTTP/%d.%d is not supported", p->http_major,
			    p->http_minor);
	if ((p->flags & F_CONTENTLENGTH) && p->content_length != ULLONG_MAX &&
	    p->content_length > ps->lim->max_body)
		return fail(ps, 413, "payload_too_large",
			    "request body larger than %zu bytes",
			    ps->lim->max_body);
	if (http_request_parse_url(req, msg, sizeof(msg)) != 0)
		return fail(ps, 400, "bad_request", "%s", msg);
	req->head = p->method == HTTP_HEAD;
	expect = http_request_header(req, "Expect");
	ps->expect_continue = expect != NULL && p->http_minor >= 1 &&
			      strcasecmp(expect, "100-continue") == 0;
	return 0;
}

static int
on_body(http_parser *p, const char *at, size_t len)
{
	struct http_parse *ps = ps_of(p);

	if (buf_append(&ps->req->body, at, len) != 0)
		return fail(ps, 413, "payload_too_large",
			    "request body larger than %zu bytes",
			    ps->lim->max_body);
	return 0;
}

static int
on_message_complete(http_parser *p)
{
	struct http_parse *ps = ps_of(p);

	ps->req->keep_alive = http_should_keep_alive(p) != 0;
	ps->done = true;
	http_parser_pause(p, 1);
	return 0;
}

static const http_parser_settings settings = {
	.on_message_begin = on_message_begin,
	.on_url = on_url,
	.on_header_field = on_header_field,
	.on_header_value = on_header_value,
	.on_headers_complete = on_headers_complete,
	.on_body = on_body,
	.on_message_complete = on_message_complete,
};

void
http_limits_fill(struct http_limits *out, const struct http_limits *in)
{
	static const struct http_limits none;

	*out = in != NULL ? *in : none;
	if (out->max_url == 0)
		out->max_url = HTTP_DEFAULT_MAX_URL;
	if (out->max_header_bytes == 0)
		out->max_header_bytes = HTTP_DEFAULT_MAX_HEADER_BYTES;
	if (out->max_headers == 0)
		out->max_headers = HTTP_DEFAULT_MAX_HEADERS;
	if (out->max_body == 0)
		out->max_body = HTTP_DEFAULT_MAX_BODY;
	if (out->max_connections == 0)
		out->max_connections = HTTP_DEFAULT_MAX_CONNECTIONS;
	if (out->max_connections_per_address == 0)
		out->max_connections_per_address =
			HTTP_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS;
	if (out->header_timeout_ms == 0)
		out->header_timeout_ms = HTTP_DEFAULT_HEADER_TIMEOUT_MS;
	if (out->read_timeout_ms == 0)
		out->read_timeout_ms = HTTP_DEFAULT_READ_TIMEOUT_MS;
	if (out->idle_timeout_ms == 0)
		out->idle_timeout_ms = HTTP_DEFAULT_IDLE_TIMEOUT_MS;
}

void
http_parse_init(struct http_parse *ps, const struct http_limits *lim)
{
	memset(ps, 0, sizeof(*ps));
	http_parser_init(&ps->p, HTTP_REQUEST);
	ps->lim = lim;
	buf_init(&ps->field, lim->max_header_bytes);
	buf_init(&ps->value, lim->max_header_bytes);
}

void
http_parse_free(struct http_parse *ps)
{
	http_request_free(ps->req);
	ps->req = NULL;
	buf_free(&ps->field);
	buf_free(&ps->value);
}

/* The error for what http_parser refused by itself. */
static void
parser_error(struct http_parse *ps)
{
	enum http_errno e = HTTP_PARSER_ERRNO(&ps->p);

	switch (e) {
	case HPE_HEADER_OVERFLOW:
		fail(ps, 431, "headers_too_large",
		     "request headers larger than %zu bytes",
		     ps->lim->max_header_bytes);
		break;
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		fail(ps, 400, "bad_request",
		     "Content-Length and Transfer-Encoding together");
		break;
	default:
		fail(ps, 400, "bad_request", "malformed request: %s",
		     http_errno_description(e));
		break;
	}
}

int
http_parse_feed(struct http_parse *ps, const char *data, size_t len,
		size_t *used)
{
	size_t n;

	*used = 0;
	if (ps->status != 0)
		return HTTP_PARSE_ERROR;
	if (ps->done) {
		/* http_parse_next was not called: a caller's bug. */
		fail(ps, 400, "bad_request", "request parsed out of turn");
		return HTTP_PARSE_ERROR;
	}
	if (len == 0)
		return HTTP_PARSE_MORE;
	n = http_parser_execute(&ps->p, &settings, data, len);
	*used = n;
	if (ps->done) {
		/* Paused in on_message_complete, after its last byte. */
		return HTTP_PARSE_REQUEST;
	}
	if (HTTP_PARSER_ERRNO(&ps->p) != HPE_OK) {
		parser_error(ps);
		return HTTP_PARSE_ERROR;
	}
	if (n != len) {
		parser_error(ps);
		return HTTP_PARSE_ERROR;
	}
	return HTTP_PARSE_MORE;
}

struct http_request *
http_parse_take(struct http_parse *ps)
{
	struct http_request *req = ps->req;

	ps->req = NULL;
	return req;
}

void
http_parse_next(struct http_parse *ps)
{
	http_request_free(ps->req);
	ps->req = NULL;
	ps->done = false;
	ps->in_message = false;
	ps->headers_done = false;
	ps->in_value = false;
	ps->has_cl = ps->has_te = ps->has_upgrade = false;
	ps->expect_continue = false;
	buf_reset(&ps->field);
	buf_reset(&ps->value);
	http_parser_pause(&ps->p, 0);
}
