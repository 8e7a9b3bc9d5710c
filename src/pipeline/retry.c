/*
 * How long a job may run and how often it is tried again: `timeout` and
 * `retry` (a number, or {max: N, when: [failed, timed_out]}).
 *
 * A retry count is capped at PL_MAX_RETRY: a pipeline that needs more
 * tries has a problem that trying again will not fix, and each attempt
 * holds a runner.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

static const struct {
	const char *name;
	unsigned bit;
} retry_whens[] = {
	{"failed", PIPELINE_RETRY_FAILED},
	{"timed_out", PIPELINE_RETRY_TIMED_OUT},
};

void
pipeline_key_timeout(struct pl_walk *w, const struct pl_key *row,
		     const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	uint64_t ms;

	(void)key;
	if (s == NULL)
		return;
	if (pw_duration_parse(s, &ms) < 0)
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid duration '%s' for 'timeout'%s;"
				 " expected e.g. 90s, 10m, 1h30m", PQ(w, s),
				 w->y.where);
	else if (ms == 0)
		yamlnode_problem(&w->y, val->line, val->column,
				 "invalid duration '%s' for 'timeout'%s;"
				 " a timeout must be more than 0", PQ(w, s),
				 w->y.where);
	else {
		w->base->timeout_ms = ms;
		w->base->has_timeout = true;
		w->base->timeout_at[0] = val->line;
		w->base->timeout_at[1] = val->column;
	}
}

/* A retry count, from `retry: N` or `max: N`. */
static void
retry_count(struct pl_walk *w, const struct pl_key *row, const char *key,
	    const struct ynode *val)
{
	unsigned long n;
	int rc = yamlnode_uint(val, PL_MAX_RETRY, &n);

	if (rc == -ERANGE)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'%s'%s is %s; at most %d", key, w->y.where,
				 yamlnode_q(&w->y, val->str, val->len),
				 PL_MAX_RETRY);
	else if (rc < 0)
		yamlnode_type_error(&w->y, val, row->k.expected, key);
	else
		w->base->retry_max = (int)n;
}

void
pipeline_key_retry(struct pl_walk *w, const struct pl_key *row,
		   const struct ynode *key, const struct ynode *val)
{
	const char *outer = w->y.where;
	char *where;

	(void)key;
	if (val->kind == YN_SCALAR) {
		retry_count(w, row, row->k.name, val);
		return;
	}
	where = xasprintf(" in 'retry' of job '%s'", PQ(w, w->base->name));
	w->y.where = where;
	yamlnode_walk_map(&w->y, val, &pipeline_retry_keys);
	w->y.where = outer;
	free(where);
	if (!w->base->has_retry_max && !w->y.stop)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'retry'%s has no 'max'", w->y.where);
}

void
pipeline_key_retry_max(struct pl_walk *w, const struct pl_key *row,
		       const struct ynode *key, const struct ynode *val)
{
	(void)key;
	w->base->has_retry_max = true;
	retry_count(w, row, row->k.name, val);
}

/*
 * `lost_retries: N`: new attempts for an attempt whose supervisor vanished
 * (the machine rebooted, it was killed).  Unlike `retry`, the job may have
 * done part of its work, so a job with an environment (a deploy) gets none
 * unless it says so.
 */
void
pipeline_key_lost_retries(struct pl_walk *w, const struct pl_key *row,
			  const struct ynode *key, const struct ynode *val)
{
	unsigned long n;
	int rc = yamlnode_uint(val, PL_MAX_RETRY, &n);

	(void)key;
	if (rc == -ERANGE)
		yamlnode_problem(&w->y, val->line, val->column,
				 "'lost_retries'%s is %s; at most %d",
				 w->y.where,
				 yamlnode_q(&w->y, val->str, val->len),
				 PL_MAX_RETRY);
	else if (rc < 0)
		yamlnode_type_error(&w->y, val, row->k.expected, row->k.name);
	else
		w->base->lost_retries = (int)n;
}

/* One item of `when`: its bit, or 0 after reporting it. */
static unsigned
retry_when_item(struct pl_walk *w, const struct ynode *it)
{
	const char *s = yamlnode_string(&w->y, it, "failed or timed_out",
					"when");
	struct yamlnode_suggest sg;
	size_t i;

	if (s == NULL)
		return 0;
	yamlnode_suggest_init(&sg, s);
	for (i = 0; i < PW_ARRAY_LEN(retry_whens); i++) {
		if (strcmp(s, retry_whens[i].name) == 0)
			return retry_whens[i].bit;
		yamlnode_suggest_add(&sg, retry_whens[i].name);
	}
	yamlnode_problem(&w->y, it->line, it->column,
			 "invalid value '%s' for 'when'%s; expected failed or"
			 " timed_out%s", PQ(w, s), w->y.where,
			 yamlnode_suggest_hint(&w->y, &sg));
	return 0;
}

void
pipeline_key_retry_when(struct pl_walk *w, const struct pl_key *row,
			const struct ynode *key, const struct ynode *val)
{
	unsigned bits = 0;
	size_t i;

	(void)key;
	(void)row;
	if (val->kind == YN_SCALAR) {
		bits = retry_when_item(w, val);
	} else if (val->count == 0) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "empty 'when'%s; expected failed and/or"
				 " timed_out", w->y.where);
	} else {
		for (i = 0; i < val->count; i++) {
			if (!yamlnode_visit(&w->y, val->items[i]))
				return;
			bits |= retry_when_item(w, val->items[i]);
		}
	}
	if (bits != 0)
		w->base->retry_when = bits;
}
