/*
 * The generic handlers named by the key tables: booleans, bounded
 * numbers, durations, sizes and paths, each written into the field the
 * row names (by offset into the walk's target: the config itself, or the
 * project being read).
 *
 * Sizes are a number of bytes with an optional binary suffix K, M or G
 * (64M is 64 MiB); durations are pw_duration_parse()'s (30s, 1h30m).
 * Relative paths are relative to the configuration file's directory, kept
 * as joined (not resolved: the directory may not exist yet).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"

#define FIELD(w, row, type) ((type *)((char *)(w)->target + (row)->off))

void
config_key_bool(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *key, const struct ynode *val)
{
	(void)key;
	if (yamlnode_bool(val, FIELD(w, row, bool)) < 0)
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
}

void
config_key_uint(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *key, const struct ynode *val)
{
	unsigned long v;

	(void)key;
	if (yamlnode_uint(val, (unsigned long)row->max, &v) < 0 ||
	    v < row->min) {
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
		return;
	}
	*FIELD(w, row, unsigned long) = v;
}

void
config_key_duration(struct cf_walk *w, const struct cf_key *row,
		    const struct ynode *key, const struct ynode *val)
{
	char lo[32], hi[32];
	const char *s;
	uint64_t ms;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (pw_duration_parse(s, &ms) < 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid duration '%s' for '%s'%s; expected"
				 " a number and a unit (h, m, s, ms) such as"
				 " 30s or 1h30m", CQ(w, s), row->k.name,
				 w->y.where);
		return;
	}
	if (ms < row->min || ms > row->max) {
		pw_duration_format(row->min, lo, sizeof(lo));
		pw_duration_format(row->max, hi, sizeof(hi));
		yamlnode_problem(&w->y, val->line, val->column,
				 "'%s'%s is %s; expected from %s to %s",
				 row->k.name, w->y.where, CQ(w, s), lo, hi);
		return;
	}
	*FIELD(w, row, uint64_t) = ms;
}

int
config_size_parse(const char *s, uint64_t *out)
{
	uint64_t v = 0, mult = 1;
	const char *p = s;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'K':
		mult = 1024;
		p++;
		break;
	case 'M':
		mult = 1024 * 1024;
		p++;
		break;
	case 'G':
		mult = 1024 * 1024 * 1024;
		p++;
		break;
	default:
		return -EINVAL;
	}
	if (*p != '\0')
		return -EINVAL;
	if (v > UINT64_MAX / mult)
		return -ERANGE;
	*out = v * mult;
	return 0;
}

/* Bytes as the file would write them: "64M", "1536K", "100". */
static void
size_format(uint64_t v, char *out, size_t len)
{
	static const char units[] = "GMK";
	uint64_t mult = 1024ULL * 1024 * 1024;
	size_t i;

	for (i = 0; i < 3; i++, mult /= 1024) {
		if (v >= mult && v % mult == 0) {
			snprintf(out, len, "%llu%c",
				 (unsigned long long)(v / mult), units[i]);
			return;
		}
	}
	snprintf(out, len, "%llu", (unsigned long long)v);
}

void
config_key_size(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *key, const struct ynode *val)
{
	char lo[32], hi[32];
	const char *s;
	uint64_t v;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (config_size_parse(s, &v) < 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid size '%s' for '%s'%s; expected a"
				 " number of bytes with an optional K, M or G"
				 " such as 64M", CQ(w, s), row->k.name,
				 w->y.where);
		return;
	}
	if (v < row->min || v > row->max) {
		size_format(row->min, lo, sizeof(lo));
		size_format(row->max, hi, sizeof(hi));
		yamlnode_problem(&w->y, val->line, val->column,
				 "'%s'%s is %s; expected from %s to %s",
				 row->k.name, w->y.where, CQ(w, s), lo, hi);
		return;
	}
	*FIELD(w, row, uint64_t) = v;
}

char *
config_path_join(const char *dir, const char *path)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (path[0] == '/')
		return xstrdup(path);
	if (strcmp(path, ".") == 0)
		return xstrdup(dir);
	return xasprintf("%s/%s", strcmp(dir, "/") == 0 ? "" : dir, path);
}

void
config_key_path(struct cf_walk *w, const struct cf_key *row,
		const struct ynode *key, const struct ynode *val)
{
	const char *s;
	char **field = FIELD(w, row, char *);

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	free(*field);
	*field = config_path_join(w->c->dir, s);
}
