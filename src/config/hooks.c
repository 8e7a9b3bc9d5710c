/*
 * A project's keys for webhooks and triggers: the secret-valued ones
 * (status_token, webhook_secret, webhook_signing_secret, clone_token),
 * `branches`, `default_branch` and `schedules`.
 *
 * Secret-valued keys take {file: PATH} or {env: NAME} exactly like the
 * top-level `secrets` and are read at load; a value written inline is
 * refused without being quoted (it may be the token itself).  GitLab's
 * signing secret must be "whsec_" and base64, checked here so that a
 * pasted X-Gitlab-Token does not fail every delivery later.
 *
 * Branch patterns are read and checked as a pipeline job's are (glob.h);
 * schedules are checked with cron_parse, which also refuses a spec that
 * never fires.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config-int.h"
#include "pipewright/glob.h"

#define FIELD(w, row, type) ((type *)((char *)(w)->target + (row)->off))
#define WHSEC "whsec_"

/* Standard base64 with padding, decoding to at least one byte. */
static bool
valid_base64(const char *s, size_t len)
{
	size_t i, pad = 0;

	if (len == 0 || len % 4 != 0)
		return false;
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (ch == '=') {
			if (i < len - 2)
				return false;
			pad++;
		} else if (pad > 0 ||
			   !((ch >= 'A' && ch <= 'Z') ||
			     (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9') || ch == '+' ||
			     ch == '/')) {
			return false;
		}
	}
	return len / 4 * 3 - pad > 0;
}

void
config_key_project_secret(struct cf_walk *w, const struct cf_key *row,
			  const struct ynode *key, const struct ynode *val)
{
	struct cf_secret *sec = FIELD(w, row, struct cf_secret);
	char label[YAMLNODE_QUOTE_SIZE + 64];
	const char *saved = w->slabel;
	void *target = w->target;
	size_t n = strlen(WHSEC);

	(void)key;
	snprintf(label, sizeof(label), "'%s'%s", row->k.name, w->y.where);
	w->slabel = label;
	w->target = sec;
	config_secret_value(w, val, sec);
	w->target = target;
	w->slabel = saved;
	if (sec->value == NULL ||
	    strcmp(row->k.name, "webhook_signing_secret") != 0)
		return;
	if (sec->len <= n || memcmp(sec->value, WHSEC, n) != 0 ||
	    !valid_base64(sec->value + n, sec->len - n)) {
		/* Never quoted: it is a secret, even a malformed one. */
		yamlnode_problem(&w->y, val->line, val->column,
				 "'webhook_signing_secret'%s is not a GitLab"
				 " signing secret: expected 'whsec_' and"
				 " base64", w->y.where);
		config_secret_free(sec);
	}
}

void
config_key_project_branches(struct cf_walk *w, const struct cf_key *row,
			    const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;

	(void)key;
	glob_read_branches(&w->y, &row->k, val, &p->branches, &p->nbranches);
}

void
config_key_schedule_cron(struct cf_walk *w, const struct cf_key *row,
			 const struct ynode *key, const struct ynode *val)
{
	struct cf_schedule *sc = w->target;
	const char *s;
	char *err;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (cron_parse(s, &sc->cron, &err) < 0) {
		yamlnode_problem(&w->y, val->line, val->column, "%s%s", err,
				 w->y.where);
		free(err);
	}
}

/* A branch name as git allows it (check-ref-format, loosely). */
static bool
valid_ref(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || s[0] == '-' || s[0] == '/' || s[len - 1] == '/' ||
	    s[len - 1] == '.' || strstr(s, "..") != NULL ||
	    strstr(s, "//") != NULL || strstr(s, "@{") != NULL ||
	    (len >= 5 && strcmp(s + len - 5, ".lock") == 0))
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s <= ' ' || *s == 0x7f ||
		    strchr("~^:?*[\\", *s) != NULL)
			return false;
	return true;
}

void
config_key_schedule_ref(struct cf_walk *w, const struct cf_key *row,
			const struct ynode *key, const struct ynode *val)
{
	struct cf_schedule *sc = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (!valid_ref(s)) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid ref '%s'%s; expected a branch name"
				 " such as main", CQ(w, s), w->y.where);
		return;
	}
	sc->ref = xstrdup(s);
}

/*
 * `default_branch`: what a trigger without a ref builds and whose caches
 * other branches fall back to.  A branch name, not a ref: "refs/heads/x"
 * would be fetched as refs/heads/refs/heads/x.
 */
void
config_key_project_default_branch(struct cf_walk *w, const struct cf_key *row,
				  const struct ynode *key,
				  const struct ynode *val)
{
	struct config_project *p = w->target;
	const char *s;

	(void)key;
	s = yamlnode_string(&w->y, val, row->k.expected, row->k.name);
	if (s == NULL)
		return;
	if (!valid_ref(s) || strncmp(s, "refs/", 5) == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid default_branch '%s'%s; expected a"
				 " branch name such as main (without"
				 " refs/heads/)", CQ(w, s), w->y.where);
		return;
	}
	free(p->default_branch);
	p->default_branch = xstrdup(s);
}

void
config_key_project_schedules(struct cf_walk *w, const struct cf_key *row,
			     const struct ynode *key, const struct ynode *val)
{
	struct config_project *p = w->target;
	char where[YAMLNODE_QUOTE_SIZE + 64];
	const char *saved = w->y.where;
	size_t i;

	(void)row;
	(void)key;
	p->schedules = xcalloc(val->count + 1, sizeof(*p->schedules));
	for (i = 0; i < val->count; i++) {
		const struct ynode *it = val->items[i];
		struct cf_schedule *sc = &p->schedules[p->nschedules];

		if (!yamlnode_visit(&w->y, it))
			break;
		snprintf(where, sizeof(where), " in schedule #%zu%s", i + 1,
			 saved);
		if (it->kind != YN_MAP) {
			yamlnode_problem(&w->y, it->line, it->column,
					 "expected {cron: SPEC, ref: BRANCH}"
					 " for schedule #%zu%s, got %s", i + 1,
					 saved, yamlnode_describe(&w->y, it));
			continue;
		}
		w->y.where = where;
		config_walk_map(w, it, &config_schedule_keys, sc);
		w->y.where = saved;
		if (!yamlnode_map_has(it, "cron") ||
		    !yamlnode_map_has(it, "ref"))
			yamlnode_problem(&w->y, it->line, it->column,
					 "schedule #%zu%s needs %s", i + 1,
					 saved, yamlnode_map_has(it, "cron") ?
					 "'ref' (the branch to run, such as"
					 " main)" : "'cron' (when to run, such"
					 " as \"0 3 * * *\")");
		p->nschedules++;
	}
}

void
config_project_free(struct config_project *p)
{
	size_t j;

	free(p->name);
	free(p->pipeline);
	free(p->repo);
	for (j = 0; j < p->nsecrets; j++)
		free(p->secrets[j]);
	free(p->secrets);
	free(p->pipeline_path);
	for (j = 0; j < p->nbranches; j++)
		free(p->branches[j]);
	free(p->branches);
	free(p->default_branch);
	free(p->forge_repo);
	free(p->forge_api);
	config_sandbox_free(&p->sandbox);
	config_secret_free(&p->status_token);
	config_secret_free(&p->webhook_secret);
	config_secret_free(&p->webhook_signing_secret);
	config_secret_free(&p->clone_token);
	for (j = 0; j < p->nschedules; j++) {
		cron_destroy(p->schedules[j].cron);
		free(p->schedules[j].ref);
	}
	free(p->schedules);
	config_notify_free(p);
}
