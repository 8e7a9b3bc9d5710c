/*
 * Commit statuses, as data: the request that reports a run's state on a
 * commit, the auth header that goes with it, and whether the forge's
 * answer means it is recorded.  The notify module sends the request from
 * its outbox; keeping the shapes here keeps them pure and testable.
 *
 * GitHub and Gitea share the API (POST /repos/{owner}/{repo}/statuses/
 * {sha}, "context"); GitLab's is POST /projects/{id or url-encoded path}/
 * statuses/{sha} with "name", and richer states (running, canceled).
 * GitLab refuses a transition to the state a commit is already in with
 * 400 "Cannot transition status": for us that is delivered, since the
 * forge shows what we meant to say.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "forge-int.h"

#define DESCRIPTION_MAX 140 /* GitHub refuses longer descriptions */

static const struct {
	const char *run;
	const char *hub; /* GitHub, Gitea */
	const char *lab; /* GitLab */
} states[] = {
	{"queued", "pending", "pending"},
	{"running", "pending", "running"},
	{"success", "success", "success"},
	{"failed", "failure", "failed"},
	{"canceled", "error", "canceled"},
	{"error", "error", "failed"},
};

const char *
forge_default_api(enum forge_kind k)
{
	switch (k) {
	case FORGE_GITHUB:
		return "https://api.github.com";
	case FORGE_GITLAB:
		return "https://gitlab.com/api/v4";
	case FORGE_GITEA:   /* always self-hosted: no default */
	case FORGE_GENERIC: /* nowhere to report to */
		break;
	}
	return NULL;
}

const char *
forge_status_state(enum forge_kind k, const char *run_status)
{
	size_t i;

	if (run_status == NULL || (k != FORGE_GITHUB && k != FORGE_GITEA &&
				   k != FORGE_GITLAB))
		return NULL;
	for (i = 0; i < PW_ARRAY_LEN(states); i++)
		if (strcmp(run_status, states[i].run) == 0)
			return k == FORGE_GITLAB ? states[i].lab : states[i].hub;
	return NULL;
}

/* Appends s percent-encoded as one path segment (RFC 3986 unreserved
 * characters kept; '/' encoded too). */
static void
encode_segment(struct buf *b, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || strchr("-._~", c) != NULL)
			buf_add(b, &s[i], 1);
		else
			buf_addf(b, "%%%c%c", hex[c >> 4], hex[c & 15]);
	}
}

/* owner/repo for GitHub and Gitea; group/.../project for GitLab. */
static bool
repo_valid(enum forge_kind k, const char *r)
{
	const char *slash = strchr(r, '/');
	size_t i, n = strlen(r);

	if (n == 0 || slash == NULL || r[0] == '/' || r[n - 1] == '/' ||
	    strstr(r, "//") != NULL)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)r[i] < 0x20 || r[i] == 0x7f)
			return false;
	return k == FORGE_GITLAB || strchr(slash + 1, '/') == NULL;
}

static bool
api_valid(const char *api)
{
	size_t i;

	if (strncmp(api, "https://", 8) != 0 &&
	    strncmp(api, "http://", 7) != 0)
		return false;
	for (i = 0; api[i] != '\0'; i++)
		if ((unsigned char)api[i] <= 0x20 || api[i] == 0x7f)
			return false;
	return true;
}

/* The description cut to DESCRIPTION_MAX bytes, not inside a UTF-8
 * sequence. */
static char *
cut_description(const char *d)
{
	size_t n = strlen(d);

	if (n <= DESCRIPTION_MAX)
		return xstrdup(d);
	n = DESCRIPTION_MAX;
	while (n > 0 && ((unsigned char)d[n] & 0xc0) == 0x80)
		n--;
	return xstrndup(d, n);
}

static char *
status_body(enum forge_kind k, const char *state, const char *context,
	    const char *target_url, const char *description)
{
	cJSON *o = cJSON_CreateObject();
	char *desc, *json;

	if (o == NULL)
		return NULL;
	cJSON_AddStringToObject(o, "state", state);
	if (target_url != NULL)
		cJSON_AddStringToObject(o, "target_url", target_url);
	if (description != NULL) {
		desc = cut_description(description);
		cJSON_AddStringToObject(o, "description", desc);
		free(desc);
	}
	cJSON_AddStringToObject(o, k == FORGE_GITLAB ? "name" : "context",
				context);
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return json;
}

int
forge_status_request(enum forge_kind k, const struct forge_status *s,
		     struct forge_request *out)
{
	const char *state = forge_status_state(k, s->run_status);
	const char *api = s->api_base != NULL ? s->api_base :
						forge_default_api(k);
	const char *forge_repo = s->forge_repo, *sha = s->sha;
	const char *slash;
	struct buf url;
	size_t alen;
	char *json;

	memset(out, 0, sizeof(*out));
	if (state == NULL || api == NULL || !api_valid(api) ||
	    forge_repo == NULL || !repo_valid(k, forge_repo) || sha == NULL ||
	    !fsha_valid(sha) || s->context == NULL || *s->context == '\0')
		return -EINVAL;
	alen = strlen(api);
	while (alen > 0 && api[alen - 1] == '/')
		alen--;
	buf_init(&url, 0);
	buf_add(&url, api, alen);
	if (k == FORGE_GITLAB) {
		buf_adds(&url, "/projects/");
		encode_segment(&url, forge_repo, strlen(forge_repo));
	} else {
		slash = strchr(forge_repo, '/');
		buf_adds(&url, "/repos/");
		encode_segment(&url, forge_repo, (size_t)(slash - forge_repo));
		buf_adds(&url, "/");
		encode_segment(&url, slash + 1, strlen(slash + 1));
	}
	buf_addf(&url, "/statuses/%s", sha);
	json = status_body(k, state, s->context, s->target_url, s->description);
	if (json == NULL) {
		buf_free(&url);
		return -ENOMEM;
	}
	out->method = "POST";
	out->url = buf_steal(&url);
	out->body = json;
	out->headers = xcalloc(5, sizeof(*out->headers));
	out->headers[0] = xstrdup("Content-Type: application/json");
	out->headers[1] = xstrdup("User-Agent: pipewright");
	if (k == FORGE_GITHUB) {
		/* GitHub's recommended media type and a pinned API version. */
		out->headers[2] = xstrdup("Accept: application/vnd.github+json");
		out->headers[3] = xstrdup("X-GitHub-Api-Version: 2022-11-28");
	} else {
		out->headers[2] = xstrdup("Accept: application/json");
	}
	return 0;
}

void
forge_request_free(struct forge_request *r)
{
	char **h;

	if (r == NULL)
		return;
	free(r->url);
	/* cJSON_PrintUnformatted allocates with cJSON's hooks: malloc. */
	free(r->body);
	if (r->headers != NULL) {
		for (h = r->headers; *h != NULL; h++)
			free(*h);
		free(r->headers);
	}
	memset(r, 0, sizeof(*r));
}

int
forge_auth_header(enum forge_kind k, const char *token, char **out)
{
	size_t i;

	*out = NULL;
	if (token == NULL || *token == '\0')
		return -EINVAL;
	/* Printable ASCII only: a CR or LF would end the header early. */
	for (i = 0; token[i] != '\0'; i++)
		if ((unsigned char)token[i] <= 0x20 || token[i] == 0x7f)
			return -EINVAL;
	switch (k) {
	case FORGE_GITHUB:
		*out = xasprintf("Authorization: Bearer %s", token);
		return 0;
	case FORGE_GITLAB:
		*out = xasprintf("PRIVATE-TOKEN: %s", token);
		return 0;
	case FORGE_GITEA:
		*out = xasprintf("Authorization: token %s", token);
		return 0;
	case FORGE_GENERIC:
		break;
	}
	return -EINVAL;
}

bool
forge_status_delivered(enum forge_kind k, int http_status, const char *body)
{
	if (http_status >= 200 && http_status <= 299)
		return true;
	return k == FORGE_GITLAB && http_status == 400 && body != NULL &&
	       strstr(body, "Cannot transition status") != NULL;
}
