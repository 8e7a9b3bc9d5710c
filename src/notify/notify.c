/*
 * The outbox sender: when to look at the store, what to send, and storing
 * the answers.
 *
 * The store is the queue, so notify keeps no queue of its own.  A scan
 * (on create, on notify_kick, when a request's answer is stored, and on
 * the wake timer) reads up to max_in_flight due rows, skips those already
 * in flight, sends the others while places are free, then arms the wake
 * timer for the earliest next_at still ahead.  Every row due by the
 * scan's `now` was read (the due read's limit is max_in_flight, so rows
 * it did not return can only wait for a place, and a place frees with a
 * stored answer, which scans again), so the timer only needs the rows
 * after `now`.
 *
 * A row stays in flight until its answer is stored: a scan in between
 * must not send it again.  A newer state put meanwhile is sent by the
 * scan after the older answer is stored (and dropped as stale), never
 * alongside it.  If storing fails (disk full), the row is still pending
 * as before and is sent again; scans pause for backoff_base_ms so that a
 * broken disk does not make a busy loop of sends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/log.h"
#include "notify-int.h"

uint64_t
notify_now(struct notify *n)
{
	return n->o.now != NULL ? n->o.now(n->o.arg) : pw_now_ms();
}

void
notify_req_free(struct notify_req *r)
{
	if (r->easy != NULL)
		curl_easy_cleanup(r->easy);
	curl_slist_free_all(r->headers);
	buf_free(&r->answer);
	store_outbox_free(r->row);
	free(r->error);
	notify_target_clear(&r->tgt);
	curl_slist_free_all(r->rcpt);
	free(r->mail_from);
	free(r);
}

static void
req_unlink(struct notify_req *r)
{
	if (r->next != NULL)
		r->next->prevp = r->prevp;
	*r->prevp = r->next;
	r->n->nreqs--;
}

void
notify_maybe_free(struct notify *n)
{
	notify_close_cb cb;
	void *arg;

	if (!n->closing || n->nclosing > 0 || n->reqs != NULL)
		return;
	cb = n->close_cb;
	arg = n->close_arg;
	free(n);
	curl_global_cleanup();
	if (cb != NULL)
		cb(arg);
}

static void scan(struct notify *n);

static void
on_wake(uv_timer_t *t)
{
	scan(container_of(t, struct notify, wake));
}

/* The wake timer at `when` (wall-clock ms), seen from now. */
static void
arm(struct notify *n, uint64_t when, uint64_t now)
{
	uv_timer_start(&n->wake, on_wake, when > now ? when - now : 0, 0);
}

static bool
in_flight(struct notify *n, uint64_t id)
{
	struct notify_req *r;

	for (r = n->reqs; r != NULL; r = r->next)
		if (r->row->id == id)
			return true;
	return false;
}

static void
start(struct notify *n, struct store_outbox *row)
{
	struct notify_req *r = xcalloc(1, sizeof(*r));
	int rc;

	r->n = n;
	r->row = row;
	r->next = n->reqs;
	if (r->next != NULL)
		r->next->prevp = &r->next;
	r->prevp = &n->reqs;
	n->reqs = r;
	n->nreqs++;
	if ((rc = notify_send(r)) < 0) {
		/* Counted as a failed attempt, so it cannot loop. */
		if (r->errbuf[0] == '\0')
			snprintf(r->errbuf, sizeof(r->errbuf), "cannot send: %s",
				 strerror(-rc));
		notify_answered(r, CURLE_FAILED_INIT);
	}
}

static void
scan(struct notify *n)
{
	struct store_outbox **rows;
	size_t nrows, i;
	uint64_t now, when;
	int rc;

	if (n->closing)
		return;
	now = notify_now(n);
	if (now < n->hold_until) {
		arm(n, n->hold_until, now);
		return;
	}
	if (n->nreqs >= n->o.max_in_flight)
		return; /* an answer stored frees a place and scans */
	rc = store_outbox_due(n->store, now, n->o.max_in_flight, &rows,
			      &nrows);
	if (rc < 0)
		goto store_error;
	for (i = 0; i < nrows; i++) {
		if (n->nreqs < n->o.max_in_flight &&
		    !in_flight(n, rows[i]->id))
			start(n, rows[i]);
		else
			store_outbox_free(rows[i]);
	}
	free(rows);
	if (n->nreqs >= n->o.max_in_flight) {
		uv_timer_stop(&n->wake);
		return;
	}
	rc = store_outbox_next_at(n->store, now, &when);
	if (rc == -ENOENT) {
		uv_timer_stop(&n->wake);
		return;
	}
	if (rc < 0)
		goto store_error;
	arm(n, when, now);
	return;

store_error:
	log_warnx("notify.store error=\"%s\"", strerror(-rc));
	n->hold_until = now + n->o.backoff_base_ms;
	arm(n, n->hold_until, now);
}

static int
result_fn(struct store_tx *tx, void *arg)
{
	struct notify_req *r = arg;
	struct store_outbox_result res = {
		.id = r->row->id,
		.seq = r->row->seq,
		.state = r->state,
		.attempts = r->attempts,
		.next_at = r->next_at,
		.last_error = r->error,
		.now = r->now,
	};

	return store_tx_outbox_result(tx, &res);
}

static void
result_done(int rc, void *arg)
{
	struct notify_req *r = arg;
	struct notify *n = r->n;
	struct store_outbox *row = r->row;

	if (rc == 0 && strcmp(r->state, "delivered") == 0) {
		n->stats.delivered++;
		log_debug("notify.delivered key=%s attempts=%d", row->key,
			  r->attempts);
	} else if (rc == 0 && strcmp(r->state, "failed") == 0) {
		n->stats.failed++;
		log_warnx("notify.failed key=%s project=%s attempts=%d "
			  "error=\"%s\"", row->key, row->project, r->attempts,
			  r->error);
	} else if (rc == 0) {
		n->stats.retried++;
		log_info("notify.retry key=%s attempt=%d in_ms=%llu "
			 "error=\"%s\"", row->key, r->attempts,
			 (unsigned long long)(r->next_at - r->now), r->error);
	} else if (rc == -ESTALE) {
		n->stats.stale++; /* a newer state waits: the scan sends it */
	} else if (rc != -ENOENT) {
		/* Still pending as before: sent again after a pause. */
		log_warnx("notify.store key=%s error=\"%s\"", row->key,
			  strerror(-rc));
		n->hold_until = notify_now(n) + n->o.backoff_base_ms;
	}
	req_unlink(r);
	notify_req_free(r);
	if (n->closing) {
		notify_maybe_free(n);
		return;
	}
	notify_kick(n);
}

void
notify_store_result(struct notify_req *r)
{
	store_write(r->n->store, result_fn, result_done, r);
}

int
notify_create(uv_loop_t *loop, struct store *store,
	      const struct notify_options *o, struct notify **out)
{
	struct notify *n;
	int rc;

	if (loop == NULL || store == NULL || o == NULL ||
	    o->max_in_flight > 200 || o->max_attempts < 0 ||
	    (o->backoff_max_ms != 0 && o->backoff_max_ms < o->backoff_base_ms))
		return -EINVAL;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return -EIO;
	n = xcalloc(1, sizeof(*n));
	n->loop = loop;
	n->store = store;
	n->o = *o;
#define DEFAULT(f, v) \
	do { \
		if (n->o.f == 0) \
			n->o.f = (v); \
	} while (0)
	DEFAULT(backoff_base_ms, NOTIFY_BASE_MS);
	DEFAULT(backoff_max_ms, NOTIFY_MAX_MS);
	DEFAULT(max_attempts, NOTIFY_ATTEMPTS);
	DEFAULT(jitter_percent, NOTIFY_JITTER);
	DEFAULT(max_in_flight, NOTIFY_IN_FLIGHT);
	DEFAULT(timeout_ms, NOTIFY_TIMEOUT_MS);
	DEFAULT(connect_timeout_ms, NOTIFY_CONNECT_MS);
#undef DEFAULT
	if (n->o.backoff_max_ms < n->o.backoff_base_ms)
		n->o.backoff_max_ms = n->o.backoff_base_ms;
	if (n->o.jitter_percent > 100)
		n->o.jitter_percent = 100;
	n->rng = uv_hrtime() ^ (uint64_t)(uintptr_t)n;
	if (n->rng == 0)
		n->rng = 1;
	if ((rc = notify_curl_init(n)) < 0) {
		free(n);
		curl_global_cleanup();
		return rc;
	}
	uv_timer_init(loop, &n->wake);
	notify_kick(n);
	*out = n;
	return 0;
}

void
notify_kick(struct notify *n)
{
	if (n->closing)
		return;
	/* Next iteration: kicks in a row make one scan. */
	uv_timer_start(&n->wake, on_wake, 0, 0);
}

void
notify_stats(const struct notify *n, struct notify_stats *out)
{
	*out = n->stats;
	out->in_flight = n->nreqs;
}

static void
on_wake_closed(uv_handle_t *h)
{
	struct notify *n = container_of((uv_timer_t *)h, struct notify, wake);

	n->nclosing--;
	notify_maybe_free(n);
}

void
notify_close(struct notify *n, notify_close_cb cb, void *arg)
{
	n->closing = true;
	n->close_cb = cb;
	n->close_arg = arg;
	notify_curl_close(n);
	uv_timer_stop(&n->wake);
	n->nclosing++;
	uv_close((uv_handle_t *)&n->wake, on_wake_closed);
}
