/*
 * forge: what the forges (GitHub, GitLab, Gitea/Forgejo, and a generic
 * format of our own) send to the webhooks and what they expect back for
 * commit statuses.  Pure functions from bytes to structs: no I/O, no
 * libuv, no clock (the caller passes the time), so that every path is
 * unit-tested and fuzzed.
 *
 * A delivery goes through three calls.  forge_parse_repo() reads only
 * the repository name the daemon matches against a project's forge_repo;
 * forge_verify() checks the signature with the matched project's secrets;
 * then forge_parse() turns the body and headers into a struct
 * forge_event: what to run (ref, commit, PR) or why nothing runs.  A
 * delivery is authenticated before its fields are checked, so a stranger
 * learns nothing about what a payload must hold (a 401, not a 400).
 *
 * Everything that reaches git or the environment (commit ids, ref names,
 * env names) is checked here: a commit is 40 or 64 hex digits, a ref
 * follows git's check-ref-format rules, so that no payload can smuggle an
 * option into a git command line.
 *
 * Errors: 0 or a negative errno.  -EINVAL is the HTTP answer 400,
 * -EPROTONOSUPPORT 415, -EACCES 401; the message strings (caller frees)
 * are written for the log and the JSON error.
 */
#ifndef PIPEWRIGHT_FORGE_H
#define PIPEWRIGHT_FORGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pipewright/util.h"

enum forge_kind {
	FORGE_GITHUB,
	FORGE_GITLAB,
	FORGE_GITEA,   /* Forgejo too: it speaks Gitea's format */
	FORGE_GENERIC, /* {"ref", "commit", "env"}, X-Pipewright-* headers */
};

/* "github", "gitlab", "gitea", "forgejo" (= gitea), "generic" → 0; -EINVAL. */
int forge_kind_parse(const char *s, enum forge_kind *out) PW_WUR;
/* "github", "gitlab", "gitea", "generic"; "?" for a value that is none. */
const char *forge_kind_name(enum forge_kind k);

/*
 * Returns the value of the request header `name` (as the forge spells it,
 * e.g. "X-GitHub-Event"), or NULL if the request has none.  The lookup is
 * case-insensitive: that is the callback's job.  The string must stay
 * valid during the forge_* call.
 */
typedef const char *(*forge_header_fn)(void *arg, const char *name);

/* ---- signatures ---------------------------------------------------- */

/* A project's webhook secrets, as config reads them.  Not copied. */
struct forge_secrets {
	const char *secret;         /* webhook_secret; NULL: none */
	size_t secret_len;
	const char *signing_secret; /* GitLab's "whsec_<base64>"; NULL: none */
	bool insecure;              /* webhook_insecure: accept unsigned
				     * deliveries when no secret is set */
};

/* How far a GitLab webhook-timestamp may be from now, either way. */
#define FORGE_TIMESTAMP_TOLERANCE_MS (5 * 60 * 1000)

/*
 * Checks that the delivery comes from the forge: 0, or -EACCES with *why
 * (caller frees) saying what failed, e.g. "X-Hub-Signature-256 does not
 * match", "no X-Hub-Signature-256 header", "stale webhook-timestamp".
 *
 *   GitHub  X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>
 *   Gitea   X-Gitea-Signature or X-Forgejo-Signature: <hex HMAC>
 *   GitLab  webhook-id/-timestamp/-signature ("v1,<base64 HMAC-SHA256 of
 *           id.timestamp.body>", key the base64 after "whsec_"; several
 *           space-separated signatures, one must match; timestamps more
 *           than 5 minutes from now_ms refused) when signing_secret is
 *           set and the headers are sent; else X-Gitlab-Token equal to
 *           secret
 *   generic X-Pipewright-Signature: sha256=<hex HMAC>
 *
 * body is the raw request body, as received (also when it is a form).
 * With no secret for the forge: 0 if insecure, else -EACCES.  With a
 * secret, insecure changes nothing.  Every comparison of a secret or MAC
 * is constant-time (auth_equal).
 */
int forge_verify(enum forge_kind k, forge_header_fn hdr, void *harg,
		 const char *body, size_t len, const struct forge_secrets *s,
		 uint64_t now_ms, char **why) PW_WUR;

/*
 * Whether forge_verify() checks this delivery by a secret sent as-is
 * (GitLab's X-Gitlab-Token) rather than by a MAC.  Such a secret can be
 * guessed online, one try a request, so its failures are worth counting;
 * a wrong HMAC-SHA256 teaches nothing about the key and is not.  False
 * for a delivery that presents no proof at all.
 */
bool forge_verify_guessable(enum forge_kind k, forge_header_fn hdr, void *harg,
			    const struct forge_secrets *s);

/* ---- events -------------------------------------------------------- */

enum forge_event_type {
	FORGE_EVENT_PUSH,         /* a branch or tag moved: run it */
	FORGE_EVENT_PULL_REQUEST, /* a PR/MR opened or given new commits */
	FORGE_EVENT_PING,         /* GitHub's hook test: answer 200 */
	FORGE_EVENT_IGNORED,      /* answer 202 {"ignored": reason} */
};

enum forge_ignore {
	FORGE_IGNORE_NONE,
	FORGE_IGNORE_DELETED,           /* the ref was deleted (all-zero after) */
	FORGE_IGNORE_SKIP_CI,           /* [skip ci] / [ci skip] in the message */
	FORGE_IGNORE_BRANCH_FILTERED,   /* set by the daemon, never by parse */
	FORGE_IGNORE_EVENT_NOT_HANDLED, /* another event or action */
	FORGE_IGNORE_NO_NEW_COMMITS,    /* the ref did not move (before == after) */
};

/* "deleted", "skip_ci", "branch_filtered", "event_not_handled",
 * "no_new_commits"; NULL for FORGE_IGNORE_NONE. */
const char *forge_ignore_name(enum forge_ignore r);
/* "push", "pull_request", "ping", "ignored". */
const char *forge_event_type_name(enum forge_event_type t);

/*
 * One delivery, parsed.  Every string is owned by the event (NULL when
 * the payload has no such thing); forge_event_free() frees them all.  An
 * ignored event keeps what could be read (repo, ref, sha, ...) for the
 * log and for project matching.
 */
struct forge_event {
	enum forge_kind kind;
	enum forge_event_type type;
	enum forge_ignore ignored; /* != NONE iff type == IGNORED */
	char *event;      /* the event header's value, e.g. "Push Hook" */
	char *action;     /* PR/MR action ("opened", "open", ...), or NULL */
	char *delivery;   /* the delivery id header, or NULL if none sent;
			   * GitLab: webhook-id first, the id its signature
			   * covers */
	char *repo;       /* repository.full_name / project.path_with_namespace:
			   * matched case-insensitively against forge_repo */
	char *clone_url;  /* the base repository's clone URL (never the fork's) */
	char *ref;        /* full ref: refs/heads/x, refs/tags/v1; a PR: the
			   * ref to fetch, refs/pull/N/head or
			   * refs/merge-requests/N/head */
	char *branch;     /* branch name (a PR: its source branch), or NULL */
	char *tag;        /* tag name for a tag push, or NULL */
	char *base_branch;/* a PR's target branch, or NULL */
	char *sha;        /* the commit to run: 40 or 64 lower-case hex */
	char *before;     /* a push's `before` (lower-case; all zeros for a
			   * new ref), NULL if none: with ref and sha it
			   * names the push, whatever the delivery id */
	char *message;    /* the head commit's message, or NULL */
	uint64_t pr;      /* PR number (GitLab: the MR's iid); 0: not a PR */
	bool fork;        /* PR from another repository: no secrets */
	char **env;       /* generic: "NAME=value" pairs, NULL-terminated;
			   * NULL for the other forges */
};

/*
 * Parses a delivery.  content_type is the Content-Type header (NULL if
 * none).  0 and *out (caller frees with forge_event_free); or
 *   -EPROTONOSUPPORT (415) the content type is not JSON (GitHub: nor a
 *                    form with the JSON in its `payload` field);
 *   -EINVAL (400)    malformed JSON or form, a missing event header, a
 *                    missing or mistyped field ("missing 'after' in push
 *                    payload"), a commit id or ref that is not one;
 * with *err (caller frees) saying which.  *out is NULL on error and *err
 * NULL on success.
 */
int forge_parse(enum forge_kind k, forge_header_fn hdr, void *harg,
		const char *content_type, const char *body, size_t len,
		struct forge_event **out, char **err) PW_WUR;

void forge_event_free(struct forge_event *ev);

/*
 * The repository a delivery names (the field forge_parse() puts into
 * ev->repo), read before anything else of the body, so that a delivery
 * without ?project= can be verified against its project's secret before
 * its fields are checked: 0 and *repo (caller frees; NULL if the payload
 * names none, and always for generic), or -EPROTONOSUPPORT / -EINVAL as
 * forge_parse() answers for the media type and the JSON, with *err.
 */
int forge_parse_repo(enum forge_kind k, const char *content_type,
		     const char *body, size_t len, char **repo,
		     char **err) PW_WUR;

/*
 * The same two steps over one parse of the body, for a delivery without
 * ?project= (the JSON is read once, not once for the repository and again
 * for the event: the parse and its free are most of a delivery's cost
 * after the HMAC).  forge_payload_parse() checks the media type and reads
 * the JSON, answering as forge_parse_repo() does; forge_payload_repo()
 * gives the repository (owned by the payload; NULL if it names none), or
 * -EINVAL as forge_parse_repo(); forge_parse_payload() is forge_parse()
 * over the payload already read (the event and delivery headers, then
 * the fields).  The payload is freed with forge_payload_free().
 */
struct forge_payload;
/*
 * forge_parse() and forge_payload_parse() build only the members of the
 * JSON the parsers read (src/forge/prune.c, docs/internals/forge.md).
 * forge_parse_whole() is forge_parse() over cJSON's whole tree: the
 * reference the fuzz target holds them to.
 */
int forge_parse_whole(enum forge_kind k, forge_header_fn hdr, void *harg,
		      const char *content_type, const char *body, size_t len,
		      struct forge_event **out, char **err) PW_WUR;
int forge_payload_parse(enum forge_kind k, const char *content_type,
			const char *body, size_t len,
			struct forge_payload **out, char **err) PW_WUR;
int forge_payload_repo(const struct forge_payload *pl, const char **repo,
		       char **err) PW_WUR;
int forge_parse_payload(enum forge_kind k, forge_header_fn hdr, void *harg,
			const struct forge_payload *pl,
			struct forge_event **out, char **err) PW_WUR;
void forge_payload_free(struct forge_payload *pl);

/* True if msg contains "[skip ci]" or "[ci skip]" (case-insensitive). */
bool forge_skip_ci(const char *msg);

/* ---- commit status ------------------------------------------------- */

/* One HTTP request to make; the notify module sends it with libcurl. */
struct forge_request {
	const char *method; /* "POST" (static) */
	char *url;
	char *body;         /* JSON */
	char **headers;     /* "Name: value" lines, NULL-terminated; the
			     * auth header is not among them */
};

/*
 * The forge's default API base: "https://api.github.com",
 * "https://gitlab.com/api/v4"; NULL for Gitea (always self-hosted: it
 * must be configured) and generic (no statuses).
 */
const char *forge_default_api(enum forge_kind k);

/*
 * The forge's state for a run status ("queued", "running", "success",
 * "failed", "canceled", "error"), from the table in docs/internals/
 * forge.md; NULL if the status or forge has none.
 */
const char *forge_status_state(enum forge_kind k, const char *run_status);

/* A commit status to post. */
struct forge_status {
	const char *api_base;     /* NULL: forge_default_api(k) */
	const char *forge_repo;   /* "owner/repo"; GitLab: "group/.../project" */
	const char *sha;          /* the commit */
	const char *context;      /* e.g. "pipewright/app" */
	const char *run_status;   /* "queued", "running", "success", ... */
	const char *target_url;   /* NULL: left out */
	const char *description;  /* NULL: left out; cut to 140 bytes */
};

/*
 * Fills *out (free with forge_request_free) with the commit-status call:
 *   GitHub, Gitea  POST {api}/repos/{owner}/{repo}/statuses/{sha}
 *                  {"state", "target_url", "description", "context"}
 *   GitLab         POST {api}/projects/{url-encoded forge_repo}/statuses/{sha}
 *                  {"state", "target_url", "description", "name"}
 * The description is cut at a character boundary (GitHub's limit).  0, or
 * -EINVAL for an unknown run status, a sha that is not one, a forge_repo
 * that is not "owner/repo" (GitLab: "group/.../project"), no context, no
 * API base, or the generic forge.
 */
int forge_status_request(enum forge_kind k, const struct forge_status *s,
			 struct forge_request *out) PW_WUR;

void forge_request_free(struct forge_request *r);

/*
 * The auth header line for the status token into *out (caller frees):
 * GitHub "Authorization: Bearer T", GitLab "PRIVATE-TOKEN: T", Gitea
 * "Authorization: token T".  -EINVAL if the token is empty or holds a
 * control character (no header injection) or the forge is generic.
 */
int forge_auth_header(enum forge_kind k, const char *token,
		      char **out) PW_WUR;

/*
 * True if the forge's answer means the status is recorded: any 2xx, and
 * GitLab's 400 "Cannot transition status" (the commit is already in that
 * or a later state).  body may be NULL.  Any other answer is a failure.
 */
bool forge_status_delivered(enum forge_kind k, int http_status,
			    const char *body);

#endif
