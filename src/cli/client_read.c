/*
 * The read-only client commands: `status [PROJECT]` (the latest runs of
 * each project), `runs PROJECT` (a project's runs, filtered) and
 * `show RUN` (a run with its jobs and every attempt).  They print tables,
 * or with --json the server's JSON; `status --json` prints one document
 * made of the project objects, each with a "runs" array added, since it
 * asks the server more than once.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"

#define STATUS_QUERY "limit=5" /* runs shown per project by `status` */
#define RUNS_LIMIT_MAX 1000

/* GET /api/v1/projects/P/runs?QUERY into *r. */
static int
get_runs(struct client *c, const char *project, const char *query,
	 struct client_response *r)
{
	char *p = client_escape(c, project);
	char *path = xasprintf("/api/v1/projects/%s/runs%s%s", p,
			       *query ? "?" : "", query);
	int rc = client_call(c, "GET", path, NULL, r);

	free(path);
	free(p);
	return rc;
}

static void
print_runs(const cJSON *page, const char *indent)
{
	const cJSON *items = cJSON_GetObjectItemCaseSensitive(page, "items");
	struct table *t = fmt_runs_table(items);

	if (table_rows(t) == 0)
		printf("%s(no runs)\n", indent);
	else
		table_print(t, stdout, indent);
	table_destroy(t);
}

static const struct client_spec status_spec = {
	.name = "status", .args = "[PROJECT]", .max_args = 1, .json = true,
};

int
cmd_status(int argc, char **argv)
{
	struct client c;
	struct client_response pr = {0};
	cJSON *out = NULL, *proj, *list;
	int rc, n = 0;

	rc = client_parse(&c, &status_spec, NULL, argc, argv);
	if (rc != CLI_OK)
		goto out;
	rc = client_call(&c, "GET", "/api/v1/projects", NULL, &pr);
	if (rc != CLI_OK)
		goto out;
	out = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(out, "items");
	cJSON_ArrayForEach(proj, cJSON_GetObjectItemCaseSensitive(pr.json,
								  "items")) {
		const char *name = json_str(proj, "name");
		struct client_response rr;

		if (name == NULL || (c.nargs == 1 &&
				     strcmp(name, c.args[0]) != 0))
			continue;
		rc = get_runs(&c, name, STATUS_QUERY, &rr);
		if (rc != CLI_OK) {
			client_response_free(&rr);
			goto out;
		}
		if (c.json) {
			cJSON *p = cJSON_Duplicate(proj, 1);
			cJSON *items = cJSON_DetachItemFromObjectCaseSensitive(
				rr.json, "items");

			cJSON_AddItemToObject(p, "runs", items != NULL ? items :
					      cJSON_CreateArray());
			cJSON_AddItemToArray(list, p);
		} else {
			char *shown = term_escape_str(name);

			printf("%s%s\n", n > 0 ? "\n" : "", shown);
			free(shown);
			print_runs(rr.json, "  ");
		}
		client_response_free(&rr);
		n++;
	}
	if (c.nargs == 1 && n == 0) {
		fprintf(stderr, "pipewright: no project named '%s' on %s\n",
			c.args[0], c.server);
		rc = CLI_FAILED;
	} else if (c.json) {
		client_print_json(out);
	} else if (n == 0) {
		printf("(no projects)\n");
	}
out:
	cJSON_Delete(out);
	client_response_free(&pr);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}

struct runs_opts {
	struct buf query;
};

static const struct cli_opt runs_opts[] = {
	{"status", 0, true, "S", "only runs in these states (a,b: queued, "
	 "running, success, failed, canceled, error)"},
	{"branch", 0, true, "B", "only runs of this branch"},
	{"limit", 'n', true, "N", "at most N runs (default: the server's)"},
	{NULL, 0, false, NULL, NULL},
};

static int
runs_option(void *ctx, size_t opt, const char *arg)
{
	static const char *const keys[] = {"status", "branch", "limit"};
	struct runs_opts *o = ctx;
	char *e, *end;
	long n;

	if (opt == 2) {
		n = strtol(arg, &end, 10);
		if (*end != '\0' || n < 1 || n > RUNS_LIMIT_MAX) {
			fprintf(stderr, "pipewright: --limit: expected a "
				"number from 1 to %d, got '%s'\n",
				RUNS_LIMIT_MAX, arg);
			return CLI_USAGE;
		}
	}
	e = curl_easy_escape(NULL, arg, 0);
	if (e == NULL)
		abort(); /* out of memory */
	buf_addf(&o->query, "%s%s=%s", o->query.len ? "&" : "", keys[opt], e);
	curl_free(e);
	return 0;
}

static const struct client_spec runs_spec = {
	.name = "runs", .args = "PROJECT", .opts = runs_opts,
	.min_args = 1, .max_args = 1, .json = true, .option = runs_option,
};

int
cmd_runs(int argc, char **argv)
{
	struct runs_opts o;
	struct client c;
	struct client_response r = {0};
	int rc;

	buf_init(&o.query, 0);
	rc = client_parse(&c, &runs_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	rc = get_runs(&c, c.args[0], o.query.data ? o.query.data : "", &r);
	if (rc != CLI_OK)
		goto out;
	if (c.json) {
		client_print_json(r.json);
	} else {
		print_runs(r.json, "");
		if (json_str(r.json, "next_cursor") != NULL)
			fprintf(stderr, "pipewright: more runs; raise --limit "
				"or use --json for next_cursor\n");
	}
out:
	client_response_free(&r);
	buf_free(&o.query);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}

/* A string field escaped for the terminal (caller frees), "-" if none. */
static char *
field(const cJSON *obj, const char *key)
{
	const char *s = json_str(obj, key);

	return term_escape_str(s != NULL ? s : "-");
}

/* The run's header: one "key  value" line per field that has a value. */
static void
print_run(const cJSON *run)
{
	char created[64], span[64];
	const cJSON *p, *jobs = cJSON_GetObjectItemCaseSensitive(run, "jobs");
	struct table *t;

	fmt_time(json_str(run, "created_at"), created, sizeof(created));
	fmt_span(json_str(run, "started_at"), json_str(run, "finished_at"),
		 span, sizeof(span));
	{
		char *project = field(run, "project");
		char *status = field(run, "status");

		printf("run %.0f  %s  %s\n", json_num(run, "id", 0), project,
		       status);
		free(project);
		free(status);
	}
	{
		const char *rows[][2] = {
			{"trigger", json_str(run, "trigger")},
			{"ref", json_str(run, "ref")},
			{"branch", json_str(run, "branch")},
			{"tag", json_str(run, "tag")},
			{"commit", json_str(run, "commit")},
			{"created", created},
			{"duration", span},
			{"url", json_str(run, "url")},
		};
		size_t i;
		char *v;

		for (i = 0; i < PW_ARRAY_LEN(rows); i++) {
			if (rows[i][1] == NULL || strcmp(rows[i][1], "-") == 0)
				continue;
			v = term_escape_str(rows[i][1]);
			printf("  %-9s %s\n", rows[i][0], v);
			free(v);
		}
	}
	if (cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(run, "pr")))
		printf("  %-9s #%.0f%s\n", "pr", json_num(run, "pr", 0),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			       run, "fork")) ? " (from a fork)" : "");
	cJSON_ArrayForEach(p, cJSON_GetObjectItemCaseSensitive(run,
							       "problems")) {
		char *file = field(p, "file"), *msg = field(p, "message");

		printf("  problem   %s:%.0f:%.0f: %s\n", file,
		       json_num(p, "line", 0), json_num(p, "column", 0), msg);
		free(file);
		free(msg);
	}
	if (cJSON_GetArraySize(jobs) == 0)
		return;
	t = fmt_jobs_table(jobs);
	putchar('\n');
	table_print(t, stdout, "");
	table_destroy(t);
	t = fmt_attempts_table(jobs);
	if (table_rows(t) > 0) {
		putchar('\n');
		table_print(t, stdout, "");
	}
	table_destroy(t);
}

static const struct client_spec show_spec = {
	.name = "show", .args = "RUN", .min_args = 1, .max_args = 1,
	.json = true,
};

int
cmd_show(int argc, char **argv)
{
	struct client c;
	struct client_response r = {0};
	uint64_t id;
	char *path;
	int rc;

	rc = client_parse(&c, &show_spec, NULL, argc, argv);
	if (rc != CLI_OK)
		goto out;
	rc = client_run_id(c.args[0], &id);
	if (rc != CLI_OK)
		goto out;
	path = xasprintf("/api/v1/runs/%llu", (unsigned long long)id);
	rc = client_call(&c, "GET", path, NULL, &r);
	free(path);
	if (rc != CLI_OK)
		goto out;
	if (c.json)
		client_print_json(r.json);
	else
		print_run(r.json);
out:
	client_response_free(&r);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}
