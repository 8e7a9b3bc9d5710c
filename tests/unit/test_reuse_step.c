/*
 * The reuse step on a real loop, store and blob store, without a daemon:
 * artifacts saved by one job and restored into another job's workspace
 * (keep_existing keeping a file that is there), a cache saved then hit,
 * a second save of a key under way skipping (single-flight), a failed
 * job saving no cache, a variable the job lacks and an expanded path
 * leading out failing the restore, and a pull request's entry invisible
 * to a branch's scopes.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "pipewright/blob.h"
#include "pipewright/pipeline.h"
#include "pipewright/reuse.h"
#include "pipewright/store.h"
#include "pipewright/util.h"
#include "testlib.h"

static const char PIPELINE[] =
	"stages: [build, test]\n"
	"jobs:\n"
	"  build:\n"
	"    stage: build\n"
	"    script: [true]\n"
	"    artifacts: {paths: [out/]}\n"
	"    cache: {key: {prefix: deps, files: [lock]}, paths: [dep/],"
	" restore_keys: [deps-]}\n"
	"  test:\n"
	"    stage: test\n"
	"    script: [true]\n"
	"    cache: {key: \"t-$FLAVOUR\", paths: [\"$WHERE\"]}\n";

struct fx {
	uv_loop_t loop;
	struct store *s;
	struct blob_store *bs;
	struct reuse_step *st;
	struct pipeline *p;
	char dir[64], ws0[128], ws1[128];
	uint64_t run;
};

struct got {
	bool done;
	int rc;
	char *reason, *log;
};

static void
on_result(const struct reuse_result *res, void *arg)
{
	struct got *g = arg;

	g->done = true;
	g->rc = res->rc;
	g->reason = res->reason != NULL ? xstrdup(res->reason) : NULL;
	g->log = xstrndup(res->log, res->len);
}

static void
got_free(struct got *g)
{
	free(g->reason);
	free(g->log);
	memset(g, 0, sizeof(*g));
}

static int
run_fn(struct store_tx *tx, void *arg)
{
	struct fx *f = arg;
	struct store_run_new r = {
		.project = "web", .status = "running", .trigger = "api",
		.branch = "main", .created_at = 1,
	};

	return store_tx_run_insert(tx, &r, &f->run);
}

static void
run_done(int rc, void *arg)
{
	(void)arg;
	assert_int_equal(rc, 0);
}

static void
put(const char *dir, const char *rel, const char *text)
{
	char *p = xasprintf("%s/%s", dir, rel), *slash = strrchr(p, '/');
	int fd;

	*slash = '\0';
	assert_int_equal(pw_mkdirs(p, 0755), 0);
	*slash = '/';
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	free(p);
}

static char *
slurp(const char *dir, const char *rel)
{
	char *p = xasprintf("%s/%s", dir, rel), *data = NULL;
	size_t len;

	if (pw_read_file(p, 1 << 20, &data, &len) < 0)
		data = NULL;
	free(p);
	return data;
}

static int
setup(void **state)
{
	struct fx *f = xcalloc(1, sizeof(*f));
	struct reuse_limits lim = {.artifact_expire_ms = 3600 * 1000};
	struct pipeline_problems pp;
	char *err = NULL, *path;

	strcpy(f->dir, "/tmp/pw-step-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->ws0, sizeof(f->ws0), "%s/ws0", f->dir);
	snprintf(f->ws1, sizeof(f->ws1), "%s/ws1", f->dir);
	assert_int_equal(mkdir(f->ws0, 0755), 0);
	assert_int_equal(mkdir(f->ws1, 0755), 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	path = xasprintf("%s/pipewright.db", f->dir);
	if (store_open(&f->loop, path, &f->s, &err) < 0)
		fail_msg("store_open: %s", err);
	free(path);
	path = xasprintf("%s/blobs", f->dir);
	assert_int_equal(blob_store_open(path, &f->bs), 0);
	free(path);
	reuse_step_create(&f->loop, f->s, f->bs, &lim, &f->st);
	pipeline_problems_init(&pp);
	assert_int_equal(pipeline_parse("p.yml", PIPELINE, strlen(PIPELINE),
					&f->p, &pp), 0);
	pipeline_problems_free(&pp);
	store_write(f->s, run_fn, run_done, f);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(f->run > 0);
	*state = f;
	return 0;
}

static void
on_closed(void *arg)
{
	*(bool *)arg = true;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	bool closed = false;

	assert_int_equal(reuse_step_busy(f->st), 0);
	reuse_step_destroy(f->st);
	blob_store_close(f->bs);
	store_close(f->s, on_closed, &closed);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(closed);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	pipeline_destroy(f->p);
	tl_rm_tree(f->dir);
	free(f);
	return 0;
}

/* Job j of the run in ws, in scope branch:<branch> (or pr:<pr>). */
static void
job_of(struct fx *f, size_t j, const char *ws, const char *const *env,
       struct reuse_scopes *sc, const char *branch, int64_t pr,
       struct reuse_job *out)
{
	struct reuse_run rr = {.branch = branch, .pr = pr};

	reuse_scopes_of(&rr, "main", sc);
	*out = (struct reuse_job){
		.run = f->run, .project = "web", .p = f->p, .job = j,
		.env = env, .root = ws, .uid = getuid(), .gid = getgid(),
		.scopes = sc,
	};
}

static void
restore(struct fx *f, const struct reuse_job *j, struct got *g)
{
	memset(g, 0, sizeof(*g));
	reuse_step_restore(f->st, j, on_result, g);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(g->done);
}

static void
save(struct fx *f, const struct reuse_job *j, enum sched_job_state s,
     struct got *g)
{
	memset(g, 0, sizeof(*g));
	reuse_step_save(f->st, j, s, on_result, g);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(g->done);
}

#define HAS(g, s) do { if (strstr((g)->log, (s)) == NULL) \
	fail_msg("no '%s' in:\n%s", (s), (g)->log); } while (0)

static size_t
entries(struct fx *f, const char *key, const char *scope)
{
	struct store_cache *rows;
	size_t n, i, k = 0;
	uint64_t next;

	assert_int_equal(store_caches_list(f->s, "web", 200, 0, &rows, &n,
					   &next), 0);
	for (i = 0; i < n; i++)
		if (strncmp(rows[i].key, key, strlen(key)) == 0 &&
		    (scope == NULL || strcmp(rows[i].scope, scope) == 0))
			k++;
	store_caches_free(rows, n);
	return k;
}

static char *
ws(struct fx *f, const char *name)
{
	char *p = xasprintf("%s/%s", f->dir, name);

	assert_int_equal(mkdir(p, 0755), 0);
	return p;
}

static void
test_artifacts_and_cache(void **state)
{
	static const char *const env[] = {"FLAVOUR=x", "WHERE=dep", NULL};
	struct fx *f = *state;
	struct reuse_scopes sc;
	struct reuse_job j;
	struct reuse_stats stats;
	struct got g;
	char *s, *w2;

	put(f->ws0, "lock", "v1\n");
	job_of(f, 0, f->ws0, env, &sc, "main", 0, &j);
	restore(f, &j, &g);
	assert_int_equal(g.rc, 0);
	HAS(&g, "cache miss: deps-");
	got_free(&g);
	put(f->ws0, "out/app", "the app\n");
	put(f->ws0, "dep/lib", "a dependency\n");
	/* A failed job: no cache, and (on_success) no artifacts. */
	save(f, &j, SCHED_JOB_FAILED, &g);
	assert_int_equal(g.rc, 0);
	assert_string_equal(g.log, "");
	got_free(&g);
	assert_int_equal(entries(f, "deps-", NULL), 0);
	save(f, &j, SCHED_JOB_SUCCESS, &g);
	assert_int_equal(g.rc, 0);
	HAS(&g, "artifacts saved: build, ");
	HAS(&g, "cache saved: deps-");
	HAS(&g, " (branch:main) ");
	got_free(&g);
	reuse_scopes_free(&sc);

	/* test gets build's artifacts; keep_existing keeps its own file. */
	put(f->ws1, "out/app", "mine\n");
	job_of(f, 1, f->ws1, env, &sc, "main", 0, &j);
	j.keep_existing = true;
	restore(f, &j, &g);
	assert_int_equal(g.rc, 0);
	HAS(&g, "artifacts of build restored: ");
	HAS(&g, "(1 already there, kept)");
	HAS(&g, "cache miss: t-x\n");
	got_free(&g);
	assert_string_equal(s = slurp(f->ws1, "out/app"), "mine\n");
	free(s);
	reuse_scopes_free(&sc);

	/* A fresh workspace of build: the exact key hits. */
	w2 = ws(f, "ws2");
	put(w2, "lock", "v1\n");
	job_of(f, 0, w2, env, &sc, "main", 0, &j);
	restore(f, &j, &g);
	assert_int_equal(g.rc, 0);
	HAS(&g, "cache hit: deps-");
	assert_null(strstr(g.log, "by restore_keys"));
	got_free(&g);
	assert_string_equal(s = slurp(w2, "dep/lib"), "a dependency\n");
	free(s);
	save(f, &j, SCHED_JOB_SUCCESS, &g);
	HAS(&g, "skipped, the key exists (branch:main)");
	got_free(&g);
	reuse_scopes_free(&sc);
	free(w2);
	reuse_step_stats(f->st, &stats);
	assert_int_equal(stats.cache_hits, 1);
	assert_int_equal(stats.cache_misses, 2);
	assert_true(stats.bytes_restored > 0 && stats.bytes_saved > 0);
}

static void
test_single_flight(void **state)
{
	static const char *const env[] = {"FLAVOUR=y", "WHERE=dep", NULL};
	struct fx *f = *state;
	struct reuse_scopes sc;
	struct reuse_job j;
	struct got a, b;

	put(f->ws1, "dep/x", "x\n");
	job_of(f, 1, f->ws1, env, &sc, "main", 0, &j);
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	reuse_step_save(f->st, &j, SCHED_JOB_SUCCESS, on_result, &a);
	reuse_step_save(f->st, &j, SCHED_JOB_SUCCESS, on_result, &b);
	assert_int_equal(reuse_step_busy(f->st), 2);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(a.done && b.done);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	HAS(&a, "cache saved: t-y (branch:main)");
	HAS(&b, "cache not saved: t-y: skipped, another job is saving it");
	assert_int_equal(entries(f, "t-y", NULL), 1);
	got_free(&a);
	got_free(&b);
	reuse_scopes_free(&sc);
}

static void
test_bad_paths(void **state)
{
	static const char *const none[] = {"FLAVOUR=z", NULL};
	static const char *const out[] = {"FLAVOUR=z", "WHERE=a/../../x",
					  NULL};
	struct fx *f = *state;
	struct reuse_scopes sc;
	struct reuse_job j;
	struct got g;

	job_of(f, 1, f->ws1, none, &sc, "main", 0, &j);
	restore(f, &j, &g);
	assert_true(g.rc < 0);
	assert_non_null(strstr(g.reason, "unknown variable $WHERE"));
	got_free(&g);
	j.env = out;
	restore(f, &j, &g);
	assert_true(g.rc < 0);
	assert_non_null(strstr(g.reason, "must stay inside the workspace"));
	got_free(&g);
	reuse_scopes_free(&sc);
}

/* pr:7 saves its own key; a branch with the same key never reads it. */
static void
test_pr_scope(void **state)
{
	static const char *const env[] = {"FLAVOUR=x", "WHERE=dep", NULL};
	struct fx *f = *state;
	struct reuse_scopes sc;
	struct reuse_job j;
	struct got g;
	char *w, *s;

	w = ws(f, "main");
	put(w, "lock", "main\n");
	put(w, "dep/lib", "main's\n");
	job_of(f, 0, w, env, &sc, "main", 0, &j);
	save(f, &j, SCHED_JOB_SUCCESS, &g);
	HAS(&g, "(branch:main)");
	got_free(&g);
	reuse_scopes_free(&sc);
	free(w);

	w = ws(f, "pr");
	put(w, "lock", "pr\n");
	job_of(f, 0, w, env, &sc, "feature", 7, &j);
	restore(f, &j, &g);
	HAS(&g, "(branch:main, by restore_keys for deps-");
	got_free(&g);
	put(w, "dep/lib", "planted\n");
	save(f, &j, SCHED_JOB_SUCCESS, &g);
	HAS(&g, "(pr:7)");
	got_free(&g);
	reuse_scopes_free(&sc);
	free(w);

	w = ws(f, "feature");
	put(w, "lock", "pr\n");
	job_of(f, 0, w, env, &sc, "feature", 0, &j);
	restore(f, &j, &g);
	assert_null(strstr(g.log, "pr:7"));
	HAS(&g, "(branch:main, by restore_keys for deps-");
	got_free(&g);
	reuse_scopes_free(&sc);
	assert_string_equal(s = slurp(w, "dep/lib"), "main's\n");
	free(s);
	free(w);
}

int
main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_artifacts_and_cache),
		T(test_single_flight),
		T(test_bad_paths),
		T(test_pr_scope),
	};
#undef T
	return cmocka_run_group_tests(tests, NULL, NULL);
}
