/*
 * glob: patterns with path semantics, one implementation for branch
 * filters (pipeline jobs' and configured projects' `branches`) and for
 * the paths of caches and artifacts: checking a pattern, matching a
 * branch or a path against it, and reading a `branches` value (one
 * pattern or a list of them) from a file's YAML, with the same messages
 * in both files.
 *
 * Below config and pipeline; above yamlnode, whose walk it reports into.
 */
#ifndef PIPEWRIGHT_GLOB_H
#define PIPEWRIGHT_GLOB_H

#include <stdbool.h>
#include <stddef.h>

#include "pipewright/yamlnode.h"

/*
 * True if s matches pattern; false if either is NULL.  `*` matches any
 * characters but `/`, `?` one character but `/`, `[...]` one ASCII
 * character as fnmatch(3) reads brackets, `\` escapes; `**` as a whole
 * segment matches any number of segments, none included (`**` + `/` +
 * `*.d` matches `a.d` and `x/y/a.d`), elsewhere it is one `*`; a pattern
 * ending in `/` matches that directory and everything beneath it.  A
 * pattern glob_check() refuses still matches safely (a stray `[` is
 * literal).
 */
bool glob_match(const char *pattern, const char *s);
/* NULL if the pattern reads as written, else what is wrong
 * ("unclosed '['"). */
const char *glob_check(const char *pattern);
/*
 * For a path pattern, which names something beneath a workspace: NULL
 * if it stays inside, else why not ("it is absolute", "it has a '..'
 * component", "it is empty").  Lexical only: whether a symlink leads out
 * is for whoever opens the files.
 */
const char *glob_path_check(const char *pattern);

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
