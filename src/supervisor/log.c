/*
 * The log file: everything the job writes, appended to DIR/log, up to the
 * cap.
 *
 * Past the cap one marker line is written and further output is read and
 * dropped, so that the job never blocks on a full pipe and keeps running.
 * log_bytes is always the size of the file as written by us (marker
 * included), which is what clients are served from; secrets are masked
 * before bytes get here (mask.c), so the cap counts masked bytes; if a write fails the
 * log stops there, so that it stays a gapless prefix of the output.
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

static int
write_all(struct supervisor *sv, const char *p, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(sv->log_fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			sv_warn("%s/%s", sv->dir, SUPERVISOR_LOG_FILE);
			sv->log_failed = true;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		sv->log_bytes += (uint64_t)n;
	}
	return 0;
}

void
sv_log_write(struct supervisor *sv, const char *data, size_t len)
{
	uint64_t room;
	char size[32], marker[128];

	if (sv->log_failed || sv->log_truncated) {
		sv->log_dropped += len;
		return;
	}
	room = sv->max_log - sv->log_kept;
	if (len <= room) {
		sv->log_kept += len;
		if (write_all(sv, data, len) < 0)
			sv->log_dropped += len;
		return;
	}
	sv->log_kept += room;
	sv->log_dropped += len - room;
	if (write_all(sv, data, room) < 0)
		return;
	sv_size_format(sv->max_log, size, sizeof(size));
	snprintf(marker, sizeof(marker),
		 "\n[pipewright: log truncated at %s; further output dropped]\n",
		 size);
	sv->log_truncated = true;
	(void)write_all(sv, marker, strlen(marker));
}
