/*
 * Connections and their prepared statements, and SQLite's result codes
 * as negative errnos (and those errnos for people: store_strerror).
 *
 * Each statement is prepared once per connection, on first use, with
 * SQLITE_PREPARE_PERSISTENT (a hint that it lives long), and reset after
 * every use: a statement left mid-step would keep its connection's read
 * snapshot and stop checkpoints from reaching the end of the WAL.
 * Connections are opened with SQLITE_OPEN_NOMUTEX: each is used by one
 * thread at a time (see store-int.h), so SQLite's own locks would only
 * cost.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/log.h"
#include "store-int.h"

int
store_errno(int rc)
{
	switch (rc) {
	case SQLITE_OK:
	case SQLITE_ROW:
	case SQLITE_DONE:
		return 0;
	case SQLITE_CONSTRAINT_UNIQUE:
	case SQLITE_CONSTRAINT_PRIMARYKEY:
		return -EEXIST;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return -ENOENT;
	case SQLITE_TOOBIG:
		return -E2BIG;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_MISUSE:
	case SQLITE_RANGE:
		return -EINVAL;
	}
	switch (rc & 0xff) {
	case SQLITE_CONSTRAINT: /* CHECK, NOT NULL: a value we refuse */
		return -EINVAL;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EILSEQ;
	default:
		return -EIO;
	}
}

const char *
store_strerror(int rc)
{
	switch (rc) {
	case -ENOSPC:
		return "the store cannot write: no space left on device "
		       "(the disk holding the database is full)";
	case -EROFS:
		return "the store cannot write: the database is read-only";
	case -EIO:
		return "the store cannot write: an I/O error on the database";
	default:
		return strerror(-rc);
	}
}

int
store_conn_open(struct store_conn *c, const char *path, bool readonly,
		char **err)
{
	int flags = SQLITE_OPEN_NOMUTEX, rc, sys;

	memset(c, 0, sizeof(*c));
	flags |= readonly ? SQLITE_OPEN_READONLY :
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	rc = sqlite3_open_v2(path, &c->db, flags, NULL);
	if (rc != SQLITE_OK) {
		*err = xasprintf("cannot open %s: %s", path,
				 c->db != NULL ? sqlite3_errmsg(c->db) :
						 sqlite3_errstr(rc));
		sys = c->db != NULL ? sqlite3_system_errno(c->db) : 0;
		sqlite3_close(c->db);
		c->db = NULL;
		return sys > 0 ? -sys : store_errno(rc);
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, STORE_BUSY_TIMEOUT_MS);
	/*
	 * Keep -wal and -shm when the last connection closes: SQLite can
	 * open a WAL database on a read-only file system only if they exist,
	 * and a daemon restarted on a disk that went read-only must still
	 * serve the history (and its writes answer 503, not a refusal to
	 * start).
	 */
	sqlite3_file_control(c->db, "main", SQLITE_FCNTL_PERSIST_WAL,
			     &(int){1});
	return 0;
}

void
store_conn_close(struct store_conn *c)
{
	size_t i;

	if (c->db == NULL)
		return;
	for (i = 0; i < ST_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	/* Every statement is finalized: close cannot find one still busy. */
	if (sqlite3_close(c->db) != SQLITE_OK)
		log_warnx("store.close error=\"%s\"", sqlite3_errmsg(c->db));
	memset(c, 0, sizeof(*c));
}

int
store_stmt(struct store_conn *c, enum store_stmt_id id, const char *sql,
	   sqlite3_stmt **out)
{
	int rc;

	if (c->db == NULL)
		return -EIO; /* a reopen failed: see store_on_async */
	if (c->stmt[id] == NULL) {
		rc = sqlite3_prepare_v3(c->db, sql, -1,
					SQLITE_PREPARE_PERSISTENT,
					&c->stmt[id], NULL);
		if (rc != SQLITE_OK) {
			log_warnx("store.prepare error=\"%s\" sql=\"%s\"",
				  sqlite3_errmsg(c->db), sql);
			sqlite3_finalize(c->stmt[id]);
			c->stmt[id] = NULL;
			return store_errno(rc);
		}
	} else {
		sqlite3_reset(c->stmt[id]);
		sqlite3_clear_bindings(c->stmt[id]);
	}
	*out = c->stmt[id];
	return 0;
}

int
store_step(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	if (rc == SQLITE_ROW)
		return 1;
	sqlite3_reset(st);
	return store_errno(rc);
}

int
store_exec(sqlite3_stmt *st)
{
	int rc = store_step(st);

	if (rc == 1) {
		sqlite3_reset(st);
		return 0;
	}
	return rc;
}

int
store_delete_older(struct store_conn *c, enum store_stmt_id id,
		   const char *sql, uint64_t older_than, uint64_t *n)
{
	sqlite3_stmt *st = NULL; /* gcc -O3 cannot see store_stmt sets it */
	int rc;

	if ((rc = store_stmt(c, id, sql, &st)) < 0)
		return rc;
	store_bind_u64(st, 1, older_than);
	if ((rc = store_exec(st)) < 0)
		return rc;
	*n = (uint64_t)sqlite3_changes(c->db);
	return 0;
}

void
store_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(st, i);
	else
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

void
store_bind_u64(sqlite3_stmt *st, int i, uint64_t v)
{
	/* Ids and ms times fit in 63 bits; larger ones clamp. */
	sqlite3_bind_int64(st, i, v > INT64_MAX ? INT64_MAX : (int64_t)v);
}

char *
store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	if (t == NULL)
		return NULL;
	return xstrndup((const char *)t, (size_t)sqlite3_column_bytes(st, i));
}
