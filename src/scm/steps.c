/*
 * A checkout's git calls, one after the other.
 *
 *   workspace:  git init -q
 *   mirror:     [git init --bare <mirror>.new; git config
 *               uploadpack.allowAnySHA1InWant true; rename to <mirror>]
 *               git fetch --no-tags <repo> +<fetch_ref>:refs/pipewright/...
 *               [git rev-parse --verify refs/pipewright/...^{commit}]
 *               git merge-base --is-ancestor <sha> refs/pipewright/...
 *                                       (not when the ref's head is sha)
 *   workspace:  git fetch --depth=50 file://<mirror> <sha>  (mirror let go)
 *               git checkout -q --detach <sha>
 *               git rev-parse HEAD                          (== sha)
 *
 * A new mirror is made under another name and renamed into place once it
 * is configured, so a mirror that exists is a whole one even after a
 * crash.  allowAnySHA1InWant lets the workspace ask the mirror for a bare
 * sha over file:// whatever the protocol version (v2 allows it anyway, v0
 * does not); it must be in the mirror's own config because git drops
 * GIT_CONFIG_* for the local upload-pack it runs.  The sha must
 * be on the fetched ref, not merely somewhere in the mirror: a sha from a
 * payload runs with that ref's name and secrets.  Every call has the
 * request's timeout; the first failure ends the checkout with git's words
 * and a last line that says which call failed.
 *
 * A request that asks for the ref's head (a webhook push, which the
 * daemon will not build if the branch has moved on) always fetches: the
 * mirror's copy may be older than the repository, and a sha already in
 * it says nothing about where the ref is now.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "scm-int.h"

/* The git subcommand, for "git fetch timed out after 2m". */
static const char *
step_command(enum scm_step step)
{
	switch (step) {
	case SCM_STEP_INIT_WS:
	case SCM_STEP_INIT_MIRROR:
		return "init";
	case SCM_STEP_CONFIG_MIRROR:
		return "config";
	case SCM_STEP_FETCH_MIRROR:
	case SCM_STEP_FETCH_WS:
		return "fetch";
	case SCM_STEP_HAVE_SHA:
	case SCM_STEP_IS_ANCESTOR:
		return "merge-base";
	case SCM_STEP_REF_HEAD:
	case SCM_STEP_CHECKOUT:
		return "checkout";
	case SCM_STEP_VERIFY:
		return "rev-parse";
	}
	return "?";
}

static void
log_text(struct scm_job *j, const char *s)
{
	scm_log_scrubbed(&j->log, s, strlen(s), j->secrets,
			 PW_ARRAY_LEN(j->secrets));
}

/* "$ git ..." with passwords in URLs hidden. */
static void
log_command(struct scm_job *j, const char *const *argv)
{
	size_t i;

	log_text(j, "$");
	for (i = 0; argv[i] != NULL; i++) {
		char *shown = scm_redact_url(argv[i]);

		log_text(j, " ");
		log_text(j, shown);
		free(shown);
	}
	log_text(j, "\n");
}

static void on_git(int status, const char *output, size_t len, void *arg);

static int
spawn(struct scm_job *j)
{
	const char *argv[12];
	char *own[3] = {NULL, NULL, NULL};
	struct exec_helper_spec spec;
	const char *mirror = j->m != NULL ? j->m->path : NULL;
	size_t n = 0, i;
	int rc;

	memset(&spec, 0, sizeof(spec));
	spec.env = (const char *const *)j->env;
	argv[n++] = "git";
	switch (j->step) {
	case SCM_STEP_INIT_WS:
		spec.cwd = j->workspace;
		argv[n++] = "init";
		argv[n++] = "-q";
		break;
	case SCM_STEP_INIT_MIRROR:
		argv[n++] = "init";
		argv[n++] = "-q";
		argv[n++] = "--bare";
		argv[n++] = j->mirror_new;
		break;
	case SCM_STEP_CONFIG_MIRROR:
		argv[n++] = own[0] = xasprintf("--git-dir=%s", j->mirror_new);
		argv[n++] = "config";
		argv[n++] = "uploadpack.allowAnySHA1InWant";
		argv[n++] = "true";
		break;
	case SCM_STEP_FETCH_MIRROR:
		if (j->env_token != NULL)
			spec.env = (const char *const *)j->env_token;
		argv[n++] = own[0] = xasprintf("--git-dir=%s", mirror);
		argv[n++] = "fetch";
		argv[n++] = "--no-tags";
		argv[n++] = "--no-recurse-submodules";
		argv[n++] = j->repo;
		argv[n++] = own[1] = xasprintf("+%s:%s", j->fetch_ref,
					       j->dst_ref);
		break;
	case SCM_STEP_HAVE_SHA:
	case SCM_STEP_IS_ANCESTOR:
		argv[n++] = own[0] = xasprintf("--git-dir=%s", mirror);
		argv[n++] = "merge-base";
		argv[n++] = "--is-ancestor";
		argv[n++] = j->sha;
		argv[n++] = j->dst_ref;
		break;
	case SCM_STEP_REF_HEAD:
		argv[n++] = own[0] = xasprintf("--git-dir=%s", mirror);
		argv[n++] = "rev-parse";
		argv[n++] = "--verify";
		argv[n++] = "-q";
		argv[n++] = own[1] = xasprintf("%s^{commit}", j->dst_ref);
		break;
	case SCM_STEP_FETCH_WS:
		spec.cwd = j->workspace;
		argv[n++] = "fetch";
		argv[n++] = "-q";
		argv[n++] = "--no-tags";
		argv[n++] = own[0] = xasprintf("--depth=%d", SCM_DEPTH);
		argv[n++] = own[1] = xasprintf("file://%s", mirror);
		argv[n++] = j->sha;
		break;
	case SCM_STEP_CHECKOUT:
		spec.cwd = j->workspace;
		argv[n++] = "checkout";
		argv[n++] = "-q";
		argv[n++] = "--detach";
		argv[n++] = j->sha;
		break;
	case SCM_STEP_VERIFY:
		spec.cwd = j->workspace;
		argv[n++] = "rev-parse";
		argv[n++] = "HEAD";
		break;
	}
	argv[n] = NULL;
	if (j->step != SCM_STEP_VERIFY && j->step != SCM_STEP_HAVE_SHA &&
	    j->step != SCM_STEP_REF_HEAD)
		log_command(j, argv);
	spec.argv = argv;
	spec.max_output = SCM_MAX_OUTPUT;
	spec.timeout_ms = j->timeout_ms;
	rc = exec_helper_spawn(j->s->exec, &spec, on_git, j);
	for (i = 0; i < PW_ARRAY_LEN(own); i++)
		free(own[i]);
	return rc;
}

int
scm_job_start(struct scm_job *j)
{
	j->step = SCM_STEP_INIT_WS;
	return spawn(j);
}

void
scm_job_run(struct scm_job *j)
{
	int rc;

	if (j->step == SCM_STEP_INIT_MIRROR) {
		if (access(j->m->path, F_OK) == 0) {
			/*
			 * A burst of runs of one commit fetches once: the
			 * others find the sha on the mirror's copy of the ref
			 * (unless the ref's head now is what is asked).
			 */
			j->step = j->head != NULL ? SCM_STEP_FETCH_MIRROR :
						    SCM_STEP_HAVE_SHA;
		} else {
			free(j->mirror_new);
			j->mirror_new = xasprintf("%s.new", j->m->path);
			/* Left over from a crash or a failed first fetch. */
			rc = pw_remove_tree(j->mirror_new);
			if (rc < 0) {
				scm_job_finish(j, rc, "cannot remove %s: %s",
					       j->mirror_new, strerror(-rc));
				return;
			}
		}
	}
	rc = spawn(j);
	if (rc < 0)
		scm_job_finish(j, rc, "cannot run git: %s", uv_strerror(rc));
}

/* rev-parse's answer, if it is a commit id, into the caller's buffer. */
static void
take_head(struct scm_job *j, const char *output, size_t len)
{
	size_t n = 0;

	while (n < len && n < SCM_SHA_MAX &&
	       strchr("0123456789abcdef", output[n]) != NULL && output[n] != '\0')
		n++;
	if ((n == 40 || n == 64) && (n == len || output[n] == '\n')) {
		memcpy(j->head, output, n);
		j->head[n] = '\0';
	}
}

/* The step went well: on to the next. */
static void
advance(struct scm_job *j, const char *output, size_t len)
{
	size_t shalen = strlen(j->sha);

	switch (j->step) {
	case SCM_STEP_INIT_WS:
		j->step = SCM_STEP_INIT_MIRROR;
		scm_mirror_acquire(j);  /* runs once it holds the mirror */
		return;
	case SCM_STEP_INIT_MIRROR:
		j->step = SCM_STEP_CONFIG_MIRROR;
		break;
	case SCM_STEP_CONFIG_MIRROR:
		if (rename(j->mirror_new, j->m->path) < 0) {
			scm_job_finish(j, -errno, "cannot rename %s to %s: %s",
				       j->mirror_new, j->m->path,
				       strerror(errno));
			return;
		}
		j->step = SCM_STEP_FETCH_MIRROR;
		break;
	case SCM_STEP_HAVE_SHA:
		log_text(j, "commit already fetched into the mirror\n");
		j->step = SCM_STEP_FETCH_WS;
		break;
	case SCM_STEP_FETCH_MIRROR:
		j->step = j->head != NULL ? SCM_STEP_REF_HEAD :
					    SCM_STEP_IS_ANCESTOR;
		break;
	case SCM_STEP_REF_HEAD:
		take_head(j, output, len);
		/* The ref's own commit is on it: no merge-base to ask. */
		j->step = strcmp(j->head, j->sha) == 0 ? SCM_STEP_FETCH_WS :
							 SCM_STEP_IS_ANCESTOR;
		break;
	case SCM_STEP_IS_ANCESTOR:
		j->step = SCM_STEP_FETCH_WS;
		break;
	case SCM_STEP_FETCH_WS:
		/* The workspace has what it needs: the next in line may fetch. */
		scm_mirror_release(j);
		j->step = SCM_STEP_CHECKOUT;
		break;
	case SCM_STEP_CHECKOUT:
		j->step = SCM_STEP_VERIFY;
		break;
	case SCM_STEP_VERIFY:
		if (len < shalen || memcmp(output, j->sha, shalen) != 0 ||
		    (len > shalen && output[shalen] != '\n'))
			scm_job_finish(j, -EIO, "HEAD is %.*s, not %s",
				       (int)strcspn(output, "\n"), output, j->sha);
		else
			scm_job_finish(j, 0, "HEAD is now at %s (%s)", j->sha,
				       j->fetch_ref);
		return;
	}
	scm_job_run(j);
}

static void
on_git(int status, const char *output, size_t len, void *arg)
{
	struct scm_job *j = arg;
	const char *cmd = step_command(j->step);
	char dur[32], *repo;

	/* Not there yet (or no copy of the ref yet): fetch it. */
	if (j->step == SCM_STEP_HAVE_SHA && status != 0 &&
	    status != -ETIMEDOUT) {
		j->step = SCM_STEP_FETCH_MIRROR;
		scm_job_run(j);
		return;
	}
	/* No head to report is for the caller to judge, not a failure. */
	if (j->step == SCM_STEP_REF_HEAD && status != 0 &&
	    status != -ETIMEDOUT) {
		j->step = SCM_STEP_IS_ANCESTOR;
		scm_job_run(j);
		return;
	}
	/* rev-parse's sha is for us; its complaints are for the log. */
	if ((j->step != SCM_STEP_VERIFY && j->step != SCM_STEP_REF_HEAD) ||
	    status != 0)
		scm_log_scrubbed(&j->log, output, len, j->secrets,
				 PW_ARRAY_LEN(j->secrets));
	if (status == 0) {
		advance(j, output, len);
		return;
	}
	if (status == -ETIMEDOUT) {
		pw_duration_format(j->timeout_ms, dur, sizeof(dur));
		scm_job_finish(j, -ETIMEDOUT, "git %s timed out after %s", cmd,
			       dur);
		return;
	}
	repo = scm_redact_url(j->repo);
	if (j->step == SCM_STEP_IS_ANCESTOR)
		scm_job_finish(j, -ENOENT, "commit %s is not on %s of %s",
			       j->sha, j->fetch_ref, repo);
	else if (j->step == SCM_STEP_FETCH_MIRROR)
		scm_job_finish(j, -EIO, "git fetch of %s from %s failed"
			       " (exit status %d)", j->fetch_ref, repo, status);
	else
		scm_job_finish(j, -EIO, "git %s failed (exit status %d)", cmd,
			       status);
	free(repo);
}
