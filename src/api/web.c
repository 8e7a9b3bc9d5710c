/*
 * The dashboard's pages: the files of web/, embedded at build time
 * (cmake/embed-web.cmake), served from memory.
 *
 * index.html answers `/` and every client route (the page draws the view
 * from its URL).  Its references to "/assets/..." are rewritten once, at
 * api_create, to "/assets/ID/...", where ID names this build's set of
 * files: those URLs never change content, so they are cached as
 * immutable, and a new build's page asks for new URLs instead of being
 * served stale scripts.  Modules imported relatively from there stay
 * under the same ID.  The plain "/assets/..." URLs answer too, with
 * `no-cache` (revalidated by ETag).  index.html itself is `no-cache`.
 *
 * Every page answer carries the Content-Security-Policy: only the
 * daemon's own scripts, styles and connections, no inline script or
 * style, no framing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

#define CSP "Content-Security-Policy: default-src 'self'; script-src 'self'; " \
	"style-src 'self'; img-src 'self' data:; connect-src 'self'; " \
	"frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

static const struct {
	const char *ext, *type;
} types[] = {
	{".html", "text/html; charset=utf-8"},
	{".js", "text/javascript; charset=utf-8"},
	{".mjs", "text/javascript; charset=utf-8"},
	{".css", "text/css; charset=utf-8"},
	{".svg", "image/svg+xml"},
	{".png", "image/png"},
	{".ico", "image/x-icon"},
	{".json", "application/json"},
	{".woff2", "font/woff2"},
	{".txt", "text/plain; charset=utf-8"},
	{".map", "application/json"},
};

static const char *
content_type(const char *name)
{
	size_t n = strlen(name), i, e;

	for (i = 0; i < PW_ARRAY_LEN(types); i++) {
		e = strlen(types[i].ext);
		if (n > e && strcmp(name + n - e, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

static ssize_t
find_file(const char *name)
{
	size_t i;

	for (i = 0; i < api_web_count; i++)
		if (strcmp(api_web_names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

void
api_web_init(struct api *a)
{
	ssize_t i = find_file("index.html");
	const char *from = "\"/assets/", *p, *hit;
	struct buf b;

	buf_init(&b, 0);
	if (i < 0) {
		/* A build without the dashboard's files still says so. */
		buf_addf(&b, "<!doctype html><title>pipewright</title>"
			 "<p>This build has no dashboard.</p>\n");
	} else {
		p = (const char *)api_web_data[i];
		while ((hit = strstr(p, from)) != NULL) {
			buf_add(&b, p, (size_t)(hit - p));
			buf_addf(&b, "\"/assets/%s/", api_web_id);
			p = hit + strlen(from);
		}
		buf_add(&b, p, strlen(p));
	}
	a->index_len = b.len;
	a->index = buf_steal(&b);
	snprintf(a->index_etag, sizeof(a->index_etag), "\"%s-index\"",
		 api_web_id);
}

/* Whether If-None-Match names etag (a list, or "*"). */
static bool
not_modified(struct http_request *req, const char *etag)
{
	const char *h = http_request_header(req, "If-None-Match");
	size_t n = strlen(etag);
	const char *p;

	if (h == NULL)
		return false;
	if (strcmp(h, "*") == 0)
		return true;
	for (p = h; (p = strstr(p, etag)) != NULL; p += n)
		if ((p == h || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
		    (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
			return true;
	return false;
}

static void
respond_file(struct http_request *req, const char *type, const char *etag,
	     const char *cache, const char *body, size_t len)
{
	char etag_h[128], cache_h[96];
	const char *headers[] = {
		etag_h, cache_h, CSP, "X-Content-Type-Options: nosniff",
		"Referrer-Policy: same-origin", NULL,
	};

	snprintf(etag_h, sizeof(etag_h), "ETag: %s", etag);
	snprintf(cache_h, sizeof(cache_h), "Cache-Control: %s", cache);
	if (not_modified(req, etag)) {
		http_respond(req, 304, NULL, headers, NULL, 0);
		return;
	}
	http_respond(req, 200, type, headers, body, len);
}

void
api_web_page(struct api *a, struct http_request *req, const char *actor)
{
	(void)actor;
	respond_file(req, "text/html; charset=utf-8", a->index_etag,
		     "no-cache", a->index, a->index_len);
}

void
api_web_asset(struct api *a, struct http_request *req, const char *actor)
{
	static const char *const parts[] = {"a", "b", "c", "d"};
	const char *seg, *cache = "no-cache";
	char name[512], etag[80];
	size_t i, len = 0;
	bool first = true;
	ssize_t f;

	(void)a;
	(void)actor;
	len = (size_t)snprintf(name, sizeof(name), "assets");
	for (i = 0; i < PW_ARRAY_LEN(parts); i++) {
		seg = http_request_param(req, parts[i]);
		if (seg == NULL)
			break;
		if (first && strcmp(seg, api_web_id) == 0) {
			/* A versioned URL: its content never changes. */
			cache = "public, max-age=31536000, immutable";
			first = false;
			continue;
		}
		first = false;
		if (strcmp(seg, "..") == 0 || strcmp(seg, ".") == 0 ||
		    strchr(seg, '/') != NULL || seg[0] == '.')
			break;
		len += (size_t)snprintf(name + len, sizeof(name) - len, "/%s",
					seg);
		if (len >= sizeof(name))
			break;
	}
	f = i == PW_ARRAY_LEN(parts) || http_request_param(req, parts[i]) == NULL ?
		find_file(name) : -1;
	if (f < 0) {
		http_respond_error(req, 404, "not_found", "no asset '%s'",
				   http_request_path(req));
		return;
	}
	snprintf(etag, sizeof(etag), "\"%s\"", api_web_etags[f]);
	respond_file(req, content_type(name), etag, cache,
		     (const char *)api_web_data[f], api_web_sizes[f]);
}
