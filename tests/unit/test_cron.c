/*
 * Unit tests of the cron module: every kind of parse error with its
 * exact message, and a table of next fire times (month ends, Feb 29 in
 * leap years and across 2100, weekdays and their names, 0 and 7 as
 * Sunday, the day-of-month/day-of-week OR rule and its AND exception,
 * steps), the expected times computed independently with timegm(3).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pipewright/cron.h"

/* "YYYY-MM-DD HH:MM[:SS]" in UTC → ms since the epoch. */
static uint64_t
utc(const char *s)
{
	struct tm tm;
	int n;

	memset(&tm, 0, sizeof(tm));
	n = sscanf(s, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon,
		   &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec);
	assert_true(n >= 5);
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (uint64_t)timegm(&tm) * 1000;
}

static void
format(uint64_t ms, char *out, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M:%S %a", &tm);
}

static void
parse_bad(const char *spec, const char *message)
{
	struct cron *c = (struct cron *)1;
	char *err = NULL;

	assert_int_equal(cron_parse(spec, &c, &err), -EINVAL);
	assert_null(c);
	assert_non_null(err);
	if (strcmp(err, message) != 0)
		print_error("spec '%s'\n  got  %s\n  want %s\n", spec, err,
			    message);
	assert_string_equal(err, message);
	free(err);
}

static void
test_parse_errors(void **state)
{
	char long_spec[CRON_MAX_SPEC + 8];

	(void)state;
	parse_bad("0 25 * * *",
		  "invalid cron '0 25 * * *': hour 25 out of range 0-23");
	parse_bad("60 * * * *",
		  "invalid cron '60 * * * *': minute 60 out of range 0-59");
	parse_bad("* * 0 * *", "invalid cron '* * 0 * *': day-of-month 0"
		  " out of range 1-31");
	parse_bad("* * 32 * *", "invalid cron '* * 32 * *': day-of-month 32"
		  " out of range 1-31");
	parse_bad("* * * 13 *",
		  "invalid cron '* * * 13 *': month 13 out of range 1-12");
	parse_bad("* * * 0 *",
		  "invalid cron '* * * 0 *': month 0 out of range 1-12");
	parse_bad("* * * * 8", "invalid cron '* * * * 8': day-of-week 8 out"
		  " of range 0-7");
	parse_bad("99999999999 * * * *", "invalid cron '99999999999 * * *"
		  " *': minute 99999999999 out of range 0-59");
	parse_bad("* * * *", "invalid cron '* * * *': expected 5 fields"
		  " (minute hour day-of-month month day-of-week), got 4");
	parse_bad("* * * * * *", "invalid cron '* * * * * *': expected 5"
		  " fields (minute hour day-of-month month day-of-week), got"
		  " 6");
	parse_bad("", "invalid cron '': expected 5 fields (minute hour"
		  " day-of-month month day-of-week), got 0");
	parse_bad("@daily", "invalid cron '@daily': expected 5 fields"
		  " (minute hour day-of-month month day-of-week), got 1");
	parse_bad("x * * * *",
		  "invalid cron 'x * * * *': minute 'x' is not a number");
	parse_bad("1x * * * *",
		  "invalid cron '1x * * * *': minute '1x' is not a number");
	parse_bad("0 0 * foo *", "invalid cron '0 0 * foo *': month 'foo'"
		  " is not a number or a month name (jan..dec)");
	parse_bad("0 0 * * funday", "invalid cron '0 0 * * funday':"
		  " day-of-week 'funday' is not a number or a day name"
		  " (sun..sat)");
	/* Names belong to their field only. */
	parse_bad("0 0 * mon *", "invalid cron '0 0 * mon *': month 'mon'"
		  " is not a number or a month name (jan..dec)");
	parse_bad("30-10 * * * *", "invalid cron '30-10 * * * *': minute"
		  " range '30-10' is backwards");
	parse_bad("0 0 * * fri-mon", "invalid cron '0 0 * * fri-mon':"
		  " day-of-week range 'fri-mon' is backwards");
	parse_bad("*/0 * * * *", "invalid cron '*/0 * * * *': minute step 0"
		  " out of range 1-59");
	parse_bad("0 */24 * * *", "invalid cron '0 */24 * * *': hour step 24"
		  " out of range 1-23");
	parse_bad("*/x * * * *", "invalid cron '*/x * * * *': minute step"
		  " 'x' is not a number");
	parse_bad("*/ * * * *", "invalid cron '*/ * * * *': minute step is"
		  " missing after '/'");
	parse_bad("5/10 * * * *", "invalid cron '5/10 * * * *': minute step"
		  " needs '*' or a range before '/': '5/10'");
	parse_bad("1,,2 * * * *", "invalid cron '1,,2 * * * *': empty item"
		  " in the minute list");
	parse_bad("0 1, * * *",
		  "invalid cron '0 1, * * *': empty item in the hour list");
	parse_bad("1- * * * *",
		  "invalid cron '1- * * * *': minute: a value is missing");
	parse_bad("0 0 30 2 *", "invalid cron '0 0 30 2 *': it never fires:"
		  " February has no day 30");
	parse_bad("0 0 31 apr,jun,sep,nov *", "invalid cron '0 0 31"
		  " apr,jun,sep,nov *': it never fires: none of the months"
		  " given has a day 31");
	/* Control characters never reach the one-line message. */
	parse_bad("0 2\x01 * * *",
		  "invalid cron '0 2? * * *': hour '2?' is not a number");
	memset(long_spec, '1', sizeof(long_spec) - 1);
	long_spec[sizeof(long_spec) - 1] = '\0';
	parse_bad(long_spec, "invalid cron: longer than 256 bytes");
}

static void
test_parse_ok(void **state)
{
	static const char *const ok[] = {
		"* * * * *", "0 3 * * *", "*/15 * * * *", "10-50/10 * * * *",
		"0 0 1,15 * *", "0 0 * JAN-Mar,dec sun", "0 0 30 2 mon",
		"0 0 29 2 *", "0 0 31 * *", "\t0  3 * * *\n",
		"0 0 * * 0-7", "1-59/2 0-23/3 1-31/10 */5 */2",
	};
	struct cron *c;
	char *err;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		if (cron_parse(ok[i], &c, &err) != 0)
			print_error("'%s': %s\n", ok[i], err);
		assert_non_null(c);
		assert_null(err);
		assert_string_equal(cron_spec(c), ok[i]);
		cron_destroy(c);
	}
	cron_destroy(NULL);
}

struct next_case {
	const char *spec;
	const char *after;
	const char *want;
};

static const struct next_case next_cases[] = {
	/* Strictly after: a fire time equal to `after` is not returned. */
	{"* * * * *", "2024-01-01 00:00:00", "2024-01-01 00:01"},
	{"* * * * *", "2024-01-01 00:00:59", "2024-01-01 00:01"},
	{"0 3 * * *", "2024-03-10 02:59:59", "2024-03-10 03:00"},
	{"0 3 * * *", "2024-03-10 03:00:00", "2024-03-11 03:00"},
	{"0 0 * * *", "2023-12-31 12:00:00", "2024-01-01 00:00"},
	/* Steps. */
	{"*/15 * * * *", "2024-05-05 10:07:00", "2024-05-05 10:15"},
	{"*/15 * * * *", "2024-05-05 10:45:00", "2024-05-05 11:00"},
	{"10-50/10 * * * *", "2024-05-05 10:50:00", "2024-05-05 11:10"},
	{"10-50/10 * * * *", "2024-05-05 10:11:00", "2024-05-05 10:20"},
	{"0 */6 * * *", "2024-05-05 19:00:00", "2024-05-06 00:00"},
	{"0 0 1-31/10 * *", "2024-05-21 00:00:00", "2024-05-31 00:00"},
	/* Lists. */
	{"0 9,17 * * *", "2024-05-05 09:00:00", "2024-05-05 17:00"},
	/* Month ends. */
	{"0 0 31 * *", "2024-04-01 00:00:00", "2024-05-31 00:00"},
	{"0 0 31 * *", "2024-01-31 00:00:00", "2024-03-31 00:00"},
	{"59 23 * * *", "2024-02-28 23:59:00", "2024-02-29 23:59"},
	{"59 23 * * *", "2023-02-28 23:59:00", "2023-03-01 23:59"},
	{"30 23 31 dec *", "2024-12-31 23:30:00", "2025-12-31 23:30"},
	{"0 0 1 1 *", "2099-12-31 00:00:00", "2100-01-01 00:00"},
	/* Feb 29: leap years only, and 2100 is not one. */
	{"0 0 29 2 *", "2023-03-01 00:00:00", "2024-02-29 00:00"},
	{"0 0 29 2 *", "2024-02-29 00:00:00", "2028-02-29 00:00"},
	{"0 0 29 2 *", "2096-03-01 00:00:00", "2104-02-29 00:00"},
	{"0 0 29 2 *", "2000-01-01 00:00:00", "2000-02-29 00:00"},
	/* Months by name and number. */
	{"0 0 1 jan,jul *", "2024-02-01 00:00:00", "2024-07-01 00:00"},
	{"0 0 1 7 *", "2024-07-01 00:00:00", "2025-07-01 00:00"},
	/* Weekdays: 2024-06-01 is a Saturday; 0, 7 and sun are Sunday. */
	{"0 12 * * mon-fri", "2024-06-01 00:00:00", "2024-06-03 12:00"},
	{"0 12 * * 1-5", "2024-06-07 12:00:00", "2024-06-10 12:00"},
	{"0 0 * * 0", "2024-06-01 00:00:00", "2024-06-02 00:00"},
	{"0 0 * * 7", "2024-06-01 00:00:00", "2024-06-02 00:00"},
	{"0 0 * * SUN", "2024-06-01 00:00:00", "2024-06-02 00:00"},
	{"0 0 * * 5-7", "2024-06-03 00:00:00", "2024-06-07 00:00"},
	{"0 0 * * sat", "2024-06-01 00:00:00", "2024-06-08 00:00"},
	/* Both restricted: either fires (the 15th is a Saturday). */
	{"0 0 15 * mon", "2024-06-11 00:00:00", "2024-06-15 00:00"},
	{"0 0 15 * mon", "2024-06-15 00:00:00", "2024-06-17 00:00"},
	{"0 0 30 2 mon", "2024-02-20 00:00:00", "2024-02-26 00:00"},
	/* One begins with '*': both must match (odd days that are Mondays). */
	{"0 0 */2 * mon", "2024-06-01 00:00:00", "2024-06-03 00:00"},
	{"0 0 */2 * mon", "2024-06-03 00:00:00", "2024-06-17 00:00"},
	{"0 0 13 * *", "2024-06-01 00:00:00", "2024-06-13 00:00"},
	{"0 0 * * fri", "2024-06-01 00:00:00", "2024-06-07 00:00"},
	/* "Friday the 13th" is not what it says: the 6th comes first. */
	{"0 0 13 * fri", "2024-09-01 00:00:00", "2024-09-06 00:00"},
};

static void
test_next(void **state)
{
	char got_s[64], want_s[64];
	struct cron *c;
	char *err;
	uint64_t got, want;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(next_cases) / sizeof(next_cases[0]); i++) {
		const struct next_case *k = &next_cases[i];

		assert_int_equal(cron_parse(k->spec, &c, &err), 0);
		got = cron_next(c, utc(k->after));
		want = utc(k->want);
		if (got != want) {
			format(got, got_s, sizeof(got_s));
			format(want, want_s, sizeof(want_s));
			print_error("'%s' after %s: got %s, want %s\n",
				    k->spec, k->after, got_s, want_s);
		}
		assert_int_equal(got, want);
		cron_destroy(c);
	}
}

/* A fire time never lands on anything but a whole minute; the epoch and
 * the far future do not break the search. */
static void
test_next_edges(void **state)
{
	struct cron *c;
	char *err;

	(void)state;
	assert_int_equal(cron_parse("* * * * *", &c, &err), 0);
	assert_int_equal(cron_next(c, 0), 60000);
	assert_int_equal(cron_next(c, 1), 60000);
	assert_int_equal(cron_next(c, 59999), 60000);
	assert_int_equal(cron_next(c, 60000), 120000);
	/* Past the representable range: 0, not a wrapped time. */
	assert_int_equal(cron_next(c, UINT64_MAX), 0);
	assert_int_equal(cron_next(c, UINT64_MAX - 60000 * 3) % 60000, 0);
	cron_destroy(c);

	/* Thu 1970-01-01: the first Sunday is the 4th. */
	assert_int_equal(cron_parse("0 0 * * 0", &c, &err), 0);
	assert_int_equal(cron_next(c, 0), utc("1970-01-04 00:00"));
	cron_destroy(c);
}

/* Every fire time of a year matches the spec, and none is skipped. */
static void
test_next_walk(void **state)
{
	struct cron *c;
	char *err;
	uint64_t t = utc("2024-01-01 00:00"), prev;
	time_t secs;
	struct tm tm;
	int n = 0;

	(void)state;
	assert_int_equal(cron_parse("15 6 1,15 * 1", &c, &err), 0);
	for (;;) {
		prev = t;
		t = cron_next(c, t);
		assert_true(t > prev);
		if (t >= utc("2025-01-01 00:00"))
			break;
		secs = (time_t)(t / 1000);
		gmtime_r(&secs, &tm);
		assert_int_equal(tm.tm_hour, 6);
		assert_int_equal(tm.tm_min, 15);
		assert_true(tm.tm_mday == 1 || tm.tm_mday == 15 ||
			    tm.tm_wday == 1);
		n++;
	}
	/* 2024: 53 Mondays, 24 days 1 or 15, of which 6 are Mondays
	 * (Jan 1 and 15, Apr 1 and 15, Jul 1 and 15). */
	assert_int_equal(n, 53 + 24 - 6);
	cron_destroy(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_parse_ok),
		cmocka_unit_test(test_next),
		cmocka_unit_test(test_next_edges),
		cmocka_unit_test(test_next_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
