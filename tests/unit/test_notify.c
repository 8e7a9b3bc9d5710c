/*
 * notify, for real: a real store file in a fresh directory, rows put
 * through store_write, and a real HTTP receiver — a tiny HTTP/1.1 server
 * on 127.0.0.1, port 0, on a second thread (plain sockets), which records
 * each request's method, path, headers and body and answers with a status
 * the test chose for that request.  It can hold a request unanswered
 * until the test releases it, and notes whether another connection
 * arrived meanwhile.  The server wakes the loop through a uv_async_t after
 * each request and answer, so the test runs the loop until what it waits
 * for is there: no sleeps.  Every test ends with uv_loop_close() == 0.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "pipewright/auth.h"
#include "pipewright/notify.h"
#include "pipewright/store.h"
#include "../../src/notify/notify-int.h"
#include "testlib.h"

#define MAXREQ 32

/* ---- the receiver ---- */

struct rec {
	char method[16];
	char path[256];
	char *headers;           /* as received, "Name: value\r\n" lines */
	char *body;
	uint64_t at;             /* monotonic ms when it was read */
};

struct srv {
	int lfd, port;
	int stop[2];             /* a byte: stop */
	int release[2];          /* a byte: answer the held request */
	pthread_t th;
	uv_async_t async;        /* to the loop: something happened */
	pthread_mutex_t mu;      /* guards everything below */
	int status[MAXREQ];      /* per request; 0: default_status */
	const char *body[MAXREQ]; /* per request; NULL: by status */
	int default_status;
	int hold;                /* the request to hold, -1: none */
	bool overlap;            /* a connection came while one was held */
	struct rec recs[MAXREQ];
	size_t nrecs, nanswered;
};

static uint64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
on_async(uv_async_t *h)
{
	(void)h; /* waking the loop is all */
}

/* Reads one request; 0 or -1. */
static int
read_request(int fd, struct rec *rec)
{
	char buf[16384], *end, *p, *line;
	size_t len = 0, clen = 0, hlen;
	ssize_t k;

	for (;;) {
		if (len == sizeof(buf) - 1)
			return -1;
		if ((k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		if ((end = strstr(buf, "\r\n\r\n")) != NULL)
			break;
	}
	hlen = (size_t)(end - buf) + 4;
	if (sscanf(buf, "%15s %255s", rec->method, rec->path) != 2)
		return -1;
	line = strstr(buf, "\r\n") + 2;
	rec->headers = strndup(line, (size_t)(end + 2 - line));
	for (p = rec->headers; p != NULL && *p != '\0';
	     p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
		if (strncasecmp(p, "Content-Length:", 15) == 0)
			clen = strtoul(p + 15, NULL, 10);
	while (len - hlen < clen) {
		if (len == sizeof(buf) - 1)
			return -1;
		if ((k = recv(fd, buf + len, sizeof(buf) - 1 - len, 0)) <= 0)
			return -1;
		len += (size_t)k;
	}
	rec->body = strndup(buf + hlen, clen);
	return 0;
}

/* Waits for the release byte, noting connections that arrive meanwhile. */
static bool
hold(struct srv *s)
{
	struct pollfd p[3] = {
		{ .fd = s->release[0], .events = POLLIN },
		{ .fd = s->stop[0], .events = POLLIN },
		{ .fd = s->lfd, .events = POLLIN },
	};
	char c;

	for (;;) {
		if (poll(p, 3, -1) < 0)
			return false;
		if (p[1].revents)
			return false;
		if (p[0].revents) {
			if (read(s->release[0], &c, 1) != 1)
				return false;
			return true;
		}
		if (p[2].revents) {
			pthread_mutex_lock(&s->mu);
			s->overlap = true;
			pthread_mutex_unlock(&s->mu);
			p[2].events = 0; /* noted once; it stays queued */
		}
	}
}

static void
serve_one(struct srv *s, int fd)
{
	struct rec rec = { .at = 0 };
	struct timeval tv = { .tv_sec = 10 };
	const char *body;
	char resp[1024];
	int status, n, i;
	bool held;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (read_request(fd, &rec) < 0) {
		free(rec.headers);
		free(rec.body);
		return;
	}
	rec.at = mono_ms();
	pthread_mutex_lock(&s->mu);
	i = (int)s->nrecs;
	if (s->nrecs < MAXREQ)
		s->recs[s->nrecs++] = rec;
	else {
		free(rec.headers);
		free(rec.body);
	}
	status = i < MAXREQ && s->status[i] != 0 ? s->status[i] :
						   s->default_status;
	body = i < MAXREQ ? s->body[i] : NULL;
	held = s->hold == i;
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->async);
	if (held && !hold(s))
		return;
	if (body == NULL)
		body = status >= 400 ? "boom\r\nline two" : "{\"id\": 1}";
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 %d Whatever\r\n"
		     "Content-Type: text/plain\r\nContent-Length: %zu\r\n"
		     "%sConnection: close\r\n\r\n%s", status, strlen(body),
		     status / 100 == 3 ? "Location: http://127.0.0.2:1/x\r\n" :
					 "", body);
	send(fd, resp, (size_t)n, MSG_NOSIGNAL);
	pthread_mutex_lock(&s->mu);
	s->nanswered++;
	pthread_mutex_unlock(&s->mu);
	uv_async_send(&s->async);
}

static void *
serve(void *arg)
{
	struct srv *s = arg;
	struct pollfd p[2] = {
		{ .fd = s->lfd, .events = POLLIN },
		{ .fd = s->stop[0], .events = POLLIN },
	};
	int fd;

	for (;;) {
		if (poll(p, 2, -1) < 0 || p[1].revents)
			break;
		if ((fd = accept(s->lfd, NULL, NULL)) < 0)
			continue;
		serve_one(s, fd);
		close(fd);
	}
	return NULL;
}

static void
srv_start(struct srv *s, uv_loop_t *loop)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);

	memset(s, 0, sizeof(*s));
	s->default_status = 201;
	s->hold = -1;
	pthread_mutex_init(&s->mu, NULL);
	assert_int_equal(pipe(s->stop), 0);
	assert_int_equal(pipe(s->release), 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(s->lfd >= 0);
	assert_int_equal(bind(s->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(s->lfd, 64), 0);
	assert_int_equal(getsockname(s->lfd, (struct sockaddr *)&a, &alen), 0);
	s->port = ntohs(a.sin_port);
	assert_int_equal(uv_async_init(loop, &s->async, on_async), 0);
	assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void
srv_release(struct srv *s)
{
	assert_int_equal(write(s->release[1], "r", 1), 1);
}

static void
srv_stop(struct srv *s)
{
	size_t i;

	assert_int_equal(write(s->stop[1], "s", 1), 1);
	pthread_join(s->th, NULL);
	close(s->lfd);
	close(s->stop[0]);
	close(s->stop[1]);
	close(s->release[0]);
	close(s->release[1]);
	for (i = 0; i < s->nrecs; i++) {
		free(s->recs[i].headers);
		free(s->recs[i].body);
	}
	pthread_mutex_destroy(&s->mu);
	uv_close((uv_handle_t *)&s->async, NULL);
}

static size_t
srv_count(struct srv *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->nrecs;
	pthread_mutex_unlock(&s->mu);
	return n;
}

/* A request's header value ("" if absent), compared by name. */
static bool
has_header(const struct rec *r, const char *line)
{
	const char *p;
	size_t len = strlen(line);

	for (p = r->headers; p != NULL && *p != '\0';
	     p = strstr(p, "\r\n") ? strstr(p, "\r\n") + 2 : NULL)
		if (strncasecmp(p, line, len) == 0 &&
		    (p[len] == '\r' || p[len] == '\0'))
			return true;
	return false;
}

/* ---- fixture ---- */

struct fx {
	uv_loop_t loop;
	struct store *s;
	struct notify *n;
	struct notify_options o;
	struct srv srv;
	char dir[64];
	char path[128];
	int auth_calls;
	int delivered_calls;
	bool closed;
};

/* The daemon's side: a token for "web", none for other projects. */
static char *
auth_header(void *arg, const char *project)
{
	struct fx *f = arg;

	f->auth_calls++;
	if (strcmp(project, "web") == 0)
		return strdup("Authorization: Bearer tok-web");
	if (strcmp(project, "evil") == 0)
		return strdup("Authorization: x\r\nX-Injected: 1");
	return NULL;
}

/* As forge_status_delivered does for GitLab. */
static bool
delivered(void *arg, const char *project, int status, const char *body)
{
	struct fx *f = arg;

	(void)project;
	f->delivered_calls++;
	return (status >= 200 && status < 300) ||
	       (status == 400 && strstr(body, "Cannot transition status"));
}

static void
on_closed(void *arg)
{
	*(bool *)arg = true;
}

static void
run_until_flag(struct fx *f, bool *flag)
{
	while (!*flag)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char *err = NULL;

	alarm(60); /* a hang is a failure, not a stuck ctest */
	strcpy(f->dir, "/tmp/pw-notify-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/pipewright.db", f->dir);
	if (uv_loop_init(&f->loop) != 0)
		return -1;
	if (store_open(&f->loop, f->path, &f->s, &err) < 0) {
		fprintf(stderr, "store_open: %s\n", err);
		return -1;
	}
	srv_start(&f->srv, &f->loop);
	f->o = (struct notify_options){
		.auth_header = auth_header,
		.delivered = delivered,
		.arg = f,
		.backoff_base_ms = 50,
		.backoff_max_ms = 1000,
		.max_attempts = 8,
		.timeout_ms = 10000,
		.connect_timeout_ms = 5000,
	};
	*state = f;
	return 0;
}

static void
close_notify(struct fx *f)
{
	f->closed = false;
	notify_close(f->n, on_closed, &f->closed);
	f->n = NULL;
	run_until_flag(f, &f->closed);
}

static int
teardown(void **state)
{
	struct fx *f = *state;

	if (f->n != NULL)
		close_notify(f);
	f->closed = false;
	store_close(f->s, on_closed, &f->closed);
	run_until_flag(f, &f->closed);
	srv_stop(&f->srv);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	tl_rm_tree(f->dir);
	free(f);
	alarm(0);
	return 0;
}

/* ---- the outbox through the store ---- */

struct putw {
	struct store_outbox_new o;
	bool done;
	int rc;
};

static int
put_fn(struct store_tx *tx, void *arg)
{
	struct putw *p = arg;

	return store_tx_outbox_put(tx, &p->o);
}

static void
put_done(int rc, void *arg)
{
	struct putw *p = arg;

	p->rc = rc;
	p->done = true;
}

/* Puts a row (as the daemon does with a run's state change) and waits. */
static void
put(struct fx *f, const char *key, uint64_t seq, const char *project,
    const char *url, const char *body, uint64_t at)
{
	struct putw p = { .done = false };

	p.o = (struct store_outbox_new){
		.key = key, .seq = seq, .method = "POST", .url = url,
		.headers = "Content-Type: application/json\r\n"
			   "Accept: application/vnd.github+json\n\n",
		.body = body, .project = project, .created_at = at,
	};
	store_write(f->s, put_fn, put_done, &p);
	run_until_flag(f, &p.done);
	assert_int_equal(p.rc, 0);
}

static char *
url(struct fx *f, const char *path)
{
	return xasprintf("http://127.0.0.1:%d%s", f->srv.port, path);
}

/* The row of a key (caller frees), or NULL. */
static struct store_outbox *
row(struct fx *f, const char *key)
{
	struct store_outbox **rows, *o = NULL;
	uint64_t next;
	size_t n, i;

	assert_int_equal(store_outbox_list(f->s, NULL, 200, 0, &rows, &n,
					   &next), 0);
	for (i = 0; i < n; i++)
		if (strcmp(rows[i]->key, key) == 0) {
			o = rows[i];
			rows[i] = NULL;
		}
	store_outboxes_free(rows, n);
	return o;
}

static bool
row_in_state(struct fx *f, const char *key, const char *state)
{
	struct store_outbox *o = row(f, key);
	bool yes = o != NULL && strcmp(o->state, state) == 0;

	store_outbox_free(o);
	return yes;
}

/* Runs the loop until the key's row is in state. */
static void
run_until_state(struct fx *f, const char *key, const char *state)
{
	while (!row_in_state(f, key, state))
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void
run_until_requests(struct fx *f, size_t n)
{
	while (srv_count(&f->srv) < n)
		uv_run(&f->loop, UV_RUN_ONCE);
}

static void
start(struct fx *f)
{
	assert_int_equal(notify_create(&f->loop, f->s, &f->o, &f->n), 0);
}

/* ---- tests ---- */

static void
test_delivered_in_order_with_auth(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	struct store_outbox *o;
	uint64_t now = pw_now_ms();
	char *u[4];
	int i;

	f->o.max_in_flight = 1; /* one at a time: the order is the store's */
	for (i = 0; i < 4; i++)
		u[i] = xasprintf("http://127.0.0.1:%d/repos/acme/app/statuses/"
				 "sha%d", f->srv.port, i);
	/* Put out of order: due order is by created_at, then id. */
	put(f, "k2", 1, "web", u[2], "{\"state\":\"two\"}", now - 2);
	put(f, "k0", 1, "web", u[0], "{\"state\":\"zero\"}", now - 4);
	put(f, "k1", 1, "web", u[1], "{\"state\":\"one\"}", now - 3);
	put(f, "k3", 1, "other", u[3], "{\"state\":\"three\"}", now - 1);
	start(f);
	run_until_state(f, "k3", "delivered");

	assert_int_equal(srv_count(&f->srv), 4);
	for (i = 0; i < 4; i++) {
		struct rec *r = &f->srv.recs[i];
		char path[64];

		snprintf(path, sizeof(path), "/repos/acme/app/statuses/sha%d",
			 i);
		assert_string_equal(r->method, "POST");
		assert_string_equal(r->path, path);
		assert_true(has_header(r, "Content-Type: application/json"));
		assert_true(has_header(r, "Accept: application/vnd.github+json"));
		assert_false(has_header(r, "Expect: 100-continue"));
		/* The token is added at send time, for its project only. */
		assert_int_equal(has_header(r, "Authorization: Bearer tok-web"),
				 i < 3);
	}
	assert_string_equal(f->srv.recs[0].body, "{\"state\":\"zero\"}");
	assert_string_equal(f->srv.recs[1].body, "{\"state\":\"one\"}");
	assert_string_equal(f->srv.recs[2].body, "{\"state\":\"two\"}");
	assert_string_equal(f->srv.recs[3].body, "{\"state\":\"three\"}");
	assert_int_equal(f->auth_calls, 4);
	assert_int_equal(f->delivered_calls, 4);

	/* The row never held the token. */
	o = row(f, "k0");
	assert_string_equal(o->state, "delivered");
	assert_int_equal(o->attempts, 1);
	assert_null(o->last_error);
	assert_null(strstr(o->headers, "tok-web"));
	store_outbox_free(o);

	notify_stats(f->n, &st);
	assert_int_equal(st.sent, 4);
	assert_int_equal(st.delivered, 4);
	assert_int_equal(st.retried, 0);
	assert_int_equal(st.failed, 0);
	assert_int_equal(st.in_flight, 0);
	for (i = 0; i < 4; i++)
		free(u[i]);
}

static void
test_many_at_once(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	uint64_t now = pw_now_ms(), n;
	char key[16], body[32], *u = url(f, "/s");
	bool seen[20] = { false };
	size_t i;
	int k;

	for (k = 0; k < 20; k++) {
		snprintf(key, sizeof(key), "k%d", k);
		snprintf(body, sizeof(body), "%d", k);
		put(f, key, 1, "web", u, body, now);
	}
	start(f); /* 8 in flight at most */
	while (store_outbox_count(f->s, "delivered", &n) == 0 && n < 20)
		uv_run(&f->loop, UV_RUN_ONCE);
	assert_int_equal(srv_count(&f->srv), 20);
	for (i = 0; i < 20; i++) {
		k = atoi(f->srv.recs[i].body);
		assert_false(seen[k]);
		seen[k] = true;
	}
	notify_stats(f->n, &st);
	assert_int_equal(st.delivered, 20);
	assert_int_equal(st.sent, 20);
	free(u);
}

static void
test_retried_then_delivered(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	struct store_outbox *o;
	char *u = url(f, "/statuses/abc");

	f->srv.status[0] = 500;
	f->srv.status[1] = 502;
	f->srv.status[2] = 201;
	put(f, "k", 1, "web", u, "{\"state\":\"success\"}", pw_now_ms());
	start(f);
	run_until_state(f, "k", "delivered");

	assert_int_equal(srv_count(&f->srv), 3);
	assert_string_equal(f->srv.recs[2].body, "{\"state\":\"success\"}");
	/* Backoff 50 ms then 100 ms, each ±20%: never sooner. */
	assert_true(f->srv.recs[1].at - f->srv.recs[0].at >= 40 - 1);
	assert_true(f->srv.recs[2].at - f->srv.recs[1].at >= 80 - 1);
	o = row(f, "k");
	assert_int_equal(o->attempts, 3);
	assert_null(o->last_error);
	store_outbox_free(o);
	notify_stats(f->n, &st);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.failed, 0);
	free(u);
}

static void
test_failed_after_max_attempts(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	struct store_outbox *o;
	uint64_t n;
	char *u = url(f, "/statuses/abc");

	f->srv.default_status = 500;
	f->o.max_attempts = 3;
	f->o.backoff_base_ms = 20;
	put(f, "k", 1, "web", u, "{}", pw_now_ms());
	start(f);
	run_until_state(f, "k", "failed");

	assert_int_equal(srv_count(&f->srv), 3);
	o = row(f, "k");
	assert_int_equal(o->attempts, 3);
	/* The body on one line. */
	assert_string_equal(o->last_error, "HTTP 500: boom  line two");
	store_outbox_free(o);
	notify_stats(f->n, &st);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.delivered, 0);
	assert_int_equal(store_outbox_count(f->s, "failed", &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(store_outbox_next_at(f->s, 0, &n), -ENOENT);
	free(u);
}

/* What delivered() accepts is delivered; a 4xx it refuses is a failure. */
static void
test_delivered_decides(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	char *u = url(f, "/statuses/abc");
	char big[400];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	f->srv.status[0] = 400;
	f->srv.body[0] = "{\"message\":\"Cannot transition status via :run "
			 "from :success\"}";
	f->srv.status[1] = 404;
	f->srv.body[1] = big;
	f->o.max_attempts = 1;
	f->o.max_in_flight = 1;
	put(f, "a", 1, "web", u, "{}", pw_now_ms() - 1);
	put(f, "b", 1, "web", u, "{}", pw_now_ms());
	start(f);
	run_until_state(f, "b", "failed");
	assert_true(row_in_state(f, "a", "delivered"));
	o = row(f, "b");
	/* "HTTP 404: " and the first 200 bytes. */
	assert_int_equal(strlen(o->last_error), 10 + 200);
	assert_memory_equal(o->last_error, "HTTP 404: xxx", 13);
	store_outbox_free(o);
	free(u);
}

static void
test_coalesced_before_send(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	uint64_t now = pw_now_ms();
	char *u = url(f, "/statuses/abc");

	put(f, "github:acme/app:abc:ci", 1, "web", u, "pending", now);
	put(f, "github:acme/app:abc:ci", 3, "web", u, "success", now);
	put(f, "github:acme/app:abc:ci", 2, "web", u, "running", now); /* late: ignored */
	start(f);
	run_until_state(f, "github:acme/app:abc:ci", "delivered");
	assert_int_equal(srv_count(&f->srv), 1);
	assert_string_equal(f->srv.recs[0].body, "success");
	notify_stats(f->n, &st);
	assert_int_equal(st.sent, 1);
	assert_int_equal(st.in_flight, 0);
	free(u);
}

static void
test_newer_put_while_in_flight(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	struct store_outbox *o;
	char *u = url(f, "/statuses/abc");
	int i;

	f->srv.hold = 0;
	put(f, "k", 1, "web", u, "pending", pw_now_ms());
	start(f);
	run_until_requests(f, 1);

	/* "success" is committed while "pending" is on the wire. */
	put(f, "k", 2, "web", u, "success", pw_now_ms());
	notify_kick(f->n);
	for (i = 0; i < 3; i++)
		uv_run(&f->loop, UV_RUN_NOWAIT); /* the kick's scan runs */
	notify_stats(f->n, &st);
	assert_int_equal(st.sent, 1); /* not sent again alongside */
	assert_int_equal(st.in_flight, 1);

	srv_release(&f->srv);
	run_until_state(f, "k", "delivered");
	o = row(f, "k");
	assert_string_equal(o->body, "success");
	assert_int_equal(o->seq, 2);
	store_outbox_free(o);
	assert_int_equal(srv_count(&f->srv), 2);
	assert_string_equal(f->srv.recs[0].body, "pending");
	assert_string_equal(f->srv.recs[1].body, "success");
	assert_false(f->srv.overlap);
	notify_stats(f->n, &st);
	assert_int_equal(st.stale, 1);   /* pending's 201 was dropped */
	assert_int_equal(st.delivered, 1);
	free(u);
}

static void
test_close_in_flight_then_restart(void **state)
{
	struct fx *f = *state;
	struct notify_stats st;
	struct store_outbox *o;
	char *u = url(f, "/statuses/abc");

	f->srv.hold = 0;
	put(f, "k", 1, "web", u, "success", pw_now_ms());
	start(f);
	run_until_requests(f, 1);
	close_notify(f); /* as at SIGTERM, with the request unanswered */
	o = row(f, "k");
	assert_string_equal(o->state, "pending");
	assert_int_equal(o->attempts, 0);
	store_outbox_free(o);
	srv_release(&f->srv); /* its answer goes nowhere */

	start(f); /* the next daemon, on the same store */
	run_until_state(f, "k", "delivered");
	assert_int_equal(srv_count(&f->srv), 2);
	assert_string_equal(f->srv.recs[1].body, "success");
	notify_stats(f->n, &st);
	assert_int_equal(st.delivered, 1);
	free(u);
}

static void
test_connection_refused(void **state)
{
	struct fx *f = *state;
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	struct notify_stats st;
	struct store_outbox *o;
	char *u;
	int fd;

	/* A port that was free a moment ago, with no one listening. */
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	close(fd);
	u = xasprintf("http://127.0.0.1:%d/x", ntohs(a.sin_port));
	f->o.max_attempts = 3;
	f->o.backoff_base_ms = 20;
	put(f, "k", 1, "web", u, "{}", pw_now_ms());
	start(f);
	run_until_state(f, "k", "failed");
	o = row(f, "k");
	assert_int_equal(o->attempts, 3);
	assert_non_null(strstr(o->last_error, "onnect"));
	store_outbox_free(o);
	notify_stats(f->n, &st);
	assert_int_equal(st.retried, 2);
	assert_int_equal(st.failed, 1);
	assert_int_equal(srv_count(&f->srv), 0);
	free(u);
}

/* Only http(s); no redirect followed; no header injection via the token. */
static void
test_locked_down(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	char *u = url(f, "/statuses/abc");

	f->o.max_attempts = 1;
	f->o.max_in_flight = 1;
	f->srv.status[0] = 302;
	put(f, "file", 1, "web", "file:///etc/passwd", "{}",
	    pw_now_ms() - 2);
	put(f, "redirect", 1, "web", u, "{}", pw_now_ms() - 1);
	put(f, "evil", 1, "evil", u, "{}", pw_now_ms());
	start(f);
	run_until_state(f, "evil", "delivered");

	o = row(f, "file");
	assert_string_equal(o->state, "failed");
	assert_non_null(strstr(o->last_error, "file"));
	store_outbox_free(o);
	o = row(f, "redirect");
	assert_string_equal(o->state, "failed");
	assert_string_equal(o->last_error, "HTTP 302: {\"id\": 1}");
	store_outbox_free(o);
	/* The redirect's target (127.0.0.2:1) was never asked. */
	assert_int_equal(srv_count(&f->srv), 2);
	assert_false(has_header(&f->srv.recs[1], "X-Injected: 1"));
	assert_null(strstr(f->srv.recs[1].headers, "Authorization"));
	free(u);
}

static void
test_backoff(void **state)
{
	struct notify n = { .rng = 88172645463325252ull };
	uint64_t d, lo, hi;
	int a, i;

	(void)state;
	n.o.backoff_base_ms = 1000;
	n.o.backoff_max_ms = 600000;
	n.o.jitter_percent = 20;
	for (a = 1; a <= 14; a++) {
		uint64_t want = 1000ull << (a - 1);

		if (want > 600000)
			want = 600000;
		lo = want - want / 5;
		hi = want + want / 5;
		for (i = 0; i < 100; i++) {
			d = notify_backoff(&n, a, 0);
			assert_true(d >= lo && d <= hi);
		}
	}
	/* Retry-After is honoured up to max; no jitter when off. */
	n.o.jitter_percent = -1;
	assert_int_equal(notify_backoff(&n, 1, 0), 1000);
	assert_int_equal(notify_backoff(&n, 3, 0), 4000);
	assert_int_equal(notify_backoff(&n, 1, 30000), 30000);
	assert_int_equal(notify_backoff(&n, 1, 9999999), 600000);
	assert_int_equal(notify_backoff(&n, 60, 0), 600000);
}

/* ---- notification kinds ---- */

#define HOOK_SECRET "hook-secret"

static int
target(void *arg, const struct store_outbox *row, struct notify_target *out)
{
	(void)arg;
	memset(out, 0, sizeof(*out));
	if (row->target == NULL || strcmp(row->target, "gone") == 0)
		return -ENOENT;
	out->secret = xstrdup(HOOK_SECRET);
	out->secret_len = strlen(HOOK_SECRET);
	return 0;
}

static void
put_kind(struct fx *f, const char *key, const char *kind, const char *tgt,
	 const char *u, const char *body, uint64_t expires_at, int want_rc)
{
	struct putw p = { .done = false };

	p.o = (struct store_outbox_new){
		.key = key, .seq = 1, .method = "POST", .url = u,
		.headers = "Content-Type: application/json\n",
		.body = body, .project = "web", .created_at = pw_now_ms(),
		.kind = kind, .expires_at = expires_at, .target = tgt,
	};
	store_write(f->s, put_fn, put_done, &p);
	run_until_flag(f, &p.done);
	assert_int_equal(p.rc, want_rc);
}

/* The value of header name in a record's "Name: value\r\n" lines. */
static char *
header(const struct rec *r, const char *name)
{
	const char *p = r->headers;
	size_t len = strlen(name);

	while (p != NULL && *p != '\0') {
		if (strncasecmp(p, name, len) == 0 && p[len] == ':')
			return xstrndup(p + len + 2, strcspn(p + len + 2, "\r\n"));
		p = strchr(p, '\n');
		if (p != NULL)
			p++;
	}
	return NULL;
}

/*
 * A webhook row: signed over "<timestamp>.<delivery id>.<body>", the same
 * delivery id on each attempt, retried past max_attempts until expires_at,
 * then failed.  A second put of its key is refused, not coalesced.
 */
static void
test_webhook_until_expiry(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	unsigned char mac[32];
	char *u = url(f, "/hook"), *ts, *id, *sig, *msg, hex[65];
	size_t i, n;

	f->srv.default_status = 503;
	f->o.max_attempts = 2;
	f->o.backoff_base_ms = 20;
	f->o.backoff_max_ms = 100;
	f->o.target = target;
	put_kind(f, "notify:d-1", "webhook", "0:abc", u, "{\"event\":\"failed\"}",
		 pw_now_ms() + 1000, 0);
	put_kind(f, "notify:d-1", "webhook", "0:abc", u, "{\"other\":1}",
		 pw_now_ms() + 1000, -EEXIST);
	start(f);
	run_until_state(f, "notify:d-1", "failed");

	o = row(f, "notify:d-1");
	n = srv_count(&f->srv);
	/* Not given up after max_attempts: its age decides. */
	assert_true(o->attempts > 2);
	assert_int_equal((size_t)o->attempts, n);
	assert_string_equal(o->kind, "webhook");
	assert_true(o->updated_at >= o->expires_at);
	assert_non_null(strstr(o->last_error, "HTTP 503"));
	store_outbox_free(o);
	for (i = 0; i < n && i < MAXREQ; i++) {
		const struct rec *r = &f->srv.recs[i];

		assert_string_equal(r->body, "{\"event\":\"failed\"}");
		id = header(r, "X-Pipewright-Delivery");
		ts = header(r, "X-Pipewright-Timestamp");
		sig = header(r, "X-Pipewright-Signature-256");
		assert_string_equal(id, "d-1");
		assert_non_null(ts);
		assert_non_null(sig);
		msg = xasprintf("%s.%s.%s", ts, id, r->body);
		assert_int_equal(auth_hmac_sha256(HOOK_SECRET, strlen(HOOK_SECRET),
						  msg, strlen(msg), mac), 0);
		for (size_t j = 0; j < 32; j++)
			snprintf(hex + 2 * j, 3, "%02x", mac[j]);
		assert_int_equal(strncmp(sig, "sha256=", 7), 0);
		assert_string_equal(sig + 7, hex);
		/* The forge's auth header is for statuses only. */
		assert_null(header(r, "Authorization"));
		free(msg);
		free(id);
		free(ts);
		free(sig);
	}
	free(u);
}

/* Same URL and body, distinct keys: both sent, nothing coalesced. */
static void
test_notifications_distinct(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/slack");

	f->o.target = target;
	put_kind(f, "notify:a", "slack", "1:x", u, "{\"text\":\"t\"}", 0, 0);
	put_kind(f, "notify:b", "slack", "1:x", u, "{\"text\":\"t\"}", 0, 0);
	start(f);
	run_until_state(f, "notify:a", "delivered");
	run_until_state(f, "notify:b", "delivered");
	assert_int_equal(srv_count(&f->srv), 2);
	free(u);
}

/* A row whose entry is gone, or of an unknown kind, waits with why. */
static void
test_target_gone(void **state)
{
	struct fx *f = *state;
	struct store_outbox *o;
	char *u = url(f, "/x");

	f->o.target = target;
	f->o.backoff_base_ms = 20;
	put_kind(f, "notify:g", "webhook", "gone", u, "{}", pw_now_ms() + 60000,
		 0);
	put_kind(f, "notify:k", "carrier-pigeon", "0:x", u, "{}",
		 pw_now_ms() + 60000, 0);
	start(f);
	for (;;) {
		struct store_outbox *g = row(f, "notify:g");
		struct store_outbox *k = row(f, "notify:k");
		bool both = g->attempts >= 1 && k->attempts >= 1;

		store_outbox_free(g);
		store_outbox_free(k);
		if (both)
			break;
		uv_run(&f->loop, UV_RUN_ONCE);
	}
	o = row(f, "notify:g");
	assert_string_equal(o->state, "pending");
	assert_string_equal(o->last_error,
			    "its notify entry is no longer configured");
	store_outbox_free(o);
	o = row(f, "notify:k");
	assert_string_equal(o->last_error, "unknown kind 'carrier-pigeon'");
	store_outbox_free(o);
	assert_int_equal(srv_count(&f->srv), 0);
	free(u);
}

/* The daemon's side for spans: the configured otel headers. */
static int
otlp_target(void *arg, const struct store_outbox *row,
	    struct notify_target *out)
{
	(void)arg;
	(void)row;
	memset(out, 0, sizeof(*out));
	out->headers = xcalloc(2, sizeof(*out->headers));
	out->headers[0] = xstrdup("X-Api-Key: k-1");
	return 0;
}

/*
 * Span rows due together travel in one request, their resourceSpans
 * one after the other, with the configured header; each row is stored
 * delivered.
 */
static void
test_otlp_batched(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/v1/traces"), key[32], body[64], *k;
	cJSON *doc, *rs;
	int i;

	f->o.target = otlp_target;
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "otlp:1:attempt:%d", i);
		snprintf(body, sizeof(body), "{\"resourceSpans\":[{\"n\":%d}]}", i);
		put_kind(f, key, "otlp", NULL, u, body, pw_now_ms() + 60000, 0);
	}
	start(f);
	for (i = 0; i < 5; i++) {
		snprintf(key, sizeof(key), "otlp:1:attempt:%d", i);
		run_until_state(f, key, "delivered");
	}
	assert_int_equal(srv_count(&f->srv), 1);
	k = header(&f->srv.recs[0], "X-Api-Key");
	assert_string_equal(k, "k-1");
	free(k);
	doc = cJSON_Parse(f->srv.recs[0].body);
	assert_non_null(doc);
	rs = cJSON_GetObjectItem(doc, "resourceSpans");
	assert_int_equal(cJSON_GetArraySize(rs), 5);
	for (i = 0; i < 5; i++)
		assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(rs, i),
						     "n")->valueint, i);
	cJSON_Delete(doc);
	free(u);
}

/*
 * Rows of the batch's kind and URL not due yet (their retries spread by
 * jitter after an outage) go along with a due one: one request.
 */
static void
test_otlp_takes_waiting(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/v1/traces"), *other = url(f, "/elsewhere/v1/traces");
	struct putw p = { .done = false };
	cJSON *doc;

	f->o.target = otlp_target;
	put_kind(f, "otlp:3:run", "otlp", NULL, u, "{\"resourceSpans\":[{}]}",
		 pw_now_ms() + 600000, 0);
	p.o = (struct store_outbox_new){
		.key = "otlp:3:attempt:1", .seq = 1, .method = "POST", .url = u,
		.body = "{\"resourceSpans\":[{}]}", .project = "web",
		.created_at = pw_now_ms() + 60000, .kind = "otlp",
		.expires_at = pw_now_ms() + 600000,
	};
	store_write(f->s, put_fn, put_done, &p);
	run_until_flag(f, &p.done);
	assert_int_equal(p.rc, 0);
	/* Another endpoint's row waits for its own time. */
	p.done = false;
	p.o.key = "otlp:3:attempt:2";
	p.o.url = other;
	store_write(f->s, put_fn, put_done, &p);
	run_until_flag(f, &p.done);
	assert_int_equal(p.rc, 0);
	start(f);
	run_until_state(f, "otlp:3:run", "delivered");
	run_until_state(f, "otlp:3:attempt:1", "delivered");
	assert_int_equal(srv_count(&f->srv), 1);
	doc = cJSON_Parse(f->srv.recs[0].body);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(doc,
							"resourceSpans")), 2);
	cJSON_Delete(doc);
	free(u);
	free(other);
}

/* A 400 is never accepted later: the batch's rows fail at once. */
static void
test_otlp_final(void **state)
{
	struct fx *f = *state;
	char *u = url(f, "/v1/traces");
	struct store_outbox *o;

	f->srv.default_status = 400;
	f->o.target = otlp_target;
	put_kind(f, "otlp:2:run", "otlp", NULL, u, "{\"resourceSpans\":[]}",
		 pw_now_ms() + 60000, 0);
	put_kind(f, "otlp:2:attempt:1", "otlp", NULL, u,
		 "{\"resourceSpans\":[]}", pw_now_ms() + 60000, 0);
	start(f);
	run_until_state(f, "otlp:2:run", "failed");
	run_until_state(f, "otlp:2:attempt:1", "failed");
	o = row(f, "otlp:2:attempt:1");
	assert_int_equal(o->attempts, 1);
	assert_non_null(strstr(o->last_error, "HTTP 400"));
	store_outbox_free(o);
	assert_int_equal(srv_count(&f->srv), 1);
	free(u);
}

static void
test_bad_options(void **state)
{
	struct fx *f = *state;
	struct notify_options o = f->o;
	struct notify *n;

	o.max_in_flight = 201;
	assert_int_equal(notify_create(&f->loop, f->s, &o, &n), -EINVAL);
	o = f->o;
	o.backoff_max_ms = 10;
	o.backoff_base_ms = 20;
	assert_int_equal(notify_create(&f->loop, f->s, &o, &n), -EINVAL);
	assert_int_equal(notify_create(&f->loop, NULL, &f->o, &n), -EINVAL);
	/* An idle notify closes cleanly too. */
	start(f);
	close_notify(f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
		T(test_delivered_in_order_with_auth),
		T(test_many_at_once),
		T(test_retried_then_delivered),
		T(test_failed_after_max_attempts),
		T(test_delivered_decides),
		T(test_coalesced_before_send),
		T(test_newer_put_while_in_flight),
		T(test_close_in_flight_then_restart),
		T(test_connection_refused),
		T(test_locked_down),
		cmocka_unit_test(test_backoff),
		T(test_bad_options),
		T(test_webhook_until_expiry),
		T(test_notifications_distinct),
		T(test_target_gone),
		T(test_otlp_batched),
		T(test_otlp_final),
		T(test_otlp_takes_waiting),
#undef T
	};

	/* The receiver is on loopback: never through a proxy. */
	setenv("no_proxy", "127.0.0.1", 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
