/*
 * The accessors: a config is immutable once loaded, so every one is a
 * plain read, and every string stays valid until config_destroy().
 */
#include <string.h>

#include "config-int.h"

const char *
config_path(const struct config *c)
{
	return c->path;
}

const char *
config_dir(const struct config *c)
{
	return c->dir;
}

const char *
config_listen(const struct config *c)
{
	return c->listen;
}

const char *
config_listen_host(const struct config *c)
{
	return c->listen_host;
}

int
config_listen_port(const struct config *c)
{
	return c->listen_port;
}

void
config_listen_sockaddr(const struct config *c, struct sockaddr_storage *ss,
		       socklen_t *len)
{
	memcpy(ss, &c->listen_ss, sizeof(*ss));
	*len = c->listen_sslen;
}

const char *
config_public_url(const struct config *c)
{
	return c->public_url;
}

bool
config_public_url_set(const struct config *c)
{
	return c->public_url_set;
}

const char *
config_data_dir(const struct config *c)
{
	return c->data_dir;
}

const char *
config_pid_file(const struct config *c)
{
	return c->pid_file;
}

const char *
config_db_path(const struct config *c)
{
	return c->db_path;
}

unsigned
config_max_jobs(const struct config *c)
{
	return (unsigned)c->max_jobs;
}

/*
 * Unset, the pool covers the slots: a stage of max_jobs jobs that start
 * together (a matrix, test shards) takes a waiting supervisor each
 * instead of forking the daemon for those past the pool.  Never fewer
 * than CONFIG_POOL_MIN (refills take a moment: back-to-back hand-offs on
 * few slots), never more than the key allows.
 */
unsigned
config_supervisor_pool(const struct config *c)
{
	if (c->supervisor_pool != CONFIG_POOL_AUTO)
		return (unsigned)c->supervisor_pool;
	if (c->max_jobs < CONFIG_POOL_MIN)
		return CONFIG_POOL_MIN;
	return c->max_jobs > CONFIG_POOL_MAX ? CONFIG_POOL_MAX
					     : (unsigned)c->max_jobs;
}

bool
config_anonymous_read(const struct config *c)
{
	return c->anonymous_read;
}

enum config_drain
config_drain(const struct config *c)
{
	return c->drain;
}

uint64_t
config_drain_timeout_ms(const struct config *c)
{
	return c->drain_timeout_ms;
}

uint64_t
config_kill_grace_ms(const struct config *c)
{
	return c->kill_grace_ms;
}

const char *
config_binary(const struct config *c)
{
	return c->binary;
}

uint64_t
config_upgrade_timeout_ms(const struct config *c)
{
	return c->upgrade_timeout_ms;
}

enum config_log_format
config_log_format(const struct config *c)
{
	return c->log_format;
}

uint64_t
config_max_log(const struct config *c)
{
	return c->sandbox.limits.max_log;
}

const struct config_limits *
config_limits(const struct config *c)
{
	return &c->sandbox.limits;
}

const struct config_limits *
config_project_limits(const struct config_project *p)
{
	return &p->sandbox.limits;
}

enum config_sandbox
config_sandbox(const struct config *c)
{
	return c->sandbox.mode;
}

enum config_network
config_network(const struct config *c)
{
	return c->sandbox.network;
}

void
config_job_ids(const struct config *c, uint32_t *first, uint32_t *count)
{
	*first = (uint32_t)c->job_ids_first;
	*count = (uint32_t)c->job_ids_count;
}

void
config_reuse(const struct config *c, struct config_reuse *out)
{
	out->artifacts_max_size = c->artifacts_max_size;
	out->artifacts_expire_in_ms = c->artifacts_expire_in_ms;
	out->artifacts_keep_latest = c->artifacts_keep_latest;
	out->caches_max_size = c->caches_max_size;
	out->caches_max_age_ms = c->caches_max_age_ms;
}

size_t
config_http_max_body(const struct config *c)
{
	return (size_t)c->http_max_body;
}

size_t
config_http_max_connections(const struct config *c)
{
	return c->http_max_connections;
}

uint64_t
config_http_read_timeout_ms(const struct config *c)
{
	return c->http_read_timeout_ms;
}

uint64_t
config_http_idle_timeout_ms(const struct config *c)
{
	return c->http_idle_timeout_ms;
}

size_t
config_project_count(const struct config *c)
{
	return c->nprojects;
}

const struct config_project *
config_project(const struct config *c, size_t i)
{
	return i < c->nprojects ? &c->projects[i] : NULL;
}

const struct config_project *
config_project_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nprojects; i++)
		if (strcmp(c->projects[i].name, name) == 0)
			return &c->projects[i];
	return NULL;
}

const char *
config_project_name(const struct config_project *p)
{
	return p->name;
}

const char *
config_project_pipeline(const struct config_project *p)
{
	return p->pipeline;
}

const char *
config_project_repo(const struct config_project *p)
{
	return p->repo;
}

unsigned
config_project_max_jobs(const struct config_project *p)
{
	return (unsigned)p->max_jobs;
}

bool
config_project_cancel_superseded(const struct config_project *p)
{
	return p->cancel_superseded;
}

bool
config_project_build_every_push(const struct config_project *p)
{
	return p->build_every_push;
}

unsigned
config_project_keep_runs(const struct config_project *p)
{
	return (unsigned)p->keep_runs;
}

unsigned
config_project_keep_days(const struct config_project *p)
{
	return (unsigned)p->keep_days;
}

size_t
config_project_secret_count(const struct config_project *p)
{
	return p->nsecrets;
}

const char *
config_project_secret(const struct config_project *p, size_t i)
{
	return i < p->nsecrets ? p->secrets[i] : NULL;
}

size_t
config_secret_count(const struct config *c)
{
	return c->nsecrets;
}

const char *
config_secret_name(const struct config *c, size_t i)
{
	return i < c->nsecrets ? c->secrets[i].name : NULL;
}

const char *
config_secret(const struct config *c, const char *name, size_t *len)
{
	const struct cf_secret *s = config_secret_find(c, name);

	if (s == NULL)
		return NULL;
	if (len != NULL)
		*len = s->len;
	return s->value;
}

const char *
config_drain_name(enum config_drain d)
{
	static const char *const names[] = {"detach", "wait", "cancel"};

	return names[d];
}

const char *
config_log_format_name(enum config_log_format f)
{
	return f == CONFIG_LOG_JSON ? "json" : "text";
}

enum config_sandbox
config_project_sandbox(const struct config_project *p)
{
	return p->sandbox.mode;
}

enum config_network
config_project_network(const struct config_project *p)
{
	return p->sandbox.network;
}

const char *
config_sandbox_name(enum config_sandbox s)
{
	return s == CONFIG_SANDBOX_NONE ? "none" : "strict";
}
