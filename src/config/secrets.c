/*
 * The `secrets` mapping: NAME → {file: PATH} or {env: NAME}, each read at
 * load so that a missing secret stops the configuration, not a job later.
 *
 * A file's bytes are the value, less one trailing newline ("\n" or
 * "\r\n", which editors and `echo` add); an environment variable's value
 * is taken as it is.  Values may not be empty or hold NUL bytes (jobs
 * get them as environment variables).  No message quotes a value: the
 * problems name the secret, the file or the variable, never the content.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"

const struct cf_secret *
config_secret_find(const struct config *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->nsecrets; i++)
		if (strcmp(c->secrets[i].name, name) == 0)
			return &c->secrets[i];
	return NULL;
}

/* Takes ownership of value; reports an unusable one. */
static void
secret_set(struct cf_walk *w, const struct ynode *at, char *value,
	   size_t len, const char *from)
{
	struct cf_secret *sec = w->target;

	if (len == 0 || strlen(value) != len) {
		yamlnode_problem(&w->y, at->line, at->column,
				 "%s: %s %s", w->slabel, from,
				 len == 0 ? "is empty" :
				 "holds a NUL byte");
		explicit_bzero(value, len);
		free(value);
		return;
	}
	sec->value = value;
	sec->len = len;
}

void
config_key_secret_file(struct cf_walk *w, const struct cf_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	const char *s;
	char *path, *data = NULL, *from;
	size_t len = 0;
	int rc;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	path = config_path_join(w->c->dir, s);
	rc = pw_read_file(path, CONFIG_MAX_SECRET, &data, &len);
	if (rc == -EFBIG) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "%s: file '%s' is larger than %d"
				 " bytes", w->slabel, CQ(w, path),
				 CONFIG_MAX_SECRET);
	} else if (rc < 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "cannot read %s from '%s': %s",
				 w->slabel, CQ(w, path), strerror(-rc));
	} else {
		if (len > 0 && data[len - 1] == '\n') {
			len--;
			if (len > 0 && data[len - 1] == '\r')
				len--;
			data[len] = '\0';
		}
		from = xasprintf("file '%s'", CQ(w, path));
		secret_set(w, val, data, len, from);
		free(from);
	}
	free(path);
}

void
config_key_secret_env(struct cf_walk *w, const struct cf_key *row,
		      const struct ynode *key, const struct ynode *val)
{
	const char *s, *v;
	char *from;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (!pw_env_name_valid(s, strlen(s))) {
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
		return;
	}
	v = getenv(s);
	if (v == NULL) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "%s: environment variable '%s' is"
				 " not set", w->slabel, s);
		return;
	}
	from = xasprintf("environment variable '%s'", s);
	secret_set(w, val, xstrdup(v), strlen(v), from);
	free(from);
}

/*
 * A {file: PATH} or {env: NAME} mapping into sec, its problems naming
 * w->slabel.  quote: whether a wrong value may be quoted; not where a
 * value that is not a mapping may be the secret itself, written inline.
 */
static void
secret_value(struct cf_walk *w, const struct ynode *val, struct cf_secret *sec,
	     bool quote)
{
	char where[YAMLNODE_QUOTE_SIZE + 64];
	const char *saved = w->y.where;
	bool file, env;

	if (val->kind != YN_MAP) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "expected {file: PATH} or {env: NAME} for %s,"
				 " got %s", w->slabel, quote ?
				 yamlnode_describe(&w->y, val) :
				 val->kind == YN_SEQ ? "a list" :
				 "a value written inline (secrets are read"
				 " from a file or the environment, never"
				 " written in the configuration)");
		return;
	}
	file = yamlnode_map_has(val, "file");
	env = yamlnode_map_has(val, "env");
	if (file == env) {
		yamlnode_problem(&w->y, val->line, val->column,
				 file ?
				 "%s sets both 'file' and 'env'; set one" :
				 "%s needs 'file' or 'env'", w->slabel);
		return;
	}
	snprintf(where, sizeof(where), " in %s", w->slabel);
	w->y.where = where;
	config_walk_map(w, val, &config_secret_keys, sec);
	w->y.where = saved;
}

void
config_secret_value(struct cf_walk *w, const struct ynode *val,
		    struct cf_secret *sec)
{
	secret_value(w, val, sec, false);
}

void
config_secret_free(struct cf_secret *sec)
{
	if (sec->value != NULL)
		explicit_bzero(sec->value, sec->len);
	free(sec->value);
	free(sec->name);
	sec->value = NULL;
	sec->name = NULL;
	sec->len = 0;
}

/* One NAME: {file|env} pair; the secret is registered even if it fails,
 * so that projects naming it get no second, misleading problem. */
static void
secret_read(struct cf_walk *w, const struct ynode *key,
	    const struct ynode *val)
{
	struct config *c = w->c;
	struct cf_secret *sec;
	char label[YAMLNODE_QUOTE_SIZE + 32];
	const char *saved = w->slabel;

	if (!pw_env_name_valid(key->str, key->len)) {
		yamlnode_problem(&w->y, key->line, key->column,
				 "invalid secret name '%s'; expected letters,"
				 " digits and '_', not starting with a digit",
				 yamlnode_q(&w->y, key->str, key->len));
		return;
	}
	sec = &c->secrets[c->nsecrets++];
	sec->name = xstrdup(key->str);
	snprintf(label, sizeof(label), "secret '%s'", sec->name);
	w->slabel = label;
	/* Top-level values may be quoted: a path written where the
	 * mapping belongs is the common mistake, and names no secret. */
	secret_value(w, val, sec, true);
	w->slabel = saved;
}

void
config_secrets_read(struct cf_walk *w, const struct ynode *map)
{
	size_t i;

	w->c->secrets = xcalloc(map->count / 2 + 1, sizeof(*w->c->secrets));
	for (i = 0; i + 1 < map->count; i += 2) {
		if (!yamlnode_visit(&w->y, map->items[i]) ||
		    !yamlnode_visit(&w->y, map->items[i + 1]))
			return;
		secret_read(w, map->items[i], map->items[i + 1]);
	}
}
