/*
 * GET /api/v1/outbox?state=&limit=&cursor=: the outbound calls (commit
 * statuses and notifications), newest first, so that calls that finally
 * failed can be seen (state=failed).  Rows hold no token: the auth header
 * and notification secrets are added at send time.
 *
 * Where a notification goes (a webhook's or Slack's URL, which often
 * carries a token of its own, an SMTP server) is for admin tokens only:
 * to read scope its `url` is null and `redacted` true.  Recipients are in
 * rows' bodies, which this listing never shows.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"
#include "pipewright/auth.h"

void
api_outbox(struct api *a, struct http_request *req, const char *actor)
{
	static const char *const states[] = {"pending", "delivered", "failed"};
	const char *state = http_request_query(req, "state");
	struct store_outbox **rows = NULL;
	uint64_t before, next = 0;
	size_t limit, n = 0, i;
	bool admin, hide;
	cJSON *o, *items;
	char *s;
	int rc;

	(void)actor;
	/* Only notification targets differ: ask once per listing. */
	admin = auth_check(a->env.store, http_request_header(req,
			   "Authorization"), AUTH_SCOPE_ADMIN, NULL) == 0;
	if (state != NULL && *state != '\0') {
		for (i = 0; i < PW_ARRAY_LEN(states); i++)
			if (strcmp(state, states[i]) == 0)
				break;
		if (i == PW_ARRAY_LEN(states)) {
			http_respond_error(req, 400, "bad_request",
					   "unknown state '%s'; expected pending, "
					   "delivered or failed", state);
			return;
		}
	} else {
		state = NULL;
	}
	if (!api_paging(req, 50, &limit, &before))
		return;
	rc = store_outbox_list(a->env.store, state, limit, before, &rows,
			       &n, &next);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the outbox");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		const struct store_outbox *r = rows[i];
		cJSON *it = cJSON_CreateObject();

		cJSON_AddNumberToObject(it, "id", (double)r->id);
		cJSON_AddStringToObject(it, "key", r->key);
		if (r->run != 0)
			cJSON_AddNumberToObject(it, "run", (double)r->run);
		else
			cJSON_AddNullToObject(it, "run");
		cJSON_AddStringToObject(it, "project", r->project);
		hide = !admin && r->kind != NULL &&
		       strcmp(r->kind, "status") != 0;
		cJSON_AddStringToObject(it, "kind",
					r->kind != NULL ? r->kind : "status");
		cJSON_AddStringToObject(it, "method", r->method);
		if (hide)
			cJSON_AddNullToObject(it, "url");
		else
			cJSON_AddStringToObject(it, "url", r->url);
		cJSON_AddBoolToObject(it, "redacted", hide);
		if (r->expires_at != 0)
			cJSON_AddItemToObject(it, "expires_at",
					      api_time(r->expires_at));
		else
			cJSON_AddNullToObject(it, "expires_at");
		cJSON_AddStringToObject(it, "state", r->state);
		cJSON_AddNumberToObject(it, "attempts", r->attempts);
		cJSON_AddItemToObject(it, "next_at",
				      strcmp(r->state, "pending") == 0 ?
					      api_time(r->next_at) :
					      cJSON_CreateNull());
		if (r->last_error != NULL)
			cJSON_AddStringToObject(it, "last_error", r->last_error);
		else
			cJSON_AddNullToObject(it, "last_error");
		cJSON_AddItemToObject(it, "created_at", api_time(r->created_at));
		cJSON_AddItemToObject(it, "updated_at", api_time(r->updated_at));
		cJSON_AddItemToArray(items, it);
	}
	store_outboxes_free(rows, n);
	api_add_cursor(o, next);
	s = cJSON_PrintUnformatted(o);
	http_respond_json(req, 200, s);
	free(s);
	cJSON_Delete(o);
}
