/*
 * "did you mean": the closest candidate by edit distance.
 *
 * The distance is optimal string alignment (Levenshtein plus swapping two
 * neighbours), so `scirpt` is one edit from `script`, as a typist would
 * count it.  A candidate is offered only if it is at most two edits away
 * and fewer edits than either word is long, so that `x` does not suggest
 * `env`.  Words longer than SUGGEST_MAX are not compared: no key or name
 * worth suggesting is that long, and it bounds the work per word.
 */
#include <string.h>

#include "pipewright/yamlnode.h"

#define SUGGEST_MAX 64
#define SUGGEST_DIST 2

static unsigned
min3(unsigned a, unsigned b, unsigned c)
{
	unsigned m = a < b ? a : b;

	return m < c ? m : c;
}

/* Three rows of the dynamic programme are enough for the swap rule. */
static unsigned
distance(const char *a, size_t la, const char *b, size_t lb)
{
	unsigned rows[3][SUGGEST_MAX + 1];
	unsigned *pp, *prev, *cur;
	size_t i, j;

	for (j = 0; j <= lb; j++)
		rows[1][j] = (unsigned)j;
	pp = rows[0];
	prev = rows[1];
	cur = rows[2];
	for (i = 1; i <= la; i++) {
		unsigned *t;

		cur[0] = (unsigned)i;
		for (j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] != b[j - 1];

			cur[j] = min3(prev[j] + 1, cur[j - 1] + 1,
				      prev[j - 1] + cost);
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && pp[j - 2] + 1 < cur[j])
				cur[j] = pp[j - 2] + 1;
		}
		t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

void
yamlnode_suggest_init(struct yamlnode_suggest *s, const char *word)
{
	s->word = word;
	s->wlen = strlen(word);
	s->best = NULL;
	s->dist = SUGGEST_DIST + 1;
}

void
yamlnode_suggest_add(struct yamlnode_suggest *s, const char *candidate)
{
	size_t len = strlen(candidate);
	unsigned d;

	if (s->wlen > SUGGEST_MAX || len > SUGGEST_MAX)
		return;
	/* The lengths alone may already rule it out. */
	if ((len > s->wlen ? len - s->wlen : s->wlen - len) >= s->dist)
		return;
	d = distance(s->word, s->wlen, candidate, len);
	if (d == 0 || d >= s->dist || d >= s->wlen || d >= len)
		return;
	s->best = candidate;
	s->dist = d;
}
