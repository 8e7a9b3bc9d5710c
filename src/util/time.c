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

uint64_t
pw_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* Units from largest to smallest; each may appear once, in this order. */
static const struct {
	const char *name;
	uint64_t ms;
} units[] = {
	{"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000},
	{"ms", 1},
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
	size_t n = 0;

	if (ms < 1000) {
		snprintf(out, len, "%llums", (unsigned long long)ms);
		return;
	}
	if (ms < 60000 && ms % 1000 != 0) {
		snprintf(out, len, "%llu.%02llus", (unsigned long long)s,
			 (unsigned long long)(ms % 1000 / 10));
		return;
	}
	/* Whole units, zero parts left out: 1h30m, 10m, 1m30s, 90s → 1m30s. */
	out[0] = '\0';
	if (s >= 3600)
		n += snprintf(out + n, len - n, "%lluh",
			      (unsigned long long)(s / 3600));
	if (s % 3600 / 60 != 0 && n < len)
		n += snprintf(out + n, len - n, "%llum",
			      (unsigned long long)(s % 3600 / 60));
	if (s % 60 != 0 && n < len)
		snprintf(out + n, len - n, "%llus", (unsigned long long)(s % 60));
}
