/*
 * The job key `user`: who the job's script runs as inside its sandbox,
 * instead of uid 0 (tools such as PostgreSQL's initdb refuse root).
 *
 * Written as a uid (`user: 1000`), a uid and gid (`user: "1000:1000"`), or
 * a name with an optional group (`user: builder`, `user: "builder:staff"`),
 * where each part is a number or a name.  Names are only checked for their
 * shape here: the supervisor resolves them in the /etc/passwd and
 * /etc/group of the root the job gets (an image's, or the host's), which
 * parsing cannot see.  Numbers must lie in 0..65535, the ids a job's user
 * namespace maps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline-int.h"

#define PL_USER_NAME_MAX 32
#define PL_USER_ID_MAX 65535

/* A uid or gid: digits within the mapped range; or a passwd name. */
static bool
part_ok(const char *s, size_t n, char *why, size_t whylen)
{
	size_t i;
	unsigned long v = 0;

	if (n == 0) {
		snprintf(why, whylen, "an empty name");
		return false;
	}
	if (s[0] >= '0' && s[0] <= '9') {
		for (i = 0; i < n; i++) {
			if (s[i] < '0' || s[i] > '9') {
				snprintf(why, whylen, "'%.*s' is neither a "
					 "number nor a name", (int)n, s);
				return false;
			}
			v = v * 10 + (unsigned long)(s[i] - '0');
			if (v > PL_USER_ID_MAX) {
				snprintf(why, whylen, "%.*s is above %d, the "
					 "highest id inside a job", (int)n, s,
					 PL_USER_ID_MAX);
				return false;
			}
		}
		return true;
	}
	if (n > PL_USER_NAME_MAX) {
		snprintf(why, whylen, "a name is at most %d characters",
			 PL_USER_NAME_MAX);
		return false;
	}
	for (i = 0; i < n; i++) {
		char c = s[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    c == '_' || (i > 0 && ((c >= '0' && c <= '9') ||
					   c == '-' || c == '.')))
			continue;
		snprintf(why, whylen, "'%.*s' is not a user or group name "
			 "(letters, digits, '_', '-', '.')", (int)n, s);
		return false;
	}
	return true;
}

void
pipeline_key_user(struct pl_walk *w, const struct pl_key *row,
		  const struct ynode *key, const struct ynode *val)
{
	const char *s = yamlnode_string(&w->y, val, row->k.expected,
					row->k.name);
	const char *colon;
	char why[128];

	(void)key;
	if (s == NULL)
		return;
	colon = strchr(s, ':');
	if (!part_ok(s, colon != NULL ? (size_t)(colon - s) : strlen(s), why,
		     sizeof(why)) ||
	    (colon != NULL && !part_ok(colon + 1, strlen(colon + 1), why,
				       sizeof(why)))) {
		yamlnode_problem(&w->y, val->line, val->column,
				 "user '%s' of job '%s': %s; expected %s",
				 PQ(w, s), PQ(w, w->base->name), why,
				 row->k.expected);
		return;
	}
	free(w->base->user);
	w->base->user = xstrdup(s);
}

const char *
pipeline_job_user(const struct pipeline *p, size_t job)
{
	return p->bases[p->jobs[job].base].user;
}
