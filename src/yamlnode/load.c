/*
 * YAML bytes → a tree of ynodes, built from libyaml's event API.  Moved
 * here from the pipeline module so that the daemon's configuration is
 * read by the same code.
 *
 * Not libyaml's document loader, because the input is hostile: the loader
 * has no depth limit, registers an anchor before its node is complete (so
 * `&a [*a]` makes a cycle that a naive walk never leaves) and keeps
 * duplicate keys.  Here:
 *  - collections nest at most YAMLNODE_MAX_DEPTH deep; the parse stops there;
 *  - an anchor is registered when its node is complete, so an alias can
 *    only refer to a finished node and the tree is a DAG; an alias becomes
 *    a second pointer to the same node, never a copy (the walk pays for
 *    every visit instead, see value.c);
 *  - every mapping is checked when it closes: non-scalar keys and
 *    duplicate keys are reported and their pairs dropped, so the walk sees
 *    each key once;
 *  - one document at most.
 * libyaml's own syntax errors are reported at its problem mark with its
 * wording.  libyaml itself does not recurse on nesting (its parser keeps
 * an explicit state stack), so only the tree needs the cap.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "pipewright/yamlnode.h"

/* Anchor names → complete nodes: open addressing, later definitions win. */
struct anchors {
	char **names;
	struct ynode **nodes;
	size_t cap;           /* a power of two, or 0 */
	size_t count;
};

struct frame {
	struct ynode *node;
	char *anchor;         /* to register when the node closes, or NULL */
};

struct loader {
	yamlnode_problem_cb cb;
	void *arg;
	const char *what;     /* "a pipeline file", for messages */
	struct ytree *t;
	const char *data;
	size_t len;
	struct frame stack[YAMLNODE_MAX_DEPTH];
	size_t depth;
	struct anchors anchors;
	int docs;
};

static void report(struct loader *l, int line, int column, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));

static void
report(struct loader *l, int line, int column, const char *fmt, ...)
{
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	l->cb(l->arg, line, column, msg);
	free(msg);
}

static size_t
anchor_hash(const char *s)
{
	size_t h = 14695981039346656037ULL & SIZE_MAX;

	while (*s != '\0')
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static size_t
anchor_slot(const struct anchors *a, const char *name)
{
	size_t i = anchor_hash(name) & (a->cap - 1);

	while (a->names[i] != NULL && strcmp(a->names[i], name) != 0)
		i = (i + 1) & (a->cap - 1);
	return i;
}

static struct ynode *
anchor_find(const struct anchors *a, const char *name)
{
	size_t i;

	if (a->cap == 0)
		return NULL;
	i = anchor_slot(a, name);
	return a->names[i] != NULL ? a->nodes[i] : NULL;
}

static void
anchor_set(struct anchors *a, const char *name, struct ynode *n)
{
	size_t i, oldcap = a->cap;
	char **oldnames = a->names;
	struct ynode **oldnodes = a->nodes;

	if ((a->count + 1) * 2 > a->cap) {
		a->cap = oldcap == 0 ? 16 : oldcap * 2;
		a->names = xcalloc(a->cap, sizeof(*a->names));
		a->nodes = xcalloc(a->cap, sizeof(*a->nodes));
		for (i = 0; i < oldcap; i++) {
			size_t j;

			if (oldnames[i] == NULL)
				continue;
			j = anchor_slot(a, oldnames[i]);
			a->names[j] = oldnames[i];
			a->nodes[j] = oldnodes[i];
		}
		free(oldnames);
		free(oldnodes);
	}
	i = anchor_slot(a, name);
	if (a->names[i] == NULL) {
		a->names[i] = xstrdup(name);
		a->count++;
	}
	a->nodes[i] = n;
}

static void
anchors_free(struct anchors *a)
{
	size_t i;

	for (i = 0; i < a->cap; i++)
		free(a->names[i]);
	free(a->names);
	free(a->nodes);
}

static struct ynode *
node_new(struct loader *l, enum ynode_kind kind, yaml_mark_t mark)
{
	struct ynode *n = xcalloc(1, sizeof(*n));

	n->kind = kind;
	n->line = (int)mark.line + 1;
	n->column = (int)mark.column + 1;
	n->all = l->t->all;
	l->t->all = n;
	return n;
}

static void
node_add(struct loader *l, struct ynode *n)
{
	struct ynode *parent;

	if (l->depth == 0) {
		l->t->root = n;
		return;
	}
	parent = l->stack[l->depth - 1].node;
	parent->items = xgrow(parent->items, &parent->cap, parent->count + 1,
			      sizeof(*parent->items));
	parent->items[parent->count++] = n;
}

struct keyref {
	const struct ynode *key;
	size_t pair;
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->key->len < y->key->len ? x->key->len : y->key->len;
	int c = memcmp(x->key->str, y->key->str, n);

	if (c != 0)
		return c;
	if (x->key->len != y->key->len)
		return x->key->len < y->key->len ? -1 : 1;
	return x->pair < y->pair ? -1 : x->pair > y->pair;
}

/*
 * Reports and drops the pairs of a closed mapping that the walk must not
 * see: non-scalar keys and every repeat of a key.  Sorting keeps this
 * O(n log n) for the mapping of 100,000 keys a hostile file can hold.
 */
static void
map_check(struct loader *l, struct ynode *map)
{
	size_t npairs = map->count / 2, i, j, out = 0, nref = 0;
	struct keyref *refs = xcalloc(npairs, sizeof(*refs));
	bool *drop = xcalloc(npairs, sizeof(*drop));

	for (i = 0; i < npairs; i++) {
		const struct ynode *k = map->items[2 * i];

		if (k->kind != YN_SCALAR) {
			report(l, k->line, k->column,
			       "expected a string as a mapping key, got %s",
			       k->kind == YN_SEQ ? "a list" : "a mapping");
			drop[i] = true;
			continue;
		}
		refs[nref].key = k;
		refs[nref++].pair = i;
	}
	qsort(refs, nref, sizeof(*refs), keyref_cmp);
	for (i = 0; i < nref; i = j) {
		for (j = i + 1; j < nref && refs[j].key->len ==
			 refs[i].key->len && memcmp(refs[j].key->str,
			 refs[i].key->str, refs[i].key->len) == 0; j++) {
			const struct ynode *k = map->items[2 * refs[j].pair];
			char q[YAMLNODE_QUOTE_SIZE];

			yamlnode_quote(k->str, k->len, q);
			report(l, k->line, k->column,
			       "duplicate key '%s' (first at line %d)", q,
			       refs[i].key->line);
			drop[refs[j].pair] = true;
		}
	}
	for (i = 0; i < npairs; i++) {
		if (drop[i])
			continue;
		map->items[2 * out] = map->items[2 * i];
		map->items[2 * out + 1] = map->items[2 * i + 1];
		out++;
	}
	map->count = 2 * out;
	free(refs);
	free(drop);
}

/* Reader errors carry a byte offset, not a mark: count lines ourselves. */
static void
offset_position(const struct loader *l, size_t off, int *line, int *column)
{
	size_t i;

	*line = 1;
	*column = 1;
	for (i = 0; i < off && i < l->len; i++) {
		if (l->data[i] == '\n') {
			(*line)++;
			*column = 1;
		} else if (((unsigned char)l->data[i] & 0xc0) != 0x80) {
			(*column)++;
		}
	}
}

static void
syntax_problem(struct loader *l, const yaml_parser_t *ps)
{
	const char *problem = ps->problem != NULL ? ps->problem :
	    "invalid YAML";
	int line, column;

	if (ps->error == YAML_READER_ERROR) {
		offset_position(l, ps->problem_offset, &line, &column);
		if (ps->problem_value != -1)
			report(l, line, column, "%s: #x%X", problem,
			       (unsigned)ps->problem_value);
		else
			report(l, line, column, "%s", problem);
		return;
	}
	line = (int)ps->problem_mark.line + 1;
	column = (int)ps->problem_mark.column + 1;
	if (ps->context != NULL)
		report(l, line, column, "%s (%s at line %d, column %d)",
		       problem, ps->context, (int)ps->context_mark.line + 1,
		       (int)ps->context_mark.column + 1);
	else
		report(l, line, column, "%s", problem);
}

static int
on_alias(struct loader *l, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct ynode *n = anchor_find(&l->anchors, name);
	char q[YAMLNODE_QUOTE_SIZE];
	size_t i;

	if (n != NULL) {
		node_add(l, n);
		return 0;
	}
	for (i = 0; i < l->depth; i++)
		if (l->stack[i].anchor != NULL &&
		    strcmp(l->stack[i].anchor, name) == 0)
			break;
	yamlnode_quote(name, strlen(name), q);
	report(l, (int)ev->start_mark.line + 1, (int)ev->start_mark.column + 1,
	       i < l->depth ? "alias '*%s' refers to a node that contains it"
	       : "alias '*%s' refers to no anchor defined before it", q);
	return -EINVAL;
}

static void
on_scalar(struct loader *l, const yaml_event_t *ev)
{
	struct ynode *n = node_new(l, YN_SCALAR, ev->start_mark);

	n->len = ev->data.scalar.length;
	n->str = xmalloc(n->len + 1);
	memcpy(n->str, ev->data.scalar.value, n->len);
	n->str[n->len] = '\0';
	n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    ev->data.scalar.plain_implicit;
	node_add(l, n);
	if (ev->data.scalar.anchor != NULL)
		anchor_set(&l->anchors, (const char *)ev->data.scalar.anchor,
			   n);
}

static int
on_open(struct loader *l, const yaml_event_t *ev, enum ynode_kind kind)
{
	const yaml_char_t *anchor = kind == YN_SEQ ?
	    ev->data.sequence_start.anchor : ev->data.mapping_start.anchor;
	struct ynode *n;

	if (l->depth == YAMLNODE_MAX_DEPTH) {
		report(l, (int)ev->start_mark.line + 1,
		       (int)ev->start_mark.column + 1,
		       "nested more than %d levels deep", YAMLNODE_MAX_DEPTH);
		return -EINVAL;
	}
	n = node_new(l, kind, ev->start_mark);
	node_add(l, n);
	l->stack[l->depth].node = n;
	l->stack[l->depth].anchor = anchor != NULL ?
	    xstrdup((const char *)anchor) : NULL;
	l->depth++;
	return 0;
}

static void
on_close(struct loader *l)
{
	struct frame *f = &l->stack[--l->depth];

	if (f->node->kind == YN_MAP)
		map_check(l, f->node);
	if (f->anchor != NULL) {
		anchor_set(&l->anchors, f->anchor, f->node);
		free(f->anchor);
		f->anchor = NULL;
	}
}

/* Handles one event: 1 at the end of the stream, 0 to go on, or -EINVAL. */
static int
on_event(struct loader *l, const yaml_event_t *ev)
{
	switch (ev->type) {
	case YAML_STREAM_END_EVENT:
		return 1;
	case YAML_DOCUMENT_START_EVENT:
		if (++l->docs > 1) {
			report(l, (int)ev->start_mark.line + 1,
			       (int)ev->start_mark.column + 1,
			       "more than one YAML document; %s holds one",
			       l->what);
			return -EINVAL;
		}
		return 0;
	case YAML_ALIAS_EVENT:
		return on_alias(l, ev);
	case YAML_SCALAR_EVENT:
		on_scalar(l, ev);
		return 0;
	case YAML_SEQUENCE_START_EVENT:
		return on_open(l, ev, YN_SEQ);
	case YAML_MAPPING_START_EVENT:
		return on_open(l, ev, YN_MAP);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		on_close(l);
		return 0;
	default:
		return 0;
	}
}

int
yamlnode_load(const char *data, size_t len, const char *what,
	      yamlnode_problem_cb cb, void *arg, struct ytree *t)
{
	struct loader *l = xcalloc(1, sizeof(*l));
	yaml_parser_t ps;
	yaml_event_t ev;
	int rc = 0;

	t->root = NULL;
	t->all = NULL;
	l->cb = cb;
	l->arg = arg;
	l->what = what;
	l->t = t;
	l->data = data;
	l->len = len;
	if (!yaml_parser_initialize(&ps)) {
		cb(arg, 1, 1, "cannot initialise the YAML parser");
		free(l);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&ps, (const unsigned char *)data, len);
	while (rc == 0) {
		if (!yaml_parser_parse(&ps, &ev)) {
			syntax_problem(l, &ps);
			rc = -EINVAL;
			break;
		}
		rc = on_event(l, &ev);
		yaml_event_delete(&ev);
	}
	if (rc > 0)
		rc = 0;
	while (l->depth > 0)
		free(l->stack[--l->depth].anchor);
	anchors_free(&l->anchors);
	yaml_parser_delete(&ps);
	free(l);
	if (rc != 0)
		yamlnode_free(t);
	return rc;
}

void
yamlnode_free(struct ytree *t)
{
	struct ynode *n, *next;

	for (n = t->all; n != NULL; n = next) {
		next = n->all;
		free(n->str);
		free(n->items);
		free(n);
	}
	t->root = NULL;
	t->all = NULL;
}
