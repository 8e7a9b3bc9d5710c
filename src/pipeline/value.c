/*
 * The names a pipeline file may use: job and stage names, and the check
 * that no name carries a control character onto an operator's terminal.
 *
 * What a scalar means as a string (taken exactly as written, so `3.10`
 * stays "3.10"), how a node is named in a message and the walk's budget
 * are yamlnode's, shared with the configuration (yamlnode.h).
 */
#include <string.h>

#include "pipeline-int.h"

long
pipeline_control_at(const char *s, size_t len)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i;

	for (i = 0; i < len; i++) {
		if (u[i] < 0x20 || u[i] == 0x7f)
			return (long)i;
		/* U+0080..U+009F, C1: CSI is U+009B. */
		if (u[i] == 0xc2 && i + 1 < len && u[i + 1] >= 0x80 &&
		    u[i + 1] < 0xa0)
			return (long)i;
	}
	return -1;
}

bool
pipeline_name_ok(struct pl_walk *w, const struct ynode *n, const char *what)
{
	if (pipeline_control_at(n->str, n->len) < 0)
		return true;
	yamlnode_problem(&w->y, n->line, n->column,
			 "%s '%s'%s has a control character; names may not"
			 " contain any", what,
			 yamlnode_q(&w->y, n->str, n->len), w->y.where);
	return false;
}

/* Job and stage names: [A-Za-z0-9_.-]+. */
bool
pipeline_valid_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' ||
		      *s == '-'))
			return false;
	return true;
}

