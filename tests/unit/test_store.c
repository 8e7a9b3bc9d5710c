/*
 * store, for real: every test opens a database file in a fresh mkdtemp
 * directory (the writer/reader split needs a file; ":memory:" is one
 * connection), drives writes through the writer thread and the loop, and
 * reads back through the public API.  A "gate" write holds the writer
 * thread until the test has queued everything that must share one batch,
 * so batch boundaries are deterministic.  Every test ends with
 * uv_loop_close() == 0.
 */
#include <errno.h>
#include <linux/capability.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <dirent.h>
#include <sqlite3.h>
#include <uv.h>

#include "pipewright/store.h"
#include "../../src/store/store-int.h"
#include "testlib.h"

struct fx {
	uv_loop_t loop;
	struct store *s;
	char dir[64];
	char path[128];
	bool closed;
};

/* ---- fixture ---- */

static void
on_store_closed(void *arg)
{
	*(bool *)arg = true;
}

static void
fx_open(struct fx *f)
{
	char *err = NULL;
	int rc;

	rc = store_open(&f->loop, f->path, &f->s, &err);
	if (rc < 0)
		fail_msg("store_open: %d %s", rc, err);
	assert_null(err);
}

static void
fx_close(struct fx *f)
{
	f->closed = false;
	store_close(f->s, on_store_closed, &f->closed);
	f->s = NULL;
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_true(f->closed);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/pw-store-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/pipewright.db", f->dir);
	if (uv_loop_init(&f->loop) != 0)
		return -1;
	fx_open(f);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->s != NULL)
		fx_close(f);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tl_rm_tree(f->dir);
	free(f);
	return 0;
}

/* ---- writes: a queued fn and its result ---- */

struct w {
	int (*fn)(struct store_tx *tx, struct w *w);
	int rc;          /* done's rc */
	bool done;
	int order;       /* when done ran */
	int *counter;    /* shared order counter */
	/* inputs and outputs for the fns below */
	struct store_run_new run;
	uint64_t id, id2;
	int idx, number;
	const char *status, *text, *hash;
	uint64_t offset, t1, t2;
	size_t keep, limit;
	uint64_t *ids;
	size_t nids;
	int fail_with;
	void *extra;     /* a test's own state */
};

static int
w_fn(struct store_tx *tx, void *arg)
{
	struct w *w = arg;

	return w->fn(tx, w);
}

static void
w_done(int rc, void *arg)
{
	struct w *w = arg;

	assert_false(w->done);
	w->done = true;
	w->rc = rc;
	if (w->counter != NULL)
		w->order = (*w->counter)++;
}

static void
queue(struct fx *f, struct w *w)
{
	store_write(f->s, w_fn, w_done, w);
}

/* Queues w and runs the loop until its done ran; its rc. */
static int
write_now(struct fx *f, struct w *w)
{
	queue(f, w);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(w->done);
	assert_int_equal(store_pending(f->s), 0);
	return w->rc;
}

static struct store_run_new
new_run(const char *project, const char *status, const char *branch)
{
	struct store_run_new r = {
		.project = project,
		.status = status,
		.trigger = "api",
		.ref = "refs/heads/main",
		.branch = branch,
		.commit = "0123456789abcdef0123456789abcdef01234567",
		.pipeline_file = ".pipewright.yml",
		.pipeline = "stages: [build]\n",
		.pipeline_len = 16,
		.env = "{\"A\":\"1\"}",
		.actor = "alice",
		.created_at = 1000,
	};
	return r;
}

static int
fn_run_insert(struct store_tx *tx, struct w *w)
{
	return store_tx_run_insert(tx, &w->run, &w->id);
}

static uint64_t
insert_run(struct fx *f, const char *project, const char *status,
	   const char *branch)
{
	struct w w = { .fn = fn_run_insert };

	w.run = new_run(project, status, branch);
	assert_int_equal(write_now(f, &w), 0);
	return w.id;
}

static int
fn_run_status(struct store_tx *tx, struct w *w)
{
	return store_tx_run_set_status(tx, w->id, w->status, w->t1, w->t2);
}

static int
fn_job(struct store_tx *tx, struct w *w)
{
	return store_tx_job_insert(tx, w->id, w->idx, w->text, "build",
				   w->status);
}

static int
fn_attempt(struct store_tx *tx, struct w *w)
{
	struct store_attempt_new a = {
		.run = w->id,
		.idx = w->idx,
		.number = w->number,
		.status = w->status,
		.dir = "/var/lib/pw/a",
		.started_at = w->t1,
	};

	return store_tx_attempt_insert(tx, &a, &w->id2);
}

static int
fn_attempt_uid(struct store_tx *tx, struct w *w)
{
	return store_tx_attempt_set_uid(tx, w->id, (uint32_t)w->t1);
}

static int
fn_attempt_finish(struct store_tx *tx, struct w *w)
{
	return store_tx_attempt_finish(tx, w->id, w->status, 2, w->text, w->t2);
}

static int
fn_log(struct store_tx *tx, struct w *w)
{
	return store_tx_log_append(tx, w->id, w->offset, w->text,
				   strlen(w->text));
}

/* idx: the file, offset: where, t1: how many bytes. */
static int
fn_log_file(struct store_tx *tx, struct w *w)
{
	return store_tx_log_append_file(tx, w->id, w->offset, w->idx, w->t1);
}

static int
fn_run_log(struct store_tx *tx, struct w *w)
{
	return store_tx_run_log_append(tx, w->id, w->text, strlen(w->text));
}

static int
fn_run_by_key(struct store_tx *tx, struct w *w)
{
	return store_tx_run_by_key(tx, w->run.project, w->run.idempotency_key,
				   &w->id2, NULL);
}

static int
fn_event(struct store_tx *tx, struct w *w)
{
	return store_tx_event(tx, w->id, w->t1, "bob", w->status, w->text);
}

static int
fn_audit(struct store_tx *tx, struct w *w)
{
	return store_tx_audit(tx, w->t1, "token ops", w->status, w->text);
}

static int
fn_token(struct store_tx *tx, struct w *w)
{
	return store_tx_token_insert(tx, w->text, w->status, w->hash, 5);
}

static int
fn_prune(struct store_tx *tx, struct w *w)
{
	return store_tx_prune(tx, w->run.project, w->keep, w->t1, w->limit,
			      &w->ids, &w->nids);
}

/* Inserts a run and then fails: its insert must be undone. */
static int
fn_insert_then_fail(struct store_tx *tx, struct w *w)
{
	int rc = store_tx_run_insert(tx, &w->run, &w->id);

	assert_int_equal(rc, 0);
	return w->fail_with;
}

static void
job(struct fx *f, uint64_t run, int idx, const char *name, const char *status)
{
	struct w w = { .fn = fn_job, .id = run, .idx = idx, .text = name,
		       .status = status };

	assert_int_equal(write_now(f, &w), 0);
}

static uint64_t
attempt(struct fx *f, uint64_t run, int idx, int number, const char *status)
{
	struct w w = { .fn = fn_attempt, .id = run, .idx = idx,
		       .number = number, .status = status, .t1 = 2000 };

	assert_int_equal(write_now(f, &w), 0);
	return w.id2;
}

static void
set_status(struct fx *f, uint64_t run, const char *status, uint64_t started,
	   uint64_t finished)
{
	struct w w = { .fn = fn_run_status, .id = run, .status = status,
		       .t1 = started, .t2 = finished };

	assert_int_equal(write_now(f, &w), 0);
}

/* The gate: a write that holds the writer thread until opened. */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool open, entered;
};

static int
gate_fn(struct store_tx *tx, void *arg)
{
	struct gate *g = arg;

	(void)tx;
	pthread_mutex_lock(&g->mu);
	g->entered = true;
	pthread_cond_broadcast(&g->cv);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
	return 0;
}

/* Queues the gate and waits until the writer thread is inside it. */
static void
gate_close(struct fx *f, struct gate *g)
{
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	g->open = g->entered = false;
	store_write(f->s, gate_fn, NULL, g);
	/*
	 * The writer is woken before the loop polls (store_on_kick): one
	 * turn of the loop, or a writer with nothing to checkpoint sleeps on
	 * while we wait for it here.
	 */
	uv_run(&f->loop, UV_RUN_NOWAIT);
	pthread_mutex_lock(&g->mu);
	while (!g->entered)
		pthread_cond_wait(&g->cv, &g->mu);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_open(struct gate *g)
{
	pthread_mutex_lock(&g->mu);
	g->open = true;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_destroy(struct gate *g)
{
	pthread_mutex_destroy(&g->mu);
	pthread_cond_destroy(&g->cv);
}

/* ---- tests ---- */

static int
file_user_version(const char *path)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1,
					    &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* One number a query on the file answers (another connection: WAL). */
static long long
file_count(const char *path, const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	long long v = -1;

	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

static void
set_file_user_version(const char *path, int v)
{
	sqlite3 *db;
	char sql[64];

	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE,
					 NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_open_migrates_and_reopen_keeps(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	uint64_t id;

	assert_int_equal(store_check(f->s), 0);
	id = insert_run(f, "web", "queued", "main");
	fx_close(f);
	assert_int_equal(file_user_version(f->path), (int)store_nmigrations);
	fx_open(f);
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_string_equal(r->project, "web");
	assert_string_equal(r->status, "queued");
	assert_string_equal(r->trigger, "api");
	assert_string_equal(r->branch, "main");
	assert_null(r->tag);
	assert_string_equal(r->pipeline, "stages: [build]\n");
	assert_int_equal(r->pipeline_len, 16);
	assert_string_equal(r->env, "{\"A\":\"1\"}");
	assert_string_equal(r->actor, "alice");
	assert_int_equal(r->created_at, 1000);
	assert_int_equal(r->started_at, 0);
	assert_int_equal(r->njobs, 0);
	store_run_free(r);
	assert_int_equal(store_run_get(f->s, id + 1, &r), -ENOENT);
}

static int
fn_job_rerun(struct store_tx *tx, struct w *w)
{
	return store_tx_job_rerun(tx, w->id, w->idx, w->number);
}

static void
job_rerun(struct fx *f, uint64_t run, int idx, int after)
{
	struct w w = { .fn = fn_job_rerun, .id = run, .idx = idx,
		       .number = after };

	assert_int_equal(write_now(f, &w), 0);
}

/*
 * A rerun's mark: the job is pending, and reads show that until it has an
 * attempt after the mark; a restart finds the mark.
 */
static void
test_job_rerun(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	struct w w;
	uint64_t id;

	id = insert_run(f, "web", "failed", "main");
	job(f, id, 0, "build", "pending");
	job(f, id, 1, "test", "skipped");
	job(f, id, 2, "lint", "pending");
	(void)attempt(f, id, 0, 1, "failed");
	(void)attempt(f, id, 2, 1, "success");
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_string_equal(r->jobs[0].status, "failed");
	assert_int_equal(r->jobs[0].rerun_after, -1);
	store_run_free(r);

	job_rerun(f, id, 0, 1);
	job_rerun(f, id, 1, 0);
	job_rerun(f, id, 2, -1);
	fx_close(f);
	fx_open(f);
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_string_equal(r->jobs[0].status, "pending");
	assert_int_equal(r->jobs[0].rerun_after, 1);
	assert_int_equal(r->jobs[0].nattempts, 1);
	assert_string_equal(r->jobs[1].status, "pending");
	assert_int_equal(r->jobs[1].rerun_after, 0);
	assert_string_equal(r->jobs[2].status, "success");
	assert_int_equal(r->jobs[2].rerun_after, -1);
	store_run_free(r);

	(void)attempt(f, id, 0, 2, "running");
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_string_equal(r->jobs[0].status, "running");
	assert_int_equal(r->jobs[0].nattempts, 2);
	store_run_free(r);
	w = (struct w){ .fn = fn_job_rerun, .id = id, .idx = 7, .number = 0 };
	assert_int_equal(write_now(f, &w), -ENOENT);
}

/*
 * A run taken up by the next daemon reports running again: it started
 * when it first did.  A rerun goes back to queued and starts anew.
 */
static void
test_run_started_at_kept(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	uint64_t id;

	id = insert_run(f, "web", "queued", "main");
	set_status(f, id, "running", 1500, 0);
	set_status(f, id, "running", 4000, 0);
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_int_equal(r->started_at, 1500);
	store_run_free(r);
	set_status(f, id, "failed", 0, 5000);
	set_status(f, id, "queued", 0, 0);
	set_status(f, id, "running", 6000, 0);
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_int_equal(r->started_at, 6000);
	assert_int_equal(r->finished_at, 0);
	store_run_free(r);
}

static void
test_run_jobs_attempts(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	struct store_job *j;
	struct w w = { 0 };
	uint64_t id, a1, a2, a3;

	id = insert_run(f, "web", "queued", "main");
	job(f, id, 0, "lint", "pending");
	job(f, id, 1, "build", "pending");
	job(f, id, 2, "deploy", "waiting");
	a1 = attempt(f, id, 0, 1, "running");
	w = (struct w){ .fn = fn_attempt_finish, .id = a1, .status = "failed",
			.text = "exit status 2", .t2 = 3000 };
	assert_int_equal(write_now(f, &w), 0);
	a2 = attempt(f, id, 0, 2, "running");
	a3 = attempt(f, id, 1, 1, "running");
	/* The host uid a sandboxed attempt runs as; 0 until recorded. */
	w = (struct w){ .fn = fn_attempt_uid, .id = a3, .t1 = 1879048193 };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_attempt_uid, .id = a3 + 100, .t1 = 1 };
	assert_int_equal(write_now(f, &w), -ENOENT);
	set_status(f, id, "running", 1500, 0);

	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_string_equal(r->status, "running");
	assert_int_equal(r->started_at, 1500);
	assert_int_equal(r->finished_at, 0);
	assert_int_equal(r->njobs, 3);
	j = &r->jobs[0];
	assert_int_equal(j->idx, 0);
	assert_string_equal(j->name, "lint");
	assert_string_equal(j->stage, "build");
	assert_string_equal(j->status, "running"); /* attempt 2's */
	assert_int_equal(j->nattempts, 2);
	assert_int_equal(j->attempts[0].id, a1);
	assert_int_equal(j->attempts[0].number, 1);
	assert_string_equal(j->attempts[0].status, "failed");
	assert_int_equal(j->attempts[0].exit_code, 2);
	assert_string_equal(j->attempts[0].reason, "exit status 2");
	assert_int_equal(j->attempts[0].started_at, 2000);
	assert_int_equal(j->attempts[0].finished_at, 3000);
	assert_string_equal(j->attempts[0].dir, "/var/lib/pw/a");
	assert_int_equal(j->attempts[1].id, a2);
	assert_int_equal(j->attempts[1].exit_code, -1);
	assert_null(j->attempts[1].reason);
	assert_string_equal(r->jobs[1].status, "running");
	assert_int_equal(r->jobs[1].attempts[0].id, a3);
	assert_int_equal(r->jobs[1].attempts[0].job_uid, 1879048193);
	assert_int_equal(j->attempts[1].job_uid, 0);
	assert_string_equal(r->jobs[2].status, "waiting"); /* no attempt */
	assert_int_equal(r->jobs[2].nattempts, 0);
	store_run_free(r);

	/* Finished, then a rerun clears finished_at. */
	set_status(f, id, "failed", 0, 9000);
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_int_equal(r->started_at, 1500);
	assert_int_equal(r->finished_at, 9000);
	store_run_free(r);
	set_status(f, id, "queued", 0, 0);
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_int_equal(r->finished_at, 0);
	store_run_free(r);

	/* Errors a caller can tell apart. */
	w = (struct w){ .fn = fn_job, .id = id + 100, .idx = 0, .text = "x",
			.status = "pending" };
	assert_int_equal(write_now(f, &w), -ENOENT);
	w = (struct w){ .fn = fn_job, .id = id, .idx = 0, .text = "x",
			.status = "pending" };
	assert_int_equal(write_now(f, &w), -EEXIST);
	w = (struct w){ .fn = fn_job, .id = id, .idx = 7, .text = "x",
			.status = "bogus" };
	assert_int_equal(write_now(f, &w), -EINVAL);
	w = (struct w){ .fn = fn_attempt, .id = id, .idx = 0, .number = 2,
			.status = "running" };
	assert_int_equal(write_now(f, &w), -EEXIST);
	w = (struct w){ .fn = fn_attempt, .id = id, .idx = 9, .number = 1,
			.status = "running" };
	assert_int_equal(write_now(f, &w), -ENOENT);
	w = (struct w){ .fn = fn_run_status, .id = id + 100, .status = "failed" };
	assert_int_equal(write_now(f, &w), -ENOENT);
	w = (struct w){ .fn = fn_run_status, .id = id, .status = "done" };
	assert_int_equal(write_now(f, &w), -EINVAL);
}

static void
test_idempotency_key(void **state)
{
	struct fx *f = *state;
	struct w a = { .fn = fn_run_insert }, b = { .fn = fn_run_insert };
	struct w c = { .fn = fn_run_insert }, k = { .fn = fn_run_by_key };

	a.run = new_run("web", "queued", "main");
	a.run.idempotency_key = "delivery-1";
	assert_int_equal(write_now(f, &a), 0);
	b.run = a.run;
	assert_int_equal(write_now(f, &b), -EEXIST);
	k.run = a.run;
	assert_int_equal(write_now(f, &k), 0);
	assert_int_equal(k.id2, a.id);
	/* The same key in another project is another run. */
	c.run = a.run;
	c.run.project = "api";
	assert_int_equal(write_now(f, &c), 0);
	assert_true(c.id != a.id);
	k = (struct w){ .fn = fn_run_by_key };
	k.run = a.run;
	k.run.idempotency_key = "delivery-2";
	assert_int_equal(write_now(f, &k), -ENOENT);
	/* No key: as many runs as you like. */
	insert_run(f, "web", "queued", "main");
	insert_run(f, "web", "queued", "main");
}

static void
test_group_commit_in_order(void **state)
{
	struct fx *f = *state;
	struct store_stats before, after;
	struct w w[100];
	struct gate g;
	int i, counter = 0;

	store_stats(f->s, &before);
	/* The writer holds the gate while the 100 writes queue up behind it. */
	gate_close(f, &g);
	for (i = 0; i < 100; i++) {
		w[i] = (struct w){ .fn = fn_run_insert, .counter = &counter };
		w[i].run = new_run("web", "queued", "main");
		queue(f, &w[i]);
	}
	assert_int_equal(store_pending(f->s), 101);
	gate_open(&g);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (i = 0; i < 100; i++) {
		assert_true(w[i].done);
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(w[i].order, i);
		if (i > 0)
			assert_true(w[i].id > w[i - 1].id);
	}
	store_stats(f->s, &after);
	assert_int_equal(after.writes - before.writes, 101);
	/* The gate's batch and one for the hundred. */
	assert_int_equal(after.commits - before.commits, 2);
	assert_int_equal(store_pending(f->s), 0);
	gate_destroy(&g);
}

/*
 * What the loop queues in one iteration commits in one transaction, even
 * when the writer ends a batch while the loop is still queuing: a job's
 * end and the next attempt's row share one fsync.  A writer that took
 * the queue as it found it would commit the first half alone.
 */
static void
test_group_commit_per_iteration(void **state)
{
	struct fx *f = *state;
	struct store *s = f->s;
	struct store_stats before, after;
	struct store_req *seen;
	struct w w[2];
	struct gate g;
	uint64_t commits;
	int i, counter = 0;

	for (i = 0; i < 2; i++) {
		w[i] = (struct w){ .fn = fn_run_insert, .counter = &counter };
		w[i].run = new_run("web", "queued", "main");
	}
	store_stats(s, &before);
	gate_close(f, &g);
	/* The first of this iteration's writes ... */
	queue(f, &w[0]);
	/* ... and the writer's batch ends meanwhile: wait until it is idle. */
	gate_open(&g);
	pthread_mutex_lock(&s->mu);
	while (s->stats.commits == before.commits || s->busy)
		pthread_cond_wait(&s->idle, &s->mu);
	commits = s->stats.commits;
	seen = s->queue;
	pthread_mutex_unlock(&s->mu);
	/* It took nothing of an iteration that is not over. */
	assert_int_equal(commits - before.commits, 1);
	assert_null(seen);
	assert_false(w[0].done);
	/* The rest of the iteration; the loop hands both over at once. */
	queue(f, &w[1]);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (i = 0; i < 2; i++) {
		assert_true(w[i].done);
		assert_int_equal(w[i].rc, 0);
		assert_int_equal(w[i].order, i);
	}
	assert_true(w[1].id > w[0].id);
	store_stats(s, &after);
	assert_int_equal(after.writes - before.writes, 3);
	/* The gate's batch, and one for the iteration's two writes. */
	assert_int_equal(after.commits - before.commits, 2);
	gate_destroy(&g);
}

static void
test_failing_fn_undoes_only_itself(void **state)
{
	struct fx *f = *state;
	struct store_stats before, after;
	struct store_run_filter flt = { .project = "undone", .limit = 10 };
	struct store_run *r, **runs;
	uint64_t next;
	size_t n;
	struct w w[3];
	struct gate g;
	int i, counter = 0;

	store_stats(f->s, &before);
	gate_close(f, &g);
	for (i = 0; i < 3; i++) {
		w[i] = (struct w){ .fn = fn_run_insert, .counter = &counter };
		w[i].run = new_run("web", "queued", "main");
	}
	w[1].fn = fn_insert_then_fail;
	w[1].fail_with = -EPERM;
	w[1].run.project = "undone";
	for (i = 0; i < 3; i++)
		queue(f, &w[i]);
	gate_open(&g);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	store_stats(f->s, &after);
	assert_int_equal(after.commits - before.commits, 2);
	assert_int_equal(w[0].rc, 0);
	assert_int_equal(w[1].rc, -EPERM);
	assert_int_equal(w[2].rc, 0);
	assert_int_equal(store_run_get(f->s, w[0].id, &r), 0);
	store_run_free(r);
	assert_int_equal(store_run_get(f->s, w[2].id, &r), 0);
	store_run_free(r);
	/* w[1]'s row is gone (w[2] may even have reused its id). */
	assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next), 0);
	assert_int_equal(n, 0);
	store_runs_free(runs, n);
	gate_destroy(&g);
}

static void
read_log(struct fx *f, uint64_t attempt, uint64_t off, size_t max,
	 const char *want)
{
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(store_log_read(f->s, attempt, off, max, &b), 0);
	assert_int_equal(b.len, strlen(want));
	if (b.len > 0)
		assert_memory_equal(b.data, want, b.len);
	buf_free(&b);
}

static void
test_logs(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	struct buf b;
	struct w w;
	uint64_t id, a;

	id = insert_run(f, "web", "running", "main");
	job(f, id, 0, "build", "pending");
	a = attempt(f, id, 0, 1, "running");
	w = (struct w){ .fn = fn_log, .id = a, .offset = 0, .text = "hello " };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_log, .id = a, .offset = 3, .text = "gap" };
	assert_int_equal(write_now(f, &w), -EINVAL);
	w = (struct w){ .fn = fn_log, .id = a, .offset = 0, .text = "hello " };
	assert_int_equal(write_now(f, &w), -EINVAL);     /* a duplicate */
	w = (struct w){ .fn = fn_log, .id = a, .offset = 6, .text = "wor" };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_log, .id = a, .offset = 9, .text = "ld\n" };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_log, .id = a + 1, .offset = 0, .text = "x" };
	assert_int_equal(write_now(f, &w), -ENOENT);

	read_log(f, a, 0, 100, "hello world\n");
	read_log(f, a, 3, 5, "lo wo");     /* across chunks */
	read_log(f, a, 7, 1, "o");         /* inside one */
	read_log(f, a, 6, 3, "wor");       /* exactly one */
	read_log(f, a, 11, 100, "\n");
	read_log(f, a, 12, 100, "");       /* at the end */
	read_log(f, a, 99, 100, "");
	read_log(f, a, 0, 0, "");
	buf_init(&b, 4);
	assert_int_equal(store_log_read(f->s, a, 0, 100, &b), -E2BIG);
	buf_free(&b);
	assert_int_equal(store_log_read(f->s, a + 1, 0, 100, &b), -ENOENT);

	w = (struct w){ .fn = fn_run_log, .id = id, .text = "checkout " };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_run_log, .id = id, .text = "done" };
	assert_int_equal(write_now(f, &w), 0);
	buf_init(&b, 0);
	assert_int_equal(store_run_log_read(f->s, id, 4, 100, &b), 0);
	assert_string_equal(b.data, "kout done");
	buf_free(&b);

	assert_int_equal(store_run_get(f->s, id, &r), 0);
	assert_int_equal(r->log_bytes, 13);
	assert_int_equal(r->jobs[0].attempts[0].log_bytes, 12);
	store_run_free(r);
}

/*
 * A range of a log file, read by the writer: in rows of at most
 * STORE_LOG_ROW, at the offset the store has, and a file shorter than the
 * range is refused whole.
 */
static void
test_logs_from_file(void **state)
{
	struct fx *f = *state;
	char path[] = "/tmp/pw-store-log.XXXXXX", *data;
	size_t size = 2 * STORE_LOG_ROW + 100, i;
	struct buf b;
	struct w w;
	uint64_t id, a;
	int fd;

	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	data = malloc(size);
	assert_non_null(data);
	for (i = 0; i < size; i++)
		data[i] = (char)('a' + (i * 7 + i / 251) % 26);
	assert_int_equal(write(fd, data, size), (ssize_t)size);

	id = insert_run(f, "web", "running", "main");
	job(f, id, 0, "build", "pending");
	a = attempt(f, id, 0, 1, "running");
	w = (struct w){ .fn = fn_log_file, .id = a, .offset = 0, .idx = fd,
			.t1 = 10 };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_log_file, .id = a, .offset = 5, .idx = fd,
			.t1 = 10 };
	assert_int_equal(write_now(f, &w), -EINVAL);  /* not where it ends */
	w = (struct w){ .fn = fn_log_file, .id = a, .offset = 10, .idx = fd,
			.t1 = size };
	assert_int_equal(write_now(f, &w), -EIO);     /* past the file */
	w = (struct w){ .fn = fn_log_file, .id = a, .offset = 10, .idx = fd,
			.t1 = size - 10 };
	assert_int_equal(write_now(f, &w), 0);
	close(fd);

	buf_init(&b, 0);
	for (i = 0; i < size; i += b.len) {
		buf_reset(&b);
		assert_int_equal(store_log_read(f->s, a, i, 65536, &b), 0);
		assert_true(b.len > 0);
		assert_memory_equal(b.data, data + i, b.len);
	}
	buf_reset(&b);
	assert_int_equal(store_log_read(f->s, a, size, 65536, &b), 0);
	assert_int_equal(b.len, 0);
	buf_free(&b);
	/* 10 bytes, then three rows of at most STORE_LOG_ROW. */
	assert_int_equal(file_count(f->path, "SELECT count(*) FROM log_chunks"),
			 4);
	assert_int_equal(file_count(f->path, "SELECT max(length(data)) FROM "
					     "log_chunks"), STORE_LOG_ROW);
	free(data);
}

/* ---- listing ---- */

static const char *const statuses[] = {
	"queued", "running", "success", "failed", "canceled", "error",
};

struct seed {
	struct store_run_new run;
	uint64_t ids[250];
	const char *status[250], *branch[250], *project[250];
	int n;
};

/* 250 runs over two projects, statuses and branches in a pattern. */
static int
fn_seed(struct store_tx *tx, void *arg)
{
	struct seed *sd = arg;
	struct store_run_new r;
	int i, rc;

	for (i = 0; i < sd->n; i++) {
		sd->project[i] = i % 5 < 3 ? "web" : "api";
		sd->status[i] = statuses[i % 6];
		sd->branch[i] = i % 4 == 0 ? "dev" : "main";
		r = new_run(sd->project[i], sd->status[i], sd->branch[i]);
		r.created_at = 1000 + (uint64_t)i;
		if ((rc = store_tx_run_insert(tx, &r, &sd->ids[i])) < 0)
			return rc;
		rc = store_tx_run_set_status(tx, sd->ids[i], sd->status[i],
					     r.created_at, 0);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static void
seed_done(int rc, void *arg)
{
	(void)arg;
	assert_int_equal(rc, 0);
}

static void
seed(struct fx *f, struct seed *sd)
{
	sd->n = 250;
	store_write(f->s, fn_seed, seed_done, sd);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(store_pending(f->s), 0);
}

static bool
in(const char *s, const char *const *set)
{
	for (; set != NULL && *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return set == NULL;
}

/* Pages through a filter with a small limit; checks against the seed. */
static void
check_pages(struct fx *f, struct seed *sd, const char *project,
	    const char *const *status, const char *branch, size_t limit)
{
	struct store_run_filter flt = { .project = project, .status = status,
					.branch = branch, .limit = limit };
	struct store_run **runs;
	size_t n, k, pages = 0;
	uint64_t next;
	int i = sd->n - 1;

	for (;;) {
		assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next),
				 0);
		pages++;
		for (k = 0; k < n; k++) {
			/* The next expected run, newest first. */
			while (i >= 0 && !(strcmp(sd->project[i], project) == 0 &&
					   in(sd->status[i], status) &&
					   (branch == NULL ||
					    strcmp(sd->branch[i], branch) == 0)))
				i--;
			assert_true(i >= 0);
			assert_int_equal(runs[k]->id, sd->ids[i]);
			assert_string_equal(runs[k]->status, sd->status[i]);
			assert_null(runs[k]->pipeline);
			assert_int_equal(runs[k]->njobs, 0);
			i--;
		}
		assert_true(n <= limit);
		if (next != 0)
			assert_int_equal(next, runs[n - 1]->id);
		store_runs_free(runs, n);
		if (next == 0)
			break;
		flt.before = next;
	}
	/* Nothing left that the filter should have found. */
	while (i >= 0 && !(strcmp(sd->project[i], project) == 0 &&
			   in(sd->status[i], status) &&
			   (branch == NULL || strcmp(sd->branch[i], branch) == 0)))
		i--;
	assert_int_equal(i, -1);
	assert_true(pages >= 1);
}

static void
test_list(void **state)
{
	static const char *const failed[] = { "failed", "canceled", NULL };
	static const char *const active[] = { "running", "queued", NULL };
	static const char *const bogus[] = { "done", NULL };
	static const char *const none[] = { NULL };
	struct fx *f = *state;
	struct store_run_filter flt = { .project = "web", .limit = 200 };
	struct store_run **runs;
	struct seed *sd = calloc(1, sizeof(*sd));
	size_t n;
	uint64_t next;

	seed(f, sd);
	check_pages(f, sd, "web", NULL, NULL, 7);
	check_pages(f, sd, "web", NULL, NULL, 200);
	check_pages(f, sd, "api", NULL, NULL, 1);
	check_pages(f, sd, "web", failed, NULL, 4);
	check_pages(f, sd, "api", active, "dev", 3);
	check_pages(f, sd, "web", NULL, "main", 10);
	check_pages(f, sd, "nope", NULL, NULL, 10);

	/* 150 runs of web fit one page of 200: no cursor. */
	assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next), 0);
	assert_int_equal(n, 150);
	assert_int_equal(next, 0);
	store_runs_free(runs, n);
	flt.status = none;
	assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next), 0);
	assert_int_equal(n, 0);
	store_runs_free(runs, n);
	flt.status = bogus;
	assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next),
			 -EINVAL);
	flt.status = NULL;
	flt.limit = 0;
	assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next),
			 -EINVAL);
	flt.limit = 201;
	assert_int_equal(store_runs_list(f->s, &flt, &runs, &n, &next),
			 -EINVAL);
	free(sd);
}

static void
count_cb(void *arg, const char *project, const char *status, uint64_t n)
{
	uint64_t *total = arg;

	assert_true(strcmp(project, "web") == 0 || strcmp(project, "api") == 0);
	assert_true(in(status, NULL));
	*total += n;
}

static void
test_latest_unfinished_count(void **state)
{
	struct fx *f = *state;
	struct store_run *r, **runs;
	struct seed *sd = calloc(1, sizeof(*sd));
	uint64_t total = 0, prev = 0;
	size_t n, i;
	int k, want;

	assert_int_equal(store_run_latest_finished(f->s, "web", NULL, &r),
			 -ENOENT);
	seed(f, sd);
	/* The newest web run whose status is a finished one. */
	for (want = sd->n - 1; want >= 0; want--)
		if (strcmp(sd->project[want], "web") == 0 &&
		    strcmp(sd->status[want], "queued") != 0 &&
		    strcmp(sd->status[want], "running") != 0)
			break;
	assert_int_equal(store_run_latest_finished(f->s, "web", NULL, &r), 0);
	assert_int_equal(r->id, sd->ids[want]);
	store_run_free(r);
	for (want = sd->n - 1; want >= 0; want--)
		if (strcmp(sd->project[want], "api") == 0 &&
		    strcmp(sd->branch[want], "dev") == 0 &&
		    strcmp(sd->status[want], "queued") != 0 &&
		    strcmp(sd->status[want], "running") != 0)
			break;
	assert_int_equal(store_run_latest_finished(f->s, "api", "dev", &r), 0);
	assert_int_equal(r->id, sd->ids[want]);
	assert_string_equal(r->branch, "dev");
	store_run_free(r);

	job(f, sd->ids[0], 0, "build", "pending"); /* ids[0] is queued */
	assert_int_equal(store_runs_unfinished(f->s, &runs, &n), 0);
	for (k = 0, want = 0; k < sd->n; k++)
		want += k % 6 < 2;
	assert_int_equal(n, (size_t)want);
	for (i = 0; i < n; i++) {
		assert_true(runs[i]->id > prev);
		prev = runs[i]->id;
		assert_true(strcmp(runs[i]->status, "queued") == 0 ||
			    strcmp(runs[i]->status, "running") == 0);
	}
	assert_int_equal(runs[0]->njobs, 1);
	assert_string_equal(runs[0]->jobs[0].name, "build");
	assert_non_null(runs[0]->pipeline);
	store_runs_free(runs, n);

	assert_int_equal(store_count_runs(f->s, count_cb, &total), 0);
	assert_int_equal(total, 250);
	free(sd);
}

static void
test_events_tokens(void **state)
{
	struct fx *f = *state;
	struct store_event *ev;
	struct w w;
	char *name, *scope;
	size_t n;
	uint64_t id;
	const char *hash = "0123456789abcdef0123456789abcdef"
			   "0123456789abcdef0123456789abcdef";

	id = insert_run(f, "web", "queued", "main");
	w = (struct w){ .fn = fn_event, .id = id, .t1 = 10, .status = "cancel",
			.text = "from the dashboard" };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_event, .id = id, .t1 = 20, .status = "rerun" };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_event, .id = id + 1, .t1 = 20,
			.status = "rerun" };
	assert_int_equal(write_now(f, &w), -ENOENT);
	assert_int_equal(store_events_list(f->s, id, &ev, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(ev[0].time, 10);
	assert_string_equal(ev[0].actor, "bob");
	assert_string_equal(ev[0].action, "cancel");
	assert_string_equal(ev[0].detail, "from the dashboard");
	assert_string_equal(ev[1].action, "rerun");
	assert_null(ev[1].detail);
	store_events_free(ev, n);

	w = (struct w){ .fn = fn_token, .text = "ci", .status = "write",
			.hash = hash };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_token, .text = "ci", .status = "read",
			.hash = "f" };
	assert_int_equal(write_now(f, &w), -EINVAL);  /* not a SHA-256 */
	w = (struct w){ .fn = fn_token, .text = "other", .status = "read",
			.hash = hash };
	assert_int_equal(write_now(f, &w), -EEXIST);  /* the same hash */
	assert_int_equal(store_token_find(f->s, hash, &name, &scope), 0);
	assert_string_equal(name, "ci");
	assert_string_equal(scope, "write");
	free(name);
	free(scope);
	assert_int_equal(store_token_find(f->s, "00", &name, &scope), -ENOENT);
}

/* The daemon's own audit trail: newest first, paged by a cursor. */
static void
test_audit(void **state)
{
	struct fx *f = *state;
	struct store_audit *rows;
	size_t n;
	uint64_t next, i;
	struct w w;

	assert_int_equal(store_audit_list(f->s, 10, 0, &rows, &n, &next), 0);
	assert_int_equal(n, 0);
	assert_int_equal(next, 0);
	free(rows);
	for (i = 1; i <= 3; i++) {
		w = (struct w){ .fn = fn_audit, .t1 = i * 10,
				.status = i % 2 ? "queue.pause" : "queue.resume",
				.text = i == 3 ? "maintenance" : NULL };
		assert_int_equal(write_now(f, &w), 0);
	}
	assert_int_equal(store_audit_list(f->s, 2, 0, &rows, &n, &next), 0);
	assert_int_equal(n, 2);
	assert_int_equal(rows[0].time, 30);
	assert_string_equal(rows[0].actor, "token ops");
	assert_string_equal(rows[0].action, "queue.pause");
	assert_string_equal(rows[0].detail, "maintenance");
	assert_int_equal(rows[1].time, 20);
	assert_string_equal(rows[1].action, "queue.resume");
	assert_null(rows[1].detail);
	assert_int_equal(next, rows[1].id);
	store_audit_free(rows, n);
	assert_int_equal(store_audit_list(f->s, 2, next, &rows, &n, &next), 0);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].time, 10);
	assert_int_equal(next, 0);
	store_audit_free(rows, n);
	assert_int_equal(store_audit_list(f->s, 0, 0, &rows, &n, &next),
			 -EINVAL);
	assert_int_equal(store_audit_list(f->s, 201, 0, &rows, &n, &next),
			 -EINVAL);
}

/* A finished run of project p with a job, an attempt with log, an event. */
static uint64_t
full_run(struct fx *f, const char *p, const char *status, uint64_t finished,
	 uint64_t *att)
{
	struct w w;
	uint64_t id = insert_run(f, p, "queued", "main");

	job(f, id, 0, "build", "pending");
	*att = attempt(f, id, 0, 1, "success");
	w = (struct w){ .fn = fn_log, .id = *att, .offset = 0, .text = "log" };
	assert_int_equal(write_now(f, &w), 0);
	w = (struct w){ .fn = fn_event, .id = id, .t1 = 1, .status = "start" };
	assert_int_equal(write_now(f, &w), 0);
	set_status(f, id, status, 0, finished);
	return id;
}

static void
test_prune(void **state)
{
	struct fx *f = *state;
	struct store_event *ev;
	struct store_run *r;
	struct buf b;
	struct w w;
	uint64_t ids[10], att[10], other, other_att, running, running_att;
	size_t n;
	int i;

	for (i = 0; i < 10; i++)
		ids[i] = full_run(f, "web", i % 2 ? "success" : "failed",
				  10000 + (uint64_t)i * 1000, &att[i]);
	running = full_run(f, "web", "running", 0, &running_att);
	other = full_run(f, "api", "success", 1, &other_att);

	/* By count: keep the newest 6 finished, prune the 4 oldest. */
	w = (struct w){ .fn = fn_prune, .keep = 6 };
	w.run.project = "web";
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 4);
	for (i = 0; i < 4; i++)
		assert_int_equal(w.ids[i], ids[i]);
	free(w.ids);
	for (i = 0; i < 10; i++) {
		int rc = store_run_get(f->s, ids[i], &r);

		assert_int_equal(rc, i < 4 ? -ENOENT : 0);
		if (rc == 0)
			store_run_free(r);
		buf_init(&b, 0);
		assert_int_equal(store_log_read(f->s, att[i], 0, 10, &b),
				 i < 4 ? -ENOENT : 0);
		buf_free(&b);
		assert_int_equal(store_events_list(f->s, ids[i], &ev, &n), 0);
		assert_int_equal(n, i < 4 ? 0 : 1);
		store_events_free(ev, n);
	}

	/* By age: finished before 17500 (ids 4..7). */
	w = (struct w){ .fn = fn_prune, .t1 = 17500 };
	w.run.project = "web";
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 4);
	assert_int_equal(w.ids[0], ids[4]);
	assert_int_equal(w.ids[3], ids[7]);
	free(w.ids);

	/* Both limits: keep 1, nothing older than 0 → the 9th goes. */
	w = (struct w){ .fn = fn_prune, .keep = 1 };
	w.run.project = "web";
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 1);
	assert_int_equal(w.ids[0], ids[8]);
	free(w.ids);

	/* The running run and the other project stay, with their logs. */
	assert_int_equal(store_run_get(f->s, running, &r), 0);
	assert_int_equal(r->njobs, 1);
	store_run_free(r);
	assert_int_equal(store_run_get(f->s, other, &r), 0);
	store_run_free(r);
	assert_int_equal(store_run_get(f->s, ids[9], &r), 0);
	store_run_free(r);
	read_log(f, running_att, 0, 10, "log");
	read_log(f, other_att, 0, 10, "log");
}

/* ---- schema 2: deliveries, outbox, schedules ---- */

/* A write for the schema-2 tables: fn reads its inputs from o. */
struct ow {
	int (*fn)(struct store_tx *tx, struct ow *o);
	int rc;
	bool done;
	struct store_outbox_new put;
	/* result */
	uint64_t id, seq, next_at, now;
	const char *state, *err;
	int attempts;
	/* deliveries, schedules */
	const char *forge, *did, *project, *resp;
	uint64_t run;
	int status;
	int got_status;
	char *got_resp;
	uint64_t n;
	struct store_push push;  /* pushes */
	uint64_t got_run;
};

static int
ow_fn(struct store_tx *tx, void *arg)
{
	struct ow *o = arg;

	return o->fn(tx, o);
}

static void
ow_done(int rc, void *arg)
{
	struct ow *o = arg;

	o->done = true;
	o->rc = rc;
}

static int
ow_now(struct fx *f, struct ow *o)
{
	store_write(f->s, ow_fn, ow_done, o);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(o->done);
	return o->rc;
}

static int
fn_outbox_put(struct store_tx *tx, struct ow *o)
{
	return store_tx_outbox_put(tx, &o->put);
}

static int
fn_outbox_result(struct store_tx *tx, struct ow *o)
{
	struct store_outbox_result r = {
		.id = o->id,
		.seq = o->seq,
		.state = o->state,
		.attempts = o->attempts,
		.next_at = o->next_at,
		.last_error = o->err,
		.now = o->now,
	};

	return store_tx_outbox_result(tx, &r);
}

/* A delivery seen again answers the first answer; else stores this one. */
static int
fn_delivery(struct store_tx *tx, struct ow *o)
{
	struct store_delivery_new d = {
		.forge = o->forge,
		.id = o->did,
		.project = o->project,
		.run = o->run,
		.status = o->status,
		.response = o->resp,
		.created_at = 100,
	};
	int rc;

	rc = store_tx_delivery_find(tx, o->forge, o->did, &o->got_status,
				    &o->got_resp);
	if (rc != -ENOENT)
		return rc;
	return store_tx_delivery_put(tx, &d);
}

static int
fn_delivery_put(struct store_tx *tx, struct ow *o)
{
	struct store_delivery_new d = {
		.forge = o->forge,
		.id = o->did,
		.project = o->project,
		.run = o->run,
		.status = o->status,
		.response = o->resp,
		.created_at = o->now,
	};

	return store_tx_delivery_put(tx, &d);
}

/* A push seen again answers its first run; else stores this one. */
static int
fn_push(struct store_tx *tx, struct ow *o)
{
	int rc;

	rc = store_tx_push_find(tx, &o->push, &o->got_run);
	if (rc != -ENOENT)
		return rc;
	return store_tx_push_put(tx, &o->push, o->run, o->now);
}

static int
fn_pushes_prune(struct store_tx *tx, struct ow *o)
{
	return store_tx_pushes_prune(tx, o->now, &o->n);
}

static int
fn_deliveries_prune(struct store_tx *tx, struct ow *o)
{
	return store_tx_deliveries_prune(tx, o->now, &o->n);
}

static int
fn_outbox_prune(struct store_tx *tx, struct ow *o)
{
	return store_tx_outbox_prune(tx, o->now, &o->n);
}

static int
fn_schedule(struct store_tx *tx, struct ow *o)
{
	return store_tx_schedule_fired(tx, o->project, "0 3 * * *", "main",
				       o->now);
}

static void
put(struct fx *f, const char *key, uint64_t seq, const char *body,
    uint64_t at)
{
	struct ow o = { .fn = fn_outbox_put };

	o.put = (struct store_outbox_new){
		.key = key, .seq = seq, .method = "POST",
		.url = "https://forge.example/statuses/abc",
		.headers = "Content-Type: application/json\nAccept: */*\n",
		.body = body, .project = "web", .created_at = at,
	};
	assert_int_equal(ow_now(f, &o), 0);
}

static int
result(struct fx *f, uint64_t id, uint64_t seq, const char *state,
       int attempts, uint64_t next_at, const char *err)
{
	struct ow o = { .fn = fn_outbox_result, .id = id, .seq = seq,
			.state = state, .attempts = attempts,
			.next_at = next_at, .err = err, .now = 77 };

	return ow_now(f, &o);
}

/* The row of a key (caller frees), failing if there is none. */
static struct store_outbox *
outbox_row(struct fx *f, const char *key)
{
	struct store_outbox **rows, *o = NULL;
	uint64_t next;
	size_t n, i;

	assert_int_equal(store_outbox_list(f->s, NULL, 200, 0, &rows, &n,
					   &next), 0);
	for (i = 0; i < n; i++)
		if (strcmp(rows[i]->key, key) == 0) {
			o = rows[i];
			rows[i] = NULL;
		}
	store_outboxes_free(rows, n);
	if (o == NULL)
		fail_msg("no outbox row %s", key);
	return o;
}

static uint64_t
outbox_row_id(struct fx *f, const char *key)
{
	struct store_outbox *o = outbox_row(f, key);
	uint64_t id = o->id;

	store_outbox_free(o);
	return id;
}

static void
test_deliveries(void **state)
{
	struct fx *f = *state;
	struct ow o;
	uint64_t run = insert_run(f, "web", "queued", "main");

	o = (struct ow){ .fn = fn_delivery, .forge = "github", .did = "d-1",
			 .project = "web", .run = run, .status = 202,
			 .resp = "{\"run\":1}", .got_status = -1 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_status, -1); /* new: stored */

	/* A redelivery finds the first answer and stores nothing. */
	o = (struct ow){ .fn = fn_delivery, .forge = "github", .did = "d-1",
			 .project = "web", .status = 500, .resp = "other" };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_status, 202);
	assert_string_equal(o.got_resp, "{\"run\":1}");
	free(o.got_resp);

	/* The same id from another forge is another delivery. */
	o = (struct ow){ .fn = fn_delivery, .forge = "gitea", .did = "d-1",
			 .status = 202, .resp = NULL, .got_status = -1 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_status, -1);
	o = (struct ow){ .fn = fn_delivery, .forge = "gitea", .did = "d-1" };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_status, 202);
	assert_null(o.got_resp);

	/* A put of a known id: -EEXIST; of a run that does not exist: -ENOENT. */
	o = (struct ow){ .fn = fn_delivery_put, .forge = "github", .did = "d-1",
			 .status = 202, .now = 5 };
	assert_int_equal(ow_now(f, &o), -EEXIST);
	o = (struct ow){ .fn = fn_delivery_put, .forge = "github", .did = "d-2",
			 .run = run + 100, .status = 202, .now = 5 };
	assert_int_equal(ow_now(f, &o), -ENOENT);

	/* The run pruned: the delivery stays (run none), still answering.
	 * A newer run first: the store's newest is never pruned by age. */
	set_status(f, run, "success", 1, 2);
	(void)insert_run(f, "web", "queued", "main");
	{
		struct w w = { .fn = fn_prune, .keep = 0, .t1 = 3 };

		w.run.project = "web";
		assert_int_equal(write_now(f, &w), 0);
		assert_int_equal(w.nids, 1);
		free(w.ids);
	}
	o = (struct ow){ .fn = fn_delivery, .forge = "github", .did = "d-1" };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_status, 202);
	free(o.got_resp);

	/* Pruned by age: both were stored at 100. */
	o = (struct ow){ .fn = fn_deliveries_prune, .now = 100 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.n, 0);
	o = (struct ow){ .fn = fn_deliveries_prune, .now = 101 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.n, 2);
	o = (struct ow){ .fn = fn_delivery, .forge = "github", .did = "d-1",
			 .status = 200, .got_status = -1 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_status, -1);
}

/* A push is (project, ref, before, after): each part tells pushes apart. */
static void
test_pushes(void **state)
{
	struct fx *f = *state;
	struct store_push p = {"web", "refs/heads/main", "1111", "aaaa"};
	struct ow o;

	o = (struct ow){ .fn = fn_push, .push = p, .run = 7, .now = 100 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_run, 0); /* new: stored */
	o = (struct ow){ .fn = fn_push, .push = p, .run = 8, .now = 100 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_run, 7);

	p.before = NULL;        /* none is '', another push */
	o = (struct ow){ .fn = fn_push, .push = p, .run = 9, .now = 100 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_run, 0);
	o = (struct ow){ .fn = fn_push, .push = p, .run = 10, .now = 100 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_run, 9);
	p.before = "1111";
	p.ref = "refs/heads/other";
	o = (struct ow){ .fn = fn_push, .push = p, .run = 11, .now = 200 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_run, 0);
	p.ref = "refs/heads/main";
	p.project = "api";
	o = (struct ow){ .fn = fn_push, .push = p, .run = 12, .now = 200 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.got_run, 0);

	o = (struct ow){ .fn = fn_pushes_prune, .now = 101 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(o.n, 2);
}

/* Migration 10: notification rows are never coalesced, keep their kind,
 * expiry and target; statuses default to kind "status". */
static void
test_outbox_kinds(void **state)
{
	struct fx *f = *state;
	struct ow o = { .fn = fn_outbox_put };
	struct store_outbox *r;

	put(f, "github:a:sha:ctx", 1, "{}", 10);
	r = outbox_row(f, "github:a:sha:ctx");
	assert_string_equal(r->kind, "status");
	assert_int_equal(r->expires_at, 0);
	assert_null(r->target);
	store_outbox_free(r);

	o.put = (struct store_outbox_new){
		.key = "notify:d-1", .seq = 0, .method = "POST",
		.url = "https://hooks.example/ci", .body = "{\"event\":\"failed\"}",
		.project = "web", .created_at = 20, .kind = "webhook",
		.expires_at = 20 + 86400000ULL, .target = "0:abcd",
	};
	assert_int_equal(ow_now(f, &o), 0);
	/* The same key again, even "newer": refused, the row unchanged. */
	o.done = false;
	o.put.seq = 5;
	o.put.body = "{\"event\":\"other\"}";
	assert_int_equal(ow_now(f, &o), -EEXIST);
	r = outbox_row(f, "notify:d-1");
	assert_string_equal(r->kind, "webhook");
	assert_int_equal(r->expires_at, 20 + 86400000ULL);
	assert_string_equal(r->target, "0:abcd");
	assert_string_equal(r->body, "{\"event\":\"failed\"}");
	assert_string_equal(r->state, "pending");
	assert_int_equal(r->next_at, 20);
	store_outbox_free(r);
}

/* The branch's last run that ended either way, canceled ones passed over. */
static void
test_run_last_outcome(void **state)
{
	struct fx *f = *state;
	uint64_t a, b, c, d;
	char *st = NULL;

	a = insert_run(f, "web", "failed", "main");
	b = insert_run(f, "web", "canceled", "main");
	(void)insert_run(f, "web", "success", "dev");
	c = insert_run(f, "web", "running", "main");
	assert_int_equal(store_run_last_outcome(f->s, "web", "main", c, &st), 0);
	assert_string_equal(st, "failed");
	free(st);
	assert_int_equal(store_run_last_outcome(f->s, "web", "main", a, &st),
			 -ENOENT);
	assert_int_equal(store_run_last_outcome(f->s, "other", "main", c, &st),
			 -ENOENT);
	d = insert_run(f, "web", "success", "main");
	assert_int_equal(store_run_last_outcome(f->s, "web", "main", d + 1, &st),
			 0);
	assert_string_equal(st, "success");
	free(st);
	(void)b;
	assert_int_equal(store_run_last_outcome(f->s, "web", NULL, d, &st),
			 -EINVAL);
}

static void
test_outbox_coalescing(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	struct ow w;
	uint64_t id, n;

	put(f, "github:acme/app:abc:ci", 1, "pending", 1000);
	o = outbox_row(f, "github:acme/app:abc:ci");
	id = o->id;
	assert_int_equal(o->seq, 1);
	assert_string_equal(o->method, "POST");
	assert_string_equal(o->url, "https://forge.example/statuses/abc");
	assert_string_equal(o->headers,
			    "Content-Type: application/json\nAccept: */*\n");
	assert_string_equal(o->body, "pending");
	assert_string_equal(o->project, "web");
	assert_string_equal(o->state, "pending");
	assert_int_equal(o->attempts, 0);
	assert_int_equal(o->next_at, 1000);
	assert_int_equal(o->run, 0);
	assert_null(o->last_error);
	store_outbox_free(o);

	/* A newer state replaces it in place; an older or equal one is ignored. */
	put(f, "github:acme/app:abc:ci", 3, "success", 2000);
	put(f, "github:acme/app:abc:ci", 2, "running", 3000);
	put(f, "github:acme/app:abc:ci", 3, "again", 3000);
	o = outbox_row(f, "github:acme/app:abc:ci");
	assert_int_equal(o->id, id);
	assert_int_equal(o->seq, 3);
	assert_string_equal(o->body, "success");
	assert_int_equal(o->next_at, 2000);
	assert_int_equal(o->created_at, 1000);
	assert_int_equal(o->updated_at, 2000);
	store_outbox_free(o);
	assert_int_equal(store_outbox_count(f->s, NULL, &n), 0);
	assert_int_equal(n, 1);

	/* Failed, then a newer state: pending again, attempts and error reset. */
	assert_int_equal(result(f, id, 3, "failed", 8, 0, "HTTP 500: x"), 0);
	o = outbox_row(f, "github:acme/app:abc:ci");
	assert_string_equal(o->state, "failed");
	assert_int_equal(o->attempts, 8);
	assert_string_equal(o->last_error, "HTTP 500: x");
	assert_int_equal(o->updated_at, 77);
	store_outbox_free(o);
	put(f, "github:acme/app:abc:ci", 4, "failure", 5000);
	o = outbox_row(f, "github:acme/app:abc:ci");
	assert_string_equal(o->state, "pending");
	assert_string_equal(o->body, "failure");
	assert_int_equal(o->attempts, 0);
	assert_null(o->last_error);
	store_outbox_free(o);

	/* A delivered row, and a late put below its seq: stays delivered. */
	assert_int_equal(result(f, id, 4, "delivered", 1, 0, NULL), 0);
	put(f, "github:acme/app:abc:ci", 2, "pending", 6000);
	o = outbox_row(f, "github:acme/app:abc:ci");
	assert_string_equal(o->state, "delivered");
	assert_string_equal(o->body, "failure");
	store_outbox_free(o);

	/* Bad puts. */
	w = (struct ow){ .fn = fn_outbox_put };
	w.put = (struct store_outbox_new){ .key = "k", .method = "POST",
					   .url = "u" };
	assert_int_equal(ow_now(f, &w), -EINVAL);
	assert_int_equal(store_outbox_count(f->s, NULL, &n), 0);
	assert_int_equal(n, 1);
}

static void
test_outbox_due_next_at(void **state)
{
	struct fx *f = *state;
	struct store_outbox **rows;
	uint64_t when, n;
	size_t nr;

	assert_int_equal(store_outbox_next_at(f->s, 0, &when), -ENOENT);
	assert_int_equal(store_outbox_due(f->s, 1000000, 10, &rows, &nr), 0);
	assert_int_equal(nr, 0);
	free(rows);

	put(f, "c", 1, "c", 300);
	put(f, "a", 1, "a", 100);
	put(f, "b", 1, "b", 200);
	put(f, "a2", 1, "a2", 100); /* same time as a, inserted later */
	put(f, "z", 1, "z", 0);

	/* Due at 200: the earliest first, ties by id. */
	assert_int_equal(store_outbox_due(f->s, 200, 10, &rows, &nr), 0);
	assert_int_equal(nr, 4);
	assert_string_equal(rows[0]->key, "z");
	assert_string_equal(rows[1]->key, "a");
	assert_string_equal(rows[2]->key, "a2");
	assert_string_equal(rows[3]->key, "b");
	store_outboxes_free(rows, nr);
	assert_int_equal(store_outbox_due(f->s, 200, 2, &rows, &nr), 0);
	assert_int_equal(nr, 2);
	assert_string_equal(rows[1]->key, "a");
	store_outboxes_free(rows, nr);
	assert_int_equal(store_outbox_due(f->s, 200, 0, &rows, &nr), -EINVAL);

	/* next_at: of all, and the first after a time. */
	assert_int_equal(store_outbox_next_at(f->s, 0, &when), 0);
	assert_int_equal(when, 0);
	assert_int_equal(store_outbox_next_at(f->s, 100, &when), 0);
	assert_int_equal(when, 200);
	assert_int_equal(store_outbox_next_at(f->s, 300, &when), -ENOENT);

	/* A retry moves a row back; delivered and failed rows are not due. */
	assert_int_equal(result(f, outbox_row_id(f, "z"), 1, "pending", 1, 250,
				"HTTP 502: bad gateway"), 0);
	assert_int_equal(result(f, outbox_row_id(f, "a"), 1, "delivered", 1, 0,
				NULL), 0);
	assert_int_equal(result(f, outbox_row_id(f, "a2"), 1, "failed", 8, 0,
				"gone"), 0);
	assert_int_equal(store_outbox_due(f->s, 1000, 10, &rows, &nr), 0);
	assert_int_equal(nr, 3);
	assert_string_equal(rows[0]->key, "b");
	assert_string_equal(rows[1]->key, "z");
	assert_int_equal(rows[1]->attempts, 1);
	assert_string_equal(rows[1]->last_error, "HTTP 502: bad gateway");
	assert_string_equal(rows[2]->key, "c");
	store_outboxes_free(rows, nr);
	assert_int_equal(store_outbox_next_at(f->s, 200, &when), 0);
	assert_int_equal(when, 250);

	/* Counts and lists by state, newest first, paged. */
	assert_int_equal(store_outbox_count(f->s, "pending", &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_outbox_count(f->s, "failed", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_count(f->s, "delivered", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_count(f->s, "sent", &n), -EINVAL);
	{
		uint64_t next;

		assert_int_equal(store_outbox_list(f->s, "failed", 10, 0,
						   &rows, &nr, &next), 0);
		assert_int_equal(nr, 1);
		assert_int_equal(next, 0);
		assert_string_equal(rows[0]->key, "a2");
		assert_string_equal(rows[0]->last_error, "gone");
		store_outboxes_free(rows, nr);
		assert_int_equal(store_outbox_list(f->s, "pending", 2, 0,
						   &rows, &nr, &next), 0);
		assert_int_equal(nr, 2);
		assert_string_equal(rows[0]->key, "z");
		assert_string_equal(rows[1]->key, "b");
		assert_int_equal(next, rows[1]->id);
		store_outboxes_free(rows, nr);
		assert_int_equal(store_outbox_list(f->s, "pending", 2, next,
						   &rows, &nr, &next), 0);
		assert_int_equal(nr, 1);
		assert_string_equal(rows[0]->key, "c");
		assert_int_equal(next, 0);
		store_outboxes_free(rows, nr);
		assert_int_equal(store_outbox_list(f->s, "nope", 2, 0, &rows,
						   &nr, &next), -EINVAL);
	}

	/* Pruning takes the finished rows (updated at 77), never pending ones. */
	{
		struct ow o = { .fn = fn_outbox_prune, .now = 77 };

		assert_int_equal(ow_now(f, &o), 0);
		assert_int_equal(o.n, 0);
		o = (struct ow){ .fn = fn_outbox_prune, .now = 100000 };
		assert_int_equal(ow_now(f, &o), 0);
		assert_int_equal(o.n, 2);
	}
	assert_int_equal(store_outbox_count(f->s, NULL, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(store_outbox_count(f->s, "pending", &n), 0);
	assert_int_equal(n, 3);
}

static void
test_outbox_result_after_newer_put(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	uint64_t id;

	put(f, "k", 1, "pending", 100);
	id = outbox_row_id(f, "k");
	/* While "pending" is in flight, "success" is put. */
	put(f, "k", 2, "success", 150);
	/* pending's answer comes back: ignored, success stays to be sent. */
	assert_int_equal(result(f, id, 1, "delivered", 1, 0, NULL), -ESTALE);
	assert_int_equal(result(f, id, 1, "pending", 1, 999, "HTTP 500: x"),
			 -ESTALE);
	o = outbox_row(f, "k");
	assert_string_equal(o->state, "pending");
	assert_string_equal(o->body, "success");
	assert_int_equal(o->attempts, 0);
	assert_int_equal(o->next_at, 150);
	assert_null(o->last_error);
	store_outbox_free(o);
	/* success's own answer is stored. */
	assert_int_equal(result(f, id, 2, "delivered", 1, 0, NULL), 0);
	o = outbox_row(f, "k");
	assert_string_equal(o->state, "delivered");
	store_outbox_free(o);
	assert_int_equal(result(f, id + 1, 1, "delivered", 1, 0, NULL),
			 -ENOENT);
	assert_int_equal(result(f, id, 2, "sent", 1, 0, NULL), -EINVAL);
}

static void
test_schedules(void **state)
{
	struct fx *f = *state;
	struct ow o;
	uint64_t last;

	assert_int_equal(store_schedule_last(f->s, "web", "0 3 * * *", "main",
					     &last), -ENOENT);
	o = (struct ow){ .fn = fn_schedule, .project = "web", .now = 5000 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(store_schedule_last(f->s, "web", "0 3 * * *", "main",
					     &last), 0);
	assert_int_equal(last, 5000);
	o = (struct ow){ .fn = fn_schedule, .project = "web", .now = 9000 };
	assert_int_equal(ow_now(f, &o), 0);
	/* Never backwards. */
	o = (struct ow){ .fn = fn_schedule, .project = "web", .now = 7000 };
	assert_int_equal(ow_now(f, &o), 0);
	assert_int_equal(store_schedule_last(f->s, "web", "0 3 * * *", "main",
					     &last), 0);
	assert_int_equal(last, 9000);
	assert_int_equal(store_schedule_last(f->s, "api", "0 3 * * *", "main",
					     &last), -ENOENT);
	assert_int_equal(store_schedule_last(f->s, "web", "0 3 * * *", "dev",
					     &last), -ENOENT);
}

/* A version-1 file (as pipewright 0.1 left it) migrates and keeps its runs. */
static void
test_migrate_from_v1(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	struct store_outbox *o;
	sqlite3 *db;
	char *sql;

	fx_close(f);
	snprintf(f->path, sizeof(f->path), "%s/v1.db", f->dir);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	sql = xasprintf("BEGIN; %s; PRAGMA user_version = 1;"
			" INSERT INTO runs (id, project, status, trigger_kind,"
			" branch, created_at) VALUES (42, 'web', 'success',"
			" 'api', 'main', 1234);"
			" INSERT INTO jobs VALUES (42, 0, 'build', 'b', 'success');"
			" INSERT INTO tokens (name, scope, hash, created_at)"
			" VALUES ('ci', 'admin', printf('%%064d', 7), 1); COMMIT;",
			store_migrations[0]);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	sqlite3_close(db);
	assert_int_equal(file_user_version(f->path), 1);

	fx_open(f);
	assert_int_equal(file_user_version(f->path), (int)store_nmigrations);
	assert_int_equal(store_run_get(f->s, 42, &r), 0);
	assert_string_equal(r->project, "web");
	assert_string_equal(r->status, "success");
	assert_int_equal(r->created_at, 1234);
	assert_int_equal(r->njobs, 1);
	assert_string_equal(r->jobs[0].name, "build");
	store_run_free(r);
	{
		char *name, *scope, hash[65];

		snprintf(hash, sizeof(hash), "%064d", 7);
		assert_int_equal(store_token_find(f->s, hash, &name, &scope),
				 0);
		assert_string_equal(name, "ci");
		free(name);
		free(scope);
	}
	/* The new tables work, next to the old rows. */
	put(f, "k", 1, "pending", 10);
	o = outbox_row(f, "k");
	assert_string_equal(o->state, "pending");
	store_outbox_free(o);
	/* And a reopen finds nothing more to migrate. */
	fx_close(f);
	fx_open(f);
	assert_int_equal(file_user_version(f->path), (int)store_nmigrations);
	o = outbox_row(f, "k");
	store_outbox_free(o);
}

/* ---- schema 3: settings ---- */

struct sw {
	const char *key, *value;
	int rc;
	bool done;
};

static int
sw_fn(struct store_tx *tx, void *arg)
{
	struct sw *w = arg;

	return store_tx_setting_put(tx, w->key, w->value);
}

static void
sw_done(int rc, void *arg)
{
	struct sw *w = arg;

	w->rc = rc;
	w->done = true;
}

static int
setting_put(struct fx *f, const char *key, const char *value)
{
	struct sw w = { .key = key, .value = value };

	store_write(f->s, sw_fn, sw_done, &w);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(w.done);
	return w.rc;
}

/* The setting's value, or NULL if unset (caller frees). */
static char *
setting(struct fx *f, const char *key)
{
	char *v = NULL;
	int rc = store_setting_get(f->s, key, &v);

	if (rc == -ENOENT)
		return NULL;
	assert_int_equal(rc, 0);
	assert_non_null(v);
	return v;
}

/* Put, replace, delete (also of an unset key); a reopen keeps them. */
static void
test_settings(void **state)
{
	struct fx *f = *state;
	char *v;

	assert_null(setting(f, "queue.paused"));
	assert_int_equal(setting_put(f, "queue.paused", "true"), 0);
	assert_int_equal(setting_put(f, "other", "x"), 0);
	assert_int_equal(setting_put(f, "other", "y"), 0);
	assert_string_equal(v = setting(f, "queue.paused"), "true");
	free(v);
	assert_string_equal(v = setting(f, "other"), "y");
	free(v);
	assert_int_equal(setting_put(f, "other", NULL), 0);
	assert_null(setting(f, "other"));
	assert_int_equal(setting_put(f, "never.set", NULL), 0);
	assert_int_equal(setting_put(f, NULL, "x"), -EINVAL);
	assert_int_equal(setting_put(f, "", ""), 0);
	assert_string_equal(v = setting(f, ""), "");
	free(v);
	fx_close(f);
	fx_open(f);
	assert_string_equal(v = setting(f, "queue.paused"), "true");
	free(v);
	assert_null(setting(f, "other"));
}

/* A version-2 file migrates to the newest, keeps its rows, and takes
 * settings. */
static void
test_migrate_from_v2(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	struct store_run *r;
	sqlite3 *db;
	char *sql, *v;

	fx_close(f);
	snprintf(f->path, sizeof(f->path), "%s/v2.db", f->dir);
	assert_int_equal(sqlite3_open_v2(f->path, &db, SQLITE_OPEN_READWRITE |
					 SQLITE_OPEN_CREATE, NULL), SQLITE_OK);
	sql = xasprintf("BEGIN; %s; %s; PRAGMA user_version = 2;"
			" INSERT INTO runs (id, project, status, trigger_kind,"
			" created_at) VALUES (7, 'web', 'queued', 'api', 99);"
			" INSERT INTO outbox (key, seq, method, url, project,"
			" state, next_at, created_at, updated_at) VALUES"
			" ('k', 1, 'POST', 'http://x/', 'web', 'pending', 5,"
			" 5, 5); COMMIT;", store_migrations[0],
			store_migrations[1]);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	free(sql);
	sqlite3_close(db);
	assert_int_equal(file_user_version(f->path), 2);

	fx_open(f);
	assert_int_equal(file_user_version(f->path), (int)store_nmigrations);
	assert_int_equal(store_run_get(f->s, 7, &r), 0);
	assert_string_equal(r->status, "queued");
	store_run_free(r);
	o = outbox_row(f, "k");
	assert_int_equal(o->next_at, 5);
	store_outbox_free(o);
	assert_null(setting(f, "queue.paused"));
	assert_int_equal(setting_put(f, "queue.paused", "true"), 0);
	fx_close(f);
	fx_open(f);
	assert_string_equal(v = setting(f, "queue.paused"), "true");
	free(v);
}

static void
test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	struct store *s;
	char *err = NULL, want[96];

	fx_close(f);
	set_file_user_version(f->path, (int)store_nmigrations + 1);
	assert_int_equal(store_open(&f->loop, f->path, &s, &err), -ENOTSUP);
	snprintf(want, sizeof(want), "database schema version %zu is newer "
		 "than this pipewright (knows %zu)", store_nmigrations + 1,
		 store_nmigrations);
	assert_string_equal(err, want);
	free(err);
	assert_int_equal(file_user_version(f->path),
			 (int)store_nmigrations + 1);

	assert_true(store_open(&f->loop, "/nonexistent/dir/pw.db", &s,
			       &err) < 0);
	assert_string_equal(err, "cannot open /nonexistent/dir/pw.db: "
			    "unable to open database file");
	free(err);
}

static void
test_check(void **state)
{
	struct fx *f = *state;
	struct store_stats st;

	assert_int_equal(store_check(f->s), 0);
	insert_run(f, "web", "queued", "main");
	store_stats(f->s, &st);
	assert_int_equal(st.commit_failures, 0);
	assert_true(st.commits >= 1);
	assert_int_equal(store_check(f->s), 0);
}
/* ---- failures of the whole transaction ---- */

/* Root ignores file modes: drop (or take back) the capabilities for it. */
static bool
dac_override(bool on)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	uint32_t bits = 1u << CAP_DAC_OVERRIDE | 1u << CAP_DAC_READ_SEARCH |
			1u << CAP_FOWNER;

	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	if (on)
		data[0].effective |= bits & data[0].permitted;
	else
		data[0].effective &= ~bits;
	return syscall(SYS_capset, &hdr, data) == 0;
}

static void
chmod_db(struct fx *f, mode_t mode)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[160];
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(sfx); i++) {
		snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
		if (chmod(p, mode) < 0)
			assert_int_equal(errno, ENOENT);
	}
}

static void
test_readonly_file(void **state)
{
	struct fx *f = *state;
	struct store_run *r;
	struct w w = { .fn = fn_run_insert };
	uint64_t id;

	id = insert_run(f, "web", "queued", "main");
	fx_close(f);
	chmod_db(f, 0444);
	/* The writer thread store_open starts inherits the lowered set. */
	assert_true(dac_override(false));
	fx_open(f);
	assert_int_equal(store_check(f->s), 0);
	w.run = new_run("web", "queued", "main");
	assert_int_equal(write_now(f, &w), -EROFS);
	assert_int_equal(store_check(f->s), -EROFS);
	/* Reads go on. */
	assert_int_equal(store_run_get(f->s, id, &r), 0);
	store_run_free(r);
	/* The operator fixes the file: writes work again, same store. */
	chmod_db(f, 0644);
	w = (struct w){ .fn = fn_run_insert };
	w.run = new_run("web", "queued", "main");
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(store_check(f->s), 0);
	assert_int_equal(store_run_get(f->s, w.id, &r), 0);
	store_run_free(r);
	fx_close(f);
	assert_true(dac_override(true));
}

/* A file that may not grow: the commit's write fails (EFBIG: -EIO). */
static void
test_file_too_large_commit(void **state)
{
	static char big[512 * 1024];
	struct fx *f = *state;
	struct store_stats before, after;
	struct rlimit old, lim;
	struct stat sb;
	struct w w[3];
	struct gate g;
	char wal[160];
	int i;

	insert_run(f, "web", "queued", "main");
	snprintf(wal, sizeof(wal), "%s-wal", f->path);
	assert_int_equal(stat(wal, &sb), 0);
	memset(big, 'x', sizeof(big));
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);

	/* Files may not grow 5000 bytes past the WAL. */
	store_stats(f->s, &before);
	gate_close(f, &g);
	for (i = 0; i < 3; i++) {
		w[i] = (struct w){ .fn = fn_run_insert };
		w[i].run = new_run("web", "queued", "main");
	}
	w[1].run.pipeline = big;
	w[1].run.pipeline_len = sizeof(big);
	for (i = 0; i < 3; i++)
		queue(f, &w[i]);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + 5000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	gate_open(&g);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	store_stats(f->s, &after);
	assert_int_equal(after.commit_failures - before.commit_failures, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(w[i].rc, -EIO);
	assert_int_equal(store_check(f->s), -EIO);

	/* The limit lifted: the same store commits. */
	w[0] = (struct w){ .fn = fn_run_insert };
	w[0].run = new_run("web", "queued", "main");
	w[0].run.pipeline = big;
	w[0].run.pipeline_len = sizeof(big);
	assert_int_equal(write_now(f, &w[0]), 0);
	assert_int_equal(store_check(f->s), 0);
	gate_destroy(&g);
}

/*
 * A full disk for real: a 1 MiB tmpfs in a mount namespace of our own,
 * filled up by a file, then freed.  Needs CAP_SYS_ADMIN; skipped without.
 */
static void
test_disk_full(void **state)
{
	static char big[256 * 1024];
	struct fx *f = *state;
	struct w w[3];
	struct gate g;
	char mnt[96], filler[128];
	FILE *fp;
	int i;

	fx_close(f);
	snprintf(mnt, sizeof(mnt), "%s/full", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		fx_open(f);
		skip();
	}
	snprintf(f->path, sizeof(f->path), "%s/pipewright.db", mnt);
	fx_open(f);
	insert_run(f, "web", "queued", "main");
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	assert_non_null(fp = fopen(filler, "w"));
	memset(big, 'x', sizeof(big));
	while (fwrite(big, 1, 4096, fp) == 4096 && fflush(fp) == 0)
		;
	fclose(fp);

	gate_close(f, &g);
	for (i = 0; i < 3; i++) {
		w[i] = (struct w){ .fn = fn_run_insert };
		w[i].run = new_run("web", "queued", "main");
	}
	w[1].run.pipeline = big;
	w[1].run.pipeline_len = sizeof(big);
	for (i = 0; i < 3; i++)
		queue(f, &w[i]);
	gate_open(&g);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (i = 0; i < 3; i++)
		assert_int_equal(w[i].rc, -ENOSPC);
	assert_int_equal(store_check(f->s), -ENOSPC);

	assert_int_equal(unlink(filler), 0);
	w[0] = (struct w){ .fn = fn_run_insert };
	w[0].run = new_run("web", "queued", "main");
	w[0].run.pipeline = big;
	w[0].run.pipeline_len = sizeof(big);
	assert_int_equal(write_now(f, &w[0]), 0);
	assert_int_equal(store_check(f->s), 0);
	gate_destroy(&g);
	fx_close(f);
	assert_int_equal(umount(mnt), 0);
}

/* The plain write's done on a full disk: the kept one is still waiting. */
struct kept_ctx {
	struct w plain;
	struct w *kept;
	const char *filler;
};

static void
plain_done_frees(int rc, void *arg)
{
	struct kept_ctx *c = arg;

	c->plain.done = true;
	c->plain.rc = rc;
	assert_false(c->kept->done);
	assert_int_equal(unlink(c->filler), 0);
}

static void
fill_up(const char *filler)
{
	static const char zero[4096];
	FILE *fp;

	assert_non_null(fp = fopen(filler, "w"));
	while (fwrite(zero, 1, sizeof(zero), fp) == sizeof(zero) &&
	       fflush(fp) == 0)
		;
	fclose(fp);
}

/*
 * store_write_retry on a full disk: the write is kept (its done does not
 * run) while a plain write fails; once space returns it commits by itself.
 * Then store_check recovers with no write at all (the writer's probe).
 */
static void
test_disk_full_retry(void **state)
{
	static char big[256 * 1024];
	struct fx *f = *state;
	struct w kept = { .fn = fn_run_insert }, w;
	struct kept_ctx c;
	struct store_run *r;
	struct timespec t0, now, ms10 = { 0, 10000000L };
	char mnt[96], filler[128];

	fx_close(f);
	snprintf(mnt, sizeof(mnt), "%s/full2", f->dir);
	assert_int_equal(mkdir(mnt, 0700), 0);
	if (unshare(CLONE_NEWNS) < 0 ||
	    mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount("tmpfs", mnt, "tmpfs", 0, "size=1m") < 0) {
		fx_open(f);
		skip();
	}
	snprintf(f->path, sizeof(f->path), "%s/pipewright.db", mnt);
	fx_open(f);
	insert_run(f, "web", "queued", "main");
	snprintf(filler, sizeof(filler), "%s/filler", mnt);
	memset(big, 'x', sizeof(big));
	fill_up(filler);

	kept.run = new_run("web", "queued", "main");
	kept.run.pipeline = big;
	kept.run.pipeline_len = sizeof(big);
	c = (struct kept_ctx){ .plain = { .fn = fn_run_insert }, .kept = &kept,
			       .filler = filler };
	c.plain.run = kept.run;
	store_write_retry(f->s, w_fn, w_done, &kept);
	store_write(f->s, w_fn, plain_done_frees, &c.plain);
	/* Runs until the kept write is done: after the filler is gone. */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_true(c.plain.done);
	assert_int_equal(c.plain.rc, -ENOSPC);
	assert_true(kept.done);
	assert_int_equal(kept.rc, 0);
	assert_int_equal(store_check(f->s), 0);
	assert_int_equal(store_run_get(f->s, kept.id, &r), 0);
	assert_int_equal(r->pipeline_len, sizeof(big));
	store_run_free(r);

	/* Full again: a failed write; freed: ready again with no write. */
	fill_up(filler);
	w = (struct w){ .fn = fn_run_insert };
	w.run = kept.run;
	assert_int_equal(write_now(f, &w), -ENOSPC);
	assert_int_equal(store_check(f->s), -ENOSPC);
	assert_int_equal(unlink(filler), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (store_check(f->s) != 0) {
		clock_gettime(CLOCK_MONOTONIC, &now);
		assert_true(now.tv_sec - t0.tv_sec < 10);
		nanosleep(&ms10, NULL);
	}
	assert_int_equal(store_pending(f->s), 0);
	fx_close(f);
	assert_int_equal(umount(mnt), 0);
}

/* ---- retention: a count kept with the runs, batches ---- */

/* run_counts' row for the project, read on the reader's connection. */
static int64_t
finished_count(struct fx *f, const char *project)
{
	sqlite3_stmt *st;
	int64_t n = -1;

	assert_int_equal(sqlite3_prepare_v2(f->s->rd.db, "SELECT finished FROM"
					    " run_counts WHERE project = ?1",
					    -1, &st, NULL), SQLITE_OK);
	sqlite3_bind_text(st, 1, project, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

static bool
prune_due(struct fx *f, const char *project, size_t keep, uint64_t older)
{
	bool due = true;

	assert_int_equal(store_prune_due(f->s, project, keep, older, &due), 0);
	return due;
}

static int
fn_rerun(struct store_tx *tx, struct w *w)
{
	return store_tx_run_set_status(tx, w->id, "queued", 0, 0);
}

static void
test_run_counts(void **state)
{
	struct fx *f = *state;
	struct w w;
	uint64_t a, b, c, att;

	/* Queued and running runs are not counted; each end is. */
	a = insert_run(f, "web", "queued", "main");
	b = insert_run(f, "web", "queued", "main");
	assert_int_equal(finished_count(f, "web"), -1);
	set_status(f, a, "running", 10, 0);
	assert_int_equal(finished_count(f, "web"), -1);
	set_status(f, a, "success", 0, 20);
	assert_int_equal(finished_count(f, "web"), 1);
	set_status(f, b, "canceled", 0, 30);
	assert_int_equal(finished_count(f, "web"), 2);
	/* Written again as it is (a retried write): still one each. */
	set_status(f, b, "canceled", 0, 30);
	assert_int_equal(finished_count(f, "web"), 2);
	/* A rerun takes it back to queued, its new end counts again. */
	w = (struct w){ .fn = fn_rerun, .id = a };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(finished_count(f, "web"), 1);
	set_status(f, a, "failed", 0, 40);
	assert_int_equal(finished_count(f, "web"), 2);
	/* Inserted finished (a restore, rows written by hand): counted. */
	c = insert_run(f, "web", "error", "main");
	assert_int_equal(finished_count(f, "web"), 3);
	(void)full_run(f, "api", "success", 50, &att);
	assert_int_equal(finished_count(f, "api"), 1);
	assert_int_equal(finished_count(f, "web"), 3);

	/* Due only over a limit, by count or by age. */
	assert_false(prune_due(f, "web", 3, 0));
	assert_true(prune_due(f, "web", 2, 0));
	assert_false(prune_due(f, "web", 0, 0));
	assert_false(prune_due(f, "nothing", 1, 5));
	/* c was inserted with finished_at 0 (new_run): older than 1. */
	assert_true(prune_due(f, "web", 3, 1));
	assert_false(prune_due(f, "api", 1, 50));
	/* api's run is the store's newest: never pruned by age. */
	assert_false(prune_due(f, "api", 1, 51));

	/* Pruning takes the count down with the runs it deletes. */
	w = (struct w){ .fn = fn_prune, .keep = 1 };
	w.run.project = "web";
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 2);
	free(w.ids);
	assert_int_equal(finished_count(f, "web"), 1);
	assert_false(prune_due(f, "web", 1, 0));
	(void)c;
}

static void
test_prune_batches(void **state)
{
	struct fx *f = *state;
	uint64_t ids[10], att[10], running, running_att;
	size_t want[] = { 3, 3, 2, 0 };
	struct store_run *r;
	struct w w;
	size_t i, k, got = 0;

	for (i = 0; i < 10; i++)
		ids[i] = full_run(f, "web", "success", 1000 + i, &att[i]);
	running = full_run(f, "web", "running", 0, &running_att);
	/* Keep 2 in batches of 3: the oldest first, each batch once. */
	for (k = 0; k < PW_ARRAY_LEN(want); k++) {
		w = (struct w){ .fn = fn_prune, .keep = 2, .limit = 3 };
		w.run.project = "web";
		assert_int_equal(write_now(f, &w), 0);
		assert_int_equal(w.nids, want[k]);
		for (i = 0; i < w.nids; i++)
			assert_int_equal(w.ids[i], ids[got + i]);
		got += w.nids;
		free(w.ids);
	}
	assert_int_equal(finished_count(f, "web"), 2);
	/* By age in a batch of 1: the older of the two left, then none. */
	w = (struct w){ .fn = fn_prune, .t1 = 5000, .limit = 1 };
	w.run.project = "web";
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 1);
	assert_int_equal(w.ids[0], ids[8]);
	free(w.ids);
	assert_int_equal(finished_count(f, "web"), 1);
	/* The running run stays through all of it. */
	assert_int_equal(store_run_get(f->s, running, &r), 0);
	store_run_free(r);
}

/*
 * A store idle past keep_days: every run is old, but the newest stays,
 * so the next run's id is new (ids are max(rowid) + 1: an id handed out
 * again would name another run in old URLs and commit statuses).
 */
static void
test_prune_keeps_newest_id(void **state)
{
	struct fx *f = *state;
	uint64_t ids[3], att, next;
	size_t i;
	struct w w;

	for (i = 0; i < 3; i++)
		ids[i] = full_run(f, "web", "success", 1000 + i, &att);
	w = (struct w){ .fn = fn_prune, .t1 = 5000 };
	w.run.project = "web";
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 2);
	assert_int_equal(w.ids[0], ids[0]);
	assert_int_equal(w.ids[1], ids[1]);
	free(w.ids);
	assert_false(prune_due(f, "web", 0, 5000));
	next = insert_run(f, "web", "queued", "main");
	assert_true(next > ids[2]);
}

/* ---- 100,000 runs: the listing uses its indexes ---- */



static int
fn_seed_many(struct store_tx *tx, void *arg)
{
	static const char *const branches[] = { "main", "dev", "release",
		"feature/a", "feature/b" };
	struct store_run_new r;
	uint64_t id;
	int i, rc, n = *(int *)arg;

	for (i = 0; i < n; i++) {
		r = new_run(i % 2 ? "web" : "api", statuses[i % 6],
			    branches[i % 5]);
		/* Few unfinished runs, as in life. */
		if (i % 6 < 2 && i < n - 50)
			r.status = "success";
		if ((rc = store_tx_run_insert(tx, &r, &id)) < 0)
			return rc;
	}
	return 0;
}

/* EXPLAIN QUERY PLAN of the statement id, on the reader's connection. */
static void
plan(struct fx *f, enum store_stmt_id id, struct buf *out)
{
	sqlite3_stmt *st;
	char *sql;

	assert_non_null(f->s->rd.stmt[id]);
	sql = xasprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(f->s->rd.stmt[id]));
	assert_int_equal(sqlite3_prepare_v2(f->s->rd.db, sql, -1, &st, NULL),
			 SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW)
		assert_int_equal(buf_printf(out, "%s; ",
					    sqlite3_column_text(st, 3)), 0);
	sqlite3_finalize(st);
	free(sql);
}

/* ---- the job path: no statement scans the history ---- */

#define TRY(x) do { if ((rc = (x)) < 0) return rc; } while (0)

/*
 * One run through every store write of the job path, as the daemon makes
 * them: a trigger (webhook delivery, idempotency key, the run, its job,
 * its event), the run's start, an attempt's row (uid, span, queue step),
 * a log chunk, the attempt's end (trace read, commit status), the run's
 * own log and end, and retention.
 */
static int
fn_job_path(struct store_tx *tx, struct w *w)
{
	struct store_run_new r = new_run("web", "queued", "main");
	struct store_attempt_new a = { .idx = 0, .number = 1,
				       .status = "running", .dir = "/a",
				       .started_at = 2 };
	struct store_step_new q = { .span_id = "2222222222222222",
				    .name = "queue", .started_at = 1,
				    .finished_at = 2 };
	struct store_outbox_new o = { .key = "status-x", .seq = 1,
				      .method = "POST", .url = "http://x/",
				      .project = "web", .created_at = 3 };
	struct store_delivery_new dl = { .forge = "github", .id = "d1",
					 .project = "web", .status = 201,
					 .response = "{}", .created_at = 1 };
	struct store_trace t;
	char tr[33], sp[17], *resp = NULL, *hash = NULL;
	uint64_t run, att;
	int status, rc;

	r.idempotency_key = "k1";
	if (store_tx_delivery_find(tx, "github", "d1", &status, &resp) !=
	    -ENOENT || store_tx_run_by_key(tx, "web", "k1", &run, &hash) !=
	    -ENOENT)
		return -EIO;
	TRY(store_tx_run_insert(tx, &r, &run));
	dl.run = run;
	TRY(store_tx_delivery_put(tx, &dl));
	TRY(store_tx_job_insert(tx, run, 0, "t", "s", "pending"));
	TRY(store_tx_event(tx, run, 1, "bob", "run.created", NULL));
	TRY(store_tx_run_set_status(tx, run, "running", 2, 0));
	TRY(store_tx_run_trace(tx, run, "0123456789abcdef0123456789abcdef",
			       "0123456789abcdef", tr, sp));
	a.run = run;
	TRY(store_tx_attempt_insert(tx, &a, &att));
	TRY(store_tx_attempt_set_uid(tx, att, 100000));
	TRY(store_tx_attempt_set_span(tx, att, "1111111111111111"));
	q.attempt = att;
	TRY(store_tx_step_insert(tx, &q));
	TRY(store_tx_job_set_status(tx, run, 0, "running"));
	TRY(store_tx_log_append(tx, att, 0, "hi\n", 3));
	TRY(store_tx_attempt_finish(tx, att, "success", 0, NULL, 3));
	TRY(store_tx_trace_read(tx, run, att, &t));
	store_trace_free(&t);
	o.run = run;
	TRY(store_tx_outbox_put(tx, &o));
	TRY(store_tx_run_log_append(tx, run, "x\n", 2));
	TRY(store_tx_run_set_status(tx, run, "success", 0, 4));
	TRY(store_tx_prune(tx, "web", w->keep, 0, 100, &w->ids, &w->nids));
	TRY(store_tx_prune(tx, "web", 0, w->t1, 100, &w->ids, &w->nids));
	return 0;
}

#undef TRY

/*
 * The plan of every statement the writer has prepared (after fn_job_path,
 * the job path's and nothing else) and of the loop's reads at a run's
 * end, prepared again on the reader's connection under EXPLAIN QUERY
 * PLAN: none may SCAN a table.  Triggers'
 * and foreign keys' statements do not show in a plan: test_fk_indexes
 * covers the cascades.
 */
static void
test_job_path_plans(void **state)
{
	struct fx *f = *state;
	struct w w;
	sqlite3_stmt *st;
	struct buf b;
	char *sql, *status;
	bool due;
	int count = 5000, id, n = 0;

	store_write(f->s, fn_seed_many, seed_done, &count);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	/* Over keep_runs, then over keep_days: a batch of each. */
	w = (struct w){ .fn = fn_job_path, .keep = 1000, .t1 = UINT64_MAX / 2 };
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 200);
	free(w.ids);
	/* The loop's reads at a run's end: notices' last outcome, the
	 * retention's look. */
	assert_int_equal(store_run_last_outcome(f->s, "web", "main", 4000,
						&status), 0);
	free(status);
	assert_int_equal(store_prune_due(f->s, "web", 1000, 1, &due), 0);
	assert_int_equal(store_prune_due(f->s, "web", 0, 1, &due), 0);
	for (id = 0; id < 2 * ST_COUNT; id++) {
		sqlite3_stmt *p = id < ST_COUNT ? f->s->wr.stmt[id] :
			f->s->rd.stmt[id - ST_COUNT];

		if (p == NULL)
			continue;
		sql = xasprintf("EXPLAIN QUERY PLAN %s", sqlite3_sql(p));
		assert_int_equal(sqlite3_prepare_v2(f->s->rd.db, sql, -1, &st,
						    NULL), SQLITE_OK);
		buf_init(&b, 0);
		while (sqlite3_step(st) == SQLITE_ROW) {
			const char *d = (const char *)sqlite3_column_text(st,
									  3);

			assert_int_equal(buf_printf(&b, "%s; ", d), 0);
			if (strncmp(d, "SCAN ", 5) == 0 &&
			    strcmp(d, "SCAN CONSTANT ROW") != 0)
				fail_msg("a scan on the job path: %s\nplan: "
					 "%s", sqlite3_sql(p), b.data);
		}
		sqlite3_finalize(st);
		if (getenv("PW_STORE_PLANS") != NULL)
			print_message("%s\n  -> %s\n", sqlite3_sql(p),
				      b.len > 0 ? b.data : "(no table)");
		buf_free(&b);
		free(sql);
		n++;
	}
	/* The statements above, and the store's own (BEGIN, ...). */
	assert_true(n >= 25);
}

/*
 * Deleting a run deletes its children by ON DELETE CASCADE / SET NULL,
 * statements no plan shows: each child's key must lead an index (or be
 * its rowid), or every prune walks every child table once per run.
 */
/* SQLite's temporary files open in this process (a sub-journal that
 * spilled to disk is one): unlinked at once, named etilqs_. */
static int
temp_files_open(void)
{
	char path[300], target[4096];
	struct dirent *e;
	DIR *d = opendir("/proc/self/fd");
	ssize_t len;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		n += strstr(target, "etilqs_") != NULL;
	}
	closedir(d);
	return n;
}

/* Changes a row on each of many existing pages of runs (125 runs of
 * 5,000, one in 40: about one a page), inside the writer's savepoint, and
 * looks for a temporary file meanwhile.  With SQLite's default (64 KiB:
 * 16 pages) the sub-journal is a file by then. */
static int
fn_touch_pages(struct store_tx *tx, struct w *w)
{
	char *err = NULL;

	if (sqlite3_exec(tx->c->db, "UPDATE runs SET log_bytes = log_bytes + 1"
			 " WHERE id % 40 = 0", NULL, NULL, &err) != SQLITE_OK) {
		print_message("%s\n", err);
		sqlite3_free(err);
		return -EIO;
	}
	w->nids = (size_t)sqlite3_changes(tx->c->db);
	w->limit = (size_t)temp_files_open();
	return 0;
}

/*
 * A write's savepoint keeps the pages it changes in memory, not in a
 * temporary file: a webhook delivery changes 17 pages, past SQLite's
 * 64 KiB default, and each batch made a file and 35 pwrite64 calls per
 * delivery to it (docs/internals/jobpath.md, "Webhook ingest").
 */
static void
test_subjournal_in_memory(void **state)
{
	struct fx *f = *state;
	struct w w = { .fn = fn_touch_pages };
	int count = 5000;

	store_write(f->s, fn_seed_many, seed_done, &count);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(write_now(f, &w), 0);
	assert_int_equal(w.nids, 5000 / 40);
	assert_int_equal(w.limit, 0);
}

static void
test_fk_indexes(void **state)
{
	struct fx *f = *state;
	sqlite3_stmt *st;
	int n = 0;

	assert_int_equal(sqlite3_prepare_v2(f->s->rd.db,
		"SELECT m.name, k.\"from\", (SELECT count(*) FROM"
		"  pragma_index_list(m.name) l, pragma_index_info(l.name) i"
		"  WHERE i.seqno = 0 AND i.name = k.\"from\") + (SELECT"
		"  count(*) FROM pragma_table_info(m.name) t WHERE"
		"  t.name = k.\"from\" AND t.pk = 1 AND t.type = 'INTEGER')"
		" FROM sqlite_schema m, pragma_foreign_key_list(m.name) k"
		" WHERE m.type = 'table' AND k.seq = 0", -1, &st, NULL),
		SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		if (sqlite3_column_int(st, 2) == 0)
			fail_msg("%s.%s refers to a parent without an index",
				 sqlite3_column_text(st, 0),
				 sqlite3_column_text(st, 1));
		n++;
	}
	sqlite3_finalize(st);
	assert_true(n >= 10);
}

static void
test_list_100k(void **state)
{
	static const char *const failed[] = { "failed", "error", NULL };
	static const char *const active[] = { "queued", "running", NULL };
	struct {
		const char *branch;
		const char *const *status;
		enum store_stmt_id id;
	} shapes[] = {
		{ NULL, NULL, ST_R_LIST },
		{ "dev", NULL, ST_R_LIST_BRANCH },
		{ NULL, failed, ST_R_LIST_STATUS },
		{ NULL, active, ST_R_LIST_STATUS },
		{ "dev", failed, ST_R_LIST_BRANCH_STATUS },
	};
	struct fx *f = *state;
	struct store_run_filter flt = { .project = "web", .limit = 50 };
	struct store_run **runs;
	struct store_run *r;
	struct buf b;
	uint64_t next, t0;
	size_t n, k, pages;
	int count = 100000;

	store_write(f->s, fn_seed_many, seed_done, &count);
	uv_run(&f->loop, UV_RUN_DEFAULT);
	for (k = 0; k < PW_ARRAY_LEN(shapes); k++) {
		flt.branch = shapes[k].branch;
		flt.status = shapes[k].status;
		flt.before = 0;
		t0 = pw_mono_ms();
		/* The first page, and 20 pages deep. */
		for (pages = 1; pages <= 20; pages++) {
			assert_int_equal(store_runs_list(f->s, &flt, &runs, &n,
							 &next), 0);
			store_runs_free(runs, n);
			if (next == 0)
				break;
			flt.before = next;
		}
		buf_init(&b, 0);
		plan(f, shapes[k].id, &b);
		print_message("list %s%s %s: %zu pages in %llu ms; plan: %s\n",
			      shapes[k].branch ? "branch " : "",
			      shapes[k].status ? "status" : "",
			      shapes[k].status ? shapes[k].status[0] : "",
			      pages, (unsigned long long)(pw_mono_ms() - t0),
			      b.data);
		assert_non_null(strstr(b.data, "USING"));
		assert_null(strstr(b.data, "TEMP B-TREE"));
		if (shapes[k].id == ST_R_LIST_STATUS)
			assert_non_null(strstr(b.data, "runs_status"));
		buf_free(&b);
	}
	/* The other reads that must not scan. */
	t0 = pw_mono_ms();
	assert_int_equal(store_run_latest_finished(f->s, "web", "dev", &r), 0);
	store_run_free(r);
	assert_int_equal(store_runs_unfinished(f->s, &runs, &n), 0);
	assert_true(n <= 50);
	store_runs_free(runs, n);
	print_message("latest + unfinished: %llu ms\n",
		      (unsigned long long)(pw_mono_ms() - t0));
	buf_init(&b, 0);
	plan(f, ST_R_UNFINISHED, &b);
	print_message("unfinished plan: %s\n", b.data);
	/* Two ranges of runs_all_status merged by id: no sort, no scan. */
	assert_non_null(strstr(b.data, "runs_all_status (status=?)"));
	assert_non_null(strstr(b.data, "MERGE (UNION ALL)"));
	assert_null(strstr(b.data, "TEMP B-TREE"));
	assert_null(strstr(b.data, "SCAN"));
	buf_free(&b);
	buf_init(&b, 0);
	plan(f, ST_R_LATEST_BRANCH, &b);
	print_message("latest plan: %s\n", b.data);
	assert_non_null(strstr(b.data, "USING"));
	assert_null(strstr(b.data, "TEMP B-TREE"));
	buf_free(&b);
}

/*
 * Not an assertion, a measurement (PW_STORE_TIMING=1): 1,000 one-row
 * writes each awaited before the next, against 1,000 queued at once.
 */
static void
test_timing(void **state)
{
	struct fx *f = *state;
	struct store_stats a, b, c;
	struct w *w = calloc(1000, sizeof(*w));
	uint64_t t0, t1, t2;
	int i;

	if (getenv("PW_STORE_TIMING") == NULL) {
		free(w);
		skip();
	}
	store_stats(f->s, &a);
	t0 = pw_mono_ms();
	for (i = 0; i < 1000; i++) {
		w[i] = (struct w){ .fn = fn_run_insert };
		w[i].run = new_run("web", "queued", "main");
		assert_int_equal(write_now(f, &w[i]), 0);
	}
	t1 = pw_mono_ms();
	store_stats(f->s, &b);
	for (i = 0; i < 1000; i++) {
		w[i] = (struct w){ .fn = fn_run_insert };
		w[i].run = new_run("web", "queued", "main");
		queue(f, &w[i]);
	}
	uv_run(&f->loop, UV_RUN_DEFAULT);
	t2 = pw_mono_ms();
	store_stats(f->s, &c);
	for (i = 0; i < 1000; i++)
		assert_int_equal(w[i].rc, 0);
	print_message("1000 writes awaited one by one: %llu ms, %llu commits\n"
		      "1000 writes queued at once:     %llu ms, %llu commits\n",
		      (unsigned long long)(t1 - t0),
		      (unsigned long long)(b.commits - a.commits),
		      (unsigned long long)(t2 - t1),
		      (unsigned long long)(c.commits - b.commits));
	free(w);
}

/* ---- traces (migration 11) ---- */

struct trace_w {
	uint64_t run, attempt;
	char trace[33], span[33];
	struct store_trace t;
	int step_rc;
};

static int
fn_trace(struct store_tx *tx, struct w *w)
{
	struct trace_w *tw = w->extra;
	struct store_step_new st = {
		.attempt = tw->attempt, .span_id = "2222222222222222",
		.name = "workspace", .started_at = 2100, .finished_at = 2200,
	};
	int rc;

	/* The first ids stay: a second call keeps them. */
	rc = store_tx_run_trace(tx, tw->run, "4bf92f3577b34da6a3ce929d0e0e4736",
				"00f067aa0ba902b7", tw->trace, tw->span);
	if (rc == 0)
		rc = store_tx_run_trace(tx, tw->run,
					"ffffffffffffffffffffffffffffffff",
					"ffffffffffffffff", tw->trace, tw->span);
	if (rc == 0)
		rc = store_tx_attempt_set_span(tx, tw->attempt,
					       "1111111111111111");
	if (rc == 0)
		rc = store_tx_step_insert(tx, &st);
	st.span_id = "3333333333333333";
	st.name = "script";
	st.error = "exit 2";
	st.started_at = 2200;
	st.finished_at = 2900;
	if (rc == 0)
		rc = store_tx_step_insert(tx, &st);
	if (rc == 0)
		rc = store_tx_trace_read(tx, tw->run, tw->attempt, &tw->t);
	if (rc == 0)
		tw->step_rc = store_tx_run_trace(tx, 999999, "a", "b", tw->trace,
						 tw->span);
	return rc;
}

static void
test_trace_ids_and_steps(void **state)
{
	struct fx *f = *state;
	struct trace_w tw = {0};
	struct w w = { .fn = fn_trace };

	tw.run = insert_run(f, "p", "running", "main");
	job(f, tw.run, 0, "build", "running");
	tw.attempt = attempt(f, tw.run, 0, 1, "running");
	w.extra = &tw;
	assert_int_equal(write_now(f, &w), 0);
	assert_string_equal(tw.trace, "4bf92f3577b34da6a3ce929d0e0e4736");
	assert_string_equal(tw.span, "00f067aa0ba902b7");
	assert_int_equal(tw.step_rc, -ENOENT);
	assert_string_equal(tw.t.trace_id, tw.trace);
	assert_string_equal(tw.t.span_id, tw.span);
	assert_string_equal(tw.t.project, "p");
	assert_string_equal(tw.t.branch, "main");
	assert_string_equal(tw.t.job, "build");
	assert_string_equal(tw.t.stage, "build");
	assert_int_equal(tw.t.number, 1);
	assert_string_equal(tw.t.attempt_span, "1111111111111111");
	assert_int_equal(tw.t.nsteps, 2);
	assert_string_equal(tw.t.steps[0].name, "workspace");
	assert_null(tw.t.steps[0].error);
	assert_string_equal(tw.t.steps[1].name, "script");
	assert_string_equal(tw.t.steps[1].error, "exit 2");
	assert_int_equal(tw.t.steps[1].finished_at, 2900);
	store_trace_free(&tw.t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_open_migrates_and_reopen_keeps),
		T(test_trace_ids_and_steps),
		T(test_run_jobs_attempts),
		T(test_run_started_at_kept),
		T(test_job_rerun),
		T(test_idempotency_key),
		T(test_group_commit_in_order),
		T(test_group_commit_per_iteration),
		T(test_failing_fn_undoes_only_itself),
		T(test_logs),
		T(test_logs_from_file),
		T(test_list),
		T(test_latest_unfinished_count),
		T(test_events_tokens),
		T(test_audit),
		T(test_prune),
		T(test_run_counts),
		T(test_prune_batches),
		T(test_prune_keeps_newest_id),
		T(test_deliveries),
		T(test_pushes),
		T(test_outbox_coalescing),
		T(test_outbox_due_next_at),
		T(test_outbox_result_after_newer_put),
		T(test_outbox_kinds),
		T(test_run_last_outcome),
		T(test_schedules),
		T(test_migrate_from_v1),
		T(test_settings),
		T(test_migrate_from_v2),
		T(test_newer_schema_refused),
		T(test_check),
		T(test_readonly_file),
		T(test_file_too_large_commit),
		T(test_disk_full),
		T(test_disk_full_retry),
		T(test_list_100k),
		T(test_job_path_plans),
		T(test_fk_indexes),
		T(test_subjournal_in_memory),
		T(test_timing),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
