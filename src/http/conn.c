/*
 * conn.c: one client connection: read, parse, dispatch, write, repeat.
 *
 * Bytes read are kept in `in` and fed to the parse state; after a
 * complete request the parser stays paused until that request's answer
 * is written, then the rest of `in` is fed (pipelining, in order).  While
 * a request is being answered the connection keeps reading (at most
 * HTTP_MAX_READ_AHEAD bytes ahead) so that a client going away is seen
 * and the request aborted.
 *
 * One uv_timer per connection serves four purposes, one at a time: the
 * idle timeout (waiting for a request: close quietly; a new connection
 * waits at most the header timeout for its first byte), the header
 * timeout (a request has begun and its head must be complete in time:
 * 408 — slowloris), the read timeout (the whole request, body included,
 * from its first byte: 408) and the lingering close.
 *
 * Who gets a connection when they are scarce: one peer address (an IPv6
 * one's /64, as the API's slow-down counts it: http_addr_group) holds at
 * most max_connections_per_address of them (a trusted proxy is many
 * clients and is not capped): over it, the newcomer takes the place of
 * that peer's oldest idle connection, and with none idle it is told 429
 * and closed.  When max_connections are open, the oldest idle connection
 * of any peer — between requests, or with no complete request yet — is
 * closed to make room; a connection answering a request (a stream
 * included) is never taken, nor one with bytes waiting to be read, nor
 * one idle for less than a grace period (evict_idle).  Only when none is
 * idle does the newcomer get 503.
 *
 * A connection that closes after an answer (errors,
 * "Connection: close", HTTP/1.0, stop_accepting) shuts its write side
 * down and then reads and drops what the client still sends for a while,
 * so that closing with unread bytes does not reset the answer away.
 *
 * The struct is freed in the close callback of its last handle.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http-int.h"

enum timer_mode { T_NONE, T_IDLE, T_HEAD, T_READ, T_LINGER, T_CLOSE };

struct http_conn {
	struct http_server *s;
	struct http_conn *prev, *next; /* in s->conns */
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_shutdown_t shutdown;
	int handles;                  /* open handles: tcp and timer */
	struct http_parse ps;
	struct buf in;                /* read, not yet parsed */
	size_t in_off;                /* parsed up to here */
	struct http_request *cur;     /* being answered */
	bool cur_done;                /* cur's answer is queued */
	size_t queued;                /* bytes queued, not yet written */
	size_t nwrites;               /* writes in flight */
	enum timer_mode tmode;
	bool counted;                 /* counts against max_connections */
	bool reading;
	bool close_after;             /* close once cur's answer is written */
	bool lingering;
	bool closing;
	bool served;                  /* an answer was written on it */
	bool proxy;                   /* the peer is a trusted proxy */
	bool refused;                 /* told 429/503 at accept: no linger */
	uint64_t idle_since;          /* uv_hrtime() of accept or last answer */
	char peer[48];                /* canonical text (INET6_ADDRSTRLEN) */
	char group[HTTP_ADDR_GROUP_LEN]; /* peer's, for the cap: IPv6 /64 */
	char rbuf[16 * 1024];
};

#define HTTP_CONTINUE "HTTP/1.1 100 Continue\r\n\r\n"

struct http_write {
	uv_write_t w;
	struct http_conn *c;
	size_t len;
	char data[];
};

static void conn_process(struct http_conn *c);

static uint64_t
min_ms(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}
static void on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b);

static void
timer_set(struct http_conn *c, enum timer_mode mode, uint64_t ms);

static void
on_close(uv_handle_t *h)
{
	struct http_conn *c = h->data;
	struct http_server *s = c->s;

	if (--c->handles > 0)
		return;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	http_parse_free(&c->ps);
	buf_free(&c->in);
	free(c);
	http_server_unref(s);
}

void
http_conn_close(struct http_conn *c)
{
	struct http_request *req = c->cur;

	if (c->closing)
		return;
	c->closing = true;
	if (c->counted)
		c->s->nconns--;
	c->counted = false;
	c->cur = NULL;
	if (req != NULL && !req->answered) {
		/* Detach it: see the rule in http.h. */
		req->conn = NULL;
		req->server = NULL;
		if (req->abort_cb != NULL) {
			req->aborting = true;
			req->abort_cb(req, req->abort_arg);
			http_request_free(req);
		}
	} else {
		http_request_free(req);
	}
	uv_close((uv_handle_t *)&c->tcp, on_close);
	uv_close((uv_handle_t *)&c->timer, on_close);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct http_conn *c = h->data;

	(void)hint;
	b->base = c->rbuf;
	b->len = sizeof(c->rbuf);
}

static void
read_start(struct http_conn *c)
{
	if (c->reading || c->closing)
		return;
	if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0) {
		http_conn_close(c);
		return;
	}
	c->reading = true;
}

static void
read_stop(struct http_conn *c)
{
	if (!c->reading)
		return;
	uv_read_stop((uv_stream_t *)&c->tcp);
	c->reading = false;
}

/* Makes req the connection's request, answered by the server itself. */
static void
adopt(struct http_conn *c, struct http_request *req)
{
	req->conn = c;
	req->server = c->s;
	snprintf(req->client, sizeof(req->client), "%s", c->peer);
	c->cur = req;
}

static void
on_timer(uv_timer_t *t)
{
	struct http_conn *c = container_of(t, struct http_conn, timer);
	struct http_request *req;
	const struct http_limits *lim = &c->s->lim;
	char msg[80];

	switch (c->tmode) {
	case T_HEAD:
	case T_READ:
		if (c->tmode == T_HEAD &&
		    lim->header_timeout_ms < lim->read_timeout_ms)
			snprintf(msg, sizeof(msg), "request head not complete "
				 "within %llu ms",
				 (unsigned long long)lim->header_timeout_ms);
		else
			snprintf(msg, sizeof(msg), "request not complete within"
				 " %llu ms",
				 (unsigned long long)lim->read_timeout_ms);
		c->tmode = T_NONE;
		req = http_parse_take(&c->ps);
		if (req == NULL)
			req = http_request_new();
		adopt(c, req);
		c->close_after = true;
		read_stop(c);
		http_respond_error_now(req, 408, "request_timeout", msg);
		break;
	case T_IDLE:
	case T_LINGER:
	case T_CLOSE:
	case T_NONE:
		http_conn_close(c);
		break;
	}
}

static void
timer_set(struct http_conn *c, enum timer_mode mode, uint64_t ms)
{
	if (c->tmode == T_CLOSE)
		return; /* a write failed: closing is all that is left */
	c->tmode = mode;
	if (mode == T_NONE)
		uv_timer_stop(&c->timer);
	else
		uv_timer_start(&c->timer, on_timer, ms, 0);
}

static void
on_shutdown(uv_shutdown_t *sr, int status)
{
	struct http_conn *c = container_of(sr, struct http_conn, shutdown);

	if (c->closing)
		return;
	if (status < 0) {
		http_conn_close(c);
		return;
	}
	c->lingering = true;
	read_start(c);
	timer_set(c, T_LINGER, HTTP_LINGER_MS);
}

/* The answer to cur is written: go on with the next request, or close. */
static void
maybe_next(struct http_conn *c)
{
	if (c->closing || c->cur == NULL || !c->cur_done || c->nwrites > 0)
		return;
	http_request_free(c->cur);
	c->cur = NULL;
	c->cur_done = false;
	c->served = true;
	c->idle_since = uv_hrtime();
	if (c->close_after && c->refused) {
		/*
		 * A refusal closes at once: lingering would hold a descriptor
		 * for each of a flood's connections for HTTP_LINGER_MS, and
		 * nothing it sent is worth saving the answer for.
		 */
		http_conn_close(c);
		return;
	}
	if (c->close_after) {
		timer_set(c, T_NONE, 0);
		if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->tcp,
				on_shutdown) != 0)
			http_conn_close(c);
		return;
	}
	http_parse_next(&c->ps);
	read_start(c);
	conn_process(c);
}

static void
on_write(uv_write_t *w, int status)
{
	struct http_write *hw = container_of(w, struct http_write, w);
	struct http_conn *c = hw->c;
	struct http_request *req;
	http_drain_cb cb;

	c->nwrites--;
	c->queued -= hw->len;
	free(hw);
	if (c->closing)
		return;
	if (status < 0) {
		http_conn_close(c);
		return;
	}
	/* A stream's producer waits for the queue to go down to its mark. */
	req = c->cur;
	if (req != NULL && req->drain_cb != NULL && c->queued <= req->drain_low) {
		cb = req->drain_cb;
		req->drain_cb = NULL;
		cb(req, req->drain_arg);
		if (c->closing)
			return;
	}
	maybe_next(c);
}

size_t
http_conn_send(struct http_conn *c, const char *data, size_t len)
{
	struct http_write *hw;
	uv_buf_t b;

	if (len == 0 || c->closing)
		return c->queued;
	hw = xmalloc(sizeof(*hw) + len);
	hw->c = c;
	hw->len = len;
	memcpy(hw->data, data, len);
	b = uv_buf_init(hw->data, (unsigned int)len);
	if (uv_write(&hw->w, (uv_stream_t *)&c->tcp, &b, 1, on_write) != 0) {
		/* Not now: the caller may be in the middle of an answer. */
		free(hw);
		timer_set(c, T_CLOSE, 0);
		return c->queued;
	}
	c->nwrites++;
	c->queued += len;
	return c->queued;
}

bool
http_conn_closing(struct http_conn *c, struct http_request *req)
{
	if (c->s->stopping || !req->keep_alive || req->stream_raw)
		c->close_after = true;
	return c->close_after;
}

void
http_conn_request_done(struct http_conn *c, struct http_request *req)
{
	if (c->cur != req)
		return;
	c->cur_done = true;
	maybe_next(c);
}

struct http_conn *
http_conn_next(struct http_conn *c)
{
	return c->next;
}

void
http_conn_close_if_idle(struct http_conn *c)
{
	/*
	 * Only a keep-alive connection between requests: one just accepted
	 * has its first request on the way (closing it would reset a client
	 * that did nothing wrong); it is answered with "Connection: close".
	 */
	if (c->served && c->cur == NULL && !c->ps.in_message)
		http_conn_close(c);
}

/* Answers an error the parse state found, then closes. */
static void
parse_failed(struct http_conn *c)
{
	struct http_request *req = http_parse_take(&c->ps);

	if (req == NULL)
		req = http_request_new();
	adopt(c, req);
	c->close_after = true;
	read_stop(c);
	timer_set(c, T_NONE, 0);
	http_respond_error_now(req, c->ps.status, c->ps.code, c->ps.msg);
}

static void
conn_process(struct http_conn *c)
{
	struct http_request *req;
	size_t used;
	int rc;

	while (c->cur == NULL && !c->closing && !c->close_after &&
	       c->in_off < c->in.len) {
		rc = http_parse_feed(&c->ps, c->in.data + c->in_off,
				     c->in.len - c->in_off, &used);
		c->in_off += used;
		if (rc == HTTP_PARSE_MORE) {
			if (c->ps.expect_continue) {
				/* The client waits for this before the body. */
				c->ps.expect_continue = false;
				http_conn_send(c, HTTP_CONTINUE, strlen(HTTP_CONTINUE));
			}
			break;
		}
		if (rc == HTTP_PARSE_ERROR) {
			parse_failed(c);
			break;
		}
		req = http_parse_take(&c->ps);
		req->conn = c;
		req->server = c->s;
		http_peer_client(c->s, c->peer, &req->headers, req->client,
				 sizeof(req->client));
		req->proxied = c->proxy;
		c->cur = req;
		timer_set(c, T_NONE, 0);
		http_server_dispatch(c->s, req);
	}
	if (c->closing)
		return;
	if (c->in_off == c->in.len) {
		buf_reset(&c->in);
		c->in_off = 0;
	}
	if (c->cur != NULL || c->close_after)
		return;
	/* No timer restarts on more bytes: trickling buys no time. */
	if (c->ps.in_message && !c->ps.headers_done) {
		if (c->tmode != T_HEAD)
			timer_set(c, T_HEAD, min_ms(c->s->lim.header_timeout_ms,
						    c->s->lim.read_timeout_ms));
	} else if (c->ps.in_message) {
		if (c->tmode != T_READ) {
			/* The read timeout still counts from the first byte. */
			uint64_t spent = c->ps.req != NULL ?
				(uv_hrtime() - c->ps.req->start_ns) / 1000000 : 0;
			uint64_t lim = c->s->lim.read_timeout_ms;

			timer_set(c, T_READ, spent < lim ? lim - spent : 1);
		}
	} else if (c->tmode != T_IDLE) {
		timer_set(c, T_IDLE, c->s->lim.idle_timeout_ms);
	}
}

static void
on_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *b)
{
	struct http_conn *c = st->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		http_conn_close(c);
		return;
	}
	if (c->lingering || c->close_after)
		return; /* nothing more is read from a closing connection */
	if (c->in_off > 0 && c->in_off == c->in.len) {
		buf_reset(&c->in);
		c->in_off = 0;
	}
	buf_add(&c->in, b->base, (size_t)nread); /* reading stops below */
	conn_process(c);
	if (!c->closing && c->cur != NULL &&
	    c->in.len - c->in_off > HTTP_MAX_READ_AHEAD)
		read_stop(c);
}

/* Answered, and closing: lingering, or about to. */
static bool
leaving(const struct http_conn *c)
{
	return c->close_after && c->cur == NULL;
}

/* Connections of group that count against its cap (not those leaving). */
static size_t
count_peer(struct http_server *s, const char *group)
{
	struct http_conn *c;
	size_t n = 0;

	for (c = s->conns; c != NULL; c = c->next)
		if (c->counted && !leaving(c) && strcmp(c->group, group) == 0)
			n++;
	return n;
}

/*
 * What the kernel holds for an idle connection that the loop has not read
 * yet (an accept and a read can be ready in the same poll, and accepts
 * are taken first): the client's EOF or reset, bytes of its request, or
 * nothing.  A peek, so that nothing is consumed.
 */
enum pending { P_GONE, P_DATA, P_NOTHING };

static enum pending
pending(struct http_conn *c)
{
	uv_os_fd_t fd;
	ssize_t n;
	char b;

	if (uv_fileno((const uv_handle_t *)&c->tcp, &fd) != 0)
		return P_NOTHING;
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0)
		return P_DATA;
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
		       errno != EINTR))
		return P_GONE;
	return P_NOTHING;
}

/*
 * Closes one idle connection (of peer group only, if not NULL) to make
 * room; false if none may go.  First any that is leaving anyway (closing
 * after its answer, or whose client has gone: its EOF not read yet);
 * else the one idle the longest, if idle for at least the grace period —
 * HTTP_EVICT_GRACE_MS among all peers, HTTP_EVICT_PEER_GRACE_MS among one
 * peer's own — and with no bytes of a request waiting to be read.  A
 * connection accepted in the same burst as the newcomer has its request
 * on the way, and one just answered may have its next one coming.
 */
static bool
evict_idle(struct http_server *s, const char *group)
{
	struct http_conn *c, *old = NULL;
	uint64_t now = uv_hrtime();
	uint64_t grace = (group != NULL ? HTTP_EVICT_PEER_GRACE_MS :
			  HTTP_EVICT_GRACE_MS) * 1000000ULL;
	enum pending p;

	for (c = s->conns; c != NULL; c = c->next) {
		if (!c->counted || c->closing || c->cur != NULL ||
		    (group != NULL && strcmp(c->group, group) != 0))
			continue;
		p = leaving(c) ? P_GONE : pending(c);
		if (p == P_GONE) {
			old = c;
			break;
		}
		if (p == P_NOTHING && now - c->idle_since >= grace &&
		    (old == NULL || c->idle_since < old->idle_since))
			old = c;
	}
	if (old == NULL)
		return false;
	http_conn_close(old);
	return true;
}

/* Answers the new connection c with an error and closes it. */
static void
refuse(struct http_conn *c, int status, const char *code, const char *msg)
{
	struct http_request *req = http_request_new();

	adopt(c, req);
	req->start_ns = uv_hrtime();
	c->close_after = true;
	c->refused = true;
	http_respond_error_now(req, status, code, msg);
}

void
http_conn_accept(struct http_server *s)
{
	struct http_conn *c = xcalloc(1, sizeof(*c));
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char msg[128];

	c->s = s;
	http_parse_init(&c->ps, &s->lim);
	buf_init(&c->in, 0);
	if (uv_tcp_init(s->loop, &c->tcp) != 0) {
		http_parse_free(&c->ps);
		free(c);
		return;
	}
	c->tcp.data = c;
	c->timer.data = c;
	c->handles = 1;
	if (uv_timer_init(s->loop, &c->timer) == 0)
		c->handles++;
	c->next = s->conns;
	if (s->conns != NULL)
		s->conns->prev = c;
	s->conns = c;
	if (c->handles != 2 ||
	    uv_accept((uv_stream_t *)&s->listener, (uv_stream_t *)&c->tcp) != 0) {
		c->closing = true;
		uv_close((uv_handle_t *)&c->tcp, on_close);
		if (c->handles == 2)
			uv_close((uv_handle_t *)&c->timer, on_close);
		return;
	}
	memset(&ss, 0, sizeof(ss));
	if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &sslen) == 0)
		http_peer_name(&ss, c->peer, sizeof(c->peer));
	else
		snprintf(c->peer, sizeof(c->peer), "unknown");
	c->proxy = http_peer_trusted(s, c->peer);
	http_addr_group(c->peer, c->group, sizeof(c->group));
	c->idle_since = uv_hrtime();
	/* Over its cap, a peer's newcomer takes that peer's idle place. */
	if (!c->proxy && count_peer(s, c->group) >=
	    s->lim.max_connections_per_address && !evict_idle(s, c->group)) {
		snprintf(msg, sizeof(msg), "too many connections from %s (at "
			 "most %zu)", c->group,
			 s->lim.max_connections_per_address);
		refuse(c, 429, "too_many_requests", msg);
		return;
	}
	if (s->nconns >= s->lim.max_connections && !evict_idle(s, NULL)) {
		snprintf(msg, sizeof(msg), "too many connections (at most %zu)",
			 s->lim.max_connections);
		refuse(c, 503, "unavailable", msg);
		return;
	}
	c->counted = true;
	s->nconns++;
	uv_tcp_nodelay(&c->tcp, 1);
	read_start(c);
	/* The first byte is due within the header timeout. */
	timer_set(c, T_IDLE, min_ms(s->lim.idle_timeout_ms,
				    s->lim.header_timeout_ms));
}
