/*
 * The poll loop and the job's life: running, killing, done.
 *
 * One poll() waits on the signal self-pipe, the output pipe, the listening
 * socket and the clients, with a timeout from CLOCK_MONOTONIC for the next
 * of: the job's timeout, the next SIGKILL round, a client's deadline after
 * the end.  Each round, advance() moves the job along:
 *
 *   running --(main process exits)--> SIGTERM what is left, unless nothing is
 *   running --(timeout or cancel)--> SIGTERM the tree
 *   SIGTERM sent --(grace over)--> SIGKILL, rescanned every SV_RESCAN_MS
 *   tree gone (ECHILD) --> drain the pipe, write the status, send END,
 *                          then make the status durable (status.c)
 *
 * The pipe is read until EOF while processes live, and drained without
 * waiting once they are all gone: a write end held by a process that
 * escaped the tree cannot hold the result back.  The loop ends when the
 * status is written and no client is left (each got END, went away, or
 * was dropped after its deadline).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "supervisor.h"

static void
start_kill(struct supervisor *sv)
{
	sv->kill = SV_KILL_TERM;
	sv->kill_at = pw_mono_ms() + sv->grace_ms;
	sv_tree_kill(sv, SIGTERM);
}

void
sv_cancel(struct supervisor *sv, enum sv_cause cause)
{
	/* Once the main process has exited, the result is settled. */
	if (!sv->running || sv->cause != SV_CAUSE_NONE)
		return;
	sv->cause = cause;
	start_kill(sv);
}

static void
reap(struct supervisor *sv)
{
	pid_t pid;
	int st;

	for (;;) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid < 0 && errno == EINTR)
			continue;
		if (pid < 0) {
			if (errno != ECHILD)
				sv_warn("waitpid");
			else if (!sv->running)
				sv->tree_gone = true;
			return;
		}
		if (pid == 0) {
			/* Some remain: after the main process, they must go. */
			if (!sv->running && sv->kill == SV_KILL_NONE)
				start_kill(sv);
			return;
		}
		if (pid != sv->pid)
			continue;
		sv->exited_mono_us = sv_mono_us();
		if (sv->sb.strict) {
			/* The script's status, from its init; and why. */
			sv_sandbox_reaped(sv, &st);
			sv_cgroup_check(sv);
		}
		sv->running = false;
		if (WIFEXITED(st)) {
			sv->exit_code = WEXITSTATUS(st);
			sv->term_signal = 0;
		} else {
			sv->exit_code = -1;
			sv->term_signal = WTERMSIG(st);
		}
	}
}

/*
 * Reads what the pipe holds; `last`: the tree is gone, close after.  The
 * reads of one round go to the log together: a job printing short lines
 * leaves a few hundred bytes per read, and one write per read doubled our
 * system calls.
 */
static void
read_output(struct supervisor *sv, bool last)
{
	size_t have = 0;
	ssize_t n;
	int rounds = 0;

	if (sv->out_buf == NULL)
		sv->out_buf = xmalloc(SV_READ_BUF);
	while (sv->out_fd >= 0 && (last || rounds++ < 16)) {
		if (have == SV_READ_BUF) {
			sv_mask_feed(sv, sv->out_buf, have);
			have = 0;
		}
		n = read(sv->out_fd, sv->out_buf + have, SV_READ_BUF - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n > 0) {
			have += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !last)
			break;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			sv_warn("reading the job's output");
		if (have > 0)
			sv_mask_feed(sv, sv->out_buf, have);
		have = 0;
		close(sv->out_fd);
		sv->out_fd = -1;
		free(sv->out_buf);
		sv->out_buf = NULL;
		sv_mask_flush(sv);
	}
	if (have > 0)
		sv_mask_feed(sv, sv->out_buf, have);
}

/* A cgroup limit was hit: the whole job goes, at once. */
static void
check_limits(struct supervisor *sv, uint64_t now)
{
	if (!sv->sb.strict || !sv->running || now < sv->sb.cg_check_at)
		return;
	sv->sb.cg_check_at = now + SV_CG_CHECK_MS;
	if (sv->cause != SV_CAUSE_NONE || !sv_cgroup_check(sv))
		return;
	sv->kill = SV_KILL_KILL;
	sv->kill_at = now + SV_RESCAN_MS;
	sv_tree_kill(sv, SIGKILL);
}

static void
advance(struct supervisor *sv, uint64_t now)
{
	check_limits(sv, now);
	if (sv->running && sv->deadline != 0 && now >= sv->deadline)
		sv_cancel(sv, SV_CAUSE_TIMEOUT);
	if (sv->kill != SV_KILL_NONE && !sv->tree_gone && now >= sv->kill_at) {
		sv_tree_kill(sv, SIGKILL);
		sv->kill = SV_KILL_KILL;
		sv->kill_at = now + SV_RESCAN_MS;
	}
	if (sv->tree_gone && sv->out_fd >= 0)
		read_output(sv, true);
	if (sv->tree_gone && sv->out_fd < 0 && !sv->done) {
		sv_services_finish(sv);
		sv_status_write(sv);
	}
}

static bool
connection_pending(const struct supervisor *sv)
{
	struct pollfd p = {.fd = sv->listen_fd, .events = POLLIN};

	return poll(&p, 1, 0) > 0;
}

/*
 * END goes to the clients before the status's fsyncs: the daemon stores
 * the end while we sync (status.c).  A client that connected and greeted
 * while the job ran but was not yet taken in (a job of a few hundred
 * microseconds ends before the loop's first round: the daemon's ATTACH is
 * in the socket before we start) is taken in first, or its END would
 * wait for the fsyncs.
 */
static void
end_then_sync(struct supervisor *sv)
{
	struct sv_client *c;

	if (!sv->done || sv->synced)
		return;
	if (connection_pending(sv))
		sv_serve_accept(sv);
	for (c = sv->clients; c != NULL; c = c->next) {
		if (c->fd >= 0 && !c->attached && !c->closing)
			sv_serve_read(sv, c);
		if (sv_serve_wants_write(sv, c))
			sv_serve_write(sv, c);
	}
	sv_status_sync(sv);
}

static uint64_t
earliest(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

static int
poll_timeout(const struct supervisor *sv, uint64_t now)
{
	uint64_t next = 0;

	if (sv->running && sv->cause == SV_CAUSE_NONE)
		next = sv->deadline;
	if (sv->sb.strict && sv->running && sv->cause == SV_CAUSE_NONE)
		next = earliest(next, sv->sb.cg_check_at);
	if (sv->kill != SV_KILL_NONE && !sv->tree_gone)
		next = earliest(next, sv->kill_at);
	next = earliest(next, sv_serve_next_deadline(sv));
	next = earliest(next, sv_serve_next_note(sv));
	if (next == 0)
		return -1;
	if (next <= now)
		return 0;
	return next - now > INT_MAX ? INT_MAX : (int)(next - now);
}


static void
on_signals(struct supervisor *sv)
{
	bool chld = false, term = false;

	sv_signals_read(sv->sig_fd, &chld, &term);
	if (term)
		sv_cancel(sv, sv->tied && sv->tie_fd < 0 &&
				      getppid() != sv->parent
				      ? SV_CAUSE_ORPHANED : SV_CAUSE_CANCEL);
	if (chld)
		reap(sv);
}

/*
 * The tie (--tie-fd, main.c) is at its end: the starter is gone.  Nothing
 * is ever written to it; anything readable is its end of stream.
 */
static void
on_tie_cut(struct supervisor *sv)
{
	close(sv->tie_fd);
	sv->tie_fd = -1;
	sv_cancel(sv, SV_CAUSE_ORPHANED);
}

int
sv_run(struct supervisor *sv)
{
	struct pollfd *pfd = NULL;
	struct sv_client **who = NULL, *c;
	size_t cap = 0, wcap = 0, n, i, nc;
	uint64_t now;
	int rc = 0, r;

	if (sv->start_error != NULL)
		sv->tree_gone = true;
	for (;;) {
		now = pw_mono_ms();
		advance(sv, now);
		end_then_sync(sv);
		sv_serve_sweep(sv, now);
		if (sv->done && sv->clients == NULL && !connection_pending(sv))
			break;
		pfd = xgrow(pfd, &cap, 4 + sv->nclients + sv->nsvcs,
			    sizeof(*pfd));
		who = xgrow(who, &wcap, 3 + sv->nclients, sizeof(*who));
		pfd[0] = (struct pollfd){.fd = sv->sig_fd, .events = POLLIN};
		pfd[1] = (struct pollfd){.fd = sv->listen_fd, .events = POLLIN};
		pfd[2] = (struct pollfd){.fd = sv->out_fd, .events = POLLIN};
		n = 3;
		for (c = sv->clients; c != NULL; c = c->next) {
			who[n] = c;
			pfd[n].fd = c->fd;
			/* A closing client's further requests do not matter. */
			pfd[n].events = c->closing ? 0 : POLLIN;
			if (sv_serve_wants_write(sv, c))
				pfd[n].events |= POLLOUT;
			pfd[n].revents = 0;
			n++;
		}
		/* The services' output, after the clients (svclog.c). */
		nc = n;
		for (i = 0; i < sv->nsvcs; i++)
			pfd[n++] = (struct pollfd){.fd = sv->svcs[i].rd,
						   .events = POLLIN};
		/* Last, -1 when there is none (poll skips it). */
		pfd[n++] = (struct pollfd){.fd = sv->tie_fd, .events = POLLIN};
		r = poll(pfd, n, poll_timeout(sv, now));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			sv_warn("poll");
			rc = -errno;
			break;
		}
		if (pfd[0].revents != 0)
			on_signals(sv);
		if (pfd[2].revents != 0)
			read_output(sv, false);
		if (pfd[n - 1].revents != 0)
			on_tie_cut(sv);
		for (i = nc; i < n - 1; i++)
			if (pfd[i].revents != 0)
				sv_services_output(sv, i - nc, false);
		for (i = 3; i < nc; i++) {
			c = who[i];
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				sv_serve_read(sv, c);
			if (c->fd >= 0 && (pfd[i].revents & POLLOUT))
				sv_serve_write(sv, c);
		}
		if (pfd[1].revents != 0)
			sv_serve_accept(sv);
	}
	free(pfd);
	free(who);
	return rc;
}
