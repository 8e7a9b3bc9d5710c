/*
 * `pipewright queue` shows whether the daemon's queue is paused and how
 * many runs it holds queued and running; `queue pause` and `queue resume`
 * change it (a token with the `admin` scope).  Each prints one line,
 * "queue: paused (3 queued, 1 running)", or with --json the server's
 * answer.  A refusal (403 for a token without the scope) is the server's
 * message, exit 1.
 */
#include <stdio.h>
#include <string.h>

#include "client.h"

static const struct client_spec queue_spec = {
	.name = "queue", .args = "[pause | resume]", .min_args = 0,
	.max_args = 1, .json = true,
};

int
cmd_queue(int argc, char **argv)
{
	struct client_response r = {0};
	struct client c;
	const cJSON *paused;
	const char *path = "/api/v1/queue", *method = "GET";
	cJSON *body = NULL;
	int rc;

	rc = client_parse(&c, &queue_spec, NULL, argc, argv);
	if (rc != CLI_OK)
		goto out;
	if (c.nargs == 1) {
		if (strcmp(c.args[0], "pause") == 0) {
			path = "/api/v1/queue/pause";
		} else if (strcmp(c.args[0], "resume") == 0) {
			path = "/api/v1/queue/resume";
		} else {
			fprintf(stderr, "pipewright: queue: unknown action "
				"'%s'; expected pause or resume\n", c.args[0]);
			rc = CLI_USAGE;
			goto out;
		}
		method = "POST";
		body = cJSON_CreateObject();
	}
	rc = client_call(&c, method, path, body, &r);
	if (rc != CLI_OK)
		goto out;
	paused = cJSON_GetObjectItemCaseSensitive(r.json, "paused");
	if (c.json)
		client_print_json(r.json);
	else
		printf("queue: %s (%.0f queued, %.0f running)\n",
		       cJSON_IsTrue(paused) ? "paused" : "not paused",
		       json_num(r.json, "queued", 0),
		       json_num(r.json, "running", 0));
out:
	client_response_free(&r);
	cJSON_Delete(body);
	client_done(&c);
	return rc < 0 ? CLI_OK : rc;
}
