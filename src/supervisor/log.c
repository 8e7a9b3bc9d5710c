/*
 * The log file: everything the job writes, appended to DIR/log, up to the
 * cap.
 *
 * Past the cap one marker line is written and further output is read and
 * dropped, so that the job never blocks on a full pipe and keeps running.
 * log_bytes is always the size of the file as written by us (markers
 * included), which is what clients are served from; secrets are masked
 * before bytes get here (mask.c), so the cap counts masked bytes.
 *
 * A write that fails (a full disk) loses those bytes, and the job goes on
 * the same way.  What was lost is counted, and said in a line of its own,
 * "[pipewright: N bytes of output lost: disk full]", at the next write
 * that succeeds — tried before each piece of output and once more at the
 * end — so that a reader knows where the log has a hole and how large.
 * A marker is formatted once and written whole, over several tries if a
 * write is short; what is lost meanwhile goes into the next one.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

void
sv_size_format(uint64_t n, char *out, size_t len)
{
	static const struct {
		const char *unit;
		uint64_t size;
	} units[] = {{"G", 1ULL << 30}, {"M", 1ULL << 20}, {"K", 1ULL << 10}};
	size_t i;

	for (i = 0; i < PW_ARRAY_LEN(units); i++) {
		if (n >= units[i].size && n % units[i].size == 0) {
			snprintf(out, len, "%llu%s",
				 (unsigned long long)(n / units[i].size),
				 units[i].unit);
			return;
		}
	}
	snprintf(out, len, "%llu bytes", (unsigned long long)n);
}

/* Appends p; *done: how much of it is in the file, also on failure. */
static int
write_all(struct supervisor *sv, const char *p, size_t len, size_t *done)
{
	ssize_t n;

	*done = 0;
	while (*done < len) {
		n = write(sv->log_fd, p + *done, len - *done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ENOSPC;
		*done += (size_t)n;
		sv->log_bytes += (uint64_t)n;
		sv->log_midline = p[*done - 1] != '\n';
	}
	return 0;
}

/* n job bytes could not be written (err: the write's errno). */
static void
lose(struct supervisor *sv, uint64_t n, int err)
{
	if (n == 0)
		return;
	/* Once per run of failures: the job may print on for hours. */
	if (sv->log_lost == 0 && sv->lost_len == 0) {
		errno = err;
		sv_warn("%s/%s", sv->dir, SUPERVISOR_LOG_FILE);
		sv->log_lost_errno = err;
	}
	sv->log_lost += n;
	sv->log_dropped += n;
}

/* Writes what was lost, if anything was: 0 once the log may go on. */
static int
write_lost(struct supervisor *sv)
{
	size_t done;
	int rc, err, n;

	for (;;) {
		if (sv->lost_len == 0) {
			if (sv->log_lost == 0)
				return 0;
			err = sv->log_lost_errno;
			n = snprintf(sv->lost_mark, sizeof(sv->lost_mark),
				"%s[pipewright: %llu bytes of output lost: %s]\n",
				sv->log_midline ? "\n" : "",
				(unsigned long long)sv->log_lost,
				err == ENOSPC || err == EDQUOT ? "disk full" :
				strerror(err));
			/* snprintf says what it would have written: clamp. */
			sv->lost_len = n < 0 ? 0 :
				(size_t)n < sizeof(sv->lost_mark) ? (size_t)n :
				sizeof(sv->lost_mark) - 1;
			sv->lost_off = 0;
			sv->log_lost = 0;
		}
		rc = write_all(sv, sv->lost_mark + sv->lost_off,
			       sv->lost_len - sv->lost_off, &done);
		sv->lost_off += done;
		if (rc < 0)
			return rc;
		sv->lost_len = 0;
	}
}

/* Job bytes into the file, or counted as lost. */
static void
keep(struct supervisor *sv, const char *data, size_t len)
{
	size_t done = 0;
	int rc;

	rc = write_lost(sv);
	if (rc == 0)
		rc = write_all(sv, data, len, &done);
	sv->log_kept += done;
	if (rc < 0)
		lose(sv, len - done, -rc);
}

void
sv_log_write(struct supervisor *sv, const char *data, size_t len)
{
	uint64_t room;
	char size[32], marker[128];
	size_t done;

	if (sv->log_truncated) {
		sv->log_dropped += len;
		return;
	}
	room = sv->max_log - sv->log_kept;
	if (len <= room) {
		keep(sv, data, len);
		return;
	}
	keep(sv, data, (size_t)room);
	sv->log_dropped += len - room;
	sv_size_format(sv->max_log, size, sizeof(size));
	snprintf(marker, sizeof(marker),
		 "\n[pipewright: log truncated at %s; further output dropped]\n",
		 size);
	sv->log_truncated = true;
	(void)write_all(sv, marker, strlen(marker), &done);
}

void
sv_log_finish(struct supervisor *sv)
{
	if (write_lost(sv) < 0)
		sv_warnx("%s/%s: output was lost and no line could say so",
			 sv->dir, SUPERVISOR_LOG_FILE);
}
