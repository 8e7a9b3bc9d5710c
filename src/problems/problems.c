/*
 * The problem list: appending (the file name and the message copied, so
 * that the list outlives the parse that filled it), freeing, and sorting
 * by position.  What to say, how many to keep and how to quote what a
 * file wrote are the parsers' business (yamlnode's walk for both of
 * pipewright's YAML files).
 */
#include <stdlib.h>

#include "pipewright/problems.h"

void
pipeline_problems_init(struct pipeline_problems *pp)
{
	pp->items = NULL;
	pp->count = 0;
	pp->cap = 0;
}

void
pipeline_problems_free(struct pipeline_problems *pp)
{
	size_t i;

	for (i = 0; i < pp->count; i++) {
		free(pp->items[i].file);
		free(pp->items[i].message);
	}
	free(pp->items);
	pipeline_problems_init(pp);
}

void
pipeline_problems_addv(struct pipeline_problems *pp, const char *file,
		       int line, int column, const char *fmt, va_list ap)
{
	struct pipeline_problem *it;

	pp->items = xgrow(pp->items, &pp->cap, pp->count + 1,
			  sizeof(*pp->items));
	it = &pp->items[pp->count++];
	it->file = xstrdup(file != NULL ? file : "<input>");
	it->line = line;
	it->column = column;
	it->message = xvasprintf(fmt, ap);
}

void
pipeline_problems_add(struct pipeline_problems *pp, const char *file,
		      int line, int column, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pipeline_problems_addv(pp, file, line, column, fmt, ap);
	va_end(ap);
}

/*
 * Insertion sort: stable, and the lists are short (a walk stops at a
 * hundred problems).
 */
void
pipeline_problems_sort(struct pipeline_problems *pp, size_t first)
{
	struct pipeline_problem *v = pp->items + first, t;
	size_t n = pp->count - first, i, j;

	for (i = 1; i < n; i++) {
		t = v[i];
		for (j = i; j > 0 && (v[j - 1].line > t.line ||
				      (v[j - 1].line == t.line &&
				       v[j - 1].column > t.column)); j--)
			v[j] = v[j - 1];
		v[j] = t;
	}
}
