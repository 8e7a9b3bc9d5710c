/*
 * The walk both of pipewright's YAML parsers make over a tree: the
 * problems it may add, the budget it may spend, and the one place that
 * looks keys up in a table of allowed keys.
 *
 * Problems: at most max_problems, then one note saying the walk
 * stopped, so that an alias fanned out over a thousand jobs does not turn
 * into a million lines.
 *
 * The budget: the tree shares aliased nodes, so walking it can cost far
 * more than the file's size (a thousand jobs aliasing one env of a
 * thousand variables).  Every node visited, and for a parser that counts
 * text every byte read or made, is charged; past the limits the walk
 * stops with "<what> too complex".  A file without aliases stays far
 * below them, since the parsers cap the file's size.
 *
 * The key walk reports an unknown key with the closest allowed one and
 * refuses a value of the wrong kind before any handler sees it, so
 * handlers may assume the kind and check only the content.
 */
#include <stdarg.h>
#include <string.h>

#include "pipewright/yamlnode.h"

void
yamlnode_walk_init(struct yamlnode_walk *w, const char *file,
		   struct pipeline_problems *pp,
		   const struct yamlnode_rules *rules)
{
	memset(w, 0, sizeof(*w));
	w->file = file;
	w->pp = pp;
	w->first = pp->count;
	w->rules = rules;
	w->where = "";
}

void
yamlnode_problem(struct yamlnode_walk *w, int line, int column,
		 const char *fmt, ...)
{
	va_list ap;

	if (w->added >= w->rules->max_problems) {
		if (!w->too_many) {
			w->too_many = true;
			w->dropped_line = line;
			w->dropped_column = column;
		}
		return;
	}
	va_start(ap, fmt);
	pipeline_problems_addv(w->pp, w->file, line, column, fmt, ap);
	va_end(ap);
	w->added++;
}

/* The YAML layer's problems count against the walk's cap like the rest. */
void
yamlnode_walk_report(void *arg, int line, int column, const char *message)
{
	yamlnode_problem(arg, line, column, "%s", message);
}

void
yamlnode_walk_sort(struct yamlnode_walk *w)
{
	pipeline_problems_sort(w->pp, w->first);
	if (w->too_many)
		pipeline_problems_add(w->pp, w->file, w->dropped_line,
				      w->dropped_column,
				      "too many problems; stopped after %zu",
				      w->rules->max_problems);
}

static bool
over_budget(struct yamlnode_walk *w, int line, int column)
{
	const struct yamlnode_rules *rules = w->rules;

	if (w->visits <= rules->max_visits &&
	    (rules->max_text == 0 || w->text <= rules->max_text))
		return false;
	w->stop = true;
	if (rules->max_text == 0)
		yamlnode_problem(w, line, column, "%s too complex: walking"
				 " it would visit more than %zu nodes"
				 " (aliases count each time they are used)",
				 rules->what, rules->max_visits);
	else
		yamlnode_problem(w, line, column, "%s too complex: walking"
				 " it would visit more than %zu nodes or %zu"
				 " bytes (aliases count each time they are"
				 " used)", rules->what, rules->max_visits,
				 rules->max_text);
	return true;
}

bool
yamlnode_visit(struct yamlnode_walk *w, const struct ynode *n)
{
	if (w->stop)
		return false;
	w->visits++;
	if (n->kind == YN_SCALAR)
		w->text += n->len;
	return !over_budget(w, n->line, n->column);
}

bool
yamlnode_charge(struct yamlnode_walk *w, size_t text, int line, int column)
{
	if (w->stop)
		return false;
	w->text += text < w->rules->max_text ? text : w->rules->max_text + 1;
	return !over_budget(w, line, column);
}

const struct yamlnode_key *
yamlnode_table_row(const struct yamlnode_table *t, size_t i)
{
	return (const struct yamlnode_key *)((const char *)t->first +
					     i * t->size);
}

static const struct yamlnode_key *
find_row(const struct yamlnode_table *tab, const struct ynode *key)
{
	size_t i;

	for (i = 0; i < tab->n; i++) {
		const struct yamlnode_key *row = yamlnode_table_row(tab, i);

		if (strlen(row->name) == key->len &&
		    memcmp(row->name, key->str, key->len) == 0)
			return row;
	}
	return NULL;
}

static void
unknown_key(struct yamlnode_walk *w, const struct yamlnode_table *tab,
	    const struct ynode *key)
{
	struct yamlnode_suggest sg;
	size_t i;

	yamlnode_suggest_init(&sg, key->str);
	for (i = 0; i < tab->n; i++)
		yamlnode_suggest_add(&sg, yamlnode_table_row(tab, i)->name);
	yamlnode_problem(w, key->line, key->column, "unknown %skey '%s'%s%s",
			 *w->where == '\0' ? "top-level " : "",
			 yamlnode_q(w, key->str, key->len), w->where,
			 yamlnode_suggest_hint(w, &sg));
}

void
yamlnode_walk_map(struct yamlnode_walk *w, const struct ynode *map,
		  const struct yamlnode_table *tab)
{
	size_t i;

	for (i = 0; i + 1 < map->count; i += 2) {
		const struct ynode *key = map->items[i];
		const struct ynode *val = map->items[i + 1];
		const struct yamlnode_key *row;

		if (!yamlnode_visit(w, key) || !yamlnode_visit(w, val))
			return;
		row = find_row(tab, key);
		if (row == NULL)
			unknown_key(w, tab, key);
		else if ((val->kind & row->kinds) == 0)
			yamlnode_type_error(w, val, row->expected, row->name);
		else
			tab->call(w, row, key, val);
	}
}
