/*
 * `artifacts`: the files a job hands to the jobs after it (`paths`,
 * `exclude`, `when`, `expire_in`, `name`), and which jobs get whose
 * (pipeline_job_artifact_sources).  Read and checked here; packing,
 * keeping and restoring them are the server's and `pipewright run`'s.
 *
 * An artifact is known by its name within a run: the job's full name
 * (matrix values included, so the expansions of a matrix job differ),
 * or `name:`.  A name may use the file's variables ($NAME from the
 * pipeline's env, the job's env and its matrix values), expanded here,
 * so that a matrix job can name its expansions' artifacts apart; the
 * names must then all differ, which only the expanded model can tell.
 *
 * `when: manual` is refused: artifacts are saved when the job ends, on
 * its outcome; approval is a job's business, not its files'.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

/* An expiry longer than this is a typo (and keeps created + expiry far
 * from overflowing). */
#define PL_MAX_EXPIRE_MS (3650ULL * 24 * 3600 * 1000)

static const struct {
	const char *name;
	enum pipeline_when when;
} whens[] = {
	{"on_success", PIPELINE_WHEN_ON_SUCCESS},
	{"on_failure", PIPELINE_WHEN_ON_FAILURE},
	{"always", PIPELINE_WHEN_ALWAYS},
};

void
pipeline_key_artifacts_paths(struct pl_walk *w, const struct pl_key *row,
			     const struct ynode *key, const struct ynode *val)
{
	struct pl_artifacts *a = w->base->artifacts;

	(void)key;
	a->has_paths = true;
	pipeline_read_items(w, row, val, PL_ITEM_PATH, "path", false,
			    &a->paths, &a->npaths);
}

void
pipeline_key_artifacts_exclude(struct pl_walk *w, const struct pl_key *row,
			       const struct ynode *key,
			       const struct ynode *val)
{
	struct pl_artifacts *a = w->base->artifacts;

	(void)key;
	pipeline_read_items(w, row, val, PL_ITEM_PATH, "path", true,
			    &a->exclude, &a->nexclude);
}

void
pipeline_key_artifacts_when(struct pl_walk *w, const struct pl_key *row,
			    const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	struct yamlnode_suggest sg;
	size_t i;

	(void)key;
	if (s == NULL)
		return;
	if (strcmp(s, "manual") == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "'when: manual'%s is not allowed; artifacts"
				 " are saved when the job ends: on_success,"
				 " on_failure or always", w->y.where);
		return;
	}
	yamlnode_suggest_init(&sg, s);
	for (i = 0; i < PW_ARRAY_LEN(whens); i++) {
		if (strcmp(whens[i].name, s) == 0) {
			w->base->artifacts->when = whens[i].when;
			return;
		}
		yamlnode_suggest_add(&sg, whens[i].name);
	}
	yamlnode_problem(&w->y, val->line, val->column,
			 "invalid value '%s' for 'when'%s; expected on_success,"
			 " on_failure or always%s", PQ(w, s), w->y.where,
			 yamlnode_suggest_hint(&w->y, &sg));
}

void
pipeline_key_artifacts_expire_in(struct pl_walk *w, const struct pl_key *row,
				 const struct ynode *key,
				 const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	uint64_t ms;

	(void)key;
	if (s == NULL)
		return;
	if (pw_duration_parse(s, &ms) < 0)
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid duration '%s' for 'expire_in'%s;"
				 " expected e.g. 30m, 12h, 7d", PQ(w, s),
				 w->y.where);
	else if (ms == 0)
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid duration '%s' for 'expire_in'%s; an"
				 " expiry must be more than 0 (leave"
				 " 'expire_in' out for the server's default)",
				 PQ(w, s), w->y.where);
	else if (ms > PL_MAX_EXPIRE_MS)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'expire_in'%s is %s; at most 3650d",
				 w->y.where, PQ(w, s));
	else
		w->base->artifacts->expire_in_ms = ms;
}

void
pipeline_key_artifacts_name(struct pl_walk *w, const struct pl_key *row,
			    const struct ynode *key, const struct ynode *val)
{
	struct pl_artifacts *a = w->base->artifacts;
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	(void)key;
	if (s == NULL)
		return;
	if (*s == '\0') {
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
		return;
	}
	if (!pipeline_name_ok(w, val, "the artifacts' name") ||
	    !pipeline_expand_ok(w, val, s, row->k.name))
		return;
	a->name = xstrdup(s);
	a->name_at[0] = val->line;
	a->name_at[1] = val->column;
}

void
pipeline_key_artifacts(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	const char *outer = w->y.where;
	char *where;

	(void)row;
	(void)key;
	b->artifacts = xcalloc(1, sizeof(*b->artifacts));
	b->artifacts->when = PIPELINE_WHEN_ON_SUCCESS;
	where = xasprintf(" in 'artifacts' of job '%s'", PQ(w, b->name));
	w->y.where = where;
	yamlnode_walk_map(&w->y, val, &pipeline_artifacts_keys);
	w->y.where = outer;
	free(where);
	if (!b->artifacts->has_paths && !w->y.stop)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'artifacts' of job '%s' has no 'paths';"
				 " expected the files to keep, e.g. paths:"
				 " [target/release/app]", PQ(w, b->name));
	if (b->artifacts->exclude == NULL)
		b->artifacts->exclude = xcalloc(1, sizeof(char *));
	if (b->artifacts->paths == NULL)
		b->artifacts->paths = xcalloc(1, sizeof(char *));
}

void
pipeline_artifacts_free(struct pl_artifacts *a)
{
	if (a == NULL)
		return;
	pw_strv_free(a->paths);
	pw_strv_free(a->exclude);
	free(a->name);
	free(a);
}

/* Expands the `name:` of job j with its variables; false if it failed. */
static bool
name_expand(struct pl_walk *w, struct pl_job *j, const struct pl_base *b)
{
	const struct pl_artifacts *a = b->artifacts;
	char err[160];
	int rc;

	rc = pw_expand(a->name, j->env, &j->art_name, err, sizeof(err));
	if (rc < 0) {
		yamlnode_problem(&w->y, a->name_at[0], a->name_at[1],
				 "'name' in 'artifacts' of job '%s': %s; a name"
				 " can use the variables of the file's env and"
				 " matrix", PQ(w, b->name), err);
		return false;
	}
	if (*j->art_name == '\0' ||
	    pipeline_control_at(j->art_name, strlen(j->art_name)) >= 0 ||
	    strlen(j->art_name) > PL_MAX_KEY) {
		yamlnode_problem(&w->y, a->name_at[0], a->name_at[1],
				 "'name' in 'artifacts' of job '%s' is '%s' for"
				 " job '%s'; expected 1 to %d bytes without"
				 " control characters", PQ(w, b->name),
				 PQ(w, j->art_name), PQ(w, j->name),
				 PL_MAX_KEY);
		return false;
	}
	return true;
}

static int
art_cmp(const void *x, const void *y)
{
	const struct pl_job *a = *(const struct pl_job *const *)x;
	const struct pl_job *b = *(const struct pl_job *const *)y;
	int c = strcmp(a->art.name, b->art.name);

	if (c != 0)
		return c;
	return a < b ? -1 : a > b;
}

/* Two jobs whose artifacts have one name: reported once per base. */
static void
names_unique(struct pl_walk *w, struct pl_job **v, size_t n, bool *told)
{
	struct pipeline *p = w->p;
	size_t i;

	qsort(v, n, sizeof(*v), art_cmp);
	for (i = 1; i < n; i++) {
		const struct pl_job *x = v[i - 1], *y = v[i];
		const struct pl_base *bx = &p->bases[x->base];
		const struct pl_base *by = &p->bases[y->base];
		const struct pl_base *at = by->artifacts->name != NULL ? by : bx;

		if (strcmp(x->art.name, y->art.name) != 0 ||
		    told[at - p->bases])
			continue;
		told[at - p->bases] = true;
		yamlnode_problem(&w->y, at->artifacts->name_at[0],
				 at->artifacts->name_at[1],
				 "the artifacts of jobs '%s' and '%s' are both"
				 " named '%s'; names must differ within a"
				 " pipeline%s", PQ(w, x->name), PQ(w, y->name),
				 PQ(w, x->art.name), bx == by ?
				 " (put a matrix variable in 'name', or leave"
				 " 'name' out)" : "");
	}
}

static int
size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* Jobs whose artifacts base b gets: see pipeline_job_artifact_sources. */
static void
sources(struct pipeline *p, struct pl_base *b)
{
	size_t i, k, j, n = 0;

	b->sources = xcalloc(p->njobs + 1, sizeof(size_t));
	if (!b->has_needs) {
		for (i = 0; i < b->npreds; i++)
			if (p->bases[p->jobs[b->preds[i]].base].artifacts !=
			    NULL)
				b->sources[n++] = b->preds[i];
		b->nsources = n;
		return;
	}
	for (k = 0; k < b->nneeds; k++) {
		const struct pl_base *d = &p->bases[b->needs[k].base];

		if (!b->needs[k].artifacts || d->artifacts == NULL)
			continue;
		for (j = d->first; j < d->first + d->count; j++)
			b->sources[n++] = j;
	}
	qsort(b->sources, n, sizeof(size_t), size_cmp);
	for (i = 0, k = 0; i < n; i++)
		if (i == 0 || b->sources[i] != b->sources[i - 1])
			b->sources[k++] = b->sources[i];
	b->nsources = k;
}

void
pipeline_artifacts_finish(struct pl_walk *w)
{
	struct pipeline *p = w->p;
	struct pl_job **v = xcalloc(p->njobs + 1, sizeof(*v));
	bool *told = xcalloc(p->nbases + 1, sizeof(bool));
	size_t i, n = 0;

	for (i = 0; i < p->njobs; i++) {
		struct pl_job *j = &p->jobs[i];
		const struct pl_base *b = &p->bases[j->base];

		if (b->artifacts == NULL)
			continue;
		j->art.paths = (const char *const *)b->artifacts->paths;
		j->art.exclude = (const char *const *)b->artifacts->exclude;
		j->art.when = b->artifacts->when;
		j->art.expire_in_ms = b->artifacts->expire_in_ms;
		j->art.name = j->name;
		if (b->artifacts->name != NULL) {
			if (!told[j->base] && !name_expand(w, j, b))
				told[j->base] = true;
			if (j->art_name == NULL)
				continue;
			j->art.name = j->art_name;
		}
		v[n++] = j;
	}
	memset(told, 0, (p->nbases + 1) * sizeof(bool));
	names_unique(w, v, n, told);
	free(v);
	free(told);
	for (i = 0; i < p->nbases; i++)
		sources(p, &p->bases[i]);
}

const struct pipeline_artifacts *
pipeline_job_artifacts(const struct pipeline *p, size_t job)
{
	const struct pl_job *j = &p->jobs[job];

	return p->bases[j->base].artifacts != NULL ? &j->art : NULL;
}

size_t
pipeline_job_artifact_sources(const struct pipeline *p, size_t job,
			      const size_t **jobs)
{
	const struct pl_base *b = &p->bases[p->jobs[job].base];

	*jobs = b->sources;
	return b->nsources;
}
