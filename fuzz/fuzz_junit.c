/*
 * libFuzzer target for the JUnit XML reader (report_junit_parse,
 * src/report/junit.c), with small limits so that they are reached.  On
 * any input: either an error with a position, leaving the list as it
 * was, or cases whose every name is present and non-empty, whose status
 * is one of the four, whose message is within the limit, and no more of
 * them than the limit allows.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pipewright/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_limits lim = {
		.file_max = 1 << 20, .total_max = 1 << 20, .files_max = 1,
		.cases_max = 50, .depth_max = 8, .message_max = 64,
	};
	struct report_cases c = {0};
	char err[256];
	size_t i;
	int rc;

	rc = report_junit_parse((const char *)data, size, &lim, &c, err,
				sizeof(err));
	if (rc < 0) {
		if (c.n != 0 || err[0] == '\0' || strchr(err, ':') == NULL)
			abort();
		return 0;
	}
	if (c.n > lim.cases_max)
		abort();
	for (i = 0; i < c.n; i++) {
		const struct report_case *k = &c.v[i];

		if (k->name == NULL || k->name[0] == '\0' || k->suite == NULL ||
		    k->classname == NULL || (unsigned)k->status >= REPORT_NSTATUS)
			abort();
		if (k->message != NULL && strlen(k->message) > lim.message_max)
			abort();
	}
	report_cases_free(&c);
	return 0;
}
