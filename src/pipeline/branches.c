/*
 * `branches`: the glob patterns a job's branch must match for it to run.
 * Each pattern is checked when the file is read (glob.c), so a typo is a
 * validation error rather than a job that silently never runs.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

static void
branch_add(struct pl_walk *w, const struct ynode *n)
{
	struct pl_base *b = w->base;
	const char *s = pipeline_string(w, n, "a branch pattern", "branches");
	const char *err;

	if (s == NULL)
		return;
	if ((err = pipeline_glob_check(s)) != NULL) {
		pipeline_problem(w, n->line, n->column,
				 "invalid branch pattern '%s'%s: %s", PQ(w, s),
				 w->where, err);
		return;
	}
	b->branches[b->nbranches++] = xstrdup(s);
}

void
pipeline_key_branches(struct pl_walk *w, const struct pl_key *row,
		      const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	size_t i;

	(void)key;
	b->has_branches = true;
	if (val->kind == YN_SCALAR) {
		if (yamlnode_is_null(val)) {
			pipeline_type_error(w, val, row->expected, row->name);
			return;
		}
		b->branches = xcalloc(1, sizeof(char *));
		branch_add(w, val);
		return;
	}
	if (val->count == 0) {
		pipeline_problem(w, val->line, val->column,
				 "empty 'branches'%s; leave 'branches' out to"
				 " run on every branch", w->where);
		return;
	}
	b->branches = xcalloc(val->count, sizeof(char *));
	for (i = 0; i < val->count && pipeline_visit(w, val->items[i]); i++)
		branch_add(w, val->items[i]);
}

bool
pipeline_job_runs_on_branch(const struct pipeline *p, size_t job,
			    const char *branch)
{
	const struct pl_base *b = &p->bases[p->jobs[job].base];
	size_t i;

	if (branch == NULL || !b->has_branches)
		return true;
	for (i = 0; i < b->nbranches; i++)
		if (pipeline_glob_match(b->branches[i], branch))
			return true;
	return false;
}
