/*
 * The `sandbox` key, at the top level and in a project: how jobs are
 * confined and what the admin grants them.
 *
 * A scalar (`sandbox: strict`) is the mode alone, as it always was; a
 * mapping names each setting: `mode` (strict|none), `network` (allow|deny:
 * whether a job's `network: true` is granted; deny by default), and one
 * more key per setting added later, each a row of sandbox_keys[] and one
 * handler.  `mounts` and `env` are reserved for images and refused today
 * with a message saying so.
 *
 * Every key records that it was set; a project's sandbox starts empty and
 * takes each key it did not set from the top level (config_sandbox_inherit
 * at the end of a load), so a project can grant network without restating
 * the mode.  A pipeline never widens any of this: it may only ask.
 */
#include <stdio.h>
#include <string.h>

#include "config-int.h"

#define S YN_SCALAR
#define L YN_SEQ
#define M YN_MAP

static void
key_mode(struct cf_walk *w, const struct cf_key *row, const struct ynode *key,
	 const struct ynode *val)
{
	static const char *const words[] = {"strict", "none"};
	struct cf_sandbox *sb = w->target;
	int i;

	(void)key;
	i = config_pick(w, row, val, words, PW_ARRAY_LEN(words));
	if (i < 0)
		return;
	sb->mode = i == 0 ? CONFIG_SANDBOX_STRICT : CONFIG_SANDBOX_NONE;
	sb->mode_set = true;
}

static void
key_network(struct cf_walk *w, const struct cf_key *row,
	    const struct ynode *key, const struct ynode *val)
{
	static const char *const words[] = {"deny", "allow"};
	struct cf_sandbox *sb = w->target;
	int i;

	(void)key;
	i = config_pick(w, row, val, words, PW_ARRAY_LEN(words));
	if (i < 0)
		return;
	sb->network = i == 0 ? CONFIG_NETWORK_DENY : CONFIG_NETWORK_ALLOW;
	sb->network_set = true;
}

/* `limits` (limits.c) fills the sandbox's own config_limits. */
static void
key_limits(struct cf_walk *w, const struct cf_key *row,
	   const struct ynode *key, const struct ynode *val)
{
	struct cf_sandbox *sb = w->target;

	w->target = &sb->limits;
	config_key_limits(w, row, key, val);
	w->target = sb;
}

/* Keys the images work will give a meaning; refused until then. */
static void
key_reserved(struct cf_walk *w, const struct cf_key *row,
	     const struct ynode *key, const struct ynode *val)
{
	(void)val;
	yamlnode_problem(&w->y, key->line, key->column,
			 "'%s'%s is not supported yet (it is reserved for job"
			 " images); remove it", row->k.name, w->y.where);
}

static const struct cf_key sandbox_rows[] = {
	{{"mode", S, "one of strict, none"}, key_mode, 0, 0, 0},
	{{"network", S, "one of allow, deny"}, key_network, 0, 0, 0},
	{{"limits", M, "a mapping of limits (docs/operations.md)"}, key_limits,
	 0, 0, 0},
	{{"mounts", S | L | M, ""}, key_reserved, 0, 0, 0},
	{{"env", S | L | M, ""}, key_reserved, 0, 0, 0},
};
static const struct yamlnode_table sandbox_keys = CF_TABLE(sandbox_rows);

/* A scalar is the mode; a mapping is walked with sandbox_keys. */
static void
read_sandbox(struct cf_walk *w, const struct ynode *val,
	     struct cf_sandbox *sb)
{
	char where[YAMLNODE_QUOTE_SIZE + 64];
	const char *saved = w->y.where;

	if (val->kind == YN_SCALAR) {
		const struct cf_key row = {{"sandbox", S, "one of strict,"
					    " none or a mapping such as"
					    " {mode: strict, network: deny}"},
					   key_mode, 0, 0, 0};

		void *target = w->target;

		w->target = sb;
		key_mode(w, &row, val, val);
		w->target = target;
		return;
	}
	snprintf(where, sizeof(where), " in 'sandbox'%s", saved);
	w->y.where = where;
	config_walk_map(w, val, &sandbox_keys, sb);
	w->y.where = saved;
}

void
config_key_sandbox(struct cf_walk *w, const struct cf_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	(void)row;
	(void)key;
	read_sandbox(w, val, &w->c->sandbox);
}

void
config_key_project_sandbox(struct cf_walk *w, const struct cf_key *row,
			   const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;

	(void)row;
	(void)key;
	/* config_walk_map sets and restores w->target around the walk. */
	read_sandbox(w, val, &p->sandbox);
}

void
config_sandbox_inherit(const struct cf_sandbox *top, struct cf_sandbox *p)
{
	if (!p->mode_set)
		p->mode = top->mode;
	if (!p->network_set)
		p->network = top->network;
}
