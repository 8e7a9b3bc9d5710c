/*
 * store's test reports (migration 12), for real: a database file in a
 * fresh directory, writes through the writer thread, reads back through
 * the public API.  A run's listing and counts show each job's latest
 * attempt with cases; a pass after a failed attempt is marked retried;
 * a test that failed and passed at one commit becomes a flaky test of
 * its project (keyed by job, so a matrix leg's failure never flips
 * another leg's pass), and its failures are marked flaky from then on;
 * a second store of one attempt replaces it; the flaky lookup uses the
 * index (EXPLAIN QUERY PLAN).  Every test ends with uv_loop_close() == 0.
 */
#include <errno.h>
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
#include "testlib.h"

struct fx {
	uv_loop_t loop;
	struct store *s;
	char dir[64];
	char path[128];
};

static void
closed(void *arg)
{
	*(bool *)arg = true;
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *err = NULL;

	strcpy(f->dir, "/tmp/pw-tests-XXXXXX");
	if (mkdtemp(f->dir) == NULL || uv_loop_init(&f->loop) != 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/pipewright.db", f->dir);
	if (store_open(&f->loop, f->path, &f->s, &err) < 0)
		fail_msg("store_open: %s", err);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	bool done = false;

	store_close(f->s, closed, &done);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_true(done);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tl_rm_tree(f->dir);
	free(f);
	return 0;
}

struct w {
	int (*fn)(struct store_tx *tx, struct w *w);
	int rc;
	bool done;
	const char *commit, *job_name;
	uint64_t run, attempt;
	int idx, number;
	const struct store_test_new *cases;
	size_t ncases;
	size_t stored;            /* cases stored (store_tx_tests_insert) */
	bool one_part;            /* store one part only */
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
	struct store_run_new r = {
		.project = "web", .status = "running", .trigger = "api",
		.commit = w->commit, .created_at = 1,
	};
	int rc = store_tx_run_insert(tx, &r, &w->run);

	if (rc == 0)
		rc = store_tx_job_insert(tx, w->run, 0, "test (gcc)", "test",
					 "running");
	if (rc == 0)
		rc = store_tx_job_insert(tx, w->run, 1, "test (clang)", "test",
					 "running");
	return rc;
}

static uint64_t
run(struct fx *f, const char *commit)
{
	struct w w = {.fn = fn_run, .commit = commit};

	assert_int_equal(write_now(f, &w), 0);
	return w.run;
}

static int
fn_attempt(struct store_tx *tx, struct w *w)
{
	struct store_attempt_new a = {
		.run = w->run, .idx = w->idx, .number = w->number,
		.status = "running", .started_at = 2,
	};
	int rc = store_tx_attempt_insert(tx, &a, &w->attempt);

	w->stored = 0;
	while (rc == 0 && w->cases != NULL && (w->stored < w->ncases ||
						w->ncases == 0)) {
		rc = store_tx_tests_insert(tx, w->attempt, w->run, "web",
					   w->job_name, w->commit, w->cases,
					   w->ncases, 100 + w->run, &w->stored);
		if (w->one_part || w->ncases == 0)
			break;
	}
	return rc;
}

/* An attempt of job idx of run r at commit, with these cases. */
static uint64_t
attempt(struct fx *f, uint64_t r, const char *commit, int idx, int number,
	const struct store_test_new *cases, size_t n)
{
	struct w w = {
		.fn = fn_attempt, .run = r, .commit = commit, .idx = idx,
		.number = number, .cases = cases, .ncases = n,
		.job_name = idx == 0 ? "test (gcc)" : "test (clang)",
	};

	assert_int_equal(write_now(f, &w), 0);
	return w.attempt;
}

#define CASE(n, st) {.suite = "s", .classname = "c", .name = n, .status = st}

static const struct store_test *
find(const struct store_test *v, size_t n, int job, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].job_idx == job && strcmp(v[i].name, name) == 0)
			return &v[i];
	fail_msg("no case %d/%s", job, name);
	return NULL;
}

static void
test_retry_and_flaky(void **state)
{
	struct fx *f = *state;
	const struct store_test_new a1[] = {
		CASE("ok", "passed"), CASE("net", "failed"),
		CASE("slow", "skipped"),
	};
	const struct store_test_new a2[] = {
		CASE("ok", "passed"), CASE("net", "passed"),
		CASE("slow", "skipped"),
	};
	const struct store_test_new clang[] = {
		CASE("ok", "failed"), CASE("net", "passed"),
	};
	struct store_test *v;
	struct store_test_counts *c;
	struct store_flaky *fl;
	size_t n;
	uint64_t r1, r2, after;

	r1 = run(f, "abc");
	attempt(f, r1, "abc", 0, 1, a1, 3);
	/* A leg of the matrix where `ok` fails: not a flip of gcc's `ok`. */
	attempt(f, r1, "abc", 1, 1, clang, 2);
	assert_int_equal(store_flaky_list(f->s, "web", 10, &fl, &n), 0);
	assert_int_equal(n, 0);
	store_flaky_free(fl, n);
	/* The retry passes `net`: retried, and `net` of gcc is flaky. */
	attempt(f, r1, "abc", 0, 2, a2, 3);
	assert_int_equal(store_tests_list(f->s, r1, NULL, -1, 100, 0, &v, &n),
			 0);
	assert_int_equal(n, 5);
	assert_int_equal(find(v, n, 0, "net")->attempt, 2);
	assert_true(find(v, n, 0, "net")->retried);
	assert_false(find(v, n, 0, "ok")->retried);
	assert_false(find(v, n, 1, "ok")->flaky);
	assert_string_equal(find(v, n, 1, "ok")->job_name, "test (clang)");
	store_tests_free(v, n);
	assert_int_equal(store_flaky_list(f->s, "web", 10, &fl, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(fl[0].job_name, "test (gcc)");
	assert_string_equal(fl[0].name, "net");
	assert_int_equal(fl[0].flips, 1);
	assert_string_equal(fl[0].last_commit, "abc");
	assert_int_equal(fl[0].last_run, r1);
	store_flaky_free(fl, n);
	assert_int_equal(store_tests_counts(f->s, r1, &c, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0].attempt, 2);
	assert_int_equal(c[0].passed, 2);
	assert_int_equal(c[0].failed, 0);
	assert_int_equal(c[0].skipped, 1);
	assert_int_equal(c[0].retried, 1);
	assert_int_equal(c[1].failed, 1);
	assert_int_equal(c[1].flaky, 0);
	free(c);

	/* A second run at another commit fails `net`: a known flaky test,
	 * marked so, and no flip (nothing passed at that commit yet). */
	r2 = run(f, "def");
	attempt(f, r2, "def", 0, 1, a1, 3);
	assert_int_equal(store_tests_list(f->s, r2, "failed,error", -1, 100, 0,
					  &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "net");
	assert_true(v[0].flaky);
	store_tests_free(v, n);
	assert_int_equal(store_tests_counts(f->s, r2, &c, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0].flaky, 1);
	free(c);
	/* A rerun at the same commit passes: another flip. */
	attempt(f, r2, "def", 0, 2, a2, 3);
	assert_int_equal(store_flaky_list(f->s, "web", 10, &fl, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fl[0].flips, 2);
	assert_string_equal(fl[0].last_commit, "def");
	store_flaky_free(fl, n);
	/* Filters: a job, a status, a page. */
	assert_int_equal(store_tests_list(f->s, r1, "skipped", 0, 100, 0, &v,
					  &n), 0);
	assert_int_equal(n, 1);
	store_tests_free(v, n);
	assert_int_equal(store_tests_list(f->s, r1, NULL, 1, 1, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "ok");
	after = v[0].id;
	store_tests_free(v, n);
	assert_int_equal(store_tests_list(f->s, r1, NULL, 1, 1, after, &v, &n),
			 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "net");
	store_tests_free(v, n);
	assert_int_equal(store_tests_list(f->s, r1, NULL, -1, 0, 0, &v, &n),
			 -EINVAL);
	assert_int_equal(store_tests_list(f->s, r1, "failed,bogus", -1, 10, 0,
					  &v, &n), -EINVAL);
}

static int
fn_again(struct store_tx *tx, struct w *w)
{
	int rc;

	w->stored = 0;
	do {
		rc = store_tx_tests_insert(tx, w->attempt, w->run, "web",
					   w->job_name, w->commit, w->cases,
					   w->ncases, 5, &w->stored);
	} while (rc == 0 && !w->one_part && w->stored < w->ncases);
	return rc;
}

/*
 * A report past STORE_TESTS_CHUNK cases is stored in parts: a daemon
 * stopped after the first part leaves the attempt invisible (the run's
 * counts are the earlier attempt's), and the next store of it goes on
 * after that part: every case once, every flip counted once.
 */
static void
test_parts(void **state)
{
	struct fx *f = *state;
	size_t n = 2 * STORE_TESTS_CHUNK + 1, i, nc, nf;
	struct store_test_new *v = calloc(n, sizeof(*v));
	char (*names)[16] = calloc(n, sizeof(*names));
	struct store_test_counts *c;
	struct store_flaky *fl;
	uint64_t r = run(f, "abc"), a2;
	struct w w;

	for (i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "t%zu", i);
		v[i] = (struct store_test_new)CASE(names[i], "failed");
	}
	attempt(f, r, "abc", 0, 1, v, n);
	for (i = 0; i < n; i++)
		v[i].status = "passed";
	w = (struct w){
		.fn = fn_attempt, .run = r, .commit = "abc", .idx = 0,
		.number = 2, .cases = v, .ncases = n, .one_part = true,
		.job_name = "test (gcc)",
	};
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.stored, STORE_TESTS_CHUNK);
	a2 = w.attempt;
	assert_int_equal(store_tests_counts(f->s, r, &c, &nc), 0);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].attempt, 1);
	assert_int_equal(c[0].failed, n);
	free(c);
	/* The next daemon stores the attempt again, from the start. */
	w = (struct w){
		.fn = fn_again, .run = r, .commit = "abc", .attempt = a2,
		.cases = v, .ncases = n, .job_name = "test (gcc)",
	};
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.stored, n);
	assert_int_equal(store_tests_counts(f->s, r, &c, &nc), 0);
	assert_int_equal(nc, 1);
	assert_int_equal(c[0].attempt, 2);
	assert_int_equal(c[0].passed, n);
	assert_int_equal(c[0].failed, 0);
	assert_int_equal(c[0].retried, n);
	free(c);
	assert_int_equal(store_flaky_list(f->s, "web", 200, &fl, &nf), 0);
	assert_int_equal(nf, 200);
	for (i = 0; i < nf; i++)
		assert_int_equal(fl[i].flips, 1);
	store_flaky_free(fl, nf);
	free(names);
	free(v);
}

static void
test_store_again_and_refusals(void **state)
{
	struct fx *f = *state;
	const struct store_test_new one[] = {CASE("a", "failed")};
	const struct store_test_new bad[] = {CASE("a", "broken")};
	struct w w = {.fn = fn_again, .job_name = "test (gcc)",
		      .commit = "abc"};
	struct store_test *v;
	size_t n;
	uint64_t r = run(f, "abc");

	const struct store_test_new pass[] = {CASE("a", "passed")};
	struct store_flaky *fl;

	w.run = r;
	w.attempt = attempt(f, r, "abc", 0, 1, one, 1);
	attempt(f, r, "abc", 0, 2, pass, 1);
	w.cases = one;
	w.ncases = 1;
	/* Stored again (a restart finishing it again): one flip still. */
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(store_flaky_list(f->s, "web", 10, &fl, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(fl[0].flips, 1);
	store_flaky_free(fl, n);
	assert_int_equal(store_tests_list(f->s, r, NULL, 0, 100, 0, &v, &n),
			 0);
	/* The latest attempt's: the pass, marked retried. */
	assert_int_equal(n, 1);
	assert_true(v[0].retried);
	store_tests_free(v, n);
	w.done = false;
	w.cases = bad;
	assert_int_equal(write_now(f, &w), -EINVAL);
	w.done = false;
	w.cases = one;
	w.attempt = 999;
	assert_int_equal(write_now(f, &w), -ENOENT);
}

/* The flaky lookup and the flip check walk an index, not the table. */
static void
test_plans(void **state)
{
	struct fx *f = *state;
	const char *sql[] = {
		"EXPLAIN QUERY PLAN SELECT 1 FROM test_cases WHERE project = 'p'"
		" AND job_name = 'j' AND suite = 's' AND classname = 'c' AND"
		" name = 'n' AND commit_sha = 'x' AND attempt_id != 1 AND"
		" status != 'skipped' AND (status = 'passed') = 1 LIMIT 1",
		"EXPLAIN QUERY PLAN SELECT * FROM flaky_tests WHERE project ="
		" 'p' ORDER BY last_ms DESC LIMIT 10",
		"EXPLAIN QUERY PLAN SELECT 1 FROM test_cases WHERE attempt_id"
		" = 1 AND suite = 's' AND classname = 'c' AND name = 'n'",
		"EXPLAIN QUERY PLAN SELECT id FROM test_cases WHERE attempt_id"
		" = 1 AND status IN ('failed', 'error', NULL, NULL) AND id > 0"
		" ORDER BY id LIMIT 10",
		"EXPLAIN QUERY PLAN SELECT 1 FROM attempts e JOIN test_summaries"
		" s ON s.attempt_id = e.id WHERE e.run_id = 1 AND e.idx = 0"
		" AND e.number < 3 AND s.failed + s.error > 0 LIMIT 1",
	};
	sqlite3 *db;
	size_t i;

	(void)f;
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	for (i = 0; i < PW_ARRAY_LEN(sql); i++) {
		sqlite3_stmt *st;
		bool indexed = false;

		assert_int_equal(sqlite3_prepare_v2(db, sql[i], -1, &st, NULL),
				 SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st,
									  3);

			if (strstr(d, "USING INDEX") != NULL ||
			    strstr(d, "USING PRIMARY KEY") != NULL ||
			    strstr(d, "USING COVERING INDEX") != NULL)
				indexed = true;
			if (strncmp(d, "SCAN", 4) == 0 &&
			    strstr(d, "INDEX") == NULL)
				fail_msg("%s: %s", sql[i], d);
		}
		sqlite3_finalize(st);
		if (!indexed)
			fail_msg("no index for %s", sql[i]);
	}
	sqlite3_close(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_retry_and_flaky, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_store_again_and_refusals,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_plans, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parts, setup, teardown),
	};

	return cmocka_run_group_tests_name("store_tests", tests, NULL, NULL);
}
