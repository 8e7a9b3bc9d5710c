/*
 * libFuzzer target for the webhook parsers and signature checks.  The
 * first byte picks the forge (bits 0-1), the event header among the ones
 * that forge sends (bits 2-3) and whether the body comes as GitHub's and
 * Gitea's form (bit 4); the rest is the body.  The other headers are
 * fixed, signatures included, so forge_verify() runs its MAC paths (and
 * fails) on every input.  Any bytes must give an event or an error with a
 * message, never a crash, leak or hang; an event must hold what forge.h
 * promises (a valid commit id, a PR ref for a PR).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "pipewright/forge.h"

static const char *const events[4][4] = {
	{"push", "pull_request", "ping", "issues"},
	{"Push Hook", "Tag Push Hook", "Merge Request Hook", "Note Hook"},
	{"push", "pull_request", "create", "push"},
	{"push", "push", "push", "push"},
};

struct fuzz_hdrs {
	const char *event;
};

static const char *
hget(void *arg, const char *name)
{
	static const struct {
		const char *name, *value;
	} fixed[] = {
		{"X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958"},
		{"X-Gitea-Delivery", "d-1"},
		{"X-Gitlab-Event-UUID", "13792a34-cac6-4fda-95a8-c58e00a3954e"},
		{"X-Pipewright-Delivery", "p-1"},
		{"X-Hub-Signature-256", "sha256=757107ea0eb2509fc211221cce984b8a"
					"37570b6d7586c22c46f4379c8b043e17"},
		{"X-Gitea-Signature", "757107ea0eb2509fc211221cce984b8a"
				      "37570b6d7586c22c46f4379c8b043e17"},
		{"X-Pipewright-Signature", "sha256=00"},
		{"X-Gitlab-Token", "not the secret"},
		{"webhook-id", "msg_1"},
		{"webhook-timestamp", "1700000000"},
		{"webhook-signature", "v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4= "
				      "v1a,x v1,="},
	};
	struct fuzz_hdrs *h = arg;
	size_t i;

	if (strcasecmp(name, "X-GitHub-Event") == 0 ||
	    strcasecmp(name, "X-Gitlab-Event") == 0 ||
	    strcasecmp(name, "X-Gitea-Event") == 0)
		return h->event;
	for (i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (strcasecmp(name, fixed[i].name) == 0)
			return fixed[i].value;
	return NULL;
}

static bool
sha_ok(const char *s)
{
	size_t n = strspn(s, "0123456789abcdef");

	return s[n] == '\0' && (n == 40 || n == 64);
}

static bool
text_ok(const char *s)
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

static void
check_event(const struct forge_event *ev)
{
	char **e;

	if (!text_ok(ev->repo) || !text_ok(ev->clone_url))
		__builtin_trap();
	if (ev->type == FORGE_EVENT_IGNORED) {
		if (forge_ignore_name(ev->ignored) == NULL)
			__builtin_trap();
		return;
	}
	if (ev->ignored != FORGE_IGNORE_NONE)
		__builtin_trap();
	if (ev->type == FORGE_EVENT_PING)
		return;
	if (ev->sha == NULL || !sha_ok(ev->sha) || ev->ref == NULL ||
	    ev->ref[0] == '-')
		__builtin_trap();
	if (ev->type == FORGE_EVENT_PULL_REQUEST &&
	    (ev->pr == 0 || ev->branch == NULL || ev->base_branch == NULL ||
	     (strncmp(ev->ref, "refs/pull/", 10) != 0 &&
	      strncmp(ev->ref, "refs/merge-requests/", 20) != 0)))
		__builtin_trap();
	if (ev->type == FORGE_EVENT_PUSH &&
	    (ev->branch == NULL) == (ev->tag == NULL))
		__builtin_trap();
	if (ev->kind != FORGE_GENERIC &&
	    (ev->repo == NULL || ev->clone_url == NULL))
		__builtin_trap();
	for (e = ev->env; e != NULL && *e != NULL; e++)
		if (strchr(*e, '=') == NULL || strncmp(*e, "PIPEWRIGHT_", 11) == 0)
			__builtin_trap();
}

static bool
same(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

static void agree(const struct forge_event *ev,
		  const struct forge_event *want);

/*
 * The daemon's path without ?project= parses the body once
 * (forge_payload_*), building only the members the parsers read
 * (src/forge/prune.c): it must come to exactly what forge_parse_whole(),
 * which reads the whole tree, does, event for event, or fail where it
 * fails.
 */
static void
check_payload(enum forge_kind k, struct fuzz_hdrs *h, const char *ct,
	      const char *body, size_t len, const struct forge_event *want)
{
	struct forge_payload *pl = NULL;
	struct forge_event *ev = NULL;
	const char *repo;
	char *err = NULL;
	int rc;

	rc = forge_payload_parse(k, ct, body, len, &pl, &err);
	if ((rc == 0) != (pl != NULL) || (rc == 0) != (err == NULL))
		__builtin_trap();
	if (rc < 0) {
		if (want != NULL)
			__builtin_trap();
		free(err);
		return;
	}
	rc = forge_payload_repo(pl, &repo, &err);
	if ((rc == 0) != (err == NULL) ||
	    (want != NULL && (rc < 0 || !same(repo, want->repo))))
		__builtin_trap();
	free(err);
	err = NULL;
	rc = forge_parse_payload(k, hget, h, pl, &ev, &err);
	if ((rc == 0) != (want != NULL) || (rc == 0) != (ev != NULL))
		__builtin_trap();
	if (ev != NULL)
		agree(ev, want);
	forge_event_free(ev);
	free(err);
	forge_payload_free(pl);
}

/* forge_parse(), which builds only what it reads, agrees likewise. */
static void
check_parse(enum forge_kind k, struct fuzz_hdrs *h, const char *ct,
	    const char *body, size_t len, const struct forge_event *want)
{
	struct forge_event *ev = NULL;
	char *err = NULL;
	int rc;

	rc = forge_parse(k, hget, h, ct, body, len, &ev, &err);
	if ((rc == 0) != (want != NULL) || (rc == 0) != (ev != NULL) ||
	    (rc == 0) != (err == NULL))
		__builtin_trap();
	if (ev != NULL)
		agree(ev, want);
	forge_event_free(ev);
	free(err);
}

static void
agree(const struct forge_event *ev, const struct forge_event *want)
{
	size_t i;

	if (ev->type != want->type || ev->ignored != want->ignored ||
	    !same(ev->sha, want->sha) || !same(ev->ref, want->ref) ||
	    !same(ev->branch, want->branch) || !same(ev->tag, want->tag) ||
	    !same(ev->delivery, want->delivery) ||
	    !same(ev->before, want->before) ||
	    !same(ev->clone_url, want->clone_url) ||
	    !same(ev->repo, want->repo) ||
	    !same(ev->base_branch, want->base_branch) ||
	    !same(ev->message, want->message) ||
	    !same(ev->action, want->action) || ev->pr != want->pr ||
	    ev->fork != want->fork)
		__builtin_trap();
	for (i = 0; want->env != NULL && want->env[i] != NULL; i++)
		if (ev->env == NULL || !same(ev->env[i], want->env[i]))
			__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char secret[] = "It's a Secret to Everybody";
	struct forge_secrets s = {secret, sizeof(secret) - 1,
				  "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", false};
	struct forge_event *ev = NULL;
	struct fuzz_hdrs h;
	enum forge_kind k;
	const char *body, *ct;
	char *err = NULL, *why = NULL, *repo = NULL;
	size_t len;
	int rc;

	if (size < 1)
		return 0;
	k = (enum forge_kind)(data[0] & 3);
	h.event = events[k][(data[0] >> 2) & 3];
	ct = data[0] & 16 ? "application/x-www-form-urlencoded" :
	    "application/json; charset=utf-8";
	body = (const char *)data + 1;
	len = size - 1;

	rc = forge_parse_whole(k, hget, &h, ct, body, len, &ev, &err);
	if (rc == 0) {
		if (ev == NULL || err != NULL || ev->kind != k)
			__builtin_trap();
		check_event(ev);
	} else if (ev != NULL || err == NULL || strchr(err, '\n') != NULL) {
		__builtin_trap();
	}
	free(err);
	/* The repository read before the signature is the event's own. */
	rc = forge_parse_repo(k, ct, body, len, &repo, &err);
	if ((rc == 0) != (err == NULL) || (rc < 0 && repo != NULL) ||
	    (ev != NULL && (rc < 0 || (repo == NULL) != (ev->repo == NULL) ||
			    (repo != NULL && strcmp(repo, ev->repo) != 0))))
		__builtin_trap();
	free(repo);
	free(err);
	check_payload(k, &h, ct, body, len, ev);
	check_parse(k, &h, ct, body, len, ev);
	forge_event_free(ev);

	rc = forge_verify(k, hget, &h, body, len, &s, 1700000000000ULL, &why);
	if ((rc == 0) != (why == NULL))
		__builtin_trap();
	free(why);
	return 0;
}
