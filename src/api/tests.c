/*
 * Test reports over the API: a run's test cases (GET
 * /api/v1/runs/{id}/tests), the counts in a run's JSON, and a project's
 * flaky tests (GET /api/v1/projects/{project}/tests/flaky).  What is
 * shown of a job is its latest attempt that had reports; a pass that an
 * earlier attempt failed is `retried`, a failure of a test the project
 * knows to be flaky is `flaky` (src/store/tests.c decides both).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api-int.h"

#define TESTS_PAGE 1000

cJSON *
api_tests_counts_json(const struct store_test_counts *c)
{
	cJSON *o = cJSON_CreateObject();

	cJSON_AddNumberToObject(o, "total", (double)(c->passed + c->failed +
						    c->error + c->skipped));
	cJSON_AddNumberToObject(o, "passed", (double)c->passed);
	cJSON_AddNumberToObject(o, "failed", (double)c->failed);
	cJSON_AddNumberToObject(o, "error", (double)c->error);
	cJSON_AddNumberToObject(o, "skipped", (double)c->skipped);
	cJSON_AddNumberToObject(o, "flaky", (double)c->flaky);
	cJSON_AddNumberToObject(o, "retried", (double)c->retried);
	return o;
}

static cJSON *
str_or_null(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* ?status=failed,error: each a status name; false: it has answered. */
static bool
statuses_ok(struct http_request *req, const char *q)
{
	char *copy, *tok, *save = NULL;
	bool ok = true;

	if (q == NULL)
		return true;
	copy = xstrdup(q);
	for (tok = strtok_r(copy, ",", &save); tok != NULL && ok;
	     tok = strtok_r(NULL, ",", &save))
		if (strcmp(tok, "passed") != 0 && strcmp(tok, "failed") != 0 &&
		    strcmp(tok, "error") != 0 && strcmp(tok, "skipped") != 0) {
			http_respond_error(req, 400, "bad_request",
					   "status '%s' is not one of passed,"
					   " failed, error, skipped", tok);
			ok = false;
		}
	free(copy);
	if (ok && *q == '\0') {
		http_respond_error(req, 400, "bad_request", "status is empty;"
				   " expected e.g. failed,error");
		ok = false;
	}
	return ok;
}

static bool
page_ok(struct http_request *req, size_t *limit, uint64_t *after)
{
	const char *ql = http_request_query(req, "limit");
	const char *qc = http_request_query(req, "cursor");
	char *end;

	*limit = TESTS_PAGE;
	*after = 0;
	if (ql != NULL) {
		unsigned long v = strtoul(ql, &end, 10);

		if (*ql == '\0' || *end != '\0' || v < 1 ||
		    v > STORE_TESTS_MAX) {
			http_respond_error(req, 400, "bad_request", "limit must"
					   " be a number from 1 to %d, got"
					   " '%s'", STORE_TESTS_MAX, ql);
			return false;
		}
		*limit = v;
	}
	if (qc != NULL && *qc != '\0') {
		/* Digits only: strtoull takes "-1" as its largest value. */
		*after = strtoull(qc, &end, 10);
		if (*qc < '0' || *qc > '9' || *end != '\0' || *after == 0) {
			http_respond_error(req, 400, "bad_request", "cursor '%s'"
					   " is not one this API gave out", qc);
			return false;
		}
	}
	return true;
}

void
api_run_tests(struct api *a, struct http_request *req, const char *actor)
{
	const char *qs = http_request_query(req, "status");
	const char *qj = http_request_query(req, "job");
	struct store_test_counts *c = NULL, sum = {0};
	struct store_test *rows = NULL;
	struct store_run *run = NULL;
	uint64_t id, after;
	size_t limit, n = 0, nc = 0, i;
	cJSON *o, *items;
	int job = -1, rc;

	(void)actor;
	if (!api_read_run(a, req, &id, &run))
		return;
	if (qj != NULL) {
		for (i = 0; i < run->njobs; i++)
			if (strcmp(run->jobs[i].name, qj) == 0)
				job = run->jobs[i].idx;
		if (job < 0) {
			http_respond_error(req, 404, "not_found", "run %llu has"
					   " no job '%s'",
					   (unsigned long long)id, qj);
			store_run_free(run);
			return;
		}
	}
	store_run_free(run);
	if (!statuses_ok(req, qs) || !page_ok(req, &limit, &after))
		return;
	rc = store_tests_list(a->env.store, id, qs, job, limit, after, &rows,
			      &n);
	if (rc == 0)
		rc = store_tests_counts(a->env.store, id, &c, &nc);
	if (rc < 0) {
		store_tests_free(rows, n);
		api_respond_errno(req, rc, "cannot read the test cases");
		return;
	}
	for (i = 0; i < nc; i++) {
		if (job >= 0 && c[i].job_idx != job)
			continue;
		sum.passed += c[i].passed;
		sum.failed += c[i].failed;
		sum.error += c[i].error;
		sum.skipped += c[i].skipped;
		sum.flaky += c[i].flaky;
		sum.retried += c[i].retried;
	}
	free(c);
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "run", (double)id);
	cJSON_AddItemToObject(o, "counts", api_tests_counts_json(&sum));
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		const struct store_test *t = &rows[i];
		cJSON *it = cJSON_CreateObject();

		cJSON_AddStringToObject(it, "job", t->job_name);
		cJSON_AddNumberToObject(it, "attempt", t->attempt);
		cJSON_AddStringToObject(it, "suite", t->suite);
		cJSON_AddStringToObject(it, "classname", t->classname);
		cJSON_AddStringToObject(it, "name", t->name);
		cJSON_AddItemToObject(it, "file", str_or_null(t->file));
		cJSON_AddStringToObject(it, "status", t->status);
		cJSON_AddNumberToObject(it, "duration_ms",
					(double)t->duration_ms);
		cJSON_AddItemToObject(it, "message", str_or_null(t->message));
		cJSON_AddBoolToObject(it, "flaky", t->flaky);
		cJSON_AddBoolToObject(it, "retried", t->retried);
		cJSON_AddItemToArray(items, it);
	}
	api_add_cursor(o, n == limit ? rows[n - 1].id : 0);
	store_tests_free(rows, n);
	api_respond_tree(req, 200, o);
}

void
api_project_flaky(struct api *a, struct http_request *req, const char *actor)
{
	const char *project = http_request_param(req, "project");
	struct store_flaky *rows = NULL;
	uint64_t before;
	size_t limit, n = 0, i;
	cJSON *o, *items;
	int rc;

	(void)actor;
	if (config_project_find(api_config(a), project) == NULL) {
		http_respond_error(req, 404, "not_found", "no project '%s'",
				   project);
		return;
	}
	if (!api_paging(req, 50, &limit, &before))
		return;
	if (before != 0) {
		http_respond_error(req, 400, "bad_request", "the flaky tests"
				   " are one page, the most recently seen"
				   " first; ask for more with limit (at most"
				   " 200)");
		return;
	}
	rc = store_flaky_list(a->env.store, project, limit, &rows, &n);
	if (rc < 0) {
		api_respond_errno(req, rc, "cannot read the flaky tests");
		return;
	}
	o = cJSON_CreateObject();
	items = cJSON_AddArrayToObject(o, "items");
	for (i = 0; i < n; i++) {
		const struct store_flaky *f = &rows[i];
		cJSON *it = cJSON_CreateObject();

		cJSON_AddStringToObject(it, "job", f->job_name);
		cJSON_AddStringToObject(it, "suite", f->suite);
		cJSON_AddStringToObject(it, "classname", f->classname);
		cJSON_AddStringToObject(it, "name", f->name);
		cJSON_AddNumberToObject(it, "flips", (double)f->flips);
		cJSON_AddItemToObject(it, "first_seen", api_time(f->first_ms));
		cJSON_AddItemToObject(it, "last_seen", api_time(f->last_ms));
		cJSON_AddItemToObject(it, "last_commit",
				      str_or_null(f->last_commit));
		cJSON_AddNumberToObject(it, "last_run", (double)f->last_run);
		cJSON_AddItemToArray(items, it);
	}
	store_flaky_free(rows, n);
	api_respond_tree(req, 200, o);
}
