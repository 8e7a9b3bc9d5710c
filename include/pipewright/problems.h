/*
 * problems: the list of things wrong with a file pipewright reads, each
 * one FILE:LINE:COLUMN and a message.
 *
 * Pipeline files were its first user, hence the name; the daemon's
 * configuration, the checks of a pushed pipeline against the server's
 * ceilings and a run's checkout append to the same list, so it sits below
 * all of them (yamlnode's walk, config, pipeline, the daemon) and depends
 * on util only.  The list is a plain value: its fields are the interface.
 */
#ifndef PIPEWRIGHT_PROBLEMS_H
#define PIPEWRIGHT_PROBLEMS_H

#include <stdarg.h>
#include <stddef.h>

#include "pipewright/util.h"

/* One thing wrong with a file.  Positions are 1-based; line 0: none. */
struct pipeline_problem {
	char *file;
	int line;
	int column;
	char *message;
};

/* A caller-allocated list of problems; parsers append to it. */
struct pipeline_problems {
	struct pipeline_problem *items;
	size_t count;
	size_t cap;
};

void pipeline_problems_init(struct pipeline_problems *pp);
void pipeline_problems_free(struct pipeline_problems *pp);
/*
 * Sorts the problems from index `first` on by line, then column; stable,
 * so problems at one position keep the order they were found in.
 */
void pipeline_problems_sort(struct pipeline_problems *pp, size_t first);
/* Appends a problem (copies file and the formatted message); a NULL file
 * is "<input>". */
void pipeline_problems_add(struct pipeline_problems *pp, const char *file,
			   int line, int column, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void pipeline_problems_addv(struct pipeline_problems *pp, const char *file,
			    int line, int column, const char *fmt,
			    va_list ap)
	__attribute__((format(printf, 5, 0)));

#endif
