/*
 * `branches`: the glob patterns a job's branch must match for it to run.
 * Reading, checking and matching them is the glob module's, shared with
 * projects' `branches` in the configuration (glob.h).
 */
#include "pipeline-int.h"
#include "pipewright/glob.h"

void
pipeline_key_branches(struct pl_walk *w, const struct pl_key *row,
		      const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;

	(void)key;
	b->has_branches = true;
	glob_read_branches(&w->y, &row->k, val, &b->branches, &b->nbranches);
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
		if (glob_match(b->branches[i], branch))
			return true;
	return false;
}

bool
pipeline_glob_match(const char *pattern, const char *s)
{
	return glob_match(pattern, s);
}
