/*
 * At start (and when an upgrade's predecessor has gone, or an upgrade
 * failed), the runs the store says are unfinished go on:
 *  - an attempt that was running is taken up from its supervisor, from the
 *    byte the store has (no gap, no duplicate); if nothing answers and no
 *    result was left, sched reports it lost and lost_retries decides;
 *  - a run of a repository project whose checkout never finished is
 *    checked out again (its webhook was answered: it must run);
 *  - the rest starts again where it stood; the workspace is kept when jobs
 *    have run in it (a later stage may need what an earlier one built);
 *  - a run whose project or pipeline snapshot is gone ends as an error.
 * Runs already in memory are skipped, so calling it again is harmless.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"

#define ABANDON_REASON "its project or pipeline is gone"

/* The job's attempt the store says is running, or NULL. */
static const struct store_attempt *
running_attempt(const struct store_job *sj)
{
	const struct store_attempt *sa;

	if (sj->nattempts == 0)
		return NULL;
	sa = &sj->attempts[sj->nattempts - 1];
	return strcmp(sa->status, "running") == 0 ? sa : NULL;
}

struct abandon_op {
	uint64_t run;
	uint64_t now;
	size_t n;                 /* running attempts: */
	uint64_t *attempt;        /* their rows */
	int *job;                 /* their jobs' indexes */
};

static int
tx_abandon(struct store_tx *tx, void *arg)
{
	struct abandon_op *a = arg;
	size_t i;
	int rc;

	rc = store_tx_run_set_status(tx, a->run, "error", 0, a->now);
	for (i = 0; rc == 0 && i < a->n; i++) {
		rc = store_tx_attempt_finish(tx, a->attempt[i], "canceled", -1,
					     ABANDON_REASON, a->now);
		if (rc == 0)
			rc = store_tx_job_set_status(tx, a->run, a->job[i],
						     "canceled");
	}
	if (rc == 0)
		rc = store_tx_event(tx, a->run, a->now, "pipewright", "abandon",
				    ABANDON_REASON);
	return rc;
}

static void
abandon_free(void *arg)
{
	struct abandon_op *a = arg;

	free(a->attempt);
	free(a->job);
	free(a);
}

static void
ignore_output(struct exec_attempt *a, const char *data, size_t len, void *arg)
{
	(void)a;
	(void)data;
	(void)len;
	(void)arg;
}

static void
ignore_end(struct exec_attempt *a, const struct exec_status *st, void *arg)
{
	(void)a;
	(void)st;
	(void)arg;
}

/*
 * Nothing can run it again: it ends as an error, and jobs it left running
 * are stopped (a job must not outlive its run) and recorded as canceled.
 */
static void
abandon(struct daemon *d, const struct store_run *row)
{
	struct abandon_op *a = xcalloc(1, sizeof(*a));
	struct exec_attempt *ea;
	size_t j;

	log_warnx("run.abandon run=%llu: " ABANDON_REASON,
		  (unsigned long long)row->id);
	a->run = row->id;
	a->now = pw_now_ms();
	a->attempt = xcalloc(row->njobs + 1, sizeof(*a->attempt));
	a->job = xcalloc(row->njobs + 1, sizeof(*a->job));
	for (j = 0; j < row->njobs; j++) {
		const struct store_job *sj = &row->jobs[j];
		const struct store_attempt *sa = running_attempt(sj);

		if (sa == NULL)
			continue;
		a->attempt[a->n] = sa->id;
		a->job[a->n++] = sj->idx;
		if (sa->dir != NULL &&
		    exec_attach(d->exec, sa->dir, sa->log_bytes, ignore_output,
				ignore_end, NULL, &ea) == 0 &&
		    exec_cancel(ea) < 0)
			log_warnx("run=%llu: cannot stop its job %s",
				  (unsigned long long)row->id, sj->name);
	}
	daemon_write(d, tx_abandon, a, abandon_free);
}

/*
 * Lost attempts since the job was last queued (its last rerun, if any),
 * but the one running: spent lost_retries.
 */
static int
lost_before(const struct store_job *sj)
{
	const struct store_attempt *run = running_attempt(sj);
	size_t k;
	int n = 0;

	for (k = 0; k < sj->nattempts; k++)
		if (&sj->attempts[k] != run &&
		    sj->attempts[k].number > sj->rerun_after &&
		    strcmp(sj->attempts[k].status, "lost") == 0)
			n++;
	return n;
}

/*
 * Takes up the running attempts.  Whether the workspace must be kept as it
 * is: an attempt was taken up (it works there), or jobs ran in it.
 */
static bool
adopt(struct daemon *d, struct live_run *lr, const struct store_run *row)
{
	bool ran = false, adopted = false;
	size_t j;
	int rc;

	for (j = 0; j < row->njobs; j++) {
		const struct store_job *sj = &row->jobs[j];
		const struct store_attempt *sa;

		if ((size_t)sj->idx >= pipeline_job_count(
					       sched_run_pipeline(lr->run)))
			continue;
		ran |= sj->nattempts > 0;
		rc = sched_run_restore_lost(lr->run, (size_t)sj->idx,
					    lost_before(sj));
		if ((sa = running_attempt(sj)) == NULL)
			continue;
		/* No directory recorded: nothing can answer; it is lost. */
		rc = sched_run_adopt_job(lr->run, (size_t)sj->idx, sa->number,
					 sa->dir != NULL ? sa->dir : "",
					 sa->log_bytes);
		if (rc == 0) {
			adopted = true;
			record_adopt(d, lr, (size_t)sj->idx, sa);
			log_info("attempt.adopt run=%llu job=%s attempt=%d "
				 "offset=%llu", (unsigned long long)row->id,
				 sj->name, sa->number,
				 (unsigned long long)sa->log_bytes);
		}
	}
	return adopted || (ran && access(lr->workspace, F_OK) == 0);
}

/* only: the runs to take (nonly of them), or NULL for every one. */
static int
recover(struct daemon *d, const uint64_t *only, size_t nonly, char **err)
{
	struct store_run **rows;
	size_t n, i, k;
	int rc;

	rc = store_runs_unfinished(d->store, &rows, &n);
	if (rc < 0) {
		*err = xasprintf("cannot read unfinished runs: %s", strerror(-rc));
		return rc;
	}
	/*
	 * Every run is in the scheduler before any job starts: an older run's
	 * deploy must see the environment a younger run's adopted deploy holds.
	 */
	sched_hold(d->sched, true);
	for (i = 0; i < n; i++) {
		struct store_run *row = rows[i];
		const struct config_project *proj =
			config_project_find(d->config, row->project);
		struct pipeline_problems pp;
		struct pipeline *p = NULL;
		struct live_run *lr;

		for (k = 0; only != NULL && k < nonly && only[k] != row->id; k++)
			;
		if ((only != NULL && k == nonly) ||
		    live_run_find(d, row->id) != NULL ||
		    checkout_running(d, row->id))
			continue;
		if (proj != NULL && row->pipeline == NULL &&
		    config_project_repo(proj) != NULL && row->commit != NULL) {
			log_info("run.recover run=%llu: checking out %s again",
				 (unsigned long long)row->id, row->commit);
			checkout_new_run(d, proj, row->id, row, row->ref);
			continue;
		}
		pipeline_problems_init(&pp);
		if (proj == NULL || row->pipeline == NULL ||
		    pipeline_parse(row->pipeline_file, row->pipeline,
				   row->pipeline_len, &p, &pp) < 0) {
			abandon(d, row);
		} else if (runs_build(d, p, row->id, proj, row, true, &lr) == 0) {
			log_info("run.recover run=%llu", (unsigned long long)row->id);
			if (adopt(d, lr, row)) {
				/* Its jobs see the files they left. */
				(void)wsfs_attach(lr->workspace);
				runs_start(d, lr);
			} else {
				runs_launch(d, lr);
			}
		}
		pipeline_problems_free(&pp);
	}
	store_runs_free(rows, n);
	sched_hold(d->sched, false);
	return 0;
}

int
runs_recover(struct daemon *d, char **err)
{
	return recover(d, NULL, 0, err);
}

int
runs_release_held(struct daemon *d, char **err)
{
	uint64_t *held = d->held;
	size_t n = d->nheld;
	int rc;

	if (n == 0)
		return 0;
	/* A pause again meanwhile holds them back anew. */
	d->held = NULL;
	d->nheld = 0;
	rc = recover(d, held, n, err);
	free(held);
	return rc;
}
