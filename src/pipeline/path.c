/*
 * Paths in a pipeline file: working_dir, and the path patterns and key
 * texts of caches and artifacts.  Each is relative to the workspace and
 * must stay inside it.
 *
 * working_dir: *
 * Normalised lexically, without touching the file system (the pipeline
 * module does no I/O, and the workspace does not exist yet when a file is
 * validated): empty and `.` segments go, `..` removes the segment before
 * it, and a `..` with nothing left to remove leaves the workspace.  The
 * executor must still refuse symlinks that point outside; this check only
 * makes the written path honest.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"
#include "pipewright/glob.h"

/*
 * Normalises `in` into *out (caller frees; NULL when it names the workspace
 * itself, e.g. "." or "a/..").  -EINVAL if it is absolute or escapes.
 */
int
pipeline_path_normalise(const char *in, char **out)
{
	size_t len = strlen(in), o = 0, *starts, nseg = 0;
	const char *s = in;
	char *buf;

	*out = NULL;
	if (*in == '/')
		return -EINVAL;
	buf = xmalloc(len + 1);
	/* starts[i]: where the i-th kept segment begins in buf. */
	starts = xcalloc(len / 2 + 2, sizeof(*starts));
	while (*s != '\0') {
		const char *e = strchr(s, '/');
		size_t n = e != NULL ? (size_t)(e - s) : strlen(s);

		if (n == 2 && s[0] == '.' && s[1] == '.') {
			if (nseg == 0) {
				free(buf);
				free(starts);
				return -EINVAL;
			}
			o = starts[--nseg];
			if (o > 0)
				o--;  /* the '/' before it */
		} else if (n > 0 && !(n == 1 && s[0] == '.')) {
			if (o > 0)
				buf[o++] = '/';
			starts[nseg++] = o;
			memcpy(buf + o, s, n);
			o += n;
		}
		s += n;
		if (*s == '/')
			s++;
	}
	free(starts);
	if (o == 0) {
		free(buf);
		return 0;
	}
	buf[o] = '\0';
	*out = buf;
	return 0;
}

bool
pipeline_expand_ok(struct pl_walk *w, const struct ynode *n, const char *s,
		   const char *key)
{
	char err[160];

	if (pw_expand_check(s, NULL, err, sizeof(err)) == 0)
		return true;
	yamlnode_problem(&w->y, n->line, n->column, "'%s' in '%s'%s: %s",
			 PQ(w, s), key, w->y.where, err);
	return false;
}

bool
pipeline_key_text_ok(struct pl_walk *w, const struct ynode *n, const char *s,
		     const char *what, const char *key)
{
	size_t len = strlen(s);

	if (len == 0) {
		yamlnode_problem(&w->y, n->line, n->column,
				 "empty %s in '%s'%s", what, key, w->y.where);
		return false;
	}
	if (len > PL_MAX_KEY) {
		yamlnode_problem(&w->y, n->line, n->column,
				 "%s in '%s'%s is %zu bytes; at most %d", what,
				 key, w->y.where, len, PL_MAX_KEY);
		return false;
	}
	if (pipeline_control_at(s, len) >= 0) {
		yamlnode_problem(&w->y, n->line, n->column,
				 "%s '%s' in '%s'%s has a control character",
				 what, PQ(w, s), key, w->y.where);
		return false;
	}
	return pipeline_expand_ok(w, n, s, key);
}

/* One path pattern: a glob that stays inside the workspace. */
static bool
path_ok(struct pl_walk *w, const struct ynode *n, const char *s,
	const char *what, const char *key)
{
	const char *err;

	if (*s == '\0') {
		yamlnode_problem(&w->y, n->line, n->column,
				 "empty %s in '%s'%s", what, key, w->y.where);
		return false;
	}
	if ((err = glob_path_check(s)) != NULL) {
		yamlnode_problem(&w->y, n->line, n->column,
				 "%s '%s' in '%s'%s must stay inside the"
				 " workspace: %s", what, PQ(w, s), key,
				 w->y.where, err);
		return false;
	}
	if ((err = glob_check(s)) != NULL) {
		yamlnode_problem(&w->y, n->line, n->column,
				 "invalid %s '%s' in '%s'%s: %s", what,
				 PQ(w, s), key, w->y.where, err);
		return false;
	}
	return pipeline_expand_ok(w, n, s, key);
}

static void
item_add(struct pl_walk *w, const struct ynode *n, enum pl_item kind,
	 const char *what, const char *key, char **out, size_t *count)
{
	char expected[64];
	const char *s;
	bool ok;

	snprintf(expected, sizeof(expected), "a %s", what);
	s = yamlnode_string(&w->y, n, expected, key);
	if (s == NULL)
		return;
	ok = kind == PL_ITEM_PATH ? path_ok(w, n, s, what, key) :
	     pipeline_key_text_ok(w, n, s, what, key);
	if (ok)
		out[(*count)++] = xstrdup(s);
}

void
pipeline_read_items(struct pl_walk *w, const struct pl_key *row,
		    const struct ynode *val, enum pl_item kind,
		    const char *what, bool allow_empty, char ***out,
		    size_t *n)
{
	const char *key = row->k.name;
	size_t i;

	if (val->kind == YN_SCALAR) {
		if (yamlnode_is_null(val)) {
			yamlnode_type_error(&w->y, val, row->k.expected, key);
			return;
		}
		*out = xcalloc(2, sizeof(char *));
		item_add(w, val, kind, what, key, *out, n);
		return;
	}
	if (val->count == 0 && !allow_empty) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty '%s'%s; expected at least one %s", key,
				 w->y.where, what);
		return;
	}
	if (val->count > PIPELINE_MAX_PATHS) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "'%s'%s lists %zu items; at most %d", key,
				 w->y.where, val->count, PIPELINE_MAX_PATHS);
		return;
	}
	*out = xcalloc(val->count + 1, sizeof(char *));
	for (i = 0; i < val->count && yamlnode_visit(&w->y, val->items[i]);
	     i++)
		item_add(w, val->items[i], kind, what, key, *out, n);
}
