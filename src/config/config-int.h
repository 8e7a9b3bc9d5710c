/*
 * Private to the config module: the layout of a config and the state of
 * one load.
 *
 * How a load goes (load.c): the file is read and turned into a yamlnode
 * tree; the top-level mapping is walked with the key table of keys.c,
 * whose rows either store a value straight into the config (generic
 * handlers for booleans, numbers, durations, sizes and paths, which find
 * their field by offset) or keep the node for later; secrets (secrets.c)
 * are then read, then projects (projects.c), which name secrets; last
 * the defaults that depend on other keys are filled in.
 */
#ifndef PIPEWRIGHT_CONFIG_INT_H
#define PIPEWRIGHT_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pipewright/config.h"
#include "pipewright/yamlnode.h"

#define CF_MAX_PROBLEMS 100   /* then one "too many" note */
#define CF_MAX_VISITS 1000000 /* nodes walked, aliases counted each time */
/* supervisor_pool: unset (the slots'), at least, at most */
#define CONFIG_POOL_AUTO ((unsigned long)-1)
#define CONFIG_POOL_MIN 4
#define CONFIG_POOL_MAX 64

/* A value read from {file: PATH} or {env: NAME}; wiped when freed. */
struct cf_secret {
	char *name;
	char *value;            /* wiped by config_destroy() */
	size_t len;
};

/*
 * The `sandbox` mapping (sandbox.c).  *_set: the file wrote that key; a
 * project takes each key it did not set from the top level.
 */
struct cf_sandbox {
	enum config_sandbox mode;
	enum config_network network;
	bool mode_set;
	bool network_set;
	char **mounts;             /* `mounts`: absolute host paths; after
					the load a project's holds the top
					level's too (owned, NULL-terminated) */
	size_t nmounts;
	char **env;                /* `env`: "K=V"; a project's after the
					load: the top level's, its own over
					them (owned, NULL-terminated) */
	size_t nenv;
	struct config_limits limits; /* a project's: a copy of the top
					level's, then its own keys (limits.c) */
};

struct cf_schedule {
	struct cron *cron;
	char *ref;
};

/* One `notify` entry (notify.c); pub points into the fields below. */
struct cf_notify {
	struct config_notify pub;
	bool has_webhook, has_slack, has_email;
	char *url;
	struct cf_secret secret;  /* webhook secret, or slack {file:} URL */
	char **to;
	size_t nto;
	char *from, *user;
	struct cf_secret password;
	char *ca_file;
	char **branches;
	size_t nbranches;
};

struct config_project {
	char *name;
	int name_line;          /* of the name's value, for duplicates */
	char *pipeline;         /* absolute, or NULL */
	char *repo;             /* as written, or NULL */
	unsigned long max_jobs; /* 0 until defaulted to the global one */
	bool cancel_superseded;
	bool build_every_push;  /* a push no longer its branch's head builds */
	unsigned long keep_runs;
	unsigned long keep_days;
	char **secrets;         /* names of top-level secrets */
	size_t nsecrets;
	/* repo projects (repo.c, hooks.c) */
	char *pipeline_path;    /* relative to the repository, or NULL */
	char **branches;        /* glob patterns */
	size_t nbranches;
	char *default_branch;   /* `default_branch` as written, or NULL */
	enum forge_kind forge;  /* FORGE_GENERIC unless set */
	char *forge_repo;       /* NULL until defaulted from repo */
	int forge_repo_line;    /* of the key or of repo, for messages */
	int forge_repo_column;
	char *forge_api;        /* without a trailing '/'; NULL: default */
	struct cf_secret status_token;
	struct cf_secret webhook_secret;
	struct cf_secret webhook_signing_secret;
	struct cf_secret clone_token;
	bool status_per_job;
	bool webhook_insecure;
	bool forge_api_insecure; /* plain http:// to a host not loopback */
	bool secrets_on_forks;
	struct cf_sandbox sandbox;  /* complete once the load has ended */
	bool badge_token;       /* badge: token (default public) */
	struct cf_schedule *schedules;
	size_t nschedules;
	struct cf_notify *notify;
	size_t nnotify;
};

struct config {
	char *path;
	char *dir;
	char *listen;
	char *listen_host;      /* without brackets */
	int listen_port;
	struct sockaddr_storage listen_ss;
	socklen_t listen_sslen;
	char *public_url;       /* NULL until defaulted */
	bool public_url_set;
	char *data_dir;         /* absolute; NULL until defaulted */
	char *pid_file;
	char *db_path;          /* <data_dir>/pipewright.db */
	unsigned long max_jobs;
	unsigned long supervisor_pool; /* supervisors started ahead; 0: none;
	                                  CONFIG_POOL_AUTO: max_jobs' */
	bool anonymous_read;
	enum config_drain drain;
	uint64_t drain_timeout_ms;
	uint64_t kill_grace_ms;
	char *binary;
	uint64_t upgrade_timeout_ms;
	enum config_log_format log_format;
	struct cf_sandbox sandbox; /* limits.max_log: `max_log` too */
	/* `artifacts` and `caches`: retention of the blob store */
	uint64_t artifacts_max_size;
	uint64_t artifacts_expire_in_ms;
	bool artifacts_keep_latest;
	uint64_t caches_max_size;
	uint64_t caches_max_age_ms;
	uint64_t http_max_body;
	unsigned long http_max_connections;
	uint64_t http_read_timeout_ms;
	uint64_t http_idle_timeout_ms;
	unsigned long http_max_connections_per_address;
	uint64_t http_header_timeout_ms;
	unsigned long http_max_auth_failures;
	char **http_trusted_proxies;  /* NULL-terminated; as written */
	size_t http_ntrusted_proxies;
	char **http_allowed_hosts;    /* NULL-terminated; lower case */
	size_t http_nallowed_hosts;
	bool metrics_public;          /* metrics: public (default token) */
	unsigned long job_ids_first; /* host uids of sandboxed jobs */
	unsigned long job_ids_count;
	struct config_project *projects;
	size_t nprojects;
	struct cf_secret *secrets;
	size_t nsecrets;
	struct cf_otel *otel;   /* `otel` (otel.c), or NULL: no traces */
	struct cf_images *images; /* `images` (images.c), owned; NULL: defaults */
};

/*
 * The state of one load: the shared walk (problems, budget, quote slots,
 * yamlnode.h) and what is being filled.
 */
struct cf_walk {
	struct yamlnode_walk y;
	struct config *c;
	void *target;           /* what generic handlers write into */
	const char *slabel;     /* "secret 'X'" or "'status_token' in
				 * project 'x'": what a secret's problems
				 * name */
	const struct ynode *projects;
	const struct ynode *secrets;
};

/* A row of a table of allowed keys (keys.c). */
struct cf_key;
typedef void cf_key_fn(struct cf_walk *w, const struct cf_key *row,
		       const struct ynode *key, const struct ynode *val);
struct cf_key {
	struct yamlnode_key k;  /* name, kinds, what was expected */
	cf_key_fn *fn;
	size_t off;             /* generic handlers: the field in w->target */
	uint64_t min, max;      /* numbers, durations and sizes */
};

/* keys.c: the tables and the walk over one mapping. */
extern const struct yamlnode_table config_top_keys;
extern const struct yamlnode_table config_http_keys;
extern const struct yamlnode_table config_job_ids_keys;
extern const struct yamlnode_table config_artifacts_keys;
extern const struct yamlnode_table config_caches_keys;
extern const struct yamlnode_table config_project_keys;
extern const struct yamlnode_table config_secret_keys;
extern const struct yamlnode_table config_schedule_keys;
/* A table of cf_key rows, whose handlers take the config's walk. */
#define CF_TABLE(rows) YAMLNODE_TABLE(rows, config_call_row)
yamlnode_key_fn config_call_row;
/* Walks map with tab, w->target set to target meanwhile. */
void config_walk_map(struct cf_walk *w, const struct ynode *map,
		     const struct yamlnode_table *tab, void *target);

/* A value the file wrote, quoted for a message (yamlnode_q). */
#define CQ(w, s) yamlnode_q(&(w)->y, (s), strlen(s))

/* values.c: generic handlers and the value parsers they share. */
cf_key_fn config_key_bool;
cf_key_fn config_key_uint;
cf_key_fn config_key_duration;
cf_key_fn config_key_size;
cf_key_fn config_key_path;
int config_size_parse(const char *s, uint64_t *out);
char *config_path_join(const char *dir, const char *path);

/* top.c: top-level keys with their own rules. */
cf_key_fn config_key_listen;
cf_key_fn config_key_public_url;
cf_key_fn config_key_drain;
cf_key_fn config_key_log_format;
cf_key_fn config_key_job_ids;
cf_key_fn config_key_http;
cf_key_fn config_key_artifacts;
cf_key_fn config_key_caches;
cf_key_fn config_key_images;
void config_images_free(struct cf_images *im);
int config_listen_parse(const char *s, struct config *c, const char **why);
int config_pick(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *val, const char *const *words, size_t n);

/* sandbox.c: the `sandbox` key (a mode, or a mapping of settings). */
cf_key_fn config_key_sandbox;
cf_key_fn config_key_project_sandbox;
/* Fills the keys a project's sandbox did not set from the top level's. */
void config_sandbox_inherit(const struct cf_sandbox *top,
			    struct cf_sandbox *p);
void config_sandbox_free(struct cf_sandbox *sb);

/* otel.c: the `otel` mapping (trace export) */
struct cf_otel {
	char *endpoint;         /* http(s)://host[:port][/path], no trailing '/' */
	char *service_name;
	double sample;          /* 0..1 */
	uint64_t max_age_ms;    /* a row is retried this long */
	struct cf_secret *headers; /* name: the header's, value: its value */
	size_t nheaders;
};
cf_key_fn config_key_otel;
void config_otel_free(struct config *c);

/* secrets.c */
void config_secrets_read(struct cf_walk *w, const struct ynode *map);
cf_key_fn config_key_secret_file;
cf_key_fn config_key_secret_env;
const struct cf_secret *config_secret_find(const struct config *c,
					   const char *name);
void config_secret_value(struct cf_walk *w, const struct ynode *val,
			 struct cf_secret *sec);
void config_secret_free(struct cf_secret *sec);

/* repo.c: where a project's repository is and which forge serves it. */
cf_key_fn config_key_project_pipeline_path;
cf_key_fn config_key_project_forge;
cf_key_fn config_key_project_forge_repo;
cf_key_fn config_key_project_forge_api;
void config_repo_check(struct cf_walk *w, const struct ynode *item,
		       struct config_project *p, const char *label);
void config_repos_unique(struct cf_walk *w);

/* hooks.c: secret-valued project keys, branches and schedules. */
cf_key_fn config_key_project_secret;
cf_key_fn config_key_project_branches;
cf_key_fn config_key_project_schedules;
cf_key_fn config_key_schedule_cron;
cf_key_fn config_key_schedule_ref;
cf_key_fn config_key_project_default_branch;
void config_project_free(struct config_project *p);

/* notify.c: a project's `notify` list. */
cf_key_fn config_key_project_notify;
void config_notify_free(struct config_project *p);

/* projects.c */
void config_projects_read(struct cf_walk *w, const struct ynode *seq);
cf_key_fn config_key_project_name;
cf_key_fn config_key_project_pipeline;
cf_key_fn config_key_project_repo;
cf_key_fn config_key_project_secrets;
/* The key node / value node of name in a mapping, or NULL. */
const struct ynode *config_map_key(const struct ynode *map, const char *name);
const struct ynode *config_map_val(const struct ynode *map, const char *name);

/* http.c: trusted_proxies, allowed_hosts, metrics, badge. */
cf_key_fn config_key_http_trusted_proxies;
cf_key_fn config_key_http_allowed_hosts;
cf_key_fn config_key_metrics;
cf_key_fn config_key_project_badge;
void config_http_free(struct config *c);

/* limits.c: `sandbox.limits`; the walk's target is the config_limits. */
cf_key_fn config_key_limits;

/* load.c */
void config_free(struct config *c);

#endif
