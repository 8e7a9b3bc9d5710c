/*
 * exec_helper(): run a short command unsandboxed and collect its output.
 *
 * stdout and stderr share one pipe that we create ourselves (uv_pipe) and
 * hand to the child as both fds 1 and 2, so that the output keeps the
 * order the program wrote it in; libuv cannot give one UV_CREATE_PIPE
 * stream to two child fds.  The callback runs once the process has exited
 * and the pipe has reached EOF, so the output is complete; a helper that
 * leaves a background process holding the pipe delays it until that one
 * exits too.  Output past max_output is read and dropped, so the program
 * never blocks on a full pipe.
 *
 * With a timeout (exec_helper_spawn) the helper starts a session of its own,
 * so that one kill(-pid, SIGKILL) reaches everything it started (git's
 * remote helpers, ssh) unless it left the group on purpose; once the time
 * is up we wait one more second for the output's EOF and then stop
 * waiting, so such a straggler cannot hold the callback back for ever.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec-int.h"

struct helper {
	struct exec *e;          /* NULL after the callback */
	uv_process_t proc;
	uv_pipe_t out;           /* read end of the output pipe */
	uv_timer_t timer;        /* the deadline, then the grace for EOF */
	bool has_timer;          /* timer initialized */
	int open_handles;
	bool exited, eof, done;  /* done: cb has run, or never will */
	bool timed_out;          /* the group was killed: status -ETIMEDOUT */
	int pid;                 /* the helper's, also its process group's */
	int status;              /* exit code, or 128+signal */
	size_t max_output;
	struct buf output;
	exec_helper_cb cb;
	void *arg;
	char rbuf[16 * 1024];
};

static void
maybe_free(struct helper *h)
{
	if (h->open_handles > 0 || !h->done)
		return;
	buf_free(&h->output);
	free(h);
}

static void
on_close(uv_handle_t *handle)
{
	struct helper *h = handle->data;

	h->open_handles--;
	maybe_free(h);
}

static void
maybe_done(struct helper *h)
{
	if (!h->exited || !h->eof || h->done)
		return;
	if (h->has_timer)
		uv_close((uv_handle_t *)&h->timer, on_close);
	if (h->timed_out)
		h->status = -ETIMEDOUT;
	h->e->active--;
	h->e = NULL;
	h->done = true;
	h->cb(h->status, h->output.data != NULL ? h->output.data : "",
	      h->output.len, h->arg);
	maybe_free(h);
}

static void
on_alloc(uv_handle_t *handle, size_t hint, uv_buf_t *buf)
{
	struct helper *h = handle->data;

	(void)hint;
	buf->base = h->rbuf;
	buf->len = sizeof(h->rbuf);
}

static void
on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct helper *h = s->data;
	size_t room, take;

	if (nread > 0) {
		room = h->max_output - h->output.len;
		take = (size_t)nread < room ? (size_t)nread : room;
		if (take > 0)
			buf_add(&h->output, buf->base, take);  /* capped here */
		return;
	}
	if (nread == 0)
		return;
	h->eof = true;  /* EOF, or an error that ends the output just as well */
	uv_close((uv_handle_t *)&h->out, on_close);
	maybe_done(h);
}

static void
on_proc_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct helper *h = proc->data;

	h->exited = true;
	h->status = term_signal != 0 ? 128 + term_signal : (int)exit_status;
	uv_close((uv_handle_t *)&h->proc, on_close);
	maybe_done(h);
}

/* Time is up: kill the group; the second time, stop waiting for EOF. */
static void
on_timer(uv_timer_t *t)
{
	struct helper *h = t->data;

	if (!h->timed_out) {
		h->timed_out = true;
		if (h->pid > 0)
			kill(-h->pid, SIGKILL);
		uv_timer_start(&h->timer, on_timer, 1000, 0);
		return;
	}
	if (!h->eof) {
		h->eof = true;
		uv_close((uv_handle_t *)&h->out, on_close);
	}
	/* The helper itself died of SIGKILL: its exit is on its way. */
	maybe_done(h);
}

int
exec_helper(struct exec *e, const char *const *argv, const char *cwd,
	    const char *const *env, size_t max_output, exec_helper_cb cb,
	    void *arg)
{
	struct exec_helper_spec spec = {
		.argv = argv,
		.cwd = cwd,
		.env = env,
		.max_output = max_output,
	};

	return exec_helper_spawn(e, &spec, cb, arg);
}

int
exec_helper_spawn(struct exec *e, const struct exec_helper_spec *spec,
		  exec_helper_cb cb, void *arg)
{
	struct helper *h;
	uv_process_options_t opts;
	uv_stdio_container_t stdio[3];
	uv_file fds[2];
	int rc;

	if (e == NULL || spec == NULL || spec->argv == NULL ||
	    spec->argv[0] == NULL || cb == NULL)
		return -EINVAL;
	rc = uv_pipe(fds, 0, 0);
	if (rc < 0)
		return rc;
	h = xcalloc(1, sizeof(*h));
	h->e = e;
	h->max_output = spec->max_output;
	h->cb = cb;
	h->arg = arg;
	buf_init(&h->output, 0);
	h->out.data = h;
	h->proc.data = h;
	h->timer.data = h;
	rc = uv_pipe_init(e->loop, &h->out, 0);
	if (rc < 0) {
		close(fds[0]);
		goto out;
	}
	h->open_handles++;
	rc = uv_pipe_open(&h->out, fds[0]);
	if (rc < 0) {
		close(fds[0]);
		goto out;
	}

	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_INHERIT_FD;
	stdio[1].data.fd = fds[1];
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = fds[1];
	opts.exit_cb = on_proc_exit;
	opts.file = spec->argv[0];
	opts.args = (char **)spec->argv;
	opts.env = (char **)spec->env;
	opts.cwd = spec->cwd;
	opts.stdio = stdio;
	opts.stdio_count = 3;
	if (spec->timeout_ms > 0)
		opts.flags |= UV_PROCESS_DETACHED;  /* setsid: a group to kill */
	rc = uv_spawn(e->loop, &h->proc, &opts);
	h->open_handles++;  /* closed even if the spawn failed */
	if (rc < 0)
		goto out;
	h->pid = h->proc.pid;
	if (spec->timeout_ms > 0) {
		/* Cannot fail for an initialized loop. */
		uv_timer_init(e->loop, &h->timer);
		h->has_timer = true;
		h->open_handles++;
		uv_timer_start(&h->timer, on_timer, spec->timeout_ms, 0);
	}
	rc = uv_read_start((uv_stream_t *)&h->out, on_alloc, on_read);
	if (rc < 0) {
		/* Nothing to read from: the output is empty, the exit decides. */
		h->eof = true;
		uv_close((uv_handle_t *)&h->out, on_close);
		rc = 0;
	}
	e->active++;
out:
	close(fds[1]);
	if (rc < 0) {
		h->done = true;  /* no callback will run */
		if (h->open_handles >= 1)
			uv_close((uv_handle_t *)&h->out, on_close);
		if (h->open_handles >= 2)
			uv_close((uv_handle_t *)&h->proc, on_close);
		maybe_free(h);
	}
	return rc;
}
