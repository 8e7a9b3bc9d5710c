/*
 * Letting go of the jobs, for drain: detach and for upgrades.
 *
 * The scheduler lets go of every running attempt (its supervisor goes on
 * with the job, writing its log and status), so nothing starts here any
 * more.  Log bytes received so far are committed; a barrier write then
 * tells that every earlier change is in the store, since writes commit in
 * queue order.  Only then do runs and attempts leave memory: a later
 * daemon recovers them from the store and takes the attempts up from the
 * byte the store has.  Checkouts and job workspaces under way are waited
 * for, so that two daemons never fill one workspace.
 *
 * Resuming (an upgrade whose new daemon failed) is a recovery in place: a
 * fresh scheduler, and every unfinished run taken up as at a start.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon-int.h"
#include "pipewright/notify.h"
#include "pipewright/reuse.h"
#include "pipewright/scm.h"

#define HANDOVER_POLL_MS 20   /* checkouts have no idle callback */

struct handover {
	struct daemon *d;
	void (*cb)(struct daemon *d);
	uv_timer_t wait;
};

bool
daemon_handing_over(struct daemon *d, daemon_done_cb cb, void *arg)
{
	if (!d->detached)
		return false;
	cb(-EAGAIN, 0, "this daemon is handing its jobs over to another "
	   "(an upgrade or a restart); try again in a moment", arg);
	return true;
}

static void
on_wait_closed(uv_handle_t *h)
{
	free(h->data);
}

static void
on_wait(uv_timer_t *t)
{
	struct handover *h = t->data;

	/*
	 * Checkouts until their result is committed (see checkout.c), and
	 * job workspaces being made (jobws.c): the next daemon may make the
	 * same job's workspace afresh.
	 */
	if (h->d->checkouts != NULL || h->d->jobws_active > 0 ||
	    reuse_step_busy(h->d->reuse) > 0 || h->d->retaining ||
	    h->d->reports_busy > 0)
		return;
	uv_timer_stop(t);
	uv_close((uv_handle_t *)t, on_wait_closed);
	h->cb(h->d);
}

/*
 * The runs and attempts leave memory: the store has all of them.  Writes
 * still in flight (kept while the disk is full, or queued by a done
 * callback before the barrier's) find their attempt let go of.
 */
static void
forget(struct daemon *d)
{
	live_forget_all(d);
	while (d->runs != NULL)
		live_run_remove(d, d->runs);
}

static int
tx_barrier(struct store_tx *tx, void *arg)
{
	(void)tx;
	(void)arg;
	return 0;
}

static void
barrier_done(int rc, void *arg)
{
	struct handover *h = arg;
	struct daemon *d = h->d;

	if (rc < 0)
		log_warnx("handover: the store failed (%s); the next daemon "
			  "takes the jobs up from what it has", strerror(-rc));
	forget(d);
	log_info("handover.done: the jobs are the supervisors' now");
	uv_timer_init(&d->loop, &h->wait);
	h->wait.data = h;
	uv_timer_start(&h->wait, on_wait, 0, HANDOVER_POLL_MS);
}

void
handover_begin(struct daemon *d, void (*cb)(struct daemon *d))
{
	struct handover *h = xcalloc(1, sizeof(*h));

	h->d = d;
	h->cb = cb;
	d->detached = true;
	uv_timer_stop(&d->schedule_timer);
	if (d->notify != NULL) {
		/* The successor sends what is in the outbox. */
		notify_close(d->notify, NULL, NULL);
		d->notify = NULL;
	}
	sched_detach(d->sched);
	record_flush_all(d);
	store_write(d->store, tx_barrier, barrier_done, h);
}

int
handover_resume(struct daemon *d, char **err)
{
	int rc;

	sched_destroy(d->sched);
	d->sched = NULL;
	d->detached = false;
	if ((rc = daemon_sched_create(d, err)) < 0)
		return rc;
	if ((rc = queue_restore(d, err)) < 0)
		return rc;
	if ((rc = daemon_notify_create(d, err)) < 0)
		return rc;
	schedules_load(d);
	return runs_recover(d, err);
}
