/*
 * yamlnode: YAML bytes → a read-only tree of positioned nodes, shared by
 * the parsers of pipewright's own files (pipeline files, the daemon's
 * configuration) so that each walks the same tree and reports problems at
 * the same FILE:LINE:COLUMN positions.
 *
 * The tree is a plain value, like struct pipeline_problem: its fields are
 * the interface, read-only for everyone but the loader.  Aliases are
 * shared nodes, never copies, so the tree is a DAG; a walker that cares
 * about hostile input counts its visits (the pipeline module does).
 * Besides the loader: what a plain scalar means (null, boolean, number),
 * how a value is quoted in a one-line message, and "did you mean".
 */
#ifndef PIPEWRIGHT_YAMLNODE_H
#define PIPEWRIGHT_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipewright/util.h"

#define YAMLNODE_MAX_DEPTH 64  /* nesting of collections; deeper is refused */
#define YAMLNODE_QUOTE_MAX 64  /* bytes of a value shown in a message */
/* Room for a quoted value: every byte escaped as \xNN, "..." and a NUL. */
#define YAMLNODE_QUOTE_SIZE (YAMLNODE_QUOTE_MAX * 4 + 4)

enum ynode_kind {
	YN_SCALAR = 1,
	YN_SEQ = 2,
	YN_MAP = 4,
};

struct ynode {
	enum ynode_kind kind;
	bool plain;           /* plain scalar, no tag: may mean null/bool/int */
	int line;             /* 1-based, of the node's first character */
	int column;
	char *str;            /* scalar: the value as written, NUL-terminated */
	size_t len;           /* scalar: bytes in str ("\0" escapes count) */
	struct ynode **items; /* seq: the items; map: key, value, key, ... */
	size_t count;         /* entries in items (2 per mapping pair) */
	size_t cap;
	struct ynode *all;    /* every node of a tree on one list, to free */
};

struct ytree {
	struct ynode *root;   /* NULL if the stream has no document */
	struct ynode *all;
};

/* Receives one problem of the input; message is valid during the call. */
typedef void (*yamlnode_problem_cb)(void *arg, int line, int column,
				    const char *message);

/*
 * Loads len bytes of YAML into *t (yamlnode_free() it).  Every mapping's
 * keys are scalars and unique: other pairs are reported and dropped.
 * `what` names the file in messages ("a pipeline file").  Problems go to
 * cb; on a syntax error, an alias to nothing, nesting deeper than
 * YAMLNODE_MAX_DEPTH or a second document returns -EINVAL and *t is
 * empty.  Reported duplicate keys alone do not fail the load.
 */
int yamlnode_load(const char *data, size_t len, const char *what,
		  yamlnode_problem_cb cb, void *arg, struct ytree *t) PW_WUR;
void yamlnode_free(struct ytree *t);

/* A plain null (``, ~, null): true. */
bool yamlnode_is_null(const struct ynode *n);
/* A plain YAML 1.1 boolean (true/yes/on, ...): 0, else -EINVAL. */
int yamlnode_bool(const struct ynode *n, bool *out) PW_WUR;
/* A plain decimal number: 0, -EINVAL if it is not one, -ERANGE above max. */
int yamlnode_uint(const struct ynode *n, unsigned long max,
		  unsigned long *out) PW_WUR;
/* True if the mapping has this key, whatever its value. */
bool yamlnode_map_has(const struct ynode *map, const char *name);

/*
 * s (len bytes, which may hold NULs) made safe for a one-line message:
 * cut at YAMLNODE_QUOTE_MAX bytes (not inside a UTF-8 sequence) with
 * "...", control characters escaped (C0 and DEL as \xNN, C1 as \uNNNN).
 * out holds YAMLNODE_QUOTE_SIZE bytes.
 */
void yamlnode_quote(const char *s, size_t len, char *out);

/*
 * "did you mean": the closest candidate by edit distance (optimal string
 * alignment), at most two edits away and fewer than either word is long.
 */
struct yamlnode_suggest {
	const char *word;
	size_t wlen;
	const char *best;     /* NULL: nothing close enough */
	unsigned dist;
};
void yamlnode_suggest_init(struct yamlnode_suggest *s, const char *word);
void yamlnode_suggest_add(struct yamlnode_suggest *s, const char *candidate);

#endif
