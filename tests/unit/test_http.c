/*
 * Unit tests for the http module: a real server on 127.0.0.1, port 0, in
 * the test's loop, and a real client on a second thread with blocking
 * sockets, sending raw bytes and checking the exact answers.  The client
 * thread records its first failed check in the fixture; the main thread
 * asserts on it once the loop has ended.  Timeouts are the server's own
 * timers (200 ms), the client only waits for them.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <cmocka.h>

#include "pipewright/http.h"

struct fixture;
typedef void (*client_fn)(struct fixture *fx);

struct fixture {
	uv_loop_t loop;
	struct http_server *s;
	uv_async_t done;
	pthread_t th;
	int port;
	char host[64];             /* the listening address */
	client_fn client;
	char fail[512];            /* the client's first failed check */
	atomic_int aborted;        /* on_abort calls */
	atomic_int slow_taken;     /* h_slow calls: a request in hand */
	atomic_int answered_late;  /* async answers that went out */
	atomic_int drains;         /* /bulk: waits for the client to drain */
	int logs;                  /* log callback calls */
	int last_status;
	char last_route[64];
	bool closed;               /* server close callback ran */
};

/* ---- server side: handlers (run on the loop thread) ---- */

static void
h_job(struct http_request *req, void *arg)
{
	char *body;
	const char *x = http_request_query(req, "x");

	(void)arg;
	body = xasprintf("id=%s job=%s x=%s", http_request_param(req, "id"),
			 http_request_param(req, "job"), x != NULL ? x : "-");
	http_respond(req, 200, "text/plain", NULL, body, strlen(body));
	free(body);
}

static void
h_fast(struct http_request *req, void *arg)
{
	(void)arg;
	http_respond(req, 200, "text/plain", NULL, "fast", 4);
}

static void
h_body(struct http_request *req, void *arg)
{
	size_t len;
	const char *body = http_request_body(req, &len);
	const char *hdrs[] = { "X-Body-Length: yes", NULL };

	(void)arg;
	http_respond(req, 200, "text/plain", hdrs, body, len);
}

/* An answer later, from a timer; a client going away cancels it. */
struct later {
	uv_timer_t t;
	struct http_request *req;
	struct fixture *fx;
	int ticks;                 /* stream: chunks written */
	uint64_t ms;               /* stream: between chunks */
};

static void
later_free(uv_handle_t *h)
{
	free(container_of((uv_timer_t *)h, struct later, t));
}

static void
later_fire(uv_timer_t *t)
{
	struct later *l = container_of(t, struct later, t);

	atomic_fetch_add(&l->fx->answered_late, 1);
	http_respond(l->req, 200, "text/plain", NULL, "slow", 4);
	uv_close((uv_handle_t *)&l->t, later_free);
}

static void
later_abort(struct http_request *req, void *arg)
{
	struct later *l = arg;

	(void)req;
	atomic_fetch_add(&l->fx->aborted, 1);
	uv_timer_stop(&l->t);
	uv_close((uv_handle_t *)&l->t, later_free);
}

static void
h_slow(struct http_request *req, void *arg)
{
	struct fixture *fx = arg;
	struct later *l = xcalloc(1, sizeof(*l));
	const char *ms = http_request_query(req, "ms");

	l->req = req;
	l->fx = fx;
	uv_timer_init(&fx->loop, &l->t);
	uv_timer_start(&l->t, later_fire, ms != NULL ? (uint64_t)atoi(ms) : 100, 0);
	http_request_on_abort(req, later_abort, l);
	atomic_fetch_add(&fx->slow_taken, 1);
}

static void
stream_tick(uv_timer_t *t)
{
	struct later *l = container_of(t, struct later, t);
	char line[32];

	if (l->ticks == 3) {
		http_stream_end(l->req);
		uv_close((uv_handle_t *)&l->t, later_free);
		return;
	}
	l->ticks++;
	snprintf(line, sizeof(line), "data: %d\n\n", l->ticks);
	http_stream_write(l->req, line, strlen(line));
	uv_timer_start(&l->t, stream_tick, l->ms, 0);
}

static void
h_stream(struct http_request *req, void *arg)
{
	struct fixture *fx = arg;
	struct later *l = xcalloc(1, sizeof(*l));
	const char *hdrs[] = { "Cache-Control: no-cache", NULL };
	const char *ms = http_request_query(req, "ms");

	l->req = req;
	l->fx = fx;
	l->ms = ms != NULL ? (uint64_t)atoi(ms) : 10;
	uv_timer_init(&fx->loop, &l->t);
	http_request_on_abort(req, later_abort, l);
	http_stream_start(req, 200, "text/event-stream", hdrs);
	uv_timer_start(&l->t, stream_tick, l->ms, 0);
}

/*
 * /bulk: BULK_BYTES in pieces, written while less than BULK_HIGH wait to
 * be sent, then again once the client has taken them down to BULK_LOW.
 */
#define BULK_BYTES (16 * 1024 * 1024)
#define BULK_PIECE (64 * 1024)
#define BULK_HIGH (256 * 1024)
#define BULK_LOW (64 * 1024)

struct bulk {
	struct fixture *fx;
	size_t sent;
	char piece[BULK_PIECE];
};

static void
bulk_abort(struct http_request *req, void *arg)
{
	(void)req;
	free(arg);
}

static void
bulk_more(struct http_request *req, void *arg)
{
	struct bulk *b = arg;
	size_t queued = 0;

	while (b->sent < BULK_BYTES && queued <= BULK_HIGH) {
		memset(b->piece, 'a' + (int)(b->sent / BULK_PIECE % 26),
		       BULK_PIECE);
		queued = http_stream_write(req, b->piece, BULK_PIECE);
		b->sent += BULK_PIECE;
	}
	if (b->sent < BULK_BYTES) {
		atomic_fetch_add(&b->fx->drains, 1);
		http_stream_on_drain(req, BULK_LOW, bulk_more, b);
		return;
	}
	http_request_on_abort(req, NULL, NULL);
	http_stream_end(req);
	free(b);
}

static void
h_bulk(struct http_request *req, void *arg)
{
	struct bulk *b = xcalloc(1, sizeof(*b));

	b->fx = arg;
	http_stream_start(req, 200, "application/octet-stream", NULL);
	http_request_on_abort(req, bulk_abort, b);
	bulk_more(req, b);
}

/* /cut: a piece, then the stream cannot go on. */
static void
h_cut(struct http_request *req, void *arg)
{
	(void)arg;
	http_stream_start(req, 200, "application/octet-stream", NULL);
	http_stream_write(req, "partial", 7);
	http_stream_abort(req);
}

static void
h_client(struct http_request *req, void *arg)
{
	const char *who = http_request_client(req);

	(void)arg;
	http_respond(req, 200, "text/plain", NULL, who, strlen(who));
}

static void
h_stop(struct http_request *req, void *arg)
{
	struct fixture *fx = arg;

	http_server_stop_accepting(fx->s);
	http_respond(req, 200, "text/plain", NULL, "bye", 3);
}

static const struct http_route routes[] = {
	{ "POST", "/stop", h_stop, NULL },
	{ "GET", "/api/v1/runs/{id}/jobs/{job}", h_job, "job" },
	{ "GET", "/fast", h_fast, NULL },
	{ "POST", "/fast", h_fast, NULL },
	{ "POST", "/body", h_body, "body" },
	{ "GET", "/slow", h_slow, "slow" },
	{ "GET", "/stream", h_stream, "stream" },
	{ "GET", "/bulk", h_bulk, "bulk" },
	{ "GET", "/cut", h_cut, "cut" },
	{ "GET", "/client", h_client, "client" },
};

static void
on_log(void *arg, const struct http_request *req, int status,
       uint64_t duration_us)
{
	struct fixture *fx = arg;
	const char *route = http_request_route(req);

	(void)duration_us;
	fx->logs++;
	fx->last_status = status;
	snprintf(fx->last_route, sizeof(fx->last_route), "%s",
		 route != NULL ? route : "(none)");
}

static void
on_server_closed(void *arg)
{
	struct fixture *fx = arg;

	fx->closed = true;
}

static void
on_server_closed_flag(void *arg)
{
	*(bool *)arg = true;
}

static void
on_done(uv_async_t *a)
{
	struct fixture *fx = container_of(a, struct fixture, done);

	http_server_close(fx->s, on_server_closed, fx);
	uv_close((uv_handle_t *)a, NULL);
}

static void *
client_main(void *arg)
{
	struct fixture *fx = arg;

	fx->client(fx);
	uv_async_send(&fx->done);
	return NULL;
}

/* Runs one scenario: the server with limits (NULL: defaults) listening
 * on `listen` ("ADDR:0"), or adopting fd if ≥ 0, and the client on its
 * own thread. */
static void
run_at(client_fn client, const struct http_limits *lim, int fd,
       const char *const *trusted, size_t ntrusted, const char *listen,
       const char *want_host)
{
	struct fixture *fx = calloc(1, sizeof(*fx));

	assert_non_null(fx);
	fx->client = client;
	assert_int_equal(uv_loop_init(&fx->loop), 0);
	assert_int_equal(http_server_create(&fx->loop, lim, routes,
					    PW_ARRAY_LEN(routes), fx, &fx->s), 0);
	http_server_set_log(fx->s, on_log, fx);
	assert_int_equal(http_server_set_trusted_proxies(fx->s, trusted,
							 ntrusted), 0);
	assert_int_equal(http_server_listen(fx->s, fd >= 0 ? NULL : listen,
					    fd, fx->host, sizeof(fx->host),
					    &fx->port), 0);
	assert_string_equal(fx->host, want_host);
	assert_true(fx->port > 0);
	assert_int_equal(uv_async_init(&fx->loop, &fx->done, on_done), 0);
	assert_int_equal(pthread_create(&fx->th, NULL, client_main, fx), 0);
	assert_int_equal(uv_run(&fx->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(pthread_join(fx->th, NULL), 0);
	if (fx->fail[0] != '\0')
		fail_msg("%s", fx->fail);
	assert_true(fx->closed);
	assert_int_equal(uv_loop_close(&fx->loop), 0);
	free(fx);
}

static void
run_trusting(client_fn client, const struct http_limits *lim, int fd,
	     const char *const *trusted, size_t ntrusted)
{
	run_at(client, lim, fd, trusted, ntrusted, "127.0.0.1:0", "127.0.0.1");
}

static void
run(client_fn client, const struct http_limits *lim, int fd)
{
	run_trusting(client, lim, fd, NULL, 0);
}

/* ---- client side (runs on its own thread, blocking sockets) ---- */

#define CHECK(fx, cond)                                                     \
	do {                                                                \
		if (!(cond)) {                                              \
			if ((fx)->fail[0] == '\0')                          \
				snprintf((fx)->fail, sizeof((fx)->fail),    \
					 "%s:%d: %.300s", __FILE__, __LINE__,   \
					 #cond);                            \
			return;                                             \
		}                                                           \
	} while (0)

#define CHECK_STR(fx, a, b)                                                 \
	do {                                                                \
		const char *a_ = (a), *b_ = (b);                            \
		if (a_ == NULL || strcmp(a_, b_) != 0) {                    \
			if ((fx)->fail[0] == '\0')                          \
				snprintf((fx)->fail, sizeof((fx)->fail),    \
					 "%s:%d: \"%.200s\" != \"%.200s\"", __FILE__, \
					 __LINE__, a_ ? a_ : "(null)", b_); \
			return;                                             \
		}                                                           \
	} while (0)

struct client {
	int fd;
	char buf[256 * 1024];
	size_t len;
};

struct resp {
	int status;
	char head[8192];           /* status line and headers, NUL-terminated */
	char body[64 * 1024];
	size_t blen;
	int nchunks;
};

/* An IPv6 connection from `from` to the server (listening on IPv6). */
static struct client *
cl_open_from6(struct fixture *fx, const char *from)
{
	struct client *c = calloc(1, sizeof(*c));
	struct sockaddr_in6 sin6;
	struct timeval tv = { .tv_sec = 5 };

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	c->fd = socket(AF_INET6, SOCK_STREAM, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	inet_pton(AF_INET6, from, &sin6.sin6_addr);
	if (bind(c->fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0)
		goto fail;
	sin6.sin6_port = htons((uint16_t)fx->port);
	inet_pton(AF_INET6, fx->host, &sin6.sin6_addr);
	if (connect(c->fd, (struct sockaddr *)&sin6, sizeof(sin6)) != 0)
		goto fail;
	return c;
fail:
	close(c->fd);
	free(c);
	return NULL;
}

/* A connection from the source address `from` (NULL: any). */
static struct client *
cl_open_from(struct fixture *fx, const char *from)
{
	struct client *c;
	struct sockaddr_in sin;
	struct timeval tv = { .tv_sec = 5 };

	if (from != NULL && strchr(from, ':') != NULL)
		return cl_open_from6(fx, from);
	c = calloc(1, sizeof(*c));
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (from != NULL) {
		inet_pton(AF_INET, from, &sin.sin_addr);
		if (bind(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
			close(c->fd);
			free(c);
			return NULL;
		}
	}
	sin.sin_port = htons((uint16_t)fx->port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sin, sizeof(sin)) != 0) {
		close(c->fd);
		free(c);
		return NULL;
	}
	return c;
}

static struct client *
cl_open(struct fixture *fx)
{
	return cl_open_from(fx, NULL);
}

static void
cl_close(struct client *c)
{
	if (c == NULL)
		return;
	close(c->fd);
	free(c);
}

static bool
cl_send(struct client *c, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = send(c->fd, data, len, MSG_NOSIGNAL);
		if (n <= 0)
			return false;
		data += n;
		len -= (size_t)n;
	}
	return true;
}

#define SEND(fx, c, s) CHECK(fx, cl_send(c, s, strlen(s)))

/* Reads more; false on EOF, error or timeout. */
static bool
cl_fill(struct client *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len - 1, 0);

	if (n <= 0)
		return false;
	c->len += (size_t)n;
	c->buf[c->len] = '\0';
	return true;
}

static void
cl_consume(struct client *c, size_t n)
{
	memmove(c->buf, c->buf + n, c->len - n);
	c->len -= n;
	c->buf[c->len] = '\0';
}

/* Whether the server closed the connection (EOF or reset, no bytes). */
static bool
cl_eof(struct client *c)
{
	char b;
	ssize_t n;

	if (c->len != 0)
		return false;
	n = recv(c->fd, &b, 1, 0);
	return n == 0 || (n < 0 && errno != EAGAIN);
}

/* Reads until the bytes hold `s` (within the 5 s receive timeout). */
static bool
cl_until(struct client *c, const char *s)
{
	while (strstr(c->buf, s) == NULL)
		if (!cl_fill(c))
			return false;
	return true;
}

static const char *
resp_header(struct resp *r, const char *name, char *out, size_t len)
{
	const char *p = r->head, *e;
	size_t n = strlen(name);

	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			p += n + 1;
			while (*p == ' ')
				p++;
			e = strstr(p, "\r\n");
			snprintf(out, len, "%.*s", (int)(e - p), p);
			return out;
		}
	}
	return NULL;
}

/* Reads one response; head_only for answers to HEAD. */
static bool
cl_response(struct client *c, struct resp *r, bool head_only)
{
	char *end, v[64];
	size_t n, cl;

	memset(r, 0, sizeof(*r));
	while ((end = strstr(c->buf, "\r\n\r\n")) == NULL)
		if (!cl_fill(c))
			return false;
	n = (size_t)(end - c->buf) + 4;
	snprintf(r->head, sizeof(r->head), "%.*s", (int)n, c->buf);
	cl_consume(c, n);
	if (sscanf(r->head, "HTTP/1.1 %d ", &r->status) != 1)
		return false;
	if (head_only || r->status == 204)
		return true;
	if (resp_header(r, "Transfer-Encoding", v, sizeof(v)) != NULL) {
		for (;;) {
			while ((end = strstr(c->buf, "\r\n")) == NULL)
				if (!cl_fill(c))
					return false;
			n = strtoul(c->buf, NULL, 16);
			cl_consume(c, (size_t)(end - c->buf) + 2);
			while (c->len < n + 2)
				if (!cl_fill(c))
					return false;
			if (n == 0) {
				cl_consume(c, 2);
				return true;
			}
			memcpy(r->body + r->blen, c->buf, n);
			r->blen += n;
			r->nchunks++;
			cl_consume(c, n + 2);
		}
	}
	if (resp_header(r, "Content-Length", v, sizeof(v)) == NULL)
		return false;
	cl = strtoul(v, NULL, 10);
	while (c->len < cl)
		if (!cl_fill(c))
			return false;
	memcpy(r->body, c->buf, cl);
	r->blen = cl;
	cl_consume(c, cl);
	return true;
}

/* One request on a fresh connection; the response in r. */
static bool
roundtrip(struct fixture *fx, const char *request, struct resp *r)
{
	struct client *c = cl_open(fx);
	bool ok;

	if (c == NULL)
		return false;
	ok = cl_send(c, request, strlen(request)) && cl_response(c, r, false);
	cl_close(c);
	return ok;
}

/* Back to the usual receive timeout. */
static void
tv5(struct client *c)
{
	struct timeval tv = { .tv_sec = 5 };

	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
}

/*
 * A slow client: a header line each time 50 ms pass without an answer,
 * never the blank line, until the server answers or 100 lines (5 s) went
 * out.  The wait is on the socket, for the server's answer.
 */
static void
cl_trickle(struct client *c)
{
	int i;

	for (i = 0; i < 100 && strstr(c->buf, "\r\n\r\n") == NULL; i++) {
		char line[32];
		struct timeval tv = { .tv_usec = 50000 };

		snprintf(line, sizeof(line), "X-%d: y\r\n", i);
		if (!cl_send(c, line, strlen(line)))
			break;
		setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		cl_fill(c);
	}
	tv5(c);
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/*
 * Waits until the loop thread has counted `n` in *v, for at most 5 s:
 * the client thread's way to know what the server did with its bytes.
 */
static bool
counted(atomic_int *v, int n)
{
	uint64_t t0 = now_ms();

	while (atomic_load(v) < n) {
		if (now_ms() - t0 >= 5000)
			return false;
		usleep(5000); /* between polls of the condition */
	}
	return atomic_load(v) == n;
}

#define EXPECT_ERROR(fx, r, st, code, msg)                                    \
	do {                                                                \
		CHECK(fx, (r)->status == (st));                             \
		CHECK_STR(fx, (r)->body,                                    \
			  "{\"error\":{\"code\":\"" code "\",\"message\":\"" \
			  msg "\"}}");                                      \
	} while (0)

/* ---- scenarios ---- */

static void
c_route_params(struct fixture *fx)
{
	struct resp r;
	char v[64];

	CHECK(fx, roundtrip(fx, "GET /api/v1/runs/42/jobs/compile%20(gcc%2C%20debug)?x=a+b%2Fc&y HTTP/1.1\r\nHost: t\r\n\r\n", &r));
	CHECK(fx, strncmp(r.head, "HTTP/1.1 200 OK\r\n", 17) == 0);
	CHECK_STR(fx, r.body, "id=42 job=compile (gcc, debug) x=a b/c");
	CHECK_STR(fx, resp_header(&r, "Content-Type", v, sizeof(v)), "text/plain");
	CHECK_STR(fx, resp_header(&r, "Content-Length", v, sizeof(v)), "38");
	/* An encoded slash stays inside its segment. */
	CHECK(fx, roundtrip(fx, "GET /api/v1/runs/7/jobs/a%2Fb HTTP/1.1\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "id=7 job=a/b x=-");
	/* A bad escape is the client's error. */
	CHECK(fx, roundtrip(fx, "GET /api/v1/runs/7/jobs/a%zz HTTP/1.1\r\n\r\n", &r));
	EXPECT_ERROR(fx, &r, 400, "bad_request", "bad percent-encoding in the request path");
}

static void
test_route_params(void **state)
{
	(void)state;
	run(c_route_params, NULL, -1);
}

static void
c_not_found(struct fixture *fx)
{
	struct resp r;
	char v[64];

	CHECK(fx, roundtrip(fx, "GET /nope HTTP/1.1\r\n\r\n", &r));
	CHECK(fx, strncmp(r.head, "HTTP/1.1 404 Not Found\r\n", 24) == 0);
	EXPECT_ERROR(fx, &r, 404, "not_found", "no route for GET /nope");
	CHECK_STR(fx, resp_header(&r, "Content-Type", v, sizeof(v)), "application/json");
	/* The trailing slash is not special. */
	CHECK(fx, roundtrip(fx, "GET /fast/ HTTP/1.1\r\n\r\n", &r));
	CHECK(fx, r.status == 404);
	CHECK(fx, roundtrip(fx, "DELETE /fast HTTP/1.1\r\n\r\n", &r));
	CHECK(fx, strncmp(r.head, "HTTP/1.1 405 Method Not Allowed\r\n", 33) == 0);
	CHECK_STR(fx, resp_header(&r, "Allow", v, sizeof(v)), "GET, HEAD, POST");
	EXPECT_ERROR(fx, &r, 405, "method_not_allowed",
		     "DELETE is not allowed on /fast (allowed: GET, HEAD, POST)");
	CHECK(fx, fx->last_status == 405);
	CHECK_STR(fx, fx->last_route, "(none)");
}

static void
test_not_found(void **state)
{
	(void)state;
	run(c_not_found, NULL, -1);
}

static void
c_keepalive(struct fixture *fx)
{
	struct client *c = cl_open(fx);
	struct resp r;
	char v[64];

	CHECK(fx, c != NULL);
	SEND(fx, c, "GET /fast HTTP/1.1\r\nHost: t\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "fast");
	CHECK(fx, resp_header(&r, "Connection", v, sizeof(v)) == NULL);
	/* HEAD: the headers of GET, no body. */
	SEND(fx, c, "HEAD /fast HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(c, &r, true));
	CHECK(fx, r.status == 200);
	CHECK_STR(fx, resp_header(&r, "Content-Length", v, sizeof(v)), "4");
	SEND(fx, c, "GET /api/v1/runs/1/jobs/x?x=1 HTTP/1.1\r\nConnection: close\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "id=1 job=x x=1");
	CHECK_STR(fx, resp_header(&r, "Connection", v, sizeof(v)), "close");
	CHECK(fx, cl_eof(c));
	cl_close(c);
	CHECK_STR(fx, fx->last_route, "job");
	/* HTTP/1.0 closes unless it asks to keep alive. */
	c = cl_open(fx);
	SEND(fx, c, "GET /fast HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, resp_header(&r, "Connection", v, sizeof(v)), "keep-alive");
	SEND(fx, c, "GET /fast HTTP/1.0\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, resp_header(&r, "Connection", v, sizeof(v)), "close");
	CHECK(fx, cl_eof(c));
	cl_close(c);
}

static void
test_keepalive(void **state)
{
	(void)state;
	run(c_keepalive, NULL, -1);
}

static void
c_pipelined(struct fixture *fx)
{
	struct client *c = cl_open(fx);
	struct resp r;

	CHECK(fx, c != NULL);
	SEND(fx, c, "GET /slow?ms=150 HTTP/1.1\r\n\r\n"
		    "POST /body HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
		    "GET /fast HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "slow");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "hello");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "fast");
	cl_close(c);
	CHECK(fx, atomic_load(&fx->answered_late) == 1);
}

static void
test_pipelined(void **state)
{
	(void)state;
	run(c_pipelined, NULL, -1);
}

static void
c_chunked_body(struct fixture *fx)
{
	struct client *c = cl_open(fx);
	struct resp r;

	CHECK(fx, c != NULL);
	SEND(fx, c, "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "5\r\nhello\r\n");
	usleep(20000);
	SEND(fx, c, "1\r\n,\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK(fx, r.status == 200);
	CHECK_STR(fx, r.body, "hello, world");
	cl_close(c);
}

static void
test_chunked_body(void **state)
{
	(void)state;
	run(c_chunked_body, NULL, -1);
}

static void
c_too_large(struct fixture *fx)
{
	struct client *c;
	struct resp r;
	char *big;
	size_t i;

	/* Refused from its Content-Length, before the body is read. */
	c = cl_open(fx);
	SEND(fx, c, "POST /body HTTP/1.1\r\nContent-Length: 1001\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 413, "payload_too_large", "request body larger than 1000 bytes");
	CHECK(fx, strstr(r.head, "Connection: close\r\n") != NULL);
	CHECK(fx, cl_eof(c));
	cl_close(c);
	/* A chunked body is refused once it passes the limit. */
	c = cl_open(fx);
	SEND(fx, c, "POST /body HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
	for (i = 0; i < 3; i++)
		SEND(fx, c, "190\r\n" "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789"
			    "0123456789012345678901234567890123456789\r\n");
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 413, "payload_too_large", "request body larger than 1000 bytes");
	cl_close(c);
	/* 414 for a long URL. */
	big = malloc(20000);
	strcpy(big, "GET /");
	memset(big + 5, 'a', 2100);
	strcpy(big + 2105, " HTTP/1.1\r\n\r\n");
	CHECK(fx, roundtrip(fx, big, &r));
	EXPECT_ERROR(fx, &r, 414, "uri_too_long", "request target longer than 2048 bytes");
	/* 431 for too many headers ... */
	strcpy(big, "GET /fast HTTP/1.1\r\n");
	for (i = 0; i < 11; i++)
		sprintf(big + strlen(big), "X-H%zu: v\r\n", i);
	strcat(big, "\r\n");
	CHECK(fx, roundtrip(fx, big, &r));
	EXPECT_ERROR(fx, &r, 431, "headers_too_large", "more than 10 request headers");
	/* ... and for too many header bytes. */
	strcpy(big, "GET /fast HTTP/1.1\r\nX-Big: ");
	i = strlen(big);
	memset(big + i, 'b', 5000);
	strcpy(big + i + 5000, "\r\n\r\n");
	CHECK(fx, roundtrip(fx, big, &r));
	EXPECT_ERROR(fx, &r, 431, "headers_too_large", "request headers larger than 4096 bytes");
	free(big);
	/* Exactly at the limits is fine. */
	CHECK(fx, roundtrip(fx, "POST /body HTTP/1.1\r\nContent-Length: 0\r\n\r\n", &r));
	CHECK(fx, r.status == 200);
}

static void
test_too_large(void **state)
{
	struct http_limits lim = {
		.max_body = 1000, .max_url = 2048, .max_headers = 10,
		.max_header_bytes = 4096,
	};

	(void)state;
	run(c_too_large, &lim, -1);
}

static void
c_refused(struct fixture *fx)
{
	struct client *c;
	struct resp r;

	CHECK(fx, roundtrip(fx, "POST /body HTTP/1.1\r\nContent-Length: 5\r\n"
			    "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", &r));
	EXPECT_ERROR(fx, &r, 400, "bad_request", "Content-Length and Transfer-Encoding together");
	CHECK(fx, roundtrip(fx, "GARBAGE\r\n\r\n", &r));
	EXPECT_ERROR(fx, &r, 400, "bad_request", "malformed request: invalid HTTP method");
	CHECK(fx, roundtrip(fx, "GET /fast HTTP/1.1 extra\r\n\r\n", &r));
	CHECK(fx, r.status == 400);
	CHECK(fx, roundtrip(fx, "GET /fast HTTP/1.1\r\nConnection: Upgrade\r\n"
			    "Upgrade: websocket\r\n\r\n", &r));
	EXPECT_ERROR(fx, &r, 400, "bad_request", "protocol upgrades are not supported");
	CHECK(fx, roundtrip(fx, "CONNECT example.com:443 HTTP/1.1\r\n\r\n", &r));
	EXPECT_ERROR(fx, &r, 400, "bad_request", "CONNECT is not supported");
	/* After an error the connection closes, pipelined bytes or not. */
	c = cl_open(fx);
	SEND(fx, c, "BAD\x01 / HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK(fx, r.status == 400);
	CHECK(fx, cl_eof(c));
	cl_close(c);
}

static void
test_refused(void **state)
{
	(void)state;
	run(c_refused, NULL, -1);
}

static void
c_timeouts(struct fixture *fx)
{
	struct client *c;
	struct resp r;
	uint64_t t0;

	/* Half a request: 408 from the server's read timer, then close. */
	c = cl_open(fx);
	t0 = now_ms();
	SEND(fx, c, "GET /fast HTTP/1.1\r\nHost:");
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 408, "request_timeout", "request not complete within 200 ms");
	CHECK(fx, now_ms() - t0 >= 150);
	CHECK(fx, cl_eof(c));
	cl_close(c);
	/* Trickling does not extend the read timeout: the 408 comes at it,
	 * long before the trickle would end (5 s). */
	c = cl_open(fx);
	t0 = now_ms();
	SEND(fx, c, "GET /fast HTTP/1.1\r\n");
	cl_trickle(c);
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 408, "request_timeout", "request not complete within 200 ms");
	CHECK(fx, now_ms() - t0 < 1500);
	cl_close(c);
	/* A silent connection is closed quietly. */
	c = cl_open(fx);
	t0 = now_ms();
	CHECK(fx, cl_eof(c));
	CHECK(fx, now_ms() - t0 >= 250 && now_ms() - t0 < 2000);
	cl_close(c);
	/* So is one idle after an answer. */
	c = cl_open(fx);
	SEND(fx, c, "GET /fast HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK(fx, r.status == 200);
	CHECK(fx, cl_eof(c));
	cl_close(c);
}

static void
test_timeouts(void **state)
{
	struct http_limits lim = { .read_timeout_ms = 200, .idle_timeout_ms = 300 };

	(void)state;
	run(c_timeouts, &lim, -1);
}

/*
 * Opens connections from `from` until one is served GET /fast (the server
 * takes an idle place only once it has been idle for its grace period),
 * for at most 5 s; the served connection, or NULL.
 */
static struct client *
cl_served(struct fixture *fx, const char *from)
{
	static const char get[] = "GET /fast HTTP/1.1\r\n\r\n";
	uint64_t t0 = now_ms();
	struct client *c;
	struct resp r;

	do {
		c = cl_open_from(fx, from);
		if (c != NULL && cl_send(c, get, strlen(get)) &&
		    cl_response(c, &r, false) && r.status == 200)
			return c;
		cl_close(c);
		usleep(20000); /* between polls of the condition */
	} while (now_ms() - t0 < 5000);
	return NULL;
}

static void
c_conn_limit(struct fixture *fx)
{
	struct client *a, *b, *c;
	struct resp r;

	/*
	 * The only connection is answering a request: no room.  The slow
	 * request is pipelined behind a fast one, so that once "fast" is
	 * read the server has the slow one in hand (its write callback, which
	 * dispatches it, runs before the loop polls for the next accept).
	 */
	a = cl_open(fx);
	SEND(fx, a, "GET /fast HTTP/1.1\r\n\r\nGET /slow?ms=300 HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(a, &r, false));
	CHECK_STR(fx, r.body, "fast");
	b = cl_open(fx);
	CHECK(fx, cl_response(b, &r, false));
	EXPECT_ERROR(fx, &r, 503, "unavailable", "too many connections (at most 1)");
	CHECK(fx, cl_eof(b));
	cl_close(b);
	CHECK(fx, cl_response(a, &r, false));
	CHECK_STR(fx, r.body, "slow");
	/* Now it is idle between requests: a newcomer takes its place. */
	c = cl_served(fx, NULL);
	CHECK(fx, c != NULL);
	CHECK(fx, cl_eof(a));
	cl_close(a);
	cl_close(c);
	/* So does one that never completed a request (a slowloris). */
	a = NULL;
	for (int i = 0; i < 250 && a == NULL; i++) {
		a = cl_open(fx);
		SEND(fx, a, "GET /fast HTTP/1.1\r\nHost: t\r\n");
		/* Refused (503) while c's place was not free yet: again. */
		struct timeval tv = { .tv_usec = 20000 };
		setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (cl_fill(a)) {
			cl_close(a);
			a = NULL;
		}
	}
	CHECK(fx, a != NULL);
	tv5(a);
	b = cl_served(fx, NULL);
	CHECK(fx, b != NULL);
	CHECK(fx, cl_eof(a));
	cl_close(a);
	cl_close(b);
}

/* A stream is never taken for an idle connection. */
static void
c_conn_limit_stream(struct fixture *fx)
{
	struct client *a, *b;
	struct resp r;

	a = cl_open(fx);
	SEND(fx, a, "GET /stream?ms=150 HTTP/1.1\r\n\r\n");
	/* The head comes at once; the chunks every 150 ms. */
	while (strstr(a->buf, "\r\n\r\n") == NULL)
		CHECK(fx, cl_fill(a));
	b = cl_open(fx);
	CHECK(fx, cl_response(b, &r, false));
	CHECK(fx, r.status == 503);
	cl_close(b);
	CHECK(fx, cl_response(a, &r, false));
	CHECK(fx, r.nchunks == 3);
	cl_close(a);
}

static void
test_conn_limit_stream(void **state)
{
	struct http_limits lim = { .max_connections = 1 };

	(void)state;
	run(c_conn_limit_stream, &lim, -1);
}

static void
c_per_address(struct fixture *fx)
{
	struct client *a, *b, *c, *d;
	struct resp r;

	/* Two busy connections (see c_conn_limit for the pipelining). */
	a = cl_open_from(fx, "127.0.0.2");
	b = cl_open_from(fx, "127.0.0.2");
	CHECK(fx, a != NULL && b != NULL);
	SEND(fx, a, "GET /fast HTTP/1.1\r\n\r\nGET /slow?ms=400 HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(a, &r, false));
	SEND(fx, b, "GET /fast HTTP/1.1\r\n\r\nGET /slow?ms=400 HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(b, &r, false));
	c = cl_open_from(fx, "127.0.0.2");
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 429, "too_many_requests",
		     "too many connections from 127.0.0.2 (at most 2)");
	CHECK(fx, cl_eof(c));
	cl_close(c);
	/* Another address is served. */
	d = cl_open_from(fx, "127.0.0.1");
	SEND(fx, d, "GET /client HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(d, &r, false));
	CHECK_STR(fx, r.body, "127.0.0.1");
	cl_close(d);
	/* Once idle, the address's own oldest connection makes room. */
	CHECK(fx, cl_response(a, &r, false));
	CHECK(fx, cl_response(b, &r, false));
	c = cl_served(fx, "127.0.0.2");
	CHECK(fx, c != NULL);
	CHECK(fx, cl_eof(a));
	cl_close(a);
	cl_close(b);
	cl_close(c);
}

static void
test_per_address(void **state)
{
	struct http_limits lim = { .max_connections_per_address = 2 };

	(void)state;
	run(c_per_address, &lim, -1);
}

static void
c_header_timeout(struct fixture *fx)
{
	struct client *c;
	struct resp r;
	uint64_t t0;

	/* A slowloris: a header line every 50 ms, never the blank line. */
	c = cl_open(fx);
	t0 = now_ms();
	SEND(fx, c, "GET /fast HTTP/1.1\r\n");
	cl_trickle(c);
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 408, "request_timeout",
		     "request head not complete within 200 ms");
	CHECK(fx, now_ms() - t0 < 1500);
	CHECK(fx, cl_eof(c));
	cl_close(c);
	/* A head in time, then a slow body: the read timeout's business. */
	c = cl_open(fx);
	SEND(fx, c, "POST /body HTTP/1.1\r\nContent-Length: 4\r\n\r\nab");
	usleep(400000);
	SEND(fx, c, "cd");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "abcd");
	cl_close(c);
	/* A new connection that sends nothing is gone after the header
	 * timeout, not the idle one. */
	c = cl_open(fx);
	t0 = now_ms();
	CHECK(fx, cl_eof(c));
	CHECK(fx, now_ms() - t0 < 1500);
	cl_close(c);
}

/*
 * The same cap over IPv6: a /64 is one subscriber, so fresh addresses of
 * it share one cap; another /64 is another client.  Needs addresses of
 * 2001:db8::/64 on a loopback: in a network namespace of its own (the
 * process stays in it, so this test runs last), skipped if none can be
 * made.
 */
static bool
write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

/*
 * Whether addr can be bound, once the kernel has finished with it: a new
 * address is tentative (duplicate address detection, done on loopback
 * too, asynchronously) and cannot be bound until then.
 */
static bool
v6_ready(const char *addr)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6 };
	uint64_t t0 = now_ms();
	int fd, rc;

	inet_pton(AF_INET6, addr, &sin6.sin6_addr);
	do {
		fd = socket(AF_INET6, SOCK_STREAM, 0);
		rc = fd >= 0 ? bind(fd, (struct sockaddr *)&sin6,
				    sizeof(sin6)) : -1;
		if (fd >= 0)
			close(fd);
		if (rc == 0)
			return true;
		usleep(10000); /* between polls of the condition */
	} while (now_ms() - t0 < 5000);
	return false;
}

static bool
netns_v6(const char *const *addrs, size_t n)
{
	/* linux/ipv6.h's struct in6_ifreq; that header clashes with libc's. */
	struct {
		struct in6_addr addr;
		uint32_t prefixlen;
		int ifindex;
	} r6;
	struct ifreq ifr;
	char map[64];
	uid_t uid = geteuid();
	gid_t gid = getegid();
	bool ok;
	size_t i;
	int fd;

	if (unshare(uid == 0 ? CLONE_NEWNET : CLONE_NEWUSER | CLONE_NEWNET) < 0)
		return false;
	if (uid != 0) {
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)uid);
		if (!write_file("/proc/self/setgroups", "deny") ||
		    !write_file("/proc/self/uid_map", map))
			return false;
		snprintf(map, sizeof(map), "0 %u 1", (unsigned)gid);
		if (!write_file("/proc/self/gid_map", map))
			return false;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	fd = socket(AF_INET6, SOCK_DGRAM, 0);
	ok = fd >= 0 && ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
	ifr.ifr_flags |= IFF_UP;
	ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
	for (i = 0; ok && i < n; i++) {
		memset(&r6, 0, sizeof(r6));
		r6.prefixlen = 64;
		r6.ifindex = (int)if_nametoindex("lo");
		ok = inet_pton(AF_INET6, addrs[i], &r6.addr) == 1 &&
		     ioctl(fd, SIOCSIFADDR, &r6) == 0;
	}
	if (fd >= 0)
		close(fd);
	for (i = 0; ok && i < n; i++)
		ok = v6_ready(addrs[i]);
	return ok;
}

static void
c_per_address_v6(struct fixture *fx)
{
	struct client *a, *b, *c, *d;
	struct resp r;

	/* Two busy connections of 2001:db8::/64 (as in c_per_address). */
	a = cl_open_from(fx, "2001:db8::2");
	b = cl_open_from(fx, "2001:db8::3");
	CHECK(fx, a != NULL && b != NULL);
	SEND(fx, a, "GET /fast HTTP/1.1\r\n\r\nGET /slow?ms=400 HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(a, &r, false));
	SEND(fx, b, "GET /fast HTTP/1.1\r\n\r\nGET /slow?ms=400 HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(b, &r, false));
	/* A third address of the same /64 is the same client. */
	c = cl_open_from(fx, "2001:db8::4");
	CHECK(fx, c != NULL);
	CHECK(fx, cl_response(c, &r, false));
	EXPECT_ERROR(fx, &r, 429, "too_many_requests",
		     "too many connections from 2001:db8::/64 (at most 2)");
	cl_close(c);
	/* Another /64 is another client. */
	d = cl_open_from(fx, "2001:db8:0:1::1");
	CHECK(fx, d != NULL);
	SEND(fx, d, "GET /client HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(d, &r, false));
	CHECK_STR(fx, r.body, "2001:db8:0:1::1");
	cl_close(d);
	CHECK(fx, cl_response(a, &r, false));
	CHECK(fx, cl_response(b, &r, false));
	cl_close(a);
	cl_close(b);
}

static void
test_per_address_v6(void **state)
{
	static const char *const addrs[] = {
		"2001:db8::1", "2001:db8::2", "2001:db8::3", "2001:db8::4",
		"2001:db8:0:1::1",
	};
	struct http_limits lim = { .max_connections_per_address = 2 };

	(void)state;
	if (!netns_v6(addrs, PW_ARRAY_LEN(addrs))) {
		print_message("no network namespace with IPv6 addresses "
			      "(needs root or user namespaces): skipped\n");
		skip();
	}
	run_at(c_per_address_v6, &lim, -1, NULL, 0, "[2001:db8::1]:0",
	       "2001:db8::1");
}

static void
test_header_timeout(void **state)
{
	struct http_limits lim = { .header_timeout_ms = 200,
				   .read_timeout_ms = 3000,
				   .idle_timeout_ms = 60000 };

	(void)state;
	run(c_header_timeout, &lim, -1);
}

static void
c_field_name(struct fixture *fx)
{
	struct resp r;

	CHECK(fx, roundtrip(fx, "GET /fast HTTP/1.1\r\nAuthorization : Bearer x\r\n\r\n", &r));
	EXPECT_ERROR(fx, &r, 400, "bad_request", "invalid header name 'Authorization ': "
		     "a field name is a token, with no space before the colon");
	CHECK(fx, roundtrip(fx, "GET /fast HTTP/1.1\r\nHost: t\r\nX-A b: c\r\n\r\n", &r));
	CHECK(fx, r.status == 400);
	CHECK(fx, roundtrip(fx, "GET /fast HTTP/1.1\r\nX-Ok_1.2~: c\r\n\r\n", &r));
	CHECK(fx, r.status == 200);
}

static void
test_field_name(void **state)
{
	(void)state;
	run(c_field_name, NULL, -1);
}

/* Without trusted proxies X-Forwarded-For means nothing. */
static void
c_client_untrusted(struct fixture *fx)
{
	struct resp r;

	CHECK(fx, roundtrip(fx, "GET /client HTTP/1.1\r\nX-Forwarded-For: 203.0.113.9\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "127.0.0.1");
}

static void
c_client_trusted(struct fixture *fx)
{
	struct client *c[3];
	struct resp r;
	int i;

	CHECK(fx, roundtrip(fx, "GET /client HTTP/1.1\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "127.0.0.1");
	/* The rightmost entry the proxy added, not what the client wrote. */
	CHECK(fx, roundtrip(fx, "GET /client HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4, 203.0.113.9\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "203.0.113.9");
	/* Trusted hops are skipped, over several header lines too. */
	CHECK(fx, roundtrip(fx, "GET /client HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4\r\n"
			    "X-Forwarded-For: 2001:db8::1, 127.0.0.5\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "2001:db8::1");
	CHECK(fx, roundtrip(fx, "GET /client HTTP/1.1\r\nX-Forwarded-For: ::ffff:198.51.100.2\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "198.51.100.2");
	/* A broken entry: the proxy is the client. */
	CHECK(fx, roundtrip(fx, "GET /client HTTP/1.1\r\nX-Forwarded-For: 1.2.3.4, junk\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "127.0.0.1");
	/* A proxy is many clients: not capped per address (the cap is 1). */
	for (i = 0; i < 3; i++) {
		c[i] = cl_open(fx);
		CHECK(fx, c[i] != NULL);
		SEND(fx, c[i], "GET /fast HTTP/1.1\r\n\r\n");
		CHECK(fx, cl_response(c[i], &r, false));
		CHECK(fx, r.status == 200);
	}
	for (i = 0; i < 3; i++)
		cl_close(c[i]);
}

static void
test_client_address(void **state)
{
	static const char *const trusted[] = { "127.0.0.0/29", "10.0.0.0/8" };
	struct http_limits lim = { .max_connections_per_address = 1 };
	struct http_net n;

	(void)state;
	run(c_client_untrusted, NULL, -1);
	run_trusting(c_client_trusted, &lim, -1, trusted, 2);
	assert_int_equal(http_net_parse("192.0.2.0/24", &n), 0);
	assert_int_equal(n.prefix, 24);
	assert_int_equal(http_net_parse("2001:db8::/32", &n), 0);
	assert_int_equal(http_net_parse("192.0.2.0/33", &n), -EINVAL);
	assert_int_equal(http_net_parse("192.0.2.0/", &n), -EINVAL);
	assert_int_equal(http_net_parse("ci.example.com", &n), -EINVAL);
}

/*
 * What per-client limits count a client under (the connection cap and
 * the API's slow-down): an IPv6 address by its /64, since one subscriber
 * is given a whole /64; IPv4 and anything else as it is.
 */
static void
test_addr_group(void **state)
{
	char a[HTTP_ADDR_GROUP_LEN], b[HTTP_ADDR_GROUP_LEN];

	(void)state;
	http_addr_group("2001:db8:0:7:1::1", a, sizeof(a));
	assert_string_equal(a, "2001:db8:0:7::/64");
	http_addr_group("2001:db8:0:7:ffff:ffff:ffff:fffe", b, sizeof(b));
	assert_string_equal(a, b);
	http_addr_group("2001:db8:0:8::1", b, sizeof(b));
	assert_string_equal(b, "2001:db8:0:8::/64");
	http_addr_group("::1", a, sizeof(a));
	assert_string_equal(a, "::/64");
	http_addr_group("192.0.2.1", a, sizeof(a));
	assert_string_equal(a, "192.0.2.1");
	http_addr_group("unknown", a, sizeof(a));
	assert_string_equal(a, "unknown");
}

static void
test_conn_limit(void **state)
{
	struct http_limits lim = { .max_connections = 1 };

	(void)state;
	run(c_conn_limit, &lim, -1);
}

static void
c_stream(struct fixture *fx)
{
	struct client *c = cl_open(fx);
	struct resp r;
	char v[64];

	CHECK(fx, c != NULL);
	SEND(fx, c, "GET /stream HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(c, &r, false));
	CHECK(fx, r.status == 200);
	CHECK_STR(fx, resp_header(&r, "Transfer-Encoding", v, sizeof(v)), "chunked");
	CHECK_STR(fx, resp_header(&r, "Content-Type", v, sizeof(v)), "text/event-stream");
	CHECK_STR(fx, resp_header(&r, "Cache-Control", v, sizeof(v)), "no-cache");
	CHECK(fx, r.nchunks == 3);
	CHECK_STR(fx, r.body, "data: 1\n\ndata: 2\n\ndata: 3\n\n");
	/* The pipelined request waited behind the stream. */
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "fast");
	cl_close(c);
}

static void
test_stream(void **state)
{
	(void)state;
	run(c_stream, NULL, -1);
}

static void
c_abort(struct fixture *fx)
{
	struct client *c = cl_open(fx);

	CHECK(fx, c != NULL);
	SEND(fx, c, "GET /slow?ms=2000 HTTP/1.1\r\n\r\n");
	/* Gone once the handler holds the request, not before. */
	CHECK(fx, counted(&fx->slow_taken, 1));
	cl_close(c);
	CHECK(fx, counted(&fx->aborted, 1));
	CHECK(fx, atomic_load(&fx->answered_late) == 0);
	/* A stream is aborted too, after its first chunk. */
	c = cl_open(fx);
	SEND(fx, c, "GET /stream?ms=100 HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_until(c, "data: 1\n\n"));
	cl_close(c);
	CHECK(fx, counted(&fx->aborted, 2));
}

static void
test_abort(void **state)
{
	(void)state;
	run(c_abort, NULL, -1);
}

static void
c_drain(struct fixture *fx)
{
	struct client *c = cl_open(fx);
	char *p, *end;
	size_t total = 0, n;
	bool in_order = true;

	CHECK(fx, c != NULL);
	SEND(fx, c, "GET /bulk HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_until(c, "\r\n\r\n"));
	cl_consume(c, (size_t)(strstr(c->buf, "\r\n\r\n") + 4 - c->buf));
	/* Chunks, each BULK_PIECE of one letter, in order, then the last. */
	for (;;) {
		while ((p = strstr(c->buf, "\r\n")) == NULL)
			CHECK(fx, cl_fill(c));
		n = strtoul(c->buf, &end, 16);
		CHECK(fx, end == p);
		if (n == 0)
			break;
		while (c->len < (size_t)(p + 2 - c->buf) + n + 2)
			CHECK(fx, cl_fill(c));
		p += 2;
		for (size_t i = 0; i < n; i++, total++)
			if (p[i] != 'a' + (int)(total / BULK_PIECE % 26))
				in_order = false;
		cl_consume(c, (size_t)(p - c->buf) + n + 2);
	}
	CHECK(fx, in_order);
	CHECK(fx, total == BULK_BYTES);
	/* The producer waited for the client at least once. */
	CHECK(fx, atomic_load(&fx->drains) > 0);
	cl_close(c);
}

/* A producer faster than its client waits for the queue to drain. */
static void
test_stream_drain(void **state)
{
	(void)state;
	run(c_drain, NULL, -1);
}

static void
c_cut(struct fixture *fx)
{
	struct client *c = cl_open(fx);

	CHECK(fx, c != NULL);
	SEND(fx, c, "GET /cut HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_until(c, "partial\r\n"));
	/* The connection closes without the last, empty chunk. */
	while (cl_fill(c))
		;
	CHECK(fx, strstr(c->buf, "\r\n0\r\n") == NULL);
	CHECK(fx, strstr(c->buf, "Transfer-Encoding: chunked") != NULL);
	cl_close(c);
}

/* A stream that cannot be finished is cut short, never ended whole. */
static void
test_stream_abort(void **state)
{
	(void)state;
	run(c_cut, NULL, -1);
}

static void
c_adopt(struct fixture *fx)
{
	struct resp r;

	CHECK(fx, roundtrip(fx, "GET /fast HTTP/1.1\r\n\r\n", &r));
	CHECK_STR(fx, r.body, "fast");
}

static void
test_adopt_fd(void **state)
{
	struct sockaddr_in sin;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	(void)state;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(fd, 16), 0);
	run(c_adopt, NULL, fd);
}

static void
test_listen_addresses(void **state)
{
	uv_loop_t loop;
	struct http_server *s;
	char host[64];
	int port;
	bool closed = false;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(http_server_create(&loop, NULL, routes,
					    PW_ARRAY_LEN(routes), NULL, &s), 0);
	assert_int_equal(http_server_listen(s, "no-port", -1, host, sizeof(host),
					    &port), -EINVAL);
	http_server_close(s, on_server_closed_flag, &closed);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_true(closed);
	assert_int_equal(http_server_create(&loop, NULL, routes,
					    PW_ARRAY_LEN(routes), NULL, &s), 0);
	assert_int_equal(http_server_listen(s, "[::1]:0", -1, host, sizeof(host),
					    &port), 0);
	assert_string_equal(host, "::1");
	assert_true(port > 0);
	assert_int_equal(http_server_listen(s, "[::1]:0", -1, host, sizeof(host),
					    &port), -EBUSY);
	closed = false;
	http_server_close(s, on_server_closed_flag, &closed);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_true(closed);
	assert_int_equal(http_server_create(&loop, NULL, routes,
					    PW_ARRAY_LEN(routes), NULL, &s), 0);
	assert_int_equal(http_server_listen(s, "localhost:0", -1, host, sizeof(host),
					    &port), 0);
	closed = false;
	http_server_close(s, on_server_closed_flag, &closed);
	assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
	assert_true(closed);
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void
c_stop_accepting(struct fixture *fx)
{
	struct client *a, *b, *c;
	struct resp r;

	a = cl_open(fx);
	b = cl_open(fx);
	c = cl_open(fx);
	CHECK(fx, a != NULL && b != NULL && c != NULL);
	/* c is kept alive between requests when the stop comes. */
	SEND(fx, c, "POST /body HTTP/1.1\r\nContent-Length: 2\r\n\r\nc1");
	CHECK(fx, cl_response(c, &r, false));
	CHECK_STR(fx, r.body, "c1");
	/* Expect: 100-continue gets its interim answer before the body. */
	SEND(fx, a, "POST /body HTTP/1.1\r\nContent-Length: 2\r\n"
		    "Expect: 100-continue\r\n\r\n");
	CHECK(fx, cl_response(a, &r, true));
	CHECK(fx, r.status == 100);
	SEND(fx, a, "ok");
	CHECK(fx, cl_response(a, &r, false));
	CHECK_STR(fx, r.body, "ok");
	/*
	 * The answer in flight closes; no new connections.  One accepted but
	 * not used yet has its first request on the way: it is answered,
	 * with "Connection: close", never reset.
	 */
	SEND(fx, a, "POST /stop HTTP/1.1\r\n\r\n");
	CHECK(fx, cl_response(a, &r, false));
	CHECK_STR(fx, r.body, "bye");
	CHECK(fx, strstr(r.head, "Connection: close\r\n") != NULL);
	CHECK(fx, cl_eof(a));
	CHECK(fx, cl_eof(c));
	SEND(fx, b, "POST /body HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi");
	CHECK(fx, cl_response(b, &r, false));
	CHECK_STR(fx, r.body, "hi");
	CHECK(fx, strstr(r.head, "Connection: close\r\n") != NULL);
	CHECK(fx, cl_eof(b));
	cl_close(a);
	cl_close(b);
	cl_close(c);
	CHECK(fx, cl_open(fx) == NULL);
}

static void
test_stop_accepting(void **state)
{
	(void)state;
	run(c_stop_accepting, NULL, -1);
}

static void
test_status_text(void **state)
{
	(void)state;
	assert_string_equal(http_status_text(404), "Not Found");
	assert_string_equal(http_status_text(431), "Request Header Fields Too Large");
	assert_string_equal(http_status_text(299), "Unknown");
	assert_string_equal(http_status_text(7), "Unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_route_params),
		cmocka_unit_test(test_not_found),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_pipelined),
		cmocka_unit_test(test_chunked_body),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_conn_limit),
		cmocka_unit_test(test_conn_limit_stream),
		cmocka_unit_test(test_per_address),
		cmocka_unit_test(test_header_timeout),
		cmocka_unit_test(test_field_name),
		cmocka_unit_test(test_client_address),
		cmocka_unit_test(test_addr_group),
		cmocka_unit_test(test_stream),
		cmocka_unit_test(test_stream_drain),
		cmocka_unit_test(test_stream_abort),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_adopt_fd),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_stop_accepting),
		cmocka_unit_test(test_status_text),
		/* Last: it leaves the process in a network namespace. */
		cmocka_unit_test(test_per_address_v6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
