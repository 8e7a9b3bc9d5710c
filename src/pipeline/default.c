/*
 * `default:` and `image:`.  A default is applied to the YAML, not to the
 * model: each job's mapping gets the default's pairs for the keys it does
 * not set, and the job's own key table reads them.  So any job key a
 * default may set is read by exactly one parser, and a bad default value
 * is reported where it was written.  Only keys that mean the same for
 * every job may be defaults (a default `script` or `needs` would make
 * every job alike, or a cycle).
 */
#include <stdlib.h>
#include <string.h>

#include "pipewright/image.h"
#include "pipeline-int.h"

/* The job keys a default may set, in the order messages list them. */
static const char *const default_keys[] = {
	"image", "user", "timeout", "retry", "resources", "cache",
};

static bool
default_allowed(const struct ynode *key)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(default_keys); i++)
		if (strlen(default_keys[i]) == key->len &&
		    memcmp(default_keys[i], key->str, key->len) == 0)
			return true;
	return false;
}

void
pipeline_default_check(struct pl_walk *w, const struct ynode *dflt)
{
	size_t i;

	for (i = 0; i + 1 < dflt->count; i += 2) {
		const struct ynode *key = dflt->items[i];

		if (!yamlnode_visit(&w->y, key))
			return;
		if (default_allowed(key))
			continue;
		yamlnode_problem(&w->y, key->line, key->column,
				 "'default' cannot set '%s'; it may set image, user,"
				 " timeout, retry, resources and cache",
				 yamlnode_q(&w->y, key->str, key->len));
	}
}

struct ynode *
pipeline_default_merge(const struct ynode *job, const struct ynode *dflt)
{
	struct ynode *m;
	size_t i, n = 0;

	if (dflt == NULL || job->kind != YN_MAP)
		return NULL;
	for (i = 0; i + 1 < dflt->count; i += 2)
		if (default_allowed(dflt->items[i]) &&
		    !yamlnode_map_has(job, dflt->items[i]->str))
			n += 2;
	if (n == 0)
		return NULL;
	m = xcalloc(1, sizeof(*m));
	*m = *job;
	m->all = NULL;
	m->items = xcalloc(job->count + n, sizeof(*m->items));
	memcpy(m->items, job->items, job->count * sizeof(*m->items));
	m->count = job->count;
	for (i = 0; i + 1 < dflt->count; i += 2) {
		if (!default_allowed(dflt->items[i]) ||
		    yamlnode_map_has(job, dflt->items[i]->str))
			continue;
		m->items[m->count++] = dflt->items[i];
		m->items[m->count++] = dflt->items[i + 1];
	}
	m->cap = m->count;
	return m;
}

/* The last line any node of the tree writes on. */
static int
last_line(const struct ynode *n, int depth)
{
	int last = n->line, l;
	size_t i;

	for (i = 0; depth < YAMLNODE_MAX_DEPTH && n->kind != YN_SCALAR &&
		    i < n->count; i++)
		if ((l = last_line(n->items[i], depth + 1)) > last)
			last = l;
	return last;
}

void
pipeline_default_dedupe(struct pl_walk *w, const struct ynode *dflt,
			size_t from)
{
	struct pipeline_problems *pp = w->y.pp;
	int first = dflt->line, last = last_line(dflt, 0);
	size_t i, k, out = from;

	/* A bad default value is one mistake, however many jobs take it:
	 * said once, at its position, for the first job. */
	for (i = from; i < pp->count; i++) {
		struct pipeline_problem *p = &pp->items[i];
		bool dup = false;

		for (k = w->y.first; !dup && k < from && p->line >= first &&
			    p->line <= last; k++)
			dup = pp->items[k].line == p->line &&
			      pp->items[k].column == p->column;
		if (dup) {
			free(p->file);
			free(p->message);
			continue;
		}
		pp->items[out++] = *p;
	}
	pp->count = out;
}

void
pipeline_key_image(struct pl_walk *w, const struct pl_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	struct image_ref r;
	char *err = NULL;

	(void)key;
	if (s == NULL)
		return;
	if (image_ref_parse(s, &r, &err) < 0) {
		yamlnode_problem(&w->y, val->line, val->column, "%s%s", err,
				 w->y.where);
		free(err);
		return;
	}
	image_ref_free(&r);
	free(w->base->image);
	w->base->image = xstrdup(s);
}
