/*
 * `limits` under `sandbox` (top level and per project): what a job gets
 * when its pipeline does not ask, and the most a pipeline may ask for.
 *
 * A limit a pipeline can ask for (memory, pids, cpu_seconds, timeout) is
 * either {default: X, max: Y} or one value X, which is both: every job
 * gets X and may ask for less.  `unlimited` is 0, no limit (not for
 * max_log: a log always has a cap).  max_log and
 * workspace are the server's alone (a pipeline has no key for them): one
 * value each.  A project's `limits` start as a copy of the top-level
 * ones and override them key by key; a `max` below the default it
 * inherits lowers that default too, while a mapping that writes both
 * with the default above the max is an error.
 *
 * The defaults out of the box bound every job (docs/operations.md): a
 * fork bomb meets 1024 pids, a memory hog the smaller of 4G and half the
 * machine's memory; the memory ceiling is the machine's memory.
 *
 * The walk's target while a `sandbox` mapping is read is the struct
 * config_limits being filled (the config's or the project's).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "config-int.h"

#define GiB (1024ULL * 1024 * 1024)
#define MiB (1024ULL * 1024)
#define L(f) offsetof(struct config_limits, f)
#define S_OR_M (YN_SCALAR | YN_MAP)

enum lim_kind { LIM_SIZE, LIM_LOG, LIM_COUNT, LIM_DURATION };

/* Each key: how it is written, where it goes, its bounds. */
static const struct lim_row {
	const char *name;
	enum lim_kind kind;
	bool pair;                /* {default, max}; else one value */
	size_t off;               /* struct config_limit or uint64_t */
	uint64_t min, max;        /* of a number; `unlimited` is 0 */
} lim_rows[] = {
	{"memory", LIM_SIZE, true, L(memory), 16 * MiB, 1024 * 1024 * GiB},
	{"pids", LIM_COUNT, true, L(pids), 8, 1000000},
	{"cpu_seconds", LIM_COUNT, true, L(cpu_seconds), 1, 366 * 86400ULL},
	{"timeout", LIM_DURATION, true, L(timeout_ms), 1000,
	 366 * 86400ULL * 1000},
	{"max_log", LIM_LOG, false, L(max_log), 4096, 1024 * 1024 * MiB},
	{"workspace", LIM_SIZE, false, L(workspace), 16 * MiB,
	 1024 * 1024 * GiB},
};

static const char *
expected(enum lim_kind k)
{
	switch (k) {
	case LIM_SIZE:
		return "a size such as 2G, or unlimited";
	case LIM_LOG:
		return "a size such as 64M";
	case LIM_COUNT:
		return "a number, or unlimited";
	default:
		return "a duration such as 1h, or unlimited";
	}
}

static void
limit_format(uint64_t v, bool duration, char *out, size_t len)
{
	if (v == 0)
		snprintf(out, len, "unlimited");
	else if (duration)
		pw_duration_format(v, out, len);
	else if (v % GiB == 0)
		snprintf(out, len, "%lluG", (unsigned long long)(v / GiB));
	else if (v % MiB == 0)
		snprintf(out, len, "%lluM", (unsigned long long)(v / MiB));
	else
		snprintf(out, len, "%llu", (unsigned long long)v);
}

/* One value of row r into *out; false (reported) if it is not one. */
static bool
lim_value(struct cf_walk *w, const struct lim_row *r, const char *key,
	  const struct ynode *val, uint64_t *out)
{
	char lo[32], hi[32];
	unsigned long n;
	uint64_t v;
	int rc;

	if (val->kind != YN_SCALAR || yamlnode_is_null(val)) {
		yamlnode_type_error(&w->y, val, expected(r->kind), key);
		return false;
	}
	/* A log always has a cap: exec reads 0 as its default. */
	if (strcmp(val->str, "unlimited") == 0 && r->kind != LIM_LOG) {
		*out = 0;
		return true;
	}
	if (r->kind == LIM_SIZE || r->kind == LIM_LOG)
		rc = config_size_parse(val->str, &v);
	else if (r->kind == LIM_DURATION)
		rc = pw_duration_parse(val->str, &v);
	else {
		rc = yamlnode_uint(val, (unsigned long)r->max, &n);
		v = rc == 0 ? n : r->max + 1;
		if (rc == -ERANGE)
			rc = 0;
	}
	if (rc < 0) {
		yamlnode_type_error(&w->y, val, expected(r->kind), key);
		return false;
	}
	if (v < r->min || v > r->max) {
		limit_format(r->min, r->kind == LIM_DURATION, lo,
				    sizeof(lo));
		limit_format(r->max, r->kind == LIM_DURATION, hi,
				    sizeof(hi));
		yamlnode_problem(&w->y, val->line, val->column,
				 "'%s'%s is %s; expected from %s to %s%s", key,
				 w->y.where,
				 yamlnode_q(&w->y, val->str, val->len), lo, hi,
				 r->kind == LIM_LOG ? "" : ", or unlimited");
		return false;
	}
	*out = v;
	return true;
}

/* {default: X, max: Y}: either may be left out. */
static void
lim_pair(struct cf_walk *w, const struct lim_row *r, const struct ynode *val,
	 struct config_limit *l)
{
	const struct ynode *dv = NULL, *mv = NULL;
	struct config_limit nl = *l;
	char a[32], b[32];
	size_t i;

	for (i = 0; i + 1 < val->count; i += 2) {
		const struct ynode *k = val->items[i], *v = val->items[i + 1];

		if (!yamlnode_visit(&w->y, k) || !yamlnode_visit(&w->y, v))
			return;
		if (k->len == 7 && memcmp(k->str, "default", 7) == 0)
			dv = v;
		else if (k->len == 3 && memcmp(k->str, "max", 3) == 0)
			mv = v;
		else {
			yamlnode_problem(&w->y, k->line, k->column,
					 "unknown key '%s' in '%s'%s; expected"
					 " default or max",
					 yamlnode_q(&w->y, k->str, k->len),
					 r->name, w->y.where);
			return;
		}
	}
	if (dv != NULL && !lim_value(w, r, "default", dv, &nl.dflt))
		return;
	if (mv != NULL && !lim_value(w, r, "max", mv, &nl.max))
		return;
	/* 0 is unlimited: above any number. */
	if (nl.max != 0 && (nl.dflt == 0 || nl.dflt > nl.max)) {
		if (dv != NULL) {
			limit_format(nl.dflt, r->kind == LIM_DURATION,
					    a, sizeof(a));
			limit_format(nl.max, r->kind == LIM_DURATION,
					    b, sizeof(b));
			yamlnode_problem(&w->y, dv->line, dv->column,
					 "'%s'%s: the default %s is above the"
					 " max %s", r->name, w->y.where, a, b);
			return;
		}
		nl.dflt = nl.max;       /* an inherited default, lowered */
	}
	*l = nl;
}

static void
lim_key(struct cf_walk *w, const struct cf_key *row, const struct ynode *key,
	const struct ynode *val)
{
	const struct lim_row *r = NULL;
	size_t i;
	uint64_t v;
	char *field;

	(void)key;
	for (i = 0; i < PW_ARRAY_LEN(lim_rows); i++)
		if (strcmp(lim_rows[i].name, row->k.name) == 0)
			r = &lim_rows[i];
	if (r == NULL)
		return;
	field = (char *)w->target + r->off;
	if (r->pair && val->kind == YN_MAP) {
		lim_pair(w, r, val, (struct config_limit *)field);
	} else if (val->kind == YN_MAP) {
		yamlnode_type_error(&w->y, val, expected(r->kind), r->name);
	} else if (lim_value(w, r, r->name, val, &v)) {
		if (r->pair)
			((struct config_limit *)field)->dflt =
			    ((struct config_limit *)field)->max = v;
		else
			*(uint64_t *)field = v;
	}
}

static const struct cf_key limit_rows[] = {
	{{"memory", S_OR_M, "a size such as 2G, or {default: 2G, max: 8G}"},
	 lim_key, 0, 0, 0},
	{{"pids", S_OR_M, "a number, or {default: 1024, max: 4096}"}, lim_key,
	 0, 0, 0},
	{{"cpu_seconds", S_OR_M, "a number, or {default: N, max: N}"}, lim_key,
	 0, 0, 0},
	{{"timeout", S_OR_M, "a duration such as 1h, or {default: 1h,"
	 " max: 24h}"}, lim_key, 0, 0, 0},
	{{"max_log", YN_SCALAR, "a size such as 64M"}, lim_key, 0, 0, 0},
	{{"workspace", YN_SCALAR, "a size such as 10G, or unlimited"}, lim_key,
	 0, 0, 0},
};
static const struct yamlnode_table limit_keys = CF_TABLE(limit_rows);

void
config_key_limits(struct cf_walk *w, const struct cf_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	const char *saved = w->y.where;
	char where[YAMLNODE_QUOTE_SIZE + 64];

	(void)row;
	(void)key;
	/* " in 'sandbox' in project 'x'" → " in 'sandbox.limits' in ..." */
	snprintf(where, sizeof(where), " in 'sandbox.limits'%s",
		 strncmp(saved, " in 'sandbox'", 13) == 0 ? saved + 13 : saved);
	w->y.where = where;
	config_walk_map(w, val, &limit_keys, w->target);
	w->y.where = saved;
}

void
config_limits_builtin(struct config_limits *l)
{
	long pages = sysconf(_SC_PHYS_PAGES), psize = sysconf(_SC_PAGESIZE);
	uint64_t ram = pages > 0 && psize > 0 ?
	    (uint64_t)pages * (uint64_t)psize : 8 * GiB;

	memset(l, 0, sizeof(*l));
	/* Whole mebibytes, so that messages print "7812M", not bytes. */
	l->memory.max = ram / MiB * MiB;
	l->memory.dflt = ram / 2 < 4 * GiB ? ram / 2 / MiB * MiB : 4 * GiB;
	l->pids.dflt = 1024;
	l->pids.max = 4096;
	l->timeout_ms.dflt = 3600 * 1000ULL;
	l->timeout_ms.max = 24 * 3600 * 1000ULL;
	l->max_log = 64 * MiB;
	l->workspace = 10 * GiB;
}
