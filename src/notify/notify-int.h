/*
 * notify's private layout, shared by its own files only.
 *
 * One struct notify holds the CURLM, the timer curl asks for
 * (curl_timer), the timer for the next due row or a kick (wake), the
 * uv_poll handle of each socket curl watches (socks) and the requests
 * (reqs).  A request is in `reqs` from the moment it is sent until its
 * answer is stored: while it is there its row is not sent again, and it
 * holds one of max_in_flight places.  `easy` is NULL once the answer is in
 * and its store write is queued.
 *
 * Everything runs on the loop thread, except the store write fn, which
 * reads only the request's result fields on the writer thread while the
 * request is handed over to it.
 */
#ifndef PW_NOTIFY_INT_H
#define PW_NOTIFY_INT_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/notify.h"
#include "pipewright/store.h"
#include "pipewright/util.h"

#define NOTIFY_BASE_MS 1000
#define NOTIFY_MAX_MS (10 * 60 * 1000)
#define NOTIFY_ATTEMPTS 8
#define NOTIFY_JITTER 20
#define NOTIFY_IN_FLIGHT 8
#define NOTIFY_TIMEOUT_MS 30000
#define NOTIFY_CONNECT_MS 10000
#define NOTIFY_BODY_MAX 65536  /* of an answer kept for delivered() */
#define NOTIFY_ERROR_BODY 200  /* of an answer kept in last_error */
#define NOTIFY_BATCH_READ 8    /* due rows read per place, for batches */
#define NOTIFY_DUE_MAX 200     /* store_outbox_due's largest read */
#define NOTIFY_OTLP_BATCH 64   /* span rows in one OTLP request */

/* A socket curl asked us to watch. */
struct notify_sock {
	uv_poll_t poll;
	curl_socket_t fd;
	struct notify *n;
	struct notify_sock *next, **prevp;
};

/* One row being sent, then its answer being stored. */
struct notify_req {
	struct notify *n;
	struct notify_req *next, **prevp;
	struct store_outbox *row;
	CURL *easy;                 /* NULL once answered */
	struct curl_slist *headers;
	struct buf answer;          /* the body, up to NOTIFY_BODY_MAX */
	char errbuf[CURL_ERROR_SIZE];
	const struct notify_kind *kind;
	struct notify_target tgt;   /* notifications: secrets, wiped after */
	struct curl_slist *rcpt;    /* email: the envelope's recipients */
	char *mail_from;            /* email: the envelope's sender */
	size_t upload_off;          /* email: bytes of the body read by curl */
	struct store_outbox **more; /* a batching kind: rows sent with row,
	                               in one request (owned) */
	size_t nmore;
	char *body;                 /* their bodies merged, or NULL: row's */
	bool give_up;               /* the kind's final() said so */
	/* The result to store (store_tx_outbox_result). */
	const char *state;
	int attempts;
	uint64_t next_at, now;
	char *error;
};

struct notify {
	uv_loop_t *loop;
	struct store *store;
	struct notify_options o;    /* defaults filled in */
	CURLM *multi;
	uv_timer_t curl_timer;      /* curl's timeout */
	uv_timer_t wake;            /* the next due row, or a kick */
	struct notify_sock *socks;
	struct notify_req *reqs;
	size_t nreqs;
	uint64_t rng;               /* jitter: xorshift64 */
	uint64_t hold_until;        /* after a store error: no scan before */
	struct notify_stats stats;
	bool curl_up;               /* libcurl open, multi and curl_timer made */
	bool closing;
	int nclosing;               /* handles whose close callback is due */
	notify_close_cb close_cb;
	void *close_arg;
};

/* notify.c */
uint64_t notify_now(struct notify *n);
/* A request is answered and its result set: store it, then free it. */
void notify_store_result(struct notify_req *r);
/* Frees a request that is out of the list. */
void notify_req_free(struct notify_req *r);
void notify_maybe_free(struct notify *n);

/* curl.c: libcurl multi on the loop */
/*
 * Opens libcurl (the first time a row is due: an idle daemon never maps
 * it), initialises it and makes the multi handle and curl_timer; sets
 * curl_up.  -ENOENT if libcurl cannot be loaded, -EIO if it fails to
 * start, both logged.
 */
int notify_curl_open(struct notify *n) PW_WUR;
/* Abandons every transfer and closes curl's handles (closing only). */
void notify_curl_close(struct notify *n);

/*
 * kinds.c: the sender of each outbox kind.  A kind builds its request on
 * top of what every request gets (send.c: the row's header lines, a
 * timeout, no signals, TLS verified) and says how its answer is judged.
 *
 * `batch` is the seam for kinds whose rows travel together (spans: many
 * rows in one OTLP request): 1 for most kinds, one row per request.  A
 * kind with batch > 1 has the scan hand it up to `batch` due rows of its
 * kind and URL at once; merge() makes one body of theirs, and the answer
 * is stored for each row (each with its own seq, attempts and expiry).
 */
struct notify_kind {
	const char *name;
	const char *protocols;      /* CURLOPT_PROTOCOLS_STR */
	bool http;                  /* answers are HTTP statuses */
	bool secrets;               /* asks notify_options.target first */
	size_t batch;
	/* Adds header lines to *h before the request is built. */
	int (*headers)(struct notify_req *r, struct curl_slist **h);
	/* Sets the kind's own options on r->easy. */
	int (*options)(struct notify_req *r);
	/* An HTTP answer that is not delivered and never will be: the row
	   fails at once.  NULL: every such answer is retried. */
	bool (*final)(int status);
	/* batch > 1: one body of n rows' bodies (caller frees), or NULL if
	   they cannot be merged (each row is then sent on its own). */
	char *(*merge)(const char *const *bodies, size_t n);
};
const struct notify_kind *notify_kind_find(const char *name);

/* send.c */
/* Builds the row's request and adds it to the multi handle. */
int notify_send(struct notify_req *r) PW_WUR;
/* The transfer is over (res): decide delivered, retry or failed. */
void notify_answered(struct notify_req *r, CURLcode res);
/* The delay before retry number `attempts` (from 1), with jitter. */
uint64_t notify_backoff(struct notify *n, int attempts, uint64_t at_least);

#endif
