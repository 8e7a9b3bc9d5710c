/*
 * Pausing the queue, for maintenance and upgrades: while paused, queued
 * runs stay queued (new ones are still accepted and queue up), runs
 * already running go on to their end.
 *
 * The pause is a setting in the store ("queue.paused" = "true", deleted
 * on resume), committed before the scheduler is told and before the
 * caller hears of it: an acknowledged pause survives a crash, and a
 * daemon that starts applies it (queue_restore) before it recovers or
 * starts any run, so a paused queue never lets a run slip through a
 * restart.  Pauses and resumes are applied to the scheduler in the order
 * they were committed, since the store calls done callbacks in queue
 * order.
 *
 * While paused, a repository project's new run is not even checked out
 * (no git runs during maintenance): it stays queued in the store, and the
 * resume checks out those runs (d->held), and no other: a run whose
 * creation is being committed as the resume is answered is in the store
 * already but is started by its own trigger, and a run triggered just
 * before is in the scheduler already.
 *
 * The counts are the scheduler's: runs it holds in state queued or
 * running.  A repository project's new run enters the scheduler once its
 * commit is checked out, so it is counted from then on.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"

#define QUEUE_PAUSED_KEY "queue.paused"

struct queue_op {
	struct daemon *d;
	bool paused;
	char *actor;
	daemon_done_cb cb;
	void *arg;
};

static int
tx_queue_pause(struct store_tx *tx, void *arg)
{
	struct queue_op *q = arg;
	int rc;

	rc = store_tx_setting_put(tx, QUEUE_PAUSED_KEY,
				  q->paused ? "true" : NULL);
	/* Who paused the daemon's queue is in its own audit trail. */
	if (rc == 0)
		rc = store_tx_audit(tx, pw_now_ms(), q->actor,
				    q->paused ? "queue.pause" : "queue.resume",
				    NULL);
	return rc;
}

static void
queue_pause_done(int rc, void *arg)
{
	struct queue_op *q = arg;
	char *msg = NULL;

	daemon_note_store(q->d, rc);
	if (rc < 0) {
		msg = xasprintf("cannot record the queue's %s: %s",
				q->paused ? "pause" : "resumption",
				strerror(-rc));
		log_warnx("queue.%s actor=%s error=\"%s\"",
			  q->paused ? "pause" : "resume", q->actor,
			  strerror(-rc));
	} else {
		log_info("queue.%s actor=%s", q->paused ? "pause" : "resume",
			 q->actor);
		/* Resuming starts what the free slots allow, right here. */
		sched_pause(q->d->sched, q->paused);
		/* ...and checks out the new runs the pause held back. */
		if (!q->paused && runs_release_held(q->d, &msg) < 0) {
			log_warnx("queue.resume: %s", msg);
			free(msg);
			msg = NULL;
		}
	}
	q->cb(rc, 0, msg, q->arg);
	free(msg);
	free(q->actor);
	free(q);
}

void
daemon_queue_pause(struct daemon *d, bool paused, const char *actor,
		   daemon_done_cb cb, void *arg)
{
	struct queue_op *q;

	if (daemon_handing_over(d, cb, arg))
		return;
	q = xcalloc(1, sizeof(*q));
	q->d = d;
	q->paused = paused;
	q->actor = xstrdup(actor != NULL ? actor : "anonymous");
	q->cb = cb;
	q->arg = arg;
	store_write(d->store, tx_queue_pause, queue_pause_done, q);
}

void
daemon_queue_state(struct daemon *d, bool *paused, size_t *queued,
		   size_t *running)
{
	const struct live_run *lr;

	*paused = sched_paused(d->sched);
	*queued = *running = 0;
	for (lr = d->runs; lr != NULL; lr = lr->next) {
		if (lr->run == NULL)
			continue;
		switch (sched_run_state(lr->run)) {
		case SCHED_RUN_QUEUED:
			(*queued)++;
			break;
		case SCHED_RUN_RUNNING:
			(*running)++;
			break;
		default:
			break;
		}
	}
}

int
queue_restore(struct daemon *d, char **err)
{
	char *value = NULL;
	int rc;

	rc = store_setting_get(d->store, QUEUE_PAUSED_KEY, &value);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		*err = xasprintf("cannot read whether the queue is paused from "
				 "the store: %s", strerror(-rc));
		return rc;
	}
	if (strcmp(value, "true") == 0) {
		sched_pause(d->sched, true);
		log_info("queue.paused: queued runs wait for "
			 "POST /api/v1/queue/resume");
	} else {
		log_warnx("queue.restore: unknown %s value '%s': not paused",
			  QUEUE_PAUSED_KEY, value);
	}
	free(value);
	return 0;
}
