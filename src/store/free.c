/* Freeing what the reads return: every string is owned by its struct. */
#include <stdlib.h>

#include "store-int.h"

static void
job_free(struct store_job *j)
{
	size_t i;

	for (i = 0; i < j->nattempts; i++) {
		free(j->attempts[i].status);
		free(j->attempts[i].reason);
		free(j->attempts[i].dir);
	}
	free(j->attempts);
	free(j->name);
	free(j->stage);
	free(j->status);
}

void
store_run_free(struct store_run *r)
{
	size_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->njobs; i++)
		job_free(&r->jobs[i]);
	free(r->jobs);
	free(r->project);
	free(r->status);
	free(r->trigger);
	free(r->ref);
	free(r->branch);
	free(r->tag);
	free(r->commit);
	free(r->problems);
	free(r->pipeline_file);
	free(r->pipeline);
	free(r->env);
	free(r->actor);
	free(r);
}

void
store_runs_free(struct store_run **runs, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_run_free(runs[i]);
	free(runs);
}

void
store_audit_free(struct store_audit *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(rows[i].actor);
		free(rows[i].action);
		free(rows[i].detail);
	}
	free(rows);
}

void
store_events_free(struct store_event *ev, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ev[i].actor);
		free(ev[i].action);
		free(ev[i].detail);
	}
	free(ev);
}

void
store_outbox_free(struct store_outbox *o)
{
	if (o == NULL)
		return;
	free(o->key);
	free(o->method);
	free(o->url);
	free(o->headers);
	free(o->body);
	free(o->project);
	free(o->state);
	free(o->last_error);
	free(o->kind);
	free(o->target);
	free(o);
}

void
store_outboxes_free(struct store_outbox **rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		store_outbox_free(rows[i]);
	free(rows);
}
