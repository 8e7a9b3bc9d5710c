/*
 * daemon: `pipewright serve` — one libuv loop that serves HTTP, schedules
 * runs and jobs with sched and exec, and keeps every run, job, attempt and
 * log byte in the store.
 *
 * The api module's handlers act through the calls below; every change is
 * committed before its callback reports success, so an answered request is
 * never lost.  Actors ("token NAME", "webhook", "schedule") go into the
 * run's audit trail.
 */
#ifndef PIPEWRIGHT_DAEMON_H
#define PIPEWRIGHT_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipewright/util.h"

struct daemon;
struct store;
struct config;
struct http_request;

struct daemon_options {
	const char *config_path;
	const char *supervisor_path; /* the pipewright-supervisor binary */
	int listen_fd;            /* an inherited listener, or -1 */
	int upgrade_fd;           /* started by an upgrade: the old daemon's
	                             socket (ready is reported on it, its end
	                             is heard on it), or -1 */
	const char *self_path;    /* this program, for upgrades (config
	                             `binary` overrides it); NULL: none */
};

/* Loads the config, opens the store, listens.  *err for people. */
int daemon_create(const struct daemon_options *opts, struct daemon **out,
		  char **err) PW_WUR;
/* Runs until SIGTERM/SIGINT and the drain; returns the exit status. */
int daemon_run(struct daemon *d);
void daemon_destroy(struct daemon *d);

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
 * How long one job's attempts ran, by project and job name.  Job names
 * come from pushed pipelines: a project's first DAEMON_DURATION_JOBS_MAX
 * names get a series each, any later one counts under "other", so that a
 * repository cannot grow /metrics without bound.
 */
#define DAEMON_DURATION_JOBS_MAX 100
struct daemon_duration {
	char *project, *job;    /* owned by the daemon */
	uint64_t buckets[12];   /* per bucket, not cumulative: see
	                           daemon_duration_bounds */
	uint64_t count;
	double sum_s;
};

/* Counters for /metrics. */
struct daemon_stats {
	int jobs_running;
	size_t runs_active;     /* runs in the scheduler (queued or running) */
	uint64_t log_bytes;     /* job output bytes received since start */
	uint64_t jobs_finished[16]; /* attempts ended, by enum sched_job_state */
	const struct daemon_duration *durations; /* valid until the loop runs
	                           again; in the order first seen */
	size_t ndurations;
};
void daemon_stats(const struct daemon *d, struct daemon_stats *out);
/* Upper bounds (seconds) of the job duration histogram's buckets. */
extern const double daemon_duration_bounds[12];

#endif
