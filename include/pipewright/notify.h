/*
 * notify: sends the store's outbox (commit statuses) to the forges with
 * libcurl multi driven by the libuv loop; the loop never blocks on the
 * network.
 *
 * The outbox table is the queue: the daemon puts a row in the same
 * transaction as the state change that causes it and calls notify_kick();
 * notify reads the due rows, sends them (a few at a time), and stores each
 * answer: delivered, a retry at now + min(max, base * 2^attempts) with
 * jitter, or failed after max_attempts with last_error ("HTTP 500: <the
 * first 200 bytes of the body>" or curl's error).  A row whose newer state
 * was put while the older was in flight is sent again with the newer
 * state; the older answer does not overwrite it.  Nothing lives only in
 * memory: a request in flight at close or at a crash stays pending and is
 * sent again by the next notify on the same store.
 *
 * Each row has a kind, and each kind a sender (kinds.c): "status" (a
 * forge's commit status: the daemon's auth header, coalesced, failed after
 * max_attempts), "webhook" (signed JSON), "slack" (an incoming webhook's
 * JSON) and "email" (SMTP through libcurl).  Rows with an expires_at are
 * retried until then instead of max_attempts times.
 *
 * Forge-agnostic: the row carries method, URL, headers and body; the
 * daemon's callbacks add the project's auth header at send time (tokens
 * never sit in the store) and tell whether an answer means delivered
 * (forge_status_delivered).  Only http and https, TLS verified, no
 * redirects followed, a timeout on every request.
 * See docs/internals/notify.md.
 */
#ifndef PIPEWRIGHT_NOTIFY_H
#define PIPEWRIGHT_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/store.h"
#include "pipewright/util.h"

struct notify;

/*
 * What a notification row (any kind but "status") needs at send time and
 * the store never holds: its entry's secrets and TLS settings, looked up
 * by the row's project and target in the configuration of the moment.
 * Every string malloc'd; notify_target_clear() wipes and frees them.
 */
struct notify_target {
	char *url;               /* replaces the row's URL (one from a
	                            file), or NULL */
	char *secret;            /* webhook: the HMAC-SHA256 key */
	size_t secret_len;
	char *user, *password;   /* email: SMTP AUTH, or NULL */
	char *ca_file;           /* trusted CAs; NULL: notify's */
	bool insecure;           /* TLS not verified (a test's sink) */
	bool starttls;           /* email over smtp://: STARTTLS required */
	char **headers;          /* otlp: "Name: value" lines to add (the
	                            configured otel headers), NULL-ended */
};
void notify_target_clear(struct notify_target *t);

struct notify_options {
	/*
	 * The auth header line for a project's rows ("Authorization: Bearer
	 * T"), malloc'd (notify frees it), or NULL to send none.  Asked at
	 * each send.  NULL: no auth header at all.
	 */
	char *(*auth_header)(void *arg, const char *project);
	/*
	 * Whether an HTTP answer means the call is done (any answer: 2xx
	 * too); body is the answer's first bytes, NUL-terminated.  NULL: any
	 * 2xx.  Network errors are always failures.
	 */
	bool (*delivered)(void *arg, const char *project, int http_status,
			  const char *body);
	/*
	 * Fills *out for a notification row; -ENOENT if its entry is no
	 * longer configured (the row is retried, as for a network error,
	 * until a reload brings it back or it expires).  NULL: -ENOENT.
	 */
	int (*target)(void *arg, const struct store_outbox *row,
		      struct notify_target *out);
	void *arg;
	/* Wall-clock UTC ms, as next_at is stored.  NULL: pw_now_ms. */
	uint64_t (*now)(void *arg);

	uint64_t backoff_base_ms;    /* 0: 1 s */
	uint64_t backoff_max_ms;     /* 0: 10 min */
	int max_attempts;            /* then failed; 0: 8 */
	int jitter_percent;          /* ± on each delay; 0: 20, < 0: none */
	size_t max_in_flight;        /* 0: 8 */
	uint64_t timeout_ms;         /* a whole request; 0: 30 s */
	uint64_t connect_timeout_ms; /* 0: 10 s */
	const char *ca_file;         /* trusted CAs; NULL: the system's */
};

/* Counters since notify_create, for /metrics and tests. */
struct notify_stats {
	uint64_t sent;      /* requests started */
	uint64_t delivered; /* rows stored delivered */
	uint64_t retried;   /* answers stored as a retry */
	uint64_t failed;    /* rows stored failed after max_attempts */
	uint64_t stale;     /* answers dropped: a newer state was put meanwhile */
	size_t in_flight;   /* requests sent or being stored now */
};

/*
 * Starts sending: the due rows are read on the next loop iteration.
 * -EINVAL for bad options, -EIO if libcurl cannot start.  o is copied.
 */
int notify_create(uv_loop_t *loop, struct store *store,
		  const struct notify_options *o, struct notify **out) PW_WUR;

/* New rows were committed: look at the outbox again (soon, once). */
void notify_kick(struct notify *n);

void notify_stats(const struct notify *n, struct notify_stats *out);

typedef void (*notify_close_cb)(void *arg);
/*
 * Stops: requests in flight are abandoned (their rows stay pending in the
 * store and are sent after a restart), handles are closed, answers being
 * stored are waited for; then n is freed and cb (if not NULL) is called
 * from the loop.  Call it before store_close().
 */
void notify_close(struct notify *n, notify_close_cb cb, void *arg);

#endif
