/*
 * The `sandbox` key, at the top level and in a project: how jobs are
 * confined and what the admin grants them.
 *
 * A scalar (`sandbox: strict`) is the mode alone, as it always was; a
 * mapping names each setting: `mode` (strict|none), `network` (allow|deny:
 * whether a job's `network: true` is granted; deny by default), and one
 * more key per setting added later, each a row of sandbox_keys[] and one
 * handler.  `mounts` (host paths every job sees read-only at the same
 * path: a toolchain) and `env` (defaults for every job's variables, below
 * the pipeline's `env`) are the admin's alone: a pushed commit never
 * chooses a host path.
 *
 * Every key records that it was set; a project's sandbox starts empty and
 * takes each key it did not set from the top level (config_sandbox_inherit
 * at the end of a load), so a project can grant network without restating
 * the mode; mounts and env add to the top level's instead.  A pipeline
 * never widens any of this: it may only ask.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config-int.h"

#define S YN_SCALAR
#define L YN_SEQ
#define M YN_MAP

static void
key_mode(struct cf_walk *w, const struct cf_key *row, const struct ynode *key,
	 const struct ynode *val)
{
	static const char *const words[] = {"strict", "none"};
	struct cf_sandbox *sb = w->target;
	int i;

	(void)key;
	i = config_pick(w, row, val, words, PW_ARRAY_LEN(words));
	if (i < 0)
		return;
	sb->mode = i == 0 ? CONFIG_SANDBOX_STRICT : CONFIG_SANDBOX_NONE;
	sb->mode_set = true;
}

static void
key_network(struct cf_walk *w, const struct cf_key *row,
	    const struct ynode *key, const struct ynode *val)
{
	static const char *const words[] = {"deny", "allow"};
	struct cf_sandbox *sb = w->target;
	int i;

	(void)key;
	i = config_pick(w, row, val, words, PW_ARRAY_LEN(words));
	if (i < 0)
		return;
	sb->network = i == 0 ? CONFIG_NETWORK_DENY : CONFIG_NETWORK_ALLOW;
	sb->network_set = true;
}

/* `limits` (limits.c) fills the sandbox's own config_limits. */
static void
key_limits(struct cf_walk *w, const struct cf_key *row,
	   const struct ynode *key, const struct ynode *val)
{
	struct cf_sandbox *sb = w->target;

	w->target = &sb->limits;
	config_key_limits(w, row, key, val);
	w->target = sb;
}

/* path is, or lies below, dir. */
static bool
below(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' ||
					       path[n] == '/');
}

/*
 * A host path for every job: absolute, of plain components, there now,
 * and clear of what the sandbox mounts itself (the supervisor checks the
 * same again, with HOME and the workspace's real path).
 */
static const char *
mount_problem(const char *s)
{
	static const char *const taken[] = {"/dev", "/proc", "/tmp", "/builds"};
	const char *p = s;
	struct stat st;
	size_t i, n;

	if (s[0] != '/' || s[1] == '\0')
		return "expected an absolute path other than /";
	while (*p == '/') {
		p++;
		n = strcspn(p, "/");
		if (n == 0 || (n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return "expected a path without empty, . or .. "
			       "components";
		p += n;
	}
	for (i = 0; i < PW_ARRAY_LEN(taken); i++)
		if (below(s, taken[i]) || below(taken[i], s))
			return "the sandbox mounts /dev, /proc, /tmp and the "
			       "workspace (/builds) itself; expected a path "
			       "clear of them";
	if (stat(s, &st) < 0)
		return strerror(errno);
	return NULL;
}

static void
key_mounts(struct cf_walk *w, const struct cf_key *row,
	   const struct ynode *key, const struct ynode *val)
{
	struct cf_sandbox *sb = w->target;
	const char *s, *why;
	size_t i;

	(void)key;
	if (val->count > CONFIG_MAX_MOUNTS) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "too many 'mounts'%s: %zu; at most %d",
				 w->y.where, val->count, CONFIG_MAX_MOUNTS);
		return;
	}
	sb->mounts = xcalloc(val->count + 1, sizeof(char *));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];

		if (!yamlnode_visit(&w->y, it))
			return;
		s = yamlnode_string(&w->y, it, row->k.expected, row->k.name);
		if (s == NULL ||
		    yamlnode_listed_twice(&w->y, it, "mount", s, sb->mounts,
					  sb->nmounts))
			continue;
		if ((why = mount_problem(s)) != NULL) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "mount '%s'%s: %s", CQ(w, s),
					 w->y.where, why);
			continue;
		}
		sb->mounts[sb->nmounts++] = xstrdup(s);
	}
}

static bool
env_name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || (!isalpha((unsigned char)s[0]) && s[0] != '_'))
		return false;
	for (i = 1; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

/* Defaults for every job's environment, below the pipeline's `env`. */
static void
key_env(struct cf_walk *w, const struct cf_key *row, const struct ynode *key,
	const struct ynode *map)
{
	struct cf_sandbox *sb = w->target;
	const char *v;
	size_t i;

	(void)row;
	(void)key;
	sb->env = xcalloc(map->count / 2 + 1, sizeof(char *));
	for (i = 0; i + 1 < map->count; i += 2) {
		const struct ynode *k = map->items[i], *val = map->items[i + 1];

		if (!yamlnode_visit(&w->y, k) || !yamlnode_visit(&w->y, val))
			return;
		if (!env_name_ok(k->str, k->len) ||
		    strlen(k->str) != k->len ||
		    strncmp(k->str, "PIPEWRIGHT", 10) == 0 ||
		    strcmp(k->str, "CI") == 0) {
			yamlnode_problem(&w->y, k->line, k->column,
					 "invalid variable name '%s' in 'env'%s;"
					 " expected letters, digits and _, not "
					 "starting with a digit, not CI or "
					 "PIPEWRIGHT* (set for every job)",
					 yamlnode_q(&w->y, k->str, k->len),
					 w->y.where);
			continue;
		}
		if (val->kind != YN_SCALAR) {
			yamlnode_type_error(&w->y, val, "a string", k->str);
			continue;
		}
		v = val->str != NULL ? val->str : "";
		if (strlen(v) != val->len) {
			yamlnode_problem(&w->y, val->line, val->column,
					 "value of '%s' in 'env'%s holds a NUL "
					 "byte", k->str, w->y.where);
			continue;
		}
		sb->env[sb->nenv++] = xasprintf("%s=%s", k->str, v);
	}
}

static const struct cf_key sandbox_rows[] = {
	{{"mode", S, "one of strict, none"}, key_mode, 0, 0, 0},
	{{"network", S, "one of allow, deny"}, key_network, 0, 0, 0},
	{{"limits", M, "a mapping of limits (docs/operations.md)"}, key_limits,
	 0, 0, 0},
	{{"mounts", L, "a list of absolute host paths"}, key_mounts, 0, 0, 0},
	{{"env", M, "a mapping of variable names to values"}, key_env, 0, 0,
	 0},
};
static const struct yamlnode_table sandbox_keys = CF_TABLE(sandbox_rows);

/* A scalar is the mode; a mapping is walked with sandbox_keys. */
static void
read_sandbox(struct cf_walk *w, const struct ynode *val,
	     struct cf_sandbox *sb)
{
	char where[YAMLNODE_QUOTE_SIZE + 64];
	const char *saved = w->y.where;

	if (val->kind == YN_SCALAR) {
		const struct cf_key row = {{"sandbox", S, "one of strict,"
					    " none or a mapping such as"
					    " {mode: strict, network: deny}"},
					   key_mode, 0, 0, 0};

		void *target = w->target;

		w->target = sb;
		key_mode(w, &row, val, val);
		w->target = target;
		return;
	}
	snprintf(where, sizeof(where), " in 'sandbox'%s", saved);
	w->y.where = where;
	config_walk_map(w, val, &sandbox_keys, sb);
	w->y.where = saved;
}

void
config_key_sandbox(struct cf_walk *w, const struct cf_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	read_sandbox(w, val, &w->c->sandbox);
}

void
config_key_project_sandbox(struct cf_walk *w, const struct cf_key *row,
			   const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;

	(void)row;
	(void)key;
	/* config_walk_map sets and restores w->target around the walk. */
	read_sandbox(w, val, &p->sandbox);
}

/* "K=V" of name K in v[0..n), or n. */
static size_t
env_find(char *const *v, size_t n, const char *kv)
{
	size_t k = strcspn(kv, "="), i;

	for (i = 0; i < n; i++)
		if (strncmp(v[i], kv, k) == 0 && v[i][k] == '=')
			return i;
	return n;
}

/*
 * mounts and env add up: a project's mounts join the top level's, and its
 * variables join them too, its own value winning for a name set in both.
 */
void
config_sandbox_inherit(const struct cf_sandbox *top, struct cf_sandbox *p)
{
	char **v;
	size_t n, i, k;

	if (!p->mode_set)
		p->mode = top->mode;
	if (!p->network_set)
		p->network = top->network;
	v = xcalloc(top->nmounts + p->nmounts + 1, sizeof(char *));
	for (n = 0; n < top->nmounts; n++)
		v[n] = xstrdup(top->mounts[n]);
	for (i = 0; i < p->nmounts; i++) {
		for (k = 0; k < top->nmounts; k++)
			if (strcmp(v[k], p->mounts[i]) == 0)
				break;
		if (k == top->nmounts)
			v[n++] = xstrdup(p->mounts[i]);
	}
	pw_strv_free(p->mounts);
	p->mounts = v;
	p->nmounts = n;
	v = xcalloc(top->nenv + p->nenv + 1, sizeof(char *));
	for (n = 0; n < top->nenv; n++)
		v[n] = xstrdup(top->env[n]);
	for (i = 0; i < p->nenv; i++) {
		k = env_find(v, n, p->env[i]);
		if (k < n)
			free(v[k]);
		v[k] = xstrdup(p->env[i]);
		if (k == n)
			n++;
	}
	pw_strv_free(p->env);
	p->env = v;
	p->nenv = n;
}

void
config_sandbox_free(struct cf_sandbox *sb)
{
	pw_strv_free(sb->mounts);
	pw_strv_free(sb->env);
	sb->mounts = sb->env = NULL;
	sb->nmounts = sb->nenv = 0;
}

static const char *const empty[] = {NULL};

const char *const *
config_project_mounts(const struct config_project *p)
{
	return p->sandbox.mounts != NULL ?
	       (const char *const *)p->sandbox.mounts : empty;
}

const char *const *
config_project_env(const struct config_project *p)
{
	return p->sandbox.env != NULL ?
	       (const char *const *)p->sandbox.env : empty;
}
