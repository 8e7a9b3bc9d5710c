/*
 * libFuzzer target for the pipeline parser: any bytes must give either a
 * model or problems, never a crash, a leak or a hang.  When the bytes do
 * parse, every accessor is exercised too, so that a model that validation
 * lets through is one the rest of the daemon can walk.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pipewright/pipeline.h"

static void
walk_strv(const char *const *v, bool nonempty)
{
	if (v == NULL || (nonempty && *v == NULL))
		__builtin_trap();
	for (; *v != NULL; v++)
		(void)strlen(*v);
}

/* Caches, artifacts and their sources: what the runtime will walk. */
static void
walk_reuse(const struct pipeline *p, size_t j)
{
	const struct pipeline_artifacts *a = pipeline_job_artifacts(p, j);
	const size_t *src;
	size_t k, n;

	for (k = 0; k < pipeline_job_cache_count(p, j); k++) {
		const struct pipeline_cache *c = pipeline_job_cache(p, j, k);

		if (c->literal == NULL && c->prefix == NULL &&
		    *c->files == NULL)
			__builtin_trap();
		walk_strv(c->files, false);
		walk_strv(c->paths, true);
		walk_strv(c->restore_keys, false);
		(void)pipeline_cache_policy_name(c->policy);
	}
	if (a != NULL) {
		if (*a->name == '\0' || a->when == PIPELINE_WHEN_MANUAL)
			__builtin_trap();
		walk_strv(a->paths, true);
		walk_strv(a->exclude, false);
	}
	n = pipeline_job_artifact_sources(p, j, &src);
	for (k = 0; k < n; k++)
		if (src[k] >= pipeline_job_count(p) ||
		    (k > 0 && src[k] <= src[k - 1]) ||
		    pipeline_job_artifacts(p, src[k]) == NULL)
			__builtin_trap();
}

static void
walk_model(const struct pipeline *p)
{
	size_t j, k, n;

	for (k = 0; k < pipeline_stage_count(p); k++)
		(void)strlen(pipeline_stage(p, k));
	for (j = 0; j < pipeline_job_count(p); j++) {
		const char *const *env;
		const size_t *preds;

		(void)pipeline_job_find(p, pipeline_job_name(p, j));
		(void)pipeline_job_is(p, j, pipeline_job_base(p, j));
		if (pipeline_job_stage(p, j) >= pipeline_stage_count(p))
			__builtin_trap();
		for (k = 0; k < pipeline_job_script_count(p, j); k++)
			(void)strlen(pipeline_job_script(p, j, k));
		n = pipeline_job_preds(p, j, &preds);
		for (k = 0; k < n; k++)
			if (preds[k] >= pipeline_job_count(p) ||
			    (k > 0 && preds[k] <= preds[k - 1]))
				__builtin_trap();
		for (env = pipeline_job_env(p, j); *env != NULL; env++)
			if (strchr(*env, '=') == NULL)
				__builtin_trap();
		(void)pipeline_job_runs_on_branch(p, j, "main");
		(void)pipeline_job_runs_on_branch(p, j, "release/1.0/x");
		(void)pipeline_when_name(pipeline_job_when(p, j));
		walk_reuse(p, j);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pipeline_problems pp;
	struct pipeline *p = NULL;
	size_t i;

	pipeline_problems_init(&pp);
	if (pipeline_parse("fuzz.yml", (const char *)data, size, &p,
			   &pp) == 0) {
		if (pp.count != 0)
			__builtin_trap();
		walk_model(p);
		pipeline_destroy(p);
	} else {
		if (p != NULL || pp.count == 0)
			__builtin_trap();
		for (i = 0; i < pp.count; i++)
			if (pp.items[i].line < 1 || pp.items[i].column < 1 ||
			    strchr(pp.items[i].message, '\n') != NULL)
				__builtin_trap();
	}
	pipeline_problems_free(&pp);
	return 0;
}
