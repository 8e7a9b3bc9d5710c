/*
 * config: the daemon's YAML configuration, read once into an immutable
 * value.
 *
 * config_load() reads the file, checks every key against tables of allowed
 * keys, resolves relative paths against the file's directory, checks that
 * each project's pipeline file can be read and reads every secret (from a
 * file or the environment).  It returns either a complete config or every
 * problem found, as FILE:LINE:COLUMN messages in a pipeline_problems list
 * (problems.h: the same list and format as pipeline files).  A config
 * shares nothing with anything else, so a SIGHUP reload loads a new one
 * and swaps it in, keeping the old one if the new one fails.
 *
 * Secret values live in the config's memory only: no message ever quotes
 * one, and config_destroy() wipes them.  docs/operations.md documents
 * every key.
 */
#ifndef PIPEWRIGHT_CONFIG_H
#define PIPEWRIGHT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "pipewright/cron.h"
#include "pipewright/forge.h"
#include "pipewright/problems.h"
#include "pipewright/util.h"

#define CONFIG_MAX_BYTES (1024 * 1024)   /* a larger file is refused */
#define CONFIG_MAX_SECRET (64 * 1024)    /* bytes of one secret */

struct config;
struct config_project;

enum config_drain {
	CONFIG_DRAIN_DETACH,  /* leave running jobs to the next daemon */
	CONFIG_DRAIN_WAIT,    /* finish running jobs within drain_timeout */
	CONFIG_DRAIN_CANCEL,  /* cancel running jobs at once */
};

enum config_log_format {
	CONFIG_LOG_TEXT,      /* key=value */
	CONFIG_LOG_JSON,
};

enum config_sandbox {
	CONFIG_SANDBOX_STRICT,
	CONFIG_SANDBOX_NONE,
};

/* `sandbox: {network: ...}`: may a job's `network: true` be granted? */
enum config_network {
	CONFIG_NETWORK_DENY,  /* the default: such a job fails, saying so */
	CONFIG_NETWORK_ALLOW, /* a network namespace of its own with outbound
	                         access, never the host's (sandbox.md) */
};

/*
 * Loads the configuration at path.  0 and *out (config_destroy() it), or
 * -EINVAL with every problem appended to problems and *out NULL.  A file
 * that cannot be read is one problem at line 0 (see
 * config_print_problems()), and the return value is -EINVAL too.
 */
int config_load(const char *path, struct config **out,
		struct pipeline_problems *problems) PW_WUR;
void config_destroy(struct config *c);

/*
 * Prints problems one a line, "FILE:LINE:COLUMN: error: MESSAGE" (or
 * "FILE: error: MESSAGE" for line 0), as `pipewright validate` does.
 */
void config_print_problems(FILE *f, const struct pipeline_problems *pp);

/* The file as given to config_load() and its directory, absolute. */
const char *config_path(const struct config *c);
const char *config_dir(const struct config *c);

/* "HOST:PORT" as written (default 127.0.0.1:8080); port 0 picks one. */
const char *config_listen(const struct config *c);
/* The host part without brackets ("::1"), and the port. */
const char *config_listen_host(const struct config *c);
int config_listen_port(const struct config *c);
/* The listen address as a socket address (AF_INET or AF_INET6). */
void config_listen_sockaddr(const struct config *c,
			    struct sockaddr_storage *ss, socklen_t *len);
/*
 * Base of URLs the daemon hands out, without a trailing slash.  If not
 * set: "http://" + listen, and config_public_url_set() is false so that
 * the daemon can put the port it really got in place of port 0.
 */
const char *config_public_url(const struct config *c);
bool config_public_url_set(const struct config *c);

/* Absolute paths.  data_dir defaults to <config dir>/var, pid_file to
 * <data_dir>/pipewright.pid; neither is created or checked here. */
const char *config_data_dir(const struct config *c);
/*
 * `otel`: where spans go (docs/operations.md, "Traces").  endpoint NULL:
 * no traces.  Header values may be secrets: never log or show them.
 */
const char *config_otel_endpoint(const struct config *c);
const char *config_otel_service_name(const struct config *c);
double config_otel_sample(const struct config *c);
uint64_t config_otel_max_age_ms(const struct config *c); /* default 24 h */
size_t config_otel_header_count(const struct config *c);
/* The i-th header's name and value (valid as long as c). */
void config_otel_header(const struct config *c, size_t i, const char **name,
			const char **value);
const char *config_pid_file(const struct config *c);
/* The history database, <data_dir>/pipewright.db: the one place that
 * names it, for the daemon and the local commands alike. */
const char *config_db_path(const struct config *c);

unsigned config_max_jobs(const struct config *c);         /* default 4 */
/* Supervisors started ahead of their jobs, 0-64 (default: max_jobs, at
 * least 4, at most 64; 0: none). */
unsigned config_supervisor_pool(const struct config *c);
bool config_anonymous_read(const struct config *c);       /* default false */
/* `metrics: public` lets /metrics answer without a token (default token). */
bool config_metrics_public(const struct config *c);
enum config_drain config_drain(const struct config *c);   /* default detach */
uint64_t config_drain_timeout_ms(const struct config *c); /* default 30 s */
/* SIGTERM → SIGKILL for a job on cancel and timeout; default 10 s. */
uint64_t config_kill_grace_ms(const struct config *c);
/* The program an upgrade starts; NULL: the one this daemon was started as. */
const char *config_binary(const struct config *c);
/* How long an upgrade waits for the new daemon to be ready; default 60 s. */
uint64_t config_upgrade_timeout_ms(const struct config *c);
enum config_log_format config_log_format(const struct config *c);
uint64_t config_max_log(const struct config *c);          /* bytes, 64 MiB */
/* The top-level `sandbox` (mode default strict, network default deny). */
enum config_sandbox config_sandbox(const struct config *c);
enum config_network config_network(const struct config *c);

/*
 * `sandbox.limits`: what a job gets when its pipeline does not ask (dflt)
 * and the most a pipeline may ask for (max); 0 is no limit.  A pipeline
 * asking for more than max is refused before its run starts.
 */
struct config_limit {
	uint64_t dflt;
	uint64_t max;
};
struct config_limits {
	struct config_limit memory;      /* bytes */
	struct config_limit pids;
	struct config_limit cpu_seconds; /* per process */
	struct config_limit timeout_ms;
	uint64_t max_log;                /* bytes of an attempt's log */
	uint64_t workspace;              /* bytes of a run's workspace */
};
/* The top-level limits, and a project's (the top-level ones overridden
 * by its own `sandbox.limits`).  Valid while c lives. */
const struct config_limits *config_limits(const struct config *c);
const struct config_limits *config_project_limits(
	const struct config_project *p);
/* The limits of a config that sets none (`pipewright run` uses their
 * defaults too): docs/operations.md lists them. */
void config_limits_builtin(struct config_limits *out);
/*
 * `job_ids`: the host uids (each with the equal gid) that the daemon gives
 * sandboxed jobs, one per run holding a job slot; default
 * CONFIG_JOB_IDS_FIRST, CONFIG_JOB_IDS_COUNT.  Above the ranges useradd
 * hands out in /etc/subuid and systemd's container ranges, below 2^31, and
 * never over the sandbox's own inside-uid range at CONFIG_JOB_SUBID_BASE.
 */
#define CONFIG_JOB_IDS_FIRST 1879048192UL   /* 0x70000000 */
#define CONFIG_JOB_IDS_COUNT 65536UL
#define CONFIG_JOB_SUBID_BASE 1000000000UL  /* the supervisor's SV_SUBID_BASE */
void config_job_ids(const struct config *c, uint32_t *first, uint32_t *count);

/*
 * `artifacts` {max_size 1G, expire_in 30d, keep_latest true} and `caches`
 * {max_size 10G, max_age 30d}: what the blob store keeps.
 */
struct config_reuse {
	uint64_t artifacts_max_size;     /* content bytes of one job's */
	uint64_t artifacts_expire_in_ms; /* when a pipeline sets none */
	bool artifacts_keep_latest;      /* the latest successful run of a
	                                    branch keeps its artifacts */
	uint64_t caches_max_size;        /* all caches' bytes together */
	uint64_t caches_max_age_ms;      /* an entry unused this long goes */
};
void config_reuse(const struct config *c, struct config_reuse *out);

/* `images`: the image cache and the registries jobs' images come from. */
struct config_image_registry {
	const char *host;      /* host[:port] as image references write it */
	bool insecure;         /* plain http / unverified TLS (tests, labs) */
	const char *authfile;  /* a containers-auth.json secret file; NULL */
};
struct config_images {
	const char *dir;       /* absolute; NULL: <data_dir>/images */
	uint64_t quota;        /* bytes of unpacked roots; default 20G */
	const struct config_image_registry *registries;
	size_t nregistries;
};
/* Valid while c lives. */
void config_images(const struct config *c, struct config_images *out);

/* The `http` mapping's limits (defaults 1 MiB, 256, 10 s, 60 s). */
size_t config_http_max_body(const struct config *c);
size_t config_http_max_connections(const struct config *c);
uint64_t config_http_read_timeout_ms(const struct config *c);
uint64_t config_http_idle_timeout_ms(const struct config *c);
size_t config_http_max_connections_per_address(const struct config *c); /* 64 */
uint64_t config_http_header_timeout_ms(const struct config *c);          /* 10 s */
/* Failed authentications from one address per minute before a minute's
 * block (429). */
unsigned config_http_max_auth_failures(const struct config *c);        /* 10 */
/* `trusted_proxies` as written (addresses, networks); `allowed_hosts` in
 * lower case without a trailing dot.  Valid while c lives. */
const char *const *config_http_trusted_proxies(const struct config *c,
					       size_t *n);
const char *const *config_http_allowed_hosts(const struct config *c,
					     size_t *n);

/* Projects in the order the file writes them.  Valid while c lives. */
size_t config_project_count(const struct config *c);
const struct config_project *config_project(const struct config *c,
					    size_t i);
/* NULL if there is no project of that name. */
const struct config_project *config_project_find(const struct config *c,
						 const char *name);

const char *config_project_name(const struct config_project *p);
/* `badge: public` (the default): the badge answers without a token. */
bool config_project_badge_public(const struct config_project *p);
/* The pipeline file, absolute; NULL for a `repo` project. */
const char *config_project_pipeline(const struct config_project *p);
/*
 * `repo`: an https:// or ssh:// URL or scp-like [user@]host:path as
 * written, or a local path made absolute against the config's directory;
 * NULL for a `pipeline` project.
 */
const char *config_project_repo(const struct config_project *p);
unsigned config_project_max_jobs(const struct config_project *p); /* default: the global max_jobs */
bool config_project_cancel_superseded(const struct config_project *p);
/* A webhook push whose commit is no longer its branch's head when it is
 * checked out builds anyway (default: canceled as a stale push). */
bool config_project_build_every_push(const struct config_project *p);
unsigned config_project_keep_runs(const struct config_project *p); /* 500 */
unsigned config_project_keep_days(const struct config_project *p); /* 90; 0: no age limit */
/* The names of the secrets the project's jobs may use, in file order. */
size_t config_project_secret_count(const struct config_project *p);
const char *config_project_secret(const struct config_project *p, size_t i);

/*
 * A project with a `repo` (docs/operations.md has every key).  For a
 * `pipeline` project the strings are NULL, the booleans false, the forge
 * generic, and there are no schedules unless it sets them.
 */
/* The pipeline file inside the repository, relative and normalised
 * (no "./", no ".."); default ".pipewright.yml".  NULL without repo. */
const char *config_project_pipeline_path(const struct config_project *p);
/*
 * `default_branch`: the branch name (not a ref) that caches of other
 * branches fall back to; "main" if the project leaves it out.  Set, it is
 * also what a trigger without a ref builds; left out, such a trigger
 * builds the branch the repository's HEAD names (trigger_resolve).
 */
const char *config_project_default_branch(const struct config_project *p);
bool config_project_default_branch_set(const struct config_project *p);
/* `branches`: glob patterns (glob_match); none: every branch. */
size_t config_project_branch_count(const struct config_project *p);
const char *config_project_branch(const struct config_project *p, size_t i);
/* True if a push to branch may run: no `branches`, a NULL branch (a tag,
 * a manual trigger without one), or a pattern matches. */
bool config_project_runs_on_branch(const struct config_project *p,
				   const char *branch);
enum forge_kind config_project_forge(const struct config_project *p);
/* The forge's name of the repository ("acme/app"); webhooks are matched
 * to projects by it, case-insensitively.  Default: repo's path without
 * a leading '/' and a trailing ".git". */
const char *config_project_forge_repo(const struct config_project *p);
/* The API base without a trailing '/': forge_api, else the forge's
 * default (GitHub, GitLab); NULL if none (Gitea without one, generic). */
const char *config_project_forge_api(const struct config_project *p);
/* Secret-valued keys, read at load: the value (NUL-terminated) or NULL. */
const char *config_project_status_token(const struct config_project *p);
const char *config_project_webhook_secret(const struct config_project *p,
					  size_t *len);
/* GitLab's "whsec_<base64>", as written (checked at load). */
const char *config_project_webhook_signing_secret(
	const struct config_project *p);
const char *config_project_clone_token(const struct config_project *p);
bool config_project_status_per_job(const struct config_project *p);
bool config_project_webhook_insecure(const struct config_project *p);
bool config_project_secrets_on_forks(const struct config_project *p);
/* The project's `sandbox`, each key it leaves out taken from the top. */
enum config_sandbox config_project_sandbox(const struct config_project *p);
enum config_network config_project_network(const struct config_project *p);
/*
 * The project's `sandbox.mounts` (absolute host paths every strict job
 * sees read-only at the same path) and `sandbox.env` ("K=V" defaults
 * below the pipeline's env), the top level's included; NULL-terminated,
 * never NULL, valid while the config lives.
 */
#define CONFIG_MAX_MOUNTS 16  /* per list: both fit the supervisor's 32 */
const char *const *config_project_mounts(const struct config_project *p);
const char *const *config_project_env(const struct config_project *p);
/* The project's webhook secrets, for forge_verify(); valid while p lives. */
void config_project_forge_secrets(const struct config_project *p,
				  struct forge_secrets *out);
/*
 * A project's `notify` list (docs/operations.md, "Notifications"), read
 * only, valid while the config lives.  Secrets (a webhook's secret, a
 * Slack URL read from a file, an SMTP password) are the daemon's to hand
 * to the sender at send time, never to put in a message or the store.
 */
enum config_notify_kind {
	CONFIG_NOTIFY_WEBHOOK,
	CONFIG_NOTIFY_SLACK,
	CONFIG_NOTIFY_EMAIL,
};
/* The events of `on`, as bits. */
#define CONFIG_NOTIFY_FAILED (1u << 0)
#define CONFIG_NOTIFY_FIXED (1u << 1)
#define CONFIG_NOTIFY_SUCCESS (1u << 2)
#define CONFIG_NOTIFY_CANCELED (1u << 3)
#define CONFIG_NOTIFY_WAITING (1u << 4)
#define CONFIG_NOTIFY_MAX_AGE_MS (24ULL * 3600 * 1000) /* the default */
struct config_notify {
	enum config_notify_kind kind;
	const char *url;          /* webhook, slack (NULL if from a file),
	                             email: smtp:// or smtps:// */
	const char *secret;       /* webhook: HMAC key; slack: the URL from
	                             a file; NULL if none */
	size_t secret_len;
	const char *const *to;    /* email: recipients */
	size_t nto;
	const char *from;         /* email: the sender */
	const char *user;         /* email: SMTP AUTH, or NULL */
	const char *password;     /* email, or NULL */
	bool starttls;            /* email over smtp://: default true */
	const char *ca_file;      /* absolute, or NULL: the system's */
	bool insecure;            /* TLS not verified */
	unsigned on;              /* CONFIG_NOTIFY_* bits */
	const char *const *branches; /* glob patterns; none: every run */
	size_t nbranches;
	uint64_t max_age_ms;      /* retried until a row is this old */
	int line;                 /* of the entry, for messages */
};
size_t config_project_notify_count(const struct config_project *p);
const struct config_notify *config_project_notify(
	const struct config_project *p, size_t i);
/* The name of an `on` event bit ("failed", ...). */
const char *config_notify_event_name(unsigned bit);

/* `schedules`, in file order: the spec, its parse, the branch to run. */
size_t config_project_schedule_count(const struct config_project *p);
const char *config_project_schedule_cron(const struct config_project *p,
					 size_t i);
const struct cron *config_project_schedule(const struct config_project *p,
					   size_t i);
const char *config_project_schedule_ref(const struct config_project *p,
					size_t i);
/*
 * The project whose forge and forge_repo are these (forge_repo compared
 * case-insensitively), or NULL.  At most one matches: two projects on
 * one repository are a config error (?project=NAME on the webhook URL
 * names a project explicitly instead).
 */
const struct config_project *config_project_find_repo(const struct config *c,
						      enum forge_kind forge,
						      const char *forge_repo);
/* Secrets by name: the value (len bytes, NUL-terminated), or NULL. */
size_t config_secret_count(const struct config *c);
const char *config_secret_name(const struct config *c, size_t i);
const char *config_secret(const struct config *c, const char *name,
			  size_t *len);

const char *config_drain_name(enum config_drain d);
const char *config_log_format_name(enum config_log_format f);
const char *config_sandbox_name(enum config_sandbox s);

#endif
