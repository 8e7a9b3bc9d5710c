/*
 * What the client commands print for people: aligned tables (the style of
 * `pipewright run`'s summary), local times, and durations in the format of
 * pw_duration_format.  The columns of each table are rows of a table here,
 * each a header and a function that renders one cell from the API's JSON,
 * so a column is added in one place.  Anything missing from the JSON
 * prints as "-" rather than failing: an older or newer daemon may send
 * fewer or more fields.  Every cell is escaped for the terminal
 * (term_escape): refs, reasons and names come from forges and jobs.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"

#define CELL_MAX 128

struct table {
	size_t ncols;
	size_t nrows;     /* including the header row */
	size_t cap;
	char **cells;     /* nrows * ncols, row by row */
};

struct table *
table_create(size_t ncols, const char *const *headers)
{
	struct table *t = xcalloc(1, sizeof(*t));

	t->ncols = ncols;
	table_add(t, headers);
	return t;
}

void
table_add(struct table *t, const char *const *cells)
{
	size_t i;

	t->cells = xgrow(t->cells, &t->cap, (t->nrows + 1) * t->ncols,
			 sizeof(char *));
	for (i = 0; i < t->ncols; i++)
		t->cells[t->nrows * t->ncols + i] =
			term_escape_str(cells[i] != NULL ? cells[i] : "-");
	t->nrows++;
}

size_t
table_rows(const struct table *t)
{
	return t->nrows - 1;
}

void
table_print(struct table *t, FILE *f, const char *indent)
{
	size_t w[16] = {0};
	size_t r, i, n;

	for (r = 0; r < t->nrows; r++)
		for (i = 0; i < t->ncols && i < PW_ARRAY_LEN(w); i++) {
			n = strlen(t->cells[r * t->ncols + i]);
			if (n > w[i])
				w[i] = n;
		}
	for (r = 0; r < t->nrows; r++) {
		fputs(indent, f);
		for (i = 0; i < t->ncols; i++) {
			const char *s = t->cells[r * t->ncols + i];

			if (i + 1 == t->ncols)
				fprintf(f, "%s\n", s);
			else
				fprintf(f, "%-*s  ", (int)w[i], s);
		}
	}
}

void
table_destroy(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	free(t);
}

uint64_t
fmt_parse_time(const char *s)
{
	struct tm tm = {0};
	int ms = 0, n = 0, oh = 0, om = 0;
	char sign;
	time_t t;

	if (s == NULL || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year,
				&tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				&tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	s += n;
	if (*s == '.') {
		int digits = 0;

		for (s++; *s >= '0' && *s <= '9'; s++, digits++)
			if (digits < 3)
				ms = ms * 10 + (*s - '0');
		for (; digits < 3; digits++)
			ms *= 10;
	}
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	t = timegm(&tm);
	if (*s == '+' || *s == '-') {
		sign = *s;
		if (sscanf(s + 1, "%2d:%2d", &oh, &om) != 2)
			return 0;
		t += (sign == '+' ? -1 : 1) * (oh * 3600 + om * 60);
	} else if (*s != 'Z' && *s != 'z') {
		return 0;
	}
	if (t < 0)
		return 0;
	return (uint64_t)t * 1000 + (uint64_t)ms;
}

void
fmt_time(const char *rfc3339, char *out, size_t len)
{
	uint64_t ms = fmt_parse_time(rfc3339);
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (ms == 0 || localtime_r(&t, &tm) == NULL ||
	    strftime(out, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(out, len, "-");
}

void
fmt_span(const char *started, const char *finished, char *out, size_t len)
{
	uint64_t a = fmt_parse_time(started);
	uint64_t b = finished != NULL ? fmt_parse_time(finished) : pw_now_ms();

	if (a == 0 || b < a) {
		snprintf(out, len, "-");
		return;
	}
	pw_duration_format(b - a, out, len);
}

/* The latest attempt of a job, or NULL before its first. */
static const cJSON *
last_attempt(const cJSON *job)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(job, "attempts");
	int n = cJSON_GetArraySize(a);

	return n > 0 ? cJSON_GetArrayItem(a, n - 1) : NULL;
}

/* Renders one cell from an object (a run, a job or an attempt). */
typedef void (*cell_fn)(const cJSON *obj, const cJSON *outer, char *out);

struct column {
	const char *header;
	cell_fn cell;
};

static void
cell_copy(const char *s, char *out)
{
	snprintf(out, CELL_MAX, "%s", s != NULL ? s : "-");
}

static void
cell_id(const cJSON *o, const cJSON *x, char *out)
{
	double id = json_num(o, "id", -1);

	(void)x;
	if (id >= 0)
		snprintf(out, CELL_MAX, "%.0f", id);
	else
		cell_copy(NULL, out);
}

static void
cell_status(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	cell_copy(json_str(o, "status"), out);
}

static void
cell_branch(const cJSON *o, const cJSON *x, char *out)
{
	const char *b = json_str(o, "branch");

	(void)x;
	if (b == NULL && json_str(o, "tag") != NULL)
		snprintf(out, CELL_MAX, "tag %s", json_str(o, "tag"));
	else
		cell_copy(b != NULL ? b : json_str(o, "ref"), out);
}

static void
cell_commit(const cJSON *o, const cJSON *x, char *out)
{
	const char *c = json_str(o, "commit");

	(void)x;
	snprintf(out, CELL_MAX, "%.10s", c != NULL && *c ? c : "-");
}

static void
cell_trigger(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	cell_copy(json_str(o, "trigger"), out);
}

static void
cell_created(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	fmt_time(json_str(o, "created_at"), out, CELL_MAX);
}

static void
cell_span(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	fmt_span(json_str(o, "started_at"), json_str(o, "finished_at"), out,
		 CELL_MAX);
}

static void
cell_name(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	cell_copy(json_str(o, "name"), out);
}

static void
cell_stage(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	cell_copy(json_str(o, "stage"), out);
}

static void
cell_attempts(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	snprintf(out, CELL_MAX, "%d", cJSON_GetArraySize(
		cJSON_GetObjectItemCaseSensitive(o, "attempts")));
}

static void
cell_job_span(const cJSON *o, const cJSON *x, char *out)
{
	const cJSON *a = last_attempt(o);

	(void)x;
	if (a == NULL)
		cell_copy(NULL, out);
	else
		cell_span(a, NULL, out);
}

static void
cell_outer_name(const cJSON *o, const cJSON *job, char *out)
{
	(void)o;
	cell_copy(json_str(job, "name"), out);
}

static void
cell_number(const cJSON *o, const cJSON *x, char *out)
{
	(void)x;
	snprintf(out, CELL_MAX, "%.0f", json_num(o, "number", 0));
}

static void
cell_exit(const cJSON *o, const cJSON *x, char *out)
{
	double code = json_num(o, "exit_code", -1);

	(void)x;
	if (code >= 0)
		snprintf(out, CELL_MAX, "%.0f", code);
	else
		cell_copy(NULL, out);
}

static void
cell_reason(const cJSON *o, const cJSON *x, char *out)
{
	const char *r = json_str(o, "reason");

	(void)x;
	cell_copy(r != NULL && *r ? r : NULL, out);
}

static const struct column run_columns[] = {
	{"ID", cell_id}, {"STATUS", cell_status}, {"BRANCH", cell_branch},
	{"COMMIT", cell_commit}, {"TRIGGER", cell_trigger},
	{"CREATED", cell_created}, {"DURATION", cell_span},
};

static const struct column job_columns[] = {
	{"JOB", cell_name}, {"STAGE", cell_stage}, {"STATUS", cell_status},
	{"ATTEMPTS", cell_attempts}, {"DURATION", cell_job_span},
};

static const struct column attempt_columns[] = {
	{"JOB", cell_outer_name}, {"ATTEMPT", cell_number},
	{"STATUS", cell_status}, {"EXIT", cell_exit},
	{"DURATION", cell_span}, {"REASON", cell_reason},
};

static struct table *
make_table(const struct column *cols, size_t n)
{
	const char *headers[16];
	size_t i;

	for (i = 0; i < n; i++)
		headers[i] = cols[i].header;
	return table_create(n, headers);
}

static void
add_row(struct table *t, const struct column *cols, size_t n,
	const cJSON *obj, const cJSON *outer)
{
	char cells[16][CELL_MAX];
	const char *row[16];
	size_t i;

	for (i = 0; i < n; i++) {
		cols[i].cell(obj, outer, cells[i]);
		row[i] = cells[i];
	}
	table_add(t, row);
}

struct table *
fmt_runs_table(const cJSON *items)
{
	struct table *t = make_table(run_columns, PW_ARRAY_LEN(run_columns));
	const cJSON *run;

	cJSON_ArrayForEach(run, items)
		add_row(t, run_columns, PW_ARRAY_LEN(run_columns), run, NULL);
	return t;
}

struct table *
fmt_jobs_table(const cJSON *jobs)
{
	struct table *t = make_table(job_columns, PW_ARRAY_LEN(job_columns));
	const cJSON *job;

	cJSON_ArrayForEach(job, jobs)
		add_row(t, job_columns, PW_ARRAY_LEN(job_columns), job, NULL);
	return t;
}

struct table *
fmt_attempts_table(const cJSON *jobs)
{
	struct table *t = make_table(attempt_columns,
				     PW_ARRAY_LEN(attempt_columns));
	const cJSON *job, *a;

	cJSON_ArrayForEach(job, jobs)
		cJSON_ArrayForEach(a, cJSON_GetObjectItemCaseSensitive(
					      job, "attempts"))
			add_row(t, attempt_columns,
				PW_ARRAY_LEN(attempt_columns), a, job);
	return t;
}
