/*
 * Pre-started supervisors: a start that costs a message, not an exec.
 *
 * A supervisor's fork and exec is most of an unsandboxed start (the
 * daemon's uv_spawn forks the whole daemon, then the static binary is
 * exec'd and starts up).  None of that depends on the attempt, so exec
 * keeps up to `size` supervisors started ahead as `pipewright-supervisor
 * --pooled 3`, each blocked in recvmsg() on its end of a SOCK_SEQPACKET
 * pair (src/supervisor/spec.c).  exec_start takes one, sends it the very
 * argv a fresh supervisor would get and its descriptors (SCM_RIGHTS) in
 * one message, and from then on it is an attempt like any other: the
 * supervisor runs main() on those arguments (setsid and untie, closing
 * stray descriptors, the sandbox), and our uv_process_t, which reaped
 * nothing so far, is the attempt's.
 *
 * Isolation: a pooled supervisor was started exactly as a fresh one is
 * (the same fixed environment, stdio, session, credentials), only earlier;
 * what that fixes ahead is the binary and what the daemon's process was
 * then (cgroup, limits).  Hence the drain: exec_supervisor_pool(e, 0)
 * closes our ends, each waiting supervisor sees end of stream and exits
 * 0; the daemon drains before an upgrade (the binary may be a new one)
 * and at a stop.  It is tied to us until it takes a spec: our end is
 * close-on-exec and held by this process alone, so our death ends it too.
 *
 * Each pooled supervisor is a preallocated struct exec_attempt: its
 * process handle cannot move once spawned.  Waiting, its handle is
 * unref'd (an idle pool keeps no loop alive); drained, it is ref'd again
 * until the supervisor's exit is reaped (at once: it only waits for EOF).
 *
 * Refills run off the start's path: a take arms a 0 ms timer and the
 * timer spawns one supervisor per loop iteration until the pool is full.
 * A supervisor that exits while waiting is a failure; after
 * POOL_MAX_FAILURES in a row (a binary that cannot start) the pool stops
 * refilling until exec_supervisor_pool is called again, and starts are
 * fresh spawns, as without a pool.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec-int.h"

#define POOL_MAX 64
#define POOL_MAX_FAILURES 3

struct exec_pool_timer {
	uv_timer_t t;
	struct exec *e;              /* NULL once exec is destroyed */
};

static void
unlist(struct exec *e, struct exec_attempt *a)
{
	struct exec_attempt **pp;

	for (pp = &e->pool; *pp != NULL; pp = &(*pp)->next_pooled) {
		if (*pp == a) {
			*pp = a->next_pooled;
			break;
		}
	}
	a->next_pooled = NULL;
}

/* Its spec will never come: our end closes, the supervisor exits. */
static void
drain_one(struct exec *e, struct exec_attempt *a)
{
	if (a->pool_state == EXEC_POOL_WAITING)
		e->pool_waiting--;
	a->pool_state = EXEC_POOL_DRAINED;
	if (a->pool_fd >= 0)
		close(a->pool_fd);
	a->pool_fd = -1;
	uv_ref((uv_handle_t *)&a->proc);  /* reaped before the loop ends */
}

static void refill_soon(struct exec *e);

static void
pool_on_exit(uv_process_t *proc, int64_t exit_status, int term_signal)
{
	struct exec_attempt *a = proc->data;
	struct exec *e = a->pool_exec;

	if (a->pool_state == EXEC_POOL_TAKEN) {
		exec_attempt_on_exit(proc, exit_status, term_signal);
		return;
	}
	if (a->pool_state == EXEC_POOL_WAITING) {
		e->pool_failures++;
		drain_one(e, a);
		refill_soon(e);
	}
	unlist(e, a);
	exec_attempt_abort(a);  /* closes the process handle, frees */
}

/*
 * Room in our command line for the spec's (ps, `pipewright doctor`'s
 * "--dir DIR"): the supervisor writes them over it once it has them.
 */
#define POOL_TITLE_ROOM 1024

static int
spawn_one(struct exec *e)
{
	static char fd_arg[] = "3";
	char room[POOL_TITLE_ROOM + 1];
	char *argv[] = {e->supervisor_path, "--pooled", fd_arg, room, NULL};
	uv_process_options_t opts;
	uv_stdio_container_t stdio[4];
	struct exec_attempt *a;
	char **senv;
	int sv[2], rc;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	memset(room, ' ', POOL_TITLE_ROOM);
	room[POOL_TITLE_ROOM] = '\0';
	a = exec_attempt_new(e, "", NULL, NULL, NULL);
	senv = exec_supervisor_env();
	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	/* Exactly exec_start's fresh spawn, the spec socket for the listener. */
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = STDERR_FILENO;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = sv[1];
	opts.exit_cb = pool_on_exit;
	opts.file = e->supervisor_path;
	opts.args = argv;
	opts.env = senv;
	opts.flags = UV_PROCESS_DETACHED;
	opts.stdio = stdio;
	opts.stdio_count = 4;
	rc = uv_spawn(e->loop, &a->proc, &opts);
	a->has_proc = true;
	a->open_handles++;
	pw_strv_free(senv);
	close(sv[1]);
	if (rc < 0) {
		close(sv[0]);
		exec_attempt_abort(a);
		return rc;
	}
	uv_unref((uv_handle_t *)&a->proc);
	a->pool_exec = e;
	a->pool_state = EXEC_POOL_WAITING;
	a->pool_fd = sv[0];
	a->next_pooled = e->pool;
	e->pool = a;
	e->pool_waiting++;
	return 0;
}

static bool
short_of(const struct exec *e)
{
	return e->pool_waiting < e->pool_size &&
	       e->pool_failures < POOL_MAX_FAILURES;
}

static void
on_refill(uv_timer_t *t)
{
	struct exec_pool_timer *pt = t->data;
	struct exec *e = pt->e;

	if (e == NULL || !short_of(e))
		return;
	/* One per loop iteration: a refill never holds the loop for long. */
	if (spawn_one(e) < 0)
		e->pool_failures++;
	if (short_of(e))
		uv_timer_start(t, on_refill, 0, 0);
}

static void
refill_soon(struct exec *e)
{
	if (e->pool_timer == NULL || !short_of(e))
		return;
	if (!uv_is_active((uv_handle_t *)&e->pool_timer->t))
		uv_timer_start(&e->pool_timer->t, on_refill, 0, 0);
}

static void
free_timer(uv_handle_t *h)
{
	free(h->data);
}

/* Freed in its close callback: exec itself may be gone by then. */
static void
close_timer(struct exec *e)
{
	if (e->pool_timer == NULL)
		return;
	e->pool_timer->e = NULL;
	uv_close((uv_handle_t *)&e->pool_timer->t, free_timer);
	e->pool_timer = NULL;
}

int
exec_supervisor_pool(struct exec *e, size_t size)
{
	struct exec_attempt *a;
	int rc = 0;

	if (size > POOL_MAX)
		return -EINVAL;
	if (size > 0 && e->pool_timer == NULL) {
		e->pool_timer = xcalloc(1, sizeof(*e->pool_timer));
		e->pool_timer->e = e;
		e->pool_timer->t.data = e->pool_timer;
		uv_timer_init(e->loop, &e->pool_timer->t);
		uv_unref((uv_handle_t *)&e->pool_timer->t);
	}
	e->pool_size = size;
	e->pool_failures = 0;
	for (a = e->pool; a != NULL && e->pool_waiting > size;
	     a = a->next_pooled)
		if (a->pool_state == EXEC_POOL_WAITING)
			drain_one(e, a);
	if (size == 0)
		close_timer(e);
	/* Filled here, where the caller chose to spend the time. */
	while (e->pool_waiting < size && rc == 0)
		rc = spawn_one(e);
	return rc;
}

size_t
exec_supervisor_pooled(const struct exec *e)
{
	return e->pool_waiting;
}

struct exec_attempt *
exec_pool_take(struct exec *e)
{
	struct exec_attempt *a;

	for (a = e->pool; a != NULL; a = a->next_pooled)
		if (a->pool_state == EXEC_POOL_WAITING)
			break;
	if (a != NULL) {
		unlist(e, a);
		e->pool_waiting--;
		a->pool_state = EXEC_POOL_TAKEN;
	}
	refill_soon(e);
	return a;
}

int
exec_pool_send(struct exec_attempt *a, char *const *argv, const int *fds,
	       size_t nfds)
{
	union {
		char buf[CMSG_SPACE(SUPERVISOR_MAX_SPEC_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	struct buf b;
	size_t i;
	ssize_t n;
	int rc = 0;

	if (nfds == 0 || nfds > SUPERVISOR_MAX_SPEC_FDS)
		return -EINVAL;
	buf_init(&b, SUPERVISOR_MAX_SPEC);
	for (i = 0; argv[i] != NULL && rc == 0; i++)
		rc = buf_append(&b, argv[i], strlen(argv[i]) + 1);
	if (rc < 0)
		goto out;  /* -E2BIG: the caller spawns a fresh one */
	memset(&msg, 0, sizeof(msg));
	memset(&ctl, 0, sizeof(ctl));
	iov.iov_base = b.data;
	iov.iov_len = b.len;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	/*
	 * One message into an empty socket buffer: it never blocks, and a
	 * supervisor that died while waiting answers EPIPE or ECONNRESET.
	 */
	do {
		n = sendmsg(a->pool_fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -errno;
	else if ((size_t)n != b.len)
		rc = -EIO;  /* a datagram goes whole or not at all */
out:
	buf_free(&b);
	return rc;
}

void
exec_pool_sent(struct exec_attempt *a, bool ok)
{
	struct exec *e = a->pool_exec;

	close(a->pool_fd);
	a->pool_fd = -1;
	if (!ok) {
		/* Back in the list until its exit is reaped. */
		a->pool_state = EXEC_POOL_DRAINED;
		uv_ref((uv_handle_t *)&a->proc);
		a->next_pooled = e->pool;
		e->pool = a;
		return;
	}
	e->pool_failures = 0;
	uv_ref((uv_handle_t *)&a->proc);  /* an attempt's, like a fresh one */
}


void
exec_pool_free(struct exec *e)
{
	struct exec_attempt *a;

	while ((a = e->pool) != NULL) {
		unlist(e, a);
		drain_one(e, a);
		/* Not reaped by us any more: by whoever inherits it. */
		exec_attempt_abort(a);
	}
	close_timer(e);
}
