/*
 * Retention of the runs' history (keep_runs, keep_days per project), off
 * the job path.
 *
 * A run's end only marks its project due: a name in a short list and a
 * timer, no store access.  PRUNE_DELAY_MS later the loop asks the store
 * whether the project is over its limits (store_prune_due: one row of
 * run_counts, or one seek in runs_finished_at) and, only if it is, prunes
 * it in writes of at most PRUNE_BATCH runs, one write at a time.  So a
 * burst of runs ending costs one look per project, and a project under
 * keep_runs costs nothing else at all.
 *
 * A prune write commits in the store's queue like any other and whatever
 * is queued behind it waits for it: so a batch is issued only when no
 * hand-off is in flight (nothing queued in the store, no attempt between
 * its row and its supervisor's start, none ended but not yet recorded,
 * no job workspace being made).  A daemon that is never that quiet
 * prunes anyway after PRUNE_WAIT_MS of waiting, one batch at a time, so
 * the history cannot outgrow its limits by more than those batches.
 *
 * Every project is due at start and hourly with the blob retention
 * (retain.c): keep_days ages runs out with no run ending.  A project
 * removed from the configuration is never pruned (as before: its runs
 * stay until it comes back).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

#define PRUNE_DELAY_MS 1000  /* after a run ends: the runs ending meanwhile
				go in the same look */
#define PRUNE_POLL_MS 10     /* waiting for a moment without a hand-off */
#define PRUNE_WAIT_MS 2000   /* ... at most this long */
#define PRUNE_BATCH 100      /* runs per write: a few ms of the writer */

struct prune_op {
	struct daemon *d;
	char *project;
	uint64_t *ids;
	size_t nids;
	size_t keep_runs;
	uint64_t older_than;
};

static void prune_arm(struct daemon *d, uint64_t ms);

/* The project's limits now; false if it has none (or is gone). */
static bool
limits(struct daemon *d, const char *project, size_t *keep_runs,
       uint64_t *older_than)
{
	const struct config_project *cp;
	uint64_t days, now = pw_now_ms();

	cp = config_project_find(d->config, project);
	if (cp == NULL)
		return false;
	*keep_runs = config_project_keep_runs(cp);
	days = config_project_keep_days(cp);
	*older_than = days > 0 && now > days * 86400000ULL ?
			      now - days * 86400000ULL : 0;
	return *keep_runs > 0 || *older_than > 0;
}

/* Whether a job is between its end and the next start, as far as the
 * store goes: a write now would sit in front of it. */
static bool
handoff_in_flight(struct daemon *d)
{
	struct live_attempt *la;

	if (store_pending(d->store) > 0 || d->jobws_active > 0)
		return true;
	for (la = d->attempts; la != NULL; la = la->next) {
		if (la->ended || la->id == 0)
			return true;
		/* Prepared here (adopted ones have no ws_from) and its
		 * supervisor not started yet. */
		if (la->ws_from != 0 && la->script_from == 0)
			return true;
	}
	return false;
}

static void
due_drop_first(struct daemon *d)
{
	free(d->prune_due[0]);
	d->nprune_due--;
	memmove(d->prune_due, d->prune_due + 1,
		d->nprune_due * sizeof(*d->prune_due));
}

static void
prune_done(int rc, void *arg)
{
	struct prune_op *p = arg;
	struct daemon *d = p->d;
	size_t i;

	daemon_note_store(d, rc);
	for (i = 0; rc == 0 && i < p->nids; i++)
		files_remove_run(d, p->ids[i]);
	if (rc == 0 && p->nids > 0)
		log_info("runs.pruned project=%s count=%zu", p->project,
			 p->nids);
	else if (rc < 0)
		log_warnx("runs.prune project=%s error=\"%s\"", p->project,
			  store_strerror(rc));
	d->pruning = false;
	/* A full batch: there may be more, after the next quiet moment.
	 * Otherwise (or on an error, until the next look) it is done. */
	if ((rc < 0 || p->nids < PRUNE_BATCH) && d->nprune_due > 0 &&
	    strcmp(d->prune_due[0], p->project) == 0)
		due_drop_first(d);
	free(p->ids);
	free(p->project);
	free(p);
	if (d->nprune_due > 0)
		prune_arm(d, 0);
	daemon_run_gone(d);
}

static int
tx_prune(struct store_tx *tx, void *arg)
{
	struct prune_op *p = arg;

	return store_tx_prune(tx, p->project, p->keep_runs, p->older_than,
			      PRUNE_BATCH, &p->ids, &p->nids);
}

static void
on_prune_timer(uv_timer_t *t)
{
	struct daemon *d = container_of(t, struct daemon, prune_timer);
	struct prune_op *p;
	size_t keep_runs = 0;
	uint64_t older_than = 0;
	bool due = false;
	int rc;

	if (d->draining || d->pruning || d->store == NULL)
		return;
	/* Projects with nothing to prune leave the list after one look. */
	while (d->nprune_due > 0) {
		if (limits(d, d->prune_due[0], &keep_runs, &older_than)) {
			rc = store_prune_due(d->store, d->prune_due[0],
					     keep_runs, older_than, &due);
			if (rc < 0)
				log_warnx("runs.prune project=%s error=\"%s\"",
					  d->prune_due[0], store_strerror(rc));
			if (rc == 0 && due)
				break;
		}
		due_drop_first(d);
	}
	if (d->nprune_due == 0) {
		d->prune_wait_from = 0;
		return;
	}
	if (d->prune_wait_from == 0)
		d->prune_wait_from = pw_mono_ms();
	if (handoff_in_flight(d) &&
	    pw_mono_ms() - d->prune_wait_from < PRUNE_WAIT_MS) {
		prune_arm(d, PRUNE_POLL_MS);
		return;
	}
	d->prune_wait_from = 0;
	p = xcalloc(1, sizeof(*p));
	p->d = d;
	p->project = xstrdup(d->prune_due[0]);
	p->keep_runs = keep_runs;
	p->older_than = older_than;
	d->pruning = true;
	store_write(d->store, tx_prune, prune_done, p);
}

static void
prune_arm(struct daemon *d, uint64_t ms)
{
	if (d->draining || d->pruning)
		return;
	/* An earlier look stays as it was: a later run does not delay it. */
	if (ms > 0 && uv_is_active((uv_handle_t *)&d->prune_timer))
		return;
	uv_timer_start(&d->prune_timer, on_prune_timer, ms, 0);
}

void
prune_due(struct daemon *d, const char *project)
{
	size_t i, cap;

	for (i = 0; i < d->nprune_due; i++)
		if (strcmp(d->prune_due[i], project) == 0)
			break;
	if (i == d->nprune_due) {
		cap = d->nprune_due;
		d->prune_due = xgrow(d->prune_due, &cap, d->nprune_due + 1,
				     sizeof(*d->prune_due));
		d->prune_due[d->nprune_due++] = xstrdup(project);
	}
	prune_arm(d, PRUNE_DELAY_MS);
}

void
prune_all_due(struct daemon *d)
{
	size_t i;

	for (i = 0; i < config_project_count(d->config); i++)
		prune_due(d, config_project_name(config_project(d->config,
								 i)));
}

void
prune_free(struct daemon *d)
{
	while (d->nprune_due > 0)
		due_drop_first(d);
	free(d->prune_due);
	d->prune_due = NULL;
}
