/*
 * What a walk's messages say about the file: values quoted, nodes named
 * ("a list", "'maybe'", "the string 'x'"), "did you mean", the type error
 * every key table shares, the check that a scalar is a usable string, and
 * the one that a list of names names each once.
 *
 * Every string made for a message lands in the next of the walk's quote
 * slots, so that one message may name YAMLNODE_QUOTE_SLOTS values without
 * an allocation; the slots are reused round the ring.
 */
#include <stdio.h>
#include <string.h>

#include "pipewright/yamlnode.h"

static char *
slot(struct yamlnode_walk *w)
{
	return w->quote[w->qnext++ % YAMLNODE_QUOTE_SLOTS];
}

const char *
yamlnode_q(struct yamlnode_walk *w, const char *s, size_t len)
{
	char *out = slot(w);

	yamlnode_quote(s, len, out);
	return out;
}

const char *
yamlnode_describe(struct yamlnode_walk *w, const struct ynode *n)
{
	const char *q;
	char *out;

	switch (n->kind) {
	case YN_SEQ:
		return "a list";
	case YN_MAP:
		return "a mapping";
	case YN_SCALAR:
		break;
	}
	if (yamlnode_is_null(n))
		return "null";
	q = yamlnode_q(w, n->str, n->len);
	out = slot(w);
	snprintf(out, sizeof(w->quote[0]), n->plain ? "'%s'" :
		 "the string '%s'", q);
	return out;
}

const char *
yamlnode_suggest_hint(struct yamlnode_walk *w,
		      const struct yamlnode_suggest *s)
{
	char q[YAMLNODE_QUOTE_SIZE]; /* not a slot: snprintf's source and
					target must not share an array */
	char *out;

	if (s->best == NULL)
		return "";
	yamlnode_quote(s->best, strlen(s->best), q);
	out = slot(w);
	snprintf(out, sizeof(w->quote[0]), "; did you mean '%s'?", q);
	return out;
}

void
yamlnode_type_error(struct yamlnode_walk *w, const struct ynode *n,
		    const char *expected, const char *key)
{
	yamlnode_problem(w, n->line, n->column,
			 "expected %s for '%s'%s, got %s", expected,
			 yamlnode_q(w, key, strlen(key)), w->where,
			 yamlnode_describe(w, n));
}

const char *
yamlnode_string(struct yamlnode_walk *w, const struct ynode *n,
		const char *expected, const char *key)
{
	if (n->kind != YN_SCALAR || yamlnode_is_null(n) ||
	    (w->rules->nonempty && n->len == 0)) {
		yamlnode_type_error(w, n, expected, key);
		return NULL;
	}
	if (strlen(n->str) != n->len) {
		yamlnode_problem(w, n->line, n->column,
				 "NUL character in the value of '%s'%s",
				 yamlnode_q(w, key, strlen(key)), w->where);
		return NULL;
	}
	return n->str;
}

bool
yamlnode_listed_twice(struct yamlnode_walk *w, const struct ynode *n,
		      const char *what, const char *s, char *const *names,
		      size_t count)
{
	size_t i;

	for (i = 0; i < count; i++)
		if (strcmp(names[i], s) == 0)
			break;
	if (i == count)
		return false;
	yamlnode_problem(w, n->line, n->column, "%s '%s' is listed twice%s",
			 what, yamlnode_q(w, s, strlen(s)), w->where);
	return true;
}
