/*
 * Webhooks: POST /hooks/{github,gitlab,gitea,forgejo,generic}.
 *
 * The project is ?project=NAME, else the one whose forge_repo matches the
 * payload's repository.  The signature is checked against that project's
 * secrets before the payload's fields are (401, no run, the attempt
 * logged); pings answer 200, also one that names no repository; ignored
 * events 202 {"ignored": REASON}; a push or pull request makes a run,
 * and the answer — 202 {"run", "url"} — comes only after the delivery
 * and its run are committed together.  A redelivery (same delivery id)
 * answers with the first run, and so does the same push (project, ref,
 * before, after) under another delivery id:
 * GitHub's and Gitea's signatures do not cover the id, so a captured push
 * could otherwise be replayed as a new run.
 *
 * The URL's forge must be the project's: its secret is checked only by
 * its own forge's scheme (a project without `forge` is generic).  GitLab's
 * X-Gitlab-Token is the secret itself, so without this a GitHub project's
 * HMAC key could be guessed online at /hooks/gitlab?project=NAME.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "pipewright/forge.h"
#include "pipewright/log.h"

static const char *
header(void *arg, const char *name)
{
	return http_request_header(arg, name);
}

struct hook {
	struct api *a;
	struct http_request *req; /* NULL once the client has gone */
};

static void
hook_abort(struct http_request *req, void *arg)
{
	struct hook *h = arg;

	(void)req;
	h->req = NULL;
}

static void
hook_done(int rc, uint64_t run, const char *message, void *arg)
{
	struct hook *h = arg;
	char *url, *body;

	if (h->req != NULL) {
		http_request_on_abort(h->req, NULL, NULL);
		if (rc < 0) {
			api_respond_errno(h->req, rc, message);
		} else {
			url = xasprintf("%s/api/v1/runs/%llu",
					api_public_url(h->a),
					(unsigned long long)run);
			body = xasprintf("{\"run\":%llu,\"url\":\"%s\"}",
					 (unsigned long long)run, url);
			http_respond_json(h->req, 202, body);
			free(body);
			free(url);
		}
	}
	free(h);
}

static void
ignored(struct http_request *req, const char *reason)
{
	char *body = xasprintf("{\"ignored\":\"%s\"}", reason);

	http_respond_json(req, 202, body);
	free(body);
}

static void
no_project(struct http_request *req, const char *repo)
{
	http_respond_error(req, 404, "not_found", "no project takes webhooks "
			   "of '%s'; name one with ?project=NAME",
			   repo != NULL ? repo : "?");
}

/* Answers a parse error: 415 for the content type, else 400. */
static void
parse_error(struct http_request *req, int rc, const char *err)
{
	if (rc == -EPROTONOSUPPORT)
		http_respond_error(req, 415, "unsupported_media_type", "%s", err);
	else
		http_respond_error(req, 400, "bad_request", "%s", err);
}

static int
verify(struct api *a, struct http_request *req, enum forge_kind kind,
       const struct config_project *p, const char *body, size_t len)
{
	enum forge_kind own = config_project_forge(p);
	const char *name = config_project_name(p);
	struct forge_secrets s;
	char *why = NULL;
	bool guessable;
	int rc;

	/*
	 * Refused like a bad signature: the caller learns the URL is wrong
	 * for the project, the log (for the admin) which one is right.  Not
	 * counted: no secret was compared, so nothing was guessed.
	 */
	if (kind != own) {
		log_warnx("webhook.refused forge=%s project=%s reason=\"the "
			  "project's forge is %s: its webhooks go to "
			  "/hooks/%s\"", forge_kind_name(kind),
			  config_project_name(p), forge_kind_name(own),
			  forge_kind_name(own));
		http_respond_error(req, 401, "unauthorized",
				   "the webhook's signature is not valid: the "
				   "project does not take %s webhooks",
				   forge_kind_name(kind));
		return -EACCES;
	}
	config_project_forge_secrets(p, &s);
	/*
	 * Only a secret sent as-is can be guessed: its failures are counted
	 * per (address, project), and a blocked pair is refused before the
	 * secret is compared.  MAC failures are never counted (guard.c).
	 */
	guessable = forge_verify_guessable(kind, header, req, &s);
	if (guessable && api_throttled(a, req, name))
		return -EPERM;
	rc = forge_verify(kind, header, req, body, len, &s, pw_now_ms(), &why);
	if (rc < 0) {
		if (guessable)
			api_auth_failed(a, req, name);
		log_warnx("webhook.refused forge=%s project=%s reason=\"%s\"",
			  forge_kind_name(kind), config_project_name(p), why);
		http_respond_error(req, 401, "unauthorized",
				   "the webhook's signature is not valid: %s", why);
	}
	free(why);
	return rc;
}

/* Every variable a webhook run starts with: the generic env, PR, fork. */
static char **
hook_env(const struct forge_event *ev)
{
	size_t n = 0, i;
	char **env;

	while (ev->env != NULL && ev->env[n] != NULL)
		n++;
	env = xcalloc(n + 3, sizeof(char *));
	for (i = 0; i < n; i++)
		env[i] = xstrdup(ev->env[i]);
	if (ev->pr > 0) {
		env[n++] = xasprintf("PIPEWRIGHT_PR=%llu",
				     (unsigned long long)ev->pr);
		env[n++] = xstrdup(ev->fork ? "PIPEWRIGHT_FORK=true" :
					      "PIPEWRIGHT_FORK=false");
	}
	return env;
}

void
api_hook(struct api *a, struct http_request *req, const char *actor)
{
	const struct config *c = api_config(a);
	const char *name = http_request_param(req, "forge");
	const char *pname = http_request_query(req, "project");
	const struct config_project *p = NULL;
	struct forge_event *ev = NULL;
	struct forge_payload *pl = NULL;
	struct api_trigger t = {0};
	enum forge_kind kind;
	const char *body, *branch, *repo = NULL;
	char *err = NULL, **env;
	struct hook *h;
	size_t len, i;
	int rc;

	(void)actor; /* none: the signature is checked below */
	body = http_request_body(req, &len);
	if (forge_kind_parse(name, &kind) < 0) {
		http_respond_error(req, 404, "not_found", "no webhook for '%s'; "
				   "expected github, gitlab, gitea, forgejo or "
				   "generic", name);
		return;
	}
	if (pname != NULL) {
		p = config_project_find(c, pname);
		if (p == NULL) {
			http_respond_error(req, 404, "not_found",
					   "no project '%s'", pname);
			return;
		}
	} else {
		/*
		 * Only the repository is acted on before the signature.  The
		 * JSON read for it is kept for the event's fields: one parse
		 * per delivery, not two (docs/internals/jobpath.md).
		 */
		rc = forge_payload_parse(kind, http_request_header(req, "Content-Type"),
					 body, len, &pl, &err);
		if (rc == 0)
			rc = forge_payload_repo(pl, &repo, &err);
		if (rc < 0) {
			parse_error(req, rc, err);
			free(err);
			goto out;
		}
		p = repo != NULL ? config_project_find_repo(c, kind, repo) : NULL;
		if (p == NULL && repo != NULL) {
			no_project(req, repo);
			goto out;
		}
	}
	if (p != NULL && verify(a, req, kind, p, body, len) < 0)
		goto out;
	if (pl != NULL)
		rc = forge_parse_payload(kind, header, req, pl, &ev, &err);
	else
		rc = forge_parse(kind, header, req,
				 http_request_header(req, "Content-Type"),
				 body, len, &ev, &err);
	if (rc < 0) {
		parse_error(req, rc, err);
		free(err);
		goto out;
	}
	/* A ping acts on nothing: one from a hook of no repository (an
	 * organization's) has no secret to check and is answered too. */
	if (p == NULL && ev->type != FORGE_EVENT_PING) {
		no_project(req, repo);
		goto out;
	}
	if (ev->type == FORGE_EVENT_PING) {
		http_respond_json(req, 200, "{\"pong\":true}");
		goto out;
	}
	if (ev->type == FORGE_EVENT_IGNORED) {
		ignored(req, forge_ignore_name(ev->ignored));
		goto out;
	}
	/* A PR is filtered by the branch it would merge into. */
	branch = ev->pr > 0 && ev->base_branch != NULL ? ev->base_branch :
							   ev->branch;
	if (branch != NULL && !config_project_runs_on_branch(p, branch)) {
		ignored(req, forge_ignore_name(FORGE_IGNORE_BRANCH_FILTERED));
		goto out;
	}
	env = hook_env(ev);
	t = (struct api_trigger){
		.project = config_project_name(p),
		.ref = ev->ref,
		.commit = ev->sha,
		.env = (const char *const *)env,
		.actor = "webhook",
		.trigger = "webhook",
		.branch = ev->branch,
		.pr = (int64_t)ev->pr,
		.fork = ev->fork,
		.forge = forge_kind_name(kind),
		.delivery = ev->delivery,
		.push = ev->type == FORGE_EVENT_PUSH,
		.before = ev->before,
	};
	h = xcalloc(1, sizeof(*h));
	h->a = a;
	h->req = req;
	http_request_on_abort(req, hook_abort, h);
	a->env.trigger(a->env.ctx, &t, hook_done, h);
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
out:
	forge_event_free(ev);
	forge_payload_free(pl);
}
