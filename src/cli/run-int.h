/*
 * `pipewright run`'s parts, private to the files that share one run's
 * state (struct run_cli), each with one job:
 *
 * - run.c: the run's flow: the command, git's answers about HEAD, the
 *   scheduler and its events, signals, each attempt's workspace;
 * - runopts.c: the command line, into struct run_opts;
 * - runsandbox.c: what the strict sandbox needs, told before any job, and
 *   whose ids the jobs and their files are;
 * - runimage.c: the jobs' images: refused without the strict sandbox, the
 *   image cache, each attempt's image before its caches;
 * - runreuse.c: caches and artifacts through runcache.c: the cache
 *   directory opened, restored before an attempt, saved after it.
 *
 * runcache.c and runreports.c own opaque types of their own and are
 * declared in cli.h.
 */
#ifndef PIPEWRIGHT_CLI_RUN_INT_H
#define PIPEWRIGHT_CLI_RUN_INT_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cli.h"
#include "pipewright/exec.h"
#include "pipewright/image.h"
#include "pipewright/sched.h"

struct run_opts {
	const char *file;
	int jobs;
	size_t supervisor_pool;   /* --supervisor-pool: started ahead */
	const char *branch;
	uint64_t grace_ms;
	enum exec_sandbox sandbox;
	bool network_deny;        /* --network deny: as a daemon's default */
	bool color;               /* --color: the jobs' colours pass */
	bool clean;               /* --clean: a fresh workspace per job */
	bool no_cache;            /* --no-cache: no restore, no save */
	const char *cache_dir;    /* --cache-dir, else the XDG one */
	const char *rootfs;       /* --rootfs: the jobs' root (strict) */
	char **only, **approve, **env;  /* NULL-terminated */
	char **mounts;            /* --mount: host paths, read-only inside */
	size_t nonly, napprove, nenv, nmounts;
	struct image_registry *regs;  /* --image-registry; hosts owned */
	size_t nregs;
};

struct run_cli {
	struct run_opts *o;
	uv_loop_t loop;
	uv_signal_t sigint, sigterm;
	struct exec *exec;
	struct scm *scm;          /* --clean: makes the jobs' workspaces */
	struct run_cache *cache;  /* NULL: no caches nor artifacts */
	struct run_reports *reports; /* test reports read after attempts */
	struct image_cache *images; /* <cache dir>/images; NULL: no job
	                             has an image */
	struct image_use **uses;  /* roots held until the run ends */
	size_t nuses, cuses;
	struct run_cache_ids ids; /* whose restored files are */
	struct sched *sched;
	struct sched_run *run;
	struct pipeline *p;       /* until the run takes it */
	struct term *term;
	char workspace[PATH_MAX];
	char tmpdir[PATH_MAX];
	uint32_t uid, gid;        /* strict: the jobs' host ids */
	uint32_t owner_uid, owner_gid; /* the checkout's: whose files the
	                             jobs' are on disk (idmapped if not the
	                             jobs' own ids) */
	char *branch, *commit, *tag; /* from git, where known */
	char *dirty;              /* git status's first line; NULL: clean */
	bool none_as_owner;       /* none, as root: jobs run as owner_uid */
	bool rootless;            /* strict without root: as ourselves */
	char **git_env;           /* git's for those questions (strings not
	                             owned) */
	int git_pending;
	bool interrupted;
	int status;               /* the exit status */
};

/* An attempt being prepared (its workspace, its caches) or finished. */
struct prep {
	struct run_cli *c;
	struct sched_run *run;
	size_t job;
	enum sched_job_state state;  /* finished: how */
};

/* runopts.c: the options; run_parse_opts: 0, 1 for --help, or -1 (said). */
extern const struct cli_usage run_usage;
int run_parse_opts(int argc, char **argv, struct run_opts *o);

/* runsandbox.c */
int run_sandbox_preflight(struct run_cli *c);
char *run_builds_path(const char *workspace);

/* runimage.c */
int run_images_preflight(struct run_cli *c);
int run_open_images(struct run_cli *c);
void run_image_then_restore(struct prep *pr);

/* runreuse.c */
void run_open_reuse(struct run_cli *c);
void run_restore_or_proceed(struct prep *pr);
void run_save_or_settle(void *arg);

#endif
