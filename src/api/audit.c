/*
 * GET /api/v1/audit?limit=&cursor=: the daemon-wide audit trail, newest
 * first — who did what to the daemon itself (the queue's pause and
 * resume), where a run's own events (GET /runs/{id}/events) say who did
 * what to that run.  Admin scope: it names every admin's actions.
 */
#include <stdlib.h>

#include "api-int.h"

void
api_audit(struct api *a, struct http_request *req, const char *actor)
{
	struct store_audit *rows = NULL;
	uint64_t before, next = 0;
	size_t limit, n = 0, i;
	cJSON *o, *items;
	int rc;

	(void)actor;
	if (!api_paging(req, 50, &limit, &before))
		return;
	rc = store_audit_list(a->env.store, limit, before, &rows, &n, &next);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the audit trail");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		cJSON *it = cJSON_CreateObject();

		cJSON_AddNumberToObject(it, "id", (double)rows[i].id);
		api_audit_fields(it, rows[i].time, rows[i].actor,
				 rows[i].action, rows[i].detail);
		cJSON_AddItemToArray(items, it);
	}
	store_audit_free(rows, n);
	api_add_cursor(o, next);
	api_respond_tree(req, 200, o);
}
