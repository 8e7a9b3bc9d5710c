/*
 * exec_attach(): take up an attempt that an earlier exec started.
 *
 * Only what answers decides, never a pid (a pid outlives nothing and can
 * be reused): a connect to DIR/sock either reaches a supervisor or fails at
 * once, because connecting to a unix socket does not wait (ENOENT when the
 * file is gone, ECONNREFUSED when nobody listens on it any more).  So the
 * call can answer -ESRCH synchronously, and a connection that succeeded is
 * handed to libuv as it is.  ATTACH goes out before the handle exists: a
 * few bytes into an empty socket buffer, sent with MSG_NOSIGNAL.
 *
 * A supervisor that went away between our connect and our ATTACH, or that
 * closes the connection without END (it exited right after its last check
 * for clients, or it crashed), leaves the files to decide, as in
 * attempt.c: the status file and the log from what we had received on,
 * or EXEC_LOST.  Nothing is ever delivered inside this call.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "exec-int.h"

int
exec_attach(struct exec *e, const char *dir, uint64_t offset,
	    exec_output_cb output_cb, exec_end_cb end_cb, void *arg,
	    struct exec_attempt **out)
{
	struct exec_attempt *a = NULL;
	struct sockaddr_un addr;
	char hello[SUPERVISOR_MAX_LINE];
	int dirfd, fd = -1, rc;

	if (e == NULL || dir == NULL || *dir == '\0' || end_cb == NULL ||
	    out == NULL)
		return -EINVAL;
	dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	exec_sock_addr(dirfd, &addr);
	rc = exec_connect(&addr, &fd);
	if (rc == 0) {
		snprintf(hello, sizeof(hello), "ATTACH %u %llu\n",
			 exec_greeting_version(e), (unsigned long long)offset);
		if (exec_send_all(fd, hello) < 0) {
			close(fd);  /* gone already: the files decide */
			fd = -1;
		}
	} else if (rc != -ENOENT && rc != -ECONNREFUSED) {
		goto out;
	}
	if (fd < 0 && faccessat(dirfd, SUPERVISOR_STATUS_FILE, F_OK, 0) < 0) {
		rc = errno == ENOENT ? -ESRCH : -errno;
		/* No log either: no supervisor ever got as far as the job. */
		if (rc == -ESRCH &&
		    faccessat(dirfd, SUPERVISOR_LOG_FILE, F_OK, 0) < 0 &&
		    errno == ENOENT)
			rc = -ENOENT;
		goto out;
	}

	a = exec_attempt_new(e, dir, output_cb, end_cb, arg);
	a->received = offset;
	if (fd >= 0) {
		rc = uv_pipe_init(e->loop, &a->sock, 0);
		if (rc < 0)
			goto out;
		a->has_sock = true;
		a->open_handles++;
		rc = uv_pipe_open(&a->sock, fd);
		if (rc < 0)
			goto out;
		fd = -1;  /* the pipe owns it */
	}
	rc = 0;
	e->active++;
	if (a->has_sock)
		exec_attempt_begin(a);
	else
		exec_attempt_from_files(a);
	*out = a;
out:
	if (rc < 0) {
		if (fd >= 0)
			close(fd);
		if (a != NULL)
			exec_attempt_abort(a);
	}
	close(dirfd);
	return rc;
}
