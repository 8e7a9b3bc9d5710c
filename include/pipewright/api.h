/*
 * api: the REST API v1, its JSON (cJSON) and the OpenAPI document.
 *
 * The api acts through an api_env given at its creation: the store it
 * reads, the settings, and the operations that change the daemon's state
 * (the daemon fills it; a test fills it with fakes).  It knows nothing
 * else of the daemon.  Handlers check bearer tokens for the scope their
 * route names and answer errors as {"error": {"code", "message"}}.  The
 * api object also counts HTTP requests by route and status for /metrics.
 */
#ifndef PIPEWRIGHT_API_H
#define PIPEWRIGHT_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/http.h"
#include "pipewright/util.h"

struct api;
struct config;
struct store;

/*
 * The result of a change, always reported through the callback (at once
 * for a change refused up front): rc 0 and the run's id (0 for the
 * queue), or rc < 0 and a message for people (-ENOENT no such
 * project/run/job, -EINVAL bad input, -EALREADY/-EBUSY conflicts,
 * -ENOSPC/-EROFS/-EIO store unavailable).  The message is "again" for a
 * trigger seen before (Idempotency-Key, delivery id or push).
 */
typedef void (*api_done_cb)(int rc, uint64_t run, const char *message,
			    void *arg);

/* A run to make, from the API or a webhook.  Strings: NULL for none. */
struct api_trigger {
	const char *project;
	const char *ref;
	const char *commit;
	const char *const *env;        /* "K=V", NULL-terminated, or NULL */
	const char *idempotency_key;
	const char *actor;             /* "token NAME", "webhook" */
	const char *trigger;           /* "api", "webhook" */
	/* Webhooks: */
	const char *branch;            /* overrides what ref says (a PR's source) */
	int64_t pr;                    /* 0: not a pull/merge request */
	bool fork;                     /* from another repository: no secrets */
	const char *forge;             /* the delivery's forge ("github") */
	const char *delivery;          /* its delivery id */
	bool push;                     /* a push: the same (project, ref,
	                                  before, commit) answers with the
	                                  first run */
	const char *before;            /* the push's before */
};

/* Following a job attempt's log: its bytes from an offset on, then end. */
struct api_follow_cbs {
	void (*data)(void *arg, uint64_t offset, const char *data, size_t len);
	/* status NULL: the job goes on, but not here (handed over to the
	   daemon's successor); following it again there continues. */
	void (*end)(void *arg, const char *status, int exit_code,
		    const char *reason);
	void *arg;
};

/*
 * How long one job's attempts ran, by project and job name (the daemon
 * keeps them in this type, so /metrics reads them in place).  Job names
 * come from pushed pipelines: a project's first API_DURATION_JOBS_MAX
 * names get a series each, any later one counts under "other", so that a
 * repository cannot grow /metrics without bound.
 */
#define API_DURATION_BUCKETS 12
#define API_DURATION_JOBS_MAX 100
struct api_duration {
	char *project, *job;
	uint64_t buckets[API_DURATION_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum_s;
};

/*
 * OpenTelemetry's CI/CD metrics (docs/operations.md, "Metrics"): run
 * durations by pipeline (project), run state and result; runs now by
 * pipeline and state.  Strings static but project.
 */
struct api_run_duration {
	char *project;
	const char *state;       /* "pending" (queued), "executing" */
	const char *result;      /* cicd.pipeline.result: success, failure, ... */
	uint64_t buckets[API_DURATION_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;
	double sum_s;
};
struct api_run_active {
	char *project;
	uint64_t pending, executing;
};

/* Counters for /metrics. */
struct api_stats {
	int jobs_running;
	size_t runs_active;     /* runs in the scheduler (queued or running) */
	uint64_t log_bytes;     /* job output bytes received since start */
	uint64_t jobs_finished[16]; /* attempts ended, by enum sched_job_state */
	const double *duration_bounds; /* the buckets' upper bounds (s) */
	const struct api_duration *durations; /* valid until the loop runs
	                           again; in the order first seen */
	size_t ndurations;
	/* Caches and artifacts: since start, but blob_bytes (the blob
	 * store's size when retention last measured it). */
	uint64_t cache_hits, cache_misses, cache_evictions;
	uint64_t reuse_bytes_restored, reuse_bytes_saved;
	uint64_t blob_bytes;
	const struct api_run_duration *run_durations; /* valid as durations */
	size_t nrun_durations;
	const struct api_run_active *run_active; /* valid as durations */
	size_t nrun_active;
	unsigned worker_slots;  /* jobs at once (max_jobs) */
};

/*
 * One file extracted from an archive blob (`?path=`): rc 0 and an fd
 * open for reading at offset 0 holding size bytes (the callee's
 * temporary file, already unlinked; the api closes it), or rc < 0:
 * -ENOENT no such blob or no such file in it, -EISDIR not a regular
 * file, -EFBIG over the limit, -EBADMSG a damaged archive.
 */
typedef void (*api_extract_cb)(int rc, int fd, uint64_t size, void *arg);

/*
 * What the api acts through.  ctx is every function's first argument.
 * The changes (trigger ... queue_pause) are committed before their
 * callback reports success, so an answered request is never lost.
 */
struct api_env {
	struct store *store;   /* read directly; outlives the api */
	/* The settings now (a reload replaces them). */
	const struct config *(*config)(void *ctx);
	/* "http://host:port" or public_url, without a trailing '/'. */
	const char *(*public_url)(void *ctx);
	/* The store is writable and the daemon is not shutting down. */
	bool (*ready)(void *ctx);
	/*
	 * The daemon is shutting down or handing over (cheap: asked every
	 * tick by each event stream, which then ends so that its client
	 * reconnects to whoever serves next).  NULL: never.
	 */
	bool (*stopping)(void *ctx);
	void (*trigger)(void *ctx, const struct api_trigger *t, api_done_cb cb,
			void *arg);
	void (*cancel)(void *ctx, uint64_t run, const char *actor,
		       api_done_cb cb, void *arg);
	/* names: NULL-terminated job names, or NULL for every failed job. */
	void (*rerun)(void *ctx, uint64_t run, const char *const *names,
		      const char *actor, api_done_cb cb, void *arg);
	void (*approve)(void *ctx, uint64_t run, const char *job,
			const char *actor, api_done_cb cb, void *arg);
	void (*queue_pause)(void *ctx, bool paused, const char *actor,
			    api_done_cb cb, void *arg);
	void (*queue_state)(void *ctx, bool *paused, size_t *queued,
			    size_t *running);
	/*
	 * Starts following a running attempt (*handle for unfollow); < 0 if
	 * it is not running here (all of it is then in the store).
	 */
	int (*follow)(void *ctx, uint64_t attempt, uint64_t offset,
		      const struct api_follow_cbs *cbs, void **handle);
	/* Stops following (the client went away); no callback after this. */
	void (*unfollow)(void *ctx, void *handle);
	void (*stats)(void *ctx, struct api_stats *out);
	/*
	 * Blobs by digest (64 hex), for artifact downloads.  blob_open must
	 * not block the loop (an open and a stat, no waiting for a lock):
	 * it gives an fd open for reading, the blob's size and a handle
	 * that keeps it from being collected until blob_close, which also
	 * closes the fd.  -ENOENT: no such blob.  The api reads the fd
	 * with libuv file requests (the loop's thread pool), a piece at a
	 * time as the client takes them.
	 */
	int (*blob_open)(void *ctx, const char *digest, int *fd, uint64_t *size,
			 void **handle);
	void (*blob_close)(void *ctx, void *handle);
	/*
	 * Extracts one file (path relative to the archive's root) of an
	 * archive blob off the loop; cb runs exactly once, on the loop.
	 * digest and path are copied (valid for the call only).
	 */
	void (*blob_extract)(void *ctx, const char *digest, const char *path,
			     api_extract_cb cb, void *arg);
	/*
	 * Deletes a project's cache entries with this key, in scope or in
	 * every scope (scope NULL), with an audit row naming actor, in one
	 * commit; cb's second argument is the number of entries deleted
	 * (0: none had that key).  Their blobs go at the next collection.
	 * The strings are copied.
	 */
	void (*cache_delete)(void *ctx, const char *project, const char *key,
			     const char *scope, const char *actor,
			     api_done_cb cb, void *arg);
	uv_loop_t *loop;       /* the daemon's: the file reads of downloads */
	void *ctx;
};

/* env is copied. */
int api_create(const struct api_env *env, struct api **out) PW_WUR;
void api_destroy(struct api *a);
/*
 * The route table, valid until api_destroy; the handlers' argument is
 * the api object.
 */
size_t api_routes(const struct api *a, const struct http_route **routes);
/* An http_guard_cb (arg: the api): the Host check (421). */
bool api_guard(struct http_request *req, void *arg);
/* An http_log_cb (arg: the api): counts requests and logs them. */
void api_log_request(void *arg, const struct http_request *req, int status,
		     uint64_t duration_us);

#endif
