/*
 * Branch filters: fnmatch(3) patterns without FNM_PATHNAME, so that `*`
 * also matches `/`: `release/` followed by `*` admits `release/1.0/hotfix`.
 * Each pattern is checked when the file is read, so a typo is a
 * validation error rather than a job or a project that silently never
 * builds.
 *
 * fnmatch never says a pattern is malformed: glibc takes an unclosed `[`
 * literally, so `release/[0-9` would silently match nothing a user meant.
 * glob_check() refuses such patterns at validation time instead,
 * following the bracket rules fnmatch applies (a `]` right after `[` or
 * `[!` is literal; `\` escapes; `[:class:]` inside brackets).
 */
#include <fnmatch.h>
#include <string.h>

#include "pipewright/glob.h"

static const char *const classes[] = {
	"alnum", "alpha", "blank", "cntrl", "digit", "graph",
	"lower", "print", "punct", "space", "upper", "xdigit",
};

static bool
known_class(const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(classes); i++)
		if (strlen(classes[i]) == len &&
		    memcmp(classes[i], name, len) == 0)
			return true;
	return false;
}

/* Checks the bracket expression after the `[` at *p; moves *p past it. */
static const char *
check_bracket(const char **p)
{
	const char *s = *p;

	if (*s == '!' || *s == '^')
		s++;
	if (*s == ']')
		s++;
	for (;;) {
		if (*s == '\0')
			return "unclosed '['";
		if (*s == ']')
			break;
		if (*s == '\\') {
			if (s[1] == '\0')
				return "unclosed '['";
			s += 2;
			continue;
		}
		if (s[0] == '[' && s[1] == ':') {
			const char *end = strstr(s + 2, ":]");

			if (end == NULL)
				return "unclosed '[:'";
			if (!known_class(s + 2, (size_t)(end - (s + 2))))
				return "unknown character class";
			s = end + 2;
			continue;
		}
		s++;
	}
	*p = s + 1;
	return NULL;
}

const char *
glob_check(const char *pattern)
{
	const char *p = pattern, *err;

	if (*p == '\0')
		return "empty pattern";
	while (*p != '\0') {
		if (*p == '\\') {
			if (p[1] == '\0')
				return "ends with a lone '\\'";
			p += 2;
		} else if (*p == '[') {
			p++;
			if ((err = check_bracket(&p)) != NULL)
				return err;
		} else {
			p++;
		}
	}
	return NULL;
}

bool
glob_match(const char *pattern, const char *s)
{
	if (pattern == NULL || s == NULL)
		return false;
	return fnmatch(pattern, s, 0) == 0;
}

static void
branch_add(struct yamlnode_walk *w, const struct ynode *n, char **out,
	   size_t *count)
{
	const char *s = yamlnode_string(w, n, "a branch pattern", "branches");
	const char *err;

	if (s == NULL)
		return;
	if ((err = glob_check(s)) != NULL) {
		yamlnode_problem(w, n->line, n->column,
				 "invalid branch pattern '%s'%s: %s",
				 yamlnode_q(w, s, strlen(s)), w->where, err);
		return;
	}
	out[(*count)++] = xstrdup(s);
}

void
glob_read_branches(struct yamlnode_walk *w, const struct yamlnode_key *row,
		   const struct ynode *val, char ***out, size_t *n)
{
	size_t i;

	if (val->kind == YN_SCALAR) {
		if (yamlnode_is_null(val)) {
			yamlnode_type_error(w, val, row->expected, row->name);
			return;
		}
		*out = xcalloc(1, sizeof(char *));
		branch_add(w, val, *out, n);
		return;
	}
	if (val->count == 0) {
		yamlnode_problem(w, val->line, val->column,
				 "empty 'branches'%s; leave 'branches' out to"
				 " run on every branch", w->where);
		return;
	}
	*out = xcalloc(val->count, sizeof(char *));
	for (i = 0; i < val->count && yamlnode_visit(w, val->items[i]); i++)
		branch_add(w, val->items[i], *out, n);
}
