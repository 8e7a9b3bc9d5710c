/*
 * The job duration histograms of /metrics, one per project and job name,
 * so that a job that got slower can be told from the rest.  A project's
 * job names come from whatever pipeline its repository holds: after
 * API_DURATION_JOBS_MAX distinct names the project's further jobs
 * share the series job="other", and the number of series stays bounded
 * by the projects configured.  Counted since the daemon started; kept in
 * the order first seen, so the exposition is stable.
 */
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

#define OTHER "other"

void
durations_add(struct daemon *d, const char *project, const char *job,
	      uint64_t ms)
{
	struct api_duration *s = NULL;
	size_t i, names = 0, b;
	double secs = (double)ms / 1000.0;

	if (job == NULL)
		job = OTHER;
	for (i = 0; i < d->ndurations && s == NULL; i++) {
		if (strcmp(d->durations[i].project, project) != 0)
			continue;
		if (strcmp(d->durations[i].job, job) == 0)
			s = &d->durations[i];
		else if (strcmp(d->durations[i].job, OTHER) != 0)
			names++;
	}
	if (s == NULL && names >= API_DURATION_JOBS_MAX) {
		for (i = 0; i < d->ndurations && s == NULL; i++)
			if (strcmp(d->durations[i].project, project) == 0 &&
			    strcmp(d->durations[i].job, OTHER) == 0)
				s = &d->durations[i];
		job = OTHER;
	}
	if (s == NULL) {
		d->durations = xrealloc(d->durations, (d->ndurations + 1) *
					sizeof(*d->durations));
		s = &d->durations[d->ndurations++];
		memset(s, 0, sizeof(*s));
		s->project = xstrdup(project);
		s->job = xstrdup(job);
	}
	for (b = 0; b < PW_ARRAY_LEN(daemon_duration_bounds) - 1 &&
		    secs > daemon_duration_bounds[b]; b++)
		;
	s->buckets[b]++;
	s->count++;
	s->sum_s += secs;
}

void
durations_free(struct daemon *d)
{
	size_t i;

	for (i = 0; i < d->ndurations; i++) {
		free(d->durations[i].project);
		free(d->durations[i].job);
	}
	free(d->durations);
	d->durations = NULL;
	d->ndurations = 0;
}
