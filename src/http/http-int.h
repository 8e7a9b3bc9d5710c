/*
 * http-int.h: the http module's private structs, shared by its files only.
 *
 * Ownership: a server owns its listener and its connections; a connection
 * owns its parse state, its input buffer and the request it is answering
 * (`cur`).  A request is built by the parse state (parse.c), handed to the
 * connection once complete, answered by response.c/stream.c and freed once
 * its answer is queued and the request is finished.  A request whose
 * connection went away is "detached" (conn == NULL): see http.h's rule.
 *
 * The parse state knows nothing of sockets, so that fuzz/fuzz_http.c can
 * drive it with bytes alone.
 */
#ifndef PW_HTTP_INT_H
#define PW_HTTP_INT_H

#include <http_parser.h>

#include "pipewright/http.h"
#include "pipewright/util.h"

#define HTTP_DEFAULT_MAX_URL (8 * 1024)
#define HTTP_DEFAULT_MAX_HEADER_BYTES (16 * 1024)
#define HTTP_DEFAULT_MAX_HEADERS 64
#define HTTP_DEFAULT_MAX_BODY (1024 * 1024)
#define HTTP_DEFAULT_MAX_CONNECTIONS 1024
#define HTTP_DEFAULT_MAX_CONNECTIONS_PER_ADDRESS 64
/* How long a connection must have been idle before it may be closed to
 * make room for another: of any peer, of the newcomer's own peer
 * (conn.c: evict_idle). */
#define HTTP_EVICT_GRACE_MS 1000
#define HTTP_EVICT_PEER_GRACE_MS 250
#define HTTP_DEFAULT_HEADER_TIMEOUT_MS 10000
#define HTTP_DEFAULT_READ_TIMEOUT_MS 30000
#define HTTP_DEFAULT_IDLE_TIMEOUT_MS 60000
/* Bytes read ahead while a request is being answered before reading stops. */
#define HTTP_MAX_READ_AHEAD (64 * 1024)
/* How long a closing connection reads and drops what the client still
 * sends, so that closing does not reset the answer away (lingering close). */
#define HTTP_LINGER_MS 2000

struct http_conn;

struct http_kv {
	char *name;
	char *value;
};

struct http_kvs {
	struct http_kv *items;
	size_t count, cap;
};

struct http_request {
	struct http_conn *conn;     /* NULL once detached */
	struct http_server *server; /* NULL once detached */
	char method[24];
	int http_major, http_minor;
	bool keep_alive;            /* the client's wish, per HTTP/1.x rules */
	bool head;                  /* HEAD: headers only */
	struct buf url;             /* raw request target */
	char *path;                 /* percent-decoded path, no query */
	char **segs;                /* path segments, percent-decoded */
	size_t nsegs;
	struct http_kvs headers;    /* names as sent */
	struct http_kvs query;
	struct http_kvs params;
	struct buf body;
	const struct http_route *route;
	void *data;                 /* the handler's */
	http_abort_cb abort_cb;
	void *abort_arg;
	http_drain_cb drain_cb;     /* http_stream_on_drain: once, then NULL */
	void *drain_arg;
	size_t drain_low;
	uint64_t start_ns;          /* uv_hrtime() at its first byte */
	char client[48];            /* http_request_client: INET6_ADDRSTRLEN */
	bool proxied;               /* the peer is a trusted proxy */
	bool answered;              /* the answer is complete */
	bool streaming;
	bool stream_raw;            /* HTTP/1.0 stream: no chunk framing */
	bool aborting;              /* inside abort_cb: answers are ignored */
	int status;
};

/* Outcomes of http_parse_feed(). */
enum {
	HTTP_PARSE_MORE,     /* every byte used, the request is not complete */
	HTTP_PARSE_REQUEST,  /* a request is complete; the parser is paused */
	HTTP_PARSE_ERROR,    /* answer ps->status / code / msg and close */
};

/* One connection's parser: bytes in, requests or an error out. */
struct http_parse {
	http_parser p;
	const struct http_limits *lim;
	struct http_request *req;   /* being built; NULL between requests */
	struct buf field, value;    /* the header being read */
	bool in_value;              /* last callback was on_header_value */
	bool in_message;            /* a request has begun */
	bool headers_done;          /* its head is complete: the body follows */
	bool done;                  /* req is complete; parser paused */
	bool has_cl, has_te;        /* Content-Length, Transfer-Encoding seen */
	bool has_upgrade;
	bool expect_continue;       /* "Expect: 100-continue" to answer */
	int status;                 /* the error's status, 0 if none */
	const char *code;           /* the error's code */
	char msg[160];              /* the error's message */
};

void http_parse_init(struct http_parse *ps, const struct http_limits *lim);
void http_parse_free(struct http_parse *ps);
/*
 * Feeds len bytes; *used is how many were consumed (all of them for
 * HTTP_PARSE_MORE).  After HTTP_PARSE_REQUEST take the request with
 * http_parse_take and call http_parse_next before feeding again.  After
 * HTTP_PARSE_ERROR the parse state is spent.
 */
int http_parse_feed(struct http_parse *ps, const char *data, size_t len,
		    size_t *used);
/* The request being built or complete (caller owns it); NULL if none. */
struct http_request *http_parse_take(struct http_parse *ps);
void http_parse_next(struct http_parse *ps);
/* Fills the defaults into a copy of the caller's limits. */
void http_limits_fill(struct http_limits *out, const struct http_limits *in);

/* request.c */
struct http_request *http_request_new(void);
void http_request_free(struct http_request *req);
/* Splits and decodes the URL into path, segments and query; 0 or -EINVAL
 * with msg filled. */
int http_request_parse_url(struct http_request *req, char *msg, size_t len);
void http_kvs_add(struct http_kvs *kv, const char *name, size_t nlen,
		  const char *value, size_t vlen);
/* Percent-decodes in place; '+' becomes a space if plus.  -EINVAL on a bad
 * escape or an encoded NUL. */
int http_pct_decode(char *s, bool plus);

/* route.c: finds req's route and fills its params; NULL if none, with the
 * methods the path has in allow, a buf without a limit (nothing if the
 * path matches nothing). */
const struct http_route *http_route_find(const struct http_route *routes,
					 size_t n, struct http_request *req,
					 struct buf *allow);

/* response.c */
/* Answers an error the server found itself. */
void http_respond_error_now(struct http_request *req, int status,
			    const char *code, const char *msg);
/* 405 with Allow. */
void http_respond_error_allow(struct http_request *req, const char *allow);
/* Appends the status line and the common headers. */
void http_head_build(struct buf *out, struct http_request *req, int status,
		     const char *content_type, const char *const *headers,
		     bool close);
/* Calls the server's log callback for req (before its last bytes go). */
void http_request_log(struct http_request *req);
/* Finishes req: hands it back to its connection. */
void http_request_finish(struct http_request *req);

/* conn.c */
struct http_server;
void http_conn_accept(struct http_server *s);
void http_conn_close(struct http_conn *c);
/* Queues bytes (copied); returns the bytes still queued. */
size_t http_conn_send(struct http_conn *c, const char *data, size_t len);
/* Whether the answer to req must close the connection. */
bool http_conn_closing(struct http_conn *c, struct http_request *req);
/* req is answered: the connection goes on once the answer is written. */
void http_conn_request_done(struct http_conn *c, struct http_request *req);
struct http_conn *http_conn_next(struct http_conn *c);
/* Closes c if it has no request in flight (stop_accepting). */
void http_conn_close_if_idle(struct http_conn *c);

/* server.c: what conn.c needs from the server. */
struct http_server {
	uv_loop_t *loop;
	struct http_limits lim;
	const struct http_route *routes;
	size_t nroutes;
	void *handler_arg;
	http_log_cb log_cb;
	void *log_arg;
	uv_tcp_t listener;
	bool listening;             /* listener initialised */
	bool stopping;              /* stop_accepting: answers close */
	bool closing;               /* http_server_close called */
	http_guard_cb guard;
	void *guard_arg;
	struct http_net *trusted;   /* trusted proxies */
	size_t ntrusted;
	struct http_conn *conns;    /* every open connection */
	size_t nconns;              /* counted against max_connections */
	void (*close_cb)(void *arg);
	void *close_arg;
};

void http_server_unref(struct http_server *s);

/* peer.c */
/* The canonical text of a peer address (at least INET6_ADDRSTRLEN). */
void http_peer_name(const struct sockaddr_storage *ss, char *out, size_t len);
/* Whether addr (canonical text) is inside a trusted proxy network. */
bool http_peer_trusted(const struct http_server *s, const char *addr);
/* The request's client: peer, or what a trusted peer's X-Forwarded-For
 * names (see peer.c). */
void http_peer_client(const struct http_server *s, const char *peer,
		      const struct http_kvs *headers, char *out, size_t len);
void http_server_dispatch(struct http_server *s, struct http_request *req);

#endif
