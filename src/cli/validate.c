/*
 * `pipewright validate FILE...`: every problem of every file, as
 * FILE:LINE:COLUMN: error: MESSAGE, and exit 2 if there was any.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int
cli_load_pipeline(const char *path, FILE *err, struct pipeline **out)
{
	struct pipeline_problems pp;
	size_t len, i;
	char *data;
	int rc;

	rc = pw_read_file(path, PIPELINE_MAX_BYTES, &data, &len);
	if (rc == -EFBIG) {
		fprintf(err, "%s:1:1: error: file is larger than %d bytes\n",
			path, PIPELINE_MAX_BYTES);
		return CLI_USAGE;
	}
	if (rc < 0) {
		fprintf(err, "%s: error: cannot read: %s\n", path,
			strerror(-rc));
		return CLI_USAGE;
	}
	pipeline_problems_init(&pp);
	rc = pipeline_parse(path, data, len, out, &pp);
	for (i = 0; i < pp.count; i++)
		fprintf(err, "%s:%d:%d: error: %s\n", pp.items[i].file,
			pp.items[i].line, pp.items[i].column,
			pp.items[i].message);
	pipeline_problems_free(&pp);
	free(data);
	return rc == 0 ? CLI_OK : CLI_USAGE;
}

int
cmd_validate(int argc, char **argv)
{
	int i, status = CLI_OK;

	if (argc < 2 || strcmp(argv[1], "--help") == 0) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: pipewright validate FILE...\n");
		return argc < 2 ? CLI_USAGE : CLI_OK;
	}
	for (i = 1; i < argc; i++) {
		struct pipeline *p = NULL;

		if (cli_load_pipeline(argv[i], stderr, &p) != CLI_OK) {
			status = CLI_USAGE;
			continue;
		}
		printf("%s: valid, %zu job%s\n", argv[i], pipeline_job_count(p),
		       pipeline_job_count(p) == 1 ? "" : "s");
		pipeline_destroy(p);
	}
	return status;
}
