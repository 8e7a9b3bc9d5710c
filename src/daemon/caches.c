/*
 * Deleting a project's cache entries on an admin's request: the rows and
 * the audit row naming who asked go in one commit, so the trail never
 * misses a deletion nor records one that did not happen.  The blobs
 * they named are left to collection, which removes a blob once nothing
 * names it (and never one a restore is reading).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

struct cache_op {
	struct daemon *d;
	char *project, *key, *scope, *actor;
	uint64_t n;
	daemon_done_cb cb;
	void *arg;
};

static int
tx_cache_delete(struct store_tx *tx, void *arg)
{
	struct cache_op *c = arg;
	char *detail;
	int rc;

	rc = store_tx_cache_delete(tx, c->project, c->key, c->scope, &c->n);
	if (rc < 0 || c->n == 0)
		return rc;
	detail = xasprintf("project=%s key=%s scope=%s deleted=%llu",
			   c->project, c->key,
			   c->scope != NULL ? c->scope : "*",
			   (unsigned long long)c->n);
	rc = store_tx_audit(tx, pw_now_ms(), c->actor, "cache.delete", detail);
	free(detail);
	return rc;
}

static void
cache_delete_done(int rc, void *arg)
{
	struct cache_op *c = arg;
	char *msg = NULL;

	daemon_note_store(c->d, rc);
	if (rc < 0) {
		msg = xasprintf("cannot delete the cache: %s",
				store_strerror(rc));
		log_warnx("cache.delete project=%s key=\"%s\" error=\"%s\"",
			  c->project, c->key, store_strerror(rc));
	} else if (c->n > 0) {
		log_info("cache.delete project=%s key=\"%s\" scope=%s "
			 "deleted=%llu actor=\"%s\"", c->project, c->key,
			 c->scope != NULL ? c->scope : "*",
			 (unsigned long long)c->n, c->actor);
	}
	c->cb(rc, c->n, msg, c->arg);
	free(msg);
	free(c->project);
	free(c->key);
	free(c->scope);
	free(c->actor);
	free(c);
}

void
daemon_cache_delete(struct daemon *d, const char *project, const char *key,
		    const char *scope, const char *actor, daemon_done_cb cb,
		    void *arg)
{
	struct cache_op *c;

	if (daemon_handing_over(d, cb, arg))
		return;
	c = xcalloc(1, sizeof(*c));
	c->d = d;
	c->project = xstrdup(project);
	c->key = xstrdup(key);
	c->scope = scope != NULL ? xstrdup(scope) : NULL;
	c->actor = xstrdup(actor != NULL ? actor : "anonymous");
	c->cb = cb;
	c->arg = arg;
	store_write(d->store, tx_cache_delete, cache_delete_done, c);
}
