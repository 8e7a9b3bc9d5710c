/*
 * `matrix`: one job per combination of values.
 *
 * The keys vary like nested loops in the order they are written, the
 * first slowest: {CC: [gcc, clang], MODE: [debug, release]} gives
 * "compile (gcc, debug)", "compile (gcc, release)", "compile (clang,
 * debug)", "compile (clang, release)", numbered in place of the job.
 * Each expansion gets its values as environment variables (env.c merges
 * them over the job's env).
 *
 * A job has at most PIPELINE_MAX_COMBINATIONS combinations; the count is
 * kept saturating so that 64 keys of 2 values report a number, not an
 * overflow.  Names and matrix variables are charged to the walk's text
 * budget as they are made: values aliased from long scalars must not
 * multiply into gigabytes.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

/* The values of one matrix key: a list of scalars, or one scalar. */
static void
matrix_values(struct pl_walk *w, struct pl_base *b, const struct ynode *key,
	      const struct ynode *val)
{
	size_t k = b->nmkeys, n = val->kind == YN_SCALAR ? 1 : val->count, i;
	char **vals;

	if (val->kind == YN_MAP) {
		yamlnode_type_error(&w->y, val, "a list of values", key->str);
		return;
	}
	if (n == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty matrix: '%s' of job '%s' has no values",
				 PQ(w, key->str), PQ(w, b->name));
		return;
	}
	vals = xcalloc(n, sizeof(char *));
	for (i = 0; i < n; i++) {
		const struct ynode *it = val->kind == YN_SCALAR ? val :
		    val->items[i];

		if (it != val && !yamlnode_visit(&w->y, it))
			break;
		if (it->kind != YN_SCALAR) {
			yamlnode_type_error(&w->y, it, "a value", key->str);
			break;
		}
		if (strlen(it->str) != it->len) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "NUL character in a value of '%s'%s",
					 PQ(w, key->str), w->y.where);
			break;
		}
		/* The value becomes part of the job's name. */
		if (!pipeline_name_ok(w, it, "a matrix value"))
			break;
		vals[i] = xstrdup(it->str);
	}
	b->mkeys[k] = xstrdup(key->str);
	b->mvals[k] = vals;
	b->nmvals[k] = i;
	b->nmkeys++;
	if (i < n)
		b->combos = 0;  /* a value was wrong: no valid count */
	else if (b->combos != 0 && b->combos > UINT64_MAX / n)
		b->combos = UINT64_MAX;
	else
		b->combos *= n;
}

void
pipeline_key_matrix(struct pl_walk *w, const struct pl_key *row,
		    const struct ynode *key, const struct ynode *val)
{
	struct pl_base *b = w->base;
	size_t npairs = val->count / 2, i;
	const char *outer = w->y.where;
	char *where;

	(void)row;
	(void)key;
	b->has_matrix = true;
	b->mline = val->line;
	b->mcolumn = val->column;
	if (npairs == 0 || npairs > PL_MAX_VARS) {
		yamlnode_problem(&w->y, val->line, val->column, npairs == 0 ?
				 "empty matrix in job '%s'" :
				 "too many matrix keys in job '%s'",
				 PQ(w, b->name));
		b->combos = 0;
		return;
	}
	b->mkeys = xcalloc(npairs, sizeof(char *));
	b->mvals = xcalloc(npairs, sizeof(char **));
	b->nmvals = xcalloc(npairs, sizeof(size_t));
	where = xasprintf(" in the matrix of job '%s'", PQ(w, b->name));
	w->y.where = where;
	for (i = 0; i < npairs; i++) {
		const struct ynode *k = val->items[2 * i];
		const struct ynode *v = val->items[2 * i + 1];

		if (!yamlnode_visit(&w->y, k) || !yamlnode_visit(&w->y, v))
			break;
		if (!pipeline_env_name_ok(w, k, "matrix key"))
			b->combos = 0;
		else
			matrix_values(w, b, k, v);
	}
	w->y.where = outer;
	free(where);
	if (b->combos > PIPELINE_MAX_COMBINATIONS)
		yamlnode_problem(&w->y, val->line, val->column,
				 "matrix of job '%s' has %s%llu combinations;"
				 " at most %d", PQ(w, b->name),
				 b->combos == UINT64_MAX ? "more than " : "",
				 (unsigned long long)b->combos,
				 PIPELINE_MAX_COMBINATIONS);
}

/* Makes expansion c of base b: name and matrix env.  false: out of budget. */
static bool
expand_one(struct pl_walk *w, struct pl_base *b, uint64_t c, struct pl_job *j)
{
	struct buf name;
	size_t k;
	uint64_t rest = c, stride = b->combos;

	buf_init(&name, 0);
	j->menv = xcalloc(b->nmkeys, sizeof(char *));
	buf_addf(&name, "%s (", b->name);
	for (k = 0; k < b->nmkeys; k++) {
		const char *v;

		stride /= b->nmvals[k];
		v = b->mvals[k][rest / stride];
		rest %= stride;
		buf_addf(&name, "%s%s", k > 0 ? ", " : "", v);
		j->menv[k] = xasprintf("%s=%s", b->mkeys[k], v);
		if (!yamlnode_charge(&w->y, strlen(j->menv[k]), b->mline,
				     b->mcolumn))
			break;
	}
	buf_adds(&name, ")");
	j->name = buf_steal(&name);
	return yamlnode_charge(&w->y, strlen(j->name), b->mline, b->mcolumn);
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(**(char **const *)a, **(char **const *)b);
}

/* Values may hold ", ", so two combinations can print the same name. */
static void
check_names(struct pl_walk *w, struct pl_base *b)
{
	char ***names = xcalloc(b->count, sizeof(*names));
	size_t i;

	for (i = 0; i < b->count; i++)
		names[i] = &w->p->jobs[b->first + i].name;
	qsort(names, b->count, sizeof(*names), name_cmp);
	for (i = 1; i < b->count; i++) {
		if (strcmp(*names[i - 1], *names[i]) == 0) {
			yamlnode_problem(&w->y, b->mline, b->mcolumn,
					 "matrix of job '%s' makes two jobs"
					 " named '%s'", PQ(w, b->name),
					 PQ(w, *names[i]));
			break;
		}
	}
	free(names);
}

/* Numbers the jobs: each base in file order, expanded in place. */
void
pipeline_matrix_expand(struct pl_walk *w)
{
	struct pipeline *p = w->p;
	size_t bi, n = 0;
	uint64_t c;

	for (bi = 0; bi < p->nbases; bi++)
		n += (size_t)p->bases[bi].combos;
	p->jobs = xcalloc(n, sizeof(*p->jobs));
	p->njobs = n;
	n = 0;
	for (bi = 0; bi < p->nbases; bi++) {
		struct pl_base *b = &p->bases[bi];

		b->first = n;
		b->count = (size_t)b->combos;
		for (c = 0; c < b->combos; c++, n++) {
			p->jobs[n].base = bi;
			if (!b->has_matrix)
				p->jobs[n].name = xstrdup(b->name);
			else if (!expand_one(w, b, c, &p->jobs[n]))
				return;
		}
		if (b->has_matrix)
			check_names(w, b);
	}
}
