/*
 * cron_next(): the first minute after a time that the spec fires on.
 *
 * The search walks day by day (a day is cheap to test: its civil date
 * from the day number, then three bit tests), and within the first
 * matching day takes the first hour and minute in the sets.  It is
 * bounded to 30 years of days, which covers the longest real gap (Feb 29
 * across a century that is not a leap year: 8 years), so a spec that
 * cannot fire ends the search instead of looping.  All in UTC: no time
 * zone, no daylight saving, no libc time functions.
 */
#include "cron-int.h"

#define MIN_PER_DAY 1440
#define MS_PER_MIN 60000ULL
#define SEARCH_DAYS (30 * 366)

int
cron_month_days(int64_t year, int month)
{
	static const int days[12] = {31, 28, 31, 30, 31, 30,
				     31, 31, 30, 31, 30, 31};
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

void
cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

bool
cron_day_matches(const struct cron *c, int64_t day)
{
	int64_t y;
	int m, d, wd = (int)((day % 7 + 7 + 4) % 7);  /* 1970-01-01: Thu */
	bool dm, dw;

	cron_civil_from_days(day, &y, &m, &d);
	if (!(c->months & (1U << m)))
		return false;
	dm = (c->mdays & (1U << d)) != 0;
	dw = (c->wdays & (1U << wd)) != 0;
	if (c->mday_star || c->wday_star)
		return dm && dw;
	return dm || dw;
}

/* The first minute of the day at or after minute `from`, or -1. */
static int
first_minute(const struct cron *c, int from)
{
	int h, m;

	for (h = from / 60; h < 24; h++) {
		if (!(c->hours & (1U << h)))
			continue;
		for (m = h == from / 60 ? from % 60 : 0; m < 60; m++)
			if (c->minutes & (1ULL << m))
				return h * 60 + m;
	}
	return -1;
}

uint64_t
cron_next(const struct cron *c, uint64_t after_ms)
{
	uint64_t t = after_ms / MS_PER_MIN + 1, min;
	int64_t day = (int64_t)(t / MIN_PER_DAY);
	int from = (int)(t % MIN_PER_DAY), i, at;

	for (i = 0; i < SEARCH_DAYS; i++, day++, from = 0) {
		if (!cron_day_matches(c, day))
			continue;
		at = first_minute(c, from);
		if (at < 0)
			continue;
		min = (uint64_t)day * MIN_PER_DAY + (uint64_t)at;
		if (min > UINT64_MAX / MS_PER_MIN)
			return 0;
		return min * MS_PER_MIN;
	}
	return 0;
}
