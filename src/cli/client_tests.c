/*
 * `pipewright tests RUN [--failed] [--job JOB]`: a run's test cases from
 * its JUnit reports (GET /api/v1/runs/{id}/tests), every page of them,
 * as a table and a summary line ("3 tests failed of 412"); with
 * --failed only the failures and errors, each followed by the start of
 * its message.  A failure of a test the project knows to be flaky says
 * so, and so does a pass that an earlier attempt had failed.  Names and
 * messages come from the job's files: every cell and line is escaped
 * for the terminal.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define TESTS_PAGE "1000"
#define MESSAGE_LINES 6       /* of a failure's message, with --failed */

struct tests_opts {
	bool failed;
	const char *job;
};

static const struct cli_opt tests_opts[] = {
	{"failed", 0, false, NULL, "only the failed tests and errors, each with"
	 " its message"},
	{"job", 'j', true, "JOB", "only this job's tests (its full name)"},
	{NULL, 0, false, NULL, NULL},
};

static int
tests_option(void *ctx, size_t opt, const char *arg)
{
	struct tests_opts *o = ctx;

	if (opt == 0)
		o->failed = true;
	else
		o->job = arg;
	return 0;
}

static const struct client_spec tests_spec = {
	.name = "tests", .args = "RUN", .opts = tests_opts, .min_args = 1,
	.max_args = 1, .json = true, .option = tests_option,
};

static void
print_message(const char *m)
{
	const char *p = m;
	int line;

	for (line = 0; p != NULL && *p != '\0' && line < MESSAGE_LINES;
	     line++) {
		const char *nl = strchr(p, '\n');
		char *one = nl != NULL ? xstrndup(p, (size_t)(nl - p)) :
			xstrdup(p);
		char *safe = term_escape_str(one);

		printf("      %s\n", safe);
		free(safe);
		free(one);
		p = nl != NULL ? nl + 1 : NULL;
	}
	if (p != NULL && *p != '\0')
		printf("      ...\n");
}

static void
add_rows(struct table *t, const cJSON *items, bool failed)
{
	const cJSON *it;

	cJSON_ArrayForEach(it, items) {
		const char *cls = json_str(it, "classname");
		char *test = cls != NULL && *cls != '\0' ?
			xasprintf("%s.%s", cls, json_str(it, "name")) :
			xstrdup(json_str(it, "name"));
		char time[32];
		const char *note = "";
		const char *cells[5];

		snprintf(time, sizeof(time), "%.3fs",
			 json_num(it, "duration_ms", 0) / 1000.0);
		if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "flaky")))
			note = "known flaky";
		else if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
				it, "retried")))
			note = "passed on a retry";
		cells[0] = json_str(it, "job");
		cells[1] = json_str(it, "status");
		cells[2] = test;
		cells[3] = time;
		cells[4] = note;
		if (failed) {
			char *safe = term_escape_str(test);
			char *sjob = term_escape_str(cells[0]);
			const char *m = json_str(it, "message");

			printf("%s  %s  %s%s%s\n", cells[1], safe, sjob,
			       *note ? "  " : "", note);
			free(safe);
			free(sjob);
			if (m != NULL)
				print_message(m);
		} else {
			table_add(t, cells);
		}
		free(test);
	}
}

/* "3 tests failed of 412 (1 known flaky)" and the like. */
static void
print_summary(const cJSON *counts)
{
	double total = json_num(counts, "total", 0);
	double bad = json_num(counts, "failed", 0) + json_num(counts, "error",
							      0);
	double skipped = json_num(counts, "skipped", 0);
	double flaky = json_num(counts, "flaky", 0);
	double retried = json_num(counts, "retried", 0);

	if (total == 0) {
		printf("no test reports\n");
		return;
	}
	if (bad > 0)
		printf("%.0f test%s failed of %.0f", bad, bad == 1 ? "" : "s",
		       total);
	else
		printf("%.0f test%s passed", total - skipped,
		       total - skipped == 1 ? "" : "s");
	if (skipped > 0)
		printf(", %.0f skipped", skipped);
	if (flaky > 0)
		printf(", %.0f of the failures known flaky", flaky);
	if (retried > 0)
		printf(", %.0f passed on a retry", retried);
	putchar('\n');
}

int
cmd_tests(int argc, char **argv)
{
	static const char *const headers[] = {
		"JOB", "STATUS", "TEST", "TIME", "NOTE",
	};
	struct tests_opts o = {false, NULL};
	struct client_response r = {0};
	struct table *t = NULL;
	cJSON *all = NULL, *counts = NULL;
	char *cursor = NULL, *job = NULL;
	struct client c;
	uint64_t id;
	int rc;

	rc = client_parse(&c, &tests_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	if ((rc = client_run_id(c.args[0], &id)) != CLI_OK)
		goto out;
	if (o.job != NULL)
		job = client_escape(&c, o.job);
	t = table_create(5, headers);
	all = cJSON_CreateArray();
	do {
		char *path = xasprintf("/api/v1/runs/%llu/tests?limit="
				       TESTS_PAGE "%s%s%s%s%s",
				       (unsigned long long)id,
				       o.failed ? "&status=failed,error" : "",
				       job != NULL ? "&job=" : "",
				       job != NULL ? job : "",
				       cursor != NULL ? "&cursor=" : "",
				       cursor != NULL ? cursor : "");
		const cJSON *items, *it;

		client_response_free(&r);
		rc = client_call(&c, "GET", path, NULL, &r);
		free(path);
		if (rc != CLI_OK)
			goto out;
		items = cJSON_GetObjectItemCaseSensitive(r.json, "items");
		if (counts == NULL)
			counts = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(
				r.json, "counts"), true);
		if (c.json)
			cJSON_ArrayForEach(it, items)
				cJSON_AddItemToArray(all,
						     cJSON_Duplicate(it, true));
		else
			add_rows(t, items, o.failed);
		free(cursor);
		cursor = json_str(r.json, "next_cursor") != NULL ?
			xstrdup(json_str(r.json, "next_cursor")) : NULL;
	} while (cursor != NULL);
	if (c.json) {
		cJSON *doc = cJSON_CreateObject();

		cJSON_AddItemToObject(doc, "counts", counts);
		cJSON_AddItemToObject(doc, "items", all);
		counts = all = NULL;
		client_print_json(doc);
		cJSON_Delete(doc);
	} else {
		if (table_rows(t) > 0) {
			table_print(t, stdout, "");
			putchar('\n');
		}
		print_summary(counts);
	}
out:
	cJSON_Delete(all);
	cJSON_Delete(counts);
	free(cursor);
	free(job);
	if (t != NULL)
		table_destroy(t);
	client_response_free(&r);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}
