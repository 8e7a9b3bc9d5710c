/*
 * store: the SQLite history — the only module that speaks SQL.
 *
 * One database file in WAL mode with foreign keys, migrated by
 * user_version.  Writes never run on the loop thread: store_write() queues
 * a function that one writer thread runs inside a transaction, many queued
 * functions sharing one commit (group commit; each in its own savepoint, so
 * one failing does not undo the others), synchronous=FULL, and the done
 * callback runs on the loop thread after the commit (or its failure).
 * Automatic checkpoints are off; the writer thread runs passive checkpoints
 * when it is idle.  Reads run on the loop thread on a second connection,
 * through prepared statements kept for reuse; WAL lets them proceed while
 * the writer commits.
 *
 * Times are UTC milliseconds.  Statuses are the lower-case state names of
 * sched ("queued", "running", "success", "timed_out", ...); the schema
 * refuses others.  A run is finished when its status is success, failed,
 * canceled or error.
 *
 * Errors are negative errnos: -EEXIST a unique key is taken (a second run
 * with the same project and idempotency key, a job index or attempt number
 * twice, a token name or hash twice); -ENOENT no such row (or a write that
 * names a run, job or attempt that does not exist); -EINVAL a bad argument
 * or status; -ENOSPC, -EROFS, -EIO the disk is full, the database is
 * read-only, another I/O error; -EBUSY another process holds the database.
 * See docs/internals/store.md.
 */
#ifndef PIPEWRIGHT_STORE_H
#define PIPEWRIGHT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/util.h"

struct store;
struct store_tx; /* a transaction, on the writer thread only */

/* What the API shows of an attempt, job and run. */
struct store_attempt {
	uint64_t id;
	int number;              /* from 1 per job */
	char *status;
	int exit_code;           /* -1 if none */
	char *reason;            /* NULL if none */
	uint64_t started_at, finished_at; /* 0 if not yet */
	uint64_t log_bytes;      /* bytes of log stored */
	char *dir;               /* the supervisor's directory */
	uint32_t job_uid;        /* host uid (= gid) it runs as; 0: none */
};

struct store_job {
	int idx;                 /* the job's index in the pipeline */
	char *name;
	char *stage;
	char *status;            /* its latest attempt's since the last rerun,
	                            or its own before one */
	int rerun_after;         /* attempts it had when a rerun queued it
	                            again; -1: no rerun did */
	size_t nattempts;
	struct store_attempt *attempts; /* oldest first */
};

struct store_run {
	uint64_t id;
	char *project;
	char *status;
	char *trigger;           /* "api", "webhook", "schedule" */
	char *ref, *branch, *tag, *commit; /* NULL if none */
	int64_t pr;              /* 0 if none */
	bool fork;
	char *problems;          /* a JSON array, or NULL */
	uint64_t created_at, started_at, finished_at;
	uint64_t log_bytes;      /* bytes of run log (store_tx_run_log_append) */
	char *pipeline_file;     /* where the snapshot came from */
	char *pipeline;          /* the raw YAML snapshot, NULL if not read yet */
	size_t pipeline_len;
	char *env;               /* the trigger's env as a JSON object, or NULL */
	char *actor;             /* who triggered it: a token's name, "webhook" */
	size_t njobs;
	struct store_job *jobs;  /* by index; empty in listings */
};

void store_run_free(struct store_run *r);
void store_runs_free(struct store_run **runs, size_t n);

/*
 * Opens (creating and migrating) the database at path, starts the writer
 * thread.  -errno or a negative SQLite-mapped error; *err (caller frees)
 * says what went wrong for people, e.g. "cannot open /x/pipewright.db:
 * unable to open database file" or "database schema version 7 is newer
 * than this pipewright (knows 3)" (-ENOTSUP).  Only the daemon opens the
 * database.  A database file that is read-only opens: reads work and every
 * write fails with -EROFS until the file is writable again.
 */
int store_open(uv_loop_t *loop, const char *path, struct store **out,
	       char **err) PW_WUR;

typedef void (*store_close_cb)(void *arg);
/*
 * Runs every queued write (and the writes their done callbacks queue) and
 * their done callbacks, before it returns; stops the writer thread and
 * closes both connections.  The loop handle closes asynchronously: the
 * memory is freed and cb (if not NULL) is called from the loop, so run the
 * loop once more before uv_loop_close().  Not from inside a done callback.
 */
void store_close(struct store *s, store_close_cb cb, void *arg);

/* ---- writes (group-committed on the writer thread) ---- */

/*
 * Runs on the writer thread inside a transaction, in its own savepoint:
 * 0 keeps its changes, a negative error undoes them (and only them).  It
 * must not touch loop-thread state; arg is handed over until done runs.
 */
typedef int (*store_write_fn)(struct store_tx *tx, void *arg);
/*
 * Runs on the loop thread once the transaction committed (rc 0 and the
 * change is durable) or failed (fn's own error, or for every fn of the
 * batch: -ENOSPC, -EROFS or -EIO when the commit failed).
 */
typedef void (*store_done_cb)(int rc, void *arg);

/*
 * Queues fn; done (may be NULL) is called exactly once, in queue order,
 * and may queue more writes.  While writes are queued the store keeps the
 * loop alive; an idle store does not.
 */
void store_write(struct store *s, store_write_fn fn, store_done_cb done,
		 void *arg);
/*
 * The same, for a change that must not be lost to a full disk or a
 * read-only file (a job's log bytes and result, a run's final status):
 * when its transaction fails with -ENOSPC, -EROFS or -EIO the writer keeps
 * it, in order, and runs it again ahead of every later write, at the next
 * batch and at least every STORE_RETRY_MS (1 s), until it commits; only
 * then is done called.  fn must give the same result when run again.
 * store_close gives up on what is still kept: done gets the error.
 */
void store_write_retry(struct store *s, store_write_fn fn, store_done_cb done,
		       void *arg);
/* Writes queued or running: back-pressure for log ingestion. */
size_t store_pending(const struct store *s);

/* Counters since store_open, for /metrics and tests. */
struct store_stats {
	uint64_t writes;          /* fns run */
	uint64_t commits;         /* transactions committed */
	uint64_t commit_failures; /* transactions that failed as a whole */
	uint64_t checkpoints;     /* passive checkpoints run when idle */
};
void store_stats(const struct store *s, struct store_stats *out);

struct store_run_new {
	const char *project;
	const char *status;
	const char *trigger;
	const char *ref, *branch, *tag, *commit;
	int64_t pr;
	bool fork;
	const char *problems;
	const char *pipeline_file;
	const char *pipeline;
	size_t pipeline_len;
	const char *env;
	const char *actor;
	const char *idempotency_key; /* unique per project, or NULL */
	const char *idempotency_hash; /* what the key stood for, or NULL */
	uint64_t created_at;
};

/* -EEXIST if the project already has a run with this idempotency key. */
int store_tx_run_insert(struct store_tx *tx, const struct store_run_new *r,
			uint64_t *id) PW_WUR;
/*
 * The run an idempotency key made before: 0 and *id, or -ENOENT.  If hash
 * is not NULL, *hash is the idempotency_hash stored with it (caller
 * frees; NULL if none was).
 */
int store_tx_run_by_key(struct store_tx *tx, const char *project,
			const char *key, uint64_t *id, char **hash) PW_WUR;
/*
 * 0 times leave the stored ones unchanged; going back to queued or running
 * (a rerun) clears finished_at.  A run already running keeps its
 * started_at: a daemon that takes a run up again reports it running
 * again, and the run started when it first did (a rerun goes through
 * queued, and starts anew).
 */
int store_tx_run_set_status(struct store_tx *tx, uint64_t run,
			    const char *status, uint64_t started_at,
			    uint64_t finished_at) PW_WUR;
/*
 * A rerun put the job back in the queue when it had `after` attempts: it
 * is pending, and reads show its own status until an attempt after those
 * exists.  after < 0: the rerun left the job alone (no mark).
 */
int store_tx_job_rerun(struct store_tx *tx, uint64_t run, int idx,
		       int after) PW_WUR;
int store_tx_run_set_pipeline(struct store_tx *tx, uint64_t run,
			      const char *file, const char *yaml, size_t len,
			      const char *problems) PW_WUR;
int store_tx_job_insert(struct store_tx *tx, uint64_t run, int idx,
			const char *name, const char *stage,
			const char *status) PW_WUR;
int store_tx_job_set_status(struct store_tx *tx, uint64_t run, int idx,
			    const char *status) PW_WUR;
struct store_attempt_new {
	uint64_t run;
	int idx;                 /* the job's index in the run */
	int number;              /* 1, 2, ...: the job's nth attempt */
	const char *status;
	const char *dir;         /* the attempt's directory */
	uint64_t started_at;     /* UTC ms */
};
/* *id: the new attempt's row. */
int store_tx_attempt_insert(struct store_tx *tx,
			    const struct store_attempt_new *a,
			    uint64_t *id) PW_WUR;
/* The host uid (= gid) a sandboxed attempt runs as (config `job_ids`). */
int store_tx_attempt_set_uid(struct store_tx *tx, uint64_t attempt,
			     uint32_t uid) PW_WUR;
int store_tx_attempt_finish(struct store_tx *tx, uint64_t attempt,
			    const char *status, int exit_code,
			    const char *reason, uint64_t finished_at) PW_WUR;
/*
 * Log bytes at offset, which must equal the bytes stored so far (else
 * -EINVAL: no gap, no duplicate).
 */
int store_tx_log_append(struct store_tx *tx, uint64_t attempt,
			uint64_t offset, const char *data, size_t len) PW_WUR;
/*
 * The same for `len` bytes read from the file `fd` at `offset` (the log's
 * own offset: the file is the attempt's log, written by its supervisor),
 * read here, on the writer thread, and stored in rows of at most
 * STORE_LOG_ROW bytes: the bytes never pass through the caller's thread.
 * -EIO if the file holds fewer bytes than that.
 */
#define STORE_LOG_ROW (256 * 1024)
int store_tx_log_append_file(struct store_tx *tx, uint64_t attempt,
			     uint64_t offset, int fd, uint64_t len) PW_WUR;
/*
 * A service's log stream of an attempt (`stream` is the service's name,
 * never ''): bytes at offset, which must equal the stream's bytes stored
 * so far (else -EINVAL); the stream is made by its first append.
 */
int store_tx_stream_append(struct store_tx *tx, uint64_t attempt,
			   const char *stream, uint64_t offset,
			   const char *data, size_t len) PW_WUR;
/* The run's own log (checkout, pipeline problems), appended at its end. */
int store_tx_run_log_append(struct store_tx *tx, uint64_t run,
			    const char *data, size_t len) PW_WUR;
/* The audit trail: who did what to a run. */
int store_tx_event(struct store_tx *tx, uint64_t run, uint64_t time,
		   const char *actor, const char *action,
		   const char *detail) PW_WUR;
/*
 * The daemon-wide audit trail: who did what to the daemon itself (the
 * queue's pause and resume), as store_tx_event is for a run.
 */
int store_tx_audit(struct store_tx *tx, uint64_t time, const char *actor,
		   const char *action, const char *detail) PW_WUR;
int store_tx_token_insert(struct store_tx *tx, const char *name,
			  const char *scope, const char *hash_hex,
			  uint64_t created_at) PW_WUR;
/*
 * Prunes a project's finished runs beyond the newest keep_runs (0: no
 * count limit) or finished before older_than (UTC ms; 0: no age limit),
 * with their jobs, attempts, logs and events, at most `limit` of them (0:
 * all), the oldest first.  Runs not finished are never pruned.  The
 * pruned runs' ids are appended to *ids (caller frees; *ids NULL and
 * *nids 0 to start) so that their directories can be removed; as many as
 * `limit` of them means there may be more.  The cost is the runs it
 * deletes, not the history: the count is one row (run_counts), the runs
 * are found by index ranges.  By age, the store's newest run is kept
 * (run ids count up from it).
 */
int store_tx_prune(struct store_tx *tx, const char *project, size_t keep_runs,
		   uint64_t older_than, size_t limit, uint64_t **ids,
		   size_t *nids) PW_WUR;
/*
 * Deletes every finished run of a project, the newest included, as
 * store_tx_prune does: for a store whose run ids nothing outside names
 * (`pipewright run`'s cache, whose runs live as long as the command).
 */
int store_tx_prune_finished(struct store_tx *tx, const char *project,
			    uint64_t **ids, size_t *nids) PW_WUR;
/*
 * On the loop's connection: whether store_tx_prune with these limits
 * would prune anything (*due), at the cost of one or two index lookups.
 */
int store_prune_due(struct store *s, const char *project, size_t keep_runs,
		    uint64_t older_than, bool *due) PW_WUR;

/*
 * Traces (docs/operations.md, "Traces"): ids are lower-case hex, a trace
 * id 32 digits, a span id 16.  store_tx_run_trace: the run's stored ids,
 * or, if it has none yet, trace and span stored now; either way copied
 * into trace_out (33 bytes) and span_out (17).  -ENOENT: no such run.
 */
int store_tx_run_trace(struct store_tx *tx, uint64_t run, const char *trace,
		       const char *span, char *trace_out,
		       char *span_out) PW_WUR;
int store_tx_attempt_set_span(struct store_tx *tx, uint64_t attempt,
			      const char *span_id) PW_WUR;
/* A timed step of an attempt (a child span of its attempt span). */
struct store_step_new {
	uint64_t attempt;
	const char *span_id;     /* 16 hex, chosen by the caller */
	const char *name;        /* "workspace", "cache.restore", ... */
	uint64_t started_at, finished_at; /* UTC ms */
	const char *error;       /* why it failed, or NULL */
};
int store_tx_step_insert(struct store_tx *tx,
			 const struct store_step_new *s) PW_WUR;
struct store_trace_step {
	char *span_id, *name, *error;
	uint64_t started_at, finished_at;
};
/* What a run's or an attempt's spans are built from, read in the end's tx. */
struct store_trace {
	uint64_t run;
	char *project, *status, *trigger, *ref, *branch, *tag, *commit;
	int64_t pr;
	uint64_t created_at, started_at, finished_at;
	char *trace_id, *span_id;        /* NULL if none stored */
	/* With an attempt: */
	uint64_t attempt;                /* its row; 0: the run only */
	int idx, number, exit_code;
	char *job, *stage, *attempt_status, *reason, *attempt_span;
	uint64_t attempt_started, attempt_finished;
	uint32_t job_uid;
	struct store_trace_step *steps;  /* oldest first */
	size_t nsteps;
};
/* attempt 0: the run's part only.  -ENOENT: no such run or attempt. */
int store_tx_trace_read(struct store_tx *tx, uint64_t run, uint64_t attempt,
			struct store_trace *out) PW_WUR;
void store_trace_free(struct store_trace *t);

/*
 * Webhook deliveries, for idempotency: the first answer to a delivery id
 * is stored with the run it made (run 0: none; the run's pruning sets it
 * to none), and a redelivery finds it.  find: 0 and the answer's HTTP
 * status and body (caller frees), or -ENOENT.  put: -EEXIST if the
 * delivery is already stored, -EINVAL without forge or id.
 */
struct store_delivery_new {
	const char *forge;       /* forge_kind_name(): with id, the key */
	const char *id;          /* the forge's delivery id */
	const char *project;     /* NULL if none matched */
	uint64_t run;            /* the run it made, 0 if none */
	int status;              /* the HTTP status answered */
	const char *response;    /* the body answered */
	uint64_t created_at;     /* UTC ms */
};
int store_tx_delivery_find(struct store_tx *tx, const char *forge,
			   const char *id, int *status,
			   char **response) PW_WUR;
int store_tx_delivery_put(struct store_tx *tx,
			  const struct store_delivery_new *d) PW_WUR;
/* Deliveries stored before older_than (UTC ms) are deleted; *n says how many. */
int store_tx_deliveries_prune(struct store_tx *tx, uint64_t older_than,
			      uint64_t *n) PW_WUR;

/*
 * Webhook pushes, against replays: a push is what its signed body names,
 * whatever delivery id came with it.  The first run a push made is stored
 * with it (in the transaction that inserts the run); the same push again
 * finds that run.  The run may since have been pruned: the push is still
 * known.  find: 0 and *run, or -ENOENT.  put: -EEXIST if stored already.
 */
struct store_push {
	const char *project;
	const char *ref;     /* the full ref pushed */
	const char *before;  /* the payload's before; NULL: none */
	const char *after;   /* the commit pushed */
};
int store_tx_push_find(struct store_tx *tx, const struct store_push *p,
		       uint64_t *run) PW_WUR;
int store_tx_push_put(struct store_tx *tx, const struct store_push *p,
		      uint64_t run, uint64_t created_at) PW_WUR;
/* Pushes stored before older_than (UTC ms) are deleted; *n says how many. */
int store_tx_pushes_prune(struct store_tx *tx, uint64_t older_than,
			  uint64_t *n) PW_WUR;

/*
 * The outbox: HTTP calls (commit statuses) written in the same transaction
 * as the change that causes them and sent by notify, which retries them
 * until they are delivered or failed.  One row per coalescing key (e.g.
 * "github:acme/app:<sha>:<context>"): only the newest state per key is
 * sent.  Secrets are never stored here: the sender adds the auth header
 * for the row's project at send time.
 */
struct store_outbox_new {
	const char *key;         /* the coalescing key, required */
	/*
	 * Orders the puts of one key: a put whose seq is not greater than
	 * the stored row's is ignored (a late "pending" never overwrites
	 * "success").  E.g. a global counter, or the run status's rank.
	 */
	uint64_t seq;
	uint64_t run;            /* the run it is about, 0 if none */
	const char *method;      /* "POST" */
	const char *url;
	const char *headers;     /* "Name: value" lines, NULL if none */
	const char *body;        /* NULL if none */
	const char *project;     /* whose auth header the sender adds */
	uint64_t created_at;     /* also when it is first due */
	/*
	 * The sender (notify's kind table): NULL or "status" for a forge
	 * commit status, coalesced by key as above.  Any other kind is
	 * never coalesced: its key must be new (-EEXIST if not).
	 */
	const char *kind;
	uint64_t expires_at;     /* retried until then (UTC ms); 0: by count */
	const char *target;      /* the config entry it is for, or NULL */
};

/*
 * Inserts the row, or replaces the key's row (whatever its state, also
 * one in flight) by this newer one, pending with no attempts and due at
 * created_at.  0 also when the put is ignored as older (see seq); -EINVAL
 * without key, method, url or project.
 */
int store_tx_outbox_put(struct store_tx *tx,
			const struct store_outbox_new *o) PW_WUR;
/*
 * The sender's result for row id, as it was sent (seq): state "pending"
 * (a retry at next_at), "delivered" or "failed"; attempts made so far;
 * last_error NULL after a delivery.  -ESTALE (and nothing changed) if the
 * row's seq is no longer seq: a newer state was put while this one was in
 * flight, and that one is to be sent.  -ENOENT if there is no row id,
 * -EINVAL for another state or a negative attempts.
 */
struct store_outbox_result {
	uint64_t id;             /* the row */
	uint64_t seq;            /* the row's seq when it was sent */
	const char *state;       /* "pending", "delivered" or "failed" */
	int attempts;
	uint64_t next_at;        /* pending: when to try again (UTC ms) */
	const char *last_error;  /* NULL after a delivery */
	uint64_t now;            /* UTC ms: the row's updated_at */
};
int store_tx_outbox_result(struct store_tx *tx,
			   const struct store_outbox_result *r) PW_WUR;
/*
 * Delivered and failed rows last changed before older_than (UTC ms) are
 * deleted (pending ones never are); *n says how many.
 */
int store_tx_outbox_prune(struct store_tx *tx, uint64_t older_than,
			  uint64_t *n) PW_WUR;

/*
 * Schedules: when a (project, cron spec, ref) last fired, so that a slot
 * missed while the daemon was down runs once at start.  fired keeps the
 * later of the stored and the given time.
 */
int store_tx_schedule_fired(struct store_tx *tx, const char *project,
			    const char *spec, const char *ref,
			    uint64_t fire_ms) PW_WUR;

/*
 * Settings: the daemon's own state that must survive a restart (e.g.
 * "queue.paused"), as text by key.  value NULL deletes the key; deleting
 * one that is not set is not an error.  -EINVAL without a key.
 */
int store_tx_setting_put(struct store_tx *tx, const char *key,
			 const char *value) PW_WUR;

/*
 * Artifacts and caches (user_version 9): the metadata of blobs named by
 * their SHA-256 (digest: 64 lower-case hex).  The rules (keys, scopes,
 * expiry, eviction) are not here: these are the rows they read and write.
 */
struct store_artifact_new {
	uint64_t run;
	int job_idx;             /* the job that made it */
	const char *job_name;
	const char *name;        /* unique in the run */
	const char *digest;
	uint64_t size;           /* the archive's bytes */
	uint64_t files;          /* the files in it */
	uint64_t created_ms;
	uint64_t expires_ms;     /* 0: never */
};
/*
 * Records an artifact.  A row of the same run and name made by the same
 * job (a rerun's new attempt) is replaced, held again; one made by
 * another job is -EEXIST.  -ENOENT if the run does not exist, -EINVAL
 * without a name, job name or a 64-character digest.
 */
int store_tx_artifact_insert(struct store_tx *tx,
			     const struct store_artifact_new *a) PW_WUR;
/*
 * The artifact's blob is released by expiry at `now`: the row stays as a
 * record (removed_ms), so a download answers 410 and a job needing it
 * says when it expired; its digest no longer counts as referenced.
 * -ENOENT if there is no such artifact.
 */
int store_tx_artifact_expire(struct store_tx *tx, uint64_t run,
			     const char *name, uint64_t now) PW_WUR;
/* Deletes the row.  -ENOENT if there is none. */
int store_tx_artifact_delete(struct store_tx *tx, uint64_t run,
			     const char *name) PW_WUR;

struct store_cache_new {
	const char *project;
	const char *scope;       /* "branch:<name>", "pr:<n>", "tag:<t>" */
	const char *key;
	const char *digest;
	uint64_t size;           /* the archive's bytes */
	uint64_t created_ms;     /* also its first last_used_ms */
};
/*
 * First save wins: records the entry unless (project, scope, key) is
 * there already, and never rewrites one.  *won: whether this call made
 * the entry (false: another save was first; nothing changed).  -EINVAL
 * without project, scope, key or a 64-character digest.
 */
int store_tx_cache_insert(struct store_tx *tx, const struct store_cache_new *c,
			  bool *won) PW_WUR;
/* A restore used the entry at now.  -ENOENT if there is no such entry. */
int store_tx_cache_touch(struct store_tx *tx, const char *project,
			 const char *scope, const char *key,
			 uint64_t now) PW_WUR;
/*
 * Deletes a project's entries with this key, in one scope or (scope
 * NULL) in every scope; *n: how many (0 is not an error).  -EINVAL
 * without project or key.
 */
int store_tx_cache_delete(struct store_tx *tx, const char *project,
			  const char *key, const char *scope,
			  uint64_t *n) PW_WUR;
/*
 * Whether a blob is still named by a cache entry or an artifact not yet
 * expired: the same question as store_digest_referenced, inside a write
 * (e.g. after deleting a row, in the same transaction).  1 yes, 0 no.
 */
int store_tx_digest_referenced(struct store_tx *tx, const char *digest) PW_WUR;

/*
 * Test reports (tests.c).  A case as an attempt's reports held it;
 * status is "passed", "failed", "error" or "skipped".
 */
struct store_test_new {
	const char *suite, *classname, *name; /* never NULL */
	const char *file;        /* NULL if none */
	const char *status;
	const char *message;     /* NULL if none */
	uint64_t duration_ms;
};
/*
 * Stores the n cases of an attempt (replacing any it had: a daemon that
 * finishes an attempt again after a restart stores it once, and counts
 * its flips once).  project,
 * job_name (the expanded job's full name) and commit (NULL if none) key
 * the flaky detection: a passed case where an earlier attempt at the same
 * commit failed the same test of the same job (or the other way round)
 * counts one flip in the project's flaky tests (run: where it was seen).
 * -EINVAL for a bad status; -ENOENT no such attempt.
 *
 * One call stores at most STORE_TESTS_CHUNK cases, so that 100,000 cases
 * never hold the writer for seconds: *done (0 before the first call)
 * says how many of v are stored; call again, in another write, while it
 * is below n.  The attempt's summary is written with the last part, so
 * readers see its cases whole or not at all.  A first call that finds
 * part of the attempt stored (a daemon stopped between two parts) goes on
 * after what is there, the cases being in the same order; one that finds
 * the attempt whole replaces it in one part, its flips not counted again.
 */
#define STORE_TESTS_CHUNK 5000
int store_tx_tests_insert(struct store_tx *tx, uint64_t attempt,
			  uint64_t run, const char *project,
			  const char *job_name, const char *commit,
			  const struct store_test_new *v, size_t n,
			  uint64_t now, size_t *done) PW_WUR;

/* ---- reads (loop thread) ---- */

/* A run with its jobs and their attempts.  -ENOENT if none. */
int store_run_get(struct store *s, uint64_t id, struct store_run **out) PW_WUR;

struct store_run_filter {
	const char *project;       /* required */
	const char *const *status; /* NULL-terminated, or NULL: any */
	const char *branch;        /* NULL: any */
	size_t limit;              /* 1..200 */
	uint64_t before;           /* keyset cursor: ids below it; 0: newest */
	const char *trigger;       /* store_runs_across only; NULL: any */
	uint64_t after;            /* store_runs_across only: ids above it */
};
/*
 * Runs without jobs, newest first.  *next is the cursor for the next page,
 * 0 if this is the last.
 */
int store_runs_list(struct store *s, const struct store_run_filter *f,
		    struct store_run ***runs, size_t *n, uint64_t *next) PW_WUR;
/*
 * The same across projects (f->project NULL: every project) and by
 * trigger too; each filter walks an index newest first (dash.c).
 * store_runs_across_plan: the statement's EXPLAIN QUERY PLAN, one step a
 * line (caller frees), for the test that checks it.
 */
int store_runs_across(struct store *s, const struct store_run_filter *f,
		      struct store_run ***runs, size_t *n,
		      uint64_t *next) PW_WUR;
int store_runs_across_plan(struct store *s, const struct store_run_filter *f,
			   char **plan) PW_WUR;

/*
 * Dashboard sessions.  hash: SHA-256 (hex) of the cookie's value;
 * token_hash: of the API token it was opened with.  A session acts as
 * that token (name and scope read at every use) until expires_at or
 * until deleted; a token's removal ends its sessions.  Insert: -ENOENT
 * if no token has token_hash; expired sessions are removed on the way.
 */
struct store_session_new {
	const char *hash, *token_hash, *csrf;
	uint64_t now, expires_at;
};
struct store_session {
	char *token_name, *scope, *csrf;
	uint64_t expires_at;
};
int store_tx_session_insert(struct store_tx *tx,
			    const struct store_session_new *n) PW_WUR;
int store_tx_session_delete(struct store_tx *tx, const char *hash) PW_WUR;
/* A live session (not expired at now): 0 and *out, or -ENOENT. */
int store_session_find(struct store *s, const char *hash, uint64_t now,
		       struct store_session *out) PW_WUR;
void store_session_free(struct store_session *ss);

/*
 * A job's successful attempts in a project's runs, newest run first, at
 * most last (1..STORE_DURATIONS_MAX) of them (caller frees *out).
 * store_job_names: the job names of the project's newest run that has
 * jobs (caller frees each and the array).
 */
#define STORE_DURATIONS_MAX 1000
struct store_duration {
	uint64_t run;
	int attempt;
	uint64_t started_at, finished_at;
};
int store_job_durations(struct store *s, const char *project, const char *job,
			size_t last, struct store_duration **out,
			size_t *n) PW_WUR;
int store_job_names(struct store *s, const char *project, char ***names,
		    size_t *n) PW_WUR;
/*
 * The sections of an attempt's log: where each script line's "$ command"
 * echo is (line from 1) and when it arrived.  Oldest first; caller frees
 * with store_sections_free.
 */
struct store_section {
	uint64_t line;
	char *command;
	uint64_t started_at;
};
int store_tx_section_insert(struct store_tx *tx, uint64_t attempt,
			    uint64_t line, const char *command,
			    uint64_t started_at) PW_WUR;
int store_sections_list(struct store *s, uint64_t attempt,
			struct store_section **out, size_t *n) PW_WUR;
void store_sections_free(struct store_section *v, size_t n);
/*
 * The newest run of each of a project's branches, newest first, at most
 * limit (1..200) of them; runs without a branch are left out.
 */
int store_project_branches(struct store *s, const char *project, size_t limit,
			   struct store_run ***runs, size_t *n) PW_WUR;
/* The database file's size in bytes (its pages; the WAL not counted). */
int store_size(struct store *s, uint64_t *bytes) PW_WUR;

/*
 * The newest finished run of a project (on a branch if not NULL), with its
 * jobs.  -ENOENT if none.
 */
int store_run_latest_finished(struct store *s, const char *project,
			      const char *branch, struct store_run **out) PW_WUR;
/*
 * The status ("success", "failed" or "error") of the newest run of a
 * project's branch before run `before` that ended so (canceled runs say
 * nothing about the branch's health); -ENOENT if none.  For `fixed`.
 */
int store_run_last_outcome(struct store *s, const char *project,
			   const char *branch, uint64_t before,
			   char **status) PW_WUR;
/* Runs not finished (queued, running), oldest first, with jobs: for restart. */
int store_runs_unfinished(struct store *s, struct store_run ***runs,
			  size_t *n) PW_WUR;

/*
 * Up to max bytes of an attempt's (or run's) log from offset, appended to
 * out: nothing at or past the end.  -ENOENT if there is no such attempt
 * (run); -E2BIG if out's limit is reached.
 */
int store_log_read(struct store *s, uint64_t attempt, uint64_t offset,
		   size_t max, struct buf *out) PW_WUR;
int store_run_log_read(struct store *s, uint64_t run, uint64_t offset,
		       size_t max, struct buf *out) PW_WUR;
/*
 * The same for a service's stream of an attempt; *size (if not NULL): the
 * stream's bytes.  -ENOENT if the attempt has no such stream.
 */
int store_stream_read(struct store *s, uint64_t attempt, const char *stream,
		      uint64_t offset, size_t max, struct buf *out,
		      uint64_t *size) PW_WUR;
/* An attempt's service streams by name (caller frees with pw_strv_free). */
int store_streams_list(struct store *s, uint64_t attempt,
		       char ***names) PW_WUR;

struct store_event {
	uint64_t time;
	char *actor, *action, *detail;
};
/* A run's events, oldest first (caller frees with store_events_free). */
int store_events_list(struct store *s, uint64_t run, struct store_event **ev,
		      size_t *n) PW_WUR;
void store_events_free(struct store_event *ev, size_t n);

struct store_audit {
	uint64_t id;
	uint64_t time;
	char *actor, *action, *detail; /* detail NULL if none */
};
/*
 * The daemon-wide audit trail, newest first, keyset-paged like runs:
 * limit 1..200, before 0 for the first page, *next the cursor for the
 * next page or 0.  Caller frees with store_audit_free.
 */
int store_audit_list(struct store *s, size_t limit, uint64_t before,
		     struct store_audit **rows, size_t *n,
		     uint64_t *next) PW_WUR;
void store_audit_free(struct store_audit *rows, size_t n);

/*
 * The token whose SHA-256 (hex) is hash: its name and scope (caller frees).
 * -ENOENT if none.
 */
int store_token_find(struct store *s, const char *hash_hex, char **name,
		     char **scope) PW_WUR;

/* How many runs of each status ("queued" → 3, ...), for /metrics. */
int store_count_runs(struct store *s,
		     void (*cb)(void *arg, const char *project,
				const char *status, uint64_t n),
		     void *arg) PW_WUR;

struct store_outbox {
	uint64_t id;
	char *key;
	uint64_t seq;
	uint64_t run;            /* 0 if none */
	char *method, *url;
	char *headers;           /* NULL if none */
	char *body;              /* NULL if none */
	char *project;
	char *state;             /* "pending", "delivered", "failed" */
	int attempts;
	uint64_t next_at;        /* when a pending row is due */
	char *last_error;        /* NULL if none */
	uint64_t created_at, updated_at;
	char *kind;              /* "status", "webhook", "slack", "email", ... */
	uint64_t expires_at;     /* 0: given up after a number of attempts */
	char *target;            /* NULL if none */
};
void store_outbox_free(struct store_outbox *o);
void store_outboxes_free(struct store_outbox **rows, size_t n);

/*
 * Up to limit (1..200) pending rows due at now (next_at <= now), the
 * earliest due first (then by id).
 */
int store_outbox_due(struct store *s, uint64_t now, size_t limit,
		     struct store_outbox ***rows, size_t *n) PW_WUR;
/*
 * The earliest next_at after `after` among pending rows (after = 0: of all
 * of them), or -ENOENT if none.  The sender asks with the `now` of its
 * last store_outbox_due: every row due by then it has already seen.
 */
int store_outbox_next_at(struct store *s, uint64_t after,
			 uint64_t *when) PW_WUR;
/*
 * Rows in a state (NULL: any), newest first, keyset-paged like runs:
 * limit 1..200, before 0 for the first page, *next the cursor for the
 * next page or 0.
 */
int store_outbox_list(struct store *s, const char *state, size_t limit,
		      uint64_t before, struct store_outbox ***rows, size_t *n,
		      uint64_t *next) PW_WUR;
/*
 * Pending rows of a kind and URL whatever their next_at, soonest first,
 * up to limit: the rows a batch can take along before they fall due
 * (spans waiting out a collector's outage go together when it is back).
 */
int store_outbox_waiting(struct store *s, const char *kind, const char *url,
			 size_t limit, struct store_outbox ***rows,
			 size_t *n) PW_WUR;
/* How many rows are in a state (NULL: all), for /metrics. */
int store_outbox_count(struct store *s, const char *state,
		       uint64_t *n) PW_WUR;

/* When a schedule last fired: 0 and *last, or -ENOENT if never. */
int store_schedule_last(struct store *s, const char *project,
			const char *spec, const char *ref,
			uint64_t *last) PW_WUR;

/* A setting's value (caller frees), or -ENOENT if it is not set. */
int store_setting_get(struct store *s, const char *key, char **value) PW_WUR;

struct store_artifact {
	uint64_t run;
	int job_idx;
	char *job_name, *name, *digest;
	uint64_t size, files;
	uint64_t created_ms;
	uint64_t expires_ms;     /* 0: never */
	uint64_t removed_ms;     /* when expiry released its blob; 0: held */
};
void store_artifacts_free(struct store_artifact *rows, size_t n);
/* A run's artifacts by job index, then name (caller frees). */
int store_artifacts_list(struct store *s, uint64_t run,
			 struct store_artifact **rows, size_t *n) PW_WUR;
/* One artifact (caller frees with store_artifacts_free(*out, 1)); -ENOENT. */
int store_artifact_get(struct store *s, uint64_t run, const char *name,
		       struct store_artifact **out) PW_WUR;
/*
 * Up to limit (1..200) artifacts whose expires_ms has passed at now and
 * whose blob is still held, the earliest expired first.  keep_latest:
 * leave out those of a run that is the latest successful run of its
 * project's branch (runs of one pull request count apart from the
 * branch's own), which keeps them whatever their expire_in.
 */
int store_artifacts_expired(struct store *s, uint64_t now, bool keep_latest,
			    size_t limit, struct store_artifact **rows,
			    size_t *n) PW_WUR;

struct store_cache {
	uint64_t id;             /* the listing's cursor */
	char *project, *scope, *key, *digest;
	uint64_t size;
	uint64_t created_ms, last_used_ms;
};
void store_caches_free(struct store_cache *rows, size_t n);
/*
 * The entry a restore takes: for each scope in order (NULL-terminated),
 * the exact key (NULL: none), then each restore prefix in order
 * (NULL-terminated, may be NULL), the newest entry whose key starts with
 * it (an empty prefix: the newest of the scope).  -ENOENT if none
 * matches.  *out: caller frees with store_caches_free(*out, 1).
 */
int store_cache_lookup(struct store *s, const char *project,
		       const char *const *scopes, const char *key,
		       const char *const *prefixes,
		       struct store_cache **out) PW_WUR;
/*
 * A project's entries, newest first, keyset-paged like runs: limit
 * 1..200, before 0 for the first page, *next the cursor or 0.
 */
int store_caches_list(struct store *s, const char *project, size_t limit,
		      uint64_t before, struct store_cache **rows, size_t *n,
		      uint64_t *next) PW_WUR;
/* Sizes and counts, for /metrics and eviction. */
struct store_reuse_usage {
	uint64_t cache_bytes, cache_count;       /* every cache entry */
	uint64_t artifact_bytes, artifact_count; /* artifacts still held */
};
int store_reuse_usage(struct store *s, struct store_reuse_usage *out) PW_WUR;
/*
 * Up to limit (1..200) cache entries to evict, least recently used
 * first: those that do not fit in budget bytes when the most recently
 * used are kept first (budget 0: no byte limit), and those unused since
 * before unused_since (UTC ms; 0: no age limit).
 */
int store_caches_to_evict(struct store *s, uint64_t budget,
			  uint64_t unused_since, size_t limit,
			  struct store_cache **rows, size_t *n) PW_WUR;
/* Whether a cache entry or a held artifact names the digest. */
/*
 * A run's test cases: for each job, those of its latest attempt that has
 * any, in job order then as stored; statuses a comma-separated list
 * ("failed,error") or NULL for all; job -1 for every job; at most limit
 * rows (1..STORE_TESTS_MAX) with ids above after (0: from the start).
 * -EINVAL: a limit out of range or an unknown status.
 */
#define STORE_TESTS_MAX 10000
struct store_test {
	uint64_t id;
	int job_idx;
	char *job_name;
	int attempt;             /* its number */
	char *suite, *classname, *name, *file, *status, *message;
	uint64_t duration_ms;
	bool flaky;              /* failed or error, and a known flaky test
				    of the project */
	bool retried;            /* passed, and failed in an earlier
				    attempt of the job in this run */
};
int store_tests_list(struct store *s, uint64_t run, const char *statuses,
		     int job, size_t limit, uint64_t after,
		     struct store_test **rows, size_t *n) PW_WUR;
void store_tests_free(struct store_test *rows, size_t n);
/* Per job of a run (those with cases, by index), the same latest
 * attempt's counts. */
struct store_test_counts {
	int job_idx;
	int attempt;
	uint64_t passed, failed, error, skipped;
	uint64_t flaky;          /* of failed + error: known flaky tests */
	uint64_t retried;        /* of passed: failed in an earlier attempt */
};
int store_tests_counts(struct store *s, uint64_t run,
		       struct store_test_counts **rows, size_t *n) PW_WUR;
/* A project's flaky tests, the most recently seen first, at most limit
 * (1..200). */
struct store_flaky {
	char *job_name, *suite, *classname, *name;
	uint64_t flips;          /* results that disagreed with an earlier
				    one at the same commit */
	uint64_t first_ms, last_ms;
	char *last_commit;       /* NULL if none */
	uint64_t last_run;
};
int store_flaky_list(struct store *s, const char *project, size_t limit,
		     struct store_flaky **rows, size_t *n) PW_WUR;
void store_flaky_free(struct store_flaky *rows, size_t n);

int store_digest_referenced(struct store *s, const char *digest,
			    bool *referenced) PW_WUR;

/*
 * For /readyz: a trivial read works, the writer thread runs and the last
 * transaction did not fail for want of space, a writable file or the disk
 * (else that error).  After such a failure the writer tries a write of its
 * own (or the kept writes) every STORE_RETRY_MS, so this turns 0 again by
 * itself once the disk has space or the file is writable again, even when
 * nothing else is written.
 */
int store_check(struct store *s) PW_WUR;
/*
 * A store error for people: "the store cannot write: no space left on
 * device" (-ENOSPC), "... the database is read-only" (-EROFS), "... an
 * I/O error" (-EIO); strerror for the others.  Static text.
 */
const char *store_strerror(int rc);

/*
 * ---- the database file, apart from a running store (src/store/backup.c) ----
 *
 * For local commands (`pipewright backup`, `pipewright doctor`) while a
 * daemon may be serving: each opens its own read-only connection to the
 * file at db_path, waits up to STORE_BUSY_TIMEOUT_MS for a lock, never
 * writes to that file and never migrates it.  *err (caller frees) says what
 * went wrong for people.
 */
struct store_file_info {
	uint64_t bytes;          /* the copy's size */
	uint64_t runs;           /* runs in it */
	int schema_version;      /* its user_version */
};
/*
 * An online copy in one step (VACUUM INTO, one read snapshot, so the
 * daemon's writes neither disturb nor restart it) into a new file next to
 * out_path, quick-checked and fsynced, then linked to out_path, which must
 * not exist (-EEXIST, nothing written).  A crash never leaves a partial
 * file named out_path.
 */
int store_backup_file(const char *db_path, const char *out_path,
		      struct store_file_info *info, char **err) PW_WUR;

struct store_file_check {
	int schema_version;      /* the file's user_version */
	int schema_known;        /* the newest this pipewright knows */
	bool ok;                 /* PRAGMA integrity_check said "ok" */
	char *integrity;         /* its first lines otherwise (caller frees) */
	uint64_t max_run;        /* the highest run id, 0 if none */
	uint64_t *unfinished;    /* ids of queued and running runs, ascending */
	size_t nunfinished;
	char **running;          /* dirs of attempts whose status is running */
	size_t nrunning;
};
/*
 * PRAGMA integrity_check, the schema version and, from one snapshot, the
 * runs and attempts that are not finished (for orphaned files).  0 also
 * when the check found damage (ok false); a negative error if the file
 * cannot be opened or read at all.  If the listing fails after the check,
 * 0 with nothing listed and *err saying why.  Free with
 * store_file_check_free.
 */
int store_check_file(const char *db_path, struct store_file_check *out,
		     char **err) PW_WUR;
/*
 * The listing alone (schema_version, max_run, unfinished, running; ok
 * false, integrity NULL): cheap, for a second look after probing files
 * that changed while the first ran.  A negative error if it fails.
 */
int store_list_file(const char *db_path, struct store_file_check *out,
		    char **err) PW_WUR;
void store_file_check_free(struct store_file_check *c);

#endif
