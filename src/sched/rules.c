/*
 * The order rules, as one pure function of the states of a job's
 * predecessors.  Kept apart from the loop so that they read like the
 * documentation (docs/pipeline.md, "Order"):
 *
 * - A job with `needs` waits for the jobs it names; without, for every job
 *   of every earlier stage.  An unapproved manual job does not hold up
 *   later stages, but jobs that `need` it wait for it.
 * - A need is met by success, or by a failure that allow_failure permits.
 *   Jobs left out with --only count as met.  Through the implied stage
 *   order a skipped job is neutral: what made it skip is itself an earlier
 *   job, whose own state counts.
 * - on_success runs when every need is met, on_failure when one failed,
 *   always when all have finished, manual when approved and met.
 */
#include <stdio.h>
#include <stdlib.h>

#include "sched-int.h"

bool
sched_state_is_failure(enum sched_job_state st)
{
	return st == SCHED_JOB_FAILED || st == SCHED_JOB_TIMED_OUT ||
	       st == SCHED_JOB_LOST;
}

enum sched_verdict
sched_rules_decide(const struct sched_run *r, size_t j, char **reason)
{
	const struct pipeline *p = r->p;
	bool explicit = pipeline_job_has_needs(p, j);
	bool met = true, failed = false;
	const char *culprit = NULL, *why = NULL;
	const size_t *preds;
	size_t n, i;

	*reason = NULL;
	n = pipeline_job_preds(p, j, &preds);
	for (i = 0; i < n; i++) {
		enum sched_job_state st = r->jobs[preds[i]].state;

		if (!sched_job_state_final(st) &&
		    !(st == SCHED_JOB_WAITING && !explicit))
			return SCHED_VERDICT_WAIT;
	}
	for (i = 0; i < n; i++) {
		const struct sched_job *pj = &r->jobs[preds[i]];
		const char *name = pipeline_job_name(p, preds[i]);
		const char *what = NULL;

		if (pj->state == SCHED_JOB_SUCCESS || pj->neutral ||
		    pj->state == SCHED_JOB_WAITING)
			continue;
		if (sched_state_is_failure(pj->state)) {
			if (pipeline_job_allow_failure(p, preds[i]))
				continue;
			failed = true;
			what = "failed";
		} else if (pj->state == SCHED_JOB_CANCELED) {
			what = "was canceled";
		} else if (pj->state == SCHED_JOB_SKIPPED) {
			if (!explicit)
				continue;
			what = "was skipped";
		}
		if (met) {
			met = false;
			culprit = name;
			why = what;
		}
	}

	switch (pipeline_job_when(p, j)) {
	case PIPELINE_WHEN_ALWAYS:
		return SCHED_VERDICT_RUN;
	case PIPELINE_WHEN_ON_FAILURE:
		if (failed)
			return SCHED_VERDICT_RUN;
		*reason = xstrdup("on_failure: nothing it depends on failed");
		return SCHED_VERDICT_SKIP;
	case PIPELINE_WHEN_MANUAL:
		if (met && r->jobs[j].approved)
			return SCHED_VERDICT_RUN;
		if (met)
			return SCHED_VERDICT_HOLD;
		break;
	case PIPELINE_WHEN_ON_SUCCESS:
		if (met)
			return SCHED_VERDICT_RUN;
		break;
	}
	/* The first unmet need names the reason; the others are alike. */
	*reason = xasprintf("'%s' %s", culprit, why);
	return SCHED_VERDICT_SKIP;
}
