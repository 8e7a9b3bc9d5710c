/*
 * Private to the cron module: a parsed spec as one bit set per field,
 * shared by the parser (parse.c) and the search for the next fire time
 * (next.c).
 */
#ifndef PIPEWRIGHT_CRON_INT_H
#define PIPEWRIGHT_CRON_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "pipewright/cron.h"

struct cron {
	char *spec;
	uint64_t minutes;     /* bit m: minute m, 0-59 */
	uint32_t hours;       /* bit h: 0-23 */
	uint32_t mdays;       /* bit d: day of month d, 1-31 */
	uint16_t months;      /* bit m: month m, 1-12 */
	uint8_t wdays;        /* bit w: 0 (Sunday) - 6; 7 folded into 0 */
	bool mday_star;       /* the field begins with '*': unrestricted */
	bool wday_star;
};

/* Days in a month (1-12) of a year, Gregorian. */
int cron_month_days(int64_t year, int month);
/* Days since 1970-01-01 to the civil date, and back (proleptic
 * Gregorian, any year; H. Hinnant's algorithms). */
int64_t cron_days_from_civil(int64_t y, int m, int d);
void cron_civil_from_days(int64_t z, int64_t *y, int *m, int *d);
/* True if the day (days since the epoch) is one the spec fires on. */
bool cron_day_matches(const struct cron *c, int64_t day);

#endif
