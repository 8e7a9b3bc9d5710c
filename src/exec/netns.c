/*
 * The pool of empty network namespaces for strict jobs without network.
 *
 * A fresh network namespace is about half the cost of a sandboxed start
 * (~1.1 of ~2.2 ms here), and the kernel's teardown of old ones can make
 * it much slower in bursts.  The supervisor is exec'd per job, so it
 * cannot keep anything between jobs: the pool lives here, in the process
 * that starts supervisors.  A helper (`pipewright-supervisor --make-netns N
 * --send-fd 3`, the libc binary, since making a namespace changes the
 * maker's own) sends N descriptors over a socketpair; we keep them and
 * hand one to each job's supervisor as an inherited descriptor, which
 * joins it with setns() and closes it.  A namespace is never reused: once
 * its only job has ended, nothing refers to it and the kernel frees it.
 *
 * Refills start when the pool falls to half; one at a time; a helper that
 * fails leaves the pool as it is (jobs then make their own), and the next
 * take tries again.  The helper counts in exec_active() like any other.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "exec-int.h"

#define NETNS_MAX_POOL 64

struct exec_netns {
	struct exec *e;
	int fds[NETNS_MAX_POOL];
	size_t count;
	size_t size;
	bool filling;
	int sock;                 /* our end of the helper's socketpair */
	uv_process_t proc;
};

static int
recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte;
	struct iovec iov = {.iov_base = &byte, .iov_len = 1};
	struct msghdr msg;
	struct cmsghdr *cm;
	int fd = -1;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = cbuf;
	msg.msg_controllen = sizeof(cbuf);
	if (recvmsg(sock, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&msg);
	if (cm != NULL && cm->cmsg_level == SOL_SOCKET &&
	    cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

static void
on_closed(uv_handle_t *h)
{
	struct exec_netns *n = h->data;

	n->filling = false;
	n->e->active--;
}

static void
on_helper_exit(uv_process_t *proc, int64_t status, int sig)
{
	struct exec_netns *n = proc->data;
	int fd;

	(void)status;
	(void)sig;
	/* The descriptors wait in the socket; the helper has gone. */
	while ((fd = recv_fd(n->sock)) >= 0) {
		if (n->count < NETNS_MAX_POOL)
			n->fds[n->count++] = fd;
		else
			close(fd);
	}
	close(n->sock);
	n->sock = -1;
	uv_close((uv_handle_t *)proc, on_closed);
}

static void
fill(struct exec_netns *n)
{
	uv_process_options_t opts;
	uv_stdio_container_t stdio[4];
	char count[16], *argv[6];
	int sv[2], rc;

	if (n->filling || n->count >= n->size)
		return;
	if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	snprintf(count, sizeof(count), "%zu", n->size - n->count);
	argv[0] = n->e->supervisor_path;
	argv[1] = "--make-netns";
	argv[2] = count;
	argv[3] = "--send-fd";
	argv[4] = "3";
	argv[5] = NULL;
	memset(&opts, 0, sizeof(opts));
	memset(stdio, 0, sizeof(stdio));
	stdio[0].flags = UV_IGNORE;
	stdio[1].flags = UV_IGNORE;
	stdio[2].flags = UV_INHERIT_FD;
	stdio[2].data.fd = STDERR_FILENO;
	stdio[3].flags = UV_INHERIT_FD;
	stdio[3].data.fd = sv[1];
	opts.file = n->e->supervisor_path;
	opts.args = argv;
	opts.exit_cb = on_helper_exit;
	opts.stdio = stdio;
	opts.stdio_count = 4;
	n->proc.data = n;
	rc = uv_spawn(n->e->loop, &n->proc, &opts);
	close(sv[1]);
	n->sock = sv[0];
	n->filling = true;
	n->e->active++;
	if (rc < 0) {
		/* The handle must be closed even so; nothing will come. */
		close(n->sock);
		n->sock = -1;
		uv_close((uv_handle_t *)&n->proc, on_closed);
	}
}

int
exec_netns_pool(struct exec *e, size_t size)
{
	if (e->netns != NULL || size == 0 || size > NETNS_MAX_POOL)
		return -EINVAL;
	e->netns = xcalloc(1, sizeof(*e->netns));
	e->netns->e = e;
	e->netns->size = size;
	e->netns->sock = -1;
	fill(e->netns);
	return 0;
}

size_t
exec_netns_available(const struct exec *e)
{
	return e->netns != NULL ? e->netns->count : 0;
}

int
exec_netns_take(struct exec *e)
{
	struct exec_netns *n = e->netns;
	int fd = -1;

	if (n == NULL)
		return -1;
	if (n->count > 0)
		fd = n->fds[--n->count];
	if (n->count <= n->size / 2)
		fill(n);
	return fd;
}

void
exec_netns_free(struct exec *e)
{
	size_t i;

	if (e->netns == NULL)
		return;
	for (i = 0; i < e->netns->count; i++)
		close(e->netns->fds[i]);
	free(e->netns);
	e->netns = NULL;
}
