/*
 * cron_parse(): a five-field spec into one bit set per field.
 *
 * Every refusal names the field and what in it is wrong, quoting the
 * spec (cut and with control characters replaced, since it comes from a
 * configuration file and ends up in a one-line message).  A spec whose
 * days can never happen (day 30 of February with the weekday unrestricted)
 * is refused here: it would otherwise be a schedule that silently never
 * runs.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron-int.h"

#define QUOTE_MAX 64          /* bytes of the spec quoted in a message */

struct field {
	const char *name;
	int min, max;
	const char *const *names; /* names[i] is value min + i; or NULL */
	int nnames;
	const char *names_hint;
};

static const char *const month_names[] = {
	"jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec",
};
static const char *const month_full[] = {
	"January", "February", "March", "April", "May", "June", "July",
	"August", "September", "October", "November", "December",
};
static const char *const wday_names[] = {
	"sun", "mon", "tue", "wed", "thu", "fri", "sat",
};

enum { F_MINUTE, F_HOUR, F_MDAY, F_MONTH, F_WDAY, F_COUNT };

static const struct field fields[F_COUNT] = {
	{"minute", 0, 59, NULL, 0, NULL},
	{"hour", 0, 23, NULL, 0, NULL},
	{"day-of-month", 1, 31, NULL, 0, NULL},
	{"month", 1, 12, month_names, 12, " or a month name (jan..dec)"},
	{"day-of-week", 0, 7, wday_names, 7, " or a day name (sun..sat)"},
};

struct parse {
	const char *spec;
	char quoted[QUOTE_MAX + 4];
	char *err;
};

static int
fail(struct parse *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int
fail(struct parse *ps, const char *fmt, ...)
{
	char *why, *p;
	va_list ap;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	ps->err = xasprintf("invalid cron '%s': %s", ps->quoted, why);
	free(why);
	/* The reason quotes parts of the spec: keep the message one line. */
	for (p = ps->err; *p != '\0'; p++)
		if ((unsigned char)*p < ' ' || *p == 0x7f)
			*p = '?';
	return -EINVAL;
}

static void
quote_spec(struct parse *ps)
{
	size_t i, n = strlen(ps->spec);

	for (i = 0; i < n && i < QUOTE_MAX; i++) {
		unsigned char ch = (unsigned char)ps->spec[i];

		ps->quoted[i] = ch < ' ' || ch == 0x7f || ch == '\'' ? '?' :
		    (char)ch;
	}
	if (n > QUOTE_MAX)
		memcpy(ps->quoted + i, "...", 4);
	else
		ps->quoted[i] = '\0';
}

/* One value of the field at s (len bytes): a number or a name. */
static int
value(struct parse *ps, const struct field *f, const char *s, size_t len,
      int *out)
{
	size_t i;
	long v = 0;

	if (len == 0)
		return fail(ps, "%s: a value is missing", f->name);
	if (s[0] >= '0' && s[0] <= '9') {
		for (i = 0; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				goto bad;
			if (v < 100000)
				v = v * 10 + (s[i] - '0');
		}
		if (v < f->min || v > f->max)
			return fail(ps, "%s %.*s out of range %d-%d", f->name,
				    (int)len, s, f->min, f->max);
		*out = (int)v;
		return 0;
	}
	for (i = 0; len == 3 && i < (size_t)f->nnames; i++)
		if (strncasecmp(s, f->names[i], 3) == 0) {
			*out = f->min + (int)i;
			return 0;
		}
bad:
	return fail(ps, "%s '%.*s' is not a number%s", f->name, (int)len, s,
		    f->names_hint != NULL ? f->names_hint : "");
}

/* One item of a list: VALUE, LO-HI or '*', each with an optional /STEP. */
static int
item(struct parse *ps, const struct field *f, const char *s, size_t len,
     uint64_t *bits)
{
	const char *slash = memchr(s, '/', len), *dash;
	size_t blen = slash != NULL ? (size_t)(slash - s) : len;
	int lo, hi, step = 1, v, rc;

	if (len == 0)
		return fail(ps, "empty item in the %s list", f->name);
	if (blen == 1 && s[0] == '*') {
		lo = f->min;
		hi = f->max;
	} else {
		dash = memchr(s, '-', blen);
		if (dash == NULL) {
			if ((rc = value(ps, f, s, blen, &lo)) < 0)
				return rc;
			hi = lo;
			if (slash != NULL)
				return fail(ps, "%s step needs '*' or a range"
					    " before '/': '%.*s'", f->name,
					    (int)len, s);
		} else {
			if ((rc = value(ps, f, s, (size_t)(dash - s),
					&lo)) < 0 ||
			    (rc = value(ps, f, dash + 1,
					blen - (size_t)(dash + 1 - s),
					&hi)) < 0)
				return rc;
			if (lo > hi)
				return fail(ps, "%s range '%.*s' is backwards",
					    f->name, (int)blen, s);
		}
	}
	if (slash != NULL) {
		const char *p = slash + 1;
		size_t slen = len - blen - 1;
		long sv = 0;
		size_t i;

		if (slen == 0)
			return fail(ps, "%s step is missing after '/'",
				    f->name);
		for (i = 0; i < slen; i++) {
			if (p[i] < '0' || p[i] > '9')
				return fail(ps, "%s step '%.*s' is not a"
					    " number", f->name, (int)slen, p);
			if (sv < 100000)
				sv = sv * 10 + (p[i] - '0');
		}
		if (sv < 1 || sv > f->max)
			return fail(ps, "%s step %.*s out of range 1-%d",
				    f->name, (int)slen, p, f->max);
		step = (int)sv;
	}
	for (v = lo; v <= hi; v += step)
		*bits |= 1ULL << v;
	return 0;
}

static int
field(struct parse *ps, const struct field *f, const char *s, size_t len,
      uint64_t *bits)
{
	const char *end = s + len, *comma;
	int rc;

	*bits = 0;
	for (;;) {
		comma = memchr(s, ',', (size_t)(end - s));
		if (comma == NULL)
			return item(ps, f, s, (size_t)(end - s), bits);
		if ((rc = item(ps, f, s, (size_t)(comma - s), bits)) < 0)
			return rc;
		s = comma + 1;
	}
}

/* With the weekday unrestricted, some month given must have a day given. */
static int
check_fires(struct parse *ps, const struct cron *c)
{
	int m, d, first = 0, nmonths = 0, last = 0;

	if (c->mday_star || !c->wday_star)
		return 0;
	for (d = 1; d <= 31 && first == 0; d++)
		if (c->mdays & (1U << d))
			first = d;
	for (m = 1; m <= 12; m++) {
		if (!(c->months & (1U << m)))
			continue;
		nmonths++;
		last = m;
		if (first <= cron_month_days(2000, m))  /* a leap year */
			return 0;
	}
	if (nmonths == 1)
		return fail(ps, "it never fires: %s has no day %d",
			    month_full[last - 1], first);
	return fail(ps, "it never fires: none of the months given has a"
		    " day %d", first);
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' ||
	    ch == '\v' || ch == '\f';
}

int
cron_parse(const char *spec, struct cron **out, char **err)
{
	struct parse ps = {.spec = spec};
	const char *s = spec, *start[F_COUNT + 1];
	size_t len[F_COUNT + 1];
	uint64_t bits[F_COUNT];
	struct cron *c;
	int n = 0, i, rc;

	*out = NULL;
	*err = NULL;
	if (strlen(spec) > CRON_MAX_SPEC) {
		*err = xasprintf("invalid cron: longer than %d bytes",
				 CRON_MAX_SPEC);
		return -EINVAL;
	}
	quote_spec(&ps);
	for (;;) {
		while (is_space(*s))
			s++;
		if (*s == '\0')
			break;
		if (n <= F_COUNT)
			start[n] = s;
		while (*s != '\0' && !is_space(*s))
			s++;
		if (n <= F_COUNT)
			len[n] = (size_t)(s - start[n]);
		n++;
	}
	if (n != F_COUNT) {
		fail(&ps, "expected 5 fields (minute hour day-of-month month"
		     " day-of-week), got %d", n);
		*err = ps.err;
		return -EINVAL;
	}
	for (i = 0; i < F_COUNT; i++) {
		rc = field(&ps, &fields[i], start[i], len[i], &bits[i]);
		if (rc < 0) {
			*err = ps.err;
			return rc;
		}
	}
	c = xcalloc(1, sizeof(*c));
	c->minutes = bits[F_MINUTE];
	c->hours = (uint32_t)bits[F_HOUR];
	c->mdays = (uint32_t)bits[F_MDAY];
	c->months = (uint16_t)bits[F_MONTH];
	/* 7 is Sunday too. */
	c->wdays = (uint8_t)((bits[F_WDAY] | bits[F_WDAY] >> 7) & 0x7f);
	c->mday_star = start[F_MDAY][0] == '*';
	c->wday_star = start[F_WDAY][0] == '*';
	if ((rc = check_fires(&ps, c)) < 0) {
		free(c);
		*err = ps.err;
		return rc;
	}
	c->spec = xstrdup(spec);
	*out = c;
	return 0;
}

void
cron_destroy(struct cron *c)
{
	if (c == NULL)
		return;
	free(c->spec);
	free(c);
}

const char *
cron_spec(const struct cron *c)
{
	return c->spec;
}
