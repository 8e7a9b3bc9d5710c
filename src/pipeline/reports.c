/*
 * `reports`: test reports a job writes, read by the server after the job
 * (src/report).  Today one kind, `junit`: globs of JUnit XML files
 * beneath the workspace, checked as the paths of artifacts are (relative,
 * no `..`, well-formed; `$NAME`s expanded when the job ends).  A mapping
 * rather than a bare list so that other formats can come as keys beside
 * it.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

void
pipeline_key_reports_junit(struct pl_walk *w, const struct pl_key *row,
			   const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;

	(void)key;
	b->has_junit = true;
	pipeline_read_items(w, row, val, PL_ITEM_PATH, "path", false,
			    &b->junit, &b->njunit);
}

void
pipeline_key_reports(struct pl_walk *w, const struct pl_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	const char *outer = w->y.where;
	char *where;

	(void)row;
	(void)key;
	where = xasprintf(" in 'reports' of job '%s'", PQ(w, b->name));
	w->y.where = where;
	yamlnode_walk_map(&w->y, val, &pipeline_reports_keys);
	w->y.where = outer;
	free(where);
	/* Keys there but none known: the walk has said which and why. */
	if (!b->has_junit && val->count == 0 && !w->y.stop)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'reports' of job '%s' names no report;"
				 " expected e.g. junit: [\"build/test-results/"
				 "**/*.xml\"]", PQ(w, b->name));
}

const char *const *
pipeline_job_reports_junit(const struct pipeline *p, size_t job)
{
	const struct pl_base *b = &p->bases[p->jobs[job].base];

	return b->junit != NULL && b->njunit > 0 ?
		(const char *const *)b->junit : NULL;
}
