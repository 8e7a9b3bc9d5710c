/*
 * Opening and closing the store: the writer's connection (which creates
 * the file, refuses a newer schema, turns WAL on and migrates), the
 * reader's read-only connection, the writer thread and the loop handle
 * that brings results back.
 *
 * SQLite's own diagnostics (SQLITE_CONFIG_LOG) go to the daemon's log,
 * and savepoints' sub-journals stay in memory (STORE_SUBJOURNAL_MEM).
 * Those settings are process-wide and must be made before SQLite
 * initializes, so the first store_open makes them, once (pthread_once):
 * the one piece of global state here, two settings.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/log.h"
#include "store-int.h"

static pthread_once_t log_once = PTHREAD_ONCE_INIT;

static void
on_sqlite_log(void *arg, int code, const char *msg)
{
	(void)arg;
	/* Constraint failures are answers (-EEXIST ...), not events. */
	if ((code & 0xff) == SQLITE_CONSTRAINT || (code & 0xff) == SQLITE_SCHEMA)
		return;
	if ((code & 0xff) == SQLITE_NOTICE)
		log_info("store.sqlite code=%d msg=\"%s\"", code, msg);
	else
		log_warnx("store.sqlite code=%d msg=\"%s\"", code, msg);
}

static void
configure(void)
{
	/* Each fails with SQLITE_MISUSE if SQLite is already initialized. */
	(void)sqlite3_config(SQLITE_CONFIG_LOG, on_sqlite_log, NULL);
	/*
	 * The writer wraps every write in a savepoint; a savepoint keeps
	 * the first version of each page it changes in a sub-journal,
	 * which SQLite writes to a temporary file once it passes 64 KiB.
	 * A webhook delivery's write changes 17 pages (its run, delivery,
	 * push and event rows and their indexes: ~70 KB), so every batch
	 * of deliveries created that file and made 35 pwrite64 calls per
	 * delivery to it, four times the WAL's own.  In memory (-1) it is
	 * one copy per page a single write changes, pages the page cache
	 * holds dirty anyway, and every write is bounded (a log row, a
	 * part of a test report, a prune's batch).  A threshold above 64
	 * KiB is no middle way: SQLite 3.40 answered SQLITE_FULL for a
	 * prune whose sub-journal passed it (test_job_path_plans).
	 */
	(void)sqlite3_config(SQLITE_CONFIG_STMTJRNL_SPILL,
			     STORE_SUBJOURNAL_MEM);
}

static int
user_version(sqlite3 *db, int *v)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW) {
			*v = sqlite3_column_int(st, 0);
			rc = SQLITE_OK;
		}
	}
	sqlite3_finalize(st);
	return rc;
}

int
store_writer_setup(struct store_conn *c)
{
	int rc;

	rc = sqlite3_exec(c->db, "PRAGMA journal_mode = WAL;"
			  "PRAGMA synchronous = FULL;"
			  "PRAGMA foreign_keys = ON;"
			  "PRAGMA wal_autocheckpoint = 0;", NULL, NULL, NULL);
	return store_errno(rc);
}

static int
migrate(struct store *s, char **err)
{
	sqlite3 *db = s->wr.db;
	const int known = (int)store_nmigrations;
	char *sql = NULL;
	int rc, v = 0;

	if ((rc = user_version(db, &v)) != SQLITE_OK) {
		*err = xasprintf("cannot open %s: %s", s->path,
				 sqlite3_errmsg(db));
		return store_errno(rc);
	}
	if (v > known) {
		*err = xasprintf("database schema version %d is newer than "
				 "this pipewright (knows %d)", v, known);
		return -ENOTSUP;
	}
	if ((rc = store_writer_setup(&s->wr)) < 0) {
		*err = xasprintf("cannot set up %s: %s", s->path,
				 sqlite3_errmsg(db));
		return rc;
	}
	for (; v < known; v++) {
		sql = xasprintf("BEGIN IMMEDIATE; %s; PRAGMA user_version = %d;"
				" COMMIT;", store_migrations[v], v + 1);
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
		free(sql);
		if (rc != SQLITE_OK) {
			*err = xasprintf("cannot migrate %s to schema version "
					 "%d: %s", s->path, v + 1,
					 sqlite3_errmsg(db));
			if (!sqlite3_get_autocommit(db))
				sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			return store_errno(rc);
		}
	}
	return 0;
}

static void
store_free(struct store *s)
{
	pthread_mutex_destroy(&s->mu);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->idle);
	free(s->path);
	free(s);
}

int
store_open(uv_loop_t *loop, const char *path, struct store **out, char **err)
{
	pthread_condattr_t ca;
	struct store *s;
	int rc;

	*out = NULL;
	*err = NULL;
	pthread_once(&log_once, configure);
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	s->path = xstrdup(path);
	s->queue_tail = &s->queue;
	s->staged_tail = &s->staged;
	s->done_tail = &s->done;
	s->held_tail = &s->held;
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->wake, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->idle, NULL);

	if ((rc = store_conn_open(&s->wr, path, false, err)) < 0)
		goto fail;
	if ((rc = migrate(s, err)) < 0)
		goto fail;
	if (sqlite3_db_readonly(s->wr.db, "main") == 1)
		log_warnx("store.readonly path=%s: writes fail until it is "
			  "writable", path);
	if ((rc = store_conn_open(&s->rd, path, true, err)) < 0)
		goto fail;
	if ((rc = store_writer_start(s)) < 0) {
		*err = xasprintf("cannot start the store's writer thread: %s",
				 strerror(-rc));
		goto fail;
	}
	/* Nothing is queued yet, so the writer cannot signal before this. */
	if ((rc = uv_async_init(loop, &s->async, store_on_async)) < 0) {
		*err = xasprintf("cannot set up the store: %s", uv_strerror(rc));
		store_writer_stop(s);
		goto fail;
	}
	s->async.data = s;
	uv_unref((uv_handle_t *)&s->async); /* until a write is queued */
	uv_prepare_init(loop, &s->kick);
	s->kick.data = s;
	s->handles = 2;
	*out = s;
	return 0;

fail:
	store_conn_close(&s->rd);
	store_conn_close(&s->wr);
	store_free(s);
	return rc;
}

static void
on_closed(uv_handle_t *h)
{
	struct store *s = h->data;
	store_close_cb cb = s->close_cb;
	void *arg = s->close_arg;

	if (--s->handles > 0)
		return;
	store_free(s);
	if (cb != NULL)
		cb(arg);
}

void
store_close(struct store *s, store_close_cb cb, void *arg)
{
	assert(!s->closing);
	s->closing = true;
	s->close_cb = cb;
	s->close_arg = arg;
	store_writer_stop(s);
	store_conn_close(&s->rd);
	store_conn_close(&s->wr);
	uv_close((uv_handle_t *)&s->async, on_closed);
	uv_close((uv_handle_t *)&s->kick, on_closed);
}

int
store_check(struct store *s)
{
	sqlite3_stmt *st;
	bool alive;
	int rc, last;

	rc = store_stmt(&s->rd, ST_R_CHECK, "SELECT max(id) FROM runs", &st);
	if (rc < 0)
		return rc;
	rc = store_step(st);
	sqlite3_reset(st);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->mu);
	alive = s->thread_started && !s->stop;
	last = s->last_rc;
	pthread_mutex_unlock(&s->mu);
	if (!alive)
		return -ESHUTDOWN;
	return last;
}

void
store_stats(const struct store *s, struct store_stats *out)
{
	struct store *m = (struct store *)s; /* the mutex, not the state */

	pthread_mutex_lock(&m->mu);
	*out = s->stats;
	pthread_mutex_unlock(&m->mu);
}

size_t
store_pending(const struct store *s)
{
	return s->pending;
}
