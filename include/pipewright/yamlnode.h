/*
 * yamlnode: YAML bytes → a read-only tree of positioned nodes, shared by
 * the parsers of pipewright's own files (pipeline files, the daemon's
 * configuration) so that each walks the same tree and reports problems at
 * the same FILE:LINE:COLUMN positions.
 *
 * The tree is a plain value, like struct pipeline_problem: its fields are
 * the interface, read-only for everyone but the loader.  Aliases are
 * shared nodes, never copies, so the tree is a DAG; the walk below
 * counts its visits, so that a file cannot make it explode.
 * Besides the loader: what a plain scalar means (null, boolean, number),
 * how a value is quoted in a one-line message, "did you mean", and the
 * walk both parsers make over a tree: mappings checked against tables of
 * allowed keys, problems capped and sorted into a pipeline_problems list,
 * and a budget of nodes visited that aliases cannot blow up.
 */
#ifndef PIPEWRIGHT_YAMLNODE_H
#define PIPEWRIGHT_YAMLNODE_H

#include <stdbool.h>
#include <stddef.h>

#include "pipewright/problems.h"
#include "pipewright/util.h"

#define YAMLNODE_MAX_DEPTH 64  /* nesting of collections; deeper is refused */
#define YAMLNODE_QUOTE_MAX 64  /* bytes of a value shown in a message */
/* Room for a quoted value: every byte escaped as \xNN, "..." and a NUL. */
#define YAMLNODE_QUOTE_SIZE (YAMLNODE_QUOTE_MAX * 4 + 4)
#define YAMLNODE_QUOTE_SLOTS 8 /* quoted values one message may use */

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

/*
 * The walk (walk.c, message.c): the state of one parse of a file, which a
 * parser embeds in its own walk state and reaches back from with
 * container_of.  Limits and rules differ by file; the messages they make
 * do not.
 */
struct yamlnode_rules {
	const char *what;       /* "pipeline": "pipeline too complex: ..." */
	size_t max_problems;    /* then one "too many problems" note */
	size_t max_visits;      /* nodes walked, aliases counted each time */
	size_t max_text;        /* bytes of scalars walked or made; 0: none */
	bool nonempty;          /* yamlnode_string() refuses "" */
};

struct yamlnode_walk {
	const char *file;       /* names the file in problems */
	struct pipeline_problems *pp;
	size_t first;           /* pp->items[first..] were added by this walk */
	size_t added;
	const struct yamlnode_rules *rules;
	bool too_many;          /* max_problems reached: the rest dropped */
	int dropped_line;       /* of the first one dropped */
	int dropped_column;
	bool stop;              /* a budget ran out: walk no further */
	size_t visits;
	size_t text;
	const char *where;      /* " in job 'x'" etc. for messages; "" at top */
	char quote[YAMLNODE_QUOTE_SLOTS][YAMLNODE_QUOTE_SIZE + 32];
	unsigned qnext;
};

/* A walk appending to pp; rules must outlive it (a static table). */
void yamlnode_walk_init(struct yamlnode_walk *w, const char *file,
			struct pipeline_problems *pp,
			const struct yamlnode_rules *rules);
/* Appends a problem unless max_problems were added already. */
void yamlnode_problem(struct yamlnode_walk *w, int line, int column,
		      const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* A yamlnode_problem_cb for yamlnode_load(); arg is the walk. */
void yamlnode_walk_report(void *arg, int line, int column,
			  const char *message);
/*
 * Sorts this walk's problems by position, since a parser may read parts
 * of the file out of order; the "too many" note goes last.
 */
void yamlnode_walk_sort(struct yamlnode_walk *w);
/*
 * Counts n (and a scalar's bytes) against the budget: false, with one
 * problem the first time, once it is spent; false ever after.
 */
bool yamlnode_visit(struct yamlnode_walk *w, const struct ynode *n);
/* Counts text bytes the parser makes (matrix names, env values). */
bool yamlnode_charge(struct yamlnode_walk *w, size_t text, int line,
		     int column);

/*
 * Text for messages, each in the next of the walk's quote slots: valid
 * until YAMLNODE_QUOTE_SLOTS more are taken.
 */
/* s (len bytes) quoted by yamlnode_quote(). */
const char *yamlnode_q(struct yamlnode_walk *w, const char *s, size_t len);
/* A node as a message names it: "a list", "null", "'x'", "the string 'x'". */
const char *yamlnode_describe(struct yamlnode_walk *w, const struct ynode *n);
/* "; did you mean 'x'?", or "" when s found nothing close. */
const char *yamlnode_suggest_hint(struct yamlnode_walk *w,
				  const struct yamlnode_suggest *s);

/* "expected EXPECTED for 'KEY' WHERE, got ..." at n. */
void yamlnode_type_error(struct yamlnode_walk *w, const struct ynode *n,
			 const char *expected, const char *key);
/*
 * A scalar's value as a string: not null, not empty if the rules say
 * so, no NUL byte (which C strings would cut); else a problem at n and
 * NULL.
 */
const char *yamlnode_string(struct yamlnode_walk *w, const struct ynode *n,
			    const char *expected, const char *key);

/*
 * For lists of names (secrets, stages): true, with a problem at n
 * ("WHAT 'S' is listed twice" and w->where), if s is one of the count
 * names already taken.
 */
bool yamlnode_listed_twice(struct yamlnode_walk *w, const struct ynode *n,
			   const char *what, const char *s,
			   char *const *names, size_t count);

/*
 * A row of a table of allowed keys.  A parser's rows embed one and add
 * their handler (and whatever it needs); the walk finds rows by stride.
 */
struct yamlnode_key {
	const char *name;
	unsigned kinds;         /* YN_* bits the value may be */
	const char *expected;   /* "a boolean", for type errors */
};
/* Hands a pair to the handler of its row (YAMLNODE_CALL_ROW). */
typedef void yamlnode_key_fn(struct yamlnode_walk *w,
			     const struct yamlnode_key *row,
			     const struct ynode *key, const struct ynode *val);

/*
 * A table of a parser's rows, each embedding a yamlnode_key as `k`:
 * found by stride, and handed to their handlers by `call`, which knows
 * the parser's row and walk types (container_of).
 */
struct yamlnode_table {
	const struct yamlnode_key *first;  /* of the first row */
	size_t n;
	size_t size;            /* bytes from one row to the next */
	yamlnode_key_fn *call;
};
#define YAMLNODE_TABLE(rows, call) \
	{&(rows)[0].k, PW_ARRAY_LEN(rows), sizeof((rows)[0]), (call)}
/*
 * Defines `call` for a parser whose row type embeds its yamlnode_key as
 * `k` and its handler as `fn`, and whose walk type embeds the
 * yamlnode_walk as `y`: the one bridge from the shared walk back to the
 * parser's types, written once (as <sys/tree.h> writes its functions).
 */
#define YAMLNODE_CALL_ROW(call, row_type, walk_type)			\
void									\
call(struct yamlnode_walk *y, const struct yamlnode_key *k,		\
     const struct ynode *key, const struct ynode *val)			\
{									\
	const row_type *row = container_of(k, row_type, k);		\
									\
	row->fn(container_of(y, walk_type, y), row, key, val);		\
}

const struct yamlnode_key *yamlnode_table_row(const struct yamlnode_table *t,
					      size_t i);
/*
 * Walks a mapping's pairs in order: each key and value visited, an
 * unknown key reported with the closest allowed one, a value of a kind
 * the row does not allow reported as a type error, and every other pair
 * handed to tab->call.  Stops when the budget does.
 */
void yamlnode_walk_map(struct yamlnode_walk *w, const struct ynode *map,
		       const struct yamlnode_table *tab);

#endif
