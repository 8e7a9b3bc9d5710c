/*
 * `cache`: one mapping or a list of them, each with a `key` (a string,
 * or {prefix, files}), `paths`, `restore_keys` and `policy`.  Here they
 * are only read and checked; restoring and saving are the server's and
 * `pipewright run`'s, when the job runs.
 *
 * What is checked is what a file can get wrong without running: every
 * path as written stays inside the workspace (no absolute path, no `..`
 * component) and is a valid glob, every `$NAME` reference is well
 * formed, a key has something in it, and two caches of a job do not
 * write the same key (keys are immutable: the second save would be
 * skipped and its paths silently never cached).  What the variables
 * expand to is known only when the job starts, so the paths are checked
 * again after expansion there.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

static const struct {
	const char *name;
	enum pipeline_cache_policy policy;
} policies[] = {
	{"pull-push", PIPELINE_CACHE_PULL_PUSH},
	{"pull", PIPELINE_CACHE_PULL},
	{"push", PIPELINE_CACHE_PUSH},
};

const char *
pipeline_cache_policy_name(enum pipeline_cache_policy policy)
{
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(policies); i++)
		if (policies[i].policy == policy)
			return policies[i].name;
	return "unknown";
}

void
pipeline_key_cache_prefix(struct pl_walk *w, const struct pl_key *row,
			  const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);

	(void)key;
	if (s != NULL && pipeline_key_text_ok(w, val, s, "key prefix",
					      row->k.name))
		w->cache->prefix = xstrdup(s);
}

void
pipeline_key_cache_files(struct pl_walk *w, const struct pl_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	(void)key;
	pipeline_read_items(w, row, val, PL_ITEM_PATH, "file path", true,
			    &w->cache->files, &w->cache->nfiles);
}

/* The value of a key of a mapping, or NULL. */
static const struct ynode *
map_val(const struct ynode *map, const char *name)
{
	size_t i, len = strlen(name);

	for (i = 0; i + 1 < map->count; i += 2)
		if (map->items[i]->len == len &&
		    memcmp(map->items[i]->str, name, len) == 0)
			return map->items[i + 1];
	return NULL;
}

void
pipeline_key_cache_key(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	struct pl_cache *c = w->cache;
	const char *outer = w->y.where, *s;
	const struct ynode *files;
	char *where;

	(void)key;
	c->has_key = true;
	if (val->kind == YN_SCALAR) {
		s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
		if (s != NULL && pipeline_key_text_ok(w, val, s, "cache key",
						      row->k.name))
			c->literal = xstrdup(s);
		return;
	}
	where = xasprintf(" in 'key'%s", outer);
	w->y.where = where;
	yamlnode_walk_map(&w->y, val, &pipeline_cache_key_keys);
	w->y.where = outer;
	free(where);
	files = map_val(val, "files");
	if (w->y.stop || yamlnode_map_has(val, "prefix"))
		return;
	if (files == NULL)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'key'%s has neither 'prefix' nor 'files';"
				 " expected e.g. {prefix: deps, files:"
				 " [Cargo.lock]}", outer);
	else if (files->kind == YN_SEQ && files->count == 0)
		yamlnode_problem(&w->y, files->line, files->column,
				 "empty 'files' in 'key'%s and no 'prefix';"
				 " the key would be empty", outer);
}

void
pipeline_key_cache_paths(struct pl_walk *w, const struct pl_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	(void)key;
	w->cache->has_paths = true;
	pipeline_read_items(w, row, val, PL_ITEM_PATH, "path", false,
			    &w->cache->paths, &w->cache->npaths);
}

void
pipeline_key_cache_restore_keys(struct pl_walk *w, const struct pl_key *row,
				const struct ynode *key,
				const struct ynode *val)
{
	(void)key;
	pipeline_read_items(w, row, val, PL_ITEM_KEY, "key prefix", true,
			    &w->cache->restore_keys, &w->cache->nrestore);
}

void
pipeline_key_cache_policy(struct pl_walk *w, const struct pl_key *row,
			  const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	struct yamlnode_suggest sg;
	size_t i;

	(void)key;
	if (s == NULL)
		return;
	yamlnode_suggest_init(&sg, s);
	for (i = 0; i < PW_ARRAY_LEN(policies); i++) {
		if (strcmp(policies[i].name, s) == 0) {
			w->cache->pub.policy = policies[i].policy;
			return;
		}
		yamlnode_suggest_add(&sg, policies[i].name);
	}
	yamlnode_problem(&w->y, val->line, val->column,
			 "invalid value '%s' for 'policy'%s; expected pull,"
			 " push or pull-push%s", PQ(w, s), w->y.where,
			 yamlnode_suggest_hint(&w->y, &sg));
}

static char **
empty_strv(char **v)
{
	return v != NULL ? v : xcalloc(1, sizeof(char *));
}

static bool
str_eq(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/* Whether two caches write the same key, as written. */
static bool
same_key(const struct pl_cache *a, const struct pl_cache *b)
{
	size_t i;

	if (!a->has_key || !b->has_key || !str_eq(a->literal, b->literal) ||
	    !str_eq(a->prefix, b->prefix) || a->nfiles != b->nfiles)
		return false;
	if (a->literal == NULL && a->prefix == NULL && a->nfiles == 0)
		return false;   /* a key with problems of its own */
	for (i = 0; i < a->nfiles; i++)
		if (strcmp(a->files[i], b->files[i]) != 0)
			return false;
	return true;
}

/* One cache mapping: walked, then whole (key and paths present). */
static void
cache_walk(struct pl_walk *w, struct pl_cache *c, const struct ynode *map,
	   const char *label)
{
	const char *outer = w->y.where;
	char *where = xasprintf(" in %s", label);

	c->pub.policy = PIPELINE_CACHE_PULL_PUSH;
	w->cache = c;
	w->y.where = where;
	yamlnode_walk_map(&w->y, map, &pipeline_cache_keys);
	w->y.where = outer;
	w->cache = NULL;
	free(where);
	if (w->y.stop)
		return;
	if (!yamlnode_map_has(map, "key"))
		yamlnode_problem(&w->y, map->line, map->column,
				 "%s has no 'key'; expected e.g. key: {prefix:"
				 " deps, files: [Cargo.lock]}", label);
	if (!yamlnode_map_has(map, "paths"))
		yamlnode_problem(&w->y, map->line, map->column,
				 "%s has no 'paths'; expected the paths to"
				 " cache, e.g. paths: [target/]", label);
	c->files = empty_strv(c->files);
	c->paths = empty_strv(c->paths);
	c->restore_keys = empty_strv(c->restore_keys);
	c->pub.prefix = c->prefix;
	c->pub.files = (const char *const *)c->files;
	c->pub.literal = c->literal;
	c->pub.paths = (const char *const *)c->paths;
	c->pub.restore_keys = (const char *const *)c->restore_keys;
}

void
pipeline_key_cache(struct pl_walk *w, const struct pl_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	size_t n = val->kind == YN_MAP ? 1 : val->count, i, k;
	char *label;

	(void)key;
	if (n == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty 'cache'%s; leave 'cache' out for none",
				 w->y.where);
		return;
	}
	if (n > PIPELINE_MAX_CACHES) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "'cache'%s lists %zu caches; at most %d",
				 w->y.where, n, PIPELINE_MAX_CACHES);
		return;
	}
	b->caches = xcalloc(n, sizeof(*b->caches));
	for (i = 0; i < n && !w->y.stop; i++) {
		const struct ynode *it = val->kind == YN_MAP ? val :
		    val->items[i];
		struct pl_cache *c = &b->caches[b->ncaches];

		if (it != val && !yamlnode_visit(&w->y, it))
			break;
		if (it->kind != YN_MAP) {
			yamlnode_type_error(&w->y, it, row->k.expected,
					    row->k.name);
			continue;
		}
		label = val->kind == YN_MAP ?
		    xasprintf("'cache' of job '%s'", PQ(w, b->name)) :
		    xasprintf("cache #%zu of job '%s'", i + 1, PQ(w, b->name));
		c->item = i + 1;
		cache_walk(w, c, it, label);
		for (k = 0; k < b->ncaches; k++) {
			if (same_key(&b->caches[k], c)) {
				yamlnode_problem(&w->y, it->line, it->column,
						 "%s has the same key as cache"
						 " #%zu; a key is saved once,"
						 " so give each cache its own",
						 label, b->caches[k].item);
				break;
			}
		}
		free(label);
		b->ncaches++;
	}
}

void
pipeline_cache_free(struct pl_cache *c)
{
	free(c->prefix);
	pw_strv_free(c->files);
	free(c->literal);
	pw_strv_free(c->paths);
	pw_strv_free(c->restore_keys);
}

size_t
pipeline_job_cache_count(const struct pipeline *p, size_t job)
{
	return p->bases[p->jobs[job].base].ncaches;
}

const struct pipeline_cache *
pipeline_job_cache(const struct pipeline *p, size_t job, size_t i)
{
	const struct pl_base *b = &p->bases[p->jobs[job].base];

	return i < b->ncaches ? &b->caches[i].pub : NULL;
}
