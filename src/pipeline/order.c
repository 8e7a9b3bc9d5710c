/*
 * The order jobs run in: `needs` resolved to jobs, the cycle check, and
 * each job's predecessors.
 *
 * A job with `needs` waits for exactly the jobs it names (a name means
 * every matrix expansion of that job; `needs: []` waits for nothing).  A
 * job without `needs` waits for every job of every earlier stage.  Both
 * kinds of edge count for cycles: a lint job that needs a test job is a
 * cycle, since the test job, having no needs, waits for the lint job.
 *
 * Cycles are found on the jobs as written (bases), not on the expansions:
 * an expansion waits for all expansions of what its base waits for, so
 * the expanded graph has a cycle exactly when the base graph does.  Each
 * strongly connected component with a cycle is reported once, as its
 * shortest cycle through its first job in the file, at the first `needs`
 * item on that cycle.
 */
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

struct graph {
	const struct pipeline *p;
	size_t n;
	bool implied;         /* stages are valid: stage order makes edges */
	size_t **adj;         /* resolved needs, per base, sorted, unique */
	size_t *nadj;
};

static int
size_cmp(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

/* The next successor of v from *pos on, or -1. */
static long
next_succ(const struct graph *g, size_t v, size_t *pos)
{
	const struct pl_base *b = &g->p->bases[v];

	if (b->has_needs)
		return *pos < g->nadj[v] ? (long)g->adj[v][(*pos)++] : -1;
	/*
	 * A job whose stage is unknown (already reported) has no place in
	 * the stage order; guessing one would report cycles that are not.
	 */
	if (!g->implied || b->stage_bad)
		return -1;
	while (*pos < g->n) {
		size_t u = (*pos)++;

		if (!g->p->bases[u].stage_bad &&
		    g->p->bases[u].stage < b->stage)
			return (long)u;
	}
	return -1;
}

struct name_ref {
	const char *name;
	size_t base;
};

static int
name_ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct name_ref *)a)->name,
		      ((const struct name_ref *)b)->name);
}

static void
unknown_need(struct pl_walk *w, const struct pl_base *b,
	     const struct pl_need *nd)
{
	struct yamlnode_suggest sg;
	size_t i;

	yamlnode_suggest_init(&sg, nd->name);
	/* Past the cap the message is dropped: spare the comparisons. */
	for (i = 0; i < w->p->nbases && w->y.added < PL_MAX_PROBLEMS; i++)
		yamlnode_suggest_add(&sg, w->p->bases[i].name);
	yamlnode_problem(&w->y, nd->line, nd->column,
			 "job '%s' needs unknown job '%s'%s", PQ(w, b->name),
			 PQ(w, nd->name), yamlnode_suggest_hint(&w->y, &sg));
}

/* Resolves every `needs` item to a base, reporting unknown names. */
static void
resolve(struct pl_walk *w, struct graph *g)
{
	const struct pipeline *p = w->p;
	struct name_ref *refs = xcalloc(p->nbases, sizeof(*refs)), *hit;
	struct name_ref key;
	size_t i, k;

	for (i = 0; i < p->nbases; i++) {
		refs[i].name = p->bases[i].name;
		refs[i].base = i;
	}
	qsort(refs, p->nbases, sizeof(*refs), name_ref_cmp);
	for (i = 0; i < p->nbases; i++) {
		struct pl_base *b = &p->bases[i];
		size_t n = 0;

		g->adj[i] = xcalloc(b->nneeds, sizeof(size_t));
		for (k = 0; k < b->nneeds; k++) {
			key.name = b->needs[k].name;
			hit = bsearch(&key, refs, p->nbases, sizeof(*refs),
				      name_ref_cmp);
			if (hit == NULL) {
				unknown_need(w, b, &b->needs[k]);
				continue;
			}
			b->needs[k].base = (long)hit->base;
			g->adj[i][n++] = hit->base;
		}
		qsort(g->adj[i], n, sizeof(size_t), size_cmp);
		g->nadj[i] = 0;
		for (k = 0; k < n; k++)
			if (k == 0 || g->adj[i][k] != g->adj[i][k - 1])
				g->adj[i][g->nadj[i]++] = g->adj[i][k];
	}
	free(refs);
}

/* Tarjan's algorithm without recursion: comp[v] is v's component. */
static size_t
components(const struct graph *g, size_t *comp)
{
	size_t n = g->n, counter = 0, ncomp = 0, sp = 0, cp = 0, r;
	size_t *index = xcalloc(n, sizeof(size_t));
	size_t *low = xcalloc(n, sizeof(size_t));
	size_t *stack = xcalloc(n, sizeof(size_t));
	size_t *cv = xcalloc(n, sizeof(size_t));   /* call stack: node */
	size_t *cpos = xcalloc(n, sizeof(size_t)); /* and its next succ */
	bool *on = xcalloc(n, sizeof(bool));

	/* index[v] == 0: not visited yet; visited ones count from 1. */
	for (r = 0; r < n; r++) {
		if (index[r] != 0)
			continue;
		index[r] = low[r] = ++counter;
		stack[sp++] = r;
		on[r] = true;
		cv[cp] = r;
		cpos[cp++] = 0;
		while (cp > 0) {
			size_t v = cv[cp - 1];
			long u = next_succ(g, v, &cpos[cp - 1]);

			if (u >= 0 && index[u] == 0) {
				index[u] = low[u] = ++counter;
				stack[sp++] = (size_t)u;
				on[u] = true;
				cv[cp] = (size_t)u;
				cpos[cp++] = 0;
			} else if (u >= 0) {
				if (on[u] && index[u] < low[v])
					low[v] = index[u];
			} else {
				cp--;
				if (low[v] == index[v]) {
					size_t x;

					do {
						x = stack[--sp];
						on[x] = false;
						comp[x] = ncomp;
					} while (x != v);
					ncomp++;
				}
				if (cp > 0 && low[v] < low[cv[cp - 1]])
					low[cv[cp - 1]] = low[v];
			}
		}
	}
	free(index);
	free(low);
	free(stack);
	free(cv);
	free(cpos);
	free(on);
	return ncomp;
}

/* The position of a `needs` item of a naming b, if a has one. */
static bool
need_pos(const struct pipeline *p, size_t a, size_t b, int *line, int *col)
{
	const struct pl_base *x = &p->bases[a];
	size_t k;

	for (k = 0; k < x->nneeds; k++) {
		if (x->needs[k].base == (long)b) {
			*line = x->needs[k].line;
			*col = x->needs[k].column;
			return true;
		}
	}
	return false;
}

/*
 * Reports the shortest cycle from r back to r inside r's component, found
 * breadth first.  path[] holds it as base indexes, r first.
 */
static void
report_cycle(struct pl_walk *w, const struct graph *g, const size_t *comp,
	     size_t r)
{
	const struct pipeline *p = w->p;
	size_t *parent = xcalloc(g->n, sizeof(size_t));
	size_t *queue = xcalloc(g->n, sizeof(size_t));
	size_t *path = xcalloc(g->n + 1, sizeof(size_t));
	bool *seen = xcalloc(g->n, sizeof(bool));
	size_t head = 0, tail = 0, last = r, len = 0, i, pos;
	int line = p->bases[r].line, col = p->bases[r].column;
	const char *implied = NULL;
	bool found = false, placed = false;
	struct buf msg;
	long u;

	queue[tail++] = r;
	seen[r] = true;
	while (head < tail && !found) {
		size_t x = queue[head++];

		for (pos = 0; (u = next_succ(g, x, &pos)) >= 0;) {
			if ((size_t)u == r) {
				last = x;
				found = true;
				break;
			}
			if (comp[u] == comp[r] && !seen[u]) {
				seen[u] = true;
				parent[u] = x;
				queue[tail++] = (size_t)u;
			}
		}
	}
	for (i = last; i != r; i = parent[i])
		path[len++] = i;
	path[len++] = r;
	/* path is last..r backwards: turn it into r, ..., last. */
	for (i = 0; i < len / 2; i++) {
		size_t t = path[i];

		path[i] = path[len - 1 - i];
		path[len - 1 - i] = t;
	}
	path[len] = r;
	buf_init(&msg, 0);
	buf_adds(&msg, "cycle in needs: ");
	for (i = 0; i <= len; i++) {
		const struct pl_base *b = &p->bases[path[i]];

		buf_addf(&msg, "%s%s", i > 0 ? " -> " : "", PQ(w, b->name));
		if (i == len)
			break;
		if (!b->has_needs && implied == NULL)
			implied = b->name;
		if (!placed && b->has_needs)
			placed = need_pos(p, path[i], path[i + 1], &line, &col);
	}
	if (implied != NULL)
		buf_addf(&msg, " (%s has no needs, so it waits for every job"
			 " of earlier stages)", PQ(w, implied));
	yamlnode_problem(&w->y, line, col, "%s", msg.data);
	buf_free(&msg);
	free(parent);
	free(queue);
	free(path);
	free(seen);
}

void
pipeline_order_check(struct pl_walk *w)
{
	struct graph g;
	size_t *comp, *first, *size, ncomp, v;
	bool *self;

	g.p = w->p;
	g.n = w->p->nbases;
	g.implied = !w->stages_bad;
	g.adj = xcalloc(g.n, sizeof(*g.adj));
	g.nadj = xcalloc(g.n, sizeof(*g.nadj));
	resolve(w, &g);
	comp = xcalloc(g.n, sizeof(size_t));
	ncomp = components(&g, comp);
	first = xcalloc(ncomp, sizeof(size_t));
	size = xcalloc(ncomp, sizeof(size_t));
	self = xcalloc(ncomp, sizeof(bool));
	for (v = g.n; v-- > 0;) {
		size_t k;

		first[comp[v]] = v;
		size[comp[v]]++;
		for (k = 0; k < g.nadj[v]; k++)
			if (g.adj[v][k] == v)
				self[comp[v]] = true;
	}
	for (v = 0; v < g.n; v++)
		if (first[comp[v]] == v && (size[comp[v]] > 1 || self[comp[v]]))
			report_cycle(w, &g, comp, v);
	for (v = 0; v < g.n; v++)
		free(g.adj[v]);
	free(g.adj);
	free(g.nadj);
	free(comp);
	free(first);
	free(size);
	free(self);
}

/* Each base's predecessors as expanded job indexes, ascending. */
void
pipeline_order_preds(struct pipeline *p)
{
	size_t bi, j, k;

	for (bi = 0; bi < p->nbases; bi++) {
		struct pl_base *b = &p->bases[bi];
		size_t *nb = xcalloc(b->nneeds + 1, sizeof(size_t)), n = 0;

		if (!b->has_needs) {
			b->preds = xcalloc(p->njobs + 1, sizeof(size_t));
			for (j = 0; j < p->njobs; j++)
				if (p->bases[p->jobs[j].base].stage < b->stage)
					b->preds[b->npreds++] = j;
			free(nb);
			continue;
		}
		for (k = 0; k < b->nneeds; k++)
			nb[n++] = (size_t)b->needs[k].base;
		qsort(nb, n, sizeof(size_t), size_cmp);
		b->preds = xcalloc(p->njobs + 1, sizeof(size_t));
		for (k = 0; k < n; k++) {
			const struct pl_base *d;

			if (k > 0 && nb[k] == nb[k - 1])
				continue;
			d = &p->bases[nb[k]];
			for (j = d->first; j < d->first + d->count; j++)
				b->preds[b->npreds++] = j;
		}
		free(nb);
	}
}
