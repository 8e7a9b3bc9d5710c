/*
 * cron: standard five-field cron expressions, in UTC, for a project's
 * `schedules`.
 *
 *   minute  hour  day-of-month  month  day-of-week
 *   0-59    0-23  1-31          1-12   0-7 (0 and 7 are Sunday)
 *
 * Each field is `*` or a comma-separated list of items, an item being a
 * value, a range `1-5`, or either of those (or `*`) with a step:
 * `*` + `/15`, `10-50/10`.  Months and weekdays may be written as names,
 * any case: jan..dec, sun..sat (also in ranges: mon-fri).
 *
 * Day-of-month and day-of-week follow the rule of Vixie cron and cronie:
 * if both are restricted (neither field begins with `*`), a day that
 * matches either fires; otherwise a day must match both.
 *
 * Pure: no clock, no time zone, no I/O.  cron_parse() refuses, with the
 * reason, any spec that would never fire (0 0 30 2 *), so that a typo
 * cannot silently disable a schedule; cron_next() still returns 0 rather
 * than search forever should one get through.
 */
#ifndef PIPEWRIGHT_CRON_H
#define PIPEWRIGHT_CRON_H

#include <stdint.h>

#include "pipewright/util.h"

#define CRON_MAX_SPEC 256     /* bytes of a spec; longer is refused */

struct cron;

/*
 * Parses spec.  0 and *out (cron_destroy() it), or -EINVAL and *err
 * (caller frees) such as "invalid cron '0 25 * * *': hour 25 out of
 * range 0-23".  *out is NULL on error and *err NULL on success.
 */
int cron_parse(const char *spec, struct cron **out, char **err) PW_WUR;
void cron_destroy(struct cron *c);

/* The spec as given to cron_parse(); valid while c lives. */
const char *cron_spec(const struct cron *c);

/*
 * The first time the spec fires strictly after after_ms, in milliseconds
 * since the epoch (UTC; always a whole minute).  0 if it does not fire
 * within the next 30 years (a spec cron_parse() accepts always does).
 */
uint64_t cron_next(const struct cron *c, uint64_t after_ms);

#endif
