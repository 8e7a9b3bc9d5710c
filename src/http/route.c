/*
 * route.c: finding a request's row in the route table.
 *
 * A pattern is a path split on '/': a segment "{name}" matches any one
 * non-empty path segment (already percent-decoded, see request.c), every
 * other segment matches itself exactly.  A trailing slash is not special:
 * "/runs/" has an empty last segment and does not match "/runs".  The
 * first row whose method and pattern match wins; a HEAD request uses the
 * GET rows unless a HEAD row matches.  When only the method is wrong, the
 * caller answers 405 with the methods collected in `allow`.
 */
#include <string.h>

#include "http-int.h"

/* Whether the pattern matches the request's segments; fills params if so. */
static bool
match(const char *pattern, struct http_request *req, bool fill)
{
	const char *p = pattern, *end;
	size_t i = 0, len;
	const char *seg;

	if (*p != '/')
		return false;
	p++;
	for (;;) {
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		len = (size_t)(end - p);
		if (i >= req->nsegs)
			return false;
		seg = req->segs[i];
		if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
			if (seg[0] == '\0')
				return false;
			if (fill)
				http_kvs_add(&req->params, p + 1, len - 2, seg,
					     strlen(seg));
		} else if (strlen(seg) != len || memcmp(seg, p, len) != 0) {
			return false;
		}
		i++;
		if (*end == '\0')
			break;
		p = end + 1;
	}
	return i == req->nsegs;
}

static void
allow_add(struct buf *allow, const char *method)
{
	const char *p = allow->data;
	size_t n = strlen(method);

	/* Skip methods already listed. */
	while (p != NULL && *p != '\0') {
		if (strncmp(p, method, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return;
		p = strchr(p, ',');
		if (p != NULL)
			p += 2;
	}
	buf_addf(allow, "%s%s", allow->len > 0 ? ", " : "", method);
}

const struct http_route *
http_route_find(const struct http_route *routes, size_t n,
		struct http_request *req, struct buf *allow)
{
	const struct http_route *get = NULL;
	size_t i;

	for (i = 0; i < n; i++) {
		if (!match(routes[i].pattern, req, false))
			continue;
		if (strcmp(routes[i].method, req->method) == 0) {
			match(routes[i].pattern, req, true);
			return &routes[i];
		}
		if (req->head && get == NULL &&
		    strcmp(routes[i].method, "GET") == 0)
			get = &routes[i];
		allow_add(allow, routes[i].method);
		if (strcmp(routes[i].method, "GET") == 0)
			allow_add(allow, "HEAD");
	}
	if (get != NULL) {
		match(get->pattern, req, true);
		buf_reset(allow);
	}
	return get;
}
