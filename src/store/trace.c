/*
 * Trace ids and timed steps (migration 11), and the reads a run's or an
 * attempt's spans are built from.  The reads run in the transaction that
 * ends the run or attempt, on the writer thread, so that the spans put
 * in the outbox in that transaction say exactly what was committed.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

static void
copy_id(char *out, size_t size, const unsigned char *s)
{
	size_t n = s != NULL ? strlen((const char *)s) : 0;

	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(out, s, n);
	out[n] = '\0';
}

int
store_tx_run_trace(struct store_tx *tx, uint64_t run, const char *trace,
		   const char *span, char *trace_out, char *span_out)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_RUN_TRACE_SET, "UPDATE runs SET trace_id = ?2,"
			" span_id = ?3 WHERE id = ?1 AND trace_id IS NULL", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_text(st, 2, trace);
	store_bind_text(st, 3, span);
	if ((rc = store_exec(st)) < 0)
		return rc;
	rc = store_stmt(tx->c, ST_RUN_TRACE_GET, "SELECT trace_id, span_id"
			" FROM runs WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	copy_id(trace_out, 33, sqlite3_column_text(st, 0));
	copy_id(span_out, 17, sqlite3_column_text(st, 1));
	sqlite3_reset(st);
	return 0;
}

int
store_tx_attempt_set_span(struct store_tx *tx, uint64_t attempt,
			  const char *span_id)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_ATTEMPT_SPAN, "UPDATE attempts SET"
			" span_id = ?2 WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_text(st, 2, span_id);
	if ((rc = store_exec(st)) < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -ENOENT;
}

int
store_tx_step_insert(struct store_tx *tx, const struct store_step_new *s)
{
	sqlite3_stmt *st;
	int rc;

	if (s->span_id == NULL || s->name == NULL)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_STEP_INSERT, "INSERT OR REPLACE INTO"
			" attempt_steps (attempt_id, span_id, name, started_at,"
			" finished_at, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, s->attempt);
	store_bind_text(st, 2, s->span_id);
	store_bind_text(st, 3, s->name);
	store_bind_u64(st, 4, s->started_at);
	store_bind_u64(st, 5, s->finished_at);
	store_bind_text(st, 6, s->error);
	return store_exec(st);
}

static int
read_run(struct store_tx *tx, uint64_t run, struct store_trace *t)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_TRACE_RUN, "SELECT project, status,"
			" trigger_kind, ref, branch, tag, commit_sha, pr,"
			" created_at, started_at, finished_at, trace_id, span_id"
			" FROM runs WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	t->run = run;
	t->project = store_col_text(st, 0);
	t->status = store_col_text(st, 1);
	t->trigger = store_col_text(st, 2);
	t->ref = store_col_text(st, 3);
	t->branch = store_col_text(st, 4);
	t->tag = store_col_text(st, 5);
	t->commit = store_col_text(st, 6);
	t->pr = sqlite3_column_int64(st, 7);
	t->created_at = col_u64(st, 8);
	t->started_at = col_u64(st, 9);
	t->finished_at = col_u64(st, 10);
	t->trace_id = store_col_text(st, 11);
	t->span_id = store_col_text(st, 12);
	sqlite3_reset(st);
	return 0;
}

static int
read_attempt(struct store_tx *tx, uint64_t attempt, struct store_trace *t)
{
	sqlite3_stmt *st;
	size_t cap = 0;
	int rc;

	rc = store_stmt(tx->c, ST_TRACE_ATTEMPT, "SELECT a.idx, a.number,"
			" a.status, a.exit_code, a.reason, a.started_at,"
			" a.finished_at, a.job_uid, a.span_id, j.name, j.stage"
			" FROM attempts a JOIN jobs j ON j.run_id = a.run_id AND"
			" j.idx = a.idx WHERE a.id = ?1 AND a.run_id = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_u64(st, 2, t->run);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	t->attempt = attempt;
	t->idx = sqlite3_column_int(st, 0);
	t->number = sqlite3_column_int(st, 1);
	t->attempt_status = store_col_text(st, 2);
	t->exit_code = sqlite3_column_int(st, 3);
	t->reason = store_col_text(st, 4);
	t->attempt_started = col_u64(st, 5);
	t->attempt_finished = col_u64(st, 6);
	t->job_uid = (uint32_t)col_u64(st, 7);
	t->attempt_span = store_col_text(st, 8);
	t->job = store_col_text(st, 9);
	t->stage = store_col_text(st, 10);
	sqlite3_reset(st);
	rc = store_stmt(tx->c, ST_TRACE_STEPS, "SELECT span_id, name, error,"
			" started_at, finished_at FROM attempt_steps"
			" WHERE attempt_id = ?1 ORDER BY started_at, span_id",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	while ((rc = store_step(st)) == 1) {
		struct store_trace_step *s;

		t->steps = xgrow(t->steps, &cap, t->nsteps + 1,
				 sizeof(*t->steps));
		s = &t->steps[t->nsteps++];
		s->span_id = store_col_text(st, 0);
		s->name = store_col_text(st, 1);
		s->error = store_col_text(st, 2);
		s->started_at = col_u64(st, 3);
		s->finished_at = col_u64(st, 4);
	}
	return rc;
}

int
store_tx_trace_read(struct store_tx *tx, uint64_t run, uint64_t attempt,
		    struct store_trace *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	rc = read_run(tx, run, out);
	if (rc == 0 && attempt != 0)
		rc = read_attempt(tx, attempt, out);
	if (rc < 0)
		store_trace_free(out);
	return rc;
}

void
store_trace_free(struct store_trace *t)
{
	size_t i;

	free(t->project);
	free(t->status);
	free(t->trigger);
	free(t->ref);
	free(t->branch);
	free(t->tag);
	free(t->commit);
	free(t->trace_id);
	free(t->span_id);
	free(t->attempt_status);
	free(t->reason);
	free(t->attempt_span);
	free(t->job);
	free(t->stage);
	for (i = 0; i < t->nsteps; i++) {
		free(t->steps[i].span_id);
		free(t->steps[i].name);
		free(t->steps[i].error);
	}
	free(t->steps);
	memset(t, 0, sizeof(*t));
}
