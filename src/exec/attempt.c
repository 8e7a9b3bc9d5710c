/*
 * A running attempt: frames from the supervisor's socket, its exit, the end.
 *
 * Up to three handles: the client socket (uv_pipe_t), the supervisor
 * process (uv_process_t, only when exec_start spawned it: an attempt
 * taken up by exec_attach is not our child and has none), and an idle
 * handle that delivers the rest of the log file when the end comes from
 * the files.  The end is reported exactly once, as soon as it is known:
 *   - an END frame: at once, without waiting for the process to exit;
 *   - the stream ended without END (the supervisor crashed or was killed,
 *     or spoke nonsense), or exec_attach found no socket: once our child,
 *     if it is one, has exited, from the files it left: the status file
 *     if there is one, and the log bytes we had not yet received; without
 *     a status file the attempt is EXEC_LOST.
 * The log's rest is read a chunk per loop iteration (a 64 MiB log must not
 * stall the loop), and never inside the call that started the attempt.
 *
 * With exec_log_notes the caller gets no bytes, only how far the log has
 * grown: we greet with version 2, whose supervisor sends "SIZE n" notes
 * instead of LOG frames; an older supervisor answers version 1 and sends
 * LOG frames anyway, whose bytes (already in its log file, which it
 * serves them from) are dropped here and counted as a note; the end from
 * the files is one note for the rest of the file, nothing read.
 *
 * The attempt leaves exec's active count and drops its struct exec pointer
 * just before end_cb, or in exec_detach; from then on no callback runs.
 * A detached supervisor that is our child keeps its process handle,
 * unref'd, in exec's let_go list: libuv reaps it when it exits (a daemon
 * that resumes after a failed upgrade lives on with the supervisors it
 * let go of), and exec_destroy closes what is left.
 * Its memory is freed once that has happened and every handle's close
 * callback has run, whichever comes last.  output_cb may call exec_detach
 * or exec_cancel: after delivering, every path checks `ended`.
 *
 * We write to the socket with send(MSG_NOSIGNAL) ourselves (only ATTACH at
 * start and CANCEL, a few bytes each): a supervisor that has gone must not
 * raise SIGPIPE in the daemon, and there are no write requests to track.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-int.h"

static void
maybe_free(struct exec_attempt *a)
{
	if (a->open_handles > 0 || !a->ended)
		return;
	exec_parser_free(&a->parser);
	if (a->pidfd >= 0)
		close(a->pidfd);  /* its poll handle is closed by now */
	if (a->tie_fd >= 0)
		close(a->tie_fd);  /* a tied supervisor still running cancels */
	free(a->tail_reason);
	free(a->dir);
	free(a->rbuf);
	free(a);
}

static void
on_close(uv_handle_t *h)
{
	struct exec_attempt *a = h->data;

	a->open_handles--;
	maybe_free(a);
}

static void
close_handle(bool has, uv_handle_t *h)
{
	if (has && !uv_is_closing(h))
		uv_close(h, on_close);
}

/* Closes whatever is still open but the process; the close callbacks free. */
static void
close_io(struct exec_attempt *a)
{
	if (a->has_sock && !uv_is_closing((uv_handle_t *)&a->sock))
		uv_read_stop((uv_stream_t *)&a->sock);
	close_handle(a->has_sock, (uv_handle_t *)&a->sock);
	if (a->has_tail && !uv_is_closing((uv_handle_t *)&a->tail))
		uv_idle_stop(&a->tail);
	close_handle(a->has_tail, (uv_handle_t *)&a->tail);
	if (a->tail_fd >= 0)
		close(a->tail_fd);
	a->tail_fd = -1;
}

static void
close_all(struct exec_attempt *a)
{
	close_io(a);
	close_handle(a->has_proc, exec_proc_handle(a));
}

/* Out of its exec's let_go list (its child exited, or exec is going). */
static void
unlist(struct exec_attempt *a)
{
	struct exec_attempt **pp;

	for (pp = &a->reaper->let_go; *pp != NULL; pp = &(*pp)->next_let_go) {
		if (*pp == a) {
			*pp = a->next_let_go;
			break;
		}
	}
	a->reaper = NULL;
}

static void on_size(uint64_t size, void *arg);

void
exec_log_notes(struct exec *e, bool on)
{
	e->notes = on;
}

unsigned
exec_greeting_version(const struct exec *e)
{
	return e->notes ? SUPERVISOR_PROTO_VERSION : 1;
}

void
exec_attempt_notes(struct exec_attempt *a, bool on)
{
	a->notes = on;
	a->parser.size_cb = on ? on_size : NULL;
	a->parser.size_arg = on ? a : NULL;
}

struct exec_attempt *
exec_attempt_new(struct exec *e, const char *dir, exec_output_cb output_cb,
		 exec_end_cb end_cb, void *arg)
{
	struct exec_attempt *a = xcalloc(1, sizeof(*a));

	a->e = e;
	a->loop = e->loop;
	a->dir = xstrdup(dir);
	a->output_cb = output_cb;
	a->end_cb = end_cb;
	a->arg = arg;
	a->tail_fd = -1;
	a->pool_fd = -1;
	exec_parser_init(&a->parser);
	exec_attempt_notes(a, e->notes);
	a->sock.data = a;
	a->proc.data = a;
	a->pidpoll.data = a;
	a->pidfd = -1;
	a->tie_fd = -1;
	a->tail.data = a;
	a->rbuf = xmalloc(EXEC_CHUNK);
	return a;
}

void
exec_attempt_abort(struct exec_attempt *a)
{
	a->ended = true;
	a->e = NULL;
	close_all(a);
	maybe_free(a);
}

void
exec_detach(struct exec_attempt *a)
{
	if (a == NULL || a->ended)
		return;
	a->e->active--;
	if (a->has_proc && !a->proc_exited &&
	    !uv_is_closing(exec_proc_handle(a))) {
		/*
		 * Still waited for, or the supervisor, our child, would stay
		 * a zombie for as long as we live; but it keeps no loop alive.
		 */
		uv_unref(exec_proc_handle(a));
		a->reaper = a->e;
		a->next_let_go = a->e->let_go;
		a->e->let_go = a;
	}
	a->e = NULL;
	a->ended = true;
	if (a->reaper != NULL)
		close_io(a);
	else
		close_all(a);
	maybe_free(a);
}

void
exec_let_go_close(struct exec *e)
{
	struct exec_attempt *a;

	while ((a = e->let_go) != NULL) {
		unlist(a);
		close_handle(true, exec_proc_handle(a));
	}
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
	if (a->ended)
		return;  /* detached by an earlier piece's output_cb */
	a->received += len;
	if (a->output_cb != NULL)
		a->output_cb(a, data, len, a->arg);
}

/* The log has grown to `size`: a note for what is new. */
static void
note(struct exec_attempt *a, uint64_t size)
{
	uint64_t grew;

	if (a->ended || size <= a->received)
		return;
	/* A size_t holds any log a supervisor caps (notes of at most it). */
	grew = size - a->received;
	a->received = size;
	if (a->output_cb != NULL)
		a->output_cb(a, NULL, (size_t)grew, a->arg);
}

static void
on_size(uint64_t size, void *arg)
{
	note(arg, size);
}

static void
on_log(const char *data, size_t len, void *arg)
{
	struct exec_attempt *a = arg;

	/* An older supervisor's bytes: already in its log file. */
	if (a->notes)
		note(a, a->received + len);
	else
		deliver(a, data, len);
}

/* The end from the files, once the log's rest has been delivered. */
static void
tail_finish(struct exec_attempt *a)
{
	struct exec_status st = a->tail_st;

	uv_idle_stop(&a->tail);
	uv_close((uv_handle_t *)&a->tail, on_close);
	if (a->tail_fd >= 0)
		close(a->tail_fd);
	a->tail_fd = -1;
	if (a->tail_lost) {
		st.log_bytes = a->received;
		st.finished_ms = pw_now_ms();
	}
	finish(a, &st);
}

/* One chunk of DIR/log per loop iteration, from `received` on. */
static void
on_tail(uv_idle_t *h)
{
	struct exec_attempt *a = h->data;
	uint64_t want;
	struct stat sb;
	ssize_t n;

	if (a->notes) {
		/* One note for the rest: the caller reads the file. */
		if (a->tail_fd >= 0 && fstat(a->tail_fd, &sb) == 0) {
			want = (uint64_t)sb.st_size < a->tail_limit ?
				(uint64_t)sb.st_size : a->tail_limit;
			note(a, want);
			if (a->ended)
				return;  /* detached: the handle is closing */
		}
		tail_finish(a);
		return;
	}
	if (a->tail_fd >= 0 && a->received < a->tail_limit) {
		want = a->tail_limit - a->received;
		if (want > EXEC_CHUNK)
			want = EXEC_CHUNK;
		n = pread(a->tail_fd, a->rbuf, (size_t)want, (off_t)a->received);
		if (n < 0 && errno == EINTR)
			return;
		if (n > 0) {
			deliver(a, a->rbuf, (size_t)n);
			return;  /* detached meanwhile: the handle is closing */
		}
	}
	tail_finish(a);
}

static void
end_from_files(struct exec_attempt *a)
{
	char *path, *text = NULL, *reason = NULL, how[48];
	struct stat sb;
	const char *perr = a->parser.error;
	size_t len;
	int rc;

	path = xasprintf("%s/%s", a->dir, SUPERVISOR_STATUS_FILE);
	rc = pw_read_file(path, EXEC_MAX_STATUS, &text, &len);
	free(path);
	if (rc == 0)
		rc = exec_status_parse(text, len, &a->tail_st, &reason);
	free(text);
	if (rc == 0) {
		a->tail_limit = a->tail_st.log_bytes;
		a->tail_reason = reason;
	} else {
		a->tail_lost = true;
		a->tail_limit = UINT64_MAX;
		memset(&a->tail_st, 0, sizeof(a->tail_st));
		a->tail_st.result = EXEC_LOST;
		a->tail_st.exit_code = -1;
		if (!a->has_proc) {
			a->tail_reason = xasprintf(
				"the supervisor went away without a result%s%s",
				perr != NULL ? "; " : "", perr != NULL ? perr : "");
		} else {
			if (a->term_signal != 0)
				snprintf(how, sizeof(how), "signal %d",
					 a->term_signal);
			else
				snprintf(how, sizeof(how), "status %lld",
					 (long long)a->exit_status);
			a->tail_reason = xasprintf(
				"supervisor exited (%s) without a result%s%s", how,
				perr != NULL ? "; " : "", perr != NULL ? perr : "");
		}
		a->tail_st.reason = a->tail_reason;
	}
	/*
	 * A regular file only: a FIFO in its place (a job under sandbox none
	 * reaches the directory) would block the open, and the reads.
	 */
	path = xasprintf("%s/%s", a->dir, SUPERVISOR_LOG_FILE);
	a->tail_fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	free(path);
	if (a->tail_fd >= 0 &&
	    (fstat(a->tail_fd, &sb) < 0 || !S_ISREG(sb.st_mode))) {
		close(a->tail_fd);
		a->tail_fd = -1;
	}
	/* The idle handle runs even while the loop has nothing else to do. */
	uv_idle_init(a->loop, &a->tail);
	a->tail.data = a;
	a->has_tail = true;
	a->open_handles++;
	uv_idle_start(&a->tail, on_tail);
}

/* The files decide, once nothing more can come from the socket or child. */
static void
maybe_end_from_files(struct exec_attempt *a)
{
	if (a->ended || a->has_tail || !a->sock_done)
		return;
	if (a->has_proc && !a->proc_exited)
		return;
	end_from_files(a);
}

void
exec_attempt_from_files(struct exec_attempt *a)
{
	a->sock_done = true;
	maybe_end_from_files(a);
}

static void
close_sock(struct exec_attempt *a)
{
	a->sock_done = true;
	if (a->has_sock && !uv_is_closing((uv_handle_t *)&a->sock)) {
		uv_read_stop((uv_stream_t *)&a->sock);
		uv_close((uv_handle_t *)&a->sock, on_close);
	}
}

/* No more frames will come; the end follows once the supervisor exited. */
static void
stream_done(struct exec_attempt *a)
{
	close_sock(a);
	maybe_end_from_files(a);
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
	buf->len = EXEC_CHUNK;
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct exec_attempt *a = s->data;
	enum exec_parse_state state;

	if (nread == 0)
		return;
	if (nread < 0) {
		stream_done(a);
		return;
	}
	state = exec_parser_feed(&a->parser, buf->base, (size_t)nread, on_log, a);
	if (a->ended)
		return;  /* output_cb detached */
	switch (state) {
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
	exec_attempt_exited(proc->data, exit_status, term_signal);
}

void
exec_attempt_exited(struct exec_attempt *a, int64_t exit_status,
		    int term_signal)
{
	a->proc_exited = true;
	a->exit_status = exit_status;
	a->term_signal = term_signal;
	if (a->reaper != NULL)
		unlist(a);
	uv_close(exec_proc_handle(a), on_close);
	maybe_end_from_files(a);
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
	if (a->ended || a->sock_done || a->cancel_sent || !a->has_sock)
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
