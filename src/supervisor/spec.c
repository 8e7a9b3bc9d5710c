/*
 * --pooled N: a supervisor started ahead of its attempt.
 *
 * exec keeps a few of these (src/exec/pool.c) so that starting an attempt
 * costs a message instead of a fork and an exec.  Until the message comes
 * this process is nothing but a blocking recvmsg(): no timer, no wake-up,
 * a few pages of memory.  It is tied to its starter through the socket:
 * the starter's end is close-on-exec and held by the starter alone, so
 * its death, a drain (an upgrade, a stop) or exec_destroy is end of
 * stream here, and we exit.
 *
 * The message is the argv a fresh supervisor would have been started
 * with, and the descriptors it names, in the order of their numbers (3,
 * 4...).  They are put at exactly those numbers, so main() then runs the
 * same code on the same arguments and descriptors as after an exec: the
 * same setsid/untie, the same close of stray descriptors, the same
 * sandbox.  What the pool fixes ahead is only what an exec fixes: the
 * binary, the fixed environment exec gives every supervisor, the
 * starter's credentials, cgroup and limits of the moment; exec drains
 * the pool when any of those may change (an upgrade).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "supervisor.h"

/* Above anything a spec names, while the descriptors are moved. */
#define SPEC_FD_PARK 64

static int
place_fds(int spec_fd, const int *fds, int n)
{
	int parked[SUPERVISOR_MAX_SPEC_FDS], i, rc = 0;

	/*
	 * Park them high first: a received descriptor may sit where another
	 * one must go.  The spec socket is 3 itself; it goes now.
	 */
	for (i = 0; i < n; i++) {
		parked[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, SPEC_FD_PARK);
		if (parked[i] < 0)
			rc = -errno;
		close(fds[i]);
	}
	close(spec_fd);
	for (i = 0; i < n; i++) {
		if (parked[i] < 0)
			continue;
		/* dup2 clears close-on-exec, as an inherited descriptor has it. */
		if (rc == 0 && dup2(parked[i], 3 + i) < 0)
			rc = -errno;
		close(parked[i]);
	}
	return rc;
}

/*
 * Our command line is what ps and `pipewright doctor` (which looks for
 * "--dir DIR") see: the spec's arguments are written over the room the
 * pool left after "--pooled N" (a padding argument), as far as they go,
 * the rest NULs.  /proc/PID/cmdline reads this memory.
 */
static void
retitle(int old_argc, char **old_argv, char **v, int n)
{
	char *p = old_argv[0], *end;
	size_t l;
	int i;

	end = old_argv[old_argc - 1] + strlen(old_argv[old_argc - 1]);
	for (i = 0; i < n; i++) {
		l = strlen(v[i]);
		if (p + l >= end)
			break;
		memcpy(p, v[i], l + 1);
		p += l + 1;
	}
	memset(p, 0, (size_t)(end - p));
}

int
sv_spec_split(char *buf, size_t len, int *argc, char ***argv)
{
	char **v;
	size_t off;
	int n, i;

	if (len == 0 || buf[len - 1] != '\0')
		return -1;
	for (n = 0, off = 0; off < len; off += strlen(buf + off) + 1)
		n++;
	v = xcalloc((size_t)n + 1, sizeof(*v));
	for (i = 0, off = 0; i < n; off += strlen(buf + off) + 1)
		v[i++] = buf + off;
	*argc = n;
	*argv = v;
	return 0;
}

int
sv_spec_wait(int fd, int *argc, char ***argv)
{
	union {
		char buf[CMSG_SPACE(SUPERVISOR_MAX_SPEC_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct msghdr msg;
	struct iovec iov;
	struct cmsghdr *c;
	int fds[SUPERVISOR_MAX_SPEC_FDS], nfds = 0, extra = 0, n, i;
	char *buf, **v = NULL;
	ssize_t len;

	/* Untouched pages cost nothing while we wait. */
	buf = xmalloc(SUPERVISOR_MAX_SPEC);
	memset(&msg, 0, sizeof(msg));
	iov.iov_base = buf;
	iov.iov_len = SUPERVISOR_MAX_SPEC;
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	msg.msg_control = ctl.buf;
	msg.msg_controllen = sizeof(ctl.buf);
	do {
		len = recvmsg(fd, &msg, MSG_CMSG_CLOEXEC);
	} while (len < 0 && errno == EINTR);
	if (len < 0) {
		sv_warn("--pooled %d", fd);
		free(buf);
		return -1;
	}
	/* End of stream has no descriptors; an empty message may have. */
	if (len == 0 && msg.msg_controllen == 0) {
		free(buf);
		return 1;  /* the pool was closed: nothing to do */
	}
	for (c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (i = 0; i < n; i++) {
			int got;

			memcpy(&got, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (nfds < SUPERVISOR_MAX_SPEC_FDS) {
				fds[nfds++] = got;
			} else {
				close(got);
				extra++;
			}
		}
	}
	/*
	 * The control buffer is rounded up to 8 bytes, so one descriptor
	 * past the limit can arrive without MSG_CTRUNC: refused all the
	 * same, never run short of one.
	 */
	if ((msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0 || nfds == 0 ||
	    extra > 0 ||
	    sv_spec_split(buf, (size_t)len, &n, &v) < 0) {
		sv_warnx("--pooled: a spec that is not NUL-terminated arguments "
			 "with 1 to %d descriptors", SUPERVISOR_MAX_SPEC_FDS);
		for (i = 0; i < nfds; i++)
			close(fds[i]);
		free(v);
		free(buf);
		return -1;
	}
	if (place_fds(fd, fds, nfds) < 0) {
		sv_warn("--pooled: placing the spec's descriptors");
		free(v);
		free(buf);
		return -1;
	}
	retitle(*argc, *argv, v, n);
	*argc = n;
	*argv = v;
	return 0;
}
