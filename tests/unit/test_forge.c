/*
 * Unit tests of the forge module against the real payloads the forges
 * publish (tests/fixtures/webhooks/, SOURCES.md says where each field is):
 * every fixture parsed with its fields asserted; variants of them edited
 * through cJSON for the cases no forge publishes (a branch deletion,
 * [skip ci], a fork, a closed PR, an MR update without oldrev); the
 * errors and their messages; signatures for every forge, computed here
 * with the real HMAC (and GitHub's documented vector); the commit-status
 * request shapes and the state table.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "pipewright/auth.h"
#include "pipewright/forge.h"
#include "pipewright/util.h"

#define FIXTURES PW_SOURCE_DIR "/tests/fixtures/webhooks/"
#define JSON "application/json"
#define NOW_MS 1700000000000ULL

/* ---- helpers ------------------------------------------------------- */

struct hdrs {
	const char *name[12];
	const char *value[12];
	int n;
};

static const char *
hget(void *arg, const char *name)
{
	struct hdrs *h = arg;
	int i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0)
			return h->value[i];
	return NULL;
}

static void
hset(struct hdrs *h, const char *name, const char *value)
{
	int i;

	for (i = 0; i < h->n; i++)
		if (strcasecmp(h->name[i], name) == 0) {
			h->value[i] = value;
			return;
		}
	assert_true(h->n < 12);
	h->name[h->n] = name;
	h->value[h->n++] = value;
}

static char *
load(const char *name, size_t *len)
{
	char path[512], *data = NULL;
	size_t n = 0;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	assert_int_equal(pw_read_file(path, 1 << 20, &data, &n), 0);
	if (len != NULL)
		*len = n;
	return data;
}

/* The fixture with the value at a dotted path replaced (NULL: removed);
 * caller frees.  Takes ownership of v. */
static char *
edit(const char *fixture, const char *path, cJSON *v)
{
	char *body = load(fixture, NULL), *out, key[64];
	cJSON *root = cJSON_Parse(body), *n = root;
	const char *s = path, *dot;

	assert_non_null(root);
	while ((dot = strchr(s, '.')) != NULL) {
		snprintf(key, sizeof(key), "%.*s", (int)(dot - s), s);
		if (cJSON_IsArray(n))
			n = cJSON_GetArrayItem(n, atoi(key));
		else
			n = cJSON_GetObjectItemCaseSensitive(n, key);
		assert_non_null(n);
		s = dot + 1;
	}
	if (v == NULL)
		cJSON_DeleteItemFromObjectCaseSensitive(n, s);
	else if (cJSON_IsArray(n))
		assert_true(cJSON_ReplaceItemInArray(n, atoi(s), v));
	else if (cJSON_GetObjectItemCaseSensitive(n, s) != NULL)
		assert_true(cJSON_ReplaceItemInObjectCaseSensitive(n, s, v));
	else
		assert_non_null(cJSON_AddItemToObject(n, s, v) ? n : NULL);
	out = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	free(body);
	return out;
}

/* The event header each forge sends, by kind. */
static const char *
event_header(enum forge_kind k)
{
	switch (k) {
	case FORGE_GITHUB:
		return "X-GitHub-Event";
	case FORGE_GITLAB:
		return "X-Gitlab-Event";
	case FORGE_GITEA:
		return "X-Gitea-Event";
	case FORGE_GENERIC:
		break;
	}
	return "X-Pipewright-Event";
}

static struct forge_event *
parse_ok(enum forge_kind k, const char *event, const char *body, size_t len)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	char *err = NULL;
	int rc;

	hset(&h, event_header(k), event);
	rc = forge_parse(k, hget, &h, JSON, body, len, &ev, &err);
	if (rc != 0)
		fail_msg("forge_parse: %d %s", rc, err);
	assert_null(err);
	assert_non_null(ev);
	assert_int_equal(ev->kind, k);
	return ev;
}

static struct forge_event *
parse_fixture(enum forge_kind k, const char *event, const char *fixture)
{
	struct forge_event *ev;
	size_t len;
	char *body = load(fixture, &len);

	ev = parse_ok(k, event, body, len);
	free(body);
	return ev;
}

static struct forge_event *
parse_str(enum forge_kind k, const char *event, const char *body)
{
	return parse_ok(k, event, body, strlen(body));
}

/* Parses and expects the error rc with exactly the message want. */
static void
parse_fails(enum forge_kind k, const char *event, const char *ctype,
	    const char *body, size_t len, int want_rc, const char *want)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = (void *)1;
	char *err = NULL;

	if (event != NULL)
		hset(&h, event_header(k), event);
	assert_int_equal(forge_parse(k, hget, &h, ctype, body, len, &ev, &err),
			 want_rc);
	assert_null(ev);
	assert_non_null(err);
	assert_string_equal(err, want);
	free(err);
}

static void
parse_str_fails(enum forge_kind k, const char *event, const char *body,
		const char *want)
{
	parse_fails(k, event, JSON, body, strlen(body), -EINVAL, want);
}

static void
assert_ignored(struct forge_event *ev, enum forge_ignore why)
{
	assert_int_equal(ev->type, FORGE_EVENT_IGNORED);
	assert_int_equal(ev->ignored, why);
}

/* ---- names --------------------------------------------------------- */

static void
test_kind_names(void **state)
{
	enum forge_kind k;

	(void)state;
	assert_int_equal(forge_kind_parse("github", &k), 0);
	assert_int_equal(k, FORGE_GITHUB);
	assert_int_equal(forge_kind_parse("gitlab", &k), 0);
	assert_int_equal(k, FORGE_GITLAB);
	assert_int_equal(forge_kind_parse("gitea", &k), 0);
	assert_int_equal(k, FORGE_GITEA);
	assert_int_equal(forge_kind_parse("forgejo", &k), 0);
	assert_int_equal(k, FORGE_GITEA);
	assert_int_equal(forge_kind_parse("generic", &k), 0);
	assert_int_equal(k, FORGE_GENERIC);
	assert_int_equal(forge_kind_parse("GitHub", &k), -EINVAL);
	assert_int_equal(forge_kind_parse("bitbucket", &k), -EINVAL);
	assert_int_equal(forge_kind_parse(NULL, &k), -EINVAL);
	assert_string_equal(forge_kind_name(FORGE_GITEA), "gitea");
	assert_string_equal(forge_ignore_name(FORGE_IGNORE_DELETED), "deleted");
	assert_string_equal(forge_ignore_name(FORGE_IGNORE_SKIP_CI), "skip_ci");
	assert_string_equal(forge_ignore_name(FORGE_IGNORE_BRANCH_FILTERED),
			    "branch_filtered");
	assert_string_equal(forge_ignore_name(FORGE_IGNORE_EVENT_NOT_HANDLED),
			    "event_not_handled");
	assert_string_equal(forge_ignore_name(FORGE_IGNORE_NO_NEW_COMMITS),
			    "no_new_commits");
	assert_null(forge_ignore_name(FORGE_IGNORE_NONE));
	assert_string_equal(forge_event_type_name(FORGE_EVENT_PULL_REQUEST),
			    "pull_request");
}

static void
test_skip_ci(void **state)
{
	(void)state;
	assert_true(forge_skip_ci("fix [skip ci]"));
	assert_true(forge_skip_ci("[ci skip] docs"));
	assert_true(forge_skip_ci("title\n\nbody [Skip CI]"));
	assert_false(forge_skip_ci("skip ci"));
	assert_false(forge_skip_ci("[skip-ci]"));
	assert_false(forge_skip_ci("[skip ci"));
	assert_false(forge_skip_ci(""));
	assert_false(forge_skip_ci(NULL));
}

/* ---- GitHub -------------------------------------------------------- */

static void
test_github_push(void **state)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	char *body, *err = NULL;
	size_t len;

	(void)state;
	body = load("github-push.json", &len);
	hset(&h, "X-GitHub-Event", "push");
	hset(&h, "X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	assert_int_equal(forge_parse(FORGE_GITHUB, hget, &h,
				     "application/json; charset=utf-8", body,
				     len, &ev, &err), 0);
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_int_equal(ev->ignored, FORGE_IGNORE_NONE);
	assert_string_equal(ev->event, "push");
	assert_string_equal(ev->delivery,
			    "72d3162e-cc78-11e3-81ab-4c9367dc0958");
	assert_string_equal(ev->repo, "Codertocat/Hello-World");
	assert_string_equal(ev->clone_url,
			    "https://github.com/Codertocat/Hello-World.git");
	assert_string_equal(ev->ref, "refs/heads/master");
	assert_string_equal(ev->branch, "master");
	assert_null(ev->tag);
	assert_string_equal(ev->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
	/* A new branch: before is all zeros, and still names the push. */
	assert_string_equal(ev->before, "0000000000000000000000000000000000000000");
	assert_string_equal(ev->message, "Initial commit");
	assert_int_equal(ev->pr, 0);
	assert_false(ev->fork);
	assert_null(ev->env);
	assert_null(ev->action);
	forge_event_free(ev);
	free(body);

	ev = parse_fixture(FORGE_GITHUB, "push",
			   "github-push-existing-branch.json");
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_null(ev->delivery);
	assert_string_equal(ev->repo, "baxterthehacker/public-repo");
	assert_string_equal(ev->clone_url,
			    "https://github.com/baxterthehacker/public-repo.git");
	assert_string_equal(ev->ref, "refs/heads/changes");
	assert_string_equal(ev->branch, "changes");
	assert_string_equal(ev->sha, "0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c");
	assert_string_equal(ev->message, "Update README.md");
	forge_event_free(ev);
}

static void
test_github_push_tag(void **state)
{
	struct forge_event *ev;

	(void)state;
	ev = parse_fixture(FORGE_GITHUB, "push", "github-push-tag.json");
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->repo, "Codertocat/Hello-World");
	assert_string_equal(ev->clone_url,
			    "https://octocoders.github.io/Codertocat/Hello-World.git");
	assert_string_equal(ev->ref, "refs/tags/simple-tag");
	assert_string_equal(ev->tag, "simple-tag");
	assert_null(ev->branch);
	assert_string_equal(ev->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
	assert_string_equal(ev->message, "Adding a .gitignore file");
	forge_event_free(ev);
}

static void
test_github_push_deleted(void **state)
{
	struct forge_event *ev;
	char *body;

	(void)state;
	/* The fixture deletes a tag. */
	ev = parse_fixture(FORGE_GITHUB, "push", "github-push-delete.json");
	assert_ignored(ev, FORGE_IGNORE_DELETED);
	assert_string_equal(ev->ref, "refs/tags/simple-tag");
	assert_string_equal(ev->tag, "simple-tag");
	assert_string_equal(ev->repo, "Codertocat/Hello-World");
	assert_null(ev->sha);
	forge_event_free(ev);

	/* A branch deletion has the same shape with refs/heads/. */
	body = edit("github-push-delete.json", "ref",
		    cJSON_CreateString("refs/heads/feature/x"));
	ev = parse_str(FORGE_GITHUB, "push", body);
	assert_ignored(ev, FORGE_IGNORE_DELETED);
	assert_string_equal(ev->branch, "feature/x");
	forge_event_free(ev);
	free(body);

	/* The zero `after` alone decides, without `deleted`. */
	body = edit("github-push-delete.json", "deleted", NULL);
	ev = parse_str(FORGE_GITHUB, "push", body);
	assert_ignored(ev, FORGE_IGNORE_DELETED);
	forge_event_free(ev);
	free(body);
}

static void
test_github_push_ignored(void **state)
{
	struct forge_event *ev;
	char *body;

	(void)state;
	body = edit("github-push.json", "head_commit.message",
		    cJSON_CreateString("Initial commit\n\n[skip ci] docs only"));
	ev = parse_str(FORGE_GITHUB, "push", body);
	assert_ignored(ev, FORGE_IGNORE_SKIP_CI);
	assert_string_equal(ev->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
	assert_string_equal(ev->branch, "master");
	forge_event_free(ev);
	free(body);

	body = edit("github-push-existing-branch.json", "head_commit.message",
		    cJSON_CreateString("[CI SKIP] Update README.md"));
	ev = parse_str(FORGE_GITHUB, "push", body);
	assert_ignored(ev, FORGE_IGNORE_SKIP_CI);
	forge_event_free(ev);
	free(body);

	/* A ref that did not move. */
	body = edit("github-push-existing-branch.json", "before",
		    cJSON_CreateString("0d1a26e67d8f5eaf1f6ba5c57fc3c7d91ac0fd1c"));
	ev = parse_str(FORGE_GITHUB, "push", body);
	assert_ignored(ev, FORGE_IGNORE_NO_NEW_COMMITS);
	forge_event_free(ev);
	free(body);

	/* Neither a branch nor a tag. */
	body = edit("github-push.json", "ref",
		    cJSON_CreateString("refs/notes/commits"));
	ev = parse_str(FORGE_GITHUB, "push", body);
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	forge_event_free(ev);
	free(body);

	/* Other events keep the repository for matching. */
	ev = parse_fixture(FORGE_GITHUB, "issues", "github-push.json");
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	assert_string_equal(ev->event, "issues");
	assert_string_equal(ev->repo, "Codertocat/Hello-World");
	forge_event_free(ev);
}

static void
test_github_ping(void **state)
{
	struct forge_event *ev;

	(void)state;
	ev = parse_fixture(FORGE_GITHUB, "ping", "github-ping.json");
	assert_int_equal(ev->type, FORGE_EVENT_PING);
	assert_int_equal(ev->ignored, FORGE_IGNORE_NONE);
	assert_string_equal(ev->repo, "Octocoders/Hello-World");
	assert_null(ev->sha);
	forge_event_free(ev);
}

/*
 * One parse for repository and event (the daemon's path without
 * ?project=): the same event as forge_parse(), the same refusals.
 */
static void
test_payload_once(void **state)
{
	struct forge_payload *pl = NULL;
	struct forge_event *ev = NULL, *want;
	struct hdrs h = {.n = 0};
	const char *repo;
	char *err = NULL, *body;
	size_t len;

	(void)state;
	body = load("github-push.json", &len);
	want = parse_ok(FORGE_GITHUB, "push", body, len);
	hset(&h, "X-GitHub-Event", "push");
	hset(&h, "X-GitHub-Delivery", "d-1");
	assert_int_equal(forge_payload_parse(FORGE_GITHUB, JSON, body, len, &pl,
					     &err), 0);
	assert_null(err);
	assert_int_equal(forge_payload_repo(pl, &repo, &err), 0);
	assert_string_equal(repo, want->repo);
	assert_int_equal(forge_parse_payload(FORGE_GITHUB, hget, &h, pl, &ev,
					     &err), 0);
	assert_int_equal(ev->type, want->type);
	assert_string_equal(ev->sha, want->sha);
	assert_string_equal(ev->ref, want->ref);
	assert_string_equal(ev->branch, want->branch);
	assert_string_equal(ev->before, want->before);
	assert_string_equal(ev->clone_url, want->clone_url);
	assert_string_equal(ev->delivery, "d-1");
	forge_event_free(ev);
	/* Read for another forge: refused, not read by the wrong parser. */
	assert_int_equal(forge_parse_payload(FORGE_GITEA, hget, &h, pl, &ev,
					     &err), -EINVAL);
	assert_null(ev);
	free(err);
	/* The headers are still checked, after the body was read. */
	h.n = 0;
	assert_int_equal(forge_parse_payload(FORGE_GITHUB, hget, &h, pl, &ev,
					     &err), -EINVAL);
	assert_string_equal(err, "no X-GitHub-Event header");
	assert_null(ev);
	free(err);
	forge_payload_free(pl);
	forge_event_free(want);
	free(body);
	/* The media type and the JSON are refused as forge_parse_repo does. */
	assert_int_equal(forge_payload_parse(FORGE_GITHUB, "text/plain", "{}", 2,
					     &pl, &err), -EPROTONOSUPPORT);
	assert_null(pl);
	free(err);
	assert_int_equal(forge_payload_parse(FORGE_GITEA, JSON, "{\"a\":", 5,
					     &pl, &err), -EINVAL);
	assert_string_equal(err, "malformed JSON at byte 4");
	assert_null(pl);
	free(err);
	/* A repository name that could be an option is refused. */
	body = edit("github-push.json", "repository.full_name",
		    cJSON_CreateString("-x/y"));
	assert_int_equal(forge_payload_parse(FORGE_GITHUB, JSON, body,
					     strlen(body), &pl, &err), 0);
	assert_int_equal(forge_payload_repo(pl, &repo, &err), -EINVAL);
	assert_null(repo);
	assert_non_null(err);
	free(err);
	forge_payload_free(pl);
	free(body);
}

/*
 * forge_parse() and forge_payload_parse() build only the members the
 * parsers read (src/forge/prune.c), and leave to cJSON whatever it is not
 * sure cJSON reads the same way: they agree with forge_parse_whole() on
 * each of these bodies, errors included.
 */
static void
payload_agrees(const char *body, int want_rc, const char *want_sha)
{
	struct forge_payload *pl = NULL;
	struct forge_event *ev = NULL, *ref = NULL, *ev3 = NULL;
	struct hdrs h = {.n = 0};
	char *err = NULL, *err2 = NULL, *err3 = NULL;
	size_t len = strlen(body);
	int rc, rc2, rc3;

	hset(&h, "X-GitHub-Event", "push");
	rc = forge_parse_whole(FORGE_GITHUB, hget, &h, JSON, body, len, &ref,
			       &err);
	rc2 = forge_payload_parse(FORGE_GITHUB, JSON, body, len, &pl, &err2);
	if (rc2 == 0)
		rc2 = forge_parse_payload(FORGE_GITHUB, hget, &h, pl, &ev, &err2);
	rc3 = forge_parse(FORGE_GITHUB, hget, &h, JSON, body, len, &ev3, &err3);
	if (rc != want_rc || rc2 != want_rc || rc3 != want_rc)
		fail_msg("%s: %d (%s), %d (%s) and %d (%s), expected %d", body,
			 rc, err, rc2, err2, rc3, err3, want_rc);
	if (rc < 0) {
		assert_string_equal(err, err2);
		assert_string_equal(err, err3);
	} else if (want_sha != NULL) {
		assert_string_equal(ref->sha, want_sha);
		assert_string_equal(ev->sha, want_sha);
		assert_string_equal(ev3->sha, want_sha);
	}
	free(err);
	free(err2);
	free(err3);
	forge_event_free(ev);
	forge_event_free(ev3);
	forge_event_free(ref);
	forge_payload_free(pl);
}

static void
test_payload_pruned(void **state)
{
#define REPO "\"repository\":{\"full_name\":\"o/r\",\"clone_url\":\"https://h/o/r\"}"
#define A40 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define B40 "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	(void)state;
	/* The plain case, and members the parsers never read skipped. */
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"after\":\"" A40
		       "\",\"sender\":{\"x\":[1,2,{\"y\":null}]}}", 0, A40);
	/* A duplicate member: the first one counts, as in cJSON's tree. */
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"after\":\"" A40
		       "\",\"after\":\"" B40 "\"}", 0, A40);
	/* cJSON refuses a lone surrogate, also where nobody reads. */
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"after\":\"" A40
		       "\",\"x\":\"\\udc00\"}", -EINVAL, NULL);
	/* cJSON takes a control byte for white space and "01" for 1. */
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"after\":\"" A40
		       "\",\"x\":01,\x01\"y\":2}", 0, A40);
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"after\":\"" A40
		       "\",\"x\":+1}", -EINVAL, NULL);
	/* A number past 63 characters is left to cJSON, which takes it. */
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"after\":\"" A40
		       "\",\"x\":1234567890123456789012345678901234567890"
		       "1234567890123456789012345678901234567890}", 0, A40);
	/* An escaped member name is compared as cJSON decodes it. */
	payload_agrees("{" REPO ",\"ref\":\"refs/heads/m\",\"\\u0061fter\":\""
		       A40 "\"}", 0, A40);
	/* A member of the wrong shape reads as cJSON's does. */
	payload_agrees("{\"repository\":[{\"full_name\":\"o/r\"}],\"ref\":"
		       "\"refs/heads/m\",\"after\":\"" A40 "\"}", -EINVAL, NULL);
	/* Data after the document, and a document cut short. */
	payload_agrees("{" REPO "} x", -EINVAL, NULL);
	payload_agrees("{" REPO ",\"ref\":", -EINVAL, NULL);
#undef REPO
#undef A40
#undef B40
}

/* The repository, read before the signature: only media type and JSON. */
static void
test_parse_repo(void **state)
{
	char *repo = (void *)1, *err = NULL, *body;
	size_t len;

	(void)state;
	/* A payload that forge_parse() refuses still names its repository. */
	body = edit("gitlab-push.json", "project.git_http_url", NULL);
	assert_int_equal(forge_parse_repo(FORGE_GITLAB, JSON, body, strlen(body),
					  &repo, &err), 0);
	assert_null(err);
	assert_string_equal(repo, "mike/diaspora");
	free(repo);
	free(body);
	body = load("github-ping.json", &len);
	assert_int_equal(forge_parse_repo(FORGE_GITHUB, JSON, body, len, &repo,
					  &err), 0);
	assert_string_equal(repo, "Octocoders/Hello-World");
	free(repo);
	free(body);
	/* None named (an organization's hook), and generic never names one. */
	assert_int_equal(forge_parse_repo(FORGE_GITHUB, JSON, "{\"zen\":\"x\"}",
					  11, &repo, &err), 0);
	assert_null(repo);
	assert_int_equal(forge_parse_repo(FORGE_GENERIC, JSON, "{}", 2, &repo,
					  &err), 0);
	assert_null(repo);
	assert_int_equal(forge_parse_repo(FORGE_GITHUB, "text/plain", "{}", 2,
					  &repo, &err), -EPROTONOSUPPORT);
	assert_non_null(err);
	free(err);
	assert_int_equal(forge_parse_repo(FORGE_GITEA, JSON, "{\"a\":", 5,
					  &repo, &err), -EINVAL);
	assert_string_equal(err, "malformed JSON at byte 4");
	free(err);
	body = edit("github-push.json", "repository.full_name",
		    cJSON_CreateString("-x/y"));
	assert_int_equal(forge_parse_repo(FORGE_GITHUB, JSON, body, strlen(body),
					  &repo, &err), -EINVAL);
	assert_null(repo);
	free(err);
	free(body);
}

static void
test_github_pull_request(void **state)
{
	struct forge_event *ev;
	char *body;

	(void)state;
	ev = parse_fixture(FORGE_GITHUB, "pull_request",
			   "github-pull_request-opened.json");
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_string_equal(ev->action, "opened");
	assert_int_equal(ev->pr, 2);
	assert_string_equal(ev->ref, "refs/pull/2/head");
	assert_string_equal(ev->branch, "changes");
	assert_string_equal(ev->base_branch, "master");
	assert_string_equal(ev->sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
	assert_string_equal(ev->repo, "Codertocat/Hello-World");
	assert_string_equal(ev->clone_url,
			    "https://github.com/Codertocat/Hello-World.git");
	assert_false(ev->fork);
	assert_null(ev->tag);
	forge_event_free(ev);

	ev = parse_fixture(FORGE_GITHUB, "pull_request",
			   "github-pull_request-synchronize.json");
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_string_equal(ev->action, "synchronize");
	assert_int_equal(ev->pr, 2);
	assert_string_equal(ev->sha, "ec26c3e57ca3a959ca5aad62de7213c562f8c821");
	assert_string_equal(ev->branch, "changes");
	forge_event_free(ev);

	/* From a fork: another head repository; the ref to fetch is still
	 * the base repository's, and so is the clone URL. */
	body = edit("github-pull_request-opened.json",
		    "pull_request.head.repo.id", cJSON_CreateNumber(99));
	ev = parse_str(FORGE_GITHUB, "pull_request", body);
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_true(ev->fork);
	assert_string_equal(ev->ref, "refs/pull/2/head");
	assert_string_equal(ev->clone_url,
			    "https://github.com/Codertocat/Hello-World.git");
	forge_event_free(ev);
	free(body);

	/* The fork was deleted: head.repo is null; in doubt, a fork. */
	body = edit("github-pull_request-opened.json", "pull_request.head.repo",
		    cJSON_CreateNull());
	ev = parse_str(FORGE_GITHUB, "pull_request", body);
	assert_true(ev->fork);
	forge_event_free(ev);
	free(body);

	body = edit("github-pull_request-opened.json", "action",
		    cJSON_CreateString("closed"));
	ev = parse_str(FORGE_GITHUB, "pull_request", body);
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	assert_string_equal(ev->action, "closed");
	assert_int_equal(ev->pr, 2);
	forge_event_free(ev);
	free(body);

	/* Gitea's spelling is not GitHub's. */
	body = edit("github-pull_request-opened.json", "action",
		    cJSON_CreateString("synchronized"));
	ev = parse_str(FORGE_GITHUB, "pull_request", body);
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	forge_event_free(ev);
	free(body);

	body = edit("github-pull_request-synchronize.json", "before",
		    cJSON_CreateString("ec26c3e57ca3a959ca5aad62de7213c562f8c821"));
	ev = parse_str(FORGE_GITHUB, "pull_request", body);
	assert_ignored(ev, FORGE_IGNORE_NO_NEW_COMMITS);
	forge_event_free(ev);
	free(body);
}

/* Percent-encodes everything but alphanumerics, as a browser form does. */
static char *
form_encode(const char *prefix, const char *json, size_t len)
{
	struct buf b;
	size_t i;

	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%spayload=", prefix), 0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)json[i];

		if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		    (c >= 'A' && c <= 'Z'))
			assert_int_equal(buf_append(&b, &json[i], 1), 0);
		else if (c == ' ')
			assert_int_equal(buf_append(&b, "+", 1), 0);
		else
			assert_int_equal(buf_printf(&b, "%%%02X", c), 0);
	}
	return buf_steal(&b);
}

static void
test_github_form(void **state)
{
	static const char ct[] = "application/x-www-form-urlencoded";
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	char *json, *form, *err = NULL;
	size_t len;

	(void)state;
	json = load("github-push.json", &len);
	form = form_encode("other=1&", json, len);
	hset(&h, "X-GitHub-Event", "push");
	assert_int_equal(forge_parse(FORGE_GITHUB, hget, &h, ct, form,
				     strlen(form), &ev, &err), 0);
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
	/* A new branch: before is all zeros, and still names the push. */
	assert_string_equal(ev->before, "0000000000000000000000000000000000000000");
	assert_string_equal(ev->message, "Initial commit");
	assert_string_equal(ev->clone_url,
			    "https://github.com/Codertocat/Hello-World.git");
	forge_event_free(ev);

	parse_fails(FORGE_GITHUB, "push", ct, "a=1&b=2", 7, -EINVAL,
		    "the form body has no 'payload' field");
	parse_fails(FORGE_GITHUB, "push", ct, "payload=%7", 10, -EINVAL,
		    "malformed form body: a bad %-escape");
	parse_fails(FORGE_GITHUB, "push", ct, "payload=%7B", 11, -EINVAL,
		    "malformed JSON at byte 0");
	/* GitLab and generic take JSON only. */
	parse_fails(FORGE_GITLAB, "Push Hook", ct, form, strlen(form),
		    -EPROTONOSUPPORT,
		    "Content-Type 'application/x-www-form-urlencoded' is not "
		    "application/json");
	free(form);
	free(json);
}

/* ---- GitLab -------------------------------------------------------- */

static void
test_gitlab_push(void **state)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	char *body, *err = NULL;
	size_t len;

	(void)state;
	body = load("gitlab-push.json", &len);
	hset(&h, "X-Gitlab-Event", "Push Hook");
	hset(&h, "X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e");
	assert_int_equal(forge_parse(FORGE_GITLAB, hget, &h, JSON, body, len,
				     &ev, &err), 0);
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->delivery,
			    "13792a34-cac6-4fda-95a8-c58e00a3954e");
	assert_string_equal(ev->repo, "mike/diaspora");
	assert_string_equal(ev->clone_url, "http://example.com/mike/diaspora.git");
	assert_string_equal(ev->ref, "refs/heads/master");
	assert_string_equal(ev->branch, "master");
	assert_string_equal(ev->sha, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
	/* The commit whose id is checkout_sha, not the first one. */
	assert_string_equal(ev->message, "fixed readme");
	forge_event_free(ev);

	/* Idempotency-Key is preferred when both are sent. */
	hset(&h, "Idempotency-Key", "key-1");
	assert_int_equal(forge_parse(FORGE_GITLAB, hget, &h, JSON, body, len,
				     &ev, &err), 0);
	assert_string_equal(ev->delivery, "key-1");
	assert_string_equal(ev->before, "95790bf891e76fee5e1747ab589903a6a1f80f22");
	forge_event_free(ev);

	/* A signed webhook's webhook-id beats both: the signature covers it,
	 * so a replay under a fresh Idempotency-Key is the same delivery. */
	hset(&h, "webhook-id", "msg_2Kp");
	assert_int_equal(forge_parse(FORGE_GITLAB, hget, &h, JSON, body, len,
				     &ev, &err), 0);
	assert_string_equal(ev->delivery, "msg_2Kp");
	forge_event_free(ev);
	free(body);

	ev = parse_fixture(FORGE_GITLAB, "Tag Push Hook", "gitlab-tag-push.json");
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->repo, "jsmith/example");
	assert_string_equal(ev->clone_url,
			    "http://example.com/jsmith/example.git");
	assert_string_equal(ev->ref, "refs/tags/v1.0.0");
	assert_string_equal(ev->tag, "v1.0.0");
	assert_null(ev->branch);
	assert_string_equal(ev->sha, "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7");
	assert_null(ev->message);
	forge_event_free(ev);
}

static void
test_gitlab_push_ignored(void **state)
{
	struct forge_event *ev;
	char *body, *body2;
	cJSON *tmp;

	(void)state;
	body = edit("gitlab-push.json", "commits.1.message",
		    cJSON_CreateString("fixed readme [ci skip]"));
	ev = parse_str(FORGE_GITLAB, "Push Hook", body);
	assert_ignored(ev, FORGE_IGNORE_SKIP_CI);
	forge_event_free(ev);
	free(body);

	/* [skip ci] in another commit of the push is not the head's. */
	body = edit("gitlab-push.json", "commits.0.message",
		    cJSON_CreateString("[skip ci] older"));
	ev = parse_str(FORGE_GITLAB, "Push Hook", body);
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	forge_event_free(ev);
	free(body);

	/* A deletion: after all zeros, checkout_sha null. */
	body = edit("gitlab-push.json", "after",
		    cJSON_CreateString("0000000000000000000000000000000000000000"));
	tmp = cJSON_Parse(body);
	cJSON_ReplaceItemInObjectCaseSensitive(tmp, "checkout_sha",
					       cJSON_CreateNull());
	body2 = cJSON_PrintUnformatted(tmp);
	cJSON_Delete(tmp);
	ev = parse_str(FORGE_GITLAB, "Push Hook", body2);
	assert_ignored(ev, FORGE_IGNORE_DELETED);
	assert_string_equal(ev->branch, "master");
	forge_event_free(ev);
	free(body);
	free(body2);

	ev = parse_fixture(FORGE_GITLAB, "Note Hook", "gitlab-push.json");
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	assert_string_equal(ev->repo, "mike/diaspora");
	forge_event_free(ev);
}

static void
test_gitlab_merge_request(void **state)
{
	struct forge_event *ev;
	char *body;

	(void)state;
	ev = parse_fixture(FORGE_GITLAB, "Merge Request Hook",
			   "gitlab-merge-request.json");
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_string_equal(ev->action, "open");
	assert_int_equal(ev->pr, 1); /* the iid, not the id 99 */
	assert_string_equal(ev->ref, "refs/merge-requests/1/head");
	assert_string_equal(ev->branch, "ms-viewport");
	assert_string_equal(ev->base_branch, "master");
	assert_string_equal(ev->sha, "da1560886d4f094c3e6c9ef40349f7d38b5d27d7");
	assert_string_equal(ev->message, "fixed readme");
	assert_string_equal(ev->repo, "gitlabhq/gitlab-test");
	assert_string_equal(ev->clone_url,
			    "http://example.com/gitlabhq/gitlab-test.git");
	assert_false(ev->fork);
	forge_event_free(ev);

	body = edit("gitlab-merge-request.json",
		    "object_attributes.source_project_id",
		    cJSON_CreateNumber(15));
	ev = parse_str(FORGE_GITLAB, "Merge Request Hook", body);
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_true(ev->fork);
	assert_string_equal(ev->ref, "refs/merge-requests/1/head");
	forge_event_free(ev);
	free(body);

	/* An update without oldrev changed no code (a title, a label). */
	body = edit("gitlab-merge-request.json", "object_attributes.action",
		    cJSON_CreateString("update"));
	ev = parse_str(FORGE_GITLAB, "Merge Request Hook", body);
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	assert_string_equal(ev->action, "update");
	forge_event_free(ev);
	free(body);

	body = edit("gitlab-merge-request.json", "object_attributes.oldrev",
		    cJSON_CreateString("95790bf891e76fee5e1747ab589903a6a1f80f22"));
	{
		cJSON *r = cJSON_Parse(body);
		char *b2;

		cJSON_ReplaceItemInObjectCaseSensitive(
		    cJSON_GetObjectItemCaseSensitive(r, "object_attributes"),
		    "action", cJSON_CreateString("update"));
		b2 = cJSON_PrintUnformatted(r);
		cJSON_Delete(r);
		ev = parse_str(FORGE_GITLAB, "Merge Request Hook", b2);
		assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
		assert_string_equal(ev->action, "update");
		forge_event_free(ev);
		free(b2);
	}
	free(body);

	body = edit("gitlab-merge-request.json", "object_attributes.action",
		    cJSON_CreateString("close"));
	ev = parse_str(FORGE_GITLAB, "Merge Request Hook", body);
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	forge_event_free(ev);
	free(body);

	body = edit("gitlab-merge-request.json",
		    "object_attributes.last_commit.message",
		    cJSON_CreateString("wip [skip ci]"));
	ev = parse_str(FORGE_GITLAB, "Merge Request Hook", body);
	assert_ignored(ev, FORGE_IGNORE_SKIP_CI);
	forge_event_free(ev);
	free(body);
}

/* ---- Gitea / Forgejo ----------------------------------------------- */

static void
test_gitea_push(void **state)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	char *body, *err = NULL;
	size_t len;

	(void)state;
	ev = parse_fixture(FORGE_GITEA, "push", "gitea-push.json");
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->repo, "gitea/webhooks");
	assert_string_equal(ev->clone_url,
			    "http://localhost:3000/gitea/webhooks.git");
	assert_string_equal(ev->ref, "refs/heads/develop");
	assert_string_equal(ev->branch, "develop");
	assert_string_equal(ev->sha, "bffeb74224043ba2feb48d137756c8a9331c449a");
	assert_string_equal(ev->message, "Webhooks Yay!");
	forge_event_free(ev);

	/* Forgejo's own headers. */
	body = load("gitea-push.json", &len);
	hset(&h, "X-Forgejo-Event", "push");
	hset(&h, "X-Forgejo-Delivery", "f6266f16-1bf3-46a5-9ea4-602e06ead473");
	assert_int_equal(forge_parse(FORGE_GITEA, hget, &h, JSON, body, len,
				     &ev, &err), 0);
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->delivery,
			    "f6266f16-1bf3-46a5-9ea4-602e06ead473");
	forge_event_free(ev);
	free(body);

	body = edit("gitea-push.json", "commits.0.message",
		    cJSON_CreateString("Webhooks Yay! [skip ci]"));
	ev = parse_str(FORGE_GITEA, "push", body);
	assert_ignored(ev, FORGE_IGNORE_SKIP_CI);
	forge_event_free(ev);
	free(body);

	/* Without the commit's id in the list, the last commit speaks. */
	body = edit("gitea-push.json", "commits.0.id",
		    cJSON_CreateString("1111111111111111111111111111111111111111"));
	ev = parse_str(FORGE_GITEA, "push", body);
	assert_string_equal(ev->message, "Webhooks Yay!");
	forge_event_free(ev);
	free(body);

	ev = parse_fixture(FORGE_GITEA, "create", "gitea-push.json");
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	forge_event_free(ev);
	/* Gitea has no ping. */
	ev = parse_fixture(FORGE_GITEA, "ping", "gitea-push.json");
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	forge_event_free(ev);
}

static void
test_gitea_pull_request(void **state)
{
	struct forge_event *ev;
	char *body;

	(void)state;
	ev = parse_fixture(FORGE_GITEA, "pull_request", "gitea-pull_request.json");
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_string_equal(ev->action, "opened");
	assert_int_equal(ev->pr, 4);
	assert_string_equal(ev->ref, "refs/pull/4/head");
	assert_string_equal(ev->branch, "test-branch");
	assert_string_equal(ev->base_branch, "master");
	assert_string_equal(ev->sha, "01efc1fe09d4fba25397a386a6c623fd12eadd79");
	assert_string_equal(ev->repo, "kostekIV/test");
	assert_string_equal(ev->clone_url, "https://try.gitea.io/kostekIV/test.git");
	assert_false(ev->fork);
	forge_event_free(ev);

	ev = parse_fixture(FORGE_GITEA, "pull_request",
			   "gitea-pull_request-synchronized.json");
	assert_int_equal(ev->type, FORGE_EVENT_PULL_REQUEST);
	assert_string_equal(ev->action, "synchronized");
	assert_int_equal(ev->pr, 2);
	assert_string_equal(ev->ref, "refs/pull/2/head");
	assert_string_equal(ev->branch, "test-patch-1");
	assert_string_equal(ev->base_branch, "main");
	assert_string_equal(ev->sha, "788ed8d02d3b7fcfcf6386dbcbca696aa1d4dc25");
	assert_string_equal(ev->repo, "Test-CI/multi-line-secrets");
	assert_string_equal(ev->clone_url,
			    "http://127.0.0.1:3000/Test-CI/multi-line-secrets.git");
	assert_false(ev->fork); /* head.repo_id == base.repo_id */
	forge_event_free(ev);

	body = edit("gitea-pull_request-synchronized.json",
		    "pull_request.head.repo_id", cJSON_CreateNumber(7));
	ev = parse_str(FORGE_GITEA, "pull_request", body);
	assert_true(ev->fork);
	forge_event_free(ev);
	free(body);

	/* GitHub's spelling is not Gitea's. */
	body = edit("gitea-pull_request.json", "action",
		    cJSON_CreateString("synchronize"));
	ev = parse_str(FORGE_GITEA, "pull_request", body);
	assert_ignored(ev, FORGE_IGNORE_EVENT_NOT_HANDLED);
	forge_event_free(ev);
	free(body);
}

/* ---- generic ------------------------------------------------------- */

static void
test_generic(void **state)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	const char *body;
	char *err = NULL;

	(void)state;
	body = "{\"ref\": \"main\", \"commit\": "
	       "\"6113728F27AE82C7B1A177C8D03F9E96E0ADF246\", "
	       "\"env\": {\"DEPLOY\": \"staging\", \"_X1\": \"a=b\"}}";
	hset(&h, "X-Pipewright-Delivery", "d-1");
	assert_int_equal(forge_parse(FORGE_GENERIC, hget, &h, JSON, body,
				     strlen(body), &ev, &err), 0);
	assert_int_equal(ev->type, FORGE_EVENT_PUSH);
	assert_string_equal(ev->delivery, "d-1");
	assert_string_equal(ev->ref, "refs/heads/main");
	assert_string_equal(ev->branch, "main");
	assert_string_equal(ev->sha, "6113728f27ae82c7b1a177c8d03f9e96e0adf246");
	assert_null(ev->repo);
	assert_non_null(ev->env);
	assert_string_equal(ev->env[0], "DEPLOY=staging");
	assert_string_equal(ev->env[1], "_X1=a=b");
	assert_null(ev->env[2]);
	forge_event_free(ev);

	ev = parse_str(FORGE_GENERIC, NULL,
		       "{\"ref\": \"refs/tags/v1.2\", \"commit\": "
		       "\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\"}");
	assert_string_equal(ev->tag, "v1.2");
	assert_null(ev->branch);
	assert_null(ev->env);
	forge_event_free(ev);

	parse_str_fails(FORGE_GENERIC, NULL, "{\"ref\": \"main\"}",
			"missing 'commit' in generic payload");
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"refs/notes/x\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\"}",
			"'ref' in generic payload is neither a branch nor a tag");
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"main\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
			"\"env\": {\"1X\": \"v\"}}",
			"'env' in generic payload: '1X' is not a variable name");
	/* Names quoted in errors (and so in the log) are made printable. */
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"main\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
			"\"env\": {\"A\\nB\\u00e9\": \"v\"}}",
			"'env' in generic payload: 'A?B?" "?' is not a variable "
			"name");
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"main\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
			"\"env\": {\"N\": 3}}",
			"'env.N' in generic payload is not a string");
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"main\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
			"\"env\": {\"PIPEWRIGHT_FORK\": \"false\"}}",
			"'env.PIPEWRIGHT_FORK' in generic payload: PIPEWRIGHT "
			"and PIPEWRIGHT_* names are reserved");
	/* Every job gets PIPEWRIGHT=true; a delivery cannot unset it. */
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"main\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
			"\"env\": {\"PIPEWRIGHT\": \"false\"}}",
			"'env.PIPEWRIGHT' in generic payload: PIPEWRIGHT "
			"and PIPEWRIGHT_* names are reserved");
	parse_str_fails(FORGE_GENERIC, NULL,
			"{\"ref\": \"main\", \"commit\": "
			"\"6113728f27ae82c7b1a177c8d03f9e96e0adf246\", "
			"\"env\": [\"A=1\"]}",
			"'env' in generic payload is not an object");
}

/* ---- errors -------------------------------------------------------- */

static void
test_parse_errors(void **state)
{
	struct hdrs h = {.n = 0};
	struct forge_event *ev = NULL;
	char *body, *err = NULL;
	size_t len;

	(void)state;
	body = load("github-push.json", &len);
	parse_fails(FORGE_GITHUB, "push", "text/plain", body, len,
		    -EPROTONOSUPPORT,
		    "Content-Type 'text/plain' is not application/json or "
		    "application/x-www-form-urlencoded");
	parse_fails(FORGE_GITLAB, "Push Hook", "text/\tplain", body, len,
		    -EPROTONOSUPPORT,
		    "Content-Type 'text/?plain' is not application/json");
	parse_fails(FORGE_GITHUB, "push", NULL, body, len, -EPROTONOSUPPORT,
		    "no Content-Type: expected application/json or "
		    "application/x-www-form-urlencoded");
	parse_fails(FORGE_GITHUB, NULL, JSON, body, len, -EINVAL,
		    "no X-GitHub-Event header");
	parse_fails(FORGE_GITEA, NULL, JSON, body, len, -EINVAL,
		    "no X-Gitea-Event or X-Forgejo-Event header");
	parse_fails(FORGE_GITLAB, NULL, JSON, body, len, -EINVAL,
		    "no X-Gitlab-Event header");
	parse_fails(FORGE_GITHUB, "push", JSON, body, 100, -EINVAL,
		    "malformed JSON at byte 99");
	parse_fails(FORGE_GITHUB, "push", JSON, "", 0, -EINVAL,
		    "empty body: expected a JSON object");
	parse_fails(FORGE_GITHUB, "push", JSON, "{} x", 4, -EINVAL,
		    "malformed JSON: data after the document at byte 3");
	parse_fails(FORGE_GITHUB, "push", JSON, "[1]", 3, -EINVAL,
		    "the payload is not a JSON object");
	/* A NUL inside the body is not the end of it. */
	parse_fails(FORGE_GITHUB, "push", JSON, "{}\0{}", 5, -EINVAL,
		    "malformed JSON: data after the document at byte 2");

	hset(&h, "X-GitHub-Event", "push");
	hset(&h, "X-GitHub-Delivery", "bad id");
	assert_int_equal(forge_parse(FORGE_GITHUB, hget, &h, JSON, body, len,
				     &ev, &err), -EINVAL);
	assert_null(ev);
	assert_string_equal(err, "X-GitHub-Delivery is not a delivery id (1 to "
			    "128 printable characters)");
	free(err);
	free(body);

	body = edit("github-push.json", "after", NULL);
	parse_str_fails(FORGE_GITHUB, "push", body,
			"missing 'after' in push payload");
	free(body);
	body = edit("github-push.json", "after", cJSON_CreateNumber(5));
	parse_str_fails(FORGE_GITHUB, "push", body,
			"'after' in push payload is not a string");
	free(body);
	body = edit("github-push.json", "after",
		    cJSON_CreateString("--upload-pack=touch /tmp/x"));
	parse_str_fails(FORGE_GITHUB, "push", body,
			"'after' in push payload is not a commit id");
	free(body);
	body = edit("github-push.json", "ref",
		    cJSON_CreateString("refs/heads/../../etc"));
	parse_str_fails(FORGE_GITHUB, "push", body,
			"'ref' in push payload is not a valid ref");
	free(body);
	body = edit("github-push.json", "ref",
		    cJSON_CreateString("refs/heads/-x main"));
	parse_str_fails(FORGE_GITHUB, "push", body,
			"'ref' in push payload is not a valid ref");
	free(body);
	body = edit("github-push.json", "repository", cJSON_CreateString("x"));
	parse_str_fails(FORGE_GITHUB, "push", body,
			"missing 'repository.full_name' in push payload");
	free(body);
	body = edit("github-push.json", "repository.full_name",
		    cJSON_CreateString("acme/app\n2024-01-01 forged log line"));
	parse_str_fails(FORGE_GITHUB, "push", body,
			"the repository name or clone URL in the push payload "
			"holds a control character or starts with '-'");
	free(body);
	body = edit("gitlab-merge-request.json", "project.git_http_url",
		    cJSON_CreateString("--upload-pack=touch /tmp/x"));
	parse_str_fails(FORGE_GITLAB, "Merge Request Hook", body,
			"the repository name or clone URL in the merge request "
			"payload holds a control character or starts with '-'");
	free(body);
	body = edit("github-pull_request-opened.json", "number",
		    cJSON_CreateString("2"));
	parse_str_fails(FORGE_GITHUB, "pull_request", body,
			"'number' in pull_request payload is not a positive "
			"integer");
	free(body);
	body = edit("github-pull_request-opened.json", "number",
		    cJSON_CreateNumber(2.5));
	parse_str_fails(FORGE_GITHUB, "pull_request", body,
			"'number' in pull_request payload is not a positive "
			"integer");
	free(body);
	body = edit("github-pull_request-opened.json", "pull_request.head.sha",
		    NULL);
	parse_str_fails(FORGE_GITHUB, "pull_request", body,
			"missing 'pull_request.head.sha' in pull_request "
			"payload");
	free(body);
	body = edit("github-pull_request-opened.json", "pull_request.head.ref",
		    cJSON_CreateString("-oops"));
	parse_str_fails(FORGE_GITHUB, "pull_request", body,
			"'pull_request.head.ref' in pull_request payload is not "
			"a valid branch name");
	free(body);
	body = edit("gitlab-push.json", "checkout_sha", cJSON_CreateNull());
	parse_str_fails(FORGE_GITLAB, "Push Hook", body,
			"missing 'checkout_sha' in push payload");
	free(body);
	body = edit("gitlab-tag-push.json", "project", NULL);
	parse_str_fails(FORGE_GITLAB, "Tag Push Hook", body,
			"missing 'project.path_with_namespace' in tag push "
			"payload");
	free(body);
	body = edit("gitlab-merge-request.json", "object_attributes.last_commit",
		    NULL);
	parse_str_fails(FORGE_GITLAB, "Merge Request Hook", body,
			"missing 'object_attributes.last_commit.id' in merge "
			"request payload");
	free(body);
	body = edit("gitlab-merge-request.json", "object_attributes",
		    cJSON_CreateArray());
	parse_str_fails(FORGE_GITLAB, "Merge Request Hook", body,
			"'object_attributes' in merge request payload is not an "
			"object");
	free(body);
}

/* Every prefix of every fixture, under every forge: an error or an event,
 * never a crash (ASan and UBSan builds watch). */
static void
test_parse_truncated(void **state)
{
	static const char *const files[] = {
	    "github-push.json", "gitlab-merge-request.json",
	    "gitea-pull_request-synchronized.json"};
	static const char *const events[] = {"push", "Merge Request Hook",
					     "pull_request"};
	static const enum forge_kind kinds[] = {FORGE_GITHUB, FORGE_GITLAB,
						FORGE_GITEA};
	struct hdrs h = {.n = 0};
	struct forge_event *ev;
	char *body, *err, *nest;
	size_t f, len, n, ok;

	(void)state;
	for (f = 0; f < PW_ARRAY_LEN(files); f++) {
		body = load(files[f], &len);
		hset(&h, event_header(kinds[f]), events[f]);
		ok = 0;
		for (n = 0; n <= len; n++) {
			char *copy = xmalloc(n + 1); /* ASan sees overreads */

			memcpy(copy, body, n);
			ev = NULL;
			err = NULL;
			if (forge_parse(kinds[f], hget, &h, JSON, copy, n, &ev,
					&err) == 0) {
				assert_null(err);
				ok++;
			} else {
				assert_null(ev);
				assert_non_null(err);
			}
			forge_event_free(ev);
			free(err);
			free(copy);
		}
		/* Only the whole document (and it with its last newline
		 * cut) parses. */
		assert_in_range(ok, 1, 2);
		free(body);
	}

	/* Deeper than cJSON's nesting limit. */
	nest = xmalloc(20001);
	memset(nest, '[', 10000);
	memset(nest + 10000, ']', 10000);
	nest[20000] = '\0';
	parse_fails(FORGE_GITHUB, "push", JSON, nest, 20000, -EINVAL,
		    "malformed JSON at byte 1000");
	free(nest);
}

/* ---- signatures ---------------------------------------------------- */

static void
hex(const unsigned char *b, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

/* "sha256=" (prefix) + hex HMAC-SHA256(secret, data) into out. */
static void
sign_hex(const char *prefix, const char *secret, const void *data,
	 size_t len, char out[80])
{
	unsigned char mac[32];

	assert_int_equal(auth_hmac_sha256(secret, strlen(secret), data, len,
					  mac), 0);
	strcpy(out, prefix);
	hex(mac, 32, out + strlen(prefix));
}

static void
verify_fails(enum forge_kind k, struct hdrs *h, const char *body,
	     size_t len, const struct forge_secrets *s, uint64_t now,
	     const char *want)
{
	char *why = NULL;

	assert_int_equal(forge_verify(k, hget, h, body, len, s, now, &why),
			 -EACCES);
	assert_non_null(why);
	assert_string_equal(why, want);
	free(why);
}

static void
verify_ok(enum forge_kind k, struct hdrs *h, const char *body, size_t len,
	  const struct forge_secrets *s, uint64_t now)
{
	char *why = NULL;
	int rc = forge_verify(k, hget, h, body, len, s, now, &why);

	if (rc != 0)
		fail_msg("forge_verify: %d %s", rc, why);
	assert_null(why);
}

static void
test_verify_github(void **state)
{
	static const char secret[] = "It's a Secret to Everybody";
	struct forge_secrets s = {secret, strlen(secret), NULL, false};
	struct hdrs h = {.n = 0};
	char sig[80], *body;
	size_t len;

	(void)state;
	/* GitHub's documented vector. */
	hset(&h, "X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce98"
	     "4b8a37570b6d7586c22c46f4379c8b043e17");
	verify_ok(FORGE_GITHUB, &h, "Hello, World!", 13, &s, NOW_MS);
	verify_fails(FORGE_GITHUB, &h, "Hello, World?", 13, &s, NOW_MS,
		     "X-Hub-Signature-256 does not match");
	hset(&h, "X-Hub-Signature-256", "sha256=857107ea0eb2509fc211221cce98"
	     "4b8a37570b6d7586c22c46f4379c8b043e17");
	verify_fails(FORGE_GITHUB, &h, "Hello, World!", 13, &s, NOW_MS,
		     "X-Hub-Signature-256 does not match");
	hset(&h, "X-Hub-Signature-256", "757107ea0eb2509fc211221cce98"
	     "4b8a37570b6d7586c22c46f4379c8b043e17");
	verify_fails(FORGE_GITHUB, &h, "Hello, World!", 13, &s, NOW_MS,
		     "X-Hub-Signature-256 is not sha256=<64 hex digits>");
	hset(&h, "X-Hub-Signature-256", "sha256=757107");
	verify_fails(FORGE_GITHUB, &h, "Hello, World!", 13, &s, NOW_MS,
		     "X-Hub-Signature-256 is not sha256=<64 hex digits>");

	/* A real payload, signed here. */
	body = load("github-push.json", &len);
	sign_hex("sha256=", "hook secret", body, len, sig);
	s.secret = "hook secret";
	s.secret_len = strlen(s.secret);
	hset(&h, "X-Hub-Signature-256", sig);
	verify_ok(FORGE_GITHUB, &h, body, len, &s, NOW_MS);
	verify_fails(FORGE_GITHUB, &h, body, len - 1, &s, NOW_MS,
		     "X-Hub-Signature-256 does not match");
	s.secret = "hook secreT";
	verify_fails(FORGE_GITHUB, &h, body, len, &s, NOW_MS,
		     "X-Hub-Signature-256 does not match");
	/* insecure changes nothing once there is a secret. */
	s.insecure = true;
	verify_fails(FORGE_GITHUB, &h, body, len, &s, NOW_MS,
		     "X-Hub-Signature-256 does not match");
	s.insecure = false;

	h.n = 0;
	s.secret = "hook secret";
	verify_fails(FORGE_GITHUB, &h, body, len, &s, NOW_MS,
		     "no X-Hub-Signature-256 header");

	/* No secret: refused, unless the project says insecure. */
	s.secret = NULL;
	s.secret_len = 0;
	verify_fails(FORGE_GITHUB, &h, body, len, &s, NOW_MS,
		     "the project has no webhook secret; set webhook_secret or "
		     "webhook_insecure: true");
	verify_fails(FORGE_GITHUB, &h, body, len, NULL, NOW_MS,
		     "the project has no webhook secret; set webhook_secret or "
		     "webhook_insecure: true");
	/* A GitLab signing secret is no secret for GitHub. */
	s.signing_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
	verify_fails(FORGE_GITHUB, &h, body, len, &s, NOW_MS,
		     "the project has no webhook secret; set webhook_secret or "
		     "webhook_insecure: true");
	s.insecure = true;
	verify_ok(FORGE_GITHUB, &h, body, len, &s, NOW_MS);
	free(body);
}

static void
test_verify_gitea_generic(void **state)
{
	struct forge_secrets s = {"gitea-secret", 12, NULL, false};
	struct hdrs h = {.n = 0};
	char sig[80], *body, *form;
	size_t len;

	(void)state;
	body = load("gitea-push.json", &len);
	sign_hex("", "gitea-secret", body, len, sig);
	hset(&h, "X-Gitea-Signature", sig);
	verify_ok(FORGE_GITEA, &h, body, len, &s, NOW_MS);
	/* Gitea signs the JSON also when it sends it as a form. */
	form = form_encode("", body, len);
	verify_ok(FORGE_GITEA, &h, form, strlen(form), &s, NOW_MS);
	s.secret = "gitea-secreT";
	verify_fails(FORGE_GITEA, &h, body, len, &s, NOW_MS,
		     "X-Gitea-Signature does not match");
	verify_fails(FORGE_GITEA, &h, form, strlen(form), &s, NOW_MS,
		     "X-Gitea-Signature does not match");
	s.secret = "gitea-secret";
	/* No prefix for Gitea. */
	memmove(sig + 7, sig, strlen(sig) + 1);
	memcpy(sig, "sha256=", 7);
	verify_fails(FORGE_GITEA, &h, body, len, &s, NOW_MS,
		     "X-Gitea-Signature is not <64 hex digits>");

	/* Forgejo; an empty X-Gitea-Signature (Gitea sends one when the hook
	 * has no secret) does not hide it. */
	h.n = 0;
	sign_hex("", "gitea-secret", body, len, sig);
	hset(&h, "X-Gitea-Signature", "");
	hset(&h, "X-Forgejo-Signature", sig);
	verify_ok(FORGE_GITEA, &h, body, len, &s, NOW_MS);
	h.n = 0;
	verify_fails(FORGE_GITEA, &h, body, len, &s, NOW_MS,
		     "no X-Gitea-Signature header");

	/* generic */
	h.n = 0;
	sign_hex("sha256=", "gitea-secret", body, len, sig);
	hset(&h, "X-Pipewright-Signature", sig);
	verify_ok(FORGE_GENERIC, &h, body, len, &s, NOW_MS);
	verify_fails(FORGE_GENERIC, &h, body, len - 2, &s, NOW_MS,
		     "X-Pipewright-Signature does not match");
	free(form);
	free(body);
}

/* v1,<base64 HMAC-SHA256(key, id.ts.body)> */
static void
sign_gitlab(const unsigned char *key, size_t klen, const char *id,
	    const char *ts, const char *body, size_t len, char out[64])
{
	unsigned char mac[32];
	struct buf b;

	buf_init(&b, 0);
	assert_int_equal(buf_printf(&b, "%s.%s.", id, ts), 0);
	assert_int_equal(buf_append(&b, body, len), 0);
	assert_int_equal(auth_hmac_sha256(key, klen, b.data, b.len, mac), 0);
	buf_free(&b);
	strcpy(out, "v1,");
	assert_int_equal(EVP_EncodeBlock((unsigned char *)out + 3, mac, 32), 44);
}

static void
test_verify_gitlab(void **state)
{
	static const unsigned char key[24] = "0123456789abcdefghijklmn";
	char whsec[64] = "whsec_", sig[64], bad[64], both[160], ts[32];
	struct forge_secrets s = {"tok", 3, NULL, false};
	struct hdrs h = {.n = 0};
	char *body;
	size_t len;

	(void)state;
	body = load("gitlab-push.json", &len);

	/* X-Gitlab-Token: the secret itself. */
	hset(&h, "X-Gitlab-Token", "tok");
	verify_ok(FORGE_GITLAB, &h, body, len, &s, NOW_MS);
	hset(&h, "X-Gitlab-Token", "tok ");
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "X-Gitlab-Token does not match");
	hset(&h, "X-Gitlab-Token", "to");
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "X-Gitlab-Token does not match");
	h.n = 0;
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "no X-Gitlab-Token header");

	/* Signed webhooks. */
	assert_int_equal(EVP_EncodeBlock((unsigned char *)whsec + 6, key, 24),
			 32);
	s.secret = NULL;
	s.secret_len = 0;
	s.signing_secret = whsec;
	snprintf(ts, sizeof(ts), "%llu", NOW_MS / 1000 - 30);
	sign_gitlab(key, sizeof(key), "msg_1", ts, body, len, sig);
	hset(&h, "webhook-id", "msg_1");
	hset(&h, "webhook-timestamp", ts);
	hset(&h, "webhook-signature", sig);
	verify_ok(FORGE_GITLAB, &h, body, len, &s, NOW_MS);
	verify_fails(FORGE_GITLAB, &h, body, len - 1, &s, NOW_MS,
		     "webhook-signature does not match");
	/* The id is signed too. */
	hset(&h, "webhook-id", "msg_2");
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "webhook-signature does not match");
	hset(&h, "webhook-id", "msg_1");

	/* Several signatures (a key rotation): one must match. */
	sign_gitlab((const unsigned char *)"other key", 9, "msg_1", ts, body,
		    len, bad);
	snprintf(both, sizeof(both), "%s v1a,xyz %s", bad, sig);
	hset(&h, "webhook-signature", both);
	verify_ok(FORGE_GITLAB, &h, body, len, &s, NOW_MS);
	hset(&h, "webhook-signature", bad);
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "webhook-signature does not match");
	/* The same signature under another version is not one. */
	snprintf(both, sizeof(both), "v2,%s", sig + 3);
	hset(&h, "webhook-signature", both);
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "webhook-signature does not match");
	hset(&h, "webhook-signature", sig);

	/* Timestamps more than five minutes away, either way. */
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS + 271000,
		     "stale webhook-timestamp: 301 s old");
	verify_ok(FORGE_GITLAB, &h, body, len, &s, NOW_MS + 269000);
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS - 331000,
		     "webhook-timestamp is 301 s in the future");
	hset(&h, "webhook-timestamp", "17e8");
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "webhook-timestamp is not a number of seconds");
	hset(&h, "webhook-timestamp", ts);

	/* A bad signing secret is refused, not read as an empty key. */
	s.signing_secret = "whsec_not base64!";
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "webhook_signing_secret is not whsec_<base64>");
	/* Without the prefix the key reads the same. */
	s.signing_secret = whsec + 6;
	verify_ok(FORGE_GITLAB, &h, body, len, &s, NOW_MS);
	s.signing_secret = whsec;

	/* Both configured: the token serves when no signature is sent, a
	 * wrong signature is refused even with the right token. */
	s.secret = "tok";
	s.secret_len = 3;
	hset(&h, "X-Gitlab-Token", "tok");
	hset(&h, "webhook-signature", bad);
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "webhook-signature does not match");
	hset(&h, "webhook-signature", "");
	verify_ok(FORGE_GITLAB, &h, body, len, &s, NOW_MS);
	h.n = 0;
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "no webhook-signature or X-Gitlab-Token header");
	s.secret = NULL;
	s.secret_len = 0;
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "no webhook-signature header");
	hset(&h, "webhook-signature", sig);
	verify_fails(FORGE_GITLAB, &h, body, len, &s, NOW_MS,
		     "no webhook-id header");
	free(body);
}

/*
 * Which deliveries' failures are worth counting: only those checked by a
 * secret sent as-is.  The proof forge_verify() would check decides, not
 * which headers happen to be there.
 */
static void
test_verify_guessable(void **state)
{
	struct forge_secrets s = {"tok", 3, NULL, false};
	struct hdrs h = {.n = 0};

	(void)state;
	hset(&h, "X-Gitlab-Token", "wrong");
	assert_true(forge_verify_guessable(FORGE_GITLAB, hget, &h, &s));
	/* The same header at another forge is not what is checked there. */
	assert_false(forge_verify_guessable(FORGE_GITHUB, hget, &h, &s));
	assert_false(forge_verify_guessable(FORGE_GITEA, hget, &h, &s));
	assert_false(forge_verify_guessable(FORGE_GENERIC, hget, &h, &s));
	/* HMAC schemes: never, whatever is sent. */
	hset(&h, "X-Hub-Signature-256", "sha256=00");
	assert_false(forge_verify_guessable(FORGE_GITHUB, hget, &h, &s));
	/* A signed GitLab delivery is checked by its MAC, token or not. */
	s.signing_secret = "whsec_MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1u";
	hset(&h, "webhook-signature", "v1,AAAA");
	assert_false(forge_verify_guessable(FORGE_GITLAB, hget, &h, &s));
	/* ...unless it sends no signature: then the token is checked. */
	hset(&h, "webhook-signature", "");
	assert_true(forge_verify_guessable(FORGE_GITLAB, hget, &h, &s));
	/* No token configured: nothing to guess. */
	s.secret = NULL;
	s.secret_len = 0;
	assert_false(forge_verify_guessable(FORGE_GITLAB, hget, &h, &s));
	/* No token sent: nothing was tried. */
	s.secret = "tok";
	s.secret_len = 3;
	h.n = 0;
	assert_false(forge_verify_guessable(FORGE_GITLAB, hget, &h, &s));
	assert_false(forge_verify_guessable(FORGE_GITLAB, hget, &h, NULL));
}

/* ---- commit status ------------------------------------------------- */

static cJSON *
body_json(const struct forge_request *r)
{
	cJSON *o = cJSON_Parse(r->body);

	assert_non_null(o);
	return o;
}

static void
assert_json_str(const cJSON *o, const char *key, const char *want)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (want == NULL) {
		assert_null(v);
		return;
	}
	assert_true(cJSON_IsString(v));
	assert_string_equal(v->valuestring, want);
}

#define SHA "6113728f27ae82c7b1a177c8d03f9e96e0adf246"

static void
test_status_requests(void **state)
{
	struct forge_status fs, good;
	struct forge_request r;
	cJSON *o;
	size_t n;

	(void)state;
	assert_string_equal(forge_default_api(FORGE_GITHUB),
			    "https://api.github.com");
	assert_string_equal(forge_default_api(FORGE_GITLAB),
			    "https://gitlab.com/api/v4");
	assert_null(forge_default_api(FORGE_GITEA));
	assert_null(forge_default_api(FORGE_GENERIC));

	fs = (struct forge_status){
		.forge_repo = "acme/app",
		.sha = SHA,
		.context = "pipewright/app",
		.run_status = "failed",
		.target_url = "https://ci.example.com/api/v1/runs/7",
		.description = "2 of 5 jobs failed",
	};
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), 0);
	assert_string_equal(r.method, "POST");
	assert_string_equal(r.url, "https://api.github.com/repos/acme/app/"
			    "statuses/" SHA);
	o = body_json(&r);
	assert_json_str(o, "state", "failure");
	assert_json_str(o, "context", "pipewright/app");
	assert_json_str(o, "target_url", "https://ci.example.com/api/v1/runs/7");
	assert_json_str(o, "description", "2 of 5 jobs failed");
	assert_json_str(o, "name", NULL);
	cJSON_Delete(o);
	for (n = 0; r.headers[n] != NULL; n++) {
		assert_null(strcasestr(r.headers[n], "authorization"));
		assert_null(strchr(r.headers[n], '\n'));
	}
	assert_string_equal(r.headers[0], "Content-Type: application/json");
	assert_string_equal(r.headers[2], "Accept: application/vnd.github+json");
	forge_request_free(&r);

	/* Gitea: the same path, no default API, a trailing slash dropped. */
	fs = (struct forge_status){
		.forge_repo = "acme/app",
		.sha = SHA,
		.context = "pipewright/app",
		.run_status = "success",
	};
	assert_int_equal(forge_status_request(FORGE_GITEA, &fs, &r), -EINVAL);
	fs = (struct forge_status){
		.api_base = "https://git.example.com/api/v1/",
		.forge_repo = "acme/app",
		.sha = SHA,
		.context = "pipewright/app/build",
		.run_status = "canceled",
	};
	assert_int_equal(forge_status_request(FORGE_GITEA, &fs, &r), 0);
	assert_string_equal(r.url, "https://git.example.com/api/v1/repos/acme/"
			    "app/statuses/" SHA);
	o = body_json(&r);
	assert_json_str(o, "state", "error");
	assert_json_str(o, "context", "pipewright/app/build");
	assert_json_str(o, "target_url", NULL);
	assert_json_str(o, "description", NULL);
	cJSON_Delete(o);
	forge_request_free(&r);

	/* GitLab: the whole path url-encoded, "name" for the context. */
	fs = (struct forge_status){
		.forge_repo = "group/sub group/app.x",
		.sha = SHA,
		.context = "pipewright/app",
		.run_status = "running",
		.target_url = "https://ci/runs/1",
		.description = "running",
	};
	assert_int_equal(forge_status_request(FORGE_GITLAB, &fs, &r), 0);
	assert_string_equal(r.url, "https://gitlab.com/api/v4/projects/group%2F"
			    "sub%20group%2Fapp.x/statuses/" SHA);
	o = body_json(&r);
	assert_json_str(o, "state", "running");
	assert_json_str(o, "name", "pipewright/app");
	assert_json_str(o, "context", NULL);
	cJSON_Delete(o);
	forge_request_free(&r);

	/* Refused inputs: a good request with one field wrong. */
	good = (struct forge_status){
		.forge_repo = "acme/app",
		.sha = SHA,
		.context = "c",
		.run_status = "success",
	};
	fs = good;
	fs.run_status = "paused";
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), -EINVAL);
	fs = good;
	fs.forge_repo = "a/b/c";
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), -EINVAL);
	fs = good;
	fs.forge_repo = "app";
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), -EINVAL);
	fs = good;
	fs.sha = "HEAD";
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), -EINVAL);
	fs = good;
	fs.api_base = "ftp://x";
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), -EINVAL);
	fs = good;
	fs.api_base = "https://x";
	assert_int_equal(forge_status_request(FORGE_GENERIC, &fs, &r), -EINVAL);
	assert_null(r.url);
}

static void
test_status_states(void **state)
{
	static const char *const table[][3] = {
	    /* run, GitHub and Gitea, GitLab */
	    {"queued", "pending", "pending"},
	    {"running", "pending", "running"},
	    {"success", "success", "success"},
	    {"failed", "failure", "failed"},
	    {"canceled", "error", "canceled"},
	    {"error", "error", "failed"},
	};
	struct forge_status fs;
	struct forge_request r;
	size_t i;
	cJSON *o;

	(void)state;
	for (i = 0; i < PW_ARRAY_LEN(table); i++) {
		assert_string_equal(forge_status_state(FORGE_GITHUB,
						       table[i][0]), table[i][1]);
		assert_string_equal(forge_status_state(FORGE_GITEA, table[i][0]),
				    table[i][1]);
		assert_string_equal(forge_status_state(FORGE_GITLAB,
						       table[i][0]), table[i][2]);
		fs = (struct forge_status){
			.forge_repo = "a/b",
			.sha = SHA,
			.context = "c",
			.run_status = table[i][0],
		};
		assert_int_equal(forge_status_request(FORGE_GITLAB, &fs, &r), 0);
		o = body_json(&r);
		assert_json_str(o, "state", table[i][2]);
		cJSON_Delete(o);
		forge_request_free(&r);
	}
	assert_null(forge_status_state(FORGE_GITHUB, "pending"));
	assert_null(forge_status_state(FORGE_GENERIC, "success"));
}

static void
test_status_description(void **state)
{
	struct forge_status fs;
	struct forge_request r;
	char desc[200];
	const cJSON *d;
	cJSON *o;

	(void)state;
	/* 139 ASCII bytes then a 2-byte character: cut before it. */
	memset(desc, 'a', 139);
	strcpy(desc + 139, "\xc3\xa9tail");
	fs = (struct forge_status){
		.forge_repo = "a/b",
		.sha = SHA,
		.context = "c",
		.run_status = "success",
		.description = desc,
	};
	assert_int_equal(forge_status_request(FORGE_GITHUB, &fs, &r), 0);
	o = body_json(&r);
	d = cJSON_GetObjectItemCaseSensitive(o, "description");
	assert_true(cJSON_IsString(d));
	assert_int_equal(strlen(d->valuestring), 139);
	cJSON_Delete(o);
	forge_request_free(&r);
}

static void
test_auth_header_delivered(void **state)
{
	char *h = NULL;

	(void)state;
	assert_int_equal(forge_auth_header(FORGE_GITHUB, "ghp_x", &h), 0);
	assert_string_equal(h, "Authorization: Bearer ghp_x");
	free(h);
	assert_int_equal(forge_auth_header(FORGE_GITLAB, "glpat-x", &h), 0);
	assert_string_equal(h, "PRIVATE-TOKEN: glpat-x");
	free(h);
	assert_int_equal(forge_auth_header(FORGE_GITEA, "abc", &h), 0);
	assert_string_equal(h, "Authorization: token abc");
	free(h);
	assert_int_equal(forge_auth_header(FORGE_GITHUB, "a\r\nX-Evil: 1", &h),
			 -EINVAL);
	assert_null(h);
	assert_int_equal(forge_auth_header(FORGE_GITHUB, "", &h), -EINVAL);
	assert_int_equal(forge_auth_header(FORGE_GENERIC, "x", &h), -EINVAL);

	assert_true(forge_status_delivered(FORGE_GITHUB, 201, NULL));
	assert_true(forge_status_delivered(FORGE_GITEA, 200, "{}"));
	assert_false(forge_status_delivered(FORGE_GITHUB, 422, "{}"));
	assert_false(forge_status_delivered(FORGE_GITHUB, 500, NULL));
	assert_false(forge_status_delivered(FORGE_GITLAB, 401, NULL));
	assert_true(forge_status_delivered(FORGE_GITLAB, 400,
		    "{\"message\":\"Cannot transition status via :run from "
		    ":running (Reason(s): Status cannot transition via "
		    "\\\"run\\\")\"}"));
	assert_false(forge_status_delivered(FORGE_GITLAB, 400,
		     "{\"message\":\"400 Bad request - state is missing\"}"));
	assert_false(forge_status_delivered(FORGE_GITLAB, 400, NULL));
	/* Only GitLab says it that way. */
	assert_false(forge_status_delivered(FORGE_GITHUB, 400,
					    "Cannot transition status"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kind_names),
	    cmocka_unit_test(test_parse_repo),
	    cmocka_unit_test(test_skip_ci),
	    cmocka_unit_test(test_github_push),
	    cmocka_unit_test(test_github_push_tag),
	    cmocka_unit_test(test_github_push_deleted),
	    cmocka_unit_test(test_github_push_ignored),
	    cmocka_unit_test(test_github_ping),
	    cmocka_unit_test(test_github_pull_request),
	    cmocka_unit_test(test_github_form),
	    cmocka_unit_test(test_gitlab_push),
	    cmocka_unit_test(test_gitlab_push_ignored),
	    cmocka_unit_test(test_gitlab_merge_request),
	    cmocka_unit_test(test_gitea_push),
	    cmocka_unit_test(test_gitea_pull_request),
	    cmocka_unit_test(test_generic),
	    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_parse_truncated),
	    cmocka_unit_test(test_verify_github),
	    cmocka_unit_test(test_verify_gitea_generic),
	    cmocka_unit_test(test_verify_gitlab),
	    cmocka_unit_test(test_verify_guessable),
	    cmocka_unit_test(test_status_requests),
	    cmocka_unit_test(test_payload_once),
	    cmocka_unit_test(test_payload_pruned),
	    cmocka_unit_test(test_status_states),
	    cmocka_unit_test(test_status_description),
	    cmocka_unit_test(test_auth_header_delivered),
	};

	return cmocka_run_group_tests_name("forge", tests, NULL, NULL);
}
