/*
 * GitLab's payloads: "Push Hook", "Tag Push Hook" and "Merge Request
 * Hook" (X-Gitlab-Event).  GitLab names things its own way: the project
 * is project.path_with_namespace and project.git_http_url, the commit to
 * build is checkout_sha (after may point at an annotated tag object), the
 * head commit's message is that of the commit in `commits` whose id is
 * checkout_sha, an MR is numbered by its iid (id is global), and a fork
 * MR has source_project_id != target_project_id.
 *
 * An MR "update" is also sent for a new title, label or assignee; only
 * an update carrying object_attributes.oldrev brought new commits.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forge-int.h"

static int
push(struct fparse *p, const cJSON *root)
{
	struct forge_event *ev = p->ev;
	const char *before, *msg;
	int rc;

	ev->type = FORGE_EVENT_PUSH;
	if ((rc = fj_need_str(p, root, "project.path_with_namespace",
			      &ev->repo)) < 0 ||
	    (rc = fj_need_str(p, root, "project.git_http_url",
			      &ev->clone_url)) < 0 ||
	    (rc = fj_need_str(p, root, "ref", NULL)) < 0 ||
	    (rc = fj_need_str(p, root, "after", NULL)) < 0)
		return rc;
	if ((rc = fref_push(p, "ref", fj_str(root, "ref"))) != 0) {
		if (rc < 0)
			return rc;
		fevent_ignore(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
		return 0;
	}
	/* A deletion has after all zeros and checkout_sha null. */
	if (fsha_zero(fj_str(root, "after"))) {
		fevent_ignore(ev, FORGE_IGNORE_DELETED);
		return 0;
	}
	if ((rc = fj_need_str(p, root, "checkout_sha", NULL)) < 0 ||
	    (rc = fsha_take(p, "checkout_sha",
			    fj_str(root, "checkout_sha"))) < 0)
		return rc;
	if ((msg = fj_commit_message(root, ev->sha, false)) != NULL)
		ev->message = xstrdup(msg);
	before = fj_str(root, "before");
	fsha_before(ev, before);
	if (before != NULL && strcasecmp(before, fj_str(root, "after")) == 0)
		fevent_ignore(ev, FORGE_IGNORE_NO_NEW_COMMITS);
	else if (forge_skip_ci(ev->message))
		fevent_ignore(ev, FORGE_IGNORE_SKIP_CI);
	return 0;
}


static int
merge_request(struct fparse *p, const cJSON *root)
{
	struct forge_event *ev = p->ev;
	const char *msg;
	uint64_t src, dst;
	int rc;

	p->what = "merge request payload";
	ev->type = FORGE_EVENT_PULL_REQUEST;
	if ((rc = fj_need_obj(p, root, "object_attributes", NULL)) < 0 ||
	    (rc = fj_need_str(p, root, "object_attributes.action",
			      &ev->action)) < 0)
		return rc;
	(void)fj_opt_uint(root, "object_attributes.iid", &ev->pr);
	if (strcmp(ev->action, "open") != 0 &&
	    strcmp(ev->action, "reopen") != 0 &&
	    (strcmp(ev->action, "update") != 0 ||
	     fj_str(root, "object_attributes.oldrev") == NULL)) {
		/* close, merge, approved, an update of the title...: no new
		 * code to run. */
		fevent_ignore(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
		return 0;
	}
	if ((rc = fj_need_uint(p, root, "object_attributes.iid",
			       &ev->pr)) < 0 ||
	    (rc = fj_need_str(p, root, "project.path_with_namespace",
			      &ev->repo)) < 0 ||
	    (rc = fj_need_str(p, root, "project.git_http_url",
			      &ev->clone_url)) < 0 ||
	    (rc = fj_need_str(p, root, "object_attributes.last_commit.id",
			      NULL)) < 0 ||
	    (rc = fsha_take(p, "object_attributes.last_commit.id",
			    fj_str(root, "object_attributes.last_commit.id"))) < 0 ||
	    (rc = fj_need_branch(p, root, "object_attributes.source_branch",
			      &ev->branch)) < 0 ||
	    (rc = fj_need_branch(p, root, "object_attributes.target_branch",
			      &ev->base_branch)) < 0 ||
	    (rc = fj_need_uint(p, root, "object_attributes.source_project_id",
			       &src)) < 0 ||
	    (rc = fj_need_uint(p, root, "object_attributes.target_project_id",
			       &dst)) < 0)
		return rc;
	ev->ref = xasprintf("refs/merge-requests/%llu/head",
			    (unsigned long long)ev->pr);
	ev->fork = src != dst;
	if ((msg = fj_str(root, "object_attributes.last_commit.message")) != NULL)
		ev->message = xstrdup(msg);
	if (forge_skip_ci(ev->message))
		fevent_ignore(ev, FORGE_IGNORE_SKIP_CI);
	return 0;
}

int
fparse_gitlab(struct fparse *p, const cJSON *root)
{
	struct forge_event *ev = p->ev;

	fj_opt_str(root, "project.path_with_namespace", &ev->repo);
	fj_opt_str(root, "project.git_http_url", &ev->clone_url);
	if (strcmp(ev->event, "Push Hook") == 0) {
		p->what = "push payload";
		return push(p, root);
	}
	if (strcmp(ev->event, "Tag Push Hook") == 0) {
		p->what = "tag push payload";
		return push(p, root);
	}
	if (strcmp(ev->event, "Merge Request Hook") == 0)
		return merge_request(p, root);
	fevent_ignore(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	return 0;
}
