/*
 * libFuzzer target for the HTTP request path: arbitrary bytes go through
 * the per-connection parse state (src/http/parse.c) exactly as a socket
 * would deliver them, in two pieces split where the first input byte
 * says; every complete request is routed and its accessors read, the way
 * the server does, then the parser goes on with the next one.  Any bytes
 * must give requests or one error with a status and a message, never a
 * crash, a leak or a hang.  Small limits so that the fuzzer reaches them.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../src/http/http-int.h"

static void
handler(struct http_request *req, void *arg)
{
	(void)req;
	(void)arg;
}

static const struct http_route routes[] = {
	{ "GET", "/api/v1/runs/{id}/jobs/{job}/log", handler, "log" },
	{ "GET", "/api/v1/runs/{id}", handler, NULL },
	{ "POST", "/api/v1/runs/{id}/rerun", handler, NULL },
	{ "POST", "/hooks/{forge}", handler, NULL },
	{ "GET", "/", handler, NULL },
};

static void
check_request(struct http_request *req)
{
	const struct http_route *r;
	struct buf allow;
	size_t i, len;

	buf_init(&allow, 0);
	r = http_route_find(routes, PW_ARRAY_LEN(routes), req, &allow);
	if (r != NULL && allow.len != 0)
		__builtin_trap();
	req->route = r;
	(void)strlen(http_request_method(req));
	(void)strlen(http_request_path(req));
	(void)http_request_route(req);
	(void)http_request_param(req, "id");
	(void)http_request_query(req, "x");
	(void)http_request_header(req, "host");
	(void)http_request_body(req, &len);
	if (len > 512)
		__builtin_trap();
	if (req->headers.count > 8)
		__builtin_trap();
	for (i = 0; i < req->nsegs; i++)
		(void)strlen(req->segs[i]);
	buf_free(&allow);
}

/* Feeds one piece; false once the parse state has failed. */
static bool
feed(struct http_parse *ps, const char *data, size_t len)
{
	size_t used;
	int rc;

	while (len > 0) {
		rc = http_parse_feed(ps, data, len, &used);
		if (used > len)
			__builtin_trap();
		data += used;
		len -= used;
		if (rc == HTTP_PARSE_MORE) {
			if (len != 0)
				__builtin_trap();
			return true;
		}
		if (rc == HTTP_PARSE_ERROR) {
			if (ps->status < 400 || ps->status > 499 ||
			    ps->code == NULL || ps->msg[0] == '\0')
				__builtin_trap();
			return false;
		}
		{
			struct http_request *req = http_parse_take(ps);

			check_request(req);
			http_request_free(req);
		}
		http_parse_next(ps);
	}
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_limits in = {
		.max_url = 256, .max_header_bytes = 1024, .max_headers = 8,
		.max_body = 512,
	}, lim;
	struct http_parse ps;
	size_t split;

	if (size == 0)
		return 0;
	http_limits_fill(&lim, &in);
	http_parser_set_max_header_size((uint32_t)lim.max_header_bytes);
	split = data[0] % size;
	data++;
	size--;
	if (split > size)
		split = size;
	http_parse_init(&ps, &lim);
	if (feed(&ps, (const char *)data, split))
		(void)feed(&ps, (const char *)data + split, size - split);
	http_parse_free(&ps);
	return 0;
}
