/*
 * The schema as data: migration i (from 0) takes a database from
 * user_version i to i + 1.  store_open applies the missing ones in order,
 * each in its own transaction together with its new user_version, and
 * refuses a database whose user_version is past the end of this table (a
 * newer pipewright wrote it).  Never edit a migration that shipped: add
 * one.
 *
 * Why the shapes: times are UTC ms with 0 for "not yet"; statuses are
 * checked against sched's state names; the runs' large columns (problems,
 * the pipeline snapshot) come last in the row so that listing the small
 * ones never walks their overflow pages; logs are chunks keyed by (owner,
 * byte offset), so a reader can start anywhere and an append is one
 * insert.  Children go with their run by ON DELETE CASCADE.
 */
#include "store-int.h"

#define RUN_STATUSES \
	"('queued', 'running', 'success', 'failed', 'canceled', 'error')"
/*
 * The run states retention counts and prunes (store_tx_prune), of row t
 * ("new.", "old." or "" for the table's own).
 */
#define FINISHED_OR(t) \
	"(" t "status = 'success' OR " t "status = 'failed' OR " \
	t "status = 'canceled' OR " t "status = 'error')"
#define JOB_STATUSES \
	"('pending', 'ready', 'waiting', 'running', 'success', 'failed', " \
	"'canceled', 'skipped', 'timed_out', 'lost')"

const char *const store_migrations[] = {
	/* 1: runs, jobs, attempts, logs, events, tokens */
	"CREATE TABLE runs ("
	"  id INTEGER PRIMARY KEY,"
	"  project TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN " RUN_STATUSES "),"
	"  trigger_kind TEXT NOT NULL,"
	"  ref TEXT, branch TEXT, tag TEXT, commit_sha TEXT,"
	"  pr INTEGER NOT NULL DEFAULT 0,"
	"  fork INTEGER NOT NULL DEFAULT 0 CHECK (fork IN (0, 1)),"
	"  created_at INTEGER NOT NULL,"
	"  started_at INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  log_bytes INTEGER NOT NULL DEFAULT 0,"
	"  actor TEXT,"
	"  idempotency_key TEXT,"
	"  env TEXT,"
	"  pipeline_file TEXT,"
	"  problems TEXT,"
	"  pipeline BLOB,"
	"  UNIQUE (project, idempotency_key)"
	");"
	/* Listing newest first, by branch, by status; counting by status. */
	"CREATE INDEX runs_project ON runs (project, id);"
	"CREATE INDEX runs_branch ON runs (project, branch, id);"
	"CREATE INDEX runs_status ON runs (project, status, id);"
	/* The few runs a restart picks up again. */
	"CREATE INDEX runs_unfinished ON runs (id)"
	"  WHERE status IN ('queued', 'running');"
	"CREATE TABLE jobs ("
	"  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  idx INTEGER NOT NULL CHECK (idx >= 0),"
	"  name TEXT NOT NULL,"
	"  stage TEXT NOT NULL,"
	"  status TEXT NOT NULL CHECK (status IN " JOB_STATUSES "),"
	"  PRIMARY KEY (run_id, idx)"
	") WITHOUT ROWID;"
	"CREATE TABLE attempts ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL,"
	"  idx INTEGER NOT NULL,"
	"  number INTEGER NOT NULL CHECK (number >= 1),"
	"  status TEXT NOT NULL CHECK (status IN " JOB_STATUSES "),"
	"  exit_code INTEGER NOT NULL DEFAULT -1,"
	"  reason TEXT,"
	"  dir TEXT,"
	"  started_at INTEGER NOT NULL DEFAULT 0,"
	"  finished_at INTEGER NOT NULL DEFAULT 0,"
	"  log_bytes INTEGER NOT NULL DEFAULT 0,"
	"  UNIQUE (run_id, idx, number),"
	"  FOREIGN KEY (run_id, idx) REFERENCES jobs (run_id, idx)"
	"    ON DELETE CASCADE"
	");"
	"CREATE TABLE log_chunks ("
	"  attempt_id INTEGER NOT NULL REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  byte_offset INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (attempt_id, byte_offset)"
	") WITHOUT ROWID;"
	"CREATE TABLE run_log_chunks ("
	"  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  byte_offset INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (run_id, byte_offset)"
	") WITHOUT ROWID;"
	"CREATE TABLE events ("
	"  id INTEGER PRIMARY KEY,"
	"  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT"
	");"
	"CREATE INDEX events_run ON events (run_id, id);"
	"CREATE TABLE tokens ("
	"  id INTEGER PRIMARY KEY,"
	"  name TEXT NOT NULL UNIQUE,"
	"  scope TEXT NOT NULL,"
	"  hash TEXT NOT NULL UNIQUE CHECK (length(hash) = 64),"
	"  created_at INTEGER NOT NULL"
	");",

	/*
	 * 2: webhook deliveries (idempotency), the commit-status outbox,
	 * schedules' last firing.  A delivery outlives its run (SET NULL): a
	 * redelivery after the run was pruned must still make none.  The
	 * outbox holds one row per coalescing key, the newest put by seq;
	 * the sender's queue is the index by (state, next_at): the pending
	 * rows in the order they fall due.  No column holds a secret.
	 */
	"CREATE TABLE deliveries ("
	"  forge TEXT NOT NULL,"
	"  delivery_id TEXT NOT NULL,"
	"  project TEXT,"
	"  run_id INTEGER REFERENCES runs (id) ON DELETE SET NULL,"
	"  status INTEGER NOT NULL,"
	"  response TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (forge, delivery_id)"
	") WITHOUT ROWID;"
	"CREATE INDEX deliveries_created ON deliveries (created_at);"
	/* SET NULL looks the run up in deliveries when runs are pruned. */
	"CREATE INDEX deliveries_run ON deliveries (run_id)"
	"  WHERE run_id IS NOT NULL;"
	"CREATE TABLE outbox ("
	"  id INTEGER PRIMARY KEY,"
	"  key TEXT NOT NULL UNIQUE,"
	"  seq INTEGER NOT NULL,"
	"  run_id INTEGER,"
	"  method TEXT NOT NULL,"
	"  url TEXT NOT NULL,"
	"  headers TEXT,"
	"  body TEXT,"
	"  project TEXT NOT NULL,"
	"  state TEXT NOT NULL"
	"    CHECK (state IN ('pending', 'delivered', 'failed')),"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_at INTEGER NOT NULL,"
	"  last_error TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  updated_at INTEGER NOT NULL"
	");"
	"CREATE INDEX outbox_due ON outbox (state, next_at, id);"
	"CREATE INDEX outbox_state ON outbox (state, id);"
	"CREATE TABLE schedules ("
	"  project TEXT NOT NULL,"
	"  spec TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  last_fire INTEGER NOT NULL,"
	"  PRIMARY KEY (project, spec, ref)"
	") WITHOUT ROWID;",

	/*
	 * 3: settings — the daemon's own state that outlives a restart
	 * (the queue's pause), one text value per key.
	 */
	"CREATE TABLE settings ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT NOT NULL"
	") WITHOUT ROWID;",

	/*
	 * 4: pushes — the (ref, before, after) a webhook push named, with
	 * the run it made, so that the same push sent again under another
	 * delivery id (GitHub's and Gitea's signatures do not cover the id)
	 * answers that run.  run_id is a plain number, like a delivery's
	 * answer: the push stays known after its run is pruned.  before is
	 * '' when the payload had none.
	 */
	"CREATE TABLE pushes ("
	"  project TEXT NOT NULL,"
	"  ref TEXT NOT NULL,"
	"  before_sha TEXT NOT NULL,"
	"  after_sha TEXT NOT NULL,"
	"  run_id INTEGER NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  PRIMARY KEY (project, ref, before_sha, after_sha)"
	") WITHOUT ROWID;"
	"CREATE INDEX pushes_created ON pushes (created_at);",

	/*
	 * 5: what an Idempotency-Key stood for — SHA-256 (hex) of the
	 * trigger's canonical ref, commit and env — so that the key reused
	 * with another body is refused instead of answered with the first
	 * run.  NULL for runs made before (nothing to compare).
	 */
	"ALTER TABLE runs ADD COLUMN idempotency_hash TEXT;",

	/*
	 * 6: the host uid (= gid) a sandboxed attempt runs as, so that a
	 * daemon that adopts it after a restart keeps that uid for its run
	 * and never hands it to another; 0: none recorded (not sandboxed,
	 * or started before this column).
	 */
	"ALTER TABLE attempts ADD COLUMN job_uid INTEGER NOT NULL DEFAULT 0;",

	/*
	 * 7: audit — who did what to the daemon itself (the queue's pause
	 * and resume), as events are for a run.  Its own table: no run to
	 * hang the rows on, and no pruning with the runs.
	 */
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY,"
	"  time INTEGER NOT NULL,"
	"  actor TEXT NOT NULL,"
	"  action TEXT NOT NULL,"
	"  detail TEXT"
	");",

	/*
	 * 8: where a rerun put a job back in the queue — the attempts it had
	 * then, or NULL if no rerun did — so that a restart neither forgets
	 * a rerun still queued (a paused queue) nor gives a job's retry and
	 * lost_retries budgets back: they count the attempts after it.
	 */
	"ALTER TABLE jobs ADD COLUMN rerun_after INTEGER;",

	/*
	 * 9: artifacts and caches — the metadata of content-addressed
	 * blobs (the files live under <data_dir>/blobs).  An artifact goes
	 * with its run (CASCADE: a pruned run takes its rows along); once
	 * its blob is released by expiry the row stays, removed_ms set, so
	 * that a job needing it and a download are told when it expired
	 * instead of "no such artifact".  expires_ms 0: never.  A cache
	 * entry is immutable: (project, scope, key) is saved once, by the
	 * first complete save.  Indexes: a key prefix within a scope is a
	 * range of the unique key (restore_keys, newest first by sorting
	 * that range); the expiry pass walks artifacts by expires_ms, the
	 * eviction by last_used_ms; blob collection asks for a digest.
	 */
	"CREATE TABLE artifacts ("
	"  run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,"
	"  job_idx INTEGER NOT NULL CHECK (job_idx >= 0),"
	"  job_name TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  digest TEXT NOT NULL CHECK (length(digest) = 64),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  files INTEGER NOT NULL CHECK (files >= 0),"
	"  created_ms INTEGER NOT NULL,"
	"  expires_ms INTEGER NOT NULL DEFAULT 0,"
	"  removed_ms INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (run_id, name)"
	") WITHOUT ROWID;"
	"CREATE INDEX artifacts_expires ON artifacts (expires_ms)"
	"  WHERE expires_ms > 0 AND removed_ms = 0;"
	"CREATE INDEX artifacts_digest ON artifacts (digest)"
	"  WHERE removed_ms = 0;"
	"CREATE TABLE caches ("
	"  id INTEGER PRIMARY KEY,"
	"  project TEXT NOT NULL,"
	"  scope TEXT NOT NULL,"
	"  key TEXT NOT NULL,"
	"  digest TEXT NOT NULL CHECK (length(digest) = 64),"
	"  size INTEGER NOT NULL CHECK (size >= 0),"
	"  created_ms INTEGER NOT NULL,"
	"  last_used_ms INTEGER NOT NULL,"
	"  UNIQUE (project, scope, key)"
	");"
	"CREATE INDEX caches_used ON caches (last_used_ms);"
	"CREATE INDEX caches_digest ON caches (digest);"
	"CREATE INDEX caches_project ON caches (project, id);",

	/*
	 * 10: outbox kinds and their policy.  `kind` names the sender
	 * ('status': a forge commit status, coalesced by key and given up
	 * after a number of attempts; 'webhook', 'slack', 'email': a
	 * notification, one row each, retried until expires_at).  expires_at
	 * 0: the attempt count decides.  `target` names the configuration
	 * entry whose secrets the sender looks up at send time (never the
	 * secrets themselves).
	 */
	"ALTER TABLE outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'status';"
	"ALTER TABLE outbox ADD COLUMN expires_at INTEGER NOT NULL DEFAULT 0;"
	"ALTER TABLE outbox ADD COLUMN target TEXT;",

	/*
	 * 11: traces — a run's trace id and the span id of its run span, an
	 * attempt's span id, chosen before the job starts (its TRACEPARENT
	 * names its span before the span is sent), and the timed steps of an
	 * attempt (workspace, cache and artifact restore and save, ...) that
	 * become its child spans when it ends.  Hex text; NULL for rows from
	 * before (ids are then chosen when they are first needed).
	 */
	"ALTER TABLE runs ADD COLUMN trace_id TEXT;"
	"ALTER TABLE runs ADD COLUMN span_id TEXT;"
	"ALTER TABLE attempts ADD COLUMN span_id TEXT;"
	"CREATE TABLE attempt_steps ("
	"  attempt_id INTEGER NOT NULL REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  span_id TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  finished_at INTEGER NOT NULL,"
	"  error TEXT,"
	"  PRIMARY KEY (attempt_id, span_id)"
	") WITHOUT ROWID;",
	/*
	 * 12: test reports — every test case an attempt's JUnit reports
	 * held, and the project's flaky tests.  A case carries its
	 * project, job name (the matrix leg's full name) and commit, so
	 * that "the same test at the same commit" is one index range
	 * (test_cases_key) without a join; the writer looks there when it
	 * inserts a case and counts a disagreement with an earlier result
	 * in flaky_tests, a small table the API and the run's summary read
	 * instead of scanning history.  A case's `retried` (it passed, an
	 * earlier attempt of its job in the run failed it) is decided on
	 * insert too, with test_cases_attempt; an attempt's counts are
	 * summed then into test_summaries, so that a run's JSON never
	 * counts 100,000 rows on the loop thread.  test_cases_status is a
	 * listing's or the flaky count's range of one status.  Cases and
	 * summaries go with their attempt (CASCADE, so with their run);
	 * flaky_tests stay, a project's memory of its tests.
	 */
	"CREATE TABLE test_cases ("
	"  id INTEGER PRIMARY KEY,"
	"  attempt_id INTEGER NOT NULL REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  project TEXT NOT NULL,"
	"  job_name TEXT NOT NULL,"
	"  commit_sha TEXT,"
	"  suite TEXT NOT NULL,"
	"  classname TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  file TEXT,"
	"  status TEXT NOT NULL CHECK (status IN"
	"    ('passed', 'failed', 'error', 'skipped')),"
	"  duration_ms INTEGER NOT NULL DEFAULT 0,"
	"  message TEXT,"
	"  retried INTEGER NOT NULL DEFAULT 0 CHECK (retried IN (0, 1)),"
	"  created_ms INTEGER NOT NULL"
	");"
	"CREATE INDEX test_cases_attempt ON test_cases"
	"  (attempt_id, suite, classname, name);"
	"CREATE INDEX test_cases_status ON test_cases (attempt_id, status);"
	"CREATE TABLE test_summaries ("
	"  attempt_id INTEGER PRIMARY KEY REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  passed INTEGER NOT NULL, failed INTEGER NOT NULL,"
	"  error INTEGER NOT NULL, skipped INTEGER NOT NULL,"
	"  retried INTEGER NOT NULL"
	");"
	"CREATE INDEX test_cases_key ON test_cases"
	"  (project, job_name, suite, classname, name, commit_sha);"
	"CREATE TABLE flaky_tests ("
	"  project TEXT NOT NULL,"
	"  job_name TEXT NOT NULL,"
	"  suite TEXT NOT NULL,"
	"  classname TEXT NOT NULL,"
	"  name TEXT NOT NULL,"
	"  flips INTEGER NOT NULL DEFAULT 0,"
	"  first_ms INTEGER NOT NULL,"
	"  last_ms INTEGER NOT NULL,"
	"  last_commit TEXT,"
	"  last_run INTEGER,"
	"  PRIMARY KEY (project, job_name, suite, classname, name)"
	") WITHOUT ROWID;"
	"CREATE INDEX flaky_tests_last ON flaky_tests (project, last_ms);",

	/*
	 * 13: services' log streams — a job's services each have a log of
	 * their own beside the job's, as chunks keyed by stream name ('' is
	 * the job's own log, every row from before), and the size of each
	 * service stream of an attempt.  The table is rebuilt: its primary
	 * key gains the stream, so a stream's offsets start at 0 too.
	 */
	"CREATE TABLE log_chunks_v13 ("
	"  attempt_id INTEGER NOT NULL REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  stream TEXT NOT NULL DEFAULT '',"
	"  byte_offset INTEGER NOT NULL,"
	"  data BLOB NOT NULL,"
	"  PRIMARY KEY (attempt_id, stream, byte_offset)"
	") WITHOUT ROWID;"
	"INSERT INTO log_chunks_v13 (attempt_id, stream, byte_offset, data)"
	"  SELECT attempt_id, '', byte_offset, data FROM log_chunks;"
	"DROP TABLE log_chunks;"
	"ALTER TABLE log_chunks_v13 RENAME TO log_chunks;"
	"CREATE TABLE attempt_streams ("
	"  attempt_id INTEGER NOT NULL REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  stream TEXT NOT NULL,"
	"  log_bytes INTEGER NOT NULL DEFAULT 0,"
	"  PRIMARY KEY (attempt_id, stream)"
	") WITHOUT ROWID;",

	/*
	 * 14: the dashboard — sessions, the indexes of its queries, the
	 * log's sections.  A
	 * session is the SHA-256 (hex) of its cookie's value, never the
	 * value; it acts as the token it was opened with, and goes with
	 * that token (CASCADE), so revoking a token signs its sessions out.
	 * csrf is the value the page echoes in X-CSRF-Token: not a secret
	 * against the store's reader, only against other origins.  Runs
	 * across projects are listed newest first by status, branch or
	 * trigger with no project: each filter gets an index ending in id,
	 * so a page is a walk down one index (store_runs_across); the
	 * trigger also within a project.
	 */
	"CREATE TABLE sessions ("
	"  hash TEXT PRIMARY KEY CHECK (length(hash) = 64),"
	"  token_id INTEGER NOT NULL REFERENCES tokens (id) ON DELETE CASCADE,"
	"  csrf TEXT NOT NULL,"
	"  created_at INTEGER NOT NULL,"
	"  expires_at INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"CREATE INDEX sessions_expires ON sessions (expires_at);"
	"CREATE INDEX sessions_token ON sessions (token_id);"
	"CREATE INDEX runs_all_status ON runs (status, id);"
	"CREATE INDEX runs_all_branch ON runs (branch, id);"
	"CREATE INDEX runs_all_trigger ON runs (trigger_kind, id);"
	"CREATE INDEX runs_trigger ON runs (project, trigger_kind, id);"
	/*
	 * Where each script line of an attempt began in its log: its line
	 * number (from 1), the command and when its "$ command" echo
	 * arrived, for the log viewer's collapsible sections.  A section
	 * lasts until the next one starts or the attempt ends.
	 */
	"CREATE TABLE log_sections ("
	"  attempt_id INTEGER NOT NULL REFERENCES attempts (id)"
	"    ON DELETE CASCADE,"
	"  line INTEGER NOT NULL CHECK (line >= 1),"
	"  command TEXT NOT NULL,"
	"  started_at INTEGER NOT NULL,"
	"  PRIMARY KEY (attempt_id, line)"
	") WITHOUT ROWID;",

	/*
	 * 15: retention without scanning the history.  run_counts holds
	 * each project's number of finished runs, kept by triggers in the
	 * statement that inserts a run, changes its status or deletes it,
	 * so it is right whoever writes the runs (the daemon, the CLI's run
	 * cache, rows inserted by hand) and commits with them.  Retention
	 * reads one row to know whether the project is over keep_runs, and
	 * deletes the oldest finished runs by runs_status (one arm per
	 * finished state, merged by id); runs_finished_at finds the runs
	 * past keep_days by a range instead of a walk of every finished run.
	 * The finished states are spelled as ORs, not IN lists: SQLite
	 * builds an IN list's table again each time a trigger or a partial
	 * index evaluates it, which tripled the cost of a run's status
	 * update (callgrind: +216,000 instructions per update with IN
	 * lists, +25,000 with ORs).  The counts start from the runs there
	 * are: one pass, once.
	 */
	"CREATE TABLE run_counts ("
	"  project TEXT PRIMARY KEY,"
	"  finished INTEGER NOT NULL"
	") WITHOUT ROWID;"
	"INSERT INTO run_counts (project, finished)"
	"  SELECT project, count(*) FROM runs WHERE " FINISHED_OR("")
	"  GROUP BY project;"
	/* store_tx_prune's query repeats this WHERE word for word. */
	"CREATE INDEX runs_finished_at ON runs (project, finished_at)"
	"  WHERE " FINISHED_OR("") ";"
	"CREATE TRIGGER runs_count_insert AFTER INSERT ON runs"
	"  WHEN " FINISHED_OR("new.") " BEGIN"
	"  INSERT INTO run_counts (project, finished) VALUES (new.project, 1)"
	"    ON CONFLICT (project) DO UPDATE SET finished = finished + 1;"
	"  END;"
	"CREATE TRIGGER runs_count_delete AFTER DELETE ON runs"
	"  WHEN " FINISHED_OR("old.") " BEGIN"
	"  UPDATE run_counts SET finished = finished - 1"
	"    WHERE project = old.project;"
	"  END;"
	"CREATE TRIGGER runs_count_finish AFTER UPDATE OF status ON runs"
	"  WHEN NOT " FINISHED_OR("old.") " AND " FINISHED_OR("new.") " BEGIN"
	"  INSERT INTO run_counts (project, finished) VALUES (new.project, 1)"
	"    ON CONFLICT (project) DO UPDATE SET finished = finished + 1;"
	"  END;"
	/* A rerun takes a finished run back to queued. */
	"CREATE TRIGGER runs_count_unfinish AFTER UPDATE OF status ON runs"
	"  WHEN " FINISHED_OR("old.") " AND NOT " FINISHED_OR("new.") " BEGIN"
	"  UPDATE run_counts SET finished = finished - 1"
	"    WHERE project = old.project;"
	"  END;",
	/*
	 * 16: runs_unfinished goes.  runs_all_status (status, id) holds
	 * the same rows in the same order, as two ranges ('queued' and
	 * 'running') that store_runs_unfinished merges by id, so the
	 * partial index was a tenth b-tree on runs that every run's
	 * insert and two of its status changes wrote for a read made once
	 * per daemon start.
	 */
	"DROP INDEX runs_unfinished;",
};

const size_t store_nmigrations = PW_ARRAY_LEN(store_migrations);
