/*
 * Private to the pipeline module: the YAML node tree, the state of one
 * validation walk, and the layout of the model.  Shared by the .c files
 * only; nothing outside the module includes it.
 *
 * How a parse goes: yamlnode_load() turns libyaml's events into a tree of
 * ynodes (depth capped, duplicate keys reported and dropped, aliases
 * shared, never copied); parse.c walks the top-level mapping with the key
 * tables of keys.c and yamlnode's walk (the config's too), job.c / env.c /
 * matrix.c fill one struct pl_base per job written in the file; order.c
 * resolves `needs` and checks for cycles; matrix.c expands the bases into
 * jobs; env.c merges their environments.  Every walk step is charged to
 * the walk's budget so that aliases cannot make it explode.
 *
 * Functions shared between the module's files carry the `pipeline_` prefix
 * like the public ones but are declared only here.
 */
#ifndef PIPEWRIGHT_PIPELINE_INT_H
#define PIPEWRIGHT_PIPELINE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipewright/pipeline.h"
#include "pipewright/yamlnode.h"

/* Limits beyond the public ones; docs/pipeline.md lists them. */
#define PL_MAX_VISITS 2000000             /* nodes walked, aliases counted */
#define PL_MAX_TEXT (16 * PIPELINE_MAX_BYTES) /* bytes walked or made */
#define PL_MAX_PROBLEMS 100               /* then one "too many" note */
#define PL_MAX_VARS 1000                  /* per env or matrix mapping */
#define PL_MAX_STAGES 100                 /* entries of `stages` */
#define PL_MAX_RETRY 10

/* One `needs` item as written: a name, or {job: NAME, artifacts: B}. */
struct pl_need {
	char *name;
	int line;             /* of the name */
	int column;
	long base;            /* resolved base index, -1 if unknown */
	bool artifacts;       /* false: `artifacts: false` opts out */
};

/* One `cache` as written (cache.c); pub's pointers point at the rest. */
struct pl_cache {
	struct pipeline_cache pub;
	char *prefix;         /* owned, or NULL */
	char **files;         /* owned, NULL-terminated */
	size_t nfiles;
	char *literal;        /* owned, or NULL */
	char **paths;         /* owned, NULL-terminated */
	size_t npaths;
	char **restore_keys;  /* owned, NULL-terminated */
	size_t nrestore;
	size_t item;          /* its number in a list of caches, from 1 */
	bool has_key;
	bool has_paths;
};

/* A job's `artifacts` as written (artifacts.c). */
struct pl_artifacts {
	char **paths;         /* owned, NULL-terminated */
	size_t npaths;
	char **exclude;       /* owned, NULL-terminated */
	size_t nexclude;
	char *name;           /* as written, owned; NULL: the job's name */
	int name_at[2];       /* line, column of the name's value */
	enum pipeline_when when;
	uint64_t expire_in_ms;
	bool has_paths;
};

/* One of a job's `services` as written (services.c). */
struct pl_service {
	char *name;           /* owned */
	char **command;       /* owned, NULL-terminated; one item if shell */
	bool shell;           /* command was a string: run by sh -c */
	char **setup;         /* owned, NULL-terminated, or NULL */
	char **env;           /* "KEY=VALUE", owned, NULL-terminated, or NULL */
	const struct ynode **needs; /* the names, as nodes of the tree */
	size_t nneeds;
	long *dep;            /* needs resolved to indexes; owned */
	char *ready;          /* "tcp:PORT", "http:URL", "command:CMD"; NULL */
	uint64_t ready_timeout_ms;
};

/* A job as the file writes it, before matrix expansion. */
struct pl_base {
	char *name;
	int line;             /* of the job's key */
	int column;
	size_t stage;
	bool has_stage;
	bool stage_bad;       /* unknown stage: no implied order for it */
	char **script;
	size_t nscript;
	bool has_needs;
	struct pl_need *needs;
	size_t nneeds;
	char **env;           /* "KEY=VALUE" from the job's own env */
	size_t nenv;
	uint64_t timeout_ms;
	bool has_timeout;     /* written, not PIPELINE_DEFAULT_TIMEOUT_MS */
	int timeout_at[2];    /* line, column of its value */
	int retry_max;
	bool has_retry_max;   /* a retry mapping wrote `max` */
	unsigned retry_when;
	int lost_retries;     /* -1: not set (1, or 0 with an environment) */
	bool allow_failure;
	enum pipeline_when when;
	bool has_branches;
	char **branches;
	size_t nbranches;
	bool has_matrix;
	char **mkeys;         /* matrix keys in file order */
	char ***mvals;        /* mvals[k][i]: the i-th value of key k */
	size_t *nmvals;
	size_t nmkeys;
	uint64_t combos;      /* product of nmvals (saturating), 1: no matrix */
	int mline;            /* of the matrix value, for expansion problems */
	int mcolumn;
	char *working_dir;    /* normalised; NULL for the workspace itself */
	char *environment;
	bool network;         /* `network: true` */
	char *user;           /* `user` as written (user.c); NULL: root */
	uint64_t res_memory;  /* `resources`; 0: not set */
	uint64_t res_pids;
	uint64_t res_cpu_seconds;
	uint64_t res_file_size;
	uint64_t res_open_files;
	int res_at[5][2];     /* line, column of each value, sandbox.c's order */
	char **secrets;       /* NULL-terminated names, or NULL */
	size_t nsecrets;
	struct pl_cache *caches; /* owned */
	size_t ncaches;
	struct pl_artifacts *artifacts; /* owned; NULL: none */
	struct pl_service *services; /* owned, in file order */
	size_t nservices;
	size_t *svc_order;    /* start order: indexes into services */
	struct pipeline_service *svc_pub; /* in start order; owned */
	char **junit;         /* `reports: {junit: [...]}`: globs as written,
				 owned, NULL-terminated; NULL: none */
	size_t njunit;
	bool has_junit;
	char *image;          /* `image:` as written; NULL: none */
	size_t *sources;      /* jobs whose artifacts it gets; sorted */
	size_t nsources;
	size_t first;         /* its expanded jobs: first .. first+count-1 */
	size_t count;
	size_t *preds;        /* shared by all its expansions; sorted */
	size_t npreds;
};

/* An expanded job. */
struct pl_job {
	char *name;
	size_t base;
	char **menv;          /* "KEY=VALUE" of its matrix values */
	const char **env;     /* merged, NULL-terminated; points into strings
				 owned by the pipeline, the base or menv */
	struct pipeline_artifacts art; /* if the base has artifacts: pointers
				 into the base, name into art_name or name */
	char *art_name;       /* owned: the expanded `name:`, or NULL */
};

struct pipeline {
	char *file;
	char *raw;
	size_t rawlen;
	char **stages;
	size_t nstages;
	char **env;           /* "KEY=VALUE" of the top-level env */
	size_t nenv;
	struct pl_base *bases;
	size_t nbases;
	struct pl_job *jobs;
	size_t njobs;
};

struct pl_top;

/*
 * The state of one parse: the shared walk (problems, budget, quote slots,
 * yamlnode.h) and what is being built.
 */
struct pl_walk {
	struct yamlnode_walk y;
	struct pipeline *p;
	struct pl_base *base; /* the job being walked */
	struct pl_top *top;   /* the top-level keys' nodes (parse.c) */
	struct pl_cache *cache; /* the cache being walked (cache.c) */
	struct pl_need *need; /* the needs mapping being walked (job.c) */
	bool stages_bad;      /* `stages` invalid: skip stage checks */
	const struct ynode *jobs_key;
};

/* A row of a table of allowed keys (keys.c). */
struct pl_key;
typedef void pl_key_fn(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val);
struct pl_key {
	struct yamlnode_key k; /* name, kinds, what was expected */
	pl_key_fn *fn;
};

/* A value the file wrote, quoted for a message (yamlnode_q). */
#define PQ(w, s) yamlnode_q(&(w)->y, (s), strlen(s))

/* value.c: names the file may use. */
bool pipeline_valid_name(const char *s);
/*
 * The offset of the first control character (C0, DEL, or C1 U+0080..
 * U+009F in UTF-8) in s, or -1.  Text that names a job ends up on an
 * operator's terminal, where such a character is a command.
 */
long pipeline_control_at(const char *s, size_t len);
/* A scalar used as a name has none; else a problem at n, naming `what`. */
bool pipeline_name_ok(struct pl_walk *w, const struct ynode *n,
		      const char *what);

/* keys.c: the tables of allowed keys, walked by yamlnode_walk_map(). */
extern const struct yamlnode_table pipeline_top_keys;
extern const struct yamlnode_table pipeline_job_keys;
extern const struct yamlnode_table pipeline_retry_keys;
extern const struct yamlnode_table pipeline_cache_keys;
extern const struct yamlnode_table pipeline_cache_key_keys;
extern const struct yamlnode_table pipeline_artifacts_keys;
extern const struct yamlnode_table pipeline_need_keys;
extern const struct yamlnode_table pipeline_service_keys;
extern const struct yamlnode_table pipeline_reports_keys;
/* A table of pl_key rows, whose handlers take the pipeline's walk. */
#define PL_TABLE(rows) YAMLNODE_TABLE(rows, pipeline_call_row)
yamlnode_key_fn pipeline_call_row;

/* Handlers named by the tables. */
pl_key_fn pipeline_top_stages;
pl_key_fn pipeline_top_env;
pl_key_fn pipeline_top_jobs;
pl_key_fn pipeline_top_default;
pl_key_fn pipeline_key_image;
pl_key_fn pipeline_key_stage;
pl_key_fn pipeline_key_script;
pl_key_fn pipeline_key_needs;
pl_key_fn pipeline_key_env;
pl_key_fn pipeline_key_timeout;
pl_key_fn pipeline_key_lost_retries;
pl_key_fn pipeline_key_retry;
pl_key_fn pipeline_key_retry_max;
pl_key_fn pipeline_key_retry_when;
pl_key_fn pipeline_key_allow_failure;
pl_key_fn pipeline_key_when;
pl_key_fn pipeline_key_branches;
pl_key_fn pipeline_key_matrix;
pl_key_fn pipeline_key_working_dir;
pl_key_fn pipeline_key_environment;
pl_key_fn pipeline_key_network;
pl_key_fn pipeline_key_user;
pl_key_fn pipeline_key_resources;
pl_key_fn pipeline_key_secrets;
pl_key_fn pipeline_key_cache;
pl_key_fn pipeline_key_cache_key;
pl_key_fn pipeline_key_cache_prefix;
pl_key_fn pipeline_key_cache_files;
pl_key_fn pipeline_key_cache_paths;
pl_key_fn pipeline_key_cache_restore_keys;
pl_key_fn pipeline_key_cache_policy;
pl_key_fn pipeline_key_artifacts;
pl_key_fn pipeline_key_artifacts_paths;
pl_key_fn pipeline_key_artifacts_exclude;
pl_key_fn pipeline_key_artifacts_when;
pl_key_fn pipeline_key_artifacts_expire_in;
pl_key_fn pipeline_key_artifacts_name;
pl_key_fn pipeline_key_reports;
pl_key_fn pipeline_key_reports_junit;
pl_key_fn pipeline_key_need_job;
pl_key_fn pipeline_key_need_artifacts;
pl_key_fn pipeline_key_services;
pl_key_fn pipeline_key_svc_command;
pl_key_fn pipeline_key_svc_setup;
pl_key_fn pipeline_key_svc_env;
pl_key_fn pipeline_key_svc_needs;
pl_key_fn pipeline_key_svc_ready;
pl_key_fn pipeline_key_svc_ready_timeout;

/* job.c */
void pipeline_job_walk(struct pl_walk *w, struct pl_base *b,
		       const struct ynode *key, const struct ynode *val);
void pipeline_base_free(struct pl_base *b);

/* env.c */
bool pipeline_env_name_ok(struct pl_walk *w, const struct ynode *key,
			  const char *what);
void pipeline_env_parse(struct pl_walk *w, const struct ynode *map,
			char ***out, size_t *n);
void pipeline_env_merge(struct pipeline *p);

/* matrix.c */
void pipeline_matrix_expand(struct pl_walk *w);

/* order.c */
void pipeline_order_check(struct pl_walk *w);
void pipeline_order_preds(struct pipeline *p);

/* path.c */
int pipeline_path_normalise(const char *in, char **out);
/*
 * What a string-or-list key of a cache or artifacts holds: each item
 * checked as `kind` says and copied into *out (NULL-terminated, *n of
 * them; freed with the base).  `what` names one item in messages
 * ("path").  An empty list is a problem unless allow_empty; more than
 * PIPELINE_MAX_PATHS is one.
 */
enum pl_item {
	PL_ITEM_PATH,         /* a glob inside the workspace, with $NAMEs */
	PL_ITEM_KEY,          /* key text with $NAMEs: no control chars */
};
#define PL_MAX_KEY 255        /* bytes of a cache key or prefix as written */
void pipeline_read_items(struct pl_walk *w, const struct pl_key *row,
			 const struct ynode *val, enum pl_item kind,
			 const char *what, bool allow_empty, char ***out,
			 size_t *n);
/* Key text (a literal key, a prefix): a problem at n if it is bad. */
bool pipeline_key_text_ok(struct pl_walk *w, const struct ynode *n,
			  const char *s, const char *what, const char *key);
/* A string that takes $NAMEs: its syntax checked, a problem at n if bad. */
bool pipeline_expand_ok(struct pl_walk *w, const struct ynode *n,
			const char *s, const char *key);

/* cache.c, artifacts.c */
void pipeline_cache_free(struct pl_cache *c);
void pipeline_artifacts_free(struct pl_artifacts *a);
/* After matrix expansion and the env merge: names, duplicates, sources. */
void pipeline_artifacts_finish(struct pl_walk *w);

/* services.c */
void pipeline_services_free(struct pl_base *b);

/* model.c */
void pipeline_free(struct pipeline *p);

/*
 * `default:` (default.c): checks that it names only keys a default may
 * set, and gives a job's mapping with the default's pairs for the keys
 * the job does not set added after its own (the nodes are the file's, so
 * problems point where the value was written); NULL if there is nothing
 * to add.  Caller frees the node and its items array.
 */
void pipeline_default_check(struct pl_walk *w, const struct ynode *dflt);
struct ynode *pipeline_default_merge(const struct ynode *job,
				     const struct ynode *dflt);
/* Drops the problems added since `from` at a position inside `default`
 * that an earlier problem already names (one per bad value, not per job). */
void pipeline_default_dedupe(struct pl_walk *w, const struct ynode *dflt,
			     size_t from);

#endif
