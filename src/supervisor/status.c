/*
 * The result and the status file.
 *
 * Written once, when the job's tree is gone and the log is complete: the
 * log is fsynced first, then the status goes to status.tmp, is fsynced and
 * renamed over "status", and the directory is fsynced.  So whoever finds a
 * status file (exec after a crash, the daemon after a restart) also finds
 * the whole log it describes.  The contents are kept in memory for the END
 * frames.
 *
 * The fsyncs are for a reader after a power loss: a daemon that comes
 * back takes the attempt up from these files if it had not stored the
 * end yet, and without them it would find no result (the job "lost",
 * maybe run again) or a status whose log is short.  A tied supervisor
 * (`pipewright run`) has no such reader: its starter dies with the
 * machine and nothing takes it up afterwards, so its files are only
 * written, never synced (three fsyncs a job fewer).
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "supervisor.h"

static void
signal_name(int sig, char *out, size_t len)
{
	const char *abbrev = sigabbrev_np(sig);

	if (abbrev != NULL)
		snprintf(out, len, "SIG%s", abbrev);
	else
		snprintf(out, len, "signal %d", sig);
}

/* result and reason (caller frees reason). */
static const char *
decide(const struct supervisor *sv, char **reason)
{
	char what[64];

	if (sv->start_error != NULL) {
		*reason = xstrdup(sv->start_error);
		return sv->cause == SV_CAUSE_ORPHANED ? "canceled" : "failed";
	}
	switch (sv->cause) {
	case SV_CAUSE_TIMEOUT:
		pw_duration_format(sv->timeout_ms, what, sizeof(what));
		*reason = xasprintf("killed: timeout %s exceeded", what);
		return "timed_out";
	case SV_CAUSE_CANCEL:
		*reason = xstrdup("canceled");
		return "canceled";
	case SV_CAUSE_ORPHANED:
		*reason = xstrdup("canceled: pipewright exited");
		return "canceled";
	case SV_CAUSE_MEMORY:
		sv_size_format(sv->sb.memory, what, sizeof(what));
		*reason = xasprintf("killed: memory limit %s exceeded", what);
		return "failed";
	case SV_CAUSE_PIDS:
		*reason = xasprintf("killed: more than %llu processes",
				    (unsigned long long)sv->sb.pids);
		return "failed";
	case SV_CAUSE_NONE:
		break;
	}
	/* A service's failure, never to be taken for the script's. */
	if (sv->svc_failure != NULL) {
		*reason = xstrdup(strchr(sv->svc_failure, '\t') + 1);
		return "failed";
	}
	if (sv->term_signal != 0) {
		signal_name(sv->term_signal, what, sizeof(what));
		*reason = xasprintf("killed by signal %s", what);
		return "failed";
	}
	*reason = xasprintf("exit status %d", sv->exit_code);
	return sv->exit_code == 0 ? "success" : "failed";
}

static int
write_file(struct supervisor *sv)
{
	const char *tmp = SUPERVISOR_STATUS_FILE ".tmp";
	size_t off = 0;
	ssize_t n;
	int fd, rc = 0;

	fd = openat(sv->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	while (off < sv->status_len) {
		n = write(fd, sv->status + off, sv->status_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		off += (size_t)n;
	}
	if (!sv->tied && fsync(fd) < 0) {
		rc = -errno;
		goto out;
	}
	if (renameat(sv->dir_fd, tmp, sv->dir_fd, SUPERVISOR_STATUS_FILE) < 0) {
		rc = -errno;
		goto out;
	}
	if (!sv->tied && fsync(sv->dir_fd) < 0)
		rc = -errno;
out:
	close(fd);
	return rc;
}

void
sv_status_write(struct supervisor *sv)
{
	struct buf b;
	const char *result;
	char *reason, *p;
	uint64_t drained = sv_mono_us();
	int rc;

	sv->finished_ms = pw_now_ms();
	sv_log_finish(sv);
	if (!sv->tied && fsync(sv->log_fd) < 0 && errno != EINVAL)
		sv_warn("fsync %s/%s", sv->dir, SUPERVISOR_LOG_FILE);
	result = decide(sv, &reason);
	for (p = reason; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	buf_init(&b, 0);
	buf_addf(&b,
		 "version=%d\nresult=%s\nexit_code=%d\nsignal=%d\n"
		 "reason=%s\nlog_bytes=%llu\nstarted_ms=%llu\n"
		 "finished_ms=%llu\n",
		 SUPERVISOR_STATUS_VERSION, result, sv->exit_code,
		 sv->term_signal, reason, (unsigned long long)sv->log_bytes,
		 (unsigned long long)sv->started_ms,
		 (unsigned long long)sv->finished_ms);
	free(reason);
	if (sv->stamps != NULL && sv->stamps[0] != 0 && sv->exited_mono_us != 0)
		buf_addf(&b, "execve_mono_us=%llu\nexited_mono_us=%llu\n",
			 (unsigned long long)sv->stamps[0],
			 (unsigned long long)sv->exited_mono_us);
	if (sv->spec_mono_us != 0)
		buf_addf(&b, "spec_mono_us=%llu\n",
			 (unsigned long long)sv->spec_mono_us);
	buf_addf(&b, "drained_mono_us=%llu\n", (unsigned long long)drained);
	sv->status_len = b.len;
	sv->status = b.data;
	rc = write_file(sv);
	if (rc < 0) {
		errno = -rc;
		sv_warn("%s/%s", sv->dir, SUPERVISOR_STATUS_FILE);
		sv->status_failed = true;
	}
	/* END's copy only: when the file was done (the hand-off's stages). */
	buf_addf(&b, "ended_mono_us=%llu\n",
		 (unsigned long long)sv_mono_us());
	sv->status_len = b.len;
	sv->status = buf_steal(&b);
	sv->done = true;
	sv->done_at = pw_mono_ms();
}
