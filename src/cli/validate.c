/*
 * `pipewright validate FILE...`: every problem of every file, as
 * FILE:LINE:COLUMN: error: MESSAGE, and exit 2 if there was any.
 *
 * Loading the pipeline for `pipewright run` is here too.  There the file
 * is the workspace's, and a job of an earlier run may have replaced it by
 * a symlink to /etc/shadow; since `run` is often root, a relative path is
 * read with scm_read_file, the daemon's own reader, which refuses any
 * resolution that leaves the directory.  An absolute path is the user's
 * explicit choice of a file elsewhere and is read as given.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "pipewright/scm.h"

/* Parses data; prints the problems (their quoted values are escaped). */
static int
parse_print(const char *path, char *data, size_t len, FILE *err,
	    struct pipeline **out)
{
	struct pipeline_problems pp;
	size_t i;
	int rc;

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
cli_load_pipeline(const char *path, FILE *err, struct pipeline **out)
{
	size_t len;
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
	return parse_print(path, data, len, err, out);
}

int
cli_load_workspace_pipeline(const char *dir, const char *path, FILE *err,
			    struct pipeline **out)
{
	size_t len;
	char *data;
	int rc;

	if (path[0] == '/')
		return cli_load_pipeline(path, err, out);
	rc = scm_read_file(dir, path, PIPELINE_MAX_BYTES, &data, &len);
	switch (rc) {
	case 0:
		return parse_print(path, data, len, err, out);
	case -EXDEV:
	case -ELOOP:
		fprintf(err, "%s: error: refusing to read it: it leads outside "
			"%s (a symlink?); give an absolute path with -f to "
			"read a file elsewhere\n", path, dir);
		break;
	case -EINVAL:
		fprintf(err, "%s: error: cannot read: not a regular file "
			"beneath %s (no '..', not in .git); give an absolute "
			"path with -f to read a file elsewhere\n", path, dir);
		break;
	case -EFBIG:
		fprintf(err, "%s:1:1: error: file is larger than %d bytes\n",
			path, PIPELINE_MAX_BYTES);
		break;
	default:
		fprintf(err, "%s: error: cannot read: %s\n", path,
			strerror(-rc));
		break;
	}
	return CLI_USAGE;
}

static const struct cli_opt validate_opts[] = {
	CLI_OPT_HELP,
	CLI_OPT_NONE,
};
static const struct cli_usage validate_usage = {"validate", "FILE...",
	validate_opts, "Each problem as FILE:LINE:COLUMN: error: MESSAGE; "
	"exit 2 if there was any."};

int
cmd_validate(int argc, char **argv)
{
	struct cli_getopt g;
	const char *arg;
	int i, ch, status = CLI_OK;

	cli_getopt_init(&g, &validate_usage);
	while ((ch = cli_getopt_next(&g, argc, argv, &arg)) != CLI_OPT_END) {
		if (ch != 0)
			return cli_usage_error(&validate_usage);
		cli_usage_print(stdout, &validate_usage);
		return CLI_OK;
	}
	if (optind == argc) {
		fprintf(stderr, "pipewright: validate: no FILE given\n");
		return cli_usage_error(&validate_usage);
	}
	for (i = optind; i < argc; i++) {
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
