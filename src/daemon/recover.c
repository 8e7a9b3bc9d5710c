/*
 * At start, the runs an earlier daemon left unfinished: attempts that were
 * running are lost, and the run goes on with new attempts — or, if its
 * project or pipeline snapshot is gone, ends as an error.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon-int.h"

struct lost_op {
	uint64_t attempt;
};

static int
tx_lost(struct store_tx *tx, void *arg)
{
	struct lost_op *l = arg;

	return store_tx_attempt_finish(tx, l->attempt, "lost",
				       -1, "the daemon restarted while it ran",
				       pw_now_ms());
}

/* The attempts a stopped daemon left running are lost; their jobs go on. */
static void
mark_lost(struct daemon *d, struct store_run *row)
{
	struct lost_op *l;
	size_t j;

	for (j = 0; j < row->njobs; j++) {
		struct store_job *sj = &row->jobs[j];

		if (sj->nattempts == 0 ||
		    strcmp(sj->attempts[sj->nattempts - 1].status, "running") != 0)
			continue;
		l = xmalloc(sizeof(*l));
		l->attempt = sj->attempts[sj->nattempts - 1].id;
		daemon_write(d, tx_lost, l, free);
		free(sj->status);
		sj->status = xstrdup("pending");
	}
}

struct abandon_op {
	uint64_t run;
	uint64_t now;
};

static int
tx_abandon(struct store_tx *tx, void *arg)
{
	struct abandon_op *a = arg;
	int rc;

	rc = store_tx_run_set_status(tx, a->run, "error", 0, a->now);
	if (rc == 0)
		rc = store_tx_event(tx, a->run, a->now, "pipewright", "abandon",
				    "its project or pipeline is gone");
	return rc;
}

int
runs_recover(struct daemon *d, char **err)
{
	struct store_run **rows;
	struct abandon_op *a;
	size_t n, i;
	int rc;

	rc = store_runs_unfinished(d->store, &rows, &n);
	if (rc < 0) {
		*err = xasprintf("cannot read unfinished runs: %s", strerror(-rc));
		return rc;
	}
	for (i = 0; i < n; i++) {
		struct store_run *row = rows[i];
		const struct config_project *proj =
			config_project_find(d->config, row->project);
		struct pipeline_problems pp;
		struct pipeline *p = NULL;
		struct live_run *lr;

		mark_lost(d, row);
		pipeline_problems_init(&pp);
		if (proj == NULL || row->pipeline == NULL ||
		    pipeline_parse(row->pipeline_file, row->pipeline,
				   row->pipeline_len, &p, &pp) < 0) {
			/* Nothing can run it again: it ends as an error. */
			log_warnx("run.abandon run=%llu: its project or pipeline "
				  "is gone", (unsigned long long)row->id);
			a = xmalloc(sizeof(*a));
			a->run = row->id;
			a->now = pw_now_ms();
			daemon_write(d, tx_abandon, a, free);
		} else if (runs_build(d, p, row->id, proj, row, true, &lr) == 0) {
			log_info("run.recover run=%llu", (unsigned long long)row->id);
			runs_launch(d, lr);
		}
		pipeline_problems_free(&pp);
	}
	store_runs_free(rows, n);
	return 0;
}
