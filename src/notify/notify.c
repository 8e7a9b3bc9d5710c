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
	store_outboxes_free(r->more, r->nmore);
	free(r->body);
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
	if (n->curl_up)
		curl_global_cleanup();
	free(n);
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
	size_t i;

	for (r = n->reqs; r != NULL; r = r->next) {
		if (r->row->id == id)
			return true;
		for (i = 0; i < r->nmore; i++)
			if (r->more[i]->id == id)
				return true;
	}
	return false;
}

static bool
same_kind(const struct store_outbox *a, const struct store_outbox *b)
{
	return a->kind != NULL && b->kind != NULL &&
	       strcmp(a->kind, b->kind) == 0 && strcmp(a->url, b->url) == 0;
}

static bool
taken(const struct notify_req *r, uint64_t id)
{
	size_t i;

	for (i = 0; i < r->nmore; i++)
		if (r->more[i]->id == id)
			return true;
	return r->row->id == id;
}

/*
 * Rows of r's kind and URL not due yet go too: after an outage their
 * retries fell apart by jitter, and one request is what the collector
 * wants.  A read error only leaves them to their own time.
 */
static void
take_waiting(struct notify *n, struct notify_req *r,
	     const struct notify_kind *k)
{
	struct store_outbox **w;
	size_t nw, i;

	if (store_outbox_waiting(n->store, r->row->kind, r->row->url,
				 k->batch, &w, &nw) < 0)
		return;
	for (i = 0; i < nw; i++) {
		if (r->nmore + 1 < k->batch && !taken(r, w[i]->id) &&
		    !in_flight(n, w[i]->id)) {
			r->more = xrealloc(r->more, (r->nmore + 1) *
					   sizeof(*r->more));
			r->more[r->nmore++] = w[i];
		} else {
			store_outbox_free(w[i]);
		}
	}
	free(w);
}

/*
 * A batching kind: the due rows after rows[i] of its kind and URL go with
 * it (taken out of rows[]), up to the kind's batch, their bodies merged.
 */
static void
gather(struct notify *n, struct notify_req *r, struct store_outbox **rows,
       size_t i, size_t nrows)
{
	const struct notify_kind *k = notify_kind_find(r->row->kind);
	const char **bodies;
	size_t j, nb;

	if (k == NULL || k->batch < 2 || k->merge == NULL)
		return;
	for (j = i + 1; j < nrows && r->nmore + 1 < k->batch; j++) {
		if (rows[j] == NULL || !same_kind(r->row, rows[j]) ||
		    in_flight(n, rows[j]->id))
			continue;
		r->more = xrealloc(r->more, (r->nmore + 1) * sizeof(*r->more));
		r->more[r->nmore++] = rows[j];
		rows[j] = NULL;
	}
	if (r->nmore + 1 < k->batch)
		take_waiting(n, r, k);
	if (r->nmore == 0)
		return;
	bodies = xcalloc(r->nmore + 1, sizeof(*bodies));
	bodies[0] = r->row->body != NULL ? r->row->body : "";
	for (j = 0, nb = 1; j < r->nmore; j++)
		bodies[nb++] = r->more[j]->body != NULL ? r->more[j]->body : "";
	r->body = k->merge(bodies, nb);
	free(bodies);
	if (r->body == NULL) {
		/* Not mergeable: each goes on its own, at the next scan. */
		store_outboxes_free(r->more, r->nmore);
		r->more = NULL;
		r->nmore = 0;
	}
}

static void
start(struct notify *n, struct store_outbox **rows, size_t i, size_t nrows)
{
	struct notify_req *r = xcalloc(1, sizeof(*r));
	int rc;

	r->n = n;
	r->row = rows[i];
	rows[i] = NULL;
	gather(n, r, rows, i, nrows);
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
	size_t nrows, i, limit, started = 0;
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
	/* More than the places: a batching kind takes several at once. */
	limit = n->o.max_in_flight * NOTIFY_BATCH_READ;
	if (limit > NOTIFY_DUE_MAX)
		limit = NOTIFY_DUE_MAX;
	rc = store_outbox_due(n->store, now, limit, &rows, &nrows);
	if (rc < 0)
		goto store_error;
	/* The first row due opens libcurl (include/pipewright/curlx.h). */
	if (nrows > 0 && !n->curl_up && (rc = notify_curl_open(n)) < 0) {
		for (i = 0; i < nrows; i++)
			store_outbox_free(rows[i]);
		free(rows);
		/* The rows stay pending; try again, without a busy loop. */
		n->hold_until = now + n->o.backoff_max_ms;
		arm(n, n->hold_until, now);
		return;
	}
	for (i = 0; i < nrows; i++) {
		if (rows[i] == NULL)
			continue; /* gone with an earlier row's batch */
		if (n->nreqs < n->o.max_in_flight &&
		    !in_flight(n, rows[i]->id)) {
			start(n, rows, i, nrows);
			started++;
		} else {
			store_outbox_free(rows[i]);
		}
	}
	free(rows);
	/*
	 * The read may have stopped short of rows already due while places
	 * are free: look again (each such scan starts a request, so this
	 * ends when the places are full or the due rows are all in flight).
	 */
	if (nrows == limit && started > 0 && n->nreqs < n->o.max_in_flight) {
		notify_kick(n);
		return;
	}
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

/* A row that went with r's: the same answer, judged by its own age. */
static int
more_result(struct store_tx *tx, const struct notify_req *r,
	    const struct store_outbox *row)
{
	struct store_outbox_result res = {
		.id = row->id,
		.seq = row->seq,
		.state = r->state,
		.attempts = row->attempts + 1,
		.next_at = r->next_at,
		.last_error = r->error,
		.now = r->now,
	};
	int rc;

	if (strcmp(r->state, "pending") == 0 && row->expires_at != 0 &&
	    r->now >= row->expires_at)
		res.state = "failed";
	else if (strcmp(r->state, "failed") == 0 && !r->give_up &&
		 row->expires_at > r->now)
		res.state = "pending"; /* r's row was older */
	if (strcmp(res.state, "pending") != 0)
		res.next_at = row->next_at;
	rc = store_tx_outbox_result(tx, &res);
	/* Never coalesced, but gone (pruned) or replaced is no failure. */
	return rc == -ENOENT || rc == -ESTALE ? 0 : rc;
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
	size_t i;
	int rc = store_tx_outbox_result(tx, &res);

	for (i = 0; (rc == 0 || rc == -ESTALE || rc == -ENOENT) &&
		    i < r->nmore; i++) {
		int mrc = more_result(tx, r, r->more[i]);

		if (mrc < 0)
			rc = mrc;
	}
	return rc;
}

static void
result_done(int rc, void *arg)
{
	struct notify_req *r = arg;
	struct notify *n = r->n;
	struct store_outbox *row = r->row;

	if (rc == 0 && strcmp(r->state, "delivered") == 0) {
		n->stats.delivered += 1 + r->nmore;
		log_debug("notify.delivered key=%s attempts=%d batch=%zu",
			  row->key, r->attempts, 1 + r->nmore);
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

	if (loop == NULL || store == NULL || o == NULL ||
	    o->max_in_flight > 200 || o->max_attempts < 0 ||
	    (o->backoff_max_ms != 0 && o->backoff_max_ms < o->backoff_base_ms))
		return -EINVAL;
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
	if (n->curl_up)
		notify_curl_close(n);
	uv_timer_stop(&n->wake);
	n->nclosing++;
	uv_close((uv_handle_t *)&n->wake, on_wake_closed);
}
