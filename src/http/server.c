/*
 * server.c: the listening socket, the connection list, dispatch, closing.
 *
 * A server listens on one address (or adopts an inherited listening
 * descriptor, for upgrades without downtime) and owns every connection it
 * accepted.  When max_connections are open, a new connection takes the
 * place of the oldest idle one (conn.c); with none idle it is still
 * accepted, told 503 and closed, so that the client learns why instead
 * of waiting in the backlog.  Closing is asynchronous like every libuv handle's: the server
 * is freed, and the caller's callback runs, once the listener and the
 * last connection are closed.
 *
 * The one piece of process-wide state is http_parser's maximum header
 * size: http_server_create sets it to max_header_bytes (the same value
 * each time for every server in the daemon; see http.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-int.h"

int
http_server_create(uv_loop_t *loop, const struct http_limits *limits,
		   const struct http_route *routes, size_t nroutes,
		   void *handler_arg, struct http_server **out)
{
	struct http_server *s;
	size_t i;

	*out = NULL;
	for (i = 0; i < nroutes; i++)
		if (routes[i].method == NULL || routes[i].pattern == NULL ||
		    routes[i].pattern[0] != '/' || routes[i].handler == NULL)
			return -EINVAL;
	s = xcalloc(1, sizeof(*s));
	s->loop = loop;
	http_limits_fill(&s->lim, limits);
	if (s->lim.max_header_bytes > UINT32_MAX)
		s->lim.max_header_bytes = UINT32_MAX;
	/* Process-wide, and idempotent for a daemon's one value. */
	http_parser_set_max_header_size((uint32_t)s->lim.max_header_bytes);
	s->routes = routes;
	s->nroutes = nroutes;
	s->handler_arg = handler_arg;
	*out = s;
	return 0;
}

void
http_server_set_log(struct http_server *s, http_log_cb cb, void *arg)
{
	s->log_cb = cb;
	s->log_arg = arg;
}

void
http_server_set_guard(struct http_server *s, http_guard_cb cb, void *arg)
{
	s->guard = cb;
	s->guard_arg = arg;
}

size_t
http_server_connections(const struct http_server *s)
{
	return s->nconns;
}

int
http_server_listen_fd(const struct http_server *s)
{
	uv_os_fd_t fd;

	if (!s->listening || s->stopping ||
	    uv_fileno((const uv_handle_t *)&s->listener, &fd) < 0)
		return -1;
	return fd;
}

void
http_server_dispatch(struct http_server *s, struct http_request *req)
{
	const struct http_route *r;
	struct buf allow;

	if (s->guard != NULL && !s->guard(req, s->guard_arg))
		return;
	buf_init(&allow, 0);
	r = http_route_find(s->routes, s->nroutes, req, &allow);
	if (r != NULL) {
		req->route = r;
		r->handler(req, s->handler_arg);
	} else if (allow.len > 0) {
		http_respond_error_allow(req, allow.data);
	} else {
		http_respond_error(req, 404, "not_found", "no route for %s %s",
				   req->method, http_request_path(req));
	}
	buf_free(&allow);
}

static void
on_connection(uv_stream_t *st, int status)
{
	struct http_server *s = container_of(st, struct http_server, listener);

	if (status < 0 || s->stopping)
		return;
	http_conn_accept(s);
}

/* Splits "HOST:PORT" or "[V6]:PORT" into host and port strings. */
static int
split_addr(const char *addr, char *host, size_t hlen, char *port, size_t plen)
{
	const char *colon, *h = addr;
	size_t n;

	if (addr[0] == '[') {
		colon = strstr(addr, "]:");
		if (colon == NULL)
			return -EINVAL;
		h = addr + 1;
		n = (size_t)(colon - h);
		colon++;
	} else {
		colon = strrchr(addr, ':');
		if (colon == NULL)
			return -EINVAL;
		n = (size_t)(colon - addr);
	}
	if (n == 0 || n >= hlen || strlen(colon + 1) >= plen ||
	    colon[1] == '\0' || strspn(colon + 1, "0123456789") !=
	    strlen(colon + 1) || atoi(colon + 1) > 65535)
		return -EINVAL;
	memcpy(host, h, n);
	host[n] = '\0';
	strcpy(port, colon + 1);
	return 0;
}

static int
bind_addr(struct http_server *s, const char *addr)
{
	char host[256], port[8];
	struct addrinfo hints;
	uv_getaddrinfo_t gai;
	int rc;

	if (split_addr(addr, host, sizeof(host), port, sizeof(port)) != 0)
		return -EINVAL;
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	/* No callback: resolves synchronously, once, at start-up. */
	rc = uv_getaddrinfo(s->loop, &gai, NULL, host, port, &hints);
	if (rc != 0)
		return rc;
	rc = uv_tcp_bind(&s->listener, gai.addrinfo->ai_addr, 0);
	uv_freeaddrinfo(gai.addrinfo);
	return rc;
}

static void
on_listener_close(uv_handle_t *h)
{
	struct http_server *s = container_of(h, struct http_server, listener);

	s->listening = false;
	http_server_unref(s);
}

int
http_server_listen(struct http_server *s, const char *addr, int fd,
		   char *host, size_t hostlen, int *port)
{
	struct sockaddr_storage ss;
	int rc, len = sizeof(ss);

	if (s->listening || s->closing || s->stopping)
		return -EBUSY;
	rc = uv_tcp_init(s->loop, &s->listener);
	if (rc != 0)
		return rc;
	s->listening = true;
	/* An inherited listener is ours only: not for what we start. */
	if (fd >= 0 && fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
		rc = -errno;
	else if (fd >= 0)
		rc = uv_tcp_open(&s->listener, fd);
	else if (addr != NULL)
		rc = bind_addr(s, addr);
	else
		rc = -EINVAL;
	if (rc == 0)
		rc = uv_listen((uv_stream_t *)&s->listener, 511, on_connection);
	if (rc == 0)
		rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&ss,
					&len);
	if (rc != 0) {
		/* The handle was initialised: close it, free nothing else. */
		uv_close((uv_handle_t *)&s->listener, on_listener_close);
		return rc;
	}
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		if (host != NULL)
			uv_ip6_name(in6, host, hostlen);
		if (port != NULL)
			*port = ntohs(in6->sin6_port);
	} else {
		struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
		if (host != NULL)
			uv_ip4_name(in4, host, hostlen);
		if (port != NULL)
			*port = ntohs(in4->sin_port);
	}
	return 0;
}

void
http_server_stop_accepting(struct http_server *s)
{
	struct http_conn *c, *next;

	if (s->stopping)
		return;
	s->stopping = true;
	if (s->listening && !uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, on_listener_close);
	for (c = s->conns; c != NULL; c = next) {
		next = http_conn_next(c);
		http_conn_close_if_idle(c);
	}
}

void
http_server_unref(struct http_server *s)
{
	if (!s->closing || s->listening || s->conns != NULL)
		return;
	if (s->close_cb != NULL)
		s->close_cb(s->close_arg);
	free(s->trusted);
	free(s);
}

void
http_server_close(struct http_server *s, void (*cb)(void *arg), void *arg)
{
	struct http_conn *c, *next;

	s->close_cb = cb;
	s->close_arg = arg;
	s->closing = true;
	s->stopping = true;
	if (s->listening && !uv_is_closing((uv_handle_t *)&s->listener))
		uv_close((uv_handle_t *)&s->listener, on_listener_close);
	for (c = s->conns; c != NULL; c = next) {
		next = http_conn_next(c);
		http_conn_close(c);
	}
	http_server_unref(s);
}
