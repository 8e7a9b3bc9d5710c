/*
 * The daemon's private layout, shared by src/daemon/ only.
 *
 * Every run the scheduler holds has a struct live_run (its id, its
 * project, its workspace); every running attempt a struct live_attempt
 * with the log bytes received but not yet committed and the followers
 * that stream them.  Finished runs leave memory: the store has them, and
 * a rerun or an approval rebuilds them from it.
 */
#ifndef PIPEWRIGHT_DAEMON_INT_H
#define PIPEWRIGHT_DAEMON_INT_H

#include <uv.h>

#include "pipewright/api.h"
#include "pipewright/config.h"
#include "pipewright/daemon.h"
#include "pipewright/exec.h"
#include "pipewright/http.h"
#include "pipewright/image.h"
#include "pipewright/log.h"
#include "pipewright/pipeline.h"
#include "pipewright/sched.h"
#include "pipewright/notify.h"
#include "pipewright/store.h"

/*
 * The operations the api acts through (apienv.c hands them over as its
 * api_env); every change is committed before its callback reports
 * success, so an answered request is never lost.  Actors ("token NAME",
 * "webhook", "schedule") go into the run's audit trail.
 */
struct store *daemon_store(struct daemon *d);
const struct config *daemon_config(const struct daemon *d);
/* "http://host:port" or the configured public_url, without a trailing '/'. */
const char *daemon_public_url(const struct daemon *d);
/* The store is writable and the loop answers (for /readyz). */
bool daemon_ready(struct daemon *d);

/*
 * The result of a change, always reported through the callback (at once
 * for a change refused up front): rc 0 and the run's id, or rc < 0 and a message
 * for people (-ENOENT no such project/run/job, -EINVAL bad input,
 * -EALREADY/-EBUSY conflicts, -ENOSPC/-EROFS/-EIO store unavailable).
 */
typedef void (*daemon_done_cb)(int rc, uint64_t run, const char *message,
			       void *arg);

struct daemon_trigger {
	const char *project;
	const char *ref;               /* NULL: none */
	const char *commit;            /* NULL: none */
	const char *const *env;        /* "K=V", NULL-terminated, or NULL */
	const char *idempotency_key;   /* NULL: none */
	const char *actor;
	const char *trigger;           /* "api", "webhook", "schedule" */
	/* Webhooks and repository projects: */
	const char *branch;            /* overrides what ref says (a PR's source) */
	int64_t pr;                    /* 0: not a pull/merge request */
	bool fork;                     /* from another repository: no secrets */
	const char *forge;             /* the delivery's forge ("github") */
	const char *delivery;          /* its delivery id: a redelivery answers
	                                  with the first run; NULL: none */
	bool push;                     /* a webhook push: the same (project,
	                                  ref, before, commit) again answers
	                                  with the first run, whatever its
	                                  delivery id */
	const char *before;            /* the push's before; NULL: none */
	/* Schedules: the fire is recorded with the run (spec NULL: none). */
	const char *schedule_spec, *schedule_ref;
	uint64_t schedule_fire;
};

/*
 * Creates a run: queued, or error with problems if the pipeline is bad.  A
 * project with a repository needs the commit; its pipeline is read from
 * that commit after the checkout.  The callback's message is "again" for
 * a request seen before (Idempotency-Key, delivery id or push): run is the
 * one it made.  A webhook run of a branch or pull request whose commit is
 * no longer the ref's head when it is checked out ends canceled ("stale
 * push") unless the project has build_every_push; only a run found not
 * stale cancels older runs of its branch (cancel_superseded).
 */
void daemon_trigger(struct daemon *d, const struct daemon_trigger *t,
		    daemon_done_cb cb, void *arg);
void daemon_cancel(struct daemon *d, uint64_t run, const char *actor,
		   daemon_done_cb cb, void *arg);
/* names: NULL-terminated job names, or NULL for every failed job. */
void daemon_rerun(struct daemon *d, uint64_t run, const char *const *names,
		  const char *actor, daemon_done_cb cb, void *arg);
void daemon_approve(struct daemon *d, uint64_t run, const char *job,
		    const char *actor, daemon_done_cb cb, void *arg);

/*
 * Pauses (or resumes) the queue: while paused, queued runs stay queued and
 * runs already running go on.  The pause is committed to the store before
 * the scheduler changes and before cb (run 0), so it survives a restart.
 */
void daemon_queue_pause(struct daemon *d, bool paused, const char *actor,
			daemon_done_cb cb, void *arg);
/*
 * The queue as the scheduler sees it: paused or not, and its runs in state
 * queued and running (a repository project's run enters it once its
 * commit is checked out).
 */
void daemon_queue_state(struct daemon *d, bool *paused, size_t *queued,
			size_t *running);

/*
 * Following a job attempt's log: data from `offset` on as it is recorded
 * (stored bytes first, then live), then end with the attempt's result.
 */
struct daemon_follow;
struct daemon_follow_cbs {
	void (*data)(void *arg, uint64_t offset, const char *data, size_t len);
	/* status NULL: the job goes on, but not here (the daemon handed it
	   over to its successor); following it again there continues. */
	void (*end)(void *arg, const char *status, int exit_code,
		    const char *reason);
	void *arg;
};
int daemon_follow(struct daemon *d, uint64_t attempt, uint64_t offset,
		  const struct daemon_follow_cbs *cbs,
		  struct daemon_follow **out) PW_WUR;
/* Stops following (the client went away); no callback after this. */
void daemon_unfollow(struct daemon_follow *f);

/*
 * Artifacts and caches for the API.  blob_open/close/extract read
 * <data_dir>/blobs through the blob module (blobread.c: a reader holds
 * the blob against collection); strings are copied.  cache_delete deletes a project's
 * entries with key (in scope, or every scope if NULL) with an audit row,
 * in one commit; cb's run is the number deleted (caches.c).
 */
int daemon_blob_open(struct daemon *d, const char *digest, int *fd,
		     uint64_t *size, void **handle) PW_WUR;
void daemon_blob_close(struct daemon *d, void *handle);
void daemon_blob_extract(struct daemon *d, const char *digest,
			 const char *path, api_extract_cb cb, void *arg);
void daemon_cache_delete(struct daemon *d, const char *project,
			 const char *key, const char *scope, const char *actor,
			 daemon_done_cb cb, void *arg);

/* Counters for /metrics. */
struct daemon_stats {
	int jobs_running;
	size_t runs_active;     /* runs in the scheduler (queued or running) */
	uint64_t log_bytes;     /* job output bytes received since start */
	uint64_t jobs_finished[16]; /* attempts ended, by enum sched_job_state */
	const struct api_duration *durations; /* by project and job, valid
	                           until the loop runs again (durations.c) */
	size_t ndurations;
	uint64_t cache_hits, cache_misses, cache_evictions;
	uint64_t reuse_bytes_restored, reuse_bytes_saved, blob_bytes;
};
void daemon_stats(const struct daemon *d, struct daemon_stats *out);
/* Upper bounds (seconds) of the job duration histogram's buckets. */
extern const double daemon_duration_bounds[API_DURATION_BUCKETS];

#define LOG_FLUSH_BYTES (256 * 1024)  /* a batch of log bytes per commit */
#define LOG_FLUSH_MS 50               /* or what came in this long */
#define LOG_FILE_OP (16 * 1024 * 1024) /* a write of the log file's bytes, at most */

struct checkout;

struct follower {
	struct daemon_follow_cbs cbs;
	struct live_attempt *la;
	uint64_t next;            /* the next offset this follower gets */
	struct follower *next_f;
};

struct live_attempt {
	struct daemon *d;
	struct live_run *lr;
	size_t job;
	int number;
	uint64_t started_ms;      /* UTC ms */
	uint64_t id;              /* the attempt's row; 0 until committed */
	uint64_t total;           /* log bytes received */
	uint64_t queued;          /* log bytes handed to the store */
	uint64_t committed;       /* log bytes committed */
	uint64_t file_end;        /* the first file_end bytes of the log are
	                             in dir/log, known by notes: never in
	                             mem, read by the store's writer */
	int log_fd;               /* dir/log, read-only, or -1 */
	int file_ops;             /* writes of file ranges in flight */
	bool file_warned;         /* dir/log or a write of a range of it
	                             failed: said once */
	uint64_t unflushed_ms;    /* uv_now when the oldest byte not handed
	                             to the store came; 0: none waits */
	struct buf mem;           /* bytes from live_attempt_mem_base() to
	                             `total`, from mem.data + mem_off (the
	                             committed prefix is dropped lazily: no
	                             memmove per batch while a backlog builds) */
	size_t mem_off;
	bool ended;               /* the attempt's end is known */
	char *status, *reason;    /* its result, once ended */
	int exit_code;
	char *dir;                /* its attempt directory (prelude) */
	struct follower *followers;
	uint64_t ws_from;         /* its workspace began (traces.c), UTC ms */
	uint64_t script_from;     /* its supervisor was started; 0: unknown */
	uint64_t restore_from;    /* its caches and artifacts began coming */
	int ops;                  /* store writes whose done callback uses it */
	bool orphan;              /* let go of (live_forget_all): freed by
	                             the last of those callbacks */
	struct image_use *image;  /* its image's root, held until it is
	                             freed (jobimage.c), or NULL */
	char *image_line;         /* "image X: pulled sha256:..." for its
	                             prelude, owned, or NULL */
	uint64_t image_from;      /* its image began being prepared, UTC ms */
	struct sections *sec;     /* sections.c: the log's sections */
	struct live_attempt *next;
};

struct live_run {
	struct daemon *d;
	struct sched_run *run;
	uint64_t id;
	char *project;            /* the project's name */
	char *workspace;
	char *branch;             /* NULL if none: for cancel_superseded */
	char *ref, *commit;       /* what a repository project checks out */
	char *tag;                /* NULL if none */
	int64_t pr;               /* the pull request; 0 if none */
	bool fork;                /* a pull request from a fork */
	uint32_t job_uid;         /* strict: the host uid (= gid) of its jobs,
	                             from job_ids (jobids.c); 0: none yet */
	uint64_t created_ms;      /* the run was made (cicd.c), UTC ms */
	uint64_t started_ms;      /* its first job started; 0: not yet */
	uint64_t *ready_ms;       /* by job: when it last became ready (its
	                             queue wait starts), UTC ms; 0: unknown */
	size_t nready;
	/*
	 * The run's own workspace (its directory, or its file system under
	 * a size limit) is made when its first job is about to start, not
	 * while it waits in the queue (jobws.c): READY once made (or kept,
	 * or checked out), FRESH while still to be made, MAKING meanwhile,
	 * with the jobs' workspaces that wait for it in ws_waiting.
	 */
	enum { RUN_WS_READY, RUN_WS_FRESH, RUN_WS_MAKING } ws;
	struct jobws *ws_waiting;
	bool ws_gone;             /* its end is stored while MAKING: it goes
	                             when the making is over */
	struct live_run *next;
};

struct daemon {
	uv_loop_t loop;
	uint64_t files_gone_seq;  /* names trees moved aside for removal */
	char *config_path;
	struct config *config;    /* replaced whole on SIGHUP */
	bool debug;               /* PIPEWRIGHT_DEBUG at start: kept by a
	                             reload, which sets the log format again */
	char *public_url;         /* no trailing '/', with the real port */
	struct store *store;
	struct exec *exec;
	struct sched *sched;
	struct http_server *http;
	struct api *api;
	struct scm *scm;
	struct notify *notify;    /* commit statuses; NULL until started */
	struct schedule *schedules; /* the projects' schedules (schedule.c) */
	size_t nschedules;
	uv_timer_t schedule_timer;
	int pid_fd;               /* holds the pid file's lock */
	uv_signal_t sigterm, sigint, sighup, sigusr2;
	uv_timer_t drain_timer;
	uv_timer_t flush_timer;
	char host[256];
	int port;
	char *attempts_dir, *workspaces_dir;
	struct live_run *runs;
	struct live_run **run_index; /* d->runs by id (live.c): a job's
	                             events find their run without a walk
	                             over every queued one */
	size_t nrun_index, run_index_cap;
	struct live_attempt *attempts;
	struct checkout *checkouts; /* under way, until committed (checkout.c) */
	/*
	 * Runs of repository projects whose checkout a paused queue held
	 * back (checkout.c): the resume checks out these, and only these,
	 * since a run whose creation is still being committed is not ours
	 * to build from the store.
	 */
	uint64_t *held;
	size_t nheld;
	bool draining;
	/*
	 * The jobs belong to the supervisors and the next daemon (drain:
	 * detach, or an upgrade handing over): nothing starts here any more.
	 */
	bool detached;
	size_t jobws_active;      /* job workspaces being made (jobws.c): a
	                             handover waits for them, as for
	                             checkouts */
	struct upgrade *upgrade;  /* an upgrade under way (upgrade.c), or NULL */
	int successor_fd;         /* a new daemon: the old one's end, or -1 */
	uv_pipe_t predecessor;    /* ... watched for its exit */
	char pred_buf[64];        /* what it might say (nothing is expected) */
	uv_timer_t close_timer;   /* waits for in-flight responses */
	uint64_t close_deadline;  /* mono ms */
	char *self_path;          /* the program an upgrade starts by default */
	int handed_fd;            /* after an upgrade: kept open until exit */
	bool store_failed;        /* the last commit failed: not ready */
	struct api_duration *durations; /* job durations (durations.c) */
	size_t ndurations;
	struct api_run_duration *run_durations; /* cicd.c */
	size_t nrun_durations;
	struct api_run_active *run_active; /* cicd.c: scratch for /metrics */
	size_t nrun_active;
	int exit_status;
	struct daemon_stats stats;
	struct blob_store *blobs; /* <data_dir>/blobs (jobreuse.c) */
	struct reuse_step *reuse; /* restores and saves around jobs */
	int reports_busy;         /* attempts whose reports are being read
				     or stored (jobreports.c) */
	struct image_cache *images; /* jobs' image roots (jobimage.c) */
	uv_timer_t retain_timer;  /* retention, hourly (retain.c) */
	bool retaining, retain_again;
	uv_timer_t prune_timer;   /* the runs' retention (prune.c) */
	char **prune_due;         /* projects to look at, first first, owned */
	size_t nprune_due;
	bool pruning;             /* a prune write is under way */
	uint64_t prune_wait_from; /* mono ms the next batch began waiting for
	                             a moment without a hand-off; 0: none */
	uint64_t evictions;       /* cache entries evicted since start */
	uint64_t blob_bytes;      /* the blob store's size, last measured */
};

/*
 * sections.c: finds each script line's "$ command" echo in an attempt's
 * output as it arrives (before live_attempt_append), writes them with the
 * log's flushes, frees its state with the attempt.
 */
void sections_scan(struct live_attempt *la, const struct pipeline *p,
		   const char *data, size_t len);
/* Whether sections_scan still looks for anything in la's output. */
bool sections_wanted(struct live_attempt *la, const struct pipeline *p);
void sections_flush(struct live_attempt *la);
void sections_free(struct live_attempt *la);

/* record.c: sched → store */
void record_event(void *arg, const struct sched_event *ev);
void record_output(void *arg, struct sched_run *run, size_t job, int attempt,
		   const char *data, size_t len);
void record_prepare(void *arg, struct sched_run *run, size_t job,
		    int attempt, const char *dir);
void record_flush_all(struct daemon *d);

/* attempt.c: the daemon's own lines around a job's script */
/*
 * Writes what the daemon says before the job's script into dir's prelude
 * file (made whole, by rename; dir is made if missing), which the
 * supervisor puts at the head of the attempt's log.  Call it before
 * sched_attempt_proceed(); blocking file I/O, safe in a worker thread.
 * -EFBIG past SUPERVISOR_MAX_PRELUDE bytes, else 0 or -errno.
 */
int attempt_prelude_write(const char *dir, const char *data, size_t len);
/* sched's attempt_finish: saves the job's artifacts and caches, then
 * settles (jobreuse.c). */
void attempt_finish(void *arg, struct sched_run *run, size_t job, int attempt,
		    const struct sched_attempt_result *res);

/* live.c: the runs and attempts in memory, and an attempt's followers */
struct live_run *live_run_find(struct daemon *d, uint64_t id);
struct live_run *live_run_of(struct daemon *d, const struct sched_run *run);
/* Links a started run into d->runs (runs.c). */
void live_run_link(struct daemon *d, struct live_run *lr);
/* Unlinks and frees a live run; live_run_free frees one never linked. */
void live_run_remove(struct daemon *d, struct live_run *lr);
void live_run_free(struct live_run *lr);
/* A new attempt of lr's job, linked, with no bytes and no row yet. */
struct live_attempt *live_attempt_new(struct daemon *d, struct live_run *lr,
				      size_t job, int number);
struct live_attempt *live_attempt_find(struct daemon *d, uint64_t run,
				       size_t job, int number);
/* Unlinks and frees it; its followers are dropped without a word. */
void live_attempt_free(struct daemon *d, struct live_attempt *la);
/* Log bytes received: kept until committed, and sent to the followers. */
void live_attempt_append(struct live_attempt *la, const char *data,
			 size_t len);
/*
 * dir/log has grown by len bytes (a note): counted, and read back on the
 * loop only for what needs the bytes there, the followers and the
 * sections still looked for (p: the run's pipeline).
 */
void live_attempt_grew(struct live_attempt *la, const struct pipeline *p,
		       uint64_t len);
/* Where mem's bytes begin in the log: past the committed and the file. */
uint64_t live_attempt_mem_base(const struct live_attempt *la);
/* dir/log for reading (opened on first use), or -1 with a warning. */
int live_attempt_log_fd(struct live_attempt *la);
/* Its end is committed: the followers hear it, and it is freed. */
void live_attempt_end(struct daemon *d, struct live_attempt *la);
/*
 * Every attempt leaves memory (a handover): followers hear that the job
 * goes on elsewhere; one with writes in flight (la->ops) is let go of
 * (la->orphan) and freed by the last.
 */
void live_forget_all(struct daemon *d);

/* trigger.c: with cancel_superseded, live runs of the project's branch
 * older than `newer` are canceled. */
void trigger_supersede(struct daemon *d, const struct config_project *proj,
		       const char *branch, uint64_t newer);
/* jobids.c */
/*
 * Gives lr a uid of job_ids if it has none and tells sched (strict only;
 * 0 otherwise); jobws.c gives each job's workspace to it.  -EUSERS: none
 * is free.
 */
int jobids_assign(struct daemon *d, struct live_run *lr);
/*
 * An adopted attempt's recorded uid becomes its run's (0, an attempt
 * from before job_ids: the workspace's owner, if not root).
 */
void jobids_adopt(struct live_run *lr, uint32_t uid);

/* runs.c */
/*
 * A sched run for a new or stored run, not started (takes p).  row (NULL
 * for a new run) gives branch, tag, commit, env and, with restore, each
 * job's state and attempt count.
 */
int runs_build(struct daemon *d, struct pipeline *p, uint64_t id,
	       const struct config_project *proj, const struct store_run *row,
	       bool restore, struct live_run **out);
/*
 * Starts a built run in a fresh workspace (a repository project's commit
 * checked out again first); runs_start: one whose workspace is ready.
 */
void runs_launch(struct daemon *d, struct live_run *lr);
void runs_start(struct daemon *d, struct live_run *lr);
/* Problems as the JSON array the run object carries (caller frees). */
char *runs_problems_json(const struct pipeline_problems *pp);
/*
 * Refuses a new run's pipeline that asks for more than the project's
 * ceilings (sandbox.limits): appends a problem per value above one and,
 * if any, destroys *p and sets it NULL, as a failed parse would.
 */
void runs_check_ceilings(const struct config_project *proj,
			 struct pipeline **p, struct pipeline_problems *pp);

/* checkout.c: runs of projects with a repository */
/* A new run: check out, read its pipeline, store its jobs, start it. */
void checkout_new_run(struct daemon *d, const struct config_project *proj,
		      uint64_t run, const struct store_run *row,
		      const char *fetch_ref);
/* A built run of a stored one: check its commit out again, start it. */
void checkout_restart(struct daemon *d, struct live_run *lr, const char *ref,
		      const char *sha);
bool runs_status_finished(const char *status);
/* A checkout of the run is under way (its result not yet committed). */
bool checkout_running(struct daemon *d, uint64_t run);

/*
 * recover.c: runs left unfinished by an earlier daemon go on: running
 * attempts are taken up from their supervisors, the rest starts again.
 * Runs already in memory are left alone, so that it can run again.
 */
int runs_recover(struct daemon *d, char **err);
/*
 * The queue's resume: checks out the runs the pause held back (d->held),
 * and nothing else; runs_recover reads every unfinished run, which would
 * build a second copy of a run whose creation is still on its way.
 */
int runs_release_held(struct daemon *d, char **err);

/*
 * record.c: a finished run whose end is stored leaves: its files, then
 * memory (jobws.c calls it for a run that waited for its workspace).
 */
void record_run_gone(struct daemon *d, struct live_run *lr);
/* record.c: a running attempt's row, to be taken up (recover.c). */
void record_adopt(struct daemon *d, struct live_run *lr, size_t job,
		  const struct store_attempt *sa);

/*
 * handover.c: letting go of every job (drain: detach, upgrades): nothing
 * starts any more, running attempts are left to their supervisors, log
 * bytes and changes are committed, and the runs leave memory; then cb.
 * handover_resume() undoes it: a scheduler afresh and the runs recovered.
 */
void handover_begin(struct daemon *d, void (*cb)(struct daemon *d));
int handover_resume(struct daemon *d, char **err);
/* The scheduler as the config says (daemon_create, handover_resume). */
int daemon_sched_create(struct daemon *d, char **err);
/*
 * Fills the pool of pre-started supervisors to `supervisor_pool` (on) or
 * drains it (off: a stop, an upgrade); a failure is logged, and jobs
 * then start supervisors of their own.
 */
void daemon_supervisor_pool(struct daemon *d, bool on);
/* apienv.c: what the api acts through (api_create's env). */
struct api_env;
void daemon_api_env(struct daemon *d, struct api_env *env);
/* pidfile.c: the pid file's lock, one daemon per data directory. */
int daemon_pid_file_take(struct daemon *d, char **err);
/* An upgrade: the lock is let go of for the new daemon, the file kept. */
void daemon_pid_file_hand_on(struct daemon *d);
/* At exit, if still held: the file is removed and the lock let go of. */
void daemon_pid_file_remove(struct daemon *d);
/* A change that needs the scheduler: -EAGAIN while handing over. */
bool daemon_handing_over(struct daemon *d, daemon_done_cb cb, void *arg);

/* upgrade.c: USR2 / `pipewright upgrade` */
void upgrade_start(struct daemon *d);
void upgrade_free(struct daemon *d);
/* A SIGTERM during an upgrade: the new daemon is stopped once it is ready. */
void upgrade_stop_successor(struct daemon *d);
/* A new daemon started by an upgrade: tell the old one we are ready. */
void upgrade_report_ready(struct daemon *d);

/* sdnotify.c: systemd's notification socket, if it gave us one. */
void daemon_sd_notify(const char *state);

/* queue.c: at start, before any run, the stored pause applies. */
int queue_restore(struct daemon *d, char **err);

/* status.c: commit statuses, as outbox rows built on the loop thread */
struct status_row {
	char *key, *url, *headers, *body, *project;
	uint64_t seq, run;
	char *kind;             /* NULL: a commit status; else notices.c's */
	char *target;           /* notices: the entry (index:fingerprint) */
	uint64_t expires_at;    /* notices: retried until then */
};
struct status_rows {
	struct status_row *rows;
	size_t n;
};
/* The outbox rows a state change causes (none for most projects). */
void status_rows_for(struct daemon *d, const struct sched_event *ev,
		     struct status_rows *out);
/*
 * The run context's row for a run that ends `error` before the scheduler
 * has it (a failed checkout, a pipeline with problems): why goes into the
 * description.
 */
void status_rows_error(struct daemon *d, const char *project, uint64_t run,
		       const char *branch, const char *ref,
		       const char *commit, const char *why,
		       struct status_rows *out);
/* In the change's own transaction. */
int status_rows_put(struct store_tx *tx, const struct status_rows *r,
		    uint64_t now);
void status_rows_free(struct status_rows *r);
/*
 * notices.c: the `notify` entries' messages for an event, appended to out
 * (built on the loop thread, put with the statuses); and notify's target
 * callback, which finds a row's entry and its secrets at send time.
 */
void notices_for(struct daemon *d, const struct sched_event *ev,
		 struct status_rows *out);
/* A run that ends `error` before the scheduler has it: `failed`. */
void notices_error(struct daemon *d, const char *project, uint64_t run,
		   const char *branch, const char *ref, const char *commit,
		   struct status_rows *out);
int notices_target(void *arg, const struct store_outbox *row,
		   struct notify_target *out);
/*
 * notify, which sends the outbox rows, with the callbacks that answer
 * from the configuration (daemon_create, handover_resume).
 */
int daemon_notify_create(struct daemon *d, char **err);

/*
 * traces.c: spans of runs and attempts, built from store rows in the
 * transaction that ends them and queued in the outbox (kind otlp).
 */
struct traces_op;
/* What the writer thread needs of the config; NULL: traces are off. */
struct traces_op *traces_op_new(struct daemon *d, const char *project);
void traces_op_free(struct traces_op *t);
/*
 * In the attempt's end transaction: its "script" step (from script_from,
 * if not 0, to now), then its span and its steps' spans into the outbox.
 * Nothing if t is NULL or the trace is not sampled.
 */
int traces_put_attempt(struct store_tx *tx, const struct traces_op *t,
		       uint64_t run, uint64_t attempt, uint64_t script_from,
		       uint64_t now);
/* In the run's end transaction: the run span (and its queue wait). */
int traces_put_run(struct store_tx *tx, const struct traces_op *t,
		   uint64_t run, uint64_t now);
/* While la is prepared: its TRACEPARENT, if traces are on. */
void traces_attempt_env(struct daemon *d, struct live_attempt *la,
			const char *trace_id, const char *span_id);
/*
 * A timed step of an attempt (its row id), a child span of the attempt's
 * span when the attempt ends: "workspace", "cache.restore",
 * "cache.save", "artifacts.restore", "artifacts.save", ...  error: why it
 * failed, or NULL.  Written in a store write of its own (nothing if
 * traces are off); call it when the step has ended, before the attempt
 * ends.  Times are UTC ms (pw_now_ms).
 */
void traces_step(struct daemon *d, uint64_t attempt, const char *name,
		 uint64_t started_ms, uint64_t finished_ms, const char *error);
/* notify's target for an otlp row: the otel headers configured now. */
int traces_target(struct daemon *d, const struct store_outbox *row,
		  struct notify_target *out);

/* durations.c: the job duration histograms by project and job */
void durations_add(struct daemon *d, const char *project, const char *job,
		   uint64_t ms);
void durations_free(struct daemon *d);

/* cicd.c: OpenTelemetry's CI/CD metrics */
/* lr ended with status (a run state name) at ms: its durations. */
void cicd_run_ended(struct daemon *d, const struct live_run *lr,
		    const char *status, uint64_t ms);
/* The runs now, by project and state, into d->run_active. */
void cicd_active(struct daemon *d);
void cicd_free(struct daemon *d);

/* schedule.c: the projects' cron schedules, rebuilt on SIGHUP */
void schedules_load(struct daemon *d);
void schedules_free(struct daemon *d);

/* files.c */
/*
 * A checkout is made in <workspaces_dir>/<run>.co-<n> (a job's in
 * <run>/jobs/<idx>.co-<n>, jobws.c) and renamed into place, so that a git
 * a killed daemon left behind never writes into the workspace the next
 * one fills.
 */
#define FILES_CHECKOUT_INFIX ".co-"
/* Removes <attempts_dir>/r<run>-*, <workspaces_dir>/<run> and <run>.co-*. */
void files_remove_run(struct daemon *d, uint64_t run);
/* At start: removes (off the loop) what an earlier daemon left to remove. */
void files_sweep(struct daemon *d);

/* jobws.c: a job attempt's own workspace */
#define JOBWS_CHECKOUT "checkout"   /* <run>/checkout: the run's commit */
#define JOBWS_JOBS "jobs"           /* <run>/jobs/<idx>: a job's workspace */
/* why: for the job's end (NULL on success); valid during the call. */
/* jobimage.c: the image cache; an attempt's image before its restore */
int jobimage_open(struct daemon *d, char **err);
void jobimage_close(struct daemon *d);
void jobimage_config(struct daemon *d);
void jobimage_prepare(struct live_attempt *la);
/* An adopted attempt holds its job's root again (its attempt dir says
 * which). */
void jobimage_adopt(struct live_attempt *la, const char *dir);

/* jobreuse.c: the blob store and the reuse step, for the daemon's jobs */
int jobreuse_open(struct daemon *d, char **err);
void jobreuse_close(struct daemon *d);
/* The config was reloaded: the step's limits follow. */
void jobreuse_config(struct daemon *d);
/* Restores what la's job gets, writes the prelude, then proceeds (or
 * fails the attempt). */
void jobreuse_restore(struct live_attempt *la);
/* After an attempt (and its reports): save, then settle. */
void jobreuse_save(struct daemon *d, struct sched_run *run, size_t job,
		   int attempt, enum sched_job_state state);

/*
 * jobreports.c: a finished attempt's JUnit reports read in a worker,
 * their cases stored, a summary in its log; then jobreuse_save.  False
 * if the job has none (or the attempt did not end in a result), and the
 * caller goes on itself.
 */
bool jobreports_start(struct daemon *d, struct sched_run *run, size_t job,
		      int attempt, enum sched_job_state state);
/* retain.c: expiry, eviction and collection, hourly and on demand */
void retain_start(struct daemon *d);
void retain_now(struct daemon *d);
/*
 * prune.c: the runs' retention (keep_runs, keep_days), off the job path.
 * prune_due: a run of the project ended (no store access: a look and
 * batches follow later, between hand-offs); prune_all_due: every
 * configured project (at start, hourly); prune_free: at destroy.
 */
void prune_due(struct daemon *d, const char *project);
void prune_all_due(struct daemon *d);
void prune_free(struct daemon *d);

typedef void (*jobws_cb)(int rc, const char *why, void *arg);
/*
 * Makes the workspace of the job's next attempt afresh (the previous
 * attempt's removed): the run's commit checked out of the run's checkout
 * for a project with a repository, else empty; the job uid's under
 * strict.  Off the loop; cb once it is ready or cannot be, perhaps
 * before this returns.
 */
void jobws_prepare(struct daemon *d, struct live_run *lr, size_t job,
		   jobws_cb cb, void *arg);

/* wsfs.c: a workspace's size limit, a loop-mounted file system. */
typedef void (*wsfs_cb)(int rc, void *arg);
/* The size a project's workspaces get; 0: none (or not strict). */
uint64_t wsfs_size(const struct config_project *p);
/*
 * Empties workspace and mounts a fresh file system of `size` bytes on it
 * (off the loop, through exec's helpers); cb(0) once it is ready, or
 * cb(-errno) with the reason logged.  cb always runs, perhaps before
 * wsfs_prepare() returns.
 */
void wsfs_prepare(struct daemon *d, const char *workspace, uint64_t size,
		  wsfs_cb cb, void *arg);
/* Unmounts (lazily) and removes the image; nothing if there is none. */
void wsfs_release(const char *workspace);
/*
 * A kept workspace (a run taken up after a restart): mounts its file
 * system here if an earlier daemon mounted it in another mount namespace.
 * 0 (also for a plain directory, or one mounted here), or -errno, logged.
 */
int wsfs_attach(const char *workspace);

/* A store write that only logs its failure. */
/* A live run left memory: the shutdown may be complete. */
void daemon_run_gone(struct daemon *d);

/*
 * streams.c: an ending attempt's services' logs into the store, then
 * done() (on the loop).  false: the job has no services (or the attempt
 * is not known): nothing was started, and done() is not called.
 */
typedef void streams_done_fn(struct daemon *d, uint64_t run, size_t job,
			     int attempt, enum sched_job_state state);
bool streams_store(struct daemon *d, struct sched_run *run, uint64_t run_id,
		   size_t job, int attempt, enum sched_job_state state,
		   streams_done_fn *done);

void daemon_write(struct daemon *d, store_write_fn fn, void *arg,
		  void (*free_arg)(void *));
void daemon_note_store(struct daemon *d, int rc);

#endif
