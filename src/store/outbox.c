/*
 * The outbox: HTTP calls that must reach a forge (commit statuses),
 * written in the same transaction as the change that causes them, so that
 * a crash can lose neither the change's call nor make a call for a change
 * that never committed.  notify sends them; the table is its queue, so
 * everything it has not finished survives a restart.
 *
 * One row per coalescing key (commit and context): a put replaces the
 * key's row, whatever its state, when its seq is greater, and is ignored
 * otherwise, so only the newest state is ever sent and a late "pending"
 * never overwrites "success".  The row keeps its id across puts; the seq
 * tells the sender's result for an older put (still in flight when the
 * newer one came) from one for the current put, and the older result is
 * dropped (-ESTALE) instead of marking the newer state delivered.
 *
 * The sender's reads use the index on (state, next_at): the due rows, and
 * the earliest next_at still ahead for its timer.  Finished rows are
 * pruned by age.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store-int.h"

#define OUTBOX_COLS \
	"id, key, seq, run_id, method, url, headers, body, project, state, " \
	"attempts, next_at, last_error, created_at, updated_at, kind, " \
	"expires_at, target"

static bool
state_ok(const char *state)
{
	return state != NULL && (strcmp(state, "pending") == 0 ||
				 strcmp(state, "delivered") == 0 ||
				 strcmp(state, "failed") == 0);
}

/* ?1..?9 of both inserts: the columns every row has, in one order. */
static void
bind_row(sqlite3_stmt *st, const struct store_outbox_new *o)
{
	store_bind_text(st, 1, o->key);
	store_bind_u64(st, 2, o->seq);
	if (o->run != 0)
		store_bind_u64(st, 3, o->run);
	store_bind_text(st, 4, o->method);
	store_bind_text(st, 5, o->url);
	store_bind_text(st, 6, o->headers);
	store_bind_text(st, 7, o->body);
	store_bind_text(st, 8, o->project);
	store_bind_u64(st, 9, o->created_at);
}

/*
 * A row of a kind that is never coalesced (a notification): each is a
 * message of its own, so a second put of its key is a caller's bug, not a
 * newer state.
 */
static int
put_distinct(struct store_tx *tx, const struct store_outbox_new *o)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_OUTBOX_INSERT, "INSERT INTO outbox (key, seq,"
			" run_id, method, url, headers, body, project, state,"
			" attempts, next_at, created_at, updated_at, kind,"
			" expires_at, target) VALUES (?1, ?2, ?3, ?4, ?5, ?6,"
			" ?7, ?8, 'pending', 0, ?9, ?9, ?9, ?10, ?11, ?12)"
			" ON CONFLICT (key) DO NOTHING", &st);
	if (rc < 0)
		return rc;
	bind_row(st, o);
	store_bind_text(st, 10, o->kind);
	store_bind_u64(st, 11, o->expires_at);
	store_bind_text(st, 12, o->target);
	if ((rc = store_exec(st)) < 0)
		return rc;
	return sqlite3_changes(tx->c->db) > 0 ? 0 : -EEXIST;
}

int
store_tx_outbox_put(struct store_tx *tx, const struct store_outbox_new *o)
{
	sqlite3_stmt *st;
	int rc;

	if (o->key == NULL || o->method == NULL || o->url == NULL ||
	    o->project == NULL)
		return -EINVAL;
	if (o->kind != NULL && strcmp(o->kind, "status") != 0)
		return put_distinct(tx, o);
	rc = store_stmt(tx->c, ST_OUTBOX_PUT, "INSERT INTO outbox (key, seq,"
			" run_id, method, url, headers, body, project, state,"
			" attempts, next_at, created_at, updated_at) VALUES"
			" (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'pending', 0, ?9, ?9,"
			" ?9) ON CONFLICT (key) DO UPDATE SET seq = excluded.seq,"
			" run_id = excluded.run_id, method = excluded.method,"
			" url = excluded.url, headers = excluded.headers,"
			" body = excluded.body, project = excluded.project,"
			" state = 'pending', attempts = 0,"
			" next_at = excluded.next_at, last_error = NULL,"
			" updated_at = excluded.updated_at"
			" WHERE excluded.seq > outbox.seq", &st);
	if (rc < 0)
		return rc;
	bind_row(st, o);
	return store_exec(st);
}

int
store_tx_outbox_result(struct store_tx *tx,
		       const struct store_outbox_result *r)
{
	sqlite3_stmt *st;
	int rc;

	if (!state_ok(r->state) || r->attempts < 0)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_OUTBOX_RESULT, "UPDATE outbox SET state = ?3,"
			" attempts = ?4, next_at = ?5, last_error = ?6,"
			" updated_at = ?7 WHERE id = ?1 AND seq = ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, r->id);
	store_bind_u64(st, 2, r->seq);
	store_bind_text(st, 3, r->state);
	sqlite3_bind_int(st, 4, r->attempts);
	store_bind_u64(st, 5, r->next_at);
	store_bind_text(st, 6, r->last_error);
	store_bind_u64(st, 7, r->now);
	if ((rc = store_exec(st)) < 0)
		return rc;
	if (sqlite3_changes(tx->c->db) > 0)
		return 0;
	/* No row with this seq: superseded, or gone. */
	rc = store_stmt(tx->c, ST_OUTBOX_SEQ,
			"SELECT 1 FROM outbox WHERE id = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, r->id);
	if ((rc = store_step(st)) < 0)
		return rc;
	sqlite3_reset(st);
	return rc == 1 ? -ESTALE : -ENOENT;
}

int
store_tx_outbox_prune(struct store_tx *tx, uint64_t older_than, uint64_t *n)
{
	return store_delete_older(tx->c, ST_OUTBOX_PRUNE,
				  "DELETE FROM outbox WHERE state IN"
				  " ('delivered', 'failed') AND updated_at < ?1",
				  older_than, n);
}

static uint64_t
col_u64(sqlite3_stmt *st, int i)
{
	sqlite3_int64 v = sqlite3_column_int64(st, i);

	return v < 0 ? 0 : (uint64_t)v;
}

static struct store_outbox *
from_row(sqlite3_stmt *st)
{
	struct store_outbox *o = xcalloc(1, sizeof(*o));

	o->id = col_u64(st, 0);
	o->key = store_col_text(st, 1);
	o->seq = col_u64(st, 2);
	o->run = col_u64(st, 3);
	o->method = store_col_text(st, 4);
	o->url = store_col_text(st, 5);
	o->headers = store_col_text(st, 6);
	o->body = store_col_text(st, 7);
	o->project = store_col_text(st, 8);
	o->state = store_col_text(st, 9);
	o->attempts = sqlite3_column_int(st, 10);
	o->next_at = col_u64(st, 11);
	o->last_error = store_col_text(st, 12);
	o->created_at = col_u64(st, 13);
	o->updated_at = col_u64(st, 14);
	o->kind = store_col_text(st, 15);
	o->expires_at = col_u64(st, 16);
	o->target = store_col_text(st, 17);
	return o;
}

/* Steps st to its end, collecting up to max rows. */
static int
collect(sqlite3_stmt *st, size_t max, struct store_outbox ***rows, size_t *n)
{
	struct store_outbox **v = NULL;
	size_t cap = 0, nv = 0;
	int rc;

	while ((rc = store_step(st)) == 1) {
		if (nv == max) {
			sqlite3_reset(st);
			rc = 0;
			break;
		}
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		v[nv++] = from_row(st);
	}
	if (rc < 0) {
		store_outboxes_free(v, nv);
		return rc;
	}
	*rows = v;
	*n = nv;
	return 0;
}

int
store_outbox_due(struct store *s, uint64_t now, size_t limit,
		 struct store_outbox ***rows, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	rc = store_stmt(&s->rd, ST_R_OUTBOX_DUE, "SELECT " OUTBOX_COLS
			" FROM outbox WHERE state = 'pending' AND next_at <= ?1"
			" ORDER BY next_at, id LIMIT ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, now);
	store_bind_u64(st, 2, limit);
	return collect(st, limit, rows, n);
}

int
store_outbox_next_at(struct store *s, uint64_t after, uint64_t *when)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_OUTBOX_NEXT, "SELECT next_at FROM outbox"
			" WHERE state = 'pending' AND next_at > ?1"
			" ORDER BY next_at LIMIT 1", &st);
	if (rc < 0)
		return rc;
	/* after = 0 must find a row due at 0 too. */
	sqlite3_bind_int64(st, 1, after == 0 ? -1 :
			   after > INT64_MAX ? INT64_MAX : (int64_t)after);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*when = col_u64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int
store_outbox_list(struct store *s, const char *state, size_t limit,
		  uint64_t before, struct store_outbox ***rows, size_t *n,
		  uint64_t *next)
{
	sqlite3_stmt *st;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX ||
	    (state != NULL && !state_ok(state)))
		return -EINVAL;
	if (state != NULL)
		rc = store_stmt(&s->rd, ST_R_OUTBOX_LIST_STATE, "SELECT "
				OUTBOX_COLS " FROM outbox WHERE state = ?1 AND"
				" id < ?2 ORDER BY id DESC LIMIT ?3", &st);
	else
		rc = store_stmt(&s->rd, ST_R_OUTBOX_LIST, "SELECT " OUTBOX_COLS
				" FROM outbox WHERE id < ?2 ORDER BY id DESC"
				" LIMIT ?3", &st);
	if (rc < 0)
		return rc;
	if (state != NULL)
		store_bind_text(st, 1, state);
	store_bind_u64(st, 2, before == 0 ? UINT64_MAX : before);
	store_bind_u64(st, 3, limit + 1);
	if ((rc = collect(st, limit + 1, rows, n)) < 0)
		return rc;
	*next = 0;
	if (*n > limit) {
		/* The extra row only says there is a next page. */
		store_outbox_free((*rows)[limit]);
		*n = limit;
		*next = (*rows)[limit - 1]->id;
	}
	return 0;
}

int
store_outbox_waiting(struct store *s, const char *kind, const char *url,
		     size_t limit, struct store_outbox ***rows, size_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if (kind == NULL || url == NULL || limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	/* The (state, next_at, id) index, filtered by kind and URL. */
	rc = store_stmt(&s->rd, ST_R_OUTBOX_WAITING, "SELECT " OUTBOX_COLS
			" FROM outbox WHERE state = 'pending' AND kind = ?1 AND"
			" url = ?2 ORDER BY next_at, id LIMIT ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, kind);
	store_bind_text(st, 2, url);
	store_bind_u64(st, 3, limit);
	return collect(st, limit, rows, n);
}

int
store_outbox_count(struct store *s, const char *state, uint64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	if (state != NULL && !state_ok(state))
		return -EINVAL;
	if (state != NULL)
		rc = store_stmt(&s->rd, ST_R_OUTBOX_COUNT_STATE, "SELECT"
				" count(*) FROM outbox WHERE state = ?1", &st);
	else
		rc = store_stmt(&s->rd, ST_R_OUTBOX_COUNT,
				"SELECT count(*) FROM outbox", &st);
	if (rc < 0)
		return rc;
	if (state != NULL)
		store_bind_text(st, 1, state);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -EIO;
	*n = col_u64(st, 0);
	sqlite3_reset(st);
	return 0;
}
