/*
 * Reads of the audit trails (a run's events, the daemon's own) and of API
 * tokens.  Tokens
 * are found by the SHA-256 of the secret, never by the secret: the store
 * holds no secret, and the lookup is an index probe on a value an attacker
 * cannot choose to collide (auth compares in constant time on top).
 */
#include <errno.h>
#include <stdlib.h>

#include "store-int.h"

int
store_events_list(struct store *s, uint64_t run, struct store_event **ev,
		  size_t *n)
{
	struct store_event *v = NULL, *e;
	sqlite3_stmt *st;
	size_t cap = 0, nv = 0;
	int rc;

	rc = store_stmt(&s->rd, ST_R_EVENTS, "SELECT time, actor, action,"
			" detail FROM events WHERE run_id = ?1 ORDER BY id",
			&st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, run);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		e = &v[nv++];
		e->time = (uint64_t)sqlite3_column_int64(st, 0);
		e->actor = store_col_text(st, 1);
		e->action = store_col_text(st, 2);
		e->detail = store_col_text(st, 3);
	}
	if (rc < 0) {
		store_events_free(v, nv);
		return rc;
	}
	*ev = v;
	*n = nv;
	return 0;
}

int
store_audit_list(struct store *s, size_t limit, uint64_t before,
		 struct store_audit **rows, size_t *n, uint64_t *next)
{
	struct store_audit *v = NULL, *e;
	sqlite3_stmt *st;
	size_t cap = 0, nv = 0;
	int rc;

	if (limit == 0 || limit > STORE_LIST_MAX)
		return -EINVAL;
	rc = store_stmt(&s->rd, ST_R_AUDIT, "SELECT id, time, actor, action,"
			" detail FROM audit WHERE id < ?1 ORDER BY id DESC"
			" LIMIT ?2", &st);
	if (rc < 0)
		return rc;
	store_bind_u64(st, 1, before == 0 ? UINT64_MAX : before);
	store_bind_u64(st, 2, limit + 1);
	while ((rc = store_step(st)) == 1) {
		v = xgrow(v, &cap, nv + 1, sizeof(*v));
		e = &v[nv++];
		e->id = (uint64_t)sqlite3_column_int64(st, 0);
		e->time = (uint64_t)sqlite3_column_int64(st, 1);
		e->actor = store_col_text(st, 2);
		e->action = store_col_text(st, 3);
		e->detail = store_col_text(st, 4);
	}
	if (rc < 0) {
		store_audit_free(v, nv);
		return rc;
	}
	*next = 0;
	if (nv > limit) {
		/* The extra row only says there is a next page. */
		free(v[limit].actor);
		free(v[limit].action);
		free(v[limit].detail);
		nv = limit;
		*next = v[limit - 1].id;
	}
	*rows = v;
	*n = nv;
	return 0;
}

int
store_token_find(struct store *s, const char *hash_hex, char **name,
		 char **scope)
{
	sqlite3_stmt *st;
	int rc;

	rc = store_stmt(&s->rd, ST_R_TOKEN, "SELECT name, scope FROM tokens"
			" WHERE hash = ?1", &st);
	if (rc < 0)
		return rc;
	store_bind_text(st, 1, hash_hex);
	if ((rc = store_step(st)) <= 0)
		return rc < 0 ? rc : -ENOENT;
	*name = store_col_text(st, 0);
	*scope = store_col_text(st, 1);
	sqlite3_reset(st);
	return 0;
}
