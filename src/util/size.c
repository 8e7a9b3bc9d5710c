/*
 * Byte sizes for people, as log lines and listings print them: "512
 * bytes", "12 KiB", "3.1 GiB", "412 MiB".  Binary units because that is
 * what the limits (max_size, max_log) are counted in; one decimal below
 * 10 of a unit, where it still tells sizes apart, none above.
 */
#include <stdio.h>

#include "pipewright/util.h"

void
pw_size_format(uint64_t n, char *out, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB",
					    "EiB"};
	uint64_t unit = 1024, tenths, whole;
	size_t i;

	if (n < 1024) {
		snprintf(out, len, "%llu %s", (unsigned long long)n,
			 n == 1 ? "byte" : "bytes");
		return;
	}
	for (i = 0; i + 1 < PW_ARRAY_LEN(units) && n / unit >= 1024; i++)
		unit *= 1024;
	/* Rounded to the nearest tenth without overflow: n < 1024 * unit. */
	tenths = n / unit * 10 + (n % unit * 10 + unit / 2) / unit;
	if (tenths < 100) {
		if (tenths % 10 == 0)
			snprintf(out, len, "%llu %s",
				 (unsigned long long)(tenths / 10), units[i]);
		else
			snprintf(out, len, "%llu.%llu %s",
				 (unsigned long long)(tenths / 10),
				 (unsigned long long)(tenths % 10), units[i]);
		return;
	}
	whole = n / unit + (n % unit >= unit / 2 ? 1 : 0);
	if (whole >= 1024 && i + 1 < PW_ARRAY_LEN(units)) {
		snprintf(out, len, "1 %s", units[i + 1]);
		return;
	}
	snprintf(out, len, "%llu %s", (unsigned long long)whole, units[i]);
}
