/*
 * The client commands that change something: `trigger PROJECT` starts a
 * run, `rerun RUN [--failed | JOB...]`, `cancel RUN` and
 * `approve RUN JOB` act on one.  Each is one POST; on success each prints
 * one line naming the run and the status the server answered with (with
 * --json, the server's answer itself).  Refusals (409 for a finished
 * run, 404 for an unknown one, 403 for a token without the `operate`
 * scope) are the server's message, exit 1.
 */
#include <stdlib.h>
#include <string.h>

#include "client.h"

/* Prints "PREFIX: STATUS" (or the JSON) for a POST's answer. */
static void
print_outcome(const struct client *c, const cJSON *run, const char *prefix)
{
	const char *status = json_str(run, "status");

	if (c->json && run != NULL)
		client_print_json(run);
	else if (status != NULL)
		printf("%s: %s\n", prefix, status);
	else
		printf("%s: done\n", prefix);
}

/*
 * POST path with body (taken; "{}" for none, which every JSON handler
 * reads), then print_outcome.  A CLI exit status.
 */
static int
post(struct client *c, const char *path, cJSON *body, const char *prefix)
{
	struct client_response r;
	int rc;

	rc = client_call(c, "POST", path, body, &r);
	if (rc == CLI_OK)
		print_outcome(c, r.json, prefix);
	client_response_free(&r);
	cJSON_Delete(body);
	return rc;
}

struct trigger_opts {
	cJSON *body;   /* {"ref", "commit", "env"} as given */
};

static const struct cli_opt trigger_opts[] = {
	{"ref", 0, true, "REF", "the branch, tag or ref to run"},
	{"commit", 0, true, "SHA", "the commit to run"},
	{"env", 'e', true, "K=V", "a variable for every job (repeatable)"},
	{NULL, 0, false, NULL, NULL},
};

static int
trigger_option(void *ctx, size_t opt, const char *arg)
{
	static const char *const keys[] = {"ref", "commit"};
	struct trigger_opts *o = ctx;
	cJSON *env;
	size_t k;
	char *name;
	int n;

	if (opt < PW_ARRAY_LEN(keys)) {
		cJSON_DeleteItemFromObjectCaseSensitive(o->body, keys[opt]);
		cJSON_AddStringToObject(o->body, keys[opt], arg);
		return 0;
	}
	n = cli_env_arg(arg);
	if (n < 0)
		return CLI_USAGE;
	k = (size_t)n;
	env = cJSON_GetObjectItemCaseSensitive(o->body, "env");
	if (env == NULL)
		env = cJSON_AddObjectToObject(o->body, "env");
	name = xstrndup(arg, k);
	cJSON_DeleteItemFromObjectCaseSensitive(env, name);
	cJSON_AddStringToObject(env, name, arg + k + 1);
	free(name);
	return 0;
}

static const struct client_spec trigger_spec = {
	.name = "trigger", .args = "PROJECT", .opts = trigger_opts,
	.min_args = 1, .max_args = 1, .json = true, .option = trigger_option,
};

int
cmd_trigger(int argc, char **argv)
{
	struct trigger_opts o = {cJSON_CreateObject()};
	struct client_response r = {0};
	struct client c;
	char *p, *path;
	const char *url;
	int rc;

	rc = client_parse(&c, &trigger_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	p = client_escape(&c, c.args[0]);
	path = xasprintf("/api/v1/projects/%s/runs", p);
	rc = client_call(&c, "POST", path, o.body, &r);
	free(path);
	free(p);
	if (rc != CLI_OK)
		goto out;
	url = json_str(r.json, "url");
	if (c.json)
		client_print_json(r.json);
	else
		printf("run %.0f %s%s%s\n", json_num(r.json, "id", 0),
		       json_str(r.json, "status") ? json_str(r.json, "status") :
						    "created",
		       url != NULL ? ": " : "", url != NULL ? url : "");
out:
	client_response_free(&r);
	cJSON_Delete(o.body);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}

struct rerun_opts {
	bool failed;
};

static const struct cli_opt rerun_opts[] = {
	{"failed", 0, false, NULL, "rerun the failed, timed out, canceled "
	 "and lost jobs and what depends on them (the default)"},
	{NULL, 0, false, NULL, NULL},
};

static int
rerun_option(void *ctx, size_t opt, const char *arg)
{
	struct rerun_opts *o = ctx;

	(void)opt;
	(void)arg;
	o->failed = true;
	return 0;
}

static const struct client_spec rerun_spec = {
	.name = "rerun", .args = "RUN [--failed | JOB...]", .opts = rerun_opts,
	.min_args = 1, .max_args = -1, .json = true, .option = rerun_option,
};

int
cmd_rerun(int argc, char **argv)
{
	struct rerun_opts o = {false};
	struct client c;
	cJSON *body = NULL, *jobs;
	char *path, *prefix;
	uint64_t id;
	int rc, i;

	rc = client_parse(&c, &rerun_spec, &o, argc, argv);
	if (rc != CLI_OK)
		goto out;
	rc = client_run_id(c.args[0], &id);
	if (rc != CLI_OK)
		goto out;
	if (o.failed && c.nargs > 1) {
		fprintf(stderr, "pipewright: rerun: give --failed or job "
			"names, not both\n");
		rc = CLI_USAGE;
		goto out;
	}
	body = cJSON_CreateObject();
	if (c.nargs == 1) {
		cJSON_AddStringToObject(body, "jobs", "failed");
	} else {
		jobs = cJSON_AddArrayToObject(body, "jobs");
		for (i = 1; i < c.nargs; i++)
			cJSON_AddItemToArray(jobs,
					     cJSON_CreateString(c.args[i]));
	}
	path = xasprintf("/api/v1/runs/%llu/rerun", (unsigned long long)id);
	prefix = xasprintf("rerun of run %llu", (unsigned long long)id);
	rc = post(&c, path, body, prefix);
	free(prefix);
	free(path);
out:
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}

static const struct client_spec cancel_spec = {
	.name = "cancel", .args = "RUN", .min_args = 1, .max_args = 1,
	.json = true,
};

int
cmd_cancel(int argc, char **argv)
{
	struct client c;
	char *path, *prefix;
	uint64_t id;
	int rc;

	rc = client_parse(&c, &cancel_spec, NULL, argc, argv);
	if (rc == CLI_OK)
		rc = client_run_id(c.args[0], &id);
	if (rc == CLI_OK) {
		path = xasprintf("/api/v1/runs/%llu/cancel",
				 (unsigned long long)id);
		prefix = xasprintf("cancel of run %llu",
				   (unsigned long long)id);
		rc = post(&c, path, cJSON_CreateObject(), prefix);
		free(prefix);
		free(path);
	}
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}

static const struct client_spec approve_spec = {
	.name = "approve", .args = "RUN JOB", .min_args = 2, .max_args = 2,
	.json = true,
};

int
cmd_approve(int argc, char **argv)
{
	struct client c;
	char *path, *prefix, *job;
	uint64_t id;
	int rc;

	rc = client_parse(&c, &approve_spec, NULL, argc, argv);
	if (rc == CLI_OK)
		rc = client_run_id(c.args[0], &id);
	if (rc == CLI_OK) {
		job = client_escape(&c, c.args[1]);
		path = xasprintf("/api/v1/runs/%llu/jobs/%s/approve",
				 (unsigned long long)id, job);
		prefix = xasprintf("approval of '%s' in run %llu", c.args[1],
				   (unsigned long long)id);
		rc = post(&c, path, cJSON_CreateObject(), prefix);
		free(prefix);
		free(path);
		free(job);
	}
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}
