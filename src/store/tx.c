/*
 * The write functions a store_write_fn calls on the writer thread, inside
 * the batch's transaction and the fn's savepoint.  Each is one or two
 * prepared statements; constraint failures come back as errnos (see
 * store.h), so a caller can tell a duplicate (-EEXIST) from a missing
 * parent (-ENOENT) from a bad status (-EINVAL).
 *
 * Logs: a chunk is stored under its byte offset, which must be the bytes
 * stored so far (attempts.log_bytes, runs.log_bytes): a retried append
 * after a failed batch cannot leave a duplicate, a lost one cannot leave a
 * gap unnoticed.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>

#include "store-int.h"

/* An UPDATE's result: -ENOENT if it found no row. */
static int
changed(struct store_tx *tx, int rc)
{
	if (rc < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -ENOENT;
}

int
store_tx_run_insert(struct store_tx *tx, const struct store_run_new *r,
		    uint64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	if (r->project == NULL || r->status == NULL || r->trigger == NULL)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_RUN_INSERT,
			"INSERT INTO runs (project, status, trigger_kind, ref,"
			" branch, tag, commit_sha, pr, fork, problems,"
			" pipeline_file, pipeline, env, actor, idempotency_key,"
			" created_at, idempotency_hash) VALUES (?1, ?2, ?3,"
			" ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15,"
			" ?16, ?17)", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, r->project);
	store_bind_text(st, 2, r->status);
	store_bind_text(st, 3, r->trigger);
	store_bind_text(st, 4, r->ref);
	store_bind_text(st, 5, r->branch);
	store_bind_text(st, 6, r->tag);
	store_bind_text(st, 7, r->commit);
	sqlite3_bind_int64(st, 8, r->pr);
	sqlite3_bind_int(st, 9, r->fork ? 1 : 0);
	store_bind_text(st, 10, r->problems);
	store_bind_text(st, 11, r->pipeline_file);
	if (r->pipeline != NULL)
		sqlite3_bind_blob64(st, 12, r->pipeline, r->pipeline_len,
				    SQLITE_STATIC);
	store_bind_text(st, 13, r->env);
	store_bind_text(st, 14, r->actor);
	store_bind_text(st, 15, r->idempotency_key);
	store_bind_u64(st, 16, r->created_at);
	store_bind_text(st, 17, r->idempotency_hash);
	if ((rc = store_exec(st)) < 0)
		return rc;
	*id = (uint64_t)sqlite3_last_insert_rowid(tx->c->db);
	return 0;
}

int
store_tx_run_by_key(struct store_tx *tx, const char *project, const char *key,
		    uint64_t *id, char **hash)
{
	const unsigned char *h;
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_RUN_BY_KEY, "SELECT id, idempotency_hash"
			" FROM runs WHERE project = ?1 AND idempotency_key = ?2",
			&st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, key);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*id = (uint64_t)sqlite3_column_int64(st, 0);
	if (hash != NULL) {
		h = sqlite3_column_text(st, 1);
		*hash = h != NULL ? xstrdup((const char *)h) : NULL;
	}
	sqlite3_reset(st);
	return 0;
}

int
store_tx_run_set_status(struct store_tx *tx, uint64_t run, const char *status,
			uint64_t started_at, uint64_t finished_at)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_RUN_SET_STATUS, "UPDATE runs SET status = ?2,"
			" started_at = iif(?3 != 0 AND status != 'running', ?3,"
			"  started_at),"
			" finished_at = CASE"
			"  WHEN ?2 IN ('queued', 'running') THEN 0"
			"  WHEN ?4 != 0 THEN ?4 ELSE finished_at END"
			" WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_text(st, 2, status);
	store_bind_u64(st, 3, started_at);
	store_bind_u64(st, 4, finished_at);
	return changed(tx, store_exec(st));
}

int
store_tx_run_set_pipeline(struct store_tx *tx, uint64_t run, const char *file,
			  const char *yaml, size_t len, const char *problems)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_RUN_SET_PIPELINE, "UPDATE runs SET"
			" pipeline_file = ?2, pipeline = ?3, problems = ?4"
			" WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_text(st, 2, file);
	if (yaml != NULL)
		sqlite3_bind_blob64(st, 3, yaml, len, SQLITE_STATIC);
	store_bind_text(st, 4, problems);
	return changed(tx, store_exec(st));
}

int
store_tx_job_insert(struct store_tx *tx, uint64_t run, int idx,
		    const char *name, const char *stage, const char *status)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_JOB_INSERT, "INSERT INTO jobs (run_id, idx,"
			" name, stage, status) VALUES (?1, ?2, ?3, ?4, ?5)",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	sqlite3_bind_int(st, 2, idx);
	store_bind_text(st, 3, name);
	store_bind_text(st, 4, stage);
	store_bind_text(st, 5, status);
	return store_exec(st);
}

int
store_tx_job_rerun(struct store_tx *tx, uint64_t run, int idx, int after)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_JOB_RERUN, "UPDATE jobs SET"
			" status = iif(?3 IS NULL, status, 'pending'),"
			" rerun_after = ?3 WHERE run_id = ?1 AND idx = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	sqlite3_bind_int(st, 2, idx);
	if (after >= 0)
		sqlite3_bind_int(st, 3, after);
	else
		sqlite3_bind_null(st, 3);
	return changed(tx, store_exec(st));
}

int
store_tx_job_set_status(struct store_tx *tx, uint64_t run, int idx,
			const char *status)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_JOB_SET_STATUS, "UPDATE jobs SET status = ?3"
			" WHERE run_id = ?1 AND idx = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	sqlite3_bind_int(st, 2, idx);
	store_bind_text(st, 3, status);
	return changed(tx, store_exec(st));
}

int
store_tx_attempt_insert(struct store_tx *tx, const struct store_attempt_new *a,
			uint64_t *id)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_ATTEMPT_INSERT, "INSERT INTO attempts"
			" (run_id, idx, number, status, dir, started_at)"
			" VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, a->run);
	sqlite3_bind_int(st, 2, a->idx);
	sqlite3_bind_int(st, 3, a->number);
	store_bind_text(st, 4, a->status);
	store_bind_text(st, 5, a->dir);
	store_bind_u64(st, 6, a->started_at);
	if ((rc = store_exec(st)) < 0)
		return rc;
	*id = (uint64_t)sqlite3_last_insert_rowid(tx->c->db);
	return 0;
}

int
store_tx_attempt_set_uid(struct store_tx *tx, uint64_t attempt, uint32_t uid)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_ATTEMPT_SET_UID, "UPDATE attempts SET"
			" job_uid = ?2 WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_u64(st, 2, uid);
	return changed(tx, store_exec(st));
}

int
store_tx_attempt_finish(struct store_tx *tx, uint64_t attempt,
			const char *status, int exit_code, const char *reason,
			uint64_t finished_at)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_ATTEMPT_FINISH, "UPDATE attempts SET"
			" status = ?2, exit_code = ?3, reason = ?4,"
			" finished_at = ?5 WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_text(st, 2, status);
	sqlite3_bind_int(st, 3, exit_code);
	store_bind_text(st, 4, reason);
	store_bind_u64(st, 5, finished_at);
	return changed(tx, store_exec(st));
}

/* A log's size from `size_sql`, then a chunk at offset and the new size. */
static int
append(struct store_tx *tx, const enum store_stmt_id ids[3],
       const char *const sql[3], uint64_t owner, const uint64_t *offset,
       const char *data, size_t len)
{
	sqlite3_stmt *st;
	uint64_t size;
	int rc;

	if ((rc = store_stmt(tx->c, ids[0], sql[0], &st)) < 0)
		return rc;
	store_bind_u64(st, 1, owner);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	size = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (offset != NULL && *offset != size)
		return -EINVAL;
	if (len == 0)
		return 0;
	if ((rc = store_stmt(tx->c, ids[1], sql[1], &st)) < 0)
		return rc;
	store_bind_u64(st, 1, owner);
	store_bind_u64(st, 2, size);
	sqlite3_bind_blob64(st, 3, data, len, SQLITE_STATIC);
	if ((rc = store_exec(st)) < 0)
		return rc;
	if ((rc = store_stmt(tx->c, ids[2], sql[2], &st)) < 0)
		return rc;
	store_bind_u64(st, 1, owner);
	store_bind_u64(st, 2, size + len);
	return store_exec(st);
}

int
store_tx_log_append(struct store_tx *tx, uint64_t attempt, uint64_t offset,
		    const char *data, size_t len)
{
	static const enum store_stmt_id ids[3] = {
		ST_ATTEMPT_LOG_BYTES, ST_LOG_INSERT, ST_ATTEMPT_LOG_ADD,
	};
	static const char *const sql[3] = {
		"SELECT log_bytes FROM attempts WHERE id = ?1",
		/* Parenthesised: one element, two lines (clang's
		 * -Wstring-concatenation). */
		("INSERT INTO log_chunks (attempt_id, stream, byte_offset, data)"
		 " VALUES (?1, '', ?2, ?3)"),
		"UPDATE attempts SET log_bytes = ?2 WHERE id = ?1",
	};

	return append(tx, ids, sql, attempt, &offset, data, len);
}

int
store_tx_run_log_append(struct store_tx *tx, uint64_t run, const char *data,
			size_t len)
{
	static const enum store_stmt_id ids[3] = {
		ST_RUN_LOG_BYTES, ST_RUN_LOG_INSERT, ST_RUN_LOG_ADD,
	};
	static const char *const sql[3] = {
		"SELECT log_bytes FROM runs WHERE id = ?1",
		("INSERT INTO run_log_chunks (run_id, byte_offset, data)"
		 " VALUES (?1, ?2, ?3)"),
		"UPDATE runs SET log_bytes = ?2 WHERE id = ?1",
	};

	return append(tx, ids, sql, run, NULL, data, len);
}

int
store_tx_event(struct store_tx *tx, uint64_t run, uint64_t time,
	       const char *actor, const char *action, const char *detail)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_EVENT_INSERT, "INSERT INTO events (run_id,"
			" time, actor, action, detail)"
			" VALUES (?1, ?2, ?3, ?4, ?5)", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	store_bind_u64(st, 2, time);
	store_bind_text(st, 3, actor);
	store_bind_text(st, 4, action);
	store_bind_text(st, 5, detail);
	return store_exec(st);
}

int
store_tx_audit(struct store_tx *tx, uint64_t time, const char *actor,
	       const char *action, const char *detail)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_AUDIT_INSERT, "INSERT INTO audit (time,"
			" actor, action, detail) VALUES (?1, ?2, ?3, ?4)", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, time);
	store_bind_text(st, 2, actor);
	store_bind_text(st, 3, action);
	store_bind_text(st, 4, detail);
	return store_exec(st);
}

int
store_tx_token_insert(struct store_tx *tx, const char *name, const char *scope,
		      const char *hash_hex, uint64_t created_at)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_TOKEN_INSERT, "INSERT INTO tokens (name,"
			" scope, hash, created_at) VALUES (?1, ?2, ?3, ?4)",
			&st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, name);
	store_bind_text(st, 2, scope);
	store_bind_text(st, 3, hash_hex);
	store_bind_u64(st, 4, created_at);
	return store_exec(st);
}

/*
 * Retention reads (tx.c's prune and store_prune_due on the loop's
 * connection): the project's count of finished runs (run_counts, kept by
 * triggers, migration 15), its oldest finished runs (one arm of
 * runs_status per finished state, merged by id: no sort, no walk past the
 * ones asked for) and its runs finished before a time (runs_finished_at),
 * except the store's newest run: run ids are SQLite's max(rowid) + 1, so
 * deleting the newest (a store idle past keep_days) would hand its id,
 * and the URLs and commit statuses that name it, to the next run.
 * None of them reads more rows than it returns.
 */
#define SQL_PRUNE_COUNT "SELECT finished FROM run_counts WHERE project = ?1"
#define SQL_PRUNE_ARM(st) \
	"SELECT id FROM runs WHERE project = ?1 AND status = '" st "'"
#define SQL_PRUNE_OLDEST \
	SQL_PRUNE_ARM("success") " UNION ALL " SQL_PRUNE_ARM("failed") \
	" UNION ALL " SQL_PRUNE_ARM("canceled") " UNION ALL " \
	SQL_PRUNE_ARM("error") " ORDER BY 1 LIMIT ?2"
#define SQL_PRUNE_AGED \
	"SELECT id FROM runs INDEXED BY runs_finished_at WHERE project = ?1" \
	" AND (status = 'success' OR status = 'failed' OR" \
	" status = 'canceled' OR status = 'error')" \
	" AND finished_at < ?2 AND id < (SELECT max(id) FROM runs)" \
	" ORDER BY finished_at LIMIT ?3"

static int
prune_count(struct store_conn *c, enum store_stmt_id id,
		  const char *project, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if ((rc = store_stmt(c, id, SQL_PRUNE_COUNT, &st)) < 0)
		return rc;
	store_bind_text(st, 1, project);
	if ((rc = store_step(st)) < 0)
		return rc;
	if (rc == 1) {
		sqlite3_int64 v = sqlite3_column_int64(st, 0);

		*n = v > 0 ? (uint64_t)v : 0;
	}
	sqlite3_reset(st);
	return 0;
}

/* Appends the ids st yields (bound by the caller) to *ids. */
static int
collect(sqlite3_stmt *st, uint64_t **ids, size_t *nids, size_t *cap)
{
	int rc;

	while ((rc = store_step(st)) == 1) {
		*ids = xgrow(*ids, cap, *nids + 1, sizeof(**ids));
		(*ids)[(*nids)++] = (uint64_t)sqlite3_column_int64(st, 0);
	}
	return rc;
}

static int
delete_runs(struct store_tx *tx, const uint64_t *ids, size_t n)
{
	sqlite3_stmt *st;
	size_t i;
	int rc;

	for (i = 0; i < n; i++) {
		rc = store_stmt(tx->c, ST_PRUNE_DELETE,
				"DELETE FROM runs WHERE id = ?1", &st);
		if (rc < 0)
			return rc;
		store_bind_u64(st, 1, ids[i]);
		if ((rc = store_exec(st)) < 0)
			return rc;
	}
	return 0;
}

int
store_tx_prune(struct store_tx *tx, const char *project, size_t keep_runs,
	       uint64_t older_than, size_t limit, uint64_t **ids,
	       size_t *nids)
{
	sqlite3_stmt *st;
	size_t cap = *nids, first = *nids, left = limit > 0 ? limit : SIZE_MAX;
	uint64_t count, over;
	int rc;

	/* By count: the oldest finished runs beyond keep_runs. */
	if (keep_runs > 0) {
		rc = prune_count(tx->c, ST_PRUNE_COUNT, project, &count);
		if (rc < 0)
			goto fail;
		over = count > keep_runs ? count - keep_runs : 0;
		if (over > left)
			over = left;
		if (over > 0) {
			rc = store_stmt(tx->c, ST_PRUNE_OLDEST,
					SQL_PRUNE_OLDEST, &st);
			if (rc < 0)
				goto fail;
			store_bind_text(st, 1, project);
			store_bind_u64(st, 2, over);
			/* Choose first, delete after: no DELETE under a
			 * running SELECT. */
			if ((rc = collect(st, ids, nids, &cap)) < 0 ||
			    (rc = delete_runs(tx, *ids + first,
					      *nids - first)) < 0)
				goto fail;
			left -= *nids - first;
		}
	}
	/* By age, after those are gone: no id twice. */
	if (older_than > 0 && left > 0) {
		size_t from = *nids;

		rc = store_stmt(tx->c, ST_PRUNE_AGED, SQL_PRUNE_AGED, &st);
		if (rc < 0)
			goto fail;
		store_bind_text(st, 1, project);
		store_bind_u64(st, 2, older_than);
		store_bind_u64(st, 3, left == SIZE_MAX ? INT64_MAX : left);
		if ((rc = collect(st, ids, nids, &cap)) < 0 ||
		    (rc = delete_runs(tx, *ids + from, *nids - from)) < 0)
			goto fail;
	}
	return 0;

fail:
	/* The savepoint undoes the deletes: report none of them. */
	*nids = first;
	return rc;
}

int
store_tx_prune_finished(struct store_tx *tx, const char *project,
			uint64_t **ids, size_t *nids)
{
	sqlite3_stmt *st;
	size_t cap = *nids, first = *nids;
	int rc;

	rc = store_stmt(tx->c, ST_PRUNE_OLDEST, SQL_PRUNE_OLDEST, &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_u64(st, 2, INT64_MAX);
	if ((rc = collect(st, ids, nids, &cap)) < 0 ||
	    (rc = delete_runs(tx, *ids + first, *nids - first)) < 0)
		*nids = first;  /* the savepoint undoes the deletes */
	return rc;
}

int
store_prune_due(struct store *s, const char *project, size_t keep_runs,
		uint64_t older_than, bool *due)
{
	sqlite3_stmt *st;
	uint64_t count;
	int rc;

	*due = false;
	if (keep_runs > 0) {
		rc = prune_count(&s->rd, ST_R_PRUNE_COUNT, project,
				       &count);
		if (rc < 0)
			return rc;
		if (count > keep_runs) {
			*due = true;
			return 0;
		}
	}
	if (older_than == 0)
		return 0;
	rc = store_stmt(&s->rd, ST_R_PRUNE_AGED, SQL_PRUNE_AGED, &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_u64(st, 2, older_than);
	store_bind_u64(st, 3, 1);
	if ((rc = store_step(st)) < 0)
		return rc;
	*due = rc == 1;
	sqlite3_reset(st);
	return 0;
}
