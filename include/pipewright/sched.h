/*
 * sched: runs and jobs as state machines on a libuv loop.
 *
 * A run is a pipeline (matrix already expanded by `pipeline`) plus the
 * parameters of one trigger.  sched decides when each job starts: a job
 * waits for its predecessors (its `needs`, else every job of earlier
 * stages), for a free slot (global max_jobs), and for its `environment`
 * (one job per project and environment at a time; waiting for it holds no
 * slot).  Runs start in FIFO order.  Jobs are started through `exec`; every
 * state change is reported through the event callback so that the daemon
 * can store it, and a run can be rebuilt from saved states with
 * sched_run_restore_job() before it is started.
 *
 * Job states: pending → ready → running → success | failed | canceled |
 * skipped | timed_out | lost, and waiting (a manual job whose needs are met
 * but which is not approved).  A retry adds an attempt; attempts count from
 * 1 per job.
 */
#ifndef PIPEWRIGHT_SCHED_H
#define PIPEWRIGHT_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/exec.h"
#include "pipewright/pipeline.h"
#include "pipewright/util.h"

struct sched;
struct sched_run;

enum sched_job_state {
	SCHED_JOB_PENDING,
	SCHED_JOB_READY,
	SCHED_JOB_WAITING,
	SCHED_JOB_RUNNING,
	SCHED_JOB_SUCCESS,
	SCHED_JOB_FAILED,
	SCHED_JOB_CANCELED,
	SCHED_JOB_SKIPPED,
	SCHED_JOB_TIMED_OUT,
	SCHED_JOB_LOST,
};

enum sched_run_state {
	SCHED_RUN_QUEUED,
	SCHED_RUN_RUNNING,
	SCHED_RUN_SUCCESS,
	SCHED_RUN_FAILED,
	SCHED_RUN_CANCELED,
	SCHED_RUN_ERROR,
};

enum sched_event_kind {
	SCHED_EVENT_RUN, /* the run's state changed */
	SCHED_EVENT_JOB, /* a job's state changed */
};

struct sched_event {
	enum sched_event_kind kind;
	struct sched_run *run;
	uint64_t run_id;
	int state;           /* enum sched_run_state or enum sched_job_state */
	size_t job;          /* SCHED_EVENT_JOB: the job's index in the pipeline */
	const char *job_name;
	int attempt;         /* the attempt this is about (0 before the first) */
	int exit_code;       /* on a job's end: the script's status, -1 if none */
	const char *reason;  /* why, for people ("exit status 2", "needs 'build' failed"), or NULL */
	uint64_t time_ms;    /* UTC ms */
};

/*
 * How an attempt's supervisor said it ended, handed to attempt_finish
 * before sched settles the job.
 */
struct sched_attempt_result {
	enum sched_job_state state; /* what the job would get: success, failed,
	                               timed_out, canceled or lost */
	int exit_code;       /* the script's status, -1 if none */
	const char *reason;  /* for people, or NULL; valid during the call */
};

struct sched_callbacks {
	/* Every state change, in order. */
	void (*event)(void *arg, const struct sched_event *ev);
	/* A job attempt's output, as the supervisor recorded it. */
	void (*output)(void *arg, struct sched_run *run, size_t job,
		       int attempt, const char *data, size_t len);
	/*
	 * If set, called when an attempt is about to start (after its
	 * running event) with the attempt's directory; the supervisor is
	 * started only when the caller calls sched_attempt_proceed(), so
	 * that the attempt can be recorded first.  NULL: start at once.
	 */
	void (*attempt_prepare)(void *arg, struct sched_run *run, size_t job,
				int attempt, const char *dir);
	/*
	 * If set, called when an attempt's supervisor has ended (every byte
	 * of its log delivered), an adopted attempt's too, before the job
	 * is settled: the job stays running, holding its slot, environment
	 * and dependants, until the caller calls sched_attempt_settle(); in
	 * between, sched_attempt_log() adds to the attempt's log.  Attempts
	 * that never had a supervisor (refused at their start, cancelled
	 * while prepared, nothing to take up) settle without it.  NULL:
	 * settle at once.
	 */
	void (*attempt_finish)(void *arg, struct sched_run *run, size_t job,
			       int attempt,
			       const struct sched_attempt_result *res);
	void *arg;
};

struct sched_options {
	int max_jobs;              /* concurrent jobs, all runs together (≥ 1) */
	const char *attempts_dir;  /* attempt directories go below it */
	uint64_t kill_grace_ms;    /* SIGTERM → SIGKILL on timeout and cancel */
	bool tied;                 /* jobs die with this process (pipewright run) */
	uint64_t max_log;          /* per attempt, bytes; 0: exec's default */
	enum exec_sandbox sandbox; /* for every job; the zero value is none */
	struct exec_resources resources; /* defaults for what a job's
	                              `resources` leaves out; 0: no limit */
	uint64_t timeout_ms;       /* a job without `timeout`; 0: the
	                              pipeline's default (1 h) */
};

struct sched_run_params {
	uint64_t id;             /* the run's id (PIPEWRIGHT_RUN_ID) */
	const char *project;     /* environments are exclusive per project */
	const char *workspace;   /* absolute; the run's directory, and its
	                            jobs' workspace unless jobs_dir is set */
	/*
	 * NULL: every job runs in `workspace` (`pipewright run` in the
	 * checkout).  Else job j's attempts run in <jobs_dir>/<j> (see
	 * sched_attempt_workspace), which sched never makes: the
	 * attempt_prepare callback fills it afresh for each attempt.
	 */
	const char *jobs_dir;
	/*
	 * Strict: the absolute path a job sees its workspace at, its cwd and
	 * PIPEWRIGHT_WORKSPACE (/builds/<project>); NULL, or sandbox none:
	 * its host path.
	 */
	const char *workspace_at;
	const char *branch;      /* NULL if unknown: branch filters skip nothing */
	const char *tag;         /* NULL if none */
	const char *commit;      /* NULL if unknown */
	const char *const *env;  /* the trigger's env, "K=V", NULL-terminated or NULL */
	bool skip_manual;        /* unapproved manual jobs are skipped, not waiting */
	int project_max_jobs;    /* jobs of this project at once, all its runs; 0: no limit */
	const char *const *secrets; /* "K=V" values a job's `secrets` may name,
	                              NULL-terminated or NULL; copied */
	/*
	 * The admin's grants for this run's jobs (the pipeline only asks).
	 * network false (the zero value): a job that sets `network: true`
	 * fails at its start with the reason network_denied (copied; NULL:
	 * "network: denied by the project's sandbox configuration") instead
	 * of running offline.  sandbox_set: `sandbox` replaces the
	 * scheduler's mode for this run (a project's own `sandbox: {mode}`).
	 */
	bool network;
	const char *network_denied;
	bool sandbox_set;
	enum exec_sandbox sandbox;
	/* This run's defaults (a project's limits), each 0: the options'. */
	struct exec_resources resources; /* what a job's `resources` leaves out */
	uint64_t timeout_ms;     /* a job without `timeout`; 0: the options',
	                            else the pipeline's default */
	uint64_t max_log;        /* per attempt, bytes */
	uint32_t uid, gid;       /* strict: the host uid and gid of its jobs'
	                            root (exec_spec); 0: exec's default */
	/*
	 * The admin's, for every job (copied): strict, rootfs (exec_spec's;
	 * NULL: the host's) and host paths bound read-only (NULL-terminated
	 * or NULL); env_defaults "K=V" (NULL-terminated or NULL) below the
	 * pipeline's env and the trigger's, above the fixed PATH, HOME, LANG.
	 */
	const char *rootfs;
	const char *const *mounts;
	const char *const *env_defaults;
};

int sched_create(uv_loop_t *loop, struct exec *exec,
		 const struct sched_options *opts,
		 const struct sched_callbacks *cb, struct sched **out) PW_WUR;
/* Only when no run is active. */
void sched_destroy(struct sched *s);

/*
 * Creates a queued run of `p` (takes ownership of p).  Not started until
 * sched_run_start(); before that it can be shaped with the calls below.
 */
int sched_run_create(struct sched *s, struct pipeline *p,
		     const struct sched_run_params *params,
		     struct sched_run **out) PW_WUR;
/*
 * Restricts the run to the jobs `name` designates (full or base name);
 * may be called several times.  Jobs left out are skipped and do not hold
 * up their dependants.  -ENOENT if no job has that name.
 */
int sched_run_only(struct sched_run *r, const char *name) PW_WUR;
/*
 * Approves the manual jobs `name` designates, before the start or while
 * the run is active (a waiting job is then decided again).  -ENOENT if no
 * manual job has that name, -EALREADY if the run has finished.
 */
int sched_run_approve(struct sched_run *r, const char *name) PW_WUR;
/*
 * Before the start of a restored run: the jobs to run again — those named
 * (full or base names; NULL-terminated), or with names NULL every failed,
 * timed out, canceled or lost job — and everything downstream of them go
 * back to pending with a fresh retry budget; attempts keep counting.
 * Returns how many jobs will run again, or -ENOENT for an unknown name.
 */
int sched_run_rerun(struct sched_run *r, const char *const *names) PW_WUR;
/* The host ids of the run's next attempts (strict; before they launch). */
void sched_run_set_ids(struct sched_run *r, uint32_t uid, uint32_t gid);
/* The host path job's attempts run in (jobs_dir's, else the run's). */
const char *sched_attempt_workspace(const struct sched_run *r, size_t job);
/*
 * The environment job's current attempt runs with ("K=V", NULL-terminated,
 * PIPEWRIGHT_* included; caller frees with pw_strv_free), for expanding
 * its cache and artifact paths as its script would; NULL for no such job.
 */
char **sched_attempt_env(const struct sched_run *r, size_t job);
/*
 * Adds NAME=VALUE to the environment of an attempt held by
 * attempt_prepare, after every other variable (TRACEPARENT and
 * TRACESTATE: the trace context of the attempt's span); copied, for this
 * attempt only.  At most two names; -E2BIG past that, -EINVAL if the job
 * is not being prepared.
 */
int sched_attempt_setenv(struct sched_run *r, size_t job, const char *name,
			 const char *value) PW_WUR;
/*
 * The root (exec_spec's rootfs), image Env ("K=V", NULL-terminated or
 * NULL; below the admin's env_defaults and the pipeline's env) and image
 * User (NULL: none; who the job runs as when its pipeline sets no user)
 * of an attempt held by attempt_prepare, for this attempt only; copied.
 * A job whose pipeline names an `image` does not start without one.
 * -EINVAL if the job is not being prepared.
 */
int sched_attempt_image(struct sched_run *r, size_t job, const char *rootfs,
			const char *const *env, const char *user) PW_WUR;
/* Goes on with an attempt held by attempt_prepare; rc < 0 fails it. */
int sched_attempt_proceed(struct sched_run *r, size_t job, int rc) PW_WUR;
/* Ends an attempt held by attempt_prepare as failed, for `reason` (a
 * workspace that could not be made). */
int sched_attempt_fail(struct sched_run *r, size_t job,
		       const char *reason) PW_WUR;
/*
 * Settles an attempt held by attempt_finish: rc 0 keeps the supervisor's
 * result; rc < 0 turns a success into failed with `reason` (copied; NULL:
 * one made from rc), while any other result stays as it was.  Retries,
 * dependants and the run's end then follow from the settled state, as
 * without the hook; a cancel of the run that came meanwhile made no
 * second end (the result stands and the run ends canceled).  -EINVAL if
 * the job is not finishing or rc > 0; -ECANCELED after sched_detach()
 * (nothing happens: the next process adopts the attempt and finishes it
 * again).
 */
int sched_attempt_settle(struct sched_run *r, size_t job, int rc,
			 const char *reason) PW_WUR;
/*
 * Adds bytes to a finishing attempt's log (between attempt_finish and the
 * settle): they go to the output callback as the supervisor's bytes did,
 * right after them, so the log's offsets stay contiguous.  At most
 * SCHED_MAX_FINISH_LOG bytes per attempt: the call that would pass it
 * adds nothing but the line "[pipewright: further lines after the job
 * dropped]", and it and later calls answer -E2BIG.  -EINVAL if the job is
 * not finishing; -ECANCELED after sched_detach().
 */
#define SCHED_MAX_FINISH_LOG (64 * 1024)
int sched_attempt_log(struct sched_run *r, size_t job, const char *data,
		      size_t len) PW_WUR;
/*
 * Restores a job's saved state and attempt count (before start).  A job
 * restored as running or ready is run again as a new attempt; one restored
 * as waiting is decided again (approved by then, it runs).
 */
int sched_run_restore_job(struct sched_run *r, size_t job,
			  enum sched_job_state state, int attempts) PW_WUR;
/* Queues the run; jobs start as slots allow. */
int sched_run_start(struct sched_run *r) PW_WUR;
/* Cancels: running jobs are killed, the others marked canceled. */
int sched_run_cancel(struct sched_run *r) PW_WUR;
/* Frees a finished (or never started) run. */
void sched_run_destroy(struct sched_run *r);

uint64_t sched_run_id(const struct sched_run *r);
const struct pipeline *sched_run_pipeline(const struct sched_run *r);
enum sched_run_state sched_run_state(const struct sched_run *r);
/* The run's sandbox mode (its project's when it was built). */
enum exec_sandbox sched_run_sandbox(const struct sched_run *r);
bool sched_run_finished(const struct sched_run *r);
enum sched_job_state sched_run_job_state(const struct sched_run *r, size_t job);
int sched_run_job_attempts(const struct sched_run *r, size_t job);
/* The attempts a job had when a rerun queued it again; -1: it was not. */
int sched_run_job_rerun(const struct sched_run *r, size_t job);
/* UTC ms of the job's first start and last end, 0 if none. */
uint64_t sched_run_job_started_ms(const struct sched_run *r, size_t job);
uint64_t sched_run_job_finished_ms(const struct sched_run *r, size_t job);

/*
 * While paused, queued runs stay queued (their jobs wait); runs already
 * running go on.  Resuming starts what the free slots allow.
 */
void sched_pause(struct sched *s, bool paused);
bool sched_paused(const struct sched *s);
/*
 * While held, nothing starts or settles: a caller that starts several
 * runs at once (a recovery) holds, starts them all, then releases, so
 * that environments, slots and project limits see every run before any
 * job is started.  Adopted attempts are taken up at their run's start
 * regardless.
 */
void sched_hold(struct sched *s, bool hold);
/*
 * Lets go of every running attempt without ending it (exec_detach): the
 * jobs go on under their supervisors for a later process to adopt with
 * sched_run_adopt_job().  Afterwards nothing starts and no callback runs;
 * only sched_run_destroy() and sched_destroy() remain to be called.
 */
void sched_detach(struct sched *s);
/*
 * Before the start of a restored run: the job's attempt number `attempt`
 * was left running under the supervisor in `dir`, and the caller has its
 * log up to `offset`.  The started run takes it up (exec_attach): output
 * continues at `offset` and the end is reported as for any attempt, with
 * no running event (it was reported by whoever started it).  If nothing
 * answers there, the attempt ends as lost.
 */
int sched_run_adopt_job(struct sched_run *r, size_t job, int attempt,
			const char *dir, uint64_t offset) PW_WUR;
/*
 * Before the start of a restored run: how many of the job's attempts since
 * it was last queued were lost, which counts against its lost_retries.
 * The other attempts since then (the one taken up included) count against
 * its retry budget.
 */
int sched_run_restore_lost(struct sched_run *r, size_t job, int lost) PW_WUR;
/*
 * Before the start of a restored run: a rerun queued the job again when it
 * had `after` attempts (what sched_run_job_rerun() said then).  Its budgets
 * count the attempts after those, and until one of its rerun jobs has an
 * attempt after them, the run is a rerun still queued: a paused queue
 * holds it.
 */
int sched_run_restore_rerun(struct sched_run *r, size_t job,
			    int after) PW_WUR;

/* Jobs running now, in all runs. */
int sched_running(const struct sched *s);
/*
 * Runs the scheduler's rounds have looked at, all time: each round looks
 * at the runs something happened to and at ready runs while slots are
 * free, never at every queued run (tests check that it does not grow
 * with the queue).
 */
uint64_t sched_visits(const struct sched *s);
/*
 * The queued runs next in line for a slot, oldest first, up to n of them
 * in out; 0 while the queue is paused.  For work a run's first job needs
 * that can be done ahead (its workspace).
 */
size_t sched_queued_next(const struct sched *s, struct sched_run **out,
			 size_t n);

const char *sched_job_state_name(enum sched_job_state st);
const char *sched_run_state_name(enum sched_run_state st);
bool sched_job_state_final(enum sched_job_state st);

#endif
