/*
 * stream.c: answers written piece by piece (Server-Sent Events, live logs).
 *
 * The status line and headers go out at http_stream_start with
 * "Transfer-Encoding: chunked"; each http_stream_write is one chunk and
 * http_stream_end writes the last, empty one.  An HTTP/1.0 client knows no
 * chunks: it gets the bytes as they are and the connection closes at the
 * end.  Writes are queued on the connection (uv_write) and never block;
 * the number of bytes still queued is returned so a producer that is
 * faster than the client can wait.  Until the end the connection carries
 * nothing else: pipelined requests wait behind the stream.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http-int.h"

void
http_stream_start(struct http_request *req, int status,
		  const char *content_type, const char *const *headers)
{
	struct buf out;
	bool close;

	if (req->aborting || req->answered || req->streaming)
		return;
	req->streaming = true;
	req->status = status;
	if (req->conn == NULL)
		return; /* detached: http_stream_end frees it */
	req->stream_raw = req->http_major == 1 && req->http_minor == 0;
	close = http_conn_closing(req->conn, req);
	buf_init(&out, 0);
	http_head_build(&out, req, status, content_type, headers, close);
	if (!req->stream_raw)
		buf_adds(&out, "Transfer-Encoding: chunked\r\n");
	buf_adds(&out, "\r\n");
	http_conn_send(req->conn, out.data, out.len);
	buf_free(&out);
}

size_t
http_stream_write(struct http_request *req, const char *data, size_t len)
{
	char head[32];
	struct buf out;
	size_t queued;
	int n;

	if (!req->streaming || req->answered || req->aborting ||
	    req->conn == NULL)
		return 0;
	if (len == 0 || req->head)
		return http_conn_send(req->conn, NULL, 0);
	if (req->stream_raw)
		return http_conn_send(req->conn, data, len);
	n = snprintf(head, sizeof(head), "%zx\r\n", len);
	buf_init(&out, 0);
	buf_add(&out, head, (size_t)n);
	buf_add(&out, data, len);
	buf_adds(&out, "\r\n");
	queued = http_conn_send(req->conn, out.data, out.len);
	buf_free(&out);
	return queued;
}

void
http_stream_end(struct http_request *req)
{
	if (req->aborting || req->answered || !req->streaming)
		return;
	if (req->conn == NULL) {
		http_request_free(req);
		return;
	}
	http_request_log(req);
	if (!req->stream_raw && !req->head)
		http_conn_send(req->conn, "0\r\n\r\n", 5);
	http_request_finish(req);
}

void
http_stream_on_drain(struct http_request *req, size_t low, http_drain_cb cb,
		     void *arg)
{
	req->drain_cb = cb;
	req->drain_arg = arg;
	req->drain_low = low;
}

void
http_stream_abort(struct http_request *req)
{
	struct http_conn *c = req->conn;

	req->abort_cb = NULL;
	req->drain_cb = NULL;
	if (c != NULL && !req->answered) {
		/* Detaches req (no abort callback: it stays ours to free). */
		http_request_log(req);
		http_conn_close(c);
	}
	http_request_free(req);
}
