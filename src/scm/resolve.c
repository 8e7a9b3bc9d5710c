/*
 * What a ref points at on the remote now (`git ls-remote`), for runs that
 * no push named a commit for (schedules).  The same environment as every
 * other git call of scm: no prompt, batch ssh, no user config, the token
 * only as a header in GIT_CONFIG_*.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "scm-int.h"

struct resolve {
	struct scm *s;
	char **env;
	char *header;
	scm_resolve_cb cb;
	void *arg;
};

static void
on_ls_remote(int status, const char *out, size_t len, void *arg)
{
	struct resolve *r = arg;
	char sha[65] = "";
	size_t n = strspn(out, "0123456789abcdef");

	(void)len;
	r->s->active--;
	if (status == 0 && (n == 40 || n == 64) && out[n] == '\t') {
		memcpy(sha, out, n);
		sha[n] = '\0';
		r->cb(0, sha, r->arg);
	} else {
		r->cb(status == -ETIMEDOUT ? -ETIMEDOUT :
		      status == 0 ? -ENOENT : -EIO, NULL, r->arg);
	}
	scm_env_free(r->env);
	free(r->header);
	free(r);
}

int
scm_resolve(struct scm *s, const char *repo, const char *ref,
	    const char *clone_token, uint64_t timeout_ms, scm_resolve_cb cb,
	    void *arg)
{
	struct resolve *r;
	const char *argv[] = {"git", "ls-remote", "--", repo, ref, NULL};
	struct exec_helper_spec spec = {
		.argv = argv,
		.max_output = 4096,
		.timeout_ms = timeout_ms != 0 ? timeout_ms : SCM_DEFAULT_TIMEOUT_MS,
	};
	int rc;

	if (repo == NULL || ref == NULL || strncmp(ref, "refs/", 5) != 0 ||
	    repo[0] == '-')
		return -EINVAL;
	r = xcalloc(1, sizeof(*r));
	r->s = s;
	r->cb = cb;
	r->arg = arg;
	r->header = clone_token != NULL ? scm_auth_header(clone_token) : NULL;
	r->env = scm_env_new(s->home, r->header);
	spec.env = (const char *const *)r->env;
	rc = exec_helper_spawn(s->exec, &spec, on_ls_remote, r);
	if (rc < 0) {
		scm_env_free(r->env);
		free(r->header);
		free(r);
		return rc;
	}
	s->active++;
	return 0;
}
