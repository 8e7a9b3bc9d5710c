/*
 * Webhook deliveries and schedules: the two small tables that make
 * triggers from outside happen once.
 *
 * A delivery is stored with its answer in the same transaction as the run
 * it makes, so a redelivery (the forge retries when our reply was lost)
 * finds the first answer and makes no second run; the daemon looks it up
 * and stores it inside one store_write fn, so two copies arriving at once
 * are serialised by the writer.  Deliveries are pruned by age, not with
 * their run: an old delivery id must still be known after its run is gone.
 *
 * A push is stored the same way, keyed by what its signed body says
 * (project, ref, before, after) rather than by the delivery id, which
 * GitHub's and Gitea's signatures leave out: a captured push resent
 * under a fresh id finds the run the first copy made.
 *
 * A schedule remembers its last firing, so that slots missed while the
 * daemon was down fire once at start, not once per slot; a firing never
 * moves it back.
 */
#include <errno.h>
#include <stdlib.h>

#include "store-int.h"

int
store_tx_delivery_find(struct store_tx *tx, const char *forge, const char *id,
		       int *status, char **response)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_DELIVERY_FIND, "SELECT status, response"
			" FROM deliveries WHERE forge = ?1 AND delivery_id = ?2",
			&st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, forge);
	store_bind_text(st, 2, id);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*status = sqlite3_column_int(st, 0);
	*response = store_col_text(st, 1);
	sqlite3_reset(st);
	return 0;
}

int
store_tx_delivery_put(struct store_tx *tx, const struct store_delivery_new *d)
{
	sqlite3_stmt *st;
	int rc;

	if (d->forge == NULL || d->id == NULL)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_DELIVERY_PUT, "INSERT INTO deliveries"
			" (forge, delivery_id, project, run_id, status,"
			" response, created_at) VALUES (?1, ?2, ?3, ?4, ?5,"
			" ?6, ?7)", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, d->forge);
	store_bind_text(st, 2, d->id);
	store_bind_text(st, 3, d->project);
	if (d->run != 0)
		store_bind_u64(st, 4, d->run);
	sqlite3_bind_int(st, 5, d->status);
	store_bind_text(st, 6, d->response);
	store_bind_u64(st, 7, d->created_at);
	return store_exec(st);
}

int
store_tx_deliveries_prune(struct store_tx *tx, uint64_t older_than,
			  uint64_t *n)
{
	return store_delete_older(tx->c, ST_DELIVERY_PRUNE,
				  "DELETE FROM deliveries WHERE created_at < ?1",
				  older_than, n);
}

/* ?1..?4: a push's key; no `before` is stored as "". */
static void
bind_push(sqlite3_stmt *st, const struct store_push *p)
{
	store_bind_text(st, 1, p->project);
	store_bind_text(st, 2, p->ref);
	store_bind_text(st, 3, p->before != NULL ? p->before : "");
	store_bind_text(st, 4, p->after);
}

int
store_tx_push_find(struct store_tx *tx, const struct store_push *p,
		   uint64_t *run)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(tx->c, ST_PUSH_FIND, "SELECT run_id FROM pushes"
			" WHERE project = ?1 AND ref = ?2 AND before_sha = ?3"
			" AND after_sha = ?4", &st);
	if (rc < 0)
		return rc;
	bind_push(st, p);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*run = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}

int
store_tx_push_put(struct store_tx *tx, const struct store_push *p,
		  uint64_t run, uint64_t created_at)
{
	sqlite3_stmt *st;
	int rc;

	if (p->project == NULL || p->ref == NULL || p->after == NULL ||
	    run == 0)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_PUSH_PUT, "INSERT INTO pushes"
			" (project, ref, before_sha, after_sha, run_id,"
			" created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st);
	if (rc < 0)
		return rc;
	bind_push(st, p);
	store_bind_u64(st, 5, run);
	store_bind_u64(st, 6, created_at);
	return store_exec(st);
}

int
store_tx_pushes_prune(struct store_tx *tx, uint64_t older_than, uint64_t *n)
{
	return store_delete_older(tx->c, ST_PUSH_PRUNE,
				  "DELETE FROM pushes WHERE created_at < ?1",
				  older_than, n);
}

int
store_tx_schedule_fired(struct store_tx *tx, const char *project,
			const char *spec, const char *ref, uint64_t fire_ms)
{
	sqlite3_stmt *st;
	int rc;

	if (project == NULL || spec == NULL || ref == NULL)
		return -EINVAL;
	rc = store_stmt(tx->c, ST_SCHEDULE_FIRED, "INSERT INTO schedules"
			" (project, spec, ref, last_fire) VALUES (?1, ?2, ?3, ?4)"
			" ON CONFLICT (project, spec, ref) DO UPDATE SET"
			" last_fire = max(last_fire, excluded.last_fire)", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, spec);
	store_bind_text(st, 3, ref);
	store_bind_u64(st, 4, fire_ms);
	return store_exec(st);
}

int
store_schedule_last(struct store *s, const char *project, const char *spec,
		    const char *ref, uint64_t *last)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_SCHEDULE, "SELECT last_fire FROM schedules"
			" WHERE project = ?1 AND spec = ?2 AND ref = ?3", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, project);
	store_bind_text(st, 2, spec);
	store_bind_text(st, 3, ref);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*last = (uint64_t)sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return 0;
}
