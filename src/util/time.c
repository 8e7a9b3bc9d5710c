/* Clocks and the duration syntax shared by pipeline files and configs. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "pipewright/util.h"

uint64_t
pw_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
pw_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Units from largest to smallest; each may appear once, in this order. */
static const struct {
	const char *name;
	uint64_t ms;
} units[] = {
	{"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

int
pw_duration_parse(const char *s, uint64_t *ms)
{
	uint64_t total = 0;
	size_t next_unit = 0;

	if (s == NULL || *s == '\0')
		return -EINVAL;
	while (*s != '\0') {
		uint64_t n = 0;
		size_t digits = 0, u, ulen;

		while (isdigit((unsigned char)*s)) {
			if (n > (UINT64_MAX - 9) / 10)
				return -EINVAL;
			n = n * 10 + (uint64_t)(*s++ - '0');
			digits++;
		}
		if (digits == 0)
			return -EINVAL;
		for (u = next_unit; u < PW_ARRAY_LEN(units); u++) {
			ulen = strlen(units[u].name);
			/* "m" must not swallow the "m" of "ms". */
			if (strncmp(s, units[u].name, ulen) == 0 &&
			    !(ulen == 1 && s[0] == 'm' && s[1] == 's'))
				break;
		}
		if (u == PW_ARRAY_LEN(units))
			return -EINVAL;
		if (n > (UINT64_MAX - total) / units[u].ms)
			return -EINVAL;
		total += n * units[u].ms;
		s += ulen;
		next_unit = u + 1;
	}
	*ms = total;
	return 0;
}

void
pw_duration_format(uint64_t ms, char *out, size_t len)
{
	uint64_t s = ms / 1000;

	if (ms < 1000)
		snprintf(out, len, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(out, len, "%llu.%02llus", (unsigned long long)s,
			 (unsigned long long)(ms % 1000 / 10));
	else if (s < 3600)
		snprintf(out, len, "%llum%llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(out, len, "%lluh%llum%llus",
			 (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60),
			 (unsigned long long)(s % 60));
}
