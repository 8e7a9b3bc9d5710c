/*
 * pipeline_parse(): bytes → YAML tree → validated model, or problems.
 *
 * The top-level keys are read in a fixed order whatever order the file
 * writes them in: stages first (jobs name them), then env, then jobs.
 * The order checks run even when jobs had other problems, so that one
 * pass reports unknown needs and cycles too; only the matrix expansion
 * and the model's derived data wait for a clean file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

static const char *const default_stages[] = {"lint", "build", "test",
					     "deploy"};

/* The walk's limits; docs/pipeline.md lists them. */
static const struct yamlnode_rules rules = {
	.what = "pipeline",
	.max_problems = PL_MAX_PROBLEMS,
	.max_visits = PL_MAX_VISITS,
	.max_text = PL_MAX_TEXT,
	.nonempty = false,      /* "" is a string like any other */
};

/* The nodes of the top-level keys, read in this order after the walk. */
struct pl_top {
	const struct ynode *stages;
	const struct ynode *env;
	const struct ynode *jobs_key;
	const struct ynode *jobs;
	const struct ynode *dflt;    /* `default:`, or NULL */
};

void
pipeline_top_stages(struct pl_walk *w, const struct pl_key *row,
		    const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	w->top->stages = val;
}

void
pipeline_top_env(struct pl_walk *w, const struct pl_key *row,
		 const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	w->top->env = val;
}

void
pipeline_top_jobs(struct pl_walk *w, const struct pl_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	(void)row;
	w->top->jobs_key = key;
	w->top->jobs = val;
}

void
pipeline_top_default(struct pl_walk *w, const struct pl_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	w->top->dflt = val;
}

static void
stages_read(struct pl_walk *w, const struct ynode *seq)
{
	struct pipeline *p = w->p;
	size_t i;

	if (seq == NULL) {
		p->stages = xcalloc(PW_ARRAY_LEN(default_stages),
				    sizeof(char *));
		for (i = 0; i < PW_ARRAY_LEN(default_stages); i++)
			p->stages[p->nstages++] = xstrdup(default_stages[i]);
		return;
	}
	if (seq->count == 0 || seq->count > PL_MAX_STAGES) {
		if (seq->count == 0)
			yamlnode_problem(&w->y, seq->line, seq->column,
					 "empty 'stages'; expected at least"
					 " one stage");
		else
			yamlnode_problem(&w->y, seq->line, seq->column,
					 "'stages' lists %zu stages;"
					 " at most %d", seq->count,
					 PL_MAX_STAGES);
		w->stages_bad = true;
		return;
	}
	p->stages = xcalloc(seq->count, sizeof(char *));
	for (i = 0; i < seq->count; i++) {
		const struct ynode *it = seq->items[i];
		const char *s;

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it, "a stage name", "stages");
		if (s == NULL) {
			w->stages_bad = true;
			continue;
		}
		if (!pipeline_valid_name(s)) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "invalid stage name '%s'; a name is"
					 " letters, digits, '_', '.' and '-'",
					 PQ(w, s));
			w->stages_bad = true;
			continue;
		}
		if (yamlnode_listed_twice(&w->y, it, "stage", s, p->stages,
					  p->nstages)) {
			w->stages_bad = true;
			continue;
		}
		p->stages[p->nstages++] = xstrdup(s);
	}
}

static void
jobs_read(struct pl_walk *w, const struct ynode *key, const struct ynode *map,
	  const struct ynode *dflt)
{
	struct pipeline *p = w->p;
	size_t npairs = map->count / 2, i;

	if (npairs == 0) {
		yamlnode_problem(&w->y, map->line, map->column,
				 "'jobs' is empty; expected at least one job");
		return;
	}
	if (npairs > PIPELINE_MAX_JOBS) {
		yamlnode_problem(&w->y, key->line, key->column,
				 "pipeline has %zu jobs; at most %d", npairs,
				 PIPELINE_MAX_JOBS);
		return;
	}
	/* Allocated once: handlers keep pointers to their base. */
	p->bases = xcalloc(npairs, sizeof(*p->bases));
	for (i = 0; i < npairs && !w->y.stop; i++) {
		const struct ynode *k = map->items[2 * i];
		const struct ynode *v = map->items[2 * i + 1];

		if (!yamlnode_visit(&w->y, k) || !yamlnode_visit(&w->y, v))
			break;
		struct ynode *merged = pipeline_default_merge(v, dflt);
		size_t from = w->y.pp->count;

		pipeline_job_walk(w, &p->bases[p->nbases++], k,
				  merged != NULL ? merged : v);
		if (merged != NULL) {
			pipeline_default_dedupe(w, dflt, from);
			free(merged->items);
			free(merged);
		}
	}
}

/* The whole pipeline after matrix expansion must stay within bounds. */
static void
jobs_count(struct pl_walk *w, const struct ynode *key)
{
	uint64_t total = 0;
	size_t i;

	for (i = 0; i < w->p->nbases; i++)
		total += w->p->bases[i].combos;
	if (total > PIPELINE_MAX_JOBS)
		yamlnode_problem(&w->y, key->line, key->column,
				 "pipeline has %llu jobs after matrix"
				 " expansion; at most %d",
				 (unsigned long long)total, PIPELINE_MAX_JOBS);
}

/*
 * Whether a mapping without 'jobs' is still meant as a pipeline: one of its
 * keys is a top-level key, or one edit from one ("job:", "jbos:"); two
 * edits would take any short word ("bob:") for a typo.
 */
static bool
meant_as_pipeline(const struct ynode *root)
{
	struct yamlnode_suggest sg;
	size_t i, k;

	for (i = 0; i + 1 < root->count; i += 2) {
		const struct ynode *key = root->items[i];

		if (key->kind != YN_SCALAR || strlen(key->str) != key->len)
			continue;
		yamlnode_suggest_init(&sg, key->str);
		for (k = 0; k < pipeline_top_keys.n; k++) {
			const char *name =
			    yamlnode_table_row(&pipeline_top_keys, k)->name;

			if (strcmp(key->str, name) == 0)
				return true;
			yamlnode_suggest_add(&sg, name);
		}
		if (sg.best != NULL && sg.dist <= 1)
			return true;
	}
	return false;
}

/* Walks a tree whose root is a mapping into w->p. */
static void
walk(struct pl_walk *w, const struct ynode *root)
{
	struct pl_top top = {0};

	/*
	 * Some other file that YAML reads as a mapping (/etc/shadow's lines
	 * are each a key): one problem that quotes none of it, rather than an
	 * "unknown key" echoing every line.
	 */
	if (!yamlnode_map_has(root, "jobs") && !meant_as_pipeline(root)) {
		yamlnode_problem(&w->y, root->line, root->column,
				 "not a pipeline file: no 'jobs' and no other"
				 " top-level key of a pipeline");
		return;
	}
	/* The top-level handlers only note the nodes; see the order above. */
	w->top = &top;
	yamlnode_walk_map(&w->y, root, &pipeline_top_keys);
	w->top = NULL;
	if (!w->y.stop)
		stages_read(w, top.stages);
	if (top.env != NULL && !w->y.stop) {
		w->y.where = " in the top-level env";
		pipeline_env_parse(w, top.env, &w->p->env, &w->p->nenv);
		w->y.where = "";
	}
	if (!yamlnode_map_has(root, "jobs")) {
		yamlnode_problem(&w->y, root->line, root->column,
				 "no 'jobs' in the pipeline; expected a"
				 " mapping of job names to jobs");
		return;
	}
	if (top.dflt != NULL && !w->y.stop)
		pipeline_default_check(w, top.dflt);
	if (top.jobs != NULL && !w->y.stop)
		jobs_read(w, top.jobs_key, top.jobs, top.dflt);
	if (!w->y.stop && w->p->nbases > 0) {
		pipeline_order_check(w);
		jobs_count(w, top.jobs_key);
	}
}

/* Checks the root, walks it, and builds what the model derives. */
static int
build(struct pl_walk *w, const struct ytree *t)
{
	if (t->root == NULL || yamlnode_is_null(t->root)) {
		yamlnode_problem(&w->y, 1, 1, "empty pipeline file; expected a"
				 " mapping with 'jobs'");
		return -EINVAL;
	}
	if (t->root->kind != YN_MAP) {
		/* Named, not quoted: the file may be anything (see walk). */
		yamlnode_problem(&w->y, t->root->line, t->root->column,
				 "expected a mapping with 'jobs' at the top of"
				 " the pipeline file, got %s",
				 t->root->kind == YN_SEQ ? "a list" :
							   "a single value");
		return -EINVAL;
	}
	walk(w, t->root);
	if (w->y.added > 0 || w->y.stop)
		return -EINVAL;
	pipeline_matrix_expand(w);
	if (w->y.added > 0 || w->y.stop)
		return -EINVAL;
	pipeline_order_preds(w->p);
	pipeline_env_merge(w->p);
	pipeline_artifacts_finish(w);
	if (w->y.added > 0 || w->y.stop)
		return -EINVAL;
	return 0;
}

int
pipeline_parse(const char *file, const char *data, size_t len,
	       struct pipeline **out, struct pipeline_problems *problems)
{
	struct pl_walk *w = xcalloc(1, sizeof(*w));
	struct pipeline *p = NULL;
	struct ytree t;
	int rc;

	*out = NULL;
	yamlnode_walk_init(&w->y, file != NULL ? file : "<input>", problems,
			   &rules);
	if (len > PIPELINE_MAX_BYTES) {
		yamlnode_problem(&w->y, 1, 1, "file is %zu bytes; at most %d",
				 len, PIPELINE_MAX_BYTES);
		rc = -EINVAL;
		goto out;
	}
	rc = yamlnode_load(data != NULL ? data : "", len, "a pipeline file",
			   yamlnode_walk_report, &w->y, &t);
	if (rc < 0)
		goto out;
	p = xcalloc(1, sizeof(*p));
	w->p = p;
	rc = build(w, &t);
	yamlnode_free(&t);
	if (rc < 0) {
		pipeline_free(p);
		goto out;
	}
	p->file = xstrdup(w->y.file);
	p->raw = xmalloc(len + 1);
	if (len > 0)
		memcpy(p->raw, data, len);
	p->raw[len] = '\0';
	p->rawlen = len;
	*out = p;
out:
	if (rc < 0) {
		yamlnode_walk_sort(&w->y);
		if (problems->count == w->y.first)
			pipeline_problems_add(problems, w->y.file, 1, 1,
					      "invalid pipeline");
		rc = -EINVAL;
	}
	free(w);
	return rc;
}
