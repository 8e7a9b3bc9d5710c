/*
 * The JSON the API answers with: the run object (docs/api.md), times in
 * RFC 3339 with milliseconds and Z, and text made valid UTF-8.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api-int.h"
#include "pipewright/forge.h"
#include "pipewright/pipeline.h"
#include "pipewright/problems.h"

cJSON *
api_time(uint64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;
	char s[80];

	if (ms == 0)
		return cJSON_CreateNull();
	gmtime_r(&t, &tm);
	snprintf(s, sizeof(s), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, (int)(ms % 1000));
	return cJSON_CreateString(s);
}

void
api_audit_fields(cJSON *e, uint64_t time, const char *actor,
		 const char *action, const char *detail)
{
	cJSON_AddItemToObject(e, "time", api_time(time));
	cJSON_AddStringToObject(e, "actor", actor);
	cJSON_AddStringToObject(e, "action", action);
	if (detail != NULL)
		cJSON_AddStringToObject(e, "detail", detail);
	else
		cJSON_AddNullToObject(e, "detail");
}

void
api_respond_tree(struct http_request *req, int status, cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	http_respond_json(req, status, s);
	free(s);
	cJSON_Delete(o);
}

static cJSON *
str_or_null(const char *s)
{
	return s != NULL ? cJSON_CreateString(s) : cJSON_CreateNull();
}

static cJSON *
attempt_json(const struct store_attempt *at)
{
	cJSON *o = cJSON_CreateObject();
	bool finished = at->finished_at != 0;

	cJSON_AddNumberToObject(o, "number", at->number);
	cJSON_AddStringToObject(o, "status", at->status);
	if (finished && at->exit_code >= 0)
		cJSON_AddNumberToObject(o, "exit_code", at->exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	cJSON_AddItemToObject(o, "reason", str_or_null(at->reason));
	cJSON_AddItemToObject(o, "started_at", api_time(at->started_at));
	cJSON_AddItemToObject(o, "finished_at", api_time(at->finished_at));
	cJSON_AddNumberToObject(o, "log_bytes", (double)at->log_bytes);
	return o;
}

/*
 * "needs": the jobs a job waits for, by name — those its `needs` names,
 * or without `needs` the jobs of the nearest earlier stage (the earlier
 * ones follow through them); null if the snapshot cannot say.
 */
static void
add_needs(cJSON *job, const struct pipeline *p, const struct store_job *sj)
{
	const size_t *preds;
	size_t n, k, last = 0;
	cJSON *v;

	if (p == NULL || sj->idx < 0 ||
	    (size_t)sj->idx >= pipeline_job_count(p) ||
	    strcmp(pipeline_job_name(p, (size_t)sj->idx), sj->name) != 0) {
		cJSON_AddNullToObject(job, "needs");
		return;
	}
	n = pipeline_job_preds(p, (size_t)sj->idx, &preds);
	v = cJSON_AddArrayToObject(job, "needs");
	for (k = 0; k < n; k++)
		if (pipeline_job_stage(p, preds[k]) > last)
			last = pipeline_job_stage(p, preds[k]);
	for (k = 0; k < n; k++)
		if (pipeline_job_has_needs(p, (size_t)sj->idx) ||
		    pipeline_job_stage(p, preds[k]) == last)
			cJSON_AddItemToArray(v, cJSON_CreateString(
				pipeline_job_name(p, preds[k])));
}

/*
 * The commit's page on its forge, for the dashboard's link: the host of
 * the project's repo URL (https://, ssh:// or scp-like) and the forge's
 * name of the repository; NULL for a generic forge, a local repo or a
 * run without a commit.
 */
static char *
commit_url(struct api *a, const struct store_run *r)
{
	const struct config_project *p =
		config_project_find(api_config(a), r->project);
	const char *repo, *name, *h, *end;
	enum forge_kind k;

	if (p == NULL || r->commit == NULL ||
	    (repo = config_project_repo(p)) == NULL ||
	    (name = config_project_forge_repo(p)) == NULL)
		return NULL;
	k = config_project_forge(p);
	if (k == FORGE_GENERIC)
		return NULL;
	if (strncmp(repo, "https://", 8) == 0)
		h = repo + 8;
	else if (strncmp(repo, "ssh://", 6) == 0)
		h = repo + 6;
	else if (repo[0] != '/' && strchr(repo, ':') != NULL)
		h = repo; /* [user@]host:path */
	else
		return NULL;
	end = h + strcspn(h, "/:");
	if (memchr(h, '@', (size_t)(end - h)) != NULL)
		h = (const char *)memchr(h, '@', (size_t)(end - h)) + 1;
	if (end == h)
		return NULL;
	return xasprintf("https://%.*s/%s/%scommit/%s", (int)(end - h), h, name,
			 k == FORGE_GITLAB ? "-/" : "", r->commit);
}

cJSON *
api_run_json(struct api *a, const struct store_run *r, bool with_jobs)
{
	cJSON *o = cJSON_CreateObject(), *problems = NULL, *jobs, *job, *atts;
	struct store_test_counts *tc = NULL, sum = {0};
	size_t i, k, ntc = 0;
	struct pipeline *p = NULL;
	char *url;

	cJSON_AddNumberToObject(o, "id", (double)r->id);
	cJSON_AddStringToObject(o, "project", r->project);
	cJSON_AddStringToObject(o, "status", r->status);
	cJSON_AddStringToObject(o, "trigger", r->trigger);
	cJSON_AddItemToObject(o, "ref", str_or_null(r->ref));
	cJSON_AddItemToObject(o, "branch", str_or_null(r->branch));
	cJSON_AddItemToObject(o, "tag", str_or_null(r->tag));
	if (r->pr > 0)
		cJSON_AddNumberToObject(o, "pr", (double)r->pr);
	else
		cJSON_AddNullToObject(o, "pr");
	cJSON_AddBoolToObject(o, "fork", r->fork);
	cJSON_AddItemToObject(o, "commit", str_or_null(r->commit));
	url = commit_url(a, r);
	cJSON_AddItemToObject(o, "commit_url", str_or_null(url));
	free(url);
	if (r->problems != NULL)
		problems = cJSON_Parse(r->problems);
	if (!cJSON_IsArray(problems)) {
		cJSON_Delete(problems);
		problems = cJSON_CreateArray();
	}
	cJSON_AddItemToObject(o, "problems", problems);
	cJSON_AddItemToObject(o, "created_at", api_time(r->created_at));
	cJSON_AddItemToObject(o, "started_at", api_time(r->started_at));
	cJSON_AddItemToObject(o, "finished_at", api_time(r->finished_at));
	url = xasprintf("%s/api/v1/runs/%llu", api_public_url(a),
			(unsigned long long)r->id);
	cJSON_AddStringToObject(o, "url", url);
	free(url);
	cJSON_AddItemToObject(o, "actor", str_or_null(r->actor));
	if (!with_jobs)
		return o;
	/* Test counts: a failed read leaves them out, the run is shown. */
	if (store_tests_counts(a->env.store, r->id, &tc, &ntc) < 0)
		ntc = 0;
	for (k = 0; k < ntc; k++) {
		sum.passed += tc[k].passed;
		sum.failed += tc[k].failed;
		sum.error += tc[k].error;
		sum.skipped += tc[k].skipped;
		sum.flaky += tc[k].flaky;
		sum.retried += tc[k].retried;
	}
	cJSON_AddItemToObject(o, "tests", ntc > 0 ?
			      api_tests_counts_json(&sum) : cJSON_CreateNull());
	/* The graph of needs is in the snapshot, not in the job rows. */
	if (r->pipeline != NULL) {
		struct pipeline_problems pp;

		pipeline_problems_init(&pp);
		if (pipeline_parse(r->pipeline_file != NULL ? r->pipeline_file :
				   "pipeline", r->pipeline, r->pipeline_len, &p,
				   &pp) < 0)
			p = NULL;
		pipeline_problems_free(&pp);
	}
	jobs = cJSON_AddArrayToObject(o, "jobs");
	for (i = 0; i < r->njobs; i++) {
		const struct store_job *sj = &r->jobs[i];

		job = cJSON_CreateObject();
		cJSON_AddStringToObject(job, "name", sj->name);
		cJSON_AddStringToObject(job, "stage", sj->stage);
		cJSON_AddStringToObject(job, "status", sj->status);
		add_needs(job, p, sj);
		atts = cJSON_AddArrayToObject(job, "attempts");
		for (k = 0; k < sj->nattempts; k++)
			cJSON_AddItemToArray(atts, attempt_json(&sj->attempts[k]));
		for (k = 0; k < ntc && tc[k].job_idx != sj->idx; k++)
			;
		cJSON_AddItemToObject(job, "tests", k < ntc ?
				      api_tests_counts_json(&tc[k]) :
				      cJSON_CreateNull());
		cJSON_AddItemToArray(jobs, job);
	}
	free(tc);
	pipeline_destroy(p);
	return o;
}

/*
 * The length of the valid UTF-8 sequence at s (1..4), 0 if invalid, -1 if
 * cut short.  A NUL is "invalid" too: cJSON's strings end at one, so a
 * log's NUL would cut its event's text short while the offset moves on.
 */
static int
utf8_seq(const unsigned char *s, size_t len)
{
	int n, i;
	unsigned cp;

	if (s[0] == 0)
		return 0;
	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((size_t)i >= len)
			return -1;
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* No overlong forms, surrogates or code points past U+10FFFF. */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

char *
api_utf8(const char *s, size_t len, size_t *used, bool final)
{
	const unsigned char *u = (const unsigned char *)s;
	struct buf b;
	size_t i = 0;
	int n;

	buf_init(&b, 0);
	while (i < len) {
		n = utf8_seq(u + i, len - i);
		if (n == -1 && !final)
			break; /* the rest comes with the next piece */
		if (n <= 0) {
			buf_add(&b, "\xef\xbf\xbd", 3);
			i++;
			continue;
		}
		buf_add(&b, s + i, (size_t)n);
		i += (size_t)n;
	}
	*used = i;
	return buf_steal(&b);
}
