/*
 * `pipewright backup [--config FILE] OUT`: an online copy of the daemon's
 * database while it serves.  The copy is one step of the store
 * (store_backup_file: VACUUM INTO from a read-only connection), so the
 * daemon keeps answering and committing throughout, and the copy is the
 * state of one moment: every run committed before the backup began is in
 * it.  OUT must not exist (exit 2, nothing touched): a backup never
 * replaces a file, so a mistyped name cannot destroy the previous one.
 * Restoring is docs/operations.md's "Backup and restore".
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "pipewright/config.h"
#include "pipewright/store.h"

static int
backup_usage(FILE *f, int status)
{
	fprintf(f, "usage: pipewright backup [--config FILE] OUT\n"
		   "  -c, --config FILE  the configuration (default "
		   "$PIPEWRIGHT_CONFIG)\n"
		   "OUT is a new file: an existing one is never replaced.  "
		   "Safe while the daemon serves.\n");
	return status;
}

int
cmd_backup(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = getenv("PIPEWRIGHT_CONFIG"), *out, *db;
	struct pipeline_problems pp;
	struct store_file_info info;
	struct config *c = NULL;
	char *err = NULL;
	struct stat st;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			return backup_usage(stdout, CLI_OK);
		default:
			return backup_usage(stderr, CLI_USAGE);
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "pipewright: backup: %s\n", optind < argc ?
			"one OUT file, please" : "no OUT file given");
		return backup_usage(stderr, CLI_USAGE);
	}
	out = argv[optind];
	if (path == NULL || *path == '\0') {
		fprintf(stderr, "pipewright: no configuration: give --config"
			" FILE or set PIPEWRIGHT_CONFIG\n");
		return CLI_USAGE;
	}
	if (lstat(out, &st) == 0) {
		fprintf(stderr, "pipewright: %s exists; a backup never replaces"
			" a file, give a new name\n", out);
		return CLI_USAGE;
	}
	pipeline_problems_init(&pp);
	rc = config_load(path, &c, &pp);
	config_print_problems(stderr, &pp);
	pipeline_problems_free(&pp);
	if (rc < 0)
		return CLI_USAGE;
	db = config_db_path(c);
	if (stat(db, &st) < 0) {
		fprintf(stderr, "pipewright: no database at %s: %s (has a "
			"daemon served with this configuration?)\n", db,
			strerror(errno));
		config_destroy(c);
		return CLI_FAILED;
	}
	rc = store_backup_file(db, out, &info, &err);
	if (rc < 0) {
		fprintf(stderr, "pipewright: %s\n", err != NULL ? err :
			strerror(-rc));
		free(err);
		config_destroy(c);
		return rc == -EEXIST ? CLI_USAGE : CLI_FAILED;
	}
	printf("%s: copied %s: %llu bytes, %llu run%s, schema version %d\n",
	       out, db, (unsigned long long)info.bytes,
	       (unsigned long long)info.runs, info.runs == 1 ? "" : "s",
	       info.schema_version);
	config_destroy(c);
	return CLI_OK;
}
