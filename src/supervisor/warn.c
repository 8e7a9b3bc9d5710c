/*
 * The supervisor's messages on stderr, each prefixed with its name: every
 * source file reports through these, so they live apart from main() and
 * the supervisor's files can be built into a test or fuzz target without
 * its program.  sv_warn appends strerror(errno) and leaves errno as it was.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "supervisor.h"

void
sv_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	fputs(SV_PREFIX, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(saved));
	errno = saved;
}

void
sv_warnx(const char *fmt, ...)
{
	va_list ap;

	fputs(SV_PREFIX, stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
