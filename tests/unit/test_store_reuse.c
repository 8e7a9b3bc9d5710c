/*
 * store's artifacts and caches (user_version 9), for real: a database file
 * in a fresh mkdtemp directory, writes through the writer thread, reads
 * back through the public API.  A "gate" write holds the writer thread
 * until two saves of one cache key are queued, so both run in one batch,
 * one after the other, as two jobs finishing together would.  Every test
 * ends with uv_loop_close() == 0.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <uv.h>

#include "pipewright/store.h"
#include "../../src/store/store-int.h"
#include "testlib.h"

#define D1 "1111111111111111111111111111111111111111111111111111111111111111"
#define D2 "2222222222222222222222222222222222222222222222222222222222222222"
#define D3 "3333333333333333333333333333333333333333333333333333333333333333"

struct fx {
	uv_loop_t loop;
	struct store *s;
	char dir[64];
	char path[128];
	bool closed;
};

static void
on_store_closed(void *arg)
{
	*(bool *)arg = true;
}

static void
fx_open(struct fx *f)
{
	char *err = NULL;
	int rc;

	rc = store_open(&f->loop, f->path, &f->s, &err);
	if (rc < 0)
		fail_msg("store_open: %d %s", rc, err);
}

static void
fx_close(struct fx *f)
{
	f->closed = false;
	store_close(f->s, on_store_closed, &f->closed);
	f->s = NULL;
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_true(f->closed);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pw-reuse-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/pipewright.db", f->dir);
	if (uv_loop_init(&f->loop) != 0)
		return -1;
	fx_open(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->s != NULL)
		fx_close(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tl_rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- writes ---- */

struct w {
	int (*fn)(struct store_tx *tx, struct w *w);
	int rc;
	bool done;
	struct store_run_new run;
	struct store_artifact_new art;
	struct store_cache_new cache;
	const char *status, *name, *key, *scope;
	uint64_t id, t1, t2, n;
	bool won;
	int ref;
	uint64_t *ids;
	size_t nids;
};

static int
w_fn(struct store_tx *tx, void *arg)
{
	struct w *w = arg;

	return w->fn(tx, w);
}

static void
w_done(int rc, void *arg)
{
	struct w *w = arg;

	w->done = true;
	w->rc = rc;
}

static int
write_now(struct fx *f, struct w *w)
{
	store_write(f->s, w_fn, w_done, w);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(w->done);
	return w->rc;
}

static int
fn_run(struct store_tx *tx, struct w *w)
{
	int rc = store_tx_run_insert(tx, &w->run, &w->id);

	if (rc == 0 && w->status != NULL)
		rc = store_tx_run_set_status(tx, w->id, w->status, 1, w->t1);
	return rc;
}

/* A run of project web on branch (NULL: none), ending in status. */
static uint64_t
run(struct fx *f, const char *branch, int64_t pr, const char *status)
{
	struct w w = { .fn = fn_run, .status = status, .t1 = 5 };

	w.run = (struct store_run_new){
		.project = "web", .status = "running", .trigger = "api",
		.branch = branch, .pr = pr, .created_at = 1,
	};
	assert_int_equal(write_now(f, &w), 0);
	return w.id;
}

static int
fn_art(struct store_tx *tx, struct w *w)
{
	return store_tx_artifact_insert(tx, &w->art);
}

static int
art(struct fx *f, uint64_t r, int job, const char *name, const char *digest,
    uint64_t expires)
{
	struct w w = { .fn = fn_art };

	w.art = (struct store_artifact_new){
		.run = r, .job_idx = job, .job_name = job == 0 ? "build" : "test",
		.name = name, .digest = digest, .size = 100 + (uint64_t)job,
		.files = 3, .created_ms = 10, .expires_ms = expires,
	};
	return write_now(f, &w);
}

static int
fn_expire(struct store_tx *tx, struct w *w)
{
	return store_tx_artifact_expire(tx, w->id, w->name, w->t1);
}

static int
fn_art_delete(struct store_tx *tx, struct w *w)
{
	return store_tx_artifact_delete(tx, w->id, w->name);
}

static int
fn_cache(struct store_tx *tx, struct w *w)
{
	return store_tx_cache_insert(tx, &w->cache, &w->won);
}

static bool
cache(struct fx *f, const char *scope, const char *key, const char *digest,
      uint64_t created, uint64_t size)
{
	struct w w = { .fn = fn_cache };

	w.cache = (struct store_cache_new){
		.project = "web", .scope = scope, .key = key,
		.digest = digest, .size = size, .created_ms = created,
	};
	assert_int_equal(write_now(f, &w), 0);
	return w.won;
}

static int
fn_touch(struct store_tx *tx, struct w *w)
{
	return store_tx_cache_touch(tx, "web", w->scope, w->key, w->t1);
}

static int
fn_cache_delete(struct store_tx *tx, struct w *w)
{
	return store_tx_cache_delete(tx, "web", w->key, w->scope, &w->n);
}

static int
fn_ref(struct store_tx *tx, struct w *w)
{
	w->ref = store_tx_digest_referenced(tx, w->name);
	return w->ref < 0 ? w->ref : 0;
}

static int
fn_prune(struct store_tx *tx, struct w *w)
{
	return store_tx_prune(tx, "web", 1, 0, 0, &w->ids, &w->nids);
}

static bool
referenced(struct fx *f, const char *digest)
{
	bool yes = false;

	assert_int_equal(store_digest_referenced(f->s, digest, &yes), 0);
	return yes;
}

/* ---- tests ---- */

/*
 * Insert, list, get; a rerun of the job replaces its own artifact, another
 * job's name is taken; expiry keeps the row and releases the digest;
 * delete; a run pruned by retention takes its artifacts along.
 */
static void
test_artifacts(void **state)
{
	struct fx *f = *state;
	struct store_artifact *a = NULL;
	struct w w = {0};
	uint64_t r1, r2;
	size_t n;

	r1 = run(f, "main", 0, "success");
	assert_int_equal(art(f, r1, 1, "report", D1, 0), 0);
	assert_int_equal(art(f, r1, 0, "app", D2, 500), 0);
	assert_int_equal(art(f, r1, 1, "app", D3, 0), -EEXIST);
	assert_int_equal(art(f, r1 + 100, 0, "x", D1, 0), -ENOENT);
	assert_int_equal(art(f, r1, 0, "x", "abc", 0), -EINVAL);
	assert_int_equal(store_artifacts_list(f->s, r1, &a, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(a[0].name, "app");
	assert_string_equal(a[0].job_name, "build");
	assert_string_equal(a[0].digest, D2);
	assert_int_equal(a[0].size, 100);
	assert_int_equal(a[0].files, 3);
	assert_int_equal(a[0].expires_ms, 500);
	assert_int_equal(a[0].removed_ms, 0);
	assert_string_equal(a[1].name, "report");
	assert_int_equal(a[1].job_idx, 1);
	store_artifacts_free(a, n);

	/* The job's rerun saves its artifact again: replaced. */
	assert_int_equal(art(f, r1, 0, "app", D3, 900), 0);
	assert_int_equal(store_artifact_get(f->s, r1, "app", &a), 0);
	assert_string_equal(a->digest, D3);
	assert_int_equal(a->expires_ms, 900);
	store_artifacts_free(a, 1);
	assert_false(referenced(f, D2));
	assert_true(referenced(f, D3));
	assert_int_equal(store_artifact_get(f->s, r1, "nosuch", &a), -ENOENT);

	/* Expired: still listed, removed_ms set; the digest is free. */
	w = (struct w){ .fn = fn_expire, .id = r1, .name = "app", .t1 = 950 };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(store_artifact_get(f->s, r1, "app", &a), 0);
	assert_int_equal(a->removed_ms, 950);
	store_artifacts_free(a, 1);
	assert_false(referenced(f, D3));
	w = (struct w){ .fn = fn_expire, .id = r1, .name = "nosuch", .t1 = 1 };
	assert_int_equal(write_now(f, &w), -ENOENT);
	/* Saving it again holds it again. */
	assert_int_equal(art(f, r1, 0, "app", D3, 0), 0);
	assert_true(referenced(f, D3));

	w = (struct w){ .fn = fn_art_delete, .id = r1, .name = "report" };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(write_now(f, &w), -ENOENT);
	assert_false(referenced(f, D1));

	/* Retention prunes r1 (keep 1 run): its artifacts go with it. */
	r2 = run(f, "main", 0, "success");
	assert_int_equal(art(f, r2, 0, "app", D1, 0), 0);
	w = (struct w){ .fn = fn_prune };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 1);
	assert_int_equal(w.ids[0], r1);
	free(w.ids);
	assert_int_equal(store_artifacts_list(f->s, r1, &a, &n), 0);
	assert_int_equal(n, 0);
	free(a);
	assert_false(referenced(f, D3));
	assert_true(referenced(f, D1));
	assert_int_equal(store_artifacts_list(f->s, r2, &a, &n), 0);
	assert_int_equal(n, 1);
	store_artifacts_free(a, n);
}

/* The names of the expired artifacts, "run:name" joined by spaces. */
static void
expired(struct fx *f, uint64_t now, bool keep, char *out, size_t len)
{
	struct store_artifact *a;
	size_t n, i;

	assert_int_equal(store_artifacts_expired(f->s, now, keep, 50, &a, &n),
			 0);
	out[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s%llu:%s",
			 i > 0 ? " " : "", (unsigned long long)a[i].run,
			 a[i].name);
	store_artifacts_free(a, n);
}

/*
 * Expired is past expires_ms and still held; keep_latest spares the
 * latest successful run of each branch (a PR's runs apart), and nothing
 * of a failed run or a run without a branch.
 */
static void
test_artifacts_expired(void **state)
{
	struct fx *f = *state;
	struct store_artifact *a;
	struct w w;
	char got[256], want[256];
	uint64_t r1, r2, r3, r4, r5, r6;
	size_t n;

	r1 = run(f, "main", 0, "success");
	r2 = run(f, "main", 0, "success");    /* the latest good main */
	r3 = run(f, "main", 0, "failed");
	r4 = run(f, "main", 7, "success");    /* PR 7, from main */
	r5 = run(f, NULL, 0, "success");      /* a tag's run */
	r6 = run(f, "dev", 0, "running");     /* not finished */
	assert_int_equal(art(f, r1, 0, "a", D1, 100), 0);
	assert_int_equal(art(f, r1, 1, "never", D1, 0), 0);
	assert_int_equal(art(f, r2, 0, "a", D1, 110), 0);
	assert_int_equal(art(f, r3, 0, "a", D1, 120), 0);
	assert_int_equal(art(f, r4, 0, "a", D1, 130), 0);
	assert_int_equal(art(f, r5, 0, "a", D1, 140), 0);
	assert_int_equal(art(f, r6, 0, "a", D1, 150), 0);
	assert_int_equal(art(f, r6, 1, "later", D1, 900), 0);

	expired(f, 200, false, got, sizeof(got));
	snprintf(want, sizeof(want), "%llu:a %llu:a %llu:a %llu:a %llu:a %llu:a",
		 (unsigned long long)r1, (unsigned long long)r2,
		 (unsigned long long)r3, (unsigned long long)r4,
		 (unsigned long long)r5, (unsigned long long)r6);
	assert_string_equal(got, want);
	expired(f, 200, true, got, sizeof(got));
	snprintf(want, sizeof(want), "%llu:a %llu:a %llu:a %llu:a",
		 (unsigned long long)r1, (unsigned long long)r3,
		 (unsigned long long)r5, (unsigned long long)r6);
	assert_string_equal(got, want);
	/* Not yet expired at 115: r1's only. */
	expired(f, 115, true, got, sizeof(got));
	snprintf(want, sizeof(want), "%llu:a", (unsigned long long)r1);
	assert_string_equal(got, want);

	/* Released ones are not listed again. */
	w = (struct w){ .fn = fn_expire, .id = r1, .name = "a", .t1 = 201 };
	assert_int_equal(write_now(f, &w), 0);
	expired(f, 200, true, got, sizeof(got));
	snprintf(want, sizeof(want), "%llu:a %llu:a %llu:a",
		 (unsigned long long)r3, (unsigned long long)r5,
		 (unsigned long long)r6);
	assert_string_equal(got, want);

	/* A newer good run of main: r2 is no longer kept. */
	run(f, "main", 0, "success");
	expired(f, 200, true, got, sizeof(got));
	snprintf(want, sizeof(want), "%llu:a %llu:a %llu:a %llu:a",
		 (unsigned long long)r2, (unsigned long long)r3,
		 (unsigned long long)r5, (unsigned long long)r6);
	assert_string_equal(got, want);
	assert_int_equal(store_artifacts_expired(f->s, 200, true, 0, &a, &n),
			 -EINVAL);
}

/* Holds the writer thread until opened (see test_store.c). */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open, entered;
};

static int
gate_fn(struct store_tx *tx, void *arg)
{
	struct gate *g = arg;

	(void)tx;
	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

/*
 * Two jobs save the same key at once (both queued while the writer is
 * busy, so they share one batch): exactly one wins, the entry is the
 * winner's, and a later save neither wins nor rewrites it.
 */
static void
test_cache_first_save_wins(void **state)
{
	struct fx *f = *state;
	struct gate g = { .open = false };
	struct store_cache *c;
	struct w a = { .fn = fn_cache }, b = { .fn = fn_cache };
	const char *const scopes[] = {"branch:main", NULL};

	pthread_mutex_init(&g.mu, NULL);
	pthread_cond_init(&g.cv, NULL);
	store_write(f->s, gate_fn, NULL, &g);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	pthread_mutex_lock(&g.mu);
	while (!g.entered)
		pthread_cond_wait(&g.cv, &g.mu);
	pthread_mutex_unlock(&g.mu);
	a.cache = (struct store_cache_new){ "web", "branch:main", "cargo-1",
					    D1, 10, 100 };
	b.cache = (struct store_cache_new){ "web", "branch:main", "cargo-1",
					    D2, 20, 101 };
	store_write(f->s, w_fn, w_done, &a);
	store_write(f->s, w_fn, w_done, &b);
	pthread_mutex_lock(&g.mu);
	g.open = true;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	pthread_mutex_destroy(&g.mu);
	pthread_cond_destroy(&g.cv);
	assert_true(a.done && b.done);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_true(a.won != b.won);
	assert_true(a.won);

	assert_int_equal(store_cache_lookup(f->s, "web", scopes, "cargo-1",
					    NULL, &c), 0);
	assert_string_equal(c->digest, D1);
	assert_int_equal(c->size, 10);
	assert_int_equal(c->created_ms, 100);
	assert_int_equal(c->last_used_ms, 100);
	store_caches_free(c, 1);
	assert_false(cache(f, "branch:main", "cargo-1", D3, 30, 200));
	assert_int_equal(store_cache_lookup(f->s, "web", scopes, "cargo-1",
					    NULL, &c), 0);
	assert_string_equal(c->digest, D1);
	store_caches_free(c, 1);
	/* The same key in another scope is another entry. */
	assert_true(cache(f, "pr:4", "cargo-1", D3, 30, 200));
}

/* The key lookup answers, or "-" for none. */
static void
lookup(struct fx *f, const char *const *scopes, const char *key,
       const char *const *prefixes, char *out, size_t len)
{
	struct store_cache *c;
	int rc = store_cache_lookup(f->s, "web", scopes, key, prefixes, &c);

	if (rc == -ENOENT) {
		snprintf(out, len, "-");
		return;
	}
	assert_int_equal(rc, 0);
	snprintf(out, len, "%s %s", c->scope, c->key);
	store_caches_free(c, 1);
}

/*
 * Exact key, then each prefix in order, newest first, in each scope in
 * order: this branch's scope before the default branch's.
 */
static void
test_cache_lookup(void **state)
{
	struct fx *f = *state;
	const char *const both[] = {"branch:feat", "branch:main", NULL};
	const char *const main_only[] = {"branch:main", NULL};
	const char *const cargo[] = {"cargo-", NULL};
	const char *const two[] = {"npm-", "cargo-", NULL};
	const char *const empty[] = {"", NULL};
	const char *const edge[] = {"cargo-a", NULL};
	char got[128];

	assert_true(cache(f, "branch:main", "cargo-main", D1, 50, 1));
	assert_true(cache(f, "branch:main", "cargo-exact", D1, 10, 1));
	assert_true(cache(f, "branch:feat", "cargo-b-old", D1, 20, 1));
	assert_true(cache(f, "branch:feat", "cargo-a-new", D1, 30, 1));
	assert_true(cache(f, "branch:feat", "npm-x", D1, 5, 1));
	assert_true(cache(f, "branch:feat", "cargo", D1, 40, 1));
	assert_true(cache(f, "branch:feat", "cargp", D1, 45, 1));

	lookup(f, both, "cargo-exact", cargo, got, sizeof(got));
	assert_string_equal(got, "branch:feat cargo-a-new");
	lookup(f, main_only, "cargo-exact", cargo, got, sizeof(got));
	assert_string_equal(got, "branch:main cargo-exact");
	lookup(f, main_only, "cargo-none", cargo, got, sizeof(got));
	assert_string_equal(got, "branch:main cargo-main");
	/* Prefixes in their order, not the newest of all. */
	lookup(f, both, "zz", two, got, sizeof(got));
	assert_string_equal(got, "branch:feat npm-x");
	/* The exact key comes first, whatever is newer. */
	lookup(f, both, "cargo-b-old", cargo, got, sizeof(got));
	assert_string_equal(got, "branch:feat cargo-b-old");
	/* A prefix is a prefix: "cargo" and "cargp" are not "cargo-...". */
	lookup(f, both, NULL, edge, got, sizeof(got));
	assert_string_equal(got, "branch:feat cargo-a-new");
	lookup(f, both, NULL, empty, got, sizeof(got));
	assert_string_equal(got, "branch:feat cargp");
	lookup(f, both, "zz", NULL, got, sizeof(got));
	assert_string_equal(got, "-");
	lookup(f, (const char *const[]){"pr:1", NULL}, "cargo-main", cargo,
	       got, sizeof(got));
	assert_string_equal(got, "-");
}

/* Touch, listing by pages, usage, eviction, delete by key and scope. */
static void
test_cache_touch_list_evict_delete(void **state)
{
	struct fx *f = *state;
	struct store_reuse_usage u;
	struct store_cache *c;
	struct w w;
	uint64_t next;
	size_t n;

	assert_true(cache(f, "branch:main", "k1", D1, 100, 10));
	assert_true(cache(f, "branch:main", "k2", D2, 200, 20));
	assert_true(cache(f, "branch:dev", "k1", D3, 300, 30));
	assert_true(cache(f, "branch:main", "k3", D3, 400, 40));
	w = (struct w){ .fn = fn_touch, .scope = "branch:main", .key = "k1",
			.t1 = 1000 };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_touch, .scope = "branch:x", .key = "k1",
			.t1 = 1000 };
	assert_int_equal(write_now(f, &w), -ENOENT);

	assert_int_equal(store_caches_list(f->s, "web", 3, 0, &c, &n, &next),
			 0);
	assert_int_equal(n, 3);
	assert_string_equal(c[0].key, "k3");
	assert_string_equal(c[1].scope, "branch:dev");
	assert_string_equal(c[2].key, "k2");
	assert_int_equal(next, c[2].id);
	store_caches_free(c, n);
	assert_int_equal(store_caches_list(f->s, "web", 3, next, &c, &n,
					   &next), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].key, "k1");
	assert_int_equal(c[0].last_used_ms, 1000);
	assert_int_equal(next, 0);
	store_caches_free(c, n);
	assert_int_equal(store_caches_list(f->s, "other", 3, 0, &c, &n,
					   &next), 0);
	assert_int_equal(n, 0);
	free(c);

	assert_int_equal(store_reuse_usage(f->s, &u), 0);
	assert_int_equal(u.cache_bytes, 100);
	assert_int_equal(u.cache_count, 4);
	assert_int_equal(u.artifact_count, 0);

	/*
	 * By use, most recent first: main's k1 (10 bytes), k3 (40), dev's
	 * k1 (30), k2 (20): together 10, 50, 80, 100.  A budget of 60 keeps
	 * the first two; the least recently used go first.
	 */
	assert_int_equal(store_caches_to_evict(f->s, 60, 0, 10, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(c[0].key, "k2");
	assert_string_equal(c[1].scope, "branch:dev");
	store_caches_free(c, n);
	assert_int_equal(store_caches_to_evict(f->s, 60, 0, 1, &c, &n), 0);
	assert_int_equal(n, 1);
	store_caches_free(c, n);
	/* Unused since 250: k2 alone, whatever the budget. */
	assert_int_equal(store_caches_to_evict(f->s, 0, 250, 10, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(c[0].key, "k2");
	store_caches_free(c, n);
	assert_int_equal(store_caches_to_evict(f->s, 100, 0, 10, &c, &n), 0);
	assert_int_equal(n, 0);
	free(c);

	/* k1 in one scope, then in every scope. */
	w = (struct w){ .fn = fn_cache_delete, .key = "k1", .scope = "branch:dev" };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.n, 1);
	assert_true(cache(f, "branch:dev", "k1", D3, 300, 30));
	w = (struct w){ .fn = fn_cache_delete, .key = "k1" };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.n, 2);
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.n, 0);
	assert_int_equal(store_reuse_usage(f->s, &u), 0);
	assert_int_equal(u.cache_count, 2);
	assert_int_equal(u.cache_bytes, 60);
}

/* A digest is referenced while a cache entry or a held artifact names it. */
static void
test_digest_referenced(void **state)
{
	struct fx *f = *state;
	struct w w;
	uint64_t r;

	assert_false(referenced(f, D1));
	assert_true(cache(f, "branch:main", "k", D1, 1, 1));
	assert_true(referenced(f, D1));
	r = run(f, "main", 0, "success");
	assert_int_equal(art(f, r, 0, "a", D2, 0), 0);
	w = (struct w){ .fn = fn_ref, .name = D2 };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.ref, 1);
	w = (struct w){ .fn = fn_ref, .name = D3 };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.ref, 0);
	w = (struct w){ .fn = fn_cache_delete, .key = "k" };
	assert_int_equal(write_now(f, &w), 0);
	assert_false(referenced(f, D1));
	assert_true(referenced(f, D2));
}

/* The query plan of a prepared reader statement, its details joined. */
static void
plan(struct fx *f, enum store_stmt_id id, struct buf *out)
{
	sqlite3_stmt *st;
	char *sql;

	assert_non_null(f->s->rd.stmt[id]);
	sql = xasprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(f->s->rd.stmt[id]));
	assert_int_equal(sqlite3_prepare_v2(f->s->rd.db, sql, -1, &st, NULL),
			 SQLITE_OK);
	buf_reset(out);
	while (sqlite3_step(st) == SQLITE_ROW)
		buf_addf(out, "%s; ", sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	free(sql);
}

static void
plan_has(struct fx *f, enum store_stmt_id id, const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	plan(f, id, &b);
	buf_add(&b, "", 1);
	if (strstr(b.data, want) == NULL)
		fail_msg("plan of statement %d: '%s' not in '%s'", (int)id, want,
			 b.data);
	buf_free(&b);
}

/* Each lookup walks its index: a prefix is a range of the unique key. */
static void
test_plans(void **state)
{
	struct fx *f = *state;
	const char *const scopes[] = {"branch:main", NULL};
	const char *const prefixes[] = {"cargo-", NULL};
	struct store_artifact *a;
	struct store_cache *c;
	uint64_t next;
	size_t n;
	bool yes;

	assert_true(cache(f, "branch:main", "cargo-1", D1, 1, 1));
	assert_int_equal(store_cache_lookup(f->s, "web", scopes, "x", prefixes,
					    &c), 0);
	store_caches_free(c, 1);
	assert_int_equal(store_caches_list(f->s, "web", 10, 0, &c, &n, &next),
			 0);
	store_caches_free(c, n);
	assert_int_equal(store_artifacts_expired(f->s, 1, true, 10, &a, &n), 0);
	free(a);
	assert_int_equal(store_digest_referenced(f->s, D1, &yes), 0);
	assert_int_equal(store_caches_to_evict(f->s, 1, 0, 10, &c, &n), 0);
	store_caches_free(c, n);
	plan_has(f, ST_R_CACHE_EXACT, "USING INDEX sqlite_autoindex_caches_1 "
		 "(project=? AND scope=? AND key=?)");
	plan_has(f, ST_R_CACHE_PREFIX, "USING INDEX sqlite_autoindex_caches_1 "
		 "(project=? AND scope=? AND key>? AND key<?)");
	plan_has(f, ST_R_CACHES, "USING INDEX caches_project (project=? AND "
		 "id<?)");
	plan_has(f, ST_R_ARTIFACTS_EXPIRED, "SEARCH a USING INDEX "
		 "artifacts_expires (expires_ms>? AND expires_ms<?)");
	/* The later successful run: by runs_status or runs_branch. */
	plan_has(f, ST_R_ARTIFACTS_EXPIRED, "SEARCH l USING INDEX runs_");
	/* The running total walks entries by use, not a sort of them all. */
	plan_has(f, ST_R_CACHES_EVICT, "SCAN caches USING INDEX caches_used");
	plan_has(f, ST_R_DIGEST_REF, "caches USING COVERING INDEX "
		 "caches_digest (digest=?)");
	plan_has(f, ST_R_DIGEST_REF, "SEARCH artifacts USING INDEX "
		 "artifacts_digest (digest=?)");
}

static int
file_user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
					    &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/*
 * A version-8 file (the schema before artifacts and caches) migrates to 9,
 * keeps its runs, and its old runs take artifacts.
 */
static void
test_migrate_from_v8(void **state)
{
	struct fx *f = *state;
	struct store_artifact *a;
	struct store_run *r;
	struct buf sql;
	sqlite3 *db;
	size_t i, n;

	assert_true(store_nmigrations >= 9);
	fx_close(f);
	snprintf(f->path, sizeof(f->path), "%s/v8.db", f->dir);
	buf_init(&sql, 0);
	buf_adds(&sql, "BEGIN;");
	for (i = 0; i < 8; i++)
		buf_addf(&sql, "%s;", store_migrations[i]);
	buf_adds(&sql, "PRAGMA user_version = 8;"
		 " INSERT INTO runs (id, project, status, trigger_kind, branch,"
		 " created_at) VALUES (42, 'web', 'success', 'api', 'main', 7);"
		 " INSERT INTO jobs (run_id, idx, name, stage, status)"
		 " VALUES (42, 0, 'build', 'b', 'success'); COMMIT;");
	buf_add(&sql, "", 1);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql.data, NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(db);
	buf_free(&sql);
	assert_int_equal(file_user_version(f->path), 8);

	fx_open(f);
	assert_int_equal(file_user_version(f->path), (int)store_nmigrations);
	assert_int_equal(store_run_get(f->s, 42, &r), 0);
	assert_string_equal(r->status, "success");
	assert_int_equal(r->njobs, 1);
	store_run_free(r);
	assert_int_equal(art(f, 42, 0, "app", D1, 0), 0);
	assert_true(cache(f, "branch:main", "k", D2, 1, 1));
	fx_close(f);
	fx_open(f);
	assert_int_equal(store_artifacts_list(f->s, 42, &a, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(a[0].digest, D1);
	store_artifacts_free(a, n);
	assert_true(referenced(f, D2));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_artifacts),
		T(test_artifacts_expired),
		T(test_cache_first_save_wins),
		T(test_cache_lookup),
		T(test_cache_touch_list_evict_delete),
		T(test_digest_referenced),
		T(test_plans),
		T(test_migrate_from_v8),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
