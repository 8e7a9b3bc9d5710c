/*
 * The writer thread: group commit, and checkpoints when idle.
 *
 * store_write() appends {fn, done, arg} to the queue.  The writer takes
 * everything queued at once and runs it as one transaction (BEGIN
 * IMMEDIATE ... COMMIT, synchronous=FULL: one fsync for the lot), each fn
 * in its own savepoint so that a failing fn undoes only its own changes.
 * The finished batch goes to the done list and the loop is woken through
 * the uv_async_t; there the done callbacks run in queue order.  While a
 * batch commits, new writes queue up and form the next batch: the busier
 * the daemon, the more writes share one fsync.
 *
 * If the transaction as a whole fails (BEGIN or COMMIT: the disk is full,
 * the file read-only, an I/O error; or SQLite rolled it back under a fn),
 * every fn of the batch that had succeeded gets -ENOSPC, -EROFS or -EIO,
 * and the next batch simply tries again.  A connection that SQLite opened
 * read-only (the file was not writable) is reopened before each batch, so
 * fixing the file's permissions is enough for writes to work again.
 *
 * Automatic checkpoints are off (they would run inside a commit); the
 * writer runs a passive one after STORE_IDLE_MS without writes, or after
 * a commit once the WAL holds more than STORE_WAL_PAGES pages, so that a
 * never-idle daemon does not grow the WAL without end.
 */
#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipewright/log.h"
#include "store-int.h"

#define STORE_WAL_PAGES 4096 /* checkpoint past this even when busy */

static int
on_wal(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct store *s = arg;

	(void)db;
	(void)name;
	s->wal_pages = pages;
	return SQLITE_OK;
}

static void
checkpoint(struct store *s)
{
	int rc;

	rc = sqlite3_wal_checkpoint_v2(s->wr.db, NULL,
				       SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_warnx("store.checkpoint error=\"%s\"",
			  sqlite3_errmsg(s->wr.db));
		return;
	}
	s->wal_pages = 0;
	pthread_mutex_lock(&s->mu);
	s->stats.checkpoints++;
	pthread_mutex_unlock(&s->mu);
}

/* A connection SQLite opened read-only is tried again read-write. */
static void
reopen_if_readonly(struct store *s)
{
	struct store_conn c;
	char *err = NULL;

	if (sqlite3_db_readonly(s->wr.db, "main") != 1)
		return;
	if (store_conn_open(&c, s->path, false, &err) < 0) {
		free(err);
		return;
	}
	if (sqlite3_db_readonly(c.db, "main") != 0 ||
	    store_writer_setup(&c) < 0) {
		store_conn_close(&c);
		return;
	}
	store_conn_close(&s->wr);
	s->wr = c;
	sqlite3_wal_hook(s->wr.db, on_wal, s);
	log_info("store.writable path=%s", s->path);
}

static int
run(struct store *s, enum store_stmt_id id, const char *sql)
{
	sqlite3_stmt *st;
	int rc;

	if ((rc = store_stmt(&s->wr, id, sql, &st)) < 0)
		return rc;
	return store_exec(st);
}

/* What a failed transaction means for its writes. */
static int
tx_errno(int rc)
{
	return rc == -ENOSPC || rc == -EROFS ? rc : -EIO;
}

/* Runs a batch as one transaction; its result. */
static int
run_batch(struct store *s, struct store_req *batch, uint64_t *nwrites)
{
	struct store_tx tx = { .s = s, .c = &s->wr };
	struct store_req *r;
	int rc, lost = 0;

	reopen_if_readonly(s);
	/* SQLite would let the fns run and fail each write: fail the lot. */
	rc = sqlite3_db_readonly(s->wr.db, "main") == 1 ? -EROFS :
		run(s, ST_BEGIN, "BEGIN IMMEDIATE");
	if (rc < 0)
		goto fail;
	for (r = batch; r != NULL; r = r->next) {
		if ((rc = run(s, ST_SAVEPOINT, "SAVEPOINT w")) == 0) {
			rc = r->fn(&tx, r->arg);
			(*nwrites)++;
		}
		if (sqlite3_get_autocommit(s->wr.db)) {
			/* SQLite rolled the whole transaction back. */
			lost = rc < 0 ? rc : -EIO;
			break;
		}
		if (rc < 0) {
			r->rc = rc;
			rc = run(s, ST_ROLLBACK_TO, "ROLLBACK TO w");
		}
		if (rc == 0)
			rc = run(s, ST_RELEASE, "RELEASE w");
		if (rc < 0) {
			lost = rc;
			break;
		}
	}
	rc = lost < 0 ? lost : run(s, ST_COMMIT, "COMMIT");
	if (rc == 0)
		return 0;
	if (!sqlite3_get_autocommit(s->wr.db))
		(void)run(s, ST_ROLLBACK, "ROLLBACK");
fail:
	rc = tx_errno(rc);
	for (r = batch; r != NULL; r = r->next)
		if (r->rc == 0)
			r->rc = rc;
	log_warnx("store.commit_failed path=%s error=\"%s\" sqlite=\"%s\"",
		  s->path, strerror(-rc), sqlite3_errmsg(s->wr.db));
	return rc;
}

static void
deadline(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static void *
writer_main(void *arg)
{
	struct store *s = arg;
	struct store_req *batch;
	struct timespec ts;
	uint64_t nwrites;
	bool dirty = false;
	int rc;

	sqlite3_wal_hook(s->wr.db, on_wal, s);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->queue == NULL && s->stop)
			break;
		if (s->queue == NULL && dirty) {
			deadline(&ts, STORE_IDLE_MS);
			rc = pthread_cond_timedwait(&s->wake, &s->mu, &ts);
			if (rc == ETIMEDOUT && s->queue == NULL) {
				pthread_mutex_unlock(&s->mu);
				checkpoint(s);
				pthread_mutex_lock(&s->mu);
				dirty = false;
			}
			continue;
		}
		if (s->queue == NULL) {
			pthread_cond_wait(&s->wake, &s->mu);
			continue;
		}
		batch = s->queue;
		s->queue = NULL;
		s->queue_tail = &s->queue;
		s->busy = true;
		pthread_mutex_unlock(&s->mu);

		nwrites = 0;
		rc = run_batch(s, batch, &nwrites);
		if (rc == 0)
			dirty = true;
		if (rc == 0 && s->wal_pages > STORE_WAL_PAGES)
			checkpoint(s);

		pthread_mutex_lock(&s->mu);
		*s->done_tail = batch;
		while (*s->done_tail != NULL)
			s->done_tail = &(*s->done_tail)->next;
		s->busy = false;
		s->last_rc = rc;
		s->stats.writes += nwrites;
		if (rc == 0)
			s->stats.commits++;
		else
			s->stats.commit_failures++;
		pthread_cond_broadcast(&s->idle);
		pthread_mutex_unlock(&s->mu);
		uv_async_send(&s->async);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int
store_writer_start(struct store *s)
{
	int rc;

	if ((rc = pthread_create(&s->thread, NULL, writer_main, s)) != 0)
		return -rc;
	s->thread_started = true;
	return 0;
}

void
store_write(struct store *s, store_write_fn fn, store_done_cb done, void *arg)
{
	struct store_req *r = xcalloc(1, sizeof(*r));

	r->fn = fn;
	r->done = done;
	r->arg = arg;
	/* Writes in flight keep the loop alive, an idle store does not. */
	if (s->pending++ == 0)
		uv_ref((uv_handle_t *)&s->async);
	pthread_mutex_lock(&s->mu);
	assert(!s->stop);
	*s->queue_tail = r;
	s->queue_tail = &r->next;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

/* Calls the done callbacks of finished writes, in order (loop thread). */
static void
deliver(struct store *s)
{
	struct store_req *r, *next;

	pthread_mutex_lock(&s->mu);
	r = s->done;
	s->done = NULL;
	s->done_tail = &s->done;
	pthread_mutex_unlock(&s->mu);
	for (; r != NULL; r = next) {
		next = r->next;
		s->pending--;
		if (r->done != NULL)
			r->done(r->rc, r->arg);
		free(r);
	}
	if (s->pending == 0)
		uv_unref((uv_handle_t *)&s->async);
}

void
store_on_async(uv_async_t *h)
{
	deliver(h->data);
}

void
store_writer_stop(struct store *s)
{
	bool empty;

	if (!s->thread_started)
		return;
	for (;;) {
		pthread_mutex_lock(&s->mu);
		while (s->queue != NULL || s->busy)
			pthread_cond_wait(&s->idle, &s->mu);
		pthread_mutex_unlock(&s->mu);
		/* The done callbacks may queue more writes. */
		deliver(s);
		pthread_mutex_lock(&s->mu);
		empty = s->queue == NULL;
		if (empty) {
			s->stop = true;
			pthread_cond_signal(&s->wake);
		}
		pthread_mutex_unlock(&s->mu);
		if (empty)
			break;
	}
	pthread_join(s->thread, NULL);
	s->thread_started = false;
}
