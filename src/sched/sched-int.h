/*
 * sched's private layout, shared by its own files only.
 */
#ifndef PIPEWRIGHT_SCHED_INT_H
#define PIPEWRIGHT_SCHED_INT_H

#include "pipewright/sched.h"

struct sched_job {
	enum sched_job_state state;
	int attempts;              /* attempts made, all time (numbering) */
	int tries;                 /* attempts since the job was last queued (retry budget) */
	int lost;                  /* lost attempts since then (lost_retries budget) */
	int base;                  /* attempts before it was last queued (a
	                              rerun): tries and lost count after them */
	bool never_ran;            /* the adopted attempt was never started */
	bool selected;             /* named by sched_run_only() */
	bool approved;             /* a manual job someone approved */
	bool neutral;              /* skipped without holding up dependants */
	bool preparing;            /* waiting for sched_attempt_proceed() */
	bool finishing;            /* ended, waiting for sched_attempt_settle() */
	enum sched_job_state fin_state; /* while finishing: the supervisor's */
	int fin_exit;              /* result, its exit code */
	char *fin_reason;          /* and reason (owned, or NULL) */
	size_t fin_logged;         /* bytes sched_attempt_log() passed on */
	bool rerun;                /* marked by sched_run_rerun(), or restored so */
	struct exec_attempt *att;  /* while running */
	void *ctx;                 /* att's callback context, owned */
	bool adopt;                /* sched_run_adopt_job(): take up, not start */
	uint64_t adopt_offset;     /* log bytes the caller already has */
	char *dir;                 /* the running attempt's directory */
	char *trace_env[3];        /* "K=V" the caller added while preparing
	                              (sched_attempt_setenv), owned, NULL-ended */
	char *img_rootfs;          /* the attempt's image root, its Env and
	                              its User (sched_attempt_image), owned,
	                              or NULL */
	char **img_env;
	char *img_user;
	char *workspace;           /* its attempts' workspace (host path) */
	uint64_t started_ms;       /* first start, UTC ms */
	uint64_t finished_ms;      /* last end, UTC ms */
};

/*
 * A project's jobs in state running over all its runs, for its max_jobs:
 * kept as jobs change state, so that a round does not count them over
 * every run.  One per project name seen, freed with the scheduler.
 */
struct sched_project {
	char *name;
	int running;
	struct sched_env {            /* its environments, each with the */
		char *name;           /* jobs running in it (at most one */
		int running;          /* but while a restart takes up two) */
		struct sched_env *next;
	} *envs;
	struct sched_project *next;
};

struct sched_run {
	struct sched *s;
	struct sched_project *proj;   /* its project's counts */
	struct pipeline *p;           /* owned */
	uint64_t id;
	char *project, *workspace, *branch, *tag, *commit; /* owned copies */
	char *workspace_at;           /* strict: where jobs see theirs; NULL */
	char **env;                   /* owned, NULL-terminated */
	char *rootfs;                 /* strict: the jobs' root; NULL, owned */
	char **mounts;                /* strict: owned, NULL-terminated */
	char **env_defaults;          /* the admin's; owned, NULL-terminated */
	char **secrets;               /* owned "K=V", NULL-terminated */
	bool skip_manual;
	int project_max_jobs;         /* 0: no limit */
	bool network;                 /* `network: true` granted */
	char *network_denied;         /* else the job's reason; owned */
	enum exec_sandbox sandbox;    /* this run's mode */
	struct exec_resources resources; /* defaults, each 0: the options' */
	uint64_t timeout_ms;          /* 0: the options' */
	uint64_t max_log;             /* 0: the options' */
	uint32_t uid, gid;            /* strict: the jobs' host ids; 0: exec's
	                                 default */
	enum sched_run_state state;
	bool started;                 /* sched_run_start() was called */
	bool only;                    /* sched_run_only() was called */
	bool canceling;
	size_t njobs;
	struct sched_job *jobs;
	int running;                  /* jobs of this run running now */
	uint64_t seq;                 /* its place in the FIFO (start order) */
	struct sched_run *prev, *next; /* in s's FIFO of active runs */
	/*
	 * Something happened to it since the last round (a job changed
	 * state, it started, an approval): the next round releases its
	 * pending jobs and sees whether it is done.  Only these runs are
	 * looked at, not every queued one.
	 */
	bool dirty;
	struct sched_run *dirty_next;
	/*
	 * Jobs in state ready; the run is in one of s's ready lists (oldest
	 * first; the running runs' or the queued runs', which a paused queue
	 * holds) from its first ready job until a round finds none left.
	 */
	size_t nready;
	struct sched_ready *in_ready;  /* that list, or NULL */
	struct sched_run *ready_prev, *ready_next;
};

struct sched {
	uv_loop_t *loop;
	struct exec *exec;
	struct sched_options opts;    /* attempts_dir is an owned copy */
	struct sched_callbacks cb;
	struct sched_run *head, *tail; /* active runs, oldest first */
	uint64_t seq;                 /* the last run's seq */
	struct sched_run *dirty;      /* runs for the next round, unordered */
	struct sched_ready {          /* runs with ready jobs, oldest first: */
		struct sched_run *head, *tail;
	} ready_running, ready_queued; /* ... by the run's state */
	uint64_t visits;              /* sched_visits() */
	struct sched_project *projects;
	int running;                  /* jobs running, all runs */
	bool pumping, pump_again;     /* sched_pump() is not re-entered */
	bool paused;                  /* queued runs stay queued */
	bool detached;                /* sched_detach(): nothing starts */
	bool held;                    /* sched_hold() */
};

/* Reports a job's new state (and stores it). */
void sched_job_set(struct sched_run *r, size_t j, enum sched_job_state st,
		   int exit_code, const char *reason);
void sched_run_set(struct sched_run *r, enum sched_run_state st,
		   const char *reason);
/*
 * A round: releases and settles the runs marked dirty, starts ready jobs
 * while slots are free; its cost follows what changed and what starts,
 * not how many runs are queued.
 */
void sched_pump(struct sched *s);
/* The project's counts, made at its first run. */
struct sched_project *sched_project(struct sched *s, const char *name);
/* A job of the run starts (1) or stops (-1) running: its project's counts. */
void sched_count_running(struct sched_run *r, size_t j, int delta);
/* Something happened to the run: the next round looks at it. */
void sched_run_dirty(struct sched_run *r);
/* Starts the job's next attempt (job.c). */
void sched_job_start(struct sched_run *r, size_t j);
/* Frees what sched_attempt_setenv added for the job's next launch. */
void sched_job_trace_env_free(struct sched_job *job);
/* Takes up the adopted attempts of a run being started (job.c). */
void sched_job_adopt(struct sched_run *r, size_t j);
/* Lets go of a running attempt without ending it. */
void sched_job_detach(struct sched_run *r, size_t j);
/* Asks a running attempt to stop. */
void sched_job_cancel(struct sched_run *r, size_t j);

/*
 * The order rules, pure (rules.c): whether a pending job can be decided
 * yet, and if so whether it runs, waits for approval or is skipped (with a
 * reason for people, caller frees).
 */
enum sched_verdict {
	SCHED_VERDICT_WAIT,  /* predecessors not settled yet */
	SCHED_VERDICT_RUN,
	SCHED_VERDICT_HOLD,  /* manual, not approved: waiting */
	SCHED_VERDICT_SKIP,
};
enum sched_verdict sched_rules_decide(const struct sched_run *r, size_t j,
				      char **reason);
/* A final state that counts as the job failing (allow_failure aside). */
bool sched_state_is_failure(enum sched_job_state st);

#endif
