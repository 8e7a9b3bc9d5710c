/*
 * log: the daemon's own log, one line per event on stderr.
 *
 * Text lines are "time level message" with the message written as
 * "event key=value ..."; with LOG_JSON each line is a JSON object
 * {"time", "level", "msg"}.  The format and the minimum level are the
 * process's only mutable globals besides main.c's (docs/STYLE.md: state
 * and logging).
 * log_warn appends strerror(errno); log_warnx does not.
 */
#ifndef PIPEWRIGHT_LOG_H
#define PIPEWRIGHT_LOG_H

#include <stdbool.h>

enum log_format {
	LOG_TEXT,
	LOG_JSON,
};

void log_init(enum log_format format, bool debug);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A line printed as it is in every format (e.g. "listening on ..."). */
void log_plain(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
