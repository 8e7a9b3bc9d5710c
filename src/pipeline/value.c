/*
 * What a YAML scalar means where the pipeline expects a string (null,
 * booleans and numbers are yamlnode's), how a node is named in a message
 * ("a list", "'maybe'"), names the file may use, and the walk's budget.
 *
 * Strings are taken exactly as written, so `3.10` stays "3.10".
 *
 * The budget: the tree shares aliased nodes, so walking it can cost far
 * more than the file's size (a thousand jobs aliasing one env of a
 * thousand variables).  Every node the walk visits and every byte it
 * reads or makes is counted; past PL_MAX_VISITS or PL_MAX_TEXT the walk
 * stops with "pipeline too complex".  A file without aliases stays far
 * below both, since it is at most PIPELINE_MAX_BYTES long.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "pipeline-int.h"

static bool
over_budget(struct pl_walk *w, int line, int column)
{
	if (w->visits <= PL_MAX_VISITS && w->text <= PL_MAX_TEXT)
		return false;
	w->stop = true;
	pipeline_problem(w, line, column,
			 "pipeline too complex: walking it would visit more"
			 " than %d nodes or %d bytes (aliases count each time"
			 " they are used)", PL_MAX_VISITS, PL_MAX_TEXT);
	return true;
}

bool
pipeline_visit(struct pl_walk *w, const struct ynode *n)
{
	if (w->stop)
		return false;
	w->visits++;
	if (n->kind == YN_SCALAR)
		w->text += n->len;
	return !over_budget(w, n->line, n->column);
}

bool
pipeline_charge(struct pl_walk *w, size_t text, int line, int column)
{
	if (w->stop)
		return false;
	w->text += text < PL_MAX_TEXT ? text : PL_MAX_TEXT + 1;
	return !over_budget(w, line, column);
}

const char *
pipeline_describe(struct pl_walk *w, const struct ynode *n)
{
	char *out;
	const char *q;

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
	q = pipeline_q(w, n->str, n->len);
	out = w->quote[w->qnext++ % PL_QUOTE_SLOTS];
	snprintf(out, sizeof(w->quote[0]), n->plain ? "'%s'" :
		 "the string '%s'", q);
	return out;
}

void
pipeline_type_error(struct pl_walk *w, const struct ynode *n,
		    const char *expected, const char *key)
{
	pipeline_problem(w, n->line, n->column,
			 "expected %s for '%s'%s, got %s",
			 expected, PQ(w, key), w->where,
			 pipeline_describe(w, n));
}

/*
 * The value of a scalar that must be a string: not null, and without a
 * NUL byte (a double-quoted "\0" makes one), which C strings would cut.
 */
const char *
pipeline_string(struct pl_walk *w, const struct ynode *n,
		const char *expected, const char *key)
{
	if (n->kind != YN_SCALAR || yamlnode_is_null(n)) {
		pipeline_type_error(w, n, expected, key);
		return NULL;
	}
	if (strlen(n->str) != n->len) {
		pipeline_problem(w, n->line, n->column,
				 "NUL character in the value of '%s'%s",
				 PQ(w, key), w->where);
		return NULL;
	}
	return n->str;
}

long
pipeline_control_at(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return (long)i;
		/* U+0080..U+009F, C1: CSI is U+009B. */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 &&
		    u[i + 1] < 0xa0)
			return (long)i;
	}
	return -1;
}

bool
pipeline_name_ok(struct pl_walk *w, const struct ynode *n, const char *what)
{
	if (pipeline_control_at(n->str, n->len) < 0)
		return true;
	pipeline_problem(w, n->line, n->column,
			 "%s '%s'%s has a control character; names may not"
			 " contain any", what, pipeline_q(w, n->str, n->len),
			 w->where);
	return false;
}

/* Job and stage names: [A-Za-z0-9_.-]+. */
bool
pipeline_valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		      *s == '-'))
			return false;
	return true;
}

/* Environment variable names: [A-Za-z_][A-Za-z0-9_]*. */
bool
pipeline_valid_env_name(const char *s)
{
	if (*s >= '0' && *s <= '9')
		return false;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}
