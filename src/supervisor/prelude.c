/*
 * The prelude: what the starter says in the log before the job's first
 * byte (the daemon restoring artifacts and caches).
 *
 * The starter leaves it in DIR/prelude before the supervisor runs; it is
 * copied here to the head of DIR/log, so that the log file stays the one
 * truth for offsets: clients (and a daemon re-attaching after a restart)
 * read prelude and output as one stream from byte 0.  The bytes pass the
 * mask and count against the cap like the job's own, since what the
 * starter says may name expanded variables.  The file is opened beneath
 * DIR without following a link and without blocking (a FIFO must not
 * hang the start), read up to SUPERVISOR_MAX_PRELUDE bytes, and removed,
 * so that a directory started again does not say it twice.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "supervisor.h"

void
sv_prelude_copy(struct supervisor *sv)
{
	char buf[SUPERVISOR_MAX_PRELUDE + 1], size[32], marker[64];
	bool cut;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd;

	fd = openat(sv->dir_fd, SUPERVISOR_PRELUDE_FILE,
		    O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ELOOP)
			sv_warnx("%s/%s: a symbolic link, ignored", sv->dir,
				 SUPERVISOR_PRELUDE_FILE);
		else if (errno != ENOENT)
			sv_warn("%s/%s", sv->dir, SUPERVISOR_PRELUDE_FILE);
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		sv_warnx("%s/%s: not a regular file, ignored", sv->dir,
			 SUPERVISOR_PRELUDE_FILE);
		close(fd);
		return;
	}
	/* One byte past the cap tells a prelude that was cut. */
	while (len < sizeof(buf)) {
		n = read(fd, buf + len, sizeof(buf) - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sv_warn("%s/%s", sv->dir, SUPERVISOR_PRELUDE_FILE);
			break;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	unlinkat(sv->dir_fd, SUPERVISOR_PRELUDE_FILE, 0);
	cut = len > SUPERVISOR_MAX_PRELUDE;
	if (cut)
		len = SUPERVISOR_MAX_PRELUDE;
	sv_mask_feed(sv, buf, len);
	/* The job's first line (or the marker) starts a line of its own. */
	if (len > 0 && buf[len - 1] != '\n')
		sv_mask_feed(sv, "\n", 1);
	if (cut) {
		sv_size_format(SUPERVISOR_MAX_PRELUDE, size, sizeof(size));
		n = snprintf(marker, sizeof(marker),
			     "[pipewright: prelude truncated at %s]\n", size);
		sv_mask_feed(sv, marker, (size_t)n);
	}
}
