/*
 * pipeline: YAML bytes → a typed, validated pipeline model.
 *
 * Pure: no I/O, no globals.  pipeline_parse() either returns a model whose
 * every job is valid, matrix-expanded and ordered, or a list of problems
 * (file, line, column, message; problems.h), all of them at once.  The
 * model keeps the raw YAML bytes so that the daemon can store them as the
 * run's snapshot.
 *
 * Jobs are numbered 0..n-1 in the order the file writes them; a matrix job
 * expands in place into one job per combination, named
 * "base (v1, v2)" with the values in the order the matrix keys are written.
 */
#ifndef PIPEWRIGHT_PIPELINE_H
#define PIPEWRIGHT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipewright/problems.h"
#include "pipewright/util.h"

/* Hard limits, checked with a clear message rather than by running out. */
#define PIPELINE_MAX_BYTES (1024 * 1024)  /* a larger file is refused */
#define PIPELINE_MAX_CACHES 8             /* per job */
#define PIPELINE_MAX_PATHS 100            /* per list of paths or keys */
#define PIPELINE_MAX_COMBINATIONS 256     /* per matrix job */
#define PIPELINE_MAX_JOBS 1024            /* after matrix expansion */
#define PIPELINE_MAX_SERVICES 8           /* per job */

struct pipeline;

enum pipeline_when {
	PIPELINE_WHEN_ON_SUCCESS,
	PIPELINE_WHEN_ON_FAILURE,
	PIPELINE_WHEN_ALWAYS,
	PIPELINE_WHEN_MANUAL,
};

/* Bits of pipeline_job_retry_when(). */
#define PIPELINE_RETRY_FAILED 0x1
#define PIPELINE_RETRY_TIMED_OUT 0x2

#define PIPELINE_DEFAULT_TIMEOUT_MS (60ULL * 60 * 1000)

/*
 * Parses and validates `len` bytes of YAML.  `file` names the source in
 * problems.  On success returns 0 and *out (caller destroys).  If anything
 * is wrong returns -EINVAL, leaves *out NULL and appends every problem found
 * to `problems`.
 */
int pipeline_parse(const char *file, const char *data, size_t len,
		   struct pipeline **out,
		   struct pipeline_problems *problems) PW_WUR;
void pipeline_destroy(struct pipeline *p);

const char *pipeline_file(const struct pipeline *p);
/* The raw YAML bytes, exactly as given (not NUL-terminated in general). */
const char *pipeline_raw(const struct pipeline *p, size_t *len);

size_t pipeline_stage_count(const struct pipeline *p);
const char *pipeline_stage(const struct pipeline *p, size_t i);

size_t pipeline_job_count(const struct pipeline *p);
/* Index of the job with this full name, or -1. */
long pipeline_job_find(const struct pipeline *p, const char *name);
/* True if `name` is the job's full name or its base (pre-matrix) name. */
bool pipeline_job_is(const struct pipeline *p, size_t job, const char *name);

const char *pipeline_job_name(const struct pipeline *p, size_t job);
const char *pipeline_job_base(const struct pipeline *p, size_t job);
size_t pipeline_job_stage(const struct pipeline *p, size_t job);
/* The script items, in order (at least one). */
size_t pipeline_job_script_count(const struct pipeline *p, size_t job);
const char *pipeline_job_script(const struct pipeline *p, size_t job, size_t k);
/*
 * The jobs this job waits for: with `needs`, the expanded jobs it names;
 * without, every job of every earlier stage.  Sorted ascending.
 */
size_t pipeline_job_preds(const struct pipeline *p, size_t job,
			  const size_t **preds);
/* True if the job has a `needs` key (possibly empty). */
bool pipeline_job_has_needs(const struct pipeline *p, size_t job);
/*
 * The job's environment from the file: pipeline env, then job env, then
 * the matrix values, later ones overriding.  NULL-terminated "KEY=VALUE".
 */
const char *const *pipeline_job_env(const struct pipeline *p, size_t job);
uint64_t pipeline_job_timeout_ms(const struct pipeline *p, size_t job);
int pipeline_job_retry_max(const struct pipeline *p, size_t job);
unsigned pipeline_job_retry_when(const struct pipeline *p, size_t job);
/* New attempts after lost ones: `lost_retries`, else 1, 0 with an environment. */
int pipeline_job_lost_retries(const struct pipeline *p, size_t job);
bool pipeline_job_allow_failure(const struct pipeline *p, size_t job);
enum pipeline_when pipeline_job_when(const struct pipeline *p, size_t job);
/* True if the job's `branches` admit `branch`; NULL (unknown) admits all. */
bool pipeline_job_runs_on_branch(const struct pipeline *p, size_t job,
				 const char *branch);
/* Relative to the workspace, normalised; NULL if not set. */
const char *pipeline_job_working_dir(const struct pipeline *p, size_t job);
/*
 * The job's `image:` (its own, else `default:`'s), as written and checked
 * by image_ref_parse(); NULL: the host's root.
 */
const char *pipeline_job_image(const struct pipeline *p, size_t job);
/* NULL if not set. */
const char *pipeline_job_environment(const struct pipeline *p, size_t job);

/* The job's `network: true`: it asks for outbound network (a grant). */
bool pipeline_job_network(const struct pipeline *p, size_t job);
/*
 * The job's `user` as written ("1000", "1000:1000", "builder",
 * "builder:staff"); NULL if not set: uid 0 inside its sandbox.
 */
const char *pipeline_job_user(const struct pipeline *p, size_t job);
/*
 * The job's `resources` and `timeout`; 0 where not set (the runner's
 * default applies: pipeline_job_timeout_ms() gives the timeout with this
 * module's own default).
 */
struct pipeline_resources {
	uint64_t memory;      /* bytes */
	uint64_t pids;
	uint64_t cpu_seconds;
	uint64_t file_size;   /* bytes */
	uint64_t open_files;
	uint64_t timeout_ms;
};
void pipeline_job_resources(const struct pipeline *p, size_t job,
			    struct pipeline_resources *out);
/*
 * Checks what every job asks for against a server's ceilings (the same
 * fields; 0: no ceiling) and appends one problem per value above its
 * ceiling, at the value's position: "resources.memory: 1024G is above
 * this server's ceiling of 8G".  Returns how many were added.
 */
size_t pipeline_check_ceilings(const struct pipeline *p,
			       const struct pipeline_resources *max,
			       struct pipeline_problems *pp);
/* The names in the job's `secrets`, NULL-terminated (empty if none). */
const char *const *pipeline_job_secrets(const struct pipeline *p, size_t job);

/*
 * `cache`: what a job restores before its script and saves after it,
 * across runs of a project (docs/pipeline.md).  Values are as written:
 * `$NAME` in the key, the paths and restore_keys is expanded when the
 * job starts (pw_expand, with the job's environment), and the expanded
 * paths must pass glob_path_check() again then.  Validation has checked
 * the syntax of every reference and that each path, as written, stays
 * inside the workspace.
 */
enum pipeline_cache_policy {
	PIPELINE_CACHE_PULL_PUSH,
	PIPELINE_CACHE_PULL,
	PIPELINE_CACHE_PUSH,
};
struct pipeline_cache {
	const char *prefix;              /* key: {prefix: ...}; NULL if none */
	const char *const *files;        /* key: {files: [...]}: globs,
					    NULL-terminated (may be empty) */
	const char *literal;             /* key: "..." (a plain string,
					    unexpanded); NULL if a map */
	const char *const *paths;        /* unexpanded, relative,
					    NULL-terminated, at least one */
	const char *const *restore_keys; /* prefixes, unexpanded,
					    NULL-terminated (may be empty) */
	enum pipeline_cache_policy policy;
};
/* The job's caches in file order (0 if none); valid until destroyed. */
size_t pipeline_job_cache_count(const struct pipeline *p, size_t job);
const struct pipeline_cache *pipeline_job_cache(const struct pipeline *p,
						size_t job, size_t i);
/* "pull", "push" or "pull-push". */
const char *pipeline_cache_policy_name(enum pipeline_cache_policy policy);

/*
 * `artifacts`: files a job hands to the jobs after it, kept by the
 * server until they expire.
 */
struct pipeline_artifacts {
	const char *name;                /* `name:` (its $NAMEs expanded
					    from the file's env and matrix),
					    else the job's full name; unique
					    within the pipeline */
	const char *const *paths;        /* globs, unexpanded, NULL-terminated,
					    at least one */
	const char *const *exclude;      /* globs, unexpanded, NULL-terminated
					    (may be empty) */
	enum pipeline_when when;         /* ON_SUCCESS (default), ON_FAILURE
					    or ALWAYS */
	uint64_t expire_in_ms;           /* 0: the server's default */
};
/* NULL if the job has no `artifacts`; valid until destroyed. */
const struct pipeline_artifacts *pipeline_job_artifacts(
	const struct pipeline *p, size_t job);
/*
 * The jobs whose artifacts this job gets, ascending: with `needs`, the
 * needed jobs that have `artifacts` and are not `{job: x, artifacts:
 * false}`; without `needs`, every job of an earlier stage that has
 * `artifacts`.  *jobs is valid until destroyed.
 */
size_t pipeline_job_artifact_sources(const struct pipeline *p, size_t job,
				     const size_t **jobs);

/*
 * `services`: processes started beside the job's script, inside its
 * sandbox, in `needs` order, each waited for until ready; stopped when
 * the script ends.  Values are as written: `$NAME` in command, setup and
 * env is expanded when the service starts (by the supervisor).
 */
struct pipeline_service {
	const char *name;                /* [a-z][a-z0-9_-]*, at most 32 */
	const char *const *command;      /* argv, NULL-terminated; with
					    `shell`, one shell command */
	bool shell;                      /* command was written as a string */
	const char *const *setup;        /* shell commands run before it, in
					    order, NULL-terminated (may be
					    empty) */
	const char *const *env;          /* "KEY=VALUE", NULL-terminated */
	const char *ready;               /* "tcp:PORT", "http:URL",
					    "command:CMD", or NULL: ready
					    once started */
	uint64_t ready_timeout_ms;       /* 60 s unless written */
};
/* The job's services in start order; valid until destroyed. */
size_t pipeline_job_service_count(const struct pipeline *p, size_t job);
const struct pipeline_service *pipeline_job_service(const struct pipeline *p,
						    size_t job, size_t i);

/*
 * `reports: {junit: [...]}`: globs of JUnit XML files the server reads
 * beneath the workspace after the job, unexpanded ($NAMEs as in
 * artifacts' paths), NULL-terminated; NULL if the job has none.  Valid
 * until destroyed.
 */
const char *const *pipeline_job_reports_junit(const struct pipeline *p,
					      size_t job);

/* The name of a state/value for messages, e.g. "on_success". */
const char *pipeline_when_name(enum pipeline_when w);

/* glob_match() (glob.h), as branch filters use it: `*` stops at `/`,
 * `**` spans any depth. */
bool pipeline_glob_match(const char *pattern, const char *s);

#endif
