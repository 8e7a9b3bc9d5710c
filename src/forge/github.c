/*
 * GitHub's and Gitea's payloads.  Gitea (and Forgejo) copied GitHub's
 * shapes: push with ref/before/after/commits/repository.full_name and
 * clone_url, pull_request with action/number/pull_request.head/base.  The
 * differences are few and local: Gitea spells the sync action
 * "synchronized", does not send ping, may leave out head_commit (then the
 * commit whose id is `after`, or the last one, has the message), and
 * gives head.repo_id/base.repo_id where GitHub gives head.repo/base.repo.
 *
 * A PR is always fetched from the base repository as refs/pull/N/head,
 * never from the fork's clone URL: the fork is the contributor's to
 * change, the base repository's PR ref is the forge's.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forge-int.h"

static int
push(struct fparse *p, const cJSON *root, bool gitea)
{
	struct forge_event *ev = p->ev;
	const char *after, *before, *msg;
	int rc;

	p->what = "push payload";
	ev->type = FORGE_EVENT_PUSH;
	if ((rc = fj_need_str(p, root, "repository.full_name", &ev->repo)) < 0 ||
	    (rc = fj_need_str(p, root, "repository.clone_url",
			      &ev->clone_url)) < 0 ||
	    (rc = fj_need_str(p, root, "ref", NULL)) < 0 ||
	    (rc = fj_need_str(p, root, "after", NULL)) < 0)
		return rc;
	if ((rc = fref_push(p, "ref", fj_str(root, "ref"))) != 0) {
		if (rc < 0)
			return rc;
		/* refs/notes/..., refs/pull/...: nothing we run. */
		fevent_ignore(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
		return 0;
	}
	after = fj_str(root, "after");
	if (fsha_zero(after) || cJSON_IsTrue(fj_get(root, "deleted"))) {
		fevent_ignore(ev, FORGE_IGNORE_DELETED);
		return 0;
	}
	if ((rc = fsha_take(p, "after", after)) < 0)
		return rc;
	msg = fj_str(root, "head_commit.message");
	if (msg == NULL)
		msg = fj_commit_message(root, ev->sha, gitea);
	if (msg != NULL)
		ev->message = xstrdup(msg);
	before = fj_str(root, "before");
	fsha_before(ev, before);
	if (before != NULL && strcasecmp(before, ev->sha) == 0)
		fevent_ignore(ev, FORGE_IGNORE_NO_NEW_COMMITS);
	else if (forge_skip_ci(ev->message))
		fevent_ignore(ev, FORGE_IGNORE_SKIP_CI);
	return 0;
}

/*
 * A fork when the head repository is not the base one.  If the payload
 * does not say (GitHub sends head.repo null when the fork was deleted),
 * it is treated as a fork: a fork gets no secrets, so doubt is safe.
 */
static bool
pr_fork(const cJSON *root)
{
	const char *hn, *bn;
	uint64_t h, b;

	if (fj_opt_uint(root, "pull_request.head.repo_id", &h) &&
	    fj_opt_uint(root, "pull_request.base.repo_id", &b))
		return h != b;
	if (fj_opt_uint(root, "pull_request.head.repo.id", &h) &&
	    fj_opt_uint(root, "pull_request.base.repo.id", &b))
		return h != b;
	hn = fj_str(root, "pull_request.head.repo.full_name");
	bn = fj_str(root, "pull_request.base.repo.full_name");
	if (hn != NULL && bn != NULL)
		return strcasecmp(hn, bn) != 0;
	return true;
}


static int
pull_request(struct fparse *p, const cJSON *root, bool gitea)
{
	struct forge_event *ev = p->ev;
	const char *sync = gitea ? "synchronized" : "synchronize";
	const char *before, *after;
	const cJSON *pr;
	int rc;

	p->what = "pull_request payload";
	ev->type = FORGE_EVENT_PULL_REQUEST;
	if ((rc = fj_need_str(p, root, "action", &ev->action)) < 0)
		return rc;
	if (strcmp(ev->action, "opened") != 0 &&
	    strcmp(ev->action, "reopened") != 0 &&
	    strcmp(ev->action, sync) != 0) {
		/* closed, edited, labeled, ...: the code did not change. */
		(void)fj_opt_uint(root, "number", &ev->pr);
		fevent_ignore(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
		return 0;
	}
	if ((rc = fj_need_uint(p, root, "number", &ev->pr)) < 0 ||
	    (rc = fj_need_obj(p, root, "pull_request", &pr)) < 0 ||
	    (rc = fj_need_str(p, root, "repository.full_name", &ev->repo)) < 0 ||
	    (rc = fj_need_str(p, root, "repository.clone_url",
			      &ev->clone_url)) < 0 ||
	    (rc = fj_need_str(p, root, "pull_request.head.sha", NULL)) < 0 ||
	    (rc = fsha_take(p, "pull_request.head.sha",
			    fj_str(root, "pull_request.head.sha"))) < 0 ||
	    (rc = fj_need_branch(p, root, "pull_request.head.ref",
			      &ev->branch)) < 0 ||
	    (rc = fj_need_branch(p, root, "pull_request.base.ref",
			      &ev->base_branch)) < 0)
		return rc;
	ev->ref = xasprintf("refs/pull/%llu/head", (unsigned long long)ev->pr);
	ev->fork = pr_fork(root);
	/* GitHub's synchronize carries before/after; equal: a no-op push. */
	before = fj_str(root, "before");
	after = fj_str(root, "after");
	if (before != NULL && after != NULL && strcasecmp(before, after) == 0)
		fevent_ignore(ev, FORGE_IGNORE_NO_NEW_COMMITS);
	return 0;
}

int
fparse_github(struct fparse *p, const cJSON *root, bool gitea)
{
	struct forge_event *ev = p->ev;

	/* For project matching and the log, also when nothing runs. */
	fj_opt_str(root, "repository.full_name", &ev->repo);
	fj_opt_str(root, "repository.clone_url", &ev->clone_url);
	if (strcmp(ev->event, "push") == 0)
		return push(p, root, gitea);
	if (strcmp(ev->event, "pull_request") == 0)
		return pull_request(p, root, gitea);
	if (!gitea && strcmp(ev->event, "ping") == 0) {
		ev->type = FORGE_EVENT_PING;
		return 0;
	}
	fevent_ignore(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	return 0;
}
