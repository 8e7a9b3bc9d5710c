/*
 * Test reports: the cases an attempt's JUnit files held and the
 * project's flaky tests (migration 12, docs/internals/store.md).
 *
 * Flakiness is decided when a case is written, on the writer thread: one
 * lookup in test_cases_key for an earlier result of the other kind
 * (passed against failed or error) of the same test of the same job at
 * the same commit, in another attempt.  Each such disagreement is a flip
 * of the test in flaky_tests.  Reading the flaky list or marking a run's
 * failures as flaky is then a lookup in a small table, never a scan of
 * the history.  Skipped cases say nothing either way.  The same
 * write marks a pass that an earlier attempt of the job in the run
 * failed (`retried`, looked up only if an earlier attempt had failures)
 * and sums the attempt's counts into test_summaries: the reads a run's
 * JSON makes are then a few rows, whatever the size of the suite.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define NSTATUS 4
static const char *const status_names[NSTATUS] = {
	"passed", "failed", "error", "skipped",
};

/* The status's place in status_names[], or -1. */
static int
report_index(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < NSTATUS; i++)
		if (strcmp(status_names[i], s) == 0)
			return (int)i;
	return -1;
}

static bool
status_ok(const char *s)
{
	return report_index(s) >= 0;
}

/* 1 if another attempt's result at this commit disagrees, 0, -errno. */
static int
disagrees(struct store_tx *tx, uint64_t attempt, const char *project,
	  const char *job_name, const char *commit,
	  const struct store_test_new *t)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_TEST_OTHER, "SELECT 1 FROM test_cases"
			" WHERE project = ?1 AND job_name = ?2 AND suite = ?3"
			" AND classname = ?4 AND name = ?5 AND commit_sha = ?6"
			" AND attempt_id != ?7 AND status != 'skipped'"
			" AND (status = 'passed') = ?8 LIMIT 1", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, job_name);
	store_bind_text(st, 3, t->suite);
	store_bind_text(st, 4, t->classname);
	store_bind_text(st, 5, t->name);
	store_bind_text(st, 6, commit);
	store_bind_u64(st, 7, attempt);
	/* The other kind: a pass looks for a failure and the reverse. */
	sqlite3_bind_int(st, 8, strcmp(t->status, "passed") != 0);
	rc = store_step(st);
	if (rc == 1)
		sqlite3_reset(st);
	return rc;
}

static int
flip(struct store_tx *tx, uint64_t run, const char *project,
     const char *job_name, const char *commit,
     const struct store_test_new *t, uint64_t now)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_FLAKY_PUT, "INSERT INTO flaky_tests"
			" (project, job_name, suite, classname, name, flips,"
			" first_ms, last_ms, last_commit, last_run) VALUES"
			" (?1, ?2, ?3, ?4, ?5, 1, ?6, ?6, ?7, ?8)"
			" ON CONFLICT (project, job_name, suite, classname, name)"
			" DO UPDATE SET flips = flips + 1, last_ms = excluded.last_ms,"
			" last_commit = excluded.last_commit,"
			" last_run = excluded.last_run", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, job_name);
	store_bind_text(st, 3, t->suite);
	store_bind_text(st, 4, t->classname);
	store_bind_text(st, 5, t->name);
	store_bind_u64(st, 6, now);
	store_bind_text(st, 7, commit);
	store_bind_u64(st, 8, run);
	return store_exec(st);
}

/* The attempt's job and number, and whether an earlier attempt of the
 * job in the run failed any test: 0, or -errno (-ENOENT: no attempt). */
static int
attempt_of(struct store_tx *tx, uint64_t attempt, int *idx, int *number,
	   bool *earlier)
{
	sqlite3_stmt *st;
	uint64_t run;
	int rc;

	rc = store_stmt(tx->c, ST_TEST_ATTEMPT, "SELECT run_id, idx, number"
			" FROM attempts WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	if ((rc = store_step(st)) <= 0)
		return rc == 0 ? -ENOENT : rc;
	run = (uint64_t)sqlite3_column_int64(st, 0);
	*idx = sqlite3_column_int(st, 1);
	*number = sqlite3_column_int(st, 2);
	sqlite3_reset(st);
	rc = store_stmt(tx->c, ST_TEST_EARLIER, "SELECT 1 FROM attempts e"
			" JOIN test_summaries s ON s.attempt_id = e.id"
			" WHERE e.run_id = ?1 AND e.idx = ?2 AND e.number < ?3"
			" AND s.failed + s.error > 0 LIMIT 1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	sqlite3_bind_int(st, 2, *idx);
	sqlite3_bind_int(st, 3, *number);
	rc = store_step(st);
	if (rc == 1)
		sqlite3_reset(st);
	*earlier = rc == 1;
	return rc < 0 ? rc : 0;
}

/* 1 if an earlier attempt of the job in run failed test t, 0, -errno. */
static int
failed_before(struct store_tx *tx, uint64_t run, int idx, int number,
	      const struct store_test_new *t)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_TEST_RETRIED, "SELECT 1 FROM attempts e"
			" JOIN test_cases u ON u.attempt_id = e.id"
			" WHERE e.run_id = ?1 AND e.idx = ?2 AND e.number < ?3"
			" AND u.suite = ?4 AND u.classname = ?5 AND u.name = ?6"
			" AND u.status IN ('failed', 'error') LIMIT 1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	sqlite3_bind_int(st, 2, idx);
	sqlite3_bind_int(st, 3, number);
	store_bind_text(st, 4, t->suite);
	store_bind_text(st, 5, t->classname);
	store_bind_text(st, 6, t->name);
	rc = store_step(st);
	if (rc == 1)
		sqlite3_reset(st);
	return rc;
}

static int
summary_put(struct store_tx *tx, uint64_t attempt, const uint64_t *c)
{
	sqlite3_stmt *st;
	int rc, i;

	rc = store_stmt(tx->c, ST_TEST_SUMMARY, "INSERT OR REPLACE INTO"
			" test_summaries (attempt_id, passed, failed, error,"
			" skipped, retried) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	for (i = 0; i < 5; i++)
		store_bind_u64(st, i + 2, c[i]);
	return store_exec(st);
}

/* Whether attempt has its summary (*whole) and how many cases it has. */
static int
stored_of(struct store_tx *tx, uint64_t attempt, bool *whole, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_TESTS_STORED, "SELECT (SELECT count(*)"
			" FROM test_summaries WHERE attempt_id = ?1),"
			" (SELECT count(*) FROM test_cases WHERE"
			" attempt_id = ?1)", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	if ((rc = store_step(st)) < 0)
		return rc;
	*whole = rc == 1 && sqlite3_column_int64(st, 0) > 0;
	*n = rc == 1 ? (size_t)sqlite3_column_int64(st, 1) : 0;
	sqlite3_reset(st);
	return 0;
}

/* The attempt's counts from its stored cases, into its summary. */
static int
summary_sum(struct store_tx *tx, uint64_t attempt)
{
	uint64_t counts[5] = {0}; /* passed, failed, error, skipped, retried */
	sqlite3_stmt *st;
	int rc, k;

	rc = store_stmt(tx->c, ST_TESTS_SUMS, "SELECT status, count(*),"
			" sum(retried) FROM test_cases WHERE attempt_id = ?1"
			" GROUP BY status", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	while ((rc = store_step(st)) == 1) {
		k = report_index((const char *)sqlite3_column_text(st, 0));
		if (k < 0)
			continue;
		counts[k] = (uint64_t)sqlite3_column_int64(st, 1);
		counts[4] += (uint64_t)sqlite3_column_int64(st, 2);
	}
	if (rc < 0)
		return rc;
	return summary_put(tx, attempt, counts);
}

int
store_tx_tests_insert(struct store_tx *tx, uint64_t attempt, uint64_t run,
		      const char *project, const char *job_name,
		      const char *commit, const struct store_test_new *v,
		      size_t n, uint64_t now, size_t *done)
{
	sqlite3_stmt *st;
	bool again = false, earlier, whole;
	int rc, idx, number, retried;
	size_t i, end, have;

	if (project == NULL || job_name == NULL || *done > n)
		return -EINVAL;
	for (i = *done; i < n; i++)
		if (!status_ok(v[i].status) || v[i].suite == NULL ||
		    v[i].classname == NULL || v[i].name == NULL)
			return -EINVAL;
	if (*done == 0) {
		if ((rc = stored_of(tx, attempt, &whole, &have)) < 0)
			return rc;
		if (whole) {
			/* Stored before: its flips were counted then. */
			rc = store_stmt(tx->c, ST_TESTS_CLEAR, "DELETE FROM"
					" test_cases WHERE attempt_id = ?1",
					&st);
			if (rc < 0)
				return rc;
			store_bind_u64(st, 1, attempt);
			if ((rc = store_exec(st)) < 0)
				return rc;
			again = true;
		} else {
			/* Parts stored by a daemon that stopped between them. */
			*done = have < n ? have : n;
		}
	}
	if ((rc = attempt_of(tx, attempt, &idx, &number, &earlier)) < 0)
		return rc;
	end = again || n - *done <= STORE_TESTS_CHUNK ? n :
		*done + STORE_TESTS_CHUNK;
	for (i = *done; i < end; i++) {
		const struct store_test_new *t = &v[i];

		retried = 0;
		if (earlier && strcmp(t->status, "passed") == 0 &&
		    (retried = failed_before(tx, run, idx, number, t)) < 0)
			return retried;
		if (commit != NULL && !again &&
		    strcmp(t->status, "skipped") != 0) {
			rc = disagrees(tx, attempt, project, job_name, commit,
				       t);
			if (rc < 0)
				return rc;
			if (rc == 1 && (rc = flip(tx, run, project, job_name,
						  commit, t, now)) < 0)
				return rc;
		}
		rc = store_stmt(tx->c, ST_TEST_INSERT, "INSERT INTO test_cases"
				" (attempt_id, project, job_name, commit_sha,"
				" suite, classname, name, file, status,"
				" duration_ms, message, created_ms, retried)"
				" VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10,"
				" ?11, ?12, ?13)", &st);
		if (rc < 0)
			return rc;
		store_bind_u64(st, 1, attempt);
		store_bind_text(st, 2, project);
		store_bind_text(st, 3, job_name);
		store_bind_text(st, 4, commit);
		store_bind_text(st, 5, t->suite);
		store_bind_text(st, 6, t->classname);
		store_bind_text(st, 7, t->name);
		store_bind_text(st, 8, t->file);
		store_bind_text(st, 9, t->status);
		store_bind_u64(st, 10, t->duration_ms);
		store_bind_text(st, 11, t->message);
		store_bind_u64(st, 12, now);
		sqlite3_bind_int(st, 13, retried);
		if ((rc = store_exec(st)) < 0)
			return rc;
	}
	if (end == n && (rc = summary_sum(tx, attempt)) < 0)
		return rc;
	*done = end;
	return 0;
}

/*
 * For each job of run ?1, its latest attempt that has cases: the rows
 * every read below starts from.
 */
#define LATEST \
	"WITH latest AS (SELECT a.id, a.idx, a.number FROM attempts a" \
	" WHERE a.run_id = ?1 AND a.number = (SELECT MAX(b.number)" \
	" FROM attempts b JOIN test_summaries s ON s.attempt_id = b.id" \
	" WHERE b.run_id = ?1 AND b.idx = a.idx))"
/* Whether case t is a failure of a known flaky test. */
#define FLAKY \
	"(t.status IN ('failed', 'error') AND EXISTS (SELECT 1" \
	" FROM flaky_tests f WHERE f.project = t.project" \
	" AND f.job_name = t.job_name AND f.suite = t.suite" \
	" AND f.classname = t.classname AND f.name = t.name))"
/* The columns of a listed case, for store_tests_list's two statements. */
#define TEST_COLS \
	"t.id, l.idx, t.job_name, l.number, t.suite, t.classname, t.name," \
	" t.file, t.status, t.message, t.duration_ms, " FLAKY ", t.retried"

int
store_tests_list(struct store *s, uint64_t run, const char *statuses,
		 int job, size_t limit, uint64_t after,
		 struct store_test **rows, size_t *n)
{
	const char *want[NSTATUS] = {NULL};
	struct store_test *v = NULL;
	size_t cap = 0, nv = 0, i;
	sqlite3_stmt *st;
	char *copy, *tok, *save = NULL;
	int rc;

	if (limit == 0 || limit > STORE_TESTS_MAX)
		return -EINVAL;
	if (statuses != NULL) {
		copy = xstrdup(statuses);
		rc = 0;
		for (tok = strtok_r(copy, ",", &save); tok != NULL;
		     tok = strtok_r(NULL, ",", &save)) {
			int k = report_index(tok);

			if (k < 0)
				rc = -EINVAL;
			else
				want[k] = status_names[k];
		}
		free(copy);
		if (rc < 0)
			return rc;
	}
	/* A filter is the index's ranges of those statuses (a few rows
	 * sorted); none is the attempts' rows in id order. */
	if (statuses != NULL)
		rc = store_stmt(&s->rd, ST_R_TESTS_STATUS, LATEST " SELECT "
				TEST_COLS " FROM latest l"
				" JOIN test_cases t ON t.attempt_id = l.id"
				" WHERE (?2 < 0 OR l.idx = ?2) AND t.id > ?3"
				" AND t.status IN (?4, ?5, ?6, ?7)"
				" ORDER BY t.id LIMIT ?8", &st);
	else
		rc = store_stmt(&s->rd, ST_R_TESTS, LATEST " SELECT "
				TEST_COLS " FROM latest l"
				" JOIN test_cases t ON t.attempt_id = l.id"
				" WHERE (?2 < 0 OR l.idx = ?2) AND t.id > ?3"
				" ORDER BY t.id LIMIT ?8", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	sqlite3_bind_int(st, 2, job);
	store_bind_u64(st, 3, after);
	for (i = 0; statuses != NULL && i < NSTATUS; i++)
		store_bind_text(st, (int)i + 4, want[i]);
	store_bind_u64(st, 8, limit);
	while ((rc = store_step(st)) == 1) {
		struct store_test *t;

		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		t = &v[nv++];
		*t = (struct store_test){
			.id = (uint64_t)sqlite3_column_int64(st, 0),
			.job_idx = sqlite3_column_int(st, 1),
			.job_name = store_col_text(st, 2),
			.attempt = sqlite3_column_int(st, 3),
			.suite = store_col_text(st, 4),
			.classname = store_col_text(st, 5),
			.name = store_col_text(st, 6),
			.file = store_col_text(st, 7),
			.status = store_col_text(st, 8),
			.message = store_col_text(st, 9),
			.duration_ms = (uint64_t)sqlite3_column_int64(st, 10),
			.flaky = sqlite3_column_int(st, 11) != 0,
			.retried = sqlite3_column_int(st, 12) != 0,
		};
	}
	if (rc < 0) {
		store_tests_free(v, nv);
		return rc;
	}
	*rows = v;
	*n = nv;
	return 0;
}

void
store_tests_free(struct store_test *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].job_name);
		free(rows[i].suite);
		free(rows[i].classname);
		free(rows[i].name);
		free(rows[i].file);
		free(rows[i].status);
		free(rows[i].message);
	}
	free(rows);
}

int
store_tests_counts(struct store *s, uint64_t run,
		   struct store_test_counts **rows, size_t *n)
{
	struct store_test_counts *v = NULL;
	size_t cap = 0, nv = 0;
	sqlite3_stmt *st;
	int rc;

	/* The failures are a range of test_cases_status, each checked
	 * in flaky_tests by its key: the rest is the summary row. */
	rc = store_stmt(&s->rd, ST_R_TEST_COUNTS, LATEST " SELECT l.idx,"
			" l.number, s.passed, s.failed, s.error, s.skipped,"
			" (SELECT COUNT(*) FROM test_cases t WHERE"
			" t.attempt_id = l.id AND t.status IN ('failed', 'error')"
			" AND " FLAKY "), s.retried FROM latest l"
			" JOIN test_summaries s ON s.attempt_id = l.id"
			" ORDER BY l.idx", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		v[nv++] = (struct store_test_counts){
			.job_idx = sqlite3_column_int(st, 0),
			.attempt = sqlite3_column_int(st, 1),
			.passed = (uint64_t)sqlite3_column_int64(st, 2),
			.failed = (uint64_t)sqlite3_column_int64(st, 3),
			.error = (uint64_t)sqlite3_column_int64(st, 4),
			.skipped = (uint64_t)sqlite3_column_int64(st, 5),
			.flaky = (uint64_t)sqlite3_column_int64(st, 6),
			.retried = (uint64_t)sqlite3_column_int64(st, 7),
		};
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	*rows = v;
	*n = nv;
	return 0;
}

int
store_flaky_list(struct store *s, const char *project, size_t limit,
		 struct store_flaky **rows, size_t *n)
{
	struct store_flaky *v = NULL;
	size_t cap = 0, nv = 0;
	sqlite3_stmt *st;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	rc = store_stmt(&s->rd, ST_R_FLAKY, "SELECT job_name, suite,"
			" classname, name, flips, first_ms, last_ms,"
			" last_commit, last_run FROM flaky_tests"
			" WHERE project = ?1 ORDER BY last_ms DESC LIMIT ?2",
			&st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_u64(st, 2, limit);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		v[nv++] = (struct store_flaky){
			.job_name = store_col_text(st, 0),
			.suite = store_col_text(st, 1),
			.classname = store_col_text(st, 2),
			.name = store_col_text(st, 3),
			.flips = (uint64_t)sqlite3_column_int64(st, 4),
			.first_ms = (uint64_t)sqlite3_column_int64(st, 5),
			.last_ms = (uint64_t)sqlite3_column_int64(st, 6),
			.last_commit = store_col_text(st, 7),
			.last_run = (uint64_t)sqlite3_column_int64(st, 8),
		};
	}
	if (rc < 0) {
		store_flaky_free(v, nv);
		return rc;
	}
	*rows = v;
	*n = nv;
	return 0;
}

void
store_flaky_free(struct store_flaky *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].job_name);
		free(rows[i].suite);
		free(rows[i].classname);
		free(rows[i].name);
		free(rows[i].last_commit);
	}
	free(rows);
}
