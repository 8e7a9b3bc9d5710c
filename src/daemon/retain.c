/*
 * Retention of the blob store: at start, hourly, and after a save that
 * took the caches past their budget.  One pass: expire the artifacts
 * past expire_in (keeping the latest successful run's per branch when
 * keep_latest says so), evict cache entries (least recently used beyond
 * caches.max_size, and unused for longer than caches.max_age), then
 * collect the blobs nothing names any more.  The listings are loop reads
 * in pages of PAGE; the row changes are store writes.  Collection walks
 * the blob directory on the store's writer thread, inside a write: the
 * question "does a row still name this digest" is asked in the same
 * transaction that no insert can interleave with, and a blob saved
 * meanwhile but not yet recorded is younger than the blob module's grace
 * (an hour) and never collected.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "pipewright/blob.h"

#define RETAIN_EVERY_MS (3600 * 1000)
#define PAGE 200

struct pass {
	struct daemon *d;
	struct store_artifact *arts;
	struct store_cache *caches;
	size_t n;
	uint64_t now;
	uint64_t removed_bytes, removed_count, usage;
	int rc;
};

static void caches_step(struct pass *p);
static void collect_step(struct pass *p);

static void
pass_end(struct pass *p)
{
	struct daemon *d = p->d;

	free(p);
	d->retaining = false;
	if (d->retain_again && !d->draining) {
		d->retain_again = false;
		retain_now(d);
	}
	daemon_run_gone(d);
}

/* ---- artifacts ---- */

static int
expire_tx(struct store_tx *tx, void *arg)
{
	struct pass *p = arg;
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		rc = store_tx_artifact_expire(tx, p->arts[i].run,
					      p->arts[i].name, p->now);
		if (rc < 0 && rc != -ENOENT)
			return rc;
	}
	return 0;
}

static void artifacts_step(struct pass *p);

static void
expire_done(int rc, void *arg)
{
	struct pass *p = arg;
	bool more = rc == 0 && p->n == PAGE;

	store_artifacts_free(p->arts, p->n);
	p->arts = NULL;
	if (rc < 0)
		log_warnx("retention: cannot expire artifacts: %s",
			  store_strerror(rc));
	if (more)
		artifacts_step(p);
	else
		caches_step(p);
}

static void
artifacts_step(struct pass *p)
{
	struct config_reuse cr;
	int rc;

	config_reuse(p->d->config, &cr);
	rc = store_artifacts_expired(p->d->store, p->now,
				     cr.artifacts_keep_latest, PAGE, &p->arts,
				     &p->n);
	if (rc < 0 || p->n == 0) {
		if (rc < 0)
			log_warnx("retention: cannot list expired artifacts: %s",
				  store_strerror(rc));
		caches_step(p);
		return;
	}
	store_write(p->d->store, expire_tx, expire_done, p);
}

/* ---- caches ---- */

static int
evict_tx(struct store_tx *tx, void *arg)
{
	struct pass *p = arg;
	uint64_t n;
	size_t i;
	int rc;

	for (i = 0; i < p->n; i++) {
		rc = store_tx_cache_delete(tx, p->caches[i].project,
					   p->caches[i].key,
					   p->caches[i].scope, &n);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
evict_done(int rc, void *arg)
{
	struct pass *p = arg;
	bool more = rc == 0 && p->n == PAGE;

	if (rc == 0) {
		p->d->evictions += p->n;
		if (p->n > 0)
			log_info("retention: %zu cache entries evicted", p->n);
	} else {
		log_warnx("retention: cannot evict caches: %s",
			  store_strerror(rc));
	}
	store_caches_free(p->caches, p->n);
	p->caches = NULL;
	if (more)
		caches_step(p);
	else
		collect_step(p);
}

static void
caches_step(struct pass *p)
{
	struct config_reuse cr;
	uint64_t since;
	int rc;

	config_reuse(p->d->config, &cr);
	since = p->now > cr.caches_max_age_ms ? p->now - cr.caches_max_age_ms :
						0;
	rc = store_caches_to_evict(p->d->store, cr.caches_max_size, since,
				   PAGE, &p->caches, &p->n);
	if (rc < 0 || p->n == 0) {
		if (rc < 0)
			log_warnx("retention: cannot list caches to evict: %s",
				  store_strerror(rc));
		collect_step(p);
		return;
	}
	store_write(p->d->store, evict_tx, evict_done, p);
}

/* ---- blobs ---- */

static bool
referenced(void *arg, const char *digest)
{
	/* On doubt (an error), keep the blob. */
	return store_tx_digest_referenced(arg, digest) != 0;
}

static int
collect_tx(struct store_tx *tx, void *arg)
{
	struct pass *p = arg;
	uint64_t count = 0;

	p->rc = blob_collect(p->d->blobs, referenced, tx, &p->removed_bytes,
			     &p->removed_count);
	if (blob_usage(p->d->blobs, &p->usage, &count) < 0)
		p->usage = UINT64_MAX;
	return 0;
}

static void
collect_done(int rc, void *arg)
{
	struct pass *p = arg;

	if (rc < 0 || p->rc < 0)
		log_warnx("retention: cannot collect blobs: %s",
			  rc < 0 ? store_strerror(rc) : strerror(-p->rc));
	if (p->removed_count > 0)
		log_info("retention: %llu blobs removed, %llu bytes",
			 (unsigned long long)p->removed_count,
			 (unsigned long long)p->removed_bytes);
	if (p->usage != UINT64_MAX)
		p->d->blob_bytes = p->usage;
	pass_end(p);
}

static void
collect_step(struct pass *p)
{
	store_write(p->d->store, collect_tx, collect_done, p);
}

void
retain_now(struct daemon *d)
{
	struct pass *p;

	if (d->blobs == NULL || d->store == NULL)
		return;
	if (d->retaining) {
		d->retain_again = true;
		return;
	}
	d->retaining = true;
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->now = pw_now_ms();
	artifacts_step(p);
}

static void
on_retain_timer(uv_timer_t *t)
{
	struct daemon *d = container_of(t, struct daemon, retain_timer);

	/* The runs' keep_days passes with no run ending. */
	prune_all_due(d);
	retain_now(d);
}

void
retain_start(struct daemon *d)
{
	uv_timer_start(&d->retain_timer, on_retain_timer, 0, RETAIN_EVERY_MS);
}
