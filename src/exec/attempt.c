/*
 * A running attempt: frames from the supervisor's socket, its exit, the end.
 *
 * Two handles: the client socket (uv_pipe_t) and the supervisor process
 * (uv_process_t).  The end is reported exactly once, as soon as it is
 * known:
 *   - an END frame: at once, without waiting for the process to exit;
 *   - the stream ended without END (the supervisor crashed or was killed,
 *     or spoke nonsense): once the process has exited, from the files it
 *     left: the status file if there is one, and the log bytes we had not
 *     yet received; without a status file the attempt is EXEC_LOST.
 * The attempt leaves exec's active count and drops its struct exec pointer
 * just before end_cb; its memory is freed when end_cb has run and both
 * handles' close callbacks have, whichever comes last.
 *
 * We write to the socket with send(MSG_NOSIGNAL) ourselves (only ATTACH at
 * start and CANCEL, a few bytes each): a supervisor that has gone must not
 * raise SIGPIPE in the daemon, and there are no write requests to track.
 * The fallback reads the files synchronously on the loop thread; it only
 * runs when a supervisor died, and reads what it left behind once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec-int.h"

static void
maybe_free(struct exec_attempt *a)
{
	if (a->open_handles > 0 || !a->ended)
		return;
	exec_parser_free(&a->parser);
	free(a->dir);
	free(a);
}

static void
on_close(uv_handle_t *h)
{
	struct exec_attempt *a = h->data;

	a->open_handles--;
	maybe_free(a);
}

void
exec_attempt_abort(struct exec_attempt *a)
{
	a->ended = true;
	a->e = NULL;
	if (a->open_handles >= 1)
		uv_close((uv_handle_t *)&a->sock, on_close);
	if (a->open_handles >= 2)
		uv_close((uv_handle_t *)&a->proc, on_close);
	maybe_free(a);
}

static void
finish(struct exec_attempt *a, const struct exec_status *st)
{
	a->e->active--;
	a->e = NULL;
	a->ended = true;
	a->end_cb(a, st, a->arg);
	maybe_free(a);
}

static void
deliver(struct exec_attempt *a, const char *data, size_t len)
{
	a->received += len;
	if (a->output_cb != NULL)
		a->output_cb(a, data, len, a->arg);
}

static void
on_log(const char *data, size_t len, void *arg)
{
	deliver(arg, data, len);
}

/* Log bytes from `received` up to `limit` (or the file's end) from DIR/log. */
static void
deliver_tail(struct exec_attempt *a, uint64_t limit)
{
	char *path = xasprintf("%s/%s", a->dir, SUPERVISOR_LOG_FILE);
	uint64_t want;
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	free(path);
	if (fd < 0)
		return;
	while (a->received < limit) {
		want = limit - a->received;
		if (want > sizeof(a->rbuf))
			want = sizeof(a->rbuf);
		n = pread(fd, a->rbuf, (size_t)want, (off_t)a->received);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		deliver(a, a->rbuf, (size_t)n);
	}
	close(fd);
}

static void
end_from_files(struct exec_attempt *a)
{
	struct exec_status st;
	char *path, *text = NULL, *reason = NULL, how[48];
	size_t len;
	int rc;

	path = xasprintf("%s/%s", a->dir, SUPERVISOR_STATUS_FILE);
	rc = pw_read_file(path, EXEC_MAX_STATUS, &text, &len);
	free(path);
	if (rc == 0)
		rc = exec_status_parse(text, len, &st, &reason);
	free(text);
	deliver_tail(a, rc == 0 ? st.log_bytes : UINT64_MAX);
	if (rc < 0) {
		if (a->term_signal != 0)
			snprintf(how, sizeof(how), "signal %d", a->term_signal);
		else
			snprintf(how, sizeof(how), "status %lld",
				 (long long)a->exit_status);
		memset(&st, 0, sizeof(st));
		st.result = EXEC_LOST;
		st.exit_code = -1;
		reason = xasprintf("supervisor exited (%s) without a result%s%s",
				   how, a->parser.error != NULL ? "; " : "",
				   a->parser.error != NULL ? a->parser.error : "");
		st.reason = reason;
		st.log_bytes = a->received;
		st.finished_ms = pw_now_ms();
	}
	finish(a, &st);
	free(reason);
}

static void
close_sock(struct exec_attempt *a)
{
	a->sock_done = true;
	if (!uv_is_closing((uv_handle_t *)&a->sock)) {
		uv_read_stop((uv_stream_t *)&a->sock);
		uv_close((uv_handle_t *)&a->sock, on_close);
	}
}

/* No more frames will come; the end follows once the supervisor exited. */
static void
stream_done(struct exec_attempt *a)
{
	close_sock(a);
	if (a->proc_exited && !a->ended)
		end_from_files(a);
}

static void
end_from_frame(struct exec_attempt *a)
{
	struct exec_status st;
	const char *text = a->parser.end.data != NULL ? a->parser.end.data : "";
	char *reason;

	if (exec_status_parse(text, a->parser.end.len, &st, &reason) < 0) {
		a->parser.state = EXEC_PARSE_ERROR;
		a->parser.error = xstrdup("malformed END frame");
		stream_done(a);
		return;
	}
	close_sock(a);
	finish(a, &st);
	free(reason);
}

static void
on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
	struct exec_attempt *a = h->data;

	(void)hint;
	buf->base = a->rbuf;
	buf->len = sizeof(a->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct exec_attempt *a = s->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		stream_done(a);
		return;
	}
	switch (exec_parser_feed(&a->parser, buf->base, (size_t)nread, on_log,
				 a)) {
	case EXEC_PARSE_DONE:
		end_from_frame(a);
		break;
	case EXEC_PARSE_ERROR:
		stream_done(a);
		break;
	default:
		break;
	}
}

void
exec_attempt_on_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct exec_attempt *a = proc->data;

	a->proc_exited = true;
	a->exit_status = exit_status;
	a->term_signal = term_signal;
	uv_close((uv_handle_t *)&a->proc, on_close);
	if (a->sock_done && !a->ended)
		end_from_files(a);
}

void
exec_attempt_begin(struct exec_attempt *a)
{
	if (uv_read_start((uv_stream_t *)&a->sock, on_alloc, on_read) < 0)
		stream_done(a);
}

int
exec_cancel(struct exec_attempt *a)
{
	static const char msg[] = "CANCEL\n";
	size_t off = 0;
	uv_os_fd_t fd;
	ssize_t n;

	/* Without a connection the end is on its way already. */
	if (a->ended || a->sock_done || a->cancel_sent)
		return 0;
	if (uv_fileno((const uv_handle_t *)&a->sock, &fd) < 0)
		return 0;
	while (off < sizeof(msg) - 1) {
		n = send(fd, msg + off, sizeof(msg) - 1 - off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return 0;
		if (n < 0)
			return -errno;
		off += (size_t)n;
	}
	a->cancel_sent = true;
	return 0;
}
