/*
 * The generic webhook, for scripts and forges we do not know:
 *
 *   {"ref": "refs/heads/main" | "main" | "refs/tags/v1",
 *    "commit": "<40 or 64 hex digits>",
 *    "env": {"NAME": "value", ...}}          (env optional)
 *
 * A bare ref is a branch.  It is our own format, so it is held to it
 * strictly: a ref that is neither a branch nor a tag, an env name that is
 * not [A-Za-z_][A-Za-z0-9_]*, a value that is not a string are errors
 * (400), not ignored.  PIPEWRIGHT_* names are the daemon's to set.  There
 * is no repository name: the hook URL names the project (?project=).
 */
#include <stdlib.h>
#include <string.h>

#include "forge-int.h"

#define GENERIC_ENV_MAX 100

#define GENERIC_ENV_NAME_MAX 128

/* util's one rule for variable names, and a length a payload cannot blow up. */
static bool
env_name_valid(const char *s)
{
	size_t n = strnlen(s, GENERIC_ENV_NAME_MAX + 1);

	return n <= GENERIC_ENV_NAME_MAX && pw_env_name_valid(s, n);
}

static int
parse_env(struct fparse *p, const cJSON *env)
{
	struct forge_event *ev = p->ev;
	const cJSON *e;
	size_t n = 0;
	int rc;

	if (env == NULL || cJSON_IsNull(env))
		return 0;
	if (!cJSON_IsObject(env))
		return fp_fail(p, "'env' in %s is not an object", p->what);
	cJSON_ArrayForEach(e, env)
		n++;
	if (n > GENERIC_ENV_MAX)
		return fp_fail(p, "'env' in %s has %zu entries, at most %d",
			       p->what, n, GENERIC_ENV_MAX);
	ev->env = xcalloc(n + 1, sizeof(*ev->env));
	n = 0;
	cJSON_ArrayForEach(e, env) {
		if (e->string == NULL || !env_name_valid(e->string)) {
			char *q = fprintable(e->string != NULL ? e->string :
					     "", 64);

			rc = fp_fail(p, "'env' in %s: '%s' is not a variable "
				     "name", p->what, q);
			free(q);
			return rc;
		}
		if (pw_env_name_reserved(e->string, strlen(e->string)))
			return fp_fail(p, "'env.%s' in %s: PIPEWRIGHT and "
				       "PIPEWRIGHT_* names are reserved",
				       e->string, p->what);
		if (!cJSON_IsString(e) || e->valuestring == NULL)
			return fp_fail(p, "'env.%s' in %s is not a string",
				       e->string, p->what);
		ev->env[n++] = xasprintf("%s=%s", e->string, e->valuestring);
	}
	return 0;
}

int
fparse_generic(struct fparse *p, const cJSON *root)
{
	struct forge_event *ev = p->ev;
	const char *ref;
	char *full;
	int rc;

	p->what = "generic payload";
	ev->type = FORGE_EVENT_PUSH;
	if ((rc = fj_need_str(p, root, "ref", NULL)) < 0 ||
	    (rc = fj_need_str(p, root, "commit", NULL)) < 0 ||
	    (rc = fsha_take(p, "commit", fj_str(root, "commit"))) < 0)
		return rc;
	ref = fj_str(root, "ref");
	full = strncmp(ref, "refs/", 5) == 0 ? xstrdup(ref) :
	    xasprintf("refs/heads/%s", ref);
	rc = fref_push(p, "ref", full);
	free(full);
	if (rc > 0)
		return fp_fail(p, "'ref' in %s is neither a branch nor a tag",
			       p->what);
	if (rc < 0)
		return rc;
	return parse_env(p, fj_get(root, "env"));
}
