/*
 * The writer thread: group commit, and checkpoints when idle.
 *
 * store_write() stages {fn, done, arg}; once per loop iteration, before
 * the loop polls, the staged writes join the queue together (store_on_kick),
 * so that what one iteration queues (a job's end and the next attempt's
 * row) is never split between two transactions.  The writer takes
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
 * Writes queued with store_write_retry (a job's log and result: what must
 * not be lost) are kept instead, in order, and run again at the head of
 * every later batch until they commit.  While the disk is failed the
 * writer also tries on its own every STORE_RETRY_MS: the kept writes, or,
 * if none, a probe that rewrites the schema version (one page that must
 * reach the WAL: an empty transaction would prove nothing).  So the store
 * notices by itself that space came back, and store_check says so, even
 * when nobody writes.  The failure is logged once per error, not per try.
 *
 * Automatic checkpoints are off (they would run inside a commit); the
 * writer runs a passive one after STORE_IDLE_MS without writes, or after
 * a commit once the WAL holds more than STORE_WAL_PAGES pages, so that a
 * never-idle daemon does not grow the WAL without end.
 */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
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

	if (s->wr.db == NULL)
		return;
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

/*
 * A connection SQLite opened read-only is tried again read-write.  The
 * WAL index (-shm) is shared by every connection of the process to the
 * file, and it stays read-only while any of them holds it: opened on a
 * read-only file system, it would refuse the new writer too.  So the old
 * writer is closed and the loop thread reopens the reader (store_on_async)
 * before the new writer first reads the WAL.
 */
static void
reopen_if_readonly(struct store *s)
{
	struct store_conn c;
	char *err = NULL;

	if (s->wr.db != NULL && sqlite3_db_readonly(s->wr.db, "main") != 1)
		return;
	if (store_conn_open(&c, s->path, false, &err) < 0) {
		free(err);
		return;
	}
	if (sqlite3_db_readonly(c.db, "main") != 0) {
		store_conn_close(&c);
		return;
	}
	/* c has not touched the WAL yet: it holds no -shm of its own. */
	store_conn_close(&s->wr);
	pthread_mutex_lock(&s->mu);
	s->reopen_rd = true;
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->async);
	pthread_mutex_lock(&s->mu);
	while (s->reopen_rd && !s->give_up)
		pthread_cond_wait(&s->wake, &s->mu);
	pthread_mutex_unlock(&s->mu);
	if (store_writer_setup(&c) < 0) {
		log_warnx("store.reopen path=%s error=\"%s\"", s->path,
			  sqlite3_errmsg(c.db));
		store_conn_close(&c);
		return;
	}
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

/*
 * Whether a write's result says the disk failed, not the write: after a
 * failed transaction any of the three; after a commit, a fn's own -EIO is
 * its own business (SQLite's odd errors map to it too).
 */
static bool
disk_failed(int rc, bool tx_failed)
{
	return rc == -ENOSPC || rc == -EROFS || (tx_failed && rc == -EIO);
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
	rc = s->wr.db == NULL || sqlite3_db_readonly(s->wr.db, "main") == 1 ?
		-EROFS : run(s, ST_BEGIN, "BEGIN IMMEDIATE");
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
	/* Said once per error: the writer retries every second. */
	if (rc != s->last_rc)
		log_warnx("store.commit_failed path=%s error=\"%s\" "
			  "sqlite=\"%s\": writes answer 503 until it is fixed; "
			  "retrying every %d ms", s->path, strerror(-rc),
			  s->wr.db != NULL ? sqlite3_errmsg(s->wr.db) :
					     "not open", STORE_RETRY_MS);
	return rc;
}

/* The probe's write: the schema version rewritten as it is. */
static int
probe_fn(struct store_tx *tx, void *arg)
{
	sqlite3_stmt *st;
	char sql[64];
	int rc, v = 0;

	(void)arg;
	rc = sqlite3_prepare_v2(tx->c->db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		v = sqlite3_column_int(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_OK)
		return store_errno(rc);
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	return store_errno(sqlite3_exec(tx->c->db, sql, NULL, NULL, NULL));
}

/* A write of the writer's own, to learn whether the disk works again. */
static int
probe(struct store *s, uint64_t *nwrites)
{
	struct store_req r = { .fn = probe_fn };
	int rc = run_batch(s, &r, nwrites);

	return rc < 0 ? rc : r.rc;
}

/*
 * After a batch (under mu): kept writes go back to `held`, the others to
 * `done`.  Returns the disk's error, or 0.
 */
static int
sort_out(struct store *s, struct store_req *batch, int rc)
{
	struct store_req *r, *next;
	int disk = rc < 0 ? rc : 0;

	for (r = batch; r != NULL; r = next) {
		next = r->next;
		r->next = NULL;
		if (disk == 0 && disk_failed(r->rc, false))
			disk = r->rc;
		if (r->retry && !s->give_up && disk_failed(r->rc, rc < 0)) {
			*s->held_tail = r;
			s->held_tail = &r->next;
		} else {
			*s->done_tail = r;
			s->done_tail = &r->next;
		}
	}
	return disk;
}

/* Takes the kept writes, then everything queued (under mu). */
static struct store_req *
take(struct store *s)
{
	struct store_req *batch, *r;

	for (r = s->held; r != NULL; r = r->next)
		r->rc = 0; /* the last try's error: this one starts afresh */
	*s->held_tail = s->queue;
	batch = s->held;
	s->held = NULL;
	s->held_tail = &s->held;
	s->queue = NULL;
	s->queue_tail = &s->queue;
	return batch;
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
	int rc, disk;

	sqlite3_wal_hook(s->wr.db, on_wal, s);
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (s->give_up && s->held != NULL) {
			/* Closing: what is kept fails with its error. */
			*s->done_tail = s->held;
			s->done_tail = s->held_tail;
			s->held = NULL;
			s->held_tail = &s->held;
			pthread_cond_broadcast(&s->idle);
			pthread_mutex_unlock(&s->mu);
			uv_async_send(&s->async);
			pthread_mutex_lock(&s->mu);
			continue;
		}
		if (s->queue == NULL && s->stop)
			break;
		if (s->queue == NULL && (dirty || s->last_rc < 0)) {
			/* Idle: a checkpoint, or if the disk failed, a retry. */
			deadline(&ts, s->last_rc < 0 ? STORE_RETRY_MS :
						       STORE_IDLE_MS);
			rc = pthread_cond_timedwait(&s->wake, &s->mu, &ts);
			if (rc != ETIMEDOUT || s->queue != NULL || s->stop ||
			    s->give_up)
				continue;
			if (s->last_rc == 0) {
				pthread_mutex_unlock(&s->mu);
				checkpoint(s);
				pthread_mutex_lock(&s->mu);
				dirty = false;
				continue;
			}
		} else if (s->queue == NULL) {
			pthread_cond_wait(&s->wake, &s->mu);
			continue;
		}
		batch = take(s);
		s->busy = true;
		pthread_mutex_unlock(&s->mu);

		nwrites = 0;
		rc = batch != NULL ? run_batch(s, batch, &nwrites) :
				     probe(s, &nwrites);
		if (rc == 0)
			dirty = true;
		if (rc == 0 && s->wal_pages > STORE_WAL_PAGES)
			checkpoint(s);

		pthread_mutex_lock(&s->mu);
		disk = sort_out(s, batch, rc);
		if (disk == 0 && s->last_rc < 0)
			log_info("store.recovered path=%s: writes work again",
				 s->path);
		s->busy = false;
		s->last_rc = disk;
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

static void
enqueue(struct store *s, store_write_fn fn, store_done_cb done, void *arg,
	bool retry)
{
	struct store_req *r = xcalloc(1, sizeof(*r));

	r->fn = fn;
	r->done = done;
	r->arg = arg;
	r->retry = retry;
	/* Writes in flight keep the loop alive, an idle store does not. */
	if (s->pending++ == 0)
		uv_ref((uv_handle_t *)&s->async);
	/* Staged: the writer sees it with the rest of this iteration's. */
	*s->staged_tail = r;
	s->staged_tail = &r->next;
	/* Handed over before the loop polls (store_on_kick). */
	if (!s->kick_armed) {
		s->kick_armed = true;
		uv_prepare_start(&s->kick, store_on_kick);
	}
}

/*
 * The loop's staged writes join the writer's queue, all at once (under
 * mu).  Until then a writer that finishes a batch cannot take the first
 * half of what a callback is still queuing: a job's end and the next
 * attempt's row go into one transaction, one fsync.
 */
static void
hand_over(struct store *s)
{
	if (s->staged == NULL)
		return;
	assert(!s->stop);
	*s->queue_tail = s->staged;
	s->queue_tail = s->staged_tail;
	s->staged = NULL;
	s->staged_tail = &s->staged;
}

void
store_on_kick(uv_prepare_t *h)
{
	struct store *s = h->data;

	uv_prepare_stop(h);
	s->kick_armed = false;
	pthread_mutex_lock(&s->mu);
	hand_over(s);
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

void
store_write(struct store *s, store_write_fn fn, store_done_cb done, void *arg)
{
	enqueue(s, fn, done, arg, false);
}

void
store_write_retry(struct store *s, store_write_fn fn, store_done_cb done,
		  void *arg)
{
	enqueue(s, fn, done, arg, true);
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

/* The writer asks for a new reader: see reopen_if_readonly. */
static void
reopen_reader(struct store *s)
{
	char *err = NULL;
	bool want;

	pthread_mutex_lock(&s->mu);
	want = s->reopen_rd;
	pthread_mutex_unlock(&s->mu);
	if (!want)
		return;
	store_conn_close(&s->rd);
	if (store_conn_open(&s->rd, s->path, true, &err) < 0) {
		/* Reads answer -EIO until the next reopen. */
		log_warnx("store.reopen_reader %s", err);
		free(err);
	}
	pthread_mutex_lock(&s->mu);
	s->reopen_rd = false;
	pthread_cond_broadcast(&s->wake);
	pthread_mutex_unlock(&s->mu);
}

void
store_on_async(uv_async_t *h)
{
	reopen_reader(h->data);
	deliver(h->data);
}

void
store_writer_stop(struct store *s)
{
	bool empty;

	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->mu);
	s->give_up = true;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->mu);
	for (;;) {
		pthread_mutex_lock(&s->mu);
		/* What done callbacks queued is not kicked: the loop waits here. */
		hand_over(s);
		pthread_cond_signal(&s->wake);
		while (s->queue != NULL || s->busy || s->held != NULL)
			pthread_cond_wait(&s->idle, &s->mu);
		pthread_mutex_unlock(&s->mu);
		/* The done callbacks may queue more writes. */
		deliver(s);
		pthread_mutex_lock(&s->mu);
		empty = s->queue == NULL && s->staged == NULL;
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
