/*
 * What a ref points at on the remote now (`git ls-remote`), for runs that
 * no push named a commit for (schedules, API runs without a commit), and
 * which branch the remote's HEAD names (`ls-remote --symref`: its default
 * branch, for a run that names no ref).  The same environment as every
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
	char *ref;                /* "HEAD": the default branch is asked for */
	scm_resolve_cb cb;
	scm_resolve_head_cb head_cb;
	void *arg;
};

/* A ref git and scm_checkout() accept: refs/..., nothing an option or a
 * revision expression could hide in. */
static bool
ref_ok(const char *ref)
{
	return strncmp(ref, "refs/", 5) == 0 &&
	       strpbrk(ref, " \t\r\n:*?[\\~^") == NULL &&
	       strstr(ref, "..") == NULL;
}

/* The branch of the "ref: refs/heads/x<TAB>HEAD" line, into a fresh
 * string; NULL if there is none (a detached HEAD) or it is no branch. */
static char *
pick_symref(const char *out)
{
	const char *line, *tab;
	char *ref;

	for (line = out; line != NULL && *line != '\0';
	     line = strchr(line, '\n') != NULL ? strchr(line, '\n') + 1 : NULL) {
		if (strncmp(line, "ref: ", 5) != 0)
			continue;
		tab = strchr(line, '\t');
		if (tab == NULL || strncmp(tab + 1, "HEAD", 4) != 0 ||
		    (tab[5] != '\n' && tab[5] != '\0'))
			continue;
		ref = xstrndup(line + 5, (size_t)(tab - line - 5));
		if (strncmp(ref, "refs/heads/", 11) == 0 && ref_ok(ref))
			return ref;
		free(ref);
	}
	return NULL;
}

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

	char *branch = NULL;
	int rc;

	(void)len;
	r->s->active--;
	if (status == 0 && r->head_cb != NULL)
		branch = pick_symref(out);
	rc = status == -ETIMEDOUT ? -ETIMEDOUT : status != 0 ? -EIO :
	     !pick(out, r->ref, sha) ? -ENOENT :
	     r->head_cb != NULL && branch == NULL ? -ENOENT : 0;
	if (r->head_cb != NULL)
		r->head_cb(rc, rc == 0 ? branch : NULL, rc == 0 ? sha : NULL,
			   r->arg);
	else
		r->cb(rc, rc == 0 ? sha : NULL, r->arg);
	free(branch);
	scm_env_free(r->env);
	free(r->header);
	free(r->ref);
	free(r);
}

static int
resolve_start(struct scm *s, const char *repo, const char *ref,
	      const char *clone_token, uint64_t timeout_ms, struct resolve *r)
{
	char *peeled = xasprintf("%s^{}", ref);
	const char *argv[] = {"git", "ls-remote", "--", repo, ref, peeled, NULL};
	const char *head_argv[] = {"git", "ls-remote", "--symref", "--", repo,
				   "HEAD", NULL};
	struct exec_helper_spec spec = {
		.argv = r->head_cb != NULL ? head_argv : argv,
		.max_output = 4096,
		.timeout_ms = timeout_ms != 0 ? timeout_ms : SCM_DEFAULT_TIMEOUT_MS,
	};
	int rc;

	/* No option smuggled in, no second header through the token. */
	if (repo == NULL || repo[0] == '-' ||
	    (r->head_cb == NULL && (ref == NULL || !ref_ok(ref))) ||
	    (clone_token != NULL && strpbrk(clone_token, "\r\n") != NULL)) {
		free(peeled);
		free(r);
		return -EINVAL;
	}
	r->ref = xstrdup(ref);
	r->s = s;
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

int
scm_resolve(struct scm *s, const char *repo, const char *ref,
	    const char *clone_token, uint64_t timeout_ms, scm_resolve_cb cb,
	    void *arg)
{
	struct resolve *r;

	if (ref == NULL)
		return -EINVAL;
	r = xcalloc(1, sizeof(*r));
	r->cb = cb;
	r->arg = arg;
	return resolve_start(s, repo, ref, clone_token, timeout_ms, r);
}

int
scm_resolve_head(struct scm *s, const char *repo, const char *clone_token,
		 uint64_t timeout_ms, scm_resolve_head_cb cb, void *arg)
{
	struct resolve *r = xcalloc(1, sizeof(*r));

	r->head_cb = cb;
	r->arg = arg;
	return resolve_start(s, repo, "HEAD", clone_token, timeout_ms, r);
}
