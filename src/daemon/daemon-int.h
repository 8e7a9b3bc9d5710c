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

#include "pipewright/config.h"
#include "pipewright/daemon.h"
#include "pipewright/exec.h"
#include "pipewright/http.h"
#include "pipewright/log.h"
#include "pipewright/pipeline.h"
#include "pipewright/sched.h"
#include "pipewright/store.h"

#define LOG_FLUSH_BYTES (256 * 1024)  /* a batch of log bytes per commit */
#define LOG_FLUSH_MS 50               /* or what came in this long */

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
	struct buf mem;           /* bytes from `committed` to `total`, from
	                             mem.data + mem_off (the committed prefix
	                             is dropped lazily: no memmove per batch
	                             while a backlog builds) */
	size_t mem_off;
	bool ended;               /* the attempt's end is known */
	char *status, *reason;    /* its result, once ended */
	int exit_code;
	struct follower *followers;
	int ops;                  /* store writes whose done callback uses it */
	bool orphan;              /* let go of (record_forget_all): freed by
	                             the last of those callbacks */
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
	uint32_t job_uid;         /* strict: the host uid (= gid) of its jobs,
	                             from job_ids (jobids.c); 0: none yet */
	struct live_run *next;
};

struct daemon {
	uv_loop_t loop;
	char *config_path;
	struct config *config;    /* replaced whole on SIGHUP */
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
	struct live_attempt *attempts;
	struct checkout *checkouts; /* under way, until committed (checkout.c) */
	bool draining;
	/*
	 * The jobs belong to the supervisors and the next daemon (drain:
	 * detach, or an upgrade handing over): nothing starts here any more.
	 */
	bool detached;
	struct upgrade *upgrade;  /* an upgrade under way (upgrade.c), or NULL */
	int successor_fd;         /* a new daemon: the old one's end, or -1 */
	uv_pipe_t predecessor;    /* ... watched for its exit */
	char pred_buf[64];        /* what it might say (nothing is expected) */
	uv_timer_t close_timer;   /* waits for in-flight responses */
	uint64_t close_deadline;  /* mono ms */
	char *self_path;          /* the program an upgrade starts by default */
	int handed_fd;            /* after an upgrade: kept open until exit */
	bool store_failed;        /* the last commit failed: not ready */
	struct daemon_duration *durations; /* job durations (durations.c) */
	size_t ndurations;
	int exit_status;
	struct daemon_stats stats;
};

/* record.c: sched → store */
void record_event(void *arg, const struct sched_event *ev);
void record_output(void *arg, struct sched_run *run, size_t job, int attempt,
		   const char *data, size_t len);
void record_prepare(void *arg, struct sched_run *run, size_t job,
		    int attempt, const char *dir);
void record_flush_all(struct daemon *d);
/*
 * Every attempt leaves memory (a handover): followers hear that the job
 * goes on elsewhere; one with writes in flight is freed by the last.
 */
void record_forget_all(struct daemon *d);
struct live_run *live_run_find(struct daemon *d, uint64_t id);
struct live_run *live_run_of(struct daemon *d, const struct sched_run *run);
/* Unlinks and frees a live run; live_run_free frees one never linked. */
void live_run_remove(struct daemon *d, struct live_run *lr);
void live_run_free(struct live_run *lr);

/* trigger.c: with cancel_superseded, live runs of the project's branch
 * older than `newer` are canceled. */
void trigger_supersede(struct daemon *d, const struct config_project *proj,
		       const char *branch, uint64_t newer);
/* jobids.c */
/*
 * Gives lr a uid of job_ids if it has none, tells sched, and gives the
 * workspace to it (strict only; 0 otherwise).  -EUSERS: none is free.
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
/* Commit statuses from the outbox (daemon_create, handover_resume). */
int daemon_notify_create(struct daemon *d, char **err);
/* The pid file's lock: one daemon per data directory (an upgrade hands it on). */
int daemon_pid_file_take(struct daemon *d, char **err);
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
		       const char *commit, const char *why,
		       struct status_rows *out);
/* In the change's own transaction. */
int status_rows_put(struct store_tx *tx, const struct status_rows *r,
		    uint64_t now);
void status_rows_free(struct status_rows *r);

/* durations.c: the job duration histograms by project and job */
void durations_add(struct daemon *d, const char *project, const char *job,
		   uint64_t ms);
void durations_free(struct daemon *d);

/* schedule.c: the projects' cron schedules, rebuilt on SIGHUP */
void schedules_load(struct daemon *d);
void schedules_free(struct daemon *d);

/* files.c */
int files_mkdirs(const char *path, mode_t mode);
void files_remove_tree(const char *path);
/*
 * A checkout is made in <workspaces_dir>/<run>.co-<n> and renamed into
 * place, so that a git a killed daemon left behind never writes into the
 * workspace the next one fills.
 */
#define FILES_CHECKOUT_INFIX ".co-"
/* Removes <attempts_dir>/r<run>-*, <workspaces_dir>/<run> and <run>.co-*. */
void files_remove_run(struct daemon *d, uint64_t run);

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

void daemon_write(struct daemon *d, store_write_fn fn, void *arg,
		  void (*free_arg)(void *));
void daemon_note_store(struct daemon *d, int rc);

#endif
