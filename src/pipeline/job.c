/*
 * One job as written: its name, its mapping walked with the job key table,
 * and the handlers for the keys that name things (stage, script, needs,
 * when, working_dir, environment).  Durations and retries are in retry.c,
 * env in env.c, matrix in matrix.c, branches in branches.c.
 *
 * A job with problems is still walked to its end, so that one pass reports
 * everything wrong with it; the caller discards the model if anything was.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

static const struct {
	const char *name;
	enum pipeline_when when;
} whens[] = {
	{"on_success", PIPELINE_WHEN_ON_SUCCESS},
	{"on_failure", PIPELINE_WHEN_ON_FAILURE},
	{"always", PIPELINE_WHEN_ALWAYS},
	{"manual", PIPELINE_WHEN_MANUAL},
};

const char *
pipeline_when_name(enum pipeline_when w)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(whens); i++)
		if (whens[i].when == w)
			return whens[i].name;
	return "unknown";
}

/* "lint, build, test, deploy", or a count when the list is long. */
static char *
stage_list(const struct pl_walk *w)
{
	const struct pipeline *p = w->p;
	struct buf b;
	size_t i;

	if (p->nstages > 20)
		return xasprintf("there are %zu stages", p->nstages);
	buf_init(&b, 0);
	buf_adds(&b, "stages are ");
	for (i = 0; i < p->nstages; i++)
		buf_addf(&b, "%s%s", i > 0 ? ", " : "", p->stages[i]);
	return buf_steal(&b);
}

void
pipeline_key_stage(struct pl_walk *w, const struct pl_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	struct yamlnode_suggest sg;
	char *list;
	size_t i;

	(void)key;
	b->has_stage = true;
	b->stage_bad = true;
	if (s == NULL || w->stages_bad)
		return;
	for (i = 0; i < w->p->nstages; i++) {
		if (strcmp(w->p->stages[i], s) == 0) {
			b->stage = i;
			b->stage_bad = false;
			return;
		}
	}
	yamlnode_suggest_init(&sg, s);
	for (i = 0; i < w->p->nstages; i++)
		yamlnode_suggest_add(&sg, w->p->stages[i]);
	list = stage_list(w);
	yamlnode_problem(&w->y, val->line, val->column,
			 "unknown stage '%s'%s; %s%s", PQ(w, s), w->y.where,
			 list, yamlnode_suggest_hint(&w->y, &sg));
	free(list);
}

/* Appends to the job's script, which has room for every item. */
static void
script_add(struct pl_walk *w, const struct ynode *n)
{
	struct pl_base *b = w->base;
	const char *s = yamlnode_string(&w->y, n, "a string", "script");

	if (s == NULL)
		return;
	if (*s == '\0') {
		yamlnode_problem(&w->y, n->line, n->column,
				 "empty command in 'script'%s", w->y.where);
		return;
	}
	b->script[b->nscript++] = xstrdup(s);
}

void
pipeline_key_script(struct pl_walk *w, const struct pl_key *row,
		    const struct ynode *key, const struct ynode *val)
{
	size_t i;

	(void)key;
	if (val->kind == YN_SCALAR) {
		if (yamlnode_is_null(val)) {
			yamlnode_type_error(&w->y, val, row->k.expected,
					    row->k.name);
			return;
		}
		w->base->script = xcalloc(1, sizeof(char *));
		script_add(w, val);
		return;
	}
	if (val->count == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty 'script'%s; expected at least one"
				 " command", w->y.where);
		return;
	}
	w->base->script = xcalloc(val->count, sizeof(char *));
	for (i = 0; i < val->count && yamlnode_visit(&w->y, val->items[i]); i++)
		script_add(w, val->items[i]);
}

void
pipeline_key_need_job(struct pl_walk *w, const struct pl_key *row,
		      const struct ynode *key, const struct ynode *val)
{
	struct pl_need *nd = w->need;
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	(void)key;
	if (s == NULL)
		return;
	free(nd->name);
	nd->name = xstrdup(s);
	nd->line = val->line;
	nd->column = val->column;
}

void
pipeline_key_need_artifacts(struct pl_walk *w, const struct pl_key *row,
			    const struct ynode *key, const struct ynode *val)
{
	(void)key;
	if (yamlnode_bool(val, &w->need->artifacts) < 0)
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
}

/* A `needs` item written as {job: NAME, artifacts: BOOL}. */
static void
need_map(struct pl_walk *w, struct pl_need *nd, const struct ynode *map)
{
	const char *outer = w->y.where;
	char *where = xasprintf(" in 'needs' of job '%s'",
				PQ(w, w->base->name));

	w->y.where = where;
	w->need = nd;
	yamlnode_walk_map(&w->y, map, &pipeline_need_keys);
	w->need = NULL;
	w->y.where = outer;
	free(where);
	if (!yamlnode_map_has(map, "job") && !w->y.stop)
		yamlnode_problem(&w->y, map->line, map->column,
				 "an item of 'needs' of job '%s' has no 'job';"
				 " expected {job: NAME, artifacts: false}",
				 PQ(w, w->base->name));
}

/* The same job named twice, once without its artifacts: which is meant? */
static void
need_conflict(struct pl_walk *w, const struct pl_need *nd)
{
	const struct pl_base *b = w->base;
	size_t k;

	for (k = 0; k < b->nneeds; k++) {
		if (strcmp(b->needs[k].name, nd->name) != 0)
			continue;
		if (b->needs[k].artifacts != nd->artifacts)
			yamlnode_problem(&w->y, nd->line, nd->column,
					 "'needs' of job '%s' names '%s' twice,"
					 " with and without its artifacts",
					 PQ(w, b->name), PQ(w, nd->name));
		return;
	}
}

void
pipeline_key_needs(struct pl_walk *w, const struct pl_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	size_t i;

	(void)key;
	b->has_needs = true;
	b->needs = xcalloc(val->count, sizeof(*b->needs));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];
		struct pl_need *nd = &b->needs[b->nneeds];
		const char *s;

		if (!yamlnode_visit(&w->y, it))
			return;
		nd->base = -1;
		nd->artifacts = true;
		if (it->kind == YN_MAP) {
			need_map(w, nd, it);
			if (nd->name == NULL)
				continue;
		} else {
			s = yamlnode_string(&w->y, it, "a job name or {job:"
					    " NAME, artifacts: false}",
					    row->k.name);
			if (s == NULL)
				continue;
			nd->name = xstrdup(s);
			nd->line = it->line;
			nd->column = it->column;
		}
		need_conflict(w, nd);
		b->nneeds++;
	}
}

void
pipeline_key_allow_failure(struct pl_walk *w, const struct pl_key *row,
			   const struct ynode *key, const struct ynode *val)
{
	(void)key;
	if (yamlnode_bool(val, &w->base->allow_failure) < 0)
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
}

void
pipeline_key_when(struct pl_walk *w, const struct pl_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	struct yamlnode_suggest sg;
	size_t i;

	(void)key;
	if (s == NULL)
		return;
	yamlnode_suggest_init(&sg, s);
	for (i = 0; i < PW_ARRAY_LEN(whens); i++) {
		if (strcmp(whens[i].name, s) == 0) {
			w->base->when = whens[i].when;
			return;
		}
		yamlnode_suggest_add(&sg, whens[i].name);
	}
	yamlnode_problem(&w->y, val->line, val->column,
			 "invalid value '%s' for 'when'%s; expected on_success,"
			 " on_failure, always or manual%s", PQ(w, s),
			 w->y.where, yamlnode_suggest_hint(&w->y, &sg));
}

void
pipeline_key_working_dir(struct pl_walk *w, const struct pl_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	(void)key;
	if (s == NULL)
		return;
	if (*s == '\0')
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
	else if (*s == '/')
		yamlnode_problem(&w->y, val->line, val->column,
				 "working_dir '%s' of job '%s' is absolute; it"
				 " must be relative to the workspace", PQ(w, s),
				 PQ(w, w->base->name));
	else if (pipeline_path_normalise(s, &w->base->working_dir) < 0)
		yamlnode_problem(&w->y, val->line, val->column,
				 "working_dir '%s' of job '%s' leaves the"
				 " workspace", PQ(w, s), PQ(w, w->base->name));
}

void
pipeline_key_environment(struct pl_walk *w, const struct pl_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	(void)key;
	if (s == NULL)
		return;
	if (*s == '\0') {
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
		return;
	}
	if (!pipeline_name_ok(w, val, "the environment"))
		return;
	free(w->base->environment);
	w->base->environment = xstrdup(s);
}

/* After the walk: the default stage, and a job must have a script. */
static void
job_finish(struct pl_walk *w, struct pl_base *b, const struct ynode *key,
	   const struct ynode *map)
{
	size_t i;
	char *list;

	if (!yamlnode_map_has(map, "script"))
		yamlnode_problem(&w->y, key->line, key->column,
				 "job '%s' has no script", PQ(w, b->name));
	if (b->has_stage)
		return;
	b->stage_bad = true;
	if (w->stages_bad)
		return;
	for (i = 0; i < w->p->nstages; i++) {
		if (strcmp(w->p->stages[i], "test") == 0) {
			b->stage = i;
			b->stage_bad = false;
			return;
		}
	}
	list = stage_list(w);
	yamlnode_problem(&w->y, key->line, key->column,
			 "job '%s' has no stage and there is no stage 'test'"
			 " to default to; %s", PQ(w, b->name), list);
	free(list);
}

void
pipeline_job_walk(struct pl_walk *w, struct pl_base *b,
		  const struct ynode *key, const struct ynode *val)
{
	char *where;

	b->name = xstrndup(key->str, key->len);
	b->line = key->line;
	b->column = key->column;
	b->timeout_ms = PIPELINE_DEFAULT_TIMEOUT_MS;
	b->retry_when = PIPELINE_RETRY_FAILED | PIPELINE_RETRY_TIMED_OUT;
	b->lost_retries = -1;
	b->when = PIPELINE_WHEN_ON_SUCCESS;
	b->combos = 1;
	if (strlen(b->name) != key->len || !pipeline_valid_name(b->name))
		yamlnode_problem(&w->y, key->line, key->column,
				 "invalid job name '%s'; a name is letters,"
				 " digits, '_', '.' and '-'",
				 yamlnode_q(&w->y, key->str, key->len));
	if (val->kind != YN_MAP) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "expected a mapping for job '%s', got %s",
				 PQ(w, b->name), yamlnode_describe(&w->y, val));
		return;
	}
	where = xasprintf(" in job '%s'", PQ(w, b->name));
	w->y.where = where;
	w->base = b;
	yamlnode_walk_map(&w->y, val, &pipeline_job_keys);
	if (!w->y.stop)
		job_finish(w, b, key, val);
	w->y.where = "";
	w->base = NULL;
	free(where);
}

static void
strv_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
pipeline_base_free(struct pl_base *b)
{
	size_t i;

	free(b->name);
	strv_free(b->script, b->nscript);
	for (i = 0; i < b->nneeds; i++)
		free(b->needs[i].name);
	free(b->needs);
	strv_free(b->env, b->nenv);
	strv_free(b->branches, b->nbranches);
	for (i = 0; i < b->nmkeys; i++)
		strv_free(b->mvals[i], b->nmvals[i]);
	strv_free(b->mkeys, b->nmkeys);
	free(b->mvals);
	free(b->nmvals);
	free(b->working_dir);
	free(b->environment);
	free(b->image);
	strv_free(b->secrets, b->nsecrets);
	free(b->user);
	for (i = 0; i < b->ncaches; i++)
		pipeline_cache_free(&b->caches[i]);
	free(b->caches);
	pipeline_artifacts_free(b->artifacts);
	pipeline_services_free(b);
	pw_strv_free(b->junit);
	free(b->sources);
	free(b->preds);
}
