/*
 * The queue: GET /api/v1/queue (read scope) shows whether it is paused
 * and how many runs the scheduler holds queued and running; POST
 * /api/v1/queue/pause and /resume (admin scope) change it.  A pause is
 * answered once it is committed, with the queue's state after it; both
 * are idempotent (pausing a paused queue answers 200 again).
 */
#include <stdlib.h>

#include "api-int.h"

/* A pause or resume waiting for its commit. */
struct queue_pending {
	struct api *a;
	struct http_request *req; /* NULL once the client has gone */
};

static void
respond_state(struct api *a, struct http_request *req)
{
	size_t queued, running;
	bool paused;
	cJSON *o;
	char *s;

	a->env.queue_state(a->env.ctx, &paused, &queued, &running);
	o = cJSON_CreateObject();
	cJSON_AddBoolToObject(o, "paused", paused);
	cJSON_AddNumberToObject(o, "queued", (double)queued);
	cJSON_AddNumberToObject(o, "running", (double)running);
	s = cJSON_PrintUnformatted(o);
	http_respond_json(req, 200, s);
	free(s);
	cJSON_Delete(o);
}

static void
queue_abort(struct http_request *req, void *arg)
{
	struct queue_pending *p = arg;

	(void)req;
	p->req = NULL;
}

static void
queue_done(int rc, uint64_t run, const char *message, void *arg)
{
	struct queue_pending *p = arg;

	(void)run;
	if (p->req != NULL) {
		http_request_on_abort(p->req, NULL, NULL);
		if (rc < 0)
			api_respond_errno(p->req, rc, message);
		else
			respond_state(p->a, p->req);
	}
	free(p);
}

static void
queue_set(struct api *a, struct http_request *req, const char *actor,
	  bool paused)
{
	struct queue_pending *p;

	p = xcalloc(1, sizeof(*p));
	p->a = a;
	p->req = req;
	http_request_on_abort(req, queue_abort, p);
	a->env.queue_pause(a->env.ctx, paused, actor, queue_done, p);
}

void
api_queue(struct api *a, struct http_request *req, const char *actor)
{
	(void)actor;
	respond_state(a, req);
}

void
api_queue_pause(struct api *a, struct http_request *req, const char *actor)
{
	queue_set(a, req, actor, true);
}

void
api_queue_resume(struct api *a, struct http_request *req, const char *actor)
{
	queue_set(a, req, actor, false);
}
