/*
 * Problems of a configuration file: appending them (capped, like the
 * pipeline's), naming values in messages, and printing them.
 *
 * Messages quote what the file wrote, cut and escaped by yamlnode_quote,
 * except under `secrets`, whose handlers never quote a value they read:
 * a secret's value never reaches a message.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"

void
config_problem(struct cf_walk *w, int line, int column, const char *fmt, ...)
{
	char *msg;
	va_list ap;

	if (w->added >= CF_MAX_PROBLEMS) {
		if (!w->too_many) {
			w->too_many = true;
			w->dropped_line = line;
			w->dropped_column = column;
		}
		return;
	}
	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	pipeline_problems_add(w->pp, w->file, line, column, "%s", msg);
	free(msg);
	w->added++;
}

/*
 * Sorts this load's problems by position, since secrets and projects are
 * read after the rest of the file; the "too many" note goes last.
 */
void
config_problem_sort(struct cf_walk *w)
{
	pipeline_problems_sort(w->pp, w->first);
	if (w->too_many)
		pipeline_problems_add(w->pp, w->file, w->dropped_line,
				      w->dropped_column,
				      "too many problems; stopped after %d",
				      CF_MAX_PROBLEMS);
}

const char *
config_q(struct cf_walk *w, const char *s, size_t len)
{
	char *out = w->quote[w->qnext++ % CF_QUOTE_SLOTS];

	yamlnode_quote(s, len, out);
	return out;
}

const char *
config_describe(struct cf_walk *w, const struct ynode *n)
{
	char *out;
	const char *q;

	if (n->kind == YN_SEQ)
		return "a list";
	if (n->kind == YN_MAP)
		return "a mapping";
	if (yamlnode_is_null(n))
		return "null";
	q = config_q(w, n->str, n->len);
	out = w->quote[w->qnext++ % CF_QUOTE_SLOTS];
	snprintf(out, sizeof(w->quote[0]), n->plain ? "'%s'" :
		 "the string '%s'", q);
	return out;
}

void
config_type_error(struct cf_walk *w, const struct ynode *n,
		  const char *expected, const char *key)
{
	config_problem(w, n->line, n->column, "expected %s for '%s'%s, got %s",
		       expected, CQ(w, key), w->where,
		       config_describe(w, n));
}

/*
 * Aliases let a short file name one node many times; every visit counts,
 * so that walking stays bounded whatever the file does.
 */
bool
config_visit(struct cf_walk *w, const struct ynode *n)
{
	if (w->stop)
		return false;
	if (++w->visits <= CF_MAX_VISITS)
		return true;
	w->stop = true;
	config_problem(w, n->line, n->column, "configuration too complex:"
		       " walking it would visit more than %d nodes (aliases"
		       " count each time they are used)", CF_MAX_VISITS);
	return false;
}

/* A scalar that must be a non-empty string without NUL bytes. */
const char *
config_string(struct cf_walk *w, const struct ynode *n, const char *expected,
	      const char *key)
{
	if (n->kind != YN_SCALAR || yamlnode_is_null(n) || n->len == 0) {
		config_type_error(w, n, expected, key);
		return NULL;
	}
	if (strlen(n->str) != n->len) {
		config_problem(w, n->line, n->column,
			       "NUL character in the value of '%s'%s",
			       CQ(w, key), w->where);
		return NULL;
	}
	return n->str;
}

void
config_print_problems(FILE *f, const struct pipeline_problems *pp)
{
	size_t i;

	for (i = 0; i < pp->count; i++) {
		const struct pipeline_problem *p = &pp->items[i];

		if (p->line <= 0)
			fprintf(f, "%s: error: %s\n", p->file, p->message);
		else
			fprintf(f, "%s:%d:%d: error: %s\n", p->file, p->line,
				p->column, p->message);
	}
}
