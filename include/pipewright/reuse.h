/*
 * reuse: the rules of caches and artifacts, as pure functions of plain
 * values — no I/O, no clock, no store, no pipeline accessors — so that
 * each rule is one place, tested alone, and the daemon and `pipewright
 * run` apply the same ones.
 *
 * Scopes say whose caches a run may read and where it may save: a run
 * reads its own scope, then its project's default branch; it saves only
 * to its own, and a pull or merge request's own scope is `pr:<n>`, which
 * no branch reads (a PR's job must never plant a cache another branch
 * restores).  A cache key is made from its parts and checked against one
 * charset (keys travel in URLs); the lookup order is the exact key, then
 * the restore_keys prefixes, in each read scope in turn.  Artifacts: when
 * an attempt's are saved, when they expire, and what a job that needs an
 * expired one is told.  docs/internals/reuse.md has the tables.
 */
#ifndef PIPEWRIGHT_REUSE_H
#define PIPEWRIGHT_REUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <uv.h>

#include "pipewright/pipeline.h"
#include "pipewright/sched.h"

/* ---- scopes ---- */

/* What a run was triggered for, as the store keeps it. */
struct reuse_run {
	const char *ref;       /* "refs/heads/main", "refs/pull/7/head",
	                          "refs/merge-requests/7/head"...; NULL: none */
	const char *branch;    /* NULL: none; a pull request's: its source
	                          branch (in a fork: any name, "main" too) */
	const char *tag;       /* NULL: none */
	int64_t pr;            /* the pull/merge request's number; 0: none */
	bool fork;             /* it comes from another repository */
};

#define REUSE_MAX_READ 2

struct reuse_scopes {
	char *write;                    /* where its caches are saved; NULL:
	                                   nowhere (owned) */
	char *read[REUSE_MAX_READ + 1]; /* where they are looked up, in
	                                   order, NULL-terminated (owned) */
	size_t nread;
};

/*
 * The scopes of a run (default_branch: the project's; NULL or "": no
 * fallback).  A pull/merge request (pr > 0, or a ref refs/pull/<n>/... or
 * refs/merge-requests/<n>/...) writes pr:<n> and reads pr:<n>, then
 * branch:<default>; a tag run tag:<t>, then the default branch; a branch
 * run branch:<b>, then the default branch; a fork's run without a number,
 * and a run with neither branch nor tag (a bare commit, an unknown ref),
 * write nothing and read the default branch.  Free with
 * reuse_scopes_free.
 */
void reuse_scopes_of(const struct reuse_run *run, const char *default_branch,
		     struct reuse_scopes *out);
void reuse_scopes_free(struct reuse_scopes *sc);

/* ---- cache keys ---- */

/*
 * A key is 1 to REUSE_KEY_MAX bytes of RFC 3986's unreserved characters
 * (letters, digits, '-', '.', '_', '~'), starting with a letter or digit:
 * it is a URL path segment as it is (DELETE .../caches/{key}), never "."
 * or "..", and never taken for a command line option.  restore_keys
 * prefixes follow the same rule.
 */
#define REUSE_KEY_MAX 200
/*
 * 0 if s is a valid key; else -EINVAL and err says what is wrong, naming
 * `what` ("cache key", "restore_keys prefix") and the value.
 */
int reuse_key_check(const char *what, const char *s, char *err,
		    size_t errlen);
/*
 * A cache's key from its parts, each NULL if absent: prefix, the hex
 * digest of its files, a literal key (all expanded already), joined with
 * '-' in that order; "default" when there is none.  -EINVAL with err for
 * a part or a result that breaks the rule (a digest must be lower-case
 * hex); *out (caller frees) only on success.
 */
int reuse_cache_key(const char *prefix, const char *files_digest,
		    const char *literal, char **out, char *err, size_t errlen);

struct reuse_lookup {
	const char *scope;     /* one of the read scopes (borrowed) */
	const char *key;       /* the key, or a prefix (borrowed) */
	bool prefix;           /* the newest entry whose key starts with it */
};
/*
 * The lookups that find a cache, first hit wins: in each read scope in
 * order, the exact key, then each restore_keys prefix (NULL-terminated or
 * NULL; repeats left out).  Returns their number; *out (caller frees)
 * borrows sc's, key's and restore_keys' strings.
 */
size_t reuse_lookup_order(const struct reuse_scopes *sc, const char *key,
			  const char *const *restore_keys,
			  struct reuse_lookup **out);

/* ---- artifacts ---- */

/*
 * Whether an attempt that ended `st` saves its artifacts under `when`
 * (on_success, on_failure or always): success for on_success, failed or
 * timed_out for on_failure, either for always; canceled, lost or any other
 * state never (the workspace is what an interrupted job left).
 */
bool reuse_artifacts_wanted(enum pipeline_when when, enum sched_job_state st);
/*
 * When artifacts made at created_ms expire (UTC ms): after expire_in_ms,
 * else the server's default_ms; 0 if both are 0 (never).
 */
uint64_t reuse_artifact_expiry(uint64_t created_ms, uint64_t expire_in_ms,
			       uint64_t default_ms);
/*
 * What a job that needs an expired artifact says (caller frees):
 * "artifact 'app' of job 'build' in run 41 expired at 2026-12-01 10:00
 * UTC (expire_in 7d); rerun the build job (`pipewright rerun 41 build`)
 * to make it again".  expire_in is expires_ms - created_ms.
 */
char *reuse_artifact_expired(const char *artifact, const char *job,
			     uint64_t run, uint64_t created_ms,
			     uint64_t expires_ms);

/* ---- the step: a job's caches and artifacts, around its script ---- */

/*
 * Restores what a job gets before its script and saves what it leaves
 * after it, applying the rules above: the daemon and `pipewright run`
 * share it.  Every archive, hash and file operation runs in the loop's
 * worker threads; store reads on the loop (the store's rule), writes
 * through store_write.  Lines for the job's log come back with the
 * result.  docs/internals/reuse.md has the flow.
 */
struct store;
struct blob_store;
struct reuse_step;

struct reuse_limits {
	uint64_t artifact_max_size;  /* content bytes of one job's; 0: none */
	uint64_t artifact_expire_ms; /* expire_in when a job sets none; 0:
	                                never */
	bool keep_latest;            /* an artifact past its expiry is still
	                                restored until retention releases it */
	uint64_t cache_max_size;     /* content bytes of one cache; 0: none */
};

/* What the step needs of a job attempt (borrowed during the call). */
struct reuse_job {
	uint64_t run;
	const char *project;
	const struct pipeline *p;
	size_t job;
	const char *const *env;      /* the job's "K=V" (sched_attempt_env) */
	const char *root;            /* the workspace, host path */
	uid_t uid;                   /* restored files belong to uid:gid; */
	gid_t gid;                   /* packs skip hard links of others */
	const struct reuse_scopes *scopes;
	bool keep_existing;          /* never overwrite a file (local runs) */
	bool caches_only;            /* artifacts neither restored nor saved:
	                                the jobs share one workspace, where
	                                they are already (`pipewright run`
	                                without --clean) */
	bool no_caches;              /* caches neither restored nor saved
	                                (`pipewright run --no-cache`) */
};

struct reuse_result {
	int rc;                      /* < 0: the job fails for reason */
	const char *reason;          /* valid during the callback */
	const char *log;             /* lines for the job's log, each ending */
	size_t len;                  /* in '\n'; valid during the callback */
	uint64_t saved_bytes;        /* archive bytes of caches saved */
};
typedef void (*reuse_step_cb)(const struct reuse_result *res, void *arg);

struct reuse_stats {
	uint64_t cache_hits, cache_misses;
	uint64_t bytes_restored;     /* content bytes, caches and artifacts */
	uint64_t bytes_saved;        /* archive bytes, caches and artifacts */
};

void reuse_step_create(uv_loop_t *loop, struct store *s,
		       struct blob_store *bs, const struct reuse_limits *lim,
		       struct reuse_step **out);
void reuse_step_set_limits(struct reuse_step *st,
			   const struct reuse_limits *lim);
void reuse_step_stats(const struct reuse_step *st, struct reuse_stats *out);
/* Restores and saves under way (a shutdown waits for 0). */
size_t reuse_step_busy(const struct reuse_step *st);
/* Only when reuse_step_busy is 0. */
void reuse_step_destroy(struct reuse_step *st);
/*
 * Before the script: the artifacts of pipeline_job_artifact_sources
 * (this run's; an expired one fails the job with
 * reuse_artifact_expired's message), then each cache whose policy pulls,
 * by the lookup order.  cb runs once, on the loop.
 */
void reuse_step_restore(struct reuse_step *st, const struct reuse_job *job,
			reuse_step_cb cb, void *arg);
/*
 * After it, the attempt having ended `state`: its artifacts when `when`
 * wants them (over artifact_max_size: rc < 0), then each cache whose
 * policy pushes, unless its key exists or another save of it is under
 * way; a cache that cannot be saved is a line, never a failure.
 */
void reuse_step_save(struct reuse_step *st, const struct reuse_job *job,
		     enum sched_job_state state, reuse_step_cb cb, void *arg);

#endif
