/*
 * OpenTelemetry's CI/CD metrics for /metrics, in Prometheus form
 * (docs/operations.md, "Metrics"): cicd.pipeline.run.duration as a
 * histogram by pipeline (the project), run state (pending: queued until
 * its first job started; executing: from then to its end) and result,
 * and cicd.pipeline.run.active by pipeline and state.  A pipeline here is
 * a configured project, so the series stay bounded by the configuration
 * (two states by five results each).  Counted since the daemon started.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

static const char *
result_of(const char *status)
{
	if (strcmp(status, "success") == 0)
		return "success";
	if (strcmp(status, "failed") == 0)
		return "failure";
	if (strcmp(status, "canceled") == 0)
		return "cancellation";
	return "error";
}

static void
add(struct daemon *d, const char *project, const char *state,
    const char *result, uint64_t ms)
{
	struct api_run_duration *s = NULL;
	double secs = (double)ms / 1000.0;
	size_t i, b;

	for (i = 0; i < d->nrun_durations && s == NULL; i++)
		if (strcmp(d->run_durations[i].project, project) == 0 &&
		    d->run_durations[i].state == state &&
		    d->run_durations[i].result == result)
			s = &d->run_durations[i];
	if (s == NULL) {
		d->run_durations = xrealloc(d->run_durations,
					    (d->nrun_durations + 1) *
					    sizeof(*d->run_durations));
		s = &d->run_durations[d->nrun_durations++];
		memset(s, 0, sizeof(*s));
		s->project = xstrdup(project);
		s->state = state;
		s->result = result;
	}
	for (b = 0; b < API_DURATION_BUCKETS - 1 &&
		    secs > daemon_duration_bounds[b]; b++)
		;
	s->buckets[b]++;
	s->count++;
	s->sum_s += secs;
}

void
cicd_run_ended(struct daemon *d, const struct live_run *lr,
	       const char *status, uint64_t ms)
{
	const char *result = result_of(status);
	uint64_t started = lr->started_ms != 0 ? lr->started_ms : ms;

	add(d, lr->project, "pending", result,
	    started > lr->created_ms ? started - lr->created_ms : 0);
	if (lr->started_ms != 0)
		add(d, lr->project, "executing", result,
		    ms > lr->started_ms ? ms - lr->started_ms : 0);
}

static void
active_clear(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nrun_active; i++)
		free(d->run_active[i].project);
	free(d->run_active);
	d->run_active = NULL;
	d->nrun_active = 0;
}

void
cicd_active(struct daemon *d)
{
	const struct live_run *lr;
	struct api_run_active *a;
	size_t i;

	active_clear(d);
	for (lr = d->runs; lr != NULL; lr = lr->next) {
		if (sched_run_finished(lr->run))
			continue;
		for (i = 0, a = NULL; i < d->nrun_active && a == NULL; i++)
			if (strcmp(d->run_active[i].project, lr->project) == 0)
				a = &d->run_active[i];
		if (a == NULL) {
			d->run_active = xrealloc(d->run_active,
						 (d->nrun_active + 1) *
						 sizeof(*d->run_active));
			a = &d->run_active[d->nrun_active++];
			memset(a, 0, sizeof(*a));
			a->project = xstrdup(lr->project);
		}
		if (lr->started_ms != 0)
			a->executing++;
		else
			a->pending++;
	}
}

void
cicd_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->nrun_durations; i++)
		free(d->run_durations[i].project);
	free(d->run_durations);
	d->run_durations = NULL;
	d->nrun_durations = 0;
	active_clear(d);
}
