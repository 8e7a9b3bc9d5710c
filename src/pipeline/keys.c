/*
 * The keys a pipeline file may use, as data: one table per kind of
 * mapping (top level, job, retry), each row naming the key, the YAML
 * kinds its value may have, how to say what was expected, and the
 * handler that reads it.  docs/pipeline.md describes the same rows.
 *
 * pipeline_walk_map() is the only place that looks keys up: it reports an
 * unknown key with the closest allowed one, refuses a value of the wrong
 * kind before any handler sees it, and hands the rest to the handlers.
 * Handlers may therefore assume the kind, and only check the content.
 */
#include <string.h>

#include "pipeline-int.h"

#define S YN_SCALAR
#define L YN_SEQ
#define M YN_MAP

const struct pl_key pipeline_top_keys[] = {
	{"stages", L, "a list of stage names", pipeline_top_stages},
	{"env", M, "a mapping of variables to values", pipeline_top_env},
	{"jobs", M, "a mapping of job names to jobs", pipeline_top_jobs},
};
const size_t pipeline_top_nkeys = PW_ARRAY_LEN(pipeline_top_keys);

const struct pl_key pipeline_job_keys[] = {
	{"stage", S, "a stage name", pipeline_key_stage},
	{"script", S | L, "a string or a list of strings", pipeline_key_script},
	{"needs", L, "a list of job names", pipeline_key_needs},
	{"env", M, "a mapping of variables to values", pipeline_key_env},
	{"timeout", S, "a duration such as 10m", pipeline_key_timeout},
	{"retry", S | M, "a number or a mapping with 'max' and 'when'",
	 pipeline_key_retry},
	{"lost_retries", S, "a number from 0 to 10", pipeline_key_lost_retries},
	{"allow_failure", S, "a boolean", pipeline_key_allow_failure},
	{"when", S, "one of on_success, on_failure, always, manual",
	 pipeline_key_when},
	{"branches", S | L, "a branch pattern or a list of them",
	 pipeline_key_branches},
	{"matrix", M, "a mapping of variables to lists of values",
	 pipeline_key_matrix},
	{"working_dir", S, "a relative path", pipeline_key_working_dir},
	{"environment", S, "an environment name", pipeline_key_environment},
	{"network", S, "a boolean", pipeline_key_network},
	{"resources", M, "a mapping of limits (memory, pids, cpu_seconds,"
	 " file_size, open_files)", pipeline_key_resources},
	{"secrets", L, "a list of secret names", pipeline_key_secrets},
};
const size_t pipeline_job_nkeys = PW_ARRAY_LEN(pipeline_job_keys);

const struct pl_key pipeline_retry_keys[] = {
	{"max", S, "a number from 0 to 10", pipeline_key_retry_max},
	{"when", S | L, "a list of failed, timed_out",
	 pipeline_key_retry_when},
};
const size_t pipeline_retry_nkeys = PW_ARRAY_LEN(pipeline_retry_keys);

static const struct pl_key *
find_row(const struct pl_key *tab, size_t n, const struct ynode *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strlen(tab[i].name) == key->len &&
		    memcmp(tab[i].name, key->str, key->len) == 0)
			return &tab[i];
	return NULL;
}

static void
unknown_key(struct pl_walk *w, const struct pl_key *tab, size_t n,
	    const struct ynode *key)
{
	struct yamlnode_suggest sg;
	size_t i;

	yamlnode_suggest_init(&sg, key->str);
	for (i = 0; i < n; i++)
		yamlnode_suggest_add(&sg, tab[i].name);
	if (*w->where == '\0')
		pipeline_problem(w, key->line, key->column,
				 "unknown top-level key '%s'%s",
				 pipeline_q(w, key->str, key->len),
				 pipeline_suggest_hint(w, &sg));
	else
		pipeline_problem(w, key->line, key->column,
				 "unknown key '%s'%s%s",
				 pipeline_q(w, key->str, key->len), w->where,
				 pipeline_suggest_hint(w, &sg));
}

void
pipeline_walk_map(struct pl_walk *w, const struct ynode *map,
		  const struct pl_key *tab, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < map->count; i += 2) {
		const struct ynode *key = map->items[i];
		const struct ynode *val = map->items[i + 1];
		const struct pl_key *row;

		if (!pipeline_visit(w, key) || !pipeline_visit(w, val))
			return;
		row = find_row(tab, n, key);
		if (row == NULL)
			unknown_key(w, tab, n, key);
		else if ((val->kind & row->kinds) == 0)
			pipeline_type_error(w, val, row->expected, row->name);
		else
			row->fn(w, row, key, val);
	}
}
