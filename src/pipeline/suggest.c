/*
 * "did you mean" in a pipeline message: the hint for the closest
 * candidate that yamlnode_suggest found, in one of the walk's quote slots.
 */
#include <stdio.h>
#include <string.h>

#include "pipeline-int.h"

const char *
pipeline_suggest_hint(struct pl_walk *w, const struct yamlnode_suggest *s)
{
	char *out;

	if (s->best == NULL)
		return "";
	out = w->quote[w->qnext++ % PL_QUOTE_SLOTS];
	snprintf(out, sizeof(w->quote[0]), "; did you mean '%s'?",
		 PQ(w, s->best));
	return out;
}
