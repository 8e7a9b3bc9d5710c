/*
 * What a ref points at on the remote now (`git ls-remote`), for runs that
 * no push named a commit for (schedules).  The same environment as every
 * other git call of scm: no prompt, batch ssh, no user config, the token
 * only as a header in GIT_CONFIG_*.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "scm-int.h"

struct resolve {
	struct scm *s;
	char **env;
	char *header;
	char *ref;
	scm_resolve_cb cb;
	void *arg;
};

/*
 * The sha of the line for `ref`, or for `ref^{}` if the remote lists it:
 * an annotated tag names a tag object, whose commit is the peeled line.
 */
static bool
pick(const char *out, const char *ref, char sha[65])
{
	size_t rlen = strlen(ref);
	const char *line;
	bool found = false;

	for (line = out; *line != '\0'; line = strchr(line, '\n') + 1) {
		size_t n = strspn(line, "0123456789abcdef");
		const char *name = line + n + 1;

		if ((n == 40 || n == 64) && line[n] == '\t' &&
		    strncmp(name, ref, rlen) == 0 &&
		    (name[rlen] == '\n' || name[rlen] == '\0' ||
		     strncmp(name + rlen, "^{}", 3) == 0)) {
			memcpy(sha, line, n);
			sha[n] = '\0';
			found = true;
		}
		if (strchr(line, '\n') == NULL)
			break;
	}
	return found;
}

static void
on_ls_remote(int status, const char *out, size_t len, void *arg)
{
	struct resolve *r = arg;
	char sha[65] = "";

	(void)len;
	r->s->active--;
	if (status == 0 && pick(out, r->ref, sha)) {
		r->cb(0, sha, r->arg);
	} else {
		r->cb(status == -ETIMEDOUT ? -ETIMEDOUT :
		      status == 0 ? -ENOENT : -EIO, NULL, r->arg);
	}
	scm_env_free(r->env);
	free(r->header);
	free(r->ref);
	free(r);
}

int
scm_resolve(struct scm *s, const char *repo, const char *ref,
	    const char *clone_token, uint64_t timeout_ms, scm_resolve_cb cb,
	    void *arg)
{
	struct resolve *r;
	char *peeled = xasprintf("%s^{}", ref);
	const char *argv[] = {"git", "ls-remote", "--", repo, ref, peeled, NULL};
	struct exec_helper_spec spec = {
		.argv = argv,
		.max_output = 4096,
		.timeout_ms = timeout_ms != 0 ? timeout_ms : SCM_DEFAULT_TIMEOUT_MS,
	};
	int rc;

	/* No option smuggled in, no second header through the token. */
	if (repo == NULL || ref == NULL || strncmp(ref, "refs/", 5) != 0 ||
	    repo[0] == '-' || strpbrk(ref, " \t\r\n:*?[\\~^") != NULL ||
	    strstr(ref, "..") != NULL ||
	    (clone_token != NULL && strpbrk(clone_token, "\r\n") != NULL)) {
		free(peeled);
		return -EINVAL;
	}
	r = xcalloc(1, sizeof(*r));
	r->ref = xstrdup(ref);
	r->s = s;
	r->cb = cb;
	r->arg = arg;
	r->header = clone_token != NULL ? scm_auth_header(clone_token) : NULL;
	r->env = scm_env_new(s->home, r->header);
	spec.env = (const char *const *)r->env;
	rc = exec_helper_spawn(s->exec, &spec, on_ls_remote, r);
	free(peeled);
	if (rc < 0) {
		scm_env_free(r->env);
		free(r->header);
		free(r->ref);
		free(r);
		return rc;
	}
	s->active++;
	return 0;
}
