/*
 * Artifacts: whether an attempt's are saved, when they expire, and what
 * a job told to use an expired one says.  A job that needs an artifact
 * that is gone fails at once rather than run without it; its message
 * names the artifact, its job and run, when it expired and the command
 * that makes it again, so that whoever reads the log can act on it.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipewright/reuse.h"
#include "pipewright/util.h"

#define DAY_MS 86400000ULL

bool
reuse_artifacts_wanted(enum pipeline_when when, enum sched_job_state st)
{
	bool ok = st == SCHED_JOB_SUCCESS;
	bool failed = st == SCHED_JOB_FAILED || st == SCHED_JOB_TIMED_OUT;

	switch (when) {
	case PIPELINE_WHEN_ON_SUCCESS:
		return ok;
	case PIPELINE_WHEN_ON_FAILURE:
		return failed;
	case PIPELINE_WHEN_ALWAYS:
		return ok || failed;
	case PIPELINE_WHEN_MANUAL:
		break;
	}
	return false;
}

uint64_t
reuse_artifact_expiry(uint64_t created_ms, uint64_t expire_in_ms,
		      uint64_t default_ms)
{
	uint64_t in = expire_in_ms != 0 ? expire_in_ms : default_ms;

	if (in == 0)
		return 0;
	/* Saturates: a far future is "not yet", never a wrap to the past. */
	return in > UINT64_MAX - created_ms ? UINT64_MAX : created_ms + in;
}

/* "7d", "1d12h", "12h", "90s": days first, as expire_in is written. */
static void
span_format(uint64_t ms, char *out, size_t len)
{
	char rest[32];
	int n = 0;

	if (ms >= DAY_MS)
		n = snprintf(out, len, "%llud", (unsigned long long)(ms / DAY_MS));
	if (ms % DAY_MS != 0 || ms == 0) {
		pw_duration_format(ms % DAY_MS, rest, sizeof(rest));
		snprintf(out + n, len - (size_t)n, "%s", rest);
	}
}

/*
 * name as one shell word: as it is when that is safe, else quoted; after
 * "--" if it starts with '-', so that the CLI's getopt takes it for a name.
 */
static void
shell_word(struct buf *b, const char *name)
{
	const char *c;

	if (name[0] == '-')
		buf_adds(b, "-- ");
	if (name[0] != '\0' &&
	    name[strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuv"
			 "wxyz0123456789._/:=@%+,-")] == '\0') {
		buf_adds(b, name);
		return;
	}
	buf_adds(b, "'");
	for (c = name; *c != '\0'; c++) {
		if (*c == '\'')
			buf_adds(b, "'\\''");
		else
			buf_add(b, c, 1);
	}
	buf_adds(b, "'");
}

char *
reuse_artifact_expired(const char *artifact, const char *job, uint64_t run,
		       uint64_t created_ms, uint64_t expires_ms)
{
	time_t t = (time_t)(expires_ms / 1000);
	char when[64], span[48];
	struct tm tm;
	struct buf b;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%d %H:%M UTC", &tm) == 0)
		snprintf(when, sizeof(when), "%llu ms",
			 (unsigned long long)expires_ms);
	span_format(expires_ms > created_ms ? expires_ms - created_ms : 0, span,
		    sizeof(span));
	buf_init(&b, 0);
	buf_addf(&b, "artifact '%s' of job '%s' in run %llu expired at %s "
		 "(expire_in %s); rerun the %s job (`pipewright rerun %llu ",
		 artifact, job, (unsigned long long)run, when, span, job,
		 (unsigned long long)run);
	shell_word(&b, job);
	buf_adds(&b, "`) to make it again");
	return buf_steal(&b);
}
