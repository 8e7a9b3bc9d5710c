/*
 * The daemon's log lines.  Each line is written with one write(2) so that
 * lines from the daemon and its children never interleave mid-line.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pipewright/log.h"
#include "pipewright/util.h"

/* Log settings: the documented exception to "no mutable globals". */
static enum log_format log_format = LOG_TEXT;
static bool log_debug_on;

void
log_init(enum log_format format, bool debug)
{
	log_format = format;
	log_debug_on = debug;
}

static void
json_escape(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c < 0x20)
			buf_addf(b, "\\u%04x", c);
		else
			buf_add(b, s, 1);
	}
}

static void
emit(const char *level, const char *msg)
{
	struct timespec ts;
	struct tm tm;
	char when[80];
	struct buf b;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(when, sizeof(when), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
	buf_init(&b, 0);
	if (log_format == LOG_JSON) {
		buf_addf(&b, "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"",
			 when, level);
		json_escape(&b, msg);
		buf_adds(&b, "\"}\n");
	} else {
		buf_addf(&b, "%s %s %s\n", when, level, msg);
	}
	if (write(STDERR_FILENO, b.data, b.len) < 0) {
		/* nowhere left to say so */
	}
	buf_free(&b);
}

static void
vlog(const char *level, int errnum, const char *fmt, va_list ap)
{
	char *msg = xvasprintf(fmt, ap), *full;

	if (errnum != 0) {
		full = xasprintf("%s: %s", msg, strerror(errnum));
		free(msg);
		msg = full;
	}
	emit(level, msg);
	free(msg);
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("info", 0, fmt, ap);
	va_end(ap);
}

void
log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("warn", saved, fmt, ap);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warn", 0, fmt, ap);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_debug_on)
		return;
	va_start(ap, fmt);
	vlog("debug", 0, fmt, ap);
	va_end(ap);
}

void
log_plain(const char *fmt, ...)
{
	va_list ap;
	char *msg, *line;

	va_start(ap, fmt);
	msg = xvasprintf(fmt, ap);
	va_end(ap);
	line = xasprintf("%s\n", msg);
	if (write(STDERR_FILENO, line, strlen(line)) < 0)
		errno = 0; /* nowhere left to say so */
	free(line);
	free(msg);
}
