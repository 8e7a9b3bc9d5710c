/*
 * store's private layout, shared by its own files only.
 *
 * Two connections to one WAL database: `wr` belongs to the writer thread
 * (after store_open has migrated through it, before the thread starts),
 * `rd` to the loop thread.  Each keeps its prepared statements in a table
 * indexed by enum store_stmt_id, prepared on first use with
 * SQLITE_PREPARE_PERSISTENT and reset after every use, so that no
 * statement holds a read snapshot open between calls.
 *
 * The loop stages writes in `staged` (its own, no lock) and hands them
 * to the writer once per loop iteration, before it polls (`kick`), by
 * moving them to `queue`, which `mu` guards.  The writer takes all of
 * `queue`, runs it as one transaction and appends the finished requests
 * to `done`, then wakes the loop through `async`, whose callback calls
 * each done in order.  So what one iteration queues never straddles two
 * transactions: a writer finishing a batch finds either nothing or all
 * of an iteration's writes.
 */
#ifndef PW_STORE_INT_H
#define PW_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/store.h"
#include "pipewright/util.h"

#define STORE_BUSY_TIMEOUT_MS 5000 /* another process holding the lock */
#define STORE_IDLE_MS 500          /* writer idle this long: checkpoint */
#define STORE_RETRY_MS 1000        /* a failed disk is tried again this often */
#define STORE_LIST_MAX 200         /* store_runs_list's largest page */
#define STORE_SUBJOURNAL_MEM (-1)        /* savepoints' sub-journals: in memory */

/* Every prepared statement, for both connections' caches. */
enum store_stmt_id {
	/* writer: transactions */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_SAVEPOINT,
	ST_RELEASE,
	ST_ROLLBACK_TO,
	/* writer: tx.c */
	ST_RUN_INSERT,
	ST_RUN_BY_KEY,
	ST_RUN_SET_STATUS,
	ST_RUN_SET_PIPELINE,
	ST_JOB_INSERT,
	ST_JOB_SET_STATUS,
	ST_JOB_RERUN,
	ST_ATTEMPT_INSERT,
	ST_ATTEMPT_FINISH,
	ST_ATTEMPT_SET_UID,
	ST_ATTEMPT_LOG_BYTES,
	ST_ATTEMPT_LOG_ADD,
	ST_LOG_INSERT,
	ST_RUN_LOG_BYTES,
	ST_RUN_LOG_ADD,
	ST_RUN_LOG_INSERT,
	ST_EVENT_INSERT,
	ST_AUDIT_INSERT,
	ST_TOKEN_INSERT,
	ST_PRUNE_COUNT,
	ST_PRUNE_OLDEST,
	ST_PRUNE_AGED,
	ST_PRUNE_DELETE,
	/* writer: hooks.c, outbox.c */
	ST_DELIVERY_FIND,
	ST_DELIVERY_PUT,
	ST_DELIVERY_PRUNE,
	ST_PUSH_FIND,
	ST_PUSH_PUT,
	ST_PUSH_PRUNE,
	ST_OUTBOX_PUT,
	ST_OUTBOX_INSERT,
	ST_OUTBOX_RESULT,
	ST_OUTBOX_SEQ,
	ST_OUTBOX_PRUNE,
	ST_SCHEDULE_FIRED,
	/* writer: settings.c */
	ST_SETTING_PUT,
	ST_SETTING_DELETE,
	/* writer: reuse.c */
	ST_ARTIFACT_INSERT,
	ST_ARTIFACT_EXPIRE,
	ST_ARTIFACT_DELETE,
	ST_CACHE_INSERT,
	ST_CACHE_TOUCH,
	ST_CACHE_DELETE,
	ST_DIGEST_REF,
	/* dash.c */
	ST_SESSION_INSERT,
	ST_SESSION_PRUNE,
	ST_SESSION_DELETE,
	ST_SECTION_INSERT,
	/* writer: trace.c */
	ST_RUN_TRACE_SET,
	ST_RUN_TRACE_GET,
	ST_ATTEMPT_SPAN,
	ST_STEP_INSERT,
	ST_TRACE_RUN,
	ST_TRACE_ATTEMPT,
	ST_TRACE_STEPS,
	/* writer: tests.c */
	ST_TESTS_CLEAR,
	ST_TEST_INSERT,
	ST_TEST_OTHER,
	ST_FLAKY_PUT,
	ST_TEST_ATTEMPT,
	ST_TEST_EARLIER,
	ST_TEST_RETRIED,
	ST_TEST_SUMMARY,
	ST_TESTS_STORED,
	ST_TESTS_SUMS,
	/* reader: read.c, list.c */
	ST_R_BEGIN,
	ST_R_COMMIT,
	ST_R_RUN,
	ST_R_JOBS,
	ST_R_ATTEMPTS,
	ST_R_LIST,
	ST_R_LIST_BRANCH,
	ST_R_LIST_STATUS,
	ST_R_LIST_BRANCH_STATUS,
	ST_R_LATEST,
	ST_R_LATEST_BRANCH,
	ST_R_LAST_OUTCOME,
	ST_R_PRUNE_COUNT,
	ST_R_PRUNE_AGED,
	ST_R_UNFINISHED,
	ST_R_LOG_SIZE,
	ST_R_LOG,
	ST_R_RUN_LOG_SIZE,
	ST_R_RUN_LOG,
	ST_R_EVENTS,
	ST_R_AUDIT,
	ST_R_TOKEN,
	ST_R_COUNT,
	ST_R_CHECK,
	/* reader: hooks.c, outbox.c */
	ST_R_OUTBOX_DUE,
	ST_R_OUTBOX_NEXT,
	ST_R_OUTBOX_LIST,
	ST_R_OUTBOX_LIST_STATE,
	ST_R_OUTBOX_COUNT,
	ST_R_OUTBOX_COUNT_STATE,
	ST_R_OUTBOX_WAITING,
	ST_R_SCHEDULE,
	/* reader: settings.c */
	ST_R_SETTING,
	/* reader: reuse.c */
	ST_R_ARTIFACTS,
	ST_R_ARTIFACT,
	ST_R_ARTIFACTS_EXPIRED,
	ST_R_CACHE_EXACT,
	ST_R_CACHE_PREFIX,
	ST_R_CACHES,
	ST_R_REUSE_USAGE,
	ST_R_CACHES_EVICT,
	ST_R_DIGEST_REF,
	/* streams.c */
	ST_STREAM_SIZE,
	ST_STREAM_INSERT,
	ST_STREAM_SET,
	ST_R_STREAM_SIZE,
	ST_R_STREAM,
	ST_R_STREAMS,
	/* reader: tests.c */
	ST_R_TESTS,
	ST_R_TESTS_STATUS,
	ST_R_TEST_COUNTS,
	ST_R_FLAKY,
	/* dash.c: one statement per filter shape of runs across projects */
	ST_R_ACROSS,
	ST_R_ACROSS_LAST = ST_R_ACROSS + 15,
	ST_R_SESSION,
	ST_R_DURATIONS,
	ST_R_JOB_NAMES,
	ST_R_DB_SIZE,
	ST_R_SECTIONS,
	ST_R_BRANCHES,
	ST_COUNT
};

/* One connection and its statements. */
struct store_conn {
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_COUNT]; /* NULL until first used */
};

/* A queued write. */
struct store_req {
	store_write_fn fn;
	store_done_cb done;
	void *arg;
	int rc;                      /* fn's result, or the commit's */
	bool retry;                  /* store_write_retry: kept on a failed disk */
	struct store_req *next;
};

struct store {
	uv_loop_t *loop;
	char *path;
	struct store_conn rd;        /* loop thread: reads */
	struct store_conn wr;        /* writer thread (open/close: the loop's) */
	uv_async_t async;            /* writer → loop: requests are done */
	/*
	 * loop → writer: hands the iteration's staged writes over and wakes
	 * the writer, once per loop iteration, before the loop polls, so
	 * that the writes one iteration queues (a job's end and the next
	 * job's attempt row) share one commit instead of racing a writer
	 * that just finished a batch into two.
	 */
	uv_prepare_t kick;
	bool kick_armed;
	struct store_req *staged, **staged_tail; /* loop thread: not yet handed over */
	int handles;                 /* async and kick, until closed */
	pthread_t thread;
	bool thread_started;
	size_t pending;              /* loop thread: written, done not yet called */
	bool closing;                /* loop thread: inside store_close */
	int wal_pages;               /* writer: pages in the WAL (wal hook) */
	store_close_cb close_cb;
	void *close_arg;

	pthread_mutex_t mu;          /* guards everything below */
	pthread_cond_t wake;         /* to the writer: work queued, or stop */
	pthread_cond_t idle;         /* to store_close: a batch is done */
	struct store_req *queue, **queue_tail; /* queued, not yet taken */
	struct store_req *done, **done_tail;   /* run, done not yet called */
	/* store_write_retry's writes whose disk failed: run again first. */
	struct store_req *held, **held_tail;
	bool give_up;                /* closing: held writes fail instead */
	bool reopen_rd;              /* writer → loop: reopen the reader */
	bool busy;                   /* the writer holds a batch */
	bool stop;                   /* the writer should exit when idle */
	int last_rc;                 /* the last transaction's disk error, or 0 */
	struct store_stats stats;
};

/* What a store_write_fn gets: the writer's connection. */
struct store_tx {
	struct store *s;
	struct store_conn *c;
};

/* schema.c */
extern const char *const store_migrations[];
extern const size_t store_nmigrations;

/* conn.c: connections, statements, errors */
int store_conn_open(struct store_conn *c, const char *path, bool readonly,
		    char **err) PW_WUR;
void store_conn_close(struct store_conn *c);
/* open.c: the writer connection's settings (WAL, FULL sync, FKs, ...). */
int store_writer_setup(struct store_conn *c) PW_WUR;
/* The statement, prepared on first use, reset with bindings cleared. */
int store_stmt(struct store_conn *c, enum store_stmt_id id, const char *sql,
	       sqlite3_stmt **out) PW_WUR;
/* An SQLite result code (extended codes are best) as a negative errno. */
int store_errno(int rc);
/* Steps a statement expected to finish without rows; resets it.  0 or -errno. */
int store_exec(sqlite3_stmt *st) PW_WUR;
/*
 * Runs sql, a DELETE whose one parameter ?1 is older_than; *n: the rows
 * it removed.  The pruning by age of deliveries, pushes and the outbox.
 */
int store_delete_older(struct store_conn *c, enum store_stmt_id id,
		       const char *sql, uint64_t older_than,
		       uint64_t *n) PW_WUR;
/* Steps one row: 1 a row, 0 done (and reset), or -errno (and reset). */
int store_step(sqlite3_stmt *st) PW_WUR;
/* Binding helpers: NULL text binds NULL; times of 0 bind 0. */
void store_bind_text(sqlite3_stmt *st, int i, const char *s);
void store_bind_u64(sqlite3_stmt *st, int i, uint64_t v);
char *store_col_text(sqlite3_stmt *st, int i); /* NULL or a copy */

/* writer.c */
int store_writer_start(struct store *s) PW_WUR;
/* Runs everything queued and its done callbacks, then stops the writer. */
void store_writer_stop(struct store *s);
void store_on_async(uv_async_t *h);
void store_on_kick(uv_prepare_t *h);

/*
 * read.c: a run row as a struct.  STORE_RUN_COLS are the columns every
 * run read selects, in this order; STORE_RUN_COLS_FULL adds the pipeline
 * snapshot (the last column of the row, so listings never read it).
 */
#define STORE_RUN_COLS \
	"id, project, status, trigger_kind, ref, branch, tag, commit_sha, " \
	"pr, fork, problems, created_at, started_at, finished_at, " \
	"pipeline_file, env, actor, log_bytes"
#define STORE_RUN_COLS_FULL STORE_RUN_COLS ", pipeline"
#define STORE_RUN_FINISHED "('success', 'failed', 'canceled', 'error')"
struct store_run *store_run_from_row(sqlite3_stmt *st, bool full);
int store_run_load_jobs(struct store *s, struct store_run *r) PW_WUR;
int store_read_begin(struct store *s) PW_WUR;
void store_read_end(struct store *s);

#endif
