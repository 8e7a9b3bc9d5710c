/*
 * Reads of runs, jobs and attempts, on the loop thread's read-only
 * connection.  A read that takes several statements (a run, then its
 * jobs, then their attempts) runs them in one read transaction, so that
 * it sees one snapshot even while the writer commits.
 *
 * A job's status is its latest attempt's once it has one, else the job
 * row's own (pending, waiting, skipped before it ever started): the
 * attempt is where an end is recorded, the job row says where it stands
 * before that.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

int
store_read_begin(struct store *s)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = store_stmt(&s->rd, ST_R_BEGIN, "BEGIN", &st)) < 0)
		return rc;
	return store_exec(st);
}

void
store_read_end(struct store *s)
{
	sqlite3_stmt *st;

	/* A read transaction has nothing to lose: COMMIT only ends it. */
	if (store_stmt(&s->rd, ST_R_COMMIT, "COMMIT", &st) < 0 ||
	    store_exec(st) < 0)
		sqlite3_exec(s->rd.db, "ROLLBACK", NULL, NULL, NULL);
}

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

struct store_run *
store_run_from_row(sqlite3_stmt *st, bool full)
{
	struct store_run *r = xcalloc(1, sizeof(*r));
	const void *blob;

	r->id = col_u64(st, 0);
	r->project = store_col_text(st, 1);
	r->status = store_col_text(st, 2);
	r->trigger = store_col_text(st, 3);
	r->ref = store_col_text(st, 4);
	r->branch = store_col_text(st, 5);
	r->tag = store_col_text(st, 6);
	r->commit = store_col_text(st, 7);
	r->pr = sqlite3_column_int64(st, 8);
	r->fork = sqlite3_column_int(st, 9) != 0;
	r->problems = store_col_text(st, 10);
	r->created_at = col_u64(st, 11);
	r->started_at = col_u64(st, 12);
	r->finished_at = col_u64(st, 13);
	r->pipeline_file = store_col_text(st, 14);
	r->env = store_col_text(st, 15);
	r->actor = store_col_text(st, 16);
	r->log_bytes = col_u64(st, 17);
	if (full && (blob = sqlite3_column_blob(st, 18)) != NULL) {
		r->pipeline_len = (size_t)sqlite3_column_bytes(st, 18);
		r->pipeline = xstrndup(blob, r->pipeline_len);
	}
	return r;
}

static int
load_attempts(struct store *s, struct store_run *r)
{
	struct store_attempt *a;
	struct store_job *j = r->jobs, *end = r->jobs + r->njobs;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc, idx;

	rc = store_stmt(&s->rd, ST_R_ATTEMPTS, "SELECT idx, id, number, status,"
			" exit_code, reason, started_at, finished_at,"
			" log_bytes, dir, job_uid FROM attempts WHERE run_id = ?1"
			" ORDER BY idx, number", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, r->id);
	while ((rc = store_step(st)) == 1) {
		idx = sqlite3_column_int(st, 0);
		while (j < end && j->idx < idx) {
			j++;
			cap = 0;
		}
		if (j == end || j->idx != idx)
			continue; /* cannot be: attempts reference jobs */
		j->attempts = xgrow(j->attempts, &cap, j->nattempts + 1,
				    sizeof(*j->attempts));
		a = &j->attempts[j->nattempts++];
		a->id = col_u64(st, 1);
		a->number = sqlite3_column_int(st, 2);
		a->status = store_col_text(st, 3);
		a->exit_code = sqlite3_column_int(st, 4);
		a->reason = store_col_text(st, 5);
		a->started_at = col_u64(st, 6);
		a->finished_at = col_u64(st, 7);
		a->log_bytes = col_u64(st, 8);
		a->dir = store_col_text(st, 9);
		a->job_uid = (uint32_t)col_u64(st, 10);
	}
	return rc;
}

int
store_run_load_jobs(struct store *s, struct store_run *r)
{
	struct store_job *j;
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	rc = store_stmt(&s->rd, ST_R_JOBS, "SELECT j.idx, j.name, j.stage,"
			" coalesce((SELECT a.status FROM attempts a"
			"  WHERE a.run_id = j.run_id AND a.idx = j.idx"
			"  AND a.number > coalesce(j.rerun_after, 0)"
			"  ORDER BY a.number DESC LIMIT 1), j.status),"
			" coalesce(j.rerun_after, -1)"
			" FROM jobs j WHERE j.run_id = ?1 ORDER BY j.idx", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, r->id);
	while ((rc = store_step(st)) == 1) {
		r->jobs = xgrow(r->jobs, &cap, r->njobs + 1, sizeof(*r->jobs));
		j = &r->jobs[r->njobs++];
		memset(j, 0, sizeof(*j));
		j->idx = sqlite3_column_int(st, 0);
		j->name = store_col_text(st, 1);
		j->stage = store_col_text(st, 2);
		j->status = store_col_text(st, 3);
		j->rerun_after = sqlite3_column_int(st, 4);
	}
	if (rc < 0)
		return rc;
	return load_attempts(s, r);
}

/* The one run `st` (bound, in a read transaction) finds, with its jobs. */
static int
one_run(struct store *s, sqlite3_stmt *st, struct store_run **out)
{
	struct store_run *r;
	int rc;

	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	r = store_run_from_row(st, true);
	sqlite3_reset(st);
	if ((rc = store_run_load_jobs(s, r)) < 0) {
		store_run_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

int
store_run_get(struct store *s, uint64_t id, struct store_run **out)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_RUN, "SELECT " STORE_RUN_COLS_FULL
			" FROM runs WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, id);
	if ((rc = store_read_begin(s)) < 0)
		return rc;
	rc = one_run(s, st, out);
	store_read_end(s);
	return rc;
}

int
store_run_latest_finished(struct store *s, const char *project,
			  const char *branch, struct store_run **out)
{
	sqlite3_stmt *st;
	int rc;

	if (project == NULL)
		return -EINVAL;
	if (branch == NULL)
		rc = store_stmt(&s->rd, ST_R_LATEST, "SELECT "
				STORE_RUN_COLS_FULL " FROM runs"
				" WHERE project = ?1 AND status IN "
				STORE_RUN_FINISHED " ORDER BY id DESC LIMIT 1",
				&st);
	else
		rc = store_stmt(&s->rd, ST_R_LATEST_BRANCH, "SELECT "
				STORE_RUN_COLS_FULL " FROM runs"
				" WHERE project = ?1 AND branch = ?2 AND status"
				" IN " STORE_RUN_FINISHED
				" ORDER BY id DESC LIMIT 1", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	if (branch != NULL)
		store_bind_text(st, 2, branch);
	if ((rc = store_read_begin(s)) < 0)
		return rc;
	rc = one_run(s, st, out);
	store_read_end(s);
	return rc;
}

int
store_run_last_outcome(struct store *s, const char *project,
		       const char *branch, uint64_t before, char **status)
{
	sqlite3_stmt *st;
	int rc;

	if (project == NULL || branch == NULL)
		return -EINVAL;
	rc = store_stmt(&s->rd, ST_R_LAST_OUTCOME, "SELECT status FROM runs"
			" WHERE project = ?1 AND branch = ?2 AND id < ?3 AND"
			" status IN ('success', 'failed', 'error')"
			" ORDER BY id DESC LIMIT 1", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, branch);
	store_bind_u64(st, 3, before);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*status = store_col_text(st, 0);
	sqlite3_reset(st);
	return 0;
}

int
store_runs_unfinished(struct store *s, struct store_run ***runs, size_t *n)
{
	struct store_run **v = NULL;
	sqlite3_stmt *st;
	size_t cap = 0, i, nv = 0;
	int rc;

	/*
	 * Two ranges of runs_all_status (status, id), each in id order,
	 * merged by id (MERGE (UNION ALL), no sort).  An IN over the same
	 * index would be a sort; INDEXED BY keeps the planner off
	 * runs_status, which ranges by project first.
	 */
	rc = store_stmt(&s->rd, ST_R_UNFINISHED, "SELECT " STORE_RUN_COLS_FULL
			" FROM runs INDEXED BY runs_all_status"
			" WHERE status = 'queued'"
			" UNION ALL SELECT " STORE_RUN_COLS_FULL
			" FROM runs INDEXED BY runs_all_status"
			" WHERE status = 'running'"
			" ORDER BY id", &st);
	if (rc < 0)
		return rc;
	if ((rc = store_read_begin(s)) < 0)
		return rc;
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		v[nv++] = store_run_from_row(st, true);
	}
	for (i = 0; rc == 0 && i < nv; i++)
		rc = store_run_load_jobs(s, v[i]);
	store_read_end(s);
	if (rc < 0) {
		store_runs_free(v, nv);
		return rc;
	}
	*runs = v;
	*n = nv;
	return 0;
}
