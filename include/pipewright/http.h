/*
 * http: an HTTP/1.1 server on the libuv loop.
 *
 * Requests are parsed by Debian's libhttp-parser 2.9 (never by hand); the
 * server enforces the limits (URL length → 414, header bytes → 431 (the
 * parser's process-wide max, set once), header count → 431, body → 413,
 * a header name that is not a token → 400, connections — per peer
 * address and in all, idle ones making room for newcomers — header,
 * read and idle timeouts → 408), keeps connections alive,
 * accepts chunked request bodies, refuses Content-Length together with
 * Transfer-Encoding, Upgrade and CONNECT, and answers pipelined requests in
 * order (the parser is paused after each request until its response is
 * written).
 *
 * Routing is a table of {method, pattern, handler} rows; a pattern's
 * "{name}" segments match one percent-decoded path segment each.  A path
 * that matches a pattern under another method gets 405 with Allow.
 *
 * A handler answers with http_respond() (a whole body), or starts a
 * streamed response with http_stream_start() and writes to it until
 * http_stream_end() — Server-Sent Events use this.  A handler may also keep
 * the request and answer later (after a store commit): the request stays
 * valid until it is answered or its connection closes, which the
 * request's `on_abort` callback reports.
 *
 * The rule for requests answered later: a handler owns its request until
 * it answers (http_respond*, or http_stream_end).  If the connection goes
 * away first and an on_abort callback is set, the callback runs once and
 * the request is freed when it returns: the handler forgets the pointer
 * and must not answer it (answers from inside the callback are ignored).
 * Without an on_abort callback the request stays allocated, detached from
 * its connection, until the handler answers it; that answer is dropped.
 *
 * Refusals: Upgrade (any Upgrade header) and CONNECT get 400 bad_request
 * and the connection is closed; so do Content-Length together with
 * Transfer-Encoding and anything http_parser rejects.  Every answer the
 * server makes itself is JSON {"error": {"code", "message"}}.
 *
 * No global state, with one documented exception: http_parser's maximum
 * header size is process-wide (http_parser_set_max_header_size); every
 * http_server_create sets it to its limits' max_header_bytes, so servers
 * in one process must agree on that limit.
 */
#ifndef PIPEWRIGHT_HTTP_H
#define PIPEWRIGHT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "pipewright/util.h"

struct http_server;
struct http_request;

typedef void (*http_handler)(struct http_request *req, void *arg);
typedef void (*http_abort_cb)(struct http_request *req, void *arg);

struct http_route {
	const char *method;   /* "GET", "POST", ... */
	const char *pattern;  /* "/api/v1/runs/{id}/jobs/{job}/log" */
	http_handler handler;
	const char *name;     /* for metrics: defaults to the pattern */
};

/* Zero fields (or NULL limits) take the defaults in brackets. */
struct http_limits {
	size_t max_url;          /* bytes; 414 past it (default 8 KiB) */
	size_t max_header_bytes; /* all headers; 431 (default 16 KiB) */
	size_t max_headers;      /* count; 431 (default 64) */
	size_t max_body;         /* bytes; 413 (default 1 MiB) */
	size_t max_connections;  /* beyond it the oldest idle connection is
				  * closed; none idle: 503 (1024) */
	size_t max_connections_per_address; /* one peer's: beyond it the
				  * peer's oldest idle one is closed; none
				  * idle: 429; not for trusted proxies (64) */
	uint64_t header_timeout_ms; /* a request's head, from its first byte,
				  * and a new connection's first byte (10 s) */
	uint64_t read_timeout_ms;  /* a started request must complete (408) (30 s) */
	uint64_t idle_timeout_ms;  /* an idle keep-alive connection is closed (60 s) */
};

/* An IPv4 or IPv6 network: "192.0.2.0/24", "2001:db8::/32", "10.1.2.3". */
struct http_net {
	int family;              /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;         /* bits; a single address: 32 or 128 */
};

/* 0, or -EINVAL if s is not an address with an optional "/PREFIX". */
int http_net_parse(const char *s, struct http_net *out) PW_WUR;

/*
 * Called once per answered request, when the answer is complete (for a
 * stream: at http_stream_end), also for the answers the server makes
 * itself (404, 413, 408, ...; their route is NULL): for access logs and
 * metrics.  duration_us runs from the request's first byte.
 */
typedef void (*http_log_cb)(void *arg, const struct http_request *req,
			    int status, uint64_t duration_us);

/* The routes are kept, not copied: they must outlive the server. */
int http_server_create(uv_loop_t *loop, const struct http_limits *limits,
		       const struct http_route *routes, size_t nroutes,
		       void *handler_arg, struct http_server **out) PW_WUR;
void http_server_set_log(struct http_server *s, http_log_cb cb, void *arg);
/*
 * Peers inside these networks are reverse proxies: they are not capped
 * per address, and the client of what they forward is the rightmost
 * X-Forwarded-For address that is not itself a trusted proxy (see
 * http_request_client).  Copies the list; -EINVAL on a bad entry.
 */
int http_server_set_trusted_proxies(struct http_server *s,
				    const char *const *nets, size_t n) PW_WUR;
/*
 * A check every request passes before routing (e.g. the Host header): it
 * returns true to go on, or answers the request itself and returns false.
 */
typedef bool (*http_guard_cb)(struct http_request *req, void *arg);
void http_server_set_guard(struct http_server *s, http_guard_cb cb, void *arg);
/*
 * Listens on "HOST:PORT" (port 0 picks one), or adopts an inherited
 * listening descriptor if fd ≥ 0.  The bound address is written to
 * host/port.
 */
int http_server_listen(struct http_server *s, const char *addr, int fd,
		       char *host, size_t hostlen, int *port) PW_WUR;
/* Stops accepting; open connections finish their in-flight requests with
 * "Connection: close". */
void http_server_stop_accepting(struct http_server *s);
size_t http_server_connections(const struct http_server *s);
/* The listening socket (to hand to a successor), or -1. */
int http_server_listen_fd(const struct http_server *s);
/*
 * Closes the listener and every connection (their unanswered requests are
 * aborted); cb runs once the last handle is closed, and s is freed then.
 */
void http_server_close(struct http_server *s, void (*cb)(void *arg), void *arg);

/* Request accessors; strings are valid until the request is answered. */
const char *http_request_method(const struct http_request *req);
const char *http_request_path(const struct http_request *req);   /* decoded, no query */
/* The route's name (its pattern if the row has none); NULL if none matched. */
const char *http_request_route(const struct http_request *req);
/*
 * The row of the route table that matched (a pointer into the table given
 * to http_server_create), NULL if none: a handler shared by several rows
 * finds its own row's data through it.
 */
const struct http_route *http_request_route_row(const struct http_request *req);
/* A "{name}" from the pattern, percent-decoded; NULL if absent. */
const char *http_request_param(const struct http_request *req, const char *name);
/* A query parameter ('+' is a space), percent-decoded; the first if
 * repeated, "" for a key without '='; NULL if absent. */
const char *http_request_query(const struct http_request *req, const char *name);
/*
 * The client's address as text (canonical, IPv4-mapped shown as IPv4):
 * the peer's, or for a trusted proxy the client it names (above).
 */
const char *http_request_client(const struct http_request *req);
/*
 * Whether the request came from a trusted proxy, whose X-Forwarded-*
 * headers may then be believed (X-Forwarded-Proto: https for a cookie's
 * Secure flag).
 */
bool http_request_via_proxy(const struct http_request *req);
/*
 * What an address (as http_request_client gives it) is counted under by
 * per-client limits: itself, or for IPv6 its /64 as "PREFIX::/64" — one
 * subscriber gets a whole /64 and could otherwise take a fresh address
 * for every try.  out: HTTP_ADDR_GROUP_LEN bytes at least.
 */
#define HTTP_ADDR_GROUP_LEN 56
void http_addr_group(const char *addr, char *out, size_t len);
/* A header (case-insensitive name); NULL if absent. */
const char *http_request_header(const struct http_request *req, const char *name);
const char *http_request_body(const struct http_request *req, size_t *len);
/* Data the handler attaches (e.g. the authenticated token's name). */
void http_request_set_data(struct http_request *req, void *data);
void *http_request_data(const struct http_request *req);
/*
 * cb runs if the connection goes away before the request is answered; the
 * request is freed when cb returns (see the rule at the top).
 */
void http_request_on_abort(struct http_request *req, http_abort_cb cb, void *arg);

/*
 * Answers the request.  headers: NULL-terminated "Name: value" strings or
 * NULL.  Copies what it needs; the request is freed, do not use it
 * afterwards.  A HEAD request gets the headers only.
 */
void http_respond(struct http_request *req, int status, const char *content_type,
		  const char *const *headers, const char *body, size_t len);
/* {"error": {"code": code, "message": message}} with the status. */
void http_respond_error(struct http_request *req, int status, const char *code,
			const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* The same with headers (as http_respond's), e.g. Retry-After. */
void http_respond_error_with(struct http_request *req, int status,
			     const char *code, const char *const *headers,
			     const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* A JSON body (NUL-terminated). */
void http_respond_json(struct http_request *req, int status, const char *json);

/*
 * Streaming: the status line and headers now, then chunks (chunked
 * transfer encoding), then the end.  http_stream_write returns the number
 * of bytes queued and not yet written, so a producer can slow down (with
 * len 0 it writes nothing, only says).
 * The connection carries nothing else until the end (HTTP/1.0 clients
 * get the bytes unframed and the connection closes at the end).
 * http_stream_end frees the request.
 */
void http_stream_start(struct http_request *req, int status,
		       const char *content_type, const char *const *headers);
size_t http_stream_write(struct http_request *req, const char *data, size_t len);
void http_stream_end(struct http_request *req);
/*
 * A producer faster than its client (a file download) waits: cb runs
 * once, from the loop, when the bytes still queued on the connection
 * fall to `low` or below after a write completes; set it only when
 * http_stream_write answered more than low.  If the connection goes
 * away first, the request's on_abort callback runs instead.
 */
typedef void (*http_drain_cb)(struct http_request *req, void *arg);
void http_stream_on_drain(struct http_request *req, size_t low,
			  http_drain_cb cb, void *arg);
/*
 * Ends a stream that cannot be completed (a read error halfway through a
 * file): the connection is closed without the final chunk, so the client
 * sees the body cut short instead of whole.  Frees the request; its
 * on_abort callback does not run.
 */
void http_stream_abort(struct http_request *req);

/* The reason phrase of a status code ("Not Found"). */
const char *http_status_text(int status);

#endif
