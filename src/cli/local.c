/*
 * The local commands' configuration (serve, token, backup, doctor,
 * upgrade): they work on a daemon's files, not through its API, and find
 * them through its configuration.  Which file: --config, else
 * $PIPEWRIGHT_CONFIG, else a usage error; its problems are printed the
 * way `serve --check` prints them, and any problem is a usage error (2):
 * nothing else is done with a configuration the daemon would refuse.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "pipewright/config.h"

const char *
cli_config_path(const char *given)
{
	const char *path = given != NULL ? given : getenv("PIPEWRIGHT_CONFIG");

	if (path == NULL || *path == '\0') {
		fprintf(stderr, "pipewright: no configuration: give --config"
			" FILE or set PIPEWRIGHT_CONFIG\n");
		return NULL;
	}
	return path;
}

int
cli_config_load(const char *given, struct config **out, size_t *nproblems)
{
	const char *path = cli_config_path(given);
	struct pipeline_problems pp;
	int rc;

	*out = NULL;
	if (nproblems != NULL)
		*nproblems = 0;
	if (path == NULL)
		return CLI_USAGE;
	pipeline_problems_init(&pp);
	rc = config_load(path, out, &pp);
	fflush(stdout);  /* what a command said before comes first */
	config_print_problems(stderr, &pp);
	if (nproblems != NULL)
		*nproblems = pp.count;
	pipeline_problems_free(&pp);
	return rc < 0 ? CLI_USAGE : CLI_OK;
}
