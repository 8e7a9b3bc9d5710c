/*
 * forge_parse(): from a delivery's headers and body to a struct
 * forge_event.  This file does what every forge shares, in the order the
 * HTTP answers need: the media type (415), the event and delivery
 * headers, the form wrapper GitHub and Gitea may put around the JSON, the
 * JSON itself (400); then the forge's own parser (github.c, gitlab.c,
 * generic.c) reads the fields.  cJSON's nesting limit (1000) keeps deep
 * documents from exhausting the stack; the HTTP layer caps the size.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forge-int.h"

#define DELIVERY_MAX 128 /* GitHub's are UUIDs; anything longer is not one */

/* The headers each forge names things with; the first one sent wins. */
static const struct {
	const char *event[2];    /* {NULL, NULL}: the event is always push */
	const char *delivery[2];
	bool form;               /* may post application/x-www-form-urlencoded */
	/*
	 * A delivery id the signature covers, preferred to the others: a
	 * captured delivery replayed under a new id of its own choosing is
	 * then still the same delivery.  GitLab's signed webhooks sign
	 * "webhook-id.timestamp.body"; Idempotency-Key is not signed.
	 */
	const char *signed_delivery;
} forge_headers[] = {
	[FORGE_GITHUB] = {{"X-GitHub-Event", NULL},
			  {"X-GitHub-Delivery", NULL}, true, NULL},
	[FORGE_GITLAB] = {{"X-Gitlab-Event", NULL},
			  {"Idempotency-Key", "X-Gitlab-Event-UUID"}, false,
			  "webhook-id"},
	[FORGE_GITEA] = {{"X-Gitea-Event", "X-Forgejo-Event"},
			 {"X-Gitea-Delivery", "X-Forgejo-Delivery"}, true, NULL},
	[FORGE_GENERIC] = {{NULL, NULL}, {"X-Pipewright-Delivery", NULL},
			   false, NULL},
};

/* True if the media type of a Content-Type value (parameters such as
 * "; charset=utf-8" aside) is want, case-insensitively. */
static bool
media_is(const char *ct, const char *want)
{
	size_t n;

	while (*ct == ' ' || *ct == '\t')
		ct++;
	n = strcspn(ct, ";");
	while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
		n--;
	return n == strlen(want) && strncasecmp(ct, want, n) == 0;
}

static bool
delivery_valid(const char *s)
{
	size_t n;

	for (n = 0; s[n] != '\0'; n++)
		if (s[n] <= 0x20 || s[n] >= 0x7f)
			return false;
	return n > 0 && n <= DELIVERY_MAX;
}

/* NULL, or no control characters and no leading '-'. */
static bool
text_safe(const char *s)
{
	if (s == NULL)
		return true;
	if (*s == '-')
		return false;
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

static int
parse_json(struct fparse *p, const char *json, size_t len, cJSON **root)
{
	const char *end = NULL;
	size_t i;

	if (len == 0)
		return fp_fail(p, "empty body: expected a JSON object");
	*root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
	if (*root == NULL) {
		i = end != NULL && end >= json && end <= json + len ?
		    (size_t)(end - json) : 0;
		return fp_fail(p, "malformed JSON at byte %zu", i);
	}
	for (i = (size_t)(end - json); i < len; i++)
		if (!isspace((unsigned char)json[i])) {
			cJSON_Delete(*root);
			*root = NULL;
			return fp_fail(p, "malformed JSON: data after the "
				       "document at byte %zu", i);
		}
	if (!cJSON_IsObject(*root)) {
		cJSON_Delete(*root);
		*root = NULL;
		return fp_fail(p, "the payload is not a JSON object");
	}
	return 0;
}

/* The media type check: 0, or -EPROTONOSUPPORT with the message. */
static int
check_media(struct fparse *p, enum forge_kind k, const char *ct, bool *form)
{
	*form = false;
	if (ct != NULL && media_is(ct, "application/json"))
		return 0;
	if (ct != NULL && forge_headers[k].form &&
	    media_is(ct, "application/x-www-form-urlencoded")) {
		*form = true;
		return 0;
	}
	if (ct == NULL)
		p->err = xasprintf("no Content-Type: expected application/json%s",
				   forge_headers[k].form ?
				   " or application/x-www-form-urlencoded" : "");
	else {
		char *q = fprintable(ct, 64);

		p->err = xasprintf("Content-Type '%s' is not "
				   "application/json%s", q,
				   forge_headers[k].form ?
				   " or application/x-www-form-urlencoded" : "");
		free(q);
	}
	return -EPROTONOSUPPORT;
}

/* With a spec, only its members where prune.c can; else the whole. */
static int
parse_some(struct fparse *p, const struct fspec *spec, const char *json,
	   size_t len, cJSON **root)
{
	if (spec != NULL && (*root = fjson_parse_pruned(json, len, spec)) != NULL)
		return 0;
	return parse_json(p, json, len, root);
}

static int
parse_body(struct fparse *p, const struct fspec *spec, bool form,
	   const char *body, size_t len, cJSON **root)
{
	char *json = NULL;
	size_t jlen = 0;
	int rc;

	if (!form)
		return parse_some(p, spec, body, len, root);
	rc = fform_field(body, len, "payload", &json, &jlen);
	if (rc == -ENOENT)
		return fp_fail(p, "the form body has no 'payload' field");
	if (rc < 0)
		return fp_fail(p, "malformed form body: a bad %%-escape");
	rc = parse_some(p, spec, json, jlen, root);
	free(json);
	return rc;
}

/*
 * What the parsers read of each forge's payload (github.c, gitlab.c,
 * json.c's fj_commit_message): forge_payload_parse()
 * and forge_parse() build only these (prune.c).  A field read there and
 * missing here would read as absent: the fuzz target compares every
 * event with forge_parse_whole(), which reads the whole tree.  Generic
 * payloads are small and read whole.
 */
static const struct fspec commit_spec[] = {{"id", NULL}, {"message", NULL},
					   {NULL, NULL}};
static const struct fspec gh_repo_spec[] = {{"full_name", NULL},
					    {"clone_url", NULL}, {NULL, NULL}};
static const struct fspec gh_pr_repo_spec[] = {{"id", NULL},
					       {"full_name", NULL}, {NULL, NULL}};
static const struct fspec gh_pr_side_spec[] = {
	{"sha", NULL}, {"ref", NULL}, {"repo_id", NULL},
	{"repo", gh_pr_repo_spec}, {NULL, NULL},
};
static const struct fspec gh_pr_spec[] = {{"head", gh_pr_side_spec},
					  {"base", gh_pr_side_spec},
					  {NULL, NULL}};
static const struct fspec github_spec[] = {
	{"ref", NULL}, {"before", NULL}, {"after", NULL}, {"deleted", NULL},
	{"action", NULL}, {"number", NULL},
	{"head_commit", commit_spec}, {"commits", commit_spec},
	{"repository", gh_repo_spec}, {"pull_request", gh_pr_spec},
	{NULL, NULL},
};
static const struct fspec gl_project_spec[] = {
	{"path_with_namespace", NULL}, {"git_http_url", NULL}, {NULL, NULL},
};
static const struct fspec gl_attr_spec[] = {
	{"action", NULL}, {"iid", NULL}, {"oldrev", NULL},
	{"source_branch", NULL}, {"target_branch", NULL},
	{"source_project_id", NULL}, {"target_project_id", NULL},
	{"last_commit", commit_spec}, {NULL, NULL},
};
static const struct fspec gitlab_spec[] = {
	{"ref", NULL}, {"before", NULL}, {"after", NULL},
	{"checkout_sha", NULL}, {"commits", commit_spec},
	{"project", gl_project_spec}, {"object_attributes", gl_attr_spec},
	{NULL, NULL},
};
static const struct fspec *const payload_specs[] = {
	[FORGE_GITHUB] = github_spec,
	[FORGE_GITLAB] = gitlab_spec,
	[FORGE_GITEA] = github_spec,
	[FORGE_GENERIC] = NULL,
};

/* Where each forge names the repository; NULL: the format names none. */
static const char *const repo_paths[] = {
	[FORGE_GITHUB] = "repository.full_name",
	[FORGE_GITLAB] = "project.path_with_namespace",
	[FORGE_GITEA] = "repository.full_name",
	[FORGE_GENERIC] = NULL,
};

struct forge_payload {
	enum forge_kind kind;
	cJSON *root;
};

void
forge_payload_free(struct forge_payload *pl)
{
	if (pl == NULL)
		return;
	cJSON_Delete(pl->root);
	free(pl);
}

int
forge_payload_parse(enum forge_kind k, const char *content_type,
		    const char *body, size_t len, struct forge_payload **out,
		    char **err)
{
	struct fparse p = {.what = "payload"};
	cJSON *root = NULL;
	bool form;
	int rc;

	*out = NULL;
	*err = NULL;
	if ((unsigned)k > FORGE_GENERIC) {
		*err = xstrdup("unknown forge");
		return -EINVAL;
	}
	if ((rc = check_media(&p, k, content_type, &form)) < 0 ||
	    (rc = parse_body(&p, payload_specs[k], form, body, len,
			     &root)) < 0) {
		*err = p.err != NULL ? p.err : xstrdup("malformed payload");
		return rc;
	}
	*out = xcalloc(1, sizeof(**out));
	(*out)->kind = k;
	(*out)->root = root;
	return 0;
}

int
forge_payload_repo(const struct forge_payload *pl, const char **repo,
		   char **err)
{
	const char *v;

	*repo = NULL;
	*err = NULL;
	v = repo_paths[pl->kind] != NULL ? fj_str(pl->root,
						   repo_paths[pl->kind]) : NULL;
	if (v != NULL && !text_safe(v)) {
		*err = xstrdup("the repository name in the payload holds a "
			       "control character or starts with '-'");
		return -EINVAL;
	}
	*repo = v;
	return 0;
}

int
forge_parse_repo(enum forge_kind k, const char *content_type,
		 const char *body, size_t len, char **repo, char **err)
{
	struct forge_payload *pl;
	const char *v;
	int rc;

	*repo = NULL;
	if ((rc = forge_payload_parse(k, content_type, body, len, &pl,
				      err)) < 0)
		return rc;
	if ((rc = forge_payload_repo(pl, &v, err)) == 0)
		*repo = v != NULL ? xstrdup(v) : NULL;
	forge_payload_free(pl);
	return rc;
}

/* The event and delivery headers: 0, or -EINVAL with p->err. */
static int
parse_headers(struct fparse *p, enum forge_kind k, forge_header_fn hdr,
	      void *harg)
{
	struct forge_event *ev = p->ev;
	const char *v, *which = NULL;

	if (forge_headers[k].event[0] == NULL) {
		ev->event = xstrdup("push");
	} else if ((v = fheader2(hdr, harg, forge_headers[k].event,
				&which)) != NULL) {
		ev->event = xstrdup(v);
	} else {
		return fp_fail(p, "no %s%s%s header", forge_headers[k].event[0],
			       forge_headers[k].event[1] != NULL ? " or " : "",
			       forge_headers[k].event[1] != NULL ?
			       forge_headers[k].event[1] : "");
	}
	which = forge_headers[k].signed_delivery;
	v = which != NULL ? hdr(harg, which) : NULL;
	if (v == NULL || *v == '\0')
		v = fheader2(hdr, harg, forge_headers[k].delivery, &which);
	if (v != NULL) {
		if (!delivery_valid(v))
			return fp_fail(p, "%s is not a delivery id (1 to %d "
				       "printable characters)", which,
				       DELIVERY_MAX);
		ev->delivery = xstrdup(v);
	}
	return 0;
}

/* The forge's own fields from the JSON, then what every event must be. */
static int
parse_fields(struct fparse *p, enum forge_kind k, const cJSON *root)
{
	struct forge_event *ev = p->ev;
	int rc = -EINVAL;

	switch (k) {
	case FORGE_GITHUB:
		rc = fparse_github(p, root, false);
		break;
	case FORGE_GITEA:
		rc = fparse_github(p, root, true);
		break;
	case FORGE_GITLAB:
		rc = fparse_gitlab(p, root);
		break;
	case FORGE_GENERIC:
		rc = fparse_generic(p, root);
		break;
	}
	if (rc < 0)
		return rc;
	/* Project matching logs the name and may put it in an answer; a
	 * clone URL is something git could be handed. */
	if (!text_safe(ev->repo) || !text_safe(ev->clone_url))
		return fp_fail(p, "the repository name or clone URL in the %s "
			       "holds a control character or starts with '-'",
			       p->what);
	return 0;
}

/* forge_parse(): the members the parsers read only, or all if whole. */
static int
parse_event(enum forge_kind k, forge_header_fn hdr, void *harg,
	    const char *content_type, const char *body, size_t len,
	    bool whole, struct forge_event **out, char **err)
{
	struct fparse p = {.what = "payload"};
	struct forge_event *ev;
	cJSON *root = NULL;
	bool form;
	int rc;

	*out = NULL;
	*err = NULL;
	if ((unsigned)k > FORGE_GENERIC) {
		*err = xstrdup("unknown forge");
		return -EINVAL;
	}
	p.ev = ev = xcalloc(1, sizeof(*ev));
	ev->kind = k;
	/* Media type (415), headers, then the body (400), in this order. */
	if ((rc = check_media(&p, k, content_type, &form)) < 0 ||
	    (rc = parse_headers(&p, k, hdr, harg)) < 0 ||
	    (rc = parse_body(&p, whole ? NULL : payload_specs[k], form, body,
			     len, &root)) < 0)
		goto fail;
	rc = parse_fields(&p, k, root);
	cJSON_Delete(root);
	if (rc < 0)
		goto fail;
	*out = ev;
	return 0;
fail:
	forge_event_free(ev);
	*err = p.err != NULL ? p.err : xstrdup("malformed payload");
	return rc;
}

int
forge_parse(enum forge_kind k, forge_header_fn hdr, void *harg,
	    const char *content_type, const char *body, size_t len,
	    struct forge_event **out, char **err)
{
	return parse_event(k, hdr, harg, content_type, body, len, false, out,
			   err);
}

int
forge_parse_whole(enum forge_kind k, forge_header_fn hdr, void *harg,
		  const char *content_type, const char *body, size_t len,
		  struct forge_event **out, char **err)
{
	return parse_event(k, hdr, harg, content_type, body, len, true, out,
			   err);
}

int
forge_parse_payload(enum forge_kind k, forge_header_fn hdr, void *harg,
		    const struct forge_payload *pl, struct forge_event **out,
		    char **err)
{
	struct fparse p = {.what = "payload"};
	struct forge_event *ev;
	int rc;

	*out = NULL;
	*err = NULL;
	if ((unsigned)k > FORGE_GENERIC || pl->kind != k) {
		*err = xstrdup("unknown forge");
		return -EINVAL;
	}
	p.ev = ev = xcalloc(1, sizeof(*ev));
	ev->kind = k;
	if ((rc = parse_headers(&p, k, hdr, harg)) < 0 ||
	    (rc = parse_fields(&p, k, pl->root)) < 0) {
		forge_event_free(ev);
		*err = p.err != NULL ? p.err : xstrdup("malformed payload");
		return rc;
	}
	*out = ev;
	return 0;
}
