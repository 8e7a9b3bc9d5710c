/*
 * Printing a load's problems, one FILE:LINE:COLUMN line each, for the
 * commands that load a configuration (serve --check, doctor, token, ...).
 *
 * Appending them is the shared walk's (yamlnode.h), as for pipeline
 * files.  Messages quote what the file wrote, cut and escaped by
 * yamlnode_quote, except under `secrets`, whose handlers never quote a
 * value they read: a secret's value never reaches a message.
 */
#include <stdio.h>

#include "config-int.h"

void
config_print_problems(FILE *f, const struct pipeline_problems *pp)
{
	size_t i;

	for (i = 0; i < pp->count; i++) {
		const struct pipeline_problem *p = &pp->items[i];

		if (p->line <= 0)
			fprintf(f, "%s: error: %s\n", p->file, p->message);
		else
			fprintf(f, "%s:%d:%d: error: %s\n", p->file, p->line,
				p->column, p->message);
	}
}
