/*
 * Artifacts and caches: a run's artifacts listed and downloaded, a
 * project's caches listed and deleted.
 *
 * A download streams a blob file without holding it in memory and
 * without reading it on the loop: one piece at a time is read with a
 * libuv file request (the thread pool), written to the client, and the
 * next piece is read at once while less than DL_HIGH bytes wait to be
 * sent, else once they have drained to DL_LOW: a slow client costs about
 * DL_HIGH of memory, never the archive.
 * `?path=` has the env extract the one file into a temporary file off
 * the loop first, then streams that the same way.  A client that goes
 * away mid-download stops it; a read in flight is waited for before the
 * memory goes.  An artifact whose blob expiry released answers 410 Gone
 * with when it expired; one that never existed, 404.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api-int.h"
#include "pipewright/log.h"

#define DL_PIECE (256 * 1024) /* bytes read per file request */
#define DL_HIGH (1024 * 1024) /* queued for the client: stop reading */
#define DL_LOW (256 * 1024)   /* read on once the queue is down to this */

/* The text of an RFC 3339 time (api_time's), into out. */
static void
time_text(uint64_t ms, char *out, size_t len)
{
	cJSON *t = api_time(ms);

	snprintf(out, len, "%s", cJSON_IsString(t) ? t->valuestring : "never");
	cJSON_Delete(t);
}

/* A name for Content-Disposition: what is not [A-Za-z0-9._-] becomes '_'. */
static char *
safe_filename(const char *s)
{
	char *out = xstrdup(*s != '\0' ? s : "_"), *p;

	for (p = out; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
		      *p == '_'))
			*p = '_';
	return out;
}

static char *
url_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct buf b;

	buf_init(&b, 0);
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' ||
		    c == '_' || c == '~')
			buf_add(&b, (const char *)&c, 1);
		else
			buf_addf(&b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
	buf_add(&b, "", 1);
	return b.data;
}

void
api_artifacts_list(struct api *a, struct http_request *req, const char *actor)
{
	struct store_artifact *rows = NULL;
	struct store_run *run = NULL;
	cJSON *o, *items;
	uint64_t id;
	size_t n = 0, i;
	char *name, *url;
	int rc;

	(void)actor;
	if (!api_read_run(a, req, &id, &run))
		return;
	store_run_free(run);
	rc = store_artifacts_list(a->env.store, id, &rows, &n);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the artifacts");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		const struct store_artifact *r = &rows[i];
		cJSON *it = cJSON_CreateObject();

		cJSON_AddStringToObject(it, "name", r->name);
		cJSON_AddStringToObject(it, "job", r->job_name);
		cJSON_AddNumberToObject(it, "size", (double)r->size);
		cJSON_AddNumberToObject(it, "files", (double)r->files);
		cJSON_AddStringToObject(it, "digest", r->digest);
		cJSON_AddItemToObject(it, "created", api_time(r->created_ms));
		cJSON_AddItemToObject(it, "expires", api_time(r->expires_ms));
		cJSON_AddBoolToObject(it, "expired", r->removed_ms != 0);
		name = url_escape(r->name);
		url = xasprintf("%s/api/v1/runs/%llu/artifacts/%s",
				api_public_url(a), (unsigned long long)id, name);
		cJSON_AddStringToObject(it, "url", url);
		free(url);
		free(name);
		cJSON_AddItemToArray(items, it);
	}
	store_artifacts_free(rows, n);
	api_respond_tree(req, 200, o);
}

/* ---- streaming a file ---- */

struct download {
	struct api *a;
	struct http_request *req; /* NULL once the client has gone */
	int fd;
	void *blob;               /* blob_open's handle, or NULL: fd is ours */
	uint64_t size, off;
	uv_fs_t fs;
	bool reading;             /* fs is in flight */
	char piece[DL_PIECE];
};

static void dl_read(struct download *d);

static void
dl_free(struct download *d)
{
	if (d->blob != NULL)
		d->a->env.blob_close(d->a->env.ctx, d->blob);
	else if (d->fd >= 0)
		close(d->fd);
	free(d);
}

static void
dl_abort(struct http_request *req, void *arg)
{
	struct download *d = arg;

	(void)req;
	d->req = NULL;
	if (!d->reading)
		dl_free(d);
}

static void
dl_drained(struct http_request *req, void *arg)
{
	(void)req;
	dl_read(arg);
}

/* A read failed or came up short: cut the body, never end it whole. */
static void
dl_fail(struct download *d, ssize_t n)
{
	log_warnx("api.download_failed offset=%llu size=%llu error=\"%s\"",
		  (unsigned long long)d->off, (unsigned long long)d->size,
		  n < 0 ? uv_strerror((int)n) : "file shorter than its size");
	http_request_on_abort(d->req, NULL, NULL);
	http_stream_abort(d->req);
	dl_free(d);
}

static void
dl_on_read(uv_fs_t *fs)
{
	struct download *d = container_of(fs, struct download, fs);
	ssize_t n = fs->result;

	uv_fs_req_cleanup(fs);
	d->reading = false;
	if (d->req == NULL) {
		dl_free(d);
		return;
	}
	if (n <= 0) {
		dl_fail(d, n);
		return;
	}
	d->off += (uint64_t)n;
	if (http_stream_write(d->req, d->piece, (size_t)n) > DL_HIGH)
		http_stream_on_drain(d->req, DL_LOW, dl_drained, d);
	else
		dl_read(d);
}

static void
dl_read(struct download *d)
{
	uv_buf_t b;
	uint64_t left = d->size - d->off;
	int rc;

	if (left == 0) {
		http_request_on_abort(d->req, NULL, NULL);
		http_stream_end(d->req);
		dl_free(d);
		return;
	}
	b = uv_buf_init(d->piece, (unsigned)(left < DL_PIECE ? left : DL_PIECE));
	d->reading = true;
	rc = uv_fs_read(d->a->env.loop, &d->fs, d->fd, &b, 1, (int64_t)d->off,
			dl_on_read);
	if (rc < 0) {
		d->reading = false;
		dl_fail(d, rc);
	}
}

/*
 * Streams fd (size bytes) as the answer; takes the fd (and blob handle,
 * NULL if the fd alone is to be closed).
 */
static void
dl_start(struct api *a, struct http_request *req, int fd, void *blob,
	 uint64_t size, const char *content_type, const char *const *headers)
{
	struct download *d = xcalloc(1, sizeof(*d));

	d->a = a;
	d->req = req;
	d->fd = fd;
	d->blob = blob;
	d->size = size;
	http_stream_start(req, 200, content_type, headers);
	if (strcmp(http_request_method(req), "HEAD") == 0)
		d->size = 0; /* the headers say it all */
	http_request_on_abort(req, dl_abort, d);
	dl_read(d);
}

/* ---- one file of an artifact (?path=) ---- */

struct extract {
	struct api *a;
	struct http_request *req; /* NULL once the client has gone */
	char *path, *label;
};

static void
ex_abort(struct http_request *req, void *arg)
{
	(void)req;
	((struct extract *)arg)->req = NULL;
}

static void
ex_done(int rc, int fd, uint64_t size, void *arg)
{
	struct extract *e = arg;
	const char *base;
	char *name, *disp;

	if (e->req == NULL) {
		if (rc == 0)
			close(fd);
		goto out;
	}
	http_request_on_abort(e->req, NULL, NULL);
	if (rc == -ENOENT) {
		http_respond_error(e->req, 404, "not_found", "no file '%s' in %s",
				   e->path, e->label);
	} else if (rc == -EISDIR) {
		http_respond_error(e->req, 400, "bad_request", "'%s' in %s is "
				   "not a regular file", e->path, e->label);
	} else if (rc < 0) {
		/* The server's own archive failed it: not the client's doing. */
		http_respond_error(e->req, 500, "internal", "cannot extract '%s' "
				   "from %s: %s", e->path, e->label,
				   rc == -EBADMSG ? "the archive is damaged" :
				   strerror(-rc));
	} else {
		base = strrchr(e->path, '/');
		name = safe_filename(base != NULL ? base + 1 : e->path);
		disp = xasprintf("Content-Disposition: attachment; "
				 "filename=\"%s\"", name);
		dl_start(e->a, e->req, fd, NULL, size,
			 "application/octet-stream",
			 (const char *const[]){disp, NULL});
		free(disp);
		free(name);
	}
out:
	free(e->path);
	free(e->label);
	free(e);
}

/* A path inside an archive: relative, no "." or ".." segment, no "//". */
static bool
path_ok(const char *p)
{
	const char *s = p, *end;
	size_t len;

	if (*p == '\0' || *p == '/')
		return false;
	for (;;) {
		end = strchr(s, '/');
		len = end != NULL ? (size_t)(end - s) : strlen(s);
		if (len == 0 && end != NULL)
			return false;
		if ((len == 1 && s[0] == '.') ||
		    (len == 2 && s[0] == '.' && s[1] == '.'))
			return false;
		if (end == NULL)
			return true;
		s = end + 1;
	}
}

void
api_artifact_get(struct api *a, struct http_request *req, const char *actor)
{
	const char *name = http_request_param(req, "name");
	const char *path = http_request_query(req, "path");
	struct store_artifact *art = NULL;
	struct store_run *run = NULL;
	struct extract *e;
	char when[48], *fname, *disp, *etag;
	uint64_t id, size;
	void *blob;
	int rc, fd;

	(void)actor;
	if (!api_read_run(a, req, &id, &run))
		return;
	store_run_free(run);
	rc = store_artifact_get(a->env.store, id, name, &art);
	if (rc == -ENOENT) {
		http_respond_error(req, 404, "not_found", "run %llu has no "
				   "artifact '%s'", (unsigned long long)id, name);
		return;
	}
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the artifact");
		return;
	}
	if (art->removed_ms != 0) {
		time_text(art->expires_ms != 0 ? art->expires_ms :
			  art->removed_ms, when, sizeof(when));
		http_respond_error(req, 410, "gone", "artifact '%s' of job '%s' "
				   "in run %llu expired at %s", art->name,
				   art->job_name, (unsigned long long)id, when);
		goto out;
	}
	if (path != NULL) {
		if (!path_ok(path)) {
			http_respond_error(req, 400, "bad_request", "path must "
					   "be relative to the artifact's root "
					   "without '.' or '..' segments, got "
					   "'%s'", path);
			goto out;
		}
		e = xcalloc(1, sizeof(*e));
		e->a = a;
		e->req = req;
		e->path = xstrdup(path);
		e->label = xasprintf("artifact '%s' of run %llu", art->name,
				     (unsigned long long)id);
		http_request_on_abort(req, ex_abort, e);
		a->env.blob_extract(a->env.ctx, art->digest, path, ex_done, e);
		goto out;
	}
	rc = a->env.blob_open(a->env.ctx, art->digest, &fd, &size, &blob);
	if (rc < 0) {
		/* The row says it is held: its blob is missing or unreadable. */
		log_warnx("api.artifact_blob run=%llu name=\"%s\" digest=%s "
			  "error=\"%s\"", (unsigned long long)id, art->name,
			  art->digest, strerror(-rc));
		http_respond_error(req, rc == -ENOENT ? 404 : 500,
				   rc == -ENOENT ? "not_found" : "internal",
				   "the archive of artifact '%s' of run %llu "
				   "cannot be read: %s", art->name,
				   (unsigned long long)id, strerror(-rc));
		goto out;
	}
	fname = safe_filename(art->name);
	disp = xasprintf("Content-Disposition: attachment; "
			 "filename=\"%llu-%s.tar.zst\"",
			 (unsigned long long)id, fname);
	/* Content-addressed: the digest is a strong validator. */
	etag = xasprintf("ETag: \"%s\"", art->digest);
	dl_start(a, req, fd, blob, size, "application/zstd",
		 (const char *const[]){disp, etag, NULL});
	free(etag);
	free(disp);
	free(fname);
out:
	store_artifacts_free(art, 1);
}

/* ---- caches ---- */

static bool
project_known(struct api *a, struct http_request *req, const char *project)
{
	if (config_project_find(api_config(a), project) != NULL)
		return true;
	http_respond_error(req, 404, "not_found", "no project '%s'", project);
	return false;
}

void
api_caches_list(struct api *a, struct http_request *req, const char *actor)
{
	const char *project = http_request_param(req, "project");
	struct store_cache *rows = NULL;
	uint64_t before, next = 0;
	size_t limit, n = 0, i;
	cJSON *o, *items;
	int rc;

	(void)actor;
	if (!project_known(a, req, project) ||
	    !api_paging(req, 50, &limit, &before))
		return;
	rc = store_caches_list(a->env.store, project, limit, before, &rows, &n,
			       &next);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the caches");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		cJSON *it = cJSON_CreateObject();

		cJSON_AddStringToObject(it, "key", rows[i].key);
		cJSON_AddStringToObject(it, "scope", rows[i].scope);
		cJSON_AddNumberToObject(it, "size", (double)rows[i].size);
		cJSON_AddStringToObject(it, "digest", rows[i].digest);
		cJSON_AddItemToObject(it, "created",
				      api_time(rows[i].created_ms));
		cJSON_AddItemToObject(it, "last_used",
				      api_time(rows[i].last_used_ms));
		cJSON_AddItemToArray(items, it);
	}
	store_caches_free(rows, n);
	api_add_cursor(o, next);
	api_respond_tree(req, 200, o);
}

/* A cache deletion waiting for its commit. */
struct cache_del {
	struct http_request *req; /* NULL once the client has gone */
	char *project, *key, *scope;
};

static void
cd_abort(struct http_request *req, void *arg)
{
	(void)req;
	((struct cache_del *)arg)->req = NULL;
}

static void
cd_done(int rc, uint64_t n, const char *message, void *arg)
{
	struct cache_del *c = arg;
	cJSON *o;

	if (c->req == NULL)
		goto out;
	http_request_on_abort(c->req, NULL, NULL);
	if (rc < 0) {
		api_respond_errno(c->req, rc, message);
	} else if (n == 0) {
		http_respond_error(c->req, 404, "not_found", "project '%s' has "
				   "no cache '%s'%s%s", c->project, c->key,
				   c->scope != NULL ? " in scope " : "",
				   c->scope != NULL ? c->scope : "");
	} else {
		o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "key", c->key);
		if (c->scope != NULL)
			cJSON_AddStringToObject(o, "scope", c->scope);
		else
			cJSON_AddNullToObject(o, "scope");
		cJSON_AddNumberToObject(o, "deleted", (double)n);
		api_respond_tree(c->req, 200, o);
	}
out:
	free(c->project);
	free(c->key);
	free(c->scope);
	free(c);
}

void
api_cache_delete(struct api *a, struct http_request *req, const char *actor)
{
	const char *project = http_request_param(req, "project");
	const char *scope = http_request_query(req, "scope");
	struct cache_del *c;

	if (!project_known(a, req, project))
		return;
	if (scope != NULL && *scope == '\0')
		scope = NULL;
	c = xcalloc(1, sizeof(*c));
	c->req = req;
	c->project = xstrdup(project);
	c->key = xstrdup(http_request_param(req, "key"));
	c->scope = scope != NULL ? xstrdup(scope) : NULL;
	http_request_on_abort(req, cd_abort, c);
	a->env.cache_delete(a->env.ctx, c->project, c->key, c->scope, actor,
			    cd_done, c);
}
