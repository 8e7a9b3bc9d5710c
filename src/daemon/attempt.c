/*
 * What the daemon itself says in a job's log, around the script, and the
 * attempt's end before it is settled: the one place the work done before
 * and after a job's script (restoring and saving its artifacts and caches)
 * joins the attempt.
 *
 * Before the script: lines go into the attempt directory's prelude file
 * (attempt_prelude_write, before sched_attempt_proceed), which the
 * supervisor copies to the head of the log, so the supervisor's log file
 * stays the one truth for offsets, followers and re-attach.  After it:
 * sched holds the attempt running (attempt_finish) while lines go through
 * sched_attempt_log(), right after the supervisor's last byte, and the
 * result is settled with sched_attempt_settle() (jobreuse.c saves the
 * job's artifacts and caches in between).
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon-int.h"
#include "pipewright/supervisor-proto.h"

#define PRELUDE_TMP SUPERVISOR_PRELUDE_FILE ".tmp"

static int
write_all(int fd, const char *data, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, data, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int
attempt_prelude_write(const char *dir, const char *data, size_t len)
{
	int dfd, fd, rc;

	if (len > SUPERVISOR_MAX_PRELUDE)
		return -EFBIG;
	rc = pw_mkdirs(dir, 0700);
	if (rc < 0)
		return rc;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	fd = openat(dfd, PRELUDE_TMP,
		    O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = write_all(fd, data, len);
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	/* Whole or not at all: the supervisor never reads half of one. */
	if (rc == 0 && renameat(dfd, PRELUDE_TMP, dfd,
				 SUPERVISOR_PRELUDE_FILE) < 0)
		rc = -errno;
	if (rc < 0)
		unlinkat(dfd, PRELUDE_TMP, 0);
out:
	close(dfd);
	return rc;
}
