/*
 * The result and the status file.
 *
 * Written once, when the job's tree is gone and the log is complete, in
 * two steps.  sv_status_write puts the status in memory (for the END
 * frames) and in status.tmp; the loop then sends END to the clients
 * attached, and only after that sv_status_sync makes it durable: the log
 * is fsynced, then status.tmp, which is renamed over "status", and the
 * directory is fsynced.  So whoever finds a status file (exec after a
 * crash, the daemon after a restart) also finds the whole log it
 * describes, and the daemon commits the end while we sync instead of
 * after (the three fsyncs were most of the exit -> next start gap).  A
 * power loss in between loses nothing more than before: the end is safe
 * as soon as either the daemon's commit or our fsyncs are done, and until
 * then neither side ever said it was.  Clients are closed only after the
 * sync, so that an end of stream still means the files are in place; the
 * daemon does not wait for it (it acts on END).  No file is created after
 * END: the rename may meet the daemon removing the directory once it has
 * stored the end (it then fails with ENOENT, or the removal finds
 * "status" on a second pass: pw_remove_tree).
 *
 * The fsyncs are for a reader after a power loss: a daemon that comes
 * back takes the attempt up from these files if it had not stored the
 * end yet, and without them it would find no result (the job "lost",
 * maybe run again) or a status whose log is short.  A tied supervisor
 * (`pipewright run`) has no such reader: its starter dies with the
 * machine and nothing takes it up afterwards, so its files are only
 * written, never synced (three fsyncs a job fewer), and renamed before
 * END.
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

/* status.tmp, its contents; the fd is kept for sv_status_sync. */
static int
write_tmp(struct supervisor *sv)
{
	const char *tmp = SUPERVISOR_STATUS_FILE ".tmp";
	size_t off = 0;
	ssize_t n;
	int fd;

	fd = openat(sv->dir_fd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return -errno;
	while (off < sv->status_len) {
		n = write(fd, sv->status + off, sv->status_len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			n = -errno;
			close(fd);
			return (int)n;
		}
		off += (size_t)n;
	}
	sv->status_fd = fd;
	return 0;
}

/* status.tmp becomes "status": after its contents, and the log, are
 * durable when someone may read them after a power loss. */
static int
publish(struct supervisor *sv)
{
	const char *tmp = SUPERVISOR_STATUS_FILE ".tmp";
	int rc = 0;

	if (!sv->tied && fsync(sv->log_fd) < 0 && errno != EINVAL)
		sv_warn("fsync %s/%s", sv->dir, SUPERVISOR_LOG_FILE);
	if (!sv->tied && fsync(sv->status_fd) < 0)
		rc = -errno;
	else if (renameat(sv->dir_fd, tmp, sv->dir_fd,
			  SUPERVISOR_STATUS_FILE) < 0)
		/*
		 * ENOENT: the daemon took END, stored the end and removed the
		 * attempt's directory meanwhile; nobody will read the file.
		 */
		rc = sv->tied || errno != ENOENT ? -errno : 0;
	else if (!sv->tied && fsync(sv->dir_fd) < 0)
		rc = -errno;
	close(sv->status_fd);
	sv->status_fd = -1;
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
	sv->status = buf_steal(&b);
	rc = write_tmp(sv);
	if (rc < 0) {
		errno = -rc;
		sv_warn("%s/%s", sv->dir, SUPERVISOR_STATUS_FILE);
		sv->status_failed = true;
		sv->synced = true;  /* nothing to publish */
	} else if (sv->tied) {
		sv_status_sync(sv);  /* no fsync: nothing to wait for */
	}
	sv->done = true;
	sv->done_at = pw_mono_ms();
}

void
sv_status_sync(struct supervisor *sv)
{
	int rc;

	if (sv->synced)
		return;
	sv->synced = true;
	rc = publish(sv);
	if (rc < 0) {
		errno = -rc;
		sv_warn("%s/%s", sv->dir, SUPERVISOR_STATUS_FILE);
		sv->status_failed = true;
	}
}
