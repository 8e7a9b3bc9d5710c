/*
 * The model's accessors and its destruction.
 *
 * A model exists only for a file without problems, so the accessors
 * trust their indexes the way array subscripts do: a job index must be
 * below pipeline_job_count().  Strings returned stay valid until
 * pipeline_destroy().
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Frees a model, complete or abandoned halfway through a parse. */
void
pipeline_free(struct pipeline *p)
{
	size_t i;

	if (p == NULL)
		return;
	for (i = 0; i < p->njobs; i++) {
		struct pl_job *j = &p->jobs[i];

		if (j->menv != NULL)
			strv_free(j->menv, p->bases[j->base].nmkeys);
		free(j->name);
		free(j->env);
		free(j->art_name);
	}
	free(p->jobs);
	for (i = 0; i < p->nbases; i++)
		pipeline_base_free(&p->bases[i]);
	free(p->bases);
	strv_free(p->stages, p->nstages);
	strv_free(p->env, p->nenv);
	free(p->file);
	free(p->raw);
	free(p);
}

void
pipeline_destroy(struct pipeline *p)
{
	pipeline_free(p);
}

const char *
pipeline_file(const struct pipeline *p)
{
	return p->file;
}

const char *
pipeline_raw(const struct pipeline *p, size_t *len)
{
	if (len != NULL)
		*len = p->rawlen;
	return p->raw;
}

size_t
pipeline_stage_count(const struct pipeline *p)
{
	return p->nstages;
}

const char *
pipeline_stage(const struct pipeline *p, size_t i)
{
	return i < p->nstages ? p->stages[i] : NULL;
}

size_t
pipeline_job_count(const struct pipeline *p)
{
	return p->njobs;
}

long
pipeline_job_find(const struct pipeline *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->njobs; i++)
		if (strcmp(p->jobs[i].name, name) == 0)
			return (long)i;
	return -1;
}

static const struct pl_base *
base_of(const struct pipeline *p, size_t job)
{
	return &p->bases[p->jobs[job].base];
}

bool
pipeline_job_is(const struct pipeline *p, size_t job, const char *name)
{
	return strcmp(p->jobs[job].name, name) == 0 ||
	    strcmp(base_of(p, job)->name, name) == 0;
}

const char *
pipeline_job_name(const struct pipeline *p, size_t job)
{
	return p->jobs[job].name;
}

const char *
pipeline_job_base(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->name;
}

size_t
pipeline_job_stage(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->stage;
}

size_t
pipeline_job_script_count(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->nscript;
}

const char *
pipeline_job_script(const struct pipeline *p, size_t job, size_t k)
{
	const struct pl_base *b = base_of(p, job);

	return k < b->nscript ? b->script[k] : NULL;
}

size_t
pipeline_job_preds(const struct pipeline *p, size_t job, const size_t **preds)
{
	const struct pl_base *b = base_of(p, job);

	*preds = b->preds;
	return b->npreds;
}

bool
pipeline_job_has_needs(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->has_needs;
}

const char *const *
pipeline_job_env(const struct pipeline *p, size_t job)
{
	return p->jobs[job].env;
}

uint64_t
pipeline_job_timeout_ms(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->timeout_ms;
}

int
pipeline_job_retry_max(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->retry_max;
}

int
pipeline_job_lost_retries(const struct pipeline *p, size_t job)
{
	const struct pl_base *b = base_of(p, job);

	if (b->lost_retries >= 0)
		return b->lost_retries;
	return b->environment != NULL ? 0 : 1;
}

unsigned
pipeline_job_retry_when(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->retry_when;
}

bool
pipeline_job_allow_failure(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->allow_failure;
}

enum pipeline_when
pipeline_job_when(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->when;
}

const char *
pipeline_job_working_dir(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->working_dir;
}

const char *
pipeline_job_image(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->image;
}

const char *
pipeline_job_environment(const struct pipeline *p, size_t job)
{
	return base_of(p, job)->environment;
}
