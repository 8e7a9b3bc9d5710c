/*
 * What the dashboard reads and keeps: its sessions, runs across projects,
 * job durations, the database's size.
 *
 * Runs across projects are keyset pages like store_runs_list's (list.c
 * says why), with any of project, branch, statuses and trigger.  Each of
 * the 16 filter shapes has its own statement, so each is planned for an
 * index that ends in id and is walked newest first without a sort: a
 * status filter is one arm per status (runs_status or runs_all_status)
 * merged by id, the other filters checked on its rows; else the branch
 * (runs_branch, runs_all_branch), else the trigger (runs_trigger,
 * runs_all_trigger), else the project
 * (runs_project) or the table itself.  What one index does not cover is
 * checked on the rows it walks.  store_runs_across_plan gives the plan,
 * for the test that keeps this true.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define NSTATUS 6

static const char *const run_statuses[NSTATUS] = {
	"queued", "running", "success", "failed", "canceled", "error",
};

enum { F_PROJECT = 1, F_BRANCH = 2, F_STATUS = 4, F_TRIGGER = 8 };

/* The statement of a filter shape (caller frees). */
static char *
across_sql(unsigned shape)
{
	struct buf b;
	int arms = shape & F_STATUS ? NSTATUS : 1, i;

	buf_init(&b, 0);
	for (i = 0; i < arms; i++) {
		if (i > 0)
			buf_adds(&b, " UNION ALL ");
		buf_adds(&b, "SELECT " STORE_RUN_COLS " FROM runs"
			 " WHERE id < ?2 AND id > ?12");
		if (shape & F_STATUS)
			buf_addf(&b, " AND status = ?%d", 4 + i);
		if (shape & F_PROJECT)
			buf_adds(&b, " AND project = ?1");
		/*
		 * With statuses, each arm walks its status's index: the
		 * unary + keeps the planner off the branch and trigger
		 * indexes, which for a rare status ("failed") would walk
		 * most of the table to find a page.
		 */
		if (shape & F_BRANCH)
			buf_adds(&b, shape & F_STATUS ? " AND +branch = ?3" :
				 " AND branch = ?3");
		if (shape & F_TRIGGER)
			buf_adds(&b, shape & F_STATUS ?
				 " AND +trigger_kind = ?11" :
				 " AND trigger_kind = ?11");
	}
	buf_adds(&b, " ORDER BY id DESC LIMIT ?10");
	return buf_steal(&b);
}

static int
across_shape(const struct store_run_filter *f, unsigned *shape, unsigned *set)
{
	size_t i;
	const char *const *st;

	*shape = 0;
	*set = 0;
	if (f->limit < 1 || f->limit > STORE_LIST_MAX)
		return -EINVAL;
	for (st = f->status; st != NULL && *st != NULL; st++) {
		for (i = 0; i < NSTATUS; i++)
			if (strcmp(*st, run_statuses[i]) == 0)
				break;
		if (i == NSTATUS)
			return -EINVAL;
		*set |= 1u << i;
	}
	if (f->project != NULL)
		*shape |= F_PROJECT;
	if (f->branch != NULL)
		*shape |= F_BRANCH;
	if (f->status != NULL)
		*shape |= F_STATUS;
	if (f->trigger != NULL)
		*shape |= F_TRIGGER;
	return 0;
}

int
store_runs_across(struct store *s, const struct store_run_filter *f,
		  struct store_run ***runs, size_t *n, uint64_t *next)
{
	struct store_run **v;
	sqlite3_stmt *st;
	unsigned shape, set;
	size_t i, nv = 0;
	char *sql;
	int rc, place = 4;

	*runs = NULL;
	*n = 0;
	*next = 0;
	if ((rc = across_shape(f, &shape, &set)) < 0)
		return rc;
	if ((shape & F_STATUS) && set == 0)
		return 0; /* an empty status list matches nothing */
	sql = across_sql(shape);
	rc = store_stmt(&s->rd, (enum store_stmt_id)(ST_R_ACROSS + shape), sql,
			&st);
	free(sql);
	if (rc < 0)
		return rc;
	if (f->project != NULL)
		store_bind_text(st, 1, f->project);
	store_bind_u64(st, 2, f->before != 0 ? f->before : INT64_MAX);
	if (f->branch != NULL)
		store_bind_text(st, 3, f->branch);
	for (i = 0; i < NSTATUS; i++)
		if (set & (1u << i))
			store_bind_text(st, place++, run_statuses[i]);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)f->limit + 1);
	if (f->trigger != NULL)
		store_bind_text(st, 11, f->trigger);
	store_bind_u64(st, 12, f->after);

	v = xcalloc(f->limit + 1, sizeof(*v));
	while ((rc = store_step(st)) == 1)
		v[nv++] = store_run_from_row(st, false);
	if (rc < 0) {
		store_runs_free(v, nv);
		return rc;
	}
	if (nv > f->limit) {
		store_run_free(v[--nv]);
		*next = v[nv - 1]->id;
	}
	*runs = v;
	*n = nv;
	return 0;
}

int
store_runs_across_plan(struct store *s, const struct store_run_filter *f,
		       char **plan)
{
	sqlite3_stmt *st;
	unsigned shape, set;
	char *sql, *explain;
	struct buf b;
	int rc;

	if ((rc = across_shape(f, &shape, &set)) < 0)
		return rc;
	sql = across_sql(shape);
	explain = xasprintf("EXPLAIN QUERY PLAN %s", sql);
	free(sql);
	rc = sqlite3_prepare_v2(s->rd.db, explain, -1, &st, NULL);
	free(explain);
	if (rc != SQLITE_OK)
		return store_errno(rc);
	buf_init(&b, 0);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		buf_addf(&b, "%s\n", (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		buf_free(&b);
		return store_errno(rc);
	}
	*plan = buf_steal(&b);
	return 0;
}

/* ---- sessions ---- */

int
store_tx_session_insert(struct store_tx *tx, const struct store_session_new *n)
{
	sqlite3_stmt *st;
	int rc;

	/* Expired sessions go whenever a new one comes: they are few. */
	rc = store_stmt(tx->c, ST_SESSION_PRUNE, "DELETE FROM sessions"
			" WHERE expires_at <= ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, n->now);
	if ((rc = store_exec(st)) < 0)
		return rc;
	rc = store_stmt(tx->c, ST_SESSION_INSERT, "INSERT INTO sessions"
			" (hash, token_id, csrf, created_at, expires_at)"
			" SELECT ?1, id, ?3, ?4, ?5 FROM tokens WHERE hash = ?2",
			&st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, n->hash);
	store_bind_text(st, 2, n->token_hash);
	store_bind_text(st, 3, n->csrf);
	store_bind_u64(st, 4, n->now);
	store_bind_u64(st, 5, n->expires_at);
	if ((rc = store_exec(st)) < 0)
		return rc;
	/* No such token (revoked meanwhile): no session. */
	return sqlite3_changes(tx->c->db) == 1 ? 0 : -ENOENT;
}

int
store_tx_session_delete(struct store_tx *tx, const char *hash)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_SESSION_DELETE, "DELETE FROM sessions"
			" WHERE hash = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, hash);
	return store_exec(st);
}

int
store_session_find(struct store *s, const char *hash, uint64_t now,
		   struct store_session *out)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_SESSION, "SELECT t.name, t.scope, s.csrf,"
			" s.expires_at FROM sessions s JOIN tokens t"
			" ON t.id = s.token_id WHERE s.hash = ?1"
			" AND s.expires_at > ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, hash);
	store_bind_u64(st, 2, now);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	out->token_name = store_col_text(st, 0);
	out->scope = store_col_text(st, 1);
	out->csrf = store_col_text(st, 2);
	out->expires_at = (uint64_t)sqlite3_column_int64(st, 3);
	sqlite3_reset(st);
	return 0;
}

void
store_session_free(struct store_session *ss)
{
	free(ss->token_name);
	free(ss->scope);
	free(ss->csrf);
	memset(ss, 0, sizeof(*ss));
}

/* ---- durations ---- */

int
store_job_names(struct store *s, const char *project, char ***names,
		size_t *n)
{
	sqlite3_stmt *st;
	char **v = NULL;
	size_t nv = 0, cap = 0;
	int rc;

	rc = store_stmt(&s->rd, ST_R_JOB_NAMES, "SELECT name FROM jobs"
			" WHERE run_id = (SELECT r.id FROM runs r"
			" WHERE r.project = ?1 AND EXISTS (SELECT 1 FROM jobs j"
			" WHERE j.run_id = r.id) ORDER BY r.id DESC LIMIT 1)"
			" ORDER BY idx", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		v[nv++] = store_col_text(st, 0);
	}
	if (rc < 0) {
		while (nv > 0)
			free(v[--nv]);
		free(v);
		return rc;
	}
	*names = v;
	*n = nv;
	return 0;
}

int
store_job_durations(struct store *s, const char *project, const char *job,
		    size_t last, struct store_duration **out, size_t *n)
{
	struct store_duration *v;
	sqlite3_stmt *st;
	size_t nv = 0;
	int rc;

	if (last < 1 || last > STORE_DURATIONS_MAX)
		return -EINVAL;
	/*
	 * Down the project's runs (runs_project), newest first; each run's
	 * job by its primary key and its attempts by (run_id, idx, number).
	 */
	rc = store_stmt(&s->rd, ST_R_DURATIONS, "SELECT a.run_id, a.number,"
			" a.started_at, a.finished_at FROM runs r"
			" JOIN jobs j ON j.run_id = r.id AND j.name = ?2"
			" JOIN attempts a ON a.run_id = j.run_id AND a.idx = j.idx"
			" WHERE r.project = ?1 AND a.status = 'success'"
			" AND a.started_at > 0 AND a.finished_at >= a.started_at"
			" ORDER BY r.id DESC LIMIT ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, job);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)last);
	v = xcalloc(last, sizeof(*v));
	while ((rc = store_step(st)) == 1) {
		v[nv].run = (uint64_t)sqlite3_column_int64(st, 0);
		v[nv].attempt = (int)sqlite3_column_int(st, 1);
		v[nv].started_at = (uint64_t)sqlite3_column_int64(st, 2);
		v[nv].finished_at = (uint64_t)sqlite3_column_int64(st, 3);
		nv++;
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

int
store_size(struct store *s, uint64_t *bytes)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_DB_SIZE, "SELECT page_count * page_size"
			" FROM pragma_page_count(), pragma_page_size()", &st);
	if (rc < 0)
		return rc;
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -EIO;
	*bytes = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

/* ---- log sections ---- */

int
store_tx_section_insert(struct store_tx *tx, uint64_t attempt, uint64_t line,
			const char *command, uint64_t started_at)
{
	sqlite3_stmt *st;
	int rc;

	/* OR IGNORE: a retried write (store_write_retry) adds nothing twice. */
	rc = store_stmt(tx->c, ST_SECTION_INSERT, "INSERT OR IGNORE INTO"
			" log_sections (attempt_id, line, command, started_at)"
			" VALUES (?1, ?2, ?3, ?4)", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	store_bind_u64(st, 2, line);
	store_bind_text(st, 3, command);
	store_bind_u64(st, 4, started_at);
	return store_exec(st);
}

int
store_sections_list(struct store *s, uint64_t attempt,
		    struct store_section **out, size_t *n)
{
	struct store_section *v = NULL;
	size_t nv = 0, cap = 0;
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_SECTIONS, "SELECT line, command, started_at"
			" FROM log_sections WHERE attempt_id = ?1 ORDER BY line",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, attempt);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		v[nv].line = (uint64_t)sqlite3_column_int64(st, 0);
		v[nv].command = store_col_text(st, 1);
		v[nv].started_at = (uint64_t)sqlite3_column_int64(st, 2);
		nv++;
	}
	if (rc < 0) {
		store_sections_free(v, nv);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

void
store_sections_free(struct store_section *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i].command);
	free(v);
}

/* ---- branches ---- */

int
store_project_branches(struct store *s, const char *project, size_t limit,
		       struct store_run ***runs, size_t *n)
{
	struct store_run **v;
	sqlite3_stmt *st;
	size_t nv = 0;
	int rc;

	if (project == NULL || limit < 1 || limit > STORE_LIST_MAX)
		return -EINVAL;
	/*
	 * The newest run of each branch, skipping down runs_branch
	 * (project, branch, id): the next branch is one seek (min(branch)
	 * past the last), its newest run another (max(id)), so the cost
	 * grows with the branches, not the runs (a GROUP BY walked all of
	 * a project's index: 13 ms at 100,000 runs, this 0.2 ms).
	 */
	rc = store_stmt(&s->rd, ST_R_BRANCHES, "WITH RECURSIVE b(name) AS ("
			" SELECT (SELECT min(branch) FROM runs WHERE project = ?1"
			" AND branch IS NOT NULL)"
			" UNION ALL SELECT (SELECT min(branch) FROM runs"
			" WHERE project = ?1 AND branch > b.name)"
			" FROM b WHERE b.name IS NOT NULL)"
			" SELECT " STORE_RUN_COLS " FROM b, runs"
			" WHERE b.name IS NOT NULL AND runs.id = (SELECT max(id)"
			" FROM runs r2 WHERE r2.project = ?1"
			" AND r2.branch = b.name)"
			" ORDER BY runs.id DESC LIMIT ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)limit);
	v = xcalloc(limit, sizeof(*v));
	while ((rc = store_step(st)) == 1)
		v[nv++] = store_run_from_row(st, false);
	if (rc < 0) {
		store_runs_free(v, nv);
		return rc;
	}
	*runs = v;
	*n = nv;
	return 0;
}
