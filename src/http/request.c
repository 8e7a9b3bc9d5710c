/*
 * request.c: a request's fields and their accessors, and the request
 * target taken apart: path, segments, query.
 *
 * The path is split on '/' before it is percent-decoded, so an encoded
 * slash (%2F) stays inside its segment: a job named "build/x" arrives as
 * one segment.  Query strings decode '+' as a space as well, as forms
 * send them.  An escape that is not two hex digits, or one that decodes
 * to NUL, makes the request a 400: every string here is a C string.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-int.h"

struct http_request *
http_request_new(void)
{
	struct http_request *req = xcalloc(1, sizeof(*req));

	buf_init(&req->url, 0);
	buf_init(&req->body, 0);
	return req;
}

static void
kvs_free(struct http_kvs *kv)
{
	size_t i;

	for (i = 0; i < kv->count; i++) {
		free(kv->items[i].name);
		free(kv->items[i].value);
	}
	free(kv->items);
	memset(kv, 0, sizeof(*kv));
}

void
http_request_free(struct http_request *req)
{
	size_t i;

	if (req == NULL)
		return;
	buf_free(&req->url);
	buf_free(&req->body);
	free(req->path);
	for (i = 0; i < req->nsegs; i++)
		free(req->segs[i]);
	free(req->segs);
	kvs_free(&req->headers);
	kvs_free(&req->query);
	kvs_free(&req->params);
	free(req);
}

void
http_kvs_add(struct http_kvs *kv, const char *name, size_t nlen,
	     const char *value, size_t vlen)
{
	kv->items = xgrow(kv->items, &kv->cap, kv->count + 1,
			  sizeof(*kv->items));
	kv->items[kv->count].name = xstrndup(name, nlen);
	kv->items[kv->count].value = xstrndup(value, vlen);
	kv->count++;
}

int
http_pct_decode(char *s, bool plus)
{
	char *out = s;
	int hi, lo;

	for (; *s != '\0'; s++) {
		if (*s == '%') {
			hi = pw_hex_digit((unsigned char)s[1]);
			lo = hi < 0 ? -1 : pw_hex_digit((unsigned char)s[2]);
			if (lo < 0 || (hi == 0 && lo == 0))
				return -EINVAL;
			*out++ = (char)(hi << 4 | lo);
			s += 2;
		} else if (*s == '+' && plus) {
			*out++ = ' ';
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
	return 0;
}

static int
parse_query(struct http_request *req, const char *q, size_t len)
{
	const char *end = q + len, *amp, *eq;
	char *name, *value;
	int rc = 0;

	while (q < end) {
		amp = memchr(q, '&', (size_t)(end - q));
		if (amp == NULL)
			amp = end;
		eq = memchr(q, '=', (size_t)(amp - q));
		if (amp > q) {
			name = xstrndup(q, (size_t)((eq != NULL ? eq : amp) - q));
			value = eq != NULL ? xstrndup(eq + 1, (size_t)(amp - eq - 1))
					   : xstrdup("");
			if (http_pct_decode(name, true) != 0 ||
			    http_pct_decode(value, true) != 0)
				rc = -EINVAL;
			else
				http_kvs_add(&req->query, name, strlen(name),
					     value, strlen(value));
			free(name);
			free(value);
			if (rc != 0)
				return rc;
		}
		q = amp + 1;
	}
	return 0;
}

static int
split_path(struct http_request *req, const char *path, size_t len)
{
	const char *p = path + 1, *end = path + len, *slash;
	size_t cap = 0;
	char *seg;

	for (;;) {
		slash = memchr(p, '/', (size_t)(end - p));
		if (slash == NULL)
			slash = end;
		seg = xstrndup(p, (size_t)(slash - p));
		if (http_pct_decode(seg, false) != 0) {
			free(seg);
			return -EINVAL;
		}
		req->segs = xgrow(req->segs, &cap, req->nsegs + 1,
				  sizeof(*req->segs));
		req->segs[req->nsegs++] = seg;
		if (slash == end)
			return 0;
		p = slash + 1;
	}
}

int
http_request_parse_url(struct http_request *req, char *msg, size_t mlen)
{
	struct http_parser_url u;
	const char *url = req->url.data != NULL ? req->url.data : "";
	const char *path = "/";
	size_t plen = 1;

	http_parser_url_init(&u);
	if (http_parser_parse_url(url, req->url.len, 0, &u) != 0) {
		snprintf(msg, mlen, "malformed request target");
		return -EINVAL;
	}
	if (u.field_set & (1 << UF_PATH)) {
		path = url + u.field_data[UF_PATH].off;
		plen = u.field_data[UF_PATH].len;
	}
	if (plen == 0 || path[0] != '/') {
		snprintf(msg, mlen, "request path must start with '/'");
		return -EINVAL;
	}
	req->path = xstrndup(path, plen);
	if (http_pct_decode(req->path, false) != 0 ||
	    split_path(req, path, plen) != 0) {
		snprintf(msg, mlen, "bad percent-encoding in the request path");
		return -EINVAL;
	}
	if ((u.field_set & (1 << UF_QUERY)) &&
	    parse_query(req, url + u.field_data[UF_QUERY].off,
			u.field_data[UF_QUERY].len) != 0) {
		snprintf(msg, mlen, "bad percent-encoding in the query string");
		return -EINVAL;
	}
	return 0;
}

static const char *
kvs_get(const struct http_kvs *kv, const char *name, bool nocase)
{
	size_t i;

	for (i = 0; i < kv->count; i++)
		if ((nocase ? strcasecmp(kv->items[i].name, name)
			    : strcmp(kv->items[i].name, name)) == 0)
			return kv->items[i].value;
	return NULL;
}

const char *
http_request_method(const struct http_request *req)
{
	return req->method;
}

const char *
http_request_path(const struct http_request *req)
{
	return req->path != NULL ? req->path : "";
}

const char *
http_request_route(const struct http_request *req)
{
	if (req->route == NULL)
		return NULL;
	return req->route->name != NULL ? req->route->name
					: req->route->pattern;
}

const struct http_route *
http_request_route_row(const struct http_request *req)
{
	return req->route;
}

const char *
http_request_param(const struct http_request *req, const char *name)
{
	return kvs_get(&req->params, name, false);
}

const char *
http_request_query(const struct http_request *req, const char *name)
{
	return kvs_get(&req->query, name, false);
}

const char *
http_request_header(const struct http_request *req, const char *name)
{
	return kvs_get(&req->headers, name, true);
}

const char *
http_request_client(const struct http_request *req)
{
	return req->client;
}

bool
http_request_via_proxy(const struct http_request *req)
{
	return req->proxied;
}

const char *
http_request_body(const struct http_request *req, size_t *len)
{
	if (len != NULL)
		*len = req->body.len;
	return req->body.data != NULL ? req->body.data : "";
}

void
http_request_set_data(struct http_request *req, void *data)
{
	req->data = data;
}

void *
http_request_data(const struct http_request *req)
{
	return req->data;
}

void
http_request_on_abort(struct http_request *req, http_abort_cb cb, void *arg)
{
	req->abort_cb = cb;
	req->abort_arg = arg;
}
