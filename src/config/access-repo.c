/*
 * The accessors of a project's repository, forge, webhook and schedule
 * keys (repo.c, hooks.c read them).  Plain reads of an immutable config,
 * like access.c; every string stays valid until config_destroy().
 */
#include <string.h>
#include <strings.h>

#include "config-int.h"
#include "pipewright/glob.h"

const char *
config_project_pipeline_path(const struct config_project *p)
{
	return p->pipeline_path;
}

const char *
config_project_default_branch(const struct config_project *p)
{
	return p->default_branch != NULL ? p->default_branch : "main";
}

bool
config_project_default_branch_set(const struct config_project *p)
{
	return p->default_branch != NULL;
}

size_t
config_project_branch_count(const struct config_project *p)
{
	return p->nbranches;
}

const char *
config_project_branch(const struct config_project *p, size_t i)
{
	return i < p->nbranches ? p->branches[i] : NULL;
}

bool
config_project_runs_on_branch(const struct config_project *p,
			      const char *branch)
{
	size_t i;

	if (branch == NULL || p->nbranches == 0)
		return true;
	for (i = 0; i < p->nbranches; i++)
		if (glob_match(p->branches[i], branch))
			return true;
	return false;
}

enum forge_kind
config_project_forge(const struct config_project *p)
{
	return p->forge;
}

const char *
config_project_forge_repo(const struct config_project *p)
{
	return p->forge_repo;
}

const char *
config_project_forge_api(const struct config_project *p)
{
	return p->forge_api;
}

const char *
config_project_status_token(const struct config_project *p)
{
	return p->status_token.value;
}

const char *
config_project_webhook_secret(const struct config_project *p, size_t *len)
{
	if (len != NULL)
		*len = p->webhook_secret.len;
	return p->webhook_secret.value;
}

const char *
config_project_webhook_signing_secret(const struct config_project *p)
{
	return p->webhook_signing_secret.value;
}

const char *
config_project_clone_token(const struct config_project *p)
{
	return p->clone_token.value;
}

bool
config_project_status_per_job(const struct config_project *p)
{
	return p->status_per_job;
}

bool
config_project_webhook_insecure(const struct config_project *p)
{
	return p->webhook_insecure;
}

bool
config_project_secrets_on_forks(const struct config_project *p)
{
	return p->secrets_on_forks;
}

void
config_project_forge_secrets(const struct config_project *p,
			     struct forge_secrets *out)
{
	memset(out, 0, sizeof(*out));
	out->secret = p->webhook_secret.value;
	out->secret_len = p->webhook_secret.len;
	out->signing_secret = p->webhook_signing_secret.value;
	out->insecure = p->webhook_insecure;
}

size_t
config_project_schedule_count(const struct config_project *p)
{
	return p->nschedules;
}

const char *
config_project_schedule_cron(const struct config_project *p, size_t i)
{
	return i < p->nschedules ? cron_spec(p->schedules[i].cron) : NULL;
}

const struct cron *
config_project_schedule(const struct config_project *p, size_t i)
{
	return i < p->nschedules ? p->schedules[i].cron : NULL;
}

const char *
config_project_schedule_ref(const struct config_project *p, size_t i)
{
	return i < p->nschedules ? p->schedules[i].ref : NULL;
}

const struct config_project *
config_project_find_repo(const struct config *c, enum forge_kind forge,
			 const char *forge_repo)
{
	size_t i;

	if (forge_repo == NULL)
		return NULL;
	for (i = 0; i < c->nprojects; i++)
		if (c->projects[i].forge_repo != NULL &&
		    c->projects[i].forge == forge &&
		    strcasecmp(c->projects[i].forge_repo, forge_repo) == 0)
			return &c->projects[i];
	return NULL;
}
