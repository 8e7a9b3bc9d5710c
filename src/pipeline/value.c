/*
 * What a YAML scalar means where the pipeline expects a boolean, a number
 * or a string, how a node is named in a message ("a list", "'maybe'"),
 * and the walk's budget.
 *
 * Only plain scalars without a tag can be null, booleans or numbers, as
 * YAML says: `allow_failure: "true"` is a string and is refused.  Strings
 * are taken exactly as written, so `3.10` stays "3.10".
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

bool
pipeline_is_null(const struct ynode *n)
{
	static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
	size_t i;

	if (n->kind != YN_SCALAR || !n->plain)
		return false;
	for (i = 0; i < PW_ARRAY_LEN(nulls); i++)
		if (strcmp(n->str, nulls[i]) == 0)
			return true;
	return false;
}

/* YAML 1.1 booleans, minus the single letters y/n that surprise people. */
static const struct {
	const char *word;
	bool value;
} bools[] = {
	{"true", true}, {"True", true}, {"TRUE", true},
	{"false", false}, {"False", false}, {"FALSE", false},
	{"yes", true}, {"Yes", true}, {"YES", true},
	{"no", false}, {"No", false}, {"NO", false},
	{"on", true}, {"On", true}, {"ON", true},
	{"off", false}, {"Off", false}, {"OFF", false},
};

int
pipeline_bool(const struct ynode *n, bool *out)
{
	size_t i;

	if (n->kind != YN_SCALAR || !n->plain)
		return -EINVAL;
	for (i = 0; i < PW_ARRAY_LEN(bools); i++) {
		if (strcmp(n->str, bools[i].word) == 0) {
			*out = bools[i].value;
			return 0;
		}
	}
	return -EINVAL;
}

/* A plain decimal number: -EINVAL if it is not one, -ERANGE above max. */
int
pipeline_uint(const struct ynode *n, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;
	size_t i;

	if (n->kind != YN_SCALAR || !n->plain || n->len == 0)
		return -EINVAL;
	for (i = 0; i < n->len; i++)
		if (n->str[i] < '0' || n->str[i] > '9')
			return -EINVAL;
	for (i = 0; i < n->len; i++) {
		if (v > max)
			return -ERANGE;
		v = v * 10 + (unsigned long)(n->str[i] - '0');
	}
	if (v > max)
		return -ERANGE;
	*out = v;
	return 0;
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
	if (pipeline_is_null(n))
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
	if (n->kind != YN_SCALAR || pipeline_is_null(n)) {
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

/* True if the mapping has this key, whatever its value. */
bool
pipeline_map_has(const struct ynode *map, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i + 1 < map->count; i += 2)
		if (map->items[i]->len == len &&
		    memcmp(map->items[i]->str, name, len) == 0)
			return true;
	return false;
}
