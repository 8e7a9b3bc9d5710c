/*
 * Problems: the list a parse appends to, and the helpers that keep its
 * messages one readable line each.
 *
 * A walk adds at most PL_MAX_PROBLEMS problems and then one note saying
 * that it stopped: an alias fanned out over a thousand jobs must not turn
 * into a million lines.  Values quoted in messages are cut at YAMLNODE_QUOTE_MAX
 * bytes and their control characters escaped, so that every problem stays
 * on one FILE:LINE:COLUMN line whatever the file contains.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

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

static void
problems_addv(struct pipeline_problems *pp, const char *file, int line,
	      int column, const char *fmt, va_list ap)
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
	problems_addv(pp, file, line, column, fmt, ap);
	va_end(ap);
}

void
pipeline_problem(struct pl_walk *w, int line, int column, const char *fmt,
		 ...)
{
	va_list ap;

	if (w->added >= PL_MAX_PROBLEMS) {
		if (!w->too_many) {
			w->too_many = true;
			w->dropped_line = line;
			w->dropped_column = column;
		}
		return;
	}
	va_start(ap, fmt);
	problems_addv(w->pp, w->file, line, column, fmt, ap);
	va_end(ap);
	w->added++;
}

/*
 * Insertion sort: stable, and the lists are short (a parse stops at a
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

/*
 * Sorts this parse's problems by position; the "too many" note goes last,
 * where a reader expects it.
 */
void
pipeline_problem_sort(struct pl_walk *w)
{
	pipeline_problems_sort(w->pp, w->first);
	if (w->too_many)
		pipeline_problems_add(w->pp, w->file, w->dropped_line,
				      w->dropped_column,
				      "too many problems; stopped after %d",
				      PL_MAX_PROBLEMS);
}

/*
 * Returns s (len bytes, which may hold NULs) made safe for a one-line
 * message, in the next of the walk's quote slots.  A message may use
 * PL_QUOTE_SLOTS of them before the first is reused.
 */
const char *
pipeline_q(struct pl_walk *w, const char *s, size_t len)
{
	char *out = w->quote[w->qnext++ % PL_QUOTE_SLOTS];

	yamlnode_quote(s, len, out);
	return out;
}
