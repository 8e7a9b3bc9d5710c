/*
 * glob: branch filters, for pipeline jobs' and configured projects'
 * `branches` alike: checking a pattern, matching a branch against it, and
 * reading a `branches` value (one pattern or a list of them) from a
 * file's YAML, with the same messages in both files.
 *
 * Below config and pipeline; above yamlnode, whose walk it reports into.
 */
#ifndef PIPEWRIGHT_GLOB_H
#define PIPEWRIGHT_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "pipewright/yamlnode.h"

/* fnmatch with `*` also matching `/`; false if either is NULL. */
bool glob_match(const char *pattern, const char *s);
/* NULL if fnmatch reads the pattern as written, else what is wrong
 * ("unclosed '['"). */
const char *glob_check(const char *pattern);

/*
 * A `branches` value, whose kind the key table has checked (a scalar or a
 * list): each pattern checked, the good ones copied into *out (caller
 * frees them and it; *n of them).  A null or an empty list is a problem
 * and leaves *out NULL.
 */
void glob_read_branches(struct yamlnode_walk *w,
			const struct yamlnode_key *row,
			const struct ynode *val, char ***out, size_t *n);

#endif
