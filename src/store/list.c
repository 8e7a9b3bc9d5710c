/*
 * Listing runs a page at a time, and counting them by status.
 *
 * Pages are keyset pages on the id (newest first, `id < before`), never
 * OFFSET: a page costs the same on the first page and the thousandth, and
 * runs created meanwhile do not shift the pages.  One page fetches limit
 * + 1 rows; the extra row only says that there is a next page.
 *
 * Each filter shape has its own statement, so that each is planned for
 * its index (runs_project, runs_branch, runs_status) instead of one
 * statement with "?x IS NULL OR ..." that no index serves.  A status
 * filter binds the (at most six) run statuses into fixed places, unused
 * ones NULL, which matches nothing.  Alone, it is one arm per status on
 * runs_status (project, status, id), merged by id: each arm walks only
 * its own status, newest first, so a rare status ("running" among
 * 100,000 runs) costs as little as a common one.  With a branch, the
 * branch index is walked and the statuses filtered.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define NSTATUS 6 /* run statuses: a filter never needs more places */

static const char *const run_statuses[NSTATUS] = {
	"queued", "running", "success", "failed", "canceled", "error",
};

/* The filter's statuses as a set of run_statuses; -EINVAL if unknown. */
static int
status_set(const char *const *status, unsigned *set)
{
	size_t i;

	*set = 0;
	for (; status != NULL && *status != NULL; status++) {
		for (i = 0; i < NSTATUS; i++)
			if (strcmp(*status, run_statuses[i]) == 0)
				break;
		if (i == NSTATUS)
			return -EINVAL;
		*set |= 1u << i;
	}
	return 0;
}

static int
list_stmt(struct store *s, bool branch, bool status, sqlite3_stmt **st)
{
#define SEL "SELECT " STORE_RUN_COLS " FROM runs WHERE project = ?1 AND id < ?2"
#define IN " AND status IN (?4, ?5, ?6, ?7, ?8, ?9)"
#define END " ORDER BY id DESC LIMIT ?10"
#define ARM(n) "SELECT " STORE_RUN_COLS " FROM runs" \
	" WHERE project = ?1 AND status = ?" n " AND id < ?2"
#define UNION " UNION ALL "
	if (branch && status)
		return store_stmt(&s->rd, ST_R_LIST_BRANCH_STATUS,
				  SEL " AND branch = ?3" IN END, st);
	if (branch)
		return store_stmt(&s->rd, ST_R_LIST_BRANCH,
				  SEL " AND branch = ?3" END, st);
	if (status)
		return store_stmt(&s->rd, ST_R_LIST_STATUS, ARM("4") UNION
				  ARM("5") UNION ARM("6") UNION ARM("7") UNION
				  ARM("8") UNION ARM("9") END, st);
	return store_stmt(&s->rd, ST_R_LIST, SEL END, st);
#undef SEL
#undef IN
#undef END
#undef ARM
#undef UNION
}

int
store_runs_list(struct store *s, const struct store_run_filter *f,
		struct store_run ***runs, size_t *n, uint64_t *next)
{
	struct store_run **v;
	sqlite3_stmt *st;
	unsigned set;
	size_t i, nv = 0;
	int rc, place = 4;

	if (f->project == NULL || f->limit < 1 || f->limit > STORE_LIST_MAX)
		return -EINVAL;
	if ((rc = status_set(f->status, &set)) < 0)
		return rc;
	if (f->status != NULL && set == 0) {
		/* An empty status list: nothing can match. */
		*runs = NULL;
		*n = 0;
		*next = 0;
		return 0;
	}
	if ((rc = list_stmt(s, f->branch != NULL, set != 0, &st)) < 0)
		return rc;
	store_bind_text(st, 1, f->project);
	store_bind_u64(st, 2, f->before != 0 ? f->before : INT64_MAX);
	if (f->branch != NULL)
		store_bind_text(st, 3, f->branch);
	for (i = 0; i < NSTATUS; i++)
		if (set & (1u << i))
			store_bind_text(st, place++, run_statuses[i]);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)f->limit + 1);

	v = xcalloc(f->limit + 1, sizeof(*v));
	while ((rc = store_step(st)) == 1)
		v[nv++] = store_run_from_row(st, false);
	if (rc < 0) {
		store_runs_free(v, nv);
		return rc;
	}
	*next = 0;
	if (nv > f->limit) {
		store_run_free(v[--nv]);
		*next = v[nv - 1]->id;
	}
	*runs = v;
	*n = nv;
	return 0;
}

int
store_count_runs(struct store *s,
		 void (*cb)(void *arg, const char *project, const char *status,
			    uint64_t n),
		 void *arg)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_COUNT, "SELECT project, status, count(*)"
			" FROM runs GROUP BY project, status", &st);
	if (rc < 0)
		return rc;
	while ((rc = store_step(st)) == 1)
		cb(arg, (const char *)sqlite3_column_text(st, 0),
		   (const char *)sqlite3_column_text(st, 1),
		   (uint64_t)sqlite3_column_int64(st, 2));
	return rc;
}
