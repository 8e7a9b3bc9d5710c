/*
 * Environment variables: the `env` mappings, and each job's merged env.
 *
 * Values are taken exactly as written (`3.10` stays "3.10", `true` stays
 * "true", `~` stays "~", an empty value is ""): a variable is a string to
 * the job, and YAML's typing would only lose what the user wrote.  Names
 * are [A-Za-z_][A-Za-z0-9_]* and may not start with PIPEWRIGHT_, which is
 * the daemon's to set: util's one rule (pw_env_name_valid,
 * pw_env_name_reserved), which the API and the CLI apply too.
 *
 * Merging, lowest first: the top-level env, the job's env, its matrix
 * values.  A variable keeps the place where it first appeared and takes the
 * last value.  The merged arrays only point at the "KEY=VALUE" strings,
 * which are made once (top level: per pipeline, job env: per base, matrix:
 * per expanded job), and the lookups use sorted indexes, so a pipeline of
 * 1024 jobs with 1000 variables each costs a few megabytes of pointers.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

/* Reports a bad variable name (`what`: "variable" or "matrix key"). */
bool
pipeline_env_name_ok(struct pl_walk *w, const struct ynode *key,
		     const char *what)
{
	if (!pw_env_name_valid(key->str, key->len)) {
		yamlnode_problem(&w->y, key->line, key->column,
				 "invalid %s name '%s'%s; a name is letters,"
				 " digits and '_', not starting with a digit",
				 what, yamlnode_q(&w->y, key->str, key->len),
				 w->y.where);
		return false;
	}
	if (pw_env_name_reserved(key->str, key->len)) {
		yamlnode_problem(&w->y, key->line, key->column,
				 "'%s' cannot be set%s; " PW_ENV_RESERVED_PREFIX
				 "* variables are set by pipewright",
				 PQ(w, key->str),
				 w->y.where);
		return false;
	}
	return true;
}

void
pipeline_env_parse(struct pl_walk *w, const struct ynode *map, char ***out,
		   size_t *n)
{
	size_t npairs = map->count / 2, i;

	if (npairs > PL_MAX_VARS) {
		yamlnode_problem(&w->y, map->line, map->column,
				 "too many variables%s (%zu); at most %d",
				 w->y.where, npairs, PL_MAX_VARS);
		return;
	}
	*out = xcalloc(npairs, sizeof(char *));
	for (i = 0; i < npairs; i++) {
		const struct ynode *key = map->items[2 * i];
		const struct ynode *val = map->items[2 * i + 1];
		bool ok;

		if (!yamlnode_visit(&w->y, key) || !yamlnode_visit(&w->y, val))
			return;
		ok = pipeline_env_name_ok(w, key, "variable");
		if (val->kind != YN_SCALAR) {
			yamlnode_type_error(&w->y, val, "a string", key->str);
			continue;
		}
		if (strlen(val->str) != val->len) {
			yamlnode_problem(&w->y, val->line, val->column,
					 "NUL character in the value of '%s'%s",
					 PQ(w, key->str), w->y.where);
			continue;
		}
		if (ok)
			(*out)[(*n)++] = xasprintf("%s=%s", key->str,
						   val->str);
	}
}

void
pipeline_key_env(struct pl_walk *w, const struct pl_key *row,
		 const struct ynode *key, const struct ynode *val)
{
	const char *outer = w->y.where;
	char *where = xasprintf(" in the env of job '%s'",
				PQ(w, w->base->name));

	(void)row;
	(void)key;
	w->y.where = where;
	pipeline_env_parse(w, val, &w->base->env, &w->base->nenv);
	w->y.where = outer;
	free(where);
}

/* Compares the name `name` (len bytes) with the name of "KEY=VALUE". */
static int
name_cmp(const char *name, size_t len, const char *kv)
{
	size_t klen = strcspn(kv, "=");
	int c = memcmp(name, kv, len < klen ? len : klen);

	if (c != 0)
		return c;
	return len < klen ? -1 : len > klen;
}

/*
 * Indexes are arrays of pointers to the slots of a vars array, sorted by
 * the name in the slot: qsort's comparator takes no context, and a slot
 * pointer gives both the name and (minus the array) the slot number.
 */
static int
slot_cmp(const void *a, const void *b)
{
	const char *x = **(const char **const *)a;
	const char *y = **(const char **const *)b;

	return name_cmp(x, strcspn(x, "="), y);
}

static const char ***
sorted_slots(const char **vars, size_t n)
{
	const char ***idx = xcalloc(n, sizeof(*idx));
	size_t i;

	for (i = 0; i < n; i++)
		idx[i] = &vars[i];
	qsort(idx, n, sizeof(*idx), slot_cmp);
	return idx;
}

/* The slot of `name` (len bytes) in vars, found through idx, or -1. */
static long
find_slot(const char **vars, const char ***idx, size_t n, const char *name,
	  size_t len)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = name_cmp(name, len, *idx[mid]);

		if (c == 0)
			return (long)(idx[mid] - vars);
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/*
 * The top-level env (`top`, indexed by top_idx) overridden by one base's
 * env, into merged (room for p->nenv + b->nenv).  merged starts as a copy
 * of top, so a slot of top is the same slot of merged.  Returns the number
 * of slots used.
 */
static size_t
merge_base(const struct pipeline *p, const char **top,
	   const char ***top_idx, const struct pl_base *b,
	   const char **merged)
{
	size_t n = p->nenv, i;

	memcpy(merged, top, p->nenv * sizeof(*merged));
	for (i = 0; i < b->nenv; i++) {
		const char *kv = b->env[i];
		long slot = find_slot(top, top_idx, p->nenv, kv,
				      strcspn(kv, "="));

		if (slot >= 0)
			merged[slot] = kv;
		else
			merged[n++] = kv;
	}
	return n;
}

void
pipeline_env_merge(struct pipeline *p)
{
	const char **top = xcalloc(p->nenv + 1, sizeof(*top));
	const char ***top_idx;
	size_t bi, i, k;

	if (p->nenv > 0)
		memcpy(top, p->env, p->nenv * sizeof(*top));
	top_idx = sorted_slots(top, p->nenv);
	for (bi = 0; bi < p->nbases; bi++) {
		const struct pl_base *b = &p->bases[bi];
		size_t room = p->nenv + b->nenv + b->nmkeys + 1, n, total;
		const char **merged = xcalloc(room, sizeof(*merged));
		size_t *mslot = xcalloc(b->nmkeys + 1, sizeof(*mslot));
		const char ***idx;

		n = merge_base(p, top, top_idx, b, merged);
		/* Each matrix variable goes over its name or at the end. */
		idx = sorted_slots(merged, n);
		total = n;
		for (k = 0; k < b->nmkeys; k++) {
			long slot = find_slot(merged, idx, n, b->mkeys[k],
					      strlen(b->mkeys[k]));

			mslot[k] = slot >= 0 ? (size_t)slot : total++;
		}
		for (i = b->first; i < b->first + b->count; i++) {
			struct pl_job *j = &p->jobs[i];

			j->env = xcalloc(total + 1, sizeof(*j->env));
			memcpy(j->env, merged, n * sizeof(*merged));
			for (k = 0; k < b->nmkeys; k++)
				j->env[mslot[k]] = j->menv[k];
		}
		free(idx);
		free(mslot);
		free(merged);
	}
	free(top_idx);
	free(top);
}
