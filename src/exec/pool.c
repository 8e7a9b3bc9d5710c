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
 * then (cgroup, limits); spawned --ahead (a netns pool: strict jobs
 * expected) it also makes the job's cgroup directories, empty and named
 * after its own pid (src/supervisor/cgroup.c).  Hence the drain: exec_supervisor_pool(e, 0)
 * closes our ends, each waiting supervisor sees end of stream and exits
 * 0; the daemon drains before an upgrade (the binary may be a new one)
 * and at a stop.  It is tied to us until it takes a spec: our end is
 * close-on-exec and held by this process alone, so our death ends it too.
 *
 * Each pooled supervisor is a struct exec_attempt made when it is
 * spawned (its watch handle cannot move), with our end of the socket.
 * It is spawned with posix_spawn (spawn_proc) rather than uv_spawn and
 * watched through a pidfd: a refill must not cost the loop a fork of
 * the whole daemon.  Waiting, the watch is unref'd (an idle pool keeps
 * no loop alive); drained, it is ref'd again until the supervisor's
 * exit is reaped (at once: it only waits for EOF); taken, its exit is
 * the attempt's (exec_attempt_exited), as a uv_process_t's would be.
 *
 * Refills run off the start's path and off the loop: a take queues one
 * spawn to a worker thread (uv_queue_work), whose end puts the new
 * supervisor in the pool and queues the next until the pool is full.
 * A supervisor that exits while waiting is a failure; after
 * POOL_MAX_FAILURES in a row (a binary that cannot start) the pool stops
 * refilling until exec_supervisor_pool is called again, and starts are
 * fresh spawns, as without a pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec-int.h"

#define POOL_MAX 64
#define POOL_MAX_FAILURES 3
/*
 * Room in our command line for the spec's (ps, `pipewright doctor`'s
 * "--dir DIR"): the supervisor writes them over it once it has them.
 */
#define POOL_TITLE_ROOM 1024
#ifndef P_PIDFD
#define P_PIDFD 3
#endif

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
	uv_ref(exec_proc_handle(a));  /* reaped before the loop ends */
}

static void refill_soon(struct exec *e);

static void
pool_exited(struct exec_attempt *a, int64_t exit_status, int term_signal)
{
	struct exec *e = a->pool_exec;

	if (a->pool_state == EXEC_POOL_TAKEN) {
		exec_attempt_exited(a, exit_status, term_signal);
		return;
	}
	if (a->pool_state == EXEC_POOL_WAITING) {
		e->pool_failures++;
		drain_one(e, a);
		refill_soon(e);
	}
	unlist(e, a);
	exec_attempt_abort(a);  /* closes the watch, frees */
}

/* The pidfd is readable: the supervisor has exited; reap it. */
static void
on_pidfd(uv_poll_t *h, int status, int events)
{
	struct exec_attempt *a = h->data;
	siginfo_t si;

	(void)status;
	(void)events;
	memset(&si, 0, sizeof(si));
	if (waitid((idtype_t)P_PIDFD, (id_t)a->pidfd, &si,
		   WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;  /* not yet (or reaped elsewhere: never, it is ours) */
	uv_poll_stop(h);
	if (si.si_code == CLD_EXITED)
		pool_exited(a, si.si_status, 0);
	else
		pool_exited(a, 0, si.si_status);  /* as libuv says a signal */
}

/*
 * Spawned the way uv_spawn spawns a fresh supervisor (stdin and stdout
 * /dev/null, our stderr, a session of its own, default signal
 * dispositions, an empty mask, the fixed environment), with the spec
 * socket as fd 3 and nothing else (libuv relies on close-on-exec; we
 * close the rest outright).  But by posix_spawn, a vfork: libuv's fork
 * copies the daemon's page tables, a cost that grows with its size, and
 * it runs in a worker thread (refill_soon), since even a vfork holds its
 * caller until the child's exec has begun.  Its exit comes on a pidfd.
 */
static int
spawn_proc(const char *path, char **argv, int spec_fd, pid_t *pid_out,
	   int *pidfd_out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t all, none;
	char **senv;
	pid_t pid;
	int rc, pfd, st;

	sigfillset(&all);
	sigemptyset(&none);
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, spec_fd, 3);
	posix_spawn_file_actions_addclosefrom_np(&fa, 4);
	posix_spawnattr_setsigdefault(&at, &all);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID |
				 POSIX_SPAWN_SETSIGDEF |
				 POSIX_SPAWN_SETSIGMASK);
	senv = exec_supervisor_env();
	rc = -posix_spawn(&pid, path, &fa, &at, argv, senv);
	pw_strv_free(senv);
	posix_spawnattr_destroy(&at);
	posix_spawn_file_actions_destroy(&fa);
	if (rc < 0)
		return rc;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);  /* close-on-exec */
	if (pfd < 0) {
		rc = -errno;
		kill(pid, SIGKILL);
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		return rc;
	}
	*pid_out = pid;
	*pidfd_out = pfd;
	return 0;
}

/* A spawned supervisor, not yet in the pool. */
struct spawned {
	int rc;                      /* 0, or why it was not spawned */
	int spec_fd;                 /* our end of its spec socket */
	int pidfd;
	pid_t pid;
};

/*
 * Socket and process, touching nothing of the loop: refills run it in a
 * worker thread (posix_spawn is thread-safe).
 */
static void
spawn_bare(const char *path, bool ahead, struct spawned *out)
{
	static char fd_arg[] = "3", ahead_arg[] = "--ahead";
	char room[POOL_TITLE_ROOM + 1];
	char *argv[] = {(char *)path, "--pooled", fd_arg, room, NULL, NULL};
	int sv[2], fd;

	/* Strict jobs expected (a netns pool): their cgroups made ahead. */
	if (ahead) {
		argv[3] = ahead_arg;
		argv[4] = room;
	}

	out->spec_fd = out->pidfd = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		out->rc = -errno;
		return;
	}
	/* dup2 onto itself would keep its close-on-exec. */
	if (sv[1] == 3) {
		fd = fcntl(sv[1], F_DUPFD_CLOEXEC, 4);
		close(sv[1]);
		sv[1] = fd;
		if (fd < 0) {
			out->rc = -errno;
			close(sv[0]);
			return;
		}
	}
	memset(room, ' ', POOL_TITLE_ROOM);
	room[POOL_TITLE_ROOM] = '\0';
	out->rc = spawn_proc(path, argv, sv[1], &out->pid, &out->pidfd);
	close(sv[1]);
	if (out->rc < 0)
		close(sv[0]);
	else
		out->spec_fd = sv[0];
}

/* Never to be used: end and reap it here, at once. */
static void
spawned_discard(struct spawned *sp)
{
	int st;

	if (sp->rc < 0)
		return;
	close(sp->spec_fd);
	close(sp->pidfd);
	kill(sp->pid, SIGKILL);
	while (waitpid(sp->pid, &st, 0) < 0 && errno == EINTR)
		;
}

/* Into the pool, watched from the loop. */
static int
adopt(struct exec *e, struct spawned *sp)
{
	struct exec_attempt *a;
	int rc;

	if (sp->rc < 0)
		return sp->rc;
	a = exec_attempt_new(e, "", NULL, NULL, NULL);
	a->by_pidfd = true;
	a->pidfd = sp->pidfd;  /* closed when a is freed */
	a->pool_pid = sp->pid;
	a->pool_exec = e;
	if ((rc = uv_poll_init(e->loop, &a->pidpoll, sp->pidfd)) == 0) {
		a->has_proc = true;
		a->open_handles++;
		rc = uv_poll_start(&a->pidpoll, UV_READABLE, on_pidfd);
	}
	if (rc < 0) {
		sp->pidfd = dup(sp->pidfd);  /* a's copy goes with a */
		spawned_discard(sp);
		exec_attempt_abort(a);
		return rc;
	}
	uv_unref((uv_handle_t *)&a->pidpoll);
	a->pool_state = EXEC_POOL_WAITING;
	a->pool_fd = sp->spec_fd;
	a->next_pooled = e->pool;
	e->pool = a;
	e->pool_waiting++;
	return 0;
}

static int
spawn_one(struct exec *e)
{
	struct spawned sp;

	spawn_bare(e->supervisor_path, e->netns != NULL, &sp);
	return adopt(e, &sp);
}

/* A refill under way in a worker thread. */
struct exec_pool_work {
	uv_work_t w;
	struct exec *e;              /* NULL once exec is destroyed */
	char *path;                  /* the supervisor's, owned */
	bool ahead;                  /* spawn_bare's */
	struct spawned sp;
};

static bool
short_of(const struct exec *e)
{
	return e->pool_waiting + (e->pool_work != NULL) < e->pool_size &&
	       e->pool_failures < POOL_MAX_FAILURES;
}

static void
refill_work(uv_work_t *w)
{
	struct exec_pool_work *pw = w->data;

	spawn_bare(pw->path, pw->ahead, &pw->sp);
}

static void
refill_done(uv_work_t *w, int status)
{
	struct exec_pool_work *pw = w->data;
	struct exec *e = pw->e;

	(void)status;
	if (e == NULL) {
		spawned_discard(&pw->sp);  /* exec is gone */
	} else {
		e->pool_work = NULL;
		if (adopt(e, &pw->sp) < 0)
			e->pool_failures++;
		else if (e->pool_waiting > e->pool_size)
			drain_one(e, e->pool);  /* shrunk meanwhile */
		refill_soon(e);
	}
	free(pw->path);
	free(pw);
}

/*
 * One refill at a time, in a worker thread: even a vfork holds its
 * caller until the child's exec has begun (2-2.5 ms here under load),
 * which the loop should not spend between two hand-offs.
 */
static void
refill_soon(struct exec *e)
{
	struct exec_pool_work *pw;

	if (e->pool_work != NULL || !short_of(e))
		return;
	pw = xcalloc(1, sizeof(*pw));
	pw->e = e;
	pw->path = xstrdup(e->supervisor_path);
	pw->ahead = e->netns != NULL;
	pw->w.data = pw;
	if (uv_queue_work(e->loop, &pw->w, refill_work, refill_done) < 0) {
		free(pw->path);
		free(pw);
		e->pool_failures++;
		return;
	}
	e->pool_work = pw;
}

int
exec_supervisor_pool(struct exec *e, size_t size)
{
	struct exec_attempt *a;
	int rc = 0;

	if (size > POOL_MAX)
		return -EINVAL;
	e->pool_size = size;
	e->pool_failures = 0;
	for (a = e->pool; a != NULL && e->pool_waiting > size;
	     a = a->next_pooled)
		if (a->pool_state == EXEC_POOL_WAITING)
			drain_one(e, a);
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
		uv_ref(exec_proc_handle(a));
		a->next_pooled = e->pool;
		e->pool = a;
		return;
	}
	e->pool_failures = 0;
	uv_ref(exec_proc_handle(a));  /* an attempt's, like a fresh one */
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
	if (e->pool_work != NULL)
		e->pool_work->e = NULL;  /* its end reaps what it spawned */
}
